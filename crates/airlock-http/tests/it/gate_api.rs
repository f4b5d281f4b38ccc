//! The gate's management API: policies (who may set them, versions, line
//! numbered errors), exceptions (request, four-eyes approval, revocation)
//! and image status (readable by the tenant's developers, not by others).

use airlock_accounts::Operator;
use airlock_audit::RequestContext;
use airlock_auth::{GlobalRole, Principal, Roles, TenantId, TenantRole};
use airlock_store::{GateStore, PushedImage};
use axum::http::StatusCode;
use serde_json::json;

use crate::{Reply, TestApp};

fn tenant_user(name: &str, tenant: &str, role: TenantRole) -> Principal {
    Principal::User {
        name: name.into(),
        roles: Roles::single(tenant.parse().unwrap(), role),
    }
}

fn global_user(name: &str, role: GlobalRole) -> Principal {
    let mut roles = Roles::default();
    roles.global.insert(role);
    Principal::User {
        name: name.into(),
        roles,
    }
}

/// An application with tenants `t` (made by [`TestApp`]) and `u`.
async fn app() -> TestApp {
    let app = TestApp::new().await;
    let local = Operator::Local("test".into());
    app.accounts
        .create_tenant(&local, &RequestContext::default(), "u")
        .await
        .unwrap();
    app
}

async fn call(
    app: &TestApp,
    who: &Principal,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let authorization = format!("Bearer {}", app.token(who, Vec::new()));
    let mut headers = vec![("authorization", authorization.as_str())];
    if let Some(content_type) = content_type {
        headers.push(("content-type", content_type));
    }
    app.send(method, &format!("/api/v1{path}"), &headers, body)
        .await
}

async fn put_policy(app: &TestApp, who: &Principal, path: &str, yaml: &str) -> Reply {
    call(
        app,
        who,
        "PUT",
        path,
        Some("application/yaml"),
        yaml.as_bytes().to_vec(),
    )
    .await
}

async fn post_json(app: &TestApp, who: &Principal, path: &str, body: serde_json::Value) -> Reply {
    call(
        app,
        who,
        "POST",
        path,
        Some("application/json"),
        body.to_string().into_bytes(),
    )
    .await
}

async fn get(app: &TestApp, who: &Principal, path: &str) -> Reply {
    call(app, who, "GET", path, None, Vec::new()).await
}

#[tokio::test]
async fn tenant_policies_are_set_by_its_security_team_in_versions() {
    let app = app().await;
    let security = tenant_user("sec", "t", TenantRole::Security);
    let developer = tenant_user("dev", "t", TenantRole::Developer);

    let first = put_policy(
        &app,
        &security,
        "/tenants/t/policy",
        "ignore_unfixed: true\n",
    )
    .await
    .expect(StatusCode::OK)
    .json();
    assert_eq!(first["version"], 1);
    assert_eq!(first["tenant"], "t");
    assert_eq!(first["author"], "sec");
    let second = put_policy(
        &app,
        &security,
        "/tenants/t/policy",
        "block_severity_at_or_above: high\n",
    )
    .await
    .expect(StatusCode::OK)
    .json();
    assert_eq!(second["version"], 2);

    put_policy(
        &app,
        &developer,
        "/tenants/t/policy",
        "ignore_unfixed: true\n",
    )
    .await
    .expect_error(StatusCode::FORBIDDEN, "DENIED");
    let other_security = tenant_user("sec-u", "u", TenantRole::Security);
    put_policy(
        &app,
        &other_security,
        "/tenants/t/policy",
        "ignore_unfixed: true\n",
    )
    .await
    .expect_error(StatusCode::FORBIDDEN, "DENIED");

    let shown = get(&app, &developer, "/tenants/t/policy")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(shown["version"], 2);
    assert_eq!(shown["document"], "block_severity_at_or_above: high\n");
    get(&app, &developer, "/tenants/u/policy")
        .await
        .expect_error(StatusCode::FORBIDDEN, "DENIED");
    get(&app, &other_security, "/tenants/u/policy")
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn invalid_policies_are_refused_with_their_line() {
    let app = app().await;
    let security = tenant_user("sec", "t", TenantRole::Security);
    let reply = put_policy(
        &app,
        &security,
        "/tenants/t/policy",
        "ignore_unfixed: true\nblock_sevrity_at_or_above: high\n",
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "INVALID");
    let message = reply.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("line 2"), "{message}");
    get(&app, &security, "/tenants/t/policy")
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn the_global_policy_is_set_by_admins_only_and_read_by_all() {
    let app = app().await;
    let admin = global_user("boss", GlobalRole::Admin);
    let auditor = global_user("eve", GlobalRole::Auditor);
    let security = tenant_user("sec", "t", TenantRole::Security);
    let reader = tenant_user("rd", "u", TenantRole::Reader);

    get(&app, &reader, "/policies/global")
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    for who in [&security, &auditor, &reader] {
        put_policy(&app, who, "/policies/global", "ignore_unfixed: true\n")
            .await
            .expect_error(StatusCode::FORBIDDEN, "DENIED");
    }
    let set = put_policy(&app, &admin, "/policies/global", "block_eol_os: true\n")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(set["version"], 1);
    assert_eq!(set["tenant"], serde_json::Value::Null);
    let shown = get(&app, &reader, "/policies/global")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(shown["document"], "block_eol_os: true\n");
}

#[tokio::test]
async fn exceptions_need_a_second_person_to_approve() {
    let app = app().await;
    let developer = tenant_user("dev", "t", TenantRole::Developer);
    let security = tenant_user("sec", "t", TenantRole::Security);
    let reader = tenant_user("rd", "t", TenantRole::Reader);
    let admin = global_user("boss", GlobalRole::Admin);
    let request = json!({
        "vulnerability": "CVE-2024-1234",
        "package": "openssl",
        "reason": "not reachable in our build",
        "expires_in_seconds": 86_400,
    });

    post_json(&app, &reader, "/tenants/t/exceptions", request.clone())
        .await
        .expect_error(StatusCode::FORBIDDEN, "DENIED");
    let mut no_expiry = request.clone();
    no_expiry["expires_in_seconds"] = json!(0);
    post_json(&app, &developer, "/tenants/t/exceptions", no_expiry)
        .await
        .expect_error(StatusCode::BAD_REQUEST, "INVALID");

    let created = post_json(&app, &developer, "/tenants/t/exceptions", request.clone())
        .await
        .expect(StatusCode::CREATED)
        .json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("EXC-"), "{created}");
    assert_eq!(created["status"], "pending");
    assert_eq!(created["requested_by"], "dev");

    // A developer may not approve; a security member may not approve their own.
    let approve = format!("/tenants/t/exceptions/{id}/approve");
    post_json(&app, &developer, &approve, json!({}))
        .await
        .expect_error(StatusCode::FORBIDDEN, "DENIED");
    let own = post_json(&app, &security, "/tenants/t/exceptions", request.clone())
        .await
        .expect(StatusCode::CREATED)
        .json();
    let own_id = own["id"].as_str().unwrap();
    let refused = post_json(
        &app,
        &security,
        &format!("/tenants/t/exceptions/{own_id}/approve"),
        json!({}),
    )
    .await
    .expect_error(StatusCode::FORBIDDEN, "DENIED");
    assert!(
        refused.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("must not be its requester")
    );
    // Another tenant's path does not reach it.
    post_json(
        &app,
        &admin,
        &format!("/tenants/u/exceptions/{id}/approve"),
        json!({}),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");

    let approved = post_json(&app, &security, &approve, json!({}))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(approved["status"], "active");
    assert_eq!(approved["approved_by"], "sec");
    post_json(&app, &admin, &approve, json!({}))
        .await
        .expect_error(StatusCode::CONFLICT, "CONFLICT");

    let listed = get(&app, &developer, "/tenants/t/exceptions")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(listed["exceptions"].as_array().unwrap().len(), 2);

    let path = format!("/tenants/t/exceptions/{id}");
    call(&app, &developer, "DELETE", &path, None, Vec::new())
        .await
        .expect_error(StatusCode::FORBIDDEN, "DENIED");
    call(&app, &security, "DELETE", &path, None, Vec::new())
        .await
        .expect(StatusCode::NO_CONTENT);
    call(&app, &security, "DELETE", &path, None, Vec::new())
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let listed = get(&app, &developer, "/tenants/t/exceptions")
        .await
        .expect(StatusCode::OK)
        .json();
    let revoked = listed["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id.as_str())
        .unwrap();
    assert_eq!(revoked["status"], "revoked");
    let events: Vec<String> = app
        .database
        .outbox(100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert!(
        events.contains(&"airlock.exception.created".to_owned())
            && events.contains(&"airlock.exception.approved".to_owned()),
        "{events:?}"
    );
}

#[tokio::test]
async fn image_status_is_readable_by_the_tenants_developers_only() {
    let app = app().await;
    let digest = format!("sha256:{}", "a".repeat(64));
    let pushed = PushedImage {
        tenant: TenantId::try_from("t".to_owned()).unwrap(),
        repository: "unscanned/t/app".parse().unwrap(),
        digest: digest.parse().unwrap(),
        media_type: airlock_oci::media_type::OCI_MANIFEST.to_owned(),
        pushed_by: None,
    };
    app.database.record_push(&pushed, &[], &[]).await.unwrap();

    let developer = tenant_user("dev", "t", TenantRole::Developer);
    let status = get(&app, &developer, &format!("/tenants/t/images/{digest}"))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(status["state"], "received");
    assert_eq!(status["repository"], "unscanned/t/app");
    assert_eq!(status["digest"], digest.as_str());
    assert!(status["history"].is_array(), "{status}");
    assert!(status["reasons"].is_array(), "{status}");

    let listed = get(&app, &developer, "/tenants/t/images?state=received")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(listed["images"].as_array().unwrap().len(), 1);
    get(&app, &developer, "/tenants/t/images?state=bogus")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "INVALID");

    let stranger = tenant_user("rd-u", "u", TenantRole::Reader);
    get(&app, &stranger, &format!("/tenants/t/images/{digest}"))
        .await
        .expect_error(StatusCode::FORBIDDEN, "DENIED");
    get(&app, &stranger, "/tenants/t/images")
        .await
        .expect_error(StatusCode::FORBIDDEN, "DENIED");
    let auditor = global_user("eve", GlobalRole::Auditor);
    get(&app, &auditor, &format!("/tenants/t/images/{digest}"))
        .await
        .expect(StatusCode::OK);
    get(
        &app,
        &developer,
        &format!("/tenants/t/images/sha256:{}", "b".repeat(64)),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}
