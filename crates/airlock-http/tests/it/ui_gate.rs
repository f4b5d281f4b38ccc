//! The dashboard's Policies and Exceptions pages at the router: who may
//! open the editor, inline validation errors, the version history with its
//! diff, the dry run, and the exception workflow (request, approve, reject,
//! revoke, the four-eyes rule, expiring soon) through the forms.

use std::sync::Arc;

use airlock_accounts::{DryRunFailure, DryRunImage, GateTrigger, Operator};
use airlock_audit::RequestContext;
use airlock_auth::{TenantId, TenantRole};
use airlock_store::{AuditFilter, AuditStore};
use axum::http::StatusCode;

use crate::ui::{PASSWORD, app, body, csrf_field, get, post_form, send, session};

/// A gate that queues nothing and answers dry runs with two images, the
/// second failing any policy that blocks on a severity.
pub(crate) struct FakeGate;

#[async_trait::async_trait]
impl GateTrigger for FakeGate {
    async fn reevaluate(&self, _tenant: Option<&TenantId>) -> Result<u64, String> {
        Ok(0)
    }

    async fn dry_run(
        &self,
        tenant: &TenantId,
        policy: &airlock_policy::Policy,
    ) -> Result<Vec<DryRunImage>, String> {
        let fails = policy.block_severity_at_or_above().is_some();
        Ok(vec![
            DryRunImage {
                repository: format!("unscanned/{tenant}/kept"),
                digest: format!("sha256:{}", "c".repeat(64)),
                would_pass: true,
                failures: Vec::new(),
            },
            DryRunImage {
                repository: format!("unscanned/{tenant}/blocked"),
                digest: format!("sha256:{}", "d".repeat(64)),
                would_pass: !fails,
                failures: if fails {
                    vec![DryRunFailure {
                        rule: "block_severity_at_or_above".into(),
                        message: "1 finding at high or above".into(),
                    }]
                } else {
                    Vec::new()
                },
            },
        ])
    }
}

/// The UI fixture plus `sec-t`, a security member of tenant `t`, and a
/// second one, `sec2-t`.
async fn gate_app() -> crate::TestApp {
    let app = app().await;
    let local = Operator::Local("test".into());
    let request = RequestContext::default();
    for user in ["sec-t", "sec2-t"] {
        app.accounts
            .create_user(&local, &request, user, PASSWORD)
            .await
            .unwrap();
        app.accounts
            .set_tenant_role(&local, &request, user, "t", Some(TenantRole::Security))
            .await
            .unwrap();
    }
    app.accounts.set_gate_trigger(Arc::new(FakeGate));
    app
}

async fn denials(app: &crate::TestApp, target: &str) -> usize {
    app.database
        .audit_records(&AuditFilter::default(), 0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.event.action == "access.denied" && r.event.target == target)
        .count()
}

#[tokio::test]
async fn a_developer_gets_403_on_the_policy_editor_and_the_refusal_is_audited() {
    let app = gate_app().await;
    let (cookie, _) = session(&app.router, "dev-t").await;
    let page = send(&app.router, get("/ui/policies", Some(&cookie)))
        .await
        .expect(StatusCode::FORBIDDEN);
    assert!(body(&page).contains("Access denied"), "{}", body(&page));
    assert!(!body(&page).contains("policy-document"));
    send(&app.router, get("/ui/policies?tenant=t", Some(&cookie)))
        .await
        .expect(StatusCode::FORBIDDEN);
    assert_eq!(denials(&app, "policy:t").await, 2);
    // Nor can they post to it.
    let csrf = {
        let images = send(&app.router, get("/ui/images", Some(&cookie)))
            .await
            .expect(StatusCode::OK);
        csrf_field(&images)
    };
    send(
        &app.router,
        post_form(
            "/ui/policies",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("tenant", "t"),
                ("action", "save"),
                ("document", "ignore_unfixed: true\n"),
            ],
        ),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    let stored = app
        .accounts
        .policy(&Operator::Local("test".into()), Some("t"))
        .await
        .unwrap();
    assert_eq!(stored, None);
    // The exceptions page stays open to them: developers request exceptions.
    send(&app.router, get("/ui/exceptions", Some(&cookie)))
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn security_edits_the_policy_with_inline_errors_history_diff_and_dry_run() {
    let app = gate_app().await;
    let (cookie, csrf) = session(&app.router, "sec-t").await;
    let page = send(&app.router, get("/ui/policies", Some(&cookie)))
        .await
        .expect(StatusCode::OK);
    let html = body(&page);
    assert!(html.contains("Policy of tenant t"), "{html}");
    assert!(
        html.contains(r#"id="policy-origin""#),
        "no version yet: {html}"
    );
    assert!(html.contains(r#"id="no-history""#), "{html}");

    let save = |document: &'static str, action: &'static str| {
        post_form(
            "/ui/policies",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("tenant", "t"),
                ("action", action),
                ("document", document),
            ],
        )
    };
    // An invalid policy: 400, the error at the form with its line, the
    // text kept, nothing stored.
    let bad = "ignore_unfixed: true\nblock_severity_at_or_above: terrible\n";
    let reply = send(&app.router, save(bad, "save"))
        .await
        .expect(StatusCode::BAD_REQUEST);
    let html = body(&reply);
    assert!(html.contains(r#"id="policy-error""#), "{html}");
    assert!(html.contains("line 2"), "the error names the line: {html}");
    assert!(html.contains(r#"aria-invalid="true""#), "{html}");
    assert!(
        html.contains("block_severity_at_or_above: terrible"),
        "{html}"
    );
    assert!(html.contains(r#"id="no-history""#), "{html}");

    // Two versions, then the history shows both with the diff.
    let reply = send(&app.router, save("ignore_unfixed: true\n", "save"))
        .await
        .expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/ui/policies?tenant=t&saved=1");
    send(
        &app.router,
        save(
            "ignore_unfixed: true\nblock_severity_at_or_above: high\n",
            "save",
        ),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let page = send(
        &app.router,
        get("/ui/policies?tenant=t&saved=2", Some(&cookie)),
    )
    .await
    .expect(StatusCode::OK);
    let html = body(&page);
    assert!(html.contains("Saved as version 2"), "{html}");
    assert!(html.contains("Version 2 is in force"), "{html}");
    assert!(html.contains("Version 2 by sec-t"), "{html}");
    assert!(html.contains("Version 1 by sec-t"), "{html}");
    assert!(
        html.contains(r#"<span class="add">+ block_severity_at_or_above: high</span>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<span class="same">  ignore_unfixed: true</span>"#),
        "{html}"
    );
    assert!(html.contains("(+1 −0)"), "{html}");

    // A dry run: what the text would do to scanned/, nothing stored.
    let reply = send(
        &app.router,
        save("block_severity_at_or_above: critical\n", "dry-run"),
    )
    .await
    .expect(StatusCode::OK);
    let html = body(&reply);
    assert!(
        html.contains("1 of 2 images in scanned/ would fail this policy"),
        "{html}"
    );
    assert!(html.contains("unscanned/t/blocked"), "{html}");
    assert!(html.contains("1 finding at high or above"), "{html}");
    let stored = app
        .accounts
        .policy(&Operator::Local("test".into()), Some("t"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, 2);
}

#[tokio::test]
async fn an_exception_is_requested_by_a_developer_and_decided_by_security() {
    let app = gate_app().await;
    let (dev, dev_csrf) = session(&app.router, "dev-t").await;
    let digest = crate::ui::digest_of("t");
    // The form can be pre-filled from a finding.
    let prefilled = send(
        &app.router,
        get(
            &format!(
                "/ui/exceptions?tenant=t&vulnerability=CVE-2099-1&repository=unscanned/t/app-of-t&digest={digest}"
            ),
            Some(&dev),
        ),
    )
    .await
    .expect(StatusCode::OK);
    assert!(
        body(&prefilled).contains(r#"name="vulnerability" value="CVE-2099-1""#),
        "{}",
        body(&prefilled)
    );
    // Invalid: no reason. Shown at the form, 400.
    let mut fields = vec![
        ("csrf", dev_csrf.as_str()),
        ("tenant", "t"),
        ("vulnerability", "CVE-2099-1"),
        ("repository", "unscanned/t/app-of-t"),
        ("digest", digest.as_str()),
        ("days", "7"),
        ("reason", " "),
    ];
    let reply = send(
        &app.router,
        post_form("/ui/exceptions/request", Some(&dev), &fields),
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
    assert!(
        body(&reply).contains(r#"id="request-error""#) && body(&reply).contains("reason"),
        "{}",
        body(&reply)
    );
    fields.pop();
    fields.push(("reason", "not reachable: the admin UI is disabled"));
    let reply = send(
        &app.router,
        post_form("/ui/exceptions/request", Some(&dev), &fields),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    assert!(
        reply
            .header("location")
            .starts_with("/ui/exceptions?tenant=t&done=Requested+EXC-")
    );
    let list = send(&app.router, get("/ui/exceptions", Some(&dev)))
        .await
        .expect(StatusCode::OK);
    let html = body(&list);
    assert!(html.contains(r#"<span class="badge pending exception-status">pending</span>"#));
    assert!(html.contains("awaiting another approver"), "{html}");
    assert!(
        !html.contains(r#"class="approve""#),
        "a developer cannot approve: {html}"
    );
    // Seven days: highlighted as expiring soon.
    assert!(html.contains(r#"class="expiring""#), "{html}");

    // A developer posting the approval anyway is refused by the service.
    let id = {
        let start = html.find("exception-EXC-").unwrap() + "exception-".len();
        html[start..start + html[start..].find('"').unwrap()].to_owned()
    };
    let reply = send(
        &app.router,
        post_form(
            &format!("/ui/exceptions/t/{id}/approve"),
            Some(&dev),
            &[("csrf", &dev_csrf)],
        ),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    assert!(body(&reply).contains(r#"id="exceptions-error""#));

    // Security sees the buttons and approves.
    let (sec, sec_csrf) = session(&app.router, "sec-t").await;
    let list = send(&app.router, get("/ui/exceptions?tenant=t", Some(&sec)))
        .await
        .expect(StatusCode::OK);
    assert!(body(&list).contains(&format!(r#"aria-label="Approve {id}""#)));
    let reply = send(
        &app.router,
        post_form(
            &format!("/ui/exceptions/t/{id}/approve"),
            Some(&sec),
            &[("csrf", &sec_csrf)],
        ),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    assert!(reply.header("location").contains("done=Approved"));
    let list = send(
        &app.router,
        get("/ui/exceptions?tenant=t&status=active", Some(&sec)),
    )
    .await
    .expect(StatusCode::OK);
    let html = body(&list);
    assert!(html.contains("approved by sec-t"), "{html}");
    assert!(
        html.contains(&format!(r#"aria-label="Revoke {id}""#)),
        "{html}"
    );

    // Security's own request cannot be approved by themselves (four eyes),
    // shown on the page; another security member rejects it.
    let own = app
        .accounts
        .request_exception(
            &Operator::Principal(airlock_auth::Principal::User {
                name: "sec-t".into(),
                roles: airlock_auth::Roles::single("t".parse().unwrap(), TenantRole::Security),
            }),
            &RequestContext::default(),
            "t",
            airlock_accounts::ExceptionRequest {
                vulnerability: "CVE-2099-2".into(),
                package: None,
                repository: None,
                digest: None,
                reason: "vendor says not affected".into(),
                expires_in: std::time::Duration::from_secs(90 * 86_400),
            },
        )
        .await
        .unwrap();
    let reply = send(
        &app.router,
        post_form(
            &format!("/ui/exceptions/t/{}/approve", own.id),
            Some(&sec),
            &[("csrf", &sec_csrf)],
        ),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    assert!(
        body(&reply).contains("approver must not be its requester"),
        "{}",
        body(&reply)
    );
    let (sec2, sec2_csrf) = session(&app.router, "sec2-t").await;
    send(
        &app.router,
        post_form(
            &format!("/ui/exceptions/t/{}/reject", own.id),
            Some(&sec2),
            &[("csrf", &sec2_csrf)],
        ),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let list = send(
        &app.router,
        get("/ui/exceptions?tenant=t&status=rejected", Some(&sec2)),
    )
    .await
    .expect(StatusCode::OK);
    let html = body(&list);
    assert!(html.contains(&own.id) && !html.contains(&id), "{html}");

    // Without the CSRF token the form is refused.
    send(
        &app.router,
        post_form(&format!("/ui/exceptions/t/{id}/revoke"), Some(&sec), &[]),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    let stored = app
        .accounts
        .exceptions(&Operator::Local("test".into()), "t")
        .await
        .unwrap();
    assert!(stored.iter().any(|e| e.id == id && e.status == "active"));
}

#[tokio::test]
async fn another_tenants_exceptions_are_not_shown() {
    let app = gate_app().await;
    let (dev_u, _) = session(&app.router, "dev-u").await;
    app.accounts
        .request_exception(
            &Operator::Local("someone".into()),
            &RequestContext::default(),
            "t",
            airlock_accounts::ExceptionRequest {
                vulnerability: "CVE-2099-7".into(),
                package: None,
                repository: None,
                digest: None,
                reason: "secret reasons of t".into(),
                expires_in: std::time::Duration::from_secs(86_400),
            },
        )
        .await
        .unwrap();
    let list = send(&app.router, get("/ui/exceptions", Some(&dev_u)))
        .await
        .expect(StatusCode::OK);
    assert!(!body(&list).contains("secret reasons of t"));
    send(&app.router, get("/ui/exceptions?tenant=t", Some(&dev_u)))
        .await
        .expect(StatusCode::FORBIDDEN);
}
