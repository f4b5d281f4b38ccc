//! The storage backend the end-to-end tests run `airlock` on, chosen by
//! `AIRLOCK_TEST_BACKEND`:
//!
//! * `sqlite` (the default): every data directory holds its own SQLite
//!   database and filesystem blob store, as `airlock` does unconfigured;
//! * `postgres-s3`: every data directory gets, the first time a test uses
//!   it, an `airlock.toml` naming a schema of its own in the PostgreSQL
//!   database at [`DATABASE_URL`] and a key prefix of its own (`d<n>`) in the one
//!   s3s-fs server this test process shares ([`SharedS3`]); the schema is
//!   migrated with `airlock migrate`, and every `airlock` the support code
//!   starts for that directory gets `AIRLOCK_CONFIG` and the S3
//!   credentials. Needs the `postgres` and `s3` cargo features.
//!
//! Nothing outlives the test process: s3s-fs runs under a small shell
//! watchdog that holds the read end of a pipe whose write end only this
//! process holds. When the process ends, however it ends (a panic, an
//! abort, SIGKILL), the kernel closes the pipe, the watchdog's `read`
//! returns, and it kills s3s-fs, drops every schema this process created
//! and removes the server's directory. (A `static` is never dropped, so an
//! `S3Server` guard in a `OnceLock` would leak its child.)
//!
//! Tests read the metadata database through [`db_rows`] and change it
//! behind the server's back through [`db_exec`], whichever backend runs.

use std::io::{BufRead, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The PostgreSQL database the `postgres-s3` backend puts its schemas in.
pub const DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// The bucket s3s-fs serves. Bucket and prefixes are kept short: s3s-fs
/// keeps each object's metadata in a file named after the base64 of bucket
/// and key, and a long key (a report under
/// `reports/<tenant>/<repo>/<digest>/<uuid>/sbom.cdx.json`) would exceed the
/// filesystem's 255-byte file names (`File name too long`, HTTP 500).
const BUCKET: &str = "e2e";
/// Credentials s3s-fs accepts.
const ACCESS_KEY: &str = "airlock-e2e-access";
const SECRET_KEY: &str = "airlock-e2e-secret-0123456789";
/// Name of the configuration file written into each data directory.
const CONFIG_FILE: &str = "airlock.toml";

/// Which backend the tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite and the filesystem, under the data directory.
    Sqlite,
    /// PostgreSQL and S3 (s3s-fs), one schema and prefix per data directory.
    PostgresS3,
}

/// The backend `AIRLOCK_TEST_BACKEND` names; panics on an unknown name and
/// when `postgres-s3` is asked of a build without the features it needs.
pub fn backend() -> Backend {
    static BACKEND: OnceLock<Backend> = OnceLock::new();
    *BACKEND.get_or_init(|| match std::env::var("AIRLOCK_TEST_BACKEND").as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => Backend::Sqlite,
        Ok("postgres-s3") if cfg!(all(feature = "postgres", feature = "s3")) => Backend::PostgresS3,
        Ok("postgres-s3") => panic!(
            "AIRLOCK_TEST_BACKEND=postgres-s3 needs an airlock built with PostgreSQL and S3: \
             cargo test -p airlock-cli --features postgres,s3"
        ),
        Ok(other) => panic!(
            "AIRLOCK_TEST_BACKEND={other:?} is not a backend the tests know (sqlite, postgres-s3)"
        ),
    })
}

/// `true` when the tests run on PostgreSQL and S3.
pub fn postgres_s3() -> bool {
    backend() == Backend::PostgresS3
}

/// `true` while `data_dir` has never been used by `airlock` (no database
/// yet), so a server started over it should get the standard tenants.
pub fn is_fresh(data_dir: &Path) -> bool {
    match backend() {
        Backend::Sqlite => !data_dir.join("registry.db").exists(),
        Backend::PostgresS3 => !data_dir.join(CONFIG_FILE).exists(),
    }
}

/// The environment every `airlock` process over `data_dir` needs: nothing
/// on SQLite; on PostgreSQL + S3 the configuration file (written and
/// migrated on first use) and the S3 credentials.
pub fn env(data_dir: &Path) -> Vec<(&'static str, String)> {
    match backend() {
        Backend::Sqlite => Vec::new(),
        Backend::PostgresS3 => {
            let config = prepare(data_dir);
            vec![
                ("AIRLOCK_CONFIG", config.display().to_string()),
                ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
                ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
                ("AWS_REGION", "us-east-1".to_owned()),
            ]
        }
    }
}

/// Where the blob store keeps `digest` for `data_dir`: under
/// `DATA_DIR/storage`, or the file s3s-fs keeps the object in.
pub fn stored_blob_path(data_dir: &Path, digest: &str) -> PathBuf {
    let (algorithm, hex) = digest.split_once(':').expect("algorithm:hex digest");
    blob_store_root(data_dir)
        .join("blobs")
        .join(algorithm)
        .join(&hex[..2])
        .join(hex)
}

/// Bytes the blob store holds so far for the unfinished upload `id`.
///
/// On S3 that is the upload's chunk objects plus the parts of multipart
/// writes still streaming, which s3s-fs keeps at its root without the key
/// (`.upload_id-<uuid>.part-<n>`): an upper bound when tests upload
/// concurrently, exact when one upload streams.
pub fn staged_upload_bytes(data_dir: &Path, id: &str) -> u64 {
    let uploads = blob_store_root(data_dir).join("uploads").join(id);
    match backend() {
        Backend::Sqlite => std::fs::metadata(&uploads).map_or(0, |m| m.len()),
        Backend::PostgresS3 => {
            let root = &shared_s3().root;
            let parts: u64 = std::fs::read_dir(root)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|entry| {
                    let name = entry.file_name();
                    let name = name.to_string_lossy();
                    name.starts_with(".upload_id-") || name.starts_with(".tmp.")
                })
                .filter_map(|entry| entry.metadata().ok())
                .map(|m| m.len())
                .sum();
            tree_bytes(&uploads) + parts
        }
    }
}

fn tree_bytes(path: &Path) -> u64 {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::read_dir(path)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| tree_bytes(&entry.path()))
            .sum(),
        Ok(meta) => meta.len(),
        Err(_) => 0,
    }
}

/// The directory the blob store's keys (`blobs/...`, `uploads/...`) live in.
fn blob_store_root(data_dir: &Path) -> PathBuf {
    match backend() {
        Backend::Sqlite => data_dir.join("storage"),
        Backend::PostgresS3 => {
            let setup = setup_of(data_dir);
            shared_s3().root.join(BUCKET).join(setup.prefix)
        }
    }
}

/// Rows of a read-only SQL query against `data_dir`'s metadata database,
/// as JSON arrays (numbers as numbers, text as strings, NULL as null).
/// `params` bind to `?` placeholders, as text.
///
/// SQLite is read through python3's sqlite3 (so the tests need no SQLite
/// crate); PostgreSQL through `psql`, in the data directory's schema, the
/// query wrapped in `json_agg(row_to_json(...))`, `?` replaced by quoted
/// literals. Write SQL both databases understand; where they differ,
/// branch on [`postgres_s3`].
pub fn db_rows(data_dir: &Path, sql: &str, params: &[&str]) -> Vec<Vec<Value>> {
    match backend() {
        Backend::Sqlite => super::sqlite_rows(&data_dir.join("registry.db"), sql, params),
        Backend::PostgresS3 => {
            let setup = setup_of(data_dir);
            let query = bind_literals(sql.trim().trim_end_matches(';'), params);
            let wrapped = format!(
                "SELECT coalesce(json_agg(row_to_json(q)), '[]'::json) FROM ({query}) AS q"
            );
            let output = psql(&setup.schema, &wrapped, &["-t", "-A"]);
            assert!(
                output.status.success(),
                "the query {sql:?} failed in schema {}: {}",
                setup.schema,
                String::from_utf8_lossy(&output.stderr)
            );
            let rows: Vec<serde_json::Map<String, Value>> = serde_json::from_slice(&output.stdout)
                .unwrap_or_else(|e| {
                    panic!(
                        "the query {sql:?} printed no JSON rows ({e}): {}",
                        String::from_utf8_lossy(&output.stdout)
                    )
                });
            rows.into_iter()
                .map(|row| row.into_iter().map(|(_, value)| value).collect())
                .collect()
        }
    }
}

/// Runs SQL statements against `data_dir`'s metadata database in one
/// transaction, as a tampering operator would; returns the output whatever
/// the status (stderr carries the database's error).
pub fn db_exec(data_dir: &Path, statements: &str) -> Output {
    match backend() {
        Backend::Sqlite => Command::new("python3")
            .args([
                "-c",
                "import sqlite3, sys\n\
                 db = sqlite3.connect(sys.argv[1])\n\
                 db.executescript(sys.argv[2])\n\
                 db.commit()\n",
            ])
            .arg(data_dir.join("registry.db"))
            .arg(statements)
            .output()
            .expect("run python3"),
        Backend::PostgresS3 => {
            let setup = setup_of(data_dir);
            psql(
                &setup.schema,
                &format!("BEGIN; {statements}; COMMIT;"),
                &["-v", "ON_ERROR_STOP=1"],
            )
        }
    }
}

/// Replaces each `?` outside quotes with the next parameter as a quoted
/// SQL literal.
fn bind_literals(sql: &str, params: &[&str]) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut params = params.iter();
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                out.push(c);
            }
            (Some(_), c) => out.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                out.push(c);
            }
            (None, '?') => {
                let value = params
                    .next()
                    .unwrap_or_else(|| panic!("the query {sql:?} has more ? than parameters"));
                out.push('\'');
                out.push_str(&value.replace('\'', "''"));
                out.push('\'');
            }
            (None, c) => out.push(c),
        }
    }
    assert!(
        params.next().is_none(),
        "the query {sql:?} has fewer ? than parameters"
    );
    out
}

/// `psql` on [`DATABASE_URL`] with `search_path` set to `schema`.
fn psql(schema: &str, sql: &str, flags: &[&str]) -> Output {
    Command::new("psql")
        .args(["-X", "-q"])
        .args(flags)
        .arg(DATABASE_URL)
        .arg("-c")
        .arg(format!("SET search_path TO \"{schema}\"; {sql}"))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("psql is needed on postgres-s3 (apt-get install postgresql-client): {e}")
        })
}

/// What a data directory was given on first use.
#[derive(Debug, Clone)]
struct Setup {
    schema: String,
    prefix: String,
}

/// Every data directory this process prepared (canonical path, setup).
fn setups() -> &'static Mutex<Vec<(PathBuf, Setup)>> {
    static SETUPS: OnceLock<Mutex<Vec<(PathBuf, Setup)>>> = OnceLock::new();
    SETUPS.get_or_init(|| Mutex::new(Vec::new()))
}

/// The schema and prefix of `data_dir`, preparing it first if no `airlock`
/// ran over it yet.
fn setup_of(data_dir: &Path) -> Setup {
    prepare(data_dir);
    let key = canonical(data_dir);
    let known = setups().lock().unwrap_or_else(|e| e.into_inner());
    known
        .iter()
        .find(|(dir, _)| *dir == key)
        .map(|(_, setup)| setup.clone())
        .unwrap_or_else(|| panic!("{} has no backend set up", data_dir.display()))
}

fn canonical(data_dir: &Path) -> PathBuf {
    data_dir
        .canonicalize()
        .unwrap_or_else(|e| panic!("resolve the data directory {}: {e}", data_dir.display()))
}

/// Writes `DATA_DIR/airlock.toml` and migrates its schema, once; returns
/// the file's path.
fn prepare(data_dir: &Path) -> PathBuf {
    std::fs::create_dir_all(data_dir)
        .unwrap_or_else(|e| panic!("create the data directory {}: {e}", data_dir.display()));
    let config = data_dir.join(CONFIG_FILE);
    let key = canonical(data_dir);
    let mut known = setups().lock().unwrap_or_else(|e| e.into_inner());
    if known.iter().any(|(dir, _)| *dir == key) {
        return config;
    }
    assert!(
        !config.exists(),
        "{} exists but this test process did not write it",
        config.display()
    );
    let s3 = shared_s3();
    // Prefixes need only be unique within the process (the server is its own).
    static PREFIXES: AtomicUsize = AtomicUsize::new(0);
    let id = uuid::Uuid::new_v4().simple().to_string();
    let setup = Setup {
        schema: format!("e2e_{}", &id[..12]),
        prefix: format!("d{}", PREFIXES.fetch_add(1, Ordering::Relaxed)),
    };
    s3.register_schema(&setup.schema);
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{DATABASE_URL}\"\nschema = \"{schema}\"\nmax_connections = 8\n\
             [storage]\nbackend = \"s3\"\nendpoint = \"{endpoint}\"\nbucket = \"{BUCKET}\"\n\
             prefix = \"{prefix}\"\npath_style = true\nallow_http = true\n",
            schema = setup.schema,
            endpoint = s3.endpoint(),
            prefix = setup.prefix,
        ),
    )
    .unwrap_or_else(|e| panic!("write {}: {e}", config.display()));
    let migrated = Command::new(super::AIRLOCK)
        .arg("migrate")
        .arg("--data-dir")
        .arg(data_dir)
        .env("AIRLOCK_CONFIG", &config)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .stdin(Stdio::null())
        .output()
        .expect("run airlock migrate");
    assert!(
        migrated.status.success(),
        "airlock migrate failed for schema {} (is PostgreSQL answering at {DATABASE_URL}?): {}",
        setup.schema,
        String::from_utf8_lossy(&migrated.stderr)
    );
    known.push((key, setup));
    config
}

/// The s3s-fs server every data directory of this test process shares,
/// started on first use and stopped by its watchdog when the process ends.
pub struct SharedS3 {
    address: SocketAddr,
    /// The directory s3s-fs keeps buckets in (bucket = subdirectory).
    pub root: PathBuf,
    /// Schemas to drop at exit, one a line, read by the watchdog.
    schemas: Mutex<std::fs::File>,
    /// The write end of the watchdog's pipe: never written, closed by the
    /// kernel when the process ends.
    _lifeline: Mutex<ChildStdin>,
    _watchdog: Mutex<Child>,
}

impl SharedS3 {
    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    fn register_schema(&self, schema: &str) {
        let mut file = self.schemas.lock().unwrap_or_else(|e| e.into_inner());
        writeln!(file, "{schema}").expect("record the schema for cleanup");
        file.flush().expect("flush the schema list");
    }
}

/// The watchdog: starts s3s-fs (arguments after the root), waits until
/// its standard input reaches end of file, then cleans up.
const WATCHDOG: &str = r#"root="$1"; url="$2"; shift 2
"$@" </dev/null >"$root/s3s-fs.log" 2>&1 &
pid=$!
echo "$pid" >"$root/s3s-fs.pid"
read -r _ || true
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
if [ -f "$root/schemas" ]; then
  while read -r schema; do
    psql -X -q "$url" -c "DROP SCHEMA IF EXISTS \"$schema\" CASCADE" >/dev/null 2>&1
  done <"$root/schemas"
fi
rm -rf "$root"
"#;

/// The shared server, started on first call.
pub fn shared_s3() -> &'static SharedS3 {
    static S3: OnceLock<SharedS3> = OnceLock::new();
    S3.get_or_init(start_s3)
}

fn s3s_fs_binary() -> PathBuf {
    const MISSING: &str =
        "s3s-fs is needed on postgres-s3: cargo install --locked s3s-fs@0.14.1 --features binary";
    if let Some(path) = std::env::var_os("AIRLOCK_S3S_FS") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{MISSING} ($AIRLOCK_S3S_FS={})",
            path.display()
        );
        return path;
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("s3s-fs"))
        .find(|candidate| candidate.is_file());
    let cargo_bin = || {
        std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
            .map(|home| home.join("bin").join("s3s-fs"))
            .filter(|path| path.is_file())
    };
    on_path
        .or_else(cargo_bin)
        .unwrap_or_else(|| panic!("{MISSING}"))
}

fn start_s3() -> SharedS3 {
    let binary = s3s_fs_binary();
    let mut last_log = String::new();
    for _attempt in 0..5 {
        // A fresh directory per attempt: a failed attempt's watchdog removes its own.
        let root = tempfile::Builder::new()
            .prefix("airlock-e2e-s3-")
            .tempdir()
            .expect("create the s3s-fs directory")
            .keep();
        std::fs::create_dir(root.join(BUCKET)).expect("create the bucket directory");
        let schemas = std::fs::File::create(root.join("schemas")).expect("create the schema list");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let mut watchdog = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("airlock-e2e-s3-watchdog")
            .arg(&root)
            .arg(DATABASE_URL)
            .arg(&binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(&root)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the s3s-fs watchdog (sh)");
        let lifeline = watchdog.stdin.take().expect("piped stdin");
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if s3s_fs_alive(&root)
                && TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
            {
                return SharedS3 {
                    address,
                    root,
                    schemas: Mutex::new(schemas),
                    _lifeline: Mutex::new(lifeline),
                    _watchdog: Mutex::new(watchdog),
                };
            }
            if Instant::now() > deadline
                || (root.join("s3s-fs.pid").exists() && !s3s_fs_alive(&root))
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        last_log = std::fs::read_to_string(root.join("s3s-fs.log")).unwrap_or_default();
        drop(lifeline); // the watchdog stops what is left
        let _ = watchdog.wait();
    }
    panic!(
        "s3s-fs ({}) did not start listening in five attempts; its log:\n{last_log}",
        binary.display()
    );
}

/// Whether the s3s-fs the watchdog started is still running (not a zombie).
fn s3s_fs_alive(root: &Path) -> bool {
    let Ok(pid) = std::fs::read_to_string(root.join("s3s-fs.pid")) else {
        return false;
    };
    let Ok(file) = std::fs::File::open(format!("/proc/{}/status", pid.trim())) else {
        return false;
    };
    !BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.starts_with("State:") && line.contains('Z'))
}
