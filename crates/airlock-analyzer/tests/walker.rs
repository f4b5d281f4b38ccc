//! Walker and merge tests on layers built with the testkit: the realistic
//! path (several layers, several formats) and every hostile input the scanner
//! must survive with a precise error or a warning.

use std::io::Write;
use std::time::{Duration, Instant};

use airlock_analyzer::{LayerAnalysis, Limits, WalkError, analyze_layer, merge_layers};
use airlock_testkit::{LayerBuilder, LayerCompression, fixtures};

const TAR: &str = "application/vnd.oci.image.layer.v1.tar";
const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

fn analyze(blob: &[u8], media_type: &str) -> Result<LayerAnalysis, WalkError> {
    analyze_with(blob, media_type, &Limits::default())
}

fn analyze_with(
    blob: &[u8],
    media_type: &str,
    limits: &Limits,
) -> Result<LayerAnalysis, WalkError> {
    let mut used = 0;
    analyze_layer(blob, media_type, "sha256:layer", limits, &mut used)
}

fn names(layers: &[LayerAnalysis]) -> Vec<String> {
    merge_layers(layers)
        .1
        .into_iter()
        .map(|p| format!("{}@{}", p.name, p.version))
        .collect()
}

const OS_RELEASE: &str =
    "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n";

#[test]
fn a_debian_image_with_application_layers_is_inventoried() {
    let base = LayerBuilder::new()
        .dir("etc")
        .file("usr/lib/os-release", OS_RELEASE)
        .symlink("etc/os-release", "../usr/lib/os-release")
        .file("./var/lib/dpkg/status", fixtures::dpkg_status());
    let app = LayerBuilder::new()
        .file(
            "usr/local/lib/python3.11/site-packages/Flask_SQLAlchemy-3.1.1.dist-info/METADATA",
            fixtures::python_metadata(),
        )
        .file(
            "srv/app/node_modules/@babel/core/package.json",
            fixtures::npm_package_json("@babel/core", "7.23.6", "MIT"),
        )
        .file_with_mode("usr/local/bin/tool", fixtures::go_binary(), 0o755)
        .file("srv/app/target.jar", fixtures::jar_with_pom());
    let layers = [
        analyze(&base.gzip(), GZIP).unwrap(),
        analyze(&app.zstd(), ZSTD).unwrap(),
    ];
    assert!(layers[0].warnings.is_empty(), "{:?}", layers[0].warnings);
    let (os, packages) = merge_layers(&layers);
    assert_eq!(os.unwrap().ecosystem, "Debian:12");
    let libssl = packages.iter().find(|p| p.name == "libssl3").unwrap();
    assert_eq!(libssl.ecosystem, "Debian:12");
    assert_eq!(
        libssl.purl,
        "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12"
    );
    assert_eq!(libssl.path, "var/lib/dpkg/status");
    assert_eq!(libssl.layer, "sha256:layer");
    let ecosystems: std::collections::BTreeSet<&str> =
        packages.iter().map(|p| p.ecosystem.as_str()).collect();
    assert_eq!(
        ecosystems.into_iter().collect::<Vec<_>>(),
        ["Debian:12", "Go", "Maven", "PyPI", "npm"]
    );
    assert!(
        packages.windows(2).all(|w| w[0] < w[1]),
        "sorted and de-duplicated"
    );
}

#[test]
fn layer_analysis_round_trips_through_json() {
    let layer = analyze(
        &LayerBuilder::new()
            .file("lib/apk/db/installed", fixtures::apk_installed())
            .build_tar(),
        TAR,
    )
    .unwrap();
    let json = serde_json::to_string(&layer).unwrap();
    assert_eq!(serde_json::from_str::<LayerAnalysis>(&json).unwrap(), layer);
}

#[test]
fn a_package_deleted_by_a_later_whiteout_is_not_reported() {
    let dist_info = "usr/lib/python3/dist-packages/Flask_SQLAlchemy-3.1.1.dist-info";
    let lower = LayerBuilder::new()
        .file(
            &format!("{dist_info}/METADATA"),
            fixtures::python_metadata(),
        )
        .file(
            "app/node_modules/left-pad/package.json",
            fixtures::npm_package_json("left-pad", "1.3.0", "WTFPL"),
        )
        .file("lib/apk/db/installed", fixtures::apk_installed());
    let upper = LayerBuilder::new()
        .whiteout(dist_info)
        .opaque("app/node_modules")
        .file(
            "app/node_modules/right-pad/package.json",
            fixtures::npm_package_json("right-pad", "1.0.1", "MIT"),
        );
    let lower = analyze(&lower.gzip(), GZIP).unwrap();
    let upper = analyze(&upper.gzip(), GZIP).unwrap();
    assert_eq!(upper.whiteouts, [dist_info]);
    assert_eq!(upper.opaque_dirs, ["app/node_modules"]);
    assert!(
        upper.files.iter().all(|f| !f.path.contains(".wh.")),
        "whiteout markers are not files"
    );
    let before = names(std::slice::from_ref(&lower));
    assert!(
        before.contains(&"flask-sqlalchemy@3.1.1".to_string())
            && before.contains(&"left-pad@1.3.0".to_string())
    );
    let after = names(&[lower, upper]);
    assert_eq!(
        after,
        [
            "busybox@1.36.1-r15",
            "libcrypto3@3.1.4-r5",
            "musl@1.2.4_git20230717-r4",
            "right-pad@1.0.1"
        ]
    );
}

#[test]
fn a_later_layer_replaces_a_package_database() {
    let lower = LayerBuilder::new().file("lib/apk/db/installed", fixtures::apk_installed());
    let upper = LayerBuilder::new().file(
        "lib/apk/db/installed",
        "P:musl\nV:1.2.5-r0\nA:x86_64\no:musl\n\n",
    );
    let merged = names(&[
        analyze(&lower.build_tar(), TAR).unwrap(),
        analyze(&upper.build_tar(), TAR).unwrap(),
    ]);
    assert_eq!(merged, ["musl@1.2.5-r0"]);
}

#[test]
fn the_same_path_twice_in_one_layer_keeps_the_later_entry() {
    let layer = LayerBuilder::new()
        .file("lib/apk/db/installed", fixtures::apk_installed())
        .file("lib/apk/db/installed", "P:zlib\nV:1.3.1-r0\n\n");
    assert_eq!(
        names(&[analyze(&layer.build_tar(), TAR).unwrap()]),
        ["zlib@1.3.1-r0"]
    );
}

#[test]
fn path_traversal_entries_are_ignored_with_a_warning() {
    let layer = LayerBuilder::new()
        .file("../../etc/passwd", "root:x:0:0::/root:/bin/sh\n")
        .file("../../var/lib/dpkg/status", fixtures::dpkg_status())
        .file("ok/../../lib/apk/db/installed", fixtures::apk_installed());
    let analysis = analyze(&layer.build_tar(), TAR).unwrap();
    assert!(analysis.files.is_empty(), "{:?}", analysis.files);
    assert_eq!(analysis.warnings.len(), 3, "{:?}", analysis.warnings);
    assert!(
        analysis.warnings[0].contains("\"../../etc/passwd\" escapes the image root"),
        "{:?}",
        analysis.warnings
    );
}

#[test]
fn an_absolute_symlink_escaping_the_root_resolves_inside_the_image() {
    // `/../../../../srv/status` must mean `<image root>/srv/status`.
    let layer = LayerBuilder::new()
        .symlink("var/lib/dpkg/status", "/../../../../srv/status")
        .file("srv/status", fixtures::dpkg_status());
    let analysis = analyze(&layer.build_tar(), TAR).unwrap();
    assert!(analysis.warnings.is_empty(), "{:?}", analysis.warnings);
    let packages = merge_layers(&[analysis]).1;
    assert_eq!(packages.len(), 4);
    assert!(packages.iter().all(|p| p.path == "var/lib/dpkg/status"));

    // With no such file inside the image, nothing is read from anywhere else.
    let dangling = LayerBuilder::new().symlink("var/lib/dpkg/status", "/../../../../etc/passwd");
    let analysis = analyze(&dangling.build_tar(), TAR).unwrap();
    assert!(analysis.files.is_empty());
    assert_eq!(
        analysis.warnings,
        ["link var/lib/dpkg/status -> etc/passwd: the target is not in this layer; not followed"]
    );
}

#[test]
fn a_hardlink_to_a_missing_target_is_a_warning() {
    let layer = LayerBuilder::new()
        .hardlink("var/lib/dpkg/status", "var/lib/dpkg/missing")
        .file("lib/apk/db/installed", fixtures::apk_installed());
    let analysis = analyze(&layer.build_tar(), TAR).unwrap();
    assert_eq!(
        analysis.warnings,
        ["hardlink var/lib/dpkg/status points to missing target var/lib/dpkg/missing; ignored"]
    );
    assert_eq!(merge_layers(&[analysis]).1.len(), 3);
}

#[test]
fn a_hardlink_to_an_unread_earlier_file_is_reported_not_followed() {
    // The target streamed by before anyone wanted it and the layer is read
    // once: the walker says so instead of silently missing the database.
    let layer = LayerBuilder::new()
        .file("usr/share/backup/status", fixtures::dpkg_status())
        .hardlink("var/lib/dpkg/status", "./usr/share/backup/status");
    let analysis = analyze(&layer.build_tar(), TAR).unwrap();
    assert!(analysis.files.is_empty());
    assert_eq!(
        analysis.warnings,
        [
            "link var/lib/dpkg/status -> usr/share/backup/status: the target was not kept in memory; not followed"
        ]
    );
}

#[test]
fn links_between_paths_one_analyzer_reads_are_not_analysed_twice() {
    let metadata = "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA";
    let layer = LayerBuilder::new()
        .file(
            metadata,
            "Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n",
        )
        .hardlink("opt/app/six-1.16.0.dist-info/METADATA", metadata)
        .symlink("srv/old/Cargo.lock", "/usr/share/cargo/Cargo.lock")
        .file("usr/share/cargo/Cargo.lock", fixtures::cargo_lock());
    let analysis = analyze(&layer.build_tar(), TAR).unwrap();
    assert!(analysis.warnings.is_empty(), "{:?}", analysis.warnings);
    let paths: Vec<&str> = analysis.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [metadata, "usr/share/cargo/Cargo.lock"],
        "both analyzers want both paths: nothing is analysed twice"
    );
}

/// A gzip-compressed tar holding one file of `size` zero bytes, streamed so
/// the test never holds the expanded data.
fn zeros_layer_gzip(size: u64) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut header = tar::Header::new_gnu();
    header.set_path("zeros.bin").unwrap();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_cksum();
    encoder.write_all(header.as_bytes()).unwrap();
    let chunk = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        encoder.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
    encoder.write_all(&[0u8; 1024]).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn a_gzip_bomb_stops_at_max_layer_bytes() {
    let bomb = zeros_layer_gzip(200 << 20);
    assert!(bomb.len() < 4 << 20, "small compressed: {}", bomb.len());
    let limits = Limits {
        max_layer_bytes: 50 << 20,
        ..Limits::default()
    };
    let mut used = 0;
    let error =
        analyze_layer(bomb.as_slice(), GZIP, "sha256:bomb", &limits, &mut used).unwrap_err();
    assert!(
        matches!(error, WalkError::LayerTooLarge { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "layer sha256:bomb exceeds the decompressed-size limit of 52428800 bytes (max_layer_bytes)"
    );
    assert!(
        used > 50 << 20 && used < 60 << 20,
        "stopped soon after the limit: {used}"
    );
}

#[test]
fn the_image_limit_counts_across_layers() {
    let layer = zeros_layer_gzip(3 << 20);
    let limits = Limits {
        max_image_bytes: 5 << 20,
        ..Limits::default()
    };
    let mut used = 0;
    analyze_layer(layer.as_slice(), GZIP, "sha256:one", &limits, &mut used).unwrap();
    assert!(used >= 3 << 20);
    let error =
        analyze_layer(layer.as_slice(), GZIP, "sha256:two", &limits, &mut used).unwrap_err();
    assert!(
        error.to_string().contains("(max_image_bytes)") && error.to_string().contains("sha256:two"),
        "{error}"
    );
}

#[test]
fn a_truncated_gzip_is_a_truncation_error() {
    let blob = LayerBuilder::new()
        .file("var/lib/dpkg/status", fixtures::dpkg_status())
        .file("big.bin", vec![7u8; 64 << 10])
        .gzip();
    for cut in [blob.len() / 2, blob.len() - 4] {
        let error = analyze(&blob[..cut], GZIP).unwrap_err();
        assert!(
            matches!(error, WalkError::Truncated { .. }),
            "cut at {cut}: {error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with("layer sha256:layer is truncated"),
            "{error}"
        );
    }
}

#[test]
fn corrupt_gzip_data_is_a_compression_error() {
    let mut blob = LayerBuilder::new()
        .file("a", vec![1u8; 4096])
        .file("b", "x")
        .gzip();
    let crc = blob.len() - 8;
    blob[crc] ^= 0xff;
    let error = analyze(&blob, GZIP).unwrap_err();
    assert!(
        matches!(error, WalkError::CorruptCompression { .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("layer sha256:layer has a corrupt gzip stream"),
        "{error}"
    );
}

#[test]
fn a_malformed_tar_header_is_a_tar_error() {
    let mut tar = LayerBuilder::new()
        .file("etc/os-release", OS_RELEASE)
        .build_tar();
    tar[148..156].copy_from_slice(b"9999999\0"); // the header checksum
    let error = analyze(&tar, TAR).unwrap_err();
    assert!(matches!(error, WalkError::MalformedTar { .. }), "{error:?}");
    assert!(error.to_string().contains("malformed tar"), "{error}");
}

#[test]
fn a_truncated_plain_tar_entry_is_a_truncation_error() {
    let tar = LayerBuilder::new()
        .file("var/lib/dpkg/status", fixtures::dpkg_status())
        .build_tar();
    let error = analyze(&tar[..1024], TAR).unwrap_err();
    assert!(matches!(error, WalkError::Truncated { .. }), "{error:?}");
}

#[test]
fn a_malformed_status_file_is_a_warning_not_a_failure() {
    let layer = LayerBuilder::new()
        .file(
            "var/lib/dpkg/status",
            b"\x00\xff\x00 this: is\n\nnot a dpkg database\n".as_slice(),
        )
        .file("etc/os-release", OS_RELEASE);
    let analysis = analyze(&layer.gzip(), GZIP).unwrap();
    assert_eq!(analysis.warnings.len(), 1);
    assert!(
        analysis.warnings[0]
            .starts_with("analyzer dpkg could not read var/lib/dpkg/status: malformed dpkg status"),
        "{:?}",
        analysis.warnings
    );
    let (os, packages) = merge_layers(&[analysis]);
    assert!(os.is_some());
    assert!(packages.is_empty());
}

#[test]
fn a_media_type_that_lies_about_compression_is_rejected() {
    let layer = LayerBuilder::new().file("etc/os-release", OS_RELEASE);
    let cases = [
        (layer.gzip(), TAR, "tar", "gzip"),
        (layer.build_tar(), GZIP, "gzip", "tar"),
        (layer.zstd(), GZIP, "gzip", "zstd"),
        (layer.gzip(), ZSTD, "zstd", "gzip"),
    ];
    for (blob, media_type, declared, found) in cases {
        let error = analyze(&blob, media_type).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("layer sha256:layer declares {declared} compression but its bytes are {found}")
        );
    }
    let error = analyze(
        &layer.build_tar(),
        "application/vnd.oci.image.config.v1+json",
    )
    .unwrap_err();
    assert!(matches!(error, WalkError::UnsupportedMediaType { .. }));
}

#[test]
fn every_layer_encoding_gives_the_same_analysis() {
    let layer = LayerBuilder::new().file("lib/apk/db/installed", fixtures::apk_installed());
    let plain = analyze(&layer.build_tar(), TAR).unwrap();
    assert_eq!(analyze(&layer.gzip(), GZIP).unwrap(), plain);
    assert_eq!(analyze(&layer.zstd(), ZSTD).unwrap(), plain);
    assert_eq!(
        analyze(
            &layer.build_tar(),
            "application/vnd.docker.image.rootfs.diff.tar"
        )
        .unwrap(),
        plain
    );
    assert_eq!(LayerCompression::Zstd.media_type(), ZSTD);
}

#[test]
fn entry_count_file_size_and_deadline_limits_name_themselves() {
    let layer = LayerBuilder::new()
        .file("a", "1")
        .file("b", "2")
        .file("var/lib/dpkg/status", fixtures::dpkg_status());
    let few_entries = Limits {
        max_entries: 2,
        ..Limits::default()
    };
    let error = analyze_with(&layer.build_tar(), TAR, &few_entries).unwrap_err();
    assert_eq!(
        error.to_string(),
        "layer sha256:layer has more than 2 tar entries (max_entries)"
    );

    let small_files = Limits {
        max_file_bytes: 100,
        ..Limits::default()
    };
    let error = analyze_with(&layer.build_tar(), TAR, &small_files).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("file var/lib/dpkg/status in layer sha256:layer is"),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .ends_with("larger than max_file_bytes (100)"),
        "{error}"
    );
    // Files nobody wants may be larger than max_file_bytes.
    let unwanted = LayerBuilder::new().file("big", vec![0u8; 1000]);
    assert!(analyze_with(&unwanted.build_tar(), TAR, &small_files).is_ok());

    let past = Limits {
        deadline: Instant::now().checked_sub(Duration::from_secs(1)),
        ..Limits::default()
    };
    let error = analyze_with(&layer.build_tar(), TAR, &past).unwrap_err();
    assert!(matches!(error, WalkError::DeadlineExceeded { .. }));
    assert!(error.to_string().contains("(deadline)"));
}

#[test]
fn binaries_are_read_only_when_executable_elf() {
    let go = fixtures::go_binary();
    let executable = LayerBuilder::new().file_with_mode("usr/bin/tool", &go, 0o755);
    let not_executable = LayerBuilder::new().file_with_mode("usr/share/tool", &go, 0o644);
    let script =
        LayerBuilder::new().file_with_mode("usr/bin/script", "#!/bin/sh\necho hi\n", 0o755);
    assert_eq!(
        names(&[analyze(&executable.build_tar(), TAR).unwrap()]).len(),
        4
    );
    assert!(
        analyze(&not_executable.build_tar(), TAR)
            .unwrap()
            .files
            .is_empty()
    );
    assert!(analyze(&script.build_tar(), TAR).unwrap().files.is_empty());
}

#[test]
fn an_empty_blob_is_an_empty_tar_but_a_truncated_gzip() {
    assert!(analyze(&[], TAR).unwrap().files.is_empty());
    assert!(matches!(
        analyze(&[], GZIP).unwrap_err(),
        WalkError::Truncated { .. }
    ));
}

/// Gzips `bytes` as one complete member (a valid gzip trailer).
fn gzip_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Debian's umoci 0.4.7 writes layers whose tar stream is never closed: the
/// last entry's data is whole but its padding and the end-of-archive blocks
/// are missing. GNU tar complains, yet every byte of every file is there and
/// the gzip trailer is valid; the scan must read them (found when scanning an
/// image pushed with skopeo from a umoci layout).
#[test]
fn regression_umoci_layers_without_end_of_archive_are_read() {
    let tar = LayerBuilder::new()
        .file("etc/os-release", OS_RELEASE)
        .file("var/lib/dpkg/status", fixtures::dpkg_status())
        .build_tar();
    let status_len = fixtures::dpkg_status().len();
    // Headers + data of both files, without the last file's padding and the two zero blocks.
    let os_release_blocks = OS_RELEASE.len().div_ceil(512) * 512;
    let unclosed = &tar[..512 + os_release_blocks + 512 + status_len];
    assert_ne!(
        status_len % 512,
        0,
        "the fixture must need padding for this test to mean anything"
    );
    let analysis =
        analyze(&gzip_bytes(unclosed), GZIP).expect("an unclosed tar stream is readable");
    assert!(
        analysis
            .warnings
            .iter()
            .any(|w| w.contains("ends without tar padding")),
        "{:?}",
        analysis.warnings
    );
    let (os, packages) = merge_layers(&[analysis]);
    assert!(os.is_some());
    assert!(packages.iter().any(|p| p.name == "libc6"), "{packages:?}");

    // A stream that ends inside the last entry's data is still truncated.
    let cut = &tar[..512 + os_release_blocks + 512 + status_len - 10];
    let error = analyze(&gzip_bytes(cut), GZIP).unwrap_err();
    assert!(matches!(error, WalkError::Truncated { .. }), "{error:?}");
}
