//! `oci:DIR[:TAG]`: an OCI image layout on disk (what `skopeo copy oci:`,
//! `umoci` and `buildah push oci:` write).
//!
//! The tag is matched against the `org.opencontainers.image.ref.name`
//! annotation of the entries of `index.json`. Without a tag a layout with one
//! entry scans that entry; a layout whose entries are untagged platform
//! manifests is itself treated as the image index.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::PathBuf;

use super::{
    DocumentStore, ImageSource, LayerDescriptor, LayerStream, ResolvedImage, parse_json,
    read_document_bytes, resolve_images,
};
use crate::digest::{Digest, VerifyingReader};
use crate::error::SourceError;
use crate::oci::{self, AnyManifest, Descriptor, REF_NAME_ANNOTATION};
use crate::target::PlatformFilter;

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct OciLayoutSource {
    dir: PathBuf,
    tag: Option<String>,
    reference: String,
}

impl OciLayoutSource {
    /// A source for `dir`, picking `tag` if given; `reference` is what the user typed.
    pub fn new(dir: impl Into<PathBuf>, tag: Option<String>, reference: impl Into<String>) -> Self {
        OciLayoutSource {
            dir: dir.into(),
            tag,
            reference: reference.into(),
        }
    }

    fn blob_path(&self, digest: &str) -> Result<PathBuf, SourceError> {
        let digest: Digest = digest.parse()?;
        Ok(self
            .dir
            .join("blobs")
            .join(digest.algorithm())
            .join(digest.hex()))
    }

    fn open_blob(&self, digest: &str) -> Result<File, SourceError> {
        let path = self.blob_path(digest)?;
        File::open(&path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                SourceError::BlobNotFound {
                    digest: digest.to_string(),
                    location: self.dir.display().to_string(),
                }
            } else {
                SourceError::Open { path, source }
            }
        })
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }

    /// Picks the index.json entry to scan; `None` means "index.json is the index".
    fn select_entry(&self, index: &AnyManifest) -> Result<Option<Descriptor>, SourceError> {
        let entries = index.manifests.clone().unwrap_or_default();
        let tag_of = |d: &Descriptor| d.annotations.get(REF_NAME_ANNOTATION).cloned();
        let available = || {
            let tags: Vec<String> = entries.iter().filter_map(tag_of).collect();
            if tags.is_empty() {
                "none".to_string()
            } else {
                tags.join(", ")
            }
        };
        match &self.tag {
            Some(tag) => {
                let found = entries.iter().find(|d| {
                    tag_of(d).is_some_and(|name| {
                        name == *tag || name.rsplit_once(':').is_some_and(|(_, t)| t == tag)
                    })
                });
                found
                    .cloned()
                    .map(Some)
                    .ok_or_else(|| SourceError::TagNotFound {
                        location: self.location(),
                        tag: tag.clone(),
                        available: available(),
                    })
            }
            None => match entries.as_slice() {
                [] => Err(SourceError::Malformed {
                    what: self.index_path().display().to_string(),
                    reason: "it lists no manifests".into(),
                }),
                [only] => Ok(Some(only.clone())),
                several
                    if several
                        .iter()
                        .all(|d| tag_of(d).is_none() && d.platform.is_some()) =>
                {
                    Ok(None)
                }
                several => Err(SourceError::AmbiguousImage {
                    location: self.location(),
                    count: several.len(),
                    available: available(),
                }),
            },
        }
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("index.json")
    }
}

impl DocumentStore for OciLayoutSource {
    fn read_document(
        &self,
        descriptor: &Descriptor,
    ) -> Result<(Vec<u8>, Option<String>), SourceError> {
        let file = self.open_blob(&descriptor.digest)?;
        let bytes = read_document_bytes(&format!("blob {}", descriptor.digest), file)?;
        descriptor.digest.parse::<Digest>()?.verify(&bytes)?;
        Ok((bytes, None))
    }
}

impl ImageSource for OciLayoutSource {
    fn resolve(
        &self,
        platform: Option<&PlatformFilter>,
    ) -> Result<Vec<ResolvedImage>, SourceError> {
        let index_path = self.index_path();
        let file = File::open(&index_path).map_err(|source| SourceError::Open {
            path: index_path.clone(),
            source,
        })?;
        let index_bytes = read_document_bytes(&index_path.display().to_string(), file)?;
        let index: AnyManifest = parse_json(&index_path.display().to_string(), &index_bytes)?;
        match self.select_entry(&index)? {
            Some(entry) => {
                let (bytes, _) = self.read_document(&entry)?;
                resolve_images(self, &self.reference, &entry, &bytes, None, platform)
            }
            None => {
                let root = Descriptor {
                    media_type: oci::OCI_INDEX.to_string(),
                    digest: Digest::sha256_of(&index_bytes).to_string(),
                    size: index_bytes.len() as u64,
                    platform: None,
                    annotations: Default::default(),
                };
                resolve_images(
                    self,
                    &self.reference,
                    &root,
                    &index_bytes,
                    Some(oci::OCI_INDEX),
                    platform,
                )
            }
        }
    }

    fn open_layer(&self, layer: &LayerDescriptor) -> Result<LayerStream, SourceError> {
        let file = self.open_blob(&layer.digest)?;
        let reader: Box<dyn Read + Send> = Box::new(BufReader::with_capacity(256 << 10, file));
        let size = (layer.size > 0).then_some(layer.size);
        Ok(VerifyingReader::new(reader, layer.digest.parse()?, size))
    }
}
