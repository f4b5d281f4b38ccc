//! The seam to the vulnerability data: match stored inventories and say how
//! old the data is. The binary implements it over the OSV database.

use std::time::Duration;

use airlock_scan_model::ScanReport;

/// Matched reports and the age of the data they were matched against.
#[derive(Debug, Clone, PartialEq)]
pub struct Matched {
    /// The reports, with findings and `vulnerability_data` set.
    pub reports: Vec<ScanReport>,
    /// Time since the oldest source was refreshed; `None` when there is no
    /// data at all (the reports then say `missing`, and the policy fails).
    pub data_age: Option<Duration>,
}

/// Matches inventories against the vulnerability data.
#[async_trait::async_trait]
pub trait VulnerabilityMatcher: Send + Sync + std::fmt::Debug {
    /// Matches every report's inventory. An error means the data could not
    /// be read; the gate treats it like missing data (fail closed).
    async fn match_reports(&self, reports: Vec<ScanReport>) -> Result<Matched, String>;
}
