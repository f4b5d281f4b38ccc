//! Exceptions: the security team's signed-off waivers of one vulnerability,
//! optionally narrowed to a package, a repository or a digest.
//!
//! Who wrote and who approved an exception is the caller's business (the
//! approver must not be the author); this crate only sees the outcome,
//! `approved`, and honours an exception only while it is approved and
//! unexpired.

use airlock_scan_model::Finding;
use time::OffsetDateTime;

/// One waiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// Stable id, e.g. `EXC-12`.
    pub id: String,
    /// `CVE-...`, `GHSA-...` or any OSV id; matches a finding's id or any of
    /// its aliases, ignoring case.
    pub vulnerability: String,
    /// When set, only findings in the package of exactly this name.
    pub package: Option<String>,
    /// When set, only images of this repository. Zones are ignored:
    /// `unscanned/acme/app` and `scanned/acme/app` name the same image, so an
    /// exception written for either covers both.
    pub repository: Option<String>,
    /// When set, only the image of exactly this digest.
    pub digest: Option<String>,
    /// The exception applies strictly before this instant.
    pub expires_at: OffsetDateTime,
    /// Only approved exceptions apply.
    pub approved: bool,
}

impl Exception {
    /// Whether the exception is in force at `now`.
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.approved && now < self.expires_at
    }

    /// Whether the exception waives `finding` in the image `repository@digest`
    /// (ignoring approval and expiry: see [`Exception::is_active`]).
    pub fn covers(&self, finding: &Finding, repository: &str, digest: &str) -> bool {
        let vulnerability_matches = std::iter::once(&finding.id)
            .chain(&finding.aliases)
            .any(|id| id.eq_ignore_ascii_case(&self.vulnerability));
        let package_matches = self
            .package
            .as_ref()
            .is_none_or(|package| *package == finding.package.name);
        let repository_matches = self
            .repository
            .as_ref()
            .is_none_or(|wanted| without_zone(wanted) == without_zone(repository));
        let digest_matches = self.digest.as_ref().is_none_or(|wanted| wanted == digest);
        vulnerability_matches && package_matches && repository_matches && digest_matches
    }
}

/// A repository name without its `unscanned/` or `scanned/` zone prefix.
fn without_zone(repository: &str) -> &str {
    repository
        .strip_prefix("unscanned/")
        .or_else(|| repository.strip_prefix("scanned/"))
        .unwrap_or(repository)
}
