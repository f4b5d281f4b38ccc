//! The search port: the dashboard's read side over images and findings.
//!
//! Findings live in the verdict JSON for the report and the decision; to
//! answer "which of our images have CVE-X" without reading every verdict,
//! the transition that decides an image also writes its findings as rows
//! ([`Transition::findings`](crate::Transition::findings)) and its
//! effective counts beside the image. [`SearchStore`] queries them: a page
//! with its total for the lists, and streams that never collect the result
//! for exports.
//!
//! Severities are numbers here (0 unknown, 1 low, 2 medium, 3 high,
//! 4 critical) so this crate does not depend on the scanner's model; the
//! names are in [`SEVERITY_NAMES`].

use airlock_auth::TenantId;
use airlock_oci::{Digest, RepoName};
use futures::stream::BoxStream;
use time::OffsetDateTime;

use crate::{ImageState, StoreError};

/// Severity names by number: `SEVERITY_NAMES[4] == "critical"`.
pub const SEVERITY_NAMES: [&str; 5] = ["unknown", "low", "medium", "high", "critical"];

/// The name of a severity number (`"unknown"` for anything out of range).
pub fn severity_name(severity: u8) -> &'static str {
    SEVERITY_NAMES
        .get(usize::from(severity))
        .copied()
        .unwrap_or("unknown")
}

/// The number of a severity name (case-insensitive).
pub fn severity_from_name(name: &str) -> Option<u8> {
    SEVERITY_NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(name))
        .and_then(|i| u8::try_from(i).ok())
}

/// One finding of one image on one platform, as matched.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingRow {
    /// The OSV record id.
    pub vulnerability: String,
    /// Its aliases (CVE ids and others), sorted.
    pub aliases: Vec<String>,
    /// osv.dev ecosystem name.
    pub ecosystem: String,
    /// Package name.
    pub package: String,
    /// Installed version.
    pub version: String,
    /// Versions that fix it.
    pub fixed_versions: Vec<String>,
    /// The matched severity (0 unknown … 4 critical).
    pub severity: u8,
    /// CVSS base score, when known.
    pub cvss: Option<f64>,
    /// One-line summary.
    pub summary: Option<String>,
    /// `os/arch[/variant]` of an index's platform it was found on.
    pub platform: Option<String>,
}

/// An image's effective finding counts, as in its verdict's `counts`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeverityCounts {
    /// Critical.
    pub critical: u64,
    /// High.
    pub high: u64,
    /// Medium.
    pub medium: u64,
    /// Low.
    pub low: u64,
    /// Unknown.
    pub unknown: u64,
}

impl SeverityCounts {
    /// The `counts` object of a stored verdict; zero for missing keys.
    pub fn from_verdict(verdict: &serde_json::Value) -> SeverityCounts {
        let count = |name: &str| {
            verdict
                .get("counts")
                .and_then(|c| c.get(name))
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0)
        };
        SeverityCounts {
            critical: count("critical"),
            high: count("high"),
            medium: count("medium"),
            low: count("low"),
            unknown: count("unknown"),
        }
    }

    /// The highest severity with a count, `None` when all are zero.
    pub fn max_severity(&self) -> Option<u8> {
        [
            (4, self.critical),
            (3, self.high),
            (2, self.medium),
            (1, self.low),
            (0, self.unknown),
        ]
        .into_iter()
        .find(|(_, n)| *n > 0)
        .map(|(severity, _)| severity)
    }
}

/// What an image list is ordered by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ImageSortKey {
    /// When it was first pushed.
    #[default]
    Pushed,
    /// When its state last changed.
    Updated,
    /// Repository name, then push time.
    Repository,
    /// Highest effective severity, then the critical and high counts.
    Severity,
}

/// Order of an image list; ties are broken by id in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageSort {
    /// The key.
    pub key: ImageSortKey,
    /// Largest first.
    pub descending: bool,
}

impl Default for ImageSort {
    /// Newest push first.
    fn default() -> ImageSort {
        ImageSort {
            key: ImageSortKey::Pushed,
            descending: true,
        }
    }
}

/// Which images to list. Every filter narrows; `None` does not filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageQuery {
    /// The tenants to look in; `None`: all of them.
    pub tenants: Option<Vec<TenantId>>,
    /// A substring of the repository name.
    pub repository_contains: Option<String>,
    /// The state.
    pub state: Option<ImageState>,
    /// Images whose highest effective severity is at least this.
    pub min_severity: Option<u8>,
    /// Images with a finding whose id or an alias is exactly this.
    pub vulnerability: Option<String>,
    /// Images with a finding in a package of exactly this name.
    pub package: Option<String>,
    /// Pushed at or after.
    pub pushed_after: Option<OffsetDateTime>,
    /// Pushed before.
    pub pushed_before: Option<OffsetDateTime>,
    /// Order.
    pub sort: ImageSort,
    /// Rows skipped.
    pub offset: usize,
    /// Rows returned at most (`usize::MAX`: all).
    pub limit: usize,
}

/// One image in a list: its record (without the verdict), counts and scan time.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSummary {
    /// Stable id.
    pub id: i64,
    /// Its tenant.
    pub tenant: TenantId,
    /// The `unscanned/` repository it was pushed to.
    pub repository: RepoName,
    /// The manifest digest.
    pub digest: Digest,
    /// The manifest media type.
    pub media_type: String,
    /// Its state.
    pub state: ImageState,
    /// Why it was rejected, when it was.
    pub reason: Option<String>,
    /// Who pushed it first.
    pub pushed_by: Option<String>,
    /// When it was pushed first.
    pub pushed_at: OffsetDateTime,
    /// When its state last changed.
    pub updated_at: OffsetDateTime,
    /// When its findings were last written (decision or re-evaluation).
    pub scanned_at: Option<OffsetDateTime>,
    /// Highest effective severity; `None` without effective findings.
    pub max_severity: Option<u8>,
    /// Effective counts.
    pub counts: SeverityCounts,
}

/// Which findings to list, newest image first, most severe first within
/// an image.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FindingQuery {
    /// The tenants to look in; `None`: all of them.
    pub tenants: Option<Vec<TenantId>>,
    /// Findings whose id or an alias is exactly this.
    pub vulnerability: Option<String>,
    /// Findings in a package of exactly this name.
    pub package: Option<String>,
    /// Findings of at least this (matched) severity.
    pub min_severity: Option<u8>,
    /// Only findings with a fixed version.
    pub fixable_only: bool,
    /// Only this image's findings.
    pub image_id: Option<i64>,
    /// Rows skipped.
    pub offset: usize,
    /// Rows returned at most (`usize::MAX`: all).
    pub limit: usize,
}

/// A finding with the image it was found in.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingHit {
    /// The image id.
    pub image_id: i64,
    /// Its tenant.
    pub tenant: TenantId,
    /// Its repository.
    pub repository: RepoName,
    /// Its digest.
    pub digest: Digest,
    /// Its state.
    pub state: ImageState,
    /// The finding.
    pub finding: FindingRow,
}

/// The dashboard's queries.
#[async_trait::async_trait]
pub trait SearchStore: Send + Sync {
    /// One page of images and how many match in all.
    async fn search_images(
        &self,
        query: &ImageQuery,
    ) -> Result<(Vec<ImageSummary>, u64), StoreError>;

    /// One page of findings and how many match in all.
    async fn search_findings(
        &self,
        query: &FindingQuery,
    ) -> Result<(Vec<FindingHit>, u64), StoreError>;

    /// Every matching image (within offset and limit), read as the stream
    /// is polled: nothing is collected.
    fn stream_images<'a>(
        &'a self,
        query: &ImageQuery,
    ) -> BoxStream<'a, Result<ImageSummary, StoreError>>;

    /// Every matching finding (within offset and limit), read as the
    /// stream is polled: nothing is collected.
    fn stream_findings<'a>(
        &'a self,
        query: &FindingQuery,
    ) -> BoxStream<'a, Result<FindingHit, StoreError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_names_round_trip() {
        for (i, name) in SEVERITY_NAMES.iter().enumerate() {
            let n = u8::try_from(i).unwrap();
            assert_eq!(severity_name(n), *name);
            assert_eq!(severity_from_name(&name.to_uppercase()), Some(n));
        }
        assert_eq!(severity_from_name("severe"), None);
        assert_eq!(severity_name(9), "unknown");
    }

    #[test]
    fn counts_come_from_the_verdict() {
        let verdict = serde_json::json!({
            "counts": { "critical": 0, "high": 2, "medium": 1, "low": 0, "unknown": 5 }
        });
        let counts = SeverityCounts::from_verdict(&verdict);
        assert_eq!(counts.high, 2);
        assert_eq!(counts.unknown, 5);
        assert_eq!(counts.max_severity(), Some(3));
        assert_eq!(SeverityCounts::default().max_severity(), None);
        assert_eq!(
            SeverityCounts::from_verdict(&serde_json::json!({})),
            SeverityCounts::default()
        );
    }
}
