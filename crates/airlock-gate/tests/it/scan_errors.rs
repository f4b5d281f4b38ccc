//! Scans that produce no inventory: a crash or a timeout is retried a
//! bounded number of times, a hostile image is rejected at once, and a
//! failure is never a pass.

use airlock_gate::ScanFailure;
use airlock_store::ImageState;

use crate::{Stack, count, image_digest, tag};

const APP: &str = "unscanned/acme/app";

/// Pushes an image whose every scan fails with `failure`; settles; checks
/// it ends rejected for `scan_error` after `expected_attempts` scans.
async fn failing_scan_is_rejected(failure: ScanFailure, expected_attempts: usize) {
    let stack = Stack::new().await;
    let digest = image_digest("failing");
    stack.runner.fail(&digest, failure);
    stack.push_image(APP, Some("1.0"), "failing").await;
    stack.settle().await;

    let image = stack.image(APP, &digest).await;
    assert_eq!(image.state, ImageState::Rejected);
    assert_eq!(image.reason.as_deref(), Some("scan_error"));
    assert_eq!(image.verdict.as_ref().unwrap()["passed"], false);
    assert_eq!(stack.runner.calls(&digest), expected_attempts);
    let types = stack.event_types(&digest).await;
    assert_eq!(
        count(&types, "airlock.scan.failed"),
        expected_attempts,
        "one per failed attempt: {types:?}"
    );
    assert_eq!(
        count(&types, "airlock.scan.started"),
        expected_attempts,
        "{types:?}"
    );
    assert_eq!(count(&types, "airlock.image.rejected"), 1, "{types:?}");
    assert_eq!(count(&types, "airlock.image.promoted"), 0, "{types:?}");
    assert_eq!(count(&types, "airlock.scan.completed"), 0, "{types:?}");
    let mut expected = vec![ImageState::Received, ImageState::Queued];
    for _ in 1..expected_attempts {
        expected.extend([ImageState::Scanning, ImageState::Queued]);
    }
    expected.extend([ImageState::Scanning, ImageState::Rejected]);
    assert_eq!(stack.states(&image).await, expected);
    assert_eq!(stack.resolve("scanned/acme/app", &tag("1.0")).await, None);
    assert_eq!(stack.db_pending().await, 0, "the job is over");
}

#[tokio::test]
async fn a_crashing_scan_is_retried_then_rejected() {
    failing_scan_is_rejected(ScanFailure::Crashed("killed by signal 9".into()), 2).await;
}

#[tokio::test]
async fn a_timed_out_scan_is_retried_then_rejected() {
    failing_scan_is_rejected(ScanFailure::Timeout { seconds: 300 }, 2).await;
}

#[tokio::test]
async fn a_hostile_image_is_rejected_without_retry() {
    failing_scan_is_rejected(
        ScanFailure::Image("layer expands beyond the size limit".into()),
        1,
    )
    .await;
}

#[tokio::test]
async fn a_scan_that_recovers_on_retry_promotes() {
    let stack = Stack::new().await;
    let digest = image_digest("flaky");
    stack
        .runner
        .fail(&digest, ScanFailure::Crashed("out of memory".into()));
    stack.push_image(APP, Some("1.0"), "flaky").await;
    // First attempt only.
    let job = stack
        .db_lease("w1")
        .await
        .expect("the scan job is ready at once");
    stack.gate.process(&job).await.unwrap();
    assert_eq!(stack.image(APP, &digest).await.state, ImageState::Queued);
    stack.runner.packages(&digest, &["clean-lib"]);
    stack.settle().await;

    let image = stack.image(APP, &digest).await;
    assert_eq!(image.state, ImageState::Promoted);
    assert_eq!(stack.runner.calls(&digest), 2);
    let types = stack.event_types(&digest).await;
    assert_eq!(count(&types, "airlock.scan.failed"), 1, "{types:?}");
    assert_eq!(count(&types, "airlock.image.promoted"), 1, "{types:?}");
}
