//! Named leases (see [`LeaseStore`]): one row per lease; a single upsert
//! takes it only when it is free, expired or already the caller's.

use std::time::Duration;

use airlock_store::{LeaseStore, StoreError};
use sqlx::Row;
use time::OffsetDateTime;

use crate::{PgStore, db_error, from_millis, to_millis};

#[async_trait::async_trait]
impl LeaseStore for PgStore {
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let taken = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
                                              expires_at = excluded.expires_at
             WHERE leases.holder = excluded.holder OR leases.expires_at <= $4",
        )
        .bind(name)
        .bind(holder)
        .bind(to_millis(now + ttl))
        .bind(to_millis(now))
        .execute(&self.pool)
        .await
        .map_err(db_error("acquire lease"))?
        .rows_affected();
        Ok(taken == 1)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await
            .map_err(db_error("release lease"))?;
        Ok(())
    }

    async fn lease_holder(
        &self,
        name: &str,
    ) -> Result<Option<(String, OffsetDateTime)>, StoreError> {
        let row = sqlx::query("SELECT holder, expires_at FROM leases WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error("read lease"))?;
        Ok(row.map(|row| (row.get(0), from_millis(row.get(1)))))
    }
}
