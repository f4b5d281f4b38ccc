//! The embedded [`ScanRunner`]: every scan is a child process
//! (`airlock scan-job`) with an address-space, CPU-time and open-file limit
//! and a wall-time limit enforced from here, so a hostile layer can kill a
//! scan but never the server.
//!
//! The job goes in as JSON on the child's standard input and the inventory
//! comes back as JSON on its standard output (see [`crate::cmd_scan_job`]).
//! Everything the child does is mapped to a [`ScanFailure`] the gate can
//! name: exit code 3 is the image's fault, a signal is a resource limit,
//! anything else (or unreadable output) is a crash.

use std::os::unix::process::ExitStatusExt as _;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use std::sync::Arc;

use airlock_gate::{ScanFailure, ScanRequest, ScanRunner};
use airlock_oci::Digest;
use airlock_scan_model::ScanReport;
use airlock_store::{BlobStore, StoreError};
use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::Command;

use crate::cmd_scan_job::{EXIT_IMAGE, FailureKind, JobLimits, JobManifest, JobOutput, ScanJob};

/// Most of the child's standard output read (the reports).
const MAX_STDOUT_BYTES: u64 = 64 << 20;
/// How much of the end of the child's standard error is kept for messages.
const STDERR_TAIL_BYTES: usize = 8 << 10;

/// Resource limits of one scan job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanJobLimits {
    /// Address-space limit of the child (RLIMIT_AS).
    pub max_memory_bytes: u64,
    /// CPU-time limit of the child (RLIMIT_CPU).
    pub max_cpu_seconds: u64,
    /// Open-file limit of the child (RLIMIT_NOFILE).
    pub max_open_files: u64,
    /// Wall time, enforced by killing the child.
    pub wall_time: Duration,
    /// Decompressed bytes of one layer (`None`: the scanner default).
    pub max_layer_bytes: Option<u64>,
    /// Decompressed bytes of one image.
    pub max_image_bytes: Option<u64>,
    /// Largest file read into memory.
    pub max_file_bytes: Option<u64>,
    /// Tar entries of one layer.
    pub max_entries: Option<u64>,
}

impl Default for ScanJobLimits {
    fn default() -> Self {
        ScanJobLimits {
            max_memory_bytes: 2 << 30,
            max_cpu_seconds: 300,
            max_open_files: 256,
            wall_time: Duration::from_secs(600),
            max_layer_bytes: None,
            max_image_bytes: None,
            max_file_bytes: None,
            max_entries: None,
        }
    }
}

/// Where the scan child reads blobs from.
#[derive(Debug, Clone)]
pub enum BlobAccess {
    /// The filesystem blob store's root: the child reads blobs in place.
    Directory(PathBuf),
    /// Any other store (S3): the blobs one scan needs are copied into a
    /// private directory under `staging`, laid out like the filesystem
    /// store, and removed after the scan. The child never sees storage
    /// credentials and needs no network.
    Staged {
        /// The store to copy from.
        store: Arc<dyn BlobStore>,
        /// Local scratch space for the copies.
        staging: PathBuf,
    },
}

/// Runs each scan as `airlock scan-job` in a child process.
#[derive(Debug, Clone)]
pub struct ChildScanRunner {
    program: PathBuf,
    blobs: BlobAccess,
    cache_dir: Option<PathBuf>,
    limits: ScanJobLimits,
}

impl ChildScanRunner {
    /// A runner that starts this executable, scanning blobs from `blobs`.
    pub fn new(
        blobs: BlobAccess,
        cache_dir: Option<PathBuf>,
        limits: ScanJobLimits,
    ) -> std::io::Result<ChildScanRunner> {
        Ok(ChildScanRunner {
            program: std::env::current_exe()?,
            blobs,
            cache_dir,
            limits,
        })
    }

    /// Starts `program` instead of this executable.
    #[cfg(test)]
    pub fn with_program(mut self, program: PathBuf) -> ChildScanRunner {
        self.program = program;
        self
    }

    fn job(&self, request: &ScanRequest, blobs_dir: PathBuf) -> ScanJob {
        job_description(request, blobs_dir, self.cache_dir.clone(), &self.limits)
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command
            .arg("scan-job")
            .arg("--max-memory-bytes")
            .arg(self.limits.max_memory_bytes.to_string())
            .arg("--max-cpu-seconds")
            .arg(self.limits.max_cpu_seconds.to_string())
            .arg("--max-open-files")
            .arg(self.limits.max_open_files.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    fn wall_seconds(&self) -> u64 {
        self.limits.wall_time.as_secs().max(1)
    }
}

#[async_trait::async_trait]
impl ScanRunner for ChildScanRunner {
    async fn scan(&self, request: &ScanRequest) -> Result<Vec<ScanReport>, ScanFailure> {
        match &self.blobs {
            BlobAccess::Directory(dir) => self.run_child(request, dir.clone()).await,
            BlobAccess::Staged { store, staging } => {
                let dir = staging.join(format!("scan-{}", uuid::Uuid::new_v4().simple()));
                let result = match stage_blobs(store.as_ref(), &request.manifests, &dir).await {
                    Ok(()) => self.run_child(request, dir.clone()).await,
                    Err(failure) => Err(failure),
                };
                if let Err(e) = tokio::fs::remove_dir_all(&dir).await
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(dir = %dir.display(), error = %e, "could not remove a scan's staged blobs");
                }
                result
            }
        }
    }
}

/// The blobs a scan reads: every config and layer of the image manifests
/// (an index's children are in the request too).
fn needed_blobs(manifests: &[(Digest, String, Vec<u8>)]) -> Result<Vec<Digest>, ScanFailure> {
    let mut needed = Vec::new();
    for (digest, _, bytes) in manifests {
        let document: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| ScanFailure::Image(format!("manifest {digest} is not JSON: {e}")))?;
        let config = document.get("config").into_iter();
        let layers = document
            .get("layers")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten();
        for descriptor in config.chain(layers) {
            let Some(text) = descriptor.get("digest").and_then(serde_json::Value::as_str) else {
                continue;
            };
            let blob: Digest = text.parse().map_err(|e| {
                ScanFailure::Image(format!(
                    "manifest {digest} names a bad digest {text:?}: {e}"
                ))
            })?;
            if !needed.contains(&blob) {
                needed.push(blob);
            }
        }
    }
    Ok(needed)
}

/// How many blobs of one scan are copied at a time: each copy is mostly
/// waiting on the object store, so a few overlap their round trips.
const STAGING_CONCURRENCY: usize = 4;

/// Copies the blobs a scan needs from `store` into `dir`, laid out like
/// the filesystem blob store (`blobs/<alg>/<2 hex>/<hex>`), streaming, a
/// few at a time.
pub async fn stage_blobs(
    store: &dyn BlobStore,
    manifests: &[(Digest, String, Vec<u8>)],
    dir: &std::path::Path,
) -> Result<(), ScanFailure> {
    use futures::{StreamExt as _, TryStreamExt as _};
    futures::stream::iter(needed_blobs(manifests)?)
        .map(|digest| stage_blob(store, digest, dir))
        .buffer_unordered(STAGING_CONCURRENCY)
        .try_collect::<()>()
        .await
}

/// Copies one blob for [`stage_blobs`].
async fn stage_blob(
    store: &dyn BlobStore,
    digest: Digest,
    dir: &std::path::Path,
) -> Result<(), ScanFailure> {
    use futures::StreamExt as _;
    let io = |what: &str, e: &dyn std::fmt::Display| {
        ScanFailure::Crashed(format!("staging blobs for the scan: {what}: {e}"))
    };
    let hex = digest.hex();
    let folder = dir
        .join("blobs")
        .join(digest.algorithm().as_str())
        .join(&hex[..2.min(hex.len())]);
    tokio::fs::create_dir_all(&folder)
        .await
        .map_err(|e| io(&format!("create {}", folder.display()), &e))?;
    let mut stream = match store.read(&digest, None).await {
        Ok(stream) => stream,
        // A blob that is not there is the image's fault, not a crash.
        Err(StoreError::NotFound(_)) => {
            return Err(ScanFailure::Image(format!("blob {digest} is missing")));
        }
        Err(e) => return Err(io(&format!("read {digest}"), &e)),
    };
    let path = folder.join(hex);
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(|e| io(&format!("create {}", path.display()), &e))?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| io(&format!("read {digest}"), &e))?;
        file.write_all(&chunk)
            .await
            .map_err(|e| io(&format!("write {}", path.display()), &e))?;
    }
    file.flush()
        .await
        .map_err(|e| io(&format!("write {}", path.display()), &e))?;
    Ok(())
}

impl ChildScanRunner {
    async fn run_child(
        &self,
        request: &ScanRequest,
        blobs_dir: PathBuf,
    ) -> Result<Vec<ScanReport>, ScanFailure> {
        let job = serde_json::to_vec(&self.job(request, blobs_dir))
            .map_err(|e| ScanFailure::Crashed(format!("serialising the scan job failed: {e}")))?;
        let mut child = self.command().spawn().map_err(|e| {
            ScanFailure::Crashed(format!(
                "starting the scan process {} failed: {e}",
                self.program.display()
            ))
        })?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(ScanFailure::Crashed(
                "the scan process has no standard streams".to_string(),
            ));
        };
        let feed = async move {
            // A child that exits early closes the pipe; its exit status says why.
            let _ = stdin.write_all(&job).await;
            drop(stdin);
        };
        let run = async {
            let ((), stdout, stderr_tail) =
                tokio::join!(feed, read_bounded(stdout), read_tail(stderr));
            (stdout, stderr_tail)
        };
        let (stdout, stderr_tail) = match tokio::time::timeout(self.limits.wall_time, run).await {
            Ok(output) => output,
            Err(_) => {
                let _ = child.kill().await;
                tracing::warn!(digest = %request.digest, "scan job killed after the wall-time limit");
                return Err(ScanFailure::Timeout {
                    seconds: self.wall_seconds(),
                });
            }
        };
        let stdout = match stdout {
            Ok(bytes) => bytes,
            Err(message) => {
                let _ = child.kill().await;
                return Err(ScanFailure::Crashed(message));
            }
        };
        let status = match tokio::time::timeout(self.limits.wall_time, child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => {
                return Err(ScanFailure::Crashed(format!(
                    "waiting for the scan process failed: {e}"
                )));
            }
            Err(_) => {
                let _ = child.kill().await;
                return Err(ScanFailure::Timeout {
                    seconds: self.wall_seconds(),
                });
            }
        };
        interpret(
            status,
            &stdout,
            &String::from_utf8_lossy(&stderr_tail),
            &self.limits,
        )
    }
}

/// The job description `airlock scan-job` reads for `request`.
pub fn job_description(
    request: &ScanRequest,
    blobs_dir: PathBuf,
    cache_dir: Option<PathBuf>,
    limits: &ScanJobLimits,
) -> ScanJob {
    let base64 = base64::engine::general_purpose::STANDARD;
    ScanJob {
        blobs_dir,
        reference: format!("{}@{}", request.repository, request.digest),
        digest: request.digest.to_string(),
        manifests: request
            .manifests
            .iter()
            .map(|(digest, media_type, bytes)| JobManifest {
                digest: digest.to_string(),
                media_type: media_type.clone(),
                content_base64: base64.encode(bytes),
            })
            .collect(),
        cache_dir,
        limits: JobLimits {
            max_layer_bytes: limits.max_layer_bytes,
            max_image_bytes: limits.max_image_bytes,
            max_file_bytes: limits.max_file_bytes,
            max_entries: limits.max_entries,
            timeout_seconds: Some(limits.wall_time.as_secs().max(1)),
        },
    }
}

/// Maps the child's exit status and output to reports or a failure.
fn interpret(
    status: ExitStatus,
    stdout: &[u8],
    stderr_tail: &str,
    limits: &ScanJobLimits,
) -> Result<Vec<ScanReport>, ScanFailure> {
    let stderr_note = || {
        let tail = stderr_tail.trim();
        if tail.is_empty() {
            String::new()
        } else {
            // The last line usually says what happened (e.g. a failed allocation).
            let last = tail.lines().last().unwrap_or(tail);
            format!("; stderr: {last}")
        }
    };
    if let Some(signal) = status.signal() {
        return Err(ScanFailure::Crashed(format!(
            "scan process killed by signal {signal} ({}){}",
            signal_cause(signal, limits),
            stderr_note()
        )));
    }
    interpret_output(status.code(), stdout, &stderr_note(), limits)
}

/// Maps the scan's exit code and output (the one JSON line `scan-job`
/// writes, found as the last line that parses, so a log with standard
/// error mixed in works too) to reports or a failure. `note` is appended
/// to crash messages.
pub fn interpret_output(
    code: Option<i32>,
    output: &[u8],
    note: &str,
    limits: &ScanJobLimits,
) -> Result<Vec<ScanReport>, ScanFailure> {
    let output: Option<JobOutput> = serde_json::from_slice(output).ok().or_else(|| {
        output
            .split(|b| *b == b'\n')
            .rev()
            .find_map(|line| serde_json::from_slice(line).ok())
    });
    match (code, output) {
        (Some(0), Some(JobOutput::Done { ok: true, reports })) => Ok(reports),
        (
            Some(code),
            Some(JobOutput::Failed {
                ok: false,
                kind,
                error,
            }),
        ) if code == i32::from(EXIT_IMAGE) => match kind {
            FailureKind::Timeout => Err(ScanFailure::Timeout {
                seconds: limits.wall_time.as_secs().max(1),
            }),
            FailureKind::Image | FailureKind::Internal => Err(ScanFailure::Image(error)),
        },
        (Some(code), Some(JobOutput::Failed { error, .. })) => Err(ScanFailure::Crashed(format!(
            "scan process failed with exit code {code}: {error}"
        ))),
        (code, _) => Err(ScanFailure::Crashed(format!(
            "scan process exited with {} and no readable result{}",
            code.map_or_else(|| "no exit code".to_string(), |c| format!("exit code {c}")),
            note
        ))),
    }
}

/// Which limit a signal most likely comes from.
fn signal_cause(signal: i32, limits: &ScanJobLimits) -> String {
    const SIGABRT: i32 = 6;
    const SIGKILL: i32 = 9;
    const SIGSEGV: i32 = 11;
    const SIGXCPU: i32 = 24;
    match signal {
        SIGXCPU => format!("the CPU time limit of {} s", limits.max_cpu_seconds),
        SIGABRT | SIGSEGV => format!(
            "likely the memory limit of {} bytes",
            limits.max_memory_bytes
        ),
        SIGKILL => format!(
            "likely the CPU time limit of {} s or the out-of-memory killer",
            limits.max_cpu_seconds
        ),
        _ => "an unexpected signal".to_string(),
    }
}

/// Reads all of `reader`, failing beyond [`MAX_STDOUT_BYTES`].
async fn read_bounded(reader: impl AsyncRead + Unpin) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_STDOUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| format!("reading the scan process's output failed: {e}"))?;
    if bytes.len() as u64 > MAX_STDOUT_BYTES {
        return Err(format!(
            "the scan process wrote more than {MAX_STDOUT_BYTES} bytes of output"
        ));
    }
    Ok(bytes)
}

/// Reads `reader` to its end, keeping the last [`STDERR_TAIL_BYTES`].
async fn read_tail(mut reader: impl AsyncRead + Unpin) -> Vec<u8> {
    let mut tail = Vec::with_capacity(STDERR_TAIL_BYTES * 2);
    let mut buffer = [0u8; 8192];
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                tail.extend_from_slice(&buffer[..n]);
                if tail.len() > STDERR_TAIL_BYTES {
                    tail.drain(..tail.len() - STDERR_TAIL_BYTES);
                }
            }
        }
    }
    tail
}

#[cfg(test)]
mod tests {
    const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

    use std::os::unix::fs::PermissionsExt as _;
    use std::path::Path;

    use super::*;

    fn request() -> ScanRequest {
        let manifest = br#"{"schemaVersion":2}"#.to_vec();
        ScanRequest {
            repository: "unscanned/t/app".parse().unwrap(),
            digest: Digest::sha256_of(&manifest),
            manifests: vec![(
                Digest::sha256_of(&manifest),
                "application/vnd.oci.image.manifest.v1+json".to_string(),
                manifest,
            )],
        }
    }

    /// A runner whose "scan process" is a shell script.
    fn runner(dir: &Path, script: &str, wall_time: Duration) -> ChildScanRunner {
        let path = dir.join("fake-airlock");
        std::fs::write(&path, format!("#!/bin/sh\ncat >/dev/null\n{script}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let limits = ScanJobLimits {
            max_memory_bytes: 123_456_789,
            max_cpu_seconds: 7,
            wall_time,
            ..ScanJobLimits::default()
        };
        ChildScanRunner::new(BlobAccess::Directory(dir.join("store")), None, limits)
            .unwrap()
            .with_program(path)
    }

    async fn run(script: &str, wall_time: Duration) -> Result<Vec<ScanReport>, ScanFailure> {
        let dir = tempfile::tempdir().unwrap();
        runner(dir.path(), script, wall_time).scan(&request()).await
    }

    #[tokio::test]
    async fn ok_output_is_the_inventory() {
        let result = run(
            r#"echo '{"ok": true, "reports": []}'"#,
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(result, Ok(vec![]));
    }

    #[tokio::test]
    async fn exit_3_is_the_image() {
        let result = run(
            r#"echo '{"ok": false, "kind": "image", "error": "layer x exceeds the limit (max_layer_bytes)"}'; exit 3"#,
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(
            result,
            Err(ScanFailure::Image(
                "layer x exceeds the limit (max_layer_bytes)".to_string()
            ))
        );
    }

    #[tokio::test]
    async fn the_jobs_own_deadline_is_a_timeout() {
        let result = run(
            r#"echo '{"ok": false, "kind": "timeout", "error": "scan deadline exceeded (deadline)"}'; exit 3"#,
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(result, Err(ScanFailure::Timeout { seconds: 10 }));
    }

    #[tokio::test]
    async fn exit_4_is_a_crash_with_the_message() {
        let result = run(
            r#"echo '{"ok": false, "kind": "internal", "error": "blob sha256:ab not found"}'; exit 4"#,
            Duration::from_secs(10),
        )
        .await;
        let Err(ScanFailure::Crashed(message)) = result else {
            panic!("expected a crash, got {result:?}");
        };
        assert!(message.contains("exit code 4"), "{message}");
        assert!(message.contains("blob sha256:ab not found"), "{message}");
    }

    #[tokio::test]
    async fn garbage_output_is_a_crash() {
        let result = run("echo 'this is not json'", Duration::from_secs(10)).await;
        let Err(ScanFailure::Crashed(message)) = result else {
            panic!("expected a crash, got {result:?}");
        };
        assert!(message.contains("no readable result"), "{message}");
    }

    #[tokio::test]
    async fn a_failure_claimed_with_exit_0_is_a_crash() {
        let result = run(
            r#"echo '{"ok": false, "kind": "image", "error": "x"}'"#,
            Duration::from_secs(10),
        )
        .await;
        assert!(matches!(result, Err(ScanFailure::Crashed(_))), "{result:?}");
    }

    #[tokio::test]
    async fn killed_by_sigkill_names_the_limits() {
        let result = run(
            "echo 'memory allocation failed' >&2; kill -9 $$",
            Duration::from_secs(10),
        )
        .await;
        let Err(ScanFailure::Crashed(message)) = result else {
            panic!("expected a crash, got {result:?}");
        };
        assert!(message.contains("signal 9"), "{message}");
        assert!(message.contains("CPU time limit of 7 s"), "{message}");
        assert!(message.contains("memory allocation failed"), "{message}");
    }

    #[tokio::test]
    async fn aborted_names_the_memory_limit() {
        let result = run("kill -ABRT $$", Duration::from_secs(10)).await;
        let Err(ScanFailure::Crashed(message)) = result else {
            panic!("expected a crash, got {result:?}");
        };
        assert!(message.contains("signal 6"), "{message}");
        assert!(
            message.contains("memory limit of 123456789 bytes"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_hung_scan_is_killed_at_the_wall_time() {
        let started = std::time::Instant::now();
        let result = run("sleep 30", Duration::from_millis(300)).await;
        assert_eq!(result, Err(ScanFailure::Timeout { seconds: 1 }));
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn a_missing_program_is_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let runner = runner(dir.path(), "", Duration::from_secs(10))
            .with_program(dir.path().join("does-not-exist"));
        let result = runner.scan(&request()).await;
        assert!(matches!(result, Err(ScanFailure::Crashed(_))), "{result:?}");
    }

    #[test]
    fn the_job_carries_the_request_and_limits() {
        let limits = ScanJobLimits {
            max_layer_bytes: Some(1024),
            ..ScanJobLimits::default()
        };
        let runner = ChildScanRunner::new(
            BlobAccess::Directory(PathBuf::from("/data")),
            Some(PathBuf::from("/cache")),
            limits,
        )
        .unwrap();
        let request = request();
        let job = runner.job(&request, PathBuf::from("/data"));
        assert_eq!(job.digest, request.digest.to_string());
        assert_eq!(job.reference, format!("unscanned/t/app@{}", request.digest));
        assert_eq!(job.manifests.len(), 1);
        assert_eq!(job.limits.max_layer_bytes, Some(1024));
        assert_eq!(job.limits.timeout_seconds, Some(600));
        assert_eq!(job.cache_dir, Some(PathBuf::from("/cache")));
    }

    #[tokio::test]
    async fn staged_scans_copy_exactly_the_configs_and_layers_they_need() {
        let dir = tempfile::tempdir().unwrap();
        let store = airlock_store_fs::FsBlobStore::open(dir.path().join("store"))
            .await
            .unwrap();
        let mut digests = Vec::new();
        for content in [b"config".as_slice(), b"layer one", b"layer two"] {
            let digest = Digest::sha256_of(content);
            let id = format!("u{}", digests.len());
            store.upload_create(&id).await.unwrap();
            let chunk: Vec<Result<bytes::Bytes, std::io::Error>> =
                vec![Ok(bytes::Bytes::copy_from_slice(content))];
            store
                .upload_append(&id, Box::pin(futures::stream::iter(chunk)))
                .await
                .unwrap();
            store.upload_commit(&id, &digest).await.unwrap();
            digests.push(digest);
        }
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "config": {"digest": digests[0].to_string(), "size": 6},
            "layers": [
                {"digest": digests[1].to_string(), "size": 9},
                {"digest": digests[2].to_string(), "size": 9},
                {"digest": digests[1].to_string(), "size": 9},
            ],
        });
        let bytes = serde_json::to_vec(&manifest).unwrap();
        let request = ScanRequest {
            repository: "unscanned/t/app".parse().unwrap(),
            digest: Digest::sha256_of(&bytes),
            manifests: vec![(Digest::sha256_of(&bytes), OCI_MANIFEST.into(), bytes)],
        };
        assert_eq!(needed_blobs(&request.manifests).unwrap(), digests);
        let staged = dir.path().join("staged");
        stage_blobs(&store, &request.manifests, &staged)
            .await
            .unwrap();
        for (digest, content) in digests.iter().zip(["config", "layer one", "layer two"]) {
            let path = staged
                .join("blobs/sha256")
                .join(&digest.hex()[..2])
                .join(digest.hex());
            assert_eq!(std::fs::read_to_string(&path).unwrap(), content);
        }

        // A blob the store does not have is the image's fault.
        let missing = Digest::sha256_of(b"absent");
        let manifest =
            serde_json::json!({"schemaVersion": 2, "layers": [{"digest": missing.to_string()}]});
        let bytes = serde_json::to_vec(&manifest).unwrap();
        let request = ScanRequest {
            repository: "unscanned/t/app".parse().unwrap(),
            digest: Digest::sha256_of(&bytes),
            manifests: vec![(Digest::sha256_of(&bytes), OCI_MANIFEST.into(), bytes)],
        };
        let failure = stage_blobs(&store, &request.manifests, &dir.path().join("other"))
            .await
            .unwrap_err();
        assert!(
            matches!(&failure, ScanFailure::Image(m) if m.contains("missing")),
            "{failure:?}"
        );
    }
}
