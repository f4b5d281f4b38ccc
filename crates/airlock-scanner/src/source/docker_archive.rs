//! `docker-archive:FILE`: the tar `docker save` writes.
//!
//! Its `manifest.json` lists, per image, the config file, the tags and the
//! layer files. Older Docker writes `<id>/layer.tar` (uncompressed, addressed
//! by the config's `diff_ids`, and duplicate layers as symlinks); Docker 25+
//! writes an OCI layout inside the tar with layers at `blobs/sha256/<hex>`,
//! possibly compressed. The compression is detected from the magic bytes.
//!
//! The archive is indexed once (entry name → offset and size) and each layer
//! is then read straight from its offset: nothing is extracted to disk.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use airlock_analyzer::Compression;
use serde::Deserialize;

use super::{
    ImageSource, LayerDescriptor, LayerStream, ResolvedImage, parse_json, read_document_bytes,
};
use crate::digest::{Digest, VerifyingReader};
use crate::error::SourceError;
use crate::oci::{self, ImageConfig};
use crate::target::PlatformFilter;

/// Longest symlink chain followed inside the archive.
const MAX_LINK_HOPS: usize = 8;

/// A `docker save` archive.
#[derive(Debug)]
pub struct DockerArchiveSource {
    path: PathBuf,
    reference: String,
    entries: BTreeMap<String, ArchiveEntry>,
}

#[derive(Debug, Clone)]
enum ArchiveEntry {
    File { offset: u64, size: u64 },
    Link { target: String },
}

#[derive(Debug, Deserialize)]
struct ManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

impl DockerArchiveSource {
    /// Indexes the archive at `path`; `reference` is what the user typed.
    pub fn open(
        path: impl Into<PathBuf>,
        reference: impl Into<String>,
    ) -> Result<Self, SourceError> {
        let path = path.into();
        let file = File::open(&path).map_err(|source| SourceError::Open {
            path: path.clone(),
            source,
        })?;
        let read_error = |source| SourceError::Read {
            what: format!("docker archive {}", path.display()),
            source,
        };
        let mut archive = tar::Archive::new(BufReader::new(file));
        let mut entries = BTreeMap::new();
        for entry in archive.entries().map_err(read_error)? {
            let entry = entry.map_err(read_error)?;
            let name = normalize(&String::from_utf8_lossy(&entry.path_bytes()));
            let kind = entry.header().entry_type();
            if kind.is_file() {
                entries.insert(
                    name,
                    ArchiveEntry::File {
                        offset: entry.raw_file_position(),
                        size: entry.size(),
                    },
                );
            } else if (kind.is_symlink() || kind.is_hard_link())
                && let Some(target) = entry.link_name_bytes()
            {
                let target = String::from_utf8_lossy(&target).to_string();
                let target = if kind.is_symlink() {
                    resolve_relative(&name, &target)
                } else {
                    normalize(&target)
                };
                entries.insert(name, ArchiveEntry::Link { target });
            }
        }
        Ok(DockerArchiveSource {
            path,
            reference: reference.into(),
            entries,
        })
    }

    fn locate(&self, name: &str) -> Result<(u64, u64), SourceError> {
        let mut name = normalize(name);
        for _ in 0..MAX_LINK_HOPS {
            match self.entries.get(&name) {
                Some(ArchiveEntry::File { offset, size }) => return Ok((*offset, *size)),
                Some(ArchiveEntry::Link { target }) => name = target.clone(),
                None => break,
            }
        }
        Err(SourceError::BlobNotFound {
            digest: name,
            location: self.path.display().to_string(),
        })
    }

    fn open_entry(&self, name: &str) -> Result<(impl Read + Send + use<>, u64), SourceError> {
        let (offset, size) = self.locate(name)?;
        let mut file = File::open(&self.path).map_err(|source| SourceError::Open {
            path: self.path.clone(),
            source,
        })?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|source| SourceError::Read {
                what: format!("{name} in {}", self.path.display()),
                source,
            })?;
        Ok((BufReader::with_capacity(256 << 10, file).take(size), size))
    }

    fn read_entry(&self, name: &str) -> Result<Vec<u8>, SourceError> {
        let (reader, _) = self.open_entry(name)?;
        read_document_bytes(&format!("{name} in {}", self.path.display()), reader)
    }

    fn sniff_media_type(&self, name: &str) -> Result<String, SourceError> {
        let (reader, _) = self.open_entry(name)?;
        let mut head = Vec::with_capacity(4);
        reader
            .take(4)
            .read_to_end(&mut head)
            .map_err(|source| SourceError::Read {
                what: format!("{name} in {}", self.path.display()),
                source,
            })?;
        Ok(match Compression::from_magic(&head) {
            Compression::Gzip => oci::OCI_LAYER_GZIP,
            Compression::Zstd => oci::OCI_LAYER_ZSTD,
            Compression::None => oci::OCI_LAYER_TAR,
        }
        .to_string())
    }
}

impl ImageSource for DockerArchiveSource {
    fn resolve(
        &self,
        platform: Option<&PlatformFilter>,
    ) -> Result<Vec<ResolvedImage>, SourceError> {
        let manifest_bytes = self.read_entry("manifest.json")?;
        let manifest: Vec<ManifestEntry> = parse_json(
            &format!("manifest.json of {}", self.path.display()),
            &manifest_bytes,
        )?;
        let entry = match manifest.as_slice() {
            [only] => only,
            [] => {
                return Err(SourceError::Malformed {
                    what: format!("manifest.json of {}", self.path.display()),
                    reason: "it lists no image".to_string(),
                });
            }
            several => {
                let tags: Vec<String> = several
                    .iter()
                    .flat_map(|e| e.repo_tags.clone().unwrap_or_default())
                    .collect();
                return Err(SourceError::AmbiguousImage {
                    location: self.path.display().to_string(),
                    count: several.len(),
                    available: tags.join(", "),
                });
            }
        };

        let config_bytes = self.read_entry(&entry.config)?;
        let config_digest = Digest::sha256_of(&config_bytes);
        if let Some(expected) = digest_from_blob_path(&entry.config) {
            expected.verify(&config_bytes)?;
        }
        let config: ImageConfig = parse_json(
            &format!("config {} in {}", entry.config, self.path.display()),
            &config_bytes,
        )?;
        if entry.layers.len() > config.rootfs.diff_ids.len()
            && entry
                .layers
                .iter()
                .any(|l| digest_from_blob_path(l).is_none())
        {
            return Err(SourceError::Malformed {
                what: format!("config {} in {}", entry.config, self.path.display()),
                reason: format!(
                    "{} layers but {} diff_ids",
                    entry.layers.len(),
                    config.rootfs.diff_ids.len()
                ),
            });
        }

        let mut layers = Vec::new();
        for (position, layer_path) in entry.layers.iter().enumerate() {
            let (_, size) = self.locate(layer_path)?;
            let digest = match digest_from_blob_path(layer_path) {
                Some(digest) => digest.to_string(),
                None => config.rootfs.diff_ids[position]
                    .parse::<Digest>()?
                    .to_string(),
            };
            layers.push(LayerDescriptor {
                digest,
                media_type: self.sniff_media_type(layer_path)?,
                size,
                locator: Some(layer_path.clone()),
            });
        }

        let image = ResolvedImage {
            digest: config_digest.to_string(),
            media_type: oci::DOCKER_CONFIG.to_string(),
            platform: config.platform(),
            config,
            layers,
        };
        if let Some(filter) = platform
            && !image.platform.as_ref().is_some_and(|p| filter.matches(p))
        {
            return Err(SourceError::PlatformNotFound {
                platform: filter.to_string(),
                reference: self.reference.clone(),
                available: image
                    .platform
                    .as_ref()
                    .map(crate::target::platform_text)
                    .unwrap_or_else(|| "unknown".into()),
            });
        }
        Ok(vec![image])
    }

    fn open_layer(&self, layer: &LayerDescriptor) -> Result<LayerStream, SourceError> {
        let name = layer
            .locator
            .as_deref()
            .ok_or_else(|| SourceError::BlobNotFound {
                digest: layer.digest.clone(),
                location: self.path.display().to_string(),
            })?;
        let (reader, size) = self.open_entry(name)?;
        let reader: Box<dyn Read + Send> = Box::new(reader);
        Ok(VerifyingReader::new(
            reader,
            layer.digest.parse()?,
            Some(size),
        ))
    }
}

/// `blobs/sha256/<hex>` → its digest.
fn digest_from_blob_path(path: &str) -> Option<Digest> {
    let path = normalize(path);
    let rest = path.strip_prefix("blobs/")?;
    let (algorithm, hex) = rest.split_once('/')?;
    format!("{algorithm}:{hex}").parse().ok()
}

/// Strips `./` and leading `/`, and resolves `.`/`..` components (clamped at the root).
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// A symlink target relative to the link's directory.
fn resolve_relative(link: &str, target: &str) -> String {
    if target.starts_with('/') {
        return normalize(target);
    }
    let parent = Path::new(link)
        .parent()
        .map(|p| p.to_string_lossy().to_string())
        .unwrap_or_default();
    normalize(&format!("{parent}/{target}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalise_inside_the_archive() {
        assert_eq!(normalize("./abc/layer.tar"), "abc/layer.tar");
        assert_eq!(normalize("../../etc/passwd"), "etc/passwd");
        assert_eq!(
            resolve_relative("b/layer.tar", "../a/layer.tar"),
            "a/layer.tar"
        );
        assert_eq!(
            digest_from_blob_path(
                "blobs/sha256/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
            )
            .map(|d| d.to_string())
            .as_deref(),
            Some("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        );
        assert!(digest_from_blob_path("abc/layer.tar").is_none());
    }
}
