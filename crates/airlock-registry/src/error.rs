//! Registry errors, each mapped to exactly one OCI error code.

use airlock_oci::{Digest, ErrorCode, RepoName};
use airlock_store::StoreError;

/// Why a registry operation failed. Messages are safe to show to clients,
/// except [`RegistryError::Store`], whose details are logged instead.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The blob is not visible in the repository.
    #[error("blob {0} is unknown to this repository")]
    BlobUnknown(Digest),
    /// The upload session does not exist (or belongs to another repository).
    #[error("upload {0} is unknown")]
    UploadUnknown(String),
    /// A chunk did not start where the upload ends.
    #[error("chunk starts at {start} but the upload has {offset} bytes")]
    UploadOutOfOrder {
        /// The session id.
        id: String,
        /// Bytes received so far.
        offset: u64,
        /// Where the rejected chunk started.
        start: u64,
    },
    /// The upload request is malformed.
    #[error("upload invalid: {0}")]
    UploadInvalid(String),
    /// The content does not match the digest given for it.
    #[error("content has digest {actual}, not {expected}")]
    DigestInvalid {
        /// The digest the client claimed.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// A digest parameter is missing or malformed.
    #[error("invalid digest parameter: {0}")]
    DigestParameter(String),
    /// The requested byte range is outside the blob.
    #[error("range not satisfiable for a blob of {size} bytes")]
    RangeNotSatisfiable {
        /// The blob's size.
        size: u64,
    },
    /// A manifest references something not present in the repository.
    #[error("manifest references {0}, which is unknown to this repository")]
    ManifestBlobUnknown(Digest),
    /// The manifest is malformed or of an unsupported type.
    #[error("{0}")]
    ManifestInvalid(String),
    /// The manifest is larger than the configured limit.
    #[error("manifest is larger than the limit of {limit} bytes")]
    ManifestTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// No manifest under that reference.
    #[error("manifest {0} is unknown")]
    ManifestUnknown(String),
    /// The repository does not exist.
    #[error("repository {0} is unknown")]
    NameUnknown(RepoName),
    /// A size did not match the content.
    #[error("{0}")]
    SizeInvalid(String),
    /// No valid credentials, or a token that does not cover the request;
    /// `scope` is what the client should ask the token endpoint for.
    #[error("{reason}")]
    Unauthenticated {
        /// Why, for the log and the client.
        reason: String,
        /// The scope that would cover the request.
        scope: Option<String>,
    },
    /// The caller may not do this.
    #[error("{0}")]
    Denied(String),
    /// The repository is outside `unscanned/` and `scanned/`.
    #[error("{0}")]
    OutsideZones(String),
    /// The repository's tenant does not exist.
    #[error("tenant {0:?} does not exist")]
    UnknownTenant(String),
    /// The operation is not supported.
    #[error("{0}")]
    Unsupported(String),
    /// Storage failed.
    #[error("storage failed: {0}")]
    Store(#[from] StoreError),
}

impl RegistryError {
    /// The OCI error code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            RegistryError::BlobUnknown(_) => ErrorCode::BlobUnknown,
            RegistryError::UploadUnknown(_) => ErrorCode::BlobUploadUnknown,
            RegistryError::UploadOutOfOrder { .. } => ErrorCode::RangeInvalid,
            RegistryError::UploadInvalid(_) => ErrorCode::BlobUploadInvalid,
            RegistryError::DigestInvalid { .. } | RegistryError::DigestParameter(_) => {
                ErrorCode::DigestInvalid
            }
            RegistryError::RangeNotSatisfiable { .. } => ErrorCode::RangeInvalid,
            RegistryError::ManifestBlobUnknown(_) => ErrorCode::ManifestBlobUnknown,
            RegistryError::ManifestInvalid(_) | RegistryError::ManifestTooLarge { .. } => {
                ErrorCode::ManifestInvalid
            }
            RegistryError::ManifestUnknown(_) => ErrorCode::ManifestUnknown,
            RegistryError::NameUnknown(_) => ErrorCode::NameUnknown,
            RegistryError::SizeInvalid(_) => ErrorCode::SizeInvalid,
            RegistryError::Unauthenticated { .. } => ErrorCode::Unauthorized,
            RegistryError::Denied(_) => ErrorCode::Denied,
            RegistryError::OutsideZones(_) => ErrorCode::NameInvalid,
            RegistryError::UnknownTenant(_) => ErrorCode::NameUnknown,
            RegistryError::Unsupported(_) => ErrorCode::Unsupported,
            RegistryError::Store(StoreError::NotFound(_)) => ErrorCode::BlobUnknown,
            RegistryError::Store(_) => ErrorCode::Internal,
        }
    }
}
