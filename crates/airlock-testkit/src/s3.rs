//! A real S3-compatible server for tests: [`S3Server`] runs `s3s-fs` on a
//! free loopback port over a temporary directory, with one bucket and fixed
//! credentials, and kills it when dropped.
//!
//! The binary is found through `$AIRLOCK_S3S_FS`, then `PATH`, then
//! `~/.cargo/bin`. Install it with
//! `cargo install --locked s3s-fs@0.14.1 --features binary`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

/// What a test needs to reach the server, in the shape of the S3 store's
/// options (kept free of that crate so the testkit does not depend on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3TestOptions {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The region to sign for (s3s-fs accepts any).
    pub region: String,
    /// The bucket the server was started with.
    pub bucket: String,
    /// The key prefix the test asked for.
    pub prefix: String,
    /// The access key the server accepts.
    pub access_key: String,
    /// The secret key the server accepts.
    pub secret_key: String,
}

/// A running `s3s-fs`, killed on drop.
#[derive(Debug)]
pub struct S3Server {
    child: Child,
    address: SocketAddr,
    root: tempfile::TempDir,
    bucket: String,
}

/// The access key every test server accepts.
pub const S3_ACCESS_KEY: &str = "airlock-test-access";
/// The secret key every test server accepts.
pub const S3_SECRET_KEY: &str = "airlock-test-secret-0123456789";

const MISSING: &str =
    "s3s-fs is needed for this test: cargo install --locked s3s-fs@0.14.1 --features binary";

fn find_binary() -> PathBuf {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .map(|home| home.join("bin"));
    let fallbacks: Vec<PathBuf> = cargo_bin.into_iter().collect();
    crate::server::find_binary("AIRLOCK_S3S_FS", "s3s-fs", &fallbacks, MISSING)
}

impl S3Server {
    /// Starts a server with the bucket `airlock-test` and waits until it
    /// accepts connections. Panics (loudly) if `s3s-fs` is missing or does
    /// not come up.
    pub fn start() -> S3Server {
        let binary = find_binary();
        let root = tempfile::tempdir().expect("temporary directory for s3s-fs");
        let bucket = "airlock-test".to_owned();
        // s3s-fs serves each directory under its root as a bucket.
        std::fs::create_dir(root.path().join(&bucket)).expect("create the bucket directory");
        let (child, address) = crate::server::start_listening(
            &binary,
            |port| {
                let root = root.path().display().to_string();
                ["--host", "127.0.0.1", "--port", &port.to_string()]
                    .into_iter()
                    .chain(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
                    .map(str::to_owned)
                    .chain([root])
                    .collect()
            },
            MISSING,
            Duration::from_secs(15),
        );
        S3Server {
            child,
            address,
            root,
            bucket,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The bucket that exists on the server.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The accepted access key.
    pub fn access_key(&self) -> &str {
        S3_ACCESS_KEY
    }

    /// The accepted secret key.
    pub fn secret_key(&self) -> &str {
        S3_SECRET_KEY
    }

    /// The directory the server keeps its buckets in.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Everything a store needs to use this server under `prefix`.
    pub fn options(&self, prefix: &str) -> S3TestOptions {
        S3TestOptions {
            endpoint: self.endpoint(),
            region: "us-east-1".into(),
            bucket: self.bucket.clone(),
            prefix: prefix.into(),
            access_key: S3_ACCESS_KEY.into(),
            secret_key: S3_SECRET_KEY.into(),
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
