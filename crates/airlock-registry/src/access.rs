//! The one place where `/v2/` requests are allowed or refused.
//!
//! Every registry route — manifests, blobs, uploads, mounts, referrers, tag
//! lists and the catalog — names what it needs ([`Need`]) and calls
//! [`decide`] through [`crate::Registry::authorize`] before it touches
//! storage. The zone rules themselves are the table in
//! [`airlock_auth::repo_allows`]; this module adds what a request brings:
//!
//! 1. no valid credentials → `UNAUTHORIZED` (401, with a challenge);
//! 2. a repository outside `unscanned/<t>/` and `scanned/<t>/` → `NAME_INVALID`;
//! 3. the caller does not hold the right → `DENIED` (403);
//! 4. the caller holds it but the token was not issued for it → 401 with the
//!    scope to ask for, as the token spec says;
//! 5. the tenant does not exist → `NAME_UNKNOWN` (checked by the service).

use airlock_audit::{Actor, RequestContext};
use airlock_auth::{
    Access, Principal, RepoAction, ZonedRepo, access_covers, access_covers_catalog, repo_allows,
};
use airlock_oci::RepoName;

use crate::RegistryError;

/// Who is calling, as the HTTP layer established it.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The authenticated principal; `None` without valid credentials.
    pub principal: Option<Principal>,
    /// What the caller's token grants.
    pub access: Vec<Access>,
    /// Request id, client address and user agent, for the audit log.
    pub request: RequestContext,
    /// Why credentials were refused, if they were presented and refused.
    pub rejected: Option<String>,
}

impl Caller {
    /// A caller acting with full token access in-process (the promoter,
    /// tests of the service itself).
    pub fn system(principal: Principal) -> Caller {
        Caller {
            principal: Some(principal),
            ..Caller::default()
        }
    }

    /// The audit log's actor for this caller.
    pub fn actor(&self) -> Actor {
        match &self.principal {
            None => Actor::anonymous(),
            Some(Principal::User { name, .. }) => Actor::user(name.clone()),
            Some(Principal::Robot { name, .. }) => Actor::robot(name.clone()),
            Some(Principal::System(s)) => Actor::system(s.as_str()),
        }
    }
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Read content: manifests, blobs, tags, referrers.
    Pull,
    /// Write: uploads and manifests.
    Push,
    /// Delete manifests, tags or blobs.
    Delete,
    /// Ask whether a blob exists before uploading it (`HEAD` on a blob):
    /// allowed with pull or push, so push-only developers can push.
    BlobExists,
    /// List repositories (filtered to what the caller may pull).
    Catalog,
}

impl Need {
    fn actions(self) -> &'static [RepoAction] {
        match self {
            Need::Pull => &[RepoAction::Pull],
            Need::Push => &[RepoAction::Push],
            Need::Delete => &[RepoAction::Delete],
            Need::BlobExists => &[RepoAction::Pull, RepoAction::Push],
            Need::Catalog => &[],
        }
    }

    fn scope_actions(self) -> &'static str {
        match self {
            Need::Pull | Need::BlobExists => "pull",
            Need::Push => "pull,push",
            Need::Delete => "delete",
            Need::Catalog => "*",
        }
    }
}

/// The scope a client should request for `need` on `repository`.
fn scope_for(need: Need, repository: Option<&RepoName>) -> Option<String> {
    match (need, repository) {
        (Need::Catalog, _) => Some("registry:catalog:*".into()),
        (_, Some(name)) => Some(format!("repository:{name}:{}", need.scope_actions())),
        (_, None) => None,
    }
}

/// Decides a request without touching storage. On success returns the
/// repository's zone and tenant (none for the catalog and `/v2/`).
pub fn decide(
    caller: &Caller,
    need: Need,
    repository: Option<&RepoName>,
) -> Result<Option<ZonedRepo>, RegistryError> {
    let Some(principal) = &caller.principal else {
        return Err(RegistryError::Unauthenticated {
            reason: caller
                .rejected
                .clone()
                .unwrap_or_else(|| "authentication required".into()),
            scope: scope_for(need, repository),
        });
    };
    let Some(repository) = repository else {
        if need == Need::Catalog && !access_covers_catalog(&caller.access) && !is_system(principal)
        {
            return Err(RegistryError::Unauthenticated {
                reason: "the token does not cover the catalog".into(),
                scope: scope_for(need, None),
            });
        }
        return Ok(None);
    };
    let zoned = ZonedRepo::parse(repository.as_str())
        .map_err(|e| RegistryError::OutsideZones(e.to_string()))?;
    let actions = need.actions();
    let held: Vec<RepoAction> = actions
        .iter()
        .copied()
        .filter(|a| repo_allows(principal, *a, &zoned))
        .collect();
    if held.is_empty() {
        return Err(RegistryError::Denied(format!(
            "{} {:?} may not {} {repository}",
            principal.kind().as_str(),
            principal.name(),
            describe(need),
        )));
    }
    let covered = is_system(principal)
        || held
            .iter()
            .any(|a| access_covers(&caller.access, repository.as_str(), *a));
    if !covered {
        return Err(RegistryError::Unauthenticated {
            reason: format!(
                "the token does not grant {} on {repository}",
                describe(need)
            ),
            scope: scope_for(need, Some(repository)),
        });
    }
    Ok(Some(zoned))
}

/// Whether the caller may pull from `repository` (for cross-repository
/// mounts, whose source is checked like a pull).
pub fn may_pull(caller: &Caller, repository: &RepoName) -> bool {
    decide(caller, Need::Pull, Some(repository)).is_ok()
}

fn is_system(principal: &Principal) -> bool {
    matches!(principal, Principal::System(_))
}

fn describe(need: Need) -> &'static str {
    match need {
        Need::Pull => "pull from",
        Need::Push => "push to",
        Need::Delete => "delete from",
        Need::BlobExists => "check blobs in",
        Need::Catalog => "list",
    }
}
