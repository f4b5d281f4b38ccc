//! Packages and the inventory (SBOM) of one image.

use serde::{Deserialize, Serialize};

/// One installed package, as found in one file of one layer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Package {
    /// osv.dev ecosystem name, e.g. `Debian:12`, `PyPI`, `npm`, `Go`.
    pub ecosystem: String,
    /// Package name as the ecosystem spells it (Python names PEP 503-normalised).
    pub name: String,
    /// Installed version, verbatim from the package database.
    pub version: String,
    /// Source package name (Debian `Source:`, Alpine origin, source rpm name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// Source package version, where it differs from or is given beside `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// Package URL (purl).
    pub purl: String,
    /// Declared licences, as written by the package.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
    /// Digest of the layer that introduced the package.
    pub layer: String,
    /// Path inside the image the package was read from (no leading `/`).
    pub path: String,
    /// The project a lockfile describes (its root entry), not an installed
    /// dependency: listed in the inventory and SBOMs, never matched against
    /// advisories (a private project may share a public package's name).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub application: bool,
}

/// The operating system of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsInfo {
    /// Distribution family, e.g. `debian`, `alpine`, `rhel`.
    pub family: String,
    /// Version as found, e.g. `12`, `3.19.1`.
    pub version: String,
    /// osv.dev ecosystem, e.g. `Debian:12`, `Alpine:v3.19`.
    pub ecosystem: String,
}

/// A layer of the scanned image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// Digest of the (compressed) layer blob.
    pub digest: String,
    /// Size of the layer blob in bytes.
    pub size: u64,
    /// The history entry that created the layer, when the config records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// Platform of a single-platform image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// e.g. `linux`.
    pub os: String,
    /// e.g. `amd64`.
    pub architecture: String,
    /// e.g. `v8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// What was scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// The reference the user gave, e.g. `oci:./img:latest`.
    pub reference: String,
    /// Digest of the image manifest that was scanned.
    pub digest: String,
    /// Media type of that manifest.
    pub media_type: String,
    /// Platform from the image config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

/// The package inventory (SBOM) of one single-platform image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// What was scanned.
    pub artifact: Artifact,
    /// The detected operating system, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<OsInfo>,
    /// Layers in application order.
    pub layers: Vec<LayerInfo>,
    /// Every package, sorted.
    pub packages: Vec<Package>,
}

impl Inventory {
    /// Sorts packages so output is deterministic.
    pub fn normalize(&mut self) {
        self.packages.sort();
        self.packages.dedup();
    }
}
