//! The management API under `/api/v1`: tenants, users, grants, passwords,
//! robots and the audit export, driven as an admin who logs in with basic
//! credentials. The OpenAPI document is checked in `openapi.rs`.

use airlock_accounts::Operator;
use airlock_audit::RequestContext;
use airlock_auth::{GlobalRole, Principal, Roles, TenantRole};
use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::json;

use crate::{Reply, TestApp};

/// Basic credentials of the admin every test creates.
const ROOT: (&str, &str) = ("root", "password1");

/// An `Authorization: Basic` value.
fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// An application with a global admin `root` in its database.
async fn app_with_root() -> TestApp {
    let app = TestApp::new().await;
    let local = Operator::Local("test".into());
    let context = RequestContext::default();
    app.accounts
        .create_user(&local, &context, ROOT.0, ROOT.1)
        .await
        .expect("create root");
    app.accounts
        .set_global_role(&local, &context, ROOT.0, GlobalRole::Admin, true)
        .await
        .expect("make root an admin");
    app
}

/// One management request with the given `Authorization` value.
async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    authorization: &str,
    body: Option<serde_json::Value>,
) -> Reply {
    let mut headers = vec![("authorization", authorization)];
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    app.send(method, &format!("/api/v1{path}"), &headers, body)
        .await
}

/// A management request as `root`.
async fn as_root(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> Reply {
    call(app, method, path, &basic(ROOT.0, ROOT.1), body).await
}

/// Expected answer: a status and, for errors, the code in the envelope.
#[track_caller]
fn check(reply: Reply, status: u16, code: Option<&str>, label: &str) -> Reply {
    assert_eq!(
        reply.status.as_u16(),
        status,
        "{label}: {}",
        String::from_utf8_lossy(&reply.body)
    );
    if let Some(code) = code {
        assert_eq!(reply.json()["errors"][0]["code"], code, "{label}");
    }
    reply
}

#[tokio::test]
async fn tenants_are_created_once_with_valid_ids() {
    let app = app_with_root().await;
    let cases: &[(&str, u16, Option<&str>)] = &[
        ("acme", 201, None),
        ("acme", 409, Some("CONFLICT")),
        ("Bad_Tenant", 400, Some("INVALID")),
        ("globex", 201, None),
    ];
    for (id, status, code) in cases {
        let reply = as_root(
            &app,
            "POST",
            "/tenants",
            Some(serde_json::json!({ "id": id })),
        )
        .await;
        let reply = check(reply, *status, *code, id);
        if *status == 201 {
            assert_eq!(reply.json()["id"], *id);
        }
    }
    let listed = check(
        as_root(&app, "GET", "/tenants", None).await,
        200,
        None,
        "list",
    );
    let ids: Vec<String> = listed.json()["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["acme", "globex", "t"]);
}

#[tokio::test]
async fn users_are_created_and_granted_roles() {
    let app = app_with_root().await;
    let cases: Vec<(&str, &str, serde_json::Value, u16, Option<&str>)> = vec![
        (
            "create",
            "/users",
            json!({"name": "alice", "password": "password1"}),
            201,
            None,
        ),
        (
            "short password",
            "/users",
            json!({"name": "bob", "password": "short"}),
            400,
            Some("INVALID"),
        ),
        (
            "duplicate",
            "/users",
            json!({"name": "alice", "password": "password2"}),
            409,
            Some("CONFLICT"),
        ),
        (
            "developer in t",
            "/users/alice/grants",
            json!({"tenant": "t", "role": "developer"}),
            200,
            None,
        ),
        (
            "security without tenant",
            "/users/alice/grants",
            json!({"role": "security"}),
            400,
            Some("INVALID"),
        ),
        (
            "admin globally",
            "/users/alice/grants",
            json!({"role": "admin"}),
            200,
            None,
        ),
        (
            "tenant role in unknown tenant",
            "/users/alice/grants",
            json!({"tenant": "nope", "role": "reader"}),
            404,
            Some("NOT_FOUND"),
        ),
    ];
    for (label, path, body, status, code) in cases {
        check(
            as_root(&app, "POST", path, Some(body)).await,
            status,
            code,
            label,
        );
    }
    let users = check(
        as_root(&app, "GET", "/users", None).await,
        200,
        None,
        "list",
    );
    let alice = users.json()["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "alice")
        .cloned()
        .expect("alice listed");
    assert_eq!(alice["tenants"], serde_json::json!({"t": "developer"}));
    assert_eq!(alice["global_roles"], serde_json::json!(["admin"]));
    assert_eq!(alice["disabled"], false);
    assert!(
        !users.body.windows(6).any(|w| w == b"argon2"),
        "password hashes leak: {}",
        String::from_utf8_lossy(&users.body)
    );
}

#[tokio::test]
async fn disabled_users_cannot_log_in() {
    let app = app_with_root().await;
    let body = serde_json::json!({"name": "carol", "password": "password1"});
    check(
        as_root(&app, "POST", "/users", Some(body)).await,
        201,
        None,
        "create",
    );
    let carol = basic("carol", "password1");
    check(
        call(&app, "GET", "/whoami", &carol, None).await,
        200,
        None,
        "before",
    );
    let disabled = check(
        as_root(&app, "POST", "/users/carol/disable", None).await,
        200,
        None,
        "disable",
    );
    assert_eq!(disabled.json()["disabled"], true);
    check(
        call(&app, "GET", "/whoami", &carol, None).await,
        401,
        Some("UNAUTHORIZED"),
        "after",
    );
}

#[tokio::test]
async fn users_change_only_their_own_password() {
    let app = app_with_root().await;
    for name in ["dave", "erin"] {
        let body = serde_json::json!({"name": name, "password": "password1"});
        check(
            as_root(&app, "POST", "/users", Some(body)).await,
            201,
            None,
            name,
        );
    }
    let dave = basic("dave", "password1");
    let new = serde_json::json!({"password": "password2"});
    let cases: &[(&str, &str, u16, Option<&str>)] = &[
        (
            "someone else's",
            "/users/erin/password",
            403,
            Some("DENIED"),
        ),
        ("own", "/users/dave/password", 204, None),
    ];
    for (label, path, status, code) in cases {
        let reply = call(&app, "PUT", path, &dave, Some(new.clone())).await;
        check(reply, *status, *code, label);
    }
    check(
        call(&app, "GET", "/whoami", &dave, None).await,
        401,
        Some("UNAUTHORIZED"),
        "old password",
    );
    let reply = call(&app, "GET", "/whoami", &basic("dave", "password2"), None).await;
    check(reply, 200, None, "new password");
    let reply = call(&app, "GET", "/whoami", &basic("erin", "password1"), None).await;
    check(reply, 200, None, "erin unchanged");
}

#[tokio::test]
async fn robot_tokens_are_shown_once_and_revoked() {
    let app = app_with_root().await;
    let body = serde_json::json!({"name": "ci", "role": "developer"});
    let created = check(
        as_root(&app, "POST", "/tenants/t/robots", Some(body)).await,
        201,
        None,
        "create",
    )
    .json();
    let token = created["token"].as_str().expect("token").to_owned();
    let prefix = created["prefix"].as_str().expect("prefix").to_owned();
    assert!(token.starts_with("alr_"), "{token}");
    assert!(
        !prefix.is_empty() && token.contains(&prefix),
        "{prefix} {token}"
    );
    assert_eq!(created["name"], "robot$t+ci");

    let listed = check(
        as_root(&app, "GET", "/tenants/t/robots", None).await,
        200,
        None,
        "list",
    );
    let text = String::from_utf8_lossy(&listed.body).into_owned();
    let robots = listed.json()["robots"].as_array().unwrap().clone();
    assert_eq!(robots.len(), 1, "{text}");
    assert_eq!(robots[0]["prefix"], prefix.as_str());
    assert_eq!(robots[0]["active"], true);
    assert!(!text.contains(&token), "the token leaks: {text}");
    assert!(!text.contains("token"), "a token field leaks: {text}");
    assert!(!text.contains("hash"), "a hash leaks: {text}");
    let hash = airlock_auth::robot_token_hash(&token);
    assert!(!text.contains(&hash), "the token hash leaks: {text}");

    // The robot's own token works as a bearer token on the API, as the
    // robot: its tenant's exceptions, not the user list.
    let bearer = format!("Bearer {token}");
    let reply = call(&app, "GET", "/tenants/t/exceptions", &bearer, None).await;
    check(reply, 200, None, "robot bearer");
    let reply = call(&app, "GET", "/whoami", &bearer, None).await;
    assert_eq!(reply.json()["name"], "robot$t+ci", "{:?}", reply);
    call(&app, "GET", "/users", &bearer, None)
        .await
        .expect_error(StatusCode::FORBIDDEN, "DENIED");
    let forged = format!(
        "Bearer alr_{prefix}_{}",
        "x".repeat(token.len() - prefix.len() - 5)
    );
    call(&app, "GET", "/whoami", &forged, None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");

    let cases: &[(&str, u16, Option<&str>)] = &[
        ("revoke", 204, None),
        ("revoke again", 404, Some("NOT_FOUND")),
    ];
    for (label, status, code) in cases {
        let reply = as_root(&app, "DELETE", "/tenants/t/robots/ci", None).await;
        check(reply, *status, *code, label);
    }
    let listed = as_root(&app, "GET", "/tenants/t/robots", None).await.json();
    assert_eq!(listed["robots"][0]["active"], false, "{listed}");
    // A revoked robot's token no longer works.
    call(&app, "GET", "/whoami", &bearer, None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
}

#[tokio::test]
async fn tenants_with_images_cannot_be_deleted() {
    let app = app_with_root().await;
    app.push_image("unscanned/t/app", "v1", &[b"tenant layer"])
        .await;
    let body = serde_json::json!({"id": "empty"});
    check(
        as_root(&app, "POST", "/tenants", Some(body)).await,
        201,
        None,
        "create",
    );
    let cases: &[(&str, u16, Option<&str>)] = &[
        ("t", 409, Some("CONFLICT")),
        ("empty", 204, None),
        ("empty", 404, Some("NOT_FOUND")),
    ];
    for (tenant, status, code) in cases {
        let reply = as_root(&app, "DELETE", &format!("/tenants/{tenant}"), None).await;
        check(reply, *status, *code, tenant);
    }
    let listed = as_root(&app, "GET", "/tenants", None).await.json();
    assert_eq!(listed["tenants"].as_array().unwrap().len(), 1, "{listed}");
}

#[tokio::test]
async fn audit_exports_in_order_as_jsonl_and_csv() {
    let app = app_with_root().await;
    for id in ["alpha", "beta"] {
        let body = serde_json::json!({"id": id});
        check(
            as_root(&app, "POST", "/tenants", Some(body)).await,
            201,
            None,
            id,
        );
    }
    check(
        as_root(&app, "DELETE", "/tenants/beta", None).await,
        204,
        None,
        "delete",
    );

    let reply = check(
        as_root(&app, "GET", "/audit?format=jsonl&action=tenant", None).await,
        200,
        None,
        "jsonl",
    );
    assert_eq!(reply.header("content-type"), "application/x-ndjson");
    let records: Vec<serde_json::Value> = String::from_utf8(reply.body.to_vec())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let seen: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_owned(),
                r["target"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("tenant.create", "t"),
        ("tenant.create", "tenant:alpha"),
        ("tenant.create", "tenant:beta"),
        ("tenant.delete", "tenant:beta"),
    ]
    .iter()
    .map(|(a, t)| ((*a).to_owned(), (*t).to_owned()))
    .collect();
    assert_eq!(seen, expected);
    let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    let reply = check(
        as_root(&app, "GET", "/audit?format=csv&action=tenant", None).await,
        200,
        None,
        "csv",
    );
    assert_eq!(reply.header("content-type"), "text/csv");
    let text = String::from_utf8(reply.body.to_vec()).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(airlock_audit::CSV_HEADER.join(",").as_str())
    );
    assert!(text.starts_with("seq,time,actor_kind,"), "{text}");
    assert_eq!(lines.count(), 4, "{text}");

    let reader = Principal::User {
        name: "reader".into(),
        roles: Roles::single("t".parse().unwrap(), TenantRole::Reader),
    };
    let token = format!("Bearer {}", app.token(&reader, Vec::new()));
    let reply = call(&app, "GET", "/audit", &token, None).await;
    reply.expect_error(StatusCode::FORBIDDEN, "DENIED");

    // Narrowed by actor and outcome: the reader's refusal only.
    let reply = check(
        as_root(&app, "GET", "/audit?actor=reader&outcome=denied", None).await,
        200,
        None,
        "by actor and outcome",
    );
    let text = String::from_utf8(reply.body.to_vec()).unwrap();
    let actions: Vec<String> = text
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("a JSON line"))
        .map(|r| format!("{} {}", r["actor"]["name"], r["action"]))
        .collect();
    assert_eq!(actions, [r#""reader" "access.denied""#], "{text}");
    let reply = as_root(&app, "GET", "/audit?outcome=maybe", None).await;
    reply.expect_error(StatusCode::BAD_REQUEST, "INVALID");
}
