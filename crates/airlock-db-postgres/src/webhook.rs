//! Webhook subscriptions, deliveries and attempts in PostgreSQL.
//!
//! Fan-out reads the outbox, writes one delivery per matching subscription
//! and marks the events delivered in one transaction that first takes a
//! transaction-scoped advisory lock (`pg_advisory_xact_lock`), so
//! dispatchers in several processes fan out one at a time, in outbox order,
//! and an event is fanned out exactly once. (Outbox order is `seq` order
//! among committed events: `seq` is taken at insert, so an event whose
//! transaction commits late can be fanned out after a later one; SQLite,
//! with one writer at a time, never shows that.) The
//! matching itself is [`Subscription::wants`], in Rust, so every backend
//! agrees on it.
//!
//! Deletion is soft: the subscription row stays (hidden from lookups) so
//! its delivery log can still be read by id, and its pending deliveries
//! are dead-lettered in the same transaction.

use airlock_audit::AuditEvent;
use airlock_auth::TenantId;
use airlock_store::{
    Attempt, AttemptOutcome, Delivery, DeliveryState, OutboxEvent, StoreError, Subscription,
    WebhookStore,
};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, Row};
use time::OffsetDateTime;

use crate::audit::append_in;
use crate::gate::{append_outbox, begin, commit, outbox_from_row};
use crate::{PgStore, db_error, from_millis, now_millis, to_millis, unreadable};

/// The advisory lock key every fan-out takes.
const FAN_OUT_LOCK: i64 = 0x6169_726c_6f63_6b02;

const SUBSCRIPTION_COLUMNS: &str =
    "id, tenant, url, events, secret, description, created_by, created_at";

/// The outbox columns first (read by [`outbox_from_row`]), then the
/// delivery's own; `o` is the outbox, `d` the delivery.
const DELIVERY_COLUMNS: &str = "o.id, o.type, o.tenant, o.subject, o.time, o.data, \
     d.id, d.subscription, d.state, d.attempts, d.created_at, d.next_attempt_at, \
     d.last_status, d.last_error, d.finished_at";

fn limit_value(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn subscription_from_row(row: &PgRow) -> Result<Subscription, StoreError> {
    let tenant = row
        .get::<Option<String>, _>(1)
        .map(|t| t.parse::<TenantId>())
        .transpose()
        .map_err(|e| unreadable("subscription tenant", e))?;
    let events: Vec<String> = serde_json::from_str(row.get::<&str, _>(3))
        .map_err(|e| unreadable("subscription events", e))?;
    Ok(Subscription {
        id: row.get(0),
        tenant,
        url: row.get(2),
        events,
        secret: row.get(4),
        description: row.get(5),
        created_by: row.get(6),
        created_at: from_millis(row.get(7)),
    })
}

fn delivery_from_row(row: &PgRow) -> Result<Delivery, StoreError> {
    let state = row.get::<&str, _>(8);
    Ok(Delivery {
        event: outbox_from_row(row)?,
        id: row.get(6),
        subscription: row.get(7),
        state: DeliveryState::parse(state)
            .ok_or_else(|| unreadable("delivery state", format!("unknown state {state:?}")))?,
        attempts: u32::try_from(row.get::<i64, _>(9)).unwrap_or(0),
        created_at: from_millis(row.get(10)),
        next_attempt_at: from_millis(row.get(11)),
        last_status: row
            .get::<Option<i64>, _>(12)
            .and_then(|s| u16::try_from(s).ok()),
        last_error: row.get(13),
        finished_at: row.get::<Option<i64>, _>(14).map(from_millis),
    })
}

fn attempt_from_row(row: &PgRow) -> Attempt {
    Attempt {
        delivery: row.get(0),
        number: u32::try_from(row.get::<i64, _>(1)).unwrap_or(0),
        at: from_millis(row.get(2)),
        status: row
            .get::<Option<i64>, _>(3)
            .and_then(|s| u16::try_from(s).ok()),
        latency_ms: u64::try_from(row.get::<i64, _>(4)).unwrap_or(0),
        error: row.get(5),
    }
}

/// Whether a subscription exists and is not deleted.
async fn subscription_is_live(conn: &mut PgConnection, id: &str) -> Result<bool, StoreError> {
    sqlx::query("SELECT 1 FROM webhook_subscriptions WHERE id = $1 AND deleted_at IS NULL")
        .bind(id.to_owned())
        .fetch_optional(&mut *conn)
        .await
        .map(|row| row.is_some())
        .map_err(db_error("look up webhook subscription"))
}

/// Queues `event_id` for `subscription`, due at `now`; returns the id.
async fn insert_delivery(
    conn: &mut PgConnection,
    subscription: &str,
    event_id: &str,
    now: i64,
) -> Result<i64, StoreError> {
    sqlx::query_scalar(
        "INSERT INTO webhook_deliveries (subscription, event_id, state, attempts, created_at, next_attempt_at)
         VALUES ($1, $2, 'pending', 0, $3, $4) RETURNING id",
    )
    .bind(subscription.to_owned())
    .bind(event_id.to_owned())
    .bind(now)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_error("queue webhook delivery"))
}

async fn load_delivery(conn: &mut PgConnection, id: i64) -> Result<Delivery, StoreError> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN outbox o ON o.id = d.event_id
         WHERE d.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error("look up webhook delivery"))?
    .as_ref()
    .map(delivery_from_row)
    .transpose()?
    .ok_or_else(|| StoreError::NotFound(format!("webhook delivery {id}")))
}

#[async_trait::async_trait]
impl WebhookStore for PgStore {
    async fn create_subscription(
        &self,
        subscription: &Subscription,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let events = serde_json::to_string(&subscription.events)
            .map_err(|e| StoreError::backend("encode webhook subscription events", e))?;
        let mut tx = begin(&self.pool, "webhook subscription create").await?;
        let inserted = sqlx::query(
            "INSERT INTO webhook_subscriptions
                 (id, tenant, url, events, secret, description, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
        )
        .bind(subscription.id.clone())
        .bind(subscription.tenant.as_ref().map(|t| t.as_str().to_owned()))
        .bind(subscription.url.clone())
        .bind(events)
        .bind(subscription.secret.clone())
        .bind(subscription.description.clone())
        .bind(subscription.created_by.clone())
        .bind(to_millis(subscription.created_at))
        .execute(&mut *tx)
        .await
        .map_err(db_error("create webhook subscription"))?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "webhook subscription {} already exists",
                subscription.id
            )));
        }
        append_in(&mut tx, std::slice::from_ref(audit)).await?;
        commit(tx, "webhook subscription create").await
    }

    async fn subscription(&self, id: &str) -> Result<Option<Subscription>, StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions
             WHERE id = $1 AND deleted_at IS NULL"
        )))
        .bind(id.to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error("look up webhook subscription"))?
        .as_ref()
        .map(subscription_from_row)
        .transpose()
    }

    async fn subscriptions(
        &self,
        tenant: Option<&TenantId>,
    ) -> Result<Vec<Subscription>, StoreError> {
        let rows = match tenant {
            Some(tenant) => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions
                     WHERE tenant = $1 AND deleted_at IS NULL ORDER BY created_at, seq"
                )))
                .bind(tenant.as_str().to_owned())
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions
                     WHERE deleted_at IS NULL ORDER BY created_at, seq"
                )))
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(db_error("list webhook subscriptions"))?;
        rows.iter().map(subscription_from_row).collect()
    }

    async fn delete_subscription(&self, id: &str, audit: &AuditEvent) -> Result<(), StoreError> {
        let mut tx = begin(&self.pool, "webhook subscription delete").await?;
        let now = now_millis();
        let deleted = sqlx::query(
            "UPDATE webhook_subscriptions SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(id.to_owned())
        .execute(&mut *tx)
        .await
        .map_err(db_error("delete webhook subscription"))?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("webhook subscription {id}")));
        }
        sqlx::query(
            "UPDATE webhook_deliveries SET state = 'dead', finished_at = $1,
                 last_error = 'subscription deleted'
             WHERE subscription = $2 AND state = 'pending'",
        )
        .bind(now)
        .bind(id.to_owned())
        .execute(&mut *tx)
        .await
        .map_err(db_error("dead-letter deleted subscription's deliveries"))?;
        append_in(&mut tx, std::slice::from_ref(audit)).await?;
        commit(tx, "webhook subscription delete").await
    }

    async fn fan_out(&self, limit: usize, now: OffsetDateTime) -> Result<usize, StoreError> {
        let mut tx = begin(&self.pool, "webhook fan-out").await?;
        // One fan-out at a time: each statement after the lock sees what
        // the previous fan-out committed (READ COMMITTED).
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(FAN_OUT_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db_error("lock the outbox for fan-out"))?;
        let rows = sqlx::query(
            "SELECT id, type, tenant, subject, time, data, seq FROM outbox
             WHERE delivered_at IS NULL ORDER BY seq LIMIT $1",
        )
        .bind(limit_value(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error("read outbox for fan-out"))?;
        if rows.is_empty() {
            return Ok(0);
        }
        let subscriptions: Vec<Subscription> = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions
             WHERE deleted_at IS NULL ORDER BY created_at, seq"
        )))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error("list webhook subscriptions for fan-out"))?
        .iter()
        .map(subscription_from_row)
        .collect::<Result<_, _>>()?;
        let now = to_millis(now);
        for row in &rows {
            let event = outbox_from_row(row)?;
            for subscription in subscriptions.iter().filter(|s| s.wants(&event)) {
                insert_delivery(&mut tx, &subscription.id, &event.id, now).await?;
            }
            sqlx::query("UPDATE outbox SET delivered_at = $1 WHERE seq = $2")
                .bind(now)
                .bind(row.get::<i64, _>(6))
                .execute(&mut *tx)
                .await
                .map_err(db_error("mark outbox event fanned out"))?;
        }
        commit(tx, "webhook fan-out").await?;
        Ok(rows.len())
    }

    async fn due_subscriptions(&self, now: OffsetDateTime) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT s.id FROM webhook_subscriptions s
             JOIN webhook_deliveries d ON d.id = (
                 SELECT MIN(id) FROM webhook_deliveries
                 WHERE subscription = s.id AND state = 'pending')
             WHERE s.deleted_at IS NULL AND d.next_attempt_at <= $1
             ORDER BY s.created_at, s.seq",
        )
        .bind(to_millis(now))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("list due webhook subscriptions"))
    }

    async fn next_delivery(
        &self,
        subscription: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Delivery>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN outbox o ON o.id = d.event_id
             WHERE d.subscription = $1 AND d.state = 'pending' ORDER BY d.id LIMIT 1"
        )))
        .bind(subscription.to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error("look up next webhook delivery"))?;
        let Some(delivery) = row.as_ref().map(delivery_from_row).transpose()? else {
            return Ok(None);
        };
        Ok((delivery.next_attempt_at <= now).then_some(delivery))
    }

    async fn record_attempt(
        &self,
        attempt: &Attempt,
        outcome: AttemptOutcome,
    ) -> Result<(), StoreError> {
        let mut tx = begin(&self.pool, "webhook attempt record").await?;
        // The row lock orders concurrent reports on one delivery.
        let exists = sqlx::query("SELECT 1 FROM webhook_deliveries WHERE id = $1 FOR UPDATE")
            .bind(attempt.delivery)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error("look up webhook delivery"))?
            .is_some();
        if !exists {
            return Err(StoreError::NotFound(format!(
                "webhook delivery {}",
                attempt.delivery
            )));
        }
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery, number, at, status, latency_ms, error)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(attempt.delivery)
        .bind(i64::from(attempt.number))
        .bind(to_millis(attempt.at))
        .bind(attempt.status.map(i64::from))
        .bind(i64::try_from(attempt.latency_ms).unwrap_or(i64::MAX))
        .bind(attempt.error.clone())
        .execute(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(format!(
                "attempt {} of webhook delivery {} is already recorded",
                attempt.number, attempt.delivery
            )),
            _ => StoreError::backend("record webhook attempt", e),
        })?;
        sqlx::query(
            "UPDATE webhook_deliveries SET attempts = GREATEST(attempts, $1), last_status = $2, last_error = $3
             WHERE id = $4",
        )
        .bind(i64::from(attempt.number))
        .bind(attempt.status.map(i64::from))
        .bind(attempt.error.clone())
        .bind(attempt.delivery)
        .execute(&mut *tx)
        .await
        .map_err(db_error("update webhook delivery"))?;
        // Only a pending delivery moves on: one dead-lettered meanwhile (its
        // subscription was deleted) keeps its state.
        let (state, next_attempt_at, finished_at) = match outcome {
            AttemptOutcome::Delivered => (DeliveryState::Delivered, None, Some(now_millis())),
            AttemptOutcome::Retry(at) => (DeliveryState::Pending, Some(to_millis(at)), None),
            AttemptOutcome::Dead => (DeliveryState::Dead, None, Some(now_millis())),
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET state = $1,
                 next_attempt_at = COALESCE($2, next_attempt_at), finished_at = $3
             WHERE id = $4 AND state = 'pending'",
        )
        .bind(state.as_str())
        .bind(next_attempt_at)
        .bind(finished_at)
        .bind(attempt.delivery)
        .execute(&mut *tx)
        .await
        .map_err(db_error("move webhook delivery on"))?;
        commit(tx, "webhook attempt record").await
    }

    async fn deliveries(
        &self,
        subscription: &str,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN outbox o ON o.id = d.event_id
             WHERE d.subscription = $1 ORDER BY d.id DESC LIMIT $2"
        )))
        .bind(subscription.to_owned())
        .bind(limit_value(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("list webhook deliveries"))?;
        rows.iter().map(delivery_from_row).collect()
    }

    async fn attempts(&self, delivery: i64) -> Result<Vec<Attempt>, StoreError> {
        let rows = sqlx::query(
            "SELECT delivery, number, at, status, latency_ms, error FROM webhook_attempts
             WHERE delivery = $1 ORDER BY number",
        )
        .bind(delivery)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("list webhook attempts"))?;
        Ok(rows.iter().map(attempt_from_row).collect())
    }

    async fn redeliver(
        &self,
        event_id: &str,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut tx = begin(&self.pool, "webhook redelivery").await?;
        let had_any = sqlx::query("SELECT 1 FROM webhook_deliveries WHERE event_id = $1 LIMIT 1")
            .bind(event_id.to_owned())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error("look up event deliveries"))?
            .is_some();
        if !had_any {
            return Err(StoreError::NotFound(format!(
                "deliveries of webhook event {event_id}"
            )));
        }
        let subscriptions: Vec<String> = sqlx::query_scalar(
            "SELECT s.id FROM webhook_subscriptions s
             WHERE s.deleted_at IS NULL
               AND EXISTS (SELECT 1 FROM webhook_deliveries d
                           WHERE d.subscription = s.id AND d.event_id = $1)
             ORDER BY s.created_at, s.seq",
        )
        .bind(event_id.to_owned())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error("list subscriptions of event"))?;
        let now = to_millis(now);
        let mut queued = Vec::with_capacity(subscriptions.len());
        for subscription in &subscriptions {
            let id = insert_delivery(&mut tx, subscription, event_id, now).await?;
            queued.push(load_delivery(&mut tx, id).await?);
        }
        append_in(&mut tx, std::slice::from_ref(audit)).await?;
        commit(tx, "webhook redelivery").await?;
        Ok(queued)
    }

    async fn enqueue_test(
        &self,
        subscription: &str,
        event: &OutboxEvent,
        audit: &AuditEvent,
    ) -> Result<Delivery, StoreError> {
        let mut tx = begin(&self.pool, "webhook test delivery").await?;
        if !subscription_is_live(&mut tx, subscription).await? {
            return Err(StoreError::NotFound(format!(
                "webhook subscription {subscription}"
            )));
        }
        let now = now_millis();
        append_outbox(&mut tx, std::slice::from_ref(event)).await?;
        sqlx::query("UPDATE outbox SET delivered_at = $1 WHERE id = $2")
            .bind(now)
            .bind(event.id.clone())
            .execute(&mut *tx)
            .await
            .map_err(db_error("mark test event fanned out"))?;
        let id = insert_delivery(&mut tx, subscription, &event.id, now).await?;
        let delivery = load_delivery(&mut tx, id).await?;
        append_in(&mut tx, std::slice::from_ref(audit)).await?;
        commit(tx, "webhook test delivery").await?;
        Ok(delivery)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::TestDatabase;

    #[tokio::test]
    async fn passes_the_webhook_store_suite() {
        let db = TestDatabase::new().await;
        airlock_store::testsuite::webhook_store(&db.store).await;
        db.drop_schema().await;
    }
}
