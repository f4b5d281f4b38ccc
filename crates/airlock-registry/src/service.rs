//! The registry service: push, pull, delete, list.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use airlock_audit::{AuditEvent, Outcome};
use airlock_auth::{RepoAction, ZonedRepo, repo_allows};
use airlock_oci::manifest::ParsedManifest;
use airlock_oci::{Algorithm, Digest, Hasher, Reference, RepoName};
use airlock_store::{
    BlobStore, ByteStream, Database, ManifestRecord, NewManifest, PutManifestError, Referrer,
    StoreError, UploadSession,
};
use time::OffsetDateTime;

use crate::RegistryError;
use crate::access::{self, Caller, Need};
use crate::pull_audit::PullAuditor;
use crate::upload::{RunningHash, Sessions, UploadState, hashing, rehash};

/// Layer media types that are never pushed to a registry, so their presence
/// is not checked when a manifest references them.
const NON_DISTRIBUTABLE: [&str; 4] = [
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
];

/// Tunables of the registry.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Largest manifest accepted, in bytes.
    pub max_manifest_bytes: usize,
    /// Upload sessions idle longer than this expire.
    pub upload_ttl: Duration,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            max_manifest_bytes: 4 * 1024 * 1024,
            upload_ttl: Duration::from_secs(24 * 3600),
        }
    }
}

/// The result of storing a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestPut {
    /// Digest of the stored bytes.
    pub digest: Digest,
    /// The manifest's subject, for the `OCI-Subject` header.
    pub subject: Option<Digest>,
}

/// A manifest that was just stored, for whoever acts on pushes (the gate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedManifest {
    /// The repository.
    pub repository: RepoName,
    /// The manifest digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// The tag it was pushed under, if any.
    pub tag: Option<airlock_oci::Tag>,
    /// Its `subject`, if it is a referrer.
    pub subject: Option<Digest>,
    /// Who pushed it (user or robot name), when authenticated.
    pub pusher: Option<String>,
}

/// Told about every stored manifest, after its transaction committed.
/// Observers must not fail the push: whatever they miss is found again by
/// their own reconciliation.
#[async_trait::async_trait]
pub trait PushObserver: Send + Sync + std::fmt::Debug {
    /// A manifest was stored.
    async fn manifest_pushed(&self, pushed: PushedManifest);
}

/// The OCI registry use cases over a metadata store and a blob store.
#[derive(Debug)]
pub struct Registry {
    pub(crate) meta: Arc<dyn Database>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) config: RegistryConfig,
    pub(crate) sessions: Sessions,
    observer: std::sync::OnceLock<Arc<dyn PushObserver>>,
    pull_auditor: std::sync::OnceLock<PullAuditor>,
}

impl Registry {
    /// A registry over the given stores.
    pub fn new(
        meta: Arc<dyn Database>,
        blobs: Arc<dyn BlobStore>,
        config: RegistryConfig,
    ) -> Registry {
        Registry {
            meta,
            blobs,
            config,
            sessions: Sessions::default(),
            observer: std::sync::OnceLock::new(),
            pull_auditor: std::sync::OnceLock::new(),
        }
    }

    /// Sets the one observer told about every stored manifest (the gate).
    /// A second call is ignored.
    pub fn observe_pushes(&self, observer: Arc<dyn PushObserver>) {
        let _ = self.observer.set(observer);
    }

    /// The configuration in force.
    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// Checks the storage answers (for readiness probes).
    pub async fn ready(&self) -> Result<(), RegistryError> {
        self.meta.ping().await?;
        Ok(())
    }

    // ----- access -----

    /// Allows or refuses a request: the zone rules of [`access::decide`],
    /// then the tenant's existence. Denials and refused credentials are
    /// audited; a plain challenge to a client that sent no credentials is not.
    pub async fn authorize(
        &self,
        caller: &Caller,
        need: Need,
        repository: Option<&RepoName>,
    ) -> Result<(), RegistryError> {
        let decided = match access::decide(caller, need, repository) {
            Ok(Some(zoned)) => {
                if self.meta.tenant_exists(&zoned.tenant).await? {
                    Ok(())
                } else {
                    Err(RegistryError::UnknownTenant(zoned.tenant.to_string()))
                }
            }
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        let Err(error) = decided else {
            return Ok(());
        };
        let action = match &error {
            RegistryError::Unauthenticated { .. } if caller.rejected.is_some() => {
                Some("auth.credentials")
            }
            RegistryError::Unauthenticated { .. } => None,
            _ => Some("access.denied"),
        };
        if let Some(action) = action {
            let target = repository.map_or_else(|| "/v2/".to_owned(), ToString::to_string);
            let mut event = AuditEvent::new(caller.actor(), action, target)
                .outcome(Outcome::Denied)
                .reason(error.to_string())
                .request(caller.request.clone())
                .details(serde_json::json!({ "need": format!("{need:?}").to_lowercase() }));
            if let Some(tenant) = repository.and_then(|r| ZonedRepo::parse(r.as_str()).ok()) {
                event = event.tenant(tenant.tenant.to_string());
            }
            self.meta.append_audit(&[event]).await?;
        }
        Err(error)
    }

    fn manifest_event(
        caller: &Caller,
        action: &str,
        repository: &RepoName,
        target: String,
    ) -> AuditEvent {
        let mut event =
            AuditEvent::new(caller.actor(), action, target).request(caller.request.clone());
        if let Ok(zoned) = ZonedRepo::parse(repository.as_str()) {
            event = event.tenant(zoned.tenant.to_string());
        }
        event
    }

    // ----- blobs -----

    /// Size of a blob visible in `repository`.
    pub async fn blob_size(
        &self,
        repository: &RepoName,
        digest: &Digest,
    ) -> Result<u64, RegistryError> {
        self.meta
            .blob(repository, digest)
            .await?
            .map(|b| b.size)
            .ok_or_else(|| RegistryError::BlobUnknown(digest.clone()))
    }

    /// Reads a blob, whole or an inclusive byte range, returning its total size too.
    pub async fn read_blob(
        &self,
        repository: &RepoName,
        digest: &Digest,
        range: Option<(u64, Option<u64>)>,
    ) -> Result<(u64, Option<(u64, u64)>, ByteStream), RegistryError> {
        let size = self.blob_size(repository, digest).await?;
        let range = match range {
            None => None,
            Some((start, end)) => {
                let end = end
                    .unwrap_or(size.saturating_sub(1))
                    .min(size.saturating_sub(1));
                if size == 0 || start > end {
                    return Err(RegistryError::RangeNotSatisfiable { size });
                }
                Some((start, end))
            }
        };
        let stream = self.blobs.read(digest, range).await.map_err(|e| match e {
            StoreError::NotFound(_) => RegistryError::BlobUnknown(digest.clone()),
            other => other.into(),
        })?;
        Ok((size, range, stream))
    }

    /// A short-lived URL the client may fetch a blob visible in `repository`
    /// from directly (a presigned S3 GET), or `None` when the registry
    /// serves the bytes itself.
    pub async fn blob_redirect(
        &self,
        repository: &RepoName,
        digest: &Digest,
    ) -> Result<Option<String>, RegistryError> {
        self.blob_size(repository, digest).await?;
        Ok(self.blobs.presigned_read(digest).await?)
    }

    /// Removes a blob from `repository` (its content goes at the next gc).
    pub async fn delete_blob(
        &self,
        repository: &RepoName,
        digest: &Digest,
    ) -> Result<(), RegistryError> {
        if self.meta.unlink_blob(repository, digest).await? {
            Ok(())
        } else {
            Err(RegistryError::BlobUnknown(digest.clone()))
        }
    }

    /// Mounts a blob from `from` into `repository`. Returns `false` when the
    /// blob is not visible in `from`; the caller then starts a normal upload.
    pub async fn mount_blob(
        &self,
        repository: &RepoName,
        from: &RepoName,
        digest: &Digest,
    ) -> Result<bool, RegistryError> {
        let Some(link) = self.meta.blob(from, digest).await? else {
            return Ok(false);
        };
        if self.blobs.stat(digest).await?.is_none() {
            return Ok(false);
        }
        self.meta.link_blob(repository, digest, link.size).await?;
        Ok(true)
    }

    // ----- uploads -----

    /// Opens an upload session in `repository`.
    pub async fn start_upload(&self, repository: &RepoName) -> Result<UploadState, RegistryError> {
        let id = uuid::Uuid::new_v4().to_string();
        self.blobs.upload_create(&id).await?;
        let now = OffsetDateTime::now_utc();
        let session = UploadSession {
            id: id.clone(),
            repository: repository.clone(),
            created_at: now,
            updated_at: now,
        };
        if let Err(e) = self.meta.create_upload(&session).await {
            let _ = self.blobs.upload_delete(&id).await;
            return Err(e.into());
        }
        Ok(UploadState { id, offset: 0 })
    }

    async fn session(
        &self,
        repository: &RepoName,
        id: &str,
    ) -> Result<UploadSession, RegistryError> {
        let expired_before = OffsetDateTime::now_utc() - self.config.upload_ttl;
        match self.meta.upload(id).await? {
            Some(session)
                if &session.repository == repository && session.updated_at >= expired_before =>
            {
                Ok(session)
            }
            _ => Err(RegistryError::UploadUnknown(id.to_owned())),
        }
    }

    /// Removes upload sessions idle longer than the configured TTL. Returns how many.
    pub async fn expire_uploads(&self) -> Result<u64, RegistryError> {
        let cutoff = OffsetDateTime::now_utc() - self.config.upload_ttl;
        let mut expired = 0;
        for session in self.meta.idle_uploads(cutoff).await? {
            self.discard_upload(&session.id).await;
            expired += 1;
        }
        Ok(expired)
    }

    /// Bytes received so far by an upload.
    pub async fn upload_status(
        &self,
        repository: &RepoName,
        id: &str,
    ) -> Result<UploadState, RegistryError> {
        self.session(repository, id).await?;
        let offset = self
            .blobs
            .upload_size(id)
            .await?
            .ok_or_else(|| RegistryError::UploadUnknown(id.to_owned()))?;
        Ok(UploadState {
            id: id.to_owned(),
            offset,
        })
    }

    async fn running_hash(
        &self,
        id: &str,
        offset: u64,
        algorithm: Algorithm,
    ) -> Result<RunningHash, RegistryError> {
        match self.sessions.take_hash(id) {
            Some(hash) if hash.offset == offset && hash.hasher.algorithm() == algorithm => Ok(hash),
            _ => Ok(rehash(self.blobs.as_ref(), id, algorithm).await?),
        }
    }

    /// Appends a chunk. `start` is the first byte's offset from
    /// `Content-Range`, if the client sent one; it must equal the bytes
    /// received so far.
    pub async fn append_upload(
        &self,
        repository: &RepoName,
        id: &str,
        start: Option<u64>,
        body: ByteStream,
    ) -> Result<UploadState, RegistryError> {
        self.session(repository, id).await?;
        let lock = self.sessions.lock_for(id);
        let _guard = lock.lock().await;
        self.append_locked(id, start, body, Algorithm::Sha256).await
    }

    async fn append_locked(
        &self,
        id: &str,
        start: Option<u64>,
        body: ByteStream,
        algorithm: Algorithm,
    ) -> Result<UploadState, RegistryError> {
        let offset = self
            .blobs
            .upload_size(id)
            .await?
            .ok_or_else(|| RegistryError::UploadUnknown(id.to_owned()))?;
        if let Some(start) = start
            && start != offset
        {
            return Err(RegistryError::UploadOutOfOrder {
                id: id.to_owned(),
                offset,
                start,
            });
        }
        let hash = Arc::new(Mutex::new(self.running_hash(id, offset, algorithm).await?));
        let appended = self
            .blobs
            .upload_append(id, hashing(body, hash.clone()))
            .await;
        let hash = Arc::try_unwrap(hash)
            .map(|m| m.into_inner().expect("running hash poisoned"))
            .ok();
        let new_offset = match appended {
            // Another replica appended to this session meanwhile: the
            // client's chunk no longer starts where the upload ends.
            Err(StoreError::Conflict(_)) => {
                return Err(RegistryError::UploadOutOfOrder {
                    id: id.to_owned(),
                    offset,
                    start: start.unwrap_or(offset),
                });
            }
            other => other?,
        };
        if let Some(hash) = hash
            && hash.offset == new_offset
        {
            self.sessions.put_hash(id, hash);
        }
        self.meta.touch_upload(id).await?;
        Ok(UploadState {
            id: id.to_owned(),
            offset: new_offset,
        })
    }

    /// Closes an upload: appends the optional last chunk, verifies the
    /// digest, and makes the blob visible in `repository`. On a digest
    /// mismatch the upload is discarded and nothing is stored.
    pub async fn finish_upload(
        &self,
        repository: &RepoName,
        id: &str,
        digest: &Digest,
        last_chunk: Option<ByteStream>,
    ) -> Result<u64, RegistryError> {
        self.session(repository, id).await?;
        let lock = self.sessions.lock_for(id);
        let _guard = lock.lock().await;
        let state = match last_chunk {
            Some(body) => {
                self.append_locked(id, None, body, digest.algorithm())
                    .await?
            }
            None => UploadState {
                id: id.to_owned(),
                offset: self
                    .blobs
                    .upload_size(id)
                    .await?
                    .ok_or_else(|| RegistryError::UploadUnknown(id.to_owned()))?,
            },
        };
        let hash = self
            .running_hash(id, state.offset, digest.algorithm())
            .await?;
        let actual = hash.hasher.finish();
        if &actual != digest {
            self.discard_upload(id).await;
            return Err(RegistryError::DigestInvalid {
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        let blobs = self.blobs.clone();
        let commit_id = id.to_owned();
        let commit_digest = digest.clone();
        let size = self
            .meta
            .commit_blob(
                repository,
                digest,
                Box::pin(async move { blobs.upload_commit(&commit_id, &commit_digest).await }),
            )
            .await?;
        self.meta.delete_upload(id).await?;
        self.sessions.forget(id);
        Ok(size)
    }

    async fn discard_upload(&self, id: &str) {
        if let Err(e) = self.blobs.upload_delete(id).await {
            tracing::warn!(upload = id, error = %e, "could not delete discarded upload");
        }
        if let Err(e) = self.meta.delete_upload(id).await {
            tracing::warn!(upload = id, error = %e, "could not delete discarded upload session");
        }
        self.sessions.forget(id);
    }

    /// Cancels an upload.
    pub async fn cancel_upload(
        &self,
        repository: &RepoName,
        id: &str,
    ) -> Result<(), RegistryError> {
        self.session(repository, id).await?;
        let lock = self.sessions.lock_for(id);
        let _guard = lock.lock().await;
        self.discard_upload(id).await;
        Ok(())
    }

    /// A whole blob in one request (`POST ?digest=`).
    pub async fn put_blob(
        &self,
        repository: &RepoName,
        digest: &Digest,
        body: ByteStream,
    ) -> Result<u64, RegistryError> {
        let state = self.start_upload(repository).await?;
        let result = self
            .finish_upload(repository, &state.id, digest, Some(body))
            .await;
        if result.is_err() {
            self.discard_upload(&state.id).await;
        }
        result
    }

    // ----- manifests -----

    /// Stores a manifest under a tag or its digest.
    pub async fn put_manifest(
        &self,
        caller: &Caller,
        repository: &RepoName,
        reference: &Reference,
        content_type: Option<&str>,
        content: Vec<u8>,
    ) -> Result<ManifestPut, RegistryError> {
        if content.len() > self.config.max_manifest_bytes {
            return Err(RegistryError::ManifestTooLarge {
                limit: self.config.max_manifest_bytes,
            });
        }
        let algorithm = match reference {
            Reference::Digest(d) => d.algorithm(),
            Reference::Tag(_) => Algorithm::Sha256,
        };
        let mut hasher = Hasher::new(algorithm);
        hasher.update(&content);
        let digest = hasher.finish();
        if let Reference::Digest(expected) = reference
            && expected != &digest
        {
            return Err(RegistryError::DigestInvalid {
                expected: expected.to_string(),
                actual: digest.to_string(),
            });
        }
        let parsed = ParsedManifest::parse(&content, content_type)
            .map_err(|e| RegistryError::ManifestInvalid(e.to_string()))?;
        let annotations = (!parsed.annotations.is_empty())
            .then(|| serde_json::to_string(&parsed.annotations).unwrap_or_default());
        let manifest = NewManifest {
            digest: digest.clone(),
            media_type: parsed.media_type.clone(),
            subject: parsed.subject.as_ref().map(|s| s.digest.clone()),
            artifact_type: parsed.artifact_type.clone(),
            annotations,
            blobs: parsed
                .blobs()
                .filter(|d| !NON_DISTRIBUTABLE.contains(&d.media_type.as_str()))
                .map(|d| d.digest.clone())
                .collect(),
            children: parsed.manifests.iter().map(|d| d.digest.clone()).collect(),
            content,
        };
        let tag = match reference {
            Reference::Tag(tag) => Some(tag),
            Reference::Digest(_) => None,
        };
        let event = Self::manifest_event(
            caller,
            "manifest.push",
            repository,
            format!("{repository}@{digest}"),
        )
        .details(serde_json::json!({
            "tag": tag.map(|t| t.as_str()),
            "media_type": manifest.media_type,
            "size": manifest.content.len(),
        }));
        let stored = self
            .meta
            .put_manifest(repository, &manifest, tag, &event)
            .await
            .map_err(|e| match e {
                PutManifestError::BlobUnknown(d) | PutManifestError::ManifestUnknown(d) => {
                    RegistryError::ManifestBlobUnknown(d)
                }
                PutManifestError::Store(e) => RegistryError::Store(e),
            });
        if let Err(error) = stored {
            let failed = event.outcome(Outcome::Failure).reason(error.to_string());
            if let Err(e) = self.meta.append_audit(&[failed]).await {
                tracing::error!(error = %e, "could not audit a failed manifest push");
            }
            return Err(error);
        }
        if let Some(observer) = self.observer.get() {
            observer
                .manifest_pushed(PushedManifest {
                    repository: repository.clone(),
                    digest: digest.clone(),
                    media_type: manifest.media_type.clone(),
                    tag: tag.cloned(),
                    subject: manifest.subject.clone(),
                    pusher: caller.principal.as_ref().map(|p| p.name().to_owned()),
                })
                .await;
        }
        Ok(ManifestPut {
            digest,
            subject: manifest.subject,
        })
    }

    /// Looks a manifest up.
    pub async fn manifest(
        &self,
        repository: &RepoName,
        reference: &Reference,
    ) -> Result<ManifestRecord, RegistryError> {
        if let Some(found) = self.meta.manifest(repository, reference).await? {
            return Ok(found);
        }
        if self.meta.repository_exists(repository).await? {
            Err(RegistryError::ManifestUnknown(reference.to_string()))
        } else {
            Err(RegistryError::NameUnknown(repository.clone()))
        }
    }

    /// Records that `caller` pulled a manifest (a `GET`, not a `HEAD`).
    pub async fn record_pull(
        &self,
        caller: &Caller,
        repository: &RepoName,
        reference: &Reference,
        digest: &Digest,
    ) -> Result<(), RegistryError> {
        let event = Self::manifest_event(
            caller,
            "manifest.pull",
            repository,
            format!("{repository}@{digest}"),
        )
        .details(serde_json::json!({ "reference": reference.to_string() }));
        self.pull_auditor
            .get_or_init(|| PullAuditor::start(self.meta.clone()))
            .record(event)
            .await?;
        Ok(())
    }

    /// Deletes a manifest (by digest, with its tags) or a tag.
    pub async fn delete_manifest(
        &self,
        caller: &Caller,
        repository: &RepoName,
        reference: &Reference,
    ) -> Result<(), RegistryError> {
        let event = Self::manifest_event(
            caller,
            "manifest.delete",
            repository,
            format!("{repository}{}{reference}", reference_separator(reference)),
        );
        let removed = match reference {
            Reference::Digest(digest) => {
                self.meta
                    .delete_manifest(repository, digest, &event)
                    .await?
            }
            Reference::Tag(tag) => self.meta.delete_tag(repository, tag, &event).await?,
        };
        if removed {
            Ok(())
        } else {
            Err(RegistryError::ManifestUnknown(reference.to_string()))
        }
    }

    // ----- listings -----

    /// Tags of a repository, after `last`, at most `limit`.
    pub async fn tags(
        &self,
        repository: &RepoName,
        last: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<String>, RegistryError> {
        self.meta
            .tags(repository, last, limit)
            .await?
            .ok_or_else(|| RegistryError::NameUnknown(repository.clone()))
    }

    /// Names of the repositories `caller` may pull from, after `last`, at
    /// most `limit`.
    pub async fn catalog(
        &self,
        caller: &Caller,
        last: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<String>, RegistryError> {
        let Some(principal) = &caller.principal else {
            return Ok(Vec::new());
        };
        const PAGE: usize = 1000;
        let mut visible = Vec::new();
        let mut after = last.map(str::to_owned);
        loop {
            let page = self.meta.repositories(after.as_deref(), Some(PAGE)).await?;
            let full = page.len() == PAGE;
            after = page.last().cloned();
            visible.extend(page.into_iter().filter(|name| {
                ZonedRepo::parse(name).is_ok_and(|z| repo_allows(principal, RepoAction::Pull, &z))
            }));
            if !full || limit.is_some_and(|n| visible.len() >= n) {
                break;
            }
        }
        if let Some(n) = limit {
            visible.truncate(n);
        }
        Ok(visible)
    }

    /// Manifests in `repository` whose subject is `digest`, optionally only
    /// those of one artifact type.
    pub async fn referrers(
        &self,
        repository: &RepoName,
        digest: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>, RegistryError> {
        let mut referrers = self.meta.referrers(repository, digest).await?;
        if let Some(wanted) = artifact_type {
            referrers.retain(|r| r.artifact_type.as_deref() == Some(wanted));
        }
        Ok(referrers)
    }
}

fn reference_separator(reference: &Reference) -> &'static str {
    match reference {
        Reference::Digest(_) => "@",
        Reference::Tag(_) => ":",
    }
}
