//! Pure OSV matching for airlock.
//!
//! Given an [`Inventory`](airlock_scan_model::Inventory) and an
//! [`AdvisorySource`], [`match_inventory`] returns findings, warnings and
//! counters. Design decisions:
//!
//! - **No I/O, no failure.** Records come from a source trait (the database
//!   implements it); bad data becomes a warning, never an error and never a
//!   silent "not affected". Matching is cheap, so a stored inventory is simply
//!   re-matched whenever the data changes.
//! - **Version ordering is delegated** to `airlock-version`, one scheme per
//!   ecosystem; `SEMVER` ranges use SemVer whatever the ecosystem.
//! - **The feed's keys decide the lookup**: OS packages by source package,
//!   Python names PEP 503-normalised, Go versions without their `v`/`go`
//!   prefix ([`ecosystem`]); the database indexes with the same functions.
//! - **One finding per (package, vulnerability)**: records that alias each
//!   other are merged; the id with a CVE alias (lowest id among them) wins,
//!   aliases and fix versions are unioned, and the highest severity is kept.

pub mod ecosystem;
mod matching;
pub mod osv;
pub mod range;
pub mod severity;
mod source;
#[cfg(test)]
mod test_scheme;

pub use matching::{MatchOutcome, MatchStats, match_inventory, match_packages};
pub use osv::{
    Advisory, Affected, AffectedPackage, Event, FeedRating, Range, RangeKind, RecordError,
    SeverityScore, VersionList,
};
pub use source::{AdvisorySource, MemorySource, SourceError};
