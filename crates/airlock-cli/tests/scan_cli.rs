//! `airlock scan` as a user runs it: the real binary on a fixture OCI layout.

use std::process::Command;

use airlock_testkit::{LayerBuilder, LayerCompression, OciLayoutBuilder, fixtures};

fn fixture_layout(dir: &std::path::Path) {
    OciLayoutBuilder::new()
        .tag("v1")
        .layer(
            LayerBuilder::new()
                .file(
                    "etc/os-release",
                    "ID=debian\nVERSION_ID=\"12\"\nNAME=\"Debian GNU/Linux\"\n",
                )
                .file("var/lib/dpkg/status", fixtures::dpkg_status()),
            LayerCompression::Gzip,
        )
        .layer(
            LayerBuilder::new()
                .file(
                    "usr/lib/python3/dist-packages/Flask_SQLAlchemy-3.1.1.dist-info/METADATA",
                    fixtures::python_metadata(),
                )
                .file(
                    "app/node_modules/lodash/package.json",
                    fixtures::npm_package_json("lodash", "4.17.20", "MIT"),
                ),
            LayerCompression::Gzip,
        )
        .write(dir);
}

fn airlock() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_airlock"));
    command.env_remove("XDG_CACHE_HOME");
    command
}

#[test]
fn scan_oci_layout_as_json() {
    let dir = tempfile::tempdir().unwrap();
    fixture_layout(&dir.path().join("image"));
    let output = airlock()
        .args([
            "scan",
            &format!("oci:{}:v1", dir.path().join("image").display()),
            "--format",
            "json",
            "--no-cache",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("stdout is JSON");
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["os"]["ecosystem"], "Debian:12");
    let packages: Vec<(String, String)> = report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for expected in [
        ("libc6", "2.36-9+deb12u4"),
        ("flask-sqlalchemy", "3.1.1"),
        ("lodash", "4.17.20"),
    ] {
        assert!(
            packages
                .iter()
                .any(|(n, v)| (n.as_str(), v.as_str()) == expected),
            "{expected:?} missing from {packages:?}"
        );
    }
}

#[test]
fn scan_writes_sboms_to_a_file_and_uses_the_cache_dir() {
    let dir = tempfile::tempdir().unwrap();
    fixture_layout(&dir.path().join("image"));
    let cache = dir.path().join("cache");
    let out = dir.path().join("bom.json");
    let status = airlock()
        .args([
            "scan",
            &format!("oci:{}", dir.path().join("image").display()),
            "--format",
            "cyclonedx",
        ])
        .arg("--output")
        .arg(&out)
        .arg("--cache-dir")
        .arg(&cache)
        .status()
        .unwrap();
    assert!(status.success());
    let bom: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.5");
    assert!(
        std::fs::read_dir(&cache).unwrap().count() >= 2,
        "one cache entry per layer"
    );

    let output = airlock()
        .args([
            "scan",
            &format!("oci:{}", dir.path().join("image").display()),
            "--format",
            "table",
        ])
        .arg("--cache-dir")
        .arg(&cache)
        .output()
        .unwrap();
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(
        table.contains("lodash") && table.contains("Debian:12"),
        "{table}"
    );
}

#[test]
fn scan_errors_print_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    fixture_layout(&dir.path().join("image"));
    let output = airlock()
        .args([
            "scan",
            &format!("oci:{}:nope", dir.path().join("image").display()),
            "--no-cache",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: no image tagged \"nope\""),
        "{stderr}"
    );

    let output = airlock()
        .args(["scan", "oci:/x", "--max-entries", "-1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "bad flags are usage errors");
}
