//! Where the matcher gets its records from.
//!
//! The matcher is pure: it asks an [`AdvisorySource`] for the records of one
//! package and never does I/O itself. The vulnerability database implements
//! the trait over its (family, name) index; [`MemorySource`] serves tests and
//! callers that already hold records in memory.
//!
//! Lookups come in two steps so that a source can skip decoding what only
//! reporting reads for the many records that do not match:
//! [`AdvisorySource::advisories_for_matching`] may return records marked
//! [`Advisory::deferred`], and the matcher calls
//! [`AdvisorySource::complete`] for those that match.

use std::collections::HashMap;

use crate::ecosystem::{ecosystem_family, lookup_name};
use crate::osv::Advisory;

/// A lookup failed; the matcher turns this into a warning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("advisory lookup for {ecosystem}/{name} failed: {reason}")]
pub struct SourceError {
    /// Ecosystem of the looked-up package.
    pub ecosystem: String,
    /// Lookup name of the package.
    pub name: String,
    /// What went wrong.
    pub reason: String,
}

/// A store of OSV records, indexed by ecosystem family and lookup name.
pub trait AdvisorySource {
    /// Every record with an `affected` entry whose ecosystem has the family of
    /// `ecosystem` (`Debian:12` → `Debian`) and whose [`lookup_name`] is
    /// `name`. Returning too much is fine (the matcher filters by exact
    /// release); returning too little loses findings.
    fn advisories(&self, ecosystem: &str, name: &str) -> Result<Vec<Advisory>, SourceError>;

    /// The same records as [`advisories`](AdvisorySource::advisories), but a
    /// source may leave out what only reporting reads (`summary`,
    /// `severity`, `references`, the record-level rating) and mark such a
    /// record with [`Advisory::deferred`]. Most records do not match, so the
    /// matcher asks for the rest with [`complete`](AdvisorySource::complete)
    /// only for those that do. By default, complete records.
    fn advisories_for_matching(
        &self,
        ecosystem: &str,
        name: &str,
    ) -> Result<Vec<Advisory>, SourceError> {
        self.advisories(ecosystem, name)
    }

    /// Fills in the fields left out of a record marked
    /// [`Advisory::deferred`] by [`advisories_for_matching`]
    /// (`ecosystem` and `name` are the lookup's, for error messages). By
    /// default, nothing was left out.
    ///
    /// [`advisories_for_matching`]: AdvisorySource::advisories_for_matching
    fn complete(
        &self,
        ecosystem: &str,
        name: &str,
        advisory: &mut Advisory,
    ) -> Result<(), SourceError> {
        let _ = (ecosystem, name, advisory);
        Ok(())
    }
}

/// An in-memory [`AdvisorySource`].
#[derive(Debug, Default, Clone)]
pub struct MemorySource {
    records: Vec<Advisory>,
    index: HashMap<(String, String), Vec<usize>>,
}

impl MemorySource {
    /// Indexes `records`.
    pub fn new(records: Vec<Advisory>) -> MemorySource {
        let mut index: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (position, record) in records.iter().enumerate() {
            for affected in &record.affected {
                if let Some(package) = &affected.package {
                    let key = (
                        ecosystem_family(&package.ecosystem).to_owned(),
                        lookup_name(&package.ecosystem, &package.name),
                    );
                    let entry = index.entry(key).or_default();
                    if entry.last() != Some(&position) {
                        entry.push(position);
                    }
                }
            }
        }
        MemorySource { records, index }
    }

    /// Number of records held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

impl AdvisorySource for MemorySource {
    fn advisories(&self, ecosystem: &str, name: &str) -> Result<Vec<Advisory>, SourceError> {
        let key = (ecosystem_family(ecosystem).to_owned(), name.to_owned());
        Ok(self
            .index
            .get(&key)
            .map(|positions| positions.iter().map(|&p| self.records[p].clone()).collect())
            .unwrap_or_default())
    }
}
