//! Identity use cases: who may log in, what a token grants, and the
//! management of tenants, users, grants and robots.
//!
//! [`Accounts`] is to identities what `airlock_registry::Registry` is to
//! images: it authorizes each operation with
//! [`airlock_auth::manage_allows`], performs it through the
//! [`IdentityStore`](airlock_store::IdentityStore) port, and hands the store
//! the audit record to write in the same transaction. Logins and token
//! issues, successful or not, are audited too; failed logins are throttled
//! per client address and per user name.
//!
//! The gate's management (policies, exceptions, image status) is here too,
//! in `gate_admin`, for the same reasons: same operators, same
//! authorization and audit, same database.
//!
//! The view types the API returns derive `utoipa::ToSchema` (derive only:
//! no HTTP here), so the OpenAPI document that `airlock-http` generates
//! describes exactly what is serialized. Types of the pure crates they
//! embed (roles, policy references, verdicts) are described as plain
//! strings or objects, keeping those crates free of utoipa.
//!
//! Operations are done by an [`Operator`]: a logged-in principal (API), or
//! the local operator (the CLI run against the data directory, which is as
//! powerful as whoever can read that directory).

mod audit_log;
mod contents;
mod error;
mod gate_admin;
mod login;
mod manage;
mod reports;
mod search;
mod session;
mod webhooks;

use std::sync::Arc;

use airlock_audit::{Actor, RequestContext};
use airlock_auth::{LoginThrottle, Principal, TokenService};
use airlock_store::Database;

pub use audit_log::AuditChainStatus;
pub use contents::{LayerRow, PackageRow, PlatformContents};
pub use error::AccountsError;
pub use gate_admin::{
    DryRunFailure, DryRunImage, DryRunView, ExceptionRequest, ExceptionView, GateTrigger,
    HistoryView, ImageFilter, ImageStatusView, ImageView, PolicyView,
};
pub use manage::{NewRobot, RobotView, TenantView, UserView};
pub use reports::{ReportDownload, ReportQuery};
pub use search::{
    ExportRow, FindingItem, FindingSearch, ImageItem, ImageSearch, SearchExportFormat, SearchPage,
};
pub use session::SESSION_TTL;
pub use webhooks::{
    AttemptView, DeliveryView, NewWebhook, WebhookCreated, WebhookSettings, WebhookView,
};

/// Who performs a management operation.
#[derive(Debug, Clone)]
pub enum Operator {
    /// An authenticated user or robot.
    Principal(Principal),
    /// The CLI on the data directory, named by the OS user running it.
    Local(String),
}

impl Operator {
    /// The audit log's actor.
    pub fn actor(&self) -> Actor {
        match self {
            Operator::Principal(Principal::User { name, .. }) => Actor::user(name.clone()),
            Operator::Principal(Principal::Robot { name, .. }) => Actor::robot(name.clone()),
            Operator::Principal(Principal::System(s)) => Actor::system(s.as_str()),
            Operator::Local(user) => Actor::system(format!("cli:{user}")),
        }
    }
}

/// The identity service.
pub struct Accounts {
    store: Arc<dyn Database>,
    tokens: TokenService,
    throttle: LoginThrottle,
    /// Re-evaluates images after policy and exception changes, once installed.
    gate: std::sync::OnceLock<Arc<dyn GateTrigger>>,
    /// Where scan reports are read from, once installed.
    reports: std::sync::OnceLock<Arc<dyn airlock_store::ReportStore>>,
    /// What webhook URLs are accepted.
    webhooks: std::sync::OnceLock<WebhookSettings>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts")
            .field("service", &self.tokens.service())
            .finish_non_exhaustive()
    }
}

impl Accounts {
    /// The service over `store`, issuing tokens with `tokens`, throttling
    /// failed logins with `throttle`.
    pub fn new(
        store: Arc<dyn Database>,
        tokens: TokenService,
        throttle: LoginThrottle,
    ) -> Accounts {
        Accounts {
            store,
            tokens,
            throttle,
            gate: std::sync::OnceLock::new(),
            reports: std::sync::OnceLock::new(),
            webhooks: std::sync::OnceLock::new(),
        }
    }

    /// The token service (the registry verifies tokens with it).
    pub fn tokens(&self) -> &TokenService {
        &self.tokens
    }

    /// The request context of a local (CLI) operation.
    pub fn local_context() -> RequestContext {
        RequestContext::default()
    }
}
