//! The gate's state in PostgreSQL: images, jobs, inventories, policies,
//! exceptions and the outbox.
//!
//! Every write is one transaction that also appends its audit records and
//! outbox rows, so a state change, the job that caused it, what it tells
//! the auditor and what it tells subscribers commit together or not at all.
//!
//! Where SQLite's `BEGIN IMMEDIATE` serialised a read-then-write, this
//! adapter takes row locks instead (each place says which):
//!
//! * a transition locks its image row (`SELECT … FOR NO KEY UPDATE`)
//!   before the compare-and-set on its state, and the finished job's row
//!   before the lease check, so a stale worker's transition and a lease
//!   takeover cannot interleave;
//! * `lease_job` picks with `FOR UPDATE OF j SKIP LOCKED`: concurrent
//!   workers (in any number of processes) skip each other's candidates
//!   instead of waiting, and never take one job twice;
//! * a new policy version locks its scope with a transaction-scoped
//!   advisory lock before reading the highest version;
//! * a promotion takes the shared blob lock of every blob it links, as
//!   every link does (see `metadata`), so a sweep cannot delete one
//!   between the link and its commit.
//!
//! Every enqueue (here and in transitions), and every release of leases,
//! runs `pg_notify('airlock_jobs', <schema>)` in its transaction, delivered
//! on commit; idle workers wait in [`GateStore::wait_for_jobs`] on a
//! `LISTEN` connection (see [`JobSignal`]).
//!
//! Leases: a job stays leased by its worker until the job ends or another
//! worker takes it over after `lease_expires_at`; expiry alone does not
//! revoke it, because lease times come from the caller's clock (`now`).

use std::collections::BTreeSet;
use std::time::Duration;

use airlock_audit::AuditEvent;
use airlock_auth::TenantId;
use airlock_oci::{Digest, RepoName};
use airlock_store::{
    ExceptionRecord, GateStore, HistoryEntry, ImageRecord, ImageState, Job, JobKind, JobOutcome,
    Lane, NewJob, OutboxEvent, PolicyRecord, PolicyRef, PushedImage, ScanReportRecord, StoreError,
    Transition,
};
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, PgConnection, Postgres, Row, Transaction};
use time::OffsetDateTime;

use crate::audit::append_in;
use crate::{
    PgOptions, PgStore, db_error, from_millis, now_millis, parse_digest, to_millis, unreadable,
};

/// The channel enqueues notify and idle workers listen on; the payload is
/// the schema of the queue, so deployments sharing a database ignore each
/// other's jobs.
pub(crate) const JOBS_CHANNEL: &str = "airlock_jobs";

/// How idle workers of one store hear that jobs may be ready: one
/// `LISTEN airlock_jobs` connection per store, opened on first use on a
/// one-connection pool of its own (so closing the main pool never waits for
/// it) and opened again after an error.
///
/// Any number of tasks may wait at once: one of them holds the listener and
/// reads from it; the others wait for it to notify them or for the lock
/// (taking over reading when the reader's own wait ends first).
pub(crate) struct JobSignal {
    listener: tokio::sync::Mutex<Option<Listening>>,
    woken: tokio::sync::Notify,
}

/// An open listener and the schema whose notifications it heeds.
struct Listening {
    listener: PgListener,
    schema: String,
}

impl std::fmt::Debug for JobSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobSignal").finish_non_exhaustive()
    }
}

impl JobSignal {
    /// No listener yet: the first wait opens it.
    pub(crate) fn new() -> JobSignal {
        JobSignal {
            listener: tokio::sync::Mutex::new(None),
            woken: tokio::sync::Notify::new(),
        }
    }

    /// Returns when a job of this schema was enqueued (or made ready
    /// again) since the listener opened, or after `at_most`. Without a
    /// working listener it just sleeps, like the trait's default.
    pub(crate) async fn wait(&self, options: &PgOptions, at_most: Duration) {
        let deadline = tokio::time::Instant::now() + at_most;
        let _ = tokio::time::timeout_at(deadline, self.wait_for_notification(options)).await;
    }

    async fn wait_for_notification(&self, options: &PgOptions) {
        let woken = self.woken.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let mut guard = tokio::select! {
            biased;
            () = &mut woken => return,
            guard = self.listener.lock() => guard,
        };
        loop {
            if guard.is_none() {
                match Listening::open(options).await {
                    Ok(listening) => *guard = Some(listening),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for jobs; polling instead");
                        return std::future::pending().await;
                    }
                }
            }
            let Some(listening) = guard.as_mut() else {
                return;
            };
            match listening.listener.recv().await {
                Ok(notification) if notification.payload() == listening.schema => {
                    // Notifications that queued up while nobody waited say
                    // nothing new: drop those already here, so the next
                    // wait does not return at once for each of them.
                    while let Ok(Ok(_)) =
                        tokio::time::timeout(Duration::ZERO, listening.listener.recv()).await
                    {
                    }
                    self.woken.notify_waiters();
                    return;
                }
                // Another schema's queue.
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "lost the job listener; polling until the next wait");
                    *guard = None;
                    return std::future::pending().await;
                }
            }
        }
    }
}

impl Listening {
    async fn open(options: &PgOptions) -> Result<Listening, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(options.acquire_timeout)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_with(options.connect_options()?)
            .await
            .map_err(db_error("connect the job listener"))?;
        let schema: Option<String> = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&pool)
            .await
            .map_err(db_error("read the job listener's schema"))?;
        let mut listener = PgListener::connect_with(&pool)
            .await
            .map_err(db_error("open the job listener"))?;
        listener
            .listen(JOBS_CHANNEL)
            .await
            .map_err(db_error("listen for jobs"))?;
        Ok(Listening {
            listener,
            schema: schema.unwrap_or_default(),
        })
    }
}

/// Starts a transaction for `what` (e.g. "job lease").
pub(crate) async fn begin(
    pool: &PgPool,
    what: &str,
) -> Result<Transaction<'static, Postgres>, StoreError> {
    pool.begin()
        .await
        .map_err(|e| StoreError::backend(format!("begin {what}"), e))
}

/// Commits the transaction of `what`.
pub(crate) async fn commit(tx: Transaction<'_, Postgres>, what: &str) -> Result<(), StoreError> {
    tx.commit()
        .await
        .map_err(|e| StoreError::backend(format!("commit {what}"), e))
}

const IMAGE_COLUMNS: &str = "id, tenant, repository, digest, media_type, state, reason, verdict, \
     policy_tenant, policy_version, attempts, created_at, updated_at, pushed_by";

const JOB_COLUMNS: &str =
    "id, kind, lane, tenant, image_id, attempts, max_attempts, worker, lease_expires_at";

const EXCEPTION_COLUMNS: &str = "id, tenant, vulnerability, package, repository, digest, reason, \
     requested_by, approved_by, approved_at, expires_at, revoked_at, created_at";

fn limit_value(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn count_value(n: u32) -> i64 {
    i64::from(n)
}

fn read_count(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

fn lane_from(value: i64) -> Result<Lane, StoreError> {
    match value {
        0 => Ok(Lane::Push),
        1 => Ok(Lane::Background),
        other => Err(unreadable("job lane", format!("unknown lane {other}"))),
    }
}

fn kind_from(value: &str) -> Result<JobKind, StoreError> {
    match value {
        "scan" => Ok(JobKind::Scan),
        "reevaluate" => Ok(JobKind::Reevaluate),
        other => Err(unreadable("job kind", format!("unknown kind {other:?}"))),
    }
}

fn json_from(what: &str, text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| unreadable(what, e))
}

fn image_from_row(row: &PgRow) -> Result<ImageRecord, StoreError> {
    let policy = row.get::<Option<i64>, _>(9).map(|version| PolicyRef {
        tenant: row.get(8),
        version,
    });
    Ok(ImageRecord {
        id: row.get(0),
        tenant: row
            .get::<String, _>(1)
            .parse()
            .map_err(|e| unreadable("image tenant", e))?,
        repository: row
            .get::<String, _>(2)
            .parse()
            .map_err(|e| unreadable("image repository", e))?,
        digest: parse_digest(row.get::<&str, _>(3))?,
        media_type: row.get(4),
        state: row.get::<String, _>(5).parse()?,
        reason: row.get(6),
        verdict: row
            .get::<Option<String>, _>(7)
            .map(|v| json_from("image verdict", &v))
            .transpose()?,
        policy,
        attempts: read_count(row.get(10)),
        created_at: from_millis(row.get(11)),
        updated_at: from_millis(row.get(12)),
        pushed_by: row.get(13),
    })
}

fn job_from_row(row: &PgRow) -> Result<Job, StoreError> {
    Ok(Job {
        id: row.get(0),
        kind: kind_from(row.get::<&str, _>(1))?,
        lane: lane_from(row.get(2))?,
        tenant: row
            .get::<String, _>(3)
            .parse()
            .map_err(|e| unreadable("job tenant", e))?,
        image_id: row.get(4),
        attempts: read_count(row.get(5)),
        max_attempts: read_count(row.get(6)),
        worker: row.get::<Option<String>, _>(7).unwrap_or_default(),
        lease_expires_at: from_millis(row.get::<Option<i64>, _>(8).unwrap_or(0)),
    })
}

fn exception_from_row(row: &PgRow) -> Result<ExceptionRecord, StoreError> {
    Ok(ExceptionRecord {
        id: row.get(0),
        tenant: row
            .get::<String, _>(1)
            .parse()
            .map_err(|e| unreadable("exception tenant", e))?,
        vulnerability: row.get(2),
        package: row.get(3),
        repository: row.get(4),
        digest: row.get(5),
        reason: row.get(6),
        requested_by: row.get(7),
        approved_by: row.get(8),
        approved_at: row.get::<Option<i64>, _>(9).map(from_millis),
        expires_at: from_millis(row.get(10)),
        revoked_at: row.get::<Option<i64>, _>(11).map(from_millis),
        created_at: from_millis(row.get(12)),
    })
}

pub(crate) fn outbox_from_row(row: &PgRow) -> Result<OutboxEvent, StoreError> {
    Ok(OutboxEvent {
        id: row.get(0),
        event_type: row.get(1),
        tenant: row.get(2),
        subject: row.get(3),
        time: from_millis(row.get(4)),
        data: json_from("outbox event data", row.get::<&str, _>(5))?,
    })
}

/// The tenant segment of an `unscanned/<tenant>/...` repository name.
fn tenant_of_unscanned(repository: &str) -> Option<TenantId> {
    repository
        .strip_prefix("unscanned/")?
        .split('/')
        .next()?
        .parse()
        .ok()
}

/// Reads image `id` inside a write transaction and locks its row
/// (`FOR NO KEY UPDATE`) until the transaction ends: the compare-and-set
/// on its state and the per-image history numbering rely on that lock.
/// (`NO KEY`: rows that merely reference the image, like a new job, are not
/// held up by it.)
async fn load_image(conn: &mut PgConnection, id: i64) -> Result<ImageRecord, StoreError> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {IMAGE_COLUMNS} FROM images WHERE id = $1 FOR NO KEY UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error("look up image"))?
    .as_ref()
    .map(image_from_row)
    .transpose()?
    .ok_or_else(|| StoreError::NotFound(format!("image {id}")))
}

async fn append_history(
    conn: &mut PgConnection,
    image_id: i64,
    from: Option<ImageState>,
    to: ImageState,
    detail: &serde_json::Value,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO image_history (image_id, seq, at, from_state, to_state, detail)
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM image_history WHERE image_id = $1",
    )
    .bind(image_id)
    .bind(at)
    .bind(from.map(ImageState::as_str))
    .bind(to.as_str())
    .bind(detail.to_string())
    .execute(&mut *conn)
    .await
    .map(|_| ())
    .map_err(db_error("append image history"))
}

pub(crate) async fn append_outbox(
    conn: &mut PgConnection,
    events: &[OutboxEvent],
) -> Result<(), StoreError> {
    for event in events {
        sqlx::query(
            "INSERT INTO outbox (id, type, tenant, subject, time, data) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(event.id.clone())
        .bind(event.event_type.clone())
        .bind(event.tenant.clone())
        .bind(event.subject.clone())
        .bind(to_millis(event.time))
        .bind(event.data.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_error("append outbox event"))?;
    }
    Ok(())
}

async fn insert_job(conn: &mut PgConnection, job: &NewJob) -> Result<i64, StoreError> {
    let now = now_millis();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO jobs (kind, lane, tenant, image_id, state, attempts, max_attempts, run_after,
             created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'ready', 0, $5, $6, $7, $8) RETURNING id",
    )
    .bind(job.kind.as_str())
    .bind(job.lane as i64)
    .bind(job.tenant.as_str().to_owned())
    .bind(job.image_id)
    .bind(count_value(job.max_attempts))
    .bind(to_millis(job.run_after))
    .bind(now)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_error("enqueue job"))?;
    notify_jobs(conn).await?;
    Ok(id)
}

/// Wakes the workers listening on [`JOBS_CHANNEL`] when the caller's
/// transaction commits (PostgreSQL folds repeated notifications of one
/// transaction into one). The payload is the schema, so stores on other
/// schemas of the same database ignore it.
async fn notify_jobs(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, current_schema())")
        .bind(JOBS_CHANNEL)
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(db_error("notify workers of a job"))
}

/// `Conflict` unless `worker` holds the lease on job `job_id`. Locks the
/// job row (`FOR NO KEY UPDATE`, which `lease_job`'s `SKIP LOCKED` skips), so the lease cannot be taken over before the
/// caller's transaction ends.
async fn check_lease(conn: &mut PgConnection, job_id: i64, worker: &str) -> Result<(), StoreError> {
    let held = sqlx::query(
        "SELECT 1 FROM jobs WHERE id = $1 AND state = 'leased' AND worker = $2
         FOR NO KEY UPDATE",
    )
    .bind(job_id)
    .bind(worker.to_owned())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error("check job lease"))?
    .is_some();
    if held {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "job {job_id} is not leased by {worker}"
        )))
    }
}

/// Ends job `job_id`, whose lease the caller has checked.
async fn end_job(
    conn: &mut PgConnection,
    job_id: i64,
    outcome: &JobOutcome,
) -> Result<(), StoreError> {
    let now = now_millis();
    let query = match outcome {
        JobOutcome::Done => sqlx::query(
            "UPDATE jobs SET state = 'done', lease_expires_at = NULL, updated_at = $1 WHERE id = $2",
        )
        .bind(now)
        .bind(job_id),
        JobOutcome::Retry { run_after, error } => sqlx::query(
            "UPDATE jobs SET state = 'ready', run_after = $1, last_error = $2, worker = NULL,
                 lease_expires_at = NULL, updated_at = $3
             WHERE id = $4",
        )
        .bind(to_millis(*run_after))
        .bind(error.clone())
        .bind(now)
        .bind(job_id),
        JobOutcome::Dead { error } => sqlx::query(
            "UPDATE jobs SET state = 'dead', last_error = $1, lease_expires_at = NULL, updated_at = $2
             WHERE id = $3",
        )
        .bind(error.clone())
        .bind(now)
        .bind(job_id),
    };
    query
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(db_error("end job"))
}

/// Applies `transition` on `conn` (inside a write transaction); writes
/// nothing and returns `Conflict` when the image is not in `from` or the
/// finished job's lease is lost.
async fn apply_transition(
    conn: &mut PgConnection,
    transition: &Transition,
) -> Result<ImageRecord, StoreError> {
    let mut image = load_image(conn, transition.image_id).await?;
    if image.state != transition.from {
        return Err(StoreError::Conflict(format!(
            "image {} is {}, not {}",
            image.id, image.state, transition.from
        )));
    }
    if let Some((job_id, worker, _)) = &transition.finish {
        check_lease(conn, *job_id, worker).await?;
    }
    let now = now_millis();
    image.state = transition.to;
    if let Some(reason) = &transition.reason {
        image.reason = Some(reason.clone());
    } else if transition.to != ImageState::Rejected {
        // A reason explains a rejection; it goes when the image leaves it.
        image.reason = None;
    }
    if let Some(verdict) = &transition.verdict {
        image.verdict = Some(verdict.clone());
    }
    if let Some(policy) = &transition.policy {
        image.policy = Some(policy.clone());
    }
    if let Some(attempts) = transition.attempts {
        image.attempts = attempts;
    }
    image.updated_at = from_millis(now);
    sqlx::query(
        "UPDATE images SET state = $1, reason = $2, verdict = $3, policy_tenant = $4, policy_version = $5,
             attempts = $6, updated_at = $7
         WHERE id = $8",
    )
    .bind(image.state.as_str())
    .bind(image.reason.clone())
    .bind(image.verdict.as_ref().map(ToString::to_string))
    .bind(image.policy.as_ref().and_then(|p| p.tenant.clone()))
    .bind(image.policy.as_ref().map(|p| p.version))
    .bind(count_value(image.attempts))
    .bind(now)
    .bind(image.id)
    .execute(&mut *conn)
    .await
    .map_err(db_error("update image state"))?;
    append_history(
        conn,
        image.id,
        Some(transition.from),
        transition.to,
        &transition.detail,
        now,
    )
    .await?;
    append_in(conn, &transition.audit).await?;
    append_outbox(conn, &transition.outbox).await?;
    if let Some(report) = &transition.report {
        insert_scan_report(conn, report).await?;
    }
    if let Some(findings) = &transition.findings {
        crate::search::replace_findings(conn, image.id, findings, image.verdict.as_ref(), now)
            .await?;
    }
    if let Some(job) = &transition.enqueue {
        insert_job(conn, job).await?;
    }
    if let Some((job_id, _, outcome)) = &transition.finish {
        end_job(conn, *job_id, outcome).await?;
    }
    Ok(image)
}

async fn insert_scan_report(
    conn: &mut PgConnection,
    report: &ScanReportRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO scan_reports (scan_id, image_id, tenant, repository, digest, prefix, passed,
             created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(report.scan_id.clone())
    .bind(report.image_id)
    .bind(report.tenant.as_str().to_owned())
    .bind(report.repository.as_str().to_owned())
    .bind(report.digest.to_string())
    .bind(report.prefix.clone())
    .bind(report.passed)
    .bind(to_millis(report.created_at))
    .execute(&mut *conn)
    .await
    .map_err(db_error("record scan report"))?;
    Ok(())
}

fn scan_report_from_row(row: &PgRow) -> Result<ScanReportRecord, StoreError> {
    Ok(ScanReportRecord {
        scan_id: row.get(0),
        image_id: row.get(1),
        tenant: row
            .get::<String, _>(2)
            .parse()
            .map_err(|e| unreadable("scan report tenant", e))?,
        repository: row
            .get::<String, _>(3)
            .parse()
            .map_err(|e| unreadable("scan report repository", e))?,
        digest: parse_digest(row.get::<&str, _>(4))?,
        prefix: row.get(5),
        passed: row.get(6),
        created_at: from_millis(row.get(7)),
    })
}

/// The digests to copy when promoting `root` out of `repository_id`: the
/// manifest, its child manifests and the manifests that name any of these
/// as their subject (signatures, SBOMs), closed transitively, restricted to
/// manifests present in the repository.
async fn promotion_closure(
    conn: &mut PgConnection,
    repository_id: i64,
    root: &str,
) -> Result<BTreeSet<String>, StoreError> {
    let mut found = BTreeSet::from([root.to_owned()]);
    let mut pending = vec![root.to_owned()];
    while let Some(digest) = pending.pop() {
        let related: Vec<String> = sqlx::query_scalar(
            "SELECT mr.child_digest FROM manifest_references mr
             JOIN repository_manifests rm ON rm.digest = mr.child_digest AND rm.repository_id = $1
             WHERE mr.manifest_digest = $2 AND mr.kind = 'manifest'
             UNION
             SELECT m.digest FROM manifests m
             JOIN repository_manifests rm ON rm.digest = m.digest AND rm.repository_id = $1
             WHERE m.subject = $2",
        )
        .bind(repository_id)
        .bind(digest)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error("collect manifests to promote"))?;
        for next in related {
            if found.insert(next.clone()) {
                pending.push(next);
            }
        }
    }
    Ok(found)
}

#[async_trait::async_trait]
impl GateStore for PgStore {
    async fn record_push(
        &self,
        image: &PushedImage,
        audit: &[AuditEvent],
        outbox: &[OutboxEvent],
    ) -> Result<(ImageRecord, bool), StoreError> {
        let mut tx = begin(&self.pool, "push record").await?;
        let now = now_millis();
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO images (tenant, repository, digest, media_type, state, attempts, created_at,
                 updated_at, pushed_by)
             VALUES ($1, $2, $3, $4, 'received', 0, $5, $6, $7)
             ON CONFLICT (repository, digest) DO NOTHING RETURNING id",
        )
        .bind(image.tenant.as_str().to_owned())
        .bind(image.repository.as_str().to_owned())
        .bind(image.digest.to_string())
        .bind(image.media_type.clone())
        .bind(now)
        .bind(now)
        .bind(image.pushed_by.clone())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error("record push"))?;
        let Some(id) = inserted else {
            let existing = sqlx::query(AssertSqlSafe(format!(
                "SELECT {IMAGE_COLUMNS} FROM images WHERE repository = $1 AND digest = $2"
            )))
            .bind(image.repository.as_str().to_owned())
            .bind(image.digest.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error("look up pushed image"))?;
            return Ok((image_from_row(&existing)?, false));
        };
        append_history(
            &mut tx,
            id,
            None,
            ImageState::Received,
            &serde_json::Value::Null,
            now,
        )
        .await?;
        append_in(&mut tx, audit).await?;
        append_outbox(&mut tx, outbox).await?;
        let record = load_image(&mut tx, id).await?;
        commit(tx, "push record").await?;
        Ok((record, true))
    }

    async fn image(&self, id: i64) -> Result<Option<ImageRecord>, StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {IMAGE_COLUMNS} FROM images WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error("look up image"))?
        .as_ref()
        .map(image_from_row)
        .transpose()
    }

    async fn images_by_digest(
        &self,
        tenant: &TenantId,
        digest: &Digest,
    ) -> Result<Vec<ImageRecord>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {IMAGE_COLUMNS} FROM images WHERE tenant = $1 AND digest = $2 ORDER BY repository"
        )))
        .bind(tenant.as_str().to_owned())
        .bind(digest.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("list images by digest"))?;
        rows.iter().map(image_from_row).collect()
    }

    async fn images(
        &self,
        tenant: Option<&TenantId>,
        state: Option<ImageState>,
        limit: usize,
    ) -> Result<Vec<ImageRecord>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {IMAGE_COLUMNS} FROM images
             WHERE ($1 IS NULL OR tenant = $1) AND ($2 IS NULL OR state = $2)
             ORDER BY created_at DESC, id DESC LIMIT $3"
        )))
        .bind(tenant.map(|t| t.as_str().to_owned()))
        .bind(state.map(ImageState::as_str))
        .bind(limit_value(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("list images"))?;
        rows.iter().map(image_from_row).collect()
    }

    async fn history(&self, id: i64) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, from_state, to_state, detail FROM image_history WHERE image_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("read image history"))?;
        rows.iter()
            .map(|row| {
                Ok(HistoryEntry {
                    at: from_millis(row.get(0)),
                    from: row
                        .get::<Option<String>, _>(1)
                        .map(|s| s.parse())
                        .transpose()?,
                    to: row.get::<String, _>(2).parse()?,
                    detail: json_from("history detail", row.get::<&str, _>(3))?,
                })
            })
            .collect()
    }

    async fn transition(&self, transition: &Transition) -> Result<ImageRecord, StoreError> {
        let mut tx = begin(&self.pool, "image transition").await?;
        let image = apply_transition(&mut tx, transition).await?;
        commit(tx, "image transition").await?;
        Ok(image)
    }

    async fn promote(
        &self,
        target: &RepoName,
        transition: &Transition,
    ) -> Result<ImageRecord, StoreError> {
        if transition.to != ImageState::Promoted {
            return Err(StoreError::Conflict(format!(
                "a promotion must go to promoted, not {}",
                transition.to
            )));
        }
        let mut tx = begin(&self.pool, "promotion").await?;
        let image = load_image(&mut tx, transition.image_id).await?;
        if image.state != transition.from {
            return Err(StoreError::Conflict(format!(
                "image {} is {}, not {}",
                image.id, image.state, transition.from
            )));
        }
        let source_id = PgStore::repository_id(&mut tx, &image.repository)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("repository {}", image.repository)))?;
        let root = image.digest.to_string();
        let present = sqlx::query(
            "SELECT 1 FROM repository_manifests WHERE repository_id = $1 AND digest = $2",
        )
        .bind(source_id)
        .bind(root.clone())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error("look up manifest to promote"))?
        .is_some();
        if !present {
            return Err(StoreError::NotFound(format!(
                "manifest {root} in {}",
                image.repository
            )));
        }
        let target_id = PgStore::ensure_repository(&mut tx, target).await?;
        let now = now_millis();
        for digest in promotion_closure(&mut tx, source_id, &root).await? {
            // Linking blobs takes their shared blob locks, as every link
            // does (see `metadata`), so a concurrent sweep cannot delete
            // one between this link and its commit.
            sqlx::query(
                "SELECT pg_advisory_xact_lock_shared($1, hashtext(child_digest))::text
                 FROM manifest_references WHERE manifest_digest = $2 AND kind = 'blob'
                 ORDER BY child_digest",
            )
            .bind(crate::metadata::BLOB_LOCK_CLASS)
            .bind(digest.clone())
            .execute(&mut *tx)
            .await
            .map_err(db_error("lock promoted blobs"))?;
            sqlx::query(
                "INSERT INTO blob_links (repository_id, digest, size, linked_at)
                 SELECT $1, l.digest, l.size, $3 FROM blob_links l
                 WHERE l.repository_id = $2 AND l.digest IN (
                     SELECT child_digest FROM manifest_references
                     WHERE manifest_digest = $4 AND kind = 'blob')
                 ON CONFLICT (repository_id, digest) DO NOTHING",
            )
            .bind(target_id)
            .bind(source_id)
            .bind(now)
            .bind(digest.clone())
            .execute(&mut *tx)
            .await
            .map_err(db_error("link promoted blobs"))?;
            sqlx::query(
                "INSERT INTO repository_manifests (repository_id, digest, pushed_at) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .bind(target_id)
            .bind(digest)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_error("add promoted manifest"))?;
        }
        sqlx::query(
            "INSERT INTO tags (repository_id, name, digest, updated_at)
             SELECT $1, name, digest, $3 FROM tags WHERE repository_id = $2 AND digest = $4
             ON CONFLICT (repository_id, name)
             DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at",
        )
        .bind(target_id)
        .bind(source_id)
        .bind(now)
        .bind(root)
        .execute(&mut *tx)
        .await
        .map_err(db_error("tag promoted manifest"))?;
        let image = apply_transition(&mut tx, transition).await?;
        commit(tx, "promotion").await?;
        Ok(image)
    }

    async fn unrecorded_pushes(&self, limit: usize) -> Result<Vec<PushedImage>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.name, rm.digest, m.media_type FROM repository_manifests rm
             JOIN repositories r ON r.id = rm.repository_id
             JOIN manifests m ON m.digest = rm.digest
             WHERE r.name LIKE 'unscanned/%'
               AND m.subject IS NULL
               AND NOT EXISTS (SELECT 1 FROM images i WHERE i.repository = r.name AND i.digest = rm.digest)
             ORDER BY rm.pushed_at, r.name, rm.digest LIMIT $1",
        )
        .bind(limit_value(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("list unrecorded pushes"))?;
        let mut pushes = Vec::with_capacity(rows.len());
        for row in rows {
            let name: String = row.get(0);
            let Some(tenant) = tenant_of_unscanned(&name) else {
                tracing::warn!(repository = %name, "skipping a push to a repository without a tenant");
                continue;
            };
            pushes.push(PushedImage {
                tenant,
                repository: name.parse().map_err(|e| unreadable("repository", e))?,
                digest: parse_digest(row.get::<&str, _>(1))?,
                media_type: row.get(2),
                pushed_by: None,
            });
        }
        Ok(pushes)
    }

    async fn is_index_child(
        &self,
        repository: &RepoName,
        digest: &Digest,
    ) -> Result<bool, StoreError> {
        sqlx::query(
            "SELECT 1 FROM manifest_references mr
             JOIN repository_manifests rm ON rm.digest = mr.manifest_digest
             JOIN repositories r ON r.id = rm.repository_id
             WHERE r.name = $1 AND mr.child_digest = $2 AND mr.kind = 'manifest' LIMIT 1",
        )
        .bind(repository.as_str().to_owned())
        .bind(digest.to_string())
        .fetch_optional(&self.pool)
        .await
        .map(|r| r.is_some())
        .map_err(db_error("check index membership"))
    }

    async fn enqueue(&self, job: &NewJob) -> Result<i64, StoreError> {
        let mut tx = begin(&self.pool, "job enqueue").await?;
        let id = insert_job(&mut tx, job).await?;
        commit(tx, "job enqueue").await?;
        Ok(id)
    }

    /// Also takes over jobs whose lease expired, even when that attempt
    /// exceeds `max_attempts`: the caller decides what an exhausted job
    /// becomes.
    async fn lease_job(
        &self,
        worker: &str,
        lease: std::time::Duration,
        now: OffsetDateTime,
    ) -> Result<Option<Job>, StoreError> {
        let mut tx = begin(&self.pool, "job lease").await?;
        let now_ms = to_millis(now);
        let expires = to_millis(now + lease);
        // `FOR UPDATE OF j SKIP LOCKED`: a job another worker is leasing
        // right now is skipped, not waited for, and the lock taken here
        // keeps it ours until commit. A candidate that another worker leased
        // and committed since this statement's snapshot is re-checked
        // against the `WHERE` clause after locking and dropped, so a job is
        // never leased twice. The fairness order is SQLite's: push lane
        // first; within it the tenant with the fewest live leases, then
        // the tenant served longest ago (never served first), then the
        // oldest job.
        let candidate: Option<i64> = sqlx::query_scalar(
            "WITH busy AS (
                 SELECT tenant, COUNT(*) AS leased FROM jobs
                 WHERE state = 'leased' AND lease_expires_at > $1
                 GROUP BY tenant)
             SELECT j.id FROM jobs j
             LEFT JOIN tenant_service s ON s.tenant = j.tenant
             LEFT JOIN busy b ON b.tenant = j.tenant
             WHERE (j.state = 'ready' AND j.run_after <= $1)
                OR (j.state = 'leased' AND j.lease_expires_at <= $1)
             ORDER BY j.lane,
                 COALESCE(b.leased, 0),
                 s.last_served_at IS NOT NULL, s.last_served_at,
                 j.created_at, j.id
             LIMIT 1
             FOR UPDATE OF j SKIP LOCKED",
        )
        .bind(now_ms)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error("choose job to lease"))?;
        let Some(id) = candidate else {
            return Ok(None);
        };
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE jobs SET state = 'leased', worker = $1, lease_expires_at = $2,
                 attempts = attempts + 1, updated_at = $3
             WHERE id = $4 RETURNING {JOB_COLUMNS}"
        )))
        .bind(worker.to_owned())
        .bind(expires)
        .bind(now_millis())
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error("lease job"))?;
        let job = job_from_row(&row)?;
        sqlx::query(
            "INSERT INTO tenant_service (tenant, last_served_at) VALUES ($1, $2)
             ON CONFLICT (tenant) DO UPDATE SET last_served_at = excluded.last_served_at",
        )
        .bind(job.tenant.as_str().to_owned())
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(db_error("record tenant service"))?;
        commit(tx, "job lease").await?;
        Ok(Some(job))
    }

    async fn heartbeat(
        &self,
        job_id: i64,
        worker: &str,
        until: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = begin(&self.pool, "job heartbeat").await?;
        let changed = sqlx::query(
            "UPDATE jobs SET lease_expires_at = $1, updated_at = $2
             WHERE id = $3 AND state = 'leased' AND worker = $4",
        )
        .bind(to_millis(until))
        .bind(now_millis())
        .bind(job_id)
        .bind(worker.to_owned())
        .execute(&mut *tx)
        .await
        .map_err(db_error("extend job lease"))?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::Conflict(format!(
                "job {job_id} is not leased by {worker}"
            )));
        }
        commit(tx, "job heartbeat").await
    }

    async fn finish_job(
        &self,
        job_id: i64,
        worker: &str,
        outcome: &JobOutcome,
        audit: &[AuditEvent],
        outbox: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        let mut tx = begin(&self.pool, "job finish").await?;
        check_lease(&mut tx, job_id, worker).await?;
        end_job(&mut tx, job_id, outcome).await?;
        append_in(&mut tx, audit).await?;
        append_outbox(&mut tx, outbox).await?;
        commit(tx, "job finish").await
    }

    /// Listens on `airlock_jobs` (one `LISTEN` connection per store), so a
    /// worker hears an enqueue in any process at once.
    async fn wait_for_jobs(&self, at_most: Duration) {
        self.jobs.wait(&self.options, at_most).await;
    }

    async fn pending_jobs(&self) -> Result<u64, StoreError> {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM jobs WHERE state IN ('ready', 'leased')")
            .fetch_one(&self.pool)
            .await
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(db_error("count pending jobs"))
    }

    async fn leased_workers(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar::<_, String>(
            "SELECT DISTINCT worker FROM jobs WHERE state = 'leased' AND worker IS NOT NULL ORDER BY worker",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("list leased workers"))
    }

    async fn release_leases(&self, worker: &str) -> Result<u64, StoreError> {
        let mut tx = begin(&self.pool, "lease release").await?;
        let released = sqlx::query(
            "UPDATE jobs SET state = 'ready', worker = NULL, lease_expires_at = NULL
             WHERE state = 'leased' AND worker = $1",
        )
        .bind(worker.to_owned())
        .execute(&mut *tx)
        .await
        .map_err(db_error("release leases"))?
        .rows_affected();
        if released > 0 {
            notify_jobs(&mut tx).await?;
        }
        commit(tx, "lease release").await?;
        Ok(released)
    }

    async fn put_inventory(
        &self,
        digest: &Digest,
        reports: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut tx = begin(&self.pool, "inventory store").await?;
        sqlx::query(
            "INSERT INTO inventories (digest, reports, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (digest) DO UPDATE SET reports = excluded.reports, created_at = excluded.created_at",
        )
        .bind(digest.to_string())
        .bind(reports.to_string())
        .bind(now_millis())
        .execute(&mut *tx)
        .await
        .map_err(db_error("store inventory"))?;
        commit(tx, "inventory store").await
    }

    async fn inventory(&self, digest: &Digest) -> Result<Option<serde_json::Value>, StoreError> {
        let reports: Option<String> =
            sqlx::query_scalar("SELECT reports FROM inventories WHERE digest = $1")
                .bind(digest.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error("look up inventory"))?;
        reports.map(|r| json_from("inventory", &r)).transpose()
    }

    async fn put_policy(
        &self,
        tenant: Option<&TenantId>,
        document: &str,
        author: &str,
        audit: &AuditEvent,
        outbox: &[OutboxEvent],
    ) -> Result<i64, StoreError> {
        let mut tx = begin(&self.pool, "policy store").await?;
        let scope = tenant.map_or_else(String::new, |t| t.as_str().to_owned());
        // Two writers of one scope would read the same highest version: a
        // transaction-scoped advisory lock on the scope serialises them.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('airlock.policies/' || $1, 0))")
            .bind(scope.clone())
            .execute(&mut *tx)
            .await
            .map_err(db_error("lock policy scope"))?;
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO policies (scope, version, document, author, created_at)
             SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4 FROM policies WHERE scope = $1
             RETURNING version",
        )
        .bind(scope)
        .bind(document.to_owned())
        .bind(author.to_owned())
        .bind(now_millis())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error("store policy"))?;
        append_in(&mut tx, std::slice::from_ref(audit)).await?;
        append_outbox(&mut tx, outbox).await?;
        commit(tx, "policy store").await?;
        Ok(version)
    }

    async fn policy(&self, tenant: Option<&TenantId>) -> Result<Option<PolicyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT version, document, author, created_at FROM policies
             WHERE scope = $1 ORDER BY version DESC LIMIT 1",
        )
        .bind(tenant.map_or_else(String::new, |t| t.as_str().to_owned()))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error("look up policy"))?;
        Ok(row.map(|row| PolicyRecord {
            tenant: tenant.cloned(),
            version: row.get(0),
            document: row.get(1),
            author: row.get(2),
            created_at: from_millis(row.get(3)),
        }))
    }

    async fn policy_versions(
        &self,
        tenant: Option<&TenantId>,
    ) -> Result<Vec<PolicyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT version, document, author, created_at FROM policies
             WHERE scope = $1 ORDER BY version DESC",
        )
        .bind(tenant.map_or_else(String::new, |t| t.as_str().to_owned()))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("list policy versions"))?;
        Ok(rows
            .into_iter()
            .map(|row| PolicyRecord {
                tenant: tenant.cloned(),
                version: row.get(0),
                document: row.get(1),
                author: row.get(2),
                created_at: from_millis(row.get(3)),
            })
            .collect())
    }

    async fn create_exception(
        &self,
        exception: &ExceptionRecord,
        audit: &AuditEvent,
        outbox: &[OutboxEvent],
    ) -> Result<ExceptionRecord, StoreError> {
        let mut tx = begin(&self.pool, "exception create").await?;
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO exceptions (tenant, vulnerability, package, repository, digest, reason,
                 requested_by, approved_by, approved_at, expires_at, revoked_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING seq",
        )
        .bind(exception.tenant.as_str().to_owned())
        .bind(exception.vulnerability.clone())
        .bind(exception.package.clone())
        .bind(exception.repository.clone())
        .bind(exception.digest.clone())
        .bind(exception.reason.clone())
        .bind(exception.requested_by.clone())
        .bind(exception.approved_by.clone())
        .bind(exception.approved_at.map(to_millis))
        .bind(to_millis(exception.expires_at))
        .bind(exception.revoked_at.map(to_millis))
        .bind(to_millis(exception.created_at))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error("create exception"))?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE exceptions SET id = 'EXC-' || seq WHERE seq = $1 RETURNING {EXCEPTION_COLUMNS}"
        )))
        .bind(seq)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error("number exception"))?;
        let created = exception_from_row(&row)?;
        append_in(&mut tx, std::slice::from_ref(audit)).await?;
        append_outbox(&mut tx, outbox).await?;
        commit(tx, "exception create").await?;
        Ok(created)
    }

    async fn exception(&self, id: &str) -> Result<Option<ExceptionRecord>, StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE id = $1"
        )))
        .bind(id.to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error("look up exception"))?
        .as_ref()
        .map(exception_from_row)
        .transpose()
    }

    async fn approve_exception(
        &self,
        id: &str,
        approver: &str,
        at: OffsetDateTime,
        audit: &AuditEvent,
        outbox: &[OutboxEvent],
    ) -> Result<ExceptionRecord, StoreError> {
        let mut tx = begin(&self.pool, "exception approval").await?;
        let current = sqlx::query(AssertSqlSafe(format!(
            "SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE id = $1 FOR UPDATE"
        )))
        .bind(id.to_owned())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error("look up exception"))?
        .as_ref()
        .map(exception_from_row)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound(format!("exception {id}")))?;
        if current.revoked_at.is_some() {
            return Err(StoreError::Conflict(format!("exception {id} is revoked")));
        }
        if current.approved_by.is_some() {
            return Err(StoreError::Conflict(format!(
                "exception {id} is already approved"
            )));
        }
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE exceptions SET approved_by = $1, approved_at = $2 WHERE id = $3
             RETURNING {EXCEPTION_COLUMNS}"
        )))
        .bind(approver.to_owned())
        .bind(to_millis(at))
        .bind(id.to_owned())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error("approve exception"))?;
        let approved = exception_from_row(&row)?;
        append_in(&mut tx, std::slice::from_ref(audit)).await?;
        append_outbox(&mut tx, outbox).await?;
        commit(tx, "exception approval").await?;
        Ok(approved)
    }

    async fn revoke_exception(
        &self,
        id: &str,
        at: OffsetDateTime,
        audit: &AuditEvent,
        outbox: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        let mut tx = begin(&self.pool, "exception revocation").await?;
        let changed = sqlx::query(
            "UPDATE exceptions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(to_millis(at))
        .bind(id.to_owned())
        .execute(&mut *tx)
        .await
        .map_err(db_error("revoke exception"))?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound(format!("active exception {id}")));
        }
        append_in(&mut tx, std::slice::from_ref(audit)).await?;
        append_outbox(&mut tx, outbox).await?;
        commit(tx, "exception revocation").await
    }

    async fn exceptions(&self, tenant: &TenantId) -> Result<Vec<ExceptionRecord>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE tenant = $1 ORDER BY seq DESC"
        )))
        .bind(tenant.as_str().to_owned())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("list exceptions"))?;
        rows.iter().map(exception_from_row).collect()
    }

    async fn unnoticed_expiries(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<ExceptionRecord>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {EXCEPTION_COLUMNS} FROM exceptions
             WHERE expires_at <= $1 AND revoked_at IS NULL AND expiry_noticed_at IS NULL
             ORDER BY seq"
        )))
        .bind(to_millis(now))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("list expired exceptions"))?;
        rows.iter().map(exception_from_row).collect()
    }

    async fn notice_expiry(
        &self,
        id: &str,
        at: OffsetDateTime,
        audit: &AuditEvent,
        outbox: &[OutboxEvent],
    ) -> Result<bool, StoreError> {
        let mut tx = begin(&self.pool, "exception expiry").await?;
        let changed = sqlx::query(
            "UPDATE exceptions SET expiry_noticed_at = $1 WHERE id = $2 AND expiry_noticed_at IS NULL",
        )
        .bind(to_millis(at))
        .bind(id.to_owned())
        .execute(&mut *tx)
        .await
        .map_err(db_error("notice exception expiry"))?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        append_in(&mut tx, std::slice::from_ref(audit)).await?;
        append_outbox(&mut tx, outbox).await?;
        commit(tx, "exception expiry").await?;
        Ok(true)
    }

    async fn scan_reports(
        &self,
        tenant: &TenantId,
        digest: &Digest,
    ) -> Result<Vec<ScanReportRecord>, StoreError> {
        sqlx::query(
            "SELECT scan_id, image_id, tenant, repository, digest, prefix, passed, created_at
             FROM scan_reports WHERE tenant = $1 AND digest = $2
             ORDER BY created_at DESC, seq DESC",
        )
        .bind(tenant.as_str().to_owned())
        .bind(digest.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("list scan reports"))?
        .iter()
        .map(scan_report_from_row)
        .collect()
    }

    async fn outbox(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, type, tenant, subject, time, data FROM outbox
             WHERE delivered_at IS NULL ORDER BY seq LIMIT $1",
        )
        .bind(limit_value(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("read outbox"))?;
        rows.iter().map(outbox_from_row).collect()
    }

    async fn outbox_event(&self, id: &str) -> Result<Option<OutboxEvent>, StoreError> {
        sqlx::query("SELECT id, type, tenant, subject, time, data FROM outbox WHERE id = $1")
            .bind(id.to_owned())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error("read outbox event"))?
            .as_ref()
            .map(outbox_from_row)
            .transpose()
    }

    async fn mark_delivered(&self, ids: &[String], at: OffsetDateTime) -> Result<(), StoreError> {
        let mut tx = begin(&self.pool, "outbox delivery").await?;
        for id in ids {
            sqlx::query(
                "UPDATE outbox SET delivered_at = $1 WHERE id = $2 AND delivered_at IS NULL",
            )
            .bind(to_millis(at))
            .bind(id.clone())
            .execute(&mut *tx)
            .await
            .map_err(db_error("mark outbox event delivered"))?;
        }
        commit(tx, "outbox delivery").await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::{Duration, Instant};

    use airlock_audit::{Actor, AuditEvent};
    use airlock_auth::TenantId;
    use airlock_oci::Digest;
    use airlock_store::{
        GateStore, ImageState, JobKind, Lane, NewJob, OutboxEvent, PushedImage, StoreError,
        Subscription, Transition, WebhookStore,
    };
    use time::OffsetDateTime;

    use crate::PgStore;
    use crate::testing::TestDatabase;

    /// An image row for jobs to point at (the queue needs nothing else).
    async fn image_for_jobs(store: &PgStore, tenant: &str) -> i64 {
        sqlx::query_scalar(
            "INSERT INTO images (tenant, repository, digest, media_type, state, created_at,
                 updated_at)
             VALUES ($1, $2, $3, 'application/vnd.oci.image.manifest.v1+json', 'queued', 0, 0)
             RETURNING id",
        )
        .bind(tenant)
        .bind(format!("unscanned/{tenant}/jobs"))
        .bind(format!("sha256:{:064x}", tenant.len()))
        .fetch_one(store.pool())
        .await
        .expect("insert an image for jobs")
    }

    fn job(tenant: &str, image_id: i64) -> NewJob {
        NewJob {
            kind: JobKind::Scan,
            lane: Lane::Push,
            tenant: tenant.parse().expect("tenant id"),
            image_id,
            run_after: OffsetDateTime::now_utc() - time::Duration::seconds(1),
            max_attempts: 3,
        }
    }

    #[tokio::test]
    async fn passes_the_gate_store_suite() {
        let db = TestDatabase::new().await;
        airlock_store::testsuite::gate_store(&db.store).await;
        db.drop_schema().await;
    }

    fn pushed(tenant: &str, repository: &str, content: &str) -> PushedImage {
        PushedImage {
            tenant: tenant.parse().expect("tenant id"),
            repository: repository.parse().expect("repository name"),
            digest: Digest::sha256_of(content.as_bytes()),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            pushed_by: None,
        }
    }

    fn audit(action: &str) -> AuditEvent {
        AuditEvent::new(Actor::system("test"), action, "target")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn racing_transitions_from_two_stores_apply_once() {
        let db = TestDatabase::new().await;
        let other = PgStore::connect_unchecked(db.options.clone())
            .await
            .expect("open a second store on the schema");
        let (image, _) = db
            .store
            .record_push(&pushed("acme", "unscanned/acme/app", "race"), &[], &[])
            .await
            .unwrap();
        let racers: Vec<_> = (0..8)
            .map(|n| {
                let store = if n % 2 == 0 {
                    db.store.clone()
                } else {
                    other.clone()
                };
                tokio::spawn(async move {
                    let mut transition =
                        Transition::new(image.id, ImageState::Received, ImageState::Queued);
                    transition.audit = vec![audit("image.queue")];
                    transition.outbox = vec![OutboxEvent::new(
                        "airlock.scan.queued",
                        Some("acme".into()),
                        format!("racer {n}"),
                        serde_json::json!({}),
                    )];
                    store.transition(&transition).await
                })
            })
            .collect();
        let mut won = 0;
        for racer in racers {
            match racer.await.expect("racer") {
                Ok(image) => {
                    won += 1;
                    assert_eq!(image.state, ImageState::Queued);
                }
                Err(StoreError::Conflict(_)) => {}
                Err(e) => panic!("unexpected error: {e}"),
            }
        }
        assert_eq!(won, 1, "exactly one transition applies");
        assert_eq!(db.store.history(image.id).await.unwrap().len(), 2);
        assert_eq!(db.store.outbox(100).await.unwrap().len(), 1);
        other.close().await;
        db.drop_schema().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_policy_writers_get_distinct_versions() {
        let db = TestDatabase::new().await;
        let other = PgStore::connect_unchecked(db.options.clone())
            .await
            .expect("open a second store on the schema");
        let tenant: TenantId = "acme".parse().unwrap();
        let writers: Vec<_> = (0..6)
            .map(|n| {
                let store = if n % 2 == 0 {
                    db.store.clone()
                } else {
                    other.clone()
                };
                let tenant = tenant.clone();
                tokio::spawn(async move {
                    store
                        .put_policy(
                            Some(&tenant),
                            &format!("# v{n}"),
                            "alice",
                            &audit("policy.set"),
                            &[],
                        )
                        .await
                })
            })
            .collect();
        let mut versions = Vec::new();
        for writer in writers {
            versions.push(writer.await.expect("writer").expect("policy stored"));
        }
        versions.sort_unstable();
        assert_eq!(versions, vec![1, 2, 3, 4, 5, 6]);
        other.close().await;
        db.drop_schema().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_fan_outs_deliver_each_event_once() {
        let db = TestDatabase::new().await;
        let other = PgStore::connect_unchecked(db.options.clone())
            .await
            .expect("open a second store on the schema");
        let now = OffsetDateTime::now_utc();
        for id in ["hook-a", "hook-b"] {
            let subscription = Subscription {
                id: id.to_owned(),
                tenant: None,
                url: format!("https://hooks.example.com/{id}"),
                events: Vec::new(),
                secret: "secret".into(),
                description: id.to_owned(),
                created_by: "root".into(),
                created_at: now,
            };
            db.store
                .create_subscription(&subscription, &audit("webhook.create"))
                .await
                .unwrap();
        }
        for n in 0..30 {
            let event = OutboxEvent::new(
                "airlock.image.pushed",
                Some("acme".into()),
                format!("event {n}"),
                serde_json::json!({ "n": n }),
            );
            db.store
                .record_push(
                    &pushed("acme", "unscanned/acme/app", &format!("fan-out {n}")),
                    &[],
                    &[event],
                )
                .await
                .unwrap();
        }
        let dispatchers: Vec<_> = (0..4)
            .map(|n| {
                let store = if n % 2 == 0 {
                    db.store.clone()
                } else {
                    other.clone()
                };
                tokio::spawn(async move {
                    let mut fanned = 0;
                    loop {
                        let batch = store.fan_out(4, OffsetDateTime::now_utc()).await.unwrap();
                        if batch == 0 {
                            return fanned;
                        }
                        fanned += batch;
                    }
                })
            })
            .collect();
        let mut fanned = 0;
        for dispatcher in dispatchers {
            fanned += dispatcher.await.expect("dispatcher");
        }
        assert_eq!(fanned, 30, "each event fanned out once");
        for id in ["hook-a", "hook-b"] {
            let deliveries = db.store.deliveries(id, usize::MAX).await.unwrap();
            assert_eq!(deliveries.len(), 30, "{id}");
            // Deliveries follow the outbox order.
            let subjects: Vec<String> = deliveries
                .iter()
                .rev()
                .map(|d| d.event.subject.clone())
                .collect();
            let expected: Vec<String> = (0..30).map(|n| format!("event {n}")).collect();
            assert_eq!(subjects, expected, "{id}");
        }
        other.close().await;
        db.drop_schema().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_workers_in_two_stores_lease_every_job_exactly_once() {
        let db = TestDatabase::new().await;
        let other = PgStore::connect_unchecked(db.options.clone())
            .await
            .expect("open a second store on the schema");
        let mut enqueued = BTreeSet::new();
        for tenant in ["acme", "globex", "initech", "umbrella"] {
            let image = image_for_jobs(&db.store, tenant).await;
            for _ in 0..10 {
                enqueued.insert(db.store.enqueue(&job(tenant, image)).await.unwrap());
            }
        }
        assert_eq!(enqueued.len(), 40);

        let mut workers = Vec::new();
        for n in 0..6 {
            let store = if n % 2 == 0 {
                db.store.clone()
            } else {
                other.clone()
            };
            workers.push(tokio::spawn(async move {
                let worker = format!("worker-{n}");
                let mut leased = Vec::new();
                while let Some(job) = store
                    .lease_job(&worker, Duration::from_secs(60), OffsetDateTime::now_utc())
                    .await
                    .expect("lease a job")
                {
                    assert_eq!(job.worker, worker);
                    leased.push(job.id);
                }
                leased
            }));
        }
        let mut all = Vec::new();
        let mut busy_workers = 0;
        for worker in workers {
            let leased = worker.await.expect("leasing loop");
            busy_workers += usize::from(!leased.is_empty());
            all.extend(leased);
        }
        all.sort_unstable();
        let unique: BTreeSet<i64> = all.iter().copied().collect();
        assert_eq!(all.len(), unique.len(), "a job was leased twice: {all:?}");
        assert_eq!(unique, enqueued, "every job leased exactly once");
        assert!(busy_workers > 1, "the leasing loops ran concurrently");
        assert_eq!(db.store.pending_jobs().await.unwrap(), 40);
        let mut holders = db.store.leased_workers().await.unwrap();
        holders.dedup();
        assert_eq!(holders.len(), busy_workers);

        other.close().await;
        db.drop_schema().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn expired_leases_are_taken_over_once_by_concurrent_workers() {
        let db = TestDatabase::new().await;
        let other = PgStore::connect_unchecked(db.options.clone())
            .await
            .expect("open a second store on the schema");
        let image = image_for_jobs(&db.store, "acme").await;
        let mut enqueued = BTreeSet::new();
        for _ in 0..12 {
            enqueued.insert(db.store.enqueue(&job("acme", image)).await.unwrap());
        }
        // A worker leases everything and dies: its leases run out.
        // (One clock reading, or its own expired leases come back to it.)
        let leased_at = OffsetDateTime::now_utc();
        let mut dead = 0;
        while dead < 100
            && db
                .store
                .lease_job("dead", Duration::from_millis(1), leased_at)
                .await
                .unwrap()
                .is_some()
        {
            dead += 1;
        }
        assert_eq!(dead, 12);
        tokio::time::sleep(Duration::from_millis(20)).await;

        let mut workers = Vec::new();
        for n in 0..6 {
            let store = if n % 2 == 0 {
                db.store.clone()
            } else {
                other.clone()
            };
            workers.push(tokio::spawn(async move {
                let worker = format!("worker-{n}");
                let mut taken = Vec::new();
                while let Some(job) = store
                    .lease_job(&worker, Duration::from_secs(60), OffsetDateTime::now_utc())
                    .await
                    .expect("lease a job")
                {
                    assert_eq!(job.attempts, 2, "the second attempt of job {}", job.id);
                    taken.push(job.id);
                }
                taken
            }));
        }
        let mut all = Vec::new();
        for worker in workers {
            all.extend(worker.await.expect("leasing loop"));
        }
        all.sort_unstable();
        let unique: BTreeSet<i64> = all.iter().copied().collect();
        assert_eq!(
            all.len(),
            unique.len(),
            "a lease was taken over twice: {all:?}"
        );
        assert_eq!(unique, enqueued);
        assert!(
            !db.store
                .leased_workers()
                .await
                .unwrap()
                .contains(&"dead".to_owned()),
            "the dead worker holds nothing"
        );
        other.close().await;
        db.drop_schema().await;
    }

    #[tokio::test]
    async fn a_waiting_worker_hears_an_enqueue_in_another_store() {
        let db = TestDatabase::new().await;
        let other = PgStore::connect_unchecked(db.options.clone())
            .await
            .expect("open a second store on the schema");
        let image = image_for_jobs(&db.store, "acme").await;

        // Nothing happens (other schemas' enqueues on the same database
        // are ignored): the wait lasts its whole bound.
        let started = Instant::now();
        db.store.wait_for_jobs(Duration::from_millis(1500)).await;
        let quiet = started.elapsed();
        assert!(
            quiet >= Duration::from_millis(1400) && quiet < Duration::from_secs(3),
            "an idle wait took {quiet:?}"
        );

        // The listener is open now; an enqueue in the other store (another
        // pool, as another process would have) wakes the waiter at once.
        let waiter = {
            let store = db.store.clone();
            tokio::spawn(async move {
                store.wait_for_jobs(Duration::from_secs(10)).await;
                Instant::now()
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let enqueued_at = Instant::now();
        other.enqueue(&job("acme", image)).await.unwrap();
        let woken_at = waiter.await.expect("waiter");
        let delay = woken_at.saturating_duration_since(enqueued_at);
        assert!(
            woken_at >= enqueued_at,
            "the waiter returned before the enqueue"
        );
        assert!(
            delay < Duration::from_secs(2),
            "woken {delay:?} after the enqueue"
        );

        // Several waiters in one store all wake on one enqueue.
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let store = db.store.clone();
                tokio::spawn(async move {
                    let started = Instant::now();
                    store.wait_for_jobs(Duration::from_secs(10)).await;
                    started.elapsed()
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        other.enqueue(&job("acme", image)).await.unwrap();
        for waiter in waiters {
            let waited = waiter.await.expect("waiter");
            assert!(waited < Duration::from_secs(3), "a waiter slept {waited:?}");
        }

        // Enqueues while nobody waits wake the next wait once, not once each.
        for _ in 0..5 {
            other.enqueue(&job("acme", image)).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        db.store.wait_for_jobs(Duration::from_secs(10)).await;
        assert!(started.elapsed() < Duration::from_secs(2));
        let started = Instant::now();
        db.store.wait_for_jobs(Duration::from_millis(1000)).await;
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(900),
            "a stale notification cut the wait to {waited:?}"
        );

        other.close().await;
        db.drop_schema().await;
    }
}
