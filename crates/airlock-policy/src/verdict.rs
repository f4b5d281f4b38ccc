//! What evaluation returns: pass or fail, every failed rule with the findings
//! (or packages) behind it, what exceptions waived, and counts. The same
//! reasons are shown in events, reports, the API and the dashboard, so the
//! document is deterministic: every list is sorted.

use std::collections::BTreeMap;

use serde::Serialize;

/// The outcome of evaluating one image against one policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// `true` iff `failures` is empty.
    pub passed: bool,
    /// Every failed rule, sorted by rule name then message.
    pub failures: Vec<RuleFailure>,
    /// Findings an exception waived, sorted.
    pub excepted: Vec<ExceptedFinding>,
    /// Effective findings per severity name (after `ignore_unfixed`,
    /// `unknown_severity_as` and exceptions), each distinct finding counted
    /// once however many platforms have it; all five severities present.
    pub counts: BTreeMap<String, u64>,
}

/// One failed rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleFailure {
    /// The rule's name: its policy key, or `scan_coverage` for the built-in rule.
    pub rule: String,
    /// A sentence a developer can act on.
    pub message: String,
    /// The findings behind the failure, one per platform they occur on,
    /// most severe first.
    pub findings: Vec<FindingRef>,
    /// The packages behind the failure (`deny_packages`), sorted.
    pub packages: Vec<PackageRef>,
}

/// A finding, as a verdict names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FindingRef {
    /// The OSV id.
    pub id: String,
    /// Package name.
    pub package: String,
    /// Installed version.
    pub version: String,
    /// Effective severity (after `unknown_severity_as`).
    pub severity: String,
    /// Versions that fix it.
    pub fixed_versions: Vec<String>,
    /// The platform it was found on (`linux/amd64`), when the report says.
    pub platform: Option<String>,
}

/// A package, as a verdict names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PackageRef {
    /// osv.dev ecosystem.
    pub ecosystem: String,
    /// Package name.
    pub name: String,
    /// Installed version.
    pub version: String,
    /// Package URL.
    pub purl: String,
    /// The `deny_packages` entry it matched.
    pub pattern: String,
    /// The platform it was found on, when the report says.
    pub platform: Option<String>,
}

/// A finding an exception waived.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ExceptedFinding {
    /// The finding's OSV id.
    pub finding: String,
    /// Package name.
    pub package: String,
    /// Installed version.
    pub version: String,
    /// The exception that waived it.
    pub exception: String,
    /// The platform it was found on, when the report says.
    pub platform: Option<String>,
}
