//! The embedded metadata store: SQLite through sqlx.
//!
//! One database file in WAL mode. Every trait method is one transaction.
//! Writes that must exclude each other across processes (committing a blob
//! and garbage-collecting it) use `BEGIN IMMEDIATE`, which takes SQLite's
//! single write lock up front; that is what makes `airlock gc` safe to run
//! beside a live server on the same data directory.

mod audit;
mod gate;
mod identity;
mod lease;
mod search;
mod webhook;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use airlock_audit::AuditEvent;
use airlock_oci::{Digest, Reference, RepoName, Tag};
use airlock_store::{
    BlobRef, GcCandidate, ManifestRecord, MetadataStore, NewManifest, PutManifestError, Referrer,
    StoreError, UploadSession,
};
use futures::future::BoxFuture;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqliteConnection, SqlitePool};
use time::OffsetDateTime;

/// A [`MetadataStore`] on one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteMetadataStore {
    pool: SqlitePool,
}

fn db_error(operation: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |e| StoreError::backend(operation, e)
}

/// A value read back from the database that does not parse.
fn unreadable(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::backend(format!("read {what} from database"), e)
}

/// A transaction that takes SQLite's write lock up front (`BEGIN
/// IMMEDIATE`), so a read-then-write cannot be overtaken by another writer.
async fn begin_write(
    store: &SqliteMetadataStore,
    operation: &str,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
    store
        .pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| StoreError::backend(format!("begin {operation}"), e))
}

/// Commits a transaction, naming the operation on failure.
async fn commit(
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    operation: &str,
) -> Result<(), StoreError> {
    tx.commit()
        .await
        .map_err(|e| StoreError::backend(format!("commit {operation}"), e))
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

fn limit_value(limit: Option<usize>) -> i64 {
    limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX))
}

impl SqliteMetadataStore {
    /// Opens (creating if needed) the database at `path` and applies migrations.
    pub async fn open(path: &Path) -> Result<SqliteMetadataStore, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(db_error("configure sqlite"))?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::backend(format!("open database {}", path.display()), e))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::backend(format!("migrate database {}", path.display()), e))?;
        Ok(SqliteMetadataStore { pool })
    }

    async fn repository_id(
        conn: &mut SqliteConnection,
        name: &RepoName,
    ) -> Result<Option<i64>, StoreError> {
        sqlx::query("SELECT id FROM repositories WHERE name = ?")
            .bind(name.as_str().to_owned())
            .fetch_optional(&mut *conn)
            .await
            .map(|row| row.map(|r| r.get::<i64, _>(0)))
            .map_err(db_error("look up repository"))
    }

    async fn ensure_repository(
        conn: &mut SqliteConnection,
        name: &RepoName,
    ) -> Result<i64, StoreError> {
        sqlx::query("INSERT INTO repositories (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING")
            .bind(name.as_str().to_owned())
            .bind(now_millis())
            .execute(&mut *conn)
            .await
            .map_err(db_error("create repository"))?;
        Self::repository_id(conn, name)
            .await?
            .ok_or_else(|| StoreError::Conflict(format!("repository {name} vanished")))
    }
}

#[async_trait::async_trait]
impl MetadataStore for SqliteMetadataStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(db_error("ping database"))
    }

    async fn commit_blob(
        &self,
        repository: &RepoName,
        digest: &Digest,
        publish: BoxFuture<'_, Result<u64, StoreError>>,
    ) -> Result<u64, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error("lock blobs for commit"))?;
        let size = publish.await?;
        let repository_id = Self::ensure_repository(&mut tx, repository).await?;
        sqlx::query(
            "INSERT INTO blob_links (repository_id, digest, size, linked_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (repository_id, digest) DO UPDATE SET size = excluded.size, linked_at = excluded.linked_at",
        )
        .bind(repository_id)
        .bind(digest.to_string())
        .bind(i64::try_from(size).unwrap_or(i64::MAX))
        .bind(now_millis())
        .execute(&mut *tx)
        .await
        .map_err(db_error("link blob"))?;
        tx.commit().await.map_err(db_error("commit blob link"))?;
        Ok(size)
    }

    async fn link_blob(
        &self,
        repository: &RepoName,
        digest: &Digest,
        size: u64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error("begin mount"))?;
        let repository_id = Self::ensure_repository(&mut tx, repository).await?;
        sqlx::query(
            "INSERT INTO blob_links (repository_id, digest, size, linked_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (repository_id, digest) DO UPDATE SET linked_at = excluded.linked_at",
        )
        .bind(repository_id)
        .bind(digest.to_string())
        .bind(i64::try_from(size).unwrap_or(i64::MAX))
        .bind(now_millis())
        .execute(&mut *tx)
        .await
        .map_err(db_error("mount blob"))?;
        tx.commit().await.map_err(db_error("commit mount"))
    }

    async fn blob(
        &self,
        repository: &RepoName,
        digest: &Digest,
    ) -> Result<Option<BlobRef>, StoreError> {
        sqlx::query(
            "SELECT l.size FROM blob_links l JOIN repositories r ON r.id = l.repository_id
             WHERE r.name = ? AND l.digest = ?",
        )
        .bind(repository.as_str().to_owned())
        .bind(digest.to_string())
        .fetch_optional(&self.pool)
        .await
        .map(|row| {
            row.map(|r| BlobRef {
                size: u64::try_from(r.get::<i64, _>(0)).unwrap_or(0),
            })
        })
        .map_err(db_error("look up blob link"))
    }

    async fn unlink_blob(
        &self,
        repository: &RepoName,
        digest: &Digest,
    ) -> Result<bool, StoreError> {
        sqlx::query(
            "DELETE FROM blob_links WHERE digest = ?
             AND repository_id = (SELECT id FROM repositories WHERE name = ?)",
        )
        .bind(digest.to_string())
        .bind(repository.as_str().to_owned())
        .execute(&self.pool)
        .await
        .map(|r| r.rows_affected() > 0)
        .map_err(db_error("unlink blob"))
    }

    async fn put_manifest(
        &self,
        repository: &RepoName,
        manifest: &NewManifest,
        tag: Option<&Tag>,
        audit: &AuditEvent,
    ) -> Result<(), PutManifestError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error("begin manifest put"))?;
        let repository_id = Self::ensure_repository(&mut tx, repository).await?;
        for blob in &manifest.blobs {
            let linked =
                sqlx::query("SELECT 1 FROM blob_links WHERE repository_id = ? AND digest = ?")
                    .bind(repository_id)
                    .bind(blob.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error("check manifest blob"))?;
            if linked.is_none() {
                return Err(PutManifestError::BlobUnknown(blob.clone()));
            }
        }
        for child in &manifest.children {
            let present = sqlx::query(
                "SELECT 1 FROM repository_manifests WHERE repository_id = ? AND digest = ?",
            )
            .bind(repository_id)
            .bind(child.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error("check child manifest"))?;
            if present.is_none() {
                return Err(PutManifestError::ManifestUnknown(child.clone()));
            }
        }
        let digest = manifest.digest.to_string();
        let now = now_millis();
        let inserted = sqlx::query(
            "INSERT INTO manifests (digest, media_type, content, size, subject, artifact_type, annotations, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING",
        )
        .bind(digest.clone())
        .bind(manifest.media_type.clone())
        .bind(manifest.content.clone())
        .bind(i64::try_from(manifest.content.len()).unwrap_or(i64::MAX))
        .bind(manifest.subject.as_ref().map(ToString::to_string))
        .bind(manifest.artifact_type.clone())
        .bind(manifest.annotations.clone())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_error("store manifest"))?;
        if inserted.rows_affected() > 0 {
            let references = manifest
                .blobs
                .iter()
                .map(|d| (d, "blob"))
                .chain(manifest.children.iter().map(|d| (d, "manifest")));
            for (child, kind) in references {
                sqlx::query(
                    "INSERT INTO manifest_references (manifest_digest, child_digest, kind) VALUES (?, ?, ?)
                     ON CONFLICT DO NOTHING",
                )
                .bind(digest.clone())
                .bind(child.to_string())
                .bind(kind)
                .execute(&mut *tx)
                .await
                .map_err(db_error("store manifest references"))?;
            }
        }
        sqlx::query(
            "INSERT INTO repository_manifests (repository_id, digest, pushed_at) VALUES (?, ?, ?)
             ON CONFLICT DO NOTHING",
        )
        .bind(repository_id)
        .bind(digest.clone())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_error("add manifest to repository"))?;
        if let Some(tag) = tag {
            sqlx::query(
                "INSERT INTO tags (repository_id, name, digest, updated_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (repository_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at",
            )
            .bind(repository_id)
            .bind(tag.as_str().to_owned())
            .bind(digest)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_error("tag manifest"))?;
        }
        audit::append_in(&mut tx, std::slice::from_ref(audit)).await?;
        tx.commit().await.map_err(db_error("commit manifest put"))?;
        Ok(())
    }

    async fn manifest(
        &self,
        repository: &RepoName,
        reference: &Reference,
    ) -> Result<Option<ManifestRecord>, StoreError> {
        let row = match reference {
            Reference::Tag(tag) => {
                sqlx::query(
                    "SELECT m.digest, m.media_type, m.content FROM tags t
                     JOIN repositories r ON r.id = t.repository_id
                     JOIN manifests m ON m.digest = t.digest
                     WHERE r.name = ? AND t.name = ?",
                )
                .bind(repository.as_str().to_owned())
                .bind(tag.as_str().to_owned())
                .fetch_optional(&self.pool)
                .await
            }
            Reference::Digest(digest) => {
                sqlx::query(
                    "SELECT m.digest, m.media_type, m.content FROM repository_manifests rm
                     JOIN repositories r ON r.id = rm.repository_id
                     JOIN manifests m ON m.digest = rm.digest
                     WHERE r.name = ? AND rm.digest = ?",
                )
                .bind(repository.as_str().to_owned())
                .bind(digest.to_string())
                .fetch_optional(&self.pool)
                .await
            }
        }
        .map_err(db_error("look up manifest"))?;
        row.map(|r| {
            Ok(ManifestRecord {
                digest: parse_digest(r.get::<&str, _>(0))?,
                media_type: r.get(1),
                content: r.get(2),
            })
        })
        .transpose()
    }

    async fn delete_manifest(
        &self,
        repository: &RepoName,
        digest: &Digest,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error("begin manifest delete"))?;
        let Some(repository_id) = Self::repository_id(&mut tx, repository).await? else {
            return Ok(false);
        };
        let removed =
            sqlx::query("DELETE FROM repository_manifests WHERE repository_id = ? AND digest = ?")
                .bind(repository_id)
                .bind(digest.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_error("delete manifest"))?
                .rows_affected()
                > 0;
        sqlx::query("DELETE FROM tags WHERE repository_id = ? AND digest = ?")
            .bind(repository_id)
            .bind(digest.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_error("delete manifest tags"))?;
        if removed {
            audit::append_in(&mut tx, std::slice::from_ref(audit)).await?;
        }
        tx.commit()
            .await
            .map_err(db_error("commit manifest delete"))?;
        Ok(removed)
    }

    async fn delete_tag(
        &self,
        repository: &RepoName,
        tag: &Tag,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error("begin tag delete"))?;
        let removed = sqlx::query(
            "DELETE FROM tags WHERE name = ? AND repository_id = (SELECT id FROM repositories WHERE name = ?)",
        )
        .bind(tag.as_str().to_owned())
        .bind(repository.as_str().to_owned())
        .execute(&mut *tx)
        .await
        .map_err(db_error("delete tag"))?
        .rows_affected()
            > 0;
        if removed {
            audit::append_in(&mut tx, std::slice::from_ref(audit)).await?;
        }
        tx.commit().await.map_err(db_error("commit tag delete"))?;
        Ok(removed)
    }

    async fn tags(
        &self,
        repository: &RepoName,
        last: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_error("acquire connection"))?;
        let Some(repository_id) = Self::repository_id(&mut conn, repository).await? else {
            return Ok(None);
        };
        let rows = sqlx::query(
            "SELECT name FROM tags WHERE repository_id = ? AND name > ? ORDER BY name LIMIT ?",
        )
        .bind(repository_id)
        .bind(last.unwrap_or("").to_owned())
        .bind(limit_value(limit))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error("list tags"))?;
        Ok(Some(rows.into_iter().map(|r| r.get(0)).collect()))
    }

    async fn repositories(
        &self,
        last: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<String>, StoreError> {
        let rows =
            sqlx::query("SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?")
                .bind(last.unwrap_or("").to_owned())
                .bind(limit_value(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db_error("list repositories"))?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    async fn repository_exists(&self, repository: &RepoName) -> Result<bool, StoreError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_error("acquire connection"))?;
        Ok(Self::repository_id(&mut conn, repository).await?.is_some())
    }

    async fn referrers(
        &self,
        repository: &RepoName,
        digest: &Digest,
    ) -> Result<Vec<Referrer>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.digest, m.media_type, m.size, m.artifact_type, m.annotations FROM manifests m
             JOIN repository_manifests rm ON rm.digest = m.digest
             JOIN repositories r ON r.id = rm.repository_id
             WHERE r.name = ? AND m.subject = ? ORDER BY m.digest",
        )
        .bind(repository.as_str().to_owned())
        .bind(digest.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("list referrers"))?;
        rows.into_iter()
            .map(|r| {
                Ok(Referrer {
                    digest: parse_digest(r.get::<&str, _>(0))?,
                    media_type: r.get(1),
                    size: u64::try_from(r.get::<i64, _>(2)).unwrap_or(0),
                    artifact_type: r.get(3),
                    annotations: r.get(4),
                })
            })
            .collect()
    }

    async fn create_upload(&self, session: &UploadSession) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO uploads (id, repository, created_at, updated_at) VALUES (?, ?, ?, ?)",
        )
        .bind(session.id.clone())
        .bind(session.repository.as_str().to_owned())
        .bind(to_millis(session.created_at))
        .bind(to_millis(session.updated_at))
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(db_error("create upload session"))
    }

    async fn upload(&self, id: &str) -> Result<Option<UploadSession>, StoreError> {
        let row =
            sqlx::query("SELECT id, repository, created_at, updated_at FROM uploads WHERE id = ?")
                .bind(id.to_owned())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error("look up upload session"))?;
        row.map(upload_from_row).transpose()
    }

    async fn touch_upload(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE uploads SET updated_at = ? WHERE id = ?")
            .bind(now_millis())
            .bind(id.to_owned())
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(db_error("touch upload session"))
    }

    async fn delete_upload(&self, id: &str) -> Result<bool, StoreError> {
        sqlx::query("DELETE FROM uploads WHERE id = ?")
            .bind(id.to_owned())
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_error("delete upload session"))
    }

    async fn idle_uploads(&self, cutoff: OffsetDateTime) -> Result<Vec<UploadSession>, StoreError> {
        let rows = sqlx::query("SELECT id, repository, created_at, updated_at FROM uploads WHERE updated_at < ? ORDER BY id")
            .bind(to_millis(cutoff))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error("list idle uploads"))?;
        rows.into_iter().map(upload_from_row).collect()
    }

    async fn delete_orphan_manifests(&self, dry_run: bool) -> Result<u64, StoreError> {
        if dry_run {
            return sqlx::query(
                "SELECT COUNT(*) FROM manifests WHERE digest NOT IN (SELECT digest FROM repository_manifests)",
            )
            .fetch_one(&self.pool)
            .await
            .map(|r| u64::try_from(r.get::<i64, _>(0)).unwrap_or(0))
            .map_err(db_error("count orphan manifests"));
        }
        sqlx::query(
            "DELETE FROM manifests WHERE digest NOT IN (SELECT digest FROM repository_manifests)",
        )
        .execute(&self.pool)
        .await
        .map(|r| r.rows_affected())
        .map_err(db_error("delete orphan manifests"))
    }

    async fn unreferenced_blobs(&self) -> Result<Vec<GcCandidate>, StoreError> {
        let rows = sqlx::query(
            "SELECT digest, MAX(linked_at) FROM blob_links
             WHERE digest NOT IN (
                 SELECT r.child_digest FROM manifest_references r
                 JOIN repository_manifests rm ON rm.digest = r.manifest_digest
                 WHERE r.kind = 'blob')
             GROUP BY digest ORDER BY digest",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("list unreferenced blobs"))?;
        rows.into_iter()
            .map(|r| {
                Ok(GcCandidate {
                    digest: parse_digest(r.get::<&str, _>(0))?,
                    newest_link: r.get::<Option<i64>, _>(1).map(from_millis),
                })
            })
            .collect()
    }

    async fn sweep_blob(
        &self,
        digest: &Digest,
        cutoff: OffsetDateTime,
        remove: BoxFuture<'_, Result<(), StoreError>>,
    ) -> Result<bool, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error("lock blobs for sweep"))?;
        let digest_text = digest.to_string();
        let referenced = sqlx::query(
            "SELECT 1 FROM manifest_references WHERE child_digest = ? AND kind = 'blob' LIMIT 1",
        )
        .bind(digest_text.clone())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error("check blob references"))?
        .is_some();
        let recent =
            sqlx::query("SELECT 1 FROM blob_links WHERE digest = ? AND linked_at >= ? LIMIT 1")
                .bind(digest_text.clone())
                .bind(to_millis(cutoff))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error("check blob links"))?
                .is_some();
        if referenced || recent {
            return Ok(false);
        }
        sqlx::query("DELETE FROM blob_links WHERE digest = ?")
            .bind(digest_text)
            .execute(&mut *tx)
            .await
            .map_err(db_error("unlink swept blob"))?;
        remove.await?;
        tx.commit().await.map_err(db_error("commit blob sweep"))?;
        Ok(true)
    }

    async fn blob_in_use(&self, digest: &Digest) -> Result<bool, StoreError> {
        sqlx::query(
            "SELECT 1 WHERE EXISTS (SELECT 1 FROM blob_links WHERE digest = ?1)
             OR EXISTS (SELECT 1 FROM manifest_references WHERE child_digest = ?1 AND kind = 'blob')",
        )
        .bind(digest.to_string())
        .fetch_optional(&self.pool)
        .await
        .map(|r| r.is_some())
        .map_err(db_error("check blob use"))
    }
}

fn upload_from_row(row: sqlx::sqlite::SqliteRow) -> Result<UploadSession, StoreError> {
    Ok(UploadSession {
        id: row.get(0),
        repository: row
            .get::<&str, _>(1)
            .parse()
            .map_err(|e| StoreError::backend("read upload repository", e))?,
        created_at: from_millis(row.get(2)),
        updated_at: from_millis(row.get(3)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_the_metadata_store_suite() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMetadataStore::open(&dir.path().join("meta.db"))
            .await
            .unwrap();
        airlock_store::testsuite::metadata_store(&store).await;
    }

    #[tokio::test]
    async fn passes_the_identity_and_audit_suites() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMetadataStore::open(&dir.path().join("meta.db"))
            .await
            .unwrap();
        airlock_store::testsuite::identity_store(&store).await;
        airlock_store::testsuite::audit_store(&store).await;
    }

    #[tokio::test]
    async fn passes_the_gate_store_suite() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMetadataStore::open(&dir.path().join("meta.db"))
            .await
            .unwrap();
        airlock_store::testsuite::gate_store(&store).await;
    }

    #[tokio::test]
    async fn passes_the_webhook_store_suite() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMetadataStore::open(&dir.path().join("meta.db"))
            .await
            .unwrap();
        airlock_store::testsuite::webhook_store(&store).await;
    }

    #[tokio::test]
    async fn passes_the_lease_store_suite() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMetadataStore::open(&dir.path().join("meta.db"))
            .await
            .unwrap();
        airlock_store::testsuite::lease_store(&store).await;
    }

    #[tokio::test]
    async fn passes_the_search_store_suite() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMetadataStore::open(&dir.path().join("meta.db"))
            .await
            .unwrap();
        airlock_store::testsuite::search_store(&store).await;
    }

    #[tokio::test]
    async fn refuses_to_rewrite_the_audit_log() {
        use airlock_store::AuditStore;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMetadataStore::open(&dir.path().join("meta.db"))
            .await
            .unwrap();
        let event = AuditEvent::new(airlock_audit::Actor::user("u"), "auth.login", "u");
        store.append_audit(&[event]).await.unwrap();
        for sql in ["UPDATE audit_log SET target = 'x'", "DELETE FROM audit_log"] {
            let error = sqlx::query(sql).execute(&store.pool).await.unwrap_err();
            assert!(error.to_string().contains("append-only"), "{error}");
        }
    }

    #[tokio::test]
    async fn survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.db");
        let repo: RepoName = "a/b".parse().unwrap();
        let digest = Digest::sha256_of(b"x");
        {
            let store = SqliteMetadataStore::open(&path).await.unwrap();
            store.link_blob(&repo, &digest, 1).await.unwrap();
        }
        let store = SqliteMetadataStore::open(&path).await.unwrap();
        assert_eq!(
            store.blob(&repo, &digest).await.unwrap(),
            Some(BlobRef { size: 1 })
        );
    }
}
