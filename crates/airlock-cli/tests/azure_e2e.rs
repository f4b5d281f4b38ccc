//! The binary on Azure Blob Storage: `[storage] backend = "azure"` against
//! a real Azurite (the store suites test the adapter; this tests the
//! configuration, the registry, the gate and the reports through it).
//! Built only with the `azure` cargo feature; `.ci/run` runs it in the
//! PostgreSQL + S3 pass, whose build has the feature, on SQLite metadata.
#![cfg(feature = "azure")]

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use airlock_testkit::{AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY, AzuriteServer};
use support::gate::{FIXED, TAG, TERMINAL, django_layout, import_record, tools_present};
use support::{Server, airlock_configured_ok, free_port, http, pull_layout, push_layout};

/// Files under `dir`, recursively (none if it does not exist).
fn files_under(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|entry| entry.expect("read a directory entry").path())
        .map(|path| if path.is_dir() { files_under(&path) } else { 1 })
        .sum()
}

/// Waits (up to 60 s) until the API shows the image decided; returns its
/// state. Read through the API, not the database, because this test's
/// metadata is SQLite whichever backend the rest of the suite runs on.
fn decision(server: &Server, token: &str, digest: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = http()
            .get(server.url(&format!("/api/v1/tenants/team-a/images/{digest}")))
            .bearer_auth(token)
            .send()
            .unwrap();
        if answer.status() == 200 {
            let image: serde_json::Value = answer.json().unwrap();
            let state = image["state"].as_str().unwrap_or_default().to_owned();
            if TERMINAL.contains(&state.as_str()) {
                return state;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{digest} was not decided within 60 s\nlog:\n{}",
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_image_goes_through_the_gate_with_blobs_and_reports_in_azure() {
    if !tools_present("an_image_goes_through_the_gate_with_blobs_and_reports_in_azure") {
        return;
    }
    let azurite = AzuriteServer::start();
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    import_record(&data, &work.path().join("records"));

    let config = work.path().join("airlock.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\nbackend = \"azure\"\naccount = \"{AZURITE_ACCOUNT}\"\n\
             container = \"{}\"\nendpoint = \"{}\"\nallow_http = true\nprefix = \"e2e\"\n",
            azurite.container(),
            azurite.endpoint()
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let env = [
        ("AIRLOCK_CONFIG", config.as_str()),
        ("AZURE_STORAGE_ACCOUNT_KEY", AZURITE_ACCOUNT_KEY),
    ];
    airlock_configured_ok(&data, &env, &["tenant", "create", "team-a"]);

    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let listen = addr.to_string();
    let server = Server::spawn(
        &data,
        addr,
        &[
            "serve",
            "--listen",
            &listen,
            "--data-dir",
            data.to_str().unwrap(),
            "--scan-workers",
            "1",
        ],
        &env,
    );

    // Push through the registry (the blobs go to Azure), scan, promote.
    let (layout, digest) = django_layout(&work.path().join("clean"), FIXED);
    push_layout(
        &layout,
        TAG,
        &server.docker_ref("unscanned/team-a/app:1.0"),
        &["--preserve-digests"],
    );
    let token = server.admin_token(&[]);
    assert_eq!(
        decision(&server, &token, &digest),
        "promoted",
        "{}",
        server.logs()
    );

    // Pull the promoted copy back, byte for byte.
    let pulled = work.path().join("pulled");
    pull_layout(
        &server.docker_ref("scanned/team-a/app:1.0"),
        &pulled,
        "pulled",
    );
    assert_eq!(support::Layout::open(&pulled).digest("pulled"), digest);

    // The scan's report reads back through the API (it is in the container).
    let report = http()
        .get(server.url(&format!(
            "/api/v1/tenants/team-a/images/{digest}/reports/report.json"
        )))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(report.status(), 200, "{}", server.logs());
    let report: serde_json::Value = report.json().unwrap();
    assert_eq!(report["image"]["digest"], digest.as_str(), "{report:#}");
    assert_eq!(report["verdict"]["passed"], true, "{report:#}");

    // Nothing of it is on the local disk: blobs and reports are in Azure.
    for local in ["storage", "objects"] {
        assert_eq!(
            files_under(&data.join(local)),
            0,
            "{local}/ holds files; the storage backend is azure"
        );
    }
}
