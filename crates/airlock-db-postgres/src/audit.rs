//! The audit log: hash-chained, append-only (enforced by a trigger).
//!
//! Appends serialise on a transaction-scoped advisory lock taken before the
//! chain head is read, so concurrent writers in any number of processes
//! still produce one total order.

use airlock_audit::{AuditEvent, AuditRecord};
use airlock_store::StoreError;
use sqlx::PgConnection;

/// The advisory lock key every audit append takes (`hashtext('airlock.audit')`
/// would do too; a constant is easier to spot in `pg_locks`).
pub(crate) const AUDIT_LOCK: i64 = 0x6169_726c_6f63_6b01;

/// Appends `events` to the chain inside the caller's transaction and
/// returns the records as written.
pub(crate) async fn append_in(
    conn: &mut PgConnection,
    events: &[AuditEvent],
) -> Result<Vec<AuditRecord>, StoreError> {
    let _ = (conn, events, AUDIT_LOCK);
    Err(StoreError::backend("append audit", "not ported yet"))
}
