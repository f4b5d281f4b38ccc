//! TODO(issue 9): being ported from airlock-db-sqlite.
