//! The few OCI and Docker image documents a scan reads: index, manifest,
//! config. Deliberately lenient (unknown fields ignored, optional fields
//! defaulted) because images in the wild are; media types are checked where
//! they decide what a document is.

use std::collections::BTreeMap;

use airlock_scan_model::Platform;
use serde::Deserialize;

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker image config (also the artifact media type of a docker archive).
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Plain tar layer.
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// gzip tar layer.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// zstd tar layer.
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// The annotation carrying a tag in an OCI layout's index.json.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

/// Every manifest media type airlock asks registries for.
pub const ACCEPTED_MANIFESTS: &[&str] = &[OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST];

/// Whether a media type is an index (multi-platform).
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

/// Whether a media type is a single-image manifest.
pub fn is_manifest(media_type: &str) -> bool {
    media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST
}

/// A content descriptor.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    #[serde(default)]
    pub media_type: String,
    /// Digest of the referenced content.
    pub digest: String,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
    /// Platform, for index entries.
    #[serde(default)]
    pub platform: Option<DescriptorPlatform>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// A platform as written in an index.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct DescriptorPlatform {
    /// e.g. `linux`.
    #[serde(default)]
    pub os: String,
    /// e.g. `amd64`.
    #[serde(default)]
    pub architecture: String,
    /// e.g. `v8`.
    #[serde(default)]
    pub variant: Option<String>,
}

impl DescriptorPlatform {
    /// As the scan model's platform.
    pub fn to_platform(&self) -> Platform {
        Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone().filter(|v| !v.is_empty()),
        }
    }
}

/// Either an index or a manifest: the fields of both, to sniff a document
/// whose media type is only known from inside it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnyManifest {
    /// Schema version (2).
    #[serde(default)]
    pub schema_version: Option<u32>,
    /// Declared media type.
    #[serde(default)]
    pub media_type: Option<String>,
    /// Index entries.
    #[serde(default)]
    pub manifests: Option<Vec<Descriptor>>,
    /// Manifest config.
    #[serde(default)]
    pub config: Option<Descriptor>,
    /// Manifest layers.
    #[serde(default)]
    pub layers: Option<Vec<Descriptor>>,
}

impl AnyManifest {
    /// The media type: declared, else the one the fields imply.
    pub fn effective_media_type(&self, hint: Option<&str>) -> String {
        if let Some(media_type) = self.media_type.as_deref().filter(|m| !m.is_empty()) {
            return media_type.to_string();
        }
        if let Some(hint) = hint.filter(|h| is_index(h) || is_manifest(h)) {
            return hint.to_string();
        }
        if self.manifests.is_some() {
            OCI_INDEX.to_string()
        } else {
            OCI_MANIFEST.to_string()
        }
    }
}

/// The parts of an image config a scan uses.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct ImageConfig {
    /// e.g. `linux`.
    #[serde(default)]
    pub os: String,
    /// e.g. `amd64`.
    #[serde(default)]
    pub architecture: String,
    /// e.g. `v8`.
    #[serde(default)]
    pub variant: Option<String>,
    /// Layer diff ids.
    #[serde(default)]
    pub rootfs: RootFs,
    /// Build history, one entry per instruction.
    #[serde(default)]
    pub history: Vec<History>,
}

impl ImageConfig {
    /// The platform this config declares, if it declares one.
    pub fn platform(&self) -> Option<Platform> {
        if self.os.is_empty() && self.architecture.is_empty() {
            return None;
        }
        Some(Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone().filter(|v| !v.is_empty()),
        })
    }
}

/// `rootfs` of an image config.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct RootFs {
    /// Digests of the uncompressed layers.
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// One history entry of an image config.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct History {
    /// The command that created the layer.
    #[serde(default)]
    pub created_by: Option<String>,
    /// Set when the instruction produced no layer.
    #[serde(default)]
    pub empty_layer: bool,
}
