//! The object stores on Google Cloud Storage. No GCS server or emulator is
//! available here, so these only check that options build a client without
//! network and that a refusing endpoint is reported with the bucket's name.
#![cfg(feature = "gcp")]

mod common;

use std::time::Duration;

use airlock_store_s3::{GcsOptions, S3BlobStore, S3ReportStore};

use common::closed_port;

/// A service-account key that disables OAuth and points the client at
/// `base_url` (object_store's hook for fake GCS servers).
fn fake_key(dir: &std::path::Path, base_url: &str) -> std::path::PathBuf {
    let path = dir.join("service-account.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"private_key": "unused", "private_key_id": "unused",
                "client_email": "airlock@example.invalid",
                "disable_oauth": true, "gcs_base_url": "{base_url}"}}"#
        ),
    )
    .unwrap();
    path
}

#[tokio::test]
async fn an_unreachable_endpoint_is_named_in_the_error() {
    let port = closed_port();
    let dir = tempfile::tempdir().unwrap();
    let mut options = GcsOptions::new("some-bucket");
    options.service_account_key = Some(fake_key(dir.path(), &format!("http://127.0.0.1:{port}")));
    options.prefix = "airlock".into();
    options.presign_ttl = Some(Duration::from_secs(60));
    options.max_retries = 0;
    for error in [
        S3BlobStore::open_gcs(&options)
            .await
            .unwrap_err()
            .to_string(),
        S3ReportStore::open_gcs(&options)
            .await
            .unwrap_err()
            .to_string(),
    ] {
        assert!(error.contains("gcs bucket \"some-bucket\""), "{error}");
        assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    }
}

#[tokio::test]
async fn a_missing_key_file_is_named_in_the_error() {
    let mut options = GcsOptions::new("some-bucket");
    options.service_account_key = Some("/nonexistent/airlock-gcs-key.json".into());
    let error = S3BlobStore::open_gcs(&options)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("configure gcs bucket \"some-bucket\""),
        "{error}"
    );
}
