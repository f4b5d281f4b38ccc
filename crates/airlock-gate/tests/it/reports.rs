//! The reports every decided scan leaves: five files in the object store,
//! recorded with the decision, linked from the decision events, attached to
//! promoted images as referrers, and never skipped: a report that cannot
//! be written leaves the image undecided.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use airlock_oci::Reference;
use airlock_store::{GateStore, ImageState, MetadataStore, ReportStore, SearchStore, StoreError};
use airlock_store_fs::FsReportStore;
use bytes::Bytes;

use crate::fakes::{CVE, VULNERABLE_PACKAGE};
use crate::{Stack, image_digest, repo, tenant};

/// A report store that can be made to fail.
#[derive(Debug)]
struct Flaky {
    inner: FsReportStore,
    failing: AtomicBool,
}

#[async_trait::async_trait]
impl ReportStore for Flaky {
    async fn put(&self, key: &str, content: Bytes) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::backend("write report", "disk full"));
        }
        self.inner.put(key, content).await
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        self.inner.get(key).await
    }
}

fn flaky(dir: &tempfile::TempDir, failing: bool) -> Arc<Flaky> {
    Arc::new(Flaky {
        inner: FsReportStore::open(&dir.path().join("objects")).expect("report store"),
        failing: AtomicBool::new(failing),
    })
}

const FILES: [&str; 5] = [
    "report.json",
    "report.html",
    "report.sarif",
    "sbom.cdx.json",
    "sbom.spdx.json",
];

#[tokio::test]
async fn a_promoted_image_leaves_five_reports_linked_from_its_events_and_attached_as_referrers() {
    let dir = tempfile::tempdir().unwrap();
    let store = flaky(&dir, false);
    let stack = Stack::with_reports(store.clone()).await;
    let pushed = stack
        .push_image("unscanned/acme/app", Some("1.0"), "clean")
        .await;
    stack.settle().await;
    let image = stack.image("unscanned/acme/app", &pushed.digest).await;
    assert_eq!(image.state, ImageState::Promoted);

    let scans = stack
        .db
        .scan_reports(&tenant("acme"), &pushed.digest)
        .await
        .unwrap();
    assert_eq!(scans.len(), 1);
    let scan = &scans[0];
    assert!(scan.passed);
    assert_eq!(
        scan.prefix,
        format!("reports/acme/app/{}/{}/", pushed.digest, scan.scan_id)
    );
    for name in FILES {
        let content = store
            .get(&format!("{}{name}", scan.prefix))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{name} missing"));
        assert!(!content.is_empty(), "{name}");
    }
    let json: serde_json::Value = serde_json::from_slice(
        &store
            .get(&format!("{}report.json", scan.prefix))
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(json["scan_id"], scan.scan_id.as_str());
    assert_eq!(json["verdict"]["passed"], true);
    assert_eq!(json["image"]["tags"], serde_json::json!(["1.0"]));
    assert_eq!(json["image"]["pusher"], "admin");
    assert_eq!(json["policy"]["version"], 0);

    let promoted = stack
        .events(&pushed.digest)
        .await
        .into_iter()
        .find(|e| e.event_type == "airlock.image.promoted")
        .expect("a promoted event");
    assert_eq!(promoted.data["scan_id"], scan.scan_id.as_str());
    assert_eq!(
        promoted.data["reports"]["sbom.cdx.json"],
        format!(
            "https://airlock.test/api/v1/tenants/acme/images/{}/reports/sbom.cdx.json?scan={}",
            pushed.digest, scan.scan_id
        )
    );
    assert_eq!(promoted.data["tags"], serde_json::json!(["1.0"]));
    assert_eq!(promoted.data["pusher"], "admin");

    let referrers = stack
        .db
        .referrers(&repo("scanned/acme/app"), &pushed.digest)
        .await
        .unwrap();
    let mut types: Vec<String> = referrers
        .iter()
        .filter_map(|r| r.artifact_type.clone())
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "application/vnd.airlock.scan-report.v1+json",
            "application/vnd.cyclonedx+json"
        ]
    );
    // The referrer's layer is the SBOM the object store holds, byte for byte.
    let sbom = referrers
        .iter()
        .find(|r| r.artifact_type.as_deref() == Some("application/vnd.cyclonedx+json"))
        .unwrap();
    let manifest = stack
        .db
        .manifest(
            &repo("scanned/acme/app"),
            &Reference::Digest(sbom.digest.clone()),
        )
        .await
        .unwrap()
        .expect("the referrer is in scanned/");
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.content).unwrap();
    let layer: airlock_oci::Digest = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let stored = store
        .get(&format!("{}sbom.cdx.json", scan.prefix))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(layer, airlock_oci::Digest::sha256_of(&stored));
    assert_eq!(manifest["subject"]["digest"], pushed.digest.to_string());
}

#[tokio::test]
async fn a_rejected_image_reports_the_rule_and_the_finding() {
    let dir = tempfile::tempdir().unwrap();
    let store = flaky(&dir, false);
    let stack = Stack::with_reports(store.clone()).await;
    stack
        .runner
        .packages(&image_digest("bad"), &[VULNERABLE_PACKAGE]);
    let pushed = stack
        .push_image("unscanned/acme/app", Some("1.0"), "bad")
        .await;
    stack.settle().await;
    assert_eq!(
        stack
            .image("unscanned/acme/app", &pushed.digest)
            .await
            .state,
        ImageState::Rejected
    );
    let scan = stack
        .db
        .scan_reports(&tenant("acme"), &pushed.digest)
        .await
        .unwrap()
        .remove(0);
    assert!(!scan.passed);
    let json: serde_json::Value = serde_json::from_slice(
        &store
            .get(&format!("{}report.json", scan.prefix))
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(json["verdict"]["passed"], false);
    assert_eq!(
        json["verdict"]["reasons"][0]["rule"],
        "block_severity_at_or_above"
    );
    let html = store
        .get(&format!("{}report.html", scan.prefix))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&html).contains(CVE));

    let rejected = stack
        .events(&pushed.digest)
        .await
        .into_iter()
        .find(|e| e.event_type == "airlock.image.rejected")
        .expect("a rejected event");
    assert_eq!(rejected.data["verdict"]["passed"], false);
    assert_eq!(rejected.data["top_findings"][0]["id"], CVE);
    assert_eq!(
        rejected.data["top_findings"][0]["package"],
        VULNERABLE_PACKAGE
    );
    assert_eq!(
        rejected.data["verdict"]["reasons"][0]["rule"],
        "block_severity_at_or_above"
    );
    // The decision indexed the finding for search, with the list's counts.
    let image = stack.image("unscanned/acme/app", &pushed.digest).await;
    let (hits, total) = stack
        .db
        .search_findings(&airlock_store::FindingQuery {
            image_id: Some(image.id),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(total, 1);
    assert_eq!(hits[0].finding.vulnerability, CVE);
    assert_eq!(hits[0].finding.package, VULNERABLE_PACKAGE);
    let (images, _) = stack
        .db
        .search_images(&airlock_store::ImageQuery {
            vulnerability: Some(CVE.into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].digest, pushed.digest);
    assert_eq!(images[0].counts.critical, 1);
    assert!(images[0].scanned_at.is_some());

    // Rejected images get no referrers in scanned/.
    assert!(
        stack
            .db
            .referrers(&repo("scanned/acme/app"), &pushed.digest)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn an_image_whose_reports_cannot_be_written_is_not_decided_until_they_can() {
    let dir = tempfile::tempdir().unwrap();
    let store = flaky(&dir, true);
    let stack = Stack::with_reports(store.clone()).await;
    let pushed = stack
        .push_image("unscanned/acme/app", Some("1.0"), "clean")
        .await;

    let job = loop {
        if let Some(job) = stack.db_lease("w1").await {
            break job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let error = stack.gate.process(&job).await.expect_err("reports failed");
    assert!(error.to_string().contains("disk full"), "{error}");
    let image = stack.image("unscanned/acme/app", &pushed.digest).await;
    assert_eq!(
        image.state,
        ImageState::Scanning,
        "not decided without reports"
    );
    assert!(
        stack
            .db
            .scan_reports(&tenant("acme"), &pushed.digest)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        stack
            .db
            .manifest(
                &repo("scanned/acme/app"),
                &Reference::Digest(pushed.digest.clone())
            )
            .await
            .unwrap()
            .is_none()
    );

    // The disk has room again: the job's retry decides, with reports.
    store.failing.store(false, Ordering::SeqCst);
    stack.db.release_leases(&job.worker).await.unwrap();
    stack.settle().await;
    assert_eq!(
        stack
            .image("unscanned/acme/app", &pushed.digest)
            .await
            .state,
        ImageState::Promoted
    );
    assert_eq!(
        stack
            .db
            .scan_reports(&tenant("acme"), &pushed.digest)
            .await
            .unwrap()
            .len(),
        1
    );
}
