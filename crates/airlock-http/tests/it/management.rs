//! Content management: deleting manifests (by digest with their tags, by
//! tag alone), deleting blobs, and garbage collection afterwards (unique
//! layers removed from disk, shared ones kept, expired uploads removed).

use std::time::Duration;

use airlock_registry::GcOptions;
use axum::body::Body;
use axum::http::StatusCode;

use crate::{TestApp, sha256};

const GC_NOW: GcOptions = GcOptions {
    grace: Duration::ZERO,
    dry_run: false,
};

#[tokio::test]
async fn delete_manifest_by_digest_removes_it_and_its_tags() {
    let app = TestApp::new().await;
    let (manifest, digest) = app.push_image("unscanned/t/del", "v1", &[b"layer"]).await;
    app.push_manifest(
        "unscanned/t/del",
        "also",
        airlock_oci::media_type::OCI_MANIFEST,
        &manifest,
    )
    .await;
    let (_, keep) = app.push_image("unscanned/t/del", "keep", &[b"other"]).await;

    let reply = app
        .send(
            "DELETE",
            &format!("/v2/unscanned/t/del/manifests/{digest}"),
            &[],
            Body::empty(),
        )
        .await
        .expect(StatusCode::ACCEPTED);
    assert!(reply.body.is_empty());

    app.get(&format!("/v2/unscanned/t/del/manifests/{digest}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
    app.head(&format!("/v2/unscanned/t/del/manifests/{digest}"))
        .await
        .expect(StatusCode::NOT_FOUND);
    for tag in ["v1", "also"] {
        app.get(&format!("/v2/unscanned/t/del/manifests/{tag}"))
            .await
            .expect_error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
    }
    let tags = app
        .get("/v2/unscanned/t/del/tags/list")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(tags["tags"], serde_json::json!(["keep"]));
    app.get(&format!("/v2/unscanned/t/del/manifests/{keep}"))
        .await
        .expect(StatusCode::OK);

    // A second delete finds nothing.
    app.send(
        "DELETE",
        &format!("/v2/unscanned/t/del/manifests/{digest}"),
        &[],
        Body::empty(),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
}

#[tokio::test]
async fn delete_manifest_in_one_repository_keeps_it_in_another() {
    let app = TestApp::new().await;
    let (manifest, digest) = app.push_image("unscanned/t/one", "v1", &[b"layer"]).await;
    app.push_image("unscanned/t/two", "v1", &[b"layer"]).await;
    app.send(
        "DELETE",
        &format!("/v2/unscanned/t/one/manifests/{digest}"),
        &[],
        Body::empty(),
    )
    .await
    .expect(StatusCode::ACCEPTED);
    app.registry.gc(&GC_NOW).await.unwrap();
    let pulled = app
        .get("/v2/unscanned/t/two/manifests/v1")
        .await
        .expect(StatusCode::OK);
    assert_eq!(pulled.body, manifest);
    app.get(&format!("/v2/unscanned/t/two/blobs/{}", sha256(b"layer")))
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn delete_by_tag_removes_only_the_tag() {
    let app = TestApp::new().await;
    let (manifest, digest) = app.push_image("unscanned/t/untag", "v1", &[b"layer"]).await;
    app.push_manifest(
        "unscanned/t/untag",
        "v2",
        airlock_oci::media_type::OCI_MANIFEST,
        &manifest,
    )
    .await;

    app.send(
        "DELETE",
        "/v2/unscanned/t/untag/manifests/v1",
        &[],
        Body::empty(),
    )
    .await
    .expect(StatusCode::ACCEPTED);
    app.get("/v2/unscanned/t/untag/manifests/v1")
        .await
        .expect_error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
    let by_digest = app
        .get(&format!("/v2/unscanned/t/untag/manifests/{digest}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(by_digest.body, manifest);
    let by_other_tag = app
        .get("/v2/unscanned/t/untag/manifests/v2")
        .await
        .expect(StatusCode::OK);
    assert_eq!(by_other_tag.body, manifest);
    let tags = app
        .get("/v2/unscanned/t/untag/tags/list")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(tags["tags"], serde_json::json!(["v2"]));

    app.send(
        "DELETE",
        "/v2/unscanned/t/untag/manifests/v1",
        &[],
        Body::empty(),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
    app.send(
        "DELETE",
        "/v2/unscanned/t/nosuchrepo/manifests/v1",
        &[],
        Body::empty(),
    )
    .await
    .expect(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn delete_blob() {
    let app = TestApp::new().await;
    let digest = app.push_blob("unscanned/t/blobdel", b"to be deleted").await;
    app.push_blob("unscanned/t/blobkeep", b"to be deleted")
        .await;
    let reply = app
        .send(
            "DELETE",
            &format!("/v2/unscanned/t/blobdel/blobs/{digest}"),
            &[],
            Body::empty(),
        )
        .await
        .expect(StatusCode::ACCEPTED);
    assert!(reply.body.is_empty());
    app.get(&format!("/v2/unscanned/t/blobdel/blobs/{digest}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN");
    app.head(&format!("/v2/unscanned/t/blobdel/blobs/{digest}"))
        .await
        .expect(StatusCode::NOT_FOUND);
    app.send(
        "DELETE",
        &format!("/v2/unscanned/t/blobdel/blobs/{digest}"),
        &[],
        Body::empty(),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN");
    // Another repository's link is untouched.
    app.get(&format!("/v2/unscanned/t/blobkeep/blobs/{digest}"))
        .await
        .expect(StatusCode::OK);
    app.send(
        "DELETE",
        "/v2/unscanned/t/blobdel/blobs/sha256:short",
        &[],
        Body::empty(),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
}

#[tokio::test]
async fn gc_removes_unique_layers_and_keeps_shared_ones() {
    let app = TestApp::new().await;
    let (_, doomed) = app
        .push_image("unscanned/t/gc", "old", &[b"unique layer", b"shared layer"])
        .await;
    let (kept_manifest, _) = app
        .push_image("unscanned/t/gc", "new", &[b"shared layer", b"new layer"])
        .await;
    let unique = sha256(b"unique layer");
    let shared = sha256(b"shared layer");
    let fresh = sha256(b"new layer");
    let doomed_config =
        sha256(br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","n":2}}"#);
    for digest in [&unique, &shared, &fresh, &doomed_config] {
        assert!(app.blob_file(digest).exists(), "{digest}");
    }

    // Nothing is collectable while both manifests exist.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let report = app.registry.gc(&GC_NOW).await.unwrap();
    assert_eq!(report.blobs_removed, 0, "{report:?}");

    app.send(
        "DELETE",
        &format!("/v2/unscanned/t/gc/manifests/{doomed}"),
        &[],
        Body::empty(),
    )
    .await
    .expect(StatusCode::ACCEPTED);
    tokio::time::sleep(Duration::from_millis(20)).await;

    // A dry run removes nothing.
    let dry = app
        .registry
        .gc(&GcOptions {
            grace: Duration::ZERO,
            dry_run: true,
        })
        .await
        .unwrap();
    // ...but counts exactly what the real run below removes.
    assert_eq!(dry.orphan_manifests, 1, "{dry:?}");
    assert_eq!(dry.blobs_removed, 1, "{dry:?}");
    assert_eq!(dry.bytes_removed, 12, "{dry:?}");
    assert!(app.blob_file(&unique).exists());
    app.get("/v2/unscanned/t/gc/manifests/new")
        .await
        .expect(StatusCode::OK);

    let report = app.registry.gc(&GC_NOW).await.unwrap();
    assert_eq!(report.orphan_manifests, 1, "{report:?}");
    assert_eq!(report.blobs_removed, 1, "{report:?}"); // the unique layer; both images share the config
    assert_eq!(report.bytes_removed, 12, "{report:?}");
    assert!(
        !app.blob_file(&unique).exists(),
        "unique layer must be collected"
    );
    assert!(app.blob_file(&shared).exists(), "shared layer must stay");
    assert!(app.blob_file(&fresh).exists());
    assert!(
        app.blob_file(&doomed_config).exists(),
        "config shared by both images must stay"
    );

    app.get(&format!("/v2/unscanned/t/gc/blobs/{unique}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN");
    app.get(&format!("/v2/unscanned/t/gc/blobs/{shared}"))
        .await
        .expect(StatusCode::OK);
    let pulled = app
        .get("/v2/unscanned/t/gc/manifests/new")
        .await
        .expect(StatusCode::OK);
    assert_eq!(pulled.body, kept_manifest);

    // The collected blob can be pushed again.
    app.push_blob("unscanned/t/gc", b"unique layer").await;
    app.get(&format!("/v2/unscanned/t/gc/blobs/{unique}"))
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn gc_grace_keeps_blobs_of_pushes_in_flight() {
    let app = TestApp::new().await;
    let digest = app
        .push_blob("unscanned/t/inflight", b"pushed, manifest not yet")
        .await;
    let report = app
        .registry
        .gc(&GcOptions {
            grace: Duration::from_secs(3600),
            dry_run: false,
        })
        .await
        .unwrap();
    assert_eq!(report.blobs_removed, 0);
    app.get(&format!("/v2/unscanned/t/inflight/blobs/{digest}"))
        .await
        .expect(StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(20)).await;
    app.registry.gc(&GC_NOW).await.unwrap();
    assert!(!app.blob_file(&digest).exists());
}

#[tokio::test]
async fn gc_removes_expired_uploads() {
    let app = TestApp::with_upload_ttl(Duration::from_secs(1)).await;
    let reply = app
        .send(
            "POST",
            "/v2/unscanned/t/gcup/blobs/uploads/",
            &[],
            Body::empty(),
        )
        .await
        .expect(StatusCode::ACCEPTED);
    let location = reply.header("location").to_owned();
    let id = reply.header("docker-upload-uuid").to_owned();
    app.send(
        "PATCH",
        &location,
        &[("content-range", "0-3")],
        &b"data"[..],
    )
    .await
    .expect(StatusCode::ACCEPTED);
    let staged = app.dir.path().join("uploads").join(&id);
    assert!(staged.exists());

    let report = app.registry.gc(&GC_NOW).await.unwrap();
    assert_eq!(report.expired_uploads, 0, "a live upload is kept");
    assert!(staged.exists());

    tokio::time::sleep(Duration::from_millis(1300)).await;
    let report = app.registry.gc(&GC_NOW).await.unwrap();
    assert_eq!(report.expired_uploads, 1, "{report:?}");
    assert!(!staged.exists(), "expired upload file must be removed");
    app.get(&location)
        .await
        .expect_error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN");
}
