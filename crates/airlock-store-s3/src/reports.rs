//! Scan reports in the bucket: the [`ReportStore`] contract of the
//! embedded `FsReportStore`, with each report key stored under
//! `<prefix>/<key>` (keys start with `reports/`). A single `PUT` is atomic in
//! S3: a reader sees the whole report or nothing.

use std::fmt;
use std::sync::Arc;

use airlock_store::{ReportStore, StoreError};
use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::{Connection, S3Options, child, probe};

/// Report files in an S3 bucket.
#[derive(Clone)]
pub struct S3ReportStore {
    client: Arc<dyn ObjectStore>,
    prefix: Option<Path>,
    location: String,
}

impl fmt::Debug for S3ReportStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3ReportStore")
            .field("location", &self.location)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl S3ReportStore {
    /// Connects to the bucket and checks it answers; the error names the
    /// bucket and endpoint.
    pub async fn open(options: &S3Options) -> Result<S3ReportStore, StoreError> {
        S3ReportStore::open_connection(options.connect()?).await
    }

    /// Connects to a Google Cloud Storage bucket and checks it answers; the
    /// error names the bucket.
    #[cfg(feature = "gcp")]
    pub async fn open_gcs(options: &crate::GcsOptions) -> Result<S3ReportStore, StoreError> {
        S3ReportStore::open_connection(options.connect()?).await
    }

    /// Connects to an Azure Blob Storage container and checks it answers;
    /// the error names the account, container and endpoint.
    #[cfg(feature = "azure")]
    pub async fn open_azure(options: &crate::AzureOptions) -> Result<S3ReportStore, StoreError> {
        S3ReportStore::open_connection(options.connect()?).await
    }

    async fn open_connection(connection: Connection) -> Result<S3ReportStore, StoreError> {
        let Connection {
            client,
            prefix,
            location,
            ..
        } = connection;
        probe(client.as_ref(), prefix.as_ref(), &location).await?;
        Ok(S3ReportStore {
            client,
            prefix,
            location,
        })
    }

    /// A key as an object path under the prefix; refuses `..`, `.`, empty
    /// and otherwise unsafe segments, so a key never leaves the prefix.
    fn object_path(&self, key: &str) -> Result<Path, StoreError> {
        let segments: Vec<&str> = key.split('/').collect();
        let unsafe_segment = segments
            .iter()
            .any(|segment| segment.is_empty() || *segment == "." || *segment == "..");
        if unsafe_segment {
            return Err(StoreError::NotFound(format!(
                "report {key:?} (keys are relative paths without empty, . or .. segments)"
            )));
        }
        let parsed =
            Path::parse(key).map_err(|e| StoreError::NotFound(format!("report {key:?} ({e})")))?;
        let parts: Vec<String> = parsed.parts().map(|p| p.as_ref().to_owned()).collect();
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        Ok(child(self.prefix.as_ref(), &parts))
    }
}

#[async_trait::async_trait]
impl ReportStore for S3ReportStore {
    async fn put(&self, key: &str, content: Bytes) -> Result<(), StoreError> {
        let path = self.object_path(key)?;
        self.client
            .put(&path, PutPayload::from(content))
            .await
            .map_err(|e| {
                StoreError::backend(format!("write report {key} in {}", self.location), e)
            })?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let path = self.object_path(key)?;
        match self.client.get(&path).await {
            Ok(result) => result.bytes().await.map(Some).map_err(|e| {
                StoreError::backend(format!("read report {key} in {}", self.location), e)
            }),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(StoreError::backend(
                format!("read report {key} in {}", self.location),
                e,
            )),
        }
    }
}
