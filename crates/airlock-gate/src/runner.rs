//! The seam to the isolated scan: the gate asks a [`ScanRunner`] for the
//! inventory of one manifest and gets scan reports or a failure it can name.
//!
//! The embedded runner (in the binary) starts `airlock scan-job` as a child
//! process with resource limits; at scale a worker pod does the same. The
//! gate never trusts a runner's silence: a crash, a timeout or a limit hit is
//! a [`ScanFailure`], and a failure is never a pass.

use airlock_oci::{Digest, RepoName};
use airlock_scan_model::ScanReport;

/// What to scan: a manifest by digest (never by a tag that could move).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRequest {
    /// The `unscanned/` repository it was pushed to.
    pub repository: RepoName,
    /// The manifest (image or index) digest.
    pub digest: Digest,
    /// The manifest bytes, and those of the child manifests of an index,
    /// by digest, as the registry stores them.
    pub manifests: Vec<(Digest, String, Vec<u8>)>,
}

/// Why a scan produced no inventory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanFailure {
    /// The image itself is unacceptable (hostile layer, limit hit,
    /// unsupported media type): retrying will not help.
    #[error("{0}")]
    Image(String),
    /// The scan ran out of time.
    #[error("scan timed out after {seconds} s")]
    Timeout {
        /// The wall-time limit.
        seconds: u64,
    },
    /// The scan process died or misbehaved (killed, crashed, out of memory,
    /// unreadable output): may be retried.
    #[error("{0}")]
    Crashed(String),
}

impl ScanFailure {
    /// Whether another attempt could succeed (bounded retries; a hostile
    /// image fails the same way every time).
    pub fn is_retryable(&self) -> bool {
        matches!(self, ScanFailure::Crashed(_) | ScanFailure::Timeout { .. })
    }
}

/// Runs one isolated scan.
#[async_trait::async_trait]
pub trait ScanRunner: Send + Sync + std::fmt::Debug {
    /// The inventory (scan reports without findings), one report per
    /// platform.
    async fn scan(&self, request: &ScanRequest) -> Result<Vec<ScanReport>, ScanFailure>;
}
