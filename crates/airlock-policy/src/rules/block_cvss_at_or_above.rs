//! `block_cvss_at_or_above`: any effective finding whose CVSS base score is
//! at or above the threshold fails. A finding without a score passes this
//! rule (severity rules cover it); a score that is not a number from 0 to 10
//! (NaN, infinite, out of range) is treated as 10.0: it fails closed.

use super::Rule;
use crate::context::Context;
use crate::verdict::RuleFailure;

pub(crate) struct BlockCvssAtOrAbove;

/// The score the rule compares: malformed scores count as the maximum.
fn effective_score(score: f64) -> f64 {
    if score.is_finite() && (0.0..=10.0).contains(&score) {
        score
    } else {
        10.0
    }
}

impl Rule for BlockCvssAtOrAbove {
    fn name(&self) -> &'static str {
        "block_cvss_at_or_above"
    }

    fn check(&self, context: &Context<'_>) -> Option<RuleFailure> {
        let threshold = context.policy.block_cvss_at_or_above()?;
        let blocked: Vec<_> = context
            .findings
            .iter()
            .filter(|finding| {
                finding
                    .finding
                    .cvss_score
                    .is_some_and(|score| effective_score(score) >= threshold)
            })
            .collect();
        if blocked.is_empty() {
            return None;
        }
        let what = format!("with a CVSS score at or above {threshold:.1}");
        Some(context.findings_failure(self.name(), &what, &blocked))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{finding, run_rule};
    use airlock_scan_model::{Finding, Severity};

    fn scored(id: &str, score: Option<f64>) -> Finding {
        Finding {
            cvss_score: score,
            ..finding(id, "openssl", Severity::Low)
        }
    }

    #[test]
    fn table() {
        let policy = "block_cvss_at_or_above: 9.0";
        let cases: &[(&str, Vec<Finding>, Option<&str>)] = &[
            (policy, vec![scored("CVE-1", Some(8.9))], None),
            (policy, vec![scored("CVE-1", None)], None),
            (
                policy,
                vec![scored("CVE-1", Some(9.0)), scored("CVE-2", Some(3.0))],
                Some(
                    "1 finding with a CVSS score at or above 9.0: CVE-1 in openssl 1.0 (fixed in 1.1)",
                ),
            ),
            (
                policy,
                vec![scored("CVE-NAN", Some(f64::NAN))],
                Some(
                    "1 finding with a CVSS score at or above 9.0: CVE-NAN in openssl 1.0 (fixed in 1.1)",
                ),
            ),
            (
                policy,
                vec![scored("CVE-BIG", Some(42.0))],
                Some(
                    "1 finding with a CVSS score at or above 9.0: CVE-BIG in openssl 1.0 (fixed in 1.1)",
                ),
            ),
            (
                "block_cvss_at_or_above: 0",
                vec![scored("CVE-1", Some(0.0))],
                Some(
                    "1 finding with a CVSS score at or above 0.0: CVE-1 in openssl 1.0 (fixed in 1.1)",
                ),
            ),
            ("{}", vec![scored("CVE-1", Some(10.0))], None),
        ];
        for (policy, findings, expected) in cases {
            let failure = run_rule(&super::BlockCvssAtOrAbove, policy, findings.clone());
            assert_eq!(failure.map(|f| f.message).as_deref(), *expected, "{policy}");
        }
    }
}
