//! Database generations: every change writes a new file, then renames it.
//!
//! A generation starts as a copy of the current file (or an empty schema),
//! is changed inside one transaction, compacted, synced, and renamed over the
//! current file. Readers that opened the old file keep reading it; a failure
//! at any point drops the temporary file and leaves the current one as it
//! was. Concurrent writers are not coordinated: the last rename wins.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Error, io, sqlite};
use crate::schema::{CREATE, SCHEMA_VERSION};

/// A database file being written; becomes current on [`Generation::commit`].
pub struct Generation {
    conn: Option<Connection>,
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Generation {
    /// Starts a new generation of the database at `target`.
    pub fn begin(target: &Path) -> Result<Generation, Error> {
        let dir = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io(dir, "create directory"))?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let file_name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "osv.db".into());
        let temp = dir.join(format!(".{file_name}.{}-{nanos}.tmp", std::process::id()));
        let existed = target.exists();
        if existed {
            check_schema(target)?;
            std::fs::copy(target, &temp).map_err(io(target, "copy"))?;
        }
        let mut generation = Generation {
            conn: None,
            temp,
            target: target.to_owned(),
            committed: false,
        };
        let conn = Connection::open(&generation.temp)
            .map_err(sqlite(&generation.temp, "create a new generation"))?;
        conn.execute_batch("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN;")
            .map_err(sqlite(&generation.temp, "start a transaction"))?;
        if !existed {
            conn.execute_batch(CREATE)
                .map_err(sqlite(&generation.temp, "create the schema"))?;
            conn.execute(
                "INSERT INTO meta(key, value) VALUES ('schema_version', ?1)",
                [SCHEMA_VERSION],
            )
            .map_err(sqlite(&generation.temp, "create the schema"))?;
        }
        generation.conn = Some(conn);
        Ok(generation)
    }

    /// The connection to the generation being written (inside its transaction).
    pub fn conn(&self) -> &Connection {
        self.conn.as_ref().expect("connection lives until commit")
    }

    /// Path of the temporary file, for error messages.
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Commits, compacts, syncs and renames the generation into place.
    pub fn commit(mut self) -> Result<(), Error> {
        let conn = self.conn.take().expect("connection lives until commit");
        conn.execute_batch("COMMIT; VACUUM;")
            .map_err(sqlite(&self.temp, "commit the new generation"))?;
        conn.close()
            .map_err(|(_, e)| sqlite(&self.temp, "close the new generation")(e))?;
        let file = std::fs::File::open(&self.temp).map_err(io(&self.temp, "open"))?;
        file.sync_all().map_err(io(&self.temp, "sync"))?;
        std::fs::rename(&self.temp, &self.target).map_err(io(&self.target, "replace"))?;
        self.committed = true;
        if let Some(dir) = self.target.parent()
            && let Ok(dir) = std::fs::File::open(dir)
        {
            // Best effort: persist the rename itself.
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

impl Drop for Generation {
    fn drop(&mut self) {
        drop(self.conn.take());
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Refuses files that are not an airlock vulnerability database of this layout.
pub fn check_schema(path: &Path) -> Result<(), Error> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(sqlite(path, "open"))?;
    check_schema_conn(&conn, path)
}

pub(crate) fn check_schema_conn(conn: &Connection, path: &Path) -> Result<(), Error> {
    let version: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            params![],
            |row| row.get(0),
        )
        .optional()
        .map_err(sqlite(path, "read the schema version"))?;
    match version.as_deref() {
        Some(SCHEMA_VERSION) => Ok(()),
        Some(other) => Err(Error::Input {
            path: path.to_owned(),
            reason: format!("database schema version {other}, expected {SCHEMA_VERSION}"),
        }),
        None => Err(Error::Input {
            path: path.to_owned(),
            reason: "not an airlock vulnerability database".into(),
        }),
    }
}
