//! The object store that keeps scan reports (DESIGN §6): small immutable
//! files under `reports/<tenant>/<repository>/<digest>/<scan-id>/`.
//!
//! Keys are `/`-separated and never contain `..` or empty segments; a put is
//! atomic (a reader sees the whole file or nothing). The embedded backend is
//! a directory; S3-compatible storage implements the same trait.

use bytes::Bytes;

use crate::StoreError;

/// Write-once storage for report files.
#[async_trait::async_trait]
pub trait ReportStore: Send + Sync + std::fmt::Debug {
    /// Stores `content` under `key`, replacing any earlier content.
    async fn put(&self, key: &str, content: Bytes) -> Result<(), StoreError>;

    /// The content under `key`, or `None`.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError>;
}
