//! The scale-out metadata store: PostgreSQL through sqlx.
//!
//! It implements the same ports as `airlock-db-sqlite` (metadata, identity,
//! audit, gate queue and outbox, webhooks, search, leases) and passes the
//! same shared test suites. The schema mirrors SQLite's, with times as Unix
//! milliseconds in `BIGINT` columns, so the two adapters read alike.
//!
//! Differences that matter at scale:
//!
//! * **Migrations are explicit.** [`PgStore::migrate`] applies them
//!   (`airlock migrate`); [`PgStore::connect`] only checks that the schema
//!   is exactly the one this build knows, and refuses otherwise, so an old
//!   binary never writes to a newer schema and a new one never runs on an
//!   old schema.
//! * **The job queue** leases with `SELECT … FOR UPDATE SKIP LOCKED`, so
//!   concurrent workers never block on, or double-take, one job; enqueues
//!   `NOTIFY airlock_jobs`, and idle workers `LISTEN` for it.
//! * **The audit chain** stays one total order under concurrent writers:
//!   every append takes a transaction-scoped advisory lock
//!   (`pg_advisory_xact_lock`) before reading the chain head, so appends
//!   serialise (in commit order) while everything else runs concurrently.

mod audit;
mod gate;
mod identity;
mod lease;
mod metadata;
mod search;
mod webhook;

use std::str::FromStr;
use std::time::Duration;

use airlock_oci::Digest;
use airlock_store::StoreError;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};
use time::OffsetDateTime;

/// The migrations this build knows, in order.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How to reach the database and how big the pool is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// `postgres://user:password@host:port/database?sslmode=…`.
    pub url: String,
    /// Schema to use instead of the user's default search path (created
    /// by [`PgStore::migrate`] if missing).
    pub schema: Option<String>,
    /// Most connections this process opens.
    pub max_connections: u32,
    /// Connections kept open when idle.
    pub min_connections: u32,
    /// How long a request waits for a free connection before failing.
    pub acquire_timeout: Duration,
    /// Idle connections above the minimum are closed after this long.
    pub idle_timeout: Duration,
    /// Server-side `statement_timeout` for every statement (zero: none).
    pub statement_timeout: Duration,
}

impl PgOptions {
    /// Defaults for `url`: 16 connections, 30 s to acquire one, 10 min idle,
    /// 60 s per statement.
    pub fn new(url: impl Into<String>) -> PgOptions {
        PgOptions {
            url: url.into(),
            schema: None,
            max_connections: 16,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(600),
            statement_timeout: Duration::from_secs(60),
        }
    }

    fn connect_options(&self) -> Result<PgConnectOptions, StoreError> {
        let mut options = PgConnectOptions::from_str(&self.url)
            .map_err(|e| StoreError::backend("parse the database url", e))?
            .application_name("airlock");
        let mut settings = Vec::new();
        if let Some(schema) = &self.schema {
            check_schema_name(schema)?;
            settings.push(("search_path", schema.clone()));
        }
        settings.push((
            "statement_timeout",
            self.statement_timeout.as_millis().to_string(),
        ));
        options = options.options(settings);
        Ok(options)
    }
}

/// Schema names are interpolated into DDL, so only plain identifiers pass.
fn check_schema_name(schema: &str) -> Result<(), StoreError> {
    let plain = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !schema.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        Ok(())
    } else {
        Err(StoreError::backend(
            "configure the database schema",
            format!("{schema:?} is not a plain lowercase identifier"),
        ))
    }
}

/// The metadata store on one PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    options: PgOptions,
    /// The `LISTEN` connection idle workers wait on (shared by clones).
    jobs: std::sync::Arc<gate::JobSignal>,
}

/// Where a database's schema stands against this build's migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaStatus {
    /// Every known migration is applied and nothing else.
    Current,
    /// These known migrations are not applied yet (run `airlock migrate`).
    Behind(Vec<i64>),
    /// The database has migrations this build does not know (a newer
    /// airlock migrated it), or a known one with different content.
    Unknown(Vec<i64>),
}

impl PgStore {
    /// Connects and checks the schema: fails unless it is
    /// [`SchemaStatus::Current`]. The error says what to do.
    pub async fn connect(options: PgOptions) -> Result<PgStore, StoreError> {
        let store = PgStore::connect_unchecked(options).await?;
        match store.schema_status().await? {
            SchemaStatus::Current => Ok(store),
            SchemaStatus::Behind(missing) => Err(StoreError::backend(
                "open the database",
                format!(
                    "the schema is behind this airlock (migrations {missing:?} not applied); \
                     run `airlock migrate` first"
                ),
            )),
            SchemaStatus::Unknown(unknown) => Err(StoreError::backend(
                "open the database",
                format!(
                    "the schema has migrations this airlock does not know ({unknown:?}); \
                     it was migrated by a newer or different build"
                ),
            )),
        }
    }

    /// Connects without looking at the schema (for `migrate` and status).
    pub async fn connect_unchecked(options: PgOptions) -> Result<PgStore, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .min_connections(options.min_connections)
            .acquire_timeout(options.acquire_timeout)
            .idle_timeout(Some(options.idle_timeout))
            .connect_with(options.connect_options()?)
            .await
            .map_err(|e| StoreError::backend("connect to the database", e))?;
        Ok(PgStore {
            pool,
            options,
            jobs: std::sync::Arc::new(gate::JobSignal::new()),
        })
    }

    /// Applies every pending migration (creating the configured schema
    /// first). Safe to run concurrently: sqlx holds an advisory lock.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        if let Some(schema) = &self.options.schema {
            check_schema_name(schema)?;
            // `schema` passed check_schema_name: a plain identifier.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS {schema}"
            )))
            .execute(&self.pool)
            .await
            .map_err(db_error("create the schema"))?;
        }
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::backend("migrate the database", e))
    }

    /// Compares the applied migrations with the ones this build knows.
    pub async fn schema_status(&self) -> Result<SchemaStatus, StoreError> {
        let table = sqlx::query("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error("read the schema version"))?
            .get::<bool, _>(0);
        let applied: Vec<(i64, Vec<u8>)> = if table {
            sqlx::query(
                "SELECT version, checksum FROM _sqlx_migrations WHERE success ORDER BY version",
            )
            .fetch_all(&self.pool)
            .await
            .map_err(db_error("read the schema version"))?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
        } else {
            Vec::new()
        };
        let known: Vec<(i64, &[u8])> = MIGRATOR
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .map(|m| (m.version, &*m.checksum))
            .collect();
        let unknown: Vec<i64> = applied
            .iter()
            .filter(|(version, checksum)| {
                !known
                    .iter()
                    .any(|(v, c)| v == version && *c == checksum.as_slice())
            })
            .map(|(version, _)| *version)
            .collect();
        if !unknown.is_empty() {
            return Ok(SchemaStatus::Unknown(unknown));
        }
        let missing: Vec<i64> = known
            .iter()
            .filter(|(version, _)| !applied.iter().any(|(v, _)| v == version))
            .map(|(version, _)| *version)
            .collect();
        Ok(if missing.is_empty() {
            SchemaStatus::Current
        } else {
            SchemaStatus::Behind(missing)
        })
    }

    /// Jobs waiting or running, for the queue-depth metric.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn db_error(operation: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |e| StoreError::backend(operation, e)
}

/// A value read back from the database that does not parse.
fn unreadable(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::backend(format!("read {what} from database"), e)
}

fn now_millis() -> i64 {
    to_millis(OffsetDateTime::now_utc())
}

fn to_millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn parse_digest(s: &str) -> Result<Digest, StoreError> {
    s.parse()
        .map_err(|e| StoreError::backend("read digest from database", e))
}

/// A fresh store in a schema of its own on the test server
/// (`AIRLOCK_TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`),
/// migrated; the schema is dropped by `TestDatabase::drop_schema`.
pub mod testing {
    use super::{PgOptions, PgStore};

    /// The test server's URL.
    pub fn database_url() -> String {
        std::env::var("AIRLOCK_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
    }

    /// A migrated store in a new, uniquely named schema.
    #[derive(Debug)]
    pub struct TestDatabase {
        /// The store.
        pub store: PgStore,
        /// Its options (to open more stores on the same schema).
        pub options: PgOptions,
    }

    impl TestDatabase {
        /// Creates the schema and migrates it. Panics, naming the server,
        /// when PostgreSQL is not reachable: these tests need it.
        pub async fn new() -> TestDatabase {
            let mut options = PgOptions::new(database_url());
            options.schema = Some(format!("t_{}", uuid::Uuid::new_v4().simple()));
            options.max_connections = 8;
            let store = PgStore::connect_unchecked(options.clone())
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is needed for this test and is not reachable at {}: {e}",
                        options.url
                    )
                });
            store.migrate().await.expect("migrate the test schema");
            TestDatabase { store, options }
        }

        /// Drops the schema and everything in it.
        pub async fn drop_schema(self) {
            let schema = self.options.schema.clone().expect("test schema");
            self.store.close().await;
            let admin = PgStore::connect_unchecked(PgOptions::new(self.options.url.clone()))
                .await
                .expect("connect to drop the test schema");
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&admin.pool)
                .await
                .expect("drop the test schema");
            admin.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::TestDatabase;
    use super::*;

    #[tokio::test]
    async fn passes_the_lease_store_suite() {
        let db = TestDatabase::new().await;
        airlock_store::testsuite::lease_store(&db.store).await;
        db.drop_schema().await;
    }

    #[tokio::test]
    async fn connect_refuses_a_schema_that_is_behind_and_migrate_fixes_it() {
        let mut options = PgOptions::new(testing::database_url());
        options.schema = Some(format!("t_{}", uuid::Uuid::new_v4().simple()));
        let error = PgStore::connect(options.clone()).await.unwrap_err();
        assert!(error.to_string().contains("airlock migrate"), "{error}");
        let store = PgStore::connect_unchecked(options.clone()).await.unwrap();
        store.migrate().await.unwrap();
        store.migrate().await.unwrap();
        assert_eq!(store.schema_status().await.unwrap(), SchemaStatus::Current);
        PgStore::connect(options.clone())
            .await
            .unwrap()
            .close()
            .await;

        // A migration this build does not know: refused.
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (99999999, 'from the future', true, '\\x00', 0)",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let error = PgStore::connect(options.clone()).await.unwrap_err();
        assert!(error.to_string().contains("does not know"), "{error}");
        TestDatabase { store, options }.drop_schema().await;
    }

    #[tokio::test]
    async fn passes_the_metadata_store_suite() {
        let db = TestDatabase::new().await;
        airlock_store::testsuite::metadata_store(&db.store).await;
        db.drop_schema().await;
    }

    #[tokio::test]
    async fn passes_the_identity_store_suite() {
        let db = TestDatabase::new().await;
        airlock_store::testsuite::identity_store(&db.store).await;
        db.drop_schema().await;
    }

    #[tokio::test]
    async fn passes_the_audit_store_suite() {
        let db = TestDatabase::new().await;
        airlock_store::testsuite::audit_store(&db.store).await;
        db.drop_schema().await;
    }

    #[tokio::test]
    async fn refuses_to_rewrite_the_audit_log() {
        use airlock_store::AuditStore;
        let db = TestDatabase::new().await;
        let event =
            airlock_audit::AuditEvent::new(airlock_audit::Actor::user("u"), "auth.login", "u");
        db.store.append_audit(&[event]).await.unwrap();
        for sql in [
            "UPDATE audit_log SET target = 'x'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
        ] {
            let error = sqlx::query(sql).execute(db.store.pool()).await.unwrap_err();
            assert!(error.to_string().contains("append-only"), "{sql}: {error}");
        }
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
            .fetch_one(db.store.pool())
            .await
            .unwrap();
        assert_eq!(count, 1);
        db.drop_schema().await;
    }

    /// Two stores (two pools, as two processes would have) append
    /// concurrently; the chain must still be one gapless, linked order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_appenders_in_two_processes_keep_one_chain() {
        use airlock_store::{AuditFilter, AuditStore};
        let db = TestDatabase::new().await;
        let other = PgStore::connect_unchecked(db.options.clone())
            .await
            .unwrap();
        let stores = [db.store.clone(), other.clone()];
        let mut tasks = Vec::new();
        for task in 0..8 {
            let store = stores[task % 2].clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..25 {
                    let event = airlock_audit::AuditEvent::new(
                        airlock_audit::Actor::user(format!("writer{task}")),
                        "auth.login",
                        format!("t{task}-{i}"),
                    );
                    store.append_audit(&[event]).await.unwrap();
                    tokio::task::yield_now().await;
                }
            }));
        }
        for task in tasks {
            task.await.expect("appender task");
        }
        let records = db
            .store
            .audit_records(&AuditFilter::default(), 0, 1000)
            .await
            .unwrap();
        assert_eq!(
            records.iter().map(|r| r.seq).collect::<Vec<_>>(),
            (1..=200).collect::<Vec<u64>>()
        );
        for pair in records.windows(2) {
            assert_eq!(pair[1].prev_hash, pair[0].hash, "link at {}", pair[1].seq);
        }
        let summary = airlock_audit::verify(records).expect("the chain verifies");
        assert_eq!(summary.last_seq, 200);
        other.close().await;
        db.drop_schema().await;
    }

    /// A sweep in another process waits for a blob commit that is still
    /// publishing, then sees its fresh link and keeps the blob.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_sweep_waits_for_a_blob_commit_in_another_process() {
        use airlock_store::{BlobRef, MetadataStore};
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let db = TestDatabase::new().await;
        let gc = PgStore::connect_unchecked(db.options.clone())
            .await
            .unwrap();
        let old: airlock_oci::RepoName = "gc/old".parse().unwrap();
        let new: airlock_oci::RepoName = "gc/new".parse().unwrap();
        let digest = Digest::sha256_of(b"layer");
        db.store.link_blob(&old, &digest, 5).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let cutoff = OffsetDateTime::now_utc();

        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
        let pusher = db.store.clone();
        let (new_repo, pushed) = (new.clone(), digest.clone());
        let commit = tokio::spawn(async move {
            pusher
                .commit_blob(
                    &new_repo,
                    &pushed,
                    Box::pin(async move {
                        started_tx.send(()).unwrap();
                        release_rx.await.unwrap();
                        Ok(5)
                    }),
                )
                .await
        });
        started_rx.await.unwrap();

        let removed = Arc::new(AtomicBool::new(false));
        let flag = removed.clone();
        let swept = digest.clone();
        let sweep = tokio::spawn(async move {
            gc.sweep_blob(
                &swept,
                cutoff,
                Box::pin(async move {
                    flag.store(true, Ordering::SeqCst);
                    Ok(())
                }),
            )
            .await
            .map(|done| (done, gc))
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !sweep.is_finished(),
            "the sweep ran while the blob was being published"
        );
        release_tx.send(()).unwrap();
        assert_eq!(commit.await.unwrap().unwrap(), 5);
        let (done, gc) = sweep.await.unwrap().unwrap();
        assert!(!done, "the freshly committed blob was swept");
        assert!(!removed.load(Ordering::SeqCst));
        assert_eq!(
            db.store.blob(&new, &digest).await.unwrap(),
            Some(BlobRef { size: 5 })
        );
        gc.close().await;
        db.drop_schema().await;
    }

    #[test]
    fn only_plain_schema_names_are_accepted() {
        assert!(check_schema_name("airlock_prod").is_ok());
        for bad in ["", "A", "x;drop", "1x", "x-y", "\"x\""] {
            assert!(check_schema_name(bad).is_err(), "{bad}");
        }
    }
}
