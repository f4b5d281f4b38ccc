//! OCI vocabulary shared by every other airlock crate.
//!
//! The types here follow "parse, don't validate": a [`Digest`], [`RepoName`]
//! or [`Tag`] cannot hold an invalid value, so code further in never checks
//! again. The `/v2/` path grammar, where repository names contain slashes,
//! lives in one pure function, [`OciRoute::parse`], tested exhaustively. The
//! OCI error codes with their HTTP statuses are declared once, in
//! [`ErrorCode`]. Nothing here does I/O.

mod digest;
mod error_code;
pub mod manifest;
mod name;
mod route;

pub use digest::{Algorithm, Digest, DigestError, Hasher};
pub use error_code::ErrorCode;
pub use manifest::{Descriptor, ManifestError, ManifestKind, ParsedManifest};
pub use name::{NameError, Reference, RepoName, Tag};
pub use route::{OciRoute, RouteError};

/// Media types airlock knows by name.
pub mod media_type {
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// OCI image config.
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// The OCI empty descriptor's media type (`{}`).
    pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
    /// Docker schema 2 manifest.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker schema 2 manifest list.
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    /// Docker image config.
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
}
