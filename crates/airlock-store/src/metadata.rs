//! The metadata-store port: the single source of truth for registry state.

use airlock_audit::AuditEvent;
use airlock_oci::{Digest, Reference, RepoName, Tag};
use futures::future::BoxFuture;
use time::OffsetDateTime;

use crate::StoreError;

/// A manifest about to be stored, with what the registry extracted from it.
#[derive(Debug, Clone)]
pub struct NewManifest {
    /// Digest of `content`.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// The exact bytes pushed.
    pub content: Vec<u8>,
    /// The `subject` digest, for the referrers API.
    pub subject: Option<Digest>,
    /// The artifact type, for referrers filtering.
    pub artifact_type: Option<String>,
    /// Top-level annotations as a JSON object, for referrers responses.
    pub annotations: Option<String>,
    /// Blobs (config and layers) that must be visible in the repository.
    pub blobs: Vec<Digest>,
    /// Child manifests that must exist in the repository.
    pub children: Vec<Digest>,
}

/// A stored manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRecord {
    /// Its digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// The exact bytes pushed.
    pub content: Vec<u8>,
}

/// A manifest that refers to a subject, as the referrers API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    /// The referrer's digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Its size.
    pub size: u64,
    /// Its artifact type.
    pub artifact_type: Option<String>,
    /// Its annotations as a JSON object.
    pub annotations: Option<String>,
}

/// An open blob upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSession {
    /// Session id (also the staged upload's id in the blob store).
    pub id: String,
    /// Repository the upload belongs to.
    pub repository: RepoName,
    /// When it was opened.
    pub created_at: OffsetDateTime,
    /// When data was last written to it.
    pub updated_at: OffsetDateTime,
}

/// A blob that no manifest references, with its newest repository link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcCandidate {
    /// The blob.
    pub digest: Digest,
    /// When it was last linked into any repository.
    pub newest_link: Option<OffsetDateTime>,
}

/// What a blob link row knows about a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobRef {
    /// Size in bytes.
    pub size: u64,
}

/// Why a manifest could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum PutManifestError {
    /// A referenced blob is not visible in the repository.
    #[error("blob {0} is not known in this repository")]
    BlobUnknown(Digest),
    /// A referenced child manifest is not in the repository.
    #[error("manifest {0} is not known in this repository")]
    ManifestUnknown(Digest),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Registry metadata: repositories, manifests, tags, blob links, referrers
/// and upload sessions.
///
/// Contract:
/// * Every method is atomic: it either happens whole or not at all.
/// * A repository exists once something was linked or pushed into it.
/// * Blob visibility is per repository (a link), as in the distribution
///   registry: a blob is readable through a repository only if it was pushed
///   or mounted there.
/// * [`MetadataStore::commit_blob`] and [`MetadataStore::sweep_blob`] exclude
///   each other (across processes), so garbage collection can run while the
///   server accepts pushes.
#[async_trait::async_trait]
pub trait MetadataStore: Send + Sync + std::fmt::Debug {
    /// Checks the store answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Runs `publish` (which moves a verified blob into place and returns its
    /// size) under the blob lock, then links the blob into `repository`.
    async fn commit_blob(
        &self,
        repository: &RepoName,
        digest: &Digest,
        publish: BoxFuture<'_, Result<u64, StoreError>>,
    ) -> Result<u64, StoreError>;

    /// Links an already stored blob into `repository` (cross-repository mount).
    async fn link_blob(
        &self,
        repository: &RepoName,
        digest: &Digest,
        size: u64,
    ) -> Result<(), StoreError>;

    /// The blob's link in `repository`, if it is visible there.
    async fn blob(
        &self,
        repository: &RepoName,
        digest: &Digest,
    ) -> Result<Option<BlobRef>, StoreError>;

    /// Removes a blob's link from `repository`. Returns whether it existed.
    async fn unlink_blob(&self, repository: &RepoName, digest: &Digest)
    -> Result<bool, StoreError>;

    /// Stores a manifest in `repository` and, if given, points `tag` at it,
    /// after checking that every referenced blob and child manifest is
    /// visible there, all in one transaction that also appends `audit`.
    async fn put_manifest(
        &self,
        repository: &RepoName,
        manifest: &NewManifest,
        tag: Option<&Tag>,
        audit: &AuditEvent,
    ) -> Result<(), PutManifestError>;

    /// Looks a manifest up by tag or digest in `repository`.
    async fn manifest(
        &self,
        repository: &RepoName,
        reference: &Reference,
    ) -> Result<Option<ManifestRecord>, StoreError>;

    /// Removes a manifest from `repository`, with every tag pointing at it.
    /// Returns whether it was there; `audit` is appended only if it was.
    async fn delete_manifest(
        &self,
        repository: &RepoName,
        digest: &Digest,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;

    /// Removes one tag. Returns whether it existed; `audit` is appended only
    /// if it did.
    async fn delete_tag(
        &self,
        repository: &RepoName,
        tag: &Tag,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;

    /// Tags of `repository` in lexical order, after `last`, at most `limit`.
    /// `None` if the repository is unknown.
    async fn tags(
        &self,
        repository: &RepoName,
        last: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Option<Vec<String>>, StoreError>;

    /// Repository names in lexical order, after `last`, at most `limit`.
    async fn repositories(
        &self,
        last: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<String>, StoreError>;

    /// Whether `repository` exists.
    async fn repository_exists(&self, repository: &RepoName) -> Result<bool, StoreError>;

    /// Manifests in `repository` whose `subject` is `digest`, ordered by digest.
    async fn referrers(
        &self,
        repository: &RepoName,
        digest: &Digest,
    ) -> Result<Vec<Referrer>, StoreError>;

    /// Records a new upload session.
    async fn create_upload(&self, session: &UploadSession) -> Result<(), StoreError>;

    /// Looks an upload session up.
    async fn upload(&self, id: &str) -> Result<Option<UploadSession>, StoreError>;

    /// Marks an upload session as written to now.
    async fn touch_upload(&self, id: &str) -> Result<(), StoreError>;

    /// Removes an upload session. Returns whether it existed.
    async fn delete_upload(&self, id: &str) -> Result<bool, StoreError>;

    /// Upload sessions not written to since `cutoff`.
    async fn idle_uploads(&self, cutoff: OffsetDateTime) -> Result<Vec<UploadSession>, StoreError>;

    /// Deletes manifests that are in no repository (with `dry_run`, only
    /// counts them). Returns how many.
    async fn delete_orphan_manifests(&self, dry_run: bool) -> Result<u64, StoreError>;

    /// Linked blobs that no manifest still in a repository references.
    async fn unreferenced_blobs(&self) -> Result<Vec<GcCandidate>, StoreError>;

    /// Under the blob lock: if `digest` is still referenced by no manifest and
    /// linked nowhere since `cutoff`, runs `remove` (which deletes the
    /// content) and drops every link. Returns whether it was removed.
    async fn sweep_blob(
        &self,
        digest: &Digest,
        cutoff: OffsetDateTime,
        remove: BoxFuture<'_, Result<(), StoreError>>,
    ) -> Result<bool, StoreError>;

    /// Whether any manifest or repository link still refers to `digest`.
    async fn blob_in_use(&self, digest: &Digest) -> Result<bool, StoreError>;
}
