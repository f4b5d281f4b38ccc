//! `airlock scan-job` (hidden): one isolated scan, run by the server as a
//! child process (DESIGN §3 "each scan runs isolated from the server").
//!
//! The process first lowers its own resource limits (address space, CPU
//! time, open files) so a hostile layer can at worst kill this process, then
//! reads one [`ScanJob`] as JSON from standard input, inventories the image
//! from the filesystem blob store with [`StoreSource`] and writes one
//! [`JobOutput`] as JSON to standard output. There is no vulnerability
//! matching here: the gate matches the inventory itself.
//!
//! Exit codes: 0 with `{"ok": true, ...}`; 3 when the image is the problem
//! (hostile or malformed layer, a scan limit hit, unsupported media type) or
//! the scan's own deadline passed; 4 for anything else. A process killed by
//! a signal (a resource limit) writes nothing. Logs go to standard error.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use airlock_scan_model::ScanReport;
use airlock_scanner::{
    LayerCache, ScanError, ScanLimits, ScanOptions, SourceError, StoreSource, scan_source,
};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// Exit code: the image is unacceptable, or the scan ran out of time.
pub const EXIT_IMAGE: u8 = 3;
/// Exit code: the job could not be run (bad input, I/O, missing blob).
pub const EXIT_INTERNAL: u8 = 4;

/// Largest job description read from standard input.
const MAX_JOB_BYTES: u64 = 256 << 20;

/// Arguments of `airlock scan-job`: the OS limits, applied before anything
/// is read.
#[derive(Debug, clap::Args)]
pub struct ScanJobArgs {
    /// Address-space limit (RLIMIT_AS) in bytes.
    #[arg(long, value_name = "BYTES")]
    pub max_memory_bytes: Option<u64>,
    /// CPU-time limit (RLIMIT_CPU) in seconds: SIGXCPU then, a second later, SIGKILL.
    #[arg(long, value_name = "SECONDS")]
    pub max_cpu_seconds: Option<u64>,
    /// Open-file limit (RLIMIT_NOFILE).
    #[arg(long, value_name = "N")]
    pub max_open_files: Option<u64>,
    /// Read the job from the environment variable `AIRLOCK_SCAN_JOB`
    /// (standard base64 of the JSON) instead of standard input: how a
    /// Kubernetes scan Job receives it.
    #[arg(long)]
    pub from_env: bool,
    /// Copy the image's blobs from the configured storage (`--config`)
    /// into a temporary directory and scan those, instead of `blobs_dir`:
    /// for scans that run away from the registry's disk.
    #[arg(long)]
    pub fetch_blobs: bool,
    /// Configuration file naming the storage, for `--fetch-blobs`.
    #[arg(long, env = "AIRLOCK_CONFIG")]
    pub config: Option<std::path::PathBuf>,
}

/// The environment variable `--from-env` reads the job from.
pub const JOB_ENV: &str = "AIRLOCK_SCAN_JOB";

/// The job description read from standard input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanJob {
    /// Root of the filesystem blob store (`<root>/blobs/<alg>/<2 hex>/<hex>`).
    pub blobs_dir: PathBuf,
    /// Recorded in each report, e.g. `unscanned/t/app@sha256:...`.
    pub reference: String,
    /// The manifest (image or index) to scan.
    pub digest: String,
    /// The manifest documents the scan needs: the root and, for an index,
    /// its child manifests.
    pub manifests: Vec<JobManifest>,
    /// Per-layer analysis cache shared between jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_dir: Option<PathBuf>,
    /// The scanner's limits.
    #[serde(default)]
    pub limits: JobLimits,
}

/// One manifest document of a [`ScanJob`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobManifest {
    /// Its digest.
    pub digest: String,
    /// Its media type as the registry stores it.
    pub media_type: String,
    /// Its bytes, standard base64.
    pub content_base64: String,
}

/// The scanner's limits; an absent field takes the scanner default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobLimits {
    /// Decompressed bytes of one layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_layer_bytes: Option<u64>,
    /// Decompressed bytes of one image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_image_bytes: Option<u64>,
    /// Largest file read into memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_file_bytes: Option<u64>,
    /// Tar entries of one layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_entries: Option<u64>,
    /// The scan's own deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
}

/// Why a job failed, as written to standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureKind {
    /// The image is unacceptable (exit code 3).
    Image,
    /// The scan's own deadline passed (exit code 3).
    Timeout,
    /// The job could not be run (exit code 4).
    Internal,
}

/// What the job writes to standard output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum JobOutput {
    /// `{"ok": true, "reports": [...]}`
    Done {
        /// Always true.
        ok: bool,
        /// One inventory per platform, without findings.
        reports: Vec<ScanReport>,
    },
    /// `{"ok": false, "kind": "...", "error": "..."}`
    Failed {
        /// Always false.
        ok: bool,
        /// Image, timeout or internal.
        kind: FailureKind,
        /// What went wrong, naming the limit when one was hit.
        error: String,
    },
}

/// A job failure before or during the scan.
struct JobError {
    kind: FailureKind,
    message: String,
}

impl JobError {
    fn internal(message: impl Into<String>) -> JobError {
        JobError {
            kind: FailureKind::Internal,
            message: message.into(),
        }
    }
}

/// Runs `airlock scan-job`.
pub fn run(args: ScanJobArgs) -> anyhow::Result<u8> {
    init_logging();
    let output = match run_job(&args) {
        Ok(reports) => JobOutput::Done { ok: true, reports },
        Err(error) => {
            tracing::warn!(kind = ?error.kind, error = %error.message, "scan job failed");
            JobOutput::Failed {
                ok: false,
                kind: error.kind,
                error: error.message,
            }
        }
    };
    let code = match &output {
        JobOutput::Done { .. } => 0,
        JobOutput::Failed {
            kind: FailureKind::Internal,
            ..
        } => EXIT_INTERNAL,
        JobOutput::Failed { .. } => EXIT_IMAGE,
    };
    let mut stdout = std::io::stdout().lock();
    let written = serde_json::to_writer(&mut stdout, &output)
        .map_err(std::io::Error::from)
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush());
    if let Err(error) = written {
        eprintln!("error: writing the scan result to standard output failed: {error}");
        return Ok(EXIT_INTERNAL);
    }
    Ok(code)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .try_init();
}

fn run_job(args: &ScanJobArgs) -> Result<Vec<ScanReport>, JobError> {
    apply_resource_limits(args)?;
    let mut job = if args.from_env {
        read_job_from_env()?
    } else {
        read_job()?
    };
    // Kept alive until the scan is done; removed on drop.
    let mut _staged = None;
    if args.fetch_blobs {
        let dir = tempfile::Builder::new()
            .prefix("airlock-scan-")
            .tempdir()
            .map_err(|e| JobError::internal(format!("creating a scratch directory failed: {e}")))?;
        fetch_blobs(args, &job, dir.path())?;
        job.blobs_dir = dir.path().to_path_buf();
        _staged = Some(dir);
    }
    let manifests = job
        .manifests
        .iter()
        .map(|manifest| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&manifest.content_base64)
                .map_err(|e| {
                    JobError::internal(format!(
                        "decoding the content of manifest {} failed: {e}",
                        manifest.digest
                    ))
                })?;
            Ok((
                manifest.digest.clone(),
                (manifest.media_type.clone(), bytes),
            ))
        })
        .collect::<Result<HashMap<_, _>, JobError>>()?;
    let defaults = ScanLimits::default();
    let limits = ScanLimits {
        max_layer_bytes: job
            .limits
            .max_layer_bytes
            .unwrap_or(defaults.max_layer_bytes),
        max_image_bytes: job
            .limits
            .max_image_bytes
            .unwrap_or(defaults.max_image_bytes),
        max_file_bytes: job.limits.max_file_bytes.unwrap_or(defaults.max_file_bytes),
        max_entries: job.limits.max_entries.unwrap_or(defaults.max_entries),
        timeout: job.limits.timeout_seconds.map(Duration::from_secs),
    };
    let cache = match &job.cache_dir {
        Some(dir) => Some(LayerCache::open(dir).map_err(|e| JobError::internal(chain(&e)))?),
        None => None,
    };
    let options = ScanOptions {
        limits,
        cache,
        ..ScanOptions::default()
    };
    let source = StoreSource::new(&job.blobs_dir, &job.digest, manifests, &job.reference);
    tracing::info!(digest = %job.digest, reference = %job.reference, "scanning");
    let outcome = scan_source(&source, &job.reference, &options).map_err(|error| {
        let mut message = chain(&error);
        if message.contains("out of memory")
            && let Some(limit) = args.max_memory_bytes
        {
            message.push_str(&format!(" (the scan's memory limit is {limit} bytes)"));
        }
        JobError {
            kind: classify(&error),
            message,
        }
    })?;
    Ok(outcome.reports)
}

/// Lowers this process's own limits; they cannot be raised again.
fn apply_resource_limits(args: &ScanJobArgs) -> Result<(), JobError> {
    use rlimit::Resource;
    let set = |resource: Resource, name: &str, soft: u64, hard: u64| {
        let (_, current_hard) = rlimit::getrlimit(resource)
            .map_err(|e| JobError::internal(format!("reading {name} failed: {e}")))?;
        let hard = hard.min(current_hard);
        let soft = soft.min(hard);
        rlimit::setrlimit(resource, soft, hard)
            .map_err(|e| JobError::internal(format!("setting {name} to {soft} failed: {e}")))
    };
    if let Some(bytes) = args.max_memory_bytes {
        set(Resource::AS, "RLIMIT_AS", bytes, bytes)?;
    }
    if let Some(seconds) = args.max_cpu_seconds {
        // SIGXCPU at the soft limit; SIGKILL a second later if it is ignored.
        set(
            Resource::CPU,
            "RLIMIT_CPU",
            seconds,
            seconds.saturating_add(1),
        )?;
    }
    if let Some(files) = args.max_open_files {
        set(Resource::NOFILE, "RLIMIT_NOFILE", files, files)?;
    }
    Ok(())
}

fn read_job_from_env() -> Result<ScanJob, JobError> {
    let text = std::env::var(JOB_ENV)
        .map_err(|e| JobError::internal(format!("reading the job from ${JOB_ENV} failed: {e}")))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| JobError::internal(format!("decoding ${JOB_ENV} failed: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| JobError::internal(format!("parsing the job from ${JOB_ENV} failed: {e}")))
}

/// Copies the blobs the job's manifests name from the configured blob
/// store into `dir`, laid out like the filesystem store.
fn fetch_blobs(args: &ScanJobArgs, job: &ScanJob, dir: &std::path::Path) -> Result<(), JobError> {
    let common = crate::config::CommonArgs {
        config: args.config.clone(),
        data_dir: None,
        log_format: None,
        log_level: None,
        webhook_allow_http: None,
        webhook_allow_private: None,
        database_url: None,
        token_signing_key: None,
        vulndb: None,
    };
    let config = crate::config::Config::load(&common, None)
        .map_err(|e| JobError::internal(format!("{e:#}")))?;
    let mut manifests = Vec::new();
    for manifest in &job.manifests {
        let digest: airlock_oci::Digest = manifest.digest.parse().map_err(|e| {
            JobError::internal(format!("bad manifest digest {}: {e}", manifest.digest))
        })?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&manifest.content_base64)
            .map_err(|e| JobError::internal(format!("decoding manifest {digest} failed: {e}")))?;
        manifests.push((digest, manifest.media_type.clone(), bytes));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| JobError::internal(format!("starting the async runtime failed: {e}")))?;
    runtime.block_on(async {
        let store = crate::backends::open_blob_store(&config)
            .await
            .map_err(|e| JobError::internal(format!("{e:#}")))?;
        crate::scan_runner::stage_blobs(store.as_ref(), &manifests, dir)
            .await
            .map_err(|failure| match failure {
                airlock_gate::ScanFailure::Image(message) => JobError {
                    kind: FailureKind::Image,
                    message,
                },
                other => JobError::internal(other.to_string()),
            })
    })
}

fn read_job() -> Result<ScanJob, JobError> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_JOB_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            JobError::internal(format!("reading the job from standard input failed: {e}"))
        })?;
    if bytes.len() as u64 > MAX_JOB_BYTES {
        return Err(JobError::internal(format!(
            "the job on standard input is larger than {MAX_JOB_BYTES} bytes"
        )));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| JobError::internal(format!("parsing the job from standard input failed: {e}")))
}

/// Whether the image or the machinery is to blame.
fn classify(error: &ScanError) -> FailureKind {
    use airlock_analyzer::WalkError;
    match error {
        ScanError::Source(source) | ScanError::Layer { source, .. } => classify_source(source),
        ScanError::Walk(WalkError::DeadlineExceeded { .. }) => FailureKind::Timeout,
        ScanError::Walk(WalkError::Io { .. }) => FailureKind::Internal,
        ScanError::Walk(_) => FailureKind::Image,
        ScanError::Cache(_) => FailureKind::Internal,
    }
}

fn classify_source(error: &SourceError) -> FailureKind {
    match error {
        SourceError::InvalidDigest { .. }
        | SourceError::DigestMismatch { .. }
        | SourceError::SizeMismatch { .. }
        | SourceError::Parse { .. }
        | SourceError::Malformed { .. }
        | SourceError::UnsupportedMediaType { .. }
        | SourceError::TooLarge { .. }
        | SourceError::PlatformNotFound { .. } => FailureKind::Image,
        // A blob the registry accepted is missing or unreadable: the
        // store's problem, not the image's.
        _ => FailureKind::Internal,
    }
}

/// The error and its causes as one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_output_round_trips_through_json() {
        let failed = JobOutput::Failed {
            ok: false,
            kind: FailureKind::Image,
            error: "layer x exceeds ... (max_layer_bytes)".into(),
        };
        let text = serde_json::to_string(&failed).unwrap();
        assert_eq!(
            text,
            r#"{"ok":false,"kind":"image","error":"layer x exceeds ... (max_layer_bytes)"}"#
        );
        assert_eq!(serde_json::from_str::<JobOutput>(&text).unwrap(), failed);
        let done: JobOutput = serde_json::from_str(r#"{"ok":true,"reports":[]}"#).unwrap();
        assert_eq!(
            done,
            JobOutput::Done {
                ok: true,
                reports: vec![]
            }
        );
    }

    #[test]
    fn reports_survive_the_untagged_output() {
        use airlock_scan_model::{Artifact, Inventory, VulnerabilityData};
        let report = ScanReport {
            schema_version: airlock_scan_model::SCHEMA_VERSION,
            inventory: Inventory {
                artifact: Artifact {
                    reference: "unscanned/t/app@sha256:00".into(),
                    digest: "sha256:00".into(),
                    media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                    platform: None,
                },
                os: None,
                layers: vec![],
                packages: vec![],
            },
            findings: vec![],
            vulnerability_data: VulnerabilityData::Skipped,
            warnings: vec!["a warning".into()],
        };
        let done = JobOutput::Done {
            ok: true,
            reports: vec![report],
        };
        let text = serde_json::to_string(&done).unwrap();
        assert_eq!(serde_json::from_str::<JobOutput>(&text).unwrap(), done);
    }

    #[test]
    fn a_job_without_limits_parses() {
        let job: ScanJob = serde_json::from_str(
            r#"{"blobs_dir": "/d", "reference": "r", "digest": "sha256:00", "manifests": []}"#,
        )
        .unwrap();
        assert_eq!(job.limits, JobLimits::default());
        assert_eq!(job.cache_dir, None);
    }

    #[test]
    fn limits_hit_are_the_image_and_io_is_internal() {
        use airlock_analyzer::WalkError;
        let too_large = ScanError::Walk(WalkError::LayerTooLarge {
            digest: "sha256:00".into(),
            limit: 1,
        });
        assert_eq!(classify(&too_large), FailureKind::Image);
        let deadline = ScanError::Walk(WalkError::DeadlineExceeded {
            digest: "sha256:00".into(),
        });
        assert_eq!(classify(&deadline), FailureKind::Timeout);
        let missing = ScanError::Source(SourceError::BlobNotFound {
            digest: "sha256:00".into(),
            location: "/d".into(),
        });
        assert_eq!(classify(&missing), FailureKind::Internal);
        let mismatch = ScanError::Layer {
            digest: "sha256:00".into(),
            source: SourceError::DigestMismatch {
                expected: "a".into(),
                actual: "b".into(),
            },
        };
        assert_eq!(classify(&mismatch), FailureKind::Image);
    }
}
