//! `airlock db`: the vulnerability database's command line.
//!
//! Thin wrappers over `airlock-vulndb`: parse the arguments, pick the
//! database path, call the library, print counts. The database lives apart
//! from the registry metadata, by default in
//! `$AIRLOCK_DATA_DIR/vulndb/osv.db` (`./airlock-data/vulndb/osv.db`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use airlock_vulndb::{DEFAULT_MIRROR, ImportReport, UpdateOptions, VulnDb};

/// Subcommands of `airlock db`.
#[derive(Debug, clap::Subcommand)]
pub enum DbCommand {
    /// Download osv.dev's per-ecosystem dumps (conditional GET) into a new generation.
    Update {
        /// Base URL serving `<Ecosystem>/all.zip`.
        #[arg(long, env = "AIRLOCK_OSV_MIRROR", default_value = DEFAULT_MIRROR)]
        mirror: String,
        /// Ecosystem to fetch (repeatable); default: those already in the
        /// database, or a built-in list for a new one.
        #[arg(long = "ecosystem", value_name = "NAME")]
        ecosystems: Vec<String>,
        #[command(flatten)]
        db: DbPath,
    },
    /// Load local `all.zip` dumps, folders of OSV JSON, or an exported bundle.
    Import {
        /// Zips, folders or bundles; each replaces the ecosystem it holds.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        db: DbPath,
    },
    /// Write a portable copy of the database for air-gapped sites.
    Export {
        /// The bundle to write.
        file: PathBuf,
        #[command(flatten)]
        db: DbPath,
    },
    /// Show each ecosystem's record count and last refresh.
    Status {
        #[command(flatten)]
        db: DbPath,
    },
}

/// `--db PATH`, shared by every `db` subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct DbPath {
    /// The vulnerability database file.
    #[arg(long = "db", value_name = "PATH")]
    path: Option<PathBuf>,
}

impl DbPath {
    fn resolve(&self) -> PathBuf {
        self.path.clone().unwrap_or_else(default_db_path)
    }
}

/// `$AIRLOCK_DATA_DIR/vulndb/osv.db`, or `./airlock-data/vulndb/osv.db`.
pub fn default_db_path() -> PathBuf {
    let data_dir = std::env::var_os("AIRLOCK_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("airlock-data"));
    data_dir.join("vulndb").join("osv.db")
}

/// After new vulnerability data: when the database is a deployment's own,
/// queues a re-evaluation of every promoted image there. The server's
/// workers match the stored inventories again; nothing is downloaded or
/// scanned again.
///
/// The deployment is the one `$AIRLOCK_CONFIG` describes (its database may
/// be PostgreSQL) when that file is set and names this database as its
/// `vulndb`; otherwise the data directory the database sits in
/// (`<data-dir>/vulndb/osv.db` next to `registry.db`).
fn reevaluate_promoted(db_path: &Path) -> anyhow::Result<()> {
    let config_file = std::env::var_os("AIRLOCK_CONFIG")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from);
    let data_dir = db_path
        .parent()
        .filter(|dir| dir.file_name().is_some_and(|n| n == "vulndb"))
        .and_then(Path::parent);
    if config_file.is_none() && !data_dir.is_some_and(|dir| dir.join("registry.db").exists()) {
        return Ok(());
    }
    let common = crate::config::CommonArgs {
        config: config_file,
        data_dir: data_dir.map(Path::to_path_buf),
        log_format: None,
        log_level: None,
        webhook_allow_http: None,
        webhook_allow_private: None,
        database_url: None,
        token_signing_key: None,
        vulndb: None,
    };
    let config = crate::config::Config::load(&common, None)?;
    if !same_file(&config.vulndb, db_path) {
        return Ok(());
    }
    let runtime = tokio::runtime::Runtime::new()?;
    let queued = runtime.block_on(async {
        let database = crate::cmd_serve::open_database(&config).await?;
        let gate = crate::cmd_serve::open_gate(&config, database).await?;
        gate.reevaluate_all(None)
            .await
            .map_err(|e| anyhow::anyhow!("cannot queue re-evaluations: {e}"))
    })?;
    if queued > 0 {
        println!("queued a re-evaluation of {queued} promoted images");
    }
    Ok(())
}

/// Whether two paths name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Runs `airlock db`.
pub fn run(command: DbCommand) -> anyhow::Result<u8> {
    match command {
        DbCommand::Update {
            mirror,
            ecosystems,
            db,
        } => {
            let path = db.resolve();
            let started = Instant::now();
            let options = UpdateOptions {
                mirror,
                ecosystems,
                progress: true,
            };
            let report = airlock_vulndb::update(&path, &options)?;
            print_report(&report, &path, started);
            reevaluate_promoted(&path)?;
            Ok(0)
        }
        DbCommand::Import { paths, db } => {
            let path = db.resolve();
            let started = Instant::now();
            let report = airlock_vulndb::import(&path, &paths)?;
            print_report(&report, &path, started);
            reevaluate_promoted(&path)?;
            Ok(0)
        }
        DbCommand::Export { file, db } => {
            let path = db.resolve();
            airlock_vulndb::export(&path, &file)?;
            println!(
                "exported {} to {} ({})",
                path.display(),
                file.display(),
                size_of(&file)
            );
            Ok(0)
        }
        DbCommand::Status { db } => {
            let path = db.resolve();
            let database = match VulnDb::open(&path) {
                Ok(database) => database,
                Err(airlock_vulndb::Error::Missing(_)) => {
                    println!("no vulnerability database at {}", path.display());
                    return Ok(1);
                }
                Err(error) => return Err(error.into()),
            };
            let sources = database.status()?;
            println!("database: {} ({})", path.display(), size_of(&path));
            println!(
                "{:<16} {:>9} {:>10} {:>6}  LAST REFRESH",
                "ECOSYSTEM", "RECORDS", "WITHDRAWN", "BAD"
            );
            for source in &sources {
                println!(
                    "{:<16} {:>9} {:>10} {:>6}  {}",
                    source.ecosystem,
                    source.records,
                    source.withdrawn,
                    source.bad,
                    source.last_refresh
                );
            }
            if sources.is_empty() {
                println!("(empty: run `airlock db update` or `airlock db import`)");
            }
            Ok(0)
        }
    }
}

fn print_report(report: &ImportReport, path: &Path, started: Instant) {
    let (mut records, mut bad) = (0, 0);
    for source in &report.sources {
        if source.not_modified {
            println!("{}: not modified", source.ecosystem);
            continue;
        }
        println!(
            "{}: {} records ({} withdrawn), {} bad",
            source.ecosystem, source.records, source.withdrawn, source.bad
        );
        for example in &source.bad_examples {
            println!("  bad: {example}");
        }
        records += source.records;
        bad += source.bad;
    }
    println!(
        "{records} records, {bad} bad, in {:.2}s; database {} ({})",
        started.elapsed().as_secs_f64(),
        path.display(),
        size_of(path)
    );
}

fn size_of(path: &Path) -> String {
    match std::fs::metadata(path) {
        Ok(metadata) => format!("{:.1} MiB", metadata.len() as f64 / (1024.0 * 1024.0)),
        Err(_) => "absent".to_owned(),
    }
}
