//! Management of tenants, users, grants and robots: each operation is
//! authorized for its operator, then done with its audit record in one
//! transaction.

use std::collections::BTreeMap;
use std::time::Duration;

use airlock_audit::AuditRecord;
use airlock_audit::{AuditEvent, Outcome, RequestContext};
use airlock_auth::{
    GlobalRole, ManageAction, TenantId, TenantRole, hash_password, manage_allows, new_robot_secret,
    robot_account_name, tenant_visible,
};
use airlock_store::{AuditFilter, RobotRecord, TenantRecord, UserRecord};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::{Accounts, AccountsError, Operator};

/// Shortest password accepted.
const MIN_PASSWORD_LEN: usize = 8;

/// A tenant as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
#[schema(as = Tenant)]
pub struct TenantView {
    /// Its id.
    pub id: String,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A user as the API shows it (never the password hash).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
#[schema(as = User)]
pub struct UserView {
    /// Login name.
    pub name: String,
    /// Whether logins are refused.
    pub disabled: bool,
    /// Global roles: `auditor`, `admin`.
    #[schema(value_type = Vec<String>, example = json!(["auditor"]))]
    pub global_roles: Vec<GlobalRole>,
    /// Role per tenant: `developer`, `reader` or `security`.
    #[schema(value_type = BTreeMap<String, String>, example = json!({"acme": "developer"}))]
    pub tenants: BTreeMap<String, TenantRole>,
    /// When the user was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A robot as the API shows it: only the token's prefix.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
#[schema(as = Robot)]
pub struct RobotView {
    /// Account name, `robot$<tenant>+<name>`.
    #[schema(example = "robot$acme+ci")]
    pub name: String,
    /// Its tenant.
    pub tenant: String,
    /// Its role: `developer` or `reader`.
    #[schema(value_type = String, example = "developer")]
    pub role: TenantRole,
    /// The token's public prefix.
    pub prefix: String,
    /// Who created it.
    pub created_by: String,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it expires, if ever.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// When it was revoked, if it was.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// Whether its token works now.
    pub active: bool,
}

/// A robot just created, with the token shown this once.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
#[schema(as = RobotCreated)]
pub struct NewRobot {
    /// The robot.
    #[serde(flatten)]
    pub robot: RobotView,
    /// The whole token. It is stored hashed and cannot be shown again.
    pub token: String,
}

impl From<TenantRecord> for TenantView {
    fn from(t: TenantRecord) -> TenantView {
        TenantView {
            id: t.id.to_string(),
            created_at: t.created_at,
        }
    }
}

impl From<UserRecord> for UserView {
    fn from(u: UserRecord) -> UserView {
        UserView {
            name: u.name,
            disabled: u.disabled,
            global_roles: u.roles.global.iter().copied().collect(),
            tenants: u
                .roles
                .tenants
                .iter()
                .map(|(t, r)| (t.to_string(), *r))
                .collect(),
            created_at: u.created_at,
        }
    }
}

impl From<RobotRecord> for RobotView {
    fn from(r: RobotRecord) -> RobotView {
        let active = r.is_active(OffsetDateTime::now_utc());
        RobotView {
            name: r.name,
            tenant: r.tenant.to_string(),
            role: r.role,
            prefix: r.prefix,
            created_by: r.created_by,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            active,
        }
    }
}

pub(crate) fn parse_tenant(id: &str) -> Result<TenantId, AccountsError> {
    id.parse()
        .map_err(|e: airlock_auth::AuthError| AccountsError::Invalid(e.to_string()))
}

fn check_user_name(name: &str) -> Result<(), AccountsError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if valid {
        Ok(())
    } else {
        Err(AccountsError::Invalid(format!(
            "invalid user name {name:?}: use 1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit"
        )))
    }
}

fn check_password(password: &str) -> Result<String, AccountsError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AccountsError::Invalid(format!(
            "password too short: at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    hash_password(password).map_err(|e| AccountsError::Internal(e.to_string()))
}

impl Accounts {
    /// Refuses (and audits the refusal) unless `operator` may do `action`.
    pub(crate) async fn allow(
        &self,
        operator: &Operator,
        action: ManageAction,
        target: &str,
        request: &RequestContext,
    ) -> Result<(), AccountsError> {
        let Operator::Principal(principal) = operator else {
            return Ok(());
        };
        if manage_allows(principal, &action) {
            return Ok(());
        }
        let reason = format!(
            "{} {:?} may not {}",
            principal.kind().as_str(),
            principal.name(),
            describe(&action)
        );
        let event = AuditEvent::new(operator.actor(), "access.denied", target)
            .outcome(Outcome::Denied)
            .reason(reason.clone())
            .request(request.clone());
        self.store.append_audit(&[event]).await?;
        Err(AccountsError::Forbidden(reason))
    }

    pub(crate) fn event(
        operator: &Operator,
        action: &str,
        target: String,
        request: &RequestContext,
    ) -> AuditEvent {
        AuditEvent::new(operator.actor(), action, target).request(request.clone())
    }

    // ----- tenants -----

    /// Creates a tenant.
    pub async fn create_tenant(
        &self,
        operator: &Operator,
        request: &RequestContext,
        id: &str,
    ) -> Result<TenantView, AccountsError> {
        let target = format!("tenant:{id}");
        self.allow(operator, ManageAction::ManageTenants, &target, request)
            .await?;
        let tenant = parse_tenant(id)?;
        let event = Self::event(operator, "tenant.create", target, request).tenant(id);
        self.store.create_tenant(&tenant, &event).await?;
        Ok(TenantView {
            id: tenant.to_string(),
            created_at: OffsetDateTime::now_utc(),
        })
    }

    /// Deletes a tenant that has no images left, with its grants and robots.
    pub async fn delete_tenant(
        &self,
        operator: &Operator,
        request: &RequestContext,
        id: &str,
    ) -> Result<(), AccountsError> {
        let target = format!("tenant:{id}");
        self.allow(operator, ManageAction::ManageTenants, &target, request)
            .await?;
        let tenant = parse_tenant(id)?;
        let event = Self::event(operator, "tenant.delete", target, request).tenant(id);
        Ok(self.store.delete_tenant(&tenant, &event).await?)
    }

    /// The tenants the operator can see.
    pub async fn tenants(&self, operator: &Operator) -> Result<Vec<TenantView>, AccountsError> {
        let all = self.store.tenants().await?;
        Ok(all
            .into_iter()
            .filter(|t| match operator {
                Operator::Local(_) => true,
                Operator::Principal(p) => tenant_visible(p, &t.id),
            })
            .map(TenantView::from)
            .collect())
    }

    /// Whether a tenant exists.
    pub async fn tenant_exists(&self, id: &TenantId) -> Result<bool, AccountsError> {
        Ok(self.store.tenant_exists(id).await?)
    }

    // ----- users -----

    /// Creates a user with a password.
    pub async fn create_user(
        &self,
        operator: &Operator,
        request: &RequestContext,
        name: &str,
        password: &str,
    ) -> Result<UserView, AccountsError> {
        let target = format!("user:{name}");
        self.allow(operator, ManageAction::ManageUsers, &target, request)
            .await?;
        check_user_name(name)?;
        let hash = check_password(password)?;
        let event = Self::event(operator, "user.create", target, request);
        self.store.create_user(name, &hash, &event).await?;
        self.user(name).await
    }

    async fn user(&self, name: &str) -> Result<UserView, AccountsError> {
        self.store
            .user(name)
            .await?
            .map(UserView::from)
            .ok_or_else(|| AccountsError::NotFound(format!("user {name}")))
    }

    /// All users.
    pub async fn users(&self, operator: &Operator) -> Result<Vec<UserView>, AccountsError> {
        self.allow(
            operator,
            ManageAction::ListUsers,
            "users",
            &RequestContext::default(),
        )
        .await?;
        Ok(self
            .store
            .users()
            .await?
            .into_iter()
            .map(UserView::from)
            .collect())
    }

    /// Disables (or re-enables) a user's logins.
    pub async fn set_user_disabled(
        &self,
        operator: &Operator,
        request: &RequestContext,
        name: &str,
        disabled: bool,
    ) -> Result<UserView, AccountsError> {
        let target = format!("user:{name}");
        self.allow(operator, ManageAction::ManageUsers, &target, request)
            .await?;
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        let event = Self::event(operator, action, target, request);
        self.store.set_user_disabled(name, disabled, &event).await?;
        self.user(name).await
    }

    /// Sets a user's password (their own, or anyone's for an admin).
    pub async fn change_password(
        &self,
        operator: &Operator,
        request: &RequestContext,
        name: &str,
        password: &str,
    ) -> Result<(), AccountsError> {
        let target = format!("user:{name}");
        self.allow(
            operator,
            ManageAction::ChangeOwnPassword(name.to_owned()),
            &target,
            request,
        )
        .await?;
        let hash = check_password(password)?;
        let event = Self::event(operator, "user.password", target, request);
        Ok(self.store.set_password(name, &hash, &event).await?)
    }

    /// Gives a user a role in a tenant (replacing the one it had there), or
    /// takes it away with `role: None`.
    pub async fn set_tenant_role(
        &self,
        operator: &Operator,
        request: &RequestContext,
        name: &str,
        tenant: &str,
        role: Option<TenantRole>,
    ) -> Result<UserView, AccountsError> {
        let target = format!("user:{name}");
        self.allow(operator, ManageAction::ManageUsers, &target, request)
            .await?;
        let tenant_id = parse_tenant(tenant)?;
        let action = if role.is_some() {
            "user.grant"
        } else {
            "user.revoke"
        };
        let event = Self::event(operator, action, target, request)
            .tenant(tenant)
            .details(serde_json::json!({ "tenant": tenant, "role": role }));
        self.store
            .set_tenant_role(name, &tenant_id, role, &event)
            .await?;
        self.user(name).await
    }

    /// Grants or revokes a global role.
    pub async fn set_global_role(
        &self,
        operator: &Operator,
        request: &RequestContext,
        name: &str,
        role: GlobalRole,
        granted: bool,
    ) -> Result<UserView, AccountsError> {
        let target = format!("user:{name}");
        self.allow(operator, ManageAction::ManageUsers, &target, request)
            .await?;
        let action = if granted { "user.grant" } else { "user.revoke" };
        let event = Self::event(operator, action, target, request)
            .details(serde_json::json!({ "role": role }));
        self.store
            .set_global_role(name, role, granted, &event)
            .await?;
        self.user(name).await
    }

    // ----- robots -----

    /// Creates a robot in a tenant; the token is in the result, once.
    pub async fn create_robot(
        &self,
        operator: &Operator,
        request: &RequestContext,
        tenant: &str,
        name: &str,
        role: TenantRole,
        expires_in: Option<Duration>,
    ) -> Result<NewRobot, AccountsError> {
        let tenant_id = parse_tenant(tenant)?;
        let account = robot_account_name(&tenant_id, name)
            .map_err(|e| AccountsError::Invalid(e.to_string()))?;
        let target = format!("robot:{account}");
        self.allow(
            operator,
            ManageAction::ManageRobots(tenant_id.clone()),
            &target,
            request,
        )
        .await?;
        if role == TenantRole::Security {
            return Err(AccountsError::Invalid(
                "robots are developers or readers; security is for people".into(),
            ));
        }
        let now = OffsetDateTime::now_utc();
        let expires_at = expires_in
            .map(|d| {
                time::Duration::try_from(d)
                    .map(|d| now + d)
                    .map_err(|e| AccountsError::Invalid(format!("invalid expiry: {e}")))
            })
            .transpose()?;
        let secret = new_robot_secret();
        let record = RobotRecord {
            name: account,
            tenant: tenant_id,
            role,
            prefix: secret.prefix.clone(),
            token_hash: secret.hash.clone(),
            created_by: operator.actor().name,
            created_at: now,
            expires_at,
            revoked_at: None,
        };
        let event = Self::event(operator, "robot.create", target, request)
            .tenant(tenant)
            .details(serde_json::json!({
                "role": role,
                "prefix": secret.prefix,
                "expires_at": expires_at.map(|t| t.unix_timestamp()),
            }));
        self.store.create_robot(&record, &event).await?;
        Ok(NewRobot {
            robot: RobotView::from(record),
            token: secret.token,
        })
    }

    /// Robots of a tenant.
    pub async fn robots(
        &self,
        operator: &Operator,
        tenant: &str,
    ) -> Result<Vec<RobotView>, AccountsError> {
        let tenant_id = parse_tenant(tenant)?;
        self.allow(
            operator,
            ManageAction::ListRobots(tenant_id.clone()),
            &format!("tenant:{tenant}"),
            &RequestContext::default(),
        )
        .await?;
        Ok(self
            .store
            .robots(Some(&tenant_id))
            .await?
            .into_iter()
            .map(RobotView::from)
            .collect())
    }

    /// Revokes a robot; `name` is its short name or its account name.
    pub async fn revoke_robot(
        &self,
        operator: &Operator,
        request: &RequestContext,
        tenant: &str,
        name: &str,
    ) -> Result<(), AccountsError> {
        let tenant_id = parse_tenant(tenant)?;
        let account = if name.starts_with("robot$") {
            name.to_owned()
        } else {
            robot_account_name(&tenant_id, name)
                .map_err(|e| AccountsError::Invalid(e.to_string()))?
        };
        let target = format!("robot:{account}");
        self.allow(
            operator,
            ManageAction::ManageRobots(tenant_id.clone()),
            &target,
            request,
        )
        .await?;
        let belongs = self
            .store
            .robots(Some(&tenant_id))
            .await?
            .iter()
            .any(|r| r.name == account);
        if !belongs {
            return Err(AccountsError::NotFound(format!("robot {account}")));
        }
        let event = Self::event(operator, "robot.revoke", target, request).tenant(tenant);
        Ok(self
            .store
            .revoke_robot(&account, OffsetDateTime::now_utc(), &event)
            .await?)
    }
}

impl Accounts {
    /// A page of audit records (auditors and admins): those matching
    /// `filter` after `after`, at most `limit`.
    pub async fn audit_records(
        &self,
        operator: &Operator,
        request: &RequestContext,
        filter: &AuditFilter,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, AccountsError> {
        self.allow(operator, ManageAction::ReadAudit, "audit", request)
            .await?;
        Ok(self.store.audit_records(filter, after, limit).await?)
    }
}

fn describe(action: &ManageAction) -> String {
    match action {
        ManageAction::ManageTenants => "manage tenants".into(),
        ManageAction::ListTenants => "list tenants".into(),
        ManageAction::ManageUsers => "manage users".into(),
        ManageAction::ListUsers => "list users".into(),
        ManageAction::ChangeOwnPassword(user) => format!("change the password of {user}"),
        ManageAction::ManageRobots(t) => format!("manage robots of tenant {t}"),
        ManageAction::ListRobots(t) => format!("list robots of tenant {t}"),
        ManageAction::ReadAudit => "read the audit log".into(),
        ManageAction::ReadPolicy(None) => "read the global policy".into(),
        ManageAction::ReadPolicy(Some(t)) => format!("read the policy of tenant {t}"),
        ManageAction::SetPolicy(None) => "set the global policy".into(),
        ManageAction::SetPolicy(Some(t)) => format!("set the policy of tenant {t}"),
        ManageAction::ReadGate(t) => format!("read the images and exceptions of tenant {t}"),
        ManageAction::RequestException(t) => format!("request exceptions in tenant {t}"),
        ManageAction::ApproveException(t) => {
            format!("approve or revoke exceptions of tenant {t}")
        }
        ManageAction::ReadReports(t) => format!("read the scan reports of tenant {t}"),
        ManageAction::ManageWebhooks(None) => "manage global webhooks".into(),
        ManageAction::ManageWebhooks(Some(t)) => format!("manage the webhooks of tenant {t}"),
    }
}
