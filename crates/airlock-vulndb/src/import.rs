//! Loading OSV data into a new generation.
//!
//! Inputs are osv.dev's `all.zip` dumps (one JSON record per member), folders
//! of `*.json` records, or a bundle written by [`export`](crate::export)
//! (recognised by the SQLite header). Each input is a *source* named after
//! its ecosystem (`Go/all.zip` → `Go`, `PyPI.zip` → `PyPI`, a folder by its
//! name) and replaces that source's records. Records are streamed: one
//! member is parsed and inserted at a time. A record that does not parse, or
//! lacks a required field, or repeats an id, is counted as bad with its
//! reason and skipped; a zip that cannot be read fails the whole import, and
//! the current database stays as it was.

use std::io::Read;
use std::path::{Path, PathBuf};

use airlock_matcher::Advisory;
use airlock_matcher::ecosystem::{ecosystem_family, lookup_name};
use rusqlite::{Connection, params};

use crate::codec::Codec;
use crate::error::{Error, io, sqlite};
use crate::generation::{Generation, check_schema_conn};

/// At most this many bad-record reasons are kept per source.
const BAD_EXAMPLES: usize = 5;

/// What one import did to one source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceReport {
    /// The source (ecosystem dump) name, e.g. `Go`, `Debian`.
    pub ecosystem: String,
    /// Records stored (withdrawn ones included).
    pub records: usize,
    /// Of which withdrawn.
    pub withdrawn: usize,
    /// Records skipped as bad.
    pub bad: usize,
    /// The first few bad records, as `member: reason`.
    pub bad_examples: Vec<String>,
    /// `db update` only: the server said the dump had not changed.
    pub not_modified: bool,
}

/// What one import or update did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// One entry per source touched, in input order.
    pub sources: Vec<SourceReport>,
}

/// HTTP validators of a downloaded dump, stored for the next conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// Imports `inputs` into a new generation of the database at `db`.
pub fn import(db: &Path, inputs: &[PathBuf]) -> Result<ImportReport, Error> {
    let generation = Generation::begin(db)?;
    let mut report = ImportReport::default();
    for input in inputs {
        report.sources.extend(import_input(&generation, input)?);
    }
    generation.commit()?;
    Ok(report)
}

fn import_input(generation: &Generation, input: &Path) -> Result<Vec<SourceReport>, Error> {
    if input.is_dir() {
        let source = source_name(input);
        return import_dir(generation, input, &source).map(|r| vec![r]);
    }
    let mut magic = [0u8; 16];
    let mut file = std::fs::File::open(input).map_err(io(input, "open"))?;
    let read = file.read(&mut magic).map_err(io(input, "read"))?;
    if read == 16 && &magic == b"SQLite format 3\0" {
        return import_bundle(generation, input);
    }
    if read >= 2 && &magic[..2] == b"PK" {
        let source = source_name(input);
        return import_zip(generation, input, &source, &Validators::default()).map(|r| vec![r]);
    }
    Err(Error::Input {
        path: input.to_owned(),
        reason: "not a zip, a folder of OSV JSON, or an airlock bundle".into(),
    })
}

/// `…/Go/all.zip` → `Go`; `PyPI.zip` → `PyPI`; a folder → its name.
pub fn source_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if path.is_file() && stem == "all" {
        let parent = path.canonicalize().ok().and_then(|p| {
            p.parent()
                .and_then(|d| d.file_name())
                .map(|n| n.to_string_lossy().into_owned())
        });
        if let Some(parent) = parent {
            return parent;
        }
    }
    if path.is_dir() {
        return path
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or(stem);
    }
    stem
}

/// Imports one zip as `source`, replacing what that source had.
pub(crate) fn import_zip(
    generation: &Generation,
    path: &Path,
    source: &str,
    validators: &Validators,
) -> Result<SourceReport, Error> {
    let corrupt = |reason: String| Error::Input {
        path: path.to_owned(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(io(path, "open"))?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| corrupt(format!("corrupt zip: {e}")))?;
    let mut writer = SourceWriter::start(generation, source)?;
    let mut buffer = Vec::new();
    for index in 0..archive.len() {
        let mut member = archive
            .by_index(index)
            .map_err(|e| corrupt(format!("corrupt zip member {index}: {e}")))?;
        if member.is_dir() || !member.name().ends_with(".json") {
            continue;
        }
        let name = member.name().to_owned();
        buffer.clear();
        member
            .read_to_end(&mut buffer)
            .map_err(|e| corrupt(format!("corrupt zip member {name}: {e}")))?;
        writer.add(&name, &buffer)?;
    }
    writer.finish(validators)
}

fn import_dir(generation: &Generation, dir: &Path, source: &str) -> Result<SourceReport, Error> {
    let mut files = Vec::new();
    collect_json(dir, &mut files)?;
    files.sort();
    let mut writer = SourceWriter::start(generation, source)?;
    for file in files {
        let bytes = std::fs::read(&file).map_err(io(&file, "read"))?;
        let name = file
            .strip_prefix(dir)
            .unwrap_or(&file)
            .to_string_lossy()
            .into_owned();
        writer.add(&name, &bytes)?;
    }
    writer.finish(&Validators::default())
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    for entry in std::fs::read_dir(dir).map_err(io(dir, "list"))? {
        let path = entry.map_err(io(dir, "list"))?.path();
        if path.is_dir() {
            collect_json(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

/// Deletes everything `source` contributed.
fn clear_source(conn: &Connection, path: &Path, source: &str) -> Result<(), Error> {
    conn.execute(
        "DELETE FROM affected WHERE rid IN (SELECT rid FROM records WHERE source = ?1)",
        [source],
    )
    .and_then(|_| conn.execute("DELETE FROM records WHERE source = ?1", [source]))
    .and_then(|_| conn.execute("DELETE FROM sources WHERE ecosystem = ?1", [source]))
    .map_err(sqlite(path, "clear a source"))?;
    Ok(())
}

/// Writes the records of one source into a generation.
struct SourceWriter<'g> {
    generation: &'g Generation,
    report: SourceReport,
    codec: Codec,
}

impl<'g> SourceWriter<'g> {
    fn start(generation: &'g Generation, source: &str) -> Result<SourceWriter<'g>, Error> {
        clear_source(generation.conn(), generation.temp_path(), source)?;
        Ok(SourceWriter {
            generation,
            report: SourceReport {
                ecosystem: source.to_owned(),
                ..SourceReport::default()
            },
            codec: Codec::new(),
        })
    }

    fn bad(&mut self, member: &str, reason: impl std::fmt::Display) {
        self.report.bad += 1;
        if self.report.bad_examples.len() < BAD_EXAMPLES {
            self.report.bad_examples.push(format!("{member}: {reason}"));
        }
    }

    /// Adds one JSON document; bad documents are counted, never fatal.
    fn add(&mut self, member: &str, bytes: &[u8]) -> Result<(), Error> {
        let advisory = match Advisory::from_json(bytes) {
            Ok(advisory) => advisory,
            Err(error) => {
                self.bad(member, error);
                return Ok(());
            }
        };
        let conn = self.generation.conn();
        let path = self.generation.temp_path();
        let mut insert_record = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO records(source, id, modified, published, withdrawn, summary, aliases, severity, refs, rating)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .map_err(sqlite(path, "insert a record"))?;
        let inserted = insert_record
            .execute(params![
                self.report.ecosystem,
                advisory.id,
                advisory.modified,
                advisory.published,
                advisory.withdrawn,
                advisory.summary,
                (!advisory.aliases.is_empty()).then(|| to_json(&advisory.aliases)),
                (!advisory.severity.is_empty()).then(|| to_json(&advisory.severity)),
                (!advisory.references.is_empty())
                    .then(|| self.codec.encode(to_json(&advisory.references))),
                advisory.database_specific.as_ref().map(to_json),
            ])
            .map_err(sqlite(path, "insert a record"))?;
        if inserted == 0 {
            self.bad(member, format_args!("duplicate id {}", advisory.id));
            return Ok(());
        }
        let rid = conn.last_insert_rowid();
        let mut insert_affected = conn
            .prepare_cached(
                "INSERT INTO affected(family, name, rid, seq, ecosystem, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(sqlite(path, "insert an affected package"))?;
        for (seq, mut affected) in advisory.affected.into_iter().enumerate() {
            let Some(package) = affected.package.take() else {
                continue;
            };
            insert_affected
                .execute(params![
                    ecosystem_family(&package.ecosystem),
                    lookup_name(&package.ecosystem, &package.name),
                    rid,
                    seq as i64,
                    package.ecosystem,
                    self.codec.encode(to_json(&affected)),
                ])
                .map_err(sqlite(path, "insert an affected package"))?;
        }
        self.report.records += 1;
        if advisory.withdrawn.is_some() {
            self.report.withdrawn += 1;
        }
        Ok(())
    }

    fn finish(self, validators: &Validators) -> Result<SourceReport, Error> {
        let report = self.report;
        self.generation
            .conn()
            .execute(
                "INSERT OR REPLACE INTO sources(ecosystem, record_count, withdrawn_count, bad_count, last_refresh, etag, last_modified)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    report.ecosystem,
                    report.records as i64,
                    report.withdrawn as i64,
                    report.bad as i64,
                    crate::now_rfc3339(),
                    validators.etag,
                    validators.last_modified,
                ],
            )
            .map_err(sqlite(self.generation.temp_path(), "record a source"))?;
        Ok(report)
    }
}

/// Serialising the model types cannot fail (no maps with non-string keys).
fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Copies every source of a bundle into the generation, replacing them.
fn import_bundle(generation: &Generation, bundle: &Path) -> Result<Vec<SourceReport>, Error> {
    let from = Connection::open_with_flags(bundle, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(sqlite(bundle, "open the bundle"))?;
    check_schema_conn(&from, bundle)?;
    let to = generation.conn();
    let temp = generation.temp_path();
    let read = sqlite(bundle, "read the bundle");

    let mut reports = Vec::new();
    let mut sources = from
        .prepare("SELECT ecosystem, record_count, withdrawn_count, bad_count, last_refresh, etag, last_modified FROM sources ORDER BY ecosystem")
        .map_err(read)?;
    let rows = sources
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, Option<String>>(5)?,
                row.get::<_, Option<String>>(6)?,
            ))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(sqlite(bundle, "read the bundle"))?;
    for (ecosystem, records, withdrawn, bad, refreshed, etag, last_modified) in rows {
        clear_source(to, temp, &ecosystem)?;
        to.execute(
            "INSERT INTO sources(ecosystem, record_count, withdrawn_count, bad_count, last_refresh, etag, last_modified) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![ecosystem, records, withdrawn, bad, refreshed, etag, last_modified],
        )
        .map_err(sqlite(temp, "record a source"))?;
        reports.push(SourceReport {
            ecosystem,
            records: records as usize,
            withdrawn: withdrawn as usize,
            bad: bad as usize,
            bad_examples: Vec::new(),
            not_modified: false,
        });
    }

    let offset: i64 = to
        .query_row("SELECT COALESCE(MAX(rid), 0) FROM records", [], |row| {
            row.get(0)
        })
        .map_err(sqlite(temp, "read the largest record id"))?;
    let copy_err = sqlite(bundle, "copy the bundle");
    let mut records = from
        .prepare("SELECT rid, source, id, modified, published, withdrawn, summary, aliases, severity, refs, rating FROM records")
        .map_err(copy_err)?;
    let mut insert = to
        .prepare("INSERT INTO records(rid, source, id, modified, published, withdrawn, summary, aliases, severity, refs, rating) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")
        .map_err(sqlite(temp, "copy the bundle"))?;
    let mut rows = records
        .query([])
        .map_err(sqlite(bundle, "copy the bundle"))?;
    while let Some(row) = rows.next().map_err(sqlite(bundle, "copy the bundle"))? {
        let values: Vec<rusqlite::types::Value> = (0..11)
            .map(|i| row.get(i))
            .collect::<Result<_, _>>()
            .map_err(sqlite(bundle, "copy the bundle"))?;
        let mut values = values;
        if let rusqlite::types::Value::Integer(rid) = values[0] {
            values[0] = rusqlite::types::Value::Integer(rid + offset);
        }
        insert
            .execute(rusqlite::params_from_iter(values))
            .map_err(sqlite(temp, "copy the bundle"))?;
    }
    let mut affected = from
        .prepare("SELECT family, name, rid + ?1, seq, ecosystem, body FROM affected")
        .map_err(sqlite(bundle, "copy the bundle"))?;
    let mut insert = to
        .prepare(
            "INSERT INTO affected(family, name, rid, seq, ecosystem, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(sqlite(temp, "copy the bundle"))?;
    let mut rows = affected
        .query([offset])
        .map_err(sqlite(bundle, "copy the bundle"))?;
    while let Some(row) = rows.next().map_err(sqlite(bundle, "copy the bundle"))? {
        let values: Vec<rusqlite::types::Value> = (0..6)
            .map(|i| row.get(i))
            .collect::<Result<_, _>>()
            .map_err(sqlite(bundle, "copy the bundle"))?;
        insert
            .execute(rusqlite::params_from_iter(values))
            .map_err(sqlite(temp, "copy the bundle"))?;
    }
    Ok(reports)
}
