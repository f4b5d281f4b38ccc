//! End-to-end tests of the scanner: every image source, platform selection,
//! digest verification, limits, the layer cache, and pulls from a real
//! registry (Debian's `docker-registry`, pushed to with skopeo) and from a
//! tiny token-auth server.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use airlock_scan_model::{Package, ScanReport, VulnerabilityData};
use airlock_scanner::{
    Credentials, LayerCache, PlatformFilter, RegistryOptions, ScanError, ScanLimits, ScanOptions,
    SourceError, Target, scan, scan_with_stats,
};
use airlock_testkit::{
    BuiltImage, LayerBuilder, LayerCompression, OciLayoutBuilder, fixtures, write_index,
};

const OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";

fn base_layer() -> LayerBuilder {
    LayerBuilder::new()
        .dir("etc")
        .file("etc/os-release", OS_RELEASE)
        .file("var/lib/dpkg/status", fixtures::dpkg_status())
}

fn app_layer() -> LayerBuilder {
    LayerBuilder::new()
        .file(
            "usr/lib/python3/dist-packages/Flask_SQLAlchemy-3.1.1.dist-info/METADATA",
            fixtures::python_metadata(),
        )
        .file(
            "app/node_modules/lodash/package.json",
            fixtures::npm_package_json("lodash", "4.17.20", "MIT"),
        )
        .file(
            "app/node_modules/@babel/core/package.json",
            fixtures::npm_package_json("@babel/core", "7.22.0", "MIT"),
        )
}

/// Debian base (gzip) + Python/npm application layer (zstd).
fn fixture_image() -> OciLayoutBuilder {
    OciLayoutBuilder::new()
        .tag("v1")
        .layer_created_by(
            base_layer(),
            LayerCompression::Gzip,
            "/bin/sh -c #(nop) ADD rootfs.tar /",
        )
        .layer_created_by(
            app_layer(),
            LayerCompression::Zstd,
            "RUN pip install flask-sqlalchemy && npm install",
        )
}

fn target(text: &str) -> Target {
    text.parse().expect("target parses")
}

fn no_cache() -> ScanOptions {
    ScanOptions::default()
}

fn names(report: &ScanReport) -> Vec<(String, String, String)> {
    report
        .inventory
        .packages
        .iter()
        .map(|p| (p.ecosystem.clone(), p.name.clone(), p.version.clone()))
        .collect()
}

fn find<'a>(report: &'a ScanReport, name: &str) -> &'a Package {
    report
        .inventory
        .packages
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("package {name} missing from {:#?}", names(report)))
}

/// What every scan of the fixture image must find, with the right layer.
fn assert_fixture_inventory(
    report: &ScanReport,
    image: &BuiltImage,
    base_digest: &str,
    app_digest: &str,
) {
    let os = report.inventory.os.as_ref().expect("os detected");
    assert_eq!(os.ecosystem, "Debian:12");
    let libc = find(report, "libc6");
    assert_eq!(libc.ecosystem, "Debian:12");
    assert_eq!(libc.source_name.as_deref(), Some("glibc"));
    assert_eq!(libc.layer, base_digest);
    assert!(
        report
            .inventory
            .packages
            .iter()
            .all(|p| p.name != "libgcc-s1"),
        "deinstalled package reported"
    );
    let flask = find(report, "flask-sqlalchemy");
    assert_eq!(
        (flask.ecosystem.as_str(), flask.version.as_str()),
        ("PyPI", "3.1.1")
    );
    assert_eq!(flask.layer, app_digest);
    let lodash = find(report, "lodash");
    assert_eq!(
        (lodash.ecosystem.as_str(), lodash.version.as_str()),
        ("npm", "4.17.20")
    );
    assert_eq!(lodash.path, "app/node_modules/lodash/package.json");
    find(report, "@babel/core");
    assert_eq!(report.vulnerability_data, VulnerabilityData::Skipped);
    let created_by: Vec<Option<&str>> = report
        .inventory
        .layers
        .iter()
        .map(|l| l.created_by.as_deref())
        .collect();
    assert_eq!(created_by.len(), image.layers.len());
    let mut sorted = report.inventory.packages.clone();
    sorted.sort();
    assert_eq!(sorted, report.inventory.packages, "packages are sorted");
}

#[test]
fn oci_layout_with_tag_inventory_golden() {
    let dir = tempfile::tempdir().unwrap();
    let image = fixture_image().write(dir.path());
    let reports = scan(
        &target(&format!("oci:{}:v1", dir.path().display())),
        &no_cache(),
    )
    .unwrap();
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(report.inventory.artifact.digest, image.manifest_digest);
    assert_eq!(
        report.inventory.artifact.media_type,
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(report.inventory.layers[0].digest, image.layers[0].digest);
    assert_eq!(
        report.inventory.layers[0].size,
        image.layers[0].blob.len() as u64
    );
    assert_eq!(
        report.inventory.layers[0].created_by.as_deref(),
        Some("/bin/sh -c #(nop) ADD rootfs.tar /")
    );
    assert_fixture_inventory(
        report,
        &image,
        &image.layers[0].digest,
        &image.layers[1].digest,
    );

    let json =
        airlock_report::json::write(&reports, &airlock_report::ReportContext::now()).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    insta::assert_json_snapshot!("fixture_inventory", value, {
        ".artifact.reference" => "[reference]",
        ".artifact.digest" => "[digest]",
        ".layers[].digest" => "[digest]",
        ".packages[].layer" => "[digest]",
    });
}

/// The SBOMs of a real scan (purls and licences as the analyzers write them)
/// must validate, not only the hand-made report of airlock-report's tests.
#[test]
fn sboms_of_the_scanned_fixture_validate() {
    use cyclonedx_bom::prelude::{Bom, Validate};
    let dir = tempfile::tempdir().unwrap();
    fixture_image().write(dir.path());
    let reports = scan(
        &target(&format!("oci:{}:v1", dir.path().display())),
        &no_cache(),
    )
    .unwrap();
    let context = airlock_report::ReportContext::now();

    let bom = airlock_report::Format::CycloneDx
        .write(&reports, &context)
        .unwrap();
    let parsed = Bom::parse_from_json_v1_5(bom.as_bytes()).expect("CycloneDX 1.5 parses");
    let validation = parsed.validate();
    assert!(
        validation.passed(),
        "CycloneDX validation failed: {validation:?}"
    );

    let spdx = airlock_report::Format::Spdx
        .write(&reports, &context)
        .unwrap();
    let typed: serde_spdx::spdx::v_2_3::Spdx =
        serde_json::from_str(&spdx).expect("SPDX 2.3 parses");
    let packages = typed.packages.unwrap_or_default();
    assert_eq!(
        packages.len(),
        1 + 1 + reports[0].inventory.packages.len(),
        "image + os + packages"
    );
}

#[test]
fn oci_layout_without_tag_scans_its_only_image() {
    let dir = tempfile::tempdir().unwrap();
    let image = fixture_image().write(dir.path());
    let reports = scan(
        &target(&format!("oci:{}", dir.path().display())),
        &no_cache(),
    )
    .unwrap();
    assert_eq!(reports[0].inventory.artifact.digest, image.manifest_digest);
}

#[test]
fn oci_layout_unknown_tag_names_the_tags_present() {
    let dir = tempfile::tempdir().unwrap();
    fixture_image().write(dir.path());
    let error = scan(
        &target(&format!("oci:{}:v2", dir.path().display())),
        &no_cache(),
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, ScanError::Source(SourceError::TagNotFound { .. })),
        "{message}"
    );
    assert!(
        message.contains("\"v2\"") && message.contains("v1"),
        "{message}"
    );
}

#[test]
fn docker_archive_scans_like_the_oci_layout() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("image.tar");
    let image = fixture_image().write_docker_archive(&archive);
    let reports = scan(
        &target(&format!("docker-archive:{}", archive.display())),
        &no_cache(),
    )
    .unwrap();
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(
        report.inventory.artifact.digest, image.config_digest,
        "a docker archive is named by its image id"
    );
    assert_eq!(
        report.inventory.artifact.media_type,
        "application/vnd.docker.container.image.v1+json"
    );
    let platform = report.inventory.artifact.platform.as_ref().unwrap();
    assert_eq!(
        (platform.os.as_str(), platform.architecture.as_str()),
        ("linux", "amd64")
    );
    // docker save stores layers uncompressed: they are named by their diff ids.
    assert_fixture_inventory(
        report,
        &image,
        &image.layers[0].diff_id,
        &image.layers[1].diff_id,
    );

    let layout = tempfile::tempdir().unwrap();
    fixture_image().write(layout.path());
    let from_layout = scan(
        &target(&format!("oci:{}:v1", layout.path().display())),
        &no_cache(),
    )
    .unwrap();
    assert_eq!(names(report), names(&from_layout[0]));
}

/// Docker 25+ `docker save` stores blobs OCI-style (`blobs/sha256/<hex>`),
/// possibly compressed: the compression is sniffed, the digest is the path's.
#[test]
fn docker_archive_with_oci_style_compressed_blobs() {
    let image = fixture_image().build();
    let hex = |digest: &str| digest.trim_start_matches("sha256:").to_string();
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        builder.append_data(&mut header, name, data).unwrap();
    };
    add(
        &format!("blobs/sha256/{}", hex(&image.config_digest)),
        &image.config,
    );
    for layer in &image.layers {
        add(&format!("blobs/sha256/{}", hex(&layer.digest)), &layer.blob);
    }
    let manifest = serde_json::json!([{
        "Config": format!("blobs/sha256/{}", hex(&image.config_digest)),
        "RepoTags": ["app:v1"],
        "Layers": image.layers.iter().map(|l| format!("blobs/sha256/{}", hex(&l.digest))).collect::<Vec<_>>(),
    }]);
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("image.tar");
    std::fs::write(&archive, builder.into_inner().unwrap()).unwrap();

    let reports = scan(
        &target(&format!("docker-archive:{}", archive.display())),
        &no_cache(),
    )
    .unwrap();
    assert_fixture_inventory(
        &reports[0],
        &image,
        &image.layers[0].digest,
        &image.layers[1].digest,
    );
}

fn write_multi_platform(dir: &Path) -> airlock_testkit::BuiltIndex {
    let amd64 = fixture_image().platform("linux", "amd64");
    let arm64 = OciLayoutBuilder::new()
        .platform("linux", "arm64")
        .layer(base_layer(), LayerCompression::Gzip)
        .layer(
            LayerBuilder::new().file(
                "app/node_modules/left-pad/package.json",
                fixtures::npm_package_json("left-pad", "1.3.0", "WTFPL"),
            ),
            LayerCompression::Gzip,
        );
    write_index(dir, "multi", &[amd64, arm64])
}

#[test]
fn multi_platform_index_scans_every_platform_without_a_filter() {
    let dir = tempfile::tempdir().unwrap();
    let index = write_multi_platform(dir.path());
    let reports = scan(
        &target(&format!("oci:{}:multi", dir.path().display())),
        &no_cache(),
    )
    .unwrap();
    assert_eq!(reports.len(), 2);
    let architectures: Vec<&str> = reports
        .iter()
        .map(|r| {
            r.inventory
                .artifact
                .platform
                .as_ref()
                .unwrap()
                .architecture
                .as_str()
        })
        .collect();
    assert_eq!(architectures, ["amd64", "arm64"]);
    assert_eq!(
        reports[1].inventory.artifact.digest,
        index.images[1].manifest_digest
    );
    find(&reports[0], "flask-sqlalchemy");
    find(&reports[1], "left-pad");
    assert!(
        reports[1]
            .inventory
            .packages
            .iter()
            .all(|p| p.name != "lodash")
    );
}

#[test]
fn multi_platform_index_with_platform_scans_one() {
    let dir = tempfile::tempdir().unwrap();
    let index = write_multi_platform(dir.path());
    let options = ScanOptions {
        platform: Some("linux/arm64".parse().unwrap()),
        ..ScanOptions::default()
    };
    let reports = scan(
        &target(&format!("oci:{}:multi", dir.path().display())),
        &options,
    )
    .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(
        reports[0].inventory.artifact.digest,
        index.images[1].manifest_digest
    );
    find(&reports[0], "left-pad");

    let options = ScanOptions {
        platform: Some("linux/s390x".parse::<PlatformFilter>().unwrap()),
        ..ScanOptions::default()
    };
    let error = scan(
        &target(&format!("oci:{}:multi", dir.path().display())),
        &options,
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("linux/s390x") && error.contains("linux/amd64, linux/arm64"),
        "{error}"
    );
}

#[test]
fn tampered_layer_fails_digest_verification() {
    let dir = tempfile::tempdir().unwrap();
    let image = OciLayoutBuilder::new()
        .layer(base_layer(), LayerCompression::None)
        .write(dir.path());
    let blob = dir
        .path()
        .join("blobs/sha256")
        .join(image.layers[0].digest.trim_start_matches("sha256:"));
    let tampered = String::from_utf8_lossy(&std::fs::read(&blob).unwrap())
        .replace("2.36-9+deb12u4", "2.36-9+deb12u9");
    std::fs::write(&blob, tampered.as_bytes()).unwrap();
    let error = scan(
        &target(&format!("oci:{}", dir.path().display())),
        &no_cache(),
    )
    .unwrap_err();
    let chain = format!(
        "{error}: {}",
        std::error::Error::source(&error)
            .map(|s| s.to_string())
            .unwrap_or_default()
    );
    assert!(
        matches!(
            &error,
            ScanError::Layer {
                source: SourceError::DigestMismatch { .. },
                ..
            }
        ),
        "expected a digest mismatch, got {chain}"
    );
}

#[test]
fn limits_are_enforced_and_named() {
    let dir = tempfile::tempdir().unwrap();
    fixture_image().write(dir.path());
    let options = ScanOptions {
        limits: ScanLimits {
            max_entries: 1,
            ..ScanLimits::default()
        },
        ..ScanOptions::default()
    };
    let error = scan(&target(&format!("oci:{}", dir.path().display())), &options)
        .unwrap_err()
        .to_string();
    assert!(error.contains("max_entries"), "{error}");

    let options = ScanOptions {
        limits: ScanLimits {
            max_image_bytes: 4096,
            ..ScanLimits::default()
        },
        ..ScanOptions::default()
    };
    let error = scan(&target(&format!("oci:{}", dir.path().display())), &options)
        .unwrap_err()
        .to_string();
    assert!(error.contains("max_image_bytes"), "{error}");

    let options = ScanOptions {
        limits: ScanLimits {
            timeout: Some(Duration::ZERO),
            ..ScanLimits::default()
        },
        ..ScanOptions::default()
    };
    let error = scan(&target(&format!("oci:{}", dir.path().display())), &options)
        .unwrap_err()
        .to_string();
    assert!(error.contains("deadline"), "{error}");
}

#[test]
fn layer_cache_reanalyses_only_new_layers() {
    let cache_dir = tempfile::tempdir().unwrap();
    let options = ScanOptions {
        cache: Some(LayerCache::open(cache_dir.path()).unwrap()),
        ..ScanOptions::default()
    };
    let first_dir = tempfile::tempdir().unwrap();
    fixture_image().write(first_dir.path());
    let first_target = target(&format!("oci:{}", first_dir.path().display()));

    let first = scan_with_stats(&first_target, &options).unwrap();
    assert_eq!(
        (first.stats.layers_analyzed, first.stats.layers_cached),
        (2, 0)
    );
    let second = scan_with_stats(&first_target, &options).unwrap();
    assert_eq!(
        (second.stats.layers_analyzed, second.stats.layers_cached),
        (0, 2),
        "a rescan reads no layer"
    );
    assert_eq!(
        first.reports, second.reports,
        "cached analyses give the same report"
    );

    let sibling_dir = tempfile::tempdir().unwrap();
    OciLayoutBuilder::new()
        .layer(base_layer(), LayerCompression::Gzip)
        .layer(
            LayerBuilder::new().file(
                "srv/node_modules/express/package.json",
                fixtures::npm_package_json("express", "4.18.2", "MIT"),
            ),
            LayerCompression::Gzip,
        )
        .write(sibling_dir.path());
    let third = scan_with_stats(
        &target(&format!("oci:{}", sibling_dir.path().display())),
        &options,
    )
    .unwrap();
    assert_eq!(
        (third.stats.layers_analyzed, third.stats.layers_cached),
        (1, 1),
        "only the new layer is read"
    );
    find(&third.reports[0], "express");
    find(&third.reports[0], "libc6");

    let uncached = scan_with_stats(&first_target, &no_cache()).unwrap();
    assert_eq!(
        uncached.stats.layers_analyzed, 2,
        "without a cache every layer is read"
    );
}

// ---------------------------------------------------------------------------
// Registries.

/// Whether an external tool exists; under CI its absence fails the test.
fn require_tool(tool: &str, apt_package: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{tool} is required for this test under CI: apt-get install {apt_package}");
    }
    eprintln!("\n**************************************************************");
    eprintln!("SKIPPING: {tool} not found; install it with `apt-get install {apt_package}`");
    eprintln!("**************************************************************\n");
    false
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_distribution_registry(storage: &Path) -> (KillOnDrop, u16) {
    let port = free_port();
    let config = storage.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            storage.join("data").display()
        ),
    )
    .unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start docker-registry");
    let guard = KillOnDrop(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "docker-registry did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (guard, port)
}

#[test]
fn registry_pull_of_an_image_pushed_by_skopeo() {
    if !require_tool("docker-registry", "docker-registry") || !require_tool("skopeo", "skopeo") {
        return;
    }
    let storage = tempfile::tempdir().unwrap();
    let (_registry, port) = start_distribution_registry(storage.path());
    let layout = tempfile::tempdir().unwrap();
    let image = fixture_image().write(layout.path());
    let output = Command::new("skopeo")
        .args(["--insecure-policy", "copy", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:v1", layout.path().display()))
        .arg(format!("docker://127.0.0.1:{port}/team/app:v1"))
        .output()
        .expect("run skopeo");
    assert!(
        output.status.success(),
        "skopeo copy failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let options = ScanOptions {
        registry: RegistryOptions {
            insecure: true,
            docker_config: Some(storage.path().join("none.json")),
            ..RegistryOptions::default()
        },
        ..ScanOptions::default()
    };
    let reports = scan(&target(&format!("127.0.0.1:{port}/team/app:v1")), &options).unwrap();
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(
        report.inventory.artifact.reference,
        format!("127.0.0.1:{port}/team/app:v1")
    );
    let layer_digests: Vec<&str> = report
        .inventory
        .layers
        .iter()
        .map(|l| l.digest.as_str())
        .collect();
    // skopeo may recompress; packages must be attributed to the registry's layers.
    find(report, "libc6");
    find(report, "flask-sqlalchemy");
    find(report, "lodash");
    assert_eq!(layer_digests.len(), image.layers.len());
    assert_eq!(find(report, "lodash").layer, layer_digests[1]);

    let by_digest = scan(
        &target(&format!(
            "127.0.0.1:{port}/team/app@{}",
            report.inventory.artifact.digest
        )),
        &options,
    )
    .unwrap();
    assert_eq!(names(&by_digest[0]), names(report));

    let missing = scan(
        &target(&format!("127.0.0.1:{port}/team/app:nope")),
        &options,
    )
    .unwrap_err()
    .to_string();
    assert!(
        missing.contains("404") && missing.contains("MANIFEST_UNKNOWN"),
        "{missing}"
    );
}

/// A minimal registry speaking just enough of the distribution API, behind
/// Docker token auth: `/token` wants basic `alice:secret` and hands out a
/// bearer token the `/v2/` routes require. With `basic_only` the `/v2/`
/// routes challenge for and accept basic `alice:secret` instead.
struct TokenRegistry {
    port: u16,
    requests: Arc<std::sync::Mutex<Vec<String>>>,
}

fn start_token_registry(
    image: &BuiltImage,
    corrupt_layer: bool,
    basic_only: bool,
) -> TokenRegistry {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut blobs: BTreeMap<String, (Vec<u8>, &'static str)> = BTreeMap::new();
    blobs.insert(
        "/v2/app/manifests/v1".to_string(),
        (
            image.manifest.clone(),
            "application/vnd.oci.image.manifest.v1+json",
        ),
    );
    blobs.insert(
        format!("/v2/app/manifests/{}", image.manifest_digest),
        (
            image.manifest.clone(),
            "application/vnd.oci.image.manifest.v1+json",
        ),
    );
    blobs.insert(
        format!("/v2/app/blobs/{}", image.config_digest),
        (image.config.clone(), "application/octet-stream"),
    );
    for layer in &image.layers {
        let mut blob = layer.blob.clone();
        if corrupt_layer {
            let last = blob.len() - 1;
            blob[last] ^= 0xff;
        }
        blobs.insert(
            format!("/v2/app/blobs/{}", layer.digest),
            (blob, "application/octet-stream"),
        );
    }
    let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&requests);
    let accepted = if basic_only {
        format!("Basic {}", base64_encode(b"alice:secret"))
    } else {
        "Bearer t0k3n".to_string()
    };
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut headers = BTreeMap::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
                }
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .to_string();
            log.lock().unwrap().push(path.clone());
            let authorization = headers.get("authorization").cloned().unwrap_or_default();
            let (status, content_type, body, extra): (&str, &str, Vec<u8>, String) = if path
                .starts_with("/token")
            {
                let expected = format!("Basic {}", base64_encode(b"alice:secret"));
                if authorization == expected
                    && path.contains("scope=repository%3Aapp%3Apull")
                    && path.contains("service=fixture")
                {
                    (
                        "200 OK",
                        "application/json",
                        br#"{"token":"t0k3n"}"#.to_vec(),
                        String::new(),
                    )
                } else {
                    (
                        "401 Unauthorized",
                        "application/json",
                        b"{}".to_vec(),
                        String::new(),
                    )
                }
            } else if authorization != accepted {
                let challenge = if basic_only {
                    "WWW-Authenticate: Basic realm=\"fixture\"\r\n".to_string()
                } else {
                    format!(
                        "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"fixture\",scope=\"repository:app:pull\"\r\n"
                    )
                };
                (
                    "401 Unauthorized",
                    "application/json",
                    br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#
                        .to_vec(),
                    challenge,
                )
            } else if let Some((body, content_type)) = blobs.get(&path) {
                ("200 OK", *content_type, body.clone(), String::new())
            } else {
                (
                    "404 Not Found",
                    "application/json",
                    br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}"#.to_vec(),
                    String::new(),
                )
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
            let _ = stream.flush();
        }
    });
    TokenRegistry { port, requests }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn registry_options(credentials: Option<Credentials>, docker_config: PathBuf) -> ScanOptions {
    ScanOptions {
        registry: RegistryOptions {
            insecure: true,
            credentials,
            docker_config: Some(docker_config),
            timeout: Some(Duration::from_secs(30)),
        },
        ..ScanOptions::default()
    }
}

#[test]
fn registry_token_auth_with_credentials_from_docker_config() {
    let image = fixture_image().build();
    let server = start_token_registry(&image, false, false);
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"auths":{{"127.0.0.1:{}":{{"auth":"{}"}}}}}}"#,
            server.port,
            base64_encode(b"alice:secret")
        ),
    )
    .unwrap();
    let reports = scan(
        &target(&format!("127.0.0.1:{}/app:v1", server.port)),
        &registry_options(None, config),
    )
    .unwrap();
    assert_eq!(reports[0].inventory.artifact.digest, image.manifest_digest);
    assert_fixture_inventory(
        &reports[0],
        &image,
        &image.layers[0].digest,
        &image.layers[1].digest,
    );
    let requests = server.requests.lock().unwrap().clone();
    assert_eq!(
        requests
            .iter()
            .filter(|path| path.starts_with("/token"))
            .count(),
        1,
        "the token is reused: {requests:?}"
    );
}

#[test]
fn registry_token_auth_rejects_wrong_credentials() {
    let image = fixture_image().build();
    let server = start_token_registry(&image, false, false);
    let home = tempfile::tempdir().unwrap();
    let wrong = Credentials {
        username: "alice".into(),
        password: "wrong".into(),
    };
    let error = scan(
        &target(&format!("127.0.0.1:{}/app:v1", server.port)),
        &registry_options(Some(wrong), home.path().join("none.json")),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("authenticating to 127.0.0.1") && error.contains("401"),
        "{error}"
    );
}

#[test]
fn registry_blob_that_does_not_match_its_digest_fails() {
    let image = OciLayoutBuilder::new()
        .layer(base_layer(), LayerCompression::None)
        .build();
    let server = start_token_registry(&image, true, false);
    let home = tempfile::tempdir().unwrap();
    let credentials = Credentials {
        username: "alice".into(),
        password: "secret".into(),
    };
    let error = scan(
        &target(&format!("127.0.0.1:{}/app:v1", server.port)),
        &registry_options(Some(credentials), home.path().join("none.json")),
    )
    .unwrap_err();
    assert!(
        matches!(
            &error,
            ScanError::Layer {
                source: SourceError::DigestMismatch { .. },
                ..
            }
        ),
        "expected a digest mismatch, got {error}"
    );
}

#[test]
fn registry_basic_auth_with_explicit_credentials() {
    let image = fixture_image().build();
    let server = start_token_registry(&image, false, true);
    let home = tempfile::tempdir().unwrap();
    let none = home.path().join("none.json");
    let reference = target(&format!("127.0.0.1:{}/app:v1", server.port));

    let error = scan(&reference, &registry_options(None, none.clone()))
        .unwrap_err()
        .to_string();
    assert!(error.contains("credentials required"), "{error}");

    let credentials = Credentials {
        username: "alice".into(),
        password: "secret".into(),
    };
    let reports = scan(&reference, &registry_options(Some(credentials), none)).unwrap();
    assert_fixture_inventory(
        &reports[0],
        &image,
        &image.layers[0].digest,
        &image.layers[1].digest,
    );
    let requests = server.requests.lock().unwrap().clone();
    assert!(
        requests.iter().all(|path| !path.starts_with("/token")),
        "basic auth needs no token: {requests:?}"
    );
}
