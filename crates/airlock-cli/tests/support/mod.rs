//! Helpers for the end-to-end tests: start the real `airlock` binary on a
//! free loopback port, drive real clients (skopeo, umoci, curl), and read OCI
//! image layouts back from disk.
//!
//! Anonymous access is off, so every server starts with a known bootstrap
//! admin password ([`ADMIN_PASSWORD`]) and the tenants in [`TENANTS`]; the
//! skopeo helpers act as that admin, and raw HTTP calls first fetch a token
//! from `/auth/token` ([`Server::admin_token`]).
//!
//! Every child process is owned by a guard whose `Drop` kills it, so a failing
//! assertion never leaves a server behind.

#![allow(dead_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest as _, Sha256};

pub mod backend;
pub mod gate;
pub mod receiver;

#[allow(unused_imports)] // each test binary uses a different subset
pub use backend::{db_exec, db_rows, postgres_s3, staged_upload_bytes};

/// The binary under test.
pub const AIRLOCK: &str = env!("CARGO_BIN_EXE_airlock");

/// Media type of OCI image manifests.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of OCI image indexes.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// The bootstrap admin's password in every server these tests start.
pub const ADMIN_PASSWORD: &str = "e2e-admin-password-7f3c";
/// The tenants every fresh data directory gets before the server starts.
pub const TENANTS: &[&str] = &["team-a", "team-b", "team-c"];

/// `admin:<password>`, as skopeo's `--creds` flags want it.
pub fn admin_creds() -> String {
    format!("admin:{ADMIN_PASSWORD}")
}

/// Runs `airlock ARGS --data-dir DATA_DIR` (the CLI works on the data
/// directory directly, also while a server runs) with `stdin` as standard
/// input, and returns its output whatever the exit status.
pub fn airlock_cli(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    airlock_cli_env(data_dir, args, &[], stdin)
}

/// `airlock` with a clean environment plus what the test backend needs for
/// `data_dir` (on PostgreSQL + S3: `AIRLOCK_CONFIG` and the S3 credentials;
/// the data directory's schema is created and migrated on first use). The
/// caller adds the arguments, `--data-dir` included where it is wanted.
pub fn airlock_command(data_dir: &Path) -> Command {
    let mut command = Command::new(AIRLOCK);
    for key in AIRLOCK_ENV {
        command.env_remove(key);
    }
    command.envs(backend::env(data_dir));
    command
}

/// [`airlock_cli`] that must succeed; returns standard output.
pub fn airlock_cli_ok(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let output = airlock_cli(data_dir, args, stdin);
    assert!(
        output.status.success(),
        "`airlock {}` failed with {}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `airlock ARGS --data-dir DATA_DIR` with a clean environment plus exactly
/// `env` (an `AIRLOCK_CONFIG` of the test's own, not the test backend's);
/// must succeed. Returns standard output.
pub fn airlock_configured_ok(data_dir: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let mut command = Command::new(AIRLOCK);
    for key in AIRLOCK_ENV {
        command.env_remove(key);
    }
    let output = command
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run airlock");
    assert!(
        output.status.success(),
        "`airlock {}` failed with {}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Environment variables that would change how `airlock` behaves; removed
/// so the developer's shell cannot leak into a test.
const AIRLOCK_ENV: &[&str] = &[
    "AIRLOCK_LISTEN",
    "AIRLOCK_CONFIG",
    "AIRLOCK_DATA_DIR",
    "AIRLOCK_LOG_FORMAT",
    "AIRLOCK_ADMIN_PASSWORD",
    "AIRLOCK_AUDIT_SYSLOG",
    "AIRLOCK_EXTERNAL_URL",
    "AIRLOCK_TOKEN_TTL",
    "AIRLOCK_WEBHOOK_ALLOW_HTTP",
    "AIRLOCK_WEBHOOK_ALLOW_PRIVATE",
    "AIRLOCK_WEBHOOK_TIMEOUT",
    "AIRLOCK_WEBHOOK_RETRY_INITIAL",
    "AIRLOCK_WEBHOOK_GIVE_UP_AFTER",
    "AIRLOCK_DATABASE_URL",
    "AIRLOCK_TOKEN_SIGNING_KEY",
    "AIRLOCK_VULNDB",
    "AIRLOCK_GC_INTERVAL",
    "AIRLOCK_JOB_LEASE",
    "AIRLOCK_NO_WORKERS",
    "AIRLOCK_METRICS_LISTEN",
    "AIRLOCK_SCAN_EXECUTOR",
    "AIRLOCK_VULNDB_REFRESH",
    "AIRLOCK_OSV_MIRROR",
    "AIRLOCK_VULNDB_ECOSYSTEMS",
];

/// Returns `true` when every tool is on `PATH`. When one is missing, panics
/// under CI (naming the Debian package to install) and otherwise prints a
/// loud banner so the caller can skip the test.
pub fn require_tools(test: &str, tools: &[(&str, &str)]) -> bool {
    for (tool, package) in tools {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "{test}: `{tool}` is missing; install the Debian package `{package}` (apt-get install {package})"
                );
            }
            // Written to the process's stderr directly: the test harness
            // captures `eprintln!`, and a skip must be seen.
            let banner = "!".repeat(72);
            let _ = writeln!(
                std::io::stderr(),
                "\n{banner}\n!!! SKIPPED {test}: `{tool}` missing (apt-get install {package})\n{banner}\n"
            );
            return false;
        }
    }
    true
}

/// skopeo and umoci, the clients most tests need.
pub fn require_skopeo_and_umoci(test: &str) -> bool {
    require_tools(test, &[("skopeo", "skopeo"), ("umoci", "umoci")])
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral loopback port");
    listener.local_addr().expect("local address").port()
}

/// An HTTP client that never goes through a proxy.
pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("build the HTTP client")
}

/// A running `airlock serve`, killed when dropped.
pub struct Server {
    child: Option<Child>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Its stderr (the logs).
    pub log: PathBuf,
}

impl Server {
    /// Starts `airlock serve` on a free port over `data_dir`, with extra arguments.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}")
            .parse()
            .expect("loopback address");
        let listen = addr.to_string();
        let mut args = vec![
            "serve",
            "--listen",
            listen.as_str(),
            "--data-dir",
            data_dir.to_str().expect("utf-8 path"),
        ];
        args.extend_from_slice(extra);
        Server::spawn(data_dir, addr, &args, &[])
    }

    /// Spawns `airlock` with exactly these arguments and environment, then
    /// waits until `GET /healthz` on `addr` answers.
    ///
    /// Unless `env` names an `AIRLOCK_CONFIG`, the process runs on the test
    /// backend ([`backend`]) of `data_dir`, and a fresh data directory first
    /// gets the tenants in [`TENANTS`]. The
    /// bootstrap admin's password is [`ADMIN_PASSWORD`] unless `env` sets
    /// `AIRLOCK_ADMIN_PASSWORD` (to an empty value, the server generates one).
    pub fn spawn(data_dir: &Path, addr: SocketAddr, args: &[&str], env: &[(&str, &str)]) -> Server {
        std::fs::create_dir_all(data_dir).expect("create the data directory");
        // With a configuration file (another database), the caller sets up tenants.
        let configured = env.iter().any(|(key, _)| *key == "AIRLOCK_CONFIG");
        if !configured && backend::is_fresh(data_dir) {
            for tenant in TENANTS {
                airlock_cli_ok(data_dir, &["tenant", "create", tenant], None);
            }
        }
        let log = unique_log_path(data_dir);
        let stderr = File::create(&log).expect("create the server log");
        let mut command = if configured {
            let mut command = Command::new(AIRLOCK);
            for key in AIRLOCK_ENV {
                command.env_remove(key);
            }
            command
        } else {
            airlock_command(data_dir)
        };
        command.args(args);
        command
            .env("AIRLOCK_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("AIRLOCK_LOG_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("start the airlock binary");
        let mut server = Server {
            child: Some(child),
            addr,
            data_dir: data_dir.to_owned(),
            log,
        };
        server.wait_healthy();
        server
    }

    fn wait_healthy(&mut self) {
        let client = http();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().expect("poll the server"))
            {
                panic!("airlock exited early with {status}; log:\n{}", self.logs());
            }
            let answer = client
                .get(self.url("/healthz"))
                .timeout(Duration::from_secs(2))
                .send();
            if answer.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "airlock did not answer /healthz in 30s; log:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `GET /auth/token` with basic credentials and these scopes, e.g.
    /// `repository:unscanned/team-a/app:pull,push` or `registry:catalog:*`.
    pub fn token_response(
        &self,
        user: &str,
        password: &str,
        scopes: &[&str],
    ) -> reqwest::blocking::Response {
        let mut url = self.url("/auth/token?service=airlock");
        for scope in scopes {
            url.push_str("&scope=");
            url.push_str(scope);
        }
        http()
            .get(url)
            .basic_auth(user, Some(password))
            .timeout(Duration::from_secs(10))
            .send()
            .expect("GET /auth/token")
    }

    /// A bearer token for `user` covering what it holds of `scopes`.
    pub fn token(&self, user: &str, password: &str, scopes: &[&str]) -> String {
        let response = self.token_response(user, password, scopes);
        let status = response.status();
        let body: Value = response.json().expect("the token endpoint answers JSON");
        assert_eq!(status, 200, "token for {user} refused: {body}");
        body["token"]
            .as_str()
            .expect("the answer carries a token")
            .to_owned()
    }

    /// A bearer token for the bootstrap admin covering `scopes`.
    pub fn admin_token(&self, scopes: &[&str]) -> String {
        self.token("admin", ADMIN_PASSWORD, scopes)
    }

    /// `ADDR/repository:tag` as skopeo's `docker://` transport wants it.
    pub fn docker_ref(&self, repository_and_tag: &str) -> String {
        format!("docker://{}/{repository_and_tag}", self.addr)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server is running").id()
    }

    /// Everything the server logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The Prometheus exposition.
    pub fn metrics(&self) -> String {
        http()
            .get(self.url("/metrics"))
            .send()
            .and_then(|r| r.text())
            .expect("GET /metrics")
    }

    /// Sends SIGTERM and waits (at most 20 s) for the process to exit.
    pub fn terminate(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server is running");
        signal(child.id(), "TERM");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("poll the server") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "airlock did not stop within 20s of SIGTERM; log:\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub fn kill_hard(mut self) {
        let mut child = self.child.take().expect("server is running");
        child.kill().expect("SIGKILL the server");
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            if std::thread::panicking() {
                eprintln!(
                    "---- airlock log ({}) ----\n{}",
                    self.log.display(),
                    self.logs()
                );
            }
        }
    }
}

/// A child process (other than the server) killed when dropped.
pub struct ChildGuard(pub Option<Child>);

impl ChildGuard {
    /// Waits for the child to exit.
    pub fn wait(mut self) -> ExitStatus {
        self.0
            .take()
            .expect("child is running")
            .wait()
            .expect("wait for the child")
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn unique_log_path(data_dir: &Path) -> PathBuf {
    let parent = data_dir.parent().unwrap_or(data_dir);
    (0..)
        .map(|n| parent.join(format!("airlock-{n}.log")))
        .find(|p| !p.exists())
        .expect("a free log file name")
}

/// Sends a signal (by name, e.g. `TERM`) with kill(1).
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill(1)");
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// Runs a command to completion and returns its output, panicking with both
/// streams when it fails.
pub fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        output.status.success(),
        "`{program} {}` failed with {}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `skopeo` with the given arguments; panics on failure.
pub fn skopeo(args: &[&str]) -> Output {
    run("skopeo", args)
}

/// `skopeo copy` from an OCI layout to the registry, as the admin.
pub fn push_layout(layout: &Path, tag: &str, destination: &str, extra: &[&str]) {
    let source = format!("oci:{}:{tag}", layout.display());
    let creds = admin_creds();
    let mut args = vec![
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        "--dest-creds",
        &creds,
    ];
    args.extend_from_slice(extra);
    args.push(&source);
    args.push(destination);
    skopeo(&args);
}

/// `skopeo copy` from the registry to an OCI layout, keeping digests, as
/// the admin.
pub fn pull_layout(source: &str, layout: &Path, tag: &str) {
    let destination = format!("oci:{}:{tag}", layout.display());
    skopeo(&[
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        "--src-creds",
        &admin_creds(),
        "--preserve-digests",
        source,
        &destination,
    ]);
}

/// `skopeo inspect --raw` as the admin: the manifest bytes exactly as served.
pub fn raw_manifest(reference: &str) -> Vec<u8> {
    skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--creds",
        &admin_creds(),
        "--raw",
        reference,
    ])
    .stdout
}

/// `sha256:<hex>` of some bytes.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// `sha256:<hex>` of a file, streamed.
pub fn sha256_file(path: &Path) -> String {
    let mut file = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer).expect("read the file");
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// Writes `size` bytes of seeded pseudo-random (incompressible) data.
pub fn write_random_file(path: &Path, size: usize, seed: u64) {
    let mut file = std::io::BufWriter::new(File::create(path).expect("create the random file"));
    // splitmix64 is a bijection, so distinct seeds give distinct streams.
    let mut state = {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)).max(1)
    };
    let mut block = vec![0u8; 1 << 16];
    let mut left = size;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let take = left.min(block.len());
        file.write_all(&block[..take])
            .expect("write the random file");
        left -= take;
    }
    file.flush().expect("flush the random file");
}

/// A fresh seed, different in every test and every run, so skopeo's blob
/// cache never recognises a layer from an earlier run.
pub fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as u64;
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// An OCI image layout on disk, built and read with umoci.
pub struct Layout {
    /// The layout directory.
    pub dir: PathBuf,
}

impl Layout {
    /// `umoci init --layout DIR`.
    pub fn init(dir: &Path) -> Layout {
        run(
            "umoci",
            &["init", "--layout", dir.to_str().expect("utf-8 path")],
        );
        Layout {
            dir: dir.to_owned(),
        }
    }

    /// An existing layout (e.g. one skopeo wrote).
    pub fn open(dir: &Path) -> Layout {
        Layout {
            dir: dir.to_owned(),
        }
    }

    fn image(&self, tag: &str) -> String {
        format!("{}:{tag}", self.dir.display())
    }

    /// `umoci new --image DIR:tag`: an empty image.
    pub fn new_image(&self, tag: &str) {
        run("umoci", &["new", "--image", &self.image(tag)]);
    }

    /// `umoci insert`: adds `source` as `target` in a new layer of `tag`.
    pub fn insert(&self, tag: &str, source: &Path, target: &str) {
        run(
            "umoci",
            &[
                "insert",
                "--rootless",
                "--image",
                &self.image(tag),
                source.to_str().expect("utf-8 path"),
                target,
            ],
        );
    }

    /// `umoci tag`: another name for the image `tag`.
    pub fn tag(&self, tag: &str, new_tag: &str) {
        run("umoci", &["tag", "--image", &self.image(tag), new_tag]);
    }

    /// `umoci config --architecture`.
    pub fn set_architecture(&self, tag: &str, architecture: &str) {
        run(
            "umoci",
            &[
                "config",
                "--image",
                &self.image(tag),
                "--architecture",
                architecture,
                "--os",
                "linux",
            ],
        );
    }

    /// Builds `tag` as a fresh image holding one file with `bytes` of seeded
    /// random content at `/data/<name>`, in one layer.
    pub fn random_image(&self, tag: &str, scratch: &Path, bytes: usize, seed: u64) {
        let rootfs = scratch.join(format!("rootfs-{tag}"));
        std::fs::create_dir_all(&rootfs).expect("create the rootfs");
        write_random_file(&rootfs.join("payload.bin"), bytes, seed);
        std::fs::write(rootfs.join("seed.txt"), seed.to_string()).expect("write the seed");
        self.new_image(tag);
        self.insert(tag, &rootfs, "/data");
    }

    /// The parsed `index.json`.
    pub fn index(&self) -> Value {
        read_json(&self.dir.join("index.json"))
    }

    /// The descriptor `index.json` holds for `tag`.
    pub fn descriptor(&self, tag: &str) -> Value {
        let index = self.index();
        index["manifests"]
            .as_array()
            .expect("index.json has manifests")
            .iter()
            .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == tag)
            .unwrap_or_else(|| panic!("no {tag:?} in {}", self.dir.display()))
            .clone()
    }

    /// The digest of the manifest (or index) tagged `tag`.
    pub fn digest(&self, tag: &str) -> String {
        self.descriptor(tag)["digest"]
            .as_str()
            .expect("descriptor digest")
            .to_owned()
    }

    /// Path of a blob.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let (algorithm, hex) = digest.split_once(':').expect("algorithm:hex digest");
        self.dir.join("blobs").join(algorithm).join(hex)
    }

    /// Bytes of a blob.
    pub fn blob(&self, digest: &str) -> Vec<u8> {
        std::fs::read(self.blob_path(digest)).unwrap_or_else(|e| panic!("read blob {digest}: {e}"))
    }

    /// The parsed manifest of `tag`.
    pub fn manifest(&self, tag: &str) -> Value {
        serde_json::from_slice(&self.blob(&self.digest(tag))).expect("manifest is JSON")
    }

    /// Config and layer digests of the image manifest `manifest_digest`.
    pub fn image_blobs(&self, manifest_digest: &str) -> Vec<String> {
        let manifest: Value =
            serde_json::from_slice(&self.blob(manifest_digest)).expect("manifest is JSON");
        let mut digests = vec![
            manifest["config"]["digest"]
                .as_str()
                .expect("config digest")
                .to_owned(),
        ];
        for layer in manifest["layers"].as_array().expect("layers") {
            digests.push(layer["digest"].as_str().expect("layer digest").to_owned());
        }
        digests
    }

    /// Writes `content` as a blob and tags it in `index.json`.
    pub fn add_tagged_blob(&self, tag: &str, media_type: &str, content: &[u8]) -> String {
        let digest = sha256(content);
        std::fs::write(self.blob_path(&digest), content).expect("write the blob");
        let mut index = self.index();
        index["manifests"]
            .as_array_mut()
            .expect("manifests")
            .push(serde_json::json!({
                "mediaType": media_type,
                "digest": digest,
                "size": content.len(),
                "annotations": { "org.opencontainers.image.ref.name": tag },
            }));
        std::fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(&index).expect("serialise index.json"),
        )
        .expect("write index.json");
        digest
    }
}

/// Reads and parses a JSON file.
pub fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// Where airlock keeps a committed blob: under its data directory (or, on
/// PostgreSQL + S3, the file s3s-fs keeps the object in).
pub fn stored_blob_path(data_dir: &Path, digest: &str) -> PathBuf {
    backend::stored_blob_path(data_dir, digest)
}

/// Value of an unlabelled counter (or the sum over a labelled one's series
/// whose labels contain every `label`) in a Prometheus exposition.
pub fn metric_sum(exposition: &str, name: &str, labels: &[&str]) -> f64 {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// [`airlock_cli`] with extra environment variables, e.g. `USER` to act as
/// another local operator (the CLI audits itself as `cli:<USER>`).
pub fn airlock_cli_env(
    data_dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> Output {
    let mut command = airlock_command(data_dir);
    command.args(args).arg("--data-dir").arg(data_dir);
    for (key, value) in env {
        command.env(key, value);
    }
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run airlock {args:?}: {e}"));
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(text.as_bytes())
            .expect("write airlock's standard input");
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait for airlock {args:?}: {e}"))
}

/// Rows of a read-only SQL query against a SQLite database (through
/// python3's sqlite3, so the tests need no SQLite crate), as JSON arrays.
/// `params` bind to `?` placeholders; BLOB columns cannot be selected.
pub fn sqlite_rows(database: &Path, sql: &str, params: &[&str]) -> Vec<Vec<Value>> {
    const SCRIPT: &str = "import json, sqlite3, sys\n\
        db = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True, timeout=10)\n\
        print(json.dumps([list(row) for row in db.execute(sys.argv[2], sys.argv[3:])]))\n";
    let mut args = vec!["-c", SCRIPT, database.to_str().expect("utf-8 path"), sql];
    args.extend_from_slice(params);
    let output = run("python3", &args);
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("the query {sql:?} printed no JSON rows: {e}"))
}
