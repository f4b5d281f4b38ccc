//! The audit log: hash-chained, append-only (enforced by triggers that
//! refuse `UPDATE`, `DELETE` and `TRUNCATE`; the hash chain is what detects
//! someone who drops the triggers first).
//!
//! **One total order under concurrent writers.** Every append, in any
//! process, first takes the transaction-scoped advisory lock
//! [`AUDIT_LOCK`] (`pg_advisory_xact_lock`) and only then reads the chain
//! head. The lock is held until the appending transaction commits or rolls
//! back, so the next appender waits, then reads the head that transaction
//! left, and chains onto it: appends serialise in commit order while
//! everything else in those transactions runs concurrently. The primary key
//! on `seq` is the backstop: a forked chain (two records with one `seq`)
//! cannot commit.
//!
//! This needs the appending transaction to be `READ COMMITTED` (the
//! default): under `REPEATABLE READ` the snapshot would be taken before the
//! lock is granted and the head read would be stale, so [`append_in`]
//! refuses any other isolation level.

use airlock_audit::{
    Actor, ActorKind, AuditEvent, AuditRecord, GENESIS_HASH, Outcome, RequestContext, seal,
};
use airlock_store::{AuditCursor, AuditFilter, AuditSearch, AuditStore, StoreError};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use time::OffsetDateTime;

use crate::{PgStore, db_error, from_millis, to_millis};

/// The advisory lock key every audit append takes (`hashtext('airlock.audit')`
/// would do too; a constant is easier to spot in `pg_locks`).
pub(crate) const AUDIT_LOCK: i64 = 0x6169_726c_6f63_6b01;

const COLUMNS: &str = "seq, time_ms, actor_kind, actor_name, tenant, action, target, outcome, \
     reason, request_id, client_addr, user_agent, details, prev_hash, hash";

/// Appends `events` to the chain inside the caller's transaction and
/// returns the records as written.
///
/// `conn` must be inside a `READ COMMITTED` transaction (`pool.begin()`):
/// the advisory lock taken here lasts until that transaction ends, and
/// outside one it would be released at once.
pub(crate) async fn append_in(
    conn: &mut PgConnection,
    events: &[AuditEvent],
) -> Result<Vec<AuditRecord>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    // Serialise appenders across processes before reading the head.
    let isolation: String = sqlx::query_scalar(
        "SELECT current_setting('transaction_isolation')
         FROM (SELECT pg_advisory_xact_lock($1)) AS locked",
    )
    .bind(AUDIT_LOCK)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_error("lock the audit chain"))?;
    if isolation != "read committed" {
        return Err(StoreError::backend(
            "append audit record",
            format!(
                "the transaction is {isolation}; audit appends need read committed \
                 to see the chain head after taking the audit lock"
            ),
        ));
    }
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
    // Taken under the lock, so times never go backwards along the chain.
    let now = OffsetDateTime::now_utc();
    let mut sealed = Vec::with_capacity(events.len());
    for event in events {
        seq += 1;
        let record = seal(seq, now, event.clone(), &prev);
        let seq_value = i64::try_from(record.seq)
            .map_err(|e| StoreError::backend(format!("append audit record {}", record.seq), e))?;
        sqlx::query(
            "INSERT INTO audit_log (seq, time_ms, actor_kind, actor_name, tenant, action, target,
                 outcome, reason, request_id, client_addr, user_agent, details, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(seq_value)
        .bind(to_millis(record.time))
        .bind(record.event.actor.kind.as_str())
        .bind(&record.event.actor.name)
        .bind(&record.event.tenant)
        .bind(&record.event.action)
        .bind(&record.event.target)
        .bind(record.event.outcome.as_str())
        .bind(&record.event.reason)
        .bind(&record.event.request.request_id)
        .bind(&record.event.request.client_addr)
        .bind(&record.event.request.user_agent)
        .bind(record.event.details.to_string())
        .bind(&record.prev_hash)
        .bind(&record.hash)
        .execute(&mut *conn)
        .await
        .map_err(|e| StoreError::backend(format!("append audit record {}", record.seq), e))?;
        prev = record.hash.clone();
        sealed.push(record);
    }
    Ok(sealed)
}

fn record_from_row(row: &PgRow) -> Result<AuditRecord, StoreError> {
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
        seq: u64::try_from(seq).map_err(|e| unreadable("seq", &e))?,
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

/// `LIKE` pattern for "starts with `prefix.`" (case-sensitive, as action
/// names are lowercase identifiers; `\` escapes the wildcards).
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

/// A `u64` sequence number as PostgreSQL's `BIGINT` (saturating: no
/// record has a `seq` above `i64::MAX`, so the comparison stays right).
fn seq_value(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait::async_trait]
impl AuditStore for PgStore {
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<Vec<AuditRecord>, StoreError> {
        let mut tx = self
            .pool
            .begin()
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
        let mut query: QueryBuilder<Postgres> =
            QueryBuilder::new(format!("SELECT {COLUMNS} FROM audit_log WHERE "));
        match cursor {
            AuditCursor::After(after) => query.push("seq > ").push_bind(seq_value(after)),
            AuditCursor::Before(before) => query.push("seq < ").push_bind(seq_value(before)),
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
            sqlx::query_scalar("SELECT seq FROM audit_cursors WHERE consumer = $1")
                .bind(consumer)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| StoreError::backend(format!("read audit cursor {consumer}"), e))?;
        Ok(seq.map_or(0, |s| u64::try_from(s).unwrap_or(0)))
    }

    async fn set_audit_cursor(&self, consumer: &str, seq: u64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_cursors (consumer, seq) VALUES ($1, $2)
             ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq",
        )
        .bind(consumer)
        .bind(seq_value(seq))
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(|e| StoreError::backend(format!("move audit cursor {consumer} to {seq}"), e))
    }
}
