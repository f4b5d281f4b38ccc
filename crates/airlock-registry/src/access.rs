//! The one place where a request's identity and permission are decided.
//!
//! There is no authentication yet: every caller is [`Identity::Anonymous`]
//! and may do everything. Tenants, roles and the unscanned/scanned zone rules
//! plug in here, so every route is covered the day they arrive.

use airlock_oci::RepoName;

use crate::RegistryError;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// No credentials were presented.
    Anonymous,
}

/// What the caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read manifests, blobs, tags or referrers of a repository.
    Pull,
    /// Upload blobs or manifests to a repository.
    Push,
    /// Delete manifests, tags or blobs from a repository.
    Delete,
    /// List repositories.
    Catalog,
}

/// Decides whether `identity` may perform `action` on `repository`.
pub fn authorize(
    identity: &Identity,
    action: Action,
    repository: Option<&RepoName>,
) -> Result<(), RegistryError> {
    match identity {
        Identity::Anonymous => {
            let _ = (action, repository);
            Ok(())
        }
    }
}
