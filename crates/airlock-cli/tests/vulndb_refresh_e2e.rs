//! The server refreshes the vulnerability database itself, once
//! cluster-wide: `--vulndb-refresh` runs `db update` against a mirror under
//! the `vulndb-refresh` lease. The mirror is a real HTTP server (python3's
//! `http.server`) serving an osv.dev-style `PyPI/all.zip`.

mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::gate::{CVE, RECORD};
use support::{ChildGuard, Server, db_rows, free_port, require_tools};

/// Writes `<dir>/PyPI/all.zip` holding the one OSV record.
fn write_mirror(dir: &std::path::Path) {
    let ecosystem = dir.join("PyPI");
    std::fs::create_dir_all(&ecosystem).unwrap();
    let file = std::fs::File::create(ecosystem.join("all.zip")).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    zip.start_file(
        format!("{CVE}.json"),
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    zip.write_all(RECORD.as_bytes()).unwrap();
    zip.finish().unwrap();
}

#[test]
fn the_server_refreshes_the_vulnerability_database_under_a_lease() {
    if !require_tools(
        "the_server_refreshes_the_vulnerability_database_under_a_lease",
        &[("python3", "python3")],
    ) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let mirror = work.path().join("mirror");
    write_mirror(&mirror);
    let port = free_port();
    let _mirror = ChildGuard(Some(
        Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(&mirror)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 -m http.server"),
    ));
    let data = work.path().join("data");
    let url = format!("http://127.0.0.1:{port}");
    let server = Server::start(
        &data,
        &[
            "--vulndb-refresh",
            "1s",
            "--vulndb-mirror",
            &url,
            "--vulndb-ecosystems",
            "PyPI",
        ],
    );
    let osv = data.join("vulndb").join("osv.db");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = Command::new(support::AIRLOCK)
            .args(["db", "status", "--db"])
            .arg(&osv)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&status.stdout);
        if text
            .lines()
            .any(|l| l.starts_with("PyPI") && l.split_whitespace().nth(1) == Some("1"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server never refreshed the database: {text}\nlog:\n{}",
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let holder = db_rows(
        &data,
        "SELECT holder FROM leases WHERE name = ?",
        &["vulndb-refresh"],
    );
    assert_eq!(holder.len(), 1, "{holder:?}");
    let holder = holder[0][0].as_str().unwrap().to_owned();
    assert!(
        holder.ends_with(&format!("-{}", server.pid())),
        "the serving process holds the lease: {holder}"
    );
    assert!(
        server
            .logs()
            .contains("refreshed the vulnerability database"),
        "{}",
        server.logs()
    );
}
