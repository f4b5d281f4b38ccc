//! The first half of the scanner: from layer streams to a package inventory.
//!
//! This crate is pure and synchronous. It never touches the network or the
//! disk: a layer arrives as a [`std::io::Read`] of the blob, is decompressed and
//! walked exactly once ([`analyze_layer`]), and the files that analyzers ask for
//! are read into memory (bounded by [`Limits::max_file_bytes`]) and parsed.
//! The result of one layer, a [`LayerAnalysis`], depends only on the layer
//! bytes and on the analyzers' versions, which is why it can be cached per
//! layer under a key that includes [`analyzers_fingerprint`].
//!
//! [`merge_layers`] then applies the layers in order (later files replace
//! earlier ones, whiteouts and opaque directories delete) and produces the
//! image's OS and its sorted package list.
//!
//! Design decisions:
//! - **Analyzers are one per file** under [`analyzers`], behind the
//!   [`analyzers::Analyzer`] trait, listed in [`analyzers::ALL`]. Adding an
//!   ecosystem is one new file and one table row.
//! - **OS packages get their ecosystem at merge time.** `etc/os-release` may
//!   live in a different layer than the package database, so dpkg, apk and rpm
//!   emit packages whose ecosystem is a placeholder
//!   (`os:<family implied by the database>`, see [`OS_ECOSYSTEM_PREFIX`]).
//!   [`merge_layers`] replaces it with the detected OS's osv.dev ecosystem
//!   (e.g. `Debian:12`) and completes the purl (namespace, `distro=`); with no
//!   OS detected the implied family (`Debian`, `Alpine`, `Red Hat`) is used.
//! - **Hostile layers fail their own scan, precisely.** Every limit has its
//!   own [`WalkError`] variant whose message names the limit; corrupt
//!   compression, truncation and malformed tar headers are distinct errors.
//!   Per-file parse failures are warnings, never panics.
//! - **Links never leave the image.** Paths are normalised (`./`, `/`
//!   stripped, `..` that would escape the root rejected), symlink targets are
//!   re-rooted at the image root with `..` clamped there.

pub mod analyzers;
mod elf;
mod error;
mod merge;
mod paths;
mod walker;

pub use error::{AnalyzeError, WalkError};
pub use merge::merge_layers;
pub use walker::analyze_layer;

use std::time::Instant;

use airlock_scan_model::{OsInfo, Package};
use serde::{Deserialize, Serialize};

/// Prefix of the placeholder ecosystem OS package analyzers emit; see the
/// crate docs. `os:Debian` becomes e.g. `Debian:12` in [`merge_layers`].
pub const OS_ECOSYSTEM_PREFIX: &str = "os:";

/// Version of the walker itself; part of [`analyzers_fingerprint`].
const WALKER_VERSION: u32 = 1;

/// Resource limits for walking one image. Every limit fails the scan with an
/// error that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Decompressed bytes of one layer.
    pub max_layer_bytes: u64,
    /// Decompressed bytes of all layers of the image together.
    pub max_image_bytes: u64,
    /// Largest file an analyzer may have read into memory.
    pub max_file_bytes: u64,
    /// Number of tar entries in one layer.
    pub max_entries: u64,
    /// Wall-clock deadline for the whole scan.
    pub deadline: Option<Instant>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_layer_bytes: 8 << 30,
            max_image_bytes: 32 << 30,
            max_file_bytes: 256 << 20,
            max_entries: 1_000_000,
            deadline: None,
        }
    }
}

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain tar.
    None,
    /// gzip (possibly multi-member).
    Gzip,
    /// zstd.
    Zstd,
}

impl Compression {
    /// Lowercase name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "tar",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// What the first bytes of a blob say it is (anything that is neither
    /// gzip nor zstd is taken to be tar).
    pub fn from_magic(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// The compression a layer media type declares, for OCI and Docker layer
/// media types (including the non-distributable/foreign variants); `None`
/// for media types that are not layers.
pub fn compression_for_media_type(media_type: &str) -> Option<Compression> {
    match media_type {
        "application/vnd.oci.image.layer.v1.tar"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar"
        | "application/vnd.docker.image.rootfs.diff.tar" => Some(Compression::None),
        "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.diff.tar.gzip"
        | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Some(Compression::Gzip),
        "application/vnd.oci.image.layer.v1.tar+zstd"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
        | "application/vnd.docker.image.rootfs.diff.tar.zstd" => Some(Compression::Zstd),
        _ => None,
    }
}

/// What the analyzers found in one layer. Cached as JSON per layer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct LayerAnalysis {
    /// Digest of the layer blob.
    pub digest: String,
    /// One entry per (file, analyzer) that was read, in tar order. A file an
    /// analyzer read but could not parse has an entry with no packages, so
    /// that it still replaces the same path from lower layers.
    pub files: Vec<FileResult>,
    /// Paths deleted by `.wh.<name>` entries (the deleted path, not the marker).
    pub whiteouts: Vec<String>,
    /// Directories made opaque by `.wh..wh..opq` (their lower contents vanish).
    pub opaque_dirs: Vec<String>,
    /// Non-fatal problems: rejected paths, unparseable files, unresolved links.
    pub warnings: Vec<String>,
}

/// What one analyzer found in one file.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FileResult {
    /// Path inside the image, without leading `/`.
    pub path: String,
    /// [`analyzers::Analyzer::name`] of the analyzer.
    pub analyzer: String,
    /// Packages found (OS packages carry the placeholder ecosystem).
    pub packages: Vec<Package>,
    /// The OS, for the os-release analyzer.
    pub os: Option<OsInfo>,
}

/// A string that changes whenever the walker's or any analyzer's version
/// changes: part of the per-layer cache key.
pub fn analyzers_fingerprint() -> String {
    let mut parts: Vec<String> = analyzers::ALL
        .iter()
        .map(|a| format!("{}@{}", a.name(), a.version()))
        .collect();
    parts.sort();
    format!("walker@{WALKER_VERSION};{}", parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_map_to_their_compression() {
        let cases = [
            (
                "application/vnd.oci.image.layer.v1.tar",
                Some(Compression::None),
            ),
            (
                "application/vnd.oci.image.layer.v1.tar+gzip",
                Some(Compression::Gzip),
            ),
            (
                "application/vnd.oci.image.layer.v1.tar+zstd",
                Some(Compression::Zstd),
            ),
            (
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
                Some(Compression::Gzip),
            ),
            (
                "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                Some(Compression::Gzip),
            ),
            ("application/vnd.oci.image.config.v1+json", None),
        ];
        for (media_type, expected) in cases {
            assert_eq!(
                compression_for_media_type(media_type),
                expected,
                "{media_type}"
            );
        }
    }

    #[test]
    fn magic_bytes_identify_compression() {
        assert_eq!(
            Compression::from_magic(&[0x1f, 0x8b, 8, 0]),
            Compression::Gzip
        );
        assert_eq!(
            Compression::from_magic(&[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::Zstd
        );
        assert_eq!(Compression::from_magic(b"etc/"), Compression::None);
    }

    #[test]
    fn fingerprint_names_every_analyzer_with_its_version() {
        let fingerprint = analyzers_fingerprint();
        for analyzer in analyzers::ALL {
            assert!(
                fingerprint.contains(&format!("{}@{}", analyzer.name(), analyzer.version())),
                "{fingerprint}"
            );
        }
    }
}
