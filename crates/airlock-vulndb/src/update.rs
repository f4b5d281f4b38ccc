//! `db update`: conditional downloads of osv.dev's per-ecosystem dumps.
//!
//! Each dump is `<mirror>/<Ecosystem>/all.zip`. The ETag and Last-Modified of
//! the last download are kept in `sources`, and sent back as `If-None-Match`
//! and `If-Modified-Since`; a `304` leaves that ecosystem (and, when every
//! ecosystem answers `304`, the whole file) untouched. Bodies are streamed to
//! temporary files beside the database and checked against Content-Length;
//! only when every download is complete are they imported, together, into one
//! new generation. Any failure leaves the current database in place.

use std::collections::HashMap;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use rusqlite::Connection;

use crate::error::{Error, io, sqlite};
use crate::generation::Generation;
use crate::import::{ImportReport, SourceReport, Validators, import_zip};

/// osv.dev's public bucket.
pub const DEFAULT_MIRROR: &str = "https://osv-vulnerabilities.storage.googleapis.com";

/// Ecosystems fetched by `db update` when none are named and the database
/// has none yet: the OS and language ecosystems the analyzers produce.
pub const DEFAULT_ECOSYSTEMS: &[&str] = &[
    "Alpine",
    "Debian",
    "Ubuntu",
    "PyPI",
    "npm",
    "crates.io",
    "Go",
    "Maven",
    "RubyGems",
    "NuGet",
    "Packagist",
];

/// What `db update` fetches and from where.
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    /// Base URL; dumps are at `<mirror>/<Ecosystem>/all.zip`.
    pub mirror: String,
    /// Ecosystems to fetch; empty means those already in the database, or
    /// [`DEFAULT_ECOSYSTEMS`] for a new database.
    pub ecosystems: Vec<String>,
    /// Draw a progress bar on stderr when it is a terminal.
    pub progress: bool,
}

impl Default for UpdateOptions {
    fn default() -> Self {
        UpdateOptions {
            mirror: DEFAULT_MIRROR.to_owned(),
            ecosystems: Vec::new(),
            progress: true,
        }
    }
}

/// A downloaded file that is removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Downloads the dumps that changed and imports them into a new generation.
pub fn update(db: &Path, options: &UpdateOptions) -> Result<ImportReport, Error> {
    let stored = stored_validators(db)?;
    let ecosystems: Vec<String> = if !options.ecosystems.is_empty() {
        options.ecosystems.clone()
    } else if !stored.is_empty() {
        let mut names: Vec<String> = stored.keys().cloned().collect();
        names.sort();
        names
    } else {
        DEFAULT_ECOSYSTEMS.iter().map(|s| s.to_string()).collect()
    };
    let dir = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    std::fs::create_dir_all(&dir).map_err(io(&dir, "create directory"))?;

    let client = reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(1800))
        .user_agent(concat!("airlock/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Download {
            url: options.mirror.clone(),
            reason: e.to_string(),
        })?;
    let draw = options.progress && std::io::stderr().is_terminal();

    let mut reports = Vec::new();
    let mut downloads = Vec::new();
    for ecosystem in &ecosystems {
        let url = format!(
            "{}/{}/all.zip",
            options.mirror.trim_end_matches('/'),
            ecosystem.replace(' ', "%20")
        );
        let previous = stored.get(ecosystem).cloned().unwrap_or_default();
        let temp = TempFile(dir.join(format!(
            ".{}-{}.zip.part",
            ecosystem.replace(['/', ' ', ':'], "_"),
            std::process::id()
        )));
        match download(&client, &url, &previous, &temp.0, draw)? {
            None => reports.push(SourceReport {
                ecosystem: ecosystem.clone(),
                not_modified: true,
                ..SourceReport::default()
            }),
            Some(validators) => {
                reports.push(SourceReport {
                    ecosystem: ecosystem.clone(),
                    ..SourceReport::default()
                });
                downloads.push((reports.len() - 1, temp, validators));
            }
        }
    }
    if downloads.is_empty() {
        return Ok(ImportReport { sources: reports });
    }
    let generation = Generation::begin(db)?;
    for (position, temp, validators) in &downloads {
        let ecosystem = reports[*position].ecosystem.clone();
        reports[*position] = import_zip(&generation, &temp.0, &ecosystem, validators)?;
    }
    generation.commit()?;
    Ok(ImportReport { sources: reports })
}

/// The validators of every source of the current database (none if absent).
fn stored_validators(db: &Path) -> Result<HashMap<String, Validators>, Error> {
    if !db.exists() {
        return Ok(HashMap::new());
    }
    crate::generation::check_schema(db)?;
    let conn = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(sqlite(db, "open"))?;
    let mut statement = conn
        .prepare("SELECT ecosystem, etag, last_modified FROM sources")
        .map_err(sqlite(db, "read sources"))?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                Validators {
                    etag: row.get(1)?,
                    last_modified: row.get(2)?,
                },
            ))
        })
        .and_then(|rows| rows.collect::<Result<HashMap<_, _>, _>>())
        .map_err(sqlite(db, "read sources"))?;
    Ok(rows)
}

/// Fetches `url` into `target`; `None` when the server answered 304.
fn download(
    client: &reqwest::blocking::Client,
    url: &str,
    previous: &Validators,
    target: &Path,
    draw: bool,
) -> Result<Option<Validators>, Error> {
    let failed = |reason: String| Error::Download {
        url: url.to_owned(),
        reason,
    };
    let mut request = client.get(url);
    if let Some(etag) = &previous.etag {
        request = request.header(IF_NONE_MATCH, etag);
    }
    if let Some(last_modified) = &previous.last_modified {
        request = request.header(IF_MODIFIED_SINCE, last_modified);
    }
    let mut response = request.send().map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(failed(format!("server answered {status}")));
    }
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let validators = Validators {
        etag: header(ETAG),
        last_modified: header(LAST_MODIFIED),
    };
    let expected = response.content_length();

    let bar = if draw {
        let bar = expected.map_or_else(ProgressBar::new_spinner, ProgressBar::new);
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(url.to_owned());
        bar
    } else {
        ProgressBar::hidden()
    };

    let mut file = std::fs::File::create(target).map_err(io(target, "create"))?;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut written: u64 = 0;
    loop {
        let read = match response.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => {
                bar.abandon();
                return Err(failed(format!(
                    "interrupted after {written} bytes: {error}"
                )));
            }
        };
        file.write_all(&buffer[..read])
            .map_err(io(target, "write"))?;
        written += read as u64;
        bar.set_position(written);
    }
    bar.finish_and_clear();
    if let Some(expected) = expected
        && expected != written
    {
        return Err(failed(format!(
            "interrupted after {written} of {expected} bytes"
        )));
    }
    file.sync_all().map_err(io(target, "sync"))?;
    Ok(Some(validators))
}
