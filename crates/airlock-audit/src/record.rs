//! The audit vocabulary: who acted, on what, with which outcome, and the
//! sealed record that the chain is built from.
//!
//! Callers build an [`AuditEvent`]; only [`crate::seal`] turns it into an
//! [`AuditRecord`], so a record always carries a sequence number, a
//! millisecond-precision UTC time and the hashes that chain it to its
//! predecessor.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::AuditError;

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The kind of principal.
    pub kind: ActorKind,
    /// The principal's name (user name, robot name, or system component).
    pub name: String,
}

impl Actor {
    /// A human user authenticated by name.
    pub fn user(name: impl Into<String>) -> Actor {
        Actor {
            kind: ActorKind::User,
            name: name.into(),
        }
    }

    /// A robot account (CI pipelines, automation).
    pub fn robot(name: impl Into<String>) -> Actor {
        Actor {
            kind: ActorKind::Robot,
            name: name.into(),
        }
    }

    /// An internal component acting on its own, e.g. `cli`, `scanner`, `promoter`.
    pub fn system(name: impl Into<String>) -> Actor {
        Actor {
            kind: ActorKind::System,
            name: name.into(),
        }
    }

    /// An unauthenticated client; the name is always `anonymous`.
    pub fn anonymous() -> Actor {
        Actor {
            kind: ActorKind::Anonymous,
            name: "anonymous".to_owned(),
        }
    }
}

/// The kind of principal behind an [`Actor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    /// A human user.
    User,
    /// A robot account.
    Robot,
    /// An internal component.
    System,
    /// An unauthenticated client.
    Anonymous,
}

impl ActorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ActorKind; 4] = [
        ActorKind::User,
        ActorKind::Robot,
        ActorKind::System,
        ActorKind::Anonymous,
    ];

    /// The stable lowercase name used in storage, exports and hashes.
    pub fn as_str(&self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Robot => "robot",
            ActorKind::System => "system",
            ActorKind::Anonymous => "anonymous",
        }
    }
}

impl std::fmt::Display for ActorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ActorKind {
    type Err = AuditError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ActorKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| {
                AuditError::Parse(format!(
                    "unknown actor kind {s:?} (expected user, robot, system or anonymous)"
                ))
            })
    }
}

/// How the action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The action was carried out.
    Success,
    /// The action was attempted and failed.
    Failure,
    /// The action was refused by authentication, authorization or policy.
    Denied,
}

impl Outcome {
    /// Every outcome, in declaration order.
    pub const ALL: [Outcome; 3] = [Outcome::Success, Outcome::Failure, Outcome::Denied];

    /// The stable lowercase name used in storage, exports and hashes.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = AuditError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Outcome::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == s)
            .ok_or_else(|| {
                AuditError::Parse(format!(
                    "unknown outcome {s:?} (expected success, failure or denied)"
                ))
            })
    }
}

/// Where the request came from (all optional: CLI actions have none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestContext {
    /// The request id assigned by the HTTP layer.
    pub request_id: Option<String>,
    /// The client address as seen by the server.
    pub client_addr: Option<String>,
    /// The client's `User-Agent` header.
    pub user_agent: Option<String>,
}

/// What a caller records: everything but seq, time and the hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Who acted.
    pub actor: Actor,
    /// The tenant the action happened in, if any.
    pub tenant: Option<String>,
    /// Dotted action name, e.g. `auth.login`, `manifest.push`.
    pub action: String,
    /// What was acted on, e.g. `unscanned/t/app@sha256:..`, `user:alice`.
    pub target: String,
    /// How the action ended.
    pub outcome: Outcome,
    /// Why it ended that way (mostly for failures and denials).
    pub reason: Option<String>,
    /// Where the request came from.
    pub request: RequestContext,
    /// Action-specific details: a JSON object, or `null`.
    pub details: serde_json::Value,
}

impl AuditEvent {
    /// A success event with an empty request context, `null` details, no
    /// tenant and no reason.
    pub fn new(actor: Actor, action: impl Into<String>, target: impl Into<String>) -> AuditEvent {
        AuditEvent {
            actor,
            tenant: None,
            action: action.into(),
            target: target.into(),
            outcome: Outcome::Success,
            reason: None,
            request: RequestContext::default(),
            details: serde_json::Value::Null,
        }
    }

    /// Sets the tenant.
    pub fn tenant(mut self, tenant: impl Into<String>) -> AuditEvent {
        self.tenant = Some(tenant.into());
        self
    }

    /// Sets the outcome.
    pub fn outcome(mut self, outcome: Outcome) -> AuditEvent {
        self.outcome = outcome;
        self
    }

    /// Sets the reason.
    pub fn reason(mut self, reason: impl Into<String>) -> AuditEvent {
        self.reason = Some(reason.into());
        self
    }

    /// Sets the request context.
    pub fn request(mut self, request: RequestContext) -> AuditEvent {
        self.request = request;
        self
    }

    /// Sets the details (a JSON object, or `null`).
    pub fn details(mut self, details: serde_json::Value) -> AuditEvent {
        self.details = details;
        self
    }
}

/// A stored, sealed record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the log: 1-based and gapless.
    pub seq: u64,
    /// When the event was sealed, truncated to whole milliseconds (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub time: time::OffsetDateTime,
    /// The recorded event.
    #[serde(flatten)]
    pub event: AuditEvent,
    /// Lowercase hex SHA-256 of the previous record; [`crate::GENESIS_HASH`] for seq 1.
    pub prev_hash: String,
    /// Lowercase hex SHA-256 of this record (see the crate docs for the input).
    pub hash: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_kind_names_round_trip() {
        let cases = [
            (ActorKind::User, "user"),
            (ActorKind::Robot, "robot"),
            (ActorKind::System, "system"),
            (ActorKind::Anonymous, "anonymous"),
        ];
        for (kind, name) in cases {
            assert_eq!(kind.as_str(), name);
            assert_eq!(name.parse::<ActorKind>().unwrap(), kind);
            assert_eq!(serde_json::to_value(kind).unwrap(), name);
        }
        assert_eq!(cases.len(), ActorKind::ALL.len());
    }

    #[test]
    fn outcome_names_round_trip() {
        let cases = [
            (Outcome::Success, "success"),
            (Outcome::Failure, "failure"),
            (Outcome::Denied, "denied"),
        ];
        for (outcome, name) in cases {
            assert_eq!(outcome.as_str(), name);
            assert_eq!(name.parse::<Outcome>().unwrap(), outcome);
            assert_eq!(serde_json::to_value(outcome).unwrap(), name);
        }
        assert_eq!(cases.len(), Outcome::ALL.len());
    }

    #[test]
    fn unknown_names_are_rejected_with_the_valid_ones_listed() {
        let cases: [(&str, Result<(), AuditError>, &str); 3] = [
            ("User", "User".parse::<ActorKind>().map(drop), "user, robot"),
            ("", "".parse::<ActorKind>().map(drop), "anonymous"),
            ("ok", "ok".parse::<Outcome>().map(drop), "success, failure"),
        ];
        for (input, result, expected) in cases {
            let message = result.unwrap_err().to_string();
            assert!(message.contains(expected), "{input:?}: {message}");
        }
    }

    #[test]
    fn actor_constructors_set_kind_and_name() {
        let cases = [
            (Actor::user("alice"), ActorKind::User, "alice"),
            (Actor::robot("ci"), ActorKind::Robot, "ci"),
            (Actor::system("scanner"), ActorKind::System, "scanner"),
            (Actor::anonymous(), ActorKind::Anonymous, "anonymous"),
        ];
        for (actor, kind, name) in cases {
            assert_eq!(actor.kind, kind);
            assert_eq!(actor.name, name);
        }
    }

    #[test]
    fn event_builder_sets_every_field() {
        let request = RequestContext {
            request_id: Some("r1".into()),
            client_addr: Some("10.0.0.1".into()),
            user_agent: Some("docker/27".into()),
        };
        let event = AuditEvent::new(Actor::user("alice"), "auth.login", "user:alice");
        assert_eq!(event.outcome, Outcome::Success);
        assert_eq!(event.details, serde_json::Value::Null);
        assert_eq!(event.tenant, None);
        assert_eq!(event.reason, None);
        assert_eq!(event.request, RequestContext::default());

        let event = event
            .tenant("t")
            .outcome(Outcome::Denied)
            .reason("bad password")
            .request(request.clone())
            .details(serde_json::json!({"method": "basic"}));
        assert_eq!(event.tenant.as_deref(), Some("t"));
        assert_eq!(event.outcome, Outcome::Denied);
        assert_eq!(event.reason.as_deref(), Some("bad password"));
        assert_eq!(event.request, request);
        assert_eq!(event.details, serde_json::json!({"method": "basic"}));
    }
}
