//! The quarantine gate: what happens to a manifest pushed to
//! `unscanned/<tenant>/<name>` until it is promoted to `scanned/` or
//! rejected.

pub mod lifecycle;
mod matcher;
pub mod reports;
mod runner;
mod service;

pub use matcher::{Matched, VulnerabilityMatcher};
pub use runner::{ScanFailure, ScanRequest, ScanRunner};
pub use service::{Gate, GateConfig, GateError};
