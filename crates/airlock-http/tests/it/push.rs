//! Push: upload sessions (POST, chunked PATCH with `Content-Range`,
//! out-of-order chunks, streamed PATCH, status, PUT to close, cancel,
//! expiry), monolithic uploads, digest verification with nothing stored on
//! a mismatch, sha512, the empty blob, cross-repository mount and its
//! fallback, and per-repository blob visibility.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;

use crate::{TestApp, sha256, sha512};

/// Opens a session and checks the spec's 202 answer; returns the Location.
async fn open_session(app: &TestApp, repo: &str) -> String {
    let reply = app
        .send(
            "POST",
            &format!("/v2/{repo}/blobs/uploads/"),
            &[],
            Body::empty(),
        )
        .await
        .expect(StatusCode::ACCEPTED);
    let location = reply.header("location").to_owned();
    let uuid = reply.header("docker-upload-uuid");
    assert!(!uuid.is_empty());
    assert_eq!(location, format!("/v2/{repo}/blobs/uploads/{uuid}"));
    assert_eq!(reply.header("range"), "0-0");
    location
}

fn with_digest(location: &str, digest: &str) -> String {
    let separator = if location.contains('?') { '&' } else { '?' };
    format!("{location}{separator}digest={digest}")
}

#[tokio::test]
async fn chunked_upload_grows_the_range_and_closes_with_put() {
    let app = TestApp::new().await;
    let content: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let location = open_session(&app, "unscanned/t/chunked").await;

    let mut offset = 0;
    for chunk in content.chunks(1024) {
        let range = format!("{}-{}", offset, offset + chunk.len() - 1);
        let length = chunk.len().to_string();
        let reply = app
            .send(
                "PATCH",
                &location,
                &[
                    ("content-range", &range),
                    ("content-length", &length),
                    ("content-type", "application/octet-stream"),
                ],
                chunk.to_vec(),
            )
            .await
            .expect(StatusCode::ACCEPTED);
        offset += chunk.len();
        assert_eq!(reply.header("range"), format!("0-{}", offset - 1));
        assert_eq!(reply.header("location"), location);
        assert!(!reply.header("docker-upload-uuid").is_empty());
    }

    let status = app.get(&location).await.expect(StatusCode::NO_CONTENT);
    assert_eq!(status.header("range"), format!("0-{}", content.len() - 1));
    assert_eq!(status.header("location"), location);

    let digest = sha256(&content);
    let reply = app
        .send("PUT", &with_digest(&location, &digest), &[], Body::empty())
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(
        reply.header("location"),
        format!("/v2/unscanned/t/chunked/blobs/{digest}")
    );
    assert_eq!(reply.header("docker-content-digest"), digest);

    let blob = app
        .get(&format!("/v2/unscanned/t/chunked/blobs/{digest}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(blob.body, content);
    // The session is closed.
    app.get(&location)
        .await
        .expect_error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn put_may_carry_the_last_chunk() {
    let app = TestApp::new().await;
    let location = open_session(&app, "unscanned/t/lastchunk").await;
    app.send(
        "PATCH",
        &location,
        &[("content-range", "0-4")],
        &b"hello"[..],
    )
    .await
    .expect(StatusCode::ACCEPTED);
    let digest = sha256(b"hello world");
    app.send(
        "PUT",
        &with_digest(&location, &digest),
        &[("content-length", "6")],
        &b" world"[..],
    )
    .await
    .expect(StatusCode::CREATED);
    let blob = app
        .get(&format!("/v2/unscanned/t/lastchunk/blobs/{digest}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(&blob.body[..], b"hello world");
}

#[tokio::test]
async fn out_of_order_chunk_is_416_and_the_upload_can_continue() {
    let app = TestApp::new().await;
    let location = open_session(&app, "unscanned/t/order").await;
    app.send(
        "PATCH",
        &location,
        &[("content-range", "0-9")],
        &b"0123456789"[..],
    )
    .await
    .expect(StatusCode::ACCEPTED);

    // A gap, then an overlap: both refused with where the upload stands.
    for range in ["20-29", "5-14"] {
        let reply = app
            .send(
                "PATCH",
                &location,
                &[("content-range", range)],
                &b"abcdefghij"[..],
            )
            .await
            .expect_error(StatusCode::RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID");
        assert_eq!(reply.header("range"), "0-9");
        assert_eq!(reply.header("location"), location);
    }

    // Nothing of the refused chunks was kept.
    let status = app.get(&location).await.expect(StatusCode::NO_CONTENT);
    assert_eq!(status.header("range"), "0-9");

    app.send(
        "PATCH",
        &location,
        &[("content-range", "10-19")],
        &b"abcdefghij"[..],
    )
    .await
    .expect(StatusCode::ACCEPTED);
    let digest = sha256(b"0123456789abcdefghij");
    app.send("PUT", &with_digest(&location, &digest), &[], Body::empty())
        .await
        .expect(StatusCode::CREATED);
}

#[tokio::test]
async fn malformed_content_range_is_refused() {
    let app = TestApp::new().await;
    let location = open_session(&app, "unscanned/t/badrange").await;
    for range in ["abc", "9-0", "x-9"] {
        app.send(
            "PATCH",
            &location,
            &[("content-range", range)],
            &b"0123456789"[..],
        )
        .await
        .expect_error(StatusCode::RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID");
    }
}

#[tokio::test]
async fn streamed_patch_without_content_length() {
    let app = TestApp::new().await;
    let location = open_session(&app, "unscanned/t/streamed").await;
    let parts: Vec<Result<Bytes, std::io::Error>> = (0..50)
        .map(|i| Ok(Bytes::from(vec![i as u8; 1000])))
        .collect();
    let expected: Vec<u8> = (0..50).flat_map(|i| vec![i as u8; 1000]).collect();
    let reply = app
        .send(
            "PATCH",
            &location,
            &[],
            Body::from_stream(futures::stream::iter(parts)),
        )
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(reply.header("range"), format!("0-{}", expected.len() - 1));

    // A second streamed PATCH (no Content-Range) appends.
    let tail: Vec<Result<Bytes, std::io::Error>> = vec![Ok(Bytes::from_static(b"tail"))];
    let reply = app
        .send(
            "PATCH",
            &location,
            &[],
            Body::from_stream(futures::stream::iter(tail)),
        )
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(reply.header("range"), format!("0-{}", expected.len() + 3));

    let mut all = expected;
    all.extend_from_slice(b"tail");
    let digest = sha256(&all);
    app.send("PUT", &with_digest(&location, &digest), &[], Body::empty())
        .await
        .expect(StatusCode::CREATED);
    let blob = app
        .get(&format!("/v2/unscanned/t/streamed/blobs/{digest}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(blob.body, all);
}

#[tokio::test]
async fn monolithic_post_with_digest() {
    let app = TestApp::new().await;
    let content = b"monolithic blob".to_vec();
    let digest = sha256(&content);
    let reply = app
        .send(
            "POST",
            &format!("/v2/unscanned/t/mono/blobs/uploads/?digest={digest}"),
            &[
                ("content-type", "application/octet-stream"),
                ("content-length", "15"),
            ],
            content.clone(),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(
        reply.header("location"),
        format!("/v2/unscanned/t/mono/blobs/{digest}")
    );
    assert_eq!(reply.header("docker-content-digest"), digest);
    let head = app
        .head(&format!("/v2/unscanned/t/mono/blobs/{digest}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(head.header("content-length"), "15");
}

#[tokio::test]
async fn monolithic_put_on_a_fresh_session() {
    let app = TestApp::new().await;
    let location = open_session(&app, "unscanned/t/monoput").await;
    let digest = sha256(b"one shot");
    app.send(
        "PUT",
        &with_digest(&location, &digest),
        &[("content-length", "8")],
        &b"one shot"[..],
    )
    .await
    .expect(StatusCode::CREATED);
    app.head(&format!("/v2/unscanned/t/monoput/blobs/{digest}"))
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn wrong_digest_on_put_stores_nothing_and_ends_the_upload() {
    let app = TestApp::new().await;
    let location = open_session(&app, "unscanned/t/wrongdigest").await;
    app.send(
        "PATCH",
        &location,
        &[("content-range", "0-6")],
        &b"payload"[..],
    )
    .await
    .expect(StatusCode::ACCEPTED);
    let claimed = sha256(b"something else");
    app.send("PUT", &with_digest(&location, &claimed), &[], Body::empty())
        .await
        .expect_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");

    app.head(&format!("/v2/unscanned/t/wrongdigest/blobs/{claimed}"))
        .await
        .expect(StatusCode::NOT_FOUND);
    let actual = sha256(b"payload");
    app.head(&format!("/v2/unscanned/t/wrongdigest/blobs/{actual}"))
        .await
        .expect(StatusCode::NOT_FOUND);
    assert!(!app.blob_file(&claimed).exists());
    assert!(!app.blob_file(&actual).exists());
    app.get(&location)
        .await
        .expect_error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN");
    // Nothing is left staged either.
    let staged = std::fs::read_dir(app.dir.path().join("uploads"))
        .unwrap()
        .count();
    assert_eq!(staged, 0);
}

#[tokio::test]
async fn wrong_digest_on_monolithic_post_stores_nothing() {
    let app = TestApp::new().await;
    let claimed = sha256(b"not this");
    app.send(
        "POST",
        &format!("/v2/unscanned/t/wrongmono/blobs/uploads/?digest={claimed}"),
        &[],
        &b"payload"[..],
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
    app.head(&format!("/v2/unscanned/t/wrongmono/blobs/{claimed}"))
        .await
        .expect(StatusCode::NOT_FOUND);
    assert!(!app.blob_file(&sha256(b"payload")).exists());
    let staged = std::fs::read_dir(app.dir.path().join("uploads"))
        .unwrap()
        .count();
    assert_eq!(staged, 0);
}

#[tokio::test]
async fn missing_or_malformed_digest_parameter_is_digest_invalid() {
    let app = TestApp::new().await;
    let location = open_session(&app, "unscanned/t/nodigest").await;
    app.send("PUT", &location, &[], Body::empty())
        .await
        .expect_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
    app.send(
        "PUT",
        &with_digest(&location, "sha256:nothex"),
        &[],
        Body::empty(),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
    app.send(
        "POST",
        "/v2/unscanned/t/nodigest/blobs/uploads/?digest=md5:abc",
        &[],
        &b"x"[..],
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
}

#[tokio::test]
async fn sha512_digests_end_to_end() {
    let app = TestApp::new().await;
    // Chunked, closed with a sha512 digest.
    let content: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let location = open_session(&app, "unscanned/t/sha512").await;
    app.send(
        "PATCH",
        &location,
        &[("content-range", "0-2499")],
        content[..2500].to_vec(),
    )
    .await
    .expect(StatusCode::ACCEPTED);
    app.send(
        "PATCH",
        &location,
        &[("content-range", "2500-4999")],
        content[2500..].to_vec(),
    )
    .await
    .expect(StatusCode::ACCEPTED);
    let digest = sha512(&content);
    let reply = app
        .send("PUT", &with_digest(&location, &digest), &[], Body::empty())
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(reply.header("docker-content-digest"), digest);
    let blob = app
        .get(&format!("/v2/unscanned/t/sha512/blobs/{digest}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(blob.body, content);
    assert_eq!(blob.header("docker-content-digest"), digest);
    assert!(app.blob_file(&digest).exists());

    // Monolithic, and a mismatch.
    let small = sha512(b"small");
    app.send(
        "POST",
        &format!("/v2/unscanned/t/sha512/blobs/uploads/?digest={small}"),
        &[],
        &b"small"[..],
    )
    .await
    .expect(StatusCode::CREATED);
    app.head(&format!("/v2/unscanned/t/sha512/blobs/{small}"))
        .await
        .expect(StatusCode::OK);
    app.send(
        "POST",
        &format!("/v2/unscanned/t/sha512/blobs/uploads/?digest={small}"),
        &[],
        &b"other"[..],
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");

    // A manifest by sha512 digest, referencing a sha512 layer.
    let config = app.push_blob("unscanned/t/sha512", b"{}").await;
    let manifest = crate::image_manifest(
        &crate::descriptor(airlock_oci::media_type::OCI_CONFIG, &config, 2),
        &[crate::descriptor(crate::LAYER_GZIP, &digest, content.len())],
    );
    let manifest_digest = sha512(&manifest);
    let reply = app
        .send(
            "PUT",
            &format!("/v2/unscanned/t/sha512/manifests/{manifest_digest}"),
            &[("content-type", airlock_oci::media_type::OCI_MANIFEST)],
            manifest.clone(),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(reply.header("docker-content-digest"), manifest_digest);
    let pulled = app
        .get(&format!(
            "/v2/unscanned/t/sha512/manifests/{manifest_digest}"
        ))
        .await
        .expect(StatusCode::OK);
    assert_eq!(pulled.body, manifest);
}

#[tokio::test]
async fn the_empty_blob() {
    let app = TestApp::new().await;
    let digest = sha256(b"");
    app.send(
        "POST",
        &format!("/v2/unscanned/t/empty/blobs/uploads/?digest={digest}"),
        &[("content-length", "0")],
        Body::empty(),
    )
    .await
    .expect(StatusCode::CREATED);
    let head = app
        .head(&format!("/v2/unscanned/t/empty/blobs/{digest}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(head.header("content-length"), "0");
    let get = app
        .get(&format!("/v2/unscanned/t/empty/blobs/{digest}"))
        .await
        .expect(StatusCode::OK);
    assert!(get.body.is_empty());
    assert_eq!(get.header("docker-content-digest"), digest);

    // Also through a session closed without any PATCH.
    let location = open_session(&app, "unscanned/t/empty2").await;
    app.send("PUT", &with_digest(&location, &digest), &[], Body::empty())
        .await
        .expect(StatusCode::CREATED);
    app.head(&format!("/v2/unscanned/t/empty2/blobs/{digest}"))
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn cancelled_upload_is_gone() {
    let app = TestApp::new().await;
    let location = open_session(&app, "unscanned/t/cancel").await;
    app.send("PATCH", &location, &[("content-range", "0-2")], &b"abc"[..])
        .await
        .expect(StatusCode::ACCEPTED);
    let reply = app
        .send("DELETE", &location, &[], Body::empty())
        .await
        .expect(StatusCode::NO_CONTENT);
    assert!(reply.body.is_empty());
    app.get(&location)
        .await
        .expect_error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN");
    app.send("PATCH", &location, &[], &b"def"[..])
        .await
        .expect_error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN");
    app.send(
        "PUT",
        &with_digest(&location, &sha256(b"abc")),
        &[],
        Body::empty(),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN");
    app.send("DELETE", &location, &[], Body::empty())
        .await
        .expect_error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN");
    let staged = std::fs::read_dir(app.dir.path().join("uploads"))
        .unwrap()
        .count();
    assert_eq!(staged, 0);
}

#[tokio::test]
async fn unknown_upload_id_is_404() {
    let app = TestApp::new().await;
    let location = "/v2/unscanned/t/nosuch/blobs/uploads/0b9e1c4e-0000-4000-8000-000000000000";
    app.get(location)
        .await
        .expect_error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN");
    app.send("PATCH", location, &[], &b"x"[..])
        .await
        .expect_error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn upload_id_of_another_repository_is_404() {
    let app = TestApp::new().await;
    let location = open_session(&app, "unscanned/t/owner").await;
    let id = location.rsplit('/').next().unwrap();
    let foreign = format!("/v2/unscanned/t/intruder/blobs/uploads/{id}");
    app.get(&foreign)
        .await
        .expect_error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN");
    app.send("PATCH", &foreign, &[], &b"x"[..])
        .await
        .expect_error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN");
    app.send(
        "PUT",
        &with_digest(&foreign, &sha256(b"")),
        &[],
        Body::empty(),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN");
    app.send("DELETE", &foreign, &[], Body::empty())
        .await
        .expect_error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN");
    // The owner's session is untouched.
    app.get(&location).await.expect(StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn expired_sessions_are_unknown() {
    let app = TestApp::with_upload_ttl(Duration::from_secs(1)).await;
    let location = open_session(&app, "unscanned/t/expiry").await;
    app.send("PATCH", &location, &[("content-range", "0-2")], &b"abc"[..])
        .await
        .expect(StatusCode::ACCEPTED);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    app.get(&location)
        .await
        .expect_error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN");
    app.send("PATCH", &location, &[("content-range", "3-5")], &b"def"[..])
        .await
        .expect_error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN");
    app.send(
        "PUT",
        &with_digest(&location, &sha256(b"abc")),
        &[],
        Body::empty(),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN");
    app.head(&format!("/v2/unscanned/t/expiry/blobs/{}", sha256(b"abc")))
        .await
        .expect(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn activity_keeps_a_session_alive() {
    let app = TestApp::with_upload_ttl(Duration::from_secs(2)).await;
    let location = open_session(&app, "unscanned/t/alive").await;
    for (i, range) in ["0-0", "1-1", "2-2"].iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        app.send(
            "PATCH",
            &location,
            &[("content-range", range)],
            vec![b'a' + i as u8],
        )
        .await
        .expect(StatusCode::ACCEPTED);
    }
    app.send(
        "PUT",
        &with_digest(&location, &sha256(b"abc")),
        &[],
        Body::empty(),
    )
    .await
    .expect(StatusCode::CREATED);
}

#[tokio::test]
async fn mount_from_a_repository_where_the_blob_is_visible() {
    let app = TestApp::new().await;
    let digest = app
        .push_blob("unscanned/t/source/repo", b"shared layer")
        .await;
    let reply = app
        .send(
            "POST",
            &format!("/v2/unscanned/t/target/repo/blobs/uploads/?mount={digest}&from=unscanned/t/source/repo"),
            &[],
            Body::empty(),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(
        reply.header("location"),
        format!("/v2/unscanned/t/target/repo/blobs/{digest}")
    );
    assert_eq!(reply.header("docker-content-digest"), digest);
    let blob = app
        .get(&format!("/v2/unscanned/t/target/repo/blobs/{digest}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(&blob.body[..], b"shared layer");
}

#[tokio::test]
async fn mount_falls_back_to_an_upload_when_the_blob_is_not_visible() {
    let app = TestApp::new().await;
    let digest = app.push_blob("unscanned/t/holder", b"only in holder").await;
    app.push_blob("unscanned/t/other", b"something else").await;
    for from in [
        "unscanned/t/nosuchrepo",
        "unscanned/t/other",
        "unscanned/t/Invalid..Name",
    ] {
        let reply = app
            .send(
                "POST",
                &format!("/v2/unscanned/t/mounter/blobs/uploads/?mount={digest}&from={from}"),
                &[],
                Body::empty(),
            )
            .await
            .expect(StatusCode::ACCEPTED);
        assert!(
            reply
                .header("location")
                .starts_with("/v2/unscanned/t/mounter/blobs/uploads/"),
            "{from}"
        );
        assert_eq!(reply.header("range"), "0-0");
        // Not mounted.
        app.head(&format!("/v2/unscanned/t/mounter/blobs/{digest}"))
            .await
            .expect(StatusCode::NOT_FOUND);
    }
    // The fallback session works as a normal upload.
    let reply = app
        .send(
            "POST",
            &format!(
                "/v2/unscanned/t/mounter/blobs/uploads/?mount={digest}&from=unscanned/t/other"
            ),
            &[],
            Body::empty(),
        )
        .await
        .expect(StatusCode::ACCEPTED);
    let location = reply.header("location").to_owned();
    app.send(
        "PUT",
        &with_digest(&location, &digest),
        &[],
        &b"only in holder"[..],
    )
    .await
    .expect(StatusCode::CREATED);
    app.head(&format!("/v2/unscanned/t/mounter/blobs/{digest}"))
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn mount_with_an_invalid_digest_is_digest_invalid() {
    let app = TestApp::new().await;
    app.send(
        "POST",
        "/v2/unscanned/t/mounter/blobs/uploads/?mount=sha256:xyz&from=unscanned/t/a",
        &[],
        Body::empty(),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
}

#[tokio::test]
async fn blobs_are_visible_per_repository() {
    let app = TestApp::new().await;
    let digest = app.push_blob("unscanned/t/repo-a", b"private to a").await;
    app.head(&format!("/v2/unscanned/t/repo-a/blobs/{digest}"))
        .await
        .expect(StatusCode::OK);
    app.get(&format!("/v2/unscanned/t/repo-b/blobs/{digest}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN");
    app.head(&format!("/v2/unscanned/t/repo-b/blobs/{digest}"))
        .await
        .expect(StatusCode::NOT_FOUND);
    // Pushing the same bytes to B makes it visible there, stored once.
    app.push_blob("unscanned/t/repo-b", b"private to a").await;
    app.get(&format!("/v2/unscanned/t/repo-b/blobs/{digest}"))
        .await
        .expect(StatusCode::OK);
    // And a manifest in B cannot reference a blob only A holds.
    let only_a = app
        .push_blob("unscanned/t/repo-a", b"layer only in a")
        .await;
    let config = app.push_blob("unscanned/t/repo-b", b"{}").await;
    let manifest = crate::image_manifest(
        &crate::descriptor(airlock_oci::media_type::OCI_CONFIG, &config, 2),
        &[crate::descriptor(crate::LAYER_GZIP, &only_a, 15)],
    );
    app.send(
        "PUT",
        "/v2/unscanned/t/repo-b/manifests/v1",
        &[("content-type", airlock_oci::media_type::OCI_MANIFEST)],
        manifest,
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN");
}

#[tokio::test]
async fn multi_segment_repository_names() {
    let app = TestApp::new().await;
    let repo = "unscanned/t/team-a/payments/api";
    let location = open_session(&app, repo).await;
    assert!(location.starts_with("/v2/unscanned/t/team-a/payments/api/blobs/uploads/"));
    app.send(
        "PATCH",
        &location,
        &[("content-range", "0-3")],
        &b"data"[..],
    )
    .await
    .expect(StatusCode::ACCEPTED);
    let digest = sha256(b"data");
    app.send("PUT", &with_digest(&location, &digest), &[], Body::empty())
        .await
        .expect(StatusCode::CREATED);
    let (manifest, manifest_digest) = app.push_image(repo, "v1", &[b"data"]).await;
    let pulled = app
        .get(&format!("/v2/{repo}/manifests/v1"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(pulled.body, manifest);
    app.get(&format!("/v2/{repo}/manifests/{manifest_digest}"))
        .await
        .expect(StatusCode::OK);
    let tags = app
        .get(&format!("/v2/{repo}/tags/list"))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(tags["name"], repo);
    assert_eq!(tags["tags"], serde_json::json!(["v1"]));
    let catalog = app.get("/v2/_catalog").await.expect(StatusCode::OK).json();
    assert!(
        catalog["repositories"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(repo)),
        "{catalog}"
    );
}

/// Regression: a name with a `manifests`, `blobs`, `uploads` or `referrers`
/// component made the route parser stop at that keyword and answer 404.
#[tokio::test]
async fn repository_names_containing_route_keywords() {
    let app = TestApp::new().await;
    for repo in [
        "unscanned/t/a/manifests/b",
        "unscanned/t/a/blobs/b",
        "unscanned/t/a/blobs/uploads/b",
        "unscanned/t/a/referrers/b",
        "unscanned/t/a/tags/b",
        "unscanned/t/manifests/blobs/tags",
    ] {
        let location = open_session(&app, repo).await;
        app.get(&location).await.expect(StatusCode::NO_CONTENT);
        app.send("DELETE", &location, &[], Body::empty())
            .await
            .expect(StatusCode::NO_CONTENT);
        let (manifest, digest) = app.push_image(repo, "v1", &[repo.as_bytes()]).await;
        let pulled = app
            .get(&format!("/v2/{repo}/manifests/v1"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(pulled.body, manifest, "{repo}");
        let layer = sha256(repo.as_bytes());
        let blob = app
            .get(&format!("/v2/{repo}/blobs/{layer}"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(&blob.body[..], repo.as_bytes(), "{repo}");
        let referrers = app
            .get(&format!("/v2/{repo}/referrers/{digest}"))
            .await
            .expect(StatusCode::OK)
            .json();
        assert_eq!(referrers["manifests"], serde_json::json!([]), "{repo}");
        let tags = app
            .get(&format!("/v2/{repo}/tags/list"))
            .await
            .expect(StatusCode::OK)
            .json();
        assert_eq!(tags["tags"], serde_json::json!(["v1"]), "{repo}");
        app.send(
            "DELETE",
            &format!("/v2/{repo}/manifests/{digest}"),
            &[],
            Body::empty(),
        )
        .await
        .expect(StatusCode::ACCEPTED);
    }
}

#[tokio::test]
async fn an_upload_survives_a_restart() {
    let app = TestApp::new().await;
    let location = open_session(&app, "unscanned/t/restart").await;
    app.send(
        "PATCH",
        &location,
        &[("content-range", "0-4")],
        &b"first"[..],
    )
    .await
    .expect(StatusCode::ACCEPTED);
    // The running hash lives in memory only; after a restart it is rebuilt.
    let app = app.restart().await;
    let status = app.get(&location).await.expect(StatusCode::NO_CONTENT);
    assert_eq!(status.header("range"), "0-4");
    app.send(
        "PATCH",
        &location,
        &[("content-range", "5-10")],
        &b"second"[..],
    )
    .await
    .expect(StatusCode::ACCEPTED);
    let digest = sha256(b"firstsecond");
    app.send("PUT", &with_digest(&location, &digest), &[], Body::empty())
        .await
        .expect(StatusCode::CREATED);
    let (manifest, _) = app
        .push_image("unscanned/t/restart", "v1", &[b"firstsecond"])
        .await;
    let app = app.restart().await;
    let pulled = app
        .get("/v2/unscanned/t/restart/manifests/v1")
        .await
        .expect(StatusCode::OK);
    assert_eq!(pulled.body, manifest);
    let blob = app
        .get(&format!("/v2/unscanned/t/restart/blobs/{digest}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(&blob.body[..], b"firstsecond");
}

#[tokio::test]
async fn a_broken_chunk_leaves_a_resumable_upload() {
    let app = TestApp::new().await;
    let location = open_session(&app, "unscanned/t/broken").await;
    let parts: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(b"good part ")),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ];
    let reply = app
        .send(
            "PATCH",
            &location,
            &[],
            Body::from_stream(futures::stream::iter(parts)),
        )
        .await;
    assert!(
        reply.status.is_client_error() || reply.status.is_server_error(),
        "{reply:?}"
    );
    // Whatever was kept is reported, and the client resumes from there.
    let status = app.get(&location).await.expect(StatusCode::NO_CONTENT);
    // The first part was either kept whole or dropped whole.
    let kept = match status.header("range") {
        "0-0" => 0,
        "0-9" => 10,
        other => panic!("unexpected range {other}"),
    };
    let full = b"good part and the rest";
    let rest = &full[kept..];
    let range = format!("{}-{}", kept, full.len() - 1);
    app.send(
        "PATCH",
        &location,
        &[("content-range", &range)],
        rest.to_vec(),
    )
    .await
    .expect(StatusCode::ACCEPTED);
    let digest = sha256(full);
    app.send("PUT", &with_digest(&location, &digest), &[], Body::empty())
        .await
        .expect(StatusCode::CREATED);
    let blob = app
        .get(&format!("/v2/unscanned/t/broken/blobs/{digest}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(&blob.body[..], full);
}

#[tokio::test]
async fn mount_without_from_starts_an_upload() {
    let app = TestApp::new().await;
    let digest = app.push_blob("unscanned/t/somewhere", b"content").await;
    let reply = app
        .send(
            "POST",
            &format!("/v2/unscanned/t/nofrom/blobs/uploads/?mount={digest}"),
            &[],
            Body::empty(),
        )
        .await
        .expect(StatusCode::ACCEPTED);
    assert!(
        reply
            .header("location")
            .starts_with("/v2/unscanned/t/nofrom/blobs/uploads/")
    );
    app.head(&format!("/v2/unscanned/t/nofrom/blobs/{digest}"))
        .await
        .expect(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn sha512_upload_closed_with_a_last_chunk() {
    let app = TestApp::new().await;
    let location = open_session(&app, "unscanned/t/sha512last").await;
    app.send(
        "PATCH",
        &location,
        &[("content-range", "0-5")],
        &b"prefix"[..],
    )
    .await
    .expect(StatusCode::ACCEPTED);
    let digest = sha512(b"prefix+suffix");
    app.send(
        "PUT",
        &with_digest(&location, &digest),
        &[],
        &b"+suffix"[..],
    )
    .await
    .expect(StatusCode::CREATED);
    let blob = app
        .get(&format!("/v2/unscanned/t/sha512last/blobs/{digest}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(&blob.body[..], b"prefix+suffix");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_chunks_for_one_offset_are_serialized() {
    let app = TestApp::new().await;
    let location = open_session(&app, "unscanned/t/race").await;
    let first = app.send(
        "PATCH",
        &location,
        &[("content-range", "0-4")],
        &b"aaaaa"[..],
    );
    let second = app.send(
        "PATCH",
        &location,
        &[("content-range", "0-4")],
        &b"bbbbb"[..],
    );
    let (first, second) = tokio::join!(first, second);
    let mut statuses = [first.status, second.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::ACCEPTED, StatusCode::RANGE_NOT_SATISFIABLE]
    );
    let status = app.get(&location).await.expect(StatusCode::NO_CONTENT);
    assert_eq!(status.header("range"), "0-4");
    let winner = if first.status == StatusCode::ACCEPTED {
        b"aaaaa"
    } else {
        b"bbbbb"
    };
    app.send(
        "PUT",
        &with_digest(&location, &sha256(winner)),
        &[],
        Body::empty(),
    )
    .await
    .expect(StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_blob_pushed_concurrently_to_two_repositories() {
    let app = TestApp::new().await;
    let content = vec![42u8; 100_000];
    let digest = sha256(&content);
    let path_a = format!("/v2/unscanned/t/concurrent-a/blobs/uploads/?digest={digest}");
    let path_b = format!("/v2/unscanned/t/concurrent-b/blobs/uploads/?digest={digest}");
    let (a, b) = tokio::join!(
        app.send("POST", &path_a, &[], content.clone()),
        app.send("POST", &path_b, &[], content.clone()),
    );
    a.expect(StatusCode::CREATED);
    b.expect(StatusCode::CREATED);
    for repo in ["unscanned/t/concurrent-a", "unscanned/t/concurrent-b"] {
        let blob = app
            .get(&format!("/v2/{repo}/blobs/{digest}"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(blob.body, content);
    }
}
