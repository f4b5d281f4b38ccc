//! The object stores on Azure Blob Storage, against a real Azurite (started
//! by the testkit; the test fails loudly when Azurite is missing): the
//! shared blob-store suite, uploads continued by another replica, racing
//! appends on the single-PUT and the multipart path, multipart commits,
//! reports, SAS-presigned reads and configuration errors.
#![cfg(feature = "azure")]

mod common;

use std::time::Duration;

use airlock_oci::Digest;
use airlock_store::{BlobStore, ReportStore, StoreError};
use airlock_store_s3::{AzureOptions, PART_SIZE, S3BlobStore, S3ReportStore};
use airlock_testkit::{AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY, AzuriteServer};
use bytes::Bytes;

use common::{MIB, closed_port, collect, pattern, stream_of};

fn options(server: &AzuriteServer, prefix: &str) -> AzureOptions {
    let mut options = AzureOptions::new(server.container());
    options.account = Some(AZURITE_ACCOUNT.into());
    options.access_key = Some(AZURITE_ACCOUNT_KEY.into());
    options.endpoint = Some(server.endpoint());
    options.allow_http = true;
    options.prefix = prefix.into();
    options.max_retries = 0;
    options
}

async fn store(server: &AzuriteServer, prefix: &str) -> S3BlobStore {
    S3BlobStore::open_azure(&options(server, prefix))
        .await
        .expect("open the Azure blob store")
}

#[tokio::test]
async fn passes_the_blob_store_suite() {
    let server = AzuriteServer::start();
    airlock_store::testsuite::blob_store(&store(&server, "suite").await).await;
}

#[tokio::test]
async fn passes_the_blob_store_suite_at_the_container_root() {
    let server = AzuriteServer::start();
    airlock_store::testsuite::blob_store(&store(&server, "").await).await;
}

#[tokio::test]
async fn an_upload_continues_on_another_replica_and_commits_through_multipart() {
    let server = AzuriteServer::start();
    let replica_a = store(&server, "shared").await;
    let replica_b = store(&server, "shared").await;
    replica_a.upload_create("u-cross").await.unwrap();
    let mut expected = Vec::new();
    for (index, replica) in [&replica_a, &replica_b, &replica_a].into_iter().enumerate() {
        let chunk = pattern(index * 3 * MIB, 3 * MIB);
        expected.extend_from_slice(&chunk);
        let size = replica
            .upload_append("u-cross", stream_of(&chunk))
            .await
            .unwrap();
        assert_eq!(size, ((index + 1) * 3 * MIB) as u64);
    }
    assert_eq!(
        replica_b.upload_size("u-cross").await.unwrap(),
        Some((9 * MIB) as u64)
    );
    let digest = Digest::sha256_of(&expected);
    assert_eq!(
        replica_b.upload_commit("u-cross", &digest).await.unwrap(),
        (9 * MIB) as u64
    );
    let read = collect(replica_a.read(&digest, None).await.unwrap()).await;
    assert!(
        read == expected,
        "the committed blob has the uploaded bytes"
    );
    let range = collect(
        replica_a
            .read(&digest, Some((4 * MIB as u64, 4 * MIB as u64 + 9)))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(range, expected[4 * MIB..4 * MIB + 10]);
    assert_eq!(replica_a.upload_size("u-cross").await.unwrap(), None);
    assert!(replica_a.upload_list().await.unwrap().is_empty());
}

/// A late writer at a taken offset gets `Conflict` from Azure's
/// `If-None-Match: *`, on the single-PUT path and on the multipart path
/// (staged blocks, then a create-only `Copy Blob`).
#[tokio::test]
async fn an_append_at_a_taken_offset_conflicts() {
    let server = AzuriteServer::start();
    let replica_a = store(&server, "race").await;
    let replica_b = store(&server, "race").await;
    replica_a.upload_create("u-race").await.unwrap();
    assert!(matches!(
        replica_b.upload_create("u-race").await,
        Err(StoreError::Conflict(_))
    ));
    replica_a
        .upload_append_at("u-race", 0, stream_of(b"from a"))
        .await
        .unwrap();
    let late = replica_b
        .upload_append_at("u-race", 0, stream_of(b"from b!"))
        .await;
    assert!(
        matches!(late, Err(StoreError::Conflict(_))),
        "the late writer gets a conflict: {late:?}"
    );

    let big = pattern(0, PART_SIZE + MIB);
    replica_a
        .upload_append_at("u-race", 6, stream_of(&big))
        .await
        .unwrap();
    let late = replica_b
        .upload_append_at("u-race", 6, stream_of(&big))
        .await;
    assert!(
        matches!(late, Err(StoreError::Conflict(_))),
        "a multipart append at a taken offset conflicts: {late:?}"
    );
    let mut expected = b"from a".to_vec();
    expected.extend_from_slice(&big);
    assert!(collect(replica_b.upload_read("u-race").await.unwrap()).await == expected);
    // Deleting the upload removes the loser's temporaries too.
    replica_b.upload_delete("u-race").await.unwrap();
    assert!(replica_a.upload_list().await.unwrap().is_empty());
}

#[tokio::test]
async fn reports_round_trip() {
    let server = AzuriteServer::start();
    let reports = S3ReportStore::open_azure(&options(&server, "objects"))
        .await
        .unwrap();
    let key = "reports/acme/app/sha256:abc/0190/report.json";
    reports.put(key, Bytes::from_static(b"{}")).await.unwrap();
    reports
        .put(key, Bytes::from_static(b"{\"v\":2}"))
        .await
        .unwrap();
    assert_eq!(
        reports.get(key).await.unwrap().unwrap(),
        Bytes::from_static(b"{\"v\":2}")
    );
    assert_eq!(reports.get("reports/none").await.unwrap(), None);
    assert!(reports.put("../escape", Bytes::new()).await.is_err());
}

#[tokio::test]
async fn a_presigned_url_serves_the_blob() {
    let server = AzuriteServer::start();
    let mut presigning = options(&server, "presign");
    presigning.presign_ttl = Some(Duration::from_secs(300));
    let store = S3BlobStore::open_azure(&presigning).await.unwrap();
    let content = b"presigned content";
    let digest = Digest::sha256_of(content);
    store.upload_create("u-p").await.unwrap();
    store
        .upload_append("u-p", stream_of(content))
        .await
        .unwrap();
    store.upload_commit("u-p", &digest).await.unwrap();

    let url = store.presigned_read(&digest).await.unwrap().expect("a URL");
    assert!(url.starts_with(&server.endpoint()), "{url}");
    assert!(url.contains("sig="), "a SAS URL: {url}");
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    assert_eq!(response.bytes().await.unwrap().as_ref(), content);
}

#[tokio::test]
async fn a_missing_container_is_named_in_the_error() {
    let server = AzuriteServer::start();
    let mut wrong = options(&server, "x");
    wrong.container = "no-such-container".into();
    let error = S3BlobStore::open_azure(&wrong)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("no-such-container"), "{error}");
    assert!(error.contains(&server.endpoint()), "{error}");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_named_in_the_error() {
    let port = closed_port();
    let mut unreachable = AzureOptions::new("some-container");
    unreachable.account = Some("someaccount".into());
    unreachable.access_key = Some(AZURITE_ACCOUNT_KEY.into());
    unreachable.endpoint = Some(format!("http://127.0.0.1:{port}/someaccount"));
    unreachable.allow_http = true;
    unreachable.max_retries = 0;
    for error in [
        S3BlobStore::open_azure(&unreachable)
            .await
            .unwrap_err()
            .to_string(),
        S3ReportStore::open_azure(&unreachable)
            .await
            .unwrap_err()
            .to_string(),
    ] {
        assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
        assert!(error.contains("some-container"), "{error}");
        assert!(error.contains("someaccount"), "{error}");
    }
}

#[tokio::test]
async fn options_refuse_an_endpoint_with_the_emulator_and_hide_the_key() {
    let mut options = AzureOptions::new("c");
    options.use_emulator = true;
    options.endpoint = Some("http://127.0.0.1:1".into());
    let Err(error) = S3BlobStore::open_azure(&options).await else {
        panic!("use_emulator with an endpoint must be refused");
    };
    assert!(error.to_string().contains("exclude each other"), "{error}");
    options.access_key = Some("very-secret".into());
    let shown = format!("{options:?}");
    assert!(!shown.contains("very-secret"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
}
