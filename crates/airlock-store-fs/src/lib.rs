//! The embedded blob store: content-addressed files on the local disk.
//!
//! Layout under the root directory:
//!
//! | path | what |
//! |---|---|
//! | `blobs/<alg>/<first two hex>/<hex>` | committed blobs, written once |
//! | `uploads/<id>` | staged uploads, appended to while a push runs |
//!
//! A blob becomes visible only through `rename(2)` of a fully written,
//! fsynced staging file into `blobs/`, which is atomic on one filesystem: a
//! crash leaves either the old state or the whole blob, never a partial one.
//! Uploads stream to disk chunk by chunk, so memory stays flat whatever the
//! blob size.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

mod reports;

pub use reports::FsReportStore;

use airlock_oci::{Algorithm, Digest};
use airlock_store::{BlobStore, ByteStream, StoreError, StoredBlob};
use futures::StreamExt;
use tokio::fs;
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

/// Read buffer size for serving blobs.
const READ_CHUNK: usize = 256 * 1024;

/// Chunk size for serving committed blobs from a blocking reader thread.
const SERVE_CHUNK: usize = 1024 * 1024;

/// Streams up to `length` bytes of `file` from a blocking thread, one
/// `SERVE_CHUNK` at a time, straight into the buffers that go on the wire:
/// one hand-off and no extra copy per chunk, and at most two chunks in
/// flight per download, so memory stays bounded.
fn blocking_stream(mut file: std::fs::File, length: u64) -> ByteStream {
    use std::io::Read as _;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(2);
    tokio::task::spawn_blocking(move || {
        let mut remaining = length;
        while remaining > 0 {
            let want = usize::try_from(remaining.min(SERVE_CHUNK as u64)).unwrap_or(SERVE_CHUNK);
            let mut buffer = bytes::BytesMut::zeroed(want);
            let read = match file.read(&mut buffer) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = sender.blocking_send(Err(e));
                    return;
                }
            };
            buffer.truncate(read);
            remaining -= read as u64;
            if sender.blocking_send(Ok(buffer.freeze())).is_err() {
                return; // the client went away
            }
        }
    });
    Box::pin(tokio_stream_from(receiver))
}

fn tokio_stream_from(
    mut receiver: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>,
) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

/// A [`BlobStore`] rooted at a directory.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    /// Opens (creating if needed) a store rooted at `root`.
    pub async fn open(root: impl Into<PathBuf>) -> Result<FsBlobStore, StoreError> {
        let root = root.into();
        for dir in ["blobs", "uploads"] {
            let path = root.join(dir);
            fs::create_dir_all(&path)
                .await
                .map_err(|e| StoreError::backend(format!("create {}", path.display()), e))?;
        }
        Ok(FsBlobStore { root })
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.root
            .join("blobs")
            .join(digest.algorithm().as_str())
            .join(&hex[..2])
            .join(hex)
    }

    fn upload_path(&self, id: &str) -> Result<PathBuf, StoreError> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(StoreError::NotFound(format!("upload {id:?}")));
        }
        Ok(self.root.join("uploads").join(id))
    }
}

fn io_error(operation: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
    let operation = operation.into();
    move |e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            StoreError::NotFound(operation)
        } else {
            StoreError::backend(operation, e)
        }
    }
}

async fn file_size(path: &Path) -> Result<Option<u64>, StoreError> {
    match fs::metadata(path).await {
        Ok(meta) => Ok(Some(meta.len())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::backend(format!("stat {}", path.display()), e)),
    }
}

async fn sync_dir(path: &Path) {
    // Make the rename durable; failure to fsync a directory is not fatal on
    // filesystems that do not support it.
    if let Ok(dir) = fs::File::open(path).await {
        let _ = dir.sync_all().await;
    }
}

#[async_trait::async_trait]
impl BlobStore for FsBlobStore {
    async fn stat(&self, digest: &Digest) -> Result<Option<u64>, StoreError> {
        file_size(&self.blob_path(digest)).await
    }

    async fn read(
        &self,
        digest: &Digest,
        range: Option<(u64, u64)>,
    ) -> Result<ByteStream, StoreError> {
        let path = self.blob_path(digest);
        let mut file = std::fs::File::open(&path).map_err(io_error(format!("blob {digest}")))?;
        let length = match range {
            None => u64::MAX,
            Some((start, end)) => {
                std::io::Seek::seek(&mut file, SeekFrom::Start(start))
                    .map_err(io_error(format!("seek blob {digest}")))?;
                end.saturating_sub(start) + 1
            }
        };
        Ok(blocking_stream(file, length))
    }

    async fn delete(&self, digest: &Digest) -> Result<(), StoreError> {
        match fs::remove_file(self.blob_path(digest)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::backend(format!("delete blob {digest}"), e)),
        }
    }

    async fn list(&self) -> Result<Vec<StoredBlob>, StoreError> {
        let mut out = Vec::new();
        for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
            let base = self.root.join("blobs").join(algorithm.as_str());
            let Ok(mut prefixes) = fs::read_dir(&base).await else {
                continue;
            };
            while let Some(prefix) = prefixes
                .next_entry()
                .await
                .map_err(|e| StoreError::backend(format!("list {}", base.display()), e))?
            {
                let mut files = fs::read_dir(prefix.path()).await.map_err(|e| {
                    StoreError::backend(format!("list {}", prefix.path().display()), e)
                })?;
                while let Some(file) = files
                    .next_entry()
                    .await
                    .map_err(|e| StoreError::backend("list blobs", e))?
                {
                    let name = file.file_name().to_string_lossy().into_owned();
                    let Ok(digest) = format!("{}:{name}", algorithm.as_str()).parse::<Digest>()
                    else {
                        continue;
                    };
                    let meta = file
                        .metadata()
                        .await
                        .map_err(|e| StoreError::backend("stat blob", e))?;
                    out.push(StoredBlob {
                        digest,
                        size: meta.len(),
                        modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.digest.cmp(&b.digest));
        Ok(out)
    }

    async fn upload_create(&self, id: &str) -> Result<(), StoreError> {
        let path = self.upload_path(id)?;
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(|e| StoreError::backend(format!("create upload {id}"), e))?;
        Ok(())
    }

    async fn upload_append(&self, id: &str, mut data: ByteStream) -> Result<u64, StoreError> {
        let path = self.upload_path(id)?;
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .await
            .map_err(io_error(format!("upload {id}")))?;
        let mut result = Ok(());
        while let Some(chunk) = data.next().await {
            match chunk {
                Ok(bytes) => {
                    if let Err(e) = file.write_all(&bytes).await {
                        result = Err(StoreError::backend(format!("write upload {id}"), e));
                        break;
                    }
                }
                Err(e) => {
                    result = Err(StoreError::backend(format!("receive upload {id}"), e));
                    break;
                }
            }
        }
        file.flush()
            .await
            .map_err(|e| StoreError::backend(format!("flush upload {id}"), e))?;
        result?;
        // Make the chunk durable now, outside any lock: the fsync in
        // `upload_commit`, which runs under the metadata store's blob lock,
        // then finds nothing left to write.
        file.sync_data()
            .await
            .map_err(|e| StoreError::backend(format!("sync upload {id}"), e))?;
        let meta = file
            .metadata()
            .await
            .map_err(|e| StoreError::backend(format!("stat upload {id}"), e))?;
        Ok(meta.len())
    }

    async fn upload_size(&self, id: &str) -> Result<Option<u64>, StoreError> {
        match self.upload_path(id) {
            Ok(path) => file_size(&path).await,
            Err(_) => Ok(None),
        }
    }

    async fn upload_read(&self, id: &str) -> Result<ByteStream, StoreError> {
        let path = self.upload_path(id)?;
        let file = fs::File::open(&path)
            .await
            .map_err(io_error(format!("upload {id}")))?;
        Ok(Box::pin(ReaderStream::with_capacity(file, READ_CHUNK)))
    }

    async fn upload_commit(&self, id: &str, digest: &Digest) -> Result<u64, StoreError> {
        let source = self.upload_path(id)?;
        let file = fs::File::open(&source)
            .await
            .map_err(io_error(format!("upload {id}")))?;
        file.sync_all()
            .await
            .map_err(|e| StoreError::backend(format!("sync upload {id}"), e))?;
        let size = file
            .metadata()
            .await
            .map_err(|e| StoreError::backend(format!("stat upload {id}"), e))?
            .len();
        drop(file);
        let target = self.blob_path(digest);
        let parent = target.parent().expect("blob paths have a parent");
        fs::create_dir_all(parent)
            .await
            .map_err(|e| StoreError::backend(format!("create {}", parent.display()), e))?;
        fs::rename(&source, &target)
            .await
            .map_err(|e| StoreError::backend(format!("commit upload {id} as {digest}"), e))?;
        sync_dir(parent).await;
        Ok(size)
    }

    async fn upload_delete(&self, id: &str) -> Result<(), StoreError> {
        let Ok(path) = self.upload_path(id) else {
            return Ok(());
        };
        match fs::remove_file(path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::backend(format!("delete upload {id}"), e)),
        }
    }

    async fn upload_list(&self) -> Result<Vec<(String, SystemTime)>, StoreError> {
        let dir = self.root.join("uploads");
        let mut entries = fs::read_dir(&dir)
            .await
            .map_err(|e| StoreError::backend("list uploads", e))?;
        let mut out = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| StoreError::backend("list uploads", e))?
        {
            let modified = entry
                .metadata()
                .await
                .ok()
                .and_then(|m| m.modified().ok())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            out.push((entry.file_name().to_string_lossy().into_owned(), modified));
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_the_blob_store_suite() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).await.unwrap();
        airlock_store::testsuite::blob_store(&store).await;
    }

    #[tokio::test]
    async fn staged_uploads_are_invisible_until_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).await.unwrap();
        store.upload_create("crash-1").await.unwrap();
        let data: ByteStream = Box::pin(futures::stream::iter([Ok(bytes::Bytes::from_static(
            b"half",
        ))]));
        store.upload_append("crash-1", data).await.unwrap();
        // Simulate a restart: a new store over the same directory.
        let reopened = FsBlobStore::open(dir.path()).await.unwrap();
        assert!(reopened.list().await.unwrap().is_empty());
        assert_eq!(reopened.upload_size("crash-1").await.unwrap(), Some(4));
    }

    #[tokio::test]
    async fn upload_ids_cannot_escape_the_staging_directory() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path().join("store")).await.unwrap();
        assert!(store.upload_create("../escape").await.is_err());
        assert_eq!(store.upload_size("../../etc/passwd").await.unwrap(), None);
    }
}
