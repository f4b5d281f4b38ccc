//! The OSV vulnerability database: one SQLite file, separate from the
//! registry's metadata (by default `<data-dir>/vulndb/osv.db`).
//!
//! Design decisions:
//!
//! - **Generations.** Every import or update writes a new file and renames it
//!   into place ([`generation`]), so readers never see a half-loaded database
//!   and a failed update leaves the old one. [`VulnDb`] is a read-only handle.
//! - **Normalised storage.** Only what matching and reporting read is kept,
//!   as JSON fragments, zlib-compressed when large ([`schema`]); the file is
//!   smaller than the zips it came from.
//! - **Lookups through one index** on (ecosystem family, lookup name), with
//!   the name normalised by the matcher's own rules, so both sides agree.
//!   [`VulnDb`] implements [`airlock_matcher::AdvisorySource`].
//! - **Bad records are data, not errors**: they are counted per source with
//!   the first few reasons, and an import goes on.
//! - **No async.** Downloads use a blocking client; callers inside an async
//!   runtime run [`update`] on a blocking thread.

mod codec;
mod error;
pub mod generation;
mod import;
pub mod schema;
mod update;

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use airlock_matcher::ecosystem::{ecosystem_family, ecosystem_matches};
use airlock_matcher::{Advisory, AdvisorySource, Affected, AffectedPackage, SourceError};
use rusqlite::{Connection, OpenFlags};

use crate::codec::Codec;

pub use error::Error;
pub use import::{ImportReport, SourceReport, import, source_name};
pub use update::{DEFAULT_ECOSYSTEMS, DEFAULT_MIRROR, UpdateOptions, update};

/// Per-source state, as `db status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStatus {
    /// Source (ecosystem dump) name.
    pub ecosystem: String,
    /// Records stored, withdrawn ones included.
    pub records: u64,
    /// Withdrawn records (kept, never matched).
    pub withdrawn: u64,
    /// Records skipped as bad at the last import.
    pub bad: u64,
    /// RFC 3339 time of the last import or download.
    pub last_refresh: String,
    /// ETag of the last download.
    pub etag: Option<String>,
    /// Last-Modified of the last download.
    pub last_modified: Option<String>,
}

/// A read-only handle on one generation of the database.
#[derive(Debug)]
pub struct VulnDb {
    conn: Connection,
    path: PathBuf,
    codec: RefCell<Codec>,
}

impl VulnDb {
    /// Opens the database at `path`; [`Error::Missing`] when there is none.
    pub fn open(path: &Path) -> Result<VulnDb, Error> {
        if !path.exists() {
            return Err(Error::Missing(path.to_owned()));
        }
        // A generation never changes in place (a new one is renamed over it),
        // so the handle is opened `immutable`: no locking, no change checks.
        // Lookups are random reads: map the file, keep a large page cache.
        let conn = Connection::open_with_flags(
            immutable_uri(path),
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(error::sqlite(path, "open"))?;
        conn.execute_batch("PRAGMA mmap_size = 1073741824; PRAGMA cache_size = -65536;")
            .map_err(error::sqlite(path, "configure"))?;
        generation::check_schema_conn(&conn, path)?;
        Ok(VulnDb {
            conn,
            path: path.to_owned(),
            codec: RefCell::new(Codec::new()),
        })
    }

    /// The file this handle reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of records that can match (not withdrawn).
    pub fn active_records(&self) -> Result<u64, Error> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM records WHERE withdrawn IS NULL",
                [],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(error::sqlite(&self.path, "count records"))
    }

    /// Per-source counts and refresh times, sorted by source.
    pub fn status(&self) -> Result<Vec<SourceStatus>, Error> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT ecosystem, record_count, withdrawn_count, bad_count, last_refresh, etag, last_modified
                 FROM sources ORDER BY ecosystem",
            )
            .map_err(error::sqlite(&self.path, "read status"))?;
        statement
            .query_map([], |row| {
                Ok(SourceStatus {
                    ecosystem: row.get(0)?,
                    records: row.get::<_, i64>(1)? as u64,
                    withdrawn: row.get::<_, i64>(2)? as u64,
                    bad: row.get::<_, i64>(3)? as u64,
                    last_refresh: row.get(4)?,
                    etag: row.get(5)?,
                    last_modified: row.get(6)?,
                })
            })
            .and_then(|rows| rows.collect())
            .map_err(error::sqlite(&self.path, "read status"))
    }

    /// Records with an entry for `name` in the family of `ecosystem`.
    ///
    /// Each returned record carries only the `affected` entries of that
    /// package whose ecosystem matches `ecosystem` by the matcher's rule
    /// (other releases are dropped before decoding); withdrawn records are
    /// included (the matcher skips them).
    pub fn advisories_for(&self, ecosystem: &str, name: &str) -> Result<Vec<Advisory>, Error> {
        let mut records = self.lookup(ecosystem, name)?;
        for record in &mut records {
            self.complete_record(record)?;
        }
        Ok(records)
    }

    /// [`advisories_for`](VulnDb::advisories_for) without decoding what
    /// only reporting reads: summary, severity, references and the
    /// record-level rating are kept as their stored bytes in
    /// [`Advisory::deferred`] (one buffer per record) until
    /// [`complete_record`](VulnDb::complete_record). Decoding (and freeing)
    /// those fragments for records that do not match was most of a lookup's
    /// cost; reading them in the same query keeps completion free of I/O.
    pub fn lookup(&self, ecosystem: &str, name: &str) -> Result<Vec<Advisory>, Error> {
        let failed = error::sqlite(&self.path, "look up a package");
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT a.rid, a.ecosystem, a.body, r.id, r.modified, r.published, r.withdrawn,
                        r.aliases, r.summary, r.severity, r.refs, r.rating
                 FROM affected a JOIN records r ON r.rid = a.rid
                 WHERE a.family = ?1 AND a.name = ?2 AND (?3 OR a.ecosystem = ?4)
                 ORDER BY a.rid, a.seq",
            )
            .map_err(failed)?;
        // Entries of other releases (`Debian:10` for a `Debian:12` package)
        // are dropped in the index scan, before the join reads their record.
        // Ubuntu's `:LTS`/`:Pro` spellings need the matcher's rule, below.
        let family = ecosystem_family(ecosystem);
        let mut rows = statement
            .query(rusqlite::params![
                family,
                name,
                family == "Ubuntu",
                ecosystem
            ])
            .map_err(error::sqlite(&self.path, "look up a package"))?;
        let mut records: Vec<Advisory> = Vec::new();
        let mut last_rid = None;
        let mut codec = self.codec.borrow_mut();
        while let Some(row) = rows
            .next()
            .map_err(error::sqlite(&self.path, "look up a package"))?
        {
            let read = |e: rusqlite::Error| self.corrupt("row", e.to_string());
            let rid: i64 = row.get(0).map_err(read)?;
            let feed_ecosystem = row.get_ref(1).and_then(|v| Ok(v.as_str()?)).map_err(read)?;
            // Other releases of the family (`Debian:10` for a `Debian:12`
            // package) can never match: skip them before decoding anything.
            if !ecosystem_matches(ecosystem, feed_ecosystem) {
                continue;
            }
            let feed_ecosystem = feed_ecosystem.to_owned();
            let mut affected: Affected = codec
                .parse(bytes(row.get_ref(2).map_err(read)?))
                .map_err(|e| self.corrupt("affected", e))?;
            affected.package = Some(AffectedPackage {
                ecosystem: feed_ecosystem,
                name: name.to_owned(),
            });
            // Rows come ordered by record: an entry of the same record as
            // the previous row joins it.
            if last_rid == Some(rid) {
                if let Some(advisory) = records.last_mut() {
                    advisory.affected.push(affected);
                }
                continue;
            }
            last_rid = Some(rid);
            let mut deferred = Vec::new();
            for column in 8..=11 {
                pack_column(&mut deferred, bytes(row.get_ref(column).map_err(read)?));
            }
            let aliases = match bytes(row.get_ref(7).map_err(read)?) {
                None => Vec::new(),
                Some(json) => codec
                    .parse(Some(json))
                    .map_err(|e| self.corrupt("aliases", e))?,
            };
            records.push(Advisory {
                id: row.get(3).map_err(read)?,
                modified: row.get(4).map_err(read)?,
                published: row.get(5).map_err(read)?,
                withdrawn: row.get(6).map_err(read)?,
                summary: None,
                aliases,
                severity: Vec::new(),
                references: Vec::new(),
                database_specific: None,
                affected: vec![affected],
                deferred: Some(deferred.into_boxed_slice()),
            });
        }
        Ok(records)
    }

    /// Loads what [`lookup`](VulnDb::lookup) left out of `advisory` and
    /// clears its [`Advisory::deferred`] mark; complete records are left
    /// alone.
    pub fn complete_record(&self, advisory: &mut Advisory) -> Result<(), Error> {
        let Some(deferred) = advisory.deferred.take() else {
            return Ok(());
        };
        let mut columns = unpack_columns(&deferred);
        let mut next = || {
            columns
                .next()
                .ok_or_else(|| self.corrupt("record", "truncated deferred fields".into()))
        };
        let (summary, severity, references, rating) = (next()?, next()?, next()?, next()?);
        let mut codec = self.codec.borrow_mut();
        advisory.summary = summary
            .map(|text| {
                std::str::from_utf8(text)
                    .map(str::to_owned)
                    .map_err(|e| self.corrupt("summary", e.to_string()))
            })
            .transpose()?;
        advisory.severity = codec
            .parse_or_default(severity)
            .map_err(|e| self.corrupt("severity", e))?;
        advisory.references = codec
            .parse_or_default(references)
            .map_err(|e| self.corrupt("references", e))?;
        advisory.database_specific = codec
            .parse_or_default(rating)
            .map_err(|e| self.corrupt("rating", e))?;
        Ok(())
    }

    fn corrupt(&self, what: &str, reason: String) -> Error {
        Error::Sqlite {
            path: self.path.clone(),
            operation: "decode a stored record",
            reason: format!("{what}: {reason}"),
        }
    }
}

/// Appends one column to a deferred buffer: a NULL flag byte, then (when
/// not NULL) a little-endian `u32` length and the bytes.
fn pack_column(buffer: &mut Vec<u8>, column: Option<&[u8]>) {
    match column {
        None => buffer.push(0),
        Some(bytes) => {
            buffer.push(1);
            buffer.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            buffer.extend_from_slice(bytes);
        }
    }
}

/// The columns [`pack_column`] wrote, in order; stops at malformed input.
fn unpack_columns(mut buffer: &[u8]) -> impl Iterator<Item = Option<&[u8]>> {
    std::iter::from_fn(move || {
        let (&flag, rest) = buffer.split_first()?;
        if flag == 0 {
            buffer = rest;
            return Some(None);
        }
        let length = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let bytes = rest.get(4..4 + length)?;
        buffer = &rest[4 + length..];
        Some(Some(bytes))
    })
}

/// The bytes of a text or blob column; `None` for NULL (and numbers, which
/// no fragment column holds).
fn bytes(value: rusqlite::types::ValueRef<'_>) -> Option<&[u8]> {
    match value {
        rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => Some(t),
        _ => None,
    }
}

impl AdvisorySource for VulnDb {
    fn advisories(&self, ecosystem: &str, name: &str) -> Result<Vec<Advisory>, SourceError> {
        self.advisories_for(ecosystem, name)
            .map_err(|error| source_error(ecosystem, name, error))
    }

    fn advisories_for_matching(
        &self,
        ecosystem: &str,
        name: &str,
    ) -> Result<Vec<Advisory>, SourceError> {
        self.lookup(ecosystem, name)
            .map_err(|error| source_error(ecosystem, name, error))
    }

    fn complete(
        &self,
        ecosystem: &str,
        name: &str,
        advisory: &mut Advisory,
    ) -> Result<(), SourceError> {
        self.complete_record(advisory)
            .map_err(|error| source_error(ecosystem, name, error))
    }
}

fn source_error(ecosystem: &str, name: &str, error: Error) -> SourceError {
    SourceError {
        ecosystem: ecosystem.to_owned(),
        name: name.to_owned(),
        reason: error.to_string(),
    }
}

/// Writes a consistent, compacted copy of the database at `db` to `file`,
/// a bundle that `import` on another machine recognises.
pub fn export(db: &Path, file: &Path) -> Result<(), Error> {
    let source = VulnDb::open(db)?;
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        file.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&temp);
    let result = source
        .conn
        .execute("VACUUM INTO ?1", [temp.to_string_lossy()])
        .map_err(error::sqlite(db, "export"))
        .and_then(|_| std::fs::rename(&temp, file).map_err(error::io(file, "write")));
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// `file:` URI of `path` with `immutable=1` (SQLite URI escaping).
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            _ => uri.push(c),
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// The current time, RFC 3339, UTC.
pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deferred_columns_round_trip_and_stop_at_truncation() {
        let columns: [Option<&[u8]>; 4] = [Some(b"summary"), None, Some(b""), Some(b"x\x78y")];
        let mut buffer = Vec::new();
        for column in columns {
            pack_column(&mut buffer, column);
        }
        assert_eq!(unpack_columns(&buffer).collect::<Vec<_>>(), columns);
        let truncated: Vec<_> = unpack_columns(&buffer[..buffer.len() - 1]).collect();
        assert_eq!(truncated, &columns[..3]);
    }
}
