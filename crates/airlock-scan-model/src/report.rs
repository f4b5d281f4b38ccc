//! The whole result of scanning one image: what every output format renders.

use serde::{Deserialize, Serialize};

use crate::{Finding, Inventory};

/// Whether vulnerability data was available when the image was matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VulnerabilityData {
    /// Matching was not attempted (inventory-only scan).
    Skipped,
    /// The database was empty or absent: the gate fails closed on this.
    Missing,
    /// Matching ran against a loaded database.
    Present,
}

/// One scanned image: its inventory plus what matching found.
///
/// For an image index, one `ScanReport` is produced per platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanReport {
    /// Always [`crate::SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// The inventory (SBOM).
    #[serde(flatten)]
    pub inventory: Inventory,
    /// Findings, sorted by severity (most severe first), then id, then package.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// State of the vulnerability data used for `findings`.
    pub vulnerability_data: VulnerabilityData,
    /// Non-fatal problems: unparseable versions, skipped ranges, unreadable files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}
