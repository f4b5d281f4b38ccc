//! The gate's management use cases: versioned policies, exceptions and the
//! status of gated images.
//!
//! These live next to the identity use cases because they share everything
//! that matters: the [`Operator`], the authorization through
//! [`airlock_auth::manage_allows`] with audited refusals, and the one
//! [`Database`](airlock_store::Database) whose
//! [`GateStore`](airlock_store::GateStore) writes each change with its audit
//! record and outbox event in one transaction. The gate itself (scans,
//! verdicts, promotion) is not a dependency: after a change that can alter
//! verdicts, the service asks a [`GateTrigger`] (installed by the binary) to
//! re-evaluate, and nothing when none is installed.

use std::time::Duration;

use airlock_audit::{AuditEvent, Outcome, RequestContext};
use airlock_auth::{ManageAction, TenantId};
use airlock_oci::{Digest, Reference, RepoName, Tag};
use airlock_policy::Policy;
use airlock_store::{
    ExceptionRecord, HistoryEntry, ImageRecord, ImageState, OutboxEvent, PolicyRecord, PolicyRef,
};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::manage::parse_tenant;
use crate::{Accounts, AccountsError, Operator};

/// Asks the gate to re-evaluate promoted images after a policy or an
/// exception changed. Implemented by the binary over `airlock_gate::Gate`.
#[async_trait::async_trait]
pub trait GateTrigger: Send + Sync {
    /// Queues re-evaluations for one tenant (`None`: every tenant); returns
    /// how many were queued, or why it failed.
    async fn reevaluate(&self, tenant: Option<&TenantId>) -> Result<u64, String>;

    /// What `policy` would decide for the tenant's images in `scanned/`,
    /// with the tenant's exceptions and the current vulnerability data;
    /// changes nothing.
    async fn dry_run(&self, tenant: &TenantId, policy: &Policy)
    -> Result<Vec<DryRunImage>, String>;
}

/// One image of a policy dry run.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
pub struct DryRunImage {
    /// The image's repository in `unscanned/`.
    pub repository: String,
    /// Its digest.
    pub digest: String,
    /// Whether the candidate policy passes it.
    pub would_pass: bool,
    /// The rules that would fail it, with their messages.
    pub failures: Vec<DryRunFailure>,
}

/// A rule a dry run fails.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
pub struct DryRunFailure {
    /// The rule's name.
    pub rule: String,
    /// Why, in words.
    pub message: String,
}

/// The outcome of a policy dry run over the images in `scanned/`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
pub struct DryRunView {
    /// How many images were evaluated.
    pub evaluated: usize,
    /// How many would fail.
    pub would_fail: usize,
    /// Every image, failing ones first.
    pub images: Vec<DryRunImage>,
}

/// Longest lifetime of an exception.
const MAX_EXCEPTION_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// A policy version as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
#[schema(as = Policy)]
pub struct PolicyView {
    /// Its tenant; `None` for the global default.
    pub tenant: Option<String>,
    /// 1, 2, ...
    pub version: i64,
    /// The YAML document, as submitted.
    pub document: String,
    /// Who set it.
    pub author: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<PolicyRecord> for PolicyView {
    fn from(p: PolicyRecord) -> PolicyView {
        PolicyView {
            tenant: p.tenant.map(|t| t.to_string()),
            version: p.version,
            document: p.document,
            author: p.author,
            created_at: p.created_at,
        }
    }
}

/// An exception as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
#[schema(as = Exception)]
pub struct ExceptionView {
    /// `EXC-<n>`.
    #[schema(example = "EXC-1")]
    pub id: String,
    /// Its tenant.
    pub tenant: String,
    /// The vulnerability id.
    pub vulnerability: String,
    /// Narrowed to a package name.
    pub package: Option<String>,
    /// Narrowed to a repository.
    pub repository: Option<String>,
    /// Narrowed to a digest.
    pub digest: Option<String>,
    /// Why.
    pub reason: String,
    /// Who asked.
    pub requested_by: String,
    /// Who approved.
    pub approved_by: Option<String>,
    /// When it was approved.
    #[serde(with = "time::serde::rfc3339::option")]
    pub approved_at: Option<OffsetDateTime>,
    /// When it stops applying.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// When it was revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// When it was requested.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// `pending`, `active`, `expired`, `revoked` or `rejected`.
    #[schema(value_type = String, example = "active")]
    pub status: &'static str,
}

impl From<ExceptionRecord> for ExceptionView {
    fn from(e: ExceptionRecord) -> ExceptionView {
        let status = if e.revoked_at.is_some() {
            "revoked"
        } else if e.expires_at <= OffsetDateTime::now_utc() {
            "expired"
        } else if e.approved_by.is_some() {
            "active"
        } else {
            "pending"
        };
        // A request closed without an approval was rejected, not revoked.
        let status = if status == "revoked" && e.approved_by.is_none() {
            "rejected"
        } else {
            status
        };
        ExceptionView {
            id: e.id,
            tenant: e.tenant.to_string(),
            vulnerability: e.vulnerability,
            package: e.package,
            repository: e.repository,
            digest: e.digest,
            reason: e.reason,
            requested_by: e.requested_by,
            approved_by: e.approved_by,
            approved_at: e.approved_at,
            expires_at: e.expires_at,
            revoked_at: e.revoked_at,
            created_at: e.created_at,
            status,
        }
    }
}

/// A requested exception: what it waives and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionRequest {
    /// The vulnerability id (aliases are honoured when matching).
    pub vulnerability: String,
    /// Narrows it to a package name.
    pub package: Option<String>,
    /// Narrows it to a repository.
    pub repository: Option<String>,
    /// Narrows it to a manifest digest.
    pub digest: Option<String>,
    /// Why it is acceptable.
    pub reason: String,
    /// How long it applies (required; at most a year).
    pub expires_in: Duration,
}

/// One step of an image's history, as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
#[schema(as = History)]
pub struct HistoryView {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The state before.
    pub from: Option<String>,
    /// The state after.
    pub to: String,
    /// What happened.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl From<HistoryEntry> for HistoryView {
    fn from(h: HistoryEntry) -> HistoryView {
        HistoryView {
            at: h.at,
            from: h.from.map(|s| s.as_str().to_owned()),
            to: h.to.as_str().to_owned(),
            detail: h.detail,
        }
    }
}

/// An image in the gate, as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
#[schema(as = Image)]
pub struct ImageView {
    /// Its tenant.
    pub tenant: String,
    /// The `unscanned/` repository it was pushed to.
    pub repository: String,
    /// The manifest digest.
    pub digest: String,
    /// Its state (`received` ... `promoted`, `rejected`, `covered`).
    pub state: String,
    /// Why it was rejected, when it was.
    pub reason: Option<String>,
    /// The deciding policy: `{"tenant": ..., "version": ...}` (`tenant`
    /// null for the global one).
    #[schema(value_type = Option<Object>)]
    pub policy: Option<PolicyRef>,
    /// When it was pushed first.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When its state last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&ImageRecord> for ImageView {
    fn from(i: &ImageRecord) -> ImageView {
        ImageView {
            tenant: i.tenant.to_string(),
            repository: i.repository.to_string(),
            digest: i.digest.to_string(),
            state: i.state.as_str().to_owned(),
            reason: i.reason.clone(),
            policy: i.policy.clone(),
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

/// An image's full status: state, verdict, the reasons behind it, history.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
#[schema(as = ImageStatus)]
pub struct ImageStatusView {
    /// The image.
    #[serde(flatten)]
    pub image: ImageView,
    /// The policy verdict, once evaluated: `passed`, `failures`,
    /// `excepted`, `counts`, `findings`, `policy`.
    #[schema(value_type = Option<Object>)]
    pub verdict: Option<serde_json::Value>,
    /// Why it was decided so: every failed rule with its findings (the
    /// verdict's `failures`), or the rejection reason when no verdict says.
    #[schema(value_type = Vec<Object>)]
    pub reasons: Vec<serde_json::Value>,
    /// Its lifecycle, oldest first.
    pub history: Vec<HistoryView>,
    /// The store's id of the image, to narrow a finding search to it.
    #[serde(skip)]
    pub id: i64,
}

/// Which images to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageFilter {
    /// Only in this state.
    pub state: Option<String>,
    /// Only in this repository (`unscanned/<tenant>/<name>`).
    pub repository: Option<String>,
    /// Only the manifest this tag of `repository` points at now.
    pub tag: Option<String>,
    /// At most this many (default 100).
    pub limit: Option<usize>,
}

fn reasons_of(image: &ImageRecord) -> Vec<serde_json::Value> {
    let failures = image
        .verdict
        .as_ref()
        .and_then(|v| v.get("failures"))
        .and_then(|f| f.as_array())
        .cloned()
        .unwrap_or_default();
    match (&image.reason, failures.is_empty()) {
        (Some(reason), true) => vec![serde_json::json!({
            "rule": reason,
            "message": image
                .verdict
                .as_ref()
                .and_then(|v| v.get("error").or_else(|| v.get("message")))
                .and_then(|m| m.as_str())
                .map_or_else(|| format!("rejected: {reason}"), str::to_owned),
            "findings": [],
            "packages": [],
        })],
        _ => failures,
    }
}

fn parse_repository(text: &str) -> Result<RepoName, AccountsError> {
    text.parse()
        .map_err(|e| AccountsError::Invalid(format!("invalid repository {text:?}: {e}")))
}

pub(crate) fn parse_digest(text: &str) -> Result<Digest, AccountsError> {
    text.parse()
        .map_err(|e| AccountsError::Invalid(format!("invalid digest {text:?}: {e}")))
}

fn policy_target(tenant: Option<&TenantId>) -> String {
    tenant.map_or_else(|| "policy:global".to_owned(), |t| format!("policy:{t}"))
}

fn nonempty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

impl Accounts {
    /// Installs what re-evaluates images after a policy or exception change
    /// (the first one installed stays).
    pub fn set_gate_trigger(&self, trigger: std::sync::Arc<dyn GateTrigger>) {
        let _ = self.gate.set(trigger);
    }

    /// Asks the gate to re-evaluate; the change is committed already, so a
    /// failure is logged, not returned (the next re-evaluation catches up).
    async fn trigger_reevaluation(&self, tenant: Option<&TenantId>) {
        let Some(trigger) = self.gate.get() else {
            return;
        };
        match trigger.reevaluate(tenant).await {
            Ok(queued) => tracing::info!(
                tenant = tenant.map(TenantId::as_str),
                queued,
                "queued re-evaluations after a gate change"
            ),
            Err(e) => tracing::warn!(
                tenant = tenant.map(TenantId::as_str),
                error = %e,
                "could not queue re-evaluations after a gate change"
            ),
        }
    }

    async fn deny(
        &self,
        operator: &Operator,
        request: &RequestContext,
        target: &str,
        reason: &str,
    ) -> AccountsError {
        let event = AuditEvent::new(operator.actor(), "access.denied", target)
            .outcome(Outcome::Denied)
            .reason(reason)
            .request(request.clone());
        if let Err(e) = self.store.append_audit(&[event]).await {
            return e.into();
        }
        AccountsError::Forbidden(reason.to_owned())
    }

    // ----- policies -----

    /// Validates and stores a new version of a tenant's policy (`None`: the
    /// global default), then queues re-evaluations.
    pub async fn set_policy(
        &self,
        operator: &Operator,
        request: &RequestContext,
        tenant: Option<&str>,
        document: &str,
    ) -> Result<PolicyView, AccountsError> {
        let tenant = tenant.map(parse_tenant).transpose()?;
        let target = policy_target(tenant.as_ref());
        self.allow(
            operator,
            ManageAction::SetPolicy(tenant.clone()),
            &target,
            request,
        )
        .await?;
        if let Some(t) = &tenant
            && !self.store.tenant_exists(t).await?
        {
            return Err(AccountsError::NotFound(format!("tenant {t}")));
        }
        Policy::from_yaml(document)
            .map_err(|e| AccountsError::Invalid(format!("invalid policy: {e}")))?;
        let author = operator.actor().name;
        let scope = tenant.as_ref().map(TenantId::to_string);
        let mut event = Self::event(operator, "policy.set", target.clone(), request);
        if let Some(t) = &scope {
            event = event.tenant(t.clone());
        }
        let outbox = OutboxEvent::new(
            "airlock.policy.changed",
            scope.clone(),
            target,
            serde_json::json!({ "tenant": scope, "author": author }),
        );
        let version = self
            .store
            .put_policy(tenant.as_ref(), document, &author, &event, &[outbox])
            .await?;
        self.trigger_reevaluation(tenant.as_ref()).await;
        Ok(self
            .store
            .policy(tenant.as_ref())
            .await?
            .map(PolicyView::from)
            .unwrap_or_else(|| PolicyView {
                tenant: scope,
                version,
                document: document.to_owned(),
                author,
                created_at: OffsetDateTime::now_utc(),
            }))
    }

    /// The newest policy of a tenant (`None`: the global one), if one was set.
    pub async fn policy(
        &self,
        operator: &Operator,
        tenant: Option<&str>,
    ) -> Result<Option<PolicyView>, AccountsError> {
        let tenant = tenant.map(parse_tenant).transpose()?;
        self.allow(
            operator,
            ManageAction::ReadPolicy(tenant.clone()),
            &policy_target(tenant.as_ref()),
            &RequestContext::default(),
        )
        .await?;
        Ok(self
            .store
            .policy(tenant.as_ref())
            .await?
            .map(PolicyView::from))
    }

    /// Every version of a tenant's policy (`None`: the global one), newest
    /// first.
    pub async fn policy_versions(
        &self,
        operator: &Operator,
        tenant: Option<&str>,
    ) -> Result<Vec<PolicyView>, AccountsError> {
        let tenant = tenant.map(parse_tenant).transpose()?;
        self.allow(
            operator,
            ManageAction::ReadPolicy(tenant.clone()),
            &policy_target(tenant.as_ref()),
            &RequestContext::default(),
        )
        .await?;
        Ok(self
            .store
            .policy_versions(tenant.as_ref())
            .await?
            .into_iter()
            .map(PolicyView::from)
            .collect())
    }

    /// The versions of a policy for its editor: like [`Self::policy_versions`],
    /// but only for who may set it (a refusal is audited).
    pub async fn policy_for_editing(
        &self,
        operator: &Operator,
        request: &RequestContext,
        tenant: Option<&str>,
    ) -> Result<Vec<PolicyView>, AccountsError> {
        let tenant = tenant.map(parse_tenant).transpose()?;
        self.allow(
            operator,
            ManageAction::SetPolicy(tenant.clone()),
            &policy_target(tenant.as_ref()),
            request,
        )
        .await?;
        if let Some(t) = &tenant
            && !self.store.tenant_exists(t).await?
        {
            return Err(AccountsError::NotFound(format!("tenant {t}")));
        }
        Ok(self
            .store
            .policy_versions(tenant.as_ref())
            .await?
            .into_iter()
            .map(PolicyView::from)
            .collect())
    }

    /// What a candidate policy would decide for the tenant's images in
    /// `scanned/`. Needs the right to set the policy; stores nothing.
    pub async fn dry_run_policy(
        &self,
        operator: &Operator,
        request: &RequestContext,
        tenant: &str,
        document: &str,
    ) -> Result<DryRunView, AccountsError> {
        let tenant = parse_tenant(tenant)?;
        let target = policy_target(Some(&tenant));
        self.allow(
            operator,
            ManageAction::SetPolicy(Some(tenant.clone())),
            &target,
            request,
        )
        .await?;
        if !self.store.tenant_exists(&tenant).await? {
            return Err(AccountsError::NotFound(format!("tenant {tenant}")));
        }
        let policy = Policy::from_yaml(document)
            .map_err(|e| AccountsError::Invalid(format!("invalid policy: {e}")))?;
        let Some(gate) = self.gate.get() else {
            return Err(AccountsError::Internal(
                "the gate is not running in this process".into(),
            ));
        };
        let mut images = gate
            .dry_run(&tenant, &policy)
            .await
            .map_err(AccountsError::Internal)?;
        images.sort_by(|a, b| {
            (a.would_pass, &a.repository, &a.digest).cmp(&(b.would_pass, &b.repository, &b.digest))
        });
        Ok(DryRunView {
            evaluated: images.len(),
            would_fail: images.iter().filter(|i| !i.would_pass).count(),
            images,
        })
    }

    // ----- exceptions -----

    /// Records a requested exception; it applies once someone else approves it.
    pub async fn request_exception(
        &self,
        operator: &Operator,
        request: &RequestContext,
        tenant: &str,
        exception: ExceptionRequest,
    ) -> Result<ExceptionView, AccountsError> {
        let tenant_id = parse_tenant(tenant)?;
        let target = format!("tenant:{tenant}");
        self.allow(
            operator,
            ManageAction::RequestException(tenant_id.clone()),
            &target,
            request,
        )
        .await?;
        if !self.store.tenant_exists(&tenant_id).await? {
            return Err(AccountsError::NotFound(format!("tenant {tenant}")));
        }
        let vulnerability = exception.vulnerability.trim().to_owned();
        if vulnerability.is_empty() {
            return Err(AccountsError::Invalid(
                "an exception needs a vulnerability id".into(),
            ));
        }
        let reason = exception.reason.trim().to_owned();
        if reason.is_empty() {
            return Err(AccountsError::Invalid("an exception needs a reason".into()));
        }
        if exception.expires_in.is_zero() || exception.expires_in > MAX_EXCEPTION_LIFETIME {
            return Err(AccountsError::Invalid(
                "an exception's expiry must be in the future and at most 366 days away".into(),
            ));
        }
        let repository = nonempty(exception.repository);
        if let Some(r) = &repository {
            parse_repository(r)?;
            let name = r
                .strip_prefix("unscanned/")
                .or_else(|| r.strip_prefix("scanned/"))
                .unwrap_or(r);
            if !name.starts_with(&format!("{tenant}/")) {
                return Err(AccountsError::Invalid(format!(
                    "repository {r:?} is not in tenant {tenant}"
                )));
            }
        }
        let digest = nonempty(exception.digest);
        if let Some(d) = &digest {
            parse_digest(d)?;
        }
        let now = OffsetDateTime::now_utc();
        let expires_at = time::Duration::try_from(exception.expires_in)
            .map(|d| now + d)
            .map_err(|e| AccountsError::Invalid(format!("invalid expiry: {e}")))?;
        let record = ExceptionRecord {
            id: String::new(),
            tenant: tenant_id,
            vulnerability,
            package: nonempty(exception.package),
            repository,
            digest,
            reason,
            requested_by: operator.actor().name,
            approved_by: None,
            approved_at: None,
            expires_at,
            revoked_at: None,
            created_at: now,
        };
        let details = serde_json::json!({
            "vulnerability": record.vulnerability,
            "package": record.package,
            "repository": record.repository,
            "digest": record.digest,
            "reason": record.reason,
            "expires_at": expires_at.unix_timestamp(),
        });
        let event = Self::event(operator, "exception.request", target.clone(), request)
            .tenant(tenant)
            .details(details.clone());
        let outbox = OutboxEvent::new(
            "airlock.exception.created",
            Some(tenant.to_owned()),
            target,
            details,
        );
        let created = self
            .store
            .create_exception(&record, &event, &[outbox])
            .await?;
        Ok(ExceptionView::from(created))
    }

    /// The exception `id`, checked to belong to `tenant` when one is given.
    async fn find_exception(
        &self,
        tenant: Option<&str>,
        id: &str,
    ) -> Result<ExceptionRecord, AccountsError> {
        let found = self
            .store
            .exception(id)
            .await?
            .filter(|e| tenant.is_none_or(|t| e.tenant.as_str() == t));
        found.ok_or_else(|| AccountsError::NotFound(format!("exception {id}")))
    }

    /// Approves an exception: by a security member of its tenant or an
    /// admin, never by its requester. Then queues re-evaluations.
    pub async fn approve_exception(
        &self,
        operator: &Operator,
        request: &RequestContext,
        tenant: Option<&str>,
        id: &str,
    ) -> Result<ExceptionView, AccountsError> {
        let target = format!("exception:{id}");
        let exception = self.find_exception(tenant, id).await?;
        self.allow(
            operator,
            ManageAction::ApproveException(exception.tenant.clone()),
            &target,
            request,
        )
        .await?;
        let approver = operator.actor().name;
        if approver == exception.requested_by {
            return Err(self
                .deny(
                    operator,
                    request,
                    &target,
                    "an exception's approver must not be its requester",
                )
                .await);
        }
        let details = serde_json::json!({
            "vulnerability": exception.vulnerability,
            "requested_by": exception.requested_by,
            "approved_by": approver,
            "expires_at": exception.expires_at.unix_timestamp(),
        });
        let event = Self::event(operator, "exception.approve", target.clone(), request)
            .tenant(exception.tenant.as_str())
            .details(details.clone());
        let outbox = OutboxEvent::new(
            "airlock.exception.approved",
            Some(exception.tenant.to_string()),
            target,
            details,
        );
        let approved = self
            .store
            .approve_exception(id, &approver, OffsetDateTime::now_utc(), &event, &[outbox])
            .await?;
        self.trigger_reevaluation(Some(&approved.tenant)).await;
        Ok(ExceptionView::from(approved))
    }

    /// Revokes an exception (security of its tenant, admin). Then queues
    /// re-evaluations.
    pub async fn revoke_exception(
        &self,
        operator: &Operator,
        request: &RequestContext,
        tenant: Option<&str>,
        id: &str,
    ) -> Result<(), AccountsError> {
        let target = format!("exception:{id}");
        let exception = self.find_exception(tenant, id).await?;
        self.allow(
            operator,
            ManageAction::ApproveException(exception.tenant.clone()),
            &target,
            request,
        )
        .await?;
        let details = serde_json::json!({ "vulnerability": exception.vulnerability });
        let event = Self::event(operator, "exception.revoke", target.clone(), request)
            .tenant(exception.tenant.as_str())
            .details(details.clone());
        let outbox = OutboxEvent::new(
            "airlock.exception.revoked",
            Some(exception.tenant.to_string()),
            target,
            details,
        );
        self.store
            .revoke_exception(id, OffsetDateTime::now_utc(), &event, &[outbox])
            .await?;
        self.trigger_reevaluation(Some(&exception.tenant)).await;
        Ok(())
    }

    /// Rejects a pending exception request (security of its tenant,
    /// admin): it is closed without ever applying.
    pub async fn reject_exception(
        &self,
        operator: &Operator,
        request: &RequestContext,
        tenant: Option<&str>,
        id: &str,
    ) -> Result<ExceptionView, AccountsError> {
        let target = format!("exception:{id}");
        let exception = self.find_exception(tenant, id).await?;
        self.allow(
            operator,
            ManageAction::ApproveException(exception.tenant.clone()),
            &target,
            request,
        )
        .await?;
        if exception.approved_by.is_some() || exception.revoked_at.is_some() {
            return Err(AccountsError::Conflict(format!(
                "exception {id} is not pending: only a pending request can be rejected"
            )));
        }
        let details = serde_json::json!({
            "vulnerability": exception.vulnerability,
            "requested_by": exception.requested_by,
            "rejected_by": operator.actor().name,
        });
        let event = Self::event(operator, "exception.reject", target.clone(), request)
            .tenant(exception.tenant.as_str())
            .details(details.clone());
        let outbox = OutboxEvent::new(
            "airlock.exception.rejected",
            Some(exception.tenant.to_string()),
            target,
            details,
        );
        self.store
            .revoke_exception(id, OffsetDateTime::now_utc(), &event, &[outbox])
            .await?;
        self.find_exception(None, id).await.map(ExceptionView::from)
    }

    /// A tenant's exceptions, newest first.
    pub async fn exceptions(
        &self,
        operator: &Operator,
        tenant: &str,
    ) -> Result<Vec<ExceptionView>, AccountsError> {
        let tenant_id = parse_tenant(tenant)?;
        self.allow(
            operator,
            ManageAction::ReadGate(tenant_id.clone()),
            &format!("tenant:{tenant}"),
            &RequestContext::default(),
        )
        .await?;
        Ok(self
            .store
            .exceptions(&tenant_id)
            .await?
            .into_iter()
            .map(ExceptionView::from)
            .collect())
    }

    // ----- images -----

    /// An image's state, verdict, reasons and history. A digest pushed to
    /// several repositories of the tenant is told apart by `repository`;
    /// without it the most recently changed one is shown.
    pub async fn image_status(
        &self,
        operator: &Operator,
        tenant: &str,
        digest: &str,
        repository: Option<&str>,
    ) -> Result<ImageStatusView, AccountsError> {
        let tenant_id = parse_tenant(tenant)?;
        self.allow(
            operator,
            ManageAction::ReadGate(tenant_id.clone()),
            &format!("tenant:{tenant}"),
            &RequestContext::default(),
        )
        .await?;
        let digest_value = parse_digest(digest)?;
        let image = self
            .store
            .images_by_digest(&tenant_id, &digest_value)
            .await?
            .into_iter()
            .filter(|i| repository.is_none_or(|r| i.repository.as_str() == r))
            .max_by_key(|i| (i.updated_at, i.id))
            .ok_or_else(|| AccountsError::NotFound(format!("image {digest} in tenant {tenant}")))?;
        let history = self
            .store
            .history(image.id)
            .await?
            .into_iter()
            .map(HistoryView::from)
            .collect();
        Ok(ImageStatusView {
            image: ImageView::from(&image),
            verdict: image.verdict.clone(),
            reasons: reasons_of(&image),
            history,
            id: image.id,
        })
    }

    /// A tenant's images, newest first.
    pub async fn images(
        &self,
        operator: &Operator,
        tenant: &str,
        filter: &ImageFilter,
    ) -> Result<Vec<ImageView>, AccountsError> {
        let tenant_id = parse_tenant(tenant)?;
        self.allow(
            operator,
            ManageAction::ReadGate(tenant_id.clone()),
            &format!("tenant:{tenant}"),
            &RequestContext::default(),
        )
        .await?;
        let state: Option<ImageState> = filter
            .state
            .as_deref()
            .map(|s| {
                s.parse().map_err(|_| {
                    let names: Vec<&str> = ImageState::ALL.iter().map(|s| s.as_str()).collect();
                    AccountsError::Invalid(format!(
                        "unknown image state {s:?}: use one of {}",
                        names.join(", ")
                    ))
                })
            })
            .transpose()?;
        let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
        let repository = filter
            .repository
            .as_deref()
            .map(parse_repository)
            .transpose()?;
        if let Some(tag) = &filter.tag {
            let Some(repository) = &repository else {
                return Err(AccountsError::Invalid(
                    "a tag filter needs a repository".into(),
                ));
            };
            let tag: Tag = tag
                .parse()
                .map_err(|e| AccountsError::Invalid(format!("invalid tag {tag:?}: {e}")))?;
            let Some(manifest) = self
                .store
                .manifest(repository, &Reference::Tag(tag))
                .await?
            else {
                return Ok(Vec::new());
            };
            return Ok(self
                .store
                .images_by_digest(&tenant_id, &manifest.digest)
                .await?
                .iter()
                .filter(|i| &i.repository == repository)
                .filter(|i| state.is_none_or(|s| i.state == s))
                .map(ImageView::from)
                .collect());
        }
        let fetch = if repository.is_some() {
            usize::MAX
        } else {
            limit
        };
        Ok(self
            .store
            .images(Some(&tenant_id), state, fetch)
            .await?
            .iter()
            .filter(|i| repository.as_ref().is_none_or(|r| &i.repository == r))
            .take(limit)
            .map(ImageView::from)
            .collect())
    }
}
