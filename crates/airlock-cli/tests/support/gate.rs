//! The gate's end-to-end fixture, shared by the tests that need a real
//! `airlock serve` with scan workers: a vulnerability database imported
//! from one hand-written OSV record, django images that do or do not match
//! it, and waits on the gate's decisions read from the metadata database.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use airlock_testkit::{LayerBuilder, LayerCompression, OciLayoutBuilder};
use serde_json::Value;

use super::{Server, db_rows, fresh_seed, push_layout, require_tools};

/// The vulnerability the database knows: django 2.2.0 is affected, 2.2.1
/// fixed; critical by its CVSS v3.1 vector (base score 9.8).
pub const CVE: &str = "CVE-2099-4242";
pub const RECORD: &str = r#"{"id":"CVE-2099-4242","modified":"2099-01-02T00:00:00Z",
    "published":"2099-01-01T00:00:00Z","summary":"remote code execution in QuerySet",
    "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    "affected":[{"package":{"ecosystem":"PyPI","name":"django"},
      "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"2.2"},{"fixed":"2.2.1"}]}]}]}"#;

pub const VULNERABLE: &str = "2.2.0";
pub const FIXED: &str = "2.2.1";
pub const OS_RELEASE: &str = "ID=debian\nVERSION_ID=\"12\"\n";
pub const GZIP_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const TERMINAL: &[&str] = &["promoted", "rejected", "covered"];
pub const TAG: &str = "img";

pub fn tools_present(test: &str) -> bool {
    require_tools(test, &[("skopeo", "skopeo"), ("python3", "python3")])
}

/// A scratch directory with a data directory whose vulnerability database
/// holds [`RECORD`], and a server over it.
pub struct Gate {
    // Declared first so it is dropped first: the server (and its log, read
    // on a panic) outlives nothing it needs.
    pub server: Server,
    pub work: tempfile::TempDir,
}

impl Gate {
    pub fn start(extra: &[&str]) -> Gate {
        let work = tempfile::tempdir().expect("create the scratch directory");
        let data = work.path().join("data");
        import_record(&data, &work.path().join("records"));
        let mut args = vec!["--scan-workers", "2"];
        args.extend_from_slice(extra);
        let server = Server::start(&data, &args);
        Gate { server, work }
    }

    pub fn scratch(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    pub fn data(&self) -> &Path {
        &self.server.data_dir
    }

    /// Pushes the layout's [`TAG`] to `repository:tag` as the admin.
    pub fn push(&self, layout: &Path, target: &str, extra: &[&str]) {
        let mut flags = vec!["--preserve-digests"];
        flags.extend_from_slice(extra);
        push_layout(layout, TAG, &self.server.docker_ref(target), &flags);
    }
}

/// Imports [`RECORD`] into `<data>/vulndb/osv.db`, the server's default
/// vulnerability database, through a records directory `records`.
pub fn import_record(data: &Path, records: &Path) {
    std::fs::create_dir_all(records).expect("create the records directory");
    std::fs::create_dir_all(data.join("vulndb")).expect("create the vulndb directory");
    std::fs::write(records.join(format!("{CVE}.json")), RECORD).expect("write the record");
    let output = Command::new(super::AIRLOCK)
        .args(["db", "import"])
        .arg(records)
        .arg("--db")
        .arg(data.join("vulndb").join("osv.db"))
        .env_remove("AIRLOCK_DATA_DIR")
        .output()
        .expect("run airlock db import");
    assert!(
        output.status.success(),
        "db import failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A debian image with django `version` installed, made distinct by `seed`.
pub fn django_image(version: &str, seed: u64) -> OciLayoutBuilder {
    OciLayoutBuilder::new().tag(TAG).layer(
        LayerBuilder::new()
            .file("etc/os-release", OS_RELEASE)
            .file(
                &format!("usr/lib/python3/dist-packages/Django-{version}.dist-info/METADATA"),
                format!("Metadata-Version: 2.1\nName: Django\nVersion: {version}\nLicense: BSD\n"),
            )
            .file("etc/e2e-seed", seed.to_string()),
        LayerCompression::Gzip,
    )
}

/// Writes a django image as an OCI layout; returns it and the manifest digest.
pub fn django_layout(dir: &Path, version: &str) -> (PathBuf, String) {
    let built = django_image(version, fresh_seed()).write(dir);
    (dir.to_owned(), built.manifest_digest)
}

/// One row of the `images` table.
#[derive(Debug)]
pub struct ImageRow {
    pub state: String,
    pub reason: Option<String>,
    pub verdict: Value,
    pub attempts: i64,
}

pub fn image_row(data: &Path, repository: &str, digest: &str) -> Option<ImageRow> {
    let rows = db_rows(
        data,
        "SELECT state, reason, verdict, attempts FROM images WHERE repository = ? AND digest = ?",
        &[repository, digest],
    );
    rows.into_iter().next().map(|row| ImageRow {
        state: row[0].as_str().expect("state").to_owned(),
        reason: row[1].as_str().map(str::to_owned),
        // Text holding JSON in SQLite; json or jsonb (already a value) in PostgreSQL.
        verdict: match &row[2] {
            Value::String(text) => serde_json::from_str(text).expect("the verdict is JSON"),
            value => value.clone(),
        },
        attempts: row[3].as_i64().expect("attempts"),
    })
}

/// Waits until the image is in one of `states`.
pub fn wait_for_state(
    server: &Server,
    repository: &str,
    digest: &str,
    states: &[&str],
    timeout: Duration,
) -> ImageRow {
    let deadline = Instant::now() + timeout;
    loop {
        let row = image_row(&server.data_dir, repository, digest);
        if row
            .as_ref()
            .is_some_and(|row| states.contains(&row.state.as_str()))
        {
            return row.expect("checked above");
        }
        assert!(
            Instant::now() < deadline,
            "{repository}@{digest} did not reach {states:?} within {timeout:?}; last: {row:?}\nlog:\n{}",
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits for a decision and asserts it is `expected`.
pub fn decided(server: &Server, repository: &str, digest: &str, expected: &str) -> ImageRow {
    let row = wait_for_state(
        server,
        repository,
        digest,
        TERMINAL,
        Duration::from_secs(60),
    );
    assert_eq!(
        row.state,
        expected,
        "{repository}@{digest}: {row:#?}\nlog:\n{}",
        server.logs()
    );
    row
}

/// The messages of the verdict's failed rules, as `rule: message` lines.
pub fn failures(row: &ImageRow) -> String {
    row.verdict["failures"]
        .as_array()
        .map(|failures| {
            failures
                .iter()
                .map(|f| format!("{}: {}", f["rule"].as_str().unwrap_or("?"), f["message"]))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}
