//! Garbage collection: expired uploads, orphaned manifests, unreferenced blobs.
//!
//! Safe while the server runs: every blob removal re-checks, under the
//! metadata store's blob lock, that nothing references the blob and that it
//! was not linked within the grace period, so a push racing the collector
//! either keeps its blob or is told the blob is unknown and uploads it again.

use std::time::{Duration, SystemTime};

use time::OffsetDateTime;

use crate::{Registry, RegistryError};

/// What to collect.
#[derive(Debug, Clone)]
pub struct GcOptions {
    /// Blobs linked or written more recently than this are kept, so pushes in
    /// flight (blobs uploaded, manifest not yet pushed) are safe.
    pub grace: Duration,
    /// Only count what would be removed.
    pub dry_run: bool,
}

/// What a collection removed (or would remove, in a dry run).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Upload sessions that had expired.
    pub expired_uploads: u64,
    /// Manifests that were in no repository.
    pub orphan_manifests: u64,
    /// Blobs removed.
    pub blobs_removed: u64,
    /// Bytes those blobs held.
    pub bytes_removed: u64,
}

fn cutoff(age: Duration) -> OffsetDateTime {
    OffsetDateTime::now_utc() - age
}

impl Registry {
    /// Runs one garbage collection.
    pub async fn gc(&self, options: &GcOptions) -> Result<GcReport, RegistryError> {
        let mut report = GcReport::default();

        // 1. Expired upload sessions, and staged files no session owns.
        let upload_cutoff = cutoff(self.config.upload_ttl);
        for session in self.meta.idle_uploads(upload_cutoff).await? {
            report.expired_uploads += 1;
            if !options.dry_run {
                self.blobs.upload_delete(&session.id).await?;
                self.meta.delete_upload(&session.id).await?;
                // Free the in-memory running hash and lock too.
                self.sessions.forget(&session.id);
            }
        }
        let stale_before = SystemTime::now() - self.config.upload_ttl;
        for (id, modified) in self.blobs.upload_list().await? {
            if modified < stale_before && self.meta.upload(&id).await?.is_none() && !options.dry_run
            {
                self.blobs.upload_delete(&id).await?;
            }
        }

        // 2. Manifests no repository holds any more.
        report.orphan_manifests = self.meta.delete_orphan_manifests(options.dry_run).await?;

        // 3. Blobs nothing references: linked ones past the grace period,
        // then files no repository links at all.
        let blob_cutoff = cutoff(options.grace);
        let files = self.blobs.list().await?;
        let mut candidates: Vec<_> = self
            .meta
            .unreferenced_blobs()
            .await?
            .into_iter()
            .filter(|c| c.newest_link.is_none_or(|t| t < blob_cutoff))
            .map(|c| c.digest)
            .collect();
        let grace_start = SystemTime::now() - options.grace;
        for file in &files {
            if file.modified < grace_start && !self.meta.blob_in_use(&file.digest).await? {
                candidates.push(file.digest.clone());
            }
        }
        candidates.sort();
        candidates.dedup();
        for digest in candidates {
            let size = files
                .iter()
                .find(|f| f.digest == digest)
                .map_or(0, |f| f.size);
            let removed = options.dry_run || {
                let blobs = self.blobs.clone();
                let target = digest.clone();
                self.meta
                    .sweep_blob(
                        &digest,
                        blob_cutoff,
                        Box::pin(async move { blobs.delete(&target).await }),
                    )
                    .await?
            };
            if removed {
                report.blobs_removed += 1;
                report.bytes_removed += size;
            }
        }
        tracing::info!(
            ?report,
            dry_run = options.dry_run,
            "garbage collection finished"
        );
        Ok(report)
    }
}
