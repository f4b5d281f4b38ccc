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

/// A second registry replica over the same metadata and bucket, with no
/// running hash for the upload: it re-reads the staged chunks to re-hash,
/// appends its own chunk and commits; the first replica serves the blob.
#[tokio::test]
async fn an_upload_continues_on_another_registry_replica() {
    let server = S3Server::start();
    let app = app_over_s3(&server, None).await;
    let first: Vec<u8> = (0..=255u8).cycle().take(2000).collect();
    let second: Vec<u8> = (0..=255u8).rev().cycle().take(1500).collect();
    let location = app
        .send(
            "POST",
            "/v2/unscanned/t/replicas/blobs/uploads/",
            &[],
            Body::empty(),
        )
        .await
        .expect(StatusCode::ACCEPTED)
        .header("location")
        .to_owned();
    app.send(
        "PATCH",
        &location,
        &[("content-range", "0-1999")],
        first.clone(),
    )
    .await
    .expect(StatusCode::ACCEPTED);
    let id = location
        .split('?')
        .next()
        .and_then(|path| path.rsplit('/').next())
        .expect("upload id in the location")
        .to_owned();

    let test = server.options("registry");
    let mut options = S3Options::new(test.bucket);
    options.endpoint = Some(test.endpoint);
    options.prefix = test.prefix;
    options.path_style = true;
    options.allow_http = true;
    options.access_key = Some(test.access_key);
    options.secret_key = Some(test.secret_key);
    let other_blobs = S3BlobStore::open(&options).await.expect("second store");
    let other = airlock_registry::Registry::new(
        app.database.clone(),
        Arc::new(other_blobs),
        airlock_registry::RegistryConfig::default(),
    );
    let repository: airlock_oci::RepoName = "unscanned/t/replicas".parse().unwrap();
    let chunk: airlock_store::ByteStream = Box::pin(futures_stream(second.clone()));
    let state = other
        .append_upload(&repository, &id, Some(2000), chunk)
        .await
        .expect("append on the second replica");
    assert_eq!(state.offset, 3500);
    let content = [first, second].concat();
    let digest: airlock_oci::Digest = sha256(&content).parse().unwrap();
    other
        .finish_upload(&repository, &id, &digest, None)
        .await
        .expect("commit on the second replica");

    let get = app
        .get(&format!("/v2/unscanned/t/replicas/blobs/{digest}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(get.body, content);
}

fn futures_stream(
    bytes: Vec<u8>,
) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send {
    futures::stream::iter([Ok(bytes::Bytes::from(bytes))])
}
