//! Policy documents: accepted forms, errors with line numbers, and the
//! canonical round trip.

use airlock_policy::{Policy, PolicyError};
use airlock_scan_model::Severity;

#[test]
fn errors_name_the_line_and_the_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "unknown key",
            "ignore_unfixed: true\nblock_unknown_os: true\nblock_sevrity_at_or_above: high\n",
            "line 3: unknown rule \"block_sevrity_at_or_above\"; expected one of block_severity_at_or_above, block_cvss_at_or_above,",
        ),
        (
            "bad severity",
            "# policy\nblock_severity_at_or_above: hihg\n",
            "line 2, column 29: block_severity_at_or_above: invalid severity \"hihg\"; use critical, high, medium, low or unknown",
        ),
        (
            "bad severity in max_findings",
            "max_findings:\n  critical: 0\n  hihg: 5\n",
            "line 3, column 3: max_findings: invalid severity \"hihg\"",
        ),
        (
            "bad duration",
            "max_vulnerability_data_age: 7days\n",
            "line 1, column 29: max_vulnerability_data_age: invalid duration \"7days\"; use a whole number followed by s, m, h or d, e.g. 7d",
        ),
        (
            "wrong type for a boolean",
            "ignore_unfixed: yes please\n",
            "line 1, column 17: ignore_unfixed: invalid type: string \"yes please\", expected a boolean",
        ),
        (
            "wrong type for a list",
            "deny_packages: openssl\n",
            "line 1, column 16: deny_packages: invalid type: string \"openssl\", expected a sequence",
        ),
        (
            "wrong type for a count",
            "max_findings: { critical: -1 }\n",
            "line 1, column 27: max_findings.critical: invalid limit -1; use a whole number of findings, 0 or more",
        ),
        (
            "fraction for a count",
            "max_findings: { high: 2.5 }\n",
            "line 1, column 23: max_findings.high: invalid type: floating point `2.5`, expected a whole number of findings, 0 or more",
        ),
        (
            "cvss out of range",
            "block_cvss_at_or_above: 11\n",
            "line 1, column 25: block_cvss_at_or_above: invalid CVSS score 11; use a number from 0.0 to 10.0",
        ),
        (
            "cvss not a number",
            "block_cvss_at_or_above: high\n",
            "line 1, column 25: block_cvss_at_or_above: invalid type: string \"high\", expected a CVSS score from 0.0 to 10.0",
        ),
        (
            "bad platform",
            "require_platforms:\n  - linux/amd64\n  - arm64\n",
            "line 3, column 5: require_platforms[1]: invalid platform \"arm64\"",
        ),
        (
            "bad package pattern",
            "deny_packages: [\"npm/\"]\n",
            "line 1, column 17: deny_packages[0]: invalid package pattern \"npm/\"",
        ),
        (
            "repeated key",
            "ignore_unfixed: true\nignore_unfixed: false\n",
            "line 2: rule \"ignore_unfixed\" is given twice",
        ),
        (
            "not a map",
            "- block_unknown_os\n",
            "line 1: invalid type: sequence, expected a policy",
        ),
    ];
    for (name, document, expected) in cases {
        let error = Policy::from_yaml(document).expect_err(name);
        let text = error.to_string();
        assert!(text.starts_with(expected), "{name}: {text}");
    }
}

#[test]
fn errors_expose_the_line() {
    let error = Policy::from_yaml("ignore_unfixed: true\n\nunknown_severity_as: severe\n")
        .expect_err("bad severity");
    assert_eq!(error.line(), Some(3));
    assert!(
        matches!(error, PolicyError::Invalid { column: 22, .. }),
        "{error:?}"
    );
}

#[test]
fn every_key_is_accepted() {
    let document = r#"
# all keys optional; unknown keys are errors
block_severity_at_or_above: high        # critical|high|medium|low|unknown
block_cvss_at_or_above: 9.0
max_findings: { critical: 0, high: 5 }  # per severity
ignore_unfixed: true
deny_packages: ["npm/event-stream", "pkg:pypi/pyyaml@5.*", "openssl*"]
max_vulnerability_data_age: 7d
block_unknown_os: true
block_eol_os: false
unknown_severity_as: medium
require_platforms: ["linux/amd64", "linux/arm64"]
demote_after: 2d
"#;
    let policy = Policy::from_yaml(document).expect("parses");
    assert_eq!(
        policy.demote_after(),
        Some(std::time::Duration::from_secs(2 * 86_400))
    );
    assert_eq!(policy.block_severity_at_or_above(), Some(Severity::High));
    assert_eq!(policy.block_cvss_at_or_above(), Some(9.0));
    assert_eq!(policy.max_findings().get(&Severity::High), Some(&5));
    assert!(policy.ignore_unfixed());
    assert_eq!(policy.deny_packages().len(), 3);
    assert_eq!(
        policy
            .max_vulnerability_data_age()
            .map(|a| a.as_duration().as_secs()),
        Some(7 * 86_400)
    );
    assert!(policy.block_unknown_os());
    assert!(!policy.block_eol_os());
    assert_eq!(policy.unknown_severity_as(), Some(Severity::Medium));
    assert_eq!(policy.require_platforms().len(), 2);
    insta::assert_snapshot!(policy.to_yaml(), @r#"
    block_severity_at_or_above: high
    block_cvss_at_or_above: 9.0
    max_findings:
      critical: 0
      high: 5
    ignore_unfixed: true
    deny_packages:
    - npm/event-stream
    - pkg:pypi/pyyaml@5.*
    - openssl*
    max_vulnerability_data_age: 7d
    block_unknown_os: true
    unknown_severity_as: medium
    require_platforms:
    - linux/amd64
    - linux/arm64
    demote_after: 2d
    "#);
}

#[test]
fn round_trips_through_the_canonical_form() {
    let documents = [
        "",
        "# only a comment\n",
        "{}",
        "block_cvss_at_or_above: 7\nmax_vulnerability_data_age: 168h\n",
        "max_findings: { unknown: 3, critical: 0, low: 100 }\nblock_eol_os: true\n",
        "deny_packages: ['@babel/core', 'golang.org/x/*', 'Debian:12/openssl']\nrequire_platforms: [linux/arm64/v8, Linux/AMD64]\n",
        "unknown_severity_as: critical\nblock_severity_at_or_above: unknown\nmax_vulnerability_data_age: 90m\n",
    ];
    for document in documents {
        let policy = Policy::from_yaml(document).expect(document);
        let canonical = policy.to_yaml();
        let reparsed = Policy::from_yaml(&canonical).expect(&canonical);
        assert_eq!(reparsed, policy, "{document:?} -> {canonical:?}");
        assert_eq!(
            reparsed.to_yaml(),
            canonical,
            "canonical form is a fixed point"
        );
    }
    let default = Policy::default_policy();
    assert_eq!(
        Policy::from_yaml(&default.to_yaml()).expect("parses"),
        default
    );
}

#[test]
fn canonical_form_normalises_units_and_order() {
    let policy = Policy::from_yaml(
        "max_vulnerability_data_age: 168h\nmax_findings: { low: 1, critical: 0 }\nblock_cvss_at_or_above: 7\n",
    )
    .expect("parses");
    assert_eq!(
        policy.to_yaml(),
        "block_cvss_at_or_above: 7.0\nmax_findings:\n  critical: 0\n  low: 1\nmax_vulnerability_data_age: 7d\n"
    );
}

#[test]
fn empty_documents_have_no_rules() {
    for document in ["", "# nothing\n", "{}"] {
        let policy = Policy::from_yaml(document).expect(document);
        assert_eq!(policy.to_yaml(), "{}\n", "{document:?}");
    }
}
