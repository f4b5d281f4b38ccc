//! Reports, findings and exceptions made in code.

use std::time::Duration;

use airlock_policy::{EvaluationInput, Exception};
use airlock_scan_model::{
    Artifact, Finding, FindingPackage, Inventory, OsInfo, Package, Platform, ScanReport, Severity,
    VulnerabilityData,
};
use time::OffsetDateTime;
use time::macros::datetime;

pub const NOW: OffsetDateTime = datetime!(2026-11-27 12:00 UTC);
pub const REPOSITORY: &str = "unscanned/acme/app";
pub const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

pub fn finding(
    id: &str,
    package: &str,
    version: &str,
    severity: Severity,
    fixed: &[&str],
) -> Finding {
    Finding {
        id: id.into(),
        aliases: vec![],
        package: FindingPackage {
            ecosystem: "Debian:12".into(),
            name: package.into(),
            version: version.into(),
        },
        fixed_versions: fixed.iter().map(|v| (*v).to_owned()).collect(),
        severity,
        cvss_score: None,
        cvss_vector: None,
        summary: None,
        references: vec![],
        published: None,
        modified: None,
    }
}

pub fn package(ecosystem: &str, name: &str, version: &str, purl: &str) -> Package {
    Package {
        ecosystem: ecosystem.into(),
        name: name.into(),
        version: version.into(),
        source_name: None,
        source_version: None,
        purl: purl.into(),
        licenses: vec![],
        layer: "sha256:22".into(),
        path: "var/lib/dpkg/status".into(),
        application: false,
    }
}

/// A matched Debian 12 report for `os/arch[/variant]`.
pub fn report(platform: &str, findings: Vec<Finding>) -> ScanReport {
    let parts: Vec<&str> = platform.split('/').collect();
    ScanReport {
        schema_version: 1,
        inventory: Inventory {
            artifact: Artifact {
                reference: format!("{REPOSITORY}@{DIGEST}"),
                digest: "sha256:33".into(),
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                platform: Some(Platform {
                    os: parts[0].into(),
                    architecture: parts[1].into(),
                    variant: parts.get(2).map(|v| (*v).into()),
                }),
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

/// An approved exception for `vulnerability`, expiring in a month.
pub fn exception(id: &str, vulnerability: &str) -> Exception {
    Exception {
        id: id.into(),
        vulnerability: vulnerability.into(),
        package: None,
        repository: None,
        digest: None,
        expires_at: datetime!(2026-12-27 12:00 UTC),
        approved: true,
    }
}

pub fn input<'a>(reports: &'a [ScanReport], exceptions: &'a [Exception]) -> EvaluationInput<'a> {
    EvaluationInput {
        repository: REPOSITORY,
        digest: DIGEST,
        reports,
        vulnerability_data_age: Some(Duration::from_secs(3_600)),
        exceptions,
        now: NOW,
    }
}
