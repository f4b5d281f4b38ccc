//! The on-disk layout.
//!
//! Records are stored once, as normalised fragments (the matcher's
//! [`Advisory`](airlock_matcher::Advisory) minus what matching never reads),
//! and large fragments are zlib-compressed, which keeps the file smaller than
//! the zips it came from. `affected` rows carry the lookup key: the ecosystem
//! family (`Debian` for `Debian:11`) and the feed's lookup name. The table is
//! clustered on that key (`WITHOUT ROWID`, primary key first), so it is its
//! own (family, name) index: one lookup is one range scan, with no second
//! index to store or to follow. The verbatim ecosystem then selects the
//! release.
//! `source` is the dump a record came from (`Go` for `Go/all.zip`), the unit
//! that an import replaces; a record published in two dumps is stored twice
//! and merged again by the matcher's alias de-duplication.

/// Bumped when the layout changes; older files are refused.
pub const SCHEMA_VERSION: &str = "1";

/// Creates an empty database.
pub const CREATE: &str = "
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE sources(
    ecosystem TEXT PRIMARY KEY,
    record_count INTEGER NOT NULL,
    withdrawn_count INTEGER NOT NULL,
    bad_count INTEGER NOT NULL,
    last_refresh TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT
) WITHOUT ROWID;
CREATE TABLE records(
    rid INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    modified TEXT,
    published TEXT,
    withdrawn TEXT,
    summary TEXT,
    aliases TEXT,
    severity TEXT,
    refs BLOB,
    rating TEXT,
    UNIQUE(source, id)
);
CREATE TABLE affected(
    family TEXT NOT NULL,
    name TEXT NOT NULL,
    rid INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    ecosystem TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY(family, name, rid, seq)
) WITHOUT ROWID;
";

/// Fragments at least this long are stored zlib-compressed.
pub const COMPRESS_FROM: usize = 512;
