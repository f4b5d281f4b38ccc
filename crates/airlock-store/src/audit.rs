//! The audit-store port: the append-only, hash-chained log.
//!
//! Backends seal records with [`airlock_audit::seal`] inside the transaction
//! that appends them, reading the previous hash under the same write lock, so
//! the chain has no forks and no gaps.

use airlock_audit::{AuditEvent, AuditRecord, Outcome};
use time::OffsetDateTime;

use crate::StoreError;

/// Which records an export wants. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Records at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Records before this time.
    pub until: Option<OffsetDateTime>,
    /// Records of this tenant.
    pub tenant: Option<String>,
    /// Records whose action is this, or starts with this followed by `.`
    /// (`auth` matches `auth.login` and `auth.token`).
    pub action: Option<String>,
}

/// A search of the audit log by a person (the dashboard): the export's
/// filter, plus who acted and how it ended. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditSearch {
    /// Time, tenant and action, as for an export.
    pub filter: AuditFilter,
    /// Records of this actor (its name, whatever its kind).
    pub actor: Option<String>,
    /// Records with this outcome.
    pub outcome: Option<Outcome>,
}

/// Where a page of an [`AuditSearch`] starts, and its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditCursor {
    /// Records with `seq > n`, oldest first (exports).
    After(u64),
    /// Records with `seq < n`, newest first (`u64::MAX` for the newest).
    Before(u64),
}

/// The append-only audit log.
#[async_trait::async_trait]
pub trait AuditStore: Send + Sync + std::fmt::Debug {
    /// Appends events in one transaction; returns the sealed records.
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<Vec<AuditRecord>, StoreError>;

    /// Records matching `filter` with `seq > after`, in order, at most `limit`.
    async fn audit_records(
        &self,
        filter: &AuditFilter,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError>;

    /// Records matching `search` from `cursor` on, in the cursor's order,
    /// at most `limit`.
    async fn search_audit(
        &self,
        search: &AuditSearch,
        cursor: AuditCursor,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError>;

    /// Where the named consumer (e.g. the syslog forwarder) got to.
    async fn audit_cursor(&self, consumer: &str) -> Result<u64, StoreError>;

    /// Moves the named consumer's cursor.
    async fn set_audit_cursor(&self, consumer: &str, seq: u64) -> Result<(), StoreError>;
}
