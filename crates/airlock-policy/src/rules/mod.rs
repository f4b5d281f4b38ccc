//! The rules: one per file, each behind [`Rule`], all listed in [`ALL`].
//! Adding a rule is one new file, one row here, one name in
//! [`crate::RULE_NAMES`] and, if it is configurable, one key in
//! [`crate::policy::POLICY_KEYS`].

use crate::context::Context;
use crate::verdict::RuleFailure;

mod block_cvss_at_or_above;
mod block_eol_os;
mod block_severity_at_or_above;
mod block_unknown_os;
mod deny_packages;
mod max_findings;
mod max_vulnerability_data_age;
mod require_platforms;
mod scan_coverage;

/// One policy rule.
pub(crate) trait Rule: Sync {
    /// The rule's name: its policy key (or `scan_coverage`).
    fn name(&self) -> &'static str;

    /// `Some` when the image fails the rule; `None` when it passes or the
    /// policy does not enable the rule. Cannot fail: doubtful input fails
    /// closed.
    fn check(&self, context: &Context<'_>) -> Option<RuleFailure>;
}

/// Every rule, in name order.
pub(crate) static ALL: &[&dyn Rule] = &[
    &block_cvss_at_or_above::BlockCvssAtOrAbove,
    &block_eol_os::BlockEolOs,
    &block_severity_at_or_above::BlockSeverityAtOrAbove,
    &block_unknown_os::BlockUnknownOs,
    &deny_packages::DenyPackages,
    &max_findings::MaxFindings,
    &max_vulnerability_data_age::MaxVulnerabilityDataAge,
    &require_platforms::RequirePlatforms,
    &scan_coverage::ScanCoverage,
];

/// How a message names the image a report is about.
pub(crate) fn where_found(platform: Option<&str>) -> String {
    match platform {
        Some(platform) => format!("on {platform}"),
        None => "in the image".to_owned(),
    }
}

#[cfg(test)]
pub(crate) mod testing;
