//! The dashboard under `/ui`: signing in and out with the session cookie
//! and its attributes, the CSRF defence on the dashboard's forms and on
//! cookie-authenticated `/api/v1` calls, and what each user may see.

use std::sync::Arc;

use airlock_accounts::Operator;
use airlock_audit::{Outcome, RequestContext};
use airlock_auth::{TenantId, TenantRole};
use airlock_http::{AppState, HttpSettings};
use airlock_store::{AuditFilter, GateStore, PushedImage};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::{Reply, TestApp};

pub(crate) const PASSWORD: &str = "ui-test-password-4f1e";

/// An application with tenants `t` and `u`, a developer of each (`dev-t`,
/// `dev-u`) and an image in each.
pub(crate) async fn app() -> TestApp {
    let app = TestApp::new().await;
    let local = Operator::Local("test".into());
    let request = RequestContext::default();
    app.accounts
        .create_tenant(&local, &request, "u")
        .await
        .unwrap();
    for (user, tenant) in [("dev-t", "t"), ("dev-u", "u")] {
        app.accounts
            .create_user(&local, &request, user, PASSWORD)
            .await
            .unwrap();
        app.accounts
            .set_tenant_role(&local, &request, user, tenant, Some(TenantRole::Developer))
            .await
            .unwrap();
        app.database
            .record_push(
                &PushedImage {
                    tenant: TenantId::try_from(tenant.to_owned()).unwrap(),
                    repository: format!("unscanned/{tenant}/app-of-{tenant}")
                        .parse()
                        .unwrap(),
                    digest: digest_of(tenant).parse().unwrap(),
                    media_type: airlock_oci::media_type::OCI_MANIFEST.to_owned(),
                    pushed_by: Some(user.to_owned()),
                },
                &[],
                &[],
            )
            .await
            .unwrap();
    }
    app
}

pub(crate) fn digest_of(tenant: &str) -> String {
    let digit = if tenant == "t" { "a" } else { "b" };
    format!("sha256:{}", digit.repeat(64))
}

/// The same application served at `external_url`.
fn served_at(app: &TestApp, external_url: &str) -> Router {
    airlock_http::router(AppState {
        registry: app.registry.clone(),
        accounts: app.accounts.clone(),
        metrics: airlock_http::install_metrics(),
        settings: Arc::new(HttpSettings {
            external_url: Some(external_url.to_owned()),
        }),
    })
}

pub(crate) async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.expect("body").to_bytes(),
    }
}

pub(crate) fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.body(Body::empty()).unwrap()
}

pub(crate) fn post_form(
    path: &str,
    cookie: Option<&str>,
    fields: &[(&str, &str)],
) -> Request<Body> {
    let mut request = Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("host", "localhost");
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request
        .body(Body::from(serde_urlencoded::to_string(fields).unwrap()))
        .unwrap()
}

/// Every `Set-Cookie` of a reply.
fn set_cookies(reply: &Reply) -> Vec<String> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn set_cookie(reply: &Reply, name: &str) -> String {
    set_cookies(reply)
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {reply:?}"))
}

/// `name=value` of a `Set-Cookie` line.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

pub(crate) fn body(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

/// The value of the hidden `csrf` field of a page.
pub(crate) fn csrf_field(reply: &Reply) -> String {
    let html = body(reply);
    let marker = r#"name="csrf" value=""#;
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no csrf field in {html}"))
        + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// The login page's CSRF cookie and field.
async fn login_form(router: &Router) -> (String, String) {
    let page = send(router, get("/ui/login", None))
        .await
        .expect(StatusCode::OK);
    (
        pair(&set_cookie(&page, "airlock_login_csrf")),
        csrf_field(&page),
    )
}

/// Signs in; returns the reply (a redirect on success).
pub(crate) async fn sign_in(router: &Router, user: &str, password: &str) -> Reply {
    let (cookie, csrf) = login_form(router).await;
    send(
        router,
        post_form(
            "/ui/login",
            Some(&cookie),
            &[
                ("username", user),
                ("password", password),
                ("csrf", &csrf),
                ("next", "/ui/images?state=received"),
            ],
        ),
    )
    .await
}

/// Signs in and returns the session cookie (`airlock_session=...`) and the
/// CSRF token of the session, read from a page.
pub(crate) async fn session(router: &Router, user: &str) -> (String, String) {
    let reply = sign_in(router, user, PASSWORD)
        .await
        .expect(StatusCode::SEE_OTHER);
    let cookie = pair(&set_cookie(&reply, "airlock_session"));
    let page = send(router, get("/ui/images", Some(&cookie)))
        .await
        .expect(StatusCode::OK);
    let csrf = csrf_field(&page);
    (cookie, csrf)
}

#[tokio::test]
async fn signing_in_sets_an_http_only_lax_session_cookie_and_goes_to_next() {
    let app = app().await;
    let reply = sign_in(&app.router, "dev-t", PASSWORD)
        .await
        .expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/ui/images?state=received");
    let cookie = set_cookie(&reply, "airlock_session");
    let attributes: Vec<&str> = cookie.split("; ").skip(1).collect();
    assert!(attributes.contains(&"HttpOnly"), "{cookie}");
    assert!(attributes.contains(&"SameSite=Lax"), "{cookie}");
    assert!(attributes.contains(&"Path=/"), "{cookie}");
    assert!(!attributes.contains(&"Secure"), "plain http: {cookie}");
    // The login form's cookie is spent.
    assert!(set_cookie(&reply, "airlock_login_csrf").contains("Max-Age=0"));

    let page = send(&app.router, get("/ui/images", Some(&pair(&cookie))))
        .await
        .expect(StatusCode::OK);
    assert!(
        reply_has(&page, r#"<strong id="user-name">dev-t</strong>"#),
        "{}",
        body(&page)
    );
    assert_eq!(
        page.header("content-type"),
        "text/html; charset=utf-8",
        "{page:?}"
    );
}

fn reply_has(reply: &Reply, text: &str) -> bool {
    body(reply).contains(text)
}

#[tokio::test]
async fn cookies_are_secure_when_airlock_is_served_over_https() {
    let app = app().await;
    let router = served_at(&app, "https://registry.example");
    let page = send(&router, get("/ui/login", None))
        .await
        .expect(StatusCode::OK);
    let login_cookie = set_cookie(&page, "airlock_login_csrf");
    assert!(login_cookie.ends_with("; Secure"), "{login_cookie}");
    assert!(login_cookie.contains("SameSite=Strict"), "{login_cookie}");
    let reply = send(
        &router,
        post_form(
            "/ui/login",
            Some(&pair(&login_cookie)),
            &[
                ("username", "dev-t"),
                ("password", PASSWORD),
                ("csrf", &csrf_field(&page)),
            ],
        ),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/ui/images");
    let cookie = set_cookie(&reply, "airlock_session");
    assert!(cookie.contains("; HttpOnly; SameSite=Lax;"), "{cookie}");
    assert!(cookie.ends_with("; Secure"), "{cookie}");
}

#[tokio::test]
async fn a_wrong_password_shows_the_form_again_with_401_and_is_audited() {
    let app = app().await;
    let reply = sign_in(&app.router, "dev-t", "not the password")
        .await
        .expect(StatusCode::UNAUTHORIZED);
    assert!(reply_has(&reply, "Invalid username or password."));
    assert!(
        set_cookies(&reply)
            .iter()
            .all(|c| !c.starts_with("airlock_session=")),
        "{reply:?}"
    );
    let records = app
        .accounts
        .audit_records(
            &Operator::Local("test".into()),
            &RequestContext::default(),
            &AuditFilter {
                action: Some("auth.login".into()),
                ..AuditFilter::default()
            },
            0,
            100,
        )
        .await
        .unwrap();
    assert!(
        records.iter().any(|r| r.event.outcome == Outcome::Failure
            && r.event.target == "account:dev-t"
            && r.event.reason.as_deref() == Some("wrong password")),
        "{records:#?}"
    );
}

#[tokio::test]
async fn repeated_wrong_passwords_are_throttled() {
    let app = app().await;
    let mut last = StatusCode::OK;
    for _ in 0..20 {
        last = sign_in(&app.router, "dev-u", "wrong").await.status;
        if last == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_login_form_refuses_a_post_without_its_csrf_cookie_and_field() {
    let app = app().await;
    let (cookie, csrf) = login_form(&app.router).await;
    let credentials = [("username", "dev-t"), ("password", PASSWORD)];
    let with_csrf = |csrf: &str| {
        let mut fields = credentials.to_vec();
        fields.push(("csrf", csrf));
        serde_urlencoded::to_string(&fields).unwrap()
    };
    // No cookie (a cross-site post under SameSite=Strict), no field, wrong field.
    for (cookie, form) in [
        (None, with_csrf(&csrf)),
        (
            Some(cookie.as_str()),
            serde_urlencoded::to_string(credentials).unwrap(),
        ),
        (Some(cookie.as_str()), with_csrf("0123")),
    ] {
        let fields: Vec<(String, String)> = serde_urlencoded::from_str(&form).unwrap();
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let reply = send(&app.router, post_form("/ui/login", cookie, &fields))
            .await
            .expect(StatusCode::FORBIDDEN);
        assert!(set_cookies(&reply).is_empty(), "{reply:?}");
    }
}

#[tokio::test]
async fn dashboard_posts_need_the_sessions_csrf_token() {
    let app = app().await;
    let (cookie, csrf) = session(&app.router, "dev-t").await;
    for fields in [vec![], vec![("csrf", "not-the-token")]] {
        let reply = send(&app.router, post_form("/ui/logout", Some(&cookie), &fields))
            .await
            .expect(StatusCode::FORBIDDEN);
        assert!(set_cookies(&reply).is_empty(), "{reply:?}");
    }
    // Another session's token does not fit this one.
    let (_, other_csrf) = session(&app.router, "dev-u").await;
    assert_ne!(csrf, other_csrf);
    send(
        &app.router,
        post_form("/ui/logout", Some(&cookie), &[("csrf", &other_csrf)]),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_cross_origin_post_is_refused_even_with_the_token() {
    let app = app().await;
    let (cookie, csrf) = session(&app.router, "dev-t").await;
    let mut request = post_form("/ui/logout", Some(&cookie), &[("csrf", &csrf)]);
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    send(&app.router, request)
        .await
        .expect(StatusCode::FORBIDDEN);

    let mut request = post_form("/ui/logout", Some(&cookie), &[("csrf", &csrf)]);
    request
        .headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    send(&app.router, request)
        .await
        .expect(StatusCode::FORBIDDEN);

    // With an external URL, only its origin is airlock's.
    let router = served_at(&app, "https://registry.example");
    for (origin, status) in [
        ("https://registry.example", StatusCode::SEE_OTHER),
        ("http://registry.example", StatusCode::FORBIDDEN),
        ("https://registry.example.evil", StatusCode::FORBIDDEN),
        ("null", StatusCode::FORBIDDEN),
    ] {
        let mut request = post_form("/ui/logout", Some(&cookie), &[("csrf", &csrf)]);
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
        send(&router, request).await.expect(status);
    }
}

#[tokio::test]
async fn signing_out_clears_the_session_cookie() {
    let app = app().await;
    let (cookie, csrf) = session(&app.router, "dev-t").await;
    let mut request = post_form("/ui/logout", Some(&cookie), &[("csrf", &csrf)]);
    request
        .headers_mut()
        .insert("origin", "http://localhost".parse().unwrap());
    let reply = send(&app.router, request)
        .await
        .expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/ui/login");
    let cleared = set_cookie(&reply, "airlock_session");
    assert!(cleared.starts_with("airlock_session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
}

#[tokio::test]
async fn cookie_authenticated_api_calls_need_the_csrf_header_on_unsafe_methods() {
    let app = app().await;
    add_admin(&app, "boss").await;
    let (cookie, csrf) = session(&app.router, "boss").await;
    // Reading needs no token.
    let whoami = send(&app.router, get("/api/v1/whoami", Some(&cookie)))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(whoami["name"], "boss");

    let create_tenant = |id: &str, token: Option<&str>, origin: Option<&str>| {
        let mut request = Request::post("/api/v1/tenants")
            .header("cookie", &cookie)
            .header("host", "localhost")
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("x-csrf-token", token);
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request
            .body(Body::from(serde_json::json!({ "id": id }).to_string()))
            .unwrap()
    };
    for (token, origin) in [
        (None, None),
        (Some("wrong"), None),
        (Some(csrf.as_str()), Some("https://evil.example")),
    ] {
        send(&app.router, create_tenant("v", token, origin))
            .await
            .expect_error(StatusCode::FORBIDDEN, "DENIED");
    }
    send(
        &app.router,
        create_tenant("v", Some(&csrf), Some("http://localhost")),
    )
    .await
    .expect(StatusCode::CREATED);
    send(&app.router, create_tenant("w", Some(&csrf), None))
        .await
        .expect(StatusCode::CREATED);
    // A bearer token is not a cookie: no CSRF token needed.
    let bearer = format!("Bearer {}", app.token(&crate::admin(), Vec::new()));
    let request = Request::post("/api/v1/tenants")
        .header("authorization", bearer)
        .header("content-type", "application/json")
        .body(Body::from(r#"{"id":"x"}"#))
        .unwrap();
    send(&app.router, request).await.expect(StatusCode::CREATED);
}

/// Creates user `name` with the admin role.
pub(crate) async fn add_admin(app: &TestApp, name: &str) {
    let local = Operator::Local("test".into());
    app.accounts
        .create_user(&local, &RequestContext::default(), name, PASSWORD)
        .await
        .unwrap();
    app.accounts
        .set_global_role(
            &local,
            &RequestContext::default(),
            name,
            airlock_auth::GlobalRole::Admin,
            true,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_developer_sees_only_their_tenants_images() {
    let app = app().await;
    let (cookie, _) = session(&app.router, "dev-t").await;
    let page = send(&app.router, get("/ui/images", Some(&cookie)))
        .await
        .expect(StatusCode::OK);
    assert!(reply_has(&page, "unscanned/t/app-of-t"), "{}", body(&page));
    assert!(!reply_has(&page, "app-of-u"), "{}", body(&page));
    assert!(!reply_has(&page, &digest_of("u")), "{}", body(&page));

    send(
        &app.router,
        get(&format!("/ui/images/t/{}", digest_of("t")), Some(&cookie)),
    )
    .await
    .expect(StatusCode::OK);
    let refused = send(
        &app.router,
        get(&format!("/ui/images/u/{}", digest_of("u")), Some(&cookie)),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    assert!(!reply_has(&refused, "app-of-u"), "{}", body(&refused));
    send(&app.router, get("/ui/images?tenant=u", Some(&cookie)))
        .await
        .expect(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_filters_live_in_the_url() {
    let app = app().await;
    add_admin(&app, "boss").await;
    let (cookie, _) = session(&app.router, "boss").await;
    let all = send(&app.router, get("/ui/images", Some(&cookie)))
        .await
        .expect(StatusCode::OK);
    assert!(reply_has(&all, "app-of-t") && reply_has(&all, "app-of-u"));
    for (query, shown, hidden) in [
        ("tenant=u", "app-of-u", "app-of-t"),
        ("q=OF-T", "app-of-t", "app-of-u"),
        ("state=received&q=of-u", "app-of-u", "app-of-t"),
    ] {
        let page = send(
            &app.router,
            get(&format!("/ui/images?{query}"), Some(&cookie)),
        )
        .await
        .expect(StatusCode::OK);
        assert!(reply_has(&page, shown), "{query}: {}", body(&page));
        assert!(!reply_has(&page, hidden), "{query}: {}", body(&page));
    }
    let none = send(&app.router, get("/ui/images?state=promoted", Some(&cookie)))
        .await
        .expect(StatusCode::OK);
    assert!(reply_has(&none, r#"id="no-images""#), "{}", body(&none));
    let sorted = send(
        &app.router,
        get("/ui/images?sort=repository", Some(&cookie)),
    )
    .await
    .expect(StatusCode::OK);
    let html = body(&sorted);
    assert!(
        html.find("app-of-t").unwrap() < html.find("app-of-u").unwrap(),
        "ascending by repository"
    );
    assert!(html.contains(r#"aria-sort="ascending""#), "{html}");
}

#[tokio::test]
async fn pages_without_a_session_redirect_to_the_login_with_next() {
    let app = app().await;
    for (path, next) in [
        (
            "/ui/images?state=rejected",
            "%2Fui%2Fimages%3Fstate%3Drejected",
        ),
        ("/ui/images/t/sha256:00", "%2Fui%2Fimages%2Ft%2Fsha256%3A00"),
    ] {
        let reply = send(&app.router, get(path, None))
            .await
            .expect(StatusCode::SEE_OTHER);
        assert_eq!(reply.header("location"), format!("/ui/login?next={next}"));
    }
    // A forged or foreign cookie is no session, and is cleared.
    let reply = send(
        &app.router,
        get("/ui/images", Some("airlock_session=not-a-token")),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    assert!(set_cookie(&reply, "airlock_session").contains("Max-Age=0"));
    for home in ["/ui", "/ui/"] {
        let reply = send(&app.router, get(home, None))
            .await
            .expect(StatusCode::SEE_OTHER);
        assert_eq!(reply.header("location"), "/ui/images", "{home}");
    }
    send(&app.router, get("/ui/no-such-page", None))
        .await
        .expect(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_disabled_user_loses_the_session_at_once() {
    let app = app().await;
    let (cookie, _) = session(&app.router, "dev-t").await;
    app.accounts
        .set_user_disabled(
            &Operator::Local("test".into()),
            &RequestContext::default(),
            "dev-t",
            true,
        )
        .await
        .unwrap();
    send(&app.router, get("/ui/images", Some(&cookie)))
        .await
        .expect(StatusCode::SEE_OTHER);
    send(&app.router, get("/api/v1/whoami", Some(&cookie)))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
}

/// Decides the pushed image `app-of-<tenant>` with one finding.
async fn with_finding(app: &TestApp, tenant: &str, id: &str, alias: &str) {
    let image = app
        .database
        .images_by_digest(
            &TenantId::try_from(tenant.to_owned()).unwrap(),
            &digest_of(tenant).parse().unwrap(),
        )
        .await
        .unwrap()
        .remove(0);
    let finding = airlock_store::FindingRow {
        vulnerability: id.into(),
        aliases: vec![alias.into()],
        ecosystem: "Debian:12".into(),
        package: "openssl".into(),
        version: "3.0.1-1".into(),
        fixed_versions: vec!["3.0.2-1".into()],
        severity: 4,
        cvss: Some(9.8),
        summary: None,
        platform: None,
    };
    app.database
        .transition(&airlock_store::Transition {
            verdict: Some(serde_json::json!({
                "passed": false,
                "counts": {"critical": 1, "high": 0, "medium": 0, "low": 0, "unknown": 0},
            })),
            findings: Some(vec![finding]),
            ..airlock_store::Transition::new(
                image.id,
                airlock_store::ImageState::Received,
                airlock_store::ImageState::Rejected,
            )
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn the_vulnerabilities_page_finds_images_by_alias_in_visible_tenants_only() {
    let app = app().await;
    with_finding(&app, "t", "GHSA-aaaa", "CVE-2099-1").await;
    with_finding(&app, "u", "GHSA-bbbb", "CVE-2099-1").await;
    add_admin(&app, "boss").await;

    let (cookie, _) = session(&app.router, "boss").await;
    let empty = send(&app.router, get("/ui/vulnerabilities", Some(&cookie)))
        .await
        .expect(StatusCode::OK);
    assert!(reply_has(&empty, r#"id="no-search""#), "{}", body(&empty));
    let page = send(
        &app.router,
        get("/ui/vulnerabilities?cve=CVE-2099-1", Some(&cookie)),
    )
    .await
    .expect(StatusCode::OK);
    let html = body(&page);
    assert!(
        html.contains("app-of-t") && html.contains("app-of-u"),
        "{html}"
    );
    assert!(
        html.contains("GHSA-aaaa") && html.contains("3.0.2-1"),
        "{html}"
    );
    assert!(
        html.contains("/api/v1/vulnerabilities/export?format=csv&#38;vulnerability=CVE-2099-1"),
        "{html}"
    );

    // A developer of t sees t's image only, and may not name tenant u.
    let (cookie, _) = session(&app.router, "dev-t").await;
    let page = send(
        &app.router,
        get("/ui/vulnerabilities?cve=CVE-2099-1", Some(&cookie)),
    )
    .await
    .expect(StatusCode::OK);
    assert!(reply_has(&page, "app-of-t") && !reply_has(&page, "app-of-u"));
    send(
        &app.router,
        get("/ui/vulnerabilities?cve=CVE-2099-1&tenant=u", Some(&cookie)),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    let none = send(
        &app.router,
        get("/ui/vulnerabilities?cve=CVE-2099-404", Some(&cookie)),
    )
    .await
    .expect(StatusCode::OK);
    assert!(reply_has(&none, r#"id="no-findings""#));
}
