//! Pull: the base endpoint, blob `GET`/`HEAD` with `Range` (prefix, open,
//! suffix, clamped, unsatisfiable), manifest `GET`/`HEAD` by tag and by
//! digest for every supported manifest type with the exact bytes and the
//! pushed media type back, and the pull-side error codes.

use airlock_oci::media_type;
use axum::body::Body;
use axum::http::StatusCode;

use crate::{EMPTY_JSON, LAYER_GZIP, TestApp, descriptor, image_manifest, index_manifest, sha256};

#[tokio::test]
async fn base_endpoint_answers_with_the_api_version() {
    let app = TestApp::new().await;
    for path in ["/v2/", "/v2"] {
        let reply = app.get(path).await.expect(StatusCode::OK);
        assert_eq!(
            reply.header("docker-distribution-api-version"),
            "registry/2.0"
        );
        let head = app.head(path).await.expect(StatusCode::OK);
        assert_eq!(
            head.header("docker-distribution-api-version"),
            "registry/2.0"
        );
    }
}

#[tokio::test]
async fn blob_get_and_head() {
    let app = TestApp::new().await;
    let content: Vec<u8> = (0..100u8).collect();
    let digest = app.push_blob("unscanned/t/pull/blob", &content).await;

    let head = app
        .head(&format!("/v2/unscanned/t/pull/blob/blobs/{digest}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(head.header("content-length"), "100");
    assert_eq!(head.header("docker-content-digest"), digest);
    assert!(head.body.is_empty());

    let get = app
        .get(&format!("/v2/unscanned/t/pull/blob/blobs/{digest}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(get.header("content-length"), "100");
    assert_eq!(get.header("docker-content-digest"), digest);
    assert_eq!(get.body, content);
}

#[tokio::test]
async fn blob_ranges() {
    let app = TestApp::new().await;
    let content: Vec<u8> = (0..100u8).collect();
    let digest = app.push_blob("unscanned/t/ranges", &content).await;
    let path = format!("/v2/unscanned/t/ranges/blobs/{digest}");

    let cases: [(&str, usize, usize); 5] = [
        ("bytes=0-9", 0, 9),
        ("bytes=90-", 90, 99),
        ("bytes=-5", 95, 99),
        ("bytes=50-1000", 50, 99),
        ("bytes=-1000", 0, 99),
    ];
    for (range, start, end) in cases {
        let reply = app
            .send("GET", &path, &[("range", range)], Body::empty())
            .await
            .expect(StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            reply.header("content-range"),
            format!("bytes {start}-{end}/100"),
            "{range}"
        );
        assert_eq!(
            reply.header("content-length"),
            (end - start + 1).to_string(),
            "{range}"
        );
        assert_eq!(reply.header("docker-content-digest"), digest);
        assert_eq!(reply.body, content[start..=end], "{range}");
    }

    for range in ["bytes=100-", "bytes=200-300"] {
        let reply = app
            .send("GET", &path, &[("range", range)], Body::empty())
            .await
            .expect_error(StatusCode::RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID");
        assert_eq!(reply.header("content-range"), "bytes */100", "{range}");
    }
    for range in ["bytes=9-1", "items=0-1", "bytes=0-1,5-6", "bytes=-0"] {
        let reply = app
            .send("GET", &path, &[("range", range)], Body::empty())
            .await
            .expect_error(StatusCode::RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID");
        assert_eq!(reply.header("content-range"), "bytes */100", "{range}");
    }

    // Any range of the empty blob is unsatisfiable.
    let empty = app.push_blob("unscanned/t/ranges", b"").await;
    app.send(
        "GET",
        &format!("/v2/unscanned/t/ranges/blobs/{empty}"),
        &[("range", "bytes=0-0")],
        Body::empty(),
    )
    .await
    .expect_error(StatusCode::RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID");
}

#[tokio::test]
async fn unknown_blob_is_blob_unknown() {
    let app = TestApp::new().await;
    app.push_blob("unscanned/t/known", b"x").await;
    let missing = sha256(b"never pushed");
    app.get(&format!("/v2/unscanned/t/known/blobs/{missing}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN");
    app.get(&format!("/v2/unscanned/t/unknown-repo/blobs/{missing}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN");
    let head = app
        .head(&format!("/v2/unscanned/t/known/blobs/{missing}"))
        .await
        .expect(StatusCode::NOT_FOUND);
    assert!(head.maybe_header("docker-content-digest").is_none());
}

/// Pushes `content` under a tag and checks GET/HEAD by tag and by digest.
async fn round_trip(app: &TestApp, repo: &str, tag: &str, media_type: &str, content: &[u8]) {
    let reply = app.push_manifest(repo, tag, media_type, content).await;
    let digest = sha256(content);
    assert_eq!(
        reply.header("location"),
        format!("/v2/{repo}/manifests/{digest}")
    );
    for reference in [tag, digest.as_str()] {
        let path = format!("/v2/{repo}/manifests/{reference}");
        let get = app
            .send("GET", &path, &[("accept", media_type)], Body::empty())
            .await
            .expect(StatusCode::OK);
        assert_eq!(get.body, content, "{path}");
        assert_eq!(get.header("content-type"), media_type, "{path}");
        assert_eq!(get.header("docker-content-digest"), digest, "{path}");
        assert_eq!(
            get.header("content-length"),
            content.len().to_string(),
            "{path}"
        );
        let head = app.head(&path).await.expect(StatusCode::OK);
        assert!(head.body.is_empty());
        assert_eq!(head.header("content-type"), media_type, "{path}");
        assert_eq!(head.header("docker-content-digest"), digest, "{path}");
        assert_eq!(
            head.header("content-length"),
            content.len().to_string(),
            "{path}"
        );
    }
}

#[tokio::test]
async fn oci_image_manifest_and_index() {
    let app = TestApp::new().await;
    let (amd64, amd64_digest) = app
        .push_image("unscanned/t/multi", "amd64", &[b"amd64 layer"])
        .await;
    let (arm64, arm64_digest) = app
        .push_image("unscanned/t/multi", "arm64", &[b"arm64 layer"])
        .await;
    round_trip(
        &app,
        "unscanned/t/multi",
        "amd64-again",
        media_type::OCI_MANIFEST,
        &amd64,
    )
    .await;

    let index = index_manifest(
        media_type::OCI_INDEX,
        &[
            format!(
                r#"{{"mediaType":"{}","digest":"{amd64_digest}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}}"#,
                media_type::OCI_MANIFEST,
                amd64.len()
            ),
            format!(
                r#"{{"mediaType":"{}","digest":"{arm64_digest}","size":{},"platform":{{"architecture":"arm64","os":"linux"}}}}"#,
                media_type::OCI_MANIFEST,
                arm64.len()
            ),
        ],
    );
    round_trip(
        &app,
        "unscanned/t/multi",
        "latest",
        media_type::OCI_INDEX,
        &index,
    )
    .await;
}

#[tokio::test]
async fn index_children_must_exist() {
    let app = TestApp::new().await;
    let (child, child_digest) = app
        .push_image("unscanned/t/idx", "child", &[b"layer"])
        .await;
    let missing = sha256(b"no such manifest");
    for list_type in [media_type::OCI_INDEX, media_type::DOCKER_MANIFEST_LIST] {
        let index = index_manifest(
            list_type,
            &[
                descriptor(media_type::OCI_MANIFEST, &child_digest, child.len()),
                descriptor(media_type::OCI_MANIFEST, &missing, 10),
            ],
        );
        let reply = app
            .send(
                "PUT",
                "/v2/unscanned/t/idx/manifests/latest",
                &[("content-type", list_type)],
                index,
            )
            .await
            .expect_error(StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN");
        assert_eq!(reply.json()["errors"][0]["detail"]["digest"], missing);
    }
    // A child present only in another repository does not count.
    let index = index_manifest(
        media_type::OCI_INDEX,
        &[descriptor(
            media_type::OCI_MANIFEST,
            &child_digest,
            child.len(),
        )],
    );
    app.send(
        "PUT",
        "/v2/unscanned/t/idx-other/manifests/latest",
        &[("content-type", media_type::OCI_INDEX)],
        index,
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN");
    app.get("/v2/unscanned/t/idx/manifests/latest")
        .await
        .expect_error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
}

#[tokio::test]
async fn docker_schema2_manifest_and_manifest_list() {
    let app = TestApp::new().await;
    let config = br#"{"architecture":"amd64","os":"linux","config":{}}"#;
    let config_digest = app.push_blob("unscanned/t/docker", config).await;
    let layer_digest = app.push_blob("unscanned/t/docker", b"docker layer").await;
    let manifest = format!(
        r#"{{
   "schemaVersion": 2,
   "mediaType": "{}",
   "config": {},
   "layers": [
      {}
   ]
}}"#,
        media_type::DOCKER_MANIFEST,
        descriptor(media_type::DOCKER_CONFIG, &config_digest, config.len()),
        descriptor(
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
            &layer_digest,
            12
        ),
    )
    .into_bytes();
    round_trip(
        &app,
        "unscanned/t/docker",
        "v2",
        media_type::DOCKER_MANIFEST,
        &manifest,
    )
    .await;

    let list = index_manifest(
        media_type::DOCKER_MANIFEST_LIST,
        &[format!(
            r#"{{"mediaType":"{}","digest":"{}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}}"#,
            media_type::DOCKER_MANIFEST,
            sha256(&manifest),
            manifest.len()
        )],
    );
    round_trip(
        &app,
        "unscanned/t/docker",
        "list",
        media_type::DOCKER_MANIFEST_LIST,
        &list,
    )
    .await;
}

#[tokio::test]
async fn artifact_manifest_with_the_empty_config() {
    let app = TestApp::new().await;
    let empty = app.push_blob("unscanned/t/artifact", EMPTY_JSON).await;
    assert_eq!(
        empty,
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
    let payload = app
        .push_blob("unscanned/t/artifact", b"signature bytes")
        .await;
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","artifactType":"application/vnd.example.sig.v1","config":{},"layers":[{}],"annotations":{{"org.opencontainers.image.created":"2026-01-01T00:00:00Z"}}}}"#,
        media_type::OCI_MANIFEST,
        descriptor(media_type::OCI_EMPTY, &empty, 2),
        descriptor("application/vnd.example.sig.v1+raw", &payload, 15),
    )
    .into_bytes();
    round_trip(
        &app,
        "unscanned/t/artifact",
        "sig",
        media_type::OCI_MANIFEST,
        &manifest,
    )
    .await;

    // Without the empty blob pushed, the artifact is refused.
    let app = TestApp::new().await;
    app.push_blob("unscanned/t/artifact", b"signature bytes")
        .await;
    app.send(
        "PUT",
        "/v2/unscanned/t/artifact/manifests/sig",
        &[("content-type", media_type::OCI_MANIFEST)],
        manifest,
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN");
}

#[tokio::test]
async fn stored_bytes_come_back_byte_identical() {
    let app = TestApp::new().await;
    let config = app.push_blob("unscanned/t/bytes", b"{}").await;
    let layer = app.push_blob("unscanned/t/bytes", b"layer").await;
    // Odd whitespace, key order, a trailing newline and unknown fields.
    let manifest = format!(
        "{{\n\t\"layers\" : [ {{ \"size\":5, \"digest\":\"{layer}\",  \"mediaType\":\"{LAYER_GZIP}\" }} ],\r\n  \"x-unknown\": {{\"nested\": [1,2,3]}},\n  \"config\":{{\"size\":2,\"mediaType\":\"{}\",\"digest\":\"{config}\"}},   \"mediaType\":\"{}\", \"schemaVersion\" : 2\n}}\n",
        media_type::OCI_CONFIG,
        media_type::OCI_MANIFEST
    )
    .into_bytes();
    round_trip(
        &app,
        "unscanned/t/bytes",
        "odd",
        media_type::OCI_MANIFEST,
        &manifest,
    )
    .await;
}

#[tokio::test]
async fn manifest_without_media_type_takes_the_content_type() {
    let app = TestApp::new().await;
    let config = app.push_blob("unscanned/t/nomt", b"{}").await;
    let manifest = format!(
        r#"{{"schemaVersion":2,"config":{},"layers":[]}}"#,
        descriptor(media_type::OCI_CONFIG, &config, 2)
    )
    .into_bytes();
    round_trip(
        &app,
        "unscanned/t/nomt",
        "v1",
        media_type::OCI_MANIFEST,
        &manifest,
    )
    .await;
}

#[tokio::test]
async fn non_distributable_layers_need_not_be_pushed() {
    let app = TestApp::new().await;
    let config = app.push_blob("unscanned/t/foreign", b"{}").await;
    let manifest = image_manifest(
        &descriptor(media_type::OCI_CONFIG, &config, 2),
        &[descriptor(
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
            &sha256(b"windows base"),
            12,
        )],
    );
    app.push_manifest(
        "unscanned/t/foreign",
        "v1",
        media_type::OCI_MANIFEST,
        &manifest,
    )
    .await;
}

#[tokio::test]
async fn manifest_pull_errors() {
    let app = TestApp::new().await;
    app.push_image("unscanned/t/present", "v1", &[b"layer"])
        .await;
    app.get("/v2/unscanned/t/present/manifests/v2")
        .await
        .expect_error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
    app.get(&format!(
        "/v2/unscanned/t/present/manifests/{}",
        sha256(b"nothing")
    ))
    .await
    .expect_error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
    app.head("/v2/unscanned/t/present/manifests/v2")
        .await
        .expect(StatusCode::NOT_FOUND);
    app.get("/v2/unscanned/t/absent/manifests/v1")
        .await
        .expect_error(StatusCode::NOT_FOUND, "NAME_UNKNOWN");
    app.head("/v2/unscanned/t/absent/manifests/v1")
        .await
        .expect(StatusCode::NOT_FOUND);
    app.get("/v2/unscanned/t/Bad_Name/manifests/v1")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "NAME_INVALID");
    app.get("/v2/unscanned/t/present/manifests/-bad")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "MANIFEST_INVALID");
}

#[tokio::test]
async fn a_tag_moves_to_the_newest_manifest() {
    let app = TestApp::new().await;
    let (first, first_digest) = app
        .push_image("unscanned/t/moving", "latest", &[b"one"])
        .await;
    let (second, _) = app
        .push_image("unscanned/t/moving", "latest", &[b"two"])
        .await;
    assert_ne!(first, second);
    let pulled = app
        .get("/v2/unscanned/t/moving/manifests/latest")
        .await
        .expect(StatusCode::OK);
    assert_eq!(pulled.body, second);
    // The old manifest is still there by digest.
    let old = app
        .get(&format!("/v2/unscanned/t/moving/manifests/{first_digest}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(old.body, first);
}

#[tokio::test]
async fn odd_query_strings_still_get_the_api() {
    let app = TestApp::new().await;
    app.get("/v2/?x=%FF%FE&y").await.expect(StatusCode::OK);
    app.get("/v2/unscanned/t/nobody/tags/list?n=%FF")
        .await
        .expect(StatusCode::BAD_REQUEST);
}
