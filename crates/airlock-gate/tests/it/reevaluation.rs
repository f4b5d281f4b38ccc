//! Re-evaluation: new vulnerability data is matched against the stored
//! inventories of promoted images, without a new scan; new findings are
//! announced; nothing is demoted unless the policy says `demote_after`.

use airlock_scan_model::Severity;
use airlock_store::ImageState;

use crate::fakes::{Advisory, CLEAN_PACKAGE};
use crate::{Stack, count, tag};

const APP: &str = "unscanned/acme/app";

#[tokio::test]
async fn new_data_announces_new_findings_on_promoted_images() {
    let stack = Stack::new().await;
    let pushed = stack.push_image(APP, Some("1.0"), "clean").await;
    stack.settle().await;
    assert_eq!(
        stack.image(APP, &pushed.digest).await.state,
        ImageState::Promoted
    );

    // Nothing new: re-evaluation announces nothing.
    assert_eq!(stack.gate.reevaluate_all(None).await.unwrap(), 1);
    stack.settle().await;
    let types = stack.event_types(&pushed.digest).await;
    assert_eq!(
        count(&types, "airlock.vulnerability.detected"),
        0,
        "{types:?}"
    );

    stack.matcher.add(Advisory {
        package: CLEAN_PACKAGE.into(),
        id: "CVE-2024-9999".into(),
        aliases: Vec::new(),
        severity: Severity::Critical,
    });
    assert_eq!(stack.gate.reevaluate_all(None).await.unwrap(), 1);
    stack.settle().await;

    let events = stack.events(&pushed.digest).await;
    let detected: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == "airlock.vulnerability.detected")
        .collect();
    assert_eq!(detected.len(), 1, "{events:?}");
    let new_findings = detected[0].data["new_findings"].to_string();
    assert!(new_findings.contains("CVE-2024-9999"), "{new_findings}");
    assert!(new_findings.contains(CLEAN_PACKAGE), "{new_findings}");
    assert_eq!(detected[0].data["passes_policy"], false);

    let image = stack.image(APP, &pushed.digest).await;
    assert_eq!(image.state, ImageState::Promoted, "no demotion");
    assert_eq!(
        stack.resolve("scanned/acme/app", &tag("1.0")).await,
        Some(pushed.digest.clone())
    );
    assert_eq!(stack.runner.calls(&pushed.digest), 1, "no rescan");

    // The finding is known now: a further re-evaluation is quiet.
    stack.gate.reevaluate_all(None).await.unwrap();
    stack.settle().await;
    let types = stack.event_types(&pushed.digest).await;
    assert_eq!(
        count(&types, "airlock.vulnerability.detected"),
        1,
        "{types:?}"
    );
}

#[tokio::test]
async fn reevaluation_is_per_tenant() {
    let stack = Stack::new().await;
    stack.push_image(APP, Some("1.0"), "a").await;
    stack
        .push_image("unscanned/globex/app", Some("1.0"), "b")
        .await;
    stack.settle().await;
    assert_eq!(
        stack
            .gate
            .reevaluate_all(Some(&crate::tenant("globex")))
            .await
            .unwrap(),
        1
    );
    assert_eq!(stack.gate.reevaluate_all(None).await.unwrap(), 2);
    stack.settle().await;
    assert_eq!(stack.db_pending().await, 0);
}

#[tokio::test]
async fn a_policy_with_demote_after_removes_a_failing_image_from_scanned_after_the_grace() {
    use airlock_audit::{Actor, AuditEvent};
    use airlock_store::GateStore;

    let stack = Stack::new().await;
    let pushed = stack.push_image(APP, Some("1.0"), "to-demote").await;
    stack.settle().await;
    assert_eq!(
        stack.image(APP, &pushed.digest).await.state,
        ImageState::Promoted
    );
    let policy = "block_severity_at_or_above: critical\ndemote_after: 1s\n";
    stack
        .db
        .put_policy(
            Some(&crate::tenant("acme")),
            policy,
            "sec",
            &AuditEvent::new(Actor::user("sec"), "policy.set", "acme"),
            &[],
        )
        .await
        .unwrap();
    stack.matcher.add(Advisory {
        package: CLEAN_PACKAGE.into(),
        id: "CVE-2024-7777".into(),
        aliases: Vec::new(),
        severity: Severity::Critical,
    });

    // The first failing re-evaluation starts the grace period: still promoted.
    stack.gate.reevaluate_all(None).await.unwrap();
    let leased = stack.db_lease("w").await.expect("a re-evaluation job");
    stack.gate.process(&leased).await.unwrap();
    assert_eq!(
        stack.image(APP, &pushed.digest).await.state,
        ImageState::Promoted
    );
    assert!(
        stack
            .resolve("scanned/acme/app", &tag("1.0"))
            .await
            .is_some()
    );

    // After the grace the queued re-evaluation demotes it.
    stack.settle().await;
    let image = stack.image(APP, &pushed.digest).await;
    assert_eq!(image.state, ImageState::Rejected);
    assert_eq!(image.reason.as_deref(), Some("demoted"));
    assert_eq!(stack.resolve("scanned/acme/app", &tag("1.0")).await, None);
    let types = stack.event_types(&pushed.digest).await;
    assert_eq!(count(&types, "airlock.image.demoted"), 1, "{types:?}");
    assert_eq!(
        stack.history(&image).await.last().map(|h| h.to),
        Some(ImageState::Rejected)
    );
}
