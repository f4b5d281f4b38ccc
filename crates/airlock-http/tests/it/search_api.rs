//! The dashboard's data API: the image list's filters, the vulnerability
//! search, tenant isolation (a developer sees only their tenants, and
//! naming another is refused), and streamed exports whose rows are the
//! list's items.

use airlock_accounts::Operator;
use airlock_audit::RequestContext;
use airlock_auth::{GlobalRole, Principal, Roles, TenantRole};
use airlock_oci::Digest;
use airlock_store::{AuditStore, FindingRow, GateStore, ImageState, PushedImage, Transition};
use axum::http::StatusCode;
use serde_json::json;

use crate::{Reply, TestApp};

fn tenant_user(name: &str, tenant: &str, role: TenantRole) -> Principal {
    Principal::User {
        name: name.into(),
        roles: Roles::single(tenant.parse().unwrap(), role),
    }
}

fn auditor() -> Principal {
    let mut roles = Roles::default();
    roles.global.insert(GlobalRole::Auditor);
    Principal::User {
        name: "audrey".into(),
        roles,
    }
}

async fn get(app: &TestApp, who: &Principal, path: &str) -> Reply {
    let authorization = format!("Bearer {}", app.token(who, Vec::new()));
    app.send(
        "GET",
        &format!("/api/v1{path}"),
        &[("authorization", authorization.as_str())],
        Vec::new(),
    )
    .await
}

fn finding(id: &str, aliases: &[&str], package: &str, severity: u8, fixed: &[&str]) -> FindingRow {
    FindingRow {
        vulnerability: id.into(),
        aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
        ecosystem: "Debian:12".into(),
        package: package.into(),
        version: "1.0-1".into(),
        fixed_versions: fixed.iter().map(|f| (*f).to_owned()).collect(),
        severity,
        cvss: None,
        summary: Some(format!("{id} in {package}")),
        platform: None,
    }
}

/// Records a push to `unscanned/<tenant>/<name>` and promotes it with
/// `findings`; the verdict counts each finding at its own severity.
async fn decided(app: &TestApp, tenant: &str, name: &str, findings: Vec<FindingRow>) -> i64 {
    let db = app.database.as_ref();
    let (image, _) = db
        .record_push(
            &PushedImage {
                tenant: tenant.parse().unwrap(),
                repository: format!("unscanned/{tenant}/{name}").parse().unwrap(),
                digest: Digest::sha256_of(name.as_bytes()),
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                pushed_by: Some("ci".into()),
            },
            &[],
            &[],
        )
        .await
        .unwrap();
    let mut counts = [0u64; 5];
    for f in &findings {
        counts[usize::from(f.severity)] += 1;
    }
    let verdict = json!({
        "passed": true,
        "counts": { "unknown": counts[0], "low": counts[1], "medium": counts[2],
                    "high": counts[3], "critical": counts[4] },
    });
    db.transition(&Transition {
        verdict: Some(verdict),
        findings: Some(findings),
        ..Transition::new(image.id, ImageState::Received, ImageState::Promoted)
    })
    .await
    .unwrap();
    image.id
}

/// Tenants `t` and `u`; `t/app` and `u/api` share CVE-1 (as a GHSA alias),
/// `t/web` has a critical libc finding, `t/tool` none.
async fn seeded() -> (TestApp, [i64; 4]) {
    let app = TestApp::new().await;
    app.accounts
        .create_tenant(
            &Operator::Local("test".into()),
            &RequestContext::default(),
            "u",
        )
        .await
        .unwrap();
    let app_id = decided(
        &app,
        "t",
        "app",
        vec![
            finding("GHSA-1", &["CVE-1"], "openssl", 3, &["3.0.2"]),
            finding("CVE-2", &[], "zlib", 1, &[]),
        ],
    )
    .await;
    let web = decided(
        &app,
        "t",
        "web",
        vec![finding("CVE-3", &[], "libc", 4, &["2.37"])],
    )
    .await;
    let tool = decided(&app, "t", "tool", Vec::new()).await;
    let api = decided(
        &app,
        "u",
        "api",
        vec![finding("GHSA-9", &["CVE-1"], "openssl", 4, &["3.0.2"])],
    )
    .await;
    (app, [app_id, web, tool, api])
}

fn item_ids(body: &serde_json::Value) -> Vec<i64> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().or_else(|| i["image_id"].as_i64()).unwrap())
        .collect()
}

#[tokio::test]
async fn image_list_filters_sorts_and_pages() {
    let (app, [app_id, web, tool, api]) = seeded().await;
    let admin = crate::admin();

    let all = get(&app, &admin, "/images")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(all["total"], 4);
    assert_eq!(
        (all["page"].as_u64(), all["per_page"].as_u64()),
        (Some(1), Some(50))
    );
    assert_eq!(item_ids(&all), vec![api, tool, web, app_id]);
    let first = &all["items"][3];
    assert_eq!(first["repository"], "unscanned/t/app");
    assert_eq!(first["state"], "promoted");
    assert_eq!(first["max_severity"], "high");
    assert_eq!(
        (first["high"].as_u64(), first["low"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(first["scanned_at"].is_string());
    assert_eq!(all["items"][1]["max_severity"], serde_json::Value::Null);

    let cases: &[(&str, Vec<i64>)] = &[
        ("/images?vulnerability=CVE-1", vec![api, app_id]),
        ("/images?vulnerability=GHSA-1", vec![app_id]),
        ("/images?package=libc", vec![web]),
        ("/images?min_severity=high", vec![api, web, app_id]),
        ("/images?min_severity=critical&tenant=t", vec![web]),
        ("/images?q=t/to", vec![tool]),
        ("/images?state=rejected", vec![]),
        ("/images?sort=severity", vec![api, web, app_id, tool]),
        ("/images?sort=repository", vec![app_id, tool, web, api]),
        ("/images?pushed_after=2999-01-01T00:00:00Z", vec![]),
        (
            "/images?pushed_before=2999-01-01T00:00:00Z&order=asc",
            vec![app_id, web, tool, api],
        ),
        ("/images?per_page=2&page=2", vec![web, app_id]),
        ("/images?tenant=&q=", vec![api, tool, web, app_id]),
    ];
    for (path, expected) in cases {
        let body = get(&app, &admin, path).await.expect(StatusCode::OK).json();
        assert_eq!(&item_ids(&body), expected, "{path}: {body}");
    }
    let paged = get(&app, &admin, "/images?per_page=2&page=2").await.json();
    assert_eq!(paged["total"], 4);

    for path in [
        "/images?min_severity=severe",
        "/images?state=done",
        "/images?sort=size",
        "/images?page=0",
        "/images?page=x",
        "/images?per_page=501",
        "/images?pushed_after=yesterday",
        "/vulnerabilities?fixable=maybe",
        "/images/export?format=xml",
    ] {
        get(&app, &admin, path)
            .await
            .expect_error(StatusCode::BAD_REQUEST, "INVALID");
    }
}

#[tokio::test]
async fn vulnerability_search_finds_aliases_across_tenants() {
    let (app, [app_id, web, _, api]) = seeded().await;
    let admin = crate::admin();

    let body = get(&app, &admin, "/vulnerabilities?vulnerability=CVE-1")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(body["total"], 2);
    assert_eq!(item_ids(&body), vec![api, app_id]);
    assert_eq!(body["items"][0]["vulnerability"], "GHSA-9");
    assert_eq!(body["items"][0]["tenant"], "u");
    assert_eq!(body["items"][0]["aliases"], json!(["CVE-1"]));
    assert_eq!(body["items"][1]["severity"], "high");
    assert_eq!(body["items"][1]["fixed_versions"], json!(["3.0.2"]));

    let of_app = get(&app, &admin, &format!("/vulnerabilities?image={app_id}"))
        .await
        .json();
    let ids: Vec<&str> = of_app["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["vulnerability"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["GHSA-1", "CVE-2"]);
    let fixable = get(
        &app,
        &admin,
        &format!("/vulnerabilities?image={app_id}&fixable=true"),
    )
    .await
    .json();
    assert_eq!(fixable["total"], 1);
    let critical = get(
        &app,
        &admin,
        "/vulnerabilities?min_severity=critical&package=libc",
    )
    .await
    .json();
    assert_eq!(item_ids(&critical), vec![web]);
}

#[tokio::test]
async fn developers_see_only_their_tenants() {
    let (app, [app_id, web, tool, api]) = seeded().await;
    let dev = tenant_user("dora", "t", TenantRole::Developer);
    let reader_u = tenant_user("uma", "u", TenantRole::Reader);

    let mine = get(&app, &dev, "/images")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(item_ids(&mine), vec![tool, web, app_id]);
    let cve = get(&app, &dev, "/images?vulnerability=CVE-1").await.json();
    assert_eq!(item_ids(&cve), vec![app_id]);
    let findings = get(&app, &dev, "/vulnerabilities?vulnerability=CVE-1")
        .await
        .json();
    assert_eq!(item_ids(&findings), vec![app_id]);
    let foreign = get(&app, &dev, &format!("/vulnerabilities?image={api}"))
        .await
        .json();
    assert_eq!(foreign["total"], 0);
    let export = get(&app, &dev, "/images/export?format=json")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(export.as_array().unwrap().len(), 3);

    for path in [
        "/images?tenant=u",
        "/vulnerabilities?tenant=u",
        "/images/export?tenant=u",
        "/vulnerabilities/export?tenant=u&format=json",
    ] {
        get(&app, &dev, path)
            .await
            .expect_error(StatusCode::FORBIDDEN, "DENIED");
    }
    let denied = app
        .database
        .as_ref()
        .audit_records(&airlock_store::AuditFilter::default(), 0, usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.event.action == "access.denied" && r.event.target == "tenant:u")
        .count();
    assert_eq!(denied, 4, "every refusal is audited");

    let theirs = get(&app, &reader_u, "/images").await.json();
    assert_eq!(item_ids(&theirs), vec![api]);
    let everything = get(&app, &auditor(), "/images").await.json();
    assert_eq!(everything["total"], 4);
    get(&app, &dev, "/images?tenant=t")
        .await
        .expect(StatusCode::OK);
    let anonymous = app.send("GET", "/api/v1/images", &[], Vec::new()).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

/// Splits simple CSV (no quoted fields in this data) into rows of fields.
fn csv_rows(body: &[u8]) -> Vec<Vec<String>> {
    String::from_utf8(body.to_vec())
        .unwrap()
        .lines()
        .map(|line| line.split(',').map(str::to_owned).collect())
        .collect()
}

fn as_csv_field(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => {
            items.iter().map(as_csv_field).collect::<Vec<_>>().join(" ")
        }
        other => other.to_string(),
    }
}

#[tokio::test]
async fn csv_rows_equal_the_filtered_json_items() {
    let (app, _) = seeded().await;
    let admin = crate::admin();
    for (list, export) in [
        (
            "/images?min_severity=high",
            "/images/export?min_severity=high&format=csv",
        ),
        (
            "/vulnerabilities?vulnerability=CVE-1",
            "/vulnerabilities/export?vulnerability=CVE-1",
        ),
    ] {
        let items = get(&app, &admin, list).await.json()["items"].clone();
        let items = items.as_array().unwrap();
        let reply = get(&app, &admin, export).await.expect(StatusCode::OK);
        assert_eq!(reply.header("content-type"), "text/csv; charset=utf-8");
        assert!(
            reply
                .header("content-disposition")
                .starts_with("attachment; filename="),
            "{reply:?}"
        );
        let rows = csv_rows(&reply.body);
        let header = &rows[0];
        assert_eq!(rows.len() - 1, items.len(), "{export}");
        for (row, item) in rows[1..].iter().zip(items) {
            let expected: Vec<String> = header.iter().map(|c| as_csv_field(&item[c])).collect();
            assert_eq!(row, &expected, "{export}");
        }
        let json_export = get(
            &app,
            &admin,
            &export
                .replace("format=csv", "")
                .replace("export?", "export?format=json&"),
        )
        .await
        .expect(StatusCode::OK);
        assert_eq!(json_export.header("content-type"), "application/json");
        assert_eq!(
            &json_export.json(),
            &serde_json::Value::Array(items.clone())
        );
    }
    // Each export is in the audit log, with who took it and its filters.
    let exports: Vec<(String, serde_json::Value)> = app
        .database
        .audit_records(&airlock_store::AuditFilter::default(), 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.event.action.ends_with(".export"))
        .map(|r| {
            (
                format!("{} {}", r.event.actor.name, r.event.action),
                r.event.details,
            )
        })
        .collect();
    let names: Vec<&str> = exports.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "admin images.export",
            "admin images.export",
            "admin vulnerabilities.export",
            "admin vulnerabilities.export",
        ]
    );
    assert_eq!(exports[0].1["min_severity"], "high");
    assert_eq!(exports[0].1["format"], "csv");
    assert_eq!(exports[2].1["vulnerability"], "CVE-1");
}

#[tokio::test]
async fn exports_stream_thousands_of_rows() {
    let app = TestApp::new().await;
    let rows: Vec<FindingRow> = (0..5000)
        .map(|i| {
            finding(
                &format!("CVE-2024-{i:05}"),
                &[],
                &format!("pkg{}", i % 7),
                2,
                &[],
            )
        })
        .collect();
    let image = decided(&app, "t", "big", rows).await;
    let admin = crate::admin();

    let csv = get(
        &app,
        &admin,
        &format!("/vulnerabilities/export?image={image}"),
    )
    .await
    .expect(StatusCode::OK);
    assert!(
        csv.maybe_header("content-length").is_none(),
        "the body is streamed, not sized up front"
    );
    let lines = csv_rows(&csv.body);
    assert_eq!(lines.len(), 5001);
    assert_eq!(lines[0][0], "image_id");
    let json = get(
        &app,
        &admin,
        &format!("/vulnerabilities/export?image={image}&format=json"),
    )
    .await
    .expect(StatusCode::OK)
    .json();
    assert_eq!(json.as_array().unwrap().len(), 5000);
    let page = get(
        &app,
        &admin,
        &format!("/vulnerabilities?image={image}&per_page=500&page=10"),
    )
    .await
    .json();
    assert_eq!(
        (
            page["total"].as_u64(),
            page["items"].as_array().unwrap().len()
        ),
        (Some(5000), 500)
    );
}
