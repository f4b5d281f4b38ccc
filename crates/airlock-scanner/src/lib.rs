//! Runs `airlock scan`: finds the image, streams its layers once into the
//! analyzers, and turns the result into [`ScanReport`]s.
//!
//! The crate sits between the pure analyzers (`airlock-analyzer`) and the
//! binary. Its parts:
//!
//! - [`target`]: what the user may point at, parsed once;
//! - [`source`]: one file per kind of image source (OCI layout, docker
//!   archive, registry) behind [`source::ImageSource`]. Every blob is verified
//!   against its digest as it streams; nothing from a layer touches the disk;
//! - [`cache`]: per-layer analyses keyed by layer digest + analyzer versions,
//!   so a rescan costs only the layers that are new;
//! - [`scan`]: orchestration, limits, progress;
//! - [`inventory`]: the pure step from analyses + config to a report, shared
//!   with the gate.
//!
//! Design decisions:
//! - **Synchronous and blocking.** A scan runs in its own process on untrusted
//!   input and reads one stream at a time; async would add nothing but a runtime.
//! - **One report per platform.** An index scanned without `--platform` yields
//!   a report for every image platform (attestation manifests are skipped).
//! - **Verification after analysis.** The analyzer may stop reading at the tar
//!   end-of-archive marker, so the rest of the blob is drained afterwards and
//!   its digest checked before the analysis is used or cached.
//!
//! [`ScanReport`]: airlock_scan_model::ScanReport

pub mod cache;
pub mod digest;
pub mod error;
pub mod inventory;
pub mod oci;
pub mod scan;
pub mod source;
pub mod target;

pub use cache::LayerCache;
pub use error::{CacheError, ScanError, SourceError};
pub use inventory::build_report;
pub use scan::{
    ScanLimits, ScanOptions, ScanOutcome, ScanProgress, ScanStats, open_source, scan, scan_source,
    scan_with_stats,
};
pub use source::registry::{Credentials, RegistryOptions};
pub use source::store::StoreSource;
pub use target::{PlatformFilter, Target};
