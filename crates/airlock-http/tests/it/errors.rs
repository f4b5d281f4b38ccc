//! The error side of every endpoint: manifest validation (missing blobs,
//! size limit, content type, JSON, digest mismatch, unsupported types),
//! invalid names, references and digests in paths, unsupported methods, and
//! the shape of the OCI error envelope with the API version header.

use airlock_oci::media_type;
use airlock_registry::RegistryConfig;
use axum::body::Body;
use axum::http::StatusCode;

use crate::{LAYER_GZIP, TestApp, descriptor, image_manifest, sha256};

/// A valid manifest whose blobs exist in `repo`.
async fn valid_manifest(app: &TestApp, repo: &str) -> Vec<u8> {
    let config = app.push_blob(repo, b"{}").await;
    let layer = app.push_blob(repo, b"layer").await;
    image_manifest(
        &descriptor(media_type::OCI_CONFIG, &config, 2),
        &[descriptor(LAYER_GZIP, &layer, 5)],
    )
}

async fn put(app: &TestApp, path: &str, content_type: &str, body: Vec<u8>) -> crate::Reply {
    app.send("PUT", path, &[("content-type", content_type)], body)
        .await
}

#[tokio::test]
async fn manifest_referencing_a_missing_blob() {
    let app = TestApp::new().await;
    let config = app.push_blob("unscanned/t/missing", b"{}").await;
    let absent_layer = sha256(b"layer never pushed");
    let manifest = image_manifest(
        &descriptor(media_type::OCI_CONFIG, &config, 2),
        &[descriptor(LAYER_GZIP, &absent_layer, 18)],
    );
    let reply = put(
        &app,
        "/v2/unscanned/t/missing/manifests/v1",
        media_type::OCI_MANIFEST,
        manifest,
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN");
    assert_eq!(reply.json()["errors"][0]["detail"]["digest"], absent_layer);

    // A missing config counts too.
    let layer = app.push_blob("unscanned/t/missing", b"layer").await;
    let absent_config = sha256(b"config never pushed");
    let manifest = image_manifest(
        &descriptor(media_type::OCI_CONFIG, &absent_config, 19),
        &[descriptor(LAYER_GZIP, &layer, 5)],
    );
    put(
        &app,
        "/v2/unscanned/t/missing/manifests/v1",
        media_type::OCI_MANIFEST,
        manifest,
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN");
    // Nothing was stored.
    app.get("/v2/unscanned/t/missing/manifests/v1")
        .await
        .expect_error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
}

#[tokio::test]
async fn manifest_over_the_size_limit_is_413() {
    let app = TestApp::with_config(RegistryConfig {
        max_manifest_bytes: 512,
        ..RegistryConfig::default()
    })
    .await;
    let manifest = valid_manifest(&app, "unscanned/t/big").await;
    assert!(
        manifest.len() <= 512,
        "the fixture must fit: {}",
        manifest.len()
    );
    let mut padded = manifest.clone();
    padded.pop();
    padded.extend_from_slice(br#","annotations":{"pad":""#);
    padded.extend(std::iter::repeat_n(b'x', 600));
    padded.extend_from_slice(b"\"}}");

    // Announced by Content-Length.
    let length = padded.len().to_string();
    app.send(
        "PUT",
        "/v2/unscanned/t/big/manifests/v1",
        &[
            ("content-type", media_type::OCI_MANIFEST),
            ("content-length", &length),
        ],
        padded.clone(),
    )
    .await
    .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "MANIFEST_INVALID");
    // Streamed without a length.
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = padded
        .chunks(64)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    app.send(
        "PUT",
        "/v2/unscanned/t/big/manifests/v1",
        &[("content-type", media_type::OCI_MANIFEST)],
        Body::from_stream(futures::stream::iter(chunks)),
    )
    .await
    .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "MANIFEST_INVALID");
    app.get("/v2/unscanned/t/big/manifests/v1")
        .await
        .expect(StatusCode::NOT_FOUND);

    // Under the limit it goes through.
    app.push_manifest("unscanned/t/big", "v1", media_type::OCI_MANIFEST, &manifest)
        .await;
}

#[tokio::test]
async fn content_type_must_agree_with_media_type() {
    let app = TestApp::new().await;
    let manifest = valid_manifest(&app, "unscanned/t/ctype").await;
    for content_type in [media_type::OCI_INDEX, media_type::DOCKER_MANIFEST] {
        put(
            &app,
            "/v2/unscanned/t/ctype/manifests/v1",
            content_type,
            manifest.clone(),
        )
        .await
        .expect_error(StatusCode::BAD_REQUEST, "MANIFEST_INVALID");
    }
    // Parameters after the media type are fine.
    app.send(
        "PUT",
        "/v2/unscanned/t/ctype/manifests/v1",
        &[(
            "content-type",
            "application/vnd.oci.image.manifest.v1+json; charset=utf-8",
        )],
        manifest.clone(),
    )
    .await
    .expect(StatusCode::CREATED);
    // No Content-Type at all: the document's mediaType decides.
    app.send("PUT", "/v2/unscanned/t/ctype/manifests/v2", &[], manifest)
        .await
        .expect(StatusCode::CREATED);
    let pulled = app
        .get("/v2/unscanned/t/ctype/manifests/v2")
        .await
        .expect(StatusCode::OK);
    assert_eq!(pulled.header("content-type"), media_type::OCI_MANIFEST);
}

#[tokio::test]
async fn malformed_manifests_are_manifest_invalid() {
    let app = TestApp::new().await;
    let config = app.push_blob("unscanned/t/bad", b"{}").await;
    let cfg = descriptor(media_type::OCI_CONFIG, &config, 2);
    let oci = media_type::OCI_MANIFEST;
    let cases: Vec<(&str, String)> = vec![
        ("not json", "this is not json".into()),
        ("truncated", r#"{"schemaVersion":2,"mediaType":"#.into()),
        ("array", "[]".into()),
        (
            "schema 1",
            format!(r#"{{"schemaVersion":1,"mediaType":"{oci}","config":{cfg},"layers":[]}}"#),
        ),
        (
            "no config",
            format!(r#"{{"schemaVersion":2,"mediaType":"{oci}","layers":[]}}"#),
        ),
        (
            "no layers",
            format!(r#"{{"schemaVersion":2,"mediaType":"{oci}","config":{cfg}}}"#),
        ),
        (
            "bad digest",
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{oci}","config":{{"mediaType":"x","digest":"sha256:zz","size":2}},"layers":[]}}"#
            ),
        ),
        (
            "negative size",
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{oci}","config":{{"mediaType":"x","digest":"{config}","size":-2}},"layers":[]}}"#
            ),
        ),
        (
            "unsupported type",
            r#"{"schemaVersion":2,"mediaType":"text/plain"}"#.into(),
        ),
        (
            "index with layers",
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[],"layers":[]}}"#,
                media_type::OCI_INDEX
            ),
        ),
    ];
    for (what, body) in cases {
        let content_type = if what == "unsupported type" {
            "text/plain"
        } else {
            oci
        };
        let reply = put(
            &app,
            "/v2/unscanned/t/bad/manifests/v1",
            content_type,
            body.into_bytes(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{what}: {reply:?}");
        reply.expect_error(StatusCode::BAD_REQUEST, "MANIFEST_INVALID");
    }
    app.get("/v2/unscanned/t/bad/manifests/v1")
        .await
        .expect_error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
}

#[tokio::test]
async fn put_by_digest_must_match_the_bytes() {
    let app = TestApp::new().await;
    let manifest = valid_manifest(&app, "unscanned/t/bydigest").await;
    let wrong = sha256(b"other bytes");
    put(
        &app,
        &format!("/v2/unscanned/t/bydigest/manifests/{wrong}"),
        media_type::OCI_MANIFEST,
        manifest.clone(),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
    app.get(&format!("/v2/unscanned/t/bydigest/manifests/{wrong}"))
        .await
        .expect(StatusCode::NOT_FOUND);
    app.get(&format!(
        "/v2/unscanned/t/bydigest/manifests/{}",
        sha256(&manifest)
    ))
    .await
    .expect(StatusCode::NOT_FOUND);
    let right = sha256(&manifest);
    let reply = put(
        &app,
        &format!("/v2/unscanned/t/bydigest/manifests/{right}"),
        media_type::OCI_MANIFEST,
        manifest,
    )
    .await
    .expect(StatusCode::CREATED);
    assert_eq!(
        reply.header("location"),
        format!("/v2/unscanned/t/bydigest/manifests/{right}")
    );
    // Pushed by digest only: no tag.
    let tags = app
        .get("/v2/unscanned/t/bydigest/tags/list")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(tags["tags"], serde_json::json!([]));
}

#[tokio::test]
async fn invalid_names_references_and_digests() {
    let app = TestApp::new().await;
    let digest = sha256(b"x");
    for path in [
        "/v2/unscanned/t/UPPER/manifests/v1".to_owned(),
        "/v2/unscanned/t/a//b/manifests/v1".to_owned(),
        "/v2/unscanned/t/-lead/tags/list".to_owned(),
        format!("/v2/unscanned/t/trail-/blobs/{digest}"),
        "/v2/unscanned/t/a..b/blobs/uploads/".to_owned(),
        format!("/v2/unscanned/t/{}/manifests/v1", "a".repeat(256)),
        format!("/v2/unscanned/t/sp%20ace/referrers/{digest}"),
    ] {
        app.get(&path)
            .await
            .expect_error(StatusCode::BAD_REQUEST, "NAME_INVALID");
    }
    app.send(
        "POST",
        "/v2/unscanned/t/BAD/blobs/uploads/",
        &[],
        Body::empty(),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "NAME_INVALID");

    let manifest = valid_manifest(&app, "unscanned/t/refs").await;
    let long_tag = "t".repeat(129);
    for reference in [
        "-dash",
        ".dot",
        "has:colon",
        long_tag.as_str(),
        "sha256:tooshort",
    ] {
        put(
            &app,
            &format!("/v2/unscanned/t/refs/manifests/{reference}"),
            media_type::OCI_MANIFEST,
            manifest.clone(),
        )
        .await
        .expect_error(StatusCode::BAD_REQUEST, "MANIFEST_INVALID");
        app.get(&format!("/v2/unscanned/t/refs/manifests/{reference}"))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "MANIFEST_INVALID");
    }
    // The longest valid tag is fine.
    app.push_manifest(
        "unscanned/t/refs",
        &"t".repeat(128),
        media_type::OCI_MANIFEST,
        &manifest,
    )
    .await;

    for digest in [
        "sha256:short",
        "nodigest",
        "sha256:ZZZZ",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
    ] {
        app.get(&format!("/v2/unscanned/t/refs/blobs/{digest}"))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
    }
}

#[tokio::test]
async fn unknown_paths_get_the_envelope() {
    let app = TestApp::new().await;
    for path in [
        "/v2/unscanned/t/justaname",
        "/v2/unscanned/t/a/b/c/unknown/thing",
        "/v2/unscanned/t/a/blobs/uploads/not_an_id!",
    ] {
        let reply = app.get(path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert!(reply.json()["errors"][0]["code"].is_string(), "{path}");
    }
}

#[tokio::test]
async fn unsupported_methods_are_405() {
    let app = TestApp::new().await;
    let digest = sha256(b"x");
    let cases: Vec<(&str, String)> = vec![
        ("POST", "/v2/".into()),
        ("DELETE", "/v2/".into()),
        ("POST", "/v2/_catalog".into()),
        ("PUT", "/v2/unscanned/t/a/tags/list".into()),
        ("DELETE", "/v2/unscanned/t/a/tags/list".into()),
        ("POST", "/v2/unscanned/t/a/manifests/v1".into()),
        ("PATCH", "/v2/unscanned/t/a/manifests/v1".into()),
        ("PUT", format!("/v2/unscanned/t/a/blobs/{digest}")),
        ("POST", format!("/v2/unscanned/t/a/blobs/{digest}")),
        ("PATCH", format!("/v2/unscanned/t/a/blobs/{digest}")),
        ("GET", "/v2/unscanned/t/a/blobs/uploads/".into()),
        ("PUT", "/v2/unscanned/t/a/blobs/uploads/".into()),
        (
            "POST",
            "/v2/unscanned/t/a/blobs/uploads/0b9e1c4e-0000-4000-8000-000000000000".into(),
        ),
        ("DELETE", format!("/v2/unscanned/t/a/referrers/{digest}")),
        ("PUT", format!("/v2/unscanned/t/a/referrers/{digest}")),
    ];
    for (method, path) in cases {
        let reply = app.send(method, &path, &[], Body::empty()).await;
        assert_eq!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {reply:?}"
        );
        reply.expect_error(StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED");
    }
}

#[tokio::test]
async fn error_envelope_shape() {
    let app = TestApp::new().await;
    let reply = app
        .get("/v2/unscanned/t/shape/manifests/v1")
        .await
        .expect_error(StatusCode::NOT_FOUND, "NAME_UNKNOWN");
    let body = reply.json();
    let object = body.as_object().unwrap();
    assert_eq!(object.len(), 1, "only `errors` at the top: {body}");
    let error = body["errors"][0].as_object().unwrap();
    let mut keys: Vec<&str> = error.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "detail", "message"]);
    assert_eq!(error["message"], "repository unscanned/t/shape is unknown");
}
