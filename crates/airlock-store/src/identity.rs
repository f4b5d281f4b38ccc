//! The identity-store port: tenants, users, their grants and robot accounts.
//!
//! Every change takes the [`AuditEvent`] that records it; the backend writes
//! both in one transaction, so no change exists without its audit record and
//! no audit record describes a change that did not happen.

use airlock_audit::AuditEvent;
use airlock_auth::{GlobalRole, Roles, TenantId, TenantRole};
use time::OffsetDateTime;

use crate::StoreError;

/// A tenant: a team's namespace under `unscanned/` and `scanned/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRecord {
    /// Its id.
    pub id: TenantId,
    /// When it was created.
    pub created_at: OffsetDateTime,
}

/// A local user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Login name.
    pub name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// A disabled user cannot log in.
    pub disabled: bool,
    /// Global and per-tenant roles.
    pub roles: Roles,
    /// When the user was created.
    pub created_at: OffsetDateTime,
}

/// A robot account: one tenant, one role, a hashed token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobotRecord {
    /// Account name, `robot$<tenant>+<name>`.
    pub name: String,
    /// Its tenant.
    pub tenant: TenantId,
    /// Its role in that tenant.
    pub role: TenantRole,
    /// The token's public prefix, shown in listings.
    pub prefix: String,
    /// SHA-256 of the whole token.
    pub token_hash: String,
    /// Who created it.
    pub created_by: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it stops working, if ever.
    pub expires_at: Option<OffsetDateTime>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

impl RobotRecord {
    /// Whether the token may still be used at `now`.
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

/// Tenants, users and robots.
///
/// Contract: every mutating method writes its `audit` event in the same
/// transaction; `NotFound` and `Conflict` name the object.
#[async_trait::async_trait]
pub trait IdentityStore: Send + Sync + std::fmt::Debug {
    /// Creates a tenant. `Conflict` if it exists.
    async fn create_tenant(&self, tenant: &TenantId, audit: &AuditEvent) -> Result<(), StoreError>;

    /// Deletes a tenant with its grants and robots. `NotFound` if unknown,
    /// `Conflict` while repositories of the tenant exist.
    async fn delete_tenant(&self, tenant: &TenantId, audit: &AuditEvent) -> Result<(), StoreError>;

    /// All tenants, by id.
    async fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError>;

    /// Whether a tenant exists.
    async fn tenant_exists(&self, tenant: &TenantId) -> Result<bool, StoreError>;

    /// Creates a user. `Conflict` if the name is taken.
    async fn create_user(
        &self,
        name: &str,
        password_hash: &str,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// One user with its roles.
    async fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError>;

    /// All users, by name.
    async fn users(&self) -> Result<Vec<UserRecord>, StoreError>;

    /// Number of users.
    async fn user_count(&self) -> Result<u64, StoreError>;

    /// Disables or re-enables a user. `NotFound` if unknown.
    async fn set_user_disabled(
        &self,
        name: &str,
        disabled: bool,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// Replaces a user's password hash. `NotFound` if unknown.
    async fn set_password(
        &self,
        name: &str,
        password_hash: &str,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// Sets (`Some`) or removes (`None`) a user's role in a tenant.
    /// `NotFound` if the user or tenant is unknown.
    async fn set_tenant_role(
        &self,
        user: &str,
        tenant: &TenantId,
        role: Option<TenantRole>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// Grants or revokes a global role. `NotFound` if the user is unknown.
    async fn set_global_role(
        &self,
        user: &str,
        role: GlobalRole,
        granted: bool,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// Stores a new robot. `Conflict` if the name is taken, `NotFound` if
    /// the tenant is unknown.
    async fn create_robot(&self, robot: &RobotRecord, audit: &AuditEvent)
    -> Result<(), StoreError>;

    /// Robots, of one tenant or all, by name.
    async fn robots(&self, tenant: Option<&TenantId>) -> Result<Vec<RobotRecord>, StoreError>;

    /// The robot whose token has this prefix.
    async fn robot_by_prefix(&self, prefix: &str) -> Result<Option<RobotRecord>, StoreError>;

    /// Revokes a robot. `NotFound` if unknown or already revoked.
    async fn revoke_robot(
        &self,
        name: &str,
        at: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
}
