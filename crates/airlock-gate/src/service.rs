//! The gate service: records pushes, runs scan jobs, decides, promotes or
//! rejects, and re-evaluates promoted images when the data changes.
//!
//! Each lifecycle step is one [`Transition`] built from
//! [`lifecycle::next`]: the state change, its audit record, its outbox
//! events and the job it enqueues or finishes are written in one
//! transaction by the store. Workers lease jobs with a heartbeat; a worker
//! that dies loses its lease and another takes the job over. Nothing is
//! promoted without a completed scan, vulnerability data and a passing
//! verdict.

use std::sync::Arc;
use std::time::Duration;

use airlock_audit::{Actor, AuditEvent, Outcome};
use airlock_auth::{TenantId, ZonedRepo};
use airlock_oci::manifest::ParsedManifest;
use airlock_oci::{Reference, RepoName, media_type};
use airlock_policy::{EvaluationInput, Exception, Policy};
use airlock_registry::{PushObserver, PushedManifest};
use airlock_scan_model::ScanReport;
use airlock_store::{
    Database, ImageRecord, ImageState, Job, JobKind, JobOutcome, Lane, NewJob, OutboxEvent,
    PolicyRef, PushedImage, ScanReportRecord, StoreError, Transition,
};
use serde_json::json;
use time::OffsetDateTime;

use crate::lifecycle::{self, Effect, Event};
use crate::reports::ReportOutput;
use crate::{ScanFailure, ScanRequest, ScanRunner, VulnerabilityMatcher};

/// Tunables of the gate.
#[derive(Debug, Clone)]
pub struct GateConfig {
    /// Scan attempts before a scan error rejects the image.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles per attempt.
    pub retry_backoff: Duration,
    /// How long a job lease lasts without a heartbeat.
    pub lease: Duration,
    /// How often a worker renews its lease.
    pub heartbeat: Duration,
    /// How long an untagged image manifest waits before its scan, so that an
    /// index pushed right after it can claim it as a child.
    pub child_grace: Duration,
    /// How often idle workers look for jobs (a push wakes them at once).
    pub poll: Duration,
    /// How long a rejected image stays in `unscanned/` for inspection;
    /// then its manifest is removed and `airlock gc` reclaims its blobs.
    pub rejected_retention: Duration,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            max_attempts: 3,
            retry_backoff: Duration::from_secs(2),
            lease: Duration::from_secs(60),
            heartbeat: Duration::from_secs(15),
            child_grace: Duration::from_secs(3),
            poll: Duration::from_millis(500),
            rejected_retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Why a gate operation failed.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// Storage failed.
    #[error("gate storage failed: {0}")]
    Store(#[from] StoreError),
    /// A lifecycle step is not allowed now.
    #[error(transparent)]
    Lifecycle(#[from] lifecycle::IllegalTransition),
}

/// The quarantine gate.
#[derive(Debug)]
pub struct Gate {
    pub(crate) db: Arc<dyn Database>,
    runner: Arc<dyn ScanRunner>,
    matcher: Arc<dyn VulnerabilityMatcher>,
    config: GateConfig,
    wake: tokio::sync::Notify,
    pub(crate) reports: Option<ReportOutput>,
}

fn scanner() -> Actor {
    Actor::system("scanner")
}

fn promoter() -> Actor {
    Actor::system("promoter")
}

fn subject(image: &ImageRecord) -> String {
    format!("{}@{}", image.repository, image.digest)
}

/// The `scanned/` twin of an `unscanned/` repository.
fn scanned_twin(repository: &RepoName) -> Option<RepoName> {
    let zoned = ZonedRepo::parse(repository.as_str()).ok()?;
    zoned
        .in_zone(airlock_auth::Zone::Scanned)
        .repository()
        .parse()
        .ok()
}

impl Gate {
    /// A gate over `db`, scanning with `runner`, matching with `matcher`.
    pub fn new(
        db: Arc<dyn Database>,
        runner: Arc<dyn ScanRunner>,
        matcher: Arc<dyn VulnerabilityMatcher>,
        config: GateConfig,
    ) -> Gate {
        Gate {
            db,
            runner,
            matcher,
            config,
            wake: tokio::sync::Notify::new(),
            reports: None,
        }
    }

    /// Writes reports for every decided scan to `output`, and attaches the
    /// SBOM and scan report to promoted images. Without it (unit tests of
    /// the lifecycle) no reports are written.
    pub fn with_reports(mut self, output: ReportOutput) -> Gate {
        self.reports = Some(output);
        self
    }

    /// The configuration in force.
    pub fn config(&self) -> &GateConfig {
        &self.config
    }

    fn event_data(image: &ImageRecord, extra: serde_json::Value) -> serde_json::Value {
        let mut data = json!({
            "tenant": image.tenant.as_str(),
            "repository": image.repository.as_str(),
            "digest": image.digest.to_string(),
            "media_type": image.media_type,
            "state": image.state.as_str(),
            "pusher": image.pushed_by,
        });
        if let (Some(object), serde_json::Value::Object(extra)) = (data.as_object_mut(), extra) {
            object.extend(extra);
        }
        data
    }

    /// Builds the transition for `event` with its audit record and events.
    fn step(
        &self,
        image: &ImageRecord,
        event: Event,
        actor: Actor,
        action: &str,
        data: serde_json::Value,
    ) -> Result<(Transition, Vec<Effect>), GateError> {
        let (to, effects) = lifecycle::next(image.state, event)?;
        let mut transition = Transition::new(image.id, image.state, to);
        transition.detail = data.clone();
        transition.audit.push(
            AuditEvent::new(actor, action, subject(image))
                .tenant(image.tenant.as_str())
                .outcome(if matches!(to, ImageState::Rejected) {
                    Outcome::Failure
                } else {
                    Outcome::Success
                })
                .details(data.clone()),
        );
        let mut after = image.clone();
        after.state = to;
        for effect in &effects {
            if let Effect::Emit(event_type) = effect {
                transition.outbox.push(OutboxEvent::new(
                    *event_type,
                    Some(image.tenant.to_string()),
                    subject(image),
                    Self::event_data(&after, data.clone()),
                ));
            }
        }
        Ok((transition, effects))
    }

    fn scan_job(&self, image: &ImageRecord, delay: Duration) -> NewJob {
        NewJob {
            kind: JobKind::Scan,
            lane: Lane::Push,
            tenant: image.tenant.clone(),
            image_id: image.id,
            run_after: OffsetDateTime::now_utc() + delay,
            max_attempts: self.config.max_attempts,
        }
    }

    // ----- pushes -----

    /// Records a push to `unscanned/` and queues its scan. Referrers
    /// (signatures, SBOMs) are not gated: they follow their subject.
    pub async fn record_push(&self, pushed: &PushedManifest) -> Result<(), GateError> {
        let Ok(zoned) = ZonedRepo::parse(pushed.repository.as_str()) else {
            return Ok(());
        };
        if zoned.zone != airlock_auth::Zone::Unscanned || pushed.subject.is_some() {
            return Ok(());
        }
        let record = PushedImage {
            tenant: zoned.tenant.clone(),
            repository: pushed.repository.clone(),
            digest: pushed.digest.clone(),
            media_type: pushed.media_type.clone(),
            pushed_by: pushed.pusher.clone(),
        };
        let (image, _) = self.db.record_push(&record, &[], &[]).await?;
        let tag = pushed.tag.as_ref().map(|t| t.as_str().to_owned());
        let data = json!({ "tag": tag });
        let is_index = [media_type::OCI_INDEX, media_type::DOCKER_MANIFEST_LIST]
            .contains(&pushed.media_type.as_str());
        let delay = if tag.is_none() && !is_index {
            self.config.child_grace
        } else {
            Duration::ZERO
        };
        let event = match image.state {
            ImageState::Received => Event::Queue,
            ImageState::Rejected | ImageState::Covered if tag.is_some() => Event::Repush,
            ImageState::Promoted if tag.is_some() => Event::Retag,
            _ => return Ok(()),
        };
        let (mut transition, effects) = self.step(&image, event, scanner(), "scan.queue", data)?;
        if effects.contains(&Effect::EnqueueScan) {
            transition.enqueue = Some(self.scan_job(&image, delay));
            transition.attempts = Some(0);
        }
        let result = if effects.contains(&Effect::CopyToScanned) {
            let target = scanned_twin(&image.repository).ok_or_else(|| {
                StoreError::Conflict(format!("{} has no scanned twin", image.repository))
            })?;
            transition.audit[0] = AuditEvent::new(promoter(), "image.promote", subject(&image))
                .tenant(image.tenant.as_str())
                .details(json!({ "tag": tag, "target": target.as_str() }));
            self.db.promote(&target, &transition).await
        } else {
            self.db.transition(&transition).await
        };
        match result {
            Ok(_) => {}
            // Another push of the same digest moved it first.
            Err(StoreError::Conflict(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        self.wake.notify_waiters();
        Ok(())
    }

    /// Finds pushes the gate missed (a crash between a manifest's commit and
    /// its record) and images left between steps, and moves them on.
    pub async fn reconcile(&self) -> Result<u64, GateError> {
        let mut moved = 0;
        for pushed in self.db.unrecorded_pushes(1000).await? {
            // Referrers are never gated (see `record_push`): they have no
            // image record, so they are listed here too.
            let is_referrer = self
                .db
                .manifest(
                    &pushed.repository,
                    &Reference::Digest(pushed.digest.clone()),
                )
                .await?
                .and_then(|m| ParsedManifest::parse(&m.content, Some(&m.media_type)).ok())
                .is_some_and(|m| m.subject.is_some());
            if is_referrer {
                continue;
            }
            let recorded = self
                .record_push(&PushedManifest {
                    repository: pushed.repository.clone(),
                    digest: pushed.digest.clone(),
                    media_type: pushed.media_type,
                    tag: None,
                    subject: None,
                    pusher: pushed.pushed_by,
                })
                .await;
            match recorded {
                Ok(()) => moved += 1,
                Err(e) => tracing::warn!(
                    repository = %pushed.repository,
                    digest = %pushed.digest,
                    error = %e,
                    "could not record a missed push; the next reconciliation tries again"
                ),
            }
        }
        // One image that cannot be moved on must not hold up the others.
        for state in [ImageState::Received, ImageState::Passed, ImageState::Failed] {
            for image in self.db.images(None, Some(state), 1000).await? {
                match self.move_on(&image).await {
                    Ok(()) => moved += 1,
                    // A worker or a push moved it first.
                    Err(GateError::Store(StoreError::Conflict(_))) => {}
                    Err(e) => tracing::warn!(
                        image = image.id,
                        state = %image.state,
                        error = %e,
                        "could not move an image on; the next reconciliation tries again"
                    ),
                }
            }
        }
        if moved > 0 {
            self.wake.notify_waiters();
        }
        Ok(moved)
    }

    /// The next step of an image left in `Received`, `Passed` or `Failed`.
    async fn move_on(&self, image: &ImageRecord) -> Result<(), GateError> {
        match image.state {
            ImageState::Received => {
                let (mut transition, _) = self.step(
                    image,
                    Event::Queue,
                    scanner(),
                    "scan.queue",
                    json!({ "reconciled": true }),
                )?;
                transition.enqueue = Some(self.scan_job(image, Duration::ZERO));
                self.db.transition(&transition).await?;
                Ok(())
            }
            ImageState::Passed => self.promote(image, None).await,
            _ => self.reject_failed(image, None).await,
        }
    }

    /// Announces exceptions that expired (`airlock.exception.expired`) and
    /// re-evaluates their tenant's promoted images, which may now fail.
    /// Returns how many expiries were handled.
    pub async fn notice_expired_exceptions(&self, now: OffsetDateTime) -> Result<u64, GateError> {
        let mut noticed = 0;
        for exception in self.db.unnoticed_expiries(now).await? {
            let target = format!("exception:{}", exception.id);
            let data = json!({
                "tenant": exception.tenant.as_str(),
                "id": exception.id,
                "vulnerability": exception.vulnerability,
                "package": exception.package,
                "repository": exception.repository,
                "digest": exception.digest,
                "expires_at": exception.expires_at.unix_timestamp(),
            });
            let audit = AuditEvent::new(Actor::system("gate"), "exception.expire", &target)
                .tenant(exception.tenant.as_str())
                .details(data.clone());
            let event = OutboxEvent::new(
                "airlock.exception.expired",
                Some(exception.tenant.to_string()),
                target.clone(),
                data,
            );
            if self
                .db
                .notice_expiry(&exception.id, now, &audit, &[event])
                .await?
            {
                self.reevaluate_all(Some(&exception.tenant)).await?;
                noticed += 1;
            }
        }
        Ok(noticed)
    }

    /// Removes the manifests of images rejected longer ago than the
    /// retention period from their `unscanned/` repository (the image's
    /// record and history stay). Returns how many were removed.
    pub async fn expire_rejected(&self, now: OffsetDateTime) -> Result<u64, GateError> {
        let cutoff = now - self.config.rejected_retention;
        let mut removed = 0;
        for image in self
            .db
            .images(None, Some(ImageState::Rejected), usize::MAX)
            .await?
        {
            if image.updated_at > cutoff {
                continue;
            }
            let event = AuditEvent::new(scanner(), "image.expire", subject(&image))
                .tenant(image.tenant.as_str())
                .details(json!({
                    "reason": image.reason,
                    "rejected_at": image.updated_at.unix_timestamp(),
                    "retention_seconds": self.config.rejected_retention.as_secs(),
                }));
            if self
                .db
                .delete_manifest(&image.repository, &image.digest, &event)
                .await?
            {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Makes the jobs of workers known to be gone (`gone` says which, by
    /// name) ready again at once instead of waiting for their leases to
    /// expire. Returns how many jobs were released.
    pub async fn release_leases_of(&self, gone: impl Fn(&str) -> bool) -> Result<u64, GateError> {
        let mut released = 0;
        for worker in self.db.leased_workers().await? {
            if gone(&worker) {
                released += self.db.release_leases(&worker).await?;
            }
        }
        if released > 0 {
            self.wake.notify_waiters();
        }
        Ok(released)
    }

    // ----- workers -----

    /// Runs one worker until `shutdown` resolves.
    pub async fn run_worker(
        self: Arc<Self>,
        worker: String,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) {
        tokio::pin!(shutdown);
        loop {
            let leased = self
                .db
                .lease_job(&worker, self.config.lease, OffsetDateTime::now_utc())
                .await;
            match leased {
                Ok(Some(job)) => {
                    let heartbeat = self.clone().keep_alive(job.id, worker.clone());
                    let work = self.process(&job);
                    tokio::select! {
                        result = work => {
                            if let Err(e) = result {
                                tracing::warn!(job = job.id, error = %e, "gate job failed; its lease will expire and it will be retried");
                            }
                        }
                        () = heartbeat => {}
                        () = &mut shutdown => return,
                    }
                }
                Ok(None) => {
                    tokio::select! {
                        () = self.wake.notified() => {}
                        () = self.db.wait_for_jobs(self.config.poll) => {}
                        () = &mut shutdown => return,
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not lease a gate job");
                    tokio::select! {
                        () = tokio::time::sleep(self.config.poll) => {}
                        () = &mut shutdown => return,
                    }
                }
            }
        }
    }

    /// Renews a lease until the lease is lost (then the work is abandoned:
    /// another worker owns the job). Never returns while the lease holds.
    async fn keep_alive(self: Arc<Self>, job_id: i64, worker: String) {
        loop {
            tokio::time::sleep(self.config.heartbeat).await;
            let until = OffsetDateTime::now_utc() + self.config.lease;
            if let Err(e) = self.db.heartbeat(job_id, &worker, until).await {
                tracing::warn!(job = job_id, error = %e, "lost the lease of a gate job");
                return;
            }
        }
    }

    /// Does one leased job.
    pub async fn process(&self, job: &Job) -> Result<(), GateError> {
        let Some(image) = self.db.image(job.image_id).await? else {
            self.db
                .finish_job(job.id, &job.worker, &JobOutcome::Done, &[], &[])
                .await?;
            return Ok(());
        };
        match job.kind {
            JobKind::Scan => self.process_scan(job, image).await,
            JobKind::Reevaluate => self.process_reevaluation(job, image).await,
        }
    }

    fn finishing(transition: &mut Transition, job: &Job, outcome: JobOutcome) {
        transition.finish = Some((job.id, job.worker.clone(), outcome));
    }

    async fn process_scan(&self, job: &Job, mut image: ImageRecord) -> Result<(), GateError> {
        if image.state == ImageState::Queued {
            let (transition, _) = self.step(
                &image,
                Event::Start,
                scanner(),
                "scan.start",
                json!({ "attempt": job.attempts, "worker": job.worker }),
            )?;
            image = self.db.transition(&transition).await?;
        }
        match image.state {
            // Decided, but the promotion or rejection did not happen (the
            // job was not finished): do it now.
            ImageState::Passed => return self.promote(&image, Some(job)).await,
            ImageState::Failed => return self.reject_failed(&image, Some(job)).await,
            _ => {}
        }
        if image.state != ImageState::Scanning {
            // Already decided (a duplicate or stale job).
            self.db
                .finish_job(job.id, &job.worker, &JobOutcome::Done, &[], &[])
                .await?;
            return Ok(());
        }
        if self
            .db
            .is_index_child(&image.repository, &image.digest)
            .await?
            && !self.is_tagged(&image).await?
        {
            let (mut transition, _) = self.step(
                &image,
                Event::Cover,
                scanner(),
                "scan.cover",
                json!({ "reason": "the manifest is a child of an index; the index is gated" }),
            )?;
            Self::finishing(&mut transition, job, JobOutcome::Done);
            self.db.transition(&transition).await?;
            return Ok(());
        }
        if job.attempts > job.max_attempts {
            // Every earlier attempt lost its lease without an outcome: the
            // worker died, perhaps killed by this very image. Taking it over
            // again and again would retry it for ever.
            let failure = ScanFailure::Crashed(format!(
                "no attempt left: {} attempts failed or were abandoned by a worker that died",
                job.attempts - 1
            ));
            return self.scan_failed(job, &image, failure).await;
        }
        let reports = match self.inventory(&image).await {
            Ok(reports) => reports,
            Err(failure) => return self.scan_failed(job, &image, failure).await,
        };
        self.decide(job, &image, reports).await
    }

    /// Whether a tag of the image's repository points at its digest (a
    /// tagged manifest is gated on its own even when an index holds it).
    async fn is_tagged(&self, image: &ImageRecord) -> Result<bool, GateError> {
        Ok(!self.tags_of(image).await?.is_empty())
    }

    /// The tags of the image's repository that point at its digest, sorted.
    pub(crate) async fn tags_of(&self, image: &ImageRecord) -> Result<Vec<String>, GateError> {
        let tags = self
            .db
            .tags(&image.repository, None, None)
            .await?
            .unwrap_or_default();
        let mut found = Vec::new();
        for name in tags {
            let Ok(tag) = name.parse() else { continue };
            if let Some(manifest) = self
                .db
                .manifest(&image.repository, &Reference::Tag(tag))
                .await?
                && manifest.digest == image.digest
            {
                found.push(name);
            }
        }
        found.sort();
        Ok(found)
    }

    /// The stored inventory of the digest, or a new isolated scan.
    async fn inventory(&self, image: &ImageRecord) -> Result<Vec<ScanReport>, ScanFailure> {
        if let Ok(Some(stored)) = self.db.inventory(&image.digest).await
            && let Ok(reports) = serde_json::from_value::<Vec<ScanReport>>(stored)
            && !reports.is_empty()
        {
            return Ok(reports);
        }
        let request = self
            .scan_request(image)
            .await
            .map_err(|e| ScanFailure::Crashed(format!("could not read the manifests: {e}")))?;
        let reports = self.runner.scan(&request).await?;
        let value = serde_json::to_value(&reports)
            .map_err(|e| ScanFailure::Crashed(format!("could not store the inventory: {e}")))?;
        self.db
            .put_inventory(&image.digest, &value)
            .await
            .map_err(|e| ScanFailure::Crashed(format!("could not store the inventory: {e}")))?;
        Ok(reports)
    }

    async fn scan_request(&self, image: &ImageRecord) -> Result<ScanRequest, GateError> {
        let mut manifests = Vec::new();
        let mut pending = vec![image.digest.clone()];
        while let Some(digest) = pending.pop() {
            if manifests.iter().any(|(d, _, _)| d == &digest) || manifests.len() > 64 {
                continue;
            }
            let Some(record) = self
                .db
                .manifest(&image.repository, &Reference::Digest(digest.clone()))
                .await?
            else {
                continue;
            };
            if let Ok(parsed) = ParsedManifest::parse(&record.content, Some(&record.media_type)) {
                pending.extend(parsed.manifests.iter().map(|d| d.digest.clone()));
            }
            manifests.push((digest, record.media_type, record.content));
        }
        Ok(ScanRequest {
            repository: image.repository.clone(),
            digest: image.digest.clone(),
            manifests,
        })
    }

    async fn scan_failed(
        &self,
        job: &Job,
        image: &ImageRecord,
        failure: ScanFailure,
    ) -> Result<(), GateError> {
        let retry = failure.is_retryable() && job.attempts < job.max_attempts;
        let data = json!({
            "error": failure.to_string(),
            "attempt": job.attempts,
            "max_attempts": job.max_attempts,
            "reason": if retry { serde_json::Value::Null } else { json!("scan_error") },
        });
        let (mut transition, _) = self.step(
            image,
            Event::ScanFailed { retry },
            scanner(),
            if retry { "scan.retry" } else { "image.reject" },
            data,
        )?;
        transition.attempts = Some(job.attempts);
        if retry {
            let backoff =
                self.config.retry_backoff * 2u32.saturating_pow(job.attempts.saturating_sub(1));
            Self::finishing(
                &mut transition,
                job,
                JobOutcome::Retry {
                    run_after: OffsetDateTime::now_utc() + backoff,
                    error: failure.to_string(),
                },
            );
        } else {
            transition.reason = Some("scan_error".into());
            transition.verdict = Some(json!({
                "passed": false,
                "reason": "scan_error",
                "failures": [{ "rule": "scan", "message": format!("the scan failed: {failure}") }],
            }));
            Self::finishing(
                &mut transition,
                job,
                JobOutcome::Dead {
                    error: failure.to_string(),
                },
            );
        }
        self.db.transition(&transition).await?;
        Ok(())
    }

    /// The policy in force for a tenant: its own, else the global one, else
    /// the built-in default. An invalid stored policy is the inner error
    /// (fail closed); a storage error is the outer one, so that the job is
    /// retried rather than the image rejected for an invalid policy.
    async fn policy_for(
        &self,
        tenant: &TenantId,
    ) -> Result<Result<(Policy, PolicyRef), String>, GateError> {
        let record = match self.db.policy(Some(tenant)).await? {
            Some(record) => Some(record),
            None => self.db.policy(None).await?,
        };
        Ok(match record {
            None => Ok((
                Policy::default_policy(),
                PolicyRef {
                    tenant: None,
                    version: 0,
                },
            )),
            Some(record) => {
                let reference = PolicyRef {
                    tenant: record.tenant.as_ref().map(ToString::to_string),
                    version: record.version,
                };
                Policy::from_yaml(&record.document)
                    .map(|p| (p, reference))
                    .map_err(|e| format!("the policy in force is invalid: {e}"))
            }
        })
    }

    async fn active_exceptions(&self, tenant: &TenantId) -> Result<Vec<Exception>, GateError> {
        Ok(self
            .db
            .exceptions(tenant)
            .await?
            .into_iter()
            .filter(|e| e.revoked_at.is_none())
            .map(|e| Exception {
                id: e.id,
                vulnerability: e.vulnerability,
                package: e.package,
                repository: e.repository,
                digest: e.digest,
                expires_at: e.expires_at,
                approved: e.approved_by.is_some(),
            })
            .collect())
    }

    /// Matches, evaluates and returns the verdict as stored (with the
    /// finding keys used to spot new findings on re-evaluation).
    async fn evaluate(
        &self,
        image: &ImageRecord,
        reports: Vec<ScanReport>,
    ) -> Result<Result<Evaluation, String>, GateError> {
        let (policy, reference) = match self.policy_for(&image.tenant).await? {
            Ok(found) => found,
            Err(message) => return Ok(Err(message)),
        };
        self.evaluate_with(image, reports, policy, reference)
            .await
            .map(Ok)
    }

    /// Matches `reports` and evaluates them against `policy` (the one in
    /// force, or a candidate in a dry run).
    async fn evaluate_with(
        &self,
        image: &ImageRecord,
        reports: Vec<ScanReport>,
        policy: Policy,
        reference: PolicyRef,
    ) -> Result<Evaluation, GateError> {
        let matched = match self.matcher.match_reports(reports.clone()).await {
            Ok(matched) => matched,
            Err(message) => {
                tracing::warn!(error = %message, "vulnerability data unreadable; treating it as missing");
                let mut reports = reports;
                for report in &mut reports {
                    report.vulnerability_data = airlock_scan_model::VulnerabilityData::Missing;
                }
                crate::Matched {
                    reports,
                    data_age: None,
                }
            }
        };
        let exceptions = self.active_exceptions(&image.tenant).await?;
        let digest = image.digest.to_string();
        let verdict = airlock_policy::evaluate(
            &policy,
            &EvaluationInput {
                repository: image.repository.as_str(),
                digest: &digest,
                reports: &matched.reports,
                vulnerability_data_age: matched.data_age,
                exceptions: &exceptions,
                now: OffsetDateTime::now_utc(),
            },
        );
        let findings: Vec<String> = matched
            .reports
            .iter()
            .flat_map(|r| r.findings.iter())
            .map(|f| {
                format!(
                    "{} {}/{}@{}",
                    f.id, f.package.ecosystem, f.package.name, f.package.version
                )
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut stored = serde_json::to_value(&verdict).unwrap_or_else(|_| json!({}));
        if let Some(object) = stored.as_object_mut() {
            object.insert("findings".into(), json!(findings));
            object.insert("policy".into(), json!(reference));
            object.insert(
                "vulnerability_data_age_seconds".into(),
                json!(matched.data_age.map(|d| d.as_secs())),
            );
            object.insert(
                "top_findings".into(),
                crate::reports::top_findings(&matched.reports, 20),
            );
        }
        Ok(Evaluation {
            passed: verdict.passed,
            verdict: stored,
            policy: reference,
            demote_after: policy.demote_after(),
            reports: matched.reports,
            data_age: matched.data_age,
        })
    }

    /// What `policy` would decide for the tenant's promoted images (those
    /// in `scanned/`), from their stored inventories, the current
    /// vulnerability data and the tenant's exceptions. Writes nothing.
    /// Returns each image with the verdict's `passed` and `failures`.
    pub async fn dry_run(
        &self,
        tenant: &TenantId,
        policy: &Policy,
    ) -> Result<Vec<(ImageRecord, bool, serde_json::Value)>, GateError> {
        let candidate = PolicyRef {
            tenant: Some(tenant.to_string()),
            version: 0,
        };
        let mut outcomes = Vec::new();
        for image in self
            .db
            .images(Some(tenant), Some(ImageState::Promoted), usize::MAX)
            .await?
        {
            let reports = match self.db.inventory(&image.digest).await? {
                Some(value) => serde_json::from_value::<Vec<ScanReport>>(value).ok(),
                None => None,
            };
            let Some(reports) = reports else {
                let failures = json!([{
                    "rule": "scan_coverage",
                    "message": "no stored inventory: the image cannot be evaluated without a new scan",
                }]);
                outcomes.push((image, false, failures));
                continue;
            };
            let evaluation = self
                .evaluate_with(&image, reports, policy.clone(), candidate.clone())
                .await?;
            let failures = evaluation
                .verdict
                .get("failures")
                .cloned()
                .unwrap_or_else(|| json!([]));
            outcomes.push((image, evaluation.passed, failures));
        }
        Ok(outcomes)
    }

    async fn decide(
        &self,
        job: &Job,
        image: &ImageRecord,
        reports: Vec<ScanReport>,
    ) -> Result<(), GateError> {
        let evaluated = self.evaluate(image, reports).await?;
        let (passed, mut verdict, reference, report, findings) = match evaluated {
            Ok(found) => {
                let report = self.write_reports(image, &found).await?;
                let findings = crate::reports::finding_rows(&found.reports);
                (found.passed, found.verdict, found.policy, report, findings)
            }
            Err(message) => {
                let data = json!({ "reason": "invalid_policy", "error": message });
                let (mut transition, _) =
                    self.step(image, Event::Refuse, scanner(), "image.reject", data)?;
                transition.reason = Some("invalid_policy".into());
                transition.verdict = Some(json!({
                    "passed": false,
                    "reason": "invalid_policy",
                    "failures": [{ "rule": "policy", "message": message }],
                }));
                Self::finishing(&mut transition, job, JobOutcome::Done);
                self.db.transition(&transition).await?;
                return Ok(());
            }
        };
        self.link_reports(&mut verdict, report.as_ref(), image);
        let tags = self.tags_of(image).await?;
        let summary = crate::reports::decision_data(Some(&verdict), &tags);
        let (mut transition, _) = self.step(
            image,
            Event::Decided { passed },
            scanner(),
            "scan.end",
            summary,
        )?;
        transition.verdict = Some(verdict);
        transition.policy = Some(reference);
        transition.report = report;
        transition.findings = Some(findings);
        // The job ends with the promotion or the rejection, not with the
        // verdict: if that last step fails, the job is retried and finds
        // the image passed or failed (see `process_scan`).
        let decided = self.db.transition(&transition).await?;
        if passed {
            self.promote(&decided, Some(job)).await
        } else {
            self.reject_failed(&decided, Some(job)).await
        }
    }

    /// Records in the stored verdict which scan's reports decided it, and
    /// their links.
    fn link_reports(
        &self,
        verdict: &mut serde_json::Value,
        report: Option<&ScanReportRecord>,
        image: &ImageRecord,
    ) {
        let (Some(report), Some(object)) = (report, verdict.as_object_mut()) else {
            return;
        };
        object.insert("scan_id".into(), json!(report.scan_id));
        if let Some(output) = &self.reports {
            object.insert(
                "reports".into(),
                crate::reports::report_links(
                    &output.external_url,
                    &image.tenant,
                    &image.digest,
                    &report.scan_id,
                ),
            );
        }
    }

    /// Copies a passed image to `scanned/`; finishes `job` in the same
    /// transaction when given.
    async fn promote(&self, image: &ImageRecord, job: Option<&Job>) -> Result<(), GateError> {
        let target = scanned_twin(&image.repository).ok_or_else(|| {
            StoreError::Conflict(format!("{} has no scanned twin", image.repository))
        })?;
        self.attach_reports(image).await?;
        let tags = self.tags_of(image).await?;
        let mut data = crate::reports::decision_data(image.verdict.as_ref(), &tags);
        data["target"] = json!(target.as_str());
        let (mut transition, _) =
            self.step(image, Event::Promote, promoter(), "image.promote", data)?;
        transition.audit[0] = transition.audit[0]
            .clone()
            .details(json!({ "target": target.as_str() }));
        if let Some(job) = job {
            Self::finishing(&mut transition, job, JobOutcome::Done);
        }
        self.db.promote(&target, &transition).await?;
        Ok(())
    }

    /// Closes a failed image as rejected; finishes `job` in the same
    /// transaction when given.
    async fn reject_failed(&self, image: &ImageRecord, job: Option<&Job>) -> Result<(), GateError> {
        let tags = self.tags_of(image).await?;
        let mut data = crate::reports::decision_data(image.verdict.as_ref(), &tags);
        data["reason"] = json!("policy");
        let (mut transition, _) =
            self.step(image, Event::Reject, scanner(), "image.reject", data)?;
        transition.reason = Some("policy".into());
        transition.audit[0] = transition.audit[0].clone().details(json!({
            "reason": "policy",
            "failures": image.verdict.as_ref().and_then(|v| v.get("failures")),
        }));
        if let Some(job) = job {
            Self::finishing(&mut transition, job, JobOutcome::Done);
        }
        self.db.transition(&transition).await?;
        Ok(())
    }

    // ----- re-evaluation -----

    /// Queues a re-evaluation of every promoted and every rejected image
    /// (of one tenant, or all): after new vulnerability data, a policy or an
    /// exception change. A promoted image may now fail (and be demoted when
    /// the policy says so); a rejected one still in `unscanned/` may now
    /// pass and is then promoted.
    pub async fn reevaluate_all(&self, tenant: Option<&TenantId>) -> Result<u64, GateError> {
        let mut queued = 0;
        let mut images = self
            .db
            .images(tenant, Some(ImageState::Promoted), usize::MAX)
            .await?;
        images.extend(
            self.db
                .images(tenant, Some(ImageState::Rejected), usize::MAX)
                .await?,
        );
        for image in images {
            self.db
                .enqueue(&NewJob {
                    kind: JobKind::Reevaluate,
                    lane: Lane::Background,
                    tenant: image.tenant.clone(),
                    image_id: image.id,
                    run_after: OffsetDateTime::now_utc(),
                    max_attempts: self.config.max_attempts,
                })
                .await?;
            queued += 1;
        }
        if queued > 0 {
            self.wake.notify_waiters();
        }
        Ok(queued)
    }

    async fn process_reevaluation(&self, job: &Job, image: ImageRecord) -> Result<(), GateError> {
        if image.state == ImageState::Passed {
            // Reconsidered, but the promotion did not happen: do it now.
            return self.promote(&image, Some(job)).await;
        }
        let stored = match self.db.inventory(&image.digest).await? {
            Some(value) => serde_json::from_value::<Vec<ScanReport>>(value).ok(),
            None => None,
        };
        if let (Some(reports), ImageState::Rejected) = (&stored, image.state) {
            return self.reconsider(job, &image, reports.clone()).await;
        }
        let (Some(reports), ImageState::Promoted) = (stored, image.state) else {
            self.db
                .finish_job(job.id, &job.worker, &JobOutcome::Done, &[], &[])
                .await?;
            return Ok(());
        };
        let Ok(Evaluation {
            passed,
            mut verdict,
            policy: reference,
            demote_after,
            reports,
            ..
        }) = self.evaluate(&image, reports).await?
        else {
            // An invalid policy does not demote anything; it is refused when set.
            self.db
                .finish_job(job.id, &job.worker, &JobOutcome::Done, &[], &[])
                .await?;
            return Ok(());
        };
        let before: std::collections::BTreeSet<String> = image
            .verdict
            .as_ref()
            .and_then(|v| v.get("findings"))
            .and_then(|f| serde_json::from_value(f.clone()).ok())
            .unwrap_or_default();
        let now: std::collections::BTreeSet<String> = verdict
            .get("findings")
            .and_then(|f| serde_json::from_value(f.clone()).ok())
            .unwrap_or_default();
        let new: Vec<&String> = now.difference(&before).collect();
        let findings = crate::reports::finding_rows(&reports);
        if !passed && let Some(grace) = demote_after {
            // Failing since the first re-evaluation that failed; demoted
            // once that is longer ago than the policy's grace period.
            let now_ts = OffsetDateTime::now_utc();
            let since = image
                .verdict
                .as_ref()
                .and_then(|v| v.get("failing_since"))
                .and_then(serde_json::Value::as_i64)
                .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
                .unwrap_or(now_ts);
            if let Some(object) = verdict.as_object_mut() {
                object.insert("failing_since".into(), json!(since.unix_timestamp()));
            }
            let due = since + grace;
            if now_ts >= due {
                return self
                    .demote(job, &image, (verdict, findings), reference, grace)
                    .await;
            }
            self.db
                .enqueue(&NewJob {
                    kind: JobKind::Reevaluate,
                    lane: Lane::Background,
                    tenant: image.tenant.clone(),
                    image_id: image.id,
                    run_after: due,
                    max_attempts: self.config.max_attempts,
                })
                .await?;
        }
        let mut transition = Transition::new(image.id, ImageState::Promoted, ImageState::Promoted);
        transition.detail = json!({ "reevaluated": true, "passed": passed, "new_findings": new });
        transition.verdict = Some(verdict.clone());
        transition.policy = Some(reference);
        transition.findings = Some(findings);
        if !new.is_empty() {
            let data = Self::event_data(
                &image,
                json!({
                    "new_findings": new,
                    "passes_policy": passed,
                    "counts": verdict.get("counts"),
                    "failures": verdict.get("failures"),
                }),
            );
            transition.outbox.push(OutboxEvent::new(
                "airlock.vulnerability.detected",
                Some(image.tenant.to_string()),
                subject(&image),
                data.clone(),
            ));
            transition.audit.push(
                AuditEvent::new(scanner(), "image.reevaluate", subject(&image))
                    .tenant(image.tenant.as_str())
                    .details(data),
            );
        }
        Self::finishing(&mut transition, job, JobOutcome::Done);
        self.db.transition(&transition).await?;
        Ok(())
    }
}

impl Gate {
    /// Re-evaluates a rejected image from its stored inventory: if it now
    /// passes (an exception was approved, the policy changed) and its
    /// manifest is still in `unscanned/`, it is decided again with fresh
    /// reports and promoted; otherwise nothing changes.
    async fn reconsider(
        &self,
        job: &Job,
        image: &ImageRecord,
        reports: Vec<ScanReport>,
    ) -> Result<(), GateError> {
        let present = self
            .db
            .manifest(&image.repository, &Reference::Digest(image.digest.clone()))
            .await?
            .is_some();
        let evaluated = if present {
            self.evaluate(image, reports).await?.ok()
        } else {
            None
        };
        let Some(found) = evaluated.filter(|found| found.passed) else {
            self.db
                .finish_job(job.id, &job.worker, &JobOutcome::Done, &[], &[])
                .await?;
            return Ok(());
        };
        let report = self.write_reports(image, &found).await?;
        let findings = crate::reports::finding_rows(&found.reports);
        let mut verdict = found.verdict;
        self.link_reports(&mut verdict, report.as_ref(), image);
        let data = json!({ "reevaluated": true, "previous_reason": image.reason });
        let (mut transition, _) = self.step(
            image,
            Event::Reconsider,
            scanner(),
            "image.reconsider",
            data,
        )?;
        transition.verdict = Some(verdict);
        transition.policy = Some(found.policy);
        transition.report = report;
        transition.findings = Some(findings);
        let passed = self.db.transition(&transition).await?;
        self.promote(&passed, Some(job)).await
    }

    /// Removes a promoted image that keeps failing its policy from
    /// `scanned/` (the manifest and the tags pointing at it), then closes it
    /// as rejected with reason `demoted`. Removing first makes a crash in
    /// between harmless: the next re-evaluation finds it gone and closes it.
    async fn demote(
        &self,
        job: &Job,
        image: &ImageRecord,
        (verdict, findings): (serde_json::Value, Vec<airlock_store::FindingRow>),
        reference: PolicyRef,
        grace: Duration,
    ) -> Result<(), GateError> {
        let target = scanned_twin(&image.repository).ok_or_else(|| {
            StoreError::Conflict(format!("{} has no scanned twin", image.repository))
        })?;
        let data = json!({
            "reason": "demoted",
            "target": target.as_str(),
            "grace_seconds": grace.as_secs(),
            "failures": verdict.get("failures"),
        });
        let removal = AuditEvent::new(
            promoter(),
            "image.demote",
            format!("{target}@{}", image.digest),
        )
        .tenant(image.tenant.as_str())
        .details(data.clone());
        self.db
            .delete_manifest(&target, &image.digest, &removal)
            .await?;
        let (mut transition, _) =
            self.step(image, Event::Demote, promoter(), "image.demoted", data)?;
        transition.reason = Some("demoted".into());
        transition.verdict = Some(verdict);
        transition.findings = Some(findings);
        transition.policy = Some(reference);
        Self::finishing(&mut transition, job, JobOutcome::Done);
        self.db.transition(&transition).await?;
        Ok(())
    }
}

/// What a policy evaluation decided.
pub(crate) struct Evaluation {
    pub(crate) passed: bool,
    pub(crate) verdict: serde_json::Value,
    pub(crate) policy: PolicyRef,
    demote_after: Option<Duration>,
    /// The matched platform reports the verdict was reached from.
    pub(crate) reports: Vec<ScanReport>,
    /// Age of the vulnerability data; `None` when there was none.
    pub(crate) data_age: Option<Duration>,
}

#[async_trait::async_trait]
impl PushObserver for Gate {
    async fn manifest_pushed(&self, pushed: PushedManifest) {
        if let Err(e) = self.record_push(&pushed).await {
            tracing::warn!(
                repository = %pushed.repository,
                digest = %pushed.digest,
                error = %e,
                "could not queue a pushed manifest; reconciliation will pick it up"
            );
        }
    }
}
