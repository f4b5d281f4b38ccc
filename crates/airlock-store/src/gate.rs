//! The gate-store port: the quarantine gate's durable state.
//!
//! Images and their lifecycle state, the job queue that drives scans and
//! re-evaluations, stored inventories, versioned policies, exceptions and
//! the outbox of events. Every state change is one transaction that also
//! appends its audit records and outbox rows, and may finish the job that
//! caused it: a crash leaves either all of it or none.

use airlock_audit::AuditEvent;
use airlock_auth::TenantId;
use airlock_oci::{Digest, RepoName};
use time::OffsetDateTime;

use crate::StoreError;

/// Where a pushed manifest is in the gate (DESIGN §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ImageState {
    /// Pushed; not yet queued.
    Received,
    /// Waiting for a scan worker.
    Queued,
    /// A worker holds the scan job.
    Scanning,
    /// Scanned and the policy passed; promotion follows.
    Passed,
    /// Scanned and the policy failed; rejection follows.
    Failed,
    /// Copied (by reference) to `scanned/`. Terminal.
    Promoted,
    /// Kept in `unscanned/` for inspection, never in `scanned/`. Terminal.
    Rejected,
    /// A child manifest of an index: the index is the gated unit. Terminal.
    Covered,
}

impl ImageState {
    /// All states.
    pub const ALL: [ImageState; 8] = [
        ImageState::Received,
        ImageState::Queued,
        ImageState::Scanning,
        ImageState::Passed,
        ImageState::Failed,
        ImageState::Promoted,
        ImageState::Rejected,
        ImageState::Covered,
    ];

    /// Lowercase name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageState::Received => "received",
            ImageState::Queued => "queued",
            ImageState::Scanning => "scanning",
            ImageState::Passed => "passed",
            ImageState::Failed => "failed",
            ImageState::Promoted => "promoted",
            ImageState::Rejected => "rejected",
            ImageState::Covered => "covered",
        }
    }

    /// Whether no further transition happens (re-evaluation aside).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ImageState::Promoted | ImageState::Rejected | ImageState::Covered
        )
    }
}

impl std::str::FromStr for ImageState {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<ImageState, StoreError> {
        ImageState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| StoreError::backend("read image state", format!("unknown state {s:?}")))
    }
}

impl std::fmt::Display for ImageState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An image the gate knows: one manifest digest pushed to one
/// `unscanned/` repository.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRecord {
    /// Stable id.
    pub id: i64,
    /// Its tenant.
    pub tenant: TenantId,
    /// The `unscanned/<tenant>/<name>` repository it was pushed to.
    pub repository: RepoName,
    /// The manifest digest.
    pub digest: Digest,
    /// The manifest's media type.
    pub media_type: String,
    /// Where it is in the lifecycle.
    pub state: ImageState,
    /// Why it was rejected (`policy`, `scan_error`, `stale_data`,
    /// `invalid_policy`, `unsupported_media_type`), when it was.
    pub reason: Option<String>,
    /// The policy verdict (JSON), once evaluated.
    pub verdict: Option<serde_json::Value>,
    /// Which policy version decided (`tenant` or `global`, and the version).
    pub policy: Option<PolicyRef>,
    /// Failed scan attempts so far.
    pub attempts: u32,
    /// Who pushed it first (user or robot name), when known.
    pub pushed_by: Option<String>,
    /// When it was pushed first.
    pub created_at: OffsetDateTime,
    /// When its state last changed.
    pub updated_at: OffsetDateTime,
}

/// One step of an image's history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// When.
    pub at: OffsetDateTime,
    /// The state before (`None` for the first entry).
    pub from: Option<ImageState>,
    /// The state after.
    pub to: ImageState,
    /// What happened, as JSON (reasons, verdict summary, worker).
    pub detail: serde_json::Value,
}

/// Which stored policy decided a verdict.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PolicyRef {
    /// The tenant whose policy it is; `None` for the global default.
    pub tenant: Option<String>,
    /// Its version (1, 2, ...); 0 for the built-in default.
    pub version: i64,
}

/// An event for subscribers, written in the transaction that caused it and
/// delivered later, at least once (CloudEvents 1.0 attributes).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    /// Unique id (for de-duplication by receivers).
    pub id: String,
    /// `airlock.image.pushed`, `airlock.scan.queued`, ...
    pub event_type: String,
    /// The tenant it concerns.
    pub tenant: Option<String>,
    /// What it is about, e.g. `unscanned/acme/app@sha256:...`.
    pub subject: String,
    /// When it happened.
    pub time: OffsetDateTime,
    /// The event's data.
    pub data: serde_json::Value,
}

impl OutboxEvent {
    /// A new event with a fresh time-ordered id.
    pub fn new(
        event_type: impl Into<String>,
        tenant: Option<String>,
        subject: impl Into<String>,
        data: serde_json::Value,
    ) -> OutboxEvent {
        OutboxEvent {
            id: uuid::Uuid::now_v7().to_string(),
            event_type: event_type.into(),
            tenant,
            subject: subject.into(),
            time: OffsetDateTime::now_utc(),
            data,
        }
    }
}

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Scan a pushed image and decide.
    Scan,
    /// Match a promoted image's stored inventory again.
    Reevaluate,
}

impl JobKind {
    /// Lowercase name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Scan => "scan",
            JobKind::Reevaluate => "reevaluate",
        }
    }
}

/// Priority lanes: pushes go before background work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lane {
    /// Scans triggered by a push.
    Push = 0,
    /// Re-evaluations and bulk rescans.
    Background = 1,
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// What to do.
    pub kind: JobKind,
    /// Its lane.
    pub lane: Lane,
    /// The tenant (fair sharing is per tenant).
    pub tenant: TenantId,
    /// The image it is about.
    pub image_id: i64,
    /// Not before this time.
    pub run_after: OffsetDateTime,
    /// Attempts before the job is given up.
    pub max_attempts: u32,
}

/// A leased job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Its id.
    pub id: i64,
    /// What to do.
    pub kind: JobKind,
    /// Its lane.
    pub lane: Lane,
    /// Its tenant.
    pub tenant: TenantId,
    /// The image.
    pub image_id: i64,
    /// Attempts started so far, including this one.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// The worker holding the lease.
    pub worker: String,
    /// When the lease runs out unless renewed.
    pub lease_expires_at: OffsetDateTime,
}

/// A job's end, written with the transition it caused.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    /// Done; remove it.
    Done,
    /// Try again after this time (the error is kept).
    Retry {
        /// When it may run again.
        run_after: OffsetDateTime,
        /// What went wrong.
        error: String,
    },
    /// Give up (the error is kept).
    Dead {
        /// What went wrong.
        error: String,
    },
}

/// One atomic state change of an image.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The image.
    pub image_id: i64,
    /// The state it must be in now (compare-and-set: a stale worker's
    /// transition is refused with `Conflict`).
    pub from: ImageState,
    /// The new state.
    pub to: ImageState,
    /// Sets the rejection reason.
    pub reason: Option<String>,
    /// Sets the verdict.
    pub verdict: Option<serde_json::Value>,
    /// Sets the deciding policy.
    pub policy: Option<PolicyRef>,
    /// Sets the failed-attempt count.
    pub attempts: Option<u32>,
    /// History detail.
    pub detail: serde_json::Value,
    /// Audit records to append.
    pub audit: Vec<AuditEvent>,
    /// Events to publish.
    pub outbox: Vec<OutboxEvent>,
    /// A job to enqueue.
    pub enqueue: Option<NewJob>,
    /// The leased job this ends, and how (the lease must still be held).
    pub finish: Option<(i64, String, JobOutcome)>,
    /// The reports of the scan that led to it, already in the object store.
    pub report: Option<ScanReportRecord>,
    /// Replaces the image's findings rows (decisions and re-evaluations);
    /// the counts beside the image are taken from `verdict`'s `counts`.
    pub findings: Option<Vec<crate::FindingRow>>,
}

impl Transition {
    /// A transition with no side effects yet.
    pub fn new(image_id: i64, from: ImageState, to: ImageState) -> Transition {
        Transition {
            image_id,
            from,
            to,
            reason: None,
            verdict: None,
            policy: None,
            attempts: None,
            detail: serde_json::Value::Null,
            audit: Vec::new(),
            outbox: Vec::new(),
            enqueue: None,
            finish: None,
            report: None,
            findings: None,
        }
    }
}

/// A manifest pushed to an `unscanned/` repository.
#[derive(Debug, Clone, PartialEq)]
pub struct PushedImage {
    /// Its tenant.
    pub tenant: TenantId,
    /// The repository.
    pub repository: RepoName,
    /// The manifest digest.
    pub digest: Digest,
    /// The manifest's media type.
    pub media_type: String,
    /// Who pushed it (user or robot name), when known.
    pub pushed_by: Option<String>,
}

/// The reports one scan left in the object store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanReportRecord {
    /// The scan's id (a UUID): the last segment of `prefix`.
    pub scan_id: String,
    /// The image it is about.
    pub image_id: i64,
    /// Its tenant.
    pub tenant: TenantId,
    /// The repository the image was pushed to.
    pub repository: RepoName,
    /// The image digest.
    pub digest: Digest,
    /// The object-store prefix the report files are under, ending in `/`.
    pub prefix: String,
    /// Whether the verdict passed.
    pub passed: bool,
    /// When the scan was decided.
    pub created_at: OffsetDateTime,
}

/// A stored policy version.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRecord {
    /// Whose: a tenant, or `None` for the global default.
    pub tenant: Option<TenantId>,
    /// 1, 2, ...
    pub version: i64,
    /// The YAML document, as submitted.
    pub document: String,
    /// Who set it.
    pub author: String,
    /// When.
    pub created_at: OffsetDateTime,
}

/// A stored exception.
#[derive(Debug, Clone, PartialEq)]
pub struct ExceptionRecord {
    /// `EXC-<n>`.
    pub id: String,
    /// Its tenant.
    pub tenant: TenantId,
    /// The vulnerability id (aliases are honoured when matching).
    pub vulnerability: String,
    /// Narrowed to a package name.
    pub package: Option<String>,
    /// Narrowed to a repository.
    pub repository: Option<String>,
    /// Narrowed to a digest.
    pub digest: Option<String>,
    /// Why.
    pub reason: String,
    /// Who asked.
    pub requested_by: String,
    /// Who approved (never the requester).
    pub approved_by: Option<String>,
    /// When it was approved.
    pub approved_at: Option<OffsetDateTime>,
    /// When it stops applying.
    pub expires_at: OffsetDateTime,
    /// When it was revoked.
    pub revoked_at: Option<OffsetDateTime>,
    /// When it was requested.
    pub created_at: OffsetDateTime,
}

/// The gate's durable state.
#[async_trait::async_trait]
pub trait GateStore: Send + Sync + std::fmt::Debug {
    // ----- images -----

    /// Records a push: creates the image in `Received` (or returns the
    /// existing one for the same repository and digest) and appends `audit`
    /// and `outbox` only when it was created. Returns the image and whether
    /// it is new.
    async fn record_push(
        &self,
        image: &PushedImage,
        audit: &[AuditEvent],
        outbox: &[OutboxEvent],
    ) -> Result<(ImageRecord, bool), StoreError>;

    /// One image.
    async fn image(&self, id: i64) -> Result<Option<ImageRecord>, StoreError>;

    /// The images of a tenant with this digest (one per repository).
    async fn images_by_digest(
        &self,
        tenant: &TenantId,
        digest: &Digest,
    ) -> Result<Vec<ImageRecord>, StoreError>;

    /// Images of a tenant (all tenants with `None`), newest first, at most `limit`.
    async fn images(
        &self,
        tenant: Option<&TenantId>,
        state: Option<ImageState>,
        limit: usize,
    ) -> Result<Vec<ImageRecord>, StoreError>;

    /// An image's history, oldest first.
    async fn history(&self, id: i64) -> Result<Vec<HistoryEntry>, StoreError>;

    /// Applies one transition atomically. `Conflict` when the image is not
    /// in `transition.from` or the finished job's lease is no longer held by
    /// that worker; then nothing is written.
    async fn transition(&self, transition: &Transition) -> Result<ImageRecord, StoreError>;

    /// Promotes: in one transaction, copies the manifest `image.digest`
    /// (with its child manifests, their blob links, and the manifests that
    /// refer to it as their subject) from the image's `unscanned/`
    /// repository to `target`, points at it every tag that points at the
    /// digest in the source repository now, and applies `transition`
    /// (which must go to `Promoted`). Copies references, never bytes.
    async fn promote(
        &self,
        target: &RepoName,
        transition: &Transition,
    ) -> Result<ImageRecord, StoreError>;

    /// Manifests in `unscanned/` repositories the gate has no image for (a
    /// crash between push and record), referrers (manifests with a
    /// `subject`) excepted: they follow their subject. Oldest first.
    async fn unrecorded_pushes(&self, limit: usize) -> Result<Vec<PushedImage>, StoreError>;

    /// Whether `digest` is a child of an index in `repository`.
    async fn is_index_child(
        &self,
        repository: &RepoName,
        digest: &Digest,
    ) -> Result<bool, StoreError>;

    // ----- jobs -----

    /// Enqueues a job on its own (re-evaluations).
    async fn enqueue(&self, job: &NewJob) -> Result<i64, StoreError>;

    /// Leases the next job for `worker` until `now + lease`: ready jobs
    /// (`run_after <= now`, never leased or lease expired) of the push lane
    /// first; within a lane the tenant with the fewest jobs leased now, then
    /// the tenant served longest ago, then the oldest job. Counts the attempt.
    /// The job is returned even when this attempt exceeds `max_attempts`
    /// (a lease taken over after a worker died): the caller decides what
    /// an exhausted job becomes.
    async fn lease_job(
        &self,
        worker: &str,
        lease: std::time::Duration,
        now: OffsetDateTime,
    ) -> Result<Option<Job>, StoreError>;

    /// Extends a lease the worker still holds; `Conflict` if it lost it.
    ///
    /// A lease is lost when another worker takes the job over (after it
    /// expired) or the job ended; expiry alone does not revoke it, since
    /// times come from the caller's clock.
    async fn heartbeat(
        &self,
        job_id: i64,
        worker: &str,
        until: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Ends a job without a transition (e.g. a re-evaluation with nothing
    /// new). `Conflict` if the lease is lost.
    async fn finish_job(
        &self,
        job_id: i64,
        worker: &str,
        outcome: &JobOutcome,
        audit: &[AuditEvent],
        outbox: &[OutboxEvent],
    ) -> Result<(), StoreError>;

    /// Workers holding a lease now.
    async fn leased_workers(&self) -> Result<Vec<String>, StoreError>;

    /// Makes the jobs leased by `worker` ready again at once (the worker is
    /// known to be gone); its later transitions are refused like any stale
    /// worker's. Returns how many.
    async fn release_leases(&self, worker: &str) -> Result<u64, StoreError>;

    /// Jobs not done or dead, for status and tests.
    async fn pending_jobs(&self) -> Result<u64, StoreError>;

    /// Waits until a job may have become ready, or `at_most` passes. A
    /// backend that can hear other processes enqueue (PostgreSQL's
    /// `LISTEN`) returns early; the default just sleeps, which is right for
    /// an embedded database whose only writers share the process.
    async fn wait_for_jobs(&self, at_most: std::time::Duration) {
        tokio::time::sleep(at_most).await;
    }

    // ----- inventories -----

    /// Stores the scan reports (inventory only) of a manifest digest.
    async fn put_inventory(
        &self,
        digest: &Digest,
        reports: &serde_json::Value,
    ) -> Result<(), StoreError>;

    /// The stored scan reports of a digest.
    async fn inventory(&self, digest: &Digest) -> Result<Option<serde_json::Value>, StoreError>;

    // ----- policies -----

    /// Stores a new version of a tenant's policy (`None`: the global one).
    /// Returns its version.
    async fn put_policy(
        &self,
        tenant: Option<&TenantId>,
        document: &str,
        author: &str,
        audit: &AuditEvent,
        outbox: &[OutboxEvent],
    ) -> Result<i64, StoreError>;

    /// The newest policy of a tenant (`None`: the global one).
    async fn policy(&self, tenant: Option<&TenantId>) -> Result<Option<PolicyRecord>, StoreError>;

    /// Every version of a tenant's policy (`None`: the global one), newest
    /// first.
    async fn policy_versions(
        &self,
        tenant: Option<&TenantId>,
    ) -> Result<Vec<PolicyRecord>, StoreError>;

    // ----- exceptions -----

    /// Stores a requested exception (id assigned by the store); returns it.
    async fn create_exception(
        &self,
        exception: &ExceptionRecord,
        audit: &AuditEvent,
        outbox: &[OutboxEvent],
    ) -> Result<ExceptionRecord, StoreError>;

    /// One exception.
    async fn exception(&self, id: &str) -> Result<Option<ExceptionRecord>, StoreError>;

    /// Marks an exception approved. `Conflict` if it is revoked or approved.
    async fn approve_exception(
        &self,
        id: &str,
        approver: &str,
        at: OffsetDateTime,
        audit: &AuditEvent,
        outbox: &[OutboxEvent],
    ) -> Result<ExceptionRecord, StoreError>;

    /// Revokes an exception. `NotFound` if unknown or already revoked.
    async fn revoke_exception(
        &self,
        id: &str,
        at: OffsetDateTime,
        audit: &AuditEvent,
        outbox: &[OutboxEvent],
    ) -> Result<(), StoreError>;

    /// A tenant's exceptions, newest first.
    async fn exceptions(&self, tenant: &TenantId) -> Result<Vec<ExceptionRecord>, StoreError>;

    /// Exceptions (of every tenant) that expired at or before `now`, were
    /// not revoked, and whose expiry was not yet noticed.
    async fn unnoticed_expiries(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<ExceptionRecord>, StoreError>;

    /// Notes that an exception's expiry was handled, with its audit record
    /// and event. `false` if it was already noted (another process won).
    async fn notice_expiry(
        &self,
        id: &str,
        at: OffsetDateTime,
        audit: &AuditEvent,
        outbox: &[OutboxEvent],
    ) -> Result<bool, StoreError>;

    // ----- reports -----

    /// The scans of a tenant's digest that left reports, newest first
    /// (whatever repository it was pushed to).
    async fn scan_reports(
        &self,
        tenant: &TenantId,
        digest: &Digest,
    ) -> Result<Vec<ScanReportRecord>, StoreError>;

    // ----- outbox -----

    /// Undelivered events, oldest first, at most `limit`.
    async fn outbox(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError>;

    /// One event by id, delivered or not.
    async fn outbox_event(&self, id: &str) -> Result<Option<OutboxEvent>, StoreError>;

    /// Marks events delivered so [`GateStore::outbox`] no longer returns
    /// them. Unknown or already delivered ids are ignored.
    async fn mark_delivered(&self, ids: &[String], at: OffsetDateTime) -> Result<(), StoreError>;
}
