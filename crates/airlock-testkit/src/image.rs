//! Whole images built from layers: the config, the manifest, and their
//! on-disk forms (OCI image layout, `docker save` archive, multi-platform
//! index). Digests are real, so sources can verify them.

use std::fs;
use std::path::Path;

use serde_json::{Value, json};

use crate::layer::gzip;
use crate::{LayerBuilder, sha256_digest};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// How a layer blob is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerCompression {
    /// `application/vnd.oci.image.layer.v1.tar`
    None,
    /// `application/vnd.oci.image.layer.v1.tar+gzip`
    Gzip,
    /// `application/vnd.oci.image.layer.v1.tar+zstd`
    Zstd,
}

impl LayerCompression {
    /// The OCI layer media type.
    pub fn media_type(self) -> &'static str {
        match self {
            LayerCompression::None => "application/vnd.oci.image.layer.v1.tar",
            LayerCompression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            LayerCompression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

/// One layer of a built image.
#[derive(Debug, Clone)]
pub struct BuiltLayer {
    /// Digest of the (compressed) blob.
    pub digest: String,
    /// Digest of the uncompressed tar (`rootfs.diff_ids`).
    pub diff_id: String,
    /// Layer media type.
    pub media_type: String,
    /// The blob.
    pub blob: Vec<u8>,
    /// The uncompressed tar.
    pub tar: Vec<u8>,
    /// The history `created_by`.
    pub created_by: String,
}

/// A built single-platform image, in memory.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    /// Manifest digest.
    pub manifest_digest: String,
    /// Manifest bytes.
    pub manifest: Vec<u8>,
    /// Config digest.
    pub config_digest: String,
    /// Config bytes.
    pub config: Vec<u8>,
    /// Layers in order.
    pub layers: Vec<BuiltLayer>,
    /// `os` of the config.
    pub os: String,
    /// `architecture` of the config.
    pub architecture: String,
}

/// A built multi-platform index.
#[derive(Debug, Clone)]
pub struct BuiltIndex {
    /// Digest of the image index blob.
    pub index_digest: String,
    /// Index bytes.
    pub index: Vec<u8>,
    /// The platform images.
    pub images: Vec<BuiltImage>,
}

/// Builds an image from layers and writes it in the formats sources read.
#[derive(Debug, Clone)]
pub struct OciLayoutBuilder {
    tag: String,
    os: String,
    architecture: String,
    layers: Vec<(LayerBuilder, LayerCompression, String)>,
}

impl Default for OciLayoutBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl OciLayoutBuilder {
    /// An image tagged `latest` for linux/amd64 with no layers.
    pub fn new() -> Self {
        Self {
            tag: "latest".to_string(),
            os: "linux".to_string(),
            architecture: "amd64".to_string(),
            layers: Vec::new(),
        }
    }

    /// The tag written as the `org.opencontainers.image.ref.name` annotation
    /// (and as the docker archive's `RepoTags` entry `airlock-test:<tag>`).
    pub fn tag(mut self, tag: &str) -> Self {
        self.tag = tag.to_string();
        self
    }

    /// The config's platform.
    pub fn platform(mut self, os: &str, architecture: &str) -> Self {
        self.os = os.to_string();
        self.architecture = architecture.to_string();
        self
    }

    /// Appends a layer; its history entry is `created_by: "layer <n>"`.
    pub fn layer(self, layer: LayerBuilder, compression: LayerCompression) -> Self {
        let created_by = format!("layer {}", self.layers.len() + 1);
        self.layer_created_by(layer, compression, &created_by)
    }

    /// Appends a layer with its history `created_by`.
    pub fn layer_created_by(
        mut self,
        layer: LayerBuilder,
        compression: LayerCompression,
        created_by: &str,
    ) -> Self {
        self.layers
            .push((layer, compression, created_by.to_string()));
        self
    }

    /// Builds blobs, config and manifest in memory.
    pub fn build(&self) -> BuiltImage {
        let layers: Vec<BuiltLayer> = self
            .layers
            .iter()
            .map(|(layer, compression, created_by)| {
                let tar = layer.build_tar();
                let blob = match compression {
                    LayerCompression::None => tar.clone(),
                    LayerCompression::Gzip => gzip(&tar),
                    LayerCompression::Zstd => {
                        zstd::encode_all(tar.as_slice(), 3).expect("zstd in memory")
                    }
                };
                BuiltLayer {
                    digest: sha256_digest(&blob),
                    diff_id: sha256_digest(&tar),
                    media_type: compression.media_type().to_string(),
                    blob,
                    tar,
                    created_by: created_by.clone(),
                }
            })
            .collect();
        let config = json!({
            "created": "2024-01-01T00:00:00Z",
            "architecture": self.architecture,
            "os": self.os,
            "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>()},
            "history": layers.iter().map(|l| json!({"created": "2024-01-01T00:00:00Z", "created_by": l.created_by})).collect::<Vec<_>>(),
        });
        let config = serde_json::to_vec(&config).expect("serialize config");
        let config_digest = sha256_digest(&config);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config.len()},
            "layers": layers.iter().map(|l| json!({"mediaType": l.media_type, "digest": l.digest, "size": l.blob.len()})).collect::<Vec<_>>(),
        });
        let manifest = serde_json::to_vec(&manifest).expect("serialize manifest");
        BuiltImage {
            manifest_digest: sha256_digest(&manifest),
            manifest,
            config_digest,
            config,
            layers,
            os: self.os.clone(),
            architecture: self.architecture.clone(),
        }
    }

    /// Writes an OCI image layout into `dir` (created if needed): `oci-layout`,
    /// `index.json` (the manifest, annotated with the tag) and `blobs/sha256/`.
    pub fn write(&self, dir: &Path) -> BuiltImage {
        let image = self.build();
        write_image_blobs(dir, &image);
        let descriptor = json!({
            "mediaType": OCI_MANIFEST,
            "digest": image.manifest_digest,
            "size": image.manifest.len(),
            "annotations": {REF_NAME: self.tag},
        });
        write_layout_index(dir, descriptor);
        image
    }

    /// Writes a `docker save` archive: `manifest.json` (Config, RepoTags
    /// `airlock-test:<tag>`, Layers), `<config-hex>.json`, and one
    /// uncompressed `<diff-id-hex>/layer.tar` per layer.
    pub fn write_docker_archive(&self, path: &Path) -> BuiltImage {
        let image = self.build();
        let config_name = format!("{}.json", hex_of(&image.config_digest));
        let layer_names: Vec<String> = image
            .layers
            .iter()
            .map(|l| format!("{}/layer.tar", hex_of(&l.diff_id)))
            .collect();
        let manifest = json!([{
            "Config": config_name,
            "RepoTags": [format!("airlock-test:{}", self.tag)],
            "Layers": layer_names,
        }]);
        let mut builder = tar::Builder::new(Vec::new());
        let mut add = |name: &str, data: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_mode(0o644);
            header.set_size(data.len() as u64);
            header.set_mtime(1_700_000_000);
            builder
                .append_data(&mut header, name, data)
                .expect("append to docker archive");
        };
        add(&config_name, &image.config);
        for (name, layer) in layer_names.iter().zip(&image.layers) {
            add(name, &layer.tar);
        }
        add(
            "manifest.json",
            &serde_json::to_vec(&manifest).expect("serialize manifest.json"),
        );
        add(
            "repositories",
            &serde_json::to_vec(&json!({})).expect("serialize repositories"),
        );
        fs::write(path, builder.into_inner().expect("finish docker archive"))
            .expect("write docker archive");
        image
    }
}

/// Writes an OCI layout in `dir` whose `index.json` points (with the tag
/// annotation) at an image index of all `images`, one manifest per platform.
pub fn write_index(dir: &Path, tag: &str, images: &[OciLayoutBuilder]) -> BuiltIndex {
    let built: Vec<BuiltImage> = images.iter().map(OciLayoutBuilder::build).collect();
    for image in &built {
        write_image_blobs(dir, image);
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": built.iter().map(|image| json!({
            "mediaType": OCI_MANIFEST,
            "digest": image.manifest_digest,
            "size": image.manifest.len(),
            "platform": {"os": image.os, "architecture": image.architecture},
        })).collect::<Vec<_>>(),
    });
    let index = serde_json::to_vec(&index).expect("serialize image index");
    let index_digest = sha256_digest(&index);
    write_blob(dir, &index_digest, &index);
    write_layout_index(
        dir,
        json!({"mediaType": OCI_INDEX, "digest": index_digest, "size": index.len(), "annotations": {REF_NAME: tag}}),
    );
    BuiltIndex {
        index_digest,
        index,
        images: built,
    }
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

fn write_blob(dir: &Path, digest: &str, bytes: &[u8]) {
    let blobs = dir.join("blobs").join("sha256");
    fs::create_dir_all(&blobs).expect("create blobs/sha256");
    fs::write(blobs.join(hex_of(digest)), bytes).expect("write blob");
}

fn write_image_blobs(dir: &Path, image: &BuiltImage) {
    for layer in &image.layers {
        write_blob(dir, &layer.digest, &layer.blob);
    }
    write_blob(dir, &image.config_digest, &image.config);
    write_blob(dir, &image.manifest_digest, &image.manifest);
}

fn write_layout_index(dir: &Path, descriptor: Value) {
    fs::create_dir_all(dir).expect("create layout dir");
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("write oci-layout");
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [descriptor]});
    fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&index).expect("serialize index.json"),
    )
    .expect("write index.json");
}
