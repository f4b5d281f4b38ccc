//! airlock's own JSON format: the [`ScanReport`] as persisted, documented in
//! `docs/scan-report-schema.md`.
//!
//! One platform renders as one report object; several (an image index scanned
//! without `--platform`) render as `{"schema_version": 1, "reports": [...]}`
//! so a consumer can tell the two apart by the presence of `reports`.

use airlock_scan_model::{SCHEMA_VERSION, ScanReport};
use serde::Serialize;

use crate::{ReportContext, ReportError, to_pretty_json};

#[derive(Serialize)]
struct MultiPlatform {
    schema_version: u32,
    reports: Vec<ScanReport>,
}

/// Renders `reports` as airlock JSON.
pub fn write(reports: &[ScanReport], _context: &ReportContext) -> Result<String, ReportError> {
    let with_version = |report: &ScanReport| ScanReport {
        schema_version: SCHEMA_VERSION,
        ..report.clone()
    };
    match reports {
        [] => Err(ReportError::Empty),
        [single] => to_pretty_json("json", &with_version(single)),
        several => to_pretty_json(
            "json",
            &MultiPlatform {
                schema_version: SCHEMA_VERSION,
                reports: several.iter().map(with_version).collect(),
            },
        ),
    }
}
