//! Google Cloud Storage as the object store behind [`S3BlobStore`] and
//! [`S3ReportStore`] (feature `gcp`), through object_store's
//! `GoogleCloudStorage`.
//!
//! What the stores rely on, and how GCS provides it (object_store 0.14):
//!
//! * create-only writes (`PutMode::Create`): the JSON/XML upload carries
//!   `x-goog-if-generation-match: 0`, which GCS evaluates atomically; a
//!   `412` becomes `AlreadyExists`;
//! * `copy_if_not_exists`: a rewrite with the same header, so no builder
//!   option is needed (unlike S3's `copy_if_not_exists = multipart`);
//! * multipart: GCS's XML multipart upload API (S3-compatible parts);
//! * delimited listing: native;
//! * presigned reads: V4 signed URLs, signed with the service account's
//!   private key, or through the IAM `signBlob` API when the credentials
//!   come from instance metadata.
//!
//! This backend is compiled and checked against a refusing endpoint, but
//! no GCS server (real or emulated) is available here: it is **untested**.
//!
//! [`S3BlobStore`]: crate::S3BlobStore
//! [`S3ReportStore`]: crate::S3ReportStore

use std::path::PathBuf;
use std::time::Duration;

use airlock_store::StoreError;
use object_store::RetryConfig;
use object_store::gcp::GoogleCloudStorageBuilder;

use crate::Connection;

/// Where and how to reach a GCS bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcsOptions {
    /// The bucket, which must exist.
    pub bucket: String,
    /// Key prefix for everything the stores write (`""` for the bucket root).
    pub prefix: String,
    /// A service-account key file (JSON). `None` reads the environment:
    /// `GOOGLE_SERVICE_ACCOUNT` (a key file path), `GOOGLE_SERVICE_ACCOUNT_KEY`
    /// (the key itself), `GOOGLE_APPLICATION_CREDENTIALS` or gcloud's
    /// application default credentials, else the instance metadata server.
    pub service_account_key: Option<PathBuf>,
    /// Lifetime of presigned blob URLs (at most 7 days on GCS); `None`
    /// serves blobs through the registry.
    pub presign_ttl: Option<Duration>,
    /// How often a failed request is retried (object_store's backoff).
    pub max_retries: usize,
}

impl GcsOptions {
    /// Options for `bucket` at the bucket root, credentials from the
    /// environment, no presigning, three retries.
    pub fn new(bucket: impl Into<String>) -> GcsOptions {
        GcsOptions {
            bucket: bucket.into(),
            prefix: String::new(),
            service_account_key: None,
            presign_ttl: None,
            max_retries: 3,
        }
    }

    /// `gcs bucket "<name>"`, for error messages.
    pub fn describe(&self) -> String {
        format!("gcs bucket {:?}", self.bucket)
    }

    /// Builds the object_store client: the `GOOGLE_*` environment first,
    /// then these options on top.
    pub(crate) fn connect(&self) -> Result<Connection, StoreError> {
        let mut builder = GoogleCloudStorageBuilder::from_env()
            .with_bucket_name(&self.bucket)
            .with_retry(RetryConfig {
                max_retries: self.max_retries,
                ..RetryConfig::default()
            });
        if let Some(key) = &self.service_account_key {
            builder = builder.with_service_account_path(key.to_string_lossy());
        }
        Connection::new(builder.build(), &self.prefix, self.describe())
    }
}
