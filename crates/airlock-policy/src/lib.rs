//! The quarantine gate's policy: what the security team writes, and the
//! verdict it gives on a scanned image.
//!
//! A [`Policy`] is parsed once from YAML into typed values ([`Policy::from_yaml`]);
//! every key is optional, unknown keys are errors, and [`Policy::to_yaml`]
//! prints one canonical form. [`evaluate`] applies it to the scan reports of
//! one image (one per platform of an index) and returns a [`Verdict`] that
//! names every failed rule and the findings or packages behind it.
//!
//! Design decisions:
//!
//! - **One rule per file behind one trait, listed in one table**
//!   (`rules::ALL`). Each rule's name is its policy key, except the built-in
//!   `scan_coverage`, which no policy can switch off: an image with no
//!   scanned platform, or a platform not matched against vulnerability data,
//!   fails.
//! - **Preprocessing happens once** before any rule runs (`ignore_unfixed`,
//!   `unknown_severity_as`, exceptions; see the `context` module), so rules
//!   cannot disagree about which findings count. A finding found on several
//!   platforms of an index counts once (keyed by id and package ecosystem,
//!   name and version) but is listed once per platform.
//! - **Evaluation cannot fail.** Doubtful input fails closed: a CVSS score
//!   that is NaN or outside 0–10 counts as 10.0, missing vulnerability data
//!   fails, a report without a platform satisfies no `require_platforms`
//!   entry.
//! - **Deterministic output**: failures are sorted by rule then message,
//!   every list inside a verdict is sorted, and counts have all five
//!   severities.
//! - Pure: no I/O, no clock (the caller passes `now`), no async.

mod context;
mod data_age;
mod error;
mod exception;
mod package_pattern;
mod platform;
mod policy;
mod rules;
mod severity;
mod verdict;

use std::time::Duration;

use airlock_scan_model::ScanReport;
use time::OffsetDateTime;

pub use data_age::DataAge;
pub use error::PolicyError;
pub use exception::Exception;
pub use package_pattern::PackagePattern;
pub use platform::PlatformSpec;
pub use policy::{POLICY_KEYS, Policy};
pub use severity::severity_name;
pub use verdict::{ExceptedFinding, FindingRef, PackageRef, RuleFailure, Verdict};

/// The name of every rule a verdict can name, sorted: the rule-carrying
/// policy keys plus the built-in `scan_coverage`. (`ignore_unfixed` and
/// `unknown_severity_as` are not rules: they change which findings every
/// rule sees.)
pub const RULE_NAMES: &[&str] = &[
    "block_cvss_at_or_above",
    "block_eol_os",
    "block_severity_at_or_above",
    "block_unknown_os",
    "deny_packages",
    "max_findings",
    "max_vulnerability_data_age",
    "require_platforms",
    "scan_coverage",
];

/// Everything a verdict is computed from.
#[derive(Debug, Clone, Copy)]
pub struct EvaluationInput<'a> {
    /// The image's repository, e.g. `unscanned/acme/app`.
    pub repository: &'a str,
    /// The image's digest (of the index, for a multi-platform image).
    pub digest: &'a str,
    /// One report per platform (one for a single manifest).
    pub reports: &'a [ScanReport],
    /// Age of the vulnerability data the reports were matched with; `None`
    /// when there is no data at all.
    pub vulnerability_data_age: Option<Duration>,
    /// Exceptions to consider; only approved, unexpired ones apply.
    pub exceptions: &'a [Exception],
    /// The time of evaluation (exception expiry, end-of-life dates).
    pub now: OffsetDateTime,
}

/// Evaluates `input` against `policy`.
pub fn evaluate(policy: &Policy, input: &EvaluationInput) -> Verdict {
    let context = context::Context::new(policy, input);
    let mut failures: Vec<RuleFailure> = rules::ALL
        .iter()
        .filter_map(|rule| rule.check(&context))
        .collect();
    failures.sort_by(|a, b| a.rule.cmp(&b.rule).then_with(|| a.message.cmp(&b.message)));
    Verdict {
        passed: failures.is_empty(),
        failures,
        counts: context.counts(),
        excepted: context.excepted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_match_the_rule_table() {
        let table: Vec<&str> = rules::ALL.iter().map(|rule| rule.name()).collect();
        assert_eq!(table, RULE_NAMES);
        let mut sorted = RULE_NAMES.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, RULE_NAMES);
    }

    #[test]
    fn every_rule_but_the_built_in_one_is_a_policy_key() {
        for name in RULE_NAMES.iter().filter(|name| **name != "scan_coverage") {
            assert!(POLICY_KEYS.contains(name), "{name}");
        }
    }
}
