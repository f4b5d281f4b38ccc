//! From an OCI image layout on disk to an inventory, the way the scanner
//! drives this crate: read the manifest, stream each layer blob from its
//! file once, merge. The OS (first layer) and the package database (second
//! layer) live in different layers, as in real images.

use std::fs::File;

use airlock_analyzer::{Limits, analyze_layer, merge_layers};
use airlock_testkit::{LayerBuilder, LayerCompression, OciLayoutBuilder, fixtures};
use serde_json::Value;

#[test]
fn an_alpine_image_layout_is_inventoried_across_layers() {
    let dir = tempfile::tempdir().unwrap();
    OciLayoutBuilder::new()
        .layer(
            LayerBuilder::new().file(
                "etc/os-release",
                "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\n",
            ),
            LayerCompression::Gzip,
        )
        .layer(
            LayerBuilder::new().file("lib/apk/db/installed", fixtures::apk_installed()),
            LayerCompression::Zstd,
        )
        .layer(
            LayerBuilder::new()
                .file_with_mode("app/server", fixtures::cargo_auditable_binary(), 0o755)
                .file("app/rpm/var/lib/rpm/rpmdb.sqlite", fixtures::rpmdb_sqlite()),
            LayerCompression::None,
        )
        .write(dir.path());

    let read_json = |path: std::path::PathBuf| -> Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let blob_path = |digest: &str| {
        dir.path()
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let index = read_json(dir.path().join("index.json"));
    let manifest = read_json(blob_path(index["manifests"][0]["digest"].as_str().unwrap()));
    let limits = Limits::default();
    let mut used = 0;
    let layers: Vec<_> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| {
            let digest = layer["digest"].as_str().unwrap();
            let file = File::open(blob_path(digest)).unwrap();
            analyze_layer(
                file,
                layer["mediaType"].as_str().unwrap(),
                digest,
                &limits,
                &mut used,
            )
            .unwrap()
        })
        .collect();
    assert!(used > 0);

    let (os, packages) = merge_layers(&layers);
    assert_eq!(os.unwrap().ecosystem, "Alpine:v3.19");
    let found: Vec<(&str, &str, &str)> = packages
        .iter()
        .map(|p| (p.ecosystem.as_str(), p.name.as_str(), p.version.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("Alpine:v3.19", "busybox", "1.36.1-r15"),
            ("Alpine:v3.19", "libcrypto3", "3.1.4-r5"),
            ("Alpine:v3.19", "musl", "1.2.4_git20230717-r4"),
            ("crates.io", "rustls", "0.21.0"),
            ("crates.io", "serde", "1.0.193"),
        ],
        "the rpmdb below app/ is not at an rpm database path and is not read"
    );
    let musl = packages.iter().find(|p| p.name == "musl").unwrap();
    assert_eq!(
        musl.purl,
        "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1"
    );
    assert_eq!(
        musl.layer,
        manifest["layers"][1]["digest"].as_str().unwrap()
    );
    assert_eq!(musl.source_name.as_deref(), Some("musl"));
}
