//! Table tests of matching over hand-written OSV records, with the real
//! version schemes.

use airlock_matcher::{Advisory, MatchOutcome, MemorySource, match_packages};
use airlock_scan_model::{Package, Severity};
use serde_json::{Value, json};

fn record(value: Value) -> Advisory {
    let mut value = value;
    if value.get("modified").is_none() {
        value["modified"] = json!("2024-01-01T00:00:00Z");
    }
    Advisory::from_json(value.to_string().as_bytes()).expect("valid test record")
}

fn package(ecosystem: &str, name: &str, version: &str) -> Package {
    Package {
        ecosystem: ecosystem.into(),
        name: name.into(),
        version: version.into(),
        source_name: None,
        source_version: None,
        purl: String::new(),
        licenses: Vec::new(),
        layer: "sha256:00".into(),
        path: "var/lib/dpkg/status".into(),
        application: false,
    }
}

fn run(records: Vec<Value>, packages: &[Package]) -> MatchOutcome {
    let source = MemorySource::new(records.into_iter().map(record).collect());
    match_packages(packages, &source)
}

fn ids(outcome: &MatchOutcome) -> Vec<String> {
    outcome.findings.iter().map(|f| f.id.clone()).collect()
}

fn pypi(name: &str, events: Value) -> Value {
    json!({"id": "PYSEC-1", "affected": [{"package": {"ecosystem": "PyPI", "name": name},
        "ranges": [{"type": "ECOSYSTEM", "events": events}]}]})
}

/// (case, events, version, affected?)
#[test]
fn ecosystem_range_table() {
    let cases: &[(&str, Value, &str, bool)] = &[
        (
            "introduced 0 + fixed: below",
            json!([{"introduced": "0"}, {"fixed": "2.2.1"}]),
            "2.2.0",
            true,
        ),
        (
            "introduced 0 + fixed: at fix",
            json!([{"introduced": "0"}, {"fixed": "2.2.1"}]),
            "2.2.1",
            false,
        ),
        (
            "introduced 0 + fixed: pre-release of fix",
            json!([{"introduced": "0"}, {"fixed": "2.2.1"}]),
            "2.2.1rc1",
            true,
        ),
        (
            "last_affected: at",
            json!([{"introduced": "1.0"}, {"last_affected": "1.4"}]),
            "1.4",
            true,
        ),
        (
            "last_affected: above",
            json!([{"introduced": "1.0"}, {"last_affected": "1.4"}]),
            "1.4.post1",
            false,
        ),
        (
            "last_affected: below introduced",
            json!([{"introduced": "1.0"}, {"last_affected": "1.4"}]),
            "0.9",
            false,
        ),
        (
            "two pairs: in first",
            json!([{"introduced": "1.0"}, {"fixed": "1.5"}, {"introduced": "2.0"}, {"fixed": "2.3"}]),
            "1.4.9",
            true,
        ),
        (
            "two pairs: between",
            json!([{"introduced": "1.0"}, {"fixed": "1.5"}, {"introduced": "2.0"}, {"fixed": "2.3"}]),
            "1.10",
            false,
        ),
        (
            "two pairs: in second",
            json!([{"introduced": "1.0"}, {"fixed": "1.5"}, {"introduced": "2.0"}, {"fixed": "2.3"}]),
            "2.2",
            true,
        ),
        (
            "two pairs: after",
            json!([{"introduced": "1.0"}, {"fixed": "1.5"}, {"introduced": "2.0"}, {"fixed": "2.3"}]),
            "2.3",
            false,
        ),
        (
            "pairs out of order",
            json!([{"introduced": "2.0"}, {"fixed": "2.3"}, {"introduced": "0"}, {"fixed": "1.5"}]),
            "1.7",
            false,
        ),
        (
            "limit: under",
            json!([{"introduced": "1.0"}, {"limit": "3.0"}]),
            "2.9",
            true,
        ),
        (
            "limit: at",
            json!([{"introduced": "1.0"}, {"limit": "3.0"}]),
            "3.0",
            false,
        ),
        ("open-ended", json!([{"introduced": "1.0"}]), "99", true),
    ];
    for (case, events, version, expected) in cases {
        let outcome = run(
            vec![pypi("demo", events.clone())],
            &[package("PyPI", "demo", version)],
        );
        assert_eq!(
            !outcome.findings.is_empty(),
            *expected,
            "{case}: {outcome:?}"
        );
        assert!(
            outcome.warnings.is_empty(),
            "{case}: {:?}",
            outcome.warnings
        );
    }
}

#[test]
fn fixed_versions_come_from_matching_ranges() {
    let outcome = run(
        vec![pypi(
            "demo",
            json!([{"introduced": "1.0"}, {"fixed": "1.5"}, {"introduced": "2.0"}, {"fixed": "2.3"}]),
        )],
        &[package("PyPI", "demo", "2.1")],
    );
    assert_eq!(outcome.findings[0].fixed_versions, vec!["2.3"]);
}

#[test]
fn exact_versions_list() {
    let records = vec![
        json!({"id": "GHSA-v", "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"},
        "versions": ["1.0.0", "1.0.2"]}]}),
    ];
    assert_eq!(
        run(records.clone(), &[package("npm", "left-pad", "1.0.2")])
            .findings
            .len(),
        1
    );
    assert!(
        run(records, &[package("npm", "left-pad", "1.0.1")])
            .findings
            .is_empty()
    );
}

#[test]
fn semver_range_for_crates() {
    let records = vec![
        json!({"id": "RUSTSEC-2020-0001", "affected": [{"package": {"ecosystem": "crates.io", "name": "smallvec"},
        "ranges": [{"type": "SEMVER", "events": [{"introduced": "0.6.3"}, {"fixed": "0.6.14"}, {"introduced": "1.0.0"}, {"fixed": "1.6.1"}]}]}]}),
    ];
    assert_eq!(
        run(
            records.clone(),
            &[package("crates.io", "smallvec", "0.6.10")]
        )
        .findings
        .len(),
        1
    );
    assert!(
        run(
            records.clone(),
            &[package("crates.io", "smallvec", "0.6.14")]
        )
        .findings
        .is_empty()
    );
    assert!(
        run(records, &[package("crates.io", "smallvec", "1.6.1")])
            .findings
            .is_empty()
    );
}

#[test]
fn git_ranges_are_ignored_with_a_counted_warning() {
    let records = vec![
        json!({"id": "OSV-G", "affected": [{"package": {"ecosystem": "PyPI", "name": "demo"},
        "ranges": [{"type": "GIT", "repo": "https://example.invalid/x", "events": [{"introduced": "0"}, {"fixed": "abc123"}]}]}]}),
    ];
    let outcome = run(records, &[package("PyPI", "demo", "1.0")]);
    assert!(outcome.findings.is_empty());
    assert_eq!(outcome.stats.git_ranges_ignored, 1);
    assert!(
        outcome.warnings.iter().any(|w| w.contains("GIT")),
        "{:?}",
        outcome.warnings
    );
}

#[test]
fn withdrawn_records_never_match() {
    let mut withdrawn = pypi("demo", json!([{"introduced": "0"}]));
    withdrawn["withdrawn"] = json!("2024-02-01T00:00:00Z");
    let outcome = run(vec![withdrawn], &[package("PyPI", "demo", "1.0")]);
    assert!(outcome.findings.is_empty());
    assert_eq!(outcome.stats.withdrawn_skipped, 1);
}

#[test]
fn unparseable_installed_version_is_a_warning_not_a_finding() {
    let outcome = run(
        vec![pypi("demo", json!([{"introduced": "0"}, {"fixed": "2.0"}]))],
        &[package("PyPI", "demo", "not a version!")],
    );
    assert!(outcome.findings.is_empty());
    assert_eq!(outcome.warnings.len(), 1, "{:?}", outcome.warnings);
    let warning = &outcome.warnings[0];
    assert!(
        warning.contains("demo")
            && warning.contains("not a version!")
            && warning.contains("PYSEC-1"),
        "{warning}"
    );
}

#[test]
fn unparseable_event_version_is_a_warning_naming_the_record() {
    let outcome = run(
        vec![pypi("demo", json!([{"introduced": "0"}, {"fixed": "@@"}]))],
        &[package("PyPI", "demo", "1.0")],
    );
    assert!(outcome.findings.is_empty());
    assert!(
        outcome.warnings[0].contains("PYSEC-1") && outcome.warnings[0].contains("@@"),
        "{:?}",
        outcome.warnings
    );
}

#[test]
fn aliases_are_deduplicated_into_one_finding() {
    let affected = json!([{"package": {"ecosystem": "PyPI", "name": "django"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.2.1"}]}]}]);
    let other = json!([{"package": {"ecosystem": "PyPI", "name": "django"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.0"}, {"fixed": "2.2.2"}]}]}]);
    let records = vec![
        json!({"id": "PYSEC-2019-1", "aliases": ["CVE-2019-1"], "affected": affected}),
        json!({"id": "GHSA-aaaa", "aliases": ["CVE-2019-1", "PYSEC-2019-1"], "affected": other}),
        json!({"id": "GHSA-zzzz", "affected": affected}),
    ];
    let outcome = run(records, &[package("PyPI", "django", "2.2.0")]);
    assert_eq!(ids(&outcome), vec!["GHSA-aaaa", "GHSA-zzzz"]);
    let merged = &outcome.findings[0];
    assert_eq!(merged.aliases, vec!["CVE-2019-1", "PYSEC-2019-1"]);
    assert_eq!(merged.fixed_versions, vec!["2.2.1", "2.2.2"]);
}

#[test]
fn debian_matches_by_source_package_and_release() {
    let records = vec![
        json!({"id": "DSA-5380-1", "aliases": ["CVE-2023-1393"], "affected": [
        {"package": {"ecosystem": "Debian:11", "name": "xorg-server"},
         "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2:1.20.11-1+deb11u6"}]}]}]}),
    ];
    let mut binary = package("Debian:11", "xserver-common", "2:1.20.11-1+deb11u5");
    binary.source_name = Some("xorg-server".into());
    let outcome = run(records.clone(), std::slice::from_ref(&binary));
    assert_eq!(ids(&outcome), vec!["DSA-5380-1"]);
    assert_eq!(outcome.findings[0].package.name, "xserver-common");
    assert_eq!(
        outcome.findings[0].fixed_versions,
        vec!["2:1.20.11-1+deb11u6"]
    );

    let mut fixed = binary.clone();
    fixed.version = "2:1.20.11-1+deb11u6".into();
    assert!(run(records.clone(), &[fixed]).findings.is_empty());

    let mut other_release = binary.clone();
    other_release.ecosystem = "Debian:12".into();
    assert!(run(records.clone(), &[other_release]).findings.is_empty());

    // The source version decides when the binary version differs (binNMU).
    let mut bin_nmu = binary;
    bin_nmu.version = "2:1.20.11-1+deb11u6+b1".into();
    bin_nmu.source_version = Some("2:1.20.11-1+deb11u5".into());
    assert_eq!(run(records, &[bin_nmu]).findings.len(), 1);
}

#[test]
fn alpine_matches_by_origin() {
    let records = vec![json!({"id": "ALPINE-CVE-2019-5", "affected": [
        {"package": {"ecosystem": "Alpine:v3.10", "name": "openssl"},
         "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1.1d-r0"}]}]}]})];
    let mut libcrypto = package("Alpine:v3.10", "libcrypto1.1", "1.1.1c-r0");
    libcrypto.source_name = Some("openssl".into());
    assert_eq!(run(records, &[libcrypto]).findings.len(), 1);
}

#[test]
fn ubuntu_lts_and_pro_suffixes_match_the_release() {
    let record = |id: &str, ecosystem: &str| {
        json!({"id": id, "affected": [
        {"package": {"ecosystem": ecosystem, "name": "openssl"},
         "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.2-0ubuntu1.10"}]}]}]})
    };
    let records = vec![
        record("UBUNTU-CVE-1", "Ubuntu:22.04:LTS"),
        record("UBUNTU-CVE-2", "Ubuntu:Pro:22.04:LTS"),
        record("UBUNTU-CVE-3", "Ubuntu:20.04:LTS"),
    ];
    let outcome = run(
        records,
        &[package("Ubuntu:22.04", "openssl", "3.0.2-0ubuntu1.9")],
    );
    assert_eq!(ids(&outcome), vec!["UBUNTU-CVE-1", "UBUNTU-CVE-2"]);
}

#[test]
fn python_names_are_pep503_normalised_on_both_sides() {
    let records = vec![pypi(
        "Zope.Interface",
        json!([{"introduced": "0"}, {"fixed": "5.0"}]),
    )];
    assert_eq!(
        run(records, &[package("PyPI", "zope_interface", "4.0")])
            .findings
            .len(),
        1
    );
}

#[test]
fn go_modules_and_stdlib() {
    let records = vec![
        json!({"id": "GO-2023-0001", "affected": [{"package": {"ecosystem": "Go", "name": "stdlib"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.20.7"}, {"introduced": "1.21.0-0"}, {"fixed": "1.21.1"}]}]}]}),
        json!({"id": "GO-2022-0002", "affected": [{"package": {"ecosystem": "Go", "name": "golang.org/x/net"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "0.7.0"}]}]}]}),
    ];
    let outcome = run(
        records.clone(),
        &[
            package("Go", "stdlib", "go1.21.0"),
            package(
                "Go",
                "golang.org/x/net",
                "v0.0.0-20220722155237-a158d28d115b",
            ),
        ],
    );
    assert_eq!(
        ids(&outcome),
        vec!["GO-2022-0002", "GO-2023-0001"],
        "{:?}",
        outcome.warnings
    );
    assert!(
        run(records, &[package("Go", "stdlib", "go1.20.7")])
            .findings
            .is_empty()
    );
}

fn severity_of(extra: Value) -> (Severity, Option<f64>) {
    let mut value = pypi("demo", json!([{"introduced": "0"}]));
    for (key, field) in extra.as_object().unwrap() {
        if key == "affected_extra" {
            for (k, v) in field.as_object().unwrap() {
                value["affected"][0][k] = v.clone();
            }
        } else {
            value[key] = field.clone();
        }
    }
    let outcome = run(vec![value], &[package("PyPI", "demo", "1.0")]);
    let finding = &outcome.findings[0];
    (finding.severity, finding.cvss_score)
}

#[test]
fn severity_table() {
    let v31 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
    assert_eq!(
        severity_of(json!({"severity": [{"type": "CVSS_V3", "score": v31}]})),
        (Severity::Critical, Some(9.8))
    );
    assert_eq!(
        severity_of(
            json!({"severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"}]})
        ),
        (Severity::Low, Some(1.8))
    );
    let v4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N";
    assert_eq!(
        severity_of(json!({"severity": [{"type": "CVSS_V4", "score": v4}]})),
        (Severity::Critical, Some(9.3))
    );
    assert_eq!(
        severity_of(json!({"database_specific": {"severity": "MODERATE", "cwe_ids": []}})),
        (Severity::Medium, None)
    );
    assert_eq!(
        severity_of(json!({"affected_extra": {"ecosystem_specific": {"urgency": "high"}}})),
        (Severity::High, None)
    );
    assert_eq!(
        severity_of(json!({"affected_extra": {"database_specific": {"severity": "LOW"}}})),
        (Severity::Low, None)
    );
    // A vector wins over the feed's word.
    assert_eq!(
        severity_of(
            json!({"severity": [{"type": "CVSS_V3", "score": v31}], "database_specific": {"severity": "LOW"}})
        ),
        (Severity::Critical, Some(9.8))
    );
    assert_eq!(severity_of(json!({})), (Severity::Unknown, None));
    assert_eq!(
        severity_of(json!({"severity": [{"type": "CVSS_V3", "score": "garbage"}]})),
        (Severity::Unknown, None)
    );
}

#[test]
fn findings_sort_by_severity_then_id() {
    let critical =
        json!([{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]);
    let mut a = pypi("demo", json!([{"introduced": "0"}]));
    a["id"] = json!("A-1");
    let mut b = pypi("demo", json!([{"introduced": "0"}]));
    b["id"] = json!("B-1");
    b["severity"] = critical;
    let mut c = pypi("demo", json!([{"introduced": "0"}]));
    c["id"] = json!("C-1");
    let outcome = run(vec![c, a, b], &[package("PyPI", "demo", "1.0")]);
    assert_eq!(ids(&outcome), vec!["B-1", "A-1", "C-1"]);
}

#[test]
fn bad_records_are_rejected_by_the_parser() {
    let unknown_range = json!({"id": "X", "modified": "2024-01-01T00:00:00Z", "affected": [{"package": {"ecosystem": "PyPI", "name": "x"},
        "ranges": [{"type": "CALVER", "events": [{"introduced": "0"}]}]}]});
    assert!(Advisory::from_json(unknown_range.to_string().as_bytes()).is_err());
    let no_modified = json!({"id": "X"});
    assert!(Advisory::from_json(no_modified.to_string().as_bytes()).is_err());
    assert!(Advisory::from_json(b"{not json").is_err());
}

#[test]
fn application_packages_are_listed_but_never_matched() {
    let records = vec![pypi("webapp", json!([{"introduced": "0"}]))];
    let dependency = package("PyPI", "webapp", "1.0.0");
    let mut application = dependency.clone();
    application.application = true;
    assert_eq!(
        ids(&run(records.clone(), &[dependency])).len(),
        1,
        "the record matches a dependency"
    );
    assert!(
        ids(&run(records, &[application])).is_empty(),
        "but not the project itself"
    );
}
