//! Logins and token issue: credentials in, a principal and a short-lived
//! token out, with throttling of failures and an audit record either way.

use std::time::Instant;

use airlock_audit::{Actor, AuditEvent, Outcome, RequestContext};
use airlock_auth::{
    Access, GlobalRole, IssuedToken, Principal, Roles, Scope, generate_password, grant,
    hash_password, hashes_equal, robot_token_hash, robot_token_prefix, verify_dummy,
    verify_password,
};
use time::OffsetDateTime;

use crate::{Accounts, AccountsError};

/// The name of the user created on first start.
pub const BOOTSTRAP_ADMIN: &str = "admin";

/// The IP part of a client address (`1.2.3.4:5678` → `1.2.3.4`).
fn client_ip(request: &RequestContext) -> Option<String> {
    let addr = request.client_addr.as_deref()?;
    Some(match addr.parse::<std::net::SocketAddr>() {
        Ok(socket) => socket.ip().to_string(),
        Err(_) => addr.to_owned(),
    })
}

impl Accounts {
    fn throttle_keys(username: &str, request: &RequestContext) -> Vec<String> {
        let mut keys = vec![format!("user:{username}")];
        if let Some(ip) = client_ip(request) {
            keys.push(format!("addr:{ip}"));
        }
        keys
    }

    async fn audit_login(
        &self,
        actor: Actor,
        username: &str,
        tenant: Option<String>,
        outcome: Outcome,
        reason: Option<&str>,
        request: &RequestContext,
    ) -> Result<(), AccountsError> {
        let mut event = AuditEvent::new(actor, "auth.login", format!("account:{username}"))
            .outcome(outcome)
            .request(request.clone());
        if let Some(tenant) = tenant {
            event = event.tenant(tenant);
        }
        if let Some(reason) = reason {
            event = event.reason(reason);
        }
        self.store.append_audit(&[event]).await?;
        Ok(())
    }

    /// Checks a user's password or a robot's token. Failures are counted
    /// per user name and per client address; past the limit, logins are
    /// refused without checking until the window moves on.
    pub async fn login(
        &self,
        username: &str,
        secret: &str,
        request: &RequestContext,
    ) -> Result<Principal, AccountsError> {
        let keys = Self::throttle_keys(username, request);
        let now = Instant::now();
        for key in &keys {
            if let Err(retry) = self.throttle.check(key, now) {
                self.audit_login(
                    Actor::anonymous(),
                    username,
                    None,
                    Outcome::Failure,
                    Some(&format!("rate limited ({key})")),
                    request,
                )
                .await?;
                return Err(AccountsError::Throttled {
                    retry_after_secs: retry.as_secs().max(1),
                });
            }
        }
        let verdict = if robot_token_prefix(secret).is_some() {
            self.check_robot(username, secret).await?
        } else {
            self.check_user(username, secret).await?
        };
        match verdict {
            Ok(principal) => {
                self.throttle.record_success(&keys[0]);
                let actor = match &principal {
                    Principal::Robot { name, .. } => Actor::robot(name.clone()),
                    _ => Actor::user(username),
                };
                let tenant = match &principal {
                    Principal::Robot { roles, .. } => {
                        roles.tenants.keys().next().map(ToString::to_string)
                    }
                    _ => None,
                };
                self.audit_login(actor, username, tenant, Outcome::Success, None, request)
                    .await?;
                Ok(principal)
            }
            Err(reason) => {
                let now = Instant::now();
                for key in &keys {
                    self.throttle.record_failure(key, now);
                }
                self.audit_login(
                    Actor::anonymous(),
                    username,
                    None,
                    Outcome::Failure,
                    Some(reason),
                    request,
                )
                .await?;
                Err(AccountsError::BadCredentials)
            }
        }
    }

    async fn check_user(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Result<Principal, &'static str>, AccountsError> {
        let user = self.store.user(username).await?;
        let password = password.to_owned();
        let Some(user) = user else {
            tokio::task::spawn_blocking(move || verify_dummy(&password))
                .await
                .map_err(|e| AccountsError::Internal(e.to_string()))?;
            return Ok(Err("unknown user"));
        };
        let hash = user.password_hash.clone();
        let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .map_err(|e| AccountsError::Internal(e.to_string()))?;
        Ok(match (matches, user.disabled) {
            (false, _) => Err("wrong password"),
            (true, true) => Err("user is disabled"),
            (true, false) => Ok(Principal::User {
                name: user.name,
                roles: user.roles,
            }),
        })
    }

    /// A robot's own token presented alone (`Authorization: Bearer
    /// alr_...` on the management API): the robot it belongs to, checked,
    /// throttled and audited like a login with the robot's name.
    pub async fn login_robot_token(
        &self,
        token: &str,
        request: &RequestContext,
    ) -> Result<Principal, AccountsError> {
        let name = match robot_token_prefix(token) {
            Some(prefix) => self.store.robot_by_prefix(prefix).await?.map(|r| r.name),
            None => None,
        };
        self.login(name.as_deref().unwrap_or("(unknown robot)"), token, request)
            .await
    }

    async fn check_robot(
        &self,
        username: &str,
        token: &str,
    ) -> Result<Result<Principal, &'static str>, AccountsError> {
        let Some(prefix) = robot_token_prefix(token) else {
            return Ok(Err("malformed robot token"));
        };
        let Some(robot) = self.store.robot_by_prefix(prefix).await? else {
            return Ok(Err("unknown robot token"));
        };
        if !hashes_equal(&robot_token_hash(token), &robot.token_hash) {
            return Ok(Err("wrong robot token"));
        }
        if robot.name != username {
            return Ok(Err("robot token used with another account name"));
        }
        if robot.revoked_at.is_some() {
            return Ok(Err("robot is revoked"));
        }
        if !robot.is_active(OffsetDateTime::now_utc()) {
            return Ok(Err("robot has expired"));
        }
        let mut roles = Roles::default();
        roles.tenants.insert(robot.tenant, robot.role);
        Ok(Ok(Principal::Robot {
            name: robot.name,
            roles,
        }))
    }

    /// Issues a token for the subset of `scopes` that `principal` holds.
    pub async fn issue_token(
        &self,
        principal: &Principal,
        scopes: &[Scope],
        request: &RequestContext,
    ) -> Result<(IssuedToken, Vec<Access>), AccountsError> {
        let access = grant(principal, scopes);
        let issued = self
            .tokens
            .issue(principal, access.clone(), OffsetDateTime::now_utc())
            .map_err(|e| AccountsError::Internal(e.to_string()))?;
        let actor = match principal {
            Principal::Robot { name, .. } => Actor::robot(name.clone()),
            other => Actor::user(other.name()),
        };
        let requested: Vec<String> = scopes
            .iter()
            .map(|s| format!("{}:{}:{}", s.resource_type, s.name, s.actions.join(",")))
            .collect();
        let event = AuditEvent::new(actor, "auth.token", format!("account:{}", principal.name()))
            .request(request.clone())
            .details(serde_json::json!({ "requested": requested, "granted": access }));
        self.store.append_audit(&[event]).await?;
        Ok((issued, access))
    }

    /// Creates the `admin` user on first start: when no user holds the admin
    /// role and no user is called `admin` (users created with the CLI before
    /// the first start do not prevent it). Uses `password` if given, else
    /// generates one and returns it, to be shown once. Returns `None` when
    /// nothing was generated.
    pub async fn bootstrap_admin(
        &self,
        password: Option<&str>,
    ) -> Result<Option<String>, AccountsError> {
        let users = self.store.users().await?;
        if users
            .iter()
            .any(|u| u.roles.is_admin() || u.name == BOOTSTRAP_ADMIN)
        {
            return Ok(None);
        }
        let (password, generated) = match password {
            Some(p) if !p.is_empty() => (p.to_owned(), false),
            _ => (generate_password(), true),
        };
        let hash = hash_password(&password).map_err(|e| AccountsError::Internal(e.to_string()))?;
        let actor = Actor::system("bootstrap");
        self.store
            .create_user(
                BOOTSTRAP_ADMIN,
                &hash,
                &AuditEvent::new(
                    actor.clone(),
                    "user.create",
                    format!("user:{BOOTSTRAP_ADMIN}"),
                ),
            )
            .await?;
        self.store
            .set_global_role(
                BOOTSTRAP_ADMIN,
                GlobalRole::Admin,
                true,
                &AuditEvent::new(actor, "user.grant", format!("user:{BOOTSTRAP_ADMIN}"))
                    .details(serde_json::json!({ "role": "admin" })),
            )
            .await?;
        Ok(generated.then_some(password))
    }
}
