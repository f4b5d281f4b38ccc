//! SARIF 2.1.0, for code-scanning dashboards (GitHub, GitLab, Azure DevOps).
//!
//! One run per platform report; one rule per vulnerability id (with its
//! summary, first reference and a `security-severity` score that GitHub uses
//! to rank); one result per finding, located at the file each affected
//! package was read from. Levels: critical and high are `error`, medium
//! `warning`, low and unknown `note`.

use std::collections::BTreeMap;

use airlock_scan_model::{Finding, ScanReport, Severity};
use serde_json::{Value, json};

use crate::{ReportContext, ReportError, to_pretty_json};

/// The SARIF version written.
pub const SARIF_VERSION: &str = "2.1.0";
const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Renders `reports` as one SARIF 2.1.0 log.
pub fn write(reports: &[ScanReport], context: &ReportContext) -> Result<String, ReportError> {
    if reports.is_empty() {
        return Err(ReportError::Empty);
    }
    let runs: Vec<Value> = reports.iter().map(|r| run(r, context)).collect();
    let log = json!({
        "version": SARIF_VERSION,
        "$schema": SARIF_SCHEMA,
        "runs": runs,
    });
    to_pretty_json("sarif", &log)
}

/// SARIF result level of a severity.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Unknown => "note",
    }
}

/// GitHub's `security-severity`: the CVSS score, else the rating's floor.
fn security_severity(finding: &Finding) -> Option<String> {
    let score = finding.cvss_score.or(match finding.severity {
        Severity::Critical => Some(9.0),
        Severity::High => Some(7.0),
        Severity::Medium => Some(4.0),
        Severity::Low => Some(0.1),
        Severity::Unknown => None,
    })?;
    Some(format!("{score:.1}"))
}

fn run(report: &ScanReport, context: &ReportContext) -> Value {
    // Rules: one per id, in id order; a rule takes its most severe finding.
    let mut by_id: BTreeMap<&str, &Finding> = BTreeMap::new();
    for finding in &report.findings {
        let entry = by_id.entry(finding.id.as_str()).or_insert(finding);
        if finding.severity > entry.severity {
            *entry = finding;
        }
    }
    let index: BTreeMap<&str, usize> = by_id.keys().enumerate().map(|(i, id)| (*id, i)).collect();
    let rules: Vec<Value> = by_id
        .values()
        .map(|finding| {
            let summary = finding
                .summary
                .clone()
                .unwrap_or_else(|| finding.id.clone());
            let mut help = format!("{}\n\nAliases: {}", summary, finding.aliases.join(", "));
            if finding.aliases.is_empty() {
                help = summary.clone();
            }
            let mut properties = json!({
                "tags": ["security", "vulnerability", finding.severity.as_str()],
            });
            if let Some(score) = security_severity(finding) {
                properties["security-severity"] = json!(score);
            }
            let mut rule = json!({
                "id": finding.id,
                "name": finding.id,
                "shortDescription": {"text": summary},
                "fullDescription": {"text": summary},
                "help": {"text": help},
                "defaultConfiguration": {"level": level(finding.severity)},
                "properties": properties,
            });
            if let Some(url) = finding.references.first() {
                rule["helpUri"] = json!(url);
            }
            rule
        })
        .collect();

    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|finding| {
            let package = &finding.package;
            let fixed = if finding.fixed_versions.is_empty() {
                "no fixed version".to_owned()
            } else {
                format!("fixed in {}", finding.fixed_versions.join(", "))
            };
            let text = format!(
                "{} {} ({}) is affected by {} [{}]; {fixed}",
                package.name,
                package.version,
                package.ecosystem,
                finding.id,
                finding.severity.as_str()
            );
            let mut paths: Vec<&str> = report
                .inventory
                .packages
                .iter()
                .filter(|p| {
                    p.ecosystem == package.ecosystem
                        && p.name == package.name
                        && p.version == package.version
                })
                .map(|p| p.path.as_str())
                .collect();
            paths.sort();
            paths.dedup();
            let locations: Vec<Value> = paths
                .iter()
                .map(|path| {
                    json!({
                        "physicalLocation": {"artifactLocation": {"uri": path}},
                        "message": {"text": format!("{} {}", package.name, package.version)},
                    })
                })
                .collect();
            json!({
                "ruleId": finding.id,
                "ruleIndex": index[finding.id.as_str()],
                "level": level(finding.severity),
                "message": {"text": text},
                "locations": locations,
                "partialFingerprints": {
                    "vulnerabilityPackage": format!("{}/{}/{}/{}", finding.id, package.ecosystem, package.name, package.version),
                },
            })
        })
        .collect();

    json!({
        "tool": {"driver": {
            "name": context.tool_name,
            "version": context.tool_version,
            "rules": rules,
        }},
        "automationDetails": {"id": format!("{}/{}", report.inventory.artifact.reference, report.inventory.artifact.digest)},
        "properties": {
            "imageDigest": report.inventory.artifact.digest,
            "vulnerabilityData": report.vulnerability_data,
        },
        "results": results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::html::tests::sample_report;

    #[test]
    fn one_rule_per_id_and_levels_from_severity() {
        let report = sample_report();
        let text = write(
            &[report],
            &ReportContext::fixed(
                time::macros::datetime!(2024-01-02 03:04:05 UTC),
                uuid::Uuid::nil(),
            ),
        )
        .unwrap();
        let log: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids, vec!["CVE-2024-1", "GHSA-low"]);
        assert_eq!(rules[0]["properties"]["security-severity"], "9.8");
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 3);
        assert_eq!(results[0]["level"], "error");
        assert_eq!(results[0]["ruleIndex"], 0);
        assert_eq!(results[2]["level"], "note");
        assert_eq!(results[2]["ruleId"], "GHSA-low");
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "var/lib/dpkg/status"
        );
    }

    #[test]
    fn no_reports_is_an_error() {
        assert!(write(&[], &ReportContext::now()).is_err());
    }
}
