//! Named leases (see [`LeaseStore`]): one row per lease, taken over only
//! when expired, in one `BEGIN IMMEDIATE` transaction.

use std::time::Duration;

use airlock_store::{LeaseStore, StoreError};
use sqlx::Row;
use time::OffsetDateTime;

use crate::{SqliteMetadataStore, begin_write, commit, db_error, from_millis, to_millis};

#[async_trait::async_trait]
impl LeaseStore for SqliteMetadataStore {
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut tx = begin_write(self, "acquire lease").await?;
        let until = to_millis(now + ttl);
        let taken = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
                                              expires_at = excluded.expires_at
             WHERE leases.holder = excluded.holder OR leases.expires_at <= ?",
        )
        .bind(name)
        .bind(holder)
        .bind(until)
        .bind(to_millis(now))
        .execute(&mut *tx)
        .await
        .map_err(db_error("acquire lease"))?
        .rows_affected();
        commit(tx, "acquire lease").await?;
        Ok(taken == 1)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM leases WHERE name = ? AND holder = ?")
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
        let row = sqlx::query("SELECT holder, expires_at FROM leases WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error("read lease"))?;
        Ok(row.map(|row| (row.get(0), from_millis(row.get(1)))))
    }
}
