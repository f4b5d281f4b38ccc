//! Content discovery: the tags list (sorted, `n`/`last` pagination with a
//! `Link` header exactly when more remain), `_catalog` with pagination, and
//! the referrers API (`subject`, `OCI-Subject`, `artifactType` filter,
//! `OCI-Filters-Applied`, annotations, the empty index).

use airlock_oci::media_type;
use axum::body::Body;
use axum::http::StatusCode;

use crate::{EMPTY_JSON, TestApp, descriptor, sha256};

async fn tag_page(app: &TestApp, path: &str) -> (Vec<String>, Option<String>) {
    let reply = app.get(path).await.expect(StatusCode::OK);
    assert!(reply.header("content-type").starts_with("application/json"));
    let body = reply.json();
    let tags = body["tags"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    (tags, reply.maybe_header("link").map(str::to_owned))
}

#[tokio::test]
async fn tags_list_is_sorted_and_paginated() {
    let app = TestApp::new().await;
    let (manifest, _) = app
        .push_image("unscanned/t/tagged/repo", "b", &[b"layer"])
        .await;
    for tag in ["c", "a", "1.0", "B-upper"] {
        app.push_manifest(
            "unscanned/t/tagged/repo",
            tag,
            media_type::OCI_MANIFEST,
            &manifest,
        )
        .await;
    }
    let all = vec!["1.0", "B-upper", "a", "b", "c"];

    let reply = app
        .get("/v2/unscanned/t/tagged/repo/tags/list")
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        reply.json(),
        serde_json::json!({"name": "unscanned/t/tagged/repo", "tags": all})
    );
    assert!(reply.maybe_header("link").is_none());

    let (page, link) = tag_page(&app, "/v2/unscanned/t/tagged/repo/tags/list?n=2").await;
    assert_eq!(page, ["1.0", "B-upper"]);
    assert_eq!(
        link.as_deref(),
        Some(r#"</v2/unscanned/t/tagged/repo/tags/list?n=2&last=B-upper>; rel="next""#)
    );

    let (page, link) = tag_page(
        &app,
        "/v2/unscanned/t/tagged/repo/tags/list?n=2&last=B-upper",
    )
    .await;
    assert_eq!(page, ["a", "b"]);
    assert_eq!(
        link.as_deref(),
        Some(r#"</v2/unscanned/t/tagged/repo/tags/list?n=2&last=b>; rel="next""#)
    );

    // Exactly one remains: no Link.
    let (page, link) = tag_page(&app, "/v2/unscanned/t/tagged/repo/tags/list?n=2&last=b").await;
    assert_eq!(page, ["c"]);
    assert_eq!(link, None);

    // A page that ends exactly at the last tag has no Link either.
    let (page, link) = tag_page(&app, "/v2/unscanned/t/tagged/repo/tags/list?n=5").await;
    assert_eq!(page, all);
    assert_eq!(link, None);
    let (page, link) = tag_page(&app, "/v2/unscanned/t/tagged/repo/tags/list?n=100").await;
    assert_eq!(page, all);
    assert_eq!(link, None);

    // `last` alone.
    let (page, link) = tag_page(&app, "/v2/unscanned/t/tagged/repo/tags/list?last=a").await;
    assert_eq!(page, ["b", "c"]);
    assert_eq!(link, None);

    // Following every Link visits every tag once.
    let mut seen = Vec::new();
    let mut next = Some("/v2/unscanned/t/tagged/repo/tags/list?n=1".to_owned());
    while let Some(path) = next {
        let (page, link) = tag_page(&app, &path).await;
        seen.extend(page);
        next = link.map(|l| {
            l.trim_start_matches('<')
                .split('>')
                .next()
                .unwrap()
                .to_owned()
        });
    }
    assert_eq!(seen, all);
}

#[tokio::test]
async fn tags_list_errors() {
    let app = TestApp::new().await;
    app.get("/v2/unscanned/t/nobody/tags/list")
        .await
        .expect_error(StatusCode::NOT_FOUND, "NAME_UNKNOWN");
    app.get("/v2/unscanned/t/UPPER/tags/list")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "NAME_INVALID");
    app.push_image("unscanned/t/tl", "v1", &[b"x"]).await;
    app.get("/v2/unscanned/t/tl/tags/list?n=minus-one")
        .await
        .expect(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_repository_without_tags_lists_none() {
    let app = TestApp::new().await;
    let (manifest, digest) = app.push_image("unscanned/t/untagged", "v1", &[b"x"]).await;
    app.send(
        "DELETE",
        "/v2/unscanned/t/untagged/manifests/v1",
        &[],
        Body::empty(),
    )
    .await
    .expect(StatusCode::ACCEPTED);
    let body = app
        .get("/v2/unscanned/t/untagged/tags/list")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(body["tags"], serde_json::json!([]));
    let pulled = app
        .get(&format!("/v2/unscanned/t/untagged/manifests/{digest}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(pulled.body, manifest);
}

#[tokio::test]
async fn catalog_lists_repositories_with_pagination() {
    let app = TestApp::new().await;
    let empty = app.get("/v2/_catalog").await.expect(StatusCode::OK).json();
    assert_eq!(empty, serde_json::json!({"repositories": []}));
    for repo in [
        "unscanned/t/gamma",
        "unscanned/t/alpha",
        "unscanned/t/beta/one",
        "unscanned/t/beta/two",
    ] {
        app.push_image(repo, "v1", &[repo.as_bytes()]).await;
    }
    let reply = app.get("/v2/_catalog").await.expect(StatusCode::OK);
    assert_eq!(
        reply.json()["repositories"],
        serde_json::json!([
            "unscanned/t/alpha",
            "unscanned/t/beta/one",
            "unscanned/t/beta/two",
            "unscanned/t/gamma"
        ])
    );
    assert!(reply.maybe_header("link").is_none());

    let reply = app.get("/v2/_catalog?n=2").await.expect(StatusCode::OK);
    assert_eq!(
        reply.json()["repositories"],
        serde_json::json!(["unscanned/t/alpha", "unscanned/t/beta/one"])
    );
    assert_eq!(
        reply.header("link"),
        r#"</v2/_catalog?n=2&last=unscanned/t/beta/one>; rel="next""#
    );

    let reply = app
        .get("/v2/_catalog?n=2&last=unscanned/t/beta/one")
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        reply.json()["repositories"],
        serde_json::json!(["unscanned/t/beta/two", "unscanned/t/gamma"])
    );
    assert!(reply.maybe_header("link").is_none());

    let reply = app
        .get("/v2/_catalog?n=3&last=unscanned/t/alpha")
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        reply.json()["repositories"],
        serde_json::json!([
            "unscanned/t/beta/one",
            "unscanned/t/beta/two",
            "unscanned/t/gamma"
        ])
    );
    assert!(reply.maybe_header("link").is_none());
}

/// Pushes an artifact whose subject is `subject` and returns its digest.
async fn push_referrer(
    app: &TestApp,
    repo: &str,
    subject: &str,
    subject_size: usize,
    artifact_type: &str,
    note: &str,
) -> String {
    let empty = app.push_blob(repo, EMPTY_JSON).await;
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","artifactType":"{artifact_type}","config":{},"layers":[{}],"subject":{},"annotations":{{"note":"{note}"}}}}"#,
        media_type::OCI_MANIFEST,
        descriptor(media_type::OCI_EMPTY, &empty, 2),
        descriptor(media_type::OCI_EMPTY, &empty, 2),
        descriptor(media_type::OCI_MANIFEST, subject, subject_size),
    )
    .into_bytes();
    let digest = sha256(&manifest);
    let reply = app
        .send(
            "PUT",
            &format!("/v2/{repo}/manifests/{digest}"),
            &[("content-type", media_type::OCI_MANIFEST)],
            manifest,
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(reply.header("oci-subject"), subject);
    digest
}

#[tokio::test]
async fn referrers_api() {
    let app = TestApp::new().await;
    let (image, image_digest) = app
        .push_image("unscanned/t/refs", "v1", &[b"image layer"])
        .await;

    // No referrers yet: an empty index, not a 404.
    let reply = app
        .get(&format!("/v2/unscanned/t/refs/referrers/{image_digest}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.header("content-type"), media_type::OCI_INDEX);
    assert_eq!(
        reply.json(),
        serde_json::json!({"schemaVersion": 2, "mediaType": media_type::OCI_INDEX, "manifests": []})
    );
    assert!(reply.maybe_header("oci-filters-applied").is_none());

    let sig = push_referrer(
        &app,
        "unscanned/t/refs",
        &image_digest,
        image.len(),
        "application/vnd.example.sig.v1",
        "signed",
    )
    .await;
    let sbom = push_referrer(
        &app,
        "unscanned/t/refs",
        &image_digest,
        image.len(),
        "application/spdx+json",
        "sbom",
    )
    .await;
    // A referrer of something else does not show up.
    push_referrer(
        &app,
        "unscanned/t/refs",
        &sha256(b"other subject"),
        5,
        "application/spdx+json",
        "other",
    )
    .await;

    let reply = app
        .get(&format!("/v2/unscanned/t/refs/referrers/{image_digest}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.header("content-type"), media_type::OCI_INDEX);
    assert!(reply.maybe_header("oci-filters-applied").is_none());
    let index = reply.json();
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(index["mediaType"], media_type::OCI_INDEX);
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 2, "{index}");
    for (digest, artifact_type, note) in [
        (&sig, "application/vnd.example.sig.v1", "signed"),
        (&sbom, "application/spdx+json", "sbom"),
    ] {
        let entry = manifests
            .iter()
            .find(|m| m["digest"] == digest.as_str())
            .unwrap_or_else(|| panic!("{digest} missing from {index}"));
        assert_eq!(entry["mediaType"], media_type::OCI_MANIFEST);
        assert_eq!(entry["artifactType"], artifact_type);
        assert_eq!(entry["annotations"]["note"], note);
        // The size is the referrer manifest's own size.
        let pulled = app
            .get(&format!("/v2/unscanned/t/refs/manifests/{digest}"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(entry["size"], pulled.body.len());
    }

    let reply = app
        .get(&format!(
            "/v2/unscanned/t/refs/referrers/{image_digest}?artifactType=application/spdx%2Bjson"
        ))
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.header("oci-filters-applied"), "artifactType");
    let filtered = reply.json();
    assert_eq!(
        filtered["manifests"].as_array().unwrap().len(),
        1,
        "{filtered}"
    );
    assert_eq!(filtered["manifests"][0]["digest"], sbom);

    let reply = app
        .get(&format!(
            "/v2/unscanned/t/refs/referrers/{image_digest}?artifactType=application/none"
        ))
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.header("oci-filters-applied"), "artifactType");
    assert_eq!(reply.json()["manifests"], serde_json::json!([]));

    // Referrers are per repository.
    let other = app
        .get(&format!(
            "/v2/unscanned/t/elsewhere/referrers/{image_digest}"
        ))
        .await
        .expect(StatusCode::OK);
    assert_eq!(other.json()["manifests"], serde_json::json!([]));

    // A deleted referrer disappears.
    app.send(
        "DELETE",
        &format!("/v2/unscanned/t/refs/manifests/{sig}"),
        &[],
        Body::empty(),
    )
    .await
    .expect(StatusCode::ACCEPTED);
    let index = app
        .get(&format!("/v2/unscanned/t/refs/referrers/{image_digest}"))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 1, "{index}");
    assert_eq!(index["manifests"][0]["digest"], sbom);

    app.get("/v2/unscanned/t/refs/referrers/sha256:nothex")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
}

#[tokio::test]
async fn image_with_a_custom_config_type_is_an_artifact_of_that_type() {
    let app = TestApp::new().await;
    let (image, image_digest) = app.push_image("unscanned/t/cfgtype", "v1", &[b"l"]).await;
    let config = app
        .push_blob("unscanned/t/cfgtype", b"{\"kind\":\"helm\"}")
        .await;
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{},"layers":[],"subject":{}}}"#,
        media_type::OCI_MANIFEST,
        descriptor("application/vnd.cncf.helm.config.v1+json", &config, 15),
        descriptor(media_type::OCI_MANIFEST, &image_digest, image.len()),
    )
    .into_bytes();
    let reply = app
        .push_manifest(
            "unscanned/t/cfgtype",
            "helm",
            media_type::OCI_MANIFEST,
            &manifest,
        )
        .await;
    assert_eq!(reply.header("oci-subject"), image_digest);
    let index = app
        .get(&format!("/v2/unscanned/t/cfgtype/referrers/{image_digest}"))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        index["manifests"][0]["artifactType"],
        "application/vnd.cncf.helm.config.v1+json"
    );
    assert!(
        index["manifests"][0].get("annotations").is_none(),
        "{index}"
    );
}

#[tokio::test]
async fn subject_may_be_pushed_before_its_referent() {
    let app = TestApp::new().await;
    let missing = sha256(b"image pushed later");
    let referrer = push_referrer(
        &app,
        "unscanned/t/early",
        &missing,
        100,
        "application/vnd.example.sig.v1",
        "x",
    )
    .await;
    let index = app
        .get(&format!("/v2/unscanned/t/early/referrers/{missing}"))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(index["manifests"][0]["digest"], referrer);
}

#[tokio::test]
async fn no_oci_subject_header_without_subject() {
    let app = TestApp::new().await;
    let config = app.push_blob("unscanned/t/nosubject", b"{}").await;
    let manifest = crate::image_manifest(&descriptor(media_type::OCI_CONFIG, &config, 2), &[]);
    let reply = app
        .push_manifest(
            "unscanned/t/nosubject",
            "v1",
            media_type::OCI_MANIFEST,
            &manifest,
        )
        .await;
    assert!(reply.maybe_header("oci-subject").is_none());
}

#[tokio::test]
async fn an_index_can_be_a_referrer() {
    let app = TestApp::new().await;
    let (image, image_digest) = app.push_image("unscanned/t/idxref", "v1", &[b"l"]).await;
    let (child, child_digest) = app.push_image("unscanned/t/idxref", "child", &[b"c"]).await;
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","artifactType":"application/vnd.example.bundle","manifests":[{}],"subject":{}}}"#,
        media_type::OCI_INDEX,
        descriptor(media_type::OCI_MANIFEST, &child_digest, child.len()),
        descriptor(media_type::OCI_MANIFEST, &image_digest, image.len()),
    )
    .into_bytes();
    let reply = app
        .push_manifest(
            "unscanned/t/idxref",
            "bundle",
            media_type::OCI_INDEX,
            &index,
        )
        .await;
    assert_eq!(reply.header("oci-subject"), image_digest);
    let listed = app
        .get(&format!("/v2/unscanned/t/idxref/referrers/{image_digest}"))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(listed["manifests"][0]["mediaType"], media_type::OCI_INDEX);
    assert_eq!(
        listed["manifests"][0]["artifactType"],
        "application/vnd.example.bundle"
    );
    assert_eq!(listed["manifests"][0]["digest"], sha256(&index));
    assert_eq!(listed["manifests"][0]["size"], index.len());
}
