//! Crashes: a worker that dies holding a job loses it to another when its
//! lease runs out, and whatever it tries later is refused; reconciliation
//! finds images left between steps and pushes that were never recorded.

use std::time::Duration;

use airlock_gate::GateError;
use airlock_store::{GateStore, ImageState, JobOutcome, StoreError, Transition};
use time::OffsetDateTime;

use crate::{Stack, count, image_digest, tag};

const APP: &str = "unscanned/acme/app";

fn terminal_entries(states: &[ImageState]) -> usize {
    states.iter().filter(|s| s.is_terminal()).count()
}

#[tokio::test]
async fn a_dead_workers_job_is_taken_over_and_its_late_writes_refused() {
    let stack = Stack::new().await;
    let pushed = stack.push_image(APP, Some("1.0"), "orphan").await;
    let dead_job = stack
        .db
        .lease_job(
            "dead",
            Duration::from_millis(100),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap()
        .expect("the scan job");
    let image = stack.image(APP, &pushed.digest).await;
    // The dead worker got as far as starting the scan.
    let mut start = Transition::new(image.id, ImageState::Queued, ImageState::Scanning);
    start.detail = serde_json::json!({ "worker": "dead" });
    stack.db.transition(&start).await.unwrap();

    // While the lease holds, nobody else gets the job.
    assert!(stack.db_lease("w2").await.is_none());
    tokio::time::sleep(Duration::from_millis(150)).await;

    let taken = stack.db_lease("w2").await.expect("the expired job");
    assert_eq!(taken.id, dead_job.id);
    assert_eq!(taken.attempts, 2);

    // The dead worker wakes up and tries to finish: refused.
    let mut late = Transition::new(image.id, ImageState::Scanning, ImageState::Passed);
    late.finish = Some((dead_job.id, "dead".into(), JobOutcome::Done));
    let refused = stack.db.transition(&late).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    assert_eq!(
        stack.image(APP, &pushed.digest).await.state,
        ImageState::Scanning
    );

    stack.gate.process(&taken).await.unwrap();
    stack.settle().await;
    let image = stack.image(APP, &pushed.digest).await;
    assert_eq!(image.state, ImageState::Promoted);
    assert_eq!(terminal_entries(&stack.states(&image).await), 1);

    // Even replaying the whole job, the dead worker changes nothing.
    let replay = stack.gate.process(&dead_job).await;
    assert!(
        matches!(replay, Err(GateError::Store(StoreError::Conflict(_)))),
        "{replay:?}"
    );
    let image = stack.image(APP, &pushed.digest).await;
    assert_eq!(image.state, ImageState::Promoted);
    assert_eq!(terminal_entries(&stack.states(&image).await), 1);
    let types = stack.event_types(&pushed.digest).await;
    assert_eq!(count(&types, "airlock.image.promoted"), 1, "{types:?}");
    assert_eq!(count(&types, "airlock.scan.completed"), 1, "{types:?}");
}

#[tokio::test]
async fn a_running_worker_takes_over_an_expired_lease() {
    let stack = Stack::new().await;
    let pushed = stack.push_image(APP, Some("1.0"), "orphan").await;
    stack
        .db
        .lease_job("dead", Duration::from_millis(50), OffsetDateTime::now_utc())
        .await
        .unwrap()
        .expect("the scan job");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(stack.gate.clone().run_worker("w1".into(), async {
        let _ = stopped.await;
    }));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !stack.image(APP, &pushed.digest).await.state.is_terminal() {
        assert!(std::time::Instant::now() < deadline, "never decided");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(()).unwrap();
    worker.await.unwrap();
    let image = stack.image(APP, &pushed.digest).await;
    assert_eq!(image.state, ImageState::Promoted);
    assert_eq!(terminal_entries(&stack.states(&image).await), 1);
}

/// A worker that keeps dying on an image (it takes the worker down with
/// it) must not get the image retried for ever: once the attempts are
/// spent, the image is rejected for a scan error.
#[tokio::test]
async fn an_image_that_keeps_killing_its_worker_is_rejected() {
    let stack = Stack::new().await;
    let pushed = stack.push_image(APP, Some("1.0"), "poison").await;
    let lease = Duration::from_millis(30);
    for worker in ["dead-1", "dead-2"] {
        stack
            .db
            .lease_job(worker, lease, OffsetDateTime::now_utc())
            .await
            .unwrap()
            .expect("the scan job");
        tokio::time::sleep(lease * 2).await;
    }
    stack.settle().await;
    let image = stack.image(APP, &pushed.digest).await;
    assert_eq!(image.state, ImageState::Rejected);
    assert_eq!(image.reason.as_deref(), Some("scan_error"));
    assert_eq!(stack.runner.calls(&pushed.digest), 0);
    assert_eq!(stack.db_pending().await, 0);
}

#[tokio::test]
async fn reconcile_promotes_an_image_left_passed() {
    let stack = Stack::new().await;
    let pushed = stack.push_image(APP, Some("1.0"), "passed").await;
    let job = stack.db_lease("w1").await.expect("the scan job");
    let image = stack.image(APP, &pushed.digest).await;
    stack
        .db
        .transition(&Transition::new(
            image.id,
            ImageState::Queued,
            ImageState::Scanning,
        ))
        .await
        .unwrap();
    // The worker decided and crashed before promoting.
    let mut decided = Transition::new(image.id, ImageState::Scanning, ImageState::Passed);
    decided.verdict = Some(serde_json::json!({ "passed": true, "failures": [], "findings": [] }));
    decided.finish = Some((job.id, job.worker.clone(), JobOutcome::Done));
    stack.db.transition(&decided).await.unwrap();
    assert_eq!(stack.resolve("scanned/acme/app", &tag("1.0")).await, None);

    assert_eq!(stack.gate.reconcile().await.unwrap(), 1);
    let image = stack.image(APP, &pushed.digest).await;
    assert_eq!(image.state, ImageState::Promoted);
    assert_eq!(
        stack.resolve("scanned/acme/app", &tag("1.0")).await,
        Some(pushed.digest.clone())
    );
    assert_eq!(stack.gate.reconcile().await.unwrap(), 0, "nothing left");
}

/// A worker decides, then fails to promote (the database was busy, say):
/// the verdict is stored but its job is not finished, so the job's retry
/// promotes the image instead of leaving it passed until a reconciliation.
#[tokio::test]
async fn a_scan_job_retried_after_its_verdict_promotes_the_passed_image() {
    let stack = Stack::new().await;
    let pushed = stack.push_image(APP, Some("1.0"), "retried").await;
    let job = stack.db_lease("w1").await.expect("the scan job");
    let image = stack.image(APP, &pushed.digest).await;
    stack
        .db
        .transition(&Transition::new(
            image.id,
            ImageState::Queued,
            ImageState::Scanning,
        ))
        .await
        .unwrap();
    let mut decided = Transition::new(image.id, ImageState::Scanning, ImageState::Passed);
    decided.verdict = Some(serde_json::json!({ "passed": true, "failures": [], "findings": [] }));
    stack.db.transition(&decided).await.unwrap();
    assert_eq!(stack.db_pending().await, 1, "the job is still open");

    stack.gate.process(&job).await.unwrap();
    let image = stack.image(APP, &pushed.digest).await;
    assert_eq!(image.state, ImageState::Promoted);
    assert_eq!(
        stack.resolve("scanned/acme/app", &tag("1.0")).await,
        Some(pushed.digest.clone())
    );
    assert_eq!(
        stack.db_pending().await,
        0,
        "the promotion finished the job"
    );
    assert_eq!(
        stack.runner.calls(&pushed.digest),
        0,
        "no scan for the retry"
    );
}

#[tokio::test]
async fn reconcile_records_a_push_the_gate_never_heard_of() {
    let stack = Stack::new().await;
    let unobserved = stack.unobserved_registry();
    let pushed = Stack::push_image_to(&unobserved, APP, Some("1.0"), "lost").await;
    assert!(stack.find_image(APP, &pushed.digest).await.is_none());

    assert_eq!(stack.gate.reconcile().await.unwrap(), 1);
    assert_eq!(
        stack.image(APP, &pushed.digest).await.state,
        ImageState::Queued
    );
    stack.settle().await;
    assert_eq!(
        stack.image(APP, &pushed.digest).await.state,
        ImageState::Promoted
    );
    assert_eq!(
        stack.resolve("scanned/acme/app", &tag("1.0")).await,
        Some(pushed.digest.clone()),
        "the tag follows the promotion"
    );
    assert_eq!(stack.gate.reconcile().await.unwrap(), 0);
    assert_eq!(image_digest("lost"), pushed.digest);
}

/// Referrers (signatures, SBOMs) follow their subject and are never gated;
/// reconciliation must not mistake them for missed image pushes.
#[tokio::test]
async fn reconcile_leaves_referrers_alone() {
    let stack = Stack::new().await;
    let subject = stack.push_image(APP, Some("1.0"), "signed").await;
    stack.settle().await;
    let repository = crate::repo(APP);
    let empty = b"{}".to_vec();
    let empty_digest = airlock_oci::Digest::sha256_of(&empty);
    let body: airlock_store::ByteStream = Box::pin(futures::stream::once(async move {
        Ok::<_, std::io::Error>(bytes::Bytes::from(empty))
    }));
    stack
        .registry
        .put_blob(&repository, &empty_digest, body)
        .await
        .unwrap();
    let signature = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": airlock_oci::media_type::OCI_MANIFEST,
        "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
        "config": {
            "mediaType": airlock_oci::media_type::OCI_EMPTY,
            "digest": empty_digest.to_string(),
            "size": 2,
        },
        "layers": [{
            "mediaType": airlock_oci::media_type::OCI_EMPTY,
            "digest": empty_digest.to_string(),
            "size": 2,
        }],
        "subject": {
            "mediaType": airlock_oci::media_type::OCI_MANIFEST,
            "digest": subject.digest.to_string(),
            "size": subject.content.len(),
        },
    })
    .to_string()
    .into_bytes();
    let signature = stack
        .put_manifest(
            &repository,
            None,
            airlock_oci::media_type::OCI_MANIFEST,
            signature,
        )
        .await;
    assert!(stack.find_image(APP, &signature).await.is_none());

    assert_eq!(stack.gate.reconcile().await.unwrap(), 0);
    assert!(
        stack.find_image(APP, &signature).await.is_none(),
        "a referrer became a gated image"
    );
    assert_eq!(stack.db_pending().await, 0);
}

/// Leaves an image in `Passed` as a worker that crashed after deciding
/// would.
async fn leave_passed(stack: &Stack, seed: &str) -> airlock_store::ImageRecord {
    let pushed = stack.push_image(APP, Some(seed), seed).await;
    let job = stack.db_lease("w1").await.expect("the scan job");
    let image = stack.image(APP, &pushed.digest).await;
    stack
        .db
        .transition(&Transition::new(
            image.id,
            ImageState::Queued,
            ImageState::Scanning,
        ))
        .await
        .unwrap();
    let mut decided = Transition::new(image.id, ImageState::Scanning, ImageState::Passed);
    decided.verdict = Some(serde_json::json!({ "passed": true, "failures": [], "findings": [] }));
    decided.finish = Some((job.id, job.worker.clone(), JobOutcome::Done));
    stack.db.transition(&decided).await.unwrap()
}

/// One image that cannot be moved on (its manifest was deleted after the
/// verdict) must not stop reconciliation of the others.
#[tokio::test]
async fn reconcile_goes_on_past_an_image_it_cannot_promote() {
    let stack = Stack::new().await;
    let kept = leave_passed(&stack, "kept").await;
    let gone = leave_passed(&stack, "gone").await;
    stack
        .registry
        .delete_manifest(
            &crate::admin(),
            &crate::repo(APP),
            &airlock_oci::Reference::Digest(gone.digest.clone()),
        )
        .await
        .unwrap();

    let reconciled = stack.gate.reconcile().await;
    assert_eq!(
        stack.image(APP, &kept.digest).await.state,
        ImageState::Promoted
    );
    assert!(reconciled.is_ok(), "{reconciled:?}");
    assert_eq!(
        stack.image(APP, &gone.digest).await.state,
        ImageState::Passed,
        "nothing to promote"
    );
    assert_eq!(
        stack.resolve("scanned/acme/app", &tag("kept")).await,
        Some(kept.digest.clone())
    );
}

#[tokio::test]
async fn the_jobs_of_a_worker_known_to_be_gone_are_released_without_waiting_for_the_lease() {
    let stack = Stack::new().await;
    let pushed = stack.push_image(APP, Some("1.0"), "released").await;
    let held = stack
        .db
        .lease_job(
            "gone-1",
            Duration::from_secs(3600),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap()
        .expect("the scan job");
    assert!(stack.db_lease("w2").await.is_none(), "the lease holds");
    // Only the named worker is released.
    assert_eq!(
        stack
            .gate
            .release_leases_of(|w| w == "someone-else")
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        stack
            .gate
            .release_leases_of(|w| w == "gone-1")
            .await
            .unwrap(),
        1
    );
    // The gone worker's late writes are refused like any stale worker's.
    assert!(matches!(
        stack
            .db
            .heartbeat(held.id, "gone-1", OffsetDateTime::now_utc())
            .await,
        Err(StoreError::Conflict(_))
    ));
    stack.settle().await;
    assert_eq!(
        stack.image(APP, &pushed.digest).await.state,
        ImageState::Promoted
    );
}
