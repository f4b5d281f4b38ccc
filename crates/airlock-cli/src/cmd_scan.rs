//! `airlock scan`: inventories an image (OCI layout, docker archive or
//! registry) and renders the report in the chosen format.
//!
//! This module only turns flags into [`ScanOptions`], draws the progress bar,
//! matches the inventory against the vulnerability database and writes the
//! output; the scan itself is `airlock-scanner`, matching is
//! `airlock-matcher` over `airlock-vulndb`, the formats are `airlock-report`.
//!
//! An empty or missing database is never silent: a loud warning goes to
//! stderr and every report says `"vulnerability_data": "missing"`, which the
//! gate treats as a failure.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use airlock_report::{Format, ReportContext};
use airlock_scan_model::{ScanReport, Severity, VulnerabilityData};
use airlock_scanner::{
    Credentials, LayerCache, RegistryOptions, ScanLimits, ScanOptions, ScanProgress, Target,
};
use airlock_vulndb::VulnDb;
use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `airlock scan`.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// What to scan: oci:DIR[:TAG], docker-archive:FILE, or HOST[:PORT]/REPO[:TAG|@DIGEST].
    pub target: String,
    /// Output format.
    #[arg(long, default_value = "table", value_parser = format_parser())]
    pub format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// For a multi-platform image, scan only this platform (os/arch[/variant]).
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Allow plain HTTP to the registry.
    #[arg(long)]
    pub insecure: bool,
    /// Registry user name (the password is read from standard input).
    #[arg(long, requires = "password_stdin")]
    pub username: Option<String>,
    /// Read the registry password from standard input.
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
    /// Layer cache directory (default: $XDG_CACHE_HOME/airlock/layers).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Analyse every layer, reading and writing no cache.
    #[arg(long, conflicts_with = "cache_dir")]
    pub no_cache: bool,
    /// Largest decompressed layer (bytes; K/M/G suffixes are binary).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_layer_bytes: Option<u64>,
    /// Largest decompressed image, all layers together.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_image_bytes: Option<u64>,
    /// Largest file read into memory by an analyzer.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_file_bytes: Option<u64>,
    /// Most tar entries in one layer.
    #[arg(long, value_name = "N")]
    pub max_entries: Option<u64>,
    /// Wall-time limit of the scan, e.g. 90s, 5m, 1h.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Vulnerability database [default: $AIRLOCK_DATA_DIR/vulndb/osv.db].
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Only inventory packages; do not look for vulnerabilities.
    #[arg(long, conflicts_with_all = ["db", "severity", "ignore_unfixed"])]
    pub inventory_only: bool,
    /// Show only findings of these severities (critical,high,medium,low,unknown).
    #[arg(long, value_delimiter = ',', value_parser = parse_severity)]
    pub severity: Vec<Severity>,
    /// Hide findings that have no fixed version.
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// Exit with this code when findings remain after filtering (as in CI pipelines).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub exit_code: u8,
}

fn parse_severity(text: &str) -> Result<Severity, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "critical" => Ok(Severity::Critical),
        "high" => Ok(Severity::High),
        "medium" => Ok(Severity::Medium),
        "low" => Ok(Severity::Low),
        "unknown" => Ok(Severity::Unknown),
        other => Err(format!(
            "unknown severity {other:?} (use critical, high, medium, low or unknown)"
        )),
    }
}

/// Matches every report's inventory against the database, or marks the
/// data missing (loudly) when there is no usable database.
fn match_vulnerabilities(reports: &mut [ScanReport], args: &ScanArgs) -> anyhow::Result<()> {
    let path = args
        .db
        .clone()
        .unwrap_or_else(crate::cmd_db::default_db_path);
    let db = match VulnDb::open(&path) {
        Ok(db) if db.active_records()? > 0 => Some(db),
        Ok(_) => None,
        Err(airlock_vulndb::Error::Missing(_)) => None,
        Err(e) => {
            return Err(e)
                .with_context(|| format!("opening the vulnerability database {}", path.display()));
        }
    };
    let Some(db) = db else {
        eprintln!(
            "WARNING: no vulnerability data in {} — findings were NOT checked.\n\
             WARNING: run `airlock db update` or `airlock db import PATH` first; the gate rejects images scanned without data.",
            path.display()
        );
        for report in reports.iter_mut() {
            report.vulnerability_data = VulnerabilityData::Missing;
        }
        return Ok(());
    };
    for report in reports.iter_mut() {
        let outcome = airlock_matcher::match_inventory(&report.inventory, &db);
        report.vulnerability_data = VulnerabilityData::Present;
        report.findings = outcome
            .findings
            .into_iter()
            .filter(|f| args.severity.is_empty() || args.severity.contains(&f.severity))
            .filter(|f| !args.ignore_unfixed || !f.fixed_versions.is_empty())
            .collect();
        report.warnings.extend(outcome.warnings);
    }
    Ok(())
}

/// Runs `airlock scan`.
pub fn run(args: ScanArgs) -> anyhow::Result<u8> {
    let target: Target = args.target.parse()?;
    let options = scan_options(&args)?;
    let mut reports = airlock_scanner::scan(&target, &options)?;
    if !args.inventory_only {
        match_vulnerabilities(&mut reports, &args)?;
    }
    let text = args.format.write(&reports, &ReportContext::now())?;
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("writing the report to {}", path.display()))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .context("writing the report to standard output")?;
            stdout
                .flush()
                .context("writing the report to standard output")?;
        }
    }
    let remaining: usize = reports.iter().map(|r| r.findings.len()).sum();
    Ok(if remaining > 0 { args.exit_code } else { 0 })
}

fn scan_options(args: &ScanArgs) -> anyhow::Result<ScanOptions> {
    let defaults = ScanLimits::default();
    let limits = ScanLimits {
        max_layer_bytes: args.max_layer_bytes.unwrap_or(defaults.max_layer_bytes),
        max_image_bytes: args.max_image_bytes.unwrap_or(defaults.max_image_bytes),
        max_file_bytes: args.max_file_bytes.unwrap_or(defaults.max_file_bytes),
        max_entries: args.max_entries.unwrap_or(defaults.max_entries),
        timeout: args.timeout,
    };
    let cache = if args.no_cache {
        None
    } else {
        let dir = match &args.cache_dir {
            Some(dir) => dir.clone(),
            None => LayerCache::default_dir()?,
        };
        Some(LayerCache::open(dir)?)
    };
    let credentials = match &args.username {
        Some(username) => Some(Credentials {
            username: username.clone(),
            password: read_password()?,
        }),
        None => None,
    };
    let progress: Option<Arc<dyn ScanProgress>> = std::io::stderr()
        .is_terminal()
        .then(|| Arc::new(LayerProgress::default()) as Arc<dyn ScanProgress>);
    Ok(ScanOptions {
        platform: args.platform.as_deref().map(str::parse).transpose()?,
        limits,
        cache,
        registry: RegistryOptions {
            insecure: args.insecure,
            credentials,
            ..RegistryOptions::default()
        },
        progress,
    })
}

fn read_password() -> anyhow::Result<String> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("reading the password from standard input")?;
    let password = password.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        bail!("--password-stdin given but standard input was empty");
    }
    Ok(password)
}

/// A byte progress bar per layer downloaded from a registry.
#[derive(Default)]
struct LayerProgress {
    bar: std::sync::Mutex<Option<ProgressBar>>,
}

impl ScanProgress for LayerProgress {
    fn layer_started(&self, digest: &str, size: u64, remote: bool) {
        if !remote {
            return;
        }
        let bar = ProgressBar::new(size);
        let style =
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
                .map(|style| style.progress_chars("=> "))
                .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        let short = digest.strip_prefix("sha256:").unwrap_or(digest);
        bar.set_message(format!("layer {}", &short[..short.len().min(12)]));
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn layer_bytes(&self, bytes: u64) {
        if let Ok(slot) = self.bar.lock()
            && let Some(bar) = slot.as_ref()
        {
            bar.inc(bytes);
        }
    }

    fn layer_finished(&self, _digest: &str, _cached: bool) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some(bar) = slot.take()
        {
            bar.finish_and_clear();
        }
    }
}

/// Accepts exactly the names in `airlock_report::FORMATS`, listed in `--help`.
fn format_parser() -> impl clap::builder::TypedValueParser<Value = Format> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(Format::names())
        .try_map(|name: String| name.parse::<Format>())
}

/// `1024`, `64K`, `512M`, `8G` (binary multiples; `KiB`/`MiB`/`GiB` too).
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size like 1024, 64K, 512M or 8G"))?;
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("{text:?} has an unknown unit (use K, M or G)")),
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// `90`, `90s`, `5m`, `1h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 90s, 5m or 1h"))?;
    let seconds = match unit {
        "" | "s" => number,
        "m" => number.saturating_mul(60),
        "h" => number.saturating_mul(3600),
        _ => return Err(format!("{text:?} has an unknown unit (use s, m or h)")),
    };
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("8g"), Ok(8 << 30));
        assert!(parse_size("8T").is_err());
        assert!(parse_size("M").is_err());
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("5d").is_err());
    }
}
