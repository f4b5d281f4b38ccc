//! The dashboard's management pages: webhooks and their delivery log,
//! the audit log with its chain status and exports, and the admin page
//! (tenants, users, grants, robots). Each test signs in through the login
//! form and drives the pages' forms with the session's cookie and CSRF
//! token, then checks the result in the service and its audit record.

use airlock_accounts::Operator;
use airlock_audit::RequestContext;
use airlock_store::{Attempt, AttemptOutcome, AuditFilter, WebhookStore};
use axum::http::StatusCode;

use crate::ui::{add_admin, app, body, get, post_form, send, session};

const HOOK_URL: &str = "https://alerts.example.net/airlock-events";

fn local() -> Operator {
    Operator::Local("test".into())
}

/// The audit records whose action is `action`.
async fn audited(app: &crate::TestApp, action: &str) -> Vec<airlock_audit::AuditRecord> {
    app.accounts
        .audit_records(
            &local(),
            &RequestContext::default(),
            &AuditFilter {
                action: Some(action.into()),
                ..AuditFilter::default()
            },
            0,
            1000,
        )
        .await
        .unwrap()
}

/// Creates a subscription of tenant `t` through the form as `dev-t`;
/// returns its id, the session cookie and the CSRF token.
async fn webhook_through_the_form(app: &crate::TestApp) -> (String, String, String) {
    let (cookie, csrf) = session(&app.router, "dev-t").await;
    let reply = send(
        &app.router,
        post_form(
            "/ui/webhooks",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("tenant", "t"),
                ("url", HOOK_URL),
                ("events", "airlock.image.rejected"),
                ("events", "airlock.image.promoted"),
                ("secret", ""),
                ("description", "chat alerts"),
            ],
        ),
    )
    .await
    .expect(StatusCode::CREATED);
    let html = body(&reply);
    assert!(html.contains(r#"id="webhook-secret">whsec_"#), "{html}");
    let listed = app.accounts.webhooks(&local(), Some("t")).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    (listed[0].id.clone(), cookie, csrf)
}

#[tokio::test]
async fn a_webhook_created_through_the_form_is_listed_stored_and_audited() {
    let app = app().await;
    let (id, cookie, _) = webhook_through_the_form(&app).await;

    let stored = &app.accounts.webhooks(&local(), Some("t")).await.unwrap()[0];
    assert_eq!(stored.url, HOOK_URL);
    assert_eq!(
        stored.events,
        ["airlock.image.promoted", "airlock.image.rejected"]
    );
    assert_eq!(stored.created_by, "dev-t");
    let records = audited(&app, "webhook.create").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].event.actor.name, "dev-t");
    assert_eq!(records[0].event.target, format!("webhook:{id}"));

    let page = send(&app.router, get("/ui/webhooks", Some(&cookie)))
        .await
        .expect(StatusCode::OK);
    let html = body(&page);
    assert!(html.contains(HOOK_URL), "{html}");
    assert!(html.contains("airlock.image.promoted, airlock.image.rejected"));
    assert!(html.contains(&format!(r#"href="/ui/webhooks/{id}""#)));
    assert!(
        !html.contains(r#"id="webhook-secret""#),
        "the secret is shown only once"
    );
    assert!(html.contains(r#"<a href="/ui/webhooks" aria-current="page">Webhooks</a>"#));

    // Another tenant's developer neither sees nor deletes it.
    let (other, other_csrf) = session(&app.router, "dev-u").await;
    let page = send(&app.router, get("/ui/webhooks", Some(&other)))
        .await
        .expect(StatusCode::OK);
    let html = body(&page);
    assert!(!html.contains(HOOK_URL), "{html}");
    assert!(html.contains(r#"id="no-webhooks""#));
    send(
        &app.router,
        post_form(
            &format!("/ui/webhooks/{id}/delete"),
            Some(&other),
            &[("csrf", &other_csrf)],
        ),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    assert_eq!(
        app.accounts
            .webhooks(&local(), Some("t"))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_webhook_form_without_the_csrf_token_is_refused() {
    let app = app().await;
    let (cookie, _) = session(&app.router, "dev-t").await;
    let reply = send(
        &app.router,
        post_form(
            "/ui/webhooks",
            Some(&cookie),
            &[("tenant", "t"), ("url", HOOK_URL)],
        ),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    assert!(body(&reply).contains("the CSRF token is missing"));
    assert!(
        app.accounts
            .webhooks(&local(), Some("t"))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn refused_webhooks_are_explained_on_the_form() {
    let app = app().await;
    let (cookie, csrf) = session(&app.router, "dev-t").await;
    // A private address: the SSRF rules refuse it.
    let reply = send(
        &app.router,
        post_form(
            "/ui/webhooks",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("tenant", "t"),
                ("url", "https://10.0.0.8/hook"),
                ("events", "airlock.scan.failed"),
            ],
        ),
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
    let html = body(&reply);
    assert!(html.contains(r#"id="form-error""#), "{html}");
    assert!(html.contains("10.0.0.8"), "the typed URL is kept: {html}");
    assert!(
        html.contains(r#"value="airlock.scan.failed" checked"#),
        "the checked events are kept"
    );
    assert!(html.contains(r#"id="create-webhook""#));

    // Another tenant: refused by the service, shown on the form.
    let reply = send(
        &app.router,
        post_form(
            "/ui/webhooks",
            Some(&cookie),
            &[("csrf", &csrf), ("tenant", "u"), ("url", HOOK_URL)],
        ),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    let html = body(&reply);
    assert!(html.contains(r#"id="form-error""#), "{html}");
    assert!(html.contains("Not allowed"), "{html}");
    assert!(
        app.accounts
            .webhooks(&local(), None)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_delivery_log_shows_attempts_and_redeliver_queues_the_event_again() {
    let app = app().await;
    let (id, cookie, csrf) = webhook_through_the_form(&app).await;

    let reply = send(
        &app.router,
        post_form(
            &format!("/ui/webhooks/{id}/test"),
            Some(&cookie),
            &[("csrf", &csrf)],
        ),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    assert_eq!(
        reply.header("location"),
        format!("/ui/webhooks/{id}?done=tested")
    );
    assert_eq!(audited(&app, "webhook.test").await.len(), 1);

    // The dispatcher's first attempt fails with a 503 (recorded as the
    // dispatcher would, without a network).
    let delivery = app
        .database
        .next_delivery(&id, time::OffsetDateTime::now_utc())
        .await
        .unwrap()
        .expect("the test event is due");
    app.database
        .record_attempt(
            &Attempt {
                delivery: delivery.id,
                number: 1,
                at: time::OffsetDateTime::now_utc(),
                status: Some(503),
                latency_ms: 42,
                error: Some("receiver answered 503".into()),
            },
            AttemptOutcome::Dead,
        )
        .await
        .unwrap();

    let page = send(
        &app.router,
        get(&format!("/ui/webhooks/{id}?done=tested"), Some(&cookie)),
    )
    .await
    .expect(StatusCode::OK);
    let html = body(&page);
    assert!(html.contains("A test event was queued"), "{html}");
    assert!(html.contains(&delivery.event.id), "{html}");
    assert!(html.contains("airlock.webhook.test"));
    assert!(
        html.contains(r#"<span class="badge dead">dead</span>"#),
        "{html}"
    );
    assert!(html.contains("HTTP 503"), "{html}");
    assert!(html.contains("in 42 ms"), "{html}");
    assert!(html.contains("receiver answered 503"));

    let reply = send(
        &app.router,
        post_form(
            &format!("/ui/webhooks/{id}/redeliver"),
            Some(&cookie),
            &[("csrf", &csrf), ("event", &delivery.event.id)],
        ),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    assert_eq!(
        reply.header("location"),
        format!("/ui/webhooks/{id}?done=redelivered")
    );
    let deliveries = app
        .accounts
        .webhook_deliveries(&local(), &id, 10)
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    assert_eq!(deliveries[0].event_id, delivery.event.id);
    assert_eq!(deliveries[0].state, "pending");
    assert_eq!(deliveries[1].state, "dead");
    assert_eq!(audited(&app, "webhook.redeliver").await.len(), 1);

    let page = send(
        &app.router,
        get(&format!("/ui/webhooks/{id}"), Some(&cookie)),
    )
    .await
    .expect(StatusCode::OK);
    let html = body(&page);
    assert!(
        html.contains(r#"<span class="badge pending">pending</span>"#),
        "{html}"
    );

    // Deleting it through the form.
    let reply = send(
        &app.router,
        post_form(
            &format!("/ui/webhooks/{id}/delete"),
            Some(&cookie),
            &[("csrf", &csrf)],
        ),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/ui/webhooks?done=deleted");
    assert!(
        app.accounts
            .webhooks(&local(), Some("t"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(audited(&app, "webhook.delete").await.len(), 1);
}

#[tokio::test]
async fn an_admin_may_create_a_global_webhook() {
    let app = app().await;
    add_admin(&app, "root").await;
    let (cookie, csrf) = session(&app.router, "root").await;
    let page = send(&app.router, get("/ui/webhooks", Some(&cookie)))
        .await
        .expect(StatusCode::OK);
    assert!(body(&page).contains("All tenants (global subscription)"));
    send(
        &app.router,
        post_form(
            "/ui/webhooks",
            Some(&cookie),
            &[("csrf", &csrf), ("tenant", ""), ("url", HOOK_URL)],
        ),
    )
    .await
    .expect(StatusCode::CREATED);
    let all = app.accounts.webhooks(&local(), None).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].tenant, None);
    assert!(all[0].events.is_empty(), "no event checked: all events");
}

// ----- audit -----

/// Creates user `name` with the global role `role`.
async fn add_global(app: &crate::TestApp, name: &str, role: airlock_auth::GlobalRole) {
    app.accounts
        .create_user(
            &local(),
            &RequestContext::default(),
            name,
            crate::ui::PASSWORD,
        )
        .await
        .unwrap();
    app.accounts
        .set_global_role(&local(), &RequestContext::default(), name, role, true)
        .await
        .unwrap();
}

/// Every link of a page, unescaped.
fn hrefs(html: &str) -> Vec<String> {
    html.split(r#"href=""#)
        .skip(1)
        .map(|rest| {
            rest[..rest.find('"').unwrap()]
                .replace("&#38;", "&")
                .replace("&amp;", "&")
        })
        .collect()
}

/// The rows of the records table: the text between `<tbody>` and `</tbody>`.
fn table_rows(html: &str, id: &str) -> Vec<String> {
    let Some(start) = html.find(&format!(r#"id="{id}""#)) else {
        return Vec::new();
    };
    let table = &html[start..];
    let end = table.find("</tbody>").unwrap();
    table[..end]
        .split("<tr")
        .skip(2)
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_audit_page_lists_records_newest_first_and_filters_them_from_the_url() {
    let app = app().await;
    add_global(&app, "aud", airlock_auth::GlobalRole::Auditor).await;
    let (cookie, _) = session(&app.router, "aud").await;

    let page = send(&app.router, get("/ui/audit", Some(&cookie)))
        .await
        .expect(StatusCode::OK);
    let html = body(&page);
    assert!(html.contains(r#"<a href="/ui/audit" aria-current="page">Audit</a>"#));
    assert!(
        !html.contains(r#"href="/ui/admin""#),
        "an auditor's menu has no admin page"
    );
    let rows = table_rows(&html, "records");
    assert!(rows.len() > 5, "{html}");
    // Newest first: the auditor's own session is at the top.
    assert!(
        rows[0].contains("auth.session") && rows[0].contains("account:aud"),
        "{}",
        rows[0]
    );
    assert!(html.contains("user:dev-t") && html.contains("user:dev-u"));

    // Grants in tenant u only.
    let page = send(
        &app.router,
        get("/ui/audit?action=user.grant&tenant=u", Some(&cookie)),
    )
    .await
    .expect(StatusCode::OK);
    let html = body(&page);
    let rows = table_rows(&html, "records");
    assert_eq!(rows.len(), 1, "{html}");
    assert!(rows[0].contains("user:dev-u"));
    assert!(!html.contains("user:dev-t"));
    assert!(
        html.contains(r#"value="user.grant""#),
        "the filter is kept in the form"
    );

    // Actor and outcome: a developer's refused visit to this page.
    let (dev, _) = session(&app.router, "dev-t").await;
    send(&app.router, get("/ui/audit", Some(&dev)))
        .await
        .expect(StatusCode::FORBIDDEN);
    let page = send(
        &app.router,
        get("/ui/audit?actor=dev-t&outcome=denied", Some(&cookie)),
    )
    .await
    .expect(StatusCode::OK);
    let html = body(&page);
    let rows = table_rows(&html, "records");
    assert_eq!(rows.len(), 1, "{html}");
    assert!(rows[0].contains("access.denied") && rows[0].contains("dev-t"));
    assert!(html.contains(r#"<option value="denied" selected>"#));
    let page = send(
        &app.router,
        get("/ui/audit?actor=dev-u&outcome=denied", Some(&cookie)),
    )
    .await
    .expect(StatusCode::OK);
    assert!(body(&page).contains(r#"id="no-records""#));

    // Dates: nothing from tomorrow on, everything up to today.
    let today = time::OffsetDateTime::now_utc().date();
    let tomorrow = today.next_day().unwrap();
    let page = send(
        &app.router,
        get(&format!("/ui/audit?from={tomorrow}"), Some(&cookie)),
    )
    .await
    .expect(StatusCode::OK);
    assert!(body(&page).contains(r#"id="no-records""#));
    let page = send(
        &app.router,
        get(
            &format!("/ui/audit?from={today}&to={today}&action=user.create"),
            Some(&cookie),
        ),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(
        table_rows(&body(&page), "records").len(),
        3,
        "dev-t, dev-u, aud"
    );

    // A date that is not one is explained.
    let page = send(&app.router, get("/ui/audit?from=yesterday", Some(&cookie)))
        .await
        .expect(StatusCode::BAD_REQUEST);
    assert!(body(&page).contains(r#"id="filter-error""#));
}

#[tokio::test]
async fn the_audit_page_pages_through_older_records() {
    let app = app().await;
    add_global(&app, "aud", airlock_auth::GlobalRole::Auditor).await;
    let events: Vec<_> = (0..60)
        .map(|i| {
            airlock_audit::AuditEvent::new(
                airlock_audit::Actor::system("bulk"),
                "bulk.write",
                format!("item-{i}"),
            )
        })
        .collect();
    use airlock_store::AuditStore as _;
    app.database.append_audit(&events).await.unwrap();
    let (cookie, _) = session(&app.router, "aud").await;

    let page = send(&app.router, get("/ui/audit?actor=bulk", Some(&cookie)))
        .await
        .expect(StatusCode::OK);
    let html = body(&page);
    let rows = table_rows(&html, "records");
    assert_eq!(rows.len(), 50);
    assert!(rows[0].contains("item-59") && rows[49].contains("item-10"));
    let older = hrefs(&html)
        .into_iter()
        .find(|href| href.starts_with("/ui/audit?actor=bulk&before="))
        .expect("an older page link");
    let page = send(&app.router, get(&older, Some(&cookie)))
        .await
        .expect(StatusCode::OK);
    let html = body(&page);
    let rows = table_rows(&html, "records");
    assert_eq!(rows.len(), 10, "{html}");
    assert!(rows[0].contains("item-9") && rows[9].contains("item-0"));
    assert!(
        !html.contains(r#"rel="next""#),
        "the oldest page is the last"
    );
    assert!(
        html.contains(r#"href="/ui/audit?actor=bulk">← Newest records"#),
        "{html}"
    );
}

#[tokio::test]
async fn the_audit_page_shows_the_chain_intact_with_its_length() {
    let app = app().await;
    add_global(&app, "root", airlock_auth::GlobalRole::Admin).await;
    let (cookie, _) = session(&app.router, "root").await;
    let page = send(&app.router, get("/ui/audit", Some(&cookie)))
        .await
        .expect(StatusCode::OK);
    let html = body(&page);
    let total = app
        .accounts
        .audit_records(
            &local(),
            &RequestContext::default(),
            &AuditFilter::default(),
            0,
            100_000,
        )
        .await
        .unwrap()
        .len();
    assert!(total > 5);
    assert!(
        html.contains(&format!(
            "The hash chain verifies: {total} records, up to record {total},"
        )),
        "{html}"
    );
    assert!(html.contains(r#"<span class="badge intact">intact</span>"#));
    let status = app
        .accounts
        .verify_audit_chain(&local(), &RequestContext::default())
        .await
        .unwrap();
    assert_eq!(status.records, total as u64);
    assert!(status.broken.is_none());
}

#[tokio::test]
async fn the_audit_export_links_carry_the_filters_and_stream_the_matching_records() {
    let app = app().await;
    add_global(&app, "aud", airlock_auth::GlobalRole::Auditor).await;
    let (cookie, _) = session(&app.router, "aud").await;
    let page = send(
        &app.router,
        get(
            "/ui/audit?action=user&tenant=u&outcome=success",
            Some(&cookie),
        ),
    )
    .await
    .expect(StatusCode::OK);
    let html = body(&page);
    let csv_href = "/ui/audit/export?format=csv&action=user&tenant=u&outcome=success";
    let links = hrefs(&html);
    assert!(links.iter().any(|h| h == csv_href), "{links:?}");
    assert!(
        links
            .iter()
            .any(|h| h == "/ui/audit/export?format=jsonl&action=user&tenant=u&outcome=success")
    );
    let export = send(&app.router, get(csv_href, Some(&cookie)))
        .await
        .expect(StatusCode::OK);
    assert_eq!(export.header("content-type"), "text/csv; charset=utf-8");
    assert!(export.header("content-disposition").contains("audit.csv"));
    let text = String::from_utf8(export.body.to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("seq,time,actor_kind,actor_name,tenant,action"),
        "{text}"
    );
    assert_eq!(lines.len(), 2, "header and the grant of dev-u: {text}");
    assert!(
        lines[1].contains(",u,user.grant,user:dev-u,success,"),
        "{text}"
    );

    let export = send(
        &app.router,
        get(
            "/ui/audit/export?format=jsonl&action=user.create",
            Some(&cookie),
        ),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(export.header("content-type"), "application/x-ndjson");
    let records: Vec<airlock_audit::AuditRecord> = String::from_utf8(export.body.to_vec())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let targets: Vec<&str> = records.iter().map(|r| r.event.target.as_str()).collect();
    assert_eq!(
        targets,
        ["user:dev-t", "user:dev-u", "user:aud"],
        "oldest first"
    );
}

#[tokio::test]
async fn a_developer_is_refused_the_audit_log_and_its_export() {
    let app = app().await;
    let (cookie, _) = session(&app.router, "dev-t").await;
    let page = send(&app.router, get("/ui/audit", Some(&cookie)))
        .await
        .expect(StatusCode::FORBIDDEN);
    let html = body(&page);
    assert!(html.contains("Access denied"));
    assert!(
        !html.contains(r#"href="/ui/audit""#) && !html.contains(r#"href="/ui/admin""#),
        "the menu offers neither: {html}"
    );
    assert!(html.contains(r#"href="/ui/webhooks""#));
    let export = send(
        &app.router,
        get("/ui/audit/export?format=csv", Some(&cookie)),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    assert!(!body(&export).contains("seq,time"));
    let denials: Vec<_> = audited(&app, "access.denied")
        .await
        .into_iter()
        .filter(|r| r.event.actor.name == "dev-t" && r.event.target == "audit")
        .collect();
    assert_eq!(denials.len(), 2, "each refusal is audited");
}

// ----- admin -----

/// Posts a form of the admin page as the signed-in admin.
async fn admin_post(
    app: &crate::TestApp,
    cookie: &str,
    csrf: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> crate::Reply {
    let mut all = vec![("csrf", csrf)];
    all.extend_from_slice(fields);
    send(&app.router, post_form(path, Some(cookie), &all)).await
}

#[tokio::test]
async fn a_developer_is_refused_the_admin_page_and_its_forms() {
    let app = app().await;
    let (cookie, csrf) = session(&app.router, "dev-t").await;
    let page = send(&app.router, get("/ui/admin", Some(&cookie)))
        .await
        .expect(StatusCode::FORBIDDEN);
    assert!(body(&page).contains("Access denied"));
    admin_post(&app, &cookie, &csrf, "/ui/admin/tenants", &[("id", "evil")])
        .await
        .expect(StatusCode::FORBIDDEN);
    let tenants = app.accounts.tenants(&local()).await.unwrap();
    assert!(tenants.iter().all(|t| t.id != "evil"));
    assert!(
        audited(&app, "access.denied")
            .await
            .iter()
            .any(|r| r.event.actor.name == "dev-t" && r.event.target == "tenant:evil")
    );
}

#[tokio::test]
async fn an_admin_creates_and_deletes_a_tenant_through_the_forms() {
    let app = app().await;
    add_admin(&app, "root").await;
    let (cookie, csrf) = session(&app.router, "root").await;

    let reply = admin_post(
        &app,
        &cookie,
        &csrf,
        "/ui/admin/tenants",
        &[("id", "payments")],
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/ui/admin?done=tenant-created");
    assert!(
        app.accounts
            .tenants(&local())
            .await
            .unwrap()
            .iter()
            .any(|t| t.id == "payments")
    );
    let records = audited(&app, "tenant.create").await;
    let record = records.last().unwrap();
    assert_eq!(
        (
            record.event.actor.name.as_str(),
            record.event.target.as_str()
        ),
        ("root", "tenant:payments")
    );
    let page = send(
        &app.router,
        get("/ui/admin?done=tenant-created", Some(&cookie)),
    )
    .await
    .expect(StatusCode::OK);
    let html = body(&page);
    assert!(html.contains("The tenant was created."));
    assert!(
        html.contains(r#"action="/ui/admin/tenants/payments/delete""#),
        "{html}"
    );
    assert!(html.contains(r#"<a href="/ui/admin" aria-current="page">Admin</a>"#));

    // A bad id is explained on the page.
    let page = admin_post(
        &app,
        &cookie,
        &csrf,
        "/ui/admin/tenants",
        &[("id", "Not A Tenant")],
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
    assert!(body(&page).contains(r#"id="form-error""#));

    // Deleting needs the id typed again.
    let page = admin_post(
        &app,
        &cookie,
        &csrf,
        "/ui/admin/tenants/payments/delete",
        &[("confirm", "")],
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
    assert!(body(&page).contains("type its id to confirm"));
    assert!(audited(&app, "tenant.delete").await.is_empty());
    let reply = admin_post(
        &app,
        &cookie,
        &csrf,
        "/ui/admin/tenants/payments/delete",
        &[("confirm", "payments")],
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/ui/admin?done=tenant-deleted");
    assert!(
        app.accounts
            .tenants(&local())
            .await
            .unwrap()
            .iter()
            .all(|t| t.id != "payments")
    );
    assert_eq!(audited(&app, "tenant.delete").await.len(), 1);
}

#[tokio::test]
async fn an_admin_manages_users_and_their_roles_through_the_forms() {
    let app = app().await;
    add_admin(&app, "root").await;
    let (cookie, csrf) = session(&app.router, "root").await;

    admin_post(
        &app,
        &cookie,
        &csrf,
        "/ui/admin/users",
        &[("name", "carol"), ("password", "carol-password-1")],
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let carol = || async {
        app.accounts
            .users(&local())
            .await
            .unwrap()
            .into_iter()
            .find(|u| u.name == "carol")
            .expect("carol exists")
    };
    assert!(!carol().await.disabled);
    assert_eq!(
        audited(&app, "user.create")
            .await
            .last()
            .unwrap()
            .event
            .target,
        "user:carol"
    );
    // Carol can sign in with the password set through the form.
    crate::ui::sign_in(&app.router, "carol", "carol-password-1")
        .await
        .expect(StatusCode::SEE_OTHER);

    // A short password is refused on the page.
    let page = admin_post(
        &app,
        &cookie,
        &csrf,
        "/ui/admin/users",
        &[("name", "dave"), ("password", "short")],
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
    assert!(body(&page).contains("password too short"));

    // Roles.
    admin_post(
        &app,
        &cookie,
        &csrf,
        "/ui/admin/grant",
        &[("user", "carol"), ("tenant", "u"), ("role", "security")],
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    admin_post(
        &app,
        &cookie,
        &csrf,
        "/ui/admin/grant",
        &[("user", "carol"), ("global", "auditor")],
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let user = carol().await;
    assert_eq!(
        user.tenants.get("u"),
        Some(&airlock_auth::TenantRole::Security)
    );
    assert_eq!(user.global_roles, [airlock_auth::GlobalRole::Auditor]);
    let page = send(&app.router, get("/ui/admin", Some(&cookie)))
        .await
        .expect(StatusCode::OK);
    let html = body(&page);
    let row = &html[html.find(r#"<tr id="user-carol">"#).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("security in u"), "{row}");
    assert!(row.contains("auditor (global)"), "{row}");
    assert!(row.contains("enabled"), "{row}");

    admin_post(
        &app,
        &cookie,
        &csrf,
        "/ui/admin/users/carol/revoke",
        &[("tenant", "u")],
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    admin_post(
        &app,
        &cookie,
        &csrf,
        "/ui/admin/users/carol/revoke",
        &[("global", "auditor")],
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let user = carol().await;
    assert!(
        user.tenants.is_empty() && user.global_roles.is_empty(),
        "{user:?}"
    );
    assert_eq!(
        audited(&app, "user.grant")
            .await
            .iter()
            .filter(|r| r.event.target == "user:carol" && r.event.actor.name == "root")
            .count(),
        2
    );
    assert_eq!(audited(&app, "user.revoke").await.len(), 2);

    // Disable, then enable.
    let reply = admin_post(&app, &cookie, &csrf, "/ui/admin/users/carol/disable", &[])
        .await
        .expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/ui/admin?done=user-disabled");
    assert!(carol().await.disabled);
    crate::ui::sign_in(&app.router, "carol", "carol-password-1")
        .await
        .expect(StatusCode::UNAUTHORIZED);
    admin_post(&app, &cookie, &csrf, "/ui/admin/users/carol/enable", &[])
        .await
        .expect(StatusCode::SEE_OTHER);
    assert!(!carol().await.disabled);
    assert_eq!(audited(&app, "user.disable").await.len(), 1);
    assert_eq!(audited(&app, "user.enable").await.len(), 1);
}

#[tokio::test]
async fn an_admin_creates_a_robot_sees_its_token_once_and_revokes_it() {
    let app = app().await;
    add_admin(&app, "root").await;
    let (cookie, csrf) = session(&app.router, "root").await;

    let page = admin_post(
        &app,
        &cookie,
        &csrf,
        "/ui/admin/robots",
        &[
            ("tenant", "t"),
            ("name", "ci"),
            ("role", "developer"),
            ("expires_days", "30"),
        ],
    )
    .await
    .expect(StatusCode::CREATED);
    let html = body(&page);
    let marker = r#"<code id="robot-token">"#;
    let start = html.find(marker).expect("the token is shown") + marker.len();
    let token = &html[start..start + html[start..].find('<').unwrap()];
    let robots = app.accounts.robots(&local(), "t").await.unwrap();
    assert_eq!(robots.len(), 1);
    let robot = &robots[0];
    assert_eq!(robot.name, "robot$t+ci");
    assert_eq!(
        airlock_auth::robot_token_prefix(token),
        Some(robot.prefix.as_str()),
        "the token shown is the robot's"
    );
    assert!(robot.active && robot.expires_at.is_some());
    assert_eq!(robot.created_by, "root");
    assert_eq!(audited(&app, "robot.create").await.len(), 1);

    let page = send(&app.router, get("/ui/admin", Some(&cookie)))
        .await
        .expect(StatusCode::OK);
    let html = body(&page);
    assert!(html.contains("robot$t+ci"));
    assert!(!html.contains(token), "the token is shown only once");

    // Security is for people.
    let page = admin_post(
        &app,
        &cookie,
        &csrf,
        "/ui/admin/robots",
        &[("tenant", "t"), ("name", "sec"), ("role", "security")],
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
    assert!(body(&page).contains("robots are developers or readers"));

    let reply = admin_post(
        &app,
        &cookie,
        &csrf,
        "/ui/admin/robots/revoke",
        &[("tenant", "t"), ("name", "robot$t+ci")],
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/ui/admin?done=robot-revoked");
    let robots = app.accounts.robots(&local(), "t").await.unwrap();
    assert!(!robots[0].active && robots[0].revoked_at.is_some());
    assert_eq!(audited(&app, "robot.revoke").await.len(), 1);
    let page = send(&app.router, get("/ui/admin", Some(&cookie)))
        .await
        .expect(StatusCode::OK);
    assert!(body(&page).contains(r#"<span class="badge dead">revoked</span>"#));
}
