//! Azure Blob Storage as the object store behind [`S3BlobStore`] and
//! [`S3ReportStore`] (feature `azure`), through object_store's
//! `MicrosoftAzure`. A container plays the part of the bucket.
//!
//! What the stores rely on, and how Azure provides it (object_store 0.14):
//!
//! * create-only writes (`PutMode::Create`): `Put Blob` with
//!   `If-None-Match: *`, evaluated atomically by the service; Azure answers
//!   a taken key with `412`, Azurite with `409` (per object_store), and
//!   object_store reports both as `AlreadyExists`;
//! * `copy_if_not_exists`: `Copy Blob` with `If-None-Match: *`, no builder
//!   option needed. Azurite answers a taken key with `409`
//!   (`AlreadyExists`); a `412` from Azure would come back as
//!   `Precondition`, since object_store maps copy errors by status only, so
//!   the blob store treats both as a lost race. object_store does not
//!   check `x-ms-copy-status`, so this relies on `Copy Blob` within one
//!   storage account completing synchronously, as Azure documents for
//!   same-account copies (unverified here: Azurite always copies at once);
//! * multipart: staged blocks (`Put Block`) committed by `Put Block List`;
//! * delimited listing: native;
//! * presigned reads: service SAS URLs, signed with the account key, or a
//!   user delegation key when the credentials are Entra ID (OAuth) ones.
//!
//! tests/azure.rs runs the shared blob-store suite, racing appends,
//! multipart commits, reports and SAS reads against Azurite 3.35.0 (an
//! account-key client on a path-style endpoint); real Azure and the other
//! credential kinds are untested here.
//!
//! [`S3BlobStore`]: crate::S3BlobStore
//! [`S3ReportStore`]: crate::S3ReportStore

use std::fmt;
use std::time::Duration;

use airlock_store::StoreError;
use object_store::RetryConfig;
use object_store::azure::MicrosoftAzureBuilder;

use crate::Connection;

/// Where and how to reach an Azure Blob Storage container. `Debug` shows
/// whether an access key is set, never the key itself.
#[derive(Clone, PartialEq, Eq)]
pub struct AzureOptions {
    /// The storage account; `None` reads `AZURE_STORAGE_ACCOUNT_NAME`
    /// (with [`AzureOptions::use_emulator`], Azurite's `devstoreaccount1`).
    pub account: Option<String>,
    /// The container, which must exist.
    pub container: String,
    /// Key prefix for everything the stores write (`""` for the container root).
    pub prefix: String,
    /// The account's blob endpoint (`https://<account>.blob.core.windows.net`
    /// when `None`); for Azurite on another port,
    /// `http://127.0.0.1:<port>/devstoreaccount1`.
    pub endpoint: Option<String>,
    /// Talk to the Azurite emulator at `http://127.0.0.1:10000` (or
    /// `AZURITE_BLOB_STORAGE_URL`) with its well-known account and key;
    /// excludes `endpoint`.
    pub use_emulator: bool,
    /// Allows a plain `http://` endpoint.
    pub allow_http: bool,
    /// Lifetime of presigned (SAS) blob URLs; `None` serves blobs through
    /// the registry.
    pub presign_ttl: Option<Duration>,
    /// The account access key; `None` reads `AZURE_STORAGE_ACCOUNT_KEY` and
    /// the rest of the `AZURE_*` environment (service principal, workload
    /// identity, managed identity).
    pub access_key: Option<String>,
    /// How often a failed request is retried (object_store's backoff).
    pub max_retries: usize,
}

impl fmt::Debug for AzureOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureOptions")
            .field("account", &self.account)
            .field("container", &self.container)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("use_emulator", &self.use_emulator)
            .field("allow_http", &self.allow_http)
            .field("presign_ttl", &self.presign_ttl)
            .field(
                "access_key",
                &self.access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

impl AzureOptions {
    /// Options for `container` on Azure, the account and credentials from
    /// the environment, at the container root, https only, no presigning,
    /// three retries.
    pub fn new(container: impl Into<String>) -> AzureOptions {
        AzureOptions {
            account: None,
            container: container.into(),
            prefix: String::new(),
            endpoint: None,
            use_emulator: false,
            allow_http: false,
            presign_ttl: None,
            access_key: None,
            max_retries: 3,
        }
    }

    /// `azure container "<name>" in account "<account>" at <endpoint>`, for
    /// error messages.
    pub fn describe(&self) -> String {
        let account = self
            .account
            .as_deref()
            .map(|a| format!(" in account {a:?}"))
            .unwrap_or_default();
        let endpoint = match (&self.endpoint, self.use_emulator) {
            (_, true) => "the Azurite emulator".to_owned(),
            (Some(endpoint), false) => endpoint.clone(),
            (None, false) => "Azure".to_owned(),
        };
        format!(
            "azure container {:?}{account} at {endpoint}",
            self.container
        )
    }

    /// Builds the object_store client: the `AZURE_*` environment first,
    /// then these options on top.
    pub(crate) fn connect(&self) -> Result<Connection, StoreError> {
        let location = self.describe();
        if self.use_emulator && self.endpoint.is_some() {
            return Err(StoreError::backend(
                format!("configure {location}"),
                "use_emulator and endpoint exclude each other \
                 (set AZURITE_BLOB_STORAGE_URL to move the emulator)",
            ));
        }
        let mut builder = MicrosoftAzureBuilder::from_env()
            .with_container_name(&self.container)
            .with_use_emulator(self.use_emulator)
            .with_allow_http(self.allow_http)
            .with_retry(RetryConfig {
                max_retries: self.max_retries,
                ..RetryConfig::default()
            });
        if let Some(account) = &self.account {
            builder = builder.with_account(account);
        }
        if let Some(endpoint) = &self.endpoint {
            builder = builder.with_endpoint(endpoint.clone());
        }
        if let Some(key) = &self.access_key {
            builder = builder.with_access_key(key);
        }
        Connection::new(builder.build(), &self.prefix, location)
    }
}
