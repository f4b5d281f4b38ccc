//! What the gate decides for a single image: promotion of a clean one,
//! rejection of a vulnerable one, exceptions, failing closed on missing data
//! and invalid policies, and tags that move.

use airlock_audit::{Actor, AuditEvent};
use airlock_oci::{Digest, Reference};
use airlock_store::{ExceptionRecord, GateStore, ImageState};
use time::OffsetDateTime;

use crate::fakes::{CVE, GHSA, VULNERABLE_PACKAGE};
use crate::{Stack, count, repo, tag, tenant};

const APP: &str = "unscanned/acme/app";
const SCANNED_APP: &str = "scanned/acme/app";

/// The rules the stored verdict says failed.
fn failed_rules(verdict: &serde_json::Value) -> Vec<String> {
    verdict["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .map(|f| f["rule"].as_str().expect("rule").to_owned())
        .collect()
}

/// Pushes a vulnerable image to `unscanned/<tenant>/app:1.0` and settles.
async fn push_vulnerable(stack: &Stack, tenant: &str, seed: &str) -> Digest {
    let repository = format!("unscanned/{tenant}/app");
    // The runner must know the digest before the push queues its scan.
    stack
        .runner
        .packages(&crate::image_digest(seed), &[VULNERABLE_PACKAGE]);
    let pushed = stack.push_image(&repository, Some("1.0"), seed).await;
    stack.settle().await;
    pushed.digest
}

async fn except(stack: &Stack, tenant_name: &str, vulnerability: &str) -> ExceptionRecord {
    let now = OffsetDateTime::now_utc();
    let requested = stack
        .db
        .create_exception(
            &ExceptionRecord {
                id: String::new(),
                tenant: tenant(tenant_name),
                vulnerability: vulnerability.into(),
                package: None,
                repository: None,
                digest: None,
                reason: "not reachable".into(),
                requested_by: "alice".into(),
                approved_by: None,
                approved_at: None,
                expires_at: now + time::Duration::days(30),
                revoked_at: None,
                created_at: now,
            },
            &AuditEvent::new(Actor::user("alice"), "exception.create", vulnerability),
            &[],
        )
        .await
        .expect("create exception");
    stack
        .db
        .approve_exception(
            &requested.id,
            "bob",
            now,
            &AuditEvent::new(Actor::user("bob"), "exception.approve", &requested.id),
            &[],
        )
        .await
        .expect("approve exception")
}

#[tokio::test]
async fn clean_image_is_promoted_with_its_tag_blobs_history_audit_and_events() {
    let stack = Stack::new().await;
    let pushed = stack.push_image(APP, Some("1.0"), "clean").await;

    let image = stack.image(APP, &pushed.digest).await;
    assert_eq!(image.state, ImageState::Queued, "a push queues a scan");
    assert_eq!(stack.resolve(SCANNED_APP, &tag("1.0")).await, None);

    stack.settle().await;

    let image = stack.image(APP, &pushed.digest).await;
    assert_eq!(image.state, ImageState::Promoted);
    assert_eq!(image.reason, None);
    assert_eq!(image.verdict.as_ref().unwrap()["passed"], true);
    assert_eq!(
        stack.resolve(SCANNED_APP, &tag("1.0")).await,
        Some(pushed.digest.clone())
    );
    for blob in &pushed.blobs {
        stack
            .registry
            .blob_size(&repo(SCANNED_APP), blob)
            .await
            .expect("blob visible in scanned/");
    }
    assert_eq!(
        stack.states(&image).await,
        [
            ImageState::Received,
            ImageState::Queued,
            ImageState::Scanning,
            ImageState::Passed,
            ImageState::Promoted,
        ]
    );
    let scan = stack.audit_actions("scan", &pushed.digest).await;
    assert!(scan.contains(&"scan.start".to_owned()), "{scan:?}");
    assert!(scan.contains(&"scan.end".to_owned()), "{scan:?}");
    let promotions = stack.audit_actions("image", &pushed.digest).await;
    assert_eq!(promotions, ["image.promote"]);
    assert_eq!(
        stack.event_types(&pushed.digest).await,
        [
            "airlock.image.pushed",
            "airlock.scan.queued",
            "airlock.scan.started",
            "airlock.scan.completed",
            "airlock.image.promoted",
        ]
    );
    assert_eq!(stack.runner.calls(&pushed.digest), 1);
}

#[tokio::test]
async fn vulnerable_image_is_rejected_by_policy_and_never_reaches_scanned() {
    let stack = Stack::new().await;
    let digest = push_vulnerable(&stack, "acme", "vulnerable").await;

    let image = stack.image(APP, &digest).await;
    assert_eq!(image.state, ImageState::Rejected);
    assert_eq!(image.reason.as_deref(), Some("policy"));
    let verdict = image.verdict.expect("verdict");
    assert_eq!(verdict["passed"], false);
    assert_eq!(failed_rules(&verdict), ["block_severity_at_or_above"]);
    assert_eq!(verdict["failures"][0]["findings"][0]["id"], CVE);
    assert_eq!(
        stack.states(&image_of(&stack, &digest).await).await.last(),
        Some(&ImageState::Rejected)
    );
    assert_eq!(stack.resolve(SCANNED_APP, &tag("1.0")).await, None);
    assert_eq!(
        stack
            .resolve(SCANNED_APP, &Reference::Digest(digest.clone()))
            .await,
        None
    );
    let types = stack.event_types(&digest).await;
    assert_eq!(count(&types, "airlock.image.rejected"), 1, "{types:?}");
    assert_eq!(count(&types, "airlock.image.promoted"), 0, "{types:?}");
    // Still there for inspection.
    assert_eq!(stack.resolve(APP, &tag("1.0")).await, Some(digest.clone()));
}

async fn image_of(stack: &Stack, digest: &Digest) -> airlock_store::ImageRecord {
    stack.image(APP, digest).await
}

#[tokio::test]
async fn an_approved_exception_lets_a_repush_through_without_a_new_scan() {
    let stack = Stack::new().await;
    let digest = push_vulnerable(&stack, "acme", "vulnerable").await;
    assert_eq!(stack.image(APP, &digest).await.state, ImageState::Rejected);
    assert_eq!(stack.runner.calls(&digest), 1);

    except(&stack, "acme", CVE).await;
    let content = stack
        .registry
        .manifest(&repo(APP), &Reference::Digest(digest.clone()))
        .await
        .unwrap()
        .content;
    stack
        .put_manifest(
            &repo(APP),
            Some("1.0"),
            airlock_oci::media_type::OCI_MANIFEST,
            content,
        )
        .await;
    assert_eq!(stack.image(APP, &digest).await.state, ImageState::Queued);
    stack.settle().await;

    let image = stack.image(APP, &digest).await;
    assert_eq!(image.state, ImageState::Promoted);
    assert_eq!(stack.runner.calls(&digest), 1, "the inventory is reused");
    let verdict = image.verdict.clone().expect("verdict");
    assert_eq!(verdict["excepted"][0]["finding"], CVE, "{verdict}");
    assert_eq!(
        stack.resolve(SCANNED_APP, &tag("1.0")).await,
        Some(digest.clone())
    );
    let states = stack.states(&image).await;
    assert_eq!(
        &states[states.len() - 5..],
        [
            ImageState::Rejected,
            ImageState::Queued,
            ImageState::Scanning,
            ImageState::Passed,
            ImageState::Promoted,
        ]
    );
    let types = stack.event_types(&digest).await;
    assert_eq!(count(&types, "airlock.image.pushed"), 2, "{types:?}");
    assert_eq!(count(&types, "airlock.image.rejected"), 1, "{types:?}");
    assert_eq!(count(&types, "airlock.image.promoted"), 1, "{types:?}");
}

#[tokio::test]
async fn an_approved_exception_promotes_a_rejected_image_on_reevaluation() {
    let stack = Stack::new().await;
    let digest = push_vulnerable(&stack, "acme", "vulnerable").await;
    assert_eq!(stack.image(APP, &digest).await.state, ImageState::Rejected);
    // Without an exception, re-evaluating a rejected image changes nothing.
    assert_eq!(
        stack
            .gate
            .reevaluate_all(Some(&tenant("acme")))
            .await
            .unwrap(),
        1
    );
    stack.settle().await;
    assert_eq!(stack.image(APP, &digest).await.state, ImageState::Rejected);

    except(&stack, "acme", CVE).await;
    assert_eq!(
        stack
            .gate
            .reevaluate_all(Some(&tenant("acme")))
            .await
            .unwrap(),
        1
    );
    stack.settle().await;

    let image = stack.image(APP, &digest).await;
    assert_eq!(image.state, ImageState::Promoted);
    assert_eq!(image.reason, None, "the rejection's reason is gone");
    assert_eq!(stack.runner.calls(&digest), 1, "no new scan");
    let verdict = image.verdict.clone().expect("verdict");
    assert_eq!(verdict["passed"], true, "{verdict}");
    assert_eq!(verdict["excepted"][0]["finding"], CVE, "{verdict}");
    assert_eq!(
        stack.resolve(SCANNED_APP, &tag("1.0")).await,
        Some(digest.clone())
    );
    let states = stack.states(&image).await;
    assert_eq!(
        &states[states.len() - 3..],
        [
            ImageState::Rejected,
            ImageState::Passed,
            ImageState::Promoted
        ]
    );
    assert_eq!(
        stack.audit_actions("image", &digest).await,
        ["image.reject", "image.reconsider", "image.promote"]
    );
    let types = stack.event_types(&digest).await;
    assert_eq!(count(&types, "airlock.image.rejected"), 1, "{types:?}");
    assert_eq!(count(&types, "airlock.image.promoted"), 1, "{types:?}");
}

#[tokio::test]
async fn a_rejected_image_past_its_retention_is_not_reconsidered() {
    let stack = Stack::new().await;
    let digest = push_vulnerable(&stack, "acme", "vulnerable").await;
    let later = OffsetDateTime::now_utc() + time::Duration::days(365);
    assert_eq!(stack.gate.expire_rejected(later).await.unwrap(), 1);
    except(&stack, "acme", CVE).await;
    stack.gate.reevaluate_all(None).await.unwrap();
    stack.settle().await;
    let image = stack.image(APP, &digest).await;
    assert_eq!(image.state, ImageState::Rejected, "its manifest is gone");
    assert_eq!(stack.resolve(SCANNED_APP, &tag("1.0")).await, None);
    assert_eq!(stack.db_pending().await, 0);
}

#[tokio::test]
async fn a_dry_run_evaluates_scanned_images_against_a_candidate_policy_and_stores_nothing() {
    let stack = Stack::new().await;
    let clean = stack.push_image(APP, Some("1.0"), "clean").await;
    let vulnerable = push_vulnerable(&stack, "acme", "vulnerable").await;
    stack.settle().await;
    // New data: the promoted image now has a low finding.
    stack.matcher.add(crate::fakes::Advisory {
        package: crate::fakes::CLEAN_PACKAGE.into(),
        id: "CVE-2024-7777".into(),
        aliases: Vec::new(),
        severity: airlock_scan_model::Severity::Low,
    });
    let strict = airlock_policy::Policy::from_yaml("max_findings: { low: 0 }\n").unwrap();
    let lenient = airlock_policy::Policy::from_yaml("ignore_unfixed: false\n").unwrap();
    let before = stack.image(APP, &clean.digest).await;

    let outcomes = stack.gate.dry_run(&tenant("acme"), &lenient).await.unwrap();
    let digests: Vec<&Digest> = outcomes.iter().map(|(i, _, _)| &i.digest).collect();
    assert_eq!(
        digests,
        [&clean.digest],
        "only images in scanned/, not {vulnerable}"
    );
    assert!(outcomes[0].1, "{:?}", outcomes[0].2);

    let outcomes = stack.gate.dry_run(&tenant("acme"), &strict).await.unwrap();
    assert!(!outcomes[0].1, "a low finding fails max_findings low: 0");
    assert_eq!(
        outcomes[0].2[0]["rule"], "max_findings",
        "{:?}",
        outcomes[0].2
    );
    assert_eq!(
        stack.image(APP, &clean.digest).await,
        before,
        "nothing stored"
    );
    let types = stack.event_types(&clean.digest).await;
    assert_eq!(
        count(&types, "airlock.vulnerability.detected"),
        0,
        "{types:?}"
    );
    assert_eq!(stack.db_pending().await, 0);
}

#[tokio::test]
async fn an_exception_for_an_alias_covers_the_finding() {
    let stack = Stack::new().await;
    except(&stack, "globex", GHSA).await;
    let digest = push_vulnerable(&stack, "globex", "aliased").await;
    let image = stack.image("unscanned/globex/app", &digest).await;
    assert_eq!(image.state, ImageState::Promoted, "{:?}", image.verdict);
    // The exception is the tenant's own: acme is not covered by it.
    let other = push_vulnerable(&stack, "acme", "aliased-elsewhere").await;
    assert_eq!(stack.image(APP, &other).await.state, ImageState::Rejected);
}

#[tokio::test]
async fn missing_vulnerability_data_rejects() {
    let stack = Stack::new().await;
    stack.matcher.set_data_age(None);
    let pushed = stack.push_image(APP, Some("1.0"), "no-data").await;
    stack.settle().await;

    let image = stack.image(APP, &pushed.digest).await;
    assert_eq!(image.state, ImageState::Rejected, "fail closed");
    let rules = failed_rules(image.verdict.as_ref().expect("verdict"));
    assert!(
        rules
            .iter()
            .any(|r| r == "scan_coverage" || r == "max_vulnerability_data_age"),
        "{rules:?}"
    );
    assert_eq!(stack.resolve(SCANNED_APP, &tag("1.0")).await, None);
}

#[tokio::test]
async fn stale_vulnerability_data_rejects() {
    let stack = Stack::new().await;
    stack
        .matcher
        .set_data_age(Some(std::time::Duration::from_secs(30 * 86_400)));
    let pushed = stack.push_image(APP, Some("1.0"), "stale").await;
    stack.settle().await;

    let image = stack.image(APP, &pushed.digest).await;
    assert_eq!(image.state, ImageState::Rejected);
    assert_eq!(
        failed_rules(image.verdict.as_ref().unwrap()),
        ["max_vulnerability_data_age"]
    );
}

#[tokio::test]
async fn an_invalid_stored_policy_rejects() {
    let stack = Stack::new().await;
    stack
        .db
        .put_policy(
            Some(&tenant("acme")),
            "block_severity_at_or_above: [unclosed",
            "admin",
            &AuditEvent::new(Actor::user("admin"), "policy.set", "acme"),
            &[],
        )
        .await
        .expect("store policy");
    let pushed = stack.push_image(APP, Some("1.0"), "clean").await;
    stack.settle().await;

    let image = stack.image(APP, &pushed.digest).await;
    assert_eq!(image.state, ImageState::Rejected);
    assert_eq!(image.reason.as_deref(), Some("invalid_policy"));
    assert_eq!(stack.resolve(SCANNED_APP, &tag("1.0")).await, None);
    let types = stack.event_types(&pushed.digest).await;
    assert_eq!(count(&types, "airlock.image.rejected"), 1, "{types:?}");

    // Another tenant's images follow the default policy.
    let other = stack
        .push_image("unscanned/globex/app", Some("1.0"), "clean")
        .await;
    stack.settle().await;
    assert_eq!(
        stack
            .image("unscanned/globex/app", &other.digest)
            .await
            .state,
        ImageState::Promoted
    );
}

#[tokio::test]
async fn a_rejected_tag_move_leaves_the_promoted_tag_alone() {
    let stack = Stack::new().await;
    let first = stack.push_image(APP, Some("1.0"), "first").await;
    stack.settle().await;
    assert_eq!(
        stack.image(APP, &first.digest).await.state,
        ImageState::Promoted
    );

    let second = push_vulnerable(&stack, "acme", "second").await;
    assert_eq!(stack.image(APP, &second).await.state, ImageState::Rejected);
    assert_eq!(stack.resolve(APP, &tag("1.0")).await, Some(second.clone()));
    assert_eq!(
        stack.resolve(SCANNED_APP, &tag("1.0")).await,
        Some(first.digest.clone()),
        "scanned/ keeps the last promoted image"
    );
    assert_eq!(
        stack.resolve(SCANNED_APP, &Reference::Digest(second)).await,
        None
    );
}

#[tokio::test]
async fn a_scan_that_finds_no_platform_rejects() {
    let stack = Stack::new().await;
    stack
        .runner
        .reports(&crate::image_digest("empty"), Vec::new());
    let pushed = stack.push_image(APP, Some("1.0"), "empty").await;
    stack.settle().await;

    let image = stack.image(APP, &pushed.digest).await;
    assert_eq!(image.state, ImageState::Rejected, "no inventory, no pass");
    assert!(
        failed_rules(image.verdict.as_ref().unwrap()).contains(&"scan_coverage".to_owned()),
        "{:?}",
        image.verdict
    );
}

#[tokio::test]
async fn rejected_images_leave_unscanned_after_their_retention_and_promoted_ones_stay() {
    let stack = Stack::with_config(airlock_gate::GateConfig {
        rejected_retention: std::time::Duration::from_secs(3600),
        ..crate::test_config()
    })
    .await;
    let rejected = push_vulnerable(&stack, "acme", "expire-me").await;
    let clean = stack
        .push_image("unscanned/acme/other", Some("1.0"), "keep-me")
        .await;
    stack.settle().await;
    assert_eq!(
        stack
            .image("unscanned/acme/other", &clean.digest)
            .await
            .state,
        ImageState::Promoted
    );
    let source = repo("unscanned/acme/app");
    let present = |digest: Digest| {
        let db = stack.db.clone();
        let source = source.clone();
        async move {
            airlock_store::MetadataStore::manifest(db.as_ref(), &source, &Reference::Digest(digest))
                .await
                .unwrap()
                .is_some()
        }
    };
    // Within the retention period nothing is removed.
    assert_eq!(
        stack
            .gate
            .expire_rejected(OffsetDateTime::now_utc())
            .await
            .unwrap(),
        0
    );
    assert!(present(rejected.clone()).await);
    // After it, the rejected manifest leaves unscanned/ (its record stays).
    let later = OffsetDateTime::now_utc() + time::Duration::hours(2);
    assert_eq!(stack.gate.expire_rejected(later).await.unwrap(), 1);
    assert!(!present(rejected.clone()).await);
    assert_eq!(
        stack.image("unscanned/acme/app", &rejected).await.state,
        ImageState::Rejected
    );
    assert_eq!(
        stack.audit_actions("image.expire", &rejected).await.len(),
        1
    );
    // Promoted images are untouched, in both zones.
    assert!(
        airlock_store::MetadataStore::manifest(
            stack.db.as_ref(),
            &repo("scanned/acme/other"),
            &tag("1.0")
        )
        .await
        .unwrap()
        .is_some()
    );
    assert_eq!(stack.gate.expire_rejected(later).await.unwrap(), 0);
}
