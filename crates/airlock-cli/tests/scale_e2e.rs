//! Scale-out, end to end on loopback: two `airlock serve --no-workers`
//! replicas and two `airlock worker` processes on one PostgreSQL database
//! (the server on this machine, a schema of the test's own) and one S3
//! bucket (a real `s3s-fs` server the test starts).
//!
//! * skopeo pushes through replica A and pulls through replica B;
//! * one chunked upload is split across both replicas;
//! * a worker is killed (SIGKILL) while it holds a scan job, and the other
//!   worker finishes that job after the lease expires;
//! * every pushed digest reaches exactly one terminal state, once, and the
//!   audit chain verifies.
//!
//! Built only with the `postgres` and `s3` features (`.ci/run` runs it);
//! PostgreSQL, s3s-fs, skopeo and psql are required, and their absence
//! fails the test.

#![cfg(all(feature = "postgres", feature = "s3"))]

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use airlock_testkit::S3Server;
use support::gate::{FIXED, VULNERABLE, django_layout, import_record};
use support::{
    Server, airlock_configured_ok, free_port, http, pull_layout, push_layout, require_tools,
};

const DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The shared configuration, the PostgreSQL schema and the bucket.
struct Cluster {
    work: tempfile::TempDir,
    config: PathBuf,
    schema: String,
    s3: S3Server,
}

impl Cluster {
    fn new() -> Cluster {
        let work = tempfile::tempdir().expect("scratch directory");
        let s3 = S3Server::start();
        let schema = format!("scale_{}", uuid::Uuid::new_v4().simple());
        // The vulnerability database every process shares.
        let shared = work.path().join("shared");
        import_record(&shared, &work.path().join("records"));
        let vulndb = shared.join("vulndb").join("osv.db");
        let config = work.path().join("airlock.toml");
        std::fs::write(
            &config,
            format!(
                "token_signing_key = \"{key}\"\n\
                 vulndb = \"{vulndb}\"\n\
                 [database]\nurl = \"{DATABASE_URL}\"\nschema = \"{schema}\"\nmax_connections = 6\n\
                 [storage]\nbackend = \"s3\"\nendpoint = \"{endpoint}\"\nbucket = \"{bucket}\"\n\
                 prefix = \"airlock\"\npath_style = true\nallow_http = true\n",
                key = work.path().join("token-signing-key.der").display(),
                vulndb = vulndb.display(),
                endpoint = s3.endpoint(),
                bucket = s3.bucket(),
            ),
        )
        .unwrap();
        let cluster = Cluster {
            work,
            config,
            schema,
            s3,
        };
        let migrated = cluster.cli(&["migrate"]);
        assert!(migrated.contains("migrated"), "{migrated}");
        for tenant in ["team-a", "team-b"] {
            cluster.cli(&["tenant", "create", tenant]);
        }
        cluster
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AIRLOCK_CONFIG", self.config.display().to_string()),
            ("AWS_ACCESS_KEY_ID", self.s3.access_key().to_owned()),
            ("AWS_SECRET_ACCESS_KEY", self.s3.secret_key().to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ]
    }

    /// Runs an `airlock` management command against the cluster's
    /// database (as the local operator); must succeed.
    fn cli(&self, args: &[&str]) -> String {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        airlock_configured_ok(&self.work.path().join("cli-data"), &env, args)
    }

    /// Starts `airlock serve --no-workers` with a data directory of its own.
    fn replica(&self, name: &str) -> Server {
        let data = self.work.path().join(name);
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let listen = addr.to_string();
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Server::spawn(
            &data,
            addr,
            &[
                "serve",
                "--no-workers",
                "--listen",
                &listen,
                "--data-dir",
                data.to_str().unwrap(),
            ],
            &env,
        )
    }

    /// Starts `airlock worker` with one scan worker and a short job lease;
    /// `addr` is its health and metrics listener.
    fn worker(&self, name: &str) -> Server {
        let data = self.work.path().join(name);
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let listen = addr.to_string();
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Server::spawn(
            &data,
            addr,
            &[
                "worker",
                "--scan-workers",
                "1",
                "--job-lease",
                "6s",
                "--metrics-listen",
                &listen,
                "--data-dir",
                data.to_str().unwrap(),
            ],
            &env,
        )
    }

    /// Rows of `sql` run in the cluster's schema, as tab-separated fields.
    fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        let output = Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-F", "\t", DATABASE_URL, "-c"])
            .arg(format!("SET search_path TO {}; {sql}", self.schema))
            .output()
            .expect("psql is needed for this test (Debian package postgresql-client)");
        assert!(output.status.success(), "psql {sql}: {output:?}");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| !line.is_empty())
            .map(|line| line.split('\t').map(str::to_owned).collect())
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-X", "-q", DATABASE_URL, "-c"])
            .arg(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            .output();
    }
}

/// `Authorization: Bearer` for the admin with push and pull on `repository`.
fn bearer(server: &Server, repository: &str) -> String {
    format!(
        "Bearer {}",
        server.admin_token(&[&format!("repository:{repository}:push,pull")])
    )
}

/// A monolithic blob upload of `content` split into two PATCH chunks: the
/// first sent to `first`, the second and the closing PUT to `second`.
fn upload_across(first: &Server, second: &Server, repository: &str, content: &[u8]) -> String {
    use sha2::Digest as _;
    let client = http();
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(content)));
    let started = client
        .post(first.url(&format!("/v2/{repository}/blobs/uploads/")))
        .header("Authorization", bearer(first, repository))
        .send()
        .unwrap();
    assert_eq!(started.status(), 202, "{:?}", started.text());
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let path = location
        .strip_prefix(&format!("http://{}", first.addr))
        .unwrap_or(&location)
        .to_owned();
    let half = content.len() / 2;
    let patched = client
        .patch(first.url(&path))
        .header("Authorization", bearer(first, repository))
        .header("Content-Type", "application/octet-stream")
        .header("Content-Range", format!("0-{}", half - 1))
        .body(content[..half].to_vec())
        .send()
        .unwrap();
    assert_eq!(patched.status(), 202, "{:?}", patched.text());
    let location = patched.headers()["location"].to_str().unwrap().to_owned();
    let path = location
        .strip_prefix(&format!("http://{}", first.addr))
        .unwrap_or(&location)
        .to_owned();
    let status = client
        .get(second.url(&path))
        .header("Authorization", bearer(second, repository))
        .send()
        .unwrap();
    assert_eq!(status.status(), 204, "the other replica knows the session");
    assert_eq!(
        status.headers()["range"].to_str().unwrap(),
        format!("0-{}", half - 1)
    );
    let patched = client
        .patch(second.url(&path))
        .header("Authorization", bearer(second, repository))
        .header("Content-Type", "application/octet-stream")
        .header("Content-Range", format!("{half}-{}", content.len() - 1))
        .body(content[half..].to_vec())
        .send()
        .unwrap();
    assert_eq!(patched.status(), 202, "{:?}", patched.text());
    let location = patched.headers()["location"].to_str().unwrap().to_owned();
    let path = location
        .strip_prefix(&format!("http://{}", second.addr))
        .unwrap_or(&location)
        .to_owned();
    let separator = if path.contains('?') { '&' } else { '?' };
    let closed = client
        .put(second.url(&format!("{path}{separator}digest={digest}")))
        .header("Authorization", bearer(second, repository))
        .send()
        .unwrap();
    assert_eq!(closed.status(), 201, "{:?}", closed.text());
    digest
}

/// Waits until every image pushed is decided, and returns (repository,
/// digest, state) rows.
fn wait_all_decided(cluster: &Cluster, count: usize, within: Duration) -> Vec<Vec<String>> {
    let deadline = Instant::now() + within;
    loop {
        let rows = cluster.rows(
            "SELECT repository, digest, state FROM images \
             WHERE state <> 'covered' ORDER BY repository, digest",
        );
        let decided = rows
            .iter()
            .filter(|row| row[2] == "promoted" || row[2] == "rejected")
            .count();
        if rows.len() >= count && decided == rows.len() {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "not every image was decided within {within:?}: {rows:?}\njobs: {:?}",
            cluster.rows("SELECT id, state, worker, attempts, last_error FROM jobs ORDER BY id")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A fixed (passing) django image with an extra layer of 24 MiB of
/// incompressible bytes, so its scan (fetching the layer from S3,
/// decompressing and walking it) holds its job for a while.
fn slow_layout(dir: &std::path::Path) -> (PathBuf, String) {
    let mut state = support::fresh_seed() | 1;
    let noise: Vec<u8> = (0..24 << 20)
        .map(|_| {
            // xorshift64: cheap, incompressible enough for gzip.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let built = support::gate::django_image(FIXED, support::fresh_seed())
        .layer(
            airlock_testkit::LayerBuilder::new().file("opt/noise.bin", noise),
            airlock_testkit::LayerCompression::Gzip,
        )
        .write(dir);
    (dir.to_owned(), built.manifest_digest)
}

/// Waits until one of `workers` holds a scan job; returns the job id and
/// the index of that worker.
fn held_job(cluster: &Cluster, workers: &[&Server]) -> (String, usize) {
    let prefixes: Vec<String> = workers.iter().map(|w| format!("-{}-", w.pid())).collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let leased = cluster.rows("SELECT id, worker FROM jobs WHERE state = 'leased'");
        for row in &leased {
            if let Some(index) = prefixes.iter().position(|p| row[1].contains(p.as_str())) {
                return (row[0].clone(), index);
            }
        }
        assert!(
            Instant::now() < deadline,
            "no worker held a job; jobs: {:?}",
            cluster.rows("SELECT id, state, worker FROM jobs ORDER BY id")
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn replicas_and_workers_share_one_database_and_one_bucket() {
    if !require_tools(
        "replicas_and_workers_share_one_database_and_one_bucket",
        &[("skopeo", "skopeo"), ("psql", "postgresql-client")],
    ) {
        return;
    }
    let cluster = Cluster::new();
    let a = cluster.replica("replica-a");
    let b = cluster.replica("replica-b");

    // skopeo pushes through A and pulls through B, before any worker runs:
    // the push is recorded and queued in the shared database.
    let layouts = cluster.work.path().join("layouts");
    let (vulnerable, vulnerable_digest) = django_layout(&layouts.join("vulnerable"), VULNERABLE);
    push_layout(
        &vulnerable,
        "img",
        &a.docker_ref("unscanned/team-a/django:vulnerable"),
        &["--preserve-digests"],
    );
    let pulled = cluster.work.path().join("pulled");
    pull_layout(
        &b.docker_ref("unscanned/team-a/django:vulnerable"),
        &pulled,
        "img",
    );
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pulled.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        index["manifests"][0]["digest"].as_str(),
        Some(vulnerable_digest.as_str()),
        "B serves what A received"
    );
    let queued = cluster.rows("SELECT count(*) FROM jobs WHERE state = 'ready'");
    assert_eq!(
        queued[0][0], "1",
        "the push is queued with no worker running"
    );

    // A chunked upload split across the replicas.
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let digest = upload_across(&a, &b, "unscanned/team-b/chunks", &content);
    let fetched = http()
        .get(a.url(&format!("/v2/unscanned/team-b/chunks/blobs/{digest}")))
        .header("Authorization", bearer(&a, "unscanned/team-b/chunks"))
        .send()
        .unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.bytes().unwrap().as_ref(), content.as_slice());

    // Two workers; more pushes through both replicas.
    let first = cluster.worker("worker-1");
    let second = cluster.worker("worker-2");
    let mut pushed = vec![vulnerable_digest];
    for i in 0..6 {
        let version = if i % 2 == 0 { FIXED } else { VULNERABLE };
        let (layout, digest) = django_layout(&layouts.join(format!("image-{i}")), version);
        let via = if i % 2 == 0 { &a } else { &b };
        push_layout(
            &layout,
            "img",
            &via.docker_ref(&format!("unscanned/team-a/app{i}:v1")),
            &["--preserve-digests"],
        );
        pushed.push(digest);
    }

    // A slow image last: kill whichever worker holds a scan job.
    let (slow, slow_digest) = slow_layout(&layouts.join("slow-1"));
    push_layout(
        &slow,
        "img",
        &b.docker_ref("unscanned/team-a/slow1:v1"),
        &["--preserve-digests"],
    );
    pushed.push(slow_digest);
    let (held, index) = held_job(&cluster, &[&first, &second]);
    let (killed, survivor) = if index == 0 {
        (first, second)
    } else {
        (second, first)
    };
    let prefix = format!("-{}-", killed.pid());
    killed.kill_hard();

    let rows = wait_all_decided(&cluster, pushed.len(), Duration::from_secs(120));
    let job = cluster.rows(&format!(
        "SELECT state, worker, attempts FROM jobs WHERE id = {held}"
    ));
    assert_eq!(job[0][0], "done", "the killed worker's job was finished");
    assert!(
        !job[0][1].contains(&prefix),
        "another worker finished job {held}: {job:?}"
    );

    // Every digest: one image row, decided as its content says, and exactly
    // one terminal transition in its history.
    for digest in &pushed {
        let matching: Vec<_> = rows.iter().filter(|row| &row[1] == digest).collect();
        assert_eq!(matching.len(), 1, "{digest}: {rows:?}");
    }
    let terminal = cluster.rows(
        "SELECT image_id, count(*) FROM image_history \
         WHERE to_state IN ('promoted', 'rejected') GROUP BY image_id",
    );
    assert_eq!(terminal.len(), pushed.len(), "{terminal:?}");
    assert!(
        terminal.iter().all(|row| row[1] == "1"),
        "an image was decided twice: {terminal:?}"
    );
    let promoted = rows.iter().filter(|row| row[2] == "promoted").count();
    assert_eq!(
        promoted, 4,
        "the three fixed images and the slow one pass: {rows:?}"
    );

    // Promoted images are readable through either replica.
    let scanned = http()
        .get(b.url("/v2/scanned/team-a/app0/manifests/v1"))
        .header("Authorization", bearer(&b, "scanned/team-a/app0"))
        .header("Accept", support::OCI_MANIFEST)
        .send()
        .unwrap();
    assert_eq!(scanned.status(), 200);

    // Graceful shutdown: the worker that is left gets SIGTERM while it holds
    // a scan job (of another slow image), and hands the job back at once
    // rather than after its lease.
    let (slow, slow_digest) = slow_layout(&layouts.join("slow-2"));
    push_layout(
        &slow,
        "img",
        &a.docker_ref("unscanned/team-a/slow2:v1"),
        &["--preserve-digests"],
    );
    let more = [slow_digest];
    let (held, _) = held_job(&cluster, &[&survivor]);
    let status = survivor.terminate();
    assert!(status.success(), "{status:?}");
    let job = cluster.rows(&format!(
        "SELECT state, coalesce(worker, '') FROM jobs WHERE id = {held}"
    ));
    eprintln!("after SIGTERM, job {held} is {job:?}");
    assert!(
        job[0][0] == "done" || (job[0][0] == "ready" && job[0][1].is_empty()),
        "job {held} was handed back on shutdown (or finished first): {job:?}"
    );
    assert!(
        cluster
            .rows("SELECT id FROM jobs WHERE state = 'leased'")
            .is_empty(),
        "a stopped worker leaves no lease behind"
    );
    let third = cluster.worker("worker-3");
    wait_all_decided(
        &cluster,
        pushed.len() + more.len(),
        Duration::from_secs(120),
    );
    drop(third);
    let verified = cluster.cli(&["audit", "verify"]);
    assert!(verified.contains("audit log intact"), "{verified}");
    drop(a);
    drop(b);
}
