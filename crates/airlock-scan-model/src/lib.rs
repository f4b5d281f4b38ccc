//! The scanner's vocabulary.
//!
//! Every stage of the scan pipeline (layer walk → analyzers → merge → match →
//! report) speaks in these types, and they are what airlock persists: an
//! [`Inventory`] is computed once per image and stored, and matching is re-run
//! on it whenever the vulnerability data changes. That is why this crate is
//! small, has no I/O, and carries a [`SCHEMA_VERSION`]: a stored inventory
//! must stay readable.
//!
//! Collections are kept sorted so that output is deterministic.

mod finding;
mod inventory;
mod report;

pub use finding::{Finding, FindingPackage, Severity};
pub use inventory::{Artifact, Inventory, LayerInfo, OsInfo, Package, Platform};
pub use report::{ScanReport, VulnerabilityData};

/// Version of the JSON documents built from these types. Bump it when a field
/// changes meaning or disappears; adding an optional field does not need it.
pub const SCHEMA_VERSION: u32 = 1;
