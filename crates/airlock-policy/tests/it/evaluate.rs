//! Whole evaluations: preprocessing (exceptions, `ignore_unfixed`,
//! `unknown_severity_as`), several rules failing at once, and the verdict
//! document.

use std::time::Duration;

use airlock_policy::{Exception, Policy, RULE_NAMES, evaluate};
use airlock_scan_model::{Finding, Severity};
use time::macros::datetime;

use crate::fixtures::{DIGEST, exception, finding, input, package, report};

fn policy(text: &str) -> Policy {
    Policy::from_yaml(text).expect("test policy parses")
}

fn ghsa_aliasing_cve() -> Finding {
    Finding {
        aliases: vec!["CVE-2024-1".into()],
        ..finding(
            "GHSA-aaaa-bbbb-cccc",
            "openssl",
            "3.0.1",
            Severity::Critical,
            &["3.0.2"],
        )
    }
}

/// Which failed rules and excepted finding ids result from one exception.
fn evaluate_with(exception: Exception, findings: Vec<Finding>) -> (Vec<String>, Vec<String>) {
    let reports = [report("linux/amd64", findings)];
    let exceptions = [exception];
    let verdict = evaluate(
        &policy("block_severity_at_or_above: high"),
        &input(&reports, &exceptions),
    );
    (
        verdict.failures.into_iter().map(|f| f.rule).collect(),
        verdict
            .excepted
            .into_iter()
            .map(|e| format!("{}:{}", e.finding, e.exception))
            .collect(),
    )
}

#[test]
fn exceptions() {
    let base = || exception("EXC-12", "CVE-2024-1");
    let waived = (vec![], vec!["GHSA-aaaa-bbbb-cccc:EXC-12".to_owned()]);
    let not_waived = (vec!["block_severity_at_or_above".to_owned()], vec![]);
    /// (name, exception, (failed rules, excepted findings)).
    type Case = (&'static str, Exception, (Vec<String>, Vec<String>));
    let cases: Vec<Case> = vec![
        ("alias match", base(), waived.clone()),
        (
            "case-insensitive id",
            Exception {
                vulnerability: "cve-2024-1".into(),
                ..base()
            },
            waived.clone(),
        ),
        (
            "direct id match",
            Exception {
                vulnerability: "GHSA-aaaa-bbbb-cccc".into(),
                ..base()
            },
            waived.clone(),
        ),
        (
            "other vulnerability",
            Exception {
                vulnerability: "CVE-2024-2".into(),
                ..base()
            },
            not_waived.clone(),
        ),
        (
            "package narrowed, same package",
            Exception {
                package: Some("openssl".into()),
                ..base()
            },
            waived.clone(),
        ),
        (
            "package narrowed, other package",
            Exception {
                package: Some("libssl3".into()),
                ..base()
            },
            not_waived.clone(),
        ),
        (
            "repository narrowed, same zone",
            Exception {
                repository: Some("unscanned/acme/app".into()),
                ..base()
            },
            waived.clone(),
        ),
        (
            "repository narrowed, other zone, same image name",
            Exception {
                repository: Some("scanned/acme/app".into()),
                ..base()
            },
            waived.clone(),
        ),
        (
            "repository narrowed, other repository",
            Exception {
                repository: Some("unscanned/acme/other".into()),
                ..base()
            },
            not_waived.clone(),
        ),
        (
            "digest narrowed, same digest",
            Exception {
                digest: Some(DIGEST.into()),
                ..base()
            },
            waived.clone(),
        ),
        (
            "digest narrowed, other digest",
            Exception {
                digest: Some("sha256:ffff".into()),
                ..base()
            },
            not_waived.clone(),
        ),
        (
            "expired",
            Exception {
                expires_at: datetime!(2026-11-27 12:00 UTC),
                ..base()
            },
            not_waived.clone(),
        ),
        (
            "unapproved",
            Exception {
                approved: false,
                ..base()
            },
            not_waived.clone(),
        ),
    ];
    for (name, exception, expected) in cases {
        assert_eq!(
            evaluate_with(exception, vec![ghsa_aliasing_cve()]),
            expected,
            "{name}"
        );
    }
}

#[test]
fn the_smallest_applicable_exception_id_is_named() {
    let reports = [report("linux/amd64", vec![ghsa_aliasing_cve()])];
    let exceptions = [
        exception("EXC-9", "CVE-2024-1"),
        exception("EXC-10", "GHSA-aaaa-bbbb-cccc"),
        Exception {
            approved: false,
            ..exception("EXC-1", "CVE-2024-1")
        },
    ];
    let verdict = evaluate(&policy("{}"), &input(&reports, &exceptions));
    let named: Vec<&str> = verdict
        .excepted
        .iter()
        .map(|e| e.exception.as_str())
        .collect();
    assert_eq!(named, ["EXC-10"]);
}

#[test]
fn ignore_unfixed() {
    let findings = || {
        vec![
            finding("CVE-1", "openssl", "3.0.1", Severity::Critical, &[]),
            finding("CVE-2", "zlib", "1.2", Severity::Critical, &[""]),
            finding("CVE-3", "curl", "8.0", Severity::High, &["8.1"]),
        ]
    };
    let cases: &[(&str, &[&str], u64)] = &[
        (
            "block_severity_at_or_above: critical",
            &["block_severity_at_or_above"],
            2,
        ),
        (
            "block_severity_at_or_above: critical\nignore_unfixed: true",
            &[],
            0,
        ),
        (
            "block_severity_at_or_above: high\nignore_unfixed: true",
            &["block_severity_at_or_above"],
            0,
        ),
    ];
    for (text, rules, critical) in cases {
        let reports = [report("linux/amd64", findings())];
        let verdict = evaluate(&policy(text), &input(&reports, &[]));
        let failed: Vec<&str> = verdict.failures.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(failed, *rules, "{text}");
        assert_eq!(verdict.counts["critical"], *critical, "{text}");
    }
}

#[test]
fn unknown_severity_as() {
    let cases: &[(&str, bool, &str)] = &[
        ("block_severity_at_or_above: medium", true, "unknown"),
        (
            "block_severity_at_or_above: medium\nunknown_severity_as: medium",
            false,
            "medium",
        ),
        (
            "block_severity_at_or_above: medium\nunknown_severity_as: low",
            true,
            "low",
        ),
        (
            "max_findings: { high: 0 }\nunknown_severity_as: high",
            false,
            "high",
        ),
    ];
    for (text, passes, counted_as) in cases {
        let reports = [report(
            "linux/amd64",
            vec![finding(
                "CVE-1",
                "openssl",
                "3.0.1",
                Severity::Unknown,
                &["3.0.2"],
            )],
        )];
        let verdict = evaluate(&policy(text), &input(&reports, &[]));
        assert_eq!(verdict.passed, *passes, "{text}: {:?}", verdict.failures);
        assert_eq!(verdict.counts[*counted_as], 1, "{text}");
        if let Some(failure) = verdict.failures.first() {
            assert_eq!(failure.findings[0].severity, *counted_as, "{text}");
        }
    }
}

#[test]
fn require_platforms_on_an_index() {
    let text = r#"require_platforms: ["linux/amd64", "linux/arm64"]"#;
    let cases: &[(&[&str], bool)] = &[
        (&["linux/amd64", "linux/arm64/v8"], true),
        (&["linux/amd64", "linux/arm/v7"], false),
        (&["linux/arm64"], false),
    ];
    for (platforms, passes) in cases {
        let reports: Vec<_> = platforms.iter().map(|p| report(p, vec![])).collect();
        let verdict = evaluate(&policy(text), &input(&reports, &[]));
        assert_eq!(verdict.passed, *passes, "{platforms:?}");
    }
}

#[test]
fn an_index_with_no_report_fails() {
    let verdict = evaluate(&policy("{}"), &input(&[], &[]));
    assert!(!verdict.passed);
    assert_eq!(verdict.failures[0].rule, "scan_coverage");
    assert!(
        verdict.failures[0]
            .message
            .starts_with("no platform was scanned")
    );
}

#[test]
fn the_default_policy_fails_closed_on_missing_data() {
    let reports = [report("linux/amd64", vec![])];
    let mut stale = input(&reports, &[]);
    stale.vulnerability_data_age = None;
    let verdict = evaluate(&Policy::default_policy(), &stale);
    let failed: Vec<&str> = verdict.failures.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(failed, ["max_vulnerability_data_age"]);
    assert!(evaluate(&Policy::default_policy(), &input(&reports, &[])).passed);
}

fn combined_case() -> (Policy, Vec<airlock_scan_model::ScanReport>, Vec<Exception>) {
    let text = r#"
block_severity_at_or_above: high
block_cvss_at_or_above: 9.0
max_findings: { critical: 0, high: 5 }
ignore_unfixed: true
deny_packages: ["npm/event-stream", "pkg:pypi/pyyaml@5.*", "openssl*"]
max_vulnerability_data_age: 7d
block_unknown_os: true
block_eol_os: true
unknown_severity_as: medium
require_platforms: ["linux/amd64", "linux/arm64", "linux/s390x"]
"#;
    let critical = Finding {
        cvss_score: Some(9.8),
        aliases: vec!["CVE-2024-1".into()],
        ..finding(
            "DSA-5001-1",
            "openssl",
            "3.0.1",
            Severity::Critical,
            &["3.0.2"],
        )
    };
    let waived = Finding {
        aliases: vec!["CVE-2024-9".into()],
        ..finding(
            "GHSA-wwww-xxxx-yyyy",
            "curl",
            "8.0",
            Severity::High,
            &["8.1"],
        )
    };
    let unknown = finding("CVE-2024-3", "bash", "5.2", Severity::Unknown, &["5.3"]);
    let unfixed = finding("CVE-2024-4", "zlib1g", "1.2", Severity::Critical, &[]);
    let mut amd64 = report(
        "linux/amd64",
        vec![critical.clone(), waived.clone(), unknown.clone(), unfixed],
    );
    amd64.inventory.packages = vec![
        package(
            "Debian:12",
            "openssl",
            "3.0.1",
            "pkg:deb/debian/openssl@3.0.1",
        ),
        package("npm", "event-stream", "3.3.6", "pkg:npm/event-stream@3.3.6"),
    ];
    amd64.inventory.os = Some(airlock_scan_model::OsInfo {
        family: "debian".into(),
        version: "11.9".into(),
        ecosystem: "Debian:11".into(),
    });
    let mut arm64 = report("linux/arm64/v8", vec![critical, waived, unknown]);
    arm64.inventory.os = None;
    let exceptions = vec![
        exception("EXC-12", "CVE-2024-9"),
        Exception {
            approved: false,
            ..exception("EXC-13", "CVE-2024-1")
        },
    ];
    (policy(text), vec![amd64, arm64], exceptions)
}

#[test]
fn a_combined_policy_lists_every_failure() {
    let (policy, reports, exceptions) = combined_case();
    let mut stale = input(&reports, &exceptions);
    stale.vulnerability_data_age = Some(Duration::from_secs(10 * 86_400));
    let verdict = evaluate(&policy, &stale);
    let failed: Vec<&str> = verdict.failures.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(
        failed,
        [
            "block_cvss_at_or_above",
            "block_eol_os",
            "block_severity_at_or_above",
            "block_unknown_os",
            "deny_packages",
            "max_findings",
            "max_vulnerability_data_age",
            "require_platforms",
        ]
    );
    for rule in &failed {
        assert!(RULE_NAMES.contains(rule), "{rule}");
    }
    assert!(!verdict.passed);
    insta::assert_json_snapshot!("combined_verdict", verdict);
}
