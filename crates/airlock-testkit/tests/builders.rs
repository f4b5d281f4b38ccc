//! The builders write what real tools write: these tests read the output
//! back with independent code (the tar crate, serde_json, sha256) so a
//! broken builder fails here and not in some distant scanner test.

use std::io::Read;

use airlock_testkit::{
    LayerBuilder, LayerCompression, OciLayoutBuilder, fixtures, sha256_digest, write_index,
};
use serde_json::Value;

fn entries(tar: &[u8]) -> Vec<(String, tar::EntryType, Vec<u8>)> {
    let mut archive = tar::Archive::new(tar);
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let kind = entry.header().entry_type();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            (path, kind, data)
        })
        .collect()
}

#[test]
fn layers_hold_files_links_whiteouts_and_hostile_names() {
    let layer = LayerBuilder::new()
        .dir("etc")
        .file_with_mode("usr/bin/tool", b"\x7fELF", 0o755)
        .symlink("etc/os-release", "../usr/lib/os-release")
        .hardlink("usr/bin/tool2", "usr/bin/tool")
        .whiteout("var/lib/old")
        .opaque("opt/app/")
        .file("../../etc/passwd", "root");
    let found: Vec<(String, tar::EntryType)> = entries(&layer.build_tar())
        .into_iter()
        .map(|(p, k, _)| (p, k))
        .collect();
    use tar::EntryType::*;
    assert_eq!(
        found,
        [
            ("etc".to_string(), Directory),
            ("usr/bin/tool".to_string(), Regular),
            ("etc/os-release".to_string(), Symlink),
            ("usr/bin/tool2".to_string(), Link),
            ("var/lib/.wh.old".to_string(), Regular),
            ("opt/app/.wh..wh..opq".to_string(), Regular),
            ("../../etc/passwd".to_string(), Regular),
        ]
    );
    let mut gz = Vec::new();
    flate2::read::GzDecoder::new(layer.gzip().as_slice())
        .read_to_end(&mut gz)
        .unwrap();
    assert_eq!(gz, layer.build_tar());
    assert_eq!(
        zstd::decode_all(layer.zstd().as_slice()).unwrap(),
        layer.build_tar()
    );
}

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn blob(dir: &std::path::Path, digest: &str) -> Vec<u8> {
    let bytes = std::fs::read(
        dir.join("blobs/sha256")
            .join(digest.strip_prefix("sha256:").unwrap()),
    )
    .unwrap();
    assert_eq!(
        sha256_digest(&bytes),
        digest,
        "blob content matches its name"
    );
    bytes
}

#[test]
fn oci_layout_is_complete_and_content_addressed() {
    let dir = tempfile::tempdir().unwrap();
    let image = OciLayoutBuilder::new()
        .tag("1.0")
        .layer(
            LayerBuilder::new().file("etc/os-release", "ID=debian\n"),
            LayerCompression::Gzip,
        )
        .layer_created_by(
            LayerBuilder::new().file("a", "b"),
            LayerCompression::Zstd,
            "RUN make",
        )
        .write(dir.path());
    assert_eq!(
        read_json(&dir.path().join("oci-layout"))["imageLayoutVersion"],
        "1.0.0"
    );
    let index = read_json(&dir.path().join("index.json"));
    let descriptor = &index["manifests"][0];
    assert_eq!(
        descriptor["annotations"]["org.opencontainers.image.ref.name"],
        "1.0"
    );
    assert_eq!(descriptor["digest"], image.manifest_digest.as_str());
    let manifest: Value =
        serde_json::from_slice(&blob(dir.path(), &image.manifest_digest)).unwrap();
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert_eq!(
        manifest["layers"][1]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    let config: Value = serde_json::from_slice(&blob(
        dir.path(),
        manifest["config"]["digest"].as_str().unwrap(),
    ))
    .unwrap();
    assert_eq!(config["history"][1]["created_by"], "RUN make");
    for (index, layer) in image.layers.iter().enumerate() {
        blob(dir.path(), &layer.digest);
        assert_eq!(
            config["rootfs"]["diff_ids"][index],
            sha256_digest(&layer.tar).as_str()
        );
    }
}

#[test]
fn docker_archive_has_manifest_config_and_plain_layers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image.tar");
    let image = OciLayoutBuilder::new()
        .tag("v2")
        .layer(LayerBuilder::new().file("x", "y"), LayerCompression::Gzip)
        .write_docker_archive(&path);
    let files = entries(&std::fs::read(&path).unwrap());
    let get = |name: &str| {
        files
            .iter()
            .find(|(p, _, _)| p == name)
            .map(|(_, _, d)| d.clone())
            .unwrap()
    };
    let manifest: Value = serde_json::from_slice(&get("manifest.json")).unwrap();
    assert_eq!(manifest[0]["RepoTags"][0], "airlock-test:v2");
    assert_eq!(get(manifest[0]["Config"].as_str().unwrap()), image.config);
    assert_eq!(
        get(manifest[0]["Layers"][0].as_str().unwrap()),
        image.layers[0].tar
    );
}

#[test]
fn index_lists_one_manifest_per_platform() {
    let dir = tempfile::tempdir().unwrap();
    let layer = LayerBuilder::new().file("x", "y");
    let built = write_index(
        dir.path(),
        "multi",
        &[
            OciLayoutBuilder::new().layer(layer.clone(), LayerCompression::Gzip),
            OciLayoutBuilder::new()
                .platform("linux", "arm64")
                .layer(layer, LayerCompression::None),
        ],
    );
    let top = read_json(&dir.path().join("index.json"));
    assert_eq!(
        top["manifests"][0]["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let index: Value = serde_json::from_slice(&blob(dir.path(), &built.index_digest)).unwrap();
    let platforms: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["amd64", "arm64"]);
    for image in &built.images {
        blob(dir.path(), &image.manifest_digest);
    }
}

#[test]
fn rpmdb_sqlite_fixture_is_a_real_database() {
    let bytes = fixtures::rpmdb_sqlite();
    assert!(bytes.starts_with(b"SQLite format 3\0"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rpmdb.sqlite");
    std::fs::write(&path, &bytes).unwrap();
    let connection = rusqlite::Connection::open(&path).unwrap();
    let count: i64 = connection
        .query_row("SELECT count(*) FROM Packages", [], |row| row.get(0))
        .unwrap();
    assert_eq!(count as usize, fixtures::RPM_PACKAGES.len());
}
