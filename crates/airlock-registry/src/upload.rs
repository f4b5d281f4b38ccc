//! Upload sessions: streaming chunks to the blob store while hashing them.
//!
//! The running hash of each open upload is kept in memory, keyed by session
//! id and the offset it covers. If it is missing or stale (after a restart,
//! or a failed chunk), it is rebuilt by reading the staged bytes back once,
//! so a restart never corrupts an upload; it only costs one re-read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use airlock_oci::{Algorithm, Hasher};
use airlock_store::{BlobStore, ByteStream, StoreError};
use futures::StreamExt;

/// Where an upload stands, as reported to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadState {
    /// Session id.
    pub id: String,
    /// Bytes received so far.
    pub offset: u64,
}

/// The running hash of an upload and how many bytes it covers.
#[derive(Debug, Clone)]
pub(crate) struct RunningHash {
    pub(crate) offset: u64,
    pub(crate) hasher: Hasher,
}

/// Per-session hashes and locks (one writer per session at a time).
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    hashes: Mutex<HashMap<String, RunningHash>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Sessions {
    pub(crate) fn lock_for(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().expect("session lock table poisoned");
        locks.entry(id.to_owned()).or_default().clone()
    }

    pub(crate) fn take_hash(&self, id: &str) -> Option<RunningHash> {
        self.hashes
            .lock()
            .expect("session hash table poisoned")
            .remove(id)
    }

    pub(crate) fn put_hash(&self, id: &str, hash: RunningHash) {
        self.hashes
            .lock()
            .expect("session hash table poisoned")
            .insert(id.to_owned(), hash);
    }

    pub(crate) fn forget(&self, id: &str) {
        self.hashes
            .lock()
            .expect("session hash table poisoned")
            .remove(id);
        self.locks
            .lock()
            .expect("session lock table poisoned")
            .remove(id);
    }
}

/// Rebuilds the hash of a staged upload by reading it back.
pub(crate) async fn rehash(
    store: &dyn BlobStore,
    id: &str,
    algorithm: Algorithm,
) -> Result<RunningHash, StoreError> {
    let mut stream = store.upload_read(id).await?;
    let mut hasher = Hasher::new(algorithm);
    let mut offset = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| StoreError::backend(format!("read upload {id}"), e))?;
        hasher.update(&chunk);
        offset += chunk.len() as u64;
    }
    Ok(RunningHash { offset, hasher })
}

/// Wraps `body` so every byte that passes through is hashed and counted.
pub(crate) fn hashing(body: ByteStream, hash: Arc<Mutex<RunningHash>>) -> ByteStream {
    Box::pin(body.map(move |chunk| {
        if let Ok(bytes) = &chunk {
            let mut state = hash.lock().expect("running hash poisoned");
            state.hasher.update(bytes);
            state.offset += bytes.len() as u64;
        }
        chunk
    }))
}
