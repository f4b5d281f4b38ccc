//! Notifications and reports end to end: the real `airlock serve` with
//! scan workers delivers signed CloudEvents to a real HTTP receiver started
//! by the test, and leaves reports that only the owning tenant may read.
//!
//! Signatures are checked the way a receiver would, with an HMAC computed
//! in the test (not airlock's code). Every wait is bounded.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::gate::{CVE, FIXED, Gate, VULNERABLE, decided, django_layout, tools_present};
use support::receiver::{Receiver, signature_valid};
use support::{Server, airlock_cli, airlock_cli_ok, db_rows, http};

/// A known signing secret (`whsec_` + base64 of 24 bytes).
const SECRET: &str = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3";
const WRONG_SECRET: &str = "whsec_ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4";

/// Loopback receivers need both relaxations (they are refused by default).
const ALLOW_LOCAL: &[&str] = &[
    "--webhook-allow-http",
    "true",
    "--webhook-allow-private",
    "true",
];

fn subscribe(server: &Server, tenant: Option<&str>, url: &str, events: Option<&str>) -> String {
    let mut args = vec!["webhook", "create", "--url", url, "--secret-stdin"];
    args.extend_from_slice(ALLOW_LOCAL);
    if let Some(tenant) = tenant {
        args.extend_from_slice(&["--tenant", tenant]);
    }
    if let Some(events) = events {
        args.extend_from_slice(&["--events", events]);
    }
    let out = airlock_cli_ok(&server.data_dir, &args, Some(&format!("{SECRET}\n")));
    out.split_whitespace()
        .nth(2)
        .unwrap_or_else(|| panic!("no id in {out:?}"))
        .to_owned()
}

/// The event types the receiver got about `subject_digest`, in order.
fn types_for(received: &[support::receiver::Received], digest: &str) -> Vec<String> {
    received
        .iter()
        .map(|r| r.event())
        .filter(|e| e["subject"].as_str().is_some_and(|s| s.ends_with(digest)))
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn deliveries(server: &Server, id: &str) -> Value {
    let out = airlock_cli_ok(
        &server.data_dir,
        &["webhook", "deliveries", id, "--json"],
        None,
    );
    serde_json::from_str(&out).expect("deliveries are JSON")
}

fn api_get(server: &Server, token: &str, path: &str) -> reqwest::blocking::Response {
    http()
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .expect("GET the API")
}

/// A user with a password, and a token for them.
fn user_token(server: &Server, name: &str, tenant: &str, role: &str) -> String {
    let password = format!("{name}-password-3c9e1");
    airlock_cli_ok(
        &server.data_dir,
        &["user", "create", name, "--password-stdin"],
        Some(&format!("{password}\n")),
    );
    airlock_cli_ok(
        &server.data_dir,
        &["user", "grant", name, "--tenant", tenant, "--role", role],
        None,
    );
    server.token(name, &password, &[])
}

#[test]
fn a_promotion_and_a_rejection_arrive_signed_in_order_with_reports_for_the_tenant_only() {
    if !tools_present("a_promotion_and_a_rejection_arrive_signed_in_order_with_reports") {
        return;
    }
    let receiver = Receiver::start(0, 0);
    let gate = Gate::start(ALLOW_LOCAL);
    subscribe(&gate.server, Some("team-a"), &receiver.url(), None);
    // Another tenant's subscription hears nothing of team-a.
    let other = Receiver::start(0, 0);
    subscribe(&gate.server, Some("team-b"), &other.url(), None);

    let (clean, clean_digest) = django_layout(&gate.scratch("clean"), FIXED);
    gate.push(&clean, "unscanned/team-a/app:1.0", &[]);
    decided(
        &gate.server,
        "unscanned/team-a/app",
        &clean_digest,
        "promoted",
    );
    let (bad, bad_digest) = django_layout(&gate.scratch("bad"), VULNERABLE);
    gate.push(&bad, "unscanned/team-a/web:2.0", &[]);
    decided(
        &gate.server,
        "unscanned/team-a/web",
        &bad_digest,
        "rejected",
    );

    let received = receiver.wait_for("both decisions", Duration::from_secs(30), |r| {
        let types = |d| types_for(r, d);
        types(&clean_digest).contains(&"airlock.image.promoted".to_owned())
            && types(&bad_digest).contains(&"airlock.image.rejected".to_owned())
    });
    assert_eq!(
        types_for(&received, &clean_digest),
        [
            "airlock.image.pushed",
            "airlock.scan.queued",
            "airlock.scan.started",
            "airlock.scan.completed",
            "airlock.image.promoted"
        ]
    );
    assert_eq!(
        types_for(&received, &bad_digest),
        [
            "airlock.image.pushed",
            "airlock.scan.queued",
            "airlock.scan.started",
            "airlock.scan.completed",
            "airlock.image.rejected"
        ]
    );
    for request in &received {
        assert!(
            signature_valid(SECRET, request),
            "bad signature: {request:?}"
        );
        assert!(!signature_valid(WRONG_SECRET, request));
        assert_eq!(request.content_type, "application/cloudevents+json");
        let event = request.event();
        assert_eq!(event["specversion"], "1.0");
        assert_eq!(
            event["id"],
            request.id.as_str(),
            "webhook-id is the event id"
        );
        assert!(event["time"].is_string() && event["source"].is_string());
    }
    if let Ok(path) = std::env::var("AIRLOCK_DUMP_EVENTS") {
        // For docs/webhooks.md: the events exactly as a receiver got them.
        let events: Vec<Value> = received.iter().map(|r| r.event()).collect();
        std::fs::write(path, serde_json::to_vec_pretty(&events).unwrap()).unwrap();
    }
    let ids: std::collections::BTreeSet<&str> = received.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), received.len(), "each event is delivered once");

    let event = |digest: &str, kind: &str| {
        received
            .iter()
            .map(|r| r.event())
            .find(|e| e["type"] == kind && e["subject"].as_str().unwrap().ends_with(digest))
            .unwrap_or_else(|| panic!("no {kind} event for {digest}"))
    };
    let promoted = event(&clean_digest, "airlock.image.promoted");
    let data = &promoted["data"];
    assert_eq!(
        promoted["subject"],
        format!("unscanned/team-a/app@{clean_digest}")
    );
    assert_eq!(data["tenant"], "team-a");
    assert_eq!(data["repository"], "unscanned/team-a/app");
    assert_eq!(data["digest"], clean_digest.as_str());
    assert_eq!(data["tags"], serde_json::json!(["1.0"]));
    assert_eq!(data["pusher"], "admin");
    assert_eq!(data["verdict"]["passed"], true);
    assert_eq!(data["verdict"]["counts"]["critical"], 0);
    let html_link = data["reports"]["report.html"]
        .as_str()
        .expect("a report link");
    assert!(
        html_link.starts_with(&format!(
            "http://{}/api/v1/tenants/team-a/images/{clean_digest}/reports/report.html?scan=",
            gate.server.addr
        )),
        "{html_link}"
    );

    let rejected = event(&bad_digest, "airlock.image.rejected");
    let data = &rejected["data"];
    assert_eq!(data["verdict"]["passed"], false);
    assert_eq!(data["verdict"]["counts"]["critical"], 1);
    assert_eq!(
        data["verdict"]["reasons"][0]["rule"],
        "block_severity_at_or_above"
    );
    let top = &data["top_findings"][0];
    assert_eq!(top["id"], CVE);
    assert_eq!(top["package"], "django");
    assert_eq!(top["installed_version"], VULNERABLE);
    assert_eq!(top["fixed_versions"], serde_json::json!([FIXED]));
    assert_eq!(top["severity"], "critical");
    assert!(other.received().is_empty(), "team-b heard team-a's events");

    // The reports, through the API (latest scan, no scan id needed).
    let admin = gate.server.admin_token(&[]);
    let base = format!("/api/v1/tenants/team-a/images/{bad_digest}/reports");
    let html = api_get(&gate.server, &admin, &format!("{base}/report.html"));
    assert_eq!(html.status(), 200);
    assert!(
        html.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = html.text().unwrap();
    assert!(
        html.contains(CVE) && html.contains("REJECTED"),
        "{html:.400}"
    );
    let json: Value = api_get(&gate.server, &admin, &format!("{base}/report.json"))
        .json()
        .unwrap();
    assert_eq!(json["verdict"]["passed"], false);
    assert_eq!(json["image"]["digest"], bad_digest.as_str());
    assert_eq!(json["platforms"][0]["findings"][0]["id"], CVE);
    for name in ["report.sarif", "sbom.cdx.json", "sbom.spdx.json"] {
        assert_eq!(
            api_get(&gate.server, &admin, &format!("{base}/{name}")).status(),
            200,
            "{name}"
        );
    }
    assert_eq!(
        api_get(&gate.server, &admin, &format!("{base}/secrets.txt")).status(),
        404
    );

    // The same files through the CLI.
    let sarif = airlock_cli_ok(
        &gate.server.data_dir,
        &[
            "report",
            "get",
            "--tenant",
            "team-a",
            &bad_digest,
            "--name",
            "report.sarif",
        ],
        None,
    );
    let sarif: Value = serde_json::from_str(&sarif).expect("SARIF is JSON");
    assert_eq!(sarif["version"], "2.1.0");

    // A member of team-a may read them; a member of team-b may not, and
    // the refusal is audited.
    let dev_a = user_token(&gate.server, "dana", "team-a", "developer");
    assert_eq!(
        api_get(&gate.server, &dev_a, &format!("{base}/report.json")).status(),
        200
    );
    let dev_b = user_token(&gate.server, "bob", "team-b", "developer");
    let refused = api_get(&gate.server, &dev_b, &format!("{base}/report.json"));
    assert_eq!(refused.status(), 403);
    let audit = db_rows(
        &gate.server.data_dir,
        "SELECT actor_name, action, outcome, target FROM audit_log WHERE target LIKE ? ORDER BY seq",
        &[&format!("reports:team-a/{bad_digest}/%")],
    );
    let rows: Vec<(String, String, String)> = audit
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap_or_default().to_owned(),
                r[1].as_str().unwrap_or_default().to_owned(),
                r[2].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        rows.contains(&("bob".into(), "access.denied".into(), "denied".into())),
        "{rows:?}"
    );
    assert!(
        rows.contains(&("dana".into(), "report.read".into(), "success".into())),
        "{rows:?}"
    );

    // The promoted image carries its SBOM and scan report as referrers.
    let token = gate
        .server
        .admin_token(&["repository:scanned/team-a/app:pull"]);
    let referrers: Value = http()
        .get(
            gate.server
                .url(&format!("/v2/scanned/team-a/app/referrers/{clean_digest}")),
        )
        .bearer_auth(token)
        .send()
        .expect("GET referrers")
        .json()
        .expect("an index");
    let mut types: Vec<&str> = referrers["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .filter_map(|m| m["artifactType"].as_str())
        .collect();
    types.sort_unstable();
    assert_eq!(
        types,
        [
            "application/vnd.airlock.scan-report.v1+json",
            "application/vnd.cyclonedx+json"
        ]
    );
}

#[test]
fn a_receiver_that_fails_three_times_gets_the_event_on_the_fourth_attempt() {
    let receiver = Receiver::start(3, 0);
    let dir = tempfile::tempdir().expect("scratch directory");
    let mut args = vec!["--scan-workers", "0", "--webhook-retry-initial", "100ms"];
    args.extend_from_slice(ALLOW_LOCAL);
    let server = Server::start(&dir.path().join("data"), &args);
    let id = subscribe(&server, Some("team-a"), &receiver.url(), None);

    airlock_cli_ok(&server.data_dir, &["webhook", "test", &id], None);
    let received = receiver.wait_for("four attempts", Duration::from_secs(30), |r| r.len() >= 4);
    let statuses: Vec<u16> = received.iter().map(|r| r.answered).collect();
    assert_eq!(statuses, [500, 500, 500, 204]);
    let event_id = received[0].id.clone();
    assert!(
        received.iter().all(|r| r.id == event_id),
        "retries keep the event id"
    );
    assert!(received.iter().all(|r| signature_valid(SECRET, r)));
    assert_eq!(received[0].event()["type"], "airlock.webhook.test");

    let log = wait_delivered(&server, &id, 1);
    let delivery = &log[0];
    assert_eq!(delivery["event_id"], event_id.as_str());
    assert_eq!(delivery["attempts"], 4);
    let attempts: Vec<Value> = delivery["log"].as_array().unwrap().clone();
    let statuses: Vec<&Value> = attempts.iter().map(|a| &a["status"]).collect();
    assert_eq!(statuses, [500, 500, 500, 204]);
    assert!(attempts.iter().all(|a| a["latency_ms"].is_u64()));

    // Sent again on request: once more, same id.
    airlock_cli_ok(&server.data_dir, &["webhook", "redeliver", &event_id], None);
    let again = receiver.wait_for("the redelivery", Duration::from_secs(10), |r| r.len() >= 5);
    assert_eq!(again[4].id, event_id);
    let text = airlock_cli_ok(&server.data_dir, &["webhook", "deliveries", &id], None);
    assert!(text.contains("attempt 4") && text.contains("500"), "{text}");
}

/// Waits until the subscription has `count` delivered deliveries; returns them.
fn wait_delivered(server: &Server, id: &str, count: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let all = deliveries(server, id);
        let delivered: Vec<Value> = all
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["state"] == "delivered")
            .cloned()
            .collect();
        if delivered.len() >= count {
            return delivered;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not delivered: {all:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_event_in_flight_when_the_server_is_killed_is_delivered_after_restart() {
    // The first request is held unanswered; the server dies meanwhile.
    let receiver = Receiver::start(0, 1);
    let dir = tempfile::tempdir().expect("scratch directory");
    let data = dir.path().join("data");
    let mut args = vec!["--scan-workers", "0", "--webhook-timeout", "60s"];
    args.extend_from_slice(ALLOW_LOCAL);
    let server = Server::start(&data, &args);
    let id = subscribe(&server, Some("team-a"), &receiver.url(), None);
    airlock_cli_ok(&server.data_dir, &["webhook", "test", &id], None);
    let first = receiver.wait_for("the first attempt", Duration::from_secs(20), |r| {
        !r.is_empty()
    });
    server.kill_hard();

    let server = Server::start(&data, &args);
    let received = receiver.wait_for("the event again", Duration::from_secs(30), |r| {
        r.iter().any(|x| x.answered == 204)
    });
    let delivered = received.iter().find(|r| r.answered == 204).unwrap();
    assert_eq!(delivered.id, first[0].id, "the same event, not a new one");
    assert!(signature_valid(SECRET, delivered));
    wait_delivered(&server, &id, 1);
}

#[test]
fn webhook_urls_into_the_operators_network_are_refused() {
    let dir = tempfile::tempdir().expect("scratch directory");
    let server = Server::start(&dir.path().join("data"), &["--scan-workers", "0"]);
    for url in [
        "http://hooks.example/airlock",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://[::1]/hook",
        "https://0x7f.1/hook",
        "ftp://hooks.example/",
    ] {
        let out = airlock_cli(
            &server.data_dir,
            &["webhook", "create", "--tenant", "team-a", "--url", url],
            None,
        );
        assert!(!out.status.success(), "{url} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("webhook"), "{url}: {stderr}");
    }
    // Allowed by the policy, a public https URL is accepted.
    airlock_cli_ok(
        &server.data_dir,
        &[
            "webhook",
            "create",
            "--tenant",
            "team-a",
            "--url",
            "https://93.184.215.14/hook",
        ],
        None,
    );

    // The API refuses the same, and keeps tenants apart.
    let dev = user_token(&server, "erin", "team-a", "developer");
    let create = |token: &str, body: Value| {
        http()
            .post(server.url("/api/v1/webhooks"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .expect("POST a webhook")
    };
    let refused = create(
        &dev,
        serde_json::json!({"tenant": "team-a", "url": "https://169.254.169.254/"}),
    );
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().unwrap();
    assert!(body.to_string().contains("169.254.169.254"), "{body}");
    let ok = create(
        &dev,
        serde_json::json!({"tenant": "team-a", "url": "https://93.184.215.14/a", "events": ["airlock.image.promoted"]}),
    );
    assert_eq!(ok.status(), 201);
    let created: Value = ok.json().unwrap();
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(
        create(
            &dev,
            serde_json::json!({"tenant": "team-b", "url": "https://93.184.215.14/b"})
        )
        .status(),
        403
    );
    assert_eq!(
        create(
            &dev,
            serde_json::json!({"url": "https://93.184.215.14/all"})
        )
        .status(),
        403,
        "global subscriptions are for admins"
    );
    let listed: Value = api_get(&server, &dev, "/api/v1/webhooks?tenant=team-a")
        .json()
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(
        listed[0].get("secret").is_none(),
        "secrets are shown only once"
    );
}
