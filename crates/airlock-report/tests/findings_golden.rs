//! Golden files for the finding-bearing formats (JSON, SARIF, HTML) on one
//! fixture image with known findings, plus structural checks that must hold
//! whatever the snapshots say.
//!
//! The fixture is a Debian 12 image with an OS package, two Python packages
//! and a Cargo crate; four findings cover every severity class the writers
//! distinguish (critical, high, medium, unknown), one finding with aliases,
//! one with no fixed version, CVSS scores and vectors, and a matcher warning.

use std::collections::BTreeSet;

use airlock_report::{Format, ReportContext, sarif};
use airlock_scan_model::{
    Artifact, Finding, FindingPackage, Inventory, LayerInfo, OsInfo, Package, Platform,
    SCHEMA_VERSION, ScanReport, Severity, VulnerabilityData,
};
use serde_json::Value;

const BASE_LAYER: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";
const APP_LAYER: &str = "sha256:4444444444444444444444444444444444444444444444444444444444444444";
const IMAGE_DIGEST: &str =
    "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

fn package(
    ecosystem: &str,
    name: &str,
    version: &str,
    purl: &str,
    layer: &str,
    path: &str,
) -> Package {
    Package {
        ecosystem: ecosystem.into(),
        name: name.into(),
        version: version.into(),
        source_name: None,
        source_version: None,
        purl: purl.into(),
        licenses: Vec::new(),
        layer: layer.into(),
        path: path.into(),
        application: false,
    }
}

fn finding_package(ecosystem: &str, name: &str, version: &str) -> FindingPackage {
    FindingPackage {
        ecosystem: ecosystem.into(),
        name: name.into(),
        version: version.into(),
    }
}

/// The fixture image's report, findings sorted as the matcher sorts them.
fn fixture_report() -> ScanReport {
    let mut openssl = package(
        "Debian:12",
        "libssl3",
        "3.0.11-1~deb12u1",
        "pkg:deb/debian/libssl3@3.0.11-1~deb12u1?arch=amd64&distro=debian-12",
        BASE_LAYER,
        "var/lib/dpkg/status",
    );
    openssl.source_name = Some("openssl".into());
    openssl.source_version = Some("3.0.11-1~deb12u1".into());
    let mut inventory = Inventory {
        artifact: Artifact {
            reference: "registry.example/shop/api:1.4".into(),
            digest: IMAGE_DIGEST.into(),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            platform: Some(Platform {
                os: "linux".into(),
                architecture: "amd64".into(),
                variant: None,
            }),
        },
        os: Some(OsInfo {
            family: "debian".into(),
            version: "12".into(),
            ecosystem: "Debian:12".into(),
        }),
        layers: vec![
            LayerInfo {
                digest: BASE_LAYER.into(),
                size: 29_000_000,
                created_by: Some("/bin/sh -c #(nop) ADD rootfs /".into()),
            },
            LayerInfo {
                digest: APP_LAYER.into(),
                size: 4_200_000,
                created_by: Some("COPY app /app".into()),
            },
        ],
        packages: vec![
            openssl,
            package(
                "PyPI",
                "django",
                "2.2.0",
                "pkg:pypi/django@2.2.0",
                APP_LAYER,
                "usr/lib/python3/dist-packages/Django-2.2.dist-info/METADATA",
            ),
            package(
                "PyPI",
                "jinja2",
                "2.10",
                "pkg:pypi/jinja2@2.10",
                APP_LAYER,
                "usr/lib/python3/dist-packages/Jinja2-2.10.dist-info/METADATA",
            ),
            package(
                "crates.io",
                "smallvec",
                "0.6.9",
                "pkg:cargo/smallvec@0.6.9",
                APP_LAYER,
                "app/Cargo.lock",
            ),
        ],
    };
    inventory.normalize();
    let findings = vec![
        Finding {
            id: "CVE-2019-19844".into(),
            aliases: vec!["GHSA-vfq6-hq5r-27r6".into(), "PYSEC-2019-16".into()],
            package: finding_package("PyPI", "django", "2.2.0"),
            fixed_versions: vec!["2.2.9".into(), "3.0.1".into()],
            severity: Severity::Critical,
            cvss_score: Some(9.8),
            cvss_vector: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into()),
            summary: Some("Django account hijack via password reset form".into()),
            references: vec![
                "https://nvd.nist.gov/vuln/detail/CVE-2019-19844".into(),
                "https://www.djangoproject.com/weblog/2019/dec/18/security-releases/".into(),
            ],
            published: Some("2019-12-18T19:15:00Z".into()),
            modified: Some("2024-09-23T12:00:00Z".into()),
        },
        Finding {
            id: "RUSTSEC-2019-0009".into(),
            aliases: vec!["CVE-2019-15551".into()],
            package: finding_package("crates.io", "smallvec", "0.6.9"),
            fixed_versions: vec!["0.6.10".into()],
            severity: Severity::High,
            cvss_score: Some(7.5),
            cvss_vector: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H".into()),
            summary: Some("Double-free and use-after-free in SmallVec::grow()".into()),
            references: vec!["https://rustsec.org/advisories/RUSTSEC-2019-0009.html".into()],
            published: Some("2019-06-06T12:00:00Z".into()),
            modified: Some("2023-06-13T13:10:24Z".into()),
        },
        Finding {
            id: "GHSA-462w-v97r-4m45".into(),
            aliases: vec!["CVE-2019-10906".into(), "PYSEC-2019-217".into()],
            package: finding_package("PyPI", "jinja2", "2.10"),
            fixed_versions: vec!["2.10.1".into()],
            severity: Severity::Medium,
            cvss_score: Some(5.4),
            cvss_vector: Some("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:L/A:N".into()),
            summary: Some("Jinja2 sandbox escape via string formatting <script>".into()),
            references: vec!["https://github.com/advisories/GHSA-462w-v97r-4m45".into()],
            published: Some("2019-04-10T14:30:24Z".into()),
            modified: None,
        },
        Finding {
            id: "DSA-9999-1".into(),
            aliases: Vec::new(),
            package: finding_package("Debian:12", "libssl3", "3.0.11-1~deb12u1"),
            fixed_versions: Vec::new(),
            severity: Severity::Unknown,
            cvss_score: None,
            cvss_vector: None,
            summary: None,
            references: Vec::new(),
            published: None,
            modified: None,
        },
    ];
    ScanReport {
        schema_version: SCHEMA_VERSION,
        inventory,
        findings,
        vulnerability_data: VulnerabilityData::Present,
        warnings: vec![
            "ignored 1 GIT range(s): commit ranges cannot be matched against installed versions"
                .into(),
        ],
    }
}

fn context() -> ReportContext {
    let mut context = ReportContext::fixed(
        time::macros::datetime!(2024-05-06 07:08:09 UTC),
        uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
    );
    // The tool version changes with every release; pin it so snapshots don't.
    context.tool_version = "0.0.0-golden".into();
    context
}

fn render(format: Format) -> String {
    format
        .write(&[fixture_report()], &context())
        .expect("report renders")
}

fn render_json(format: Format) -> Value {
    serde_json::from_str(&render(format)).expect("output is JSON")
}

#[test]
fn json_findings_golden() {
    let value = render_json(Format::Json);
    assert_eq!(value["schema_version"], 1);
    assert_eq!(value["vulnerability_data"], "present");
    let findings = value["findings"].as_array().expect("findings array");
    assert_eq!(findings.len(), 4);
    // Always written, for every finding.
    for finding in findings {
        for field in ["id", "aliases", "package", "fixed_versions", "severity"] {
            assert!(
                finding.get(field).is_some(),
                "finding {} lacks {field}",
                finding["id"]
            );
        }
    }
    // A finding with every optional field set writes the whole shape;
    // absent optional fields are omitted rather than written as null.
    let complete = &findings[0];
    for field in [
        "cvss_score",
        "cvss_vector",
        "summary",
        "references",
        "published",
        "modified",
    ] {
        assert!(
            complete.get(field).is_some(),
            "complete finding lacks {field}"
        );
    }
    let bare = &findings[3];
    assert_eq!(bare["id"], "DSA-9999-1");
    assert_eq!(bare["fixed_versions"], serde_json::json!([]));
    assert!(bare.get("cvss_score").is_none() && bare.get("summary").is_none());
    insta::assert_json_snapshot!("findings_json", value);
}

#[test]
fn json_findings_round_trip_to_the_model() {
    let parsed: ScanReport = serde_json::from_str(&render(Format::Json)).unwrap();
    assert_eq!(parsed, fixture_report());
}

#[test]
fn sarif_findings_golden() {
    let value = render_json(Format::Sarif);
    // SARIF carries no time or document id; the tool version is pinned by
    // `context()`, so nothing needs redacting.
    insta::assert_json_snapshot!("findings_sarif", value);
}

#[test]
fn sarif_structure_holds() {
    let value = render_json(Format::Sarif);
    let report = fixture_report();
    assert_eq!(value["version"], "2.1.0");
    let runs = value["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    let rule_ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let distinct: BTreeSet<&str> = report.findings.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(rule_ids.len(), distinct.len(), "one rule per distinct id");
    assert_eq!(
        rule_ids.iter().copied().collect::<BTreeSet<_>>(),
        distinct,
        "rules are exactly the finding ids"
    );
    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), report.findings.len());
    for result in results {
        let rule_id = result["ruleId"].as_str().expect("ruleId");
        let position = rule_ids
            .iter()
            .position(|id| *id == rule_id)
            .unwrap_or_else(|| panic!("result ruleId {rule_id} is not a rule"));
        if let Some(index) = result.get("ruleIndex") {
            assert_eq!(index, position, "ruleIndex of {rule_id}");
        }
        let finding = report
            .findings
            .iter()
            .find(|f| f.id == rule_id)
            .expect("finding");
        assert_eq!(result["level"], sarif::level(finding.severity), "{rule_id}");
    }
    // The mapping itself, independently of the writer's own function.
    let levels: Vec<&str> = results
        .iter()
        .map(|r| r["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["error", "error", "warning", "note"]);
}

#[test]
fn html_findings_golden() {
    // The page's only time is the fixed context's; redact it anyway so the
    // snapshot does not depend on how the context is built.
    let page = render(Format::Html).replace("2024-05-06T07:08:09Z", "[time]");
    insta::assert_snapshot!("findings_html", page);
}

#[test]
fn html_is_self_contained_and_lists_every_finding() {
    let page = render(Format::Html);
    let report = fixture_report();
    assert!(page.starts_with("<!DOCTYPE html>") || page.starts_with("<!doctype html>"));
    for forbidden in ["<script", "<link", "src=\"http", "@import", "url(http"] {
        assert!(!page.contains(forbidden), "page contains {forbidden}");
    }
    // The summary text holds a `<script>` that must come out escaped.
    assert!(page.contains("&lt;script&gt;"));
    for finding in &report.findings {
        assert!(page.contains(&finding.id), "page lacks {}", finding.id);
        for alias in &finding.aliases {
            assert!(page.contains(alias.as_str()), "page lacks alias {alias}");
        }
    }
    for (severity, count) in [
        ("critical", 1),
        ("high", 1),
        ("medium", 1),
        ("low", 0),
        ("unknown", 1),
    ] {
        let expected = format!("<span class=\"sev {severity}\">{severity}</span> {count}</span>");
        assert!(page.contains(&expected), "page lacks the count {expected}");
    }
    assert!(page.contains("ignored 1 GIT range(s)"), "warning shown");
}

#[test]
fn finding_formats_are_deterministic() {
    for format in [Format::Json, Format::Sarif, Format::Html] {
        assert_eq!(
            render(format),
            render(format),
            "{format} differs between runs"
        );
    }
}
