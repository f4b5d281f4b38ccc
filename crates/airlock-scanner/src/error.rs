//! The scanner's errors: one enum for reading images, one for the layer
//! cache, and [`ScanError`] for the whole scan. Messages say what failed on
//! what, so the CLI can print the chain as one line.

use std::path::PathBuf;

/// Boxed foreign error, so HTTP client types never appear in the API.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an image could not be found, fetched or understood.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The scan target string could not be parsed.
    #[error("invalid scan target {target:?}: {reason}")]
    InvalidTarget {
        /// What the user gave.
        target: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `--platform` value could not be parsed.
    #[error("invalid platform {platform:?}: expected os/arch[/variant]")]
    InvalidPlatform {
        /// What the user gave.
        platform: String,
    },
    /// A digest string is malformed or uses an unsupported algorithm.
    #[error("invalid digest {digest:?}")]
    InvalidDigest {
        /// The offending string.
        digest: String,
    },
    /// A blob's bytes do not hash to its digest.
    #[error("digest mismatch: expected {expected}, content hashes to {actual}")]
    DigestMismatch {
        /// The digest the blob was addressed by.
        expected: String,
        /// What its bytes hash to.
        actual: String,
    },
    /// A blob's length differs from its descriptor.
    #[error("size mismatch for blob {digest}: expected {expected} bytes, read {actual}")]
    SizeMismatch {
        /// The blob.
        digest: String,
        /// Size from the descriptor.
        expected: u64,
        /// Bytes read so far.
        actual: u64,
    },
    /// A file could not be opened.
    #[error("opening {path} failed")]
    Open {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Reading something failed.
    #[error("reading {what} failed")]
    Read {
        /// What was being read.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON document (index, manifest, config) did not parse.
    #[error("parsing {what} failed")]
    Parse {
        /// The document.
        what: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A document parsed but makes no sense.
    #[error("{what} is malformed: {reason}")]
    Malformed {
        /// The document.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// A manifest has a media type airlock does not scan.
    #[error("{what} has unsupported media type {media_type:?}")]
    UnsupportedMediaType {
        /// The manifest.
        what: String,
        /// Its media type.
        media_type: String,
    },
    /// A small document is larger than airlock is willing to buffer.
    #[error("{what} is larger than {limit} bytes")]
    TooLarge {
        /// The document.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// No image carries the requested tag.
    #[error("no image tagged {tag:?} in {location} (tags: {available})")]
    TagNotFound {
        /// Layout or archive.
        location: String,
        /// The tag asked for.
        tag: String,
        /// The tags present.
        available: String,
    },
    /// Several images and no tag to choose.
    #[error("{location} holds {count} images: name one with :TAG (tags: {available})")]
    AmbiguousImage {
        /// Layout or archive.
        location: String,
        /// How many images.
        count: usize,
        /// The tags present.
        available: String,
    },
    /// No manifest for the requested platform.
    #[error("no image for platform {platform} in {reference} (platforms: {available})")]
    PlatformNotFound {
        /// The platform asked for.
        platform: String,
        /// The image.
        reference: String,
        /// The platforms present.
        available: String,
    },
    /// A blob named by a manifest is absent.
    #[error("blob {digest} not found in {location}")]
    BlobNotFound {
        /// The blob.
        digest: String,
        /// Where it was looked for.
        location: String,
    },
    /// An HTTP request could not be made or its body not read.
    #[error("request to {url} failed")]
    Http {
        /// The URL.
        url: String,
        /// The client error.
        #[source]
        source: BoxError,
    },
    /// The registry answered with an error status.
    #[error("{method} {url} answered HTTP {status}{detail}")]
    HttpStatus {
        /// GET or HEAD.
        method: &'static str,
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// `: <registry error message>` when the body had one.
        detail: String,
    },
    /// Authentication with the registry failed.
    #[error("authenticating to {registry} failed: {reason}")]
    Auth {
        /// The registry host.
        registry: String,
        /// What went wrong.
        reason: String,
    },
    /// Credentials could not be read.
    #[error("reading registry credentials from {path} failed: {reason}")]
    Credentials {
        /// The config file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// Why the per-layer cache could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The cache directory could not be created.
    #[error("creating layer cache directory {dir} failed")]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An entry could not be written.
    #[error("writing layer cache entry {path} failed")]
    Write {
        /// The entry file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An analysis could not be serialised.
    #[error("serialising the analysis of layer {digest} failed")]
    Serialize {
        /// The layer.
        digest: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// No cache directory was given and none could be derived from the environment.
    #[error(
        "no layer cache directory: set XDG_CACHE_HOME or HOME, pass --cache-dir, or use --no-cache"
    )]
    NoDefaultDir,
}

/// Why a scan failed.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The image could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A layer could not be fetched or failed verification.
    #[error("reading layer {digest} failed")]
    Layer {
        /// The layer.
        digest: String,
        /// Why.
        #[source]
        source: SourceError,
    },
    /// The walk or a limit stopped a layer (the message names the limit).
    #[error(transparent)]
    Walk(#[from] airlock_analyzer::WalkError),
    /// The layer cache failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
}
