//! Blob and report storage on object storage, through the `object_store`
//! crate: S3-compatible servers (AWS S3, MinIO, Ceph RGW, s3s, ...), and
//! behind features Google Cloud Storage (`gcp`, `GcsOptions`) and Azure
//! Blob Storage (`azure`, `AzureOptions`).
//!
//! The stores hold an `Arc<dyn ObjectStore>` and, to presign, an
//! `Arc<dyn Signer>`, and use only what every one of these backends
//! offers: create-only puts (`PutMode::Create`), `copy_if_not_exists`,
//! multipart uploads, delimited listing and URL signing. Each backend's
//! module says how it provides them; the names [`S3BlobStore`] and
//! [`S3ReportStore`] stay for the type that serves all three.
//!
//! Layout under `<prefix>/` in one bucket:
//!
//! | key | what |
//! |---|---|
//! | `blobs/<alg>/<first two hex>/<hex>` | committed blobs, written once |
//! | `uploads/<id>/.created` | marker: the upload exists (even while empty) |
//! | `uploads/<id>/<start offset, 20 digits>` | one chunk object per append |
//! | `uploads/<id>/tmp/<offset>-<uuid>` | a large append while it streams |
//! | `reports/...` | scan reports ([`S3ReportStore`]) |
//!
//! # Uploads any replica can continue
//!
//! Several registry replicas share one bucket, and a client's `PATCH`
//! requests for one upload may land on different replicas. So a staged
//! upload lives entirely in the bucket and no replica keeps state about it:
//!
//! * Each [`BlobStore::upload_append`] becomes its own *chunk object*, keyed
//!   by the offset it starts at (zero-padded, so keys sort by offset). The
//!   upload's size is the sum of its chunk objects' sizes, found by listing.
//! * A chunk object is created with a create-only write (`If-None-Match: *`,
//!   object_store's `PutMode::Create` / copy-if-not-exists), so two writers
//!   racing to append at the same offset cannot both win: the loser gets
//!   [`StoreError::Conflict`] and nothing of its data becomes part of the
//!   upload. This relies on the server evaluating the condition atomically,
//!   as AWS S3, MinIO and R2 do; s3s-fs 0.14.1 (the test server) checks and
//!   then writes, so two truly concurrent writers can both pass there.
//! * An append shorter than [`PART_SIZE`] is one conditional `PUT`. A longer
//!   one streams through a multipart upload (parts of [`PART_SIZE`], at most
//!   [`MAX_PARTS_IN_FLIGHT`] in flight) to a temporary key, which is then
//!   copied create-only to the chunk key (a server-side `UploadPartCopy` plus
//!   a conditional `CompleteMultipartUpload`; object_store does not expose a
//!   conditional completion of a client multipart upload). Memory per append
//!   is therefore bounded by a few parts, whatever the append's size.
//! * [`BlobStore::upload_read`] streams the chunk objects in offset order,
//!   fetching each one only when the previous one is exhausted.
//!
//! The registry hashes uploads as they stream. When a request for an
//! upload arrives at a replica that does not hold the running hash (another
//! replica took the previous chunk, or this one restarted), the registry
//! re-reads the staged upload with `upload_read` and re-hashes it. The hash
//! state is deliberately not persisted: SHA-256 midstates are not exposed by
//! the `sha2` crate in a stable, portable form, a persisted midstate would be
//! a second copy of the truth that can disagree with the chunks, and the
//! re-read only happens on a replica switch, which a sticky load balancer
//! makes rare.
//!
//! # Committing
//!
//! [`BlobStore::upload_commit`] writes the blob key only by a completed
//! single `PUT`, a server-side copy (one chunk) or a completed multipart
//! upload (several chunks, streamed in [`PART_SIZE`] parts): S3 makes an
//! object visible only when such a write completes, so a crash leaves nothing
//! under the digest. The chunk objects are deleted afterwards; a crash
//! between the two leaves a stale upload that garbage collection removes
//! through [`BlobStore::upload_list`].
//!
//! # Presigned reads
//!
//! With [`S3Options::presign_ttl`] set, [`BlobStore::presigned_read`]
//! returns a presigned `GET` URL for a committed blob; the registry answers a
//! whole-blob `GET` with `307 Temporary Redirect` to it, so layer bytes flow
//! from the bucket to the client without passing through a replica.
//!
//! # Credentials
//!
//! Credentials come from [`S3Options::access_key`] / [`S3Options::secret_key`]
//! when set, else from the standard AWS environment read by object_store
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, web
//! identity and instance metadata). `AWS_PROFILE` and `~/.aws/config`
//! profiles are **not** supported by object_store.
//!
//! # Other clouds
//!
//! | backend | opened with | create-only put and copy | tested here |
//! |---|---|---|---|
//! | S3 | [`S3BlobStore::open`] | `If-None-Match: *`; the copy is a conditional multipart completion (`S3CopyIfNotExists::Multipart`, set by [`S3Options`]) | s3s-fs (tests/s3.rs) |
//! | GCS | `S3BlobStore::open_gcs` | `x-goog-if-generation-match: 0`, no option needed | no: only configuration errors (tests/gcs.rs) |
//! | Azure | `S3BlobStore::open_azure` | `If-None-Match: *` on `Put Blob` and `Copy Blob`, no option needed | Azurite 3.35.0 (tests/azure.rs) |
//!
//! Multipart appends use GCS's XML multipart API and Azure's staged blocks;
//! [`PART_SIZE`] satisfies both. Presigned reads are V4 signed URLs on GCS
//! and service SAS URLs on Azure.
//!
//! # Limits
//!
//! S3 copies (`CopyObject`, `UploadPartCopy`) are limited to 5 GiB per
//! source object on AWS; a single append larger than that fails there (a
//! client that pushes in chunks is unaffected). A one-chunk commit whose copy
//! fails falls back to streaming the chunk into a multipart upload.

#[cfg(feature = "azure")]
mod azure;
#[cfg(feature = "gcp")]
mod gcs;
mod reports;

#[cfg(feature = "azure")]
pub use azure::AzureOptions;
#[cfg(feature = "gcp")]
pub use gcs::GcsOptions;
pub use reports::S3ReportStore;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use airlock_oci::Digest;
use airlock_store::{BlobStore, ByteStream, StoreError, StoredBlob};
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, S3CopyIfNotExists};
use object_store::path::Path;
use object_store::signer::Signer;
use object_store::{
    GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    RetryConfig, WriteMultipart,
};

/// Size of one multipart part (the S3 minimum for every part but the last),
/// and the most an append buffers before switching to a multipart upload.
pub const PART_SIZE: usize = 5 * 1024 * 1024;

/// How many parts of one multipart upload are sent concurrently; with the
/// part being filled, an append holds at most `MAX_PARTS_IN_FLIGHT + 1`
/// parts in memory.
pub const MAX_PARTS_IN_FLIGHT: usize = 2;

/// Width of the zero-padded start offset in chunk keys (`u64::MAX` has 20 digits).
const OFFSET_DIGITS: usize = 20;

/// The marker object that makes an (empty) upload exist.
const CREATED_MARKER: &str = ".created";

/// Where and how to reach the bucket. `Debug` shows whether a secret key
/// is set, never the key itself.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Options {
    /// The S3 endpoint URL (`http://127.0.0.1:9000`); `None` means AWS.
    pub endpoint: Option<String>,
    /// The region (`us-east-1`); S3-compatible servers mostly ignore it.
    pub region: String,
    /// The bucket, which must exist.
    pub bucket: String,
    /// Key prefix for everything this store writes (`""` for the bucket root).
    pub prefix: String,
    /// Path-style requests (`endpoint/bucket/key`) instead of virtual-hosted
    /// style (`bucket.endpoint/key`); most self-hosted servers need this.
    pub path_style: bool,
    /// Allows a plain `http://` endpoint.
    pub allow_http: bool,
    /// Lifetime of presigned blob URLs; `None` serves blobs through the registry.
    pub presign_ttl: Option<Duration>,
    /// Access key id; `None` reads `AWS_ACCESS_KEY_ID` and the rest of the
    /// standard AWS environment.
    pub access_key: Option<String>,
    /// Secret access key; `None` reads `AWS_SECRET_ACCESS_KEY`.
    pub secret_key: Option<String>,
    /// How often a failed request is retried (object_store's backoff).
    pub max_retries: usize,
}

impl fmt::Debug for S3Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Options")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("path_style", &self.path_style)
            .field("allow_http", &self.allow_http)
            .field("presign_ttl", &self.presign_ttl)
            .field("access_key", &self.access_key)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

impl S3Options {
    /// Options for `bucket` on AWS in `us-east-1`, at the bucket root,
    /// virtual-hosted style, https only, no presigning, credentials from the
    /// environment, three retries.
    pub fn new(bucket: impl Into<String>) -> S3Options {
        S3Options {
            endpoint: None,
            region: "us-east-1".into(),
            bucket: bucket.into(),
            prefix: String::new(),
            path_style: false,
            allow_http: false,
            presign_ttl: None,
            access_key: None,
            secret_key: None,
            max_retries: 3,
        }
    }

    /// `bucket "<name>" at <endpoint>`, for error messages.
    pub fn describe(&self) -> String {
        format!(
            "s3 bucket {:?} at {}",
            self.bucket,
            self.endpoint.as_deref().unwrap_or("AWS")
        )
    }

    /// Builds the object_store client: the AWS environment first, then
    /// these options on top.
    pub(crate) fn connect(&self) -> Result<Connection, StoreError> {
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&self.bucket)
            .with_region(&self.region)
            .with_virtual_hosted_style_request(!self.path_style)
            .with_allow_http(self.allow_http)
            .with_copy_if_not_exists(S3CopyIfNotExists::Multipart)
            .with_retry(RetryConfig {
                max_retries: self.max_retries,
                ..RetryConfig::default()
            });
        if let Some(endpoint) = &self.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(key) = &self.access_key {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &self.secret_key {
            builder = builder.with_secret_access_key(secret);
        }
        Connection::new(builder.build(), &self.prefix, self.describe())
    }

    /// The prefix as an object path (`None` for the bucket root).
    #[cfg(test)]
    fn prefix_path(&self) -> Result<Option<Path>, StoreError> {
        prefix_path(&self.prefix, &self.describe())
    }
}

/// A configured object_store client, whichever cloud it talks to: what the
/// blob and report stores are built from.
pub(crate) struct Connection {
    pub(crate) client: Arc<dyn ObjectStore>,
    /// Signs presigned URLs; the same client as `client`.
    pub(crate) signer: Arc<dyn Signer>,
    pub(crate) prefix: Option<Path>,
    /// The bucket or container for error messages (`s3 bucket "b" at AWS`).
    pub(crate) location: String,
}

impl Connection {
    /// Wraps a backend's built client (or its build error, which names
    /// `location`), with the key prefix under it.
    pub(crate) fn new<C: ObjectStore + Signer>(
        built: Result<C, object_store::Error>,
        prefix: &str,
        location: String,
    ) -> Result<Connection, StoreError> {
        let client =
            Arc::new(built.map_err(|e| StoreError::backend(format!("configure {location}"), e))?);
        Ok(Connection {
            client: client.clone(),
            signer: client,
            prefix: prefix_path(prefix, &location)?,
            location,
        })
    }
}

/// A key prefix as an object path (`None` for the bucket root); `location`
/// names the bucket in the error.
pub(crate) fn prefix_path(prefix: &str, location: &str) -> Result<Option<Path>, StoreError> {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(None);
    }
    Path::parse(trimmed)
        .map(Some)
        .map_err(|e| StoreError::backend(format!("use prefix {prefix:?} in {location}"), e))
}

/// Joins `parts` under an optional prefix.
pub(crate) fn child(prefix: Option<&Path>, parts: &[&str]) -> Path {
    let mut path = prefix.cloned().unwrap_or_default();
    for part in parts {
        path = path.clone().join(*part);
    }
    path
}

/// Fails with an error naming the bucket when it cannot be listed.
pub(crate) async fn probe(
    client: &dyn ObjectStore,
    prefix: Option<&Path>,
    where_: &str,
) -> Result<(), StoreError> {
    let mut listing = client.list(prefix);
    match listing.next().await {
        None | Some(Ok(_)) => Ok(()),
        Some(Err(e)) => Err(StoreError::backend(format!("list {where_}"), e)),
    }
}

/// A [`BlobStore`] in an S3 bucket. Holds no state about uploads: any
/// number of instances (replicas) may share one bucket and prefix.
#[derive(Clone)]
pub struct S3BlobStore {
    client: Arc<dyn ObjectStore>,
    prefix: Option<Path>,
    /// What signs presigned reads and how long they live; `None` serves
    /// blobs through the registry.
    presign: Option<(Arc<dyn Signer>, Duration)>,
    location: String,
}

impl fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3BlobStore")
            .field("location", &self.location)
            .field("prefix", &self.prefix)
            .field("presign_ttl", &self.presign.as_ref().map(|(_, ttl)| ttl))
            .finish()
    }
}

/// One chunk object of a staged upload.
#[derive(Debug, Clone)]
struct Chunk {
    start: u64,
    size: u64,
    path: Path,
}

/// What a listing of `uploads/<id>/` found.
#[derive(Debug, Default)]
struct UploadListing {
    exists: bool,
    chunks: Vec<Chunk>,
    others: Vec<Path>,
    /// "Directories" below the upload (the temporary keys of multipart
    /// appends), listed only when the upload is deleted.
    subdirs: Vec<Path>,
}

impl UploadListing {
    fn size(&self) -> u64 {
        self.chunks.iter().map(|c| c.size).sum()
    }
}

fn valid_upload_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn to_io(error: object_store::Error) -> std::io::Error {
    std::io::Error::other(error)
}

impl S3BlobStore {
    /// Connects to the bucket and checks it answers; the error names the
    /// bucket and endpoint.
    pub async fn open(options: &S3Options) -> Result<S3BlobStore, StoreError> {
        S3BlobStore::open_connection(options.connect()?, options.presign_ttl).await
    }

    /// Connects to a Google Cloud Storage bucket and checks it answers; the
    /// error names the bucket.
    #[cfg(feature = "gcp")]
    pub async fn open_gcs(options: &GcsOptions) -> Result<S3BlobStore, StoreError> {
        S3BlobStore::open_connection(options.connect()?, options.presign_ttl).await
    }

    /// Connects to an Azure Blob Storage container and checks it answers;
    /// the error names the account, container and endpoint.
    #[cfg(feature = "azure")]
    pub async fn open_azure(options: &AzureOptions) -> Result<S3BlobStore, StoreError> {
        S3BlobStore::open_connection(options.connect()?, options.presign_ttl).await
    }

    async fn open_connection(
        connection: Connection,
        presign_ttl: Option<Duration>,
    ) -> Result<S3BlobStore, StoreError> {
        let Connection {
            client,
            signer,
            prefix,
            location,
        } = connection;
        let location = match &prefix {
            Some(p) => format!("{location} (prefix {p})"),
            None => location,
        };
        probe(client.as_ref(), prefix.as_ref(), &location).await?;
        Ok(S3BlobStore {
            client,
            prefix,
            presign: presign_ttl.map(|ttl| (signer, ttl)),
            location,
        })
    }

    fn fail(&self, operation: impl fmt::Display) -> impl FnOnce(object_store::Error) -> StoreError {
        let operation = format!("{operation} in {}", self.location);
        move |e| match e {
            object_store::Error::NotFound { .. } => StoreError::NotFound(operation),
            other => StoreError::backend(operation, other),
        }
    }

    fn blob_path(&self, digest: &Digest) -> Path {
        let hex = digest.hex();
        child(
            self.prefix.as_ref(),
            &["blobs", digest.algorithm().as_str(), &hex[..2], hex],
        )
    }

    fn uploads_root(&self) -> Path {
        child(self.prefix.as_ref(), &["uploads"])
    }

    fn upload_dir(&self, id: &str) -> Result<Path, StoreError> {
        if !valid_upload_id(id) {
            return Err(StoreError::NotFound(format!("upload {id:?}")));
        }
        Ok(child(self.prefix.as_ref(), &["uploads", id]))
    }

    fn chunk_path(dir: &Path, start: u64) -> Path {
        dir.clone()
            .join(format!("{start:0width$}", width = OFFSET_DIGITS))
    }

    /// Lists the objects of one upload, chunks sorted by offset. One level
    /// only (a delimited listing): servers that answer a prefix listing by
    /// walking the bucket (s3s-fs does) stay cheap, and the temporary keys
    /// below are only wanted when the upload is deleted.
    async fn list_upload(&self, id: &str, dir: &Path) -> Result<UploadListing, StoreError> {
        let result = self
            .client
            .list_with_delimiter(Some(dir))
            .await
            .map_err(self.fail(format!("list upload {id}")))?;
        let mut listing = UploadListing {
            subdirs: result.common_prefixes,
            ..UploadListing::default()
        };
        for object in result.objects {
            let name = object.location.filename().unwrap_or_default();
            let relative_depth = object.location.parts().count() - dir.parts().count();
            if relative_depth == 1 && name == CREATED_MARKER {
                listing.exists = true;
                listing.others.push(object.location);
            } else if relative_depth == 1
                && name.len() == OFFSET_DIGITS
                && let Ok(start) = name.parse::<u64>()
            {
                listing.chunks.push(Chunk {
                    start,
                    size: object.size,
                    path: object.location,
                });
            } else {
                listing.others.push(object.location);
            }
        }
        listing.chunks.sort_by_key(|c| c.start);
        Ok(listing)
    }

    /// Lists an upload and checks it exists and its chunks are contiguous.
    async fn existing_upload(&self, id: &str) -> Result<(Path, UploadListing), StoreError> {
        let dir = self.upload_dir(id)?;
        let listing = self.list_upload(id, &dir).await?;
        if !listing.exists {
            return Err(StoreError::NotFound(format!("upload {id}")));
        }
        let mut expected = 0;
        for chunk in &listing.chunks {
            if chunk.start != expected {
                return Err(StoreError::Conflict(format!(
                    "upload {id} has a chunk at offset {} where {expected} was expected",
                    chunk.start
                )));
            }
            expected += chunk.size;
        }
        Ok((dir, listing))
    }

    /// Appends `data` to upload `id` as the chunk object starting at
    /// `start`, which must be the upload's current size. Returns the new
    /// size. `Conflict` when another writer already wrote a chunk at
    /// `start`; an empty `data` writes nothing.
    ///
    /// [`BlobStore::upload_append`] calls this with the listed size; it is
    /// public so the race between two writers at one offset can be tested
    /// deterministically.
    pub async fn upload_append_at(
        &self,
        id: &str,
        start: u64,
        mut data: ByteStream,
    ) -> Result<u64, StoreError> {
        let dir = self.upload_dir(id)?;
        let target = Self::chunk_path(&dir, start);
        let conflict = || {
            StoreError::Conflict(format!(
                "upload {id}: another writer appended at offset {start} first"
            ))
        };

        // Buffer up to one part: most appends end here with one conditional PUT.
        let mut head = BytesMut::new();
        let mut first_overflow: Option<Bytes> = None;
        while let Some(piece) = data.next().await {
            let piece =
                piece.map_err(|e| StoreError::backend(format!("receive upload {id}"), e))?;
            if head.len() + piece.len() > PART_SIZE {
                first_overflow = Some(piece);
                break;
            }
            head.extend_from_slice(&piece);
        }
        let Some(overflow) = first_overflow else {
            if head.is_empty() {
                return Ok(start);
            }
            let size = head.len() as u64;
            let options = PutOptions {
                mode: PutMode::Create,
                ..PutOptions::default()
            };
            return match self
                .client
                .put_opts(&target, PutPayload::from(head.freeze()), options)
                .await
            {
                Ok(_) => Ok(start + size),
                Err(object_store::Error::AlreadyExists { .. }) => Err(conflict()),
                Err(e) => Err(self.fail(format!("write upload {id} at offset {start}"))(e)),
            };
        };

        // A long append: stream it through a multipart upload to a temporary
        // key, then copy that create-only to the chunk key.
        let temp = dir
            .clone()
            .join("tmp")
            .join(format!("{start}-{}", uuid::Uuid::new_v4()));
        let upload = self
            .client
            .put_multipart(&temp)
            .await
            .map_err(self.fail(format!("start writing upload {id} at offset {start}")))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut size = head.len() as u64 + overflow.len() as u64;
        writer.put(head.freeze());
        writer.put(overflow);
        let streamed: Result<(), StoreError> = async {
            while let Some(piece) = data.next().await {
                let piece =
                    piece.map_err(|e| StoreError::backend(format!("receive upload {id}"), e))?;
                writer
                    .wait_for_capacity(MAX_PARTS_IN_FLIGHT)
                    .await
                    .map_err(self.fail(format!("write upload {id} at offset {start}")))?;
                size += piece.len() as u64;
                writer.put(piece);
            }
            Ok(())
        }
        .await;
        if let Err(e) = streamed {
            let _ = writer.abort().await;
            return Err(e);
        }
        writer
            .finish()
            .await
            .map_err(self.fail(format!("finish writing upload {id} at offset {start}")))?;
        let copied = self.client.copy_if_not_exists(&temp, &target).await;
        let _ = self.client.delete(&temp).await;
        match copied {
            Ok(()) => Ok(start + size),
            // Azure answers a failed create-only copy with `412`, which
            // object_store reports as `Precondition`, not `AlreadyExists`.
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Err(conflict()),
            Err(e) => Err(self
                .fail(format!("place upload {id} chunk at offset {start}"))(
                e
            )),
        }
    }

    /// Streams the chunk objects one after another, each fetched only when
    /// the previous one is exhausted.
    fn stream_chunks(&self, id: &str, chunks: Vec<Chunk>) -> ByteStream {
        let client = Arc::clone(&self.client);
        let location = format!("upload {id} in {}", self.location);
        let stream = futures::stream::iter(chunks)
            .then(move |chunk| {
                let client = Arc::clone(&client);
                let location = location.clone();
                async move {
                    client
                        .get(&chunk.path)
                        .await
                        .map(|result| result.into_stream().map_err(to_io))
                        .map_err(|e| {
                            std::io::Error::other(format!(
                                "read chunk at offset {} of {location}: {e}",
                                chunk.start
                            ))
                        })
                }
            })
            .try_flatten();
        Box::pin(stream)
    }

    /// Streams several chunks into one multipart upload at `target`.
    async fn write_multipart(
        &self,
        id: &str,
        target: &Path,
        chunks: Vec<Chunk>,
    ) -> Result<(), StoreError> {
        let upload = self
            .client
            .put_multipart(target)
            .await
            .map_err(self.fail(format!("start committing upload {id}")))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut source = self.stream_chunks(id, chunks);
        let streamed: Result<(), StoreError> = async {
            while let Some(piece) = source.next().await {
                let piece =
                    piece.map_err(|e| StoreError::backend(format!("commit upload {id}"), e))?;
                writer
                    .wait_for_capacity(MAX_PARTS_IN_FLIGHT)
                    .await
                    .map_err(self.fail(format!("commit upload {id}")))?;
                writer.put(piece);
            }
            Ok(())
        }
        .await;
        if let Err(e) = streamed {
            let _ = writer.abort().await;
            return Err(e);
        }
        writer
            .finish()
            .await
            .map_err(self.fail(format!("complete commit of upload {id}")))?;
        Ok(())
    }

    /// Deletes every object of one upload, its marker first so it stops
    /// existing even if the rest fails.
    async fn delete_upload_objects(
        &self,
        id: &str,
        listing: UploadListing,
    ) -> Result<(), StoreError> {
        let (markers, temporaries): (Vec<Path>, Vec<Path>) = listing
            .others
            .into_iter()
            .partition(|p| p.filename() == Some(CREATED_MARKER));
        let mut below = Vec::new();
        for subdir in &listing.subdirs {
            let objects: Vec<ObjectMeta> = self
                .client
                .list(Some(subdir))
                .try_collect()
                .await
                .map_err(self.fail(format!("list upload {id} temporaries")))?;
            below.extend(objects.into_iter().map(|o| o.location));
        }
        let paths = markers
            .into_iter()
            .chain(listing.chunks.into_iter().map(|c| c.path))
            .chain(temporaries)
            .chain(below);
        for path in paths {
            match self.client.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.fail(format!("delete upload {id} object {path}"))(e)),
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl BlobStore for S3BlobStore {
    async fn stat(&self, digest: &Digest) -> Result<Option<u64>, StoreError> {
        match self.client.head(&self.blob_path(digest)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.fail(format!("stat blob {digest}"))(e)),
        }
    }

    async fn read(
        &self,
        digest: &Digest,
        range: Option<(u64, u64)>,
    ) -> Result<ByteStream, StoreError> {
        let options = GetOptions {
            range: range.map(|(start, end)| GetRange::Bounded(start..end.saturating_add(1))),
            ..GetOptions::default()
        };
        let result = self
            .client
            .get_opts(&self.blob_path(digest), options)
            .await
            .map_err(self.fail(format!("blob {digest}")))?;
        Ok(Box::pin(result.into_stream().map_err(to_io)))
    }

    async fn presigned_read(&self, digest: &Digest) -> Result<Option<String>, StoreError> {
        let Some((signer, ttl)) = &self.presign else {
            return Ok(None);
        };
        let url = signer
            .signed_url(
                object_store::signer::Method::GET,
                &self.blob_path(digest),
                *ttl,
            )
            .await
            .map_err(self.fail(format!("presign blob {digest}")))?;
        Ok(Some(url.to_string()))
    }

    async fn delete(&self, digest: &Digest) -> Result<(), StoreError> {
        match self.client.delete(&self.blob_path(digest)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.fail(format!("delete blob {digest}"))(e)),
        }
    }

    async fn list(&self) -> Result<Vec<StoredBlob>, StoreError> {
        let root = child(self.prefix.as_ref(), &["blobs"]);
        let objects: Vec<ObjectMeta> = self
            .client
            .list(Some(&root))
            .try_collect()
            .await
            .map_err(self.fail("list blobs"))?;
        let mut out = Vec::new();
        for object in objects {
            let parts: Vec<String> = object
                .location
                .prefix_match(&root)
                .map(|rest| rest.map(|p| p.as_ref().to_owned()).collect())
                .unwrap_or_default();
            let [algorithm, _, hex] = parts.as_slice() else {
                continue;
            };
            let Ok(digest) = format!("{algorithm}:{hex}").parse::<Digest>() else {
                continue;
            };
            out.push(StoredBlob {
                digest,
                size: object.size,
                modified: SystemTime::from(object.last_modified),
            });
        }
        out.sort_by(|a, b| a.digest.cmp(&b.digest));
        Ok(out)
    }

    async fn upload_create(&self, id: &str) -> Result<(), StoreError> {
        let dir = self.upload_dir(id)?;
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .client
            .put_opts(&dir.join(CREATED_MARKER), PutPayload::new(), options)
            .await
        {
            Ok(_) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. }) => {
                Err(StoreError::Conflict(format!("upload {id} exists already")))
            }
            Err(e) => Err(self.fail(format!("create upload {id}"))(e)),
        }
    }

    async fn upload_append(&self, id: &str, data: ByteStream) -> Result<u64, StoreError> {
        let (_, listing) = self.existing_upload(id).await?;
        self.upload_append_at(id, listing.size(), data).await
    }

    async fn upload_size(&self, id: &str) -> Result<Option<u64>, StoreError> {
        let Ok(dir) = self.upload_dir(id) else {
            return Ok(None);
        };
        let listing = self.list_upload(id, &dir).await?;
        Ok(listing.exists.then(|| listing.size()))
    }

    async fn upload_read(&self, id: &str) -> Result<ByteStream, StoreError> {
        let (_, listing) = self.existing_upload(id).await?;
        Ok(self.stream_chunks(id, listing.chunks))
    }

    async fn upload_commit(&self, id: &str, digest: &Digest) -> Result<u64, StoreError> {
        let (_, listing) = self.existing_upload(id).await?;
        let size = listing.size();
        let target = self.blob_path(digest);
        if self.stat(digest).await?.is_none() {
            match listing.chunks.as_slice() {
                [] => {
                    self.client
                        .put(&target, PutPayload::new())
                        .await
                        .map_err(self.fail(format!("commit upload {id} as {digest}")))?;
                }
                [only] => {
                    if self.client.copy(&only.path, &target).await.is_err() {
                        self.write_multipart(id, &target, listing.chunks.clone())
                            .await?;
                    }
                }
                _ => {
                    self.write_multipart(id, &target, listing.chunks.clone())
                        .await?
                }
            }
        }
        self.delete_upload_objects(id, listing).await?;
        Ok(size)
    }

    async fn upload_delete(&self, id: &str) -> Result<(), StoreError> {
        let Ok(dir) = self.upload_dir(id) else {
            return Ok(());
        };
        let listing = self.list_upload(id, &dir).await?;
        self.delete_upload_objects(id, listing).await
    }

    async fn upload_list(&self) -> Result<Vec<(String, SystemTime)>, StoreError> {
        let root = self.uploads_root();
        let objects: Vec<ObjectMeta> = self
            .client
            .list(Some(&root))
            .try_collect()
            .await
            .map_err(self.fail("list uploads"))?;
        let mut newest: std::collections::BTreeMap<String, SystemTime> = Default::default();
        for object in objects {
            let Some(id) = object
                .location
                .prefix_match(&root)
                .and_then(|mut rest| rest.next())
                .map(|p| p.as_ref().to_owned())
            else {
                continue;
            };
            let modified = SystemTime::from(object.last_modified);
            let entry = newest.entry(id).or_insert(modified);
            if modified > *entry {
                *entry = modified;
            }
        }
        Ok(newest.into_iter().collect())
    }

    /// One create-only `PUT` of the whole blob: S3 makes it visible only
    /// complete, and an existing blob is left as it is.
    async fn put(&self, digest: &Digest, content: Bytes) -> Result<u64, StoreError> {
        let size = content.len() as u64;
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .client
            .put_opts(&self.blob_path(digest), content.into(), options)
            .await
        {
            // Servers answer a create-only put of an existing key with 409
            // or 412 (object_store's `AlreadyExists` and `Precondition`).
            Ok(_)
            | Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(size),
            Err(e) => Err(self.fail(format!("put blob {digest}"))(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_secret_key() {
        let mut options = S3Options::new("bucket");
        options.secret_key = Some("very-secret".into());
        let shown = format!("{options:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn upload_ids_cannot_escape_their_directory() {
        for bad in ["", "../x", "a/b", "a.b", "."] {
            assert!(!valid_upload_id(bad), "{bad:?}");
        }
        assert!(valid_upload_id("0190-abc-DEF"));
    }

    #[test]
    fn chunk_keys_sort_by_offset() {
        let dir = Path::from("uploads/u");
        let small = S3BlobStore::chunk_path(&dir, 9).to_string();
        let large = S3BlobStore::chunk_path(&dir, 10).to_string();
        assert!(small < large, "{small} < {large}");
        assert_eq!(large, "uploads/u/00000000000000000010");
        assert_eq!(
            S3BlobStore::chunk_path(&dir, u64::MAX)
                .filename()
                .map(str::len),
            Some(OFFSET_DIGITS)
        );
    }

    #[test]
    fn prefixes_are_trimmed_and_validated() {
        let mut options = S3Options::new("b");
        assert_eq!(options.prefix_path().unwrap(), None);
        options.prefix = "/airlock/prod/".into();
        assert_eq!(
            options.prefix_path().unwrap(),
            Some(Path::from("airlock/prod"))
        );
    }
}
