//! The token endpoint `/auth/token` and what the registry does with the
//! tokens it issues: the challenge, granting the held subset of a scope,
//! both request forms, robot logins, the login throttle, and every way a
//! forged, stale or mis-scoped token is refused.

use std::time::Duration;

use airlock_accounts::Operator;
use airlock_audit::{AuditRecord, Outcome, RequestContext};
use airlock_auth::{Access, Principal, TenantRole, TokenKeys, TokenService};
use airlock_store::{AuditFilter, AuditStore};
use axum::body::Body;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::{Reply, TENANT, TestApp, sha256};

const PASSWORD: &str = "password1";

fn local() -> Operator {
    Operator::Local("test".into())
}

/// An application without a default caller, with `dev`, a developer of
/// tenant `t`.
async fn app_with_developer() -> TestApp {
    let mut app = TestApp::new().await;
    app.principal = None;
    let context = RequestContext::default();
    app.accounts
        .create_user(&local(), &context, "dev", PASSWORD)
        .await
        .expect("create user");
    app.accounts
        .set_tenant_role(
            &local(),
            &context,
            "dev",
            TENANT,
            Some(TenantRole::Developer),
        )
        .await
        .expect("grant developer");
    app
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// `GET /auth/token` with basic credentials and the given query.
async fn get_token(app: &TestApp, user: &str, password: &str, query: &str) -> Reply {
    let auth = basic(user, password);
    app.send(
        "GET",
        &format!("/auth/token?{query}"),
        &[("authorization", &auth)],
        Body::empty(),
    )
    .await
}

/// `POST /auth/token` with a form body.
async fn post_token(app: &TestApp, form: &str) -> Reply {
    app.send(
        "POST",
        "/auth/token",
        &[("content-type", "application/x-www-form-urlencoded")],
        form.to_owned(),
    )
    .await
}

/// The token of a successful `GET /auth/token`.
async fn token_of(app: &TestApp, user: &str, password: &str, scope: &str) -> String {
    let reply = get_token(
        app,
        user,
        password,
        &format!("service=airlock&scope={scope}"),
    )
    .await
    .expect(StatusCode::OK);
    reply.json()["token"].as_str().expect("token").to_owned()
}

/// The decoded payload (claims) of a JWT.
fn claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url payload"))
        .expect("JSON payload")
}

/// `token` with its payload replaced by `claims`, header and signature kept.
fn with_claims(token: &str, claims: &serde_json::Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

/// Audit records of `action` (and its sub-actions).
async fn audit(app: &TestApp, action: &str) -> Vec<AuditRecord> {
    AuditStore::audit_records(
        app.database.as_ref(),
        &AuditFilter {
            action: Some(action.into()),
            ..Default::default()
        },
        0,
        1000,
    )
    .await
    .expect("audit records")
}

fn developer() -> Principal {
    let mut roles = airlock_auth::Roles::default();
    roles
        .tenants
        .insert(TENANT.parse().unwrap(), TenantRole::Developer);
    Principal::User {
        name: "dev".into(),
        roles,
    }
}

fn repository_access(name: &str, actions: &[&str]) -> Access {
    Access {
        resource_type: "repository".into(),
        name: name.into(),
        actions: actions.iter().map(|a| (*a).to_owned()).collect(),
    }
}

#[tokio::test]
async fn v2_without_a_token_is_challenged_with_the_realm_of_the_host() {
    let mut app = TestApp::new().await;
    app.principal = None;
    let reply = app
        .send(
            "GET",
            "/v2/",
            &[("host", "registry.example:5000")],
            Body::empty(),
        )
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    assert_eq!(
        reply.header("www-authenticate"),
        r#"Bearer realm="http://registry.example:5000/auth/token",service="airlock""#
    );
}

#[tokio::test]
async fn token_endpoint_without_credentials_asks_for_basic() {
    let app = TestApp::new().await;
    let reply = app
        .get("/auth/token?service=airlock&scope=repository:unscanned/t/app:pull")
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    assert_eq!(reply.header("www-authenticate"), r#"Basic realm="airlock""#);
}

#[tokio::test]
async fn a_token_grants_only_the_held_subset_of_the_scope() {
    let app = app_with_developer().await;

    let reply = get_token(
        &app,
        "dev",
        PASSWORD,
        "service=airlock&scope=repository:unscanned/t/app:pull,push",
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(reply.header("cache-control"), "no-store");
    let body = reply.json();
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["access_token"], body["token"]);
    let unscanned = body["token"].as_str().unwrap().to_owned();
    let payload = claims(&unscanned);
    assert_eq!(
        payload["access"],
        serde_json::json!([{"type": "repository", "name": "unscanned/t/app", "actions": ["push"]}])
    );
    assert_eq!(payload["aud"], "airlock");
    assert_eq!(payload["iss"], "airlock");
    assert_eq!(payload["sub"], "dev");
    assert_eq!(
        payload["exp"].as_i64().unwrap() - payload["iat"].as_i64().unwrap(),
        300
    );

    let scanned = token_of(&app, "dev", PASSWORD, "repository:scanned/t/app:pull,push").await;
    assert_eq!(
        claims(&scanned)["access"],
        serde_json::json!([{"type": "repository", "name": "scanned/t/app", "actions": ["pull"]}])
    );

    let foreign = token_of(
        &app,
        "dev",
        PASSWORD,
        "repository:unscanned/u/app:pull,push",
    )
    .await;
    assert_eq!(claims(&foreign)["access"], serde_json::json!([]));

    // Several scope parameters, and several scopes in one parameter.
    let expected = serde_json::json!([
        {"type": "repository", "name": "unscanned/t/app", "actions": ["push"]},
        {"type": "repository", "name": "scanned/t/app", "actions": ["pull"]},
    ]);
    for query in [
        "service=airlock&scope=repository:unscanned/t/app:push&scope=repository:scanned/t/app:pull",
        "service=airlock&scope=repository:unscanned/t/app:push%20repository:scanned/t/app:pull",
    ] {
        let reply = get_token(&app, "dev", PASSWORD, query)
            .await
            .expect(StatusCode::OK);
        assert_eq!(
            claims(reply.json()["token"].as_str().unwrap())["access"],
            expected,
            "{query}"
        );
    }

    // The push-only token pushes, and is refused a pull by the zone rule.
    let content = b"developer layer";
    let digest = sha256(content);
    app.send(
        "POST",
        &format!("/v2/unscanned/t/app/blobs/uploads/?digest={digest}"),
        &[("authorization", &bearer(&unscanned))],
        content.to_vec(),
    )
    .await
    .expect(StatusCode::CREATED);
    app.send(
        "GET",
        "/v2/unscanned/t/app/manifests/v1",
        &[("authorization", &bearer(&unscanned))],
        Body::empty(),
    )
    .await
    .expect_error(StatusCode::FORBIDDEN, "DENIED");
}

#[tokio::test]
async fn token_for_another_service_is_refused() {
    let app = app_with_developer().await;
    get_token(
        &app,
        "dev",
        PASSWORD,
        "service=elsewhere&scope=repository:unscanned/t/app:push",
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "INVALID");
}

#[tokio::test]
async fn oauth2_password_form() {
    let app = app_with_developer().await;
    let reply = post_token(
        &app,
        "grant_type=password&username=dev&password=password1\
         &scope=repository%3Aunscanned%2Ft%2Fapp%3Apull%2Cpush&service=airlock",
    )
    .await
    .expect(StatusCode::OK);
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["scope"], "repository:unscanned/t/app:push");
    let token = body["access_token"].as_str().expect("access_token");
    assert_eq!(
        claims(token)["access"],
        serde_json::json!([{"type": "repository", "name": "unscanned/t/app", "actions": ["push"]}])
    );

    post_token(
        &app,
        "grant_type=password&username=dev&password=wrong&service=airlock",
    )
    .await
    .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
}

#[tokio::test]
async fn oauth2_refresh_token_grant_is_unsupported() {
    let app = app_with_developer().await;
    let reply = post_token(
        &app,
        "grant_type=refresh_token&refresh_token=anything&service=airlock",
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn oauth2_form_without_username_is_invalid_request() {
    let app = app_with_developer().await;
    let reply = post_token(
        &app,
        "grant_type=password&password=password1&service=airlock",
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["error"], "invalid_request");
    let reply = post_token(&app, "username=dev&password=password1")
        .await
        .expect(StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["error"], "invalid_request");
}

#[tokio::test]
async fn wrong_password_is_unauthorized() {
    let app = app_with_developer().await;
    let reply = get_token(&app, "dev", "wrong", "service=airlock")
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    assert_eq!(reply.header("www-authenticate"), r#"Basic realm="airlock""#);
    get_token(&app, "nobody", PASSWORD, "service=airlock")
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
}

#[tokio::test]
async fn robot_logs_in_with_its_own_name_and_token_until_revoked() {
    let app = app_with_developer().await;
    let context = RequestContext::default();
    let robot = app
        .accounts
        .create_robot(
            &local(),
            &context,
            TENANT,
            "ci",
            TenantRole::Developer,
            None,
        )
        .await
        .expect("create robot");
    assert_eq!(robot.robot.name, "robot$t+ci");
    let scope = "service=airlock&scope=repository:unscanned/t/app:pull,push";

    let reply = get_token(&app, "robot$t+ci", &robot.token, scope)
        .await
        .expect(StatusCode::OK);
    let payload = claims(reply.json()["token"].as_str().unwrap());
    assert_eq!(payload["sub"], "robot$t+ci");
    assert_eq!(
        payload["access"],
        serde_json::json!([{"type": "repository", "name": "unscanned/t/app", "actions": ["push"]}])
    );

    get_token(&app, "dev", &robot.token, scope)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    get_token(&app, "robot$t+other", &robot.token, scope)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");

    app.accounts
        .revoke_robot(&local(), &context, TENANT, "ci")
        .await
        .expect("revoke robot");
    get_token(&app, "robot$t+ci", &robot.token, scope)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
}

#[tokio::test]
async fn disabled_user_cannot_log_in() {
    let app = app_with_developer().await;
    get_token(&app, "dev", PASSWORD, "service=airlock")
        .await
        .expect(StatusCode::OK);
    app.accounts
        .set_user_disabled(&local(), &RequestContext::default(), "dev", true)
        .await
        .expect("disable user");
    get_token(&app, "dev", PASSWORD, "service=airlock")
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
}

#[tokio::test]
async fn brute_force_is_throttled_and_every_attempt_audited() {
    let app = app_with_developer().await;
    for attempt in 0..50 {
        let reply = get_token(&app, "dev", &format!("guess{attempt}"), "service=airlock").await;
        if attempt < 10 {
            reply.expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
        } else {
            let reply = reply.expect_error(StatusCode::TOO_MANY_REQUESTS, "TOOMANYREQUESTS");
            let retry_after: u64 = reply
                .header("retry-after")
                .parse()
                .expect("Retry-After in seconds");
            assert!((1..=300).contains(&retry_after), "{retry_after}");
        }
    }

    let failures: Vec<AuditRecord> = audit(&app, "auth.login")
        .await
        .into_iter()
        .filter(|r| r.event.outcome == Outcome::Failure)
        .collect();
    assert_eq!(failures.len(), 50);
    assert!(
        failures.iter().all(|r| r.event.target == "account:dev"),
        "{failures:?}"
    );

    // The right password does not get through the lockout either.
    let reply = get_token(&app, "dev", PASSWORD, "service=airlock")
        .await
        .expect_error(StatusCode::TOO_MANY_REQUESTS, "TOOMANYREQUESTS");
    reply.header("retry-after");
}

/// Sends `token` to a repository route and expects the refusal of an
/// invalid token: 401, the challenge with `error="invalid_token"`, and one
/// more `auth.credentials` denial in the audit log.
async fn expect_invalid_token(app: &TestApp, token: &str) {
    let before = audit(app, "auth.credentials").await.len();
    let reply = app
        .send(
            "GET",
            "/v2/unscanned/t/app/manifests/v1",
            &[("authorization", &bearer(token))],
            Body::empty(),
        )
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    assert_eq!(
        reply.header("www-authenticate"),
        r#"Bearer realm="http://localhost/auth/token",service="airlock",scope="repository:unscanned/t/app:pull",error="invalid_token""#
    );
    let records = audit(app, "auth.credentials").await;
    assert_eq!(records.len(), before + 1, "{records:?}");
    let record = records.last().unwrap();
    assert_eq!(record.event.outcome, Outcome::Denied);
    assert_eq!(record.event.target, "unscanned/t/app");
}

#[tokio::test]
async fn expired_token_is_invalid() {
    let app = TestApp::new().await;
    let access = vec![repository_access("unscanned/t/app", &["pull"])];
    let token = app
        .accounts
        .tokens()
        .issue(
            &crate::admin(),
            access,
            time::OffsetDateTime::now_utc() - time::Duration::hours(1),
        )
        .expect("token")
        .token;
    expect_invalid_token(&app, &token).await;
}

#[tokio::test]
async fn token_signed_by_another_key_is_invalid() {
    let app = TestApp::new().await;
    let (keys, _) = TokenKeys::generate().expect("key");
    let forger = TokenService::new(keys, "airlock", Duration::from_secs(300));
    let access = vec![repository_access("unscanned/t/app", &["pull"])];
    let token = forger
        .issue(&crate::admin(), access, time::OffsetDateTime::now_utc())
        .expect("token")
        .token;
    expect_invalid_token(&app, &token).await;
}

#[tokio::test]
async fn unsigned_alg_none_token_is_invalid() {
    let app = TestApp::new().await;
    let real = app.token(
        &crate::admin(),
        vec![repository_access("unscanned/t/app", &["pull"])],
    );
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = real.split('.').nth(1).unwrap();
    expect_invalid_token(&app, &format!("{header}.{payload}.")).await;
}

#[tokio::test]
async fn token_for_another_audience_is_invalid() {
    let app = TestApp::new().await;
    let (keys, _) = TokenKeys::load_or_create(&app.dir.path().join("token-signing-key.der"))
        .expect("the application's key");
    let other = TokenService::new(keys, "other-service", Duration::from_secs(300));
    let access = vec![repository_access("unscanned/t/app", &["pull"])];
    let token = other
        .issue(&crate::admin(), access, time::OffsetDateTime::now_utc())
        .expect("token")
        .token;
    assert_eq!(claims(&token)["aud"], "other-service");
    expect_invalid_token(&app, &token).await;
}

#[tokio::test]
async fn token_with_an_edited_access_claim_is_invalid() {
    let app = app_with_developer().await;
    let token = token_of(
        &app,
        "dev",
        PASSWORD,
        "repository:unscanned/t/app:pull,push",
    )
    .await;

    // Adding `pull` to the grant.
    let mut escalated = claims(&token);
    escalated["access"][0]["actions"] = serde_json::json!(["pull", "push"]);
    expect_invalid_token(&app, &with_claims(&token, &escalated)).await;

    // Moving the grant to another repository the developer may push to: had
    // the signature not been checked, this push would be accepted.
    let mut moved = claims(&token);
    moved["access"][0]["name"] = serde_json::json!("unscanned/t/other");
    let moved = with_claims(&token, &moved);
    let reply = app
        .send(
            "POST",
            "/v2/unscanned/t/other/blobs/uploads/",
            &[("authorization", &bearer(&moved))],
            Body::empty(),
        )
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    assert!(
        reply
            .header("www-authenticate")
            .ends_with(r#",error="invalid_token""#),
        "{reply:?}"
    );
}

#[tokio::test]
async fn token_for_one_repository_does_not_open_another() {
    let app = app_with_developer().await;
    let token = app.token(
        &developer(),
        vec![repository_access("scanned/t/a", &["pull"])],
    );
    app.send(
        "GET",
        "/v2/scanned/t/a/tags/list",
        &[("authorization", &bearer(&token))],
        Body::empty(),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "NAME_UNKNOWN");
    let reply = app
        .send(
            "GET",
            "/v2/scanned/t/b/tags/list",
            &[("authorization", &bearer(&token))],
            Body::empty(),
        )
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    assert_eq!(
        reply.header("www-authenticate"),
        r#"Bearer realm="http://localhost/auth/token",service="airlock",scope="repository:scanned/t/b:pull",error="insufficient_scope""#
    );
}
