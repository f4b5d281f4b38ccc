//! The OCI distribution error codes, declared once with their HTTP statuses.

/// An error code from the OCI distribution spec, plus airlock's internal error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Blob unknown to registry.
    BlobUnknown,
    /// Blob upload invalid.
    BlobUploadInvalid,
    /// Blob upload unknown to registry.
    BlobUploadUnknown,
    /// Provided digest did not match uploaded content.
    DigestInvalid,
    /// Manifest references a manifest or blob unknown to registry.
    ManifestBlobUnknown,
    /// Manifest invalid.
    ManifestInvalid,
    /// Manifest unknown to registry.
    ManifestUnknown,
    /// Invalid repository name.
    NameInvalid,
    /// Repository name not known to registry.
    NameUnknown,
    /// Provided length did not match content length.
    SizeInvalid,
    /// Authentication required.
    Unauthorized,
    /// Requested access to the resource is denied.
    Denied,
    /// The operation is unsupported.
    Unsupported,
    /// Too many requests.
    TooManyRequests,
    /// Requested range not satisfiable (upload chunk out of order, bad blob range).
    RangeInvalid,
    /// Something failed inside airlock; details go to the log only.
    Internal,
}

impl ErrorCode {
    /// Every code, for exhaustive tests.
    pub const ALL: [ErrorCode; 16] = [
        ErrorCode::BlobUnknown,
        ErrorCode::BlobUploadInvalid,
        ErrorCode::BlobUploadUnknown,
        ErrorCode::DigestInvalid,
        ErrorCode::ManifestBlobUnknown,
        ErrorCode::ManifestInvalid,
        ErrorCode::ManifestUnknown,
        ErrorCode::NameInvalid,
        ErrorCode::NameUnknown,
        ErrorCode::SizeInvalid,
        ErrorCode::Unauthorized,
        ErrorCode::Denied,
        ErrorCode::Unsupported,
        ErrorCode::TooManyRequests,
        ErrorCode::RangeInvalid,
        ErrorCode::Internal,
    ];

    /// The code string in the error envelope.
    pub fn as_str(self) -> &'static str {
        self.descriptor().0
    }

    /// The HTTP status this code is returned with.
    pub fn status(self) -> u16 {
        self.descriptor().1
    }

    /// The spec's message for this code.
    pub fn message(self) -> &'static str {
        self.descriptor().2
    }

    fn descriptor(self) -> (&'static str, u16, &'static str) {
        match self {
            ErrorCode::BlobUnknown => ("BLOB_UNKNOWN", 404, "blob unknown to registry"),
            ErrorCode::BlobUploadInvalid => ("BLOB_UPLOAD_INVALID", 400, "blob upload invalid"),
            ErrorCode::BlobUploadUnknown => (
                "BLOB_UPLOAD_UNKNOWN",
                404,
                "blob upload unknown to registry",
            ),
            ErrorCode::DigestInvalid => (
                "DIGEST_INVALID",
                400,
                "provided digest did not match uploaded content",
            ),
            ErrorCode::ManifestBlobUnknown => (
                "MANIFEST_BLOB_UNKNOWN",
                400,
                "manifest references a manifest or blob unknown to registry",
            ),
            ErrorCode::ManifestInvalid => ("MANIFEST_INVALID", 400, "manifest invalid"),
            ErrorCode::ManifestUnknown => ("MANIFEST_UNKNOWN", 404, "manifest unknown to registry"),
            ErrorCode::NameInvalid => ("NAME_INVALID", 400, "invalid repository name"),
            ErrorCode::NameUnknown => {
                ("NAME_UNKNOWN", 404, "repository name not known to registry")
            }
            ErrorCode::SizeInvalid => (
                "SIZE_INVALID",
                400,
                "provided length did not match content length",
            ),
            ErrorCode::Unauthorized => ("UNAUTHORIZED", 401, "authentication required"),
            ErrorCode::Denied => ("DENIED", 403, "requested access to the resource is denied"),
            ErrorCode::Unsupported => ("UNSUPPORTED", 405, "the operation is unsupported"),
            ErrorCode::TooManyRequests => ("TOOMANYREQUESTS", 429, "too many requests"),
            ErrorCode::RangeInvalid => (
                "BLOB_UPLOAD_INVALID",
                416,
                "requested range not satisfiable",
            ),
            ErrorCode::Internal => ("INTERNAL_ERROR", 500, "internal server error"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_status_and_an_uppercase_code() {
        for code in ErrorCode::ALL {
            assert!((400..600).contains(&code.status()), "{code:?}");
            assert!(
                code.as_str()
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c == '_')
            );
            assert!(!code.message().is_empty());
        }
    }
}
