//! Operational endpoints: `/healthz`, `/readyz` and the Prometheus
//! `/metrics` exposition (request counts by route, method and status; bytes
//! in and out), which must not carry the `/v2/` API version header.

use axum::body::Body;
use axum::http::StatusCode;

use crate::TestApp;

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::new().await;
    let health = app.get("/healthz").await.expect(StatusCode::OK);
    assert_eq!(&health.body[..], b"ok");
    let ready = app.get("/readyz").await.expect(StatusCode::OK);
    assert_eq!(&ready.body[..], b"ready");
    assert!(
        health
            .maybe_header("docker-distribution-api-version")
            .is_none()
    );
}

/// The value of the sample whose line starts with `name{` and contains every label.
fn sample(exposition: &str, name: &str, labels: &[&str]) -> Option<f64> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn scrape(app: &TestApp) -> String {
    let reply = app.get("/metrics").await.expect(StatusCode::OK);
    assert!(reply.header("content-type").starts_with("text/plain"));
    String::from_utf8(reply.body.to_vec()).expect("utf-8 exposition")
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_bytes() {
    let app = TestApp::new().await;
    let content = vec![7u8; 10_000];
    let digest = app.push_blob("unscanned/t/metrics", &content).await;
    let before = scrape(&app).await;
    let ok_before = sample(
        &before,
        "airlock_http_requests_total",
        &[r#"route="blob""#, r#"method="GET""#, r#"status="200""#],
    )
    .unwrap_or(0.0);
    let missing_before = sample(
        &before,
        "airlock_http_requests_total",
        &[r#"route="manifest""#, r#"method="GET""#, r#"status="404""#],
    )
    .unwrap_or(0.0);
    let out_before = sample(
        &before,
        "airlock_http_response_bytes_total",
        &[r#"route="blob""#],
    )
    .unwrap_or(0.0);
    let in_before = sample(&before, "airlock_http_request_bytes_total", &[]).unwrap_or(0.0);

    for _ in 0..3 {
        let blob = app
            .get(&format!("/v2/unscanned/t/metrics/blobs/{digest}"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(blob.body.len(), content.len());
    }
    app.get("/v2/unscanned/t/metrics/manifests/absent")
        .await
        .expect(StatusCode::NOT_FOUND);
    app.send(
        "POST",
        &format!(
            "/v2/unscanned/t/metrics/blobs/uploads/?digest={}",
            crate::sha256(&[1u8; 5000])
        ),
        &[],
        vec![1u8; 5000],
    )
    .await
    .expect(StatusCode::CREATED);
    app.send(
        "PATCH",
        "/v2/unscanned/t/metrics/manifests/v1",
        &[],
        Body::empty(),
    )
    .await
    .expect(StatusCode::METHOD_NOT_ALLOWED);

    let after = scrape(&app).await;
    assert!(after.contains("airlock_http_requests_total"), "{after}");
    assert!(
        after.contains("airlock_http_request_duration_seconds"),
        "{after}"
    );
    let ok_after = sample(
        &after,
        "airlock_http_requests_total",
        &[r#"route="blob""#, r#"method="GET""#, r#"status="200""#],
    )
    .unwrap();
    assert!(ok_after - ok_before >= 3.0, "{ok_before} -> {ok_after}");
    let missing_after = sample(
        &after,
        "airlock_http_requests_total",
        &[r#"route="manifest""#, r#"method="GET""#, r#"status="404""#],
    )
    .unwrap();
    assert!(missing_after - missing_before >= 1.0);
    assert!(
        sample(
            &after,
            "airlock_http_requests_total",
            &[
                r#"route="manifest""#,
                r#"method="PATCH""#,
                r#"status="405""#
            ]
        )
        .is_some()
    );
    assert!(
        sample(
            &after,
            "airlock_http_requests_total",
            &[r#"route="upload_start""#, r#"status="201""#]
        )
        .is_some()
    );
    let out_after = sample(
        &after,
        "airlock_http_response_bytes_total",
        &[r#"route="blob""#],
    )
    .unwrap();
    assert!(
        out_after - out_before >= 30_000.0,
        "{out_before} -> {out_after}"
    );
    let in_after = sample(&after, "airlock_http_request_bytes_total", &[]).unwrap();
    assert!(in_after - in_before >= 5_000.0, "{in_before} -> {in_after}");
    // The operational endpoints are labelled too.
    app.get("/healthz").await.expect(StatusCode::OK);
    let last = scrape(&app).await;
    assert!(
        sample(
            &last,
            "airlock_http_requests_total",
            &[r#"route="healthz""#, r#"status="200""#]
        )
        .is_some(),
        "{last}"
    );
}
