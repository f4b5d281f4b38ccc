//! CloudEvents 1.0 envelopes for outbox events, in structured JSON mode.
//!
//! Structured mode puts every attribute and the payload in one JSON body with
//! `Content-Type: application/cloudevents+json`, which is what gets signed
//! (see [`crate::signature`]). The body is deterministic: attributes are
//! written in a fixed order and `data` keeps the order it was built with, so
//! re-rendering an outbox row yields the same bytes and the same signature.
//!
//! Fields are private so that an event always holds valid attributes
//! (non-empty `id`, `source` and `type`, a time representable in RFC 3339);
//! that is what makes [`CloudEvent::to_body`] infallible.

use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, UtcOffset};

/// The only CloudEvents version this crate writes and reads.
pub const SPEC_VERSION: &str = "1.0";
/// The `datacontenttype` of every event: `data` is always JSON.
pub const DATA_CONTENT_TYPE: &str = "application/json";
/// The HTTP `Content-Type` of a structured-mode body.
pub const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json";

/// Why an event could not be built or read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CloudEventError {
    /// A required attribute was empty.
    #[error("cloudevent attribute `{0}` must not be empty")]
    EmptyAttribute(&'static str),
    /// The event time is outside what RFC 3339 can express (years 0-9999).
    #[error("cloudevent time {0} cannot be written as rfc 3339")]
    TimeOutOfRange(String),
    /// The body was not a valid structured-mode CloudEvent.
    #[error("cannot parse cloudevent body: {0}")]
    InvalidBody(String),
    /// The body declared a version other than 1.0.
    #[error("unsupported cloudevents specversion `{0}`")]
    UnsupportedSpecVersion(String),
}

/// One CloudEvent, with the attribute names of the CloudEvents JSON format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudEvent {
    specversion: String,
    id: String,
    source: String,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    time: OffsetDateTime,
    datacontenttype: String,
    data: serde_json::Value,
}

impl CloudEvent {
    /// Builds the event for one outbox row.
    ///
    /// `id` is the outbox id (stable across retries, so receivers can
    /// de-duplicate), `event_type` a reverse-DNS name such as
    /// `io.airlock.image.quarantined`, `source` the URI of the emitting
    /// tenant. The time is normalized to UTC.
    pub fn from_outbox(
        id: impl Into<String>,
        event_type: impl Into<String>,
        subject: Option<String>,
        time: OffsetDateTime,
        data: serde_json::Value,
        source: &str,
    ) -> Result<Self, CloudEventError> {
        let event = Self {
            specversion: SPEC_VERSION.to_owned(),
            id: id.into(),
            source: source.to_owned(),
            event_type: event_type.into(),
            subject,
            time: time.to_offset(UtcOffset::UTC),
            datacontenttype: DATA_CONTENT_TYPE.to_owned(),
            data,
        };
        event.validate()?;
        Ok(event)
    }

    /// Reads a structured-mode body, checking the required attributes.
    pub fn from_body(body: &[u8]) -> Result<Self, CloudEventError> {
        let event: Self = serde_json::from_slice(body)
            .map_err(|error| CloudEventError::InvalidBody(error.to_string()))?;
        if event.specversion != SPEC_VERSION {
            return Err(CloudEventError::UnsupportedSpecVersion(event.specversion));
        }
        event.validate()?;
        Ok(event)
    }

    fn validate(&self) -> Result<(), CloudEventError> {
        for (name, value) in [
            ("id", &self.id),
            ("source", &self.source),
            ("type", &self.event_type),
        ] {
            if value.is_empty() {
                return Err(CloudEventError::EmptyAttribute(name));
            }
        }
        if !(0..=9999).contains(&self.time.year()) {
            return Err(CloudEventError::TimeOutOfRange(self.time.to_string()));
        }
        Ok(())
    }

    /// The structured-mode JSON body: the bytes to sign and send.
    pub fn to_body(&self) -> Vec<u8> {
        // Cannot fail: every field is a string, a JSON value, or a time that
        // `validate` proved representable in RFC 3339.
        serde_json::to_vec(self).expect("a validated cloudevent always serializes")
    }

    /// The event id (the outbox id).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The URI of the emitter.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The event type, e.g. `io.airlock.image.quarantined`.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// What the event is about, e.g. a repository and digest.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// When the event happened, in UTC.
    pub fn time(&self) -> OffsetDateTime {
        self.time
    }

    /// The JSON payload.
    pub fn data(&self) -> &serde_json::Value {
        &self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    fn quarantined() -> CloudEvent {
        CloudEvent::from_outbox(
            "01JD5Z7Q0000000000000000AB",
            "io.airlock.image.quarantined",
            Some("acme/app@sha256:abc".to_owned()),
            datetime!(2026-01-02 04:04:05 +01:00),
            json!({"repository": "acme/app", "digest": "sha256:abc", "findings": 3}),
            "https://airlock.example/tenants/acme",
        )
        .unwrap()
    }

    #[test]
    fn golden_body_for_a_quarantined_image() {
        let body = String::from_utf8(quarantined().to_body()).unwrap();
        assert_eq!(
            body,
            r#"{"specversion":"1.0","id":"01JD5Z7Q0000000000000000AB","source":"https://airlock.example/tenants/acme","type":"io.airlock.image.quarantined","subject":"acme/app@sha256:abc","time":"2026-01-02T03:04:05Z","datacontenttype":"application/json","data":{"repository":"acme/app","digest":"sha256:abc","findings":3}}"#
        );
    }

    #[test]
    fn body_round_trips() {
        let event = quarantined();
        let parsed = CloudEvent::from_body(&event.to_body()).unwrap();
        assert_eq!(parsed, event);
        assert_eq!(parsed.to_body(), event.to_body());
    }

    #[test]
    fn required_attributes_are_present() {
        let value: serde_json::Value = serde_json::from_slice(&quarantined().to_body()).unwrap();
        for attribute in [
            "specversion",
            "id",
            "source",
            "type",
            "time",
            "datacontenttype",
            "data",
        ] {
            assert!(value.get(attribute).is_some(), "missing {attribute}");
        }
        assert_eq!(value["specversion"], "1.0");
    }

    #[test]
    fn subject_is_omitted_when_absent() {
        let event = CloudEvent::from_outbox(
            "1",
            "io.airlock.test",
            None,
            datetime!(2026-01-02 03:04:05 UTC),
            json!(null),
            "/airlock",
        )
        .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&event.to_body()).unwrap();
        assert!(value.get("subject").is_none());
        assert_eq!(CloudEvent::from_body(&event.to_body()).unwrap(), event);
    }

    #[test]
    fn empty_required_attributes_are_refused() {
        let build = |id: &str, event_type: &str, source: &str| {
            CloudEvent::from_outbox(
                id,
                event_type,
                None,
                datetime!(2026-01-02 03:04:05 UTC),
                json!({}),
                source,
            )
        };
        assert_eq!(
            build("", "t", "s"),
            Err(CloudEventError::EmptyAttribute("id"))
        );
        assert_eq!(
            build("i", "", "s"),
            Err(CloudEventError::EmptyAttribute("type"))
        );
        assert_eq!(
            build("i", "t", ""),
            Err(CloudEventError::EmptyAttribute("source"))
        );
    }

    #[test]
    fn bodies_with_another_specversion_or_missing_attributes_are_refused() {
        let other_version = br#"{"specversion":"0.3","id":"1","source":"/s","type":"t","time":"2026-01-02T03:04:05Z","datacontenttype":"application/json","data":null}"#;
        assert_eq!(
            CloudEvent::from_body(other_version),
            Err(CloudEventError::UnsupportedSpecVersion("0.3".to_owned()))
        );
        let missing_id = br#"{"specversion":"1.0","source":"/s","type":"t","time":"2026-01-02T03:04:05Z","datacontenttype":"application/json","data":null}"#;
        assert!(matches!(
            CloudEvent::from_body(missing_id),
            Err(CloudEventError::InvalidBody(_))
        ));
    }
}
