//! The local operator: the CLI's in-process transport authenticates by a
//! request extension ([`airlock_http::LocalOperator`]), which the management
//! API accepts before any credentials. These tests pin down that this is the
//! only way in: a request that did not get the extension from the process
//! itself, whatever headers, cookies or query it carries, is anonymous; and
//! that the cookie session's CSRF check still holds beside it.

use airlock_audit::ActorKind;
use airlock_http::LocalOperator;
use airlock_store::{AuditFilter, AuditStore};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::TestApp;
use crate::ui::{add_admin, session};

/// Sends `method path` with `headers`, and the extension when `local` names one.
async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    local: Option<&str>,
) -> (StatusCode, serde_json::Value) {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request.body(Body::from(body.to_owned())).unwrap();
    if let Some(name) = local {
        request
            .extensions_mut()
            .insert(LocalOperator(name.to_owned()));
    }
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, json)
}

async fn tenant_ids(app: &TestApp) -> Vec<String> {
    let (status, json) = send(app, "GET", "/api/v1/tenants", &[], "", Some("ops")).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    json["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_extension_acts_as_the_local_operator_without_credentials_or_csrf() {
    let app = TestApp::new().await;
    let (status, json) = send(
        &app,
        "POST",
        "/api/v1/tenants",
        &[("content-type", "application/json")],
        r#"{"id":"acme"}"#,
        Some("alice"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    assert!(tenant_ids(&app).await.contains(&"acme".to_owned()));

    let records = app
        .database
        .audit_records(&AuditFilter::default(), 0, 1000)
        .await
        .unwrap();
    let created = records
        .iter()
        .find(|r| r.event.action == "tenant.create" && r.event.target.contains("acme"))
        .expect("the creation is audited");
    assert_eq!(created.event.actor.kind, ActorKind::System);
    assert_eq!(created.event.actor.name, "cli:alice");
}

#[tokio::test]
async fn no_header_cookie_or_query_makes_a_network_request_the_local_operator() {
    let app = TestApp::new().await;
    let forged: &[&[(&str, &str)]] = &[
        &[],
        &[("localoperator", "alice")],
        &[("local-operator", "alice")],
        &[("x-airlock-local-operator", "alice")],
        &[("x-local-operator", "alice")],
        &[("x-forwarded-user", "alice")],
        &[("x-remote-user", "alice")],
        &[("forwarded", "for=127.0.0.1;by=unix")],
        &[("x-forwarded-for", "127.0.0.1")],
        &[("authorization", "Local alice")],
        &[("authorization", "LocalOperator alice")],
        &[(
            "cookie",
            "airlock_local_operator=alice; local_operator=alice",
        )],
        &[("cookie", "airlock_session=local:alice")],
        &[("host", "localhost"), ("user-agent", "airlock-cli")],
    ];
    for headers in forged {
        for (method, path, body) in [
            ("GET", "/api/v1/tenants", ""),
            ("GET", "/api/v1/tenants?local_operator=alice", ""),
            ("POST", "/api/v1/tenants", r#"{"id":"forged"}"#),
            ("GET", "/api/v1/audit/verify", ""),
        ] {
            let mut all = headers.to_vec();
            all.push(("content-type", "application/json"));
            let (status, json) = send(&app, method, path, &all, body, None).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {headers:?} got in: {json}"
            );
            assert_eq!(json["errors"][0]["code"], "UNAUTHORIZED", "{json}");
        }
    }
    assert!(!tenant_ids(&app).await.contains(&"forged".to_owned()));
}

#[tokio::test]
async fn a_session_cookie_still_needs_its_csrf_token_on_unsafe_methods() {
    let app = crate::ui::app().await;
    add_admin(&app, "root").await;
    let (cookie, csrf) = session(&app.router, "root").await;
    let body = r#"{"id":"by-cookie"}"#;
    let json = [("content-type", "application/json"), ("cookie", &cookie)];
    let (status, reply) = send(&app, "POST", "/api/v1/tenants", &json, body, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
    assert!(!tenant_ids(&app).await.contains(&"by-cookie".to_owned()));

    let with_token = [
        ("content-type", "application/json"),
        ("cookie", cookie.as_str()),
        ("x-csrf-token", csrf.as_str()),
        ("origin", "http://localhost"),
        ("host", "localhost"),
    ];
    let (status, reply) = send(&app, "POST", "/api/v1/tenants", &with_token, body, None).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
}
