//! Storage ports: the traits every storage backend implements.
//!
//! airlock keeps two kinds of state, each behind one small trait:
//!
//! * [`BlobStore`]: content. Blobs are addressed by digest and stored once;
//!   uploads stream into a staging area and become visible only by an atomic
//!   [`BlobStore::upload_commit`] after the caller has verified the digest.
//! * [`MetadataStore`]: the single source of truth for everything else:
//!   repositories, manifests (their bytes are small and live here, so a pull
//!   by tag is one lookup), tags, per-repository blob links, referrers and
//!   upload sessions.
//!
//! The embedded backends are the filesystem and SQLite; PostgreSQL and S3
//! implement the same traits. [`testsuite`] (feature `testsuite`) holds the
//! behaviour every backend must show; each adapter crate runs it.
//!
//! Errors are [`StoreError`]: no backend error type crosses this boundary.

mod blob;
mod error;
mod metadata;
#[cfg(feature = "testsuite")]
pub mod testsuite;

pub use blob::{BlobStore, ByteStream, StoredBlob};
pub use error::StoreError;
pub use metadata::{
    BlobRef, GcCandidate, ManifestRecord, MetadataStore, NewManifest, PutManifestError, Referrer,
    UploadSession,
};
