//! Renders [`ScanReport`]s into the formats `airlock scan --format` offers.
//!
//! Every writer is a pure function from reports to text: no I/O, no clock, no
//! randomness. The time and document id that SBOM formats need come from a
//! [`ReportContext`] the caller builds (with [`ReportContext::now`] in the
//! binary, with fixed values in golden tests), so the same input always renders
//! byte-for-byte the same output.
//!
//! One writer per file, listed once in [`FORMATS`]: adding a format is one new
//! `pub mod` line, one [`Format`] variant and one table row.

use std::fmt;
use std::str::FromStr;

use airlock_scan_model::ScanReport;
use time::OffsetDateTime;
use uuid::Uuid;

pub mod cyclonedx;
pub mod html;
pub mod image;
mod image_html;
pub mod json;
mod licenses;
pub mod sarif;
pub mod spdx;
pub mod table;

/// A report writer: renders one or several platform reports of one scan.
pub type WriteFn = fn(&[ScanReport], &ReportContext) -> Result<String, ReportError>;

/// The output formats, in the order `--help` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Human-readable tables for a terminal.
    Table,
    /// airlock's own JSON schema (`docs/scan-report-schema.md`).
    Json,
    /// CycloneDX 1.5 JSON.
    CycloneDx,
    /// SPDX 2.3 JSON.
    Spdx,
    /// SARIF 2.1.0, one rule per vulnerability id.
    Sarif,
    /// One self-contained HTML page.
    Html,
}

/// One row of the format table.
pub struct FormatEntry {
    /// The format.
    pub format: Format,
    /// Its name on the command line.
    pub name: &'static str,
    /// Its writer.
    pub write: WriteFn,
}

/// Every format, one row each.
pub const FORMATS: &[FormatEntry] = &[
    FormatEntry {
        format: Format::Table,
        name: "table",
        write: table::write,
    },
    FormatEntry {
        format: Format::Json,
        name: "json",
        write: json::write,
    },
    FormatEntry {
        format: Format::CycloneDx,
        name: "cyclonedx",
        write: cyclonedx::write,
    },
    FormatEntry {
        format: Format::Spdx,
        name: "spdx",
        write: spdx::write,
    },
    FormatEntry {
        format: Format::Sarif,
        name: "sarif",
        write: sarif::write,
    },
    FormatEntry {
        format: Format::Html,
        name: "html",
        write: html::write,
    },
];

impl Format {
    fn entry(self) -> &'static FormatEntry {
        FORMATS
            .iter()
            .find(|entry| entry.format == self)
            .unwrap_or(&FORMATS[0])
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        self.entry().name
    }

    /// Renders `reports` in this format.
    pub fn write(
        self,
        reports: &[ScanReport],
        context: &ReportContext,
    ) -> Result<String, ReportError> {
        (self.entry().write)(reports, context)
    }

    /// Every format name, for help texts.
    pub fn names() -> impl Iterator<Item = &'static str> {
        FORMATS.iter().map(|entry| entry.name)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = ReportError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        FORMATS
            .iter()
            .find(|entry| entry.name.eq_ignore_ascii_case(name))
            .map(|entry| entry.format)
            .ok_or_else(|| ReportError::UnknownFormat {
                name: name.to_string(),
                known: Format::names().collect::<Vec<_>>().join(", "),
            })
    }
}

/// Everything a writer needs besides the reports: the document time and id,
/// and who made it. Fixed values make output reproducible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportContext {
    /// When the document was created.
    pub timestamp: OffsetDateTime,
    /// Unique id of the document (CycloneDX serial number, SPDX namespace).
    pub document_id: Uuid,
    /// Tool name recorded as the document's creator.
    pub tool_name: String,
    /// Tool version recorded as the document's creator.
    pub tool_version: String,
}

impl ReportContext {
    /// A context for a document created now with a fresh random id.
    pub fn now() -> Self {
        ReportContext {
            timestamp: OffsetDateTime::now_utc(),
            document_id: Uuid::new_v4(),
            tool_name: "airlock".to_string(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// A fixed context: for tests and reproducible builds.
    pub fn fixed(timestamp: OffsetDateTime, document_id: Uuid) -> Self {
        ReportContext {
            timestamp,
            document_id,
            ..ReportContext::now()
        }
    }

    /// The timestamp as RFC 3339 in UTC, whole seconds (`2024-01-02T03:04:05Z`).
    pub fn timestamp_rfc3339(&self) -> String {
        let t = self.timestamp.to_offset(time::UtcOffset::UTC);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The format name is not in [`FORMATS`].
    #[error("unknown report format {name:?} (known: {known})")]
    UnknownFormat {
        /// What was asked for.
        name: String,
        /// The known names.
        known: String,
    },
    /// There was nothing to render.
    #[error("no scan report to render")]
    Empty,
    /// Formatting a text document failed (a `Display` implementation
    /// returned an error).
    #[error("formatting the {format} report failed")]
    Format {
        /// The format being written.
        format: &'static str,
    },
    /// Serialising the document failed.
    #[error("serialising the {format} report failed")]
    Serialize {
        /// The format being written.
        format: &'static str,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
}

/// Serialises a JSON value pretty-printed with a trailing newline.
pub(crate) fn to_pretty_json(
    format: &'static str,
    value: &impl serde::Serialize,
) -> Result<String, ReportError> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|source| ReportError::Serialize { format, source })?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_round_trips_through_its_name() {
        for entry in FORMATS {
            assert_eq!(entry.name.parse::<Format>().unwrap(), entry.format);
            assert_eq!(entry.format.name(), entry.name);
        }
        assert!("xml".parse::<Format>().is_err());
    }

    #[test]
    fn timestamp_is_rfc3339_utc_seconds() {
        let context = ReportContext::fixed(
            time::macros::datetime!(2024-01-02 03:04:05.678 +01:00),
            Uuid::nil(),
        );
        assert_eq!(context.timestamp_rfc3339(), "2024-01-02T02:04:05Z");
    }
}
