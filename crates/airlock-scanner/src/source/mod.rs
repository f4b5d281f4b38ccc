//! Where images come from: OCI layouts, docker archives, registries and
//! airlock's own blob store, each one file behind the [`ImageSource`] trait.
//!
//! A source does two things: [`ImageSource::resolve`] turns the target into
//! one [`ResolvedImage`] per platform to scan (manifest, config, layer list),
//! and [`ImageSource::open_layer`] streams one layer blob through a
//! [`VerifyingReader`], so the scanner reads every layer exactly once and
//! every byte is checked against its digest. Index and manifest handling is
//! shared by the sources that store manifests ([`resolve_images`]).

pub mod docker_archive;
pub mod oci_layout;
pub mod registry;
pub mod store;

use std::io::Read;

use airlock_scan_model::Platform;

use crate::digest::{Digest, VerifyingReader};
use crate::error::SourceError;
use crate::oci::{self, AnyManifest, Descriptor, ImageConfig};
use crate::target::{PlatformFilter, platform_text};

/// The largest manifest, index or config airlock buffers (they are JSON
/// documents of a few KiB; anything this large is hostile).
pub const MAX_DOCUMENT_BYTES: u64 = 8 << 20;

/// Deepest chain of nested indexes followed.
const MAX_INDEX_DEPTH: usize = 2;

/// A layer blob to stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerDescriptor {
    /// Digest of the blob (the cache key).
    pub digest: String,
    /// Media type (decides decompression).
    pub media_type: String,
    /// Size of the blob in bytes.
    pub size: u64,
    /// Where the source finds the blob, when not derivable from the digest
    /// (e.g. the path inside a docker archive).
    pub locator: Option<String>,
}

/// One single-platform image, ready to be scanned.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedImage {
    /// Digest of its manifest (for a docker archive, of its config: the image id).
    pub digest: String,
    /// Media type of its manifest (for a docker archive, of its config).
    pub media_type: String,
    /// Platform, from the config or else the index entry.
    pub platform: Option<Platform>,
    /// The image config.
    pub config: ImageConfig,
    /// Layers, in application order.
    pub layers: Vec<LayerDescriptor>,
}

/// A boxed blob stream that checks the blob's digest as it is read.
pub type LayerStream = VerifyingReader<Box<dyn Read + Send>>;

/// A place images are read from.
pub trait ImageSource {
    /// The images to scan: one, or one per platform of an index (only the
    /// matching one with a `platform` filter).
    fn resolve(&self, platform: Option<&PlatformFilter>)
    -> Result<Vec<ResolvedImage>, SourceError>;

    /// Streams one layer blob.
    fn open_layer(&self, layer: &LayerDescriptor) -> Result<LayerStream, SourceError>;

    /// Whether blobs come over the network (the CLI shows progress then).
    fn is_remote(&self) -> bool {
        false
    }
}

/// Reads manifests and configs for [`resolve_images`].
pub(crate) trait DocumentStore {
    /// Reads a manifest or config blob, verified against its digest and
    /// bounded by [`MAX_DOCUMENT_BYTES`]; returns the bytes and, when the
    /// store knows it, the media type.
    fn read_document(
        &self,
        descriptor: &Descriptor,
    ) -> Result<(Vec<u8>, Option<String>), SourceError>;
}

/// Parses a JSON document, naming it in the error.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    what: &str,
    bytes: &[u8],
) -> Result<T, SourceError> {
    serde_json::from_slice(bytes).map_err(|source| SourceError::Parse {
        what: what.to_string(),
        source,
    })
}

/// Reads at most [`MAX_DOCUMENT_BYTES`] from `reader`.
pub(crate) fn read_document_bytes(what: &str, reader: impl Read) -> Result<Vec<u8>, SourceError> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_DOCUMENT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| SourceError::Read {
            what: what.to_string(),
            source,
        })?;
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(SourceError::TooLarge {
            what: what.to_string(),
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    Ok(bytes)
}

/// Whether an index entry is an image rather than an attestation or other artifact.
fn is_image_entry(descriptor: &Descriptor) -> bool {
    let attestation = descriptor
        .annotations
        .get("vnd.docker.reference.type")
        .is_some_and(|kind| kind == "attestation-manifest");
    let unknown_platform = descriptor
        .platform
        .as_ref()
        .is_some_and(|p| p.os == "unknown" || p.architecture == "unknown");
    !attestation && !unknown_platform
}

/// Turns a root manifest or index into the images to scan.
pub(crate) fn resolve_images(
    store: &dyn DocumentStore,
    reference: &str,
    root: &Descriptor,
    root_bytes: &[u8],
    root_media_type: Option<&str>,
    platform: Option<&PlatformFilter>,
) -> Result<Vec<ResolvedImage>, SourceError> {
    let what = format!("manifest {} of {reference}", root.digest);
    let document: AnyManifest = parse_json(&what, root_bytes)?;
    let media_type =
        document.effective_media_type(root_media_type.or(Some(root.media_type.as_str())));
    if oci::is_manifest(&media_type) {
        let image =
            image_from_manifest(store, reference, &root.digest, &media_type, &document, None)?;
        if let Some(filter) = platform {
            let matches = image.platform.as_ref().is_some_and(|p| filter.matches(p));
            if !matches {
                let available = image
                    .platform
                    .as_ref()
                    .map(platform_text)
                    .unwrap_or_else(|| "unknown".to_string());
                return Err(SourceError::PlatformNotFound {
                    platform: filter.to_string(),
                    reference: reference.to_string(),
                    available,
                });
            }
        }
        return Ok(vec![image]);
    }
    if !oci::is_index(&media_type) {
        return Err(SourceError::UnsupportedMediaType { what, media_type });
    }

    let mut entries = Vec::new();
    collect_index_entries(store, reference, &document, 0, &mut entries)?;
    let candidates: Vec<&Descriptor> = entries.iter().filter(|d| is_image_entry(d)).collect();
    let selected: Vec<&Descriptor> = match platform {
        None => candidates.clone(),
        Some(filter) => candidates
            .iter()
            .copied()
            .filter(|d| {
                d.platform
                    .as_ref()
                    .is_some_and(|p| filter.matches(&p.to_platform()))
            })
            .take(1)
            .collect(),
    };
    if selected.is_empty() {
        let available: Vec<String> = candidates
            .iter()
            .map(|d| {
                d.platform
                    .as_ref()
                    .map(|p| platform_text(&p.to_platform()))
                    .unwrap_or_else(|| "unknown".into())
            })
            .collect();
        return Err(SourceError::PlatformNotFound {
            platform: platform
                .map(ToString::to_string)
                .unwrap_or_else(|| "any".to_string()),
            reference: reference.to_string(),
            available: if available.is_empty() {
                "none".to_string()
            } else {
                available.join(", ")
            },
        });
    }
    let mut images = Vec::new();
    for descriptor in selected {
        let (bytes, served_type) = store.read_document(descriptor)?;
        let what = format!("manifest {} of {reference}", descriptor.digest);
        let manifest: AnyManifest = parse_json(&what, &bytes)?;
        let hint = if descriptor.media_type.is_empty() {
            served_type.as_deref()
        } else {
            Some(descriptor.media_type.as_str())
        };
        let media_type = manifest.effective_media_type(hint);
        if !oci::is_manifest(&media_type) {
            return Err(SourceError::UnsupportedMediaType { what, media_type });
        }
        let index_platform = descriptor.platform.as_ref().map(|p| p.to_platform());
        images.push(image_from_manifest(
            store,
            reference,
            &descriptor.digest,
            &media_type,
            &manifest,
            index_platform,
        )?);
    }
    Ok(images)
}

fn collect_index_entries(
    store: &dyn DocumentStore,
    reference: &str,
    index: &AnyManifest,
    depth: usize,
    out: &mut Vec<Descriptor>,
) -> Result<(), SourceError> {
    for entry in index.manifests.iter().flatten() {
        if oci::is_index(&entry.media_type) {
            if depth >= MAX_INDEX_DEPTH {
                return Err(SourceError::Malformed {
                    what: format!("index of {reference}"),
                    reason: format!("indexes nest deeper than {MAX_INDEX_DEPTH} levels"),
                });
            }
            let (bytes, _) = store.read_document(entry)?;
            let nested: AnyManifest =
                parse_json(&format!("index {} of {reference}", entry.digest), &bytes)?;
            collect_index_entries(store, reference, &nested, depth + 1, out)?;
        } else {
            out.push(entry.clone());
        }
    }
    Ok(())
}

fn image_from_manifest(
    store: &dyn DocumentStore,
    reference: &str,
    digest: &str,
    media_type: &str,
    manifest: &AnyManifest,
    index_platform: Option<Platform>,
) -> Result<ResolvedImage, SourceError> {
    let what = format!("manifest {digest} of {reference}");
    let config_descriptor = manifest
        .config
        .as_ref()
        .ok_or_else(|| SourceError::Malformed {
            what: what.clone(),
            reason: "it has no config".to_string(),
        })?;
    let (config_bytes, _) = store.read_document(config_descriptor)?;
    let config: ImageConfig = parse_json(
        &format!("config {} of {reference}", config_descriptor.digest),
        &config_bytes,
    )?;
    let layers = manifest
        .layers
        .as_ref()
        .ok_or_else(|| SourceError::Malformed {
            what: what.clone(),
            reason: "it has no layers".to_string(),
        })?
        .iter()
        .map(|layer| {
            layer.digest.parse::<Digest>()?;
            Ok(LayerDescriptor {
                digest: layer.digest.clone(),
                media_type: layer.media_type.clone(),
                size: layer.size,
                locator: None,
            })
        })
        .collect::<Result<Vec<_>, SourceError>>()?;
    Ok(ResolvedImage {
        digest: digest.to_string(),
        media_type: media_type.to_string(),
        platform: config.platform().or(index_platform),
        config,
        layers,
    })
}
