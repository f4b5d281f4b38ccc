//! The database's error type: one enum, no foreign error types in the API.

use std::path::PathBuf;

/// Everything that can go wrong with the vulnerability database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No database file at the path.
    #[error("no vulnerability database at {0} (run `airlock db update` or `airlock db import`)")]
    Missing(PathBuf),
    /// SQLite failed on the database file.
    #[error("vulnerability database {path} failed to {operation}: {reason}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        operation: &'static str,
        /// SQLite's message.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("cannot {operation} {path}: {source}")]
    Io {
        /// What was being done.
        operation: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// An input is neither a zip, a folder of JSON, nor a bundle.
    #[error("cannot import {path}: {reason}")]
    Input {
        /// The input.
        path: PathBuf,
        /// Why it is unusable.
        reason: String,
    },
    /// A download failed.
    #[error("download of {url} failed: {reason}")]
    Download {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
}

pub(crate) fn sqlite<'a>(
    path: &'a std::path::Path,
    operation: &'static str,
) -> impl FnOnce(rusqlite::Error) -> Error + 'a {
    move |e| Error::Sqlite {
        path: path.to_owned(),
        operation,
        reason: e.to_string(),
    }
}

pub(crate) fn io<'a>(
    path: &'a std::path::Path,
    operation: &'static str,
) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        operation,
        path: path.to_owned(),
        source,
    }
}
