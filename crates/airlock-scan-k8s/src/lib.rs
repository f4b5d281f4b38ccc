//! The Kubernetes scan executor: the gate's isolated scan as a Kubernetes
//! Job per image, for `airlock worker --scan-executor kubernetes` (built into
//! the binary only with the `kubernetes` cargo feature of airlock-cli).
//!
//! Why a Job rather than a child process of the worker: the scan of a
//! hostile image then runs in its own pod with its own memory and CPU limits,
//! the **restricted** Pod Security Standard, no service account token and a
//! NetworkPolicy that lets it reach only S3 and DNS, so a compromise of the
//! scanner reaches neither the worker, the database nor the Kubernetes API.
//!
//! - [`job`]: [`JobTemplate`] (what the operator configures) and
//!   [`job_spec`] (one Job for one scan request); pure, unit-tested.
//! - [`runner`]: [`KubernetesScanRunner`], the [`airlock_gate::ScanRunner`]
//!   that creates the Job, waits for it, reads the pod's exit code and log,
//!   hands them to the caller's decoder and deletes the Job.
//!
//! Design decisions:
//! - The job description (JSON from the caller's encoder) travels base64 in
//!   the environment variable `AIRLOCK_SCAN_JOB`. Linux caps one environment
//!   string at 128 KiB, so a larger description is refused as
//!   [`airlock_gate::ScanFailure::Image`] (an index with very many child
//!   manifests) instead of creating a pod that could never start.
//! - Kubernetes never retries (backoffLimit 0, restartPolicy Never): the
//!   gate counts attempts and decides what is retryable.
//! - The runner polls the Job with backoff (no watch, no kube-runtime: fewer
//!   dependencies, and a dropped watch cannot lose the end of a scan).
//! - The log API interleaves standard output and standard error, and the
//!   kubelet rotates container logs (10 MiB by default): the decoder must
//!   find the result in the log, and results larger than the rotation size
//!   are lost (the decoder then fails, which is a crash, never a pass).
//!
//! **Not tested against a cluster.** No Kubernetes cluster was available
//! where this was written: the Job spec and the failure mapping are unit
//! tested, the API path only against an unreachable server (an API error is
//! a retryable crash). The deploy/kubernetes manifests are checked by
//! `tests/manifests.rs`.

pub mod job;
pub mod runner;

pub use job::{JobSpecError, JobTemplate, SCAN_JOB_ENV, job_name, job_spec};
pub use runner::{ClientError, KubernetesScanRunner, OutputDecoder, RequestEncoder};
