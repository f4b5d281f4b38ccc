//! Registry metadata (repositories, blob links, manifests, tags, referrers,
//! upload sessions) in PostgreSQL: a port of `airlock-db-sqlite`'s
//! [`MetadataStore`].
//!
//! SQLite serialises every writer on one lock (`BEGIN IMMEDIATE`); here
//! transactions run concurrently, so the read-then-write steps that relied
//! on that lock say what replaces it:
//!
//! * **Blob commit against garbage collection** (the race the
//!   [`MetadataStore`] contract names): a blob's content must not be
//!   deleted between a push publishing it and its link being written, nor
//!   between a manifest put checking its blobs and committing its
//!   references. Every transaction that publishes, links or references a
//!   blob takes that digest's *shared* advisory lock
//!   ([`lock_blob_shared`]); [`MetadataStore::sweep_blob`] takes the same
//!   key *exclusively* before it looks for references and links. Pushes of
//!   the same blob still run side by side; a sweep waits for them to commit
//!   (and then sees their links and references), and they wait for a sweep
//!   (and then find no link: the push re-publishes, the manifest put
//!   reports the blob unknown). The locks are transaction-scoped, so they
//!   hold across processes and vanish with a crashed connection.
//! * **Creating a repository** is `INSERT … ON CONFLICT DO NOTHING` on its
//!   unique name, then a read: a concurrent creator's insert is waited for.
//! * **Storing a manifest** once per digest is `ON CONFLICT DO NOTHING` on
//!   its primary key; only the inserting transaction writes its references.
//! * **The audit record** of a change is appended in the same transaction
//!   through [`append_in`], which serialises on the audit lock.

use airlock_audit::AuditEvent;
use airlock_oci::{Digest, Reference, RepoName, Tag};
use airlock_store::{
    BlobRef, GcCandidate, ManifestRecord, MetadataStore, NewManifest, PutManifestError, Referrer,
    StoreError, UploadSession,
};
use futures::future::BoxFuture;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;

use crate::audit::append_in;
use crate::{PgStore, db_error, from_millis, now_millis, parse_digest, to_millis};

/// The first key of the two-key advisory locks on blob digests (the second
/// is `hashtext(digest)`). Two-key advisory locks live apart from the
/// one-key ones such as the audit lock, so the two never collide.
pub(crate) const BLOB_LOCK_CLASS: i32 = 0x626c_6f62; // "blob"

/// Takes `digest`'s blob lock in shared mode until the transaction ends:
/// held by everything that publishes, links or references the blob.
async fn lock_blob_shared(conn: &mut PgConnection, digest: &Digest) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1, hashtext($2))::text")
        .bind(BLOB_LOCK_CLASS)
        .bind(digest.to_string())
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(|e| StoreError::backend(format!("lock blob {digest}"), e))
}

/// Takes `digest`'s blob lock exclusively until the transaction ends: held
/// by a sweep, so no push or manifest put touches the blob meanwhile.
async fn lock_blob_exclusive(conn: &mut PgConnection, digest: &Digest) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))::text")
        .bind(BLOB_LOCK_CLASS)
        .bind(digest.to_string())
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(|e| StoreError::backend(format!("lock blob {digest} for sweep"), e))
}

/// A size or count as PostgreSQL's `BIGINT`.
fn bigint(what: &str, n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|e| StoreError::backend(format!("store {what} {n}"), e))
}

/// A `BIGINT` read back as a size or count (negative values do not occur:
/// every one was written from a `u64`).
fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// `LIMIT` value: `NULL` is no limit in PostgreSQL.
fn limit_value(limit: Option<usize>) -> Option<i64> {
    limit.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

impl PgStore {
    /// The id of repository `name`, if it exists.
    pub(crate) async fn repository_id(
        conn: &mut PgConnection,
        name: &RepoName,
    ) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT id FROM repositories WHERE name = $1")
            .bind(name.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| StoreError::backend(format!("look up repository {name}"), e))
    }

    /// The repository's id, creating it if needed. A concurrent creation
    /// of the same name makes the insert wait for it, then do nothing; the
    /// read that follows (a new statement) sees the committed row.
    pub(crate) async fn ensure_repository(
        conn: &mut PgConnection,
        name: &RepoName,
    ) -> Result<i64, StoreError> {
        sqlx::query(
            "INSERT INTO repositories (name, created_at) VALUES ($1, $2)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name.as_str())
        .bind(now_millis())
        .execute(&mut *conn)
        .await
        .map_err(|e| StoreError::backend(format!("create repository {name}"), e))?;
        Self::repository_id(conn, name)
            .await?
            .ok_or_else(|| StoreError::Conflict(format!("repository {name} vanished")))
    }
}

#[async_trait::async_trait]
impl MetadataStore for PgStore {
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
            .begin()
            .await
            .map_err(db_error("begin blob commit"))?;
        // Shared blob lock: no sweep of this digest until the link commits.
        lock_blob_shared(&mut tx, digest).await?;
        let size = publish.await?;
        let repository_id = Self::ensure_repository(&mut tx, repository).await?;
        sqlx::query(
            "INSERT INTO blob_links (repository_id, digest, size, linked_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (repository_id, digest)
             DO UPDATE SET size = excluded.size, linked_at = excluded.linked_at",
        )
        .bind(repository_id)
        .bind(digest.to_string())
        .bind(bigint("blob size", size)?)
        .bind(now_millis())
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::backend(format!("link blob {digest} into {repository}"), e))?;
        tx.commit()
            .await
            .map_err(|e| StoreError::backend(format!("commit blob {digest}"), e))?;
        Ok(size)
    }

    async fn link_blob(
        &self,
        repository: &RepoName,
        digest: &Digest,
        size: u64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error("begin mount"))?;
        // Shared blob lock: a sweep of this digest is either done (and the
        // caller's existence check before mounting saw that) or waits.
        lock_blob_shared(&mut tx, digest).await?;
        let repository_id = Self::ensure_repository(&mut tx, repository).await?;
        sqlx::query(
            "INSERT INTO blob_links (repository_id, digest, size, linked_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (repository_id, digest) DO UPDATE SET linked_at = excluded.linked_at",
        )
        .bind(repository_id)
        .bind(digest.to_string())
        .bind(bigint("blob size", size)?)
        .bind(now_millis())
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::backend(format!("mount blob {digest} into {repository}"), e))?;
        tx.commit().await.map_err(db_error("commit mount"))
    }

    async fn blob(
        &self,
        repository: &RepoName,
        digest: &Digest,
    ) -> Result<Option<BlobRef>, StoreError> {
        sqlx::query_scalar(
            "SELECT l.size FROM blob_links l JOIN repositories r ON r.id = l.repository_id
             WHERE r.name = $1 AND l.digest = $2",
        )
        .bind(repository.as_str())
        .bind(digest.to_string())
        .fetch_optional(&self.pool)
        .await
        .map(|size: Option<i64>| {
            size.map(|size| BlobRef {
                size: unsigned(size),
            })
        })
        .map_err(|e| StoreError::backend(format!("look up blob {digest} in {repository}"), e))
    }

    async fn unlink_blob(
        &self,
        repository: &RepoName,
        digest: &Digest,
    ) -> Result<bool, StoreError> {
        sqlx::query(
            "DELETE FROM blob_links WHERE digest = $1
             AND repository_id = (SELECT id FROM repositories WHERE name = $2)",
        )
        .bind(digest.to_string())
        .bind(repository.as_str())
        .execute(&self.pool)
        .await
        .map(|r| r.rows_affected() > 0)
        .map_err(|e| StoreError::backend(format!("unlink blob {digest} from {repository}"), e))
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
            .begin()
            .await
            .map_err(db_error("begin manifest put"))?;
        let repository_id = Self::ensure_repository(&mut tx, repository).await?;
        for blob in &manifest.blobs {
            // Shared blob lock before the check: a sweep either finished
            // (the link is gone: blob unknown) or waits for our references.
            lock_blob_shared(&mut tx, blob).await?;
            let linked =
                sqlx::query("SELECT 1 FROM blob_links WHERE repository_id = $1 AND digest = $2")
                    .bind(repository_id)
                    .bind(blob.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| StoreError::backend(format!("check manifest blob {blob}"), e))?;
            if linked.is_none() {
                return Err(PutManifestError::BlobUnknown(blob.clone()));
            }
        }
        for child in &manifest.children {
            let present = sqlx::query(
                "SELECT 1 FROM repository_manifests WHERE repository_id = $1 AND digest = $2",
            )
            .bind(repository_id)
            .bind(child.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| StoreError::backend(format!("check child manifest {child}"), e))?;
            if present.is_none() {
                return Err(PutManifestError::ManifestUnknown(child.clone()));
            }
        }
        let digest = manifest.digest.to_string();
        let now = now_millis();
        let size = bigint("manifest size", manifest.content.len() as u64)?;
        // The primary key makes one transaction the inserter; only it
        // writes the references (a concurrent one waits, then does nothing).
        let inserted = sqlx::query(
            "INSERT INTO manifests (digest, media_type, content, size, subject, artifact_type,
                                    annotations, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (digest) DO NOTHING",
        )
        .bind(&digest)
        .bind(&manifest.media_type)
        .bind(&manifest.content)
        .bind(size)
        .bind(manifest.subject.as_ref().map(ToString::to_string))
        .bind(&manifest.artifact_type)
        .bind(&manifest.annotations)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::backend(format!("store manifest {digest}"), e))?;
        if inserted.rows_affected() > 0 {
            let references = manifest
                .blobs
                .iter()
                .map(|d| (d, "blob"))
                .chain(manifest.children.iter().map(|d| (d, "manifest")));
            for (child, kind) in references {
                sqlx::query(
                    "INSERT INTO manifest_references (manifest_digest, child_digest, kind)
                     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(&digest)
                .bind(child.to_string())
                .bind(kind)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    StoreError::backend(format!("store the references of manifest {digest}"), e)
                })?;
            }
        }
        sqlx::query(
            "INSERT INTO repository_manifests (repository_id, digest, pushed_at) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(repository_id)
        .bind(&digest)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            StoreError::backend(format!("add manifest {digest} to {repository}"), e)
        })?;
        if let Some(tag) = tag {
            sqlx::query(
                "INSERT INTO tags (repository_id, name, digest, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (repository_id, name)
                 DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at",
            )
            .bind(repository_id)
            .bind(tag.as_str())
            .bind(&digest)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::backend(format!("tag {repository}:{tag}"), e))?;
        }
        append_in(&mut tx, std::slice::from_ref(audit)).await?;
        tx.commit()
            .await
            .map_err(|e| StoreError::backend(format!("commit manifest {digest}"), e))?;
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
                     WHERE r.name = $1 AND t.name = $2",
                )
                .bind(repository.as_str())
                .bind(tag.as_str())
                .fetch_optional(&self.pool)
                .await
            }
            Reference::Digest(digest) => {
                sqlx::query(
                    "SELECT m.digest, m.media_type, m.content FROM repository_manifests rm
                     JOIN repositories r ON r.id = rm.repository_id
                     JOIN manifests m ON m.digest = rm.digest
                     WHERE r.name = $1 AND rm.digest = $2",
                )
                .bind(repository.as_str())
                .bind(digest.to_string())
                .fetch_optional(&self.pool)
                .await
            }
        }
        .map_err(|e| {
            StoreError::backend(format!("look up manifest {repository}:{reference}"), e)
        })?;
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
            .begin()
            .await
            .map_err(db_error("begin manifest delete"))?;
        let Some(repository_id) = Self::repository_id(&mut tx, repository).await? else {
            return Ok(false);
        };
        // The row lock taken by the DELETE makes a concurrent delete of the
        // same manifest wait and then remove nothing: one audit record.
        let removed = sqlx::query(
            "DELETE FROM repository_manifests WHERE repository_id = $1 AND digest = $2",
        )
        .bind(repository_id)
        .bind(digest.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::backend(format!("delete manifest {digest} from {repository}"), e))?
        .rows_affected()
            > 0;
        sqlx::query("DELETE FROM tags WHERE repository_id = $1 AND digest = $2")
            .bind(repository_id)
            .bind(digest.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                StoreError::backend(format!("delete the tags of {digest} in {repository}"), e)
            })?;
        if removed {
            append_in(&mut tx, std::slice::from_ref(audit)).await?;
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
            .begin()
            .await
            .map_err(db_error("begin tag delete"))?;
        let removed = sqlx::query(
            "DELETE FROM tags WHERE name = $1
             AND repository_id = (SELECT id FROM repositories WHERE name = $2)",
        )
        .bind(tag.as_str())
        .bind(repository.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::backend(format!("delete tag {repository}:{tag}"), e))?
        .rows_affected()
            > 0;
        if removed {
            append_in(&mut tx, std::slice::from_ref(audit)).await?;
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
        // `tags.name` is COLLATE "C": byte order, as the API promises.
        let names = sqlx::query_scalar(
            "SELECT name FROM tags WHERE repository_id = $1 AND name > $2 ORDER BY name LIMIT $3",
        )
        .bind(repository_id)
        .bind(last.unwrap_or(""))
        .bind(limit_value(limit))
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| StoreError::backend(format!("list the tags of {repository}"), e))?;
        Ok(Some(names))
    }

    async fn repositories(
        &self,
        last: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT name FROM repositories WHERE name > $1 ORDER BY name LIMIT $2")
            .bind(last.unwrap_or(""))
            .bind(limit_value(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error("list repositories"))
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
             WHERE r.name = $1 AND m.subject = $2 ORDER BY m.digest",
        )
        .bind(repository.as_str())
        .bind(digest.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| {
            StoreError::backend(format!("list the referrers of {digest} in {repository}"), e)
        })?;
        rows.into_iter()
            .map(|r| {
                Ok(Referrer {
                    digest: parse_digest(r.get::<&str, _>(0))?,
                    media_type: r.get(1),
                    size: unsigned(r.get(2)),
                    artifact_type: r.get(3),
                    annotations: r.get(4),
                })
            })
            .collect()
    }

    async fn create_upload(&self, session: &UploadSession) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO uploads (id, repository, created_at, updated_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&session.id)
        .bind(session.repository.as_str())
        .bind(to_millis(session.created_at))
        .bind(to_millis(session.updated_at))
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(|e| StoreError::backend(format!("create upload session {}", session.id), e))
    }

    async fn upload(&self, id: &str) -> Result<Option<UploadSession>, StoreError> {
        let row =
            sqlx::query("SELECT id, repository, created_at, updated_at FROM uploads WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| StoreError::backend(format!("look up upload session {id}"), e))?;
        row.map(upload_from_row).transpose()
    }

    async fn touch_upload(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE uploads SET updated_at = $1 WHERE id = $2")
            .bind(now_millis())
            .bind(id)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| StoreError::backend(format!("touch upload session {id}"), e))
    }

    async fn delete_upload(&self, id: &str) -> Result<bool, StoreError> {
        sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(|e| StoreError::backend(format!("delete upload session {id}"), e))
    }

    async fn idle_uploads(&self, cutoff: OffsetDateTime) -> Result<Vec<UploadSession>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, repository, created_at, updated_at FROM uploads
             WHERE updated_at < $1 ORDER BY id",
        )
        .bind(to_millis(cutoff))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("list idle uploads"))?;
        rows.into_iter().map(upload_from_row).collect()
    }

    async fn delete_orphan_manifests(&self, dry_run: bool) -> Result<u64, StoreError> {
        if dry_run {
            return sqlx::query_scalar(
                "SELECT COUNT(*) FROM manifests m
                 WHERE NOT EXISTS (SELECT 1 FROM repository_manifests rm WHERE rm.digest = m.digest)",
            )
            .fetch_one(&self.pool)
            .await
            .map(unsigned)
            .map_err(db_error("count orphan manifests"));
        }
        // A put racing this delete for the same digest loses one way or
        // the other on the foreign key (its insert, or this delete, fails
        // and is retried later); nothing is left dangling.
        sqlx::query(
            "DELETE FROM manifests m
             WHERE NOT EXISTS (SELECT 1 FROM repository_manifests rm WHERE rm.digest = m.digest)",
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
            .begin()
            .await
            .map_err(db_error("begin blob sweep"))?;
        // Exclusive blob lock first: every commit, mount or manifest put of
        // this digest has committed (the checks below, new statements under
        // READ COMMITTED, see its rows) or waits until the sweep is over.
        lock_blob_exclusive(&mut tx, digest).await?;
        let digest_text = digest.to_string();
        let referenced = sqlx::query(
            "SELECT 1 FROM manifest_references WHERE child_digest = $1 AND kind = 'blob' LIMIT 1",
        )
        .bind(&digest_text)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| StoreError::backend(format!("check the references to blob {digest}"), e))?
        .is_some();
        let recent =
            sqlx::query("SELECT 1 FROM blob_links WHERE digest = $1 AND linked_at >= $2 LIMIT 1")
                .bind(&digest_text)
                .bind(to_millis(cutoff))
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| StoreError::backend(format!("check the links of blob {digest}"), e))?
                .is_some();
        if referenced || recent {
            return Ok(false);
        }
        sqlx::query("DELETE FROM blob_links WHERE digest = $1")
            .bind(&digest_text)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::backend(format!("unlink swept blob {digest}"), e))?;
        remove.await?;
        tx.commit()
            .await
            .map_err(|e| StoreError::backend(format!("commit the sweep of blob {digest}"), e))?;
        Ok(true)
    }

    async fn blob_in_use(&self, digest: &Digest) -> Result<bool, StoreError> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM blob_links WHERE digest = $1)
                 OR EXISTS (SELECT 1 FROM manifest_references
                            WHERE child_digest = $1 AND kind = 'blob')",
        )
        .bind(digest.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::backend(format!("check whether blob {digest} is in use"), e))
    }
}

fn upload_from_row(row: PgRow) -> Result<UploadSession, StoreError> {
    let id: String = row.get(0);
    let repository = row
        .get::<&str, _>(1)
        .parse()
        .map_err(|e| StoreError::backend(format!("read the repository of upload {id}"), e))?;
    Ok(UploadSession {
        id,
        repository,
        created_at: from_millis(row.get(2)),
        updated_at: from_millis(row.get(3)),
    })
}
