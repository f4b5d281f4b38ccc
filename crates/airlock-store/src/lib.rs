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
//!   upload sessions. Beside it, in the same database, [`IdentityStore`]
//!   (tenants, users, robots) and [`AuditStore`] (the hash-chained log);
//!   every change is written together with its audit record.
//!
//! The embedded backends are the filesystem and SQLite; PostgreSQL and S3
//! implement the same traits. [`testsuite`] (feature `testsuite`) holds the
//! behaviour every backend must show; each adapter crate runs it.
//!
//! Errors are [`StoreError`]: no backend error type crosses this boundary.

mod audit;
mod blob;
mod error;
mod gate;
mod identity;
mod lease;
mod metadata;
mod reports;
mod search;
#[cfg(feature = "testsuite")]
pub mod testsuite;
mod webhook;

pub use audit::{AuditCursor, AuditFilter, AuditSearch, AuditStore};
pub use blob::{BlobStore, ByteStream, StoredBlob};
pub use error::StoreError;
pub use gate::{
    ExceptionRecord, GateStore, HistoryEntry, ImageRecord, ImageState, Job, JobKind, JobOutcome,
    Lane, NewJob, OutboxEvent, PolicyRecord, PolicyRef, PushedImage, ScanReportRecord, Transition,
};
pub use identity::{IdentityStore, RobotRecord, TenantRecord, UserRecord};
pub use lease::LeaseStore;
pub use reports::ReportStore;
pub use search::{
    FindingHit, FindingQuery, FindingRow, ImageQuery, ImageSort, ImageSortKey, ImageSummary,
    SEVERITY_NAMES, SearchStore, SeverityCounts, severity_from_name, severity_name,
};
pub use webhook::{Attempt, AttemptOutcome, Delivery, DeliveryState, Subscription, WebhookStore};

/// The whole metadata database: registry state, identities, the gate's
/// state and the audit log live in one database so a change and its audit
/// record share a transaction.
pub trait Database:
    MetadataStore + IdentityStore + AuditStore + GateStore + WebhookStore + SearchStore + LeaseStore
{
}

impl<
    T: MetadataStore
        + IdentityStore
        + AuditStore
        + GateStore
        + WebhookStore
        + SearchStore
        + LeaseStore,
> Database for T
{
}
pub use metadata::{
    BlobRef, GcCandidate, ManifestRecord, MetadataStore, NewManifest, PutManifestError, Referrer,
    UploadSession,
};
