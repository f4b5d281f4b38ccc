//! The embedded report store: report files under a directory, through the
//! `object_store` crate's local filesystem backend (which writes to a
//! staging file and renames it into place, so a reader never sees half a
//! file). The same crate's S3 backend serves the clustered deployment.

use std::path::Path;
use std::sync::Arc;

use airlock_store::{ReportStore, StoreError};
use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};

/// Report files under one local directory.
#[derive(Debug, Clone)]
pub struct FsReportStore {
    store: Arc<LocalFileSystem>,
}

impl FsReportStore {
    /// Opens (creating) the directory `root`.
    pub fn open(root: &Path) -> Result<FsReportStore, StoreError> {
        std::fs::create_dir_all(root)
            .map_err(|e| StoreError::backend(format!("create {}", root.display()), e))?;
        let store = LocalFileSystem::new_with_prefix(root)
            .map_err(|e| StoreError::backend(format!("open {}", root.display()), e))?;
        Ok(FsReportStore {
            store: Arc::new(store),
        })
    }
}

/// A key as an object path; refuses `..`, empty and otherwise unsafe
/// segments, so a key never leaves the root.
fn object_path(key: &str) -> Result<ObjectPath, StoreError> {
    let unsafe_segment = key
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..");
    if unsafe_segment {
        return Err(StoreError::NotFound(format!(
            "report {key:?} (keys are relative paths without empty, . or .. segments)"
        )));
    }
    ObjectPath::parse(key).map_err(|e| StoreError::NotFound(format!("report {key:?} ({e})")))
}

#[async_trait::async_trait]
impl ReportStore for FsReportStore {
    async fn put(&self, key: &str, content: Bytes) -> Result<(), StoreError> {
        let path = object_path(key)?;
        self.store
            .put(&path, PutPayload::from(content))
            .await
            .map_err(|e| StoreError::backend(format!("write report {key}"), e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let path = object_path(key)?;
        match self.store.get(&path).await {
            Ok(result) => result
                .bytes()
                .await
                .map(Some)
                .map_err(|e| StoreError::backend(format!("read report {key}"), e)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(StoreError::backend(format!("read report {key}"), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reports_round_trip_and_keys_cannot_escape() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsReportStore::open(&dir.path().join("objects")).unwrap();
        let key = "reports/acme/app/sha256:abc/0190/report.json";
        store.put(key, Bytes::from_static(b"{}")).await.unwrap();
        assert_eq!(
            store.get(key).await.unwrap().unwrap(),
            Bytes::from_static(b"{}")
        );
        assert!(dir.path().join("objects").join(key).is_file());
        assert_eq!(store.get("reports/none").await.unwrap(), None);
        for hostile in ["../escape", "reports/../../x", "/abs", "a//b"] {
            assert!(
                store.put(hostile, Bytes::from_static(b"x")).await.is_err(),
                "{hostile} must be refused"
            );
        }
        assert!(!dir.path().join("escape").exists());
    }
}
