//! The gate's state in SQLite: images, jobs, inventories, policies,
//! exceptions and the outbox.
//!
//! Every write is one `BEGIN IMMEDIATE` transaction that also appends its
//! audit records and outbox rows, so a state change, the job that caused
//! it, what it tells the auditor and what it tells subscribers commit
//! together or not at all.
//!
//! Leases: a job stays leased by its worker until the job ends or another
//! worker takes it over after `lease_expires_at`; expiry alone does not
//! revoke it, because lease times come from the caller's clock (`now`).

use std::collections::BTreeSet;

use airlock_audit::AuditEvent;
use airlock_auth::TenantId;
use airlock_oci::{Digest, RepoName};
use airlock_store::{
    ExceptionRecord, GateStore, HistoryEntry, ImageRecord, ImageState, Job, JobKind, JobOutcome,
    Lane, NewJob, OutboxEvent, PolicyRecord, PolicyRef, PushedImage, ScanReportRecord, StoreError,
    Transition,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row, SqliteConnection};
use time::OffsetDateTime;

use crate::audit::append_in;
use crate::{
    SqliteMetadataStore, begin_write, commit, db_error, from_millis, now_millis, parse_digest,
    to_millis, unreadable,
};

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

fn image_from_row(row: &SqliteRow) -> Result<ImageRecord, StoreError> {
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

fn job_from_row(row: &SqliteRow) -> Result<Job, StoreError> {
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

fn exception_from_row(row: &SqliteRow) -> Result<ExceptionRecord, StoreError> {
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

pub(crate) fn outbox_from_row(row: &SqliteRow) -> Result<OutboxEvent, StoreError> {
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

async fn load_image(conn: &mut SqliteConnection, id: i64) -> Result<ImageRecord, StoreError> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {IMAGE_COLUMNS} FROM images WHERE id = ?"
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
    conn: &mut SqliteConnection,
    image_id: i64,
    from: Option<ImageState>,
    to: ImageState,
    detail: &serde_json::Value,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO image_history (image_id, seq, at, from_state, to_state, detail)
         SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4, ?5 FROM image_history WHERE image_id = ?1",
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
    conn: &mut SqliteConnection,
    events: &[OutboxEvent],
) -> Result<(), StoreError> {
    for event in events {
        sqlx::query(
            "INSERT INTO outbox (id, type, tenant, subject, time, data) VALUES (?, ?, ?, ?, ?, ?)",
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

async fn insert_job(conn: &mut SqliteConnection, job: &NewJob) -> Result<i64, StoreError> {
    let now = now_millis();
    sqlx::query_scalar(
        "INSERT INTO jobs (kind, lane, tenant, image_id, state, attempts, max_attempts, run_after,
             created_at, updated_at)
         VALUES (?, ?, ?, ?, 'ready', 0, ?, ?, ?, ?) RETURNING id",
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
    .map_err(db_error("enqueue job"))
}

/// `Conflict` unless `worker` holds the lease on job `job_id`.
async fn check_lease(
    conn: &mut SqliteConnection,
    job_id: i64,
    worker: &str,
) -> Result<(), StoreError> {
    let held = sqlx::query("SELECT 1 FROM jobs WHERE id = ? AND state = 'leased' AND worker = ?")
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
    conn: &mut SqliteConnection,
    job_id: i64,
    outcome: &JobOutcome,
) -> Result<(), StoreError> {
    let now = now_millis();
    let query = match outcome {
        JobOutcome::Done => sqlx::query(
            "UPDATE jobs SET state = 'done', lease_expires_at = NULL, updated_at = ? WHERE id = ?",
        )
        .bind(now)
        .bind(job_id),
        JobOutcome::Retry { run_after, error } => sqlx::query(
            "UPDATE jobs SET state = 'ready', run_after = ?, last_error = ?, worker = NULL,
                 lease_expires_at = NULL, updated_at = ?
             WHERE id = ?",
        )
        .bind(to_millis(*run_after))
        .bind(error.clone())
        .bind(now)
        .bind(job_id),
        JobOutcome::Dead { error } => sqlx::query(
            "UPDATE jobs SET state = 'dead', last_error = ?, lease_expires_at = NULL, updated_at = ?
             WHERE id = ?",
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
    conn: &mut SqliteConnection,
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
        "UPDATE images SET state = ?, reason = ?, verdict = ?, policy_tenant = ?, policy_version = ?,
             attempts = ?, updated_at = ?
         WHERE id = ?",
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
    conn: &mut SqliteConnection,
    report: &ScanReportRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO scan_reports (scan_id, image_id, tenant, repository, digest, prefix, passed,
             created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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

fn scan_report_from_row(row: &SqliteRow) -> Result<ScanReportRecord, StoreError> {
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
    conn: &mut SqliteConnection,
    repository_id: i64,
    root: &str,
) -> Result<BTreeSet<String>, StoreError> {
    let mut found = BTreeSet::from([root.to_owned()]);
    let mut pending = vec![root.to_owned()];
    while let Some(digest) = pending.pop() {
        let related: Vec<String> = sqlx::query_scalar(
            "SELECT mr.child_digest FROM manifest_references mr
             JOIN repository_manifests rm ON rm.digest = mr.child_digest AND rm.repository_id = ?1
             WHERE mr.manifest_digest = ?2 AND mr.kind = 'manifest'
             UNION
             SELECT m.digest FROM manifests m
             JOIN repository_manifests rm ON rm.digest = m.digest AND rm.repository_id = ?1
             WHERE m.subject = ?2",
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
impl GateStore for SqliteMetadataStore {
    async fn record_push(
        &self,
        image: &PushedImage,
        audit: &[AuditEvent],
        outbox: &[OutboxEvent],
    ) -> Result<(ImageRecord, bool), StoreError> {
        let mut tx = begin_write(self, "push record").await?;
        let now = now_millis();
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO images (tenant, repository, digest, media_type, state, attempts, created_at,
                 updated_at, pushed_by)
             VALUES (?, ?, ?, ?, 'received', 0, ?, ?, ?)
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
                "SELECT {IMAGE_COLUMNS} FROM images WHERE repository = ? AND digest = ?"
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
            "SELECT {IMAGE_COLUMNS} FROM images WHERE id = ?"
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
            "SELECT {IMAGE_COLUMNS} FROM images WHERE tenant = ? AND digest = ? ORDER BY repository"
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
             WHERE (?1 IS NULL OR tenant = ?1) AND (?2 IS NULL OR state = ?2)
             ORDER BY created_at DESC, id DESC LIMIT ?3"
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
            "SELECT at, from_state, to_state, detail FROM image_history WHERE image_id = ? ORDER BY seq",
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
        let mut tx = begin_write(self, "image transition").await?;
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
        let mut tx = begin_write(self, "promotion").await?;
        let image = load_image(&mut tx, transition.image_id).await?;
        if image.state != transition.from {
            return Err(StoreError::Conflict(format!(
                "image {} is {}, not {}",
                image.id, image.state, transition.from
            )));
        }
        let source_id = Self::repository_id(&mut tx, &image.repository)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("repository {}", image.repository)))?;
        let root = image.digest.to_string();
        let present = sqlx::query(
            "SELECT 1 FROM repository_manifests WHERE repository_id = ? AND digest = ?",
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
        let target_id = Self::ensure_repository(&mut tx, target).await?;
        let now = now_millis();
        for digest in promotion_closure(&mut tx, source_id, &root).await? {
            sqlx::query(
                "INSERT INTO blob_links (repository_id, digest, size, linked_at)
                 SELECT ?1, l.digest, l.size, ?3 FROM blob_links l
                 WHERE l.repository_id = ?2 AND l.digest IN (
                     SELECT child_digest FROM manifest_references
                     WHERE manifest_digest = ?4 AND kind = 'blob')
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
                "INSERT INTO repository_manifests (repository_id, digest, pushed_at) VALUES (?, ?, ?)
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
             SELECT ?1, name, digest, ?3 FROM tags WHERE repository_id = ?2 AND digest = ?4
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
             ORDER BY rm.pushed_at, r.name, rm.digest LIMIT ?",
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
             WHERE r.name = ? AND mr.child_digest = ? AND mr.kind = 'manifest' LIMIT 1",
        )
        .bind(repository.as_str().to_owned())
        .bind(digest.to_string())
        .fetch_optional(&self.pool)
        .await
        .map(|r| r.is_some())
        .map_err(db_error("check index membership"))
    }

    async fn enqueue(&self, job: &NewJob) -> Result<i64, StoreError> {
        let mut tx = begin_write(self, "job enqueue").await?;
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
        let mut tx = begin_write(self, "job lease").await?;
        let now_ms = to_millis(now);
        let expires = to_millis(now + lease);
        let candidate: Option<i64> = sqlx::query_scalar(
            "SELECT j.id FROM jobs j
             LEFT JOIN tenant_service s ON s.tenant = j.tenant
             WHERE (j.state = 'ready' AND j.run_after <= ?1)
                OR (j.state = 'leased' AND j.lease_expires_at <= ?1)
             ORDER BY j.lane,
                 (SELECT COUNT(*) FROM jobs l
                  WHERE l.tenant = j.tenant AND l.state = 'leased' AND l.lease_expires_at > ?1),
                 s.last_served_at IS NOT NULL, s.last_served_at,
                 j.created_at, j.id
             LIMIT 1",
        )
        .bind(now_ms)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error("choose job to lease"))?;
        let Some(id) = candidate else {
            return Ok(None);
        };
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE jobs SET state = 'leased', worker = ?, lease_expires_at = ?,
                 attempts = attempts + 1, updated_at = ?
             WHERE id = ? RETURNING {JOB_COLUMNS}"
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
            "INSERT INTO tenant_service (tenant, last_served_at) VALUES (?, ?)
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
        let mut tx = begin_write(self, "job heartbeat").await?;
        let changed = sqlx::query(
            "UPDATE jobs SET lease_expires_at = ?, updated_at = ?
             WHERE id = ? AND state = 'leased' AND worker = ?",
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
        let mut tx = begin_write(self, "job finish").await?;
        check_lease(&mut tx, job_id, worker).await?;
        end_job(&mut tx, job_id, outcome).await?;
        append_in(&mut tx, audit).await?;
        append_outbox(&mut tx, outbox).await?;
        commit(tx, "job finish").await
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
        let mut tx = begin_write(self, "lease release").await?;
        let released = sqlx::query(
            "UPDATE jobs SET state = 'ready', worker = NULL, lease_expires_at = NULL
             WHERE state = 'leased' AND worker = ?",
        )
        .bind(worker.to_owned())
        .execute(&mut *tx)
        .await
        .map_err(db_error("release leases"))?
        .rows_affected();
        tx.commit()
            .await
            .map_err(db_error("commit lease release"))?;
        Ok(released)
    }

    async fn put_inventory(
        &self,
        digest: &Digest,
        reports: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut tx = begin_write(self, "inventory store").await?;
        sqlx::query(
            "INSERT INTO inventories (digest, reports, created_at) VALUES (?, ?, ?)
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
            sqlx::query_scalar("SELECT reports FROM inventories WHERE digest = ?")
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
        let mut tx = begin_write(self, "policy store").await?;
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO policies (scope, version, document, author, created_at)
             SELECT ?1, COALESCE(MAX(version), 0) + 1, ?2, ?3, ?4 FROM policies WHERE scope = ?1
             RETURNING version",
        )
        .bind(tenant.map_or_else(String::new, |t| t.as_str().to_owned()))
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
             WHERE scope = ? ORDER BY version DESC LIMIT 1",
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
             WHERE scope = ? ORDER BY version DESC",
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
        let mut tx = begin_write(self, "exception create").await?;
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO exceptions (tenant, vulnerability, package, repository, digest, reason,
                 requested_by, approved_by, approved_at, expires_at, revoked_at, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
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
            "UPDATE exceptions SET id = 'EXC-' || seq WHERE seq = ? RETURNING {EXCEPTION_COLUMNS}"
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
            "SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE id = ?"
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
        let mut tx = begin_write(self, "exception approval").await?;
        let current = sqlx::query(AssertSqlSafe(format!(
            "SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE id = ?"
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
            "UPDATE exceptions SET approved_by = ?, approved_at = ? WHERE id = ?
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
        let mut tx = begin_write(self, "exception revocation").await?;
        let changed =
            sqlx::query("UPDATE exceptions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
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
            "SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE tenant = ? ORDER BY seq DESC"
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
             WHERE expires_at <= ? AND revoked_at IS NULL AND expiry_noticed_at IS NULL
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
        let mut tx = begin_write(self, "exception expiry").await?;
        let changed = sqlx::query(
            "UPDATE exceptions SET expiry_noticed_at = ? WHERE id = ? AND expiry_noticed_at IS NULL",
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
             FROM scan_reports WHERE tenant = ? AND digest = ?
             ORDER BY created_at DESC, rowid DESC",
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
             WHERE delivered_at IS NULL ORDER BY seq LIMIT ?",
        )
        .bind(limit_value(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("read outbox"))?;
        rows.iter().map(outbox_from_row).collect()
    }

    async fn outbox_event(&self, id: &str) -> Result<Option<OutboxEvent>, StoreError> {
        sqlx::query("SELECT id, type, tenant, subject, time, data FROM outbox WHERE id = ?")
            .bind(id.to_owned())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error("read outbox event"))?
            .as_ref()
            .map(outbox_from_row)
            .transpose()
    }

    async fn mark_delivered(&self, ids: &[String], at: OffsetDateTime) -> Result<(), StoreError> {
        let mut tx = begin_write(self, "outbox delivery").await?;
        for id in ids {
            sqlx::query("UPDATE outbox SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL")
                .bind(to_millis(at))
                .bind(id.clone())
                .execute(&mut *tx)
                .await
                .map_err(db_error("mark outbox event delivered"))?;
        }
        commit(tx, "outbox delivery").await
    }
}
