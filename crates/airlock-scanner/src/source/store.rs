//! An image in airlock's own blob store: what `airlock scan-job` reads when
//! the gate asks for the inventory of a pushed manifest.
//!
//! The registry hands over the manifest documents (the root manifest and,
//! for an index, its child manifests) because it already holds them, verified,
//! in its metadata; configs and layers are read from the filesystem blob
//! store, laid out as `<root>/blobs/<alg>/<first two hex>/<hex>` (see
//! `airlock-store-fs`). Nothing is trusted: manifests and configs are checked
//! against their digests and bounded by [`MAX_DOCUMENT_BYTES`], layers stream
//! through a [`VerifyingReader`].

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::PathBuf;

use super::{
    DocumentStore, ImageSource, LayerDescriptor, LayerStream, MAX_DOCUMENT_BYTES, ResolvedImage,
    read_document_bytes, resolve_images,
};
use crate::digest::{Digest, VerifyingReader};
use crate::error::SourceError;
use crate::oci::Descriptor;
use crate::target::PlatformFilter;

/// A manifest in airlock's blob store, with its manifest documents given.
#[derive(Debug, Clone)]
pub struct StoreSource {
    root: PathBuf,
    root_digest: String,
    manifests: HashMap<String, (String, Vec<u8>)>,
    reference: String,
}

impl StoreSource {
    /// A source for the manifest `root_digest` whose documents are in
    /// `manifests` (digest → media type, bytes) and whose blobs are under
    /// `blobs_dir`, the filesystem blob store's root; `reference` is recorded
    /// in the reports (e.g. `unscanned/t/app@sha256:...`).
    pub fn new(
        blobs_dir: impl Into<PathBuf>,
        root_digest: impl Into<String>,
        manifests: HashMap<String, (String, Vec<u8>)>,
        reference: impl Into<String>,
    ) -> Self {
        StoreSource {
            root: blobs_dir.into(),
            root_digest: root_digest.into(),
            manifests,
            reference: reference.into(),
        }
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.root
            .join("blobs")
            .join(digest.algorithm())
            .join(&hex[..2])
            .join(hex)
    }

    fn open_blob(&self, digest: &str) -> Result<File, SourceError> {
        let parsed: Digest = digest.parse()?;
        let path = self.blob_path(&parsed);
        File::open(&path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                SourceError::BlobNotFound {
                    digest: digest.to_string(),
                    location: self.root.display().to_string(),
                }
            } else {
                SourceError::Open { path, source }
            }
        })
    }

    /// A manifest document from the map, verified and bounded.
    fn manifest(&self, digest: &str) -> Result<Option<(&str, &[u8])>, SourceError> {
        let Some((media_type, bytes)) = self.manifests.get(digest) else {
            return Ok(None);
        };
        if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
            return Err(SourceError::TooLarge {
                what: format!("manifest {digest} of {}", self.reference),
                limit: MAX_DOCUMENT_BYTES,
            });
        }
        digest.parse::<Digest>()?.verify(bytes)?;
        Ok(Some((media_type.as_str(), bytes.as_slice())))
    }
}

impl DocumentStore for StoreSource {
    fn read_document(
        &self,
        descriptor: &Descriptor,
    ) -> Result<(Vec<u8>, Option<String>), SourceError> {
        if let Some((media_type, bytes)) = self.manifest(&descriptor.digest)? {
            return Ok((bytes.to_vec(), Some(media_type.to_string())));
        }
        let file = self.open_blob(&descriptor.digest)?;
        let bytes = read_document_bytes(&format!("blob {}", descriptor.digest), file)?;
        descriptor.digest.parse::<Digest>()?.verify(&bytes)?;
        Ok((bytes, None))
    }
}

impl ImageSource for StoreSource {
    fn resolve(
        &self,
        platform: Option<&PlatformFilter>,
    ) -> Result<Vec<ResolvedImage>, SourceError> {
        let (media_type, bytes) =
            self.manifest(&self.root_digest)?
                .ok_or_else(|| SourceError::BlobNotFound {
                    digest: self.root_digest.clone(),
                    location: "the manifests handed to the scan".to_string(),
                })?;
        let root = Descriptor {
            media_type: media_type.to_string(),
            digest: self.root_digest.clone(),
            size: bytes.len() as u64,
            platform: None,
            annotations: Default::default(),
        };
        resolve_images(
            self,
            &self.reference,
            &root,
            bytes,
            Some(media_type),
            platform,
        )
    }

    fn open_layer(&self, layer: &LayerDescriptor) -> Result<LayerStream, SourceError> {
        let file = self.open_blob(&layer.digest)?;
        let reader: Box<dyn Read + Send> = Box::new(BufReader::with_capacity(256 << 10, file));
        let size = (layer.size > 0).then_some(layer.size);
        Ok(VerifyingReader::new(reader, layer.digest.parse()?, size))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use airlock_testkit::{BuiltImage, LayerBuilder, LayerCompression, OciLayoutBuilder, fixtures};

    use super::*;
    use crate::scan::{ScanOptions, scan_source};

    const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

    fn write_blob(root: &Path, digest: &str, bytes: &[u8]) {
        let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
        let dir = root.join("blobs").join("sha256").join(&hex[..2]);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(hex), bytes).unwrap();
    }

    /// Writes config and layers in the store layout (manifests stay in memory).
    fn write_image(root: &Path, image: &BuiltImage) {
        write_blob(root, &image.config_digest, &image.config);
        for layer in &image.layers {
            write_blob(root, &layer.digest, &layer.blob);
        }
    }

    fn debian_image() -> BuiltImage {
        OciLayoutBuilder::new()
            .layer(
                LayerBuilder::new()
                    .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                    .file("var/lib/dpkg/status", fixtures::dpkg_status()),
                LayerCompression::Gzip,
            )
            .build()
    }

    fn source_for(root: &Path, image: &BuiltImage) -> StoreSource {
        let manifests = HashMap::from([(
            image.manifest_digest.clone(),
            (OCI_MANIFEST.to_string(), image.manifest.clone()),
        )]);
        StoreSource::new(
            root,
            image.manifest_digest.clone(),
            manifests,
            format!("unscanned/t/app@{}", image.manifest_digest),
        )
    }

    #[test]
    fn scans_an_image_from_the_store_layout() {
        let dir = tempfile::tempdir().unwrap();
        let image = debian_image();
        write_image(dir.path(), &image);
        let source = source_for(dir.path(), &image);
        let outcome = scan_source(&source, "unscanned/t/app", &ScanOptions::default()).unwrap();
        assert_eq!(outcome.reports.len(), 1);
        let report = &outcome.reports[0];
        assert_eq!(report.inventory.artifact.digest, image.manifest_digest);
        assert!(
            report.inventory.packages.iter().any(|p| p.name == "libc6"),
            "libc6 in the inventory"
        );
    }

    #[test]
    fn scans_every_platform_of_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let amd64 = debian_image();
        let arm64 = OciLayoutBuilder::new()
            .platform("linux", "arm64")
            .layer(
                LayerBuilder::new().file("etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n"),
                LayerCompression::Gzip,
            )
            .build();
        let mut manifests = HashMap::new();
        let mut entries = Vec::new();
        for image in [&amd64, &arm64] {
            write_image(dir.path(), image);
            manifests.insert(
                image.manifest_digest.clone(),
                (OCI_MANIFEST.to_string(), image.manifest.clone()),
            );
            entries.push(serde_json::json!({
                "mediaType": OCI_MANIFEST,
                "digest": image.manifest_digest,
                "size": image.manifest.len(),
                "platform": {"os": image.os, "architecture": image.architecture},
            }));
        }
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": entries,
        }))
        .unwrap();
        let index_digest = airlock_testkit::sha256_digest(&index);
        manifests.insert(index_digest.clone(), (OCI_INDEX.to_string(), index));
        let source = StoreSource::new(dir.path(), index_digest, manifests, "unscanned/t/app");
        let images = source.resolve(None).unwrap();
        let digests: Vec<&str> = images.iter().map(|i| i.digest.as_str()).collect();
        assert_eq!(
            digests,
            [
                amd64.manifest_digest.as_str(),
                arm64.manifest_digest.as_str()
            ]
        );
    }

    #[test]
    fn a_missing_layer_blob_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let image = debian_image();
        write_blob(dir.path(), &image.config_digest, &image.config);
        let source = source_for(dir.path(), &image);
        let error = scan_source(&source, "unscanned/t/app", &ScanOptions::default()).unwrap_err();
        let chain = format!("{error}: {}", std::error::Error::source(&error).unwrap());
        assert!(chain.contains("not found"), "{chain}");
        assert!(chain.contains(&image.layers[0].digest), "{chain}");
    }

    #[test]
    fn a_tampered_config_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let image = debian_image();
        write_image(dir.path(), &image);
        write_blob(dir.path(), &image.config_digest, b"{\"os\":\"linux\"}");
        let error = source_for(dir.path(), &image).resolve(None).unwrap_err();
        assert!(
            matches!(error, SourceError::DigestMismatch { .. }),
            "{error}"
        );
    }

    #[test]
    fn a_tampered_layer_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let image = debian_image();
        write_image(dir.path(), &image);
        let other = LayerBuilder::new().file("etc/hostname", "evil").gzip();
        write_blob(dir.path(), &image.layers[0].digest, &other);
        let error = scan_source(
            &source_for(dir.path(), &image),
            "unscanned/t/app",
            &ScanOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(error, crate::ScanError::Layer { .. }), "{error}");
    }

    #[test]
    fn a_manifest_not_matching_its_digest_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let image = debian_image();
        write_image(dir.path(), &image);
        let manifests = HashMap::from([(
            image.manifest_digest.clone(),
            (OCI_MANIFEST.to_string(), b"{}".to_vec()),
        )]);
        let source = StoreSource::new(dir.path(), image.manifest_digest, manifests, "x");
        assert!(matches!(
            source.resolve(None).unwrap_err(),
            SourceError::DigestMismatch { .. }
        ));
    }

    #[test]
    fn a_root_manifest_that_was_not_handed_over_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let image = debian_image();
        let source = StoreSource::new(dir.path(), image.manifest_digest, HashMap::new(), "x");
        assert!(matches!(
            source.resolve(None).unwrap_err(),
            SourceError::BlobNotFound { .. }
        ));
    }
}
