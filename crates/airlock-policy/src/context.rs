//! Preprocessing done once before any rule runs, so every rule sees the same
//! findings:
//!
//! 1. with `ignore_unfixed`, findings without a fixed version are dropped
//!    (an empty or blank `fixed_versions` entry is not a fix);
//! 2. with `unknown_severity_as`, findings of unknown severity take that
//!    severity;
//! 3. findings an active exception covers are moved to the verdict's
//!    `excepted` list (when several exceptions cover a finding, the one with
//!    the smallest id is named);
//! 4. the rest are the *effective* findings, one entry per platform they
//!    occur on, sorted most severe first.
//!
//! Counting (the verdict's `counts`, `max_findings`, the numbers in messages)
//! takes each distinct finding, keyed by id and package ecosystem, name and
//! version, once however many platforms of an index have it: one fix removes
//! it everywhere. Failure lists keep one [`FindingRef`] per platform so a
//! developer sees where it was found.

use std::collections::{BTreeMap, BTreeSet};

use airlock_scan_model::{Finding, Severity};

use crate::platform::platform_label;
use crate::severity::{SEVERITIES_DESCENDING, severity_name};
use crate::verdict::{ExceptedFinding, FindingRef, RuleFailure};
use crate::{EvaluationInput, Policy};

/// How many findings a message lists before it says "and N more".
const LISTED_IN_MESSAGE: usize = 10;

/// What every rule is given.
pub(crate) struct Context<'a> {
    pub(crate) policy: &'a Policy,
    pub(crate) input: &'a EvaluationInput<'a>,
    /// Effective finding occurrences, most severe first.
    pub(crate) findings: Vec<Effective<'a>>,
    /// Occurrences waived by an exception, sorted.
    pub(crate) excepted: Vec<ExceptedFinding>,
}

/// One effective finding on one platform.
pub(crate) struct Effective<'a> {
    pub(crate) finding: &'a Finding,
    pub(crate) severity: Severity,
    pub(crate) platform: Option<String>,
}

impl Effective<'_> {
    /// The identity used for de-duplication across platforms.
    pub(crate) fn key(&self) -> (&str, &str, &str, &str) {
        let package = &self.finding.package;
        (
            &self.finding.id,
            &package.ecosystem,
            &package.name,
            &package.version,
        )
    }

    pub(crate) fn reference(&self) -> FindingRef {
        FindingRef {
            id: self.finding.id.clone(),
            package: self.finding.package.name.clone(),
            version: self.finding.package.version.clone(),
            severity: severity_name(self.severity).to_owned(),
            fixed_versions: self.finding.fixed_versions.clone(),
            platform: self.platform.clone(),
        }
    }

    /// `CVE-2024-1 in openssl 3.0.1 (fixed in 3.0.2)`.
    pub(crate) fn describe(&self) -> String {
        let package = &self.finding.package;
        let fixes: Vec<&str> = self
            .finding
            .fixed_versions
            .iter()
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
            .collect();
        let fix = if fixes.is_empty() {
            "no fix yet".to_owned()
        } else {
            format!("fixed in {}", fixes.join(", "))
        };
        format!(
            "{} in {} {} ({fix})",
            self.finding.id, package.name, package.version
        )
    }
}

fn is_unfixed(finding: &Finding) -> bool {
    finding.fixed_versions.iter().all(|v| v.trim().is_empty())
}

impl<'a> Context<'a> {
    pub(crate) fn new(policy: &'a Policy, input: &'a EvaluationInput<'a>) -> Context<'a> {
        let mut active: Vec<_> = input
            .exceptions
            .iter()
            .filter(|exception| exception.is_active(input.now))
            .collect();
        active.sort_by(|a, b| a.id.cmp(&b.id));

        let mut findings = Vec::new();
        let mut excepted = BTreeSet::new();
        for report in input.reports {
            let platform = report
                .inventory
                .artifact
                .platform
                .as_ref()
                .map(platform_label);
            for finding in &report.findings {
                if policy.ignore_unfixed() && is_unfixed(finding) {
                    continue;
                }
                let severity = match (finding.severity, policy.unknown_severity_as()) {
                    (Severity::Unknown, Some(instead)) => instead,
                    (severity, _) => severity,
                };
                let waiver = active
                    .iter()
                    .find(|exception| exception.covers(finding, input.repository, input.digest));
                if let Some(exception) = waiver {
                    excepted.insert(ExceptedFinding {
                        finding: finding.id.clone(),
                        package: finding.package.name.clone(),
                        version: finding.package.version.clone(),
                        exception: exception.id.clone(),
                        platform: platform.clone(),
                    });
                    continue;
                }
                findings.push(Effective {
                    finding,
                    severity,
                    platform: platform.clone(),
                });
            }
        }
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.key().cmp(&b.key()))
                .then_with(|| a.platform.cmp(&b.platform))
        });
        Context {
            policy,
            input,
            findings,
            excepted: excepted.into_iter().collect(),
        }
    }

    /// Effective findings counted once each, per severity; all five keys.
    pub(crate) fn counts(&self) -> BTreeMap<String, u64> {
        let mut counts: BTreeMap<String, u64> = SEVERITIES_DESCENDING
            .iter()
            .map(|severity| (severity_name(*severity).to_owned(), 0))
            .collect();
        for finding in distinct(self.findings.iter()) {
            *counts
                .entry(severity_name(finding.severity).to_owned())
                .or_default() += 1;
        }
        counts
    }

    /// A failure naming `occurrences`: the message is `<count> <noun>
    /// <what>: <list>`, counting distinct findings.
    pub(crate) fn findings_failure(
        &self,
        rule: &str,
        what: &str,
        occurrences: &[&Effective<'_>],
    ) -> RuleFailure {
        let unique = distinct(occurrences.iter().copied());
        let noun = if unique.len() == 1 {
            "finding"
        } else {
            "findings"
        };
        RuleFailure {
            rule: rule.to_owned(),
            message: format!("{} {noun} {what}: {}", unique.len(), list(&unique)),
            findings: references(occurrences),
            packages: Vec::new(),
        }
    }
}

/// The first occurrence of every distinct finding, in input order.
pub(crate) fn distinct<'f, 'a: 'f>(
    occurrences: impl Iterator<Item = &'f Effective<'a>>,
) -> Vec<&'f Effective<'a>> {
    let mut seen = BTreeSet::new();
    occurrences
        .filter(|finding| seen.insert(finding.key()))
        .collect()
}

/// Describes up to [`LISTED_IN_MESSAGE`] findings.
pub(crate) fn list(findings: &[&Effective<'_>]) -> String {
    let mut text: Vec<String> = findings
        .iter()
        .take(LISTED_IN_MESSAGE)
        .map(|finding| finding.describe())
        .collect();
    if findings.len() > LISTED_IN_MESSAGE {
        text.push(format!("and {} more", findings.len() - LISTED_IN_MESSAGE));
    }
    text.join(", ")
}

/// Finding references in verdict order (most severe first, then id, package,
/// platform).
pub(crate) fn references(occurrences: &[&Effective<'_>]) -> Vec<FindingRef> {
    occurrences
        .iter()
        .map(|finding| finding.reference())
        .collect()
}
