//! End-to-end tests: the real `airlock` binary, driven by the real clients
//! from Debian's packages (skopeo to push and pull, umoci to build images).
//!
//! Each test starts its own server on a free loopback port over its own
//! temporary data directory, so the tests run in parallel and never share
//! state. When skopeo or umoci is missing the tests are skipped with a loud
//! banner, except under CI (`CI` set), where they fail.
//!
//! Anonymous access is off: skopeo logs in as the bootstrap admin, raw HTTP
//! calls carry the admin's bearer token, and repositories live under
//! `unscanned/<tenant>/` (which the admin may push to and pull from).

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{
    ADMIN_PASSWORD, AIRLOCK, ChildGuard, Layout, OCI_INDEX, OCI_MANIFEST, Server, admin_creds,
    free_port, fresh_seed, http, metric_sum, pull_layout, push_layout, raw_manifest,
    require_skopeo_and_umoci, require_tools, run, sha256, sha256_file, skopeo, staged_upload_bytes,
    stored_blob_path, write_random_file,
};

const MANIFEST_ACCEPT: &str =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("airlock-e2e-")
        .tempdir()
        .expect("create a temporary directory")
}

/// Asserts that `pulled` holds the manifest `digest` and every blob it names,
/// byte for byte as in `pushed`.
fn assert_same_image(pushed: &Layout, pulled: &Layout, digest: &str) {
    assert_eq!(
        pulled.blob(digest),
        pushed.blob(digest),
        "manifest {digest} differs after the round trip"
    );
    for blob in pushed.image_blobs(digest) {
        let bytes = pulled.blob(&blob);
        assert_eq!(
            sha256(&bytes),
            blob,
            "pulled blob does not hash to its digest"
        );
        assert!(
            bytes == pushed.blob(&blob),
            "blob {blob} differs after the round trip"
        );
    }
}

/// `Authorization` value for the admin with `actions` (e.g. `pull,push`) on
/// `repository`.
fn admin_bearer(server: &Server, repository: &str, actions: &str) -> String {
    let scope = format!("repository:{repository}:{actions}");
    format!("Bearer {}", server.admin_token(&[&scope]))
}

/// `skopeo list-tags` as the admin, sorted.
fn list_tags(server: &Server, repository: &str) -> Vec<String> {
    let output = skopeo(&[
        "list-tags",
        "--tls-verify=false",
        "--creds",
        &admin_creds(),
        &server.docker_ref(repository),
    ]);
    let listing: Value = serde_json::from_slice(&output.stdout).expect("list-tags prints JSON");
    let mut tags: Vec<String> = listing["Tags"]
        .as_array()
        .expect("list-tags has Tags")
        .iter()
        .map(|t| t.as_str().expect("tag is a string").to_owned())
        .collect();
    tags.sort();
    tags
}

fn get_manifest(server: &Server, repository: &str, reference: &str) -> reqwest::blocking::Response {
    http()
        .get(server.url(&format!("/v2/{repository}/manifests/{reference}")))
        .header("accept", MANIFEST_ACCEPT)
        .header("authorization", admin_bearer(server, repository, "pull"))
        .send()
        .expect("GET manifest")
}

fn blob_status(server: &Server, repository: &str, digest: &str) -> u16 {
    http()
        .head(server.url(&format!("/v2/{repository}/blobs/{digest}")))
        .header("authorization", admin_bearer(server, repository, "pull"))
        .send()
        .expect("HEAD blob")
        .status()
        .as_u16()
}

/// Runs `airlock` with `args` and `env`, waits at most 20 s, and returns its
/// exit status and stderr.
fn run_airlock(
    args: &[&str],
    env: &[(&str, &str)],
    scratch: &Path,
) -> (std::process::ExitStatus, String) {
    let stderr_path = scratch.join(format!("stderr-{}.txt", fresh_seed()));
    let stderr = std::fs::File::create(&stderr_path).expect("create the stderr file");
    let mut command = Command::new(AIRLOCK);
    command
        .args(args)
        .env_remove("AIRLOCK_LISTEN")
        .env_remove("AIRLOCK_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = ChildGuard(Some(command.spawn().expect("start airlock")));
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child
            .0
            .as_mut()
            .expect("child")
            .try_wait()
            .expect("poll airlock")
        {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "airlock {args:?} was expected to exit but is still running"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(child);
    (
        status,
        std::fs::read_to_string(&stderr_path).unwrap_or_default(),
    )
}

#[test]
fn umoci_image_round_trips_through_skopeo_byte_identical() {
    if !require_skopeo_and_umoci("umoci_image_round_trips_through_skopeo_byte_identical") {
        return;
    }
    let work = tempdir();
    let source = Layout::init(&work.path().join("source"));
    source.random_image("1.0", work.path(), 256 * 1024, fresh_seed());
    let etc = work.path().join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("os-release"), "ID=airlock-e2e\n").unwrap();
    source.insert("1.0", &etc, "/etc");
    let pushed = source.digest("1.0");

    let server = Server::start(&work.path().join("data"), &[]);
    let reference = server.docker_ref("unscanned/team-a/app:1.0");
    push_layout(&source.dir, "1.0", &reference, &["--preserve-digests"]);

    // The registry serves the manifest exactly as pushed.
    assert_eq!(
        sha256(&raw_manifest(&reference)),
        pushed,
        "skopeo inspect --raw digest"
    );
    let response = get_manifest(&server, "unscanned/team-a/app", "1.0");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], OCI_MANIFEST);
    assert_eq!(response.headers()["docker-content-digest"], pushed.as_str());
    assert_eq!(response.bytes().unwrap().to_vec(), source.blob(&pushed));

    // And the pulled layout holds the same manifest and blobs, byte for byte.
    let pulled = Layout::open(&work.path().join("pulled"));
    pull_layout(&reference, &pulled.dir, "1.0");
    assert_eq!(pulled.digest("1.0"), pushed);
    assert_same_image(&source, &pulled, &pushed);
}

#[test]
fn zstd_compressed_image_keeps_zstd_layers() {
    if !require_skopeo_and_umoci("zstd_compressed_image_keeps_zstd_layers") {
        return;
    }
    let work = tempdir();
    let source = Layout::init(&work.path().join("source"));
    source.random_image("1.0", work.path(), 128 * 1024, fresh_seed());

    let server = Server::start(&work.path().join("data"), &[]);
    let reference = server.docker_ref("unscanned/team-a/zstd:1.0");
    push_layout(
        &source.dir,
        "1.0",
        &reference,
        &["--dest-compress-format", "zstd"],
    );

    let raw = raw_manifest(&reference);
    let manifest: Value = serde_json::from_slice(&raw).expect("manifest is JSON");
    let layers = manifest["layers"].as_array().expect("layers");
    assert!(!layers.is_empty());
    for layer in layers {
        let media_type = layer["mediaType"].as_str().expect("layer media type");
        assert!(
            media_type.ends_with("+zstd"),
            "layer stored as {media_type}, expected +zstd"
        );
    }

    let pulled = Layout::open(&work.path().join("pulled"));
    pull_layout(&reference, &pulled.dir, "1.0");
    let digest = pulled.digest("1.0");
    assert_eq!(digest, sha256(&raw), "pulled manifest is the stored one");
    for blob in pulled.image_blobs(&digest).iter().skip(1) {
        let bytes = pulled.blob(blob);
        assert_eq!(&sha256(&bytes), blob);
        assert_eq!(
            &bytes[..4],
            &[0x28, 0xb5, 0x2f, 0xfd],
            "layer {blob} is a zstd frame"
        );
    }
}

#[test]
fn multi_arch_index_is_pushed_with_all_children() {
    if !require_skopeo_and_umoci("multi_arch_index_is_pushed_with_all_children") {
        return;
    }
    let work = tempdir();
    let source = Layout::init(&work.path().join("source"));
    let seed = fresh_seed();
    let mut children = Vec::new();
    for (n, architecture) in ["amd64", "arm64"].into_iter().enumerate() {
        source.random_image(architecture, work.path(), 32 * 1024, seed + n as u64);
        source.set_architecture(architecture, architecture);
        let descriptor = source.descriptor(architecture);
        children.push(serde_json::json!({
            "mediaType": OCI_MANIFEST,
            "digest": descriptor["digest"],
            "size": descriptor["size"],
            "platform": { "architecture": architecture, "os": "linux" },
        }));
    }
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": children,
    }))
    .unwrap();
    let index_digest = source.add_tagged_blob("multi", OCI_INDEX, &index);

    let server = Server::start(&work.path().join("data"), &[]);
    let repository = "unscanned/team-a/multi";
    push_layout(
        &source.dir,
        "multi",
        &server.docker_ref(&format!("{repository}:1.0")),
        &["--all", "--preserve-digests"],
    );

    let response = get_manifest(&server, repository, "1.0");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], OCI_INDEX);
    assert_eq!(
        response.headers()["docker-content-digest"],
        index_digest.as_str()
    );
    assert_eq!(
        response.bytes().unwrap().to_vec(),
        index,
        "index stored byte for byte"
    );
    for architecture in ["amd64", "arm64"] {
        let child = source.digest(architecture);
        let response = get_manifest(&server, repository, &child);
        assert_eq!(
            response.status(),
            200,
            "child {architecture} retrievable by digest"
        );
        assert_eq!(response.bytes().unwrap().to_vec(), source.blob(&child));
        for blob in source.image_blobs(&child) {
            assert_eq!(
                blob_status(&server, repository, &blob),
                200,
                "{architecture} blob {blob}"
            );
        }
    }
}

#[test]
fn cross_repository_copy_mounts_blobs_instead_of_uploading() {
    if !require_skopeo_and_umoci("cross_repository_copy_mounts_blobs_instead_of_uploading") {
        return;
    }
    let work = tempdir();
    let source = Layout::init(&work.path().join("source"));
    let layer_bytes = 2 * 1024 * 1024;
    source.random_image("1.0", work.path(), layer_bytes, fresh_seed());
    let digest = source.digest("1.0");
    let layer = source.image_blobs(&digest)[1].clone();

    let server = Server::start(&work.path().join("data"), &[]);
    push_layout(
        &source.dir,
        "1.0",
        &server.docker_ref("unscanned/team-a/app:1.0"),
        &["--preserve-digests"],
    );

    let before = server.metrics();
    let creds = admin_creds();
    skopeo(&[
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--src-creds",
        &creds,
        "--dest-creds",
        &creds,
        "--preserve-digests",
        &server.docker_ref("unscanned/team-a/app:1.0"),
        &server.docker_ref("unscanned/team-a/copy:1.0"),
    ]);
    let after = server.metrics();
    let uploaded = metric_sum(&after, "airlock_http_request_bytes_total", &[])
        - metric_sum(&before, "airlock_http_request_bytes_total", &[]);
    assert!(
        uploaded < (layer_bytes / 4) as f64,
        "the copy sent {uploaded} bytes; a {layer_bytes}-byte layer should have been mounted"
    );
    let mounts = metric_sum(
        &after,
        "airlock_http_requests_total",
        &["route=\"upload_start\"", "status=\"201\""],
    ) - metric_sum(
        &before,
        "airlock_http_requests_total",
        &["route=\"upload_start\"", "status=\"201\""],
    );
    assert!(mounts >= 1.0, "no POST ?mount= answered 201");
    assert_eq!(
        sha256(&raw_manifest(
            &server.docker_ref("unscanned/team-a/copy:1.0")
        )),
        digest
    );
    assert_eq!(blob_status(&server, "unscanned/team-a/copy", &layer), 200);

    // The same by hand: the blob is invisible in another repository until mounted.
    let target = "unscanned/team-b/direct";
    assert_eq!(
        blob_status(&server, target, &layer),
        404,
        "blobs are visible per repository"
    );
    let mount_token = format!(
        "Bearer {}",
        server.admin_token(&[
            &format!("repository:{target}:pull,push"),
            "repository:unscanned/team-a/app:pull",
            "repository:unscanned/team-c/none:pull",
        ])
    );
    let response = http()
        .post(server.url(&format!(
            "/v2/{target}/blobs/uploads/?mount={layer}&from=unscanned/team-a/app"
        )))
        .header("authorization", &mount_token)
        .send()
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["docker-content-digest"], layer.as_str());
    assert_eq!(
        response.headers()["location"],
        format!("/v2/{target}/blobs/{layer}").as_str()
    );
    assert_eq!(blob_status(&server, target, &layer), 200);

    // Mounting from a repository that does not hold the blob falls back to an upload session.
    let response = http()
        .post(server.url(&format!(
            "/v2/{target}/blobs/uploads/?mount={layer}&from=unscanned/team-c/none"
        )))
        .header("authorization", &mount_token)
        .send()
        .unwrap();
    assert_eq!(response.status(), 202);
    assert!(response.headers().contains_key("location"));
}

#[test]
fn tags_pushed_with_skopeo_are_listed() {
    if !require_skopeo_and_umoci("tags_pushed_with_skopeo_are_listed") {
        return;
    }
    let work = tempdir();
    let source = Layout::init(&work.path().join("source"));
    source.random_image("1.0", work.path(), 16 * 1024, fresh_seed());
    let server = Server::start(&work.path().join("data"), &[]);
    let repository = "unscanned/team-a/payments/api";
    let mut expected = vec!["1.0", "1.1", "2.0", "latest", "v2.0.0-rc.1"];
    for tag in &expected {
        push_layout(
            &source.dir,
            "1.0",
            &server.docker_ref(&format!("{repository}:{tag}")),
            &["--preserve-digests"],
        );
    }
    expected.sort_unstable();
    assert_eq!(list_tags(&server, repository), expected);

    // Paginated listing carries a Link header to the next page.
    let response = http()
        .get(server.url(&format!("/v2/{repository}/tags/list?n=2")))
        .header("authorization", admin_bearer(&server, repository, "pull"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let link = response.headers()["link"].to_str().unwrap().to_owned();
    assert!(link.contains("rel=\"next\""), "{link}");
    let page: Value = response.json().unwrap();
    assert_eq!(page["tags"], serde_json::json!(["1.0", "1.1"]));
}

#[test]
fn gc_after_manifest_delete_removes_only_unshared_blobs_while_serving() {
    if !require_skopeo_and_umoci(
        "gc_after_manifest_delete_removes_only_unshared_blobs_while_serving",
    ) {
        return;
    }
    let work = tempdir();
    let source = Layout::init(&work.path().join("source"));
    let seed = fresh_seed();
    source.random_image("base", work.path(), 64 * 1024, seed);
    for (n, tag) in ["a", "b"].into_iter().enumerate() {
        source.tag("base", tag);
        let rootfs = work.path().join(format!("unique-{tag}"));
        std::fs::create_dir_all(&rootfs).unwrap();
        write_random_file(&rootfs.join("unique.bin"), 64 * 1024, seed + 1 + n as u64);
        source.insert(tag, &rootfs, "/unique");
    }
    let (digest_a, digest_b) = (source.digest("a"), source.digest("b"));
    let (blobs_a, blobs_b) = (source.image_blobs(&digest_a), source.image_blobs(&digest_b));
    let shared: Vec<&String> = blobs_a.iter().filter(|d| blobs_b.contains(d)).collect();
    let only_a: Vec<&String> = blobs_a.iter().filter(|d| !blobs_b.contains(d)).collect();
    assert_eq!(shared.len(), 1, "the base layer is shared");
    assert_eq!(only_a.len(), 2, "a has its own config and layer");

    let data = work.path().join("data");
    let server = Server::start(&data, &[]);
    let repository = "unscanned/team-a/gc";
    for tag in ["a", "b"] {
        push_layout(
            &source.dir,
            tag,
            &server.docker_ref(&format!("{repository}:{tag}")),
            &["--preserve-digests"],
        );
    }
    for blob in blobs_a.iter().chain(&blobs_b) {
        assert!(
            stored_blob_path(&data, blob).is_file(),
            "{blob} stored after the push"
        );
    }

    let response = http()
        .delete(server.url(&format!("/v2/{repository}/manifests/{digest_a}")))
        .header("authorization", admin_bearer(&server, repository, "delete"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(get_manifest(&server, repository, &digest_a).status(), 404);

    // gc runs beside the live server.
    let output = support::airlock_command(&data)
        .args(["gc", "--data-dir", data.to_str().unwrap(), "--grace", "0s"])
        .stdin(Stdio::null())
        .output()
        .expect("run airlock gc");
    assert!(output.status.success(), "airlock gc: {output:?}");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(report.contains("gc removed"), "{report}");
    for blob in &only_a {
        assert!(
            !stored_blob_path(&data, blob).exists(),
            "blob {blob} of the deleted manifest survived gc"
        );
    }
    for blob in &blobs_b {
        assert!(
            stored_blob_path(&data, blob).is_file(),
            "blob {blob} of the kept image was collected"
        );
    }

    // The server still serves the other image in full.
    assert_eq!(list_tags(&server, repository), vec!["b".to_owned()]);
    let pulled = Layout::open(&work.path().join("pulled"));
    pull_layout(
        &server.docker_ref(&format!("{repository}:b")),
        &pulled.dir,
        "b",
    );
    assert_same_image(&source, &pulled, &digest_b);
}

#[test]
fn restart_after_sigterm_keeps_everything_pullable() {
    if !require_skopeo_and_umoci("restart_after_sigterm_keeps_everything_pullable") {
        return;
    }
    let work = tempdir();
    let source = Layout::init(&work.path().join("source"));
    source.random_image("1.0", work.path(), 64 * 1024, fresh_seed());
    let digest = source.digest("1.0");
    let data = work.path().join("data");
    let repository = "unscanned/team-a/app";

    let server = Server::start(&data, &[]);
    for tag in ["1.0", "stable"] {
        push_layout(
            &source.dir,
            "1.0",
            &server.docker_ref(&format!("{repository}:{tag}")),
            &["--preserve-digests"],
        );
    }
    let tags = list_tags(&server, repository);
    let status = server.terminate();
    assert!(
        status.success(),
        "SIGTERM must stop airlock with exit status 0, got {status}"
    );

    let server = Server::start(&data, &[]);
    assert!(server.logs().contains("airlock is serving the registry"));
    assert_eq!(list_tags(&server, repository), tags);
    let pulled = Layout::open(&work.path().join("pulled"));
    pull_layout(
        &server.docker_ref(&format!("{repository}:stable")),
        &pulled.dir,
        "stable",
    );
    assert_eq!(pulled.digest("stable"), digest);
    assert_same_image(&source, &pulled, &digest);
}

#[test]
fn kill_during_large_upload_leaves_no_partial_blob() {
    if !require_tools(
        "kill_during_large_upload_leaves_no_partial_blob",
        &[("curl", "curl")],
    ) {
        return;
    }
    let work = tempdir();
    let blob_path = work.path().join("large.bin");
    write_random_file(&blob_path, 200 * 1024 * 1024, fresh_seed());
    let digest = sha256_file(&blob_path);
    let data = work.path().join("data");
    let repository = "unscanned/team-a/large";

    let server = Server::start(&data, &[]);
    let client = http();
    let bearer = admin_bearer(&server, repository, "pull,push");
    let response = client
        .post(server.url(&format!("/v2/{repository}/blobs/uploads/")))
        .header("authorization", &bearer)
        .send()
        .unwrap();
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let id = location.rsplit('/').next().unwrap().to_owned();

    // Stream the blob slowly and kill the server once a good part has arrived.
    let curl = Command::new("curl")
        .args([
            "--silent",
            "--noproxy",
            "*",
            "--limit-rate",
            "40M",
            "-X",
            "PATCH",
        ])
        .arg("-H")
        .arg(format!("Authorization: {bearer}"))
        .args(["-H", "Content-Type: application/octet-stream", "-T"])
        .arg(&blob_path)
        .arg(server.url(&location))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start curl");
    let curl = ChildGuard(Some(curl));
    let deadline = Instant::now() + Duration::from_secs(60);
    while staged_upload_bytes(&data, &id) < 32 * 1024 * 1024 {
        assert!(
            Instant::now() < deadline,
            "the upload did not reach 32 MiB in 60s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill_hard();
    let curl_status = curl.wait();
    assert!(
        !curl_status.success(),
        "the interrupted upload must fail on the client side"
    );
    let staged_size = staged_upload_bytes(&data, &id);
    assert!(
        staged_size < 200 * 1024 * 1024,
        "the upload was meant to be cut short"
    );
    assert!(
        !stored_blob_path(&data, &digest).exists(),
        "a partial upload became a blob"
    );

    let server = Server::start(&data, &[]);
    assert_eq!(
        blob_status(&server, repository, &digest),
        404,
        "no partial blob is visible after the crash"
    );
    assert!(!stored_blob_path(&data, &digest).exists());

    // The client pushes the same blob again: session, one PATCH, PUT ?digest=.
    // The signing key survived the crash, so the token still holds.
    let response = client
        .post(server.url(&format!("/v2/{repository}/blobs/uploads/")))
        .header("authorization", &bearer)
        .send()
        .unwrap();
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let patch = run(
        "curl",
        &[
            "--silent",
            "--show-error",
            "--fail",
            "--noproxy",
            "*",
            "-X",
            "PATCH",
            "-H",
            &format!("Authorization: {bearer}"),
            "-H",
            "Content-Type: application/octet-stream",
            "-T",
            blob_path.to_str().unwrap(),
            "-D",
            "-",
            "-o",
            "/dev/null",
            &server.url(&location),
        ],
    );
    let headers = String::from_utf8_lossy(&patch.stdout).to_lowercase();
    assert!(
        headers.contains(&format!("range: 0-{}", 200 * 1024 * 1024 - 1)),
        "{headers}"
    );
    let response = client
        .put(server.url(&format!("{location}?digest={digest}")))
        .header("authorization", &bearer)
        .send()
        .unwrap();
    assert_eq!(
        response.status(),
        201,
        "{}",
        response.text().unwrap_or_default()
    );

    assert_eq!(blob_status(&server, repository, &digest), 200);
    let downloaded = work.path().join("downloaded.bin");
    run(
        "curl",
        &[
            "--silent",
            "--show-error",
            "--fail",
            "--noproxy",
            "*",
            "-H",
            &format!("Authorization: {bearer}"),
            "-o",
            downloaded.to_str().unwrap(),
            &server.url(&format!("/v2/{repository}/blobs/{digest}")),
        ],
    );
    assert_eq!(
        std::fs::metadata(&downloaded).unwrap().len(),
        200 * 1024 * 1024
    );
    assert_eq!(
        sha256_file(&downloaded),
        digest,
        "the blob read back is byte-identical"
    );
    assert_eq!(sha256_file(&stored_blob_path(&data, &digest)), digest);
}

#[test]
fn serve_rejects_an_invalid_listen_address() {
    let work = tempdir();
    let data = work.path().join("data");
    let (status, stderr) = run_airlock(
        &[
            "serve",
            "--listen",
            "not-an-address",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
        work.path(),
    );
    assert!(!status.success());
    assert!(
        stderr.contains("invalid listen address \"not-an-address\""),
        "{stderr}"
    );
}

#[test]
fn serve_rejects_an_unknown_config_key() {
    let work = tempdir();
    let config = work.path().join("airlock.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\nlisten_adress = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let data = work.path().join("data");
    let (status, stderr) = run_airlock(
        &[
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
        work.path(),
    );
    assert!(!status.success());
    assert!(
        stderr.contains("unknown field") && stderr.contains("listen_adress"),
        "{stderr}"
    );
    assert!(
        stderr.contains(config.to_str().unwrap()),
        "the message names the file: {stderr}"
    );
}

#[test]
fn airlock_listen_environment_variable_sets_the_address() {
    let work = tempdir();
    let data = work.path().join("data");
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let listen = addr.to_string();
    let server = Server::spawn(
        &data,
        addr,
        &["serve", "--data-dir", data.to_str().unwrap()],
        &[("AIRLOCK_LISTEN", listen.as_str())],
    );
    let token = server.admin_token(&[]);
    let response = http()
        .get(server.url("/v2/"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["docker-distribution-api-version"],
        "registry/2.0"
    );
}

#[test]
fn json_log_format_writes_one_json_object_per_line() {
    let work = tempdir();
    let server = Server::start(&work.path().join("data"), &["--log-format", "json"]);
    let token = server.admin_token(&[]);
    let response = http()
        .get(server.url("/v2/"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let log = server.log.clone();
    assert!(server.terminate().success());
    let text = std::fs::read_to_string(log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
        })
        .collect();
    assert!(
        lines.len() >= 2,
        "expected start and stop lines, got:\n{text}"
    );
    for line in &lines {
        assert!(
            line["level"].is_string() && line["timestamp"].is_string(),
            "{line}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "airlock is serving the registry"),
        "{text}"
    );
}

#[test]
fn scan_pulls_an_image_pushed_with_skopeo_from_airlock_itself() {
    if !require_skopeo_and_umoci("scan_pulls_an_image_pushed_with_skopeo_from_airlock_itself") {
        return;
    }
    let work = tempdir();
    let source = Layout::init(&work.path().join("source"));
    source.new_image("1.0");
    let rootfs = work.path().join("rootfs");
    let dist_info = rootfs.join("lib/python3/dist-packages/requests-2.19.0.dist-info");
    std::fs::create_dir_all(&dist_info).unwrap();
    std::fs::write(
        dist_info.join("METADATA"),
        "Metadata-Version: 2.1\nName: requests\nVersion: 2.19.0\nLicense: Apache 2.0\n",
    )
    .unwrap();
    std::fs::create_dir_all(rootfs.join("etc")).unwrap();
    std::fs::write(
        rootfs.join("etc/os-release"),
        "ID=alpine\nVERSION_ID=3.19.1\n",
    )
    .unwrap();
    source.insert("1.0", &rootfs, "/usr");
    source.insert("1.0", &rootfs.join("etc"), "/etc");
    let server = Server::start(&work.path().join("data"), &[]);
    let reference = server.docker_ref("unscanned/team-a/scanme:1.0");
    push_layout(&source.dir, "1.0", &reference, &["--preserve-digests"]);
    let registry_reference = reference.trim_start_matches("docker://");

    let mut scan = Command::new(AIRLOCK)
        .args([
            "scan",
            registry_reference,
            "--insecure",
            "--username",
            "admin",
            "--password-stdin",
            "--inventory-only",
            "--no-cache",
            "--format",
            "json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run airlock scan");
    scan.stdin
        .take()
        .expect("piped stdin")
        .write_all(format!("{ADMIN_PASSWORD}\n").as_bytes())
        .expect("send the password to airlock scan");
    let output = scan.wait_with_output().expect("wait for airlock scan");
    assert!(
        output.status.success(),
        "scan failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("scan prints JSON");
    assert_eq!(report["artifact"]["digest"], source.digest("1.0"));
    assert_eq!(report["os"]["ecosystem"], "Alpine:v3.19");
    let packages = report["packages"].as_array().unwrap();
    assert!(
        packages.iter().any(|p| p["ecosystem"] == "PyPI"
            && p["name"] == "requests"
            && p["version"] == "2.19.0"
            && p["path"] == "usr/lib/python3/dist-packages/requests-2.19.0.dist-info/METADATA"),
        "{packages:#?}"
    );
}
