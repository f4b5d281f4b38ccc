//! The gate's per-scan report: one image, the verdict the gate reached and
//! the platform reports it reached it from, rendered into the five files
//! every scan leaves in object storage (DESIGN §6).
//!
//! [`ImageReport`] is the input; [`render_all`] turns it into
//! [`REPORT_FILES`], one row per file. Like every writer in this crate it is
//! pure: the caller supplies the time and document id in a
//! [`ReportContext`].

use std::collections::BTreeMap;

use airlock_scan_model::ScanReport;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{ReportContext, ReportError};

/// The version of the `report.json` schema (`docs/scan-report-schema.md`).
pub const IMAGE_REPORT_SCHEMA_VERSION: u32 = 1;

/// One gate scan of one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageReport {
    /// Always [`IMAGE_REPORT_SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// The scan's id (a UUID): the last path segment under `reports/`.
    pub scan_id: String,
    /// What was scanned.
    pub image: ReportImage,
    /// When the verdict was reached.
    #[serde(with = "time::serde::rfc3339")]
    pub scanned_at: OffsetDateTime,
    /// The gate's verdict.
    pub verdict: ReportVerdict,
    /// The policy that decided.
    pub policy: ReportPolicy,
    /// Age of the vulnerability data at matching time, in seconds; `None`
    /// when there was no data (the verdict then fails).
    pub vulnerability_data_age_seconds: Option<u64>,
    /// One report per platform, with inventory and findings.
    pub platforms: Vec<ScanReport>,
}

/// The image a report is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportImage {
    /// The tenant that pushed it.
    pub tenant: String,
    /// The full repository it was pushed to (`unscanned/<tenant>/<name>`).
    pub repository: String,
    /// The manifest digest.
    pub digest: String,
    /// The manifest media type.
    pub media_type: String,
    /// Tags pointing at the digest when it was scanned, sorted.
    pub tags: Vec<String>,
    /// Who pushed it (user or robot name), when known.
    pub pusher: Option<String>,
    /// When it was first pushed.
    #[serde(with = "time::serde::rfc3339::option")]
    pub pushed_at: Option<OffsetDateTime>,
}

/// The verdict, as a report states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportVerdict {
    /// Whether the image passed the policy (and is promoted).
    pub passed: bool,
    /// Why it failed: one entry per failed rule (empty when it passed).
    pub reasons: Vec<ReportReason>,
    /// Effective findings per severity (`critical`, `high`, `medium`,
    /// `low`, `unknown`), after exceptions.
    pub counts: BTreeMap<String, u64>,
    /// Findings an exception waived, as `<id> <package>` strings, sorted.
    pub excepted: Vec<String>,
}

/// One failed rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportReason {
    /// The rule's policy key (`block_severity_at_or_above`, ...).
    pub rule: String,
    /// The sentence a developer can act on.
    pub message: String,
}

/// The policy that decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportPolicy {
    /// Whose policy: the tenant, or `None` for the global one.
    pub tenant: Option<String>,
    /// Its version; 0 for the built-in default.
    pub version: i64,
}

/// A file every scan leaves.
pub struct ReportFile {
    /// The object name under the scan's prefix (`report.html`, ...).
    pub name: &'static str,
    /// Its `Content-Type` when served.
    pub content_type: &'static str,
    /// Its writer.
    pub write: fn(&ImageReport, &ReportContext) -> Result<String, ReportError>,
}

/// The five files of a scan, one row each.
pub const REPORT_FILES: &[ReportFile] = &[
    ReportFile {
        name: "report.json",
        content_type: "application/json",
        write: write_json,
    },
    ReportFile {
        name: "report.html",
        content_type: "text/html; charset=utf-8",
        write: crate::image_html::write,
    },
    ReportFile {
        name: "report.sarif",
        content_type: "application/sarif+json",
        write: write_sarif,
    },
    ReportFile {
        name: "sbom.cdx.json",
        content_type: "application/vnd.cyclonedx+json",
        write: write_cyclonedx,
    },
    ReportFile {
        name: "sbom.spdx.json",
        content_type: "application/spdx+json",
        write: write_spdx,
    },
];

/// The row for a file name, if it is one of [`REPORT_FILES`].
pub fn report_file(name: &str) -> Option<&'static ReportFile> {
    REPORT_FILES.iter().find(|file| file.name == name)
}

/// Renders every file of [`REPORT_FILES`], in table order.
pub fn render_all(
    report: &ImageReport,
    context: &ReportContext,
) -> Result<Vec<(&'static ReportFile, String)>, ReportError> {
    REPORT_FILES
        .iter()
        .map(|file| (file.write)(report, context).map(|text| (file, text)))
        .collect()
}

fn write_json(report: &ImageReport, _context: &ReportContext) -> Result<String, ReportError> {
    crate::to_pretty_json("report.json", report)
}

fn write_sarif(report: &ImageReport, context: &ReportContext) -> Result<String, ReportError> {
    crate::sarif::write(&report.platforms, context)
}

fn write_cyclonedx(report: &ImageReport, context: &ReportContext) -> Result<String, ReportError> {
    crate::cyclonedx::write(&report.platforms, context)
}

fn write_spdx(report: &ImageReport, context: &ReportContext) -> Result<String, ReportError> {
    crate::spdx::write(&report.platforms, context)
}
