//! The lease port: work that must run once across every process sharing one
//! database (periodic jobs, the webhook dispatcher, the audit forwarder).
//!
//! A lease is a named row with a holder and an expiry. A process acquires
//! it when it is free, expired or already its own, renews it while it works
//! and releases it when it stops. Times come from the caller's clock, as
//! with job leases: hold a lease for much longer than the clock skew between
//! hosts.

use std::time::Duration;

use time::OffsetDateTime;

use crate::StoreError;

/// Named cluster-wide leases.
#[async_trait::async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes or renews the lease `name` for `holder` until `now + ttl`.
    /// Returns whether `holder` holds it now: `false` when another holder's
    /// lease has not expired.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Gives the lease `name` up if `holder` holds it, so another process
    /// can take it at once. Releasing a lease one does not hold is not an
    /// error.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError>;

    /// The current holder of `name` and its expiry, for status and tests.
    async fn lease_holder(
        &self,
        name: &str,
    ) -> Result<Option<(String, OffsetDateTime)>, StoreError>;
}
