//! `block_eol_os: true`: a scanned platform whose operating system release
//! is past its end of life fails.
//!
//! End-of-life dates come from a small built-in table for Debian (end of LTS
//! security support), Ubuntu (end of standard support, not ESM) and Alpine
//! (end of security support). A release the table does not know (another
//! distribution, or a release newer than the table) passes: there is no data
//! to fail it on. An unknown OS is `block_unknown_os`'s business.

use time::Date;
use time::macros::date;

use super::{Rule, where_found};
use crate::context::Context;
use crate::platform::platform_label;
use crate::verdict::RuleFailure;

pub(crate) struct BlockEolOs;

/// (family, release, first day it is no longer supported).
const END_OF_LIFE: &[(&str, &str, Date)] = &[
    ("alpine", "3.10", date!(2021 - 05 - 01)),
    ("alpine", "3.11", date!(2021 - 11 - 01)),
    ("alpine", "3.12", date!(2022 - 05 - 01)),
    ("alpine", "3.13", date!(2022 - 11 - 01)),
    ("alpine", "3.14", date!(2023 - 05 - 01)),
    ("alpine", "3.15", date!(2023 - 11 - 01)),
    ("alpine", "3.16", date!(2024 - 05 - 23)),
    ("alpine", "3.17", date!(2024 - 11 - 22)),
    ("alpine", "3.18", date!(2025 - 05 - 09)),
    ("alpine", "3.19", date!(2025 - 11 - 01)),
    ("alpine", "3.20", date!(2026 - 04 - 01)),
    ("alpine", "3.21", date!(2026 - 11 - 01)),
    ("alpine", "3.22", date!(2027 - 05 - 01)),
    ("debian", "7", date!(2018 - 05 - 31)),
    ("debian", "8", date!(2020 - 06 - 30)),
    ("debian", "9", date!(2022 - 06 - 30)),
    ("debian", "10", date!(2024 - 06 - 30)),
    ("debian", "11", date!(2026 - 08 - 31)),
    ("debian", "12", date!(2028 - 06 - 30)),
    ("ubuntu", "14.04", date!(2019 - 04 - 30)),
    ("ubuntu", "16.04", date!(2021 - 04 - 30)),
    ("ubuntu", "18.04", date!(2023 - 05 - 31)),
    ("ubuntu", "20.04", date!(2025 - 05 - 31)),
    ("ubuntu", "22.04", date!(2027 - 06 - 01)),
    ("ubuntu", "24.04", date!(2029 - 05 - 31)),
];

/// The release a version belongs to: Debian's major number, Ubuntu's and
/// Alpine's `major.minor`.
fn release<'v>(family: &str, version: &'v str) -> &'v str {
    let components = if family == "debian" { 1 } else { 2 };
    let end = version
        .match_indices('.')
        .nth(components - 1)
        .map_or(version.len(), |(index, _)| index);
    &version[..end]
}

/// The end-of-life date of `family` `version`, when the table knows it.
pub(crate) fn end_of_life(family: &str, version: &str) -> Option<Date> {
    let family = family.to_lowercase();
    let version = version.trim_start_matches('v');
    let release = release(&family, version);
    END_OF_LIFE
        .iter()
        .find(|(f, r, _)| *f == family && *r == release)
        .map(|(_, _, date)| *date)
}

impl Rule for BlockEolOs {
    fn name(&self) -> &'static str {
        "block_eol_os"
    }

    fn check(&self, context: &Context<'_>) -> Option<RuleFailure> {
        if !context.policy.block_eol_os() {
            return None;
        }
        let today = context.input.now.date();
        let mut problems: Vec<String> = Vec::new();
        for report in context.input.reports {
            let Some(os) = &report.inventory.os else {
                continue;
            };
            let Some(eol) = end_of_life(&os.family, &os.version) else {
                continue;
            };
            if today >= eol {
                let platform = report
                    .inventory
                    .artifact
                    .platform
                    .as_ref()
                    .map(platform_label);
                problems.push(format!(
                    "{} {} {} reached end of life on {eol}",
                    os.family,
                    os.version,
                    where_found(platform.as_deref())
                ));
            }
        }
        if problems.is_empty() {
            return None;
        }
        problems.sort();
        problems.dedup();
        Some(RuleFailure {
            rule: self.name().to_owned(),
            message: format!("{}; rebuild on a supported release", problems.join(", ")),
            findings: Vec::new(),
            packages: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use airlock_scan_model::OsInfo;

    use super::super::testing::{report, run_rule_on};

    #[test]
    fn releases() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("debian", "12", Some("2028-06-30")),
            ("debian", "12.4", Some("2028-06-30")),
            ("debian", "9.13", Some("2022-06-30")),
            ("alpine", "3.19.1", Some("2025-11-01")),
            ("alpine", "3.19", Some("2025-11-01")),
            ("ubuntu", "22.04", Some("2027-06-01")),
            ("ubuntu", "22.04.3", Some("2027-06-01")),
            ("debian", "13", None),
            ("rhel", "7", None),
            ("alpine", "3.1", None),
        ];
        for (family, version, expected) in cases {
            let eol = super::end_of_life(family, version).map(|d| d.to_string());
            assert_eq!(eol.as_deref(), *expected, "{family} {version}");
        }
    }

    #[test]
    fn table() {
        let policy = "block_eol_os: true";
        let cases: &[(&str, &str, &str, Option<&str>)] = &[
            (policy, "debian", "12", None),
            (
                policy,
                "debian",
                "9",
                Some(
                    "debian 9 on linux/amd64 reached end of life on 2022-06-30; rebuild on a supported release",
                ),
            ),
            (
                policy,
                "alpine",
                "3.21.0",
                Some(
                    "alpine 3.21.0 on linux/amd64 reached end of life on 2026-11-01; rebuild on a supported release",
                ),
            ),
            (policy, "alpine", "3.22.1", None),
            (policy, "wolfi", "20230201", None),
            ("block_eol_os: false", "debian", "9", None),
        ];
        for (policy, family, version, expected) in cases {
            let mut scanned = report(Some("linux/amd64"), vec![]);
            scanned.inventory.os = Some(OsInfo {
                family: (*family).into(),
                version: (*version).into(),
                ecosystem: String::new(),
            });
            let age = Some(std::time::Duration::from_secs(60));
            let failure = run_rule_on(&super::BlockEolOs, policy, &[scanned], age);
            assert_eq!(
                failure.map(|f| f.message).as_deref(),
                *expected,
                "{family} {version}"
            );
        }
    }
}
