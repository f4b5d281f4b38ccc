//! `scan_coverage`, the built-in rule no policy can switch off: an image
//! with no scanned platform fails ("no platform was scanned"), and so does a
//! platform that was not matched against vulnerability data (its report says
//! `missing` or `skipped`), because an empty findings list would then mean
//! nothing.

use airlock_scan_model::VulnerabilityData;

use super::{Rule, where_found};
use crate::context::Context;
use crate::platform::platform_label;
use crate::verdict::RuleFailure;

pub(crate) struct ScanCoverage;

impl Rule for ScanCoverage {
    fn name(&self) -> &'static str {
        "scan_coverage"
    }

    fn check(&self, context: &Context<'_>) -> Option<RuleFailure> {
        let reports = context.input.reports;
        let message = if reports.is_empty() {
            "no platform was scanned; scan the image before evaluating it".to_owned()
        } else {
            let mut unmatched: Vec<String> = reports
                .iter()
                .filter(|report| report.vulnerability_data != VulnerabilityData::Present)
                .map(|report| {
                    let platform = report
                        .inventory
                        .artifact
                        .platform
                        .as_ref()
                        .map(platform_label);
                    let state = match report.vulnerability_data {
                        VulnerabilityData::Missing => "missing",
                        VulnerabilityData::Skipped | VulnerabilityData::Present => "skipped",
                    };
                    format!("{} ({state})", where_found(platform.as_deref()))
                })
                .collect();
            if unmatched.is_empty() {
                return None;
            }
            unmatched.sort();
            unmatched.dedup();
            format!(
                "packages were not matched against vulnerability data {}; rescan once the vulnerability database is loaded",
                unmatched.join(", ")
            )
        };
        Some(RuleFailure {
            rule: self.name().to_owned(),
            message,
            findings: Vec::new(),
            packages: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use airlock_scan_model::VulnerabilityData;

    use super::super::testing::{report, run_rule_on};

    #[test]
    fn table() {
        /// (scanned platforms with their data state, expected message).
        type Case<'a> = (&'a [(Option<&'a str>, VulnerabilityData)], Option<&'a str>);
        let cases: &[Case] = &[
            (&[(Some("linux/amd64"), VulnerabilityData::Present)], None),
            (
                &[],
                Some("no platform was scanned; scan the image before evaluating it"),
            ),
            (
                &[
                    (Some("linux/amd64"), VulnerabilityData::Present),
                    (Some("linux/arm64"), VulnerabilityData::Missing),
                ],
                Some(
                    "packages were not matched against vulnerability data on linux/arm64 (missing); rescan once the vulnerability database is loaded",
                ),
            ),
            (
                &[(None, VulnerabilityData::Skipped)],
                Some(
                    "packages were not matched against vulnerability data in the image (skipped); rescan once the vulnerability database is loaded",
                ),
            ),
        ];
        for (platforms, expected) in cases {
            let reports: Vec<_> = platforms
                .iter()
                .map(|(platform, data)| {
                    let mut scanned = report(*platform, vec![]);
                    scanned.vulnerability_data = *data;
                    scanned
                })
                .collect();
            let age = Some(std::time::Duration::from_secs(60));
            let failure = run_rule_on(&super::ScanCoverage, "{}", &reports, age);
            assert_eq!(
                failure.map(|f| f.message).as_deref(),
                *expected,
                "{platforms:?}"
            );
        }
    }
}
