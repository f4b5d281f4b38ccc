//! The gate's vulnerability matcher over the OSV database in the data
//! directory (`vulndb/osv.db`), opened fresh for every match so a `db update`
//! from another process is seen at once.

use std::path::PathBuf;
use std::time::Duration;

use airlock_gate::{Matched, VulnerabilityMatcher};
use airlock_scan_model::{ScanReport, VulnerabilityData};
use airlock_vulndb::VulnDb;
use time::OffsetDateTime;

/// Matches against the database at `path`.
#[derive(Debug, Clone)]
pub struct VulnDbMatcher {
    path: PathBuf,
}

impl VulnDbMatcher {
    /// A matcher over the database at `path`.
    pub fn new(path: PathBuf) -> VulnDbMatcher {
        VulnDbMatcher { path }
    }
}

/// Time since the oldest refresh of any source that holds records.
fn data_age(db: &VulnDb, now: OffsetDateTime) -> Result<Option<Duration>, String> {
    let mut oldest: Option<OffsetDateTime> = None;
    for source in db.status().map_err(|e| e.to_string())? {
        if source.records == 0 {
            continue;
        }
        let refreshed = OffsetDateTime::parse(
            &source.last_refresh,
            &time::format_description::well_known::Rfc3339,
        )
        .map_err(|e| format!("unreadable refresh time of {}: {e}", source.ecosystem))?;
        oldest = Some(oldest.map_or(refreshed, |o| o.min(refreshed)));
    }
    Ok(oldest.map(|t| Duration::try_from(now - t).unwrap_or(Duration::ZERO)))
}

fn match_blocking(path: &std::path::Path, mut reports: Vec<ScanReport>) -> Result<Matched, String> {
    let db = match VulnDb::open(path) {
        Ok(db) => db,
        Err(airlock_vulndb::Error::Missing(_)) => {
            for report in &mut reports {
                report.vulnerability_data = VulnerabilityData::Missing;
                report.findings.clear();
            }
            return Ok(Matched {
                reports,
                data_age: None,
            });
        }
        Err(e) => return Err(e.to_string()),
    };
    if db.active_records().map_err(|e| e.to_string())? == 0 {
        for report in &mut reports {
            report.vulnerability_data = VulnerabilityData::Missing;
            report.findings.clear();
        }
        return Ok(Matched {
            reports,
            data_age: None,
        });
    }
    let age = data_age(&db, OffsetDateTime::now_utc())?;
    for report in &mut reports {
        let outcome = airlock_matcher::match_inventory(&report.inventory, &db);
        report.vulnerability_data = VulnerabilityData::Present;
        report.findings = outcome.findings;
        report.warnings.extend(outcome.warnings);
    }
    Ok(Matched {
        reports,
        data_age: age,
    })
}

#[async_trait::async_trait]
impl VulnerabilityMatcher for VulnDbMatcher {
    async fn match_reports(&self, reports: Vec<ScanReport>) -> Result<Matched, String> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || match_blocking(&path, reports))
            .await
            .map_err(|e| format!("matching panicked: {e}"))?
    }
}
