//! The per-layer cache: a layer's analysis depends only on its bytes and on
//! the analyzers, so it is stored under the layer digest plus
//! [`airlock_analyzer::analyzers_fingerprint`] and reused by every later scan
//! of any image sharing that layer. The cost of a scan follows the image's new
//! content.
//!
//! One JSON file per entry, named by the SHA-256 of the key, written to a
//! temporary file and renamed into place so concurrent scans never see half an
//! entry. An unreadable or mismatching entry is a miss, never an error.

use std::io::Write;
use std::path::{Path, PathBuf};

use airlock_analyzer::LayerAnalysis;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::CacheError;

/// A directory of cached layer analyses.
#[derive(Debug, Clone)]
pub struct LayerCache {
    dir: PathBuf,
    fingerprint: String,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    layer: String,
    fingerprint: String,
    analysis: LayerAnalysis,
}

impl LayerCache {
    /// Opens (creating if needed) a cache in `dir`, keyed with the current analyzers.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, CacheError> {
        Self::open_with_fingerprint(dir, airlock_analyzer::analyzers_fingerprint())
    }

    /// Opens a cache whose keys use `fingerprint` (tests; future analyzer sets).
    pub fn open_with_fingerprint(
        dir: impl Into<PathBuf>,
        fingerprint: String,
    ) -> Result<Self, CacheError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|source| CacheError::CreateDir {
            dir: dir.clone(),
            source,
        })?;
        Ok(LayerCache { dir, fingerprint })
    }

    /// `$XDG_CACHE_HOME/airlock/layers`, else `$HOME/.cache/airlock/layers`.
    pub fn default_dir() -> Result<PathBuf, CacheError> {
        let from = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        if let Some(cache) = from("XDG_CACHE_HOME") {
            return Ok(cache.join("airlock/layers"));
        }
        from("HOME")
            .map(|home| home.join(".cache/airlock/layers"))
            .ok_or(CacheError::NoDefaultDir)
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry_path(&self, layer: &str) -> PathBuf {
        let key = Sha256::digest(format!("{layer}\n{}", self.fingerprint).as_bytes());
        self.dir.join(format!("{}.json", hex::encode(key)))
    }

    /// The cached analysis of `layer`, if present and made by the same analyzers.
    pub fn get(&self, layer: &str) -> Option<LayerAnalysis> {
        let bytes = std::fs::read(self.entry_path(layer)).ok()?;
        let entry: Entry = serde_json::from_slice(&bytes).ok()?;
        (entry.layer == layer
            && entry.fingerprint == self.fingerprint
            && entry.analysis.digest == layer)
            .then_some(entry.analysis)
    }

    /// Stores the analysis of `analysis.digest`, atomically.
    pub fn put(&self, analysis: &LayerAnalysis) -> Result<(), CacheError> {
        let path = self.entry_path(&analysis.digest);
        let entry = Entry {
            layer: analysis.digest.clone(),
            fingerprint: self.fingerprint.clone(),
            analysis: analysis.clone(),
        };
        let bytes = serde_json::to_vec(&entry).map_err(|source| CacheError::Serialize {
            digest: analysis.digest.clone(),
            source,
        })?;
        let write_error = |source| CacheError::Write {
            path: path.clone(),
            source,
        };
        let mut temporary = tempfile::NamedTempFile::new_in(&self.dir).map_err(write_error)?;
        temporary.write_all(&bytes).map_err(write_error)?;
        temporary
            .persist(&path)
            .map_err(|error| write_error(error.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis(digest: &str) -> LayerAnalysis {
        LayerAnalysis {
            digest: digest.into(),
            files: Vec::new(),
            whiteouts: vec!["etc/removed".into()],
            opaque_dirs: Vec::new(),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn stores_and_finds_by_layer_and_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::open_with_fingerprint(dir.path(), "a@1".into()).unwrap();
        assert_eq!(cache.get("sha256:01"), None);
        cache.put(&analysis("sha256:01")).unwrap();
        assert_eq!(cache.get("sha256:01"), Some(analysis("sha256:01")));
        assert_eq!(cache.get("sha256:02"), None);

        let newer_analyzers = LayerCache::open_with_fingerprint(dir.path(), "a@2".into()).unwrap();
        assert_eq!(
            newer_analyzers.get("sha256:01"),
            None,
            "a new analyzer version misses"
        );
    }

    #[test]
    fn corrupt_entries_are_misses() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::open_with_fingerprint(dir.path(), "a@1".into()).unwrap();
        cache.put(&analysis("sha256:01")).unwrap();
        std::fs::write(cache.entry_path("sha256:01"), b"{ truncated").unwrap();
        assert_eq!(cache.get("sha256:01"), None);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left behind");
    }
}
