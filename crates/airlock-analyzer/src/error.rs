//! Errors of the layer walk (fatal for the scan) and of one analyzer on one
//! file (turned into warnings by the walker).

/// Why a layer could not be walked. Each limit is named in its message so an
/// operator knows which knob to turn.
#[derive(thiserror::Error, Debug)]
pub enum WalkError {
    /// The media type is not a known layer media type.
    #[error("layer {digest} has unsupported media type {media_type:?}")]
    UnsupportedMediaType { digest: String, media_type: String },
    /// The media type declares one compression and the bytes are another.
    #[error("layer {digest} declares {declared} compression but its bytes are {found}")]
    CompressionMismatch {
        digest: String,
        declared: String,
        found: String,
    },
    /// `max_layer_bytes` exceeded.
    #[error(
        "layer {digest} exceeds the decompressed-size limit of {limit} bytes (max_layer_bytes)"
    )]
    LayerTooLarge { digest: String, limit: u64 },
    /// `max_image_bytes` exceeded.
    #[error(
        "image exceeds the decompressed-size limit of {limit} bytes while reading layer {digest} (max_image_bytes)"
    )]
    ImageTooLarge { digest: String, limit: u64 },
    /// `max_entries` exceeded.
    #[error("layer {digest} has more than {limit} tar entries (max_entries)")]
    TooManyEntries { digest: String, limit: u64 },
    /// `max_file_bytes` exceeded by a file an analyzer wanted.
    #[error("file {path} in layer {digest} is {size} bytes, larger than max_file_bytes ({limit})")]
    FileTooLarge {
        digest: String,
        path: String,
        size: u64,
        limit: u64,
    },
    /// The deadline passed.
    #[error("scan deadline exceeded while reading layer {digest} (deadline)")]
    DeadlineExceeded { digest: String },
    /// The stream ended early.
    #[error("layer {digest} is truncated: {detail}")]
    Truncated { digest: String, detail: String },
    /// The compressed stream is corrupt.
    #[error("layer {digest} has a corrupt {compression} stream: {detail}")]
    CorruptCompression {
        digest: String,
        compression: String,
        detail: String,
    },
    /// A tar header could not be parsed.
    #[error("layer {digest} has a malformed tar archive: {detail}")]
    MalformedTar { digest: String, detail: String },
    /// The underlying reader failed.
    #[error("reading layer {digest} failed")]
    Io {
        digest: String,
        #[source]
        source: std::io::Error,
    },
}

/// Why an analyzer could not parse a file. The walker records it as a
/// warning naming the analyzer and the path.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum AnalyzeError {
    /// The file does not have the expected format.
    #[error("malformed {format}: {reason}")]
    Malformed {
        /// What the file was supposed to be, e.g. `dpkg status`.
        format: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl AnalyzeError {
    /// Shorthand for [`AnalyzeError::Malformed`].
    pub fn malformed(format: &'static str, reason: impl Into<String>) -> Self {
        AnalyzeError::Malformed {
            format,
            reason: reason.into(),
        }
    }
}
