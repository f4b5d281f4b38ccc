//! The Job a scan runs as: [`JobTemplate`] holds what the operator
//! configures once, [`job_spec`] turns it plus one scan request into a
//! `batch/v1` Job.
//!
//! Every scan pod meets the **restricted** Pod Security Standard (non-root
//! user 65532, no privilege escalation, all capabilities dropped, the
//! runtime's default seccomp profile, a read-only root filesystem with an
//! `emptyDir` for `/tmp`), has no service account token, is never restarted
//! or retried by Kubernetes (the gate counts attempts itself) and is bounded
//! by `activeDeadlineSeconds` and resource limits.
//!
//! The job description travels base64-encoded in the environment variable
//! [`SCAN_JOB_ENV`]. Linux refuses to start a process with any single
//! environment string longer than 128 KiB (`MAX_ARG_STRLEN`), so a request
//! whose encoded form would exceed [`MAX_ENCODED_REQUEST_BYTES`] is refused
//! with [`JobSpecError::RequestTooLarge`] rather than producing a pod that
//! can never start.

use std::collections::BTreeMap;
use std::time::Duration;

use airlock_oci::Digest;
use base64::Engine as _;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, EnvFromSource, EnvVar, PodSecurityContext,
    PodSpec, PodTemplateSpec, ResourceRequirements, SeccompProfile, SecretEnvSource,
    SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The environment variable carrying the base64-encoded job description
/// (read by `airlock scan-job --from-env`).
pub const SCAN_JOB_ENV: &str = "AIRLOCK_SCAN_JOB";

/// Largest base64-encoded job description put in [`SCAN_JOB_ENV`]: Linux's
/// per-string limit of 128 KiB minus room for the variable's name.
pub const MAX_ENCODED_REQUEST_BYTES: usize = 128 * 1024 - 1024;

/// The name of the scan container in the pod.
pub const CONTAINER_NAME: &str = "scan";

/// Where the configuration ConfigMap is mounted in the scan pod.
pub const CONFIG_MOUNT_PATH: &str = "/etc/airlock";

/// The user (and group) the scan runs as: the distroless `nonroot` id.
pub const RUN_AS_USER: i64 = 65532;

/// Label keys set on every scan Job and its pod.
pub mod labels {
    /// `airlock`.
    pub const NAME: &str = "app.kubernetes.io/name";
    /// `scan-job`: what the NetworkPolicy for scan pods selects.
    pub const COMPONENT: &str = "app.kubernetes.io/component";
    /// The first 16 hex digits of the scanned manifest's digest.
    pub const DIGEST: &str = "airlock.dev/digest";
}

/// Hex digits of the digest kept in the [`labels::DIGEST`] label.
const DIGEST_LABEL_HEX: usize = 16;

/// What the operator configures once for every scan Job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobTemplate {
    /// Namespace the Jobs are created in (the worker's own, usually).
    pub namespace: String,
    /// The airlock image, by digest preferably (`registry/airlock@sha256:…`).
    pub image: String,
    /// `Always`, `IfNotPresent` or `Never`.
    pub image_pull_policy: String,
    /// Service account of the scan pod; its token is never mounted.
    pub service_account: Option<String>,
    /// ConfigMap holding `airlock.toml`, mounted at [`CONFIG_MOUNT_PATH`].
    pub config_map: String,
    /// Secret whose keys become environment variables of the scan (the S3
    /// credentials only: a scan pod has no business with the database).
    pub secret: String,
    /// CPU limit (and request), e.g. `1` or `500m`.
    pub cpu_limit: String,
    /// Memory limit (and request), e.g. `2Gi`; exceeding it is an OOM kill.
    pub memory_limit: String,
    /// `activeDeadlineSeconds`: Kubernetes kills the scan after this long.
    pub active_deadline: Duration,
    /// `ttlSecondsAfterFinished`: Kubernetes deletes a Job the runner could
    /// not delete itself after this long.
    pub ttl_after_finished: Duration,
    /// Node selector of the scan pod (e.g. a dedicated scan node pool).
    pub node_selector: BTreeMap<String, String>,
    /// Extra labels on the Job and its pod; the [`labels`] keys win.
    pub labels: BTreeMap<String, String>,
}

/// Why no Job could be built for a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobSpecError {
    /// The encoded job description does not fit in one environment variable.
    #[error(
        "the scan job description for {digest} is {encoded_bytes} bytes base64-encoded, more than the {limit} bytes an environment variable of the scan pod can carry"
    )]
    RequestTooLarge {
        /// The manifest being scanned.
        digest: String,
        /// Size of the base64-encoded description.
        encoded_bytes: usize,
        /// [`MAX_ENCODED_REQUEST_BYTES`].
        limit: usize,
    },
    /// The Job name is not a DNS label Kubernetes accepts.
    #[error(
        "invalid scan job name {name:?}: expected at most 63 lowercase letters, digits and '-'"
    )]
    InvalidName {
        /// The rejected name.
        name: String,
    },
}

/// The Job that runs `airlock scan-job --from-env` once for `digest`, with
/// `request_json` (the job description) in [`SCAN_JOB_ENV`].
pub fn job_spec(
    template: &JobTemplate,
    name: &str,
    digest: &Digest,
    request_json: &[u8],
) -> Result<Job, JobSpecError> {
    if !is_dns_label(name) {
        return Err(JobSpecError::InvalidName {
            name: name.to_owned(),
        });
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(request_json);
    if encoded.len() > MAX_ENCODED_REQUEST_BYTES {
        return Err(JobSpecError::RequestTooLarge {
            digest: digest.to_string(),
            encoded_bytes: encoded.len(),
            limit: MAX_ENCODED_REQUEST_BYTES,
        });
    }

    let mut labels = template.labels.clone();
    labels.insert(labels::NAME.to_owned(), "airlock".to_owned());
    labels.insert(labels::COMPONENT.to_owned(), "scan-job".to_owned());
    let hex = digest.hex();
    labels.insert(
        labels::DIGEST.to_owned(),
        hex[..hex.len().min(DIGEST_LABEL_HEX)].to_owned(),
    );

    let limits: BTreeMap<String, Quantity> = [
        ("cpu".to_owned(), Quantity(template.cpu_limit.clone())),
        ("memory".to_owned(), Quantity(template.memory_limit.clone())),
    ]
    .into();
    let container = Container {
        name: CONTAINER_NAME.to_owned(),
        image: Some(template.image.clone()),
        image_pull_policy: Some(template.image_pull_policy.clone()),
        command: Some(vec!["airlock".to_owned()]),
        args: Some(vec![
            "scan-job".to_owned(),
            "--from-env".to_owned(),
            "--fetch-blobs".to_owned(),
        ]),
        env: Some(vec![
            EnvVar {
                name: SCAN_JOB_ENV.to_owned(),
                value: Some(encoded),
                ..EnvVar::default()
            },
            EnvVar {
                name: "AIRLOCK_CONFIG".to_owned(),
                value: Some(format!("{CONFIG_MOUNT_PATH}/airlock.toml")),
                ..EnvVar::default()
            },
        ]),
        env_from: Some(vec![EnvFromSource {
            secret_ref: Some(SecretEnvSource {
                name: template.secret.clone(),
                optional: Some(false),
            }),
            ..EnvFromSource::default()
        }]),
        resources: Some(ResourceRequirements {
            requests: Some(limits.clone()),
            limits: Some(limits),
            ..ResourceRequirements::default()
        }),
        security_context: Some(restricted_container_security_context()),
        volume_mounts: Some(vec![
            VolumeMount {
                name: "config".to_owned(),
                mount_path: CONFIG_MOUNT_PATH.to_owned(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
            VolumeMount {
                name: "tmp".to_owned(),
                mount_path: "/tmp".to_owned(),
                ..VolumeMount::default()
            },
        ]),
        termination_message_policy: Some("FallbackToLogsOnError".to_owned()),
        ..Container::default()
    };
    let pod = PodSpec {
        containers: vec![container],
        restart_policy: Some("Never".to_owned()),
        automount_service_account_token: Some(false),
        service_account_name: template.service_account.clone(),
        enable_service_links: Some(false),
        node_selector: (!template.node_selector.is_empty()).then(|| template.node_selector.clone()),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS_USER),
            run_as_group: Some(RUN_AS_USER),
            fs_group: Some(RUN_AS_USER),
            seccomp_profile: Some(runtime_default_seccomp()),
            ..PodSecurityContext::default()
        }),
        volumes: Some(vec![
            Volume {
                name: "config".to_owned(),
                config_map: Some(ConfigMapVolumeSource {
                    name: template.config_map.clone(),
                    optional: Some(false),
                    ..ConfigMapVolumeSource::default()
                }),
                ..Volume::default()
            },
            Volume {
                name: "tmp".to_owned(),
                empty_dir: Some(Default::default()),
                ..Volume::default()
            },
        ]),
        ..PodSpec::default()
    };
    Ok(Job {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(template.namespace.clone()),
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(seconds(template.active_deadline)),
            ttl_seconds_after_finished: Some(
                i32::try_from(template.ttl_after_finished.as_secs()).unwrap_or(i32::MAX),
            ),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..JobSpec::default()
        }),
        status: None,
    })
}

/// The container security context the restricted Pod Security Standard
/// asks for.
fn restricted_container_security_context() -> SecurityContext {
    SecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS_USER),
        run_as_group: Some(RUN_AS_USER),
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        read_only_root_filesystem: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            add: None,
        }),
        seccomp_profile: Some(runtime_default_seccomp()),
        ..SecurityContext::default()
    }
}

fn runtime_default_seccomp() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".to_owned(),
        localhost_profile: None,
    }
}

/// Whole seconds, at least one (a zero deadline would be rejected).
fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs().max(1)).unwrap_or(i64::MAX)
}

/// An RFC 1123 label: what Job names must be so the pods' `job-name` label
/// is valid too.
fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// A fresh Job name for a scan of `digest`: `airlock-scan-<12 hex>-<8 random hex>`.
pub fn job_name(digest: &Digest) -> String {
    let hex = digest.hex();
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "airlock-scan-{}-{}",
        &hex[..hex.len().min(12)],
        &random[..8]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> JobTemplate {
        JobTemplate {
            namespace: "airlock".to_owned(),
            image: "registry.example/airlock@sha256:0123".to_owned(),
            image_pull_policy: "IfNotPresent".to_owned(),
            service_account: Some("airlock-scan".to_owned()),
            config_map: "airlock-config".to_owned(),
            secret: "airlock-s3".to_owned(),
            cpu_limit: "1".to_owned(),
            memory_limit: "2Gi".to_owned(),
            active_deadline: Duration::from_secs(600),
            ttl_after_finished: Duration::from_secs(3600),
            node_selector: [("pool".to_owned(), "scan".to_owned())].into(),
            labels: [
                ("team".to_owned(), "platform".to_owned()),
                (labels::COMPONENT.to_owned(), "overridden?".to_owned()),
            ]
            .into(),
        }
    }

    fn digest() -> Digest {
        Digest::sha256_of(b"a manifest")
    }

    fn spec_json(request: &[u8]) -> serde_json::Value {
        let job = job_spec(&template(), "airlock-scan-abc-12345678", &digest(), request)
            .expect("job spec");
        serde_json::to_value(&job).expect("serialise the job")
    }

    #[test]
    fn job_has_the_batch_settings() {
        let job = spec_json(b"{}");
        assert_eq!(job["apiVersion"], "batch/v1");
        assert_eq!(job["kind"], "Job");
        assert_eq!(job["metadata"]["name"], "airlock-scan-abc-12345678");
        assert_eq!(job["metadata"]["namespace"], "airlock");
        let spec = &job["spec"];
        assert_eq!(spec["backoffLimit"], 0);
        assert_eq!(spec["activeDeadlineSeconds"], 600);
        assert_eq!(spec["ttlSecondsAfterFinished"], 3600);
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never");
        assert_eq!(pod["automountServiceAccountToken"], false);
        assert_eq!(pod["serviceAccountName"], "airlock-scan");
        assert_eq!(pod["nodeSelector"]["pool"], "scan");
    }

    #[test]
    fn job_and_pod_carry_the_labels() {
        let job = spec_json(b"{}");
        let hex = digest().hex().to_owned();
        for labels in [
            &job["metadata"]["labels"],
            &job["spec"]["template"]["metadata"]["labels"],
        ] {
            assert_eq!(labels["app.kubernetes.io/name"], "airlock");
            assert_eq!(labels["app.kubernetes.io/component"], "scan-job");
            assert_eq!(labels["airlock.dev/digest"], hex[..16]);
            assert_eq!(labels["team"], "platform");
        }
    }

    #[test]
    fn pod_meets_the_restricted_pod_security_standard() {
        let job = spec_json(b"{}");
        let pod = &job["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(pod["securityContext"]["runAsUser"], 65532);
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        let containers = pod["containers"].as_array().expect("containers");
        assert_eq!(containers.len(), 1);
        let security = &containers[0]["securityContext"];
        assert_eq!(security["runAsNonRoot"], true);
        assert_eq!(security["runAsUser"], 65532);
        assert_eq!(security["allowPrivilegeEscalation"], false);
        assert_eq!(security["readOnlyRootFilesystem"], true);
        assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
        assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
        let tmp = containers[0]["volumeMounts"]
            .as_array()
            .expect("mounts")
            .iter()
            .find(|m| m["mountPath"] == "/tmp")
            .expect("a /tmp mount");
        let volume = pod["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .find(|v| v["name"] == tmp["name"])
            .expect("the /tmp volume");
        assert!(volume["emptyDir"].is_object(), "{volume}");
    }

    #[test]
    fn container_runs_scan_job_from_env_with_limits_and_config() {
        let job = spec_json(b"{}");
        let container = &job["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], "registry.example/airlock@sha256:0123");
        assert_eq!(container["imagePullPolicy"], "IfNotPresent");
        assert_eq!(container["command"], serde_json::json!(["airlock"]));
        assert_eq!(
            container["args"],
            serde_json::json!(["scan-job", "--from-env", "--fetch-blobs"])
        );
        assert_eq!(container["resources"]["limits"]["cpu"], "1");
        assert_eq!(container["resources"]["limits"]["memory"], "2Gi");
        assert_eq!(container["resources"]["requests"]["memory"], "2Gi");
        assert_eq!(container["envFrom"][0]["secretRef"]["name"], "airlock-s3");
        let pod = &job["spec"]["template"]["spec"];
        let config = pod["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .find(|v| v["configMap"]["name"] == "airlock-config")
            .expect("the config volume");
        let mount = container["volumeMounts"]
            .as_array()
            .expect("mounts")
            .iter()
            .find(|m| m["name"] == config["name"])
            .expect("the config mount");
        assert_eq!(mount["mountPath"], "/etc/airlock");
        assert_eq!(mount["readOnly"], true);
    }

    #[test]
    fn request_round_trips_through_the_environment_variable() {
        let request = br#"{"digest":"sha256:00","manifests":[{"bytes":"\u0000\u00ff"}]}"#;
        let job = spec_json(request);
        let env = job["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .expect("env")
            .iter()
            .find(|e| e["name"] == SCAN_JOB_ENV)
            .expect("the job description variable")
            .clone();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(env["value"].as_str().expect("a string value"))
            .expect("base64");
        assert_eq!(decoded, request);
    }

    #[test]
    fn oversize_request_is_refused_with_its_size() {
        // 3 raw bytes become 4 base64 characters: one raw byte over the limit.
        let largest = MAX_ENCODED_REQUEST_BYTES / 4 * 3;
        assert!(job_spec(&template(), "ok", &digest(), &vec![b'x'; largest]).is_ok());
        let error = job_spec(&template(), "big", &digest(), &vec![b'x'; largest + 1])
            .expect_err("an oversize request must be refused");
        match &error {
            JobSpecError::RequestTooLarge {
                digest: named,
                encoded_bytes,
                limit,
            } => {
                assert_eq!(named, &digest().to_string());
                assert!(encoded_bytes > limit);
                assert_eq!(*limit, MAX_ENCODED_REQUEST_BYTES);
            }
            other => panic!("unexpected error {other:?}"),
        }
        assert!(
            error.to_string().contains("environment variable"),
            "{error}"
        );
    }

    #[test]
    fn invalid_names_are_refused() {
        for name in ["", "Upper", "-lead", "trail-", "dot.ted", &"x".repeat(64)] {
            assert!(
                matches!(
                    job_spec(&template(), name, &digest(), b"{}"),
                    Err(JobSpecError::InvalidName { .. })
                ),
                "{name:?} was accepted"
            );
        }
    }

    #[test]
    fn generated_names_are_valid_and_distinct() {
        let a = job_name(&digest());
        let b = job_name(&digest());
        assert_ne!(a, b);
        for name in [&a, &b] {
            assert!(is_dns_label(name), "{name}");
            assert!(name.starts_with(&format!("airlock-scan-{}", &digest().hex()[..12])));
        }
    }
}
