//! `max_findings`: for each severity given, more distinct effective findings
//! of exactly that severity than the limit fails. One failure lists every
//! severity over its limit.

use super::Rule;
use crate::context::{Context, distinct, list};
use crate::severity::{SEVERITIES_DESCENDING, severity_name};
use crate::verdict::RuleFailure;

pub(crate) struct MaxFindings;

impl Rule for MaxFindings {
    fn name(&self) -> &'static str {
        "max_findings"
    }

    fn check(&self, context: &Context<'_>) -> Option<RuleFailure> {
        let limits = context.policy.max_findings();
        let mut exceeded = Vec::new();
        let mut occurrences = Vec::new();
        for severity in SEVERITIES_DESCENDING {
            let Some(limit) = limits.get(&severity) else {
                continue;
            };
            let of_severity: Vec<_> = context
                .findings
                .iter()
                .filter(|finding| finding.severity == severity)
                .collect();
            let count = distinct(of_severity.iter().copied()).len() as u64;
            if count > *limit {
                let (noun, verb) = if count == 1 {
                    ("finding", "exceeds")
                } else {
                    ("findings", "exceed")
                };
                exceeded.push(format!(
                    "{count} {} {noun} {verb} the limit of {limit}",
                    severity_name(severity)
                ));
                occurrences.extend(of_severity);
            }
        }
        if exceeded.is_empty() {
            return None;
        }
        let unique = distinct(occurrences.iter().copied());
        Some(RuleFailure {
            rule: self.name().to_owned(),
            message: format!("{}: {}", exceeded.join("; "), list(&unique)),
            findings: crate::context::references(&occurrences),
            packages: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{finding, report, run_rule, run_rule_on};
    use airlock_scan_model::Severity;

    #[test]
    fn table() {
        let policy = "max_findings: { critical: 0, high: 1 }";
        let cases: &[(&str, Vec<airlock_scan_model::Finding>, Option<&str>)] = &[
            (policy, vec![], None),
            (
                policy,
                vec![
                    finding("CVE-1", "zlib", Severity::High),
                    finding("CVE-2", "bash", Severity::Medium),
                    finding("CVE-3", "curl", Severity::Medium),
                ],
                None,
            ),
            (
                policy,
                vec![finding("CVE-1", "zlib", Severity::Critical)],
                Some("1 critical finding exceeds the limit of 0: CVE-1 in zlib 1.0 (fixed in 1.1)"),
            ),
            (
                policy,
                vec![
                    finding("CVE-1", "zlib", Severity::Critical),
                    finding("CVE-2", "zlib", Severity::High),
                    finding("CVE-3", "curl", Severity::High),
                ],
                Some(
                    "1 critical finding exceeds the limit of 0; 2 high findings exceed the limit of 1: CVE-1 in zlib 1.0 (fixed in 1.1), CVE-2 in zlib 1.0 (fixed in 1.1), CVE-3 in curl 1.0 (fixed in 1.1)",
                ),
            ),
            (
                "max_findings: { unknown: 0 }",
                vec![finding("CVE-1", "zlib", Severity::Unknown)],
                Some("1 unknown finding exceeds the limit of 0: CVE-1 in zlib 1.0 (fixed in 1.1)"),
            ),
        ];
        for (policy, findings, expected) in cases {
            let failure = run_rule(&super::MaxFindings, policy, findings.clone());
            assert_eq!(failure.map(|f| f.message).as_deref(), *expected, "{policy}");
        }
    }

    #[test]
    fn a_finding_on_several_platforms_counts_once() {
        let high = || vec![finding("CVE-1", "zlib", Severity::High)];
        let reports = [
            report(Some("linux/amd64"), high()),
            report(Some("linux/arm64"), high()),
        ];
        let policy = "max_findings: { high: 1 }";
        let age = Some(std::time::Duration::from_secs(60));
        assert_eq!(
            run_rule_on(&super::MaxFindings, policy, &reports, age),
            None
        );
        let failure = run_rule_on(
            &super::MaxFindings,
            "max_findings: { high: 0 }",
            &reports,
            age,
        )
        .expect("fails");
        assert_eq!(failure.findings.len(), 2, "one reference per platform");
        assert!(
            failure.message.starts_with("1 high finding exceeds"),
            "{}",
            failure.message
        );
    }
}
