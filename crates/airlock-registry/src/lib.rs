//! Registry use cases: what pushing, pulling and deleting mean.
//!
//! [`Registry`] implements the OCI distribution semantics on top of the two
//! storage ports, and nothing else: no HTTP types appear here. The HTTP crate
//! parses a request, calls one method, and maps the result.
//!
//! Invariants this crate keeps:
//! * A blob becomes visible only after its digest was verified while its
//!   bytes streamed through, and after the blob store moved it into place.
//! * Manifests are stored byte for byte; everything they reference must be
//!   visible in the same repository first.
//! * Every `/v2/` request is allowed or refused in one place,
//!   [`Registry::authorize`] over [`access::decide`], which applies the zone
//!   rules of [`airlock_auth::repo_allows`].
//! * Pushes, pulls and deletes of manifests are audited; a change and its
//!   audit record are one transaction.

pub mod access;
mod error;
mod gc;
mod pull_audit;
mod service;
mod upload;

pub use access::{Caller, Need};
pub use error::RegistryError;
pub use gc::{GcOptions, GcReport};
pub use service::{ManifestPut, PushObserver, PushedManifest, Registry, RegistryConfig};
pub use upload::UploadState;
