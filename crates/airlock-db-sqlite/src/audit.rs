//! The audit log in SQLite: records are sealed inside the appending
//! transaction, after reading the previous hash under the write lock.
//!
//! Triggers refuse `UPDATE` and `DELETE` on the table; the hash chain is
//! what detects someone who removes the triggers first.

use airlock_audit::{
    Actor, ActorKind, AuditEvent, AuditRecord, GENESIS_HASH, Outcome, RequestContext, seal,
};
use airlock_store::{AuditCursor, AuditFilter, AuditSearch, AuditStore, StoreError};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use time::OffsetDateTime;

use crate::{SqliteMetadataStore, db_error, from_millis, to_millis};

const COLUMNS: &str = "seq, time_ms, actor_kind, actor_name, tenant, action, target, outcome, \
     reason, request_id, client_addr, user_agent, details, prev_hash, hash";

/// Appends `events` on `conn`, which must hold the write lock (a
/// `BEGIN IMMEDIATE` transaction).
pub(crate) async fn append_in(
    conn: &mut SqliteConnection,
    events: &[AuditEvent],
) -> Result<Vec<AuditRecord>, StoreError> {
    let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error("read the audit chain's head"))?;
    let (mut seq, mut prev) = match last {
        Some(row) => (
            u64::try_from(row.get::<i64, _>(0)).unwrap_or(0),
            row.get::<String, _>(1),
        ),
        None => (0, GENESIS_HASH.to_owned()),
    };
    let now = OffsetDateTime::now_utc();
    let mut sealed = Vec::with_capacity(events.len());
    for event in events {
        seq += 1;
        let record = seal(seq, now, event.clone(), &prev);
        sqlx::query(
            "INSERT INTO audit_log (seq, time_ms, actor_kind, actor_name, tenant, action, target, outcome,
                 reason, request_id, client_addr, user_agent, details, prev_hash, hash)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(i64::try_from(record.seq).unwrap_or(i64::MAX))
        .bind(to_millis(record.time))
        .bind(record.event.actor.kind.as_str())
        .bind(record.event.actor.name.clone())
        .bind(record.event.tenant.clone())
        .bind(record.event.action.clone())
        .bind(record.event.target.clone())
        .bind(record.event.outcome.as_str())
        .bind(record.event.reason.clone())
        .bind(record.event.request.request_id.clone())
        .bind(record.event.request.client_addr.clone())
        .bind(record.event.request.user_agent.clone())
        .bind(record.event.details.to_string())
        .bind(record.prev_hash.clone())
        .bind(record.hash.clone())
        .execute(&mut *conn)
        .await
        .map_err(db_error("append audit record"))?;
        prev = record.hash.clone();
        sealed.push(record);
    }
    Ok(sealed)
}

fn record_from_row(row: &SqliteRow) -> Result<AuditRecord, StoreError> {
    let seq = row.get::<i64, _>(0);
    let unreadable = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::backend(format!("read audit record {seq}"), format!("{what}: {e}"))
    };
    let kind: ActorKind = row
        .get::<String, _>(2)
        .parse()
        .map_err(|e| unreadable("actor kind", &e))?;
    let outcome: Outcome = row
        .get::<String, _>(7)
        .parse()
        .map_err(|e| unreadable("outcome", &e))?;
    let details: serde_json::Value =
        serde_json::from_str(&row.get::<String, _>(12)).map_err(|e| unreadable("details", &e))?;
    Ok(AuditRecord {
        seq: u64::try_from(seq).unwrap_or(0),
        time: from_millis(row.get(1)),
        event: AuditEvent {
            actor: Actor {
                kind,
                name: row.get(3),
            },
            tenant: row.get(4),
            action: row.get(5),
            target: row.get(6),
            outcome,
            reason: row.get(8),
            request: RequestContext {
                request_id: row.get(9),
                client_addr: row.get(10),
                user_agent: row.get(11),
            },
            details,
        },
        prev_hash: row.get(13),
        hash: row.get(14),
    })
}

/// `LIKE` pattern for "starts with `prefix.`".
fn action_prefix_pattern(prefix: &str) -> String {
    let escaped: String = prefix
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("{escaped}.%")
}

#[async_trait::async_trait]
impl AuditStore for SqliteMetadataStore {
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<Vec<AuditRecord>, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error("begin audit append"))?;
        let sealed = append_in(&mut tx, events).await?;
        tx.commit().await.map_err(db_error("commit audit append"))?;
        Ok(sealed)
    }

    async fn audit_records(
        &self,
        filter: &AuditFilter,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let search = AuditSearch {
            filter: filter.clone(),
            ..AuditSearch::default()
        };
        self.search_audit(&search, AuditCursor::After(after), limit)
            .await
    }

    async fn search_audit(
        &self,
        search: &AuditSearch,
        cursor: AuditCursor,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let seq = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let mut query: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("SELECT {COLUMNS} FROM audit_log WHERE "));
        match cursor {
            AuditCursor::After(after) => query.push("seq > ").push_bind(seq(after)),
            AuditCursor::Before(before) => query.push("seq < ").push_bind(seq(before)),
        };
        let filter = &search.filter;
        if let Some(since) = filter.since {
            query.push(" AND time_ms >= ").push_bind(to_millis(since));
        }
        if let Some(until) = filter.until {
            query.push(" AND time_ms < ").push_bind(to_millis(until));
        }
        if let Some(tenant) = &filter.tenant {
            query.push(" AND tenant = ").push_bind(tenant.clone());
        }
        if let Some(action) = &filter.action {
            query
                .push(" AND (action = ")
                .push_bind(action.clone())
                .push(" OR action LIKE ")
                .push_bind(action_prefix_pattern(action))
                .push(" ESCAPE '\\')");
        }
        if let Some(actor) = &search.actor {
            query.push(" AND actor_name = ").push_bind(actor.clone());
        }
        if let Some(outcome) = search.outcome {
            query.push(" AND outcome = ").push_bind(outcome.as_str());
        }
        query.push(match cursor {
            AuditCursor::After(_) => " ORDER BY seq LIMIT ",
            AuditCursor::Before(_) => " ORDER BY seq DESC LIMIT ",
        });
        query.push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
        let rows = query
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(db_error("read audit records"))?;
        rows.iter().map(record_from_row).collect()
    }

    async fn audit_cursor(&self, consumer: &str) -> Result<u64, StoreError> {
        let seq: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM audit_cursors WHERE consumer = ?")
                .bind(consumer.to_owned())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error("read audit cursor"))?;
        Ok(seq.map_or(0, |s| u64::try_from(s).unwrap_or(0)))
    }

    async fn set_audit_cursor(&self, consumer: &str, seq: u64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_cursors (consumer, seq) VALUES (?, ?)
             ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq",
        )
        .bind(consumer.to_owned())
        .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(db_error("move audit cursor"))
    }
}
