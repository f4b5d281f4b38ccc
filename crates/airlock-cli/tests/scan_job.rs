//! `airlock scan-job`, the isolated scan the server starts per image: the
//! real binary, fed a job on stdin over blobs laid out as the filesystem
//! blob store lays them out, with hostile layers and tight resource limits.

use std::io::Write;
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use airlock_testkit::{BuiltImage, LayerBuilder, LayerCompression, OciLayoutBuilder, fixtures};
use base64::Engine as _;
use serde_json::{Value, json};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const GZIP_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// Writes a blob where `airlock-store-fs` keeps it.
fn write_blob(root: &Path, digest: &str, bytes: &[u8]) {
    let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
    let dir = root.join("blobs").join("sha256").join(&hex[..2]);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(hex), bytes).unwrap();
}

/// Lays out an image's config and layers in the store and returns the job.
fn store_image(root: &Path, image: &BuiltImage, limits: Value) -> Value {
    write_blob(root, &image.config_digest, &image.config);
    for layer in &image.layers {
        write_blob(root, &layer.digest, &layer.blob);
    }
    json!({
        "blobs_dir": root,
        "reference": format!("unscanned/t/app@{}", image.manifest_digest),
        "digest": image.manifest_digest,
        "manifests": [{
            "digest": image.manifest_digest,
            "media_type": OCI_MANIFEST,
            "content_base64": base64::engine::general_purpose::STANDARD.encode(&image.manifest),
        }],
        "limits": limits,
    })
}

/// An image with one pre-built gzip layer blob (for layers too large to build as a tar).
fn store_raw_layer_image(root: &Path, blob: &[u8], limits: Value) -> Value {
    let mut image = OciLayoutBuilder::new()
        .layer(LayerBuilder::new(), LayerCompression::Gzip)
        .build();
    let digest = airlock_testkit::sha256_digest(blob);
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [digest]},
    });
    image.config = serde_json::to_vec(&config).unwrap();
    image.config_digest = airlock_testkit::sha256_digest(&image.config);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": image.config_digest, "size": image.config.len()},
        "layers": [{"mediaType": GZIP_LAYER, "digest": digest, "size": blob.len()}],
    });
    image.manifest = serde_json::to_vec(&manifest).unwrap();
    image.manifest_digest = airlock_testkit::sha256_digest(&image.manifest);
    image.layers.truncate(1);
    image.layers[0].digest = digest;
    image.layers[0].blob = blob.to_vec();
    store_image(root, &image, limits)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A gzip layer holding one file at `path` of `chunks` × 16 MiB of `fill`
/// bytes, built as a multi-member gzip stream so it costs the test almost
/// nothing: a few KiB per 16 MiB.
fn huge_file_layer(path: &str, chunks: u64, fill: &[u8]) -> Vec<u8> {
    const CHUNK: usize = 16 << 20;
    let mut header = tar::Header::new_gnu();
    header.set_path(path).unwrap();
    header.set_size(chunks * CHUNK as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    let chunk: Vec<u8> = fill.iter().copied().cycle().take(CHUNK).collect();
    let chunk = gzip(&chunk);
    let mut blob = gzip(header.as_bytes());
    for _ in 0..chunks {
        blob.extend_from_slice(&chunk);
    }
    blob.extend_from_slice(&gzip(&[0u8; 1024]));
    blob
}

fn scan_job(job: &Value, flags: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_airlock"))
        .arg("scan-job")
        .args(flags)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The child may die (a limit) before reading everything.
    let _ = stdin.write_all(&serde_json::to_vec(job).unwrap());
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn stdout_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); status {:?}; stderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn no_ok_output(output: &Output) -> bool {
    serde_json::from_slice::<Value>(&output.stdout).map_or(true, |v| v["ok"] != true)
}

#[test]
fn a_clean_image_yields_its_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let image = OciLayoutBuilder::new()
        .layer(
            LayerBuilder::new()
                .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                .file("var/lib/dpkg/status", fixtures::dpkg_status()),
            LayerCompression::Gzip,
        )
        .build();
    let job = store_image(dir.path(), &image, json!({}));
    let output = scan_job(&job, &["--max-memory-bytes", "2147483648"]);
    assert!(
        output.status.success(),
        "status {:?}; stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let result = stdout_json(&output);
    assert_eq!(result["ok"], true);
    let reports = result["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(report["artifact"]["digest"], image.manifest_digest);
    assert_eq!(
        report["artifact"]["reference"],
        format!("unscanned/t/app@{}", image.manifest_digest)
    );
    let packages: Vec<&str> = report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(packages.contains(&"libc6"), "{packages:?}");
    assert_eq!(report["findings"].as_array().map(Vec::len), Some(0));
    assert_eq!(
        report["vulnerability_data"], "skipped",
        "the gate matches, not the job"
    );
}

#[test]
fn a_gzip_bomb_hits_max_layer_bytes_and_blames_the_image() {
    let dir = tempfile::tempdir().unwrap();
    let blob = huge_file_layer("data/zeros.bin", 13, &[0]);
    let job = store_raw_layer_image(dir.path(), &blob, json!({"max_layer_bytes": 1 << 20}));
    let output = scan_job(&job, &[]);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let result = stdout_json(&output);
    assert_eq!(result["ok"], false);
    assert_eq!(result["kind"], "image");
    let error = result["error"].as_str().unwrap();
    assert!(error.contains("max_layer_bytes"), "{error}");
}

#[test]
fn a_layer_needing_more_memory_than_the_limit_kills_the_job() {
    let dir = tempfile::tempdir().unwrap();
    // A 96 MiB package database is read into memory whole.
    let blob = huge_file_layer(
        "var/lib/dpkg/status",
        6,
        b"Package: a\nStatus: install ok installed\nVersion: 1\n\n",
    );
    let job = store_raw_layer_image(dir.path(), &blob, json!({}));
    let output = scan_job(&job, &["--max-memory-bytes", "50000000"]);
    assert!(!output.status.success(), "{output:?}");
    // The failed allocation aborts the process (SIGABRT).
    assert_eq!(output.status.signal(), Some(6), "{output:?}");
    assert!(no_ok_output(&output), "{output:?}");
}

#[test]
fn a_path_traversal_layer_never_crashes_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let image = OciLayoutBuilder::new()
        .layer(
            LayerBuilder::new()
                .file("../../../etc/passwd", "root:x:0:0::/root:/bin/sh\n")
                .file("/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                .symlink("var/lib/dpkg", "../../../../../tmp")
                .hardlink("etc/shadow", "../../etc/shadow")
                .file("var/lib/dpkg/status", fixtures::dpkg_status()),
            LayerCompression::Gzip,
        )
        .build();
    let job = store_image(dir.path(), &image, json!({}));
    let output = scan_job(&job, &[]);
    let result = stdout_json(&output);
    match output.status.code() {
        Some(0) => assert_eq!(result["ok"], true),
        Some(3) => assert_eq!(result["kind"], "image"),
        other => panic!("expected an inventory or an image failure, got {other:?}: {result}"),
    }
}

#[test]
fn an_expensive_scan_is_killed_at_the_cpu_limit() {
    let dir = tempfile::tempdir().unwrap();
    // 32 GiB of zeros in a file nobody wants: pure decompression work.
    let blob = huge_file_layer("data/zeros.bin", 2048, &[0]);
    let job = store_raw_layer_image(
        dir.path(),
        &blob,
        json!({"max_layer_bytes": 1u64 << 40, "max_image_bytes": 1u64 << 40, "timeout_seconds": 60}),
    );
    let output = scan_job(&job, &["--max-cpu-seconds", "1"]);
    let signal = output.status.signal();
    assert!(
        matches!(signal, Some(9) | Some(24)),
        "expected SIGXCPU or SIGKILL, got {:?}; stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(no_ok_output(&output));
}

#[test]
fn a_missing_blob_is_internal_not_the_images_fault() {
    let dir = tempfile::tempdir().unwrap();
    let image = OciLayoutBuilder::new()
        .layer(
            LayerBuilder::new().file("etc/os-release", "ID=debian\n"),
            LayerCompression::Gzip,
        )
        .build();
    let job = store_image(dir.path(), &image, json!({}));
    std::fs::remove_dir_all(dir.path().join("blobs")).unwrap();
    let output = scan_job(&job, &[]);
    assert_eq!(output.status.code(), Some(4), "{output:?}");
    let result = stdout_json(&output);
    assert_eq!(result["kind"], "internal");
    assert!(
        result["error"].as_str().unwrap().contains("not found"),
        "{result}"
    );
}

#[test]
fn an_unparseable_job_is_internal() {
    let output = scan_job(&json!({"nonsense": true}), &[]);
    assert_eq!(output.status.code(), Some(4), "{output:?}");
    assert_eq!(stdout_json(&output)["kind"], "internal");
}

/// Runs `scan-job --from-env --fetch-blobs` as a Kubernetes scan Job does:
/// the job in `AIRLOCK_SCAN_JOB`, the blobs fetched from the storage the
/// configuration names (here the filesystem store of a data directory).
fn scan_job_from_env(job: &Value, config: &Path) -> Output {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(job).unwrap());
    Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(["scan-job", "--from-env", "--fetch-blobs", "--config"])
        .arg(config)
        .env("AIRLOCK_SCAN_JOB", encoded)
        .env_remove("AIRLOCK_DATA_DIR")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn a_job_from_the_environment_fetches_its_blobs_from_the_configured_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("airlock.toml");
    std::fs::write(&config, format!("data_dir = \"{}\"\n", data.display())).unwrap();
    let image = OciLayoutBuilder::new()
        .layer(
            LayerBuilder::new()
                .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                .file("var/lib/dpkg/status", fixtures::dpkg_status()),
            LayerCompression::Gzip,
        )
        .build();
    let mut job = store_image(&data.join("storage"), &image, json!({}));
    // The job's own blobs_dir is not where the blobs are: they are fetched.
    job["blobs_dir"] = json!(dir.path().join("elsewhere"));
    let output = scan_job_from_env(&job, &config);
    assert!(output.status.success(), "{output:?}");
    let result = stdout_json(&output);
    let packages: Vec<&str> = result["reports"][0]["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(packages.contains(&"libc6"), "{packages:?}");

    // A blob missing from the store is the image's fault (exit 3).
    let other = OciLayoutBuilder::new()
        .layer(
            LayerBuilder::new().file("etc/hostname", "x"),
            LayerCompression::Gzip,
        )
        .build();
    let mut job = store_image(&dir.path().join("not-the-store"), &other, json!({}));
    job["blobs_dir"] = json!(dir.path().join("elsewhere"));
    let output = scan_job_from_env(&job, &config);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let result = stdout_json(&output);
    assert_eq!(result["kind"], "image");
    assert!(
        result["error"].as_str().unwrap().contains("missing"),
        "{result}"
    );
}
