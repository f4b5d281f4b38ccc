//! `block_severity_at_or_above`: any effective finding at or above the
//! severity fails (severities after `unknown_severity_as`; `unknown` is the
//! lowest, so `block_severity_at_or_above: unknown` blocks every finding).

use super::Rule;
use crate::context::Context;
use crate::severity::severity_name;
use crate::verdict::RuleFailure;

pub(crate) struct BlockSeverityAtOrAbove;

impl Rule for BlockSeverityAtOrAbove {
    fn name(&self) -> &'static str {
        "block_severity_at_or_above"
    }

    fn check(&self, context: &Context<'_>) -> Option<RuleFailure> {
        let threshold = context.policy.block_severity_at_or_above()?;
        let blocked: Vec<_> = context
            .findings
            .iter()
            .filter(|finding| finding.severity >= threshold)
            .collect();
        if blocked.is_empty() {
            return None;
        }
        let what = format!("at or above {}", severity_name(threshold));
        Some(context.findings_failure(self.name(), &what, &blocked))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{finding, run_rule};
    use airlock_scan_model::Severity;

    #[test]
    fn table() {
        let cases: &[(&str, Vec<airlock_scan_model::Finding>, Option<&str>)] = &[
            ("block_severity_at_or_above: high", vec![], None),
            (
                "block_severity_at_or_above: high",
                vec![finding("CVE-1", "zlib", Severity::Medium)],
                None,
            ),
            (
                "block_severity_at_or_above: high",
                vec![
                    finding("CVE-1", "zlib", Severity::High),
                    finding("CVE-2", "openssl", Severity::Critical),
                    finding("CVE-3", "bash", Severity::Low),
                ],
                Some(
                    "2 findings at or above high: CVE-2 in openssl 1.0 (fixed in 1.1), CVE-1 in zlib 1.0 (fixed in 1.1)",
                ),
            ),
            (
                "block_severity_at_or_above: unknown",
                vec![finding("CVE-1", "zlib", Severity::Unknown)],
                Some("1 finding at or above unknown: CVE-1 in zlib 1.0 (fixed in 1.1)"),
            ),
            (
                "block_severity_at_or_above: low",
                vec![finding("CVE-1", "zlib", Severity::Unknown)],
                None,
            ),
            (
                "{}",
                vec![finding("CVE-1", "zlib", Severity::Critical)],
                None,
            ),
        ];
        for (policy, findings, expected) in cases {
            let failure = run_rule(&super::BlockSeverityAtOrAbove, policy, findings.clone());
            assert_eq!(failure.map(|f| f.message).as_deref(), *expected, "{policy}");
        }
    }
}
