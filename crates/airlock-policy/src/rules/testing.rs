//! Builders shared by the rules' table-driven tests.

use std::time::Duration;

use airlock_scan_model::{
    Artifact, Finding, FindingPackage, Inventory, OsInfo, Package, Platform, ScanReport, Severity,
    VulnerabilityData,
};
use time::OffsetDateTime;
use time::macros::datetime;

use super::Rule;
use crate::context::Context;
use crate::verdict::RuleFailure;
use crate::{EvaluationInput, Policy};

pub(crate) const NOW: OffsetDateTime = datetime!(2026-11-27 12:00 UTC);

/// A Debian finding in `package` 1.0, fixed in 1.1.
pub(crate) fn finding(id: &str, package: &str, severity: Severity) -> Finding {
    Finding {
        id: id.into(),
        aliases: vec![],
        package: FindingPackage {
            ecosystem: "Debian:12".into(),
            name: package.into(),
            version: "1.0".into(),
        },
        fixed_versions: vec!["1.1".into()],
        severity,
        cvss_score: None,
        cvss_vector: None,
        summary: None,
        references: vec![],
        published: None,
        modified: None,
    }
}

pub(crate) fn package(ecosystem: &str, name: &str, version: &str, purl: &str) -> Package {
    Package {
        ecosystem: ecosystem.into(),
        name: name.into(),
        version: version.into(),
        source_name: None,
        source_version: None,
        purl: purl.into(),
        licenses: vec![],
        layer: "sha256:00".into(),
        path: "var/lib/dpkg/status".into(),
        application: false,
    }
}

/// A matched report for `platform` (`os/arch[/variant]`) on Debian 12.
pub(crate) fn report(platform: Option<&str>, findings: Vec<Finding>) -> ScanReport {
    let platform = platform.map(|text| {
        let parts: Vec<&str> = text.split('/').collect();
        Platform {
            os: parts[0].into(),
            architecture: parts[1].into(),
            variant: parts.get(2).map(|v| (*v).into()),
        }
    });
    ScanReport {
        schema_version: 1,
        inventory: Inventory {
            artifact: Artifact {
                reference: "oci:img".into(),
                digest: "sha256:aa".into(),
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                platform,
            },
            os: Some(OsInfo {
                family: "debian".into(),
                version: "12".into(),
                ecosystem: "Debian:12".into(),
            }),
            layers: vec![],
            packages: vec![],
        },
        findings,
        vulnerability_data: VulnerabilityData::Present,
        warnings: vec![],
    }
}

/// Runs one rule on an input built from `reports`.
pub(crate) fn run_rule_on(
    rule: &dyn Rule,
    policy: &str,
    reports: &[ScanReport],
    vulnerability_data_age: Option<Duration>,
) -> Option<RuleFailure> {
    let policy = Policy::from_yaml(policy).expect("test policy parses");
    let input = EvaluationInput {
        repository: "unscanned/acme/app",
        digest: "sha256:aa",
        reports,
        vulnerability_data_age,
        exceptions: &[],
        now: NOW,
    };
    let context = Context::new(&policy, &input);
    rule.check(&context)
}

/// Runs one rule on one linux/amd64 report holding `findings`.
pub(crate) fn run_rule(
    rule: &dyn Rule,
    policy: &str,
    findings: Vec<Finding>,
) -> Option<RuleFailure> {
    let reports = [report(Some("linux/amd64"), findings)];
    run_rule_on(rule, policy, &reports, Some(Duration::from_secs(3600)))
}
