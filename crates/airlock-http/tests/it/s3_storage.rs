//! The registry over S3-compatible storage (a real s3s-fs from the
//! testkit): chunked pushes whose chunk objects live in the bucket, and
//! blob `GET`s redirected (`307`) to presigned URLs when presigning is on,
//! while `HEAD` and range requests are still answered by the registry.

use std::sync::Arc;
use std::time::Duration;

use airlock_store_s3::{S3BlobStore, S3Options};
use airlock_testkit::S3Server;
use axum::body::Body;
use axum::http::StatusCode;

use crate::{TestApp, sha256};

async fn app_over_s3(server: &S3Server, presign_ttl: Option<Duration>) -> TestApp {
    let test = server.options("registry");
    let options = S3Options {
        endpoint: Some(test.endpoint),
        region: test.region,
        bucket: test.bucket,
        prefix: test.prefix,
        path_style: true,
        allow_http: true,
        presign_ttl,
        access_key: Some(test.access_key),
        secret_key: Some(test.secret_key),
        max_retries: 0,
    };
    let blobs = S3BlobStore::open(&options)
        .await
        .expect("open S3 blob store");
    TestApp::with_blob_store(Arc::new(blobs)).await
}

#[tokio::test]
async fn blob_get_redirects_to_a_presigned_url() {
    let server = S3Server::start();
    let app = app_over_s3(&server, Some(Duration::from_secs(120))).await;
    let content: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let digest = app.push_blob("unscanned/t/s3", &content).await;
    let path = format!("/v2/unscanned/t/s3/blobs/{digest}");

    let get = app.get(&path).await.expect(StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(get.header("docker-content-digest"), digest);
    let location = get.header("location").to_owned();
    assert!(location.starts_with(&server.endpoint()), "{location}");
    let fetched = reqwest::get(&location).await.expect("follow the redirect");
    assert_eq!(fetched.status(), 200, "{location}");
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), content.as_slice());

    // HEAD and ranges stay with the registry.
    let head = app.head(&path).await.expect(StatusCode::OK);
    assert_eq!(head.header("content-length"), "5000");
    let range = app
        .send("GET", &path, &[("range", "bytes=10-19")], Body::empty())
        .await
        .expect(StatusCode::PARTIAL_CONTENT);
    assert_eq!(range.body, content[10..20]);

    // An unknown blob is still BLOB_UNKNOWN, not a redirect.
    let missing = sha256(b"never pushed");
    app.get(&format!("/v2/unscanned/t/s3/blobs/{missing}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN");
}

#[tokio::test]
async fn without_presigning_blobs_are_served_and_chunked_pushes_work() {
    let server = S3Server::start();
    let app = app_over_s3(&server, None).await;
    let content: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let location = app
        .send(
            "POST",
            "/v2/unscanned/t/s3chunks/blobs/uploads/",
            &[],
            Body::empty(),
        )
        .await
        .expect(StatusCode::ACCEPTED)
        .header("location")
        .to_owned();
    let mut offset = 0;
    for chunk in content.chunks(1024) {
        let range = format!("{}-{}", offset, offset + chunk.len() - 1);
        app.send(
            "PATCH",
            &location,
            &[("content-range", &range)],
            chunk.to_vec(),
        )
        .await
        .expect(StatusCode::ACCEPTED);
        offset += chunk.len();
    }
    let digest = sha256(&content);
    let separator = if location.contains('?') { '&' } else { '?' };
    app.send(
        "PUT",
        &format!("{location}{separator}digest={digest}"),
        &[],
        Body::empty(),
    )
    .await
    .expect(StatusCode::CREATED);
    let get = app
        .get(&format!("/v2/unscanned/t/s3chunks/blobs/{digest}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(get.body, content);
}
