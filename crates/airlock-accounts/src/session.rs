//! Dashboard sessions: a user who logged in with a password gets a token
//! from the same [`TokenService`](airlock_auth::TokenService) as registry
//! clients, with no registry access and a working day's lifetime, which the
//! HTTP layer keeps in an `HttpOnly` cookie.
//!
//! The token is stateless, so the user behind it is read again on every
//! request: a user who was disabled or deleted loses the session at once,
//! and roles are the ones held now, not the ones held at login. Robots have
//! tokens for machines and never get a session.

use std::time::Duration;

use airlock_audit::{Actor, AuditEvent, RequestContext};
use airlock_auth::{IssuedToken, Principal, PrincipalKind};
use time::OffsetDateTime;

use crate::{Accounts, AccountsError};

/// How long a dashboard session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);

impl Accounts {
    /// Starts a dashboard session for a user who just logged in (see
    /// [`Accounts::login`]): a token without registry access, valid for
    /// [`SESSION_TTL`]. Audited as `auth.session`.
    pub async fn start_session(
        &self,
        principal: &Principal,
        request: &RequestContext,
    ) -> Result<IssuedToken, AccountsError> {
        let Principal::User { name, .. } = principal else {
            return Err(AccountsError::Forbidden(
                "only users sign in to the dashboard; robots use the registry and the API".into(),
            ));
        };
        let issued = self
            .tokens
            .issue_for(
                principal,
                Vec::new(),
                OffsetDateTime::now_utc(),
                SESSION_TTL,
            )
            .map_err(|e| AccountsError::Internal(e.to_string()))?;
        let event = AuditEvent::new(
            Actor::user(name.clone()),
            "auth.session",
            format!("account:{name}"),
        )
        .request(request.clone())
        .details(serde_json::json!({ "expires_in": issued.expires_in }));
        self.store.append_audit(&[event]).await?;
        Ok(issued)
    }

    /// The user behind a session token, with the roles held now. A token
    /// that does not verify, or whose user is gone or disabled, is refused
    /// as [`AccountsError::BadCredentials`].
    pub async fn session_principal(&self, token: &str) -> Result<Principal, AccountsError> {
        let claims = self
            .tokens
            .verify(token, OffsetDateTime::now_utc())
            .map_err(|_| AccountsError::BadCredentials)?;
        if claims.airlock.kind != PrincipalKind::User {
            return Err(AccountsError::BadCredentials);
        }
        match self.store.user(&claims.sub).await? {
            Some(user) if !user.disabled => Ok(Principal::User {
                name: user.name,
                roles: user.roles,
            }),
            _ => Err(AccountsError::BadCredentials),
        }
    }
}
