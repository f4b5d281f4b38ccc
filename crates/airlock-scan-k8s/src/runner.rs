//! [`KubernetesScanRunner`]: the gate's [`ScanRunner`] that runs each scan
//! as a Kubernetes Job (see [`crate::job`]) instead of a child process.
//!
//! One scan is: create the Job; poll it with backoff until it is `Complete`
//! or `Failed`, bounded by `activeDeadlineSeconds` plus a margin; find its
//! pod, read the scan container's exit code and its log; hand both to the
//! caller's decoder; delete the Job with background propagation (its
//! `ttlSecondsAfterFinished` is the fallback when the delete fails).
//!
//! Failures are named, never a pass: a Job killed by its deadline is
//! [`ScanFailure::Timeout`]; an OOM kill, an API error, a vanished Job or an
//! unreadable pod is [`ScanFailure::Crashed`] (retryable); a request too large
//! for the pod's environment is [`ScanFailure::Image`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use airlock_gate::{ScanFailure, ScanRequest, ScanRunner};
use airlock_scan_model::ScanReport;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStateTerminated, Pod};
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};

use crate::job::{CONTAINER_NAME, JobSpecError, JobTemplate, job_name, job_spec};

/// Turns a scan request into the job description `airlock scan-job
/// --from-env` reads (JSON bytes).
pub type RequestEncoder = Arc<dyn Fn(&ScanRequest) -> Result<Vec<u8>, ScanFailure> + Send + Sync>;

/// Turns the scan container's exit code and log into scan reports or a
/// failure. The log is what the Kubernetes log API returns: standard output
/// and standard error interleaved.
pub type OutputDecoder =
    Arc<dyn Fn(i32, &[u8]) -> Result<Vec<ScanReport>, ScanFailure> + Send + Sync>;

/// Most bytes of the scan container's log read.
const MAX_LOG_BYTES: i64 = 64 << 20;
/// Time allowed beyond `activeDeadlineSeconds` for Kubernetes to mark the
/// Job failed before the runner gives up on it.
const DEADLINE_MARGIN: Duration = Duration::from_secs(60);
/// Time limit of one Kubernetes API call.
const API_CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// API errors in a row tolerated while polling a running Job.
const MAX_POLL_ERRORS: u32 = 5;
/// First and longest pause between two polls of the Job.
const POLL_INITIAL: Duration = Duration::from_millis(500);
const POLL_MAX: Duration = Duration::from_secs(10);

/// Why the Kubernetes client could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// Neither the in-cluster service account nor a kubeconfig was usable.
    #[error("cannot configure the Kubernetes client: {0}")]
    Config(String),
}

/// Runs each scan as a Kubernetes Job.
#[derive(Clone)]
pub struct KubernetesScanRunner {
    client: kube::Client,
    template: JobTemplate,
    encoder: RequestEncoder,
    decoder: OutputDecoder,
}

impl std::fmt::Debug for KubernetesScanRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesScanRunner")
            .field("template", &self.template)
            .finish_non_exhaustive()
    }
}

impl KubernetesScanRunner {
    /// A runner using `client`.
    pub fn new(
        client: kube::Client,
        template: JobTemplate,
        encoder: RequestEncoder,
        decoder: OutputDecoder,
    ) -> KubernetesScanRunner {
        KubernetesScanRunner {
            client,
            template,
            encoder,
            decoder,
        }
    }

    /// A runner with the client Kubernetes configures for this pod (its
    /// service account) or, outside a cluster, the current kubeconfig.
    pub async fn try_default(
        template: JobTemplate,
        encoder: RequestEncoder,
        decoder: OutputDecoder,
    ) -> Result<KubernetesScanRunner, ClientError> {
        let client = kube::Client::try_default()
            .await
            .map_err(|e| ClientError::Config(e.to_string()))?;
        Ok(KubernetesScanRunner::new(
            client, template, encoder, decoder,
        ))
    }

    fn jobs(&self) -> Api<Job> {
        Api::namespaced(self.client.clone(), &self.template.namespace)
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.template.namespace)
    }

    /// Runs the created Job `name` to its end and decodes its output.
    async fn run(&self, name: &str) -> Result<Vec<ScanReport>, ScanFailure> {
        let finished = self.wait(name).await?;
        let pod = self.pod_of(name).await?;
        let terminated = scan_container_termination(&pod).ok_or_else(|| {
            ScanFailure::Crashed(format!(
                "scan job {name} ended ({finished:?}) but its pod has no terminated scan container"
            ))
        })?;
        if let Some(failure) = termination_failure(name, &terminated, &self.template) {
            return Err(failure);
        }
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let params = LogParams {
            container: Some(CONTAINER_NAME.to_owned()),
            limit_bytes: Some(MAX_LOG_BYTES),
            ..LogParams::default()
        };
        let log = api_call(
            &format!("reading the log of scan pod {pod_name}"),
            self.pods().logs(&pod_name, &params),
        )
        .await?;
        (self.decoder)(terminated.exit_code, log.as_bytes())
    }

    /// Polls the Job until it has finished, with backoff.
    async fn wait(&self, name: &str) -> Result<JobState, ScanFailure> {
        let bound = self.template.active_deadline + DEADLINE_MARGIN;
        let started = Instant::now();
        let mut pause = POLL_INITIAL;
        let mut errors = 0;
        loop {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(POLL_MAX);
            match api_call(&format!("reading scan job {name}"), self.jobs().get(name)).await {
                Ok(job) => {
                    errors = 0;
                    match job_state(&job) {
                        JobState::Running => {}
                        JobState::Failed { reason, message } => {
                            if let Some(failure) =
                                job_failure(name, reason.clone(), message.clone(), &self.template)
                            {
                                return Err(failure);
                            }
                            // The container exited non-zero: the pod says why.
                            return Ok(JobState::Failed { reason, message });
                        }
                        JobState::Complete => return Ok(JobState::Complete),
                    }
                }
                Err(failure) => {
                    errors += 1;
                    tracing::warn!(job = name, error = %failure, "polling the scan job failed");
                    if errors >= MAX_POLL_ERRORS {
                        return Err(failure);
                    }
                }
            }
            if started.elapsed() > bound {
                return Err(ScanFailure::Timeout {
                    seconds: bound.as_secs(),
                });
            }
        }
    }

    /// The one pod of Job `name`.
    async fn pod_of(&self, name: &str) -> Result<Pod, ScanFailure> {
        let params = ListParams::default().labels(&format!("batch.kubernetes.io/job-name={name}"));
        let pods = api_call(
            &format!("listing the pods of scan job {name}"),
            self.pods().list(&params),
        )
        .await?;
        // backoffLimit 0 and restartPolicy Never: at most one pod ran; take
        // the one whose container terminated, if several were created.
        pods.items
            .into_iter()
            .max_by_key(|pod| scan_container_termination(pod).is_some())
            .ok_or_else(|| ScanFailure::Crashed(format!("scan job {name} has no pod")))
    }

    async fn delete(&self, name: &str) {
        match tokio::time::timeout(
            API_CALL_TIMEOUT,
            self.jobs().delete(name, &DeleteParams::background()),
        )
        .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(kube::Error::Api(status))) if status.code == 404 => {}
            Ok(Err(e)) => {
                tracing::warn!(job = name, error = %e, "deleting the scan job failed; its TTL will");
            }
            Err(_) => {
                tracing::warn!(job = name, "deleting the scan job timed out; its TTL will");
            }
        }
    }
}

#[async_trait::async_trait]
impl ScanRunner for KubernetesScanRunner {
    async fn scan(&self, request: &ScanRequest) -> Result<Vec<ScanReport>, ScanFailure> {
        let description = (self.encoder)(request)?;
        let name = job_name(&request.digest);
        let job =
            job_spec(&self.template, &name, &request.digest, &description).map_err(
                |e| match e {
                    JobSpecError::RequestTooLarge { .. } => ScanFailure::Image(e.to_string()),
                    JobSpecError::InvalidName { .. } => ScanFailure::Crashed(e.to_string()),
                },
            )?;
        api_call(
            &format!(
                "creating scan job {name} in namespace {}",
                self.template.namespace
            ),
            self.jobs().create(&PostParams::default(), &job),
        )
        .await?;
        tracing::info!(job = %name, digest = %request.digest, "scan job created");
        let result = self.run(&name).await;
        self.delete(&name).await;
        if let Err(failure) = &result {
            tracing::warn!(job = %name, digest = %request.digest, error = %failure, "scan job failed");
        }
        result
    }
}

/// Runs one API call with [`API_CALL_TIMEOUT`]; any error is a retryable
/// crash naming `what`.
async fn api_call<T>(
    what: &str,
    call: impl Future<Output = Result<T, kube::Error>>,
) -> Result<T, ScanFailure> {
    match tokio::time::timeout(API_CALL_TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(ScanFailure::Crashed(format!(
            "{what} failed: Kubernetes API error: {e}"
        ))),
        Err(_) => Err(ScanFailure::Crashed(format!(
            "{what} failed: no answer from the Kubernetes API within {} s",
            API_CALL_TIMEOUT.as_secs()
        ))),
    }
}

/// Where a Job is, from its status conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JobState {
    /// Neither `Complete` nor `Failed` yet.
    Running,
    /// `Complete` is true: the pod exited 0.
    Complete,
    /// `Failed` is true, with the condition's reason and message.
    Failed {
        reason: Option<String>,
        message: Option<String>,
    },
}

pub(crate) fn job_state(job: &Job) -> JobState {
    let conditions = job
        .status
        .as_ref()
        .and_then(|status| status.conditions.as_deref())
        .unwrap_or_default();
    for condition in conditions {
        if condition.status != "True" {
            continue;
        }
        match condition.type_.as_str() {
            "Complete" => return JobState::Complete,
            "Failed" => {
                return JobState::Failed {
                    reason: condition.reason.clone(),
                    message: condition.message.clone(),
                };
            }
            _ => {}
        }
    }
    JobState::Running
}

/// The failure a `Failed` Job condition names by itself, or `None` when the
/// pod has to say why (`BackoffLimitExceeded`: the container exited non-zero).
pub(crate) fn job_failure(
    name: &str,
    reason: Option<String>,
    message: Option<String>,
    template: &JobTemplate,
) -> Option<ScanFailure> {
    match reason.as_deref() {
        Some("DeadlineExceeded") => Some(ScanFailure::Timeout {
            seconds: template.active_deadline.as_secs().max(1),
        }),
        Some("BackoffLimitExceeded") | Some("PodFailurePolicy") | None => None,
        Some(other) => Some(ScanFailure::Crashed(format!(
            "scan job {name} failed: {other}: {}",
            message.unwrap_or_default()
        ))),
    }
}

/// The terminated state of the scan container, if it terminated.
pub(crate) fn scan_container_termination(pod: &Pod) -> Option<ContainerStateTerminated> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_deref()?
        .iter()
        .find(|status| status.name == CONTAINER_NAME)?
        .state
        .as_ref()?
        .terminated
        .clone()
}

/// The failure a terminated container names by itself (an OOM kill), or
/// `None` when its exit code and log go to the decoder.
pub(crate) fn termination_failure(
    name: &str,
    terminated: &ContainerStateTerminated,
    template: &JobTemplate,
) -> Option<ScanFailure> {
    match terminated.reason.as_deref() {
        Some("OOMKilled") => Some(ScanFailure::Crashed(format!(
            "scan job {name} was OOMKilled (memory limit {}, exit code {})",
            template.memory_limit, terminated.exit_code
        ))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use airlock_oci::{Digest, RepoName};
    use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};
    use k8s_openapi::api::core::v1::{ContainerState, ContainerStatus, PodStatus};

    use super::*;

    fn template() -> JobTemplate {
        JobTemplate {
            namespace: "airlock".to_owned(),
            image: "registry.example/airlock:1".to_owned(),
            image_pull_policy: "IfNotPresent".to_owned(),
            service_account: None,
            config_map: "airlock-config".to_owned(),
            secret: "airlock-s3".to_owned(),
            cpu_limit: "1".to_owned(),
            memory_limit: "2Gi".to_owned(),
            active_deadline: Duration::from_secs(600),
            ttl_after_finished: Duration::from_secs(3600),
            node_selector: BTreeMap::new(),
            labels: BTreeMap::new(),
        }
    }

    fn job_with(conditions: &[(&str, &str, Option<&str>)]) -> Job {
        Job {
            status: Some(JobStatus {
                conditions: Some(
                    conditions
                        .iter()
                        .map(|(type_, status, reason)| JobCondition {
                            type_: (*type_).to_owned(),
                            status: (*status).to_owned(),
                            reason: reason.map(str::to_owned),
                            message: Some("the message".to_owned()),
                            ..JobCondition::default()
                        })
                        .collect(),
                ),
                ..JobStatus::default()
            }),
            ..Job::default()
        }
    }

    fn pod_terminated(container: &str, exit_code: i32, reason: &str) -> Pod {
        Pod {
            status: Some(PodStatus {
                container_statuses: Some(vec![ContainerStatus {
                    name: container.to_owned(),
                    state: Some(ContainerState {
                        terminated: Some(ContainerStateTerminated {
                            exit_code,
                            reason: Some(reason.to_owned()),
                            ..ContainerStateTerminated::default()
                        }),
                        ..ContainerState::default()
                    }),
                    ..ContainerStatus::default()
                }]),
                ..PodStatus::default()
            }),
            ..Pod::default()
        }
    }

    #[test]
    fn job_state_follows_the_true_conditions() {
        assert_eq!(job_state(&Job::default()), JobState::Running);
        assert_eq!(
            job_state(&job_with(&[("Failed", "False", Some("x"))])),
            JobState::Running
        );
        assert_eq!(
            job_state(&job_with(&[("SuccessCriteriaMet", "True", None)])),
            JobState::Running
        );
        assert_eq!(
            job_state(&job_with(&[
                ("SuccessCriteriaMet", "True", None),
                ("Complete", "True", None)
            ])),
            JobState::Complete
        );
        assert_eq!(
            job_state(&job_with(&[("Failed", "True", Some("DeadlineExceeded"))])),
            JobState::Failed {
                reason: Some("DeadlineExceeded".to_owned()),
                message: Some("the message".to_owned()),
            }
        );
    }

    #[test]
    fn deadline_exceeded_is_a_timeout() {
        let failure = job_failure("j", Some("DeadlineExceeded".to_owned()), None, &template());
        assert_eq!(failure, Some(ScanFailure::Timeout { seconds: 600 }));
    }

    #[test]
    fn a_non_zero_exit_is_left_to_the_pod_and_other_reasons_crash() {
        for reason in [Some("BackoffLimitExceeded"), Some("PodFailurePolicy"), None] {
            assert_eq!(
                job_failure("j", reason.map(str::to_owned), None, &template()),
                None
            );
        }
        let failure = job_failure(
            "j",
            Some("MaxFailedIndexesExceeded".to_owned()),
            Some("why".to_owned()),
            &template(),
        )
        .expect("a failure");
        assert!(failure.is_retryable());
        assert!(
            failure.to_string().contains("MaxFailedIndexesExceeded"),
            "{failure}"
        );
    }

    #[test]
    fn oom_killed_is_a_retryable_crash_naming_the_limit() {
        let pod = pod_terminated(CONTAINER_NAME, 137, "OOMKilled");
        let terminated = scan_container_termination(&pod).expect("terminated");
        let failure = termination_failure("airlock-scan-x", &terminated, &template())
            .expect("an OOM kill is a failure");
        assert!(matches!(failure, ScanFailure::Crashed(_)));
        let text = failure.to_string();
        assert!(text.contains("OOMKilled") && text.contains("2Gi"), "{text}");
    }

    #[test]
    fn an_ordinary_exit_goes_to_the_decoder() {
        for (code, reason) in [(0, "Completed"), (3, "Error")] {
            let pod = pod_terminated(CONTAINER_NAME, code, reason);
            let terminated = scan_container_termination(&pod).expect("terminated");
            assert_eq!(terminated.exit_code, code);
            assert_eq!(termination_failure("j", &terminated, &template()), None);
        }
    }

    #[test]
    fn only_the_scan_container_counts() {
        assert!(scan_container_termination(&pod_terminated("sidecar", 0, "Completed")).is_none());
        assert!(scan_container_termination(&Pod::default()).is_none());
    }

    /// Against a port nobody listens on: creating the Job fails, and that is
    /// a retryable crash naming what failed, not a pass and not a hang.
    #[tokio::test]
    async fn an_unreachable_api_server_is_a_retryable_crash() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let port = listener.local_addr().expect("address").port();
        drop(listener);
        let config = kube::Config::new(
            format!("http://127.0.0.1:{port}")
                .parse()
                .expect("a cluster url"),
        );
        let client = kube::Client::try_from(config).expect("a client");
        let encoder: RequestEncoder = Arc::new(|_| Ok(b"{}".to_vec()));
        let decoder: OutputDecoder = Arc::new(|_, _| panic!("nothing ran, nothing to decode"));
        let runner = KubernetesScanRunner::new(client, template(), encoder, decoder);
        let request = ScanRequest {
            repository: "unscanned/t/app".parse::<RepoName>().expect("repository"),
            digest: Digest::sha256_of(b"manifest"),
            manifests: Vec::new(),
        };
        let failure = runner
            .scan(&request)
            .await
            .expect_err("no cluster, no scan");
        assert!(failure.is_retryable(), "{failure:?}");
        assert!(
            failure
                .to_string()
                .contains("creating scan job airlock-scan-"),
            "{failure}"
        );
    }

    #[tokio::test]
    async fn an_encoder_failure_is_returned_before_any_api_call() {
        let config = kube::Config::new("http://127.0.0.1:9".parse().expect("a cluster url"));
        let client = kube::Client::try_from(config).expect("a client");
        let encoder: RequestEncoder =
            Arc::new(|_| Err(ScanFailure::Image("manifest unreadable".to_owned())));
        let decoder: OutputDecoder = Arc::new(|_, _| panic!("nothing ran, nothing to decode"));
        let runner = KubernetesScanRunner::new(client, template(), encoder, decoder);
        let request = ScanRequest {
            repository: "unscanned/t/app".parse::<RepoName>().expect("repository"),
            digest: Digest::sha256_of(b"manifest"),
            manifests: Vec::new(),
        };
        assert_eq!(
            runner.scan(&request).await,
            Err(ScanFailure::Image("manifest unreadable".to_owned()))
        );
    }
}
