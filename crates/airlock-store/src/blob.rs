//! The blob-store port.

use std::pin::Pin;
use std::time::SystemTime;

use airlock_oci::Digest;
use bytes::Bytes;
use futures::Stream;

use crate::StoreError;

/// A stream of bytes moving into or out of a store.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// A committed blob, as listed for garbage collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written (committed).
    pub modified: SystemTime,
}

/// Content-addressed blob storage with a staging area for uploads.
///
/// Contract:
/// * A blob is readable only after [`BlobStore::upload_commit`]; a crash at
///   any point before leaves nothing visible under its digest.
/// * The store does not hash: callers verify digests while streaming and
///   commit only verified content.
/// * Upload ids are chosen by the caller (unique, `[A-Za-z0-9-]`).
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Size of a committed blob, or `None`.
    async fn stat(&self, digest: &Digest) -> Result<Option<u64>, StoreError>;

    /// Reads a committed blob, or the inclusive byte range `start..=end` of it.
    /// `NotFound` if absent.
    async fn read(
        &self,
        digest: &Digest,
        range: Option<(u64, u64)>,
    ) -> Result<ByteStream, StoreError>;

    /// A short-lived URL a client may fetch the committed blob from
    /// directly (an S3 presigned GET), or `None` to serve it through the
    /// registry. The default serves everything itself.
    async fn presigned_read(&self, digest: &Digest) -> Result<Option<String>, StoreError> {
        let _ = digest;
        Ok(None)
    }

    /// Removes a committed blob. Removing an absent blob is not an error.
    async fn delete(&self, digest: &Digest) -> Result<(), StoreError>;

    /// Lists every committed blob.
    async fn list(&self) -> Result<Vec<StoredBlob>, StoreError>;

    /// Creates an empty staged upload.
    async fn upload_create(&self, id: &str) -> Result<(), StoreError>;

    /// Appends `data` to a staged upload and returns its new size. `NotFound`
    /// if the upload does not exist. On error the upload keeps the bytes
    /// written so far; the caller reads the size back with [`BlobStore::upload_size`].
    async fn upload_append(&self, id: &str, data: ByteStream) -> Result<u64, StoreError>;

    /// Current size of a staged upload, or `None` if it does not exist.
    async fn upload_size(&self, id: &str) -> Result<Option<u64>, StoreError>;

    /// Reads a staged upload from the start (used to re-hash after a restart).
    async fn upload_read(&self, id: &str) -> Result<ByteStream, StoreError>;

    /// Atomically makes a staged upload the blob `digest` and returns its size.
    /// If the blob already exists the staged copy is discarded.
    async fn upload_commit(&self, id: &str, digest: &Digest) -> Result<u64, StoreError>;

    /// Discards a staged upload. Discarding an absent upload is not an error.
    async fn upload_delete(&self, id: &str) -> Result<(), StoreError>;

    /// Lists staged uploads with their last write time.
    async fn upload_list(&self) -> Result<Vec<(String, SystemTime)>, StoreError>;

    /// Stores a small blob whole, as atomically as
    /// [`BlobStore::upload_commit`], and returns its size. The caller has
    /// hashed `content` to `digest`. If the blob already exists it is kept.
    ///
    /// The default goes through a staged upload; a store that can write an
    /// object in one step (one S3 `PUT`) overrides it.
    async fn put(&self, digest: &Digest, content: Bytes) -> Result<u64, StoreError> {
        let id = format!("put-{}", uuid::Uuid::now_v7());
        self.upload_create(&id).await?;
        let stream: ByteStream = Box::pin(futures::stream::once(async move { Ok(content) }));
        let staged = match self.upload_append(&id, stream).await {
            Ok(_) => self.upload_commit(&id, digest).await,
            Err(e) => Err(e),
        };
        if staged.is_err() {
            let _ = self.upload_delete(&id).await;
        }
        staged
    }
}
