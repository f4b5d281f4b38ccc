//! The dashboard's management pages: webhooks and their delivery log. Each test signs in through the login
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
