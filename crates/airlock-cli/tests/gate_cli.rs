//! `airlock policy` and `airlock exception` against a data directory: a
//! policy file with a mistake is refused naming its line, and the OS user
//! who requested an exception cannot approve it. `airlock wait` against a
//! running server, for an image pushed over raw HTTP.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::{ADMIN_PASSWORD, OCI_MANIFEST, Server, http, sha256};

fn airlock(data_dir: &Path, user: &str, args: &[&str]) -> Output {
    support::airlock_command(data_dir)
        .args(args)
        .env("AIRLOCK_DATA_DIR", data_dir)
        .env("USER", user)
        .output()
        .expect("run airlock")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn policy_set_names_the_line_of_a_mistake() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("policy.yaml");
    std::fs::write(
        &file,
        "ignore_unfixed: true\nblock_sevrity_at_or_above: high\n",
    )
    .unwrap();
    let output = airlock(&data, "alice", &["policy", "set", file.to_str().unwrap()]);
    assert!(!output.status.success(), "{output:?}");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(stderr.contains("block_sevrity_at_or_above"), "{stderr}");

    std::fs::write(&file, "block_severity_at_or_above: high\n").unwrap();
    let output = airlock(&data, "alice", &["policy", "set", file.to_str().unwrap()]);
    assert!(output.status.success(), "{output:?}");
    assert!(text(&output.stdout).contains("version 1"), "{output:?}");
    let output = airlock(&data, "alice", &["policy", "show"]);
    assert!(output.status.success(), "{output:?}");
    assert!(
        text(&output.stdout).contains("block_severity_at_or_above: high"),
        "{output:?}"
    );
}

#[test]
fn an_exception_is_approved_by_another_os_user_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let created = airlock(&data, "alice", &["tenant", "create", "acme"]);
    assert!(created.status.success(), "{created:?}");
    let requested = airlock(
        &data,
        "alice",
        &[
            "exception",
            "request",
            "--tenant",
            "acme",
            "--id",
            "CVE-2024-1234",
            "--reason",
            "not reachable",
            "--expires",
            "30d",
        ],
    );
    assert!(requested.status.success(), "{requested:?}");
    let id = text(&requested.stdout).trim().to_owned();
    assert!(id.starts_with("EXC-"), "{id}");

    let own = airlock(&data, "alice", &["exception", "approve", &id]);
    assert!(!own.status.success(), "{own:?}");
    assert!(
        text(&own.stderr).contains("must not be its requester"),
        "{own:?}"
    );
    let other = airlock(&data, "bob", &["exception", "approve", &id]);
    assert!(other.status.success(), "{other:?}");
    let listed = airlock(&data, "bob", &["exception", "list", "--tenant", "acme"]);
    assert!(text(&listed.stdout).contains("active"), "{listed:?}");
    let revoked = airlock(&data, "bob", &["exception", "revoke", &id]);
    assert!(revoked.status.success(), "{revoked:?}");
}

/// Pushes a one-layer image to `unscanned/team-a/app:v1`; returns its digest.
fn push_image(server: &Server) -> String {
    let repository = "unscanned/team-a/app";
    let token = server.admin_token(&[&format!("repository:{repository}:pull,push")]);
    let client = http();
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = sha256(config);
    let upload = client
        .post(server.url(&format!(
            "/v2/{repository}/blobs/uploads/?digest={config_digest}"
        )))
        .bearer_auth(&token)
        .header("content-type", "application/octet-stream")
        .body(config.to_vec())
        .send()
        .unwrap();
    assert_eq!(upload.status(), 201, "{:?}", upload.text());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": [],
    })
    .to_string();
    let put = client
        .put(server.url(&format!("/v2/{repository}/manifests/v1")))
        .bearer_auth(&token)
        .header("content-type", OCI_MANIFEST)
        .body(manifest.clone())
        .send()
        .unwrap();
    assert_eq!(put.status(), 201, "{:?}", put.text());
    sha256(manifest.as_bytes())
}

#[test]
fn wait_reports_the_gates_decision_on_a_tag() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let digest = push_image(&server);
    let reference = format!("{}/unscanned/team-a/app:v1", server.addr);
    let output = Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(["wait", &reference, "--timeout", "90s", "--insecure"])
        .env("AIRLOCK_USERNAME", "admin")
        .env("AIRLOCK_PASSWORD", ADMIN_PASSWORD)
        .output()
        .unwrap();
    let stdout = text(&output.stdout);
    // Promoted (0) or rejected (1, e.g. no vulnerability data yet): decided.
    let code = output.status.code();
    assert!(
        matches!(code, Some(0 | 1)),
        "{output:?}\nserver log:\n{}",
        server.logs()
    );
    let state = if code == Some(0) {
        "promoted"
    } else {
        "rejected"
    };
    assert!(stdout.contains(&digest), "{stdout}");
    assert!(stdout.contains(state), "{stdout}");
    if code == Some(1) {
        assert!(
            stdout.contains("- "),
            "a rejection names its reasons: {stdout}"
        );
    }

    let missing = format!(
        "{}/unscanned/team-a/app@sha256:{}",
        server.addr,
        "0".repeat(64)
    );
    let output = Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(["wait", &missing, "--timeout", "1s", "--insecure"])
        .env("AIRLOCK_USERNAME", "admin")
        .env("AIRLOCK_PASSWORD", ADMIN_PASSWORD)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}
