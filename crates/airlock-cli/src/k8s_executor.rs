//! `--scan-executor kubernetes` (cargo feature `kubernetes`): each scan is
//! a Kubernetes Job running `airlock scan-job --from-env --fetch-blobs`,
//! built by `airlock-scan-k8s` from the `[kubernetes]` table. The job
//! description is the one the child-process executor writes to stdin, and
//! the result is read the same way, from the pod's log.
//!
//! No cluster is available where airlock is developed: the Job spec is
//! unit-tested, the round trip is not (see docs/kubernetes.md).

use std::sync::Arc;
use std::time::Duration;

use airlock_gate::{ScanFailure, ScanRunner};
use airlock_scan_k8s::{JobTemplate, KubernetesScanRunner};
use anyhow::Context;

use crate::config::{KubernetesConfig, parse_duration};
use crate::scan_runner::{ScanJobLimits, interpret_output, job_description};

/// The namespace this pod runs in, when it runs in one.
fn own_namespace() -> Option<String> {
    std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        .ok()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
}

/// The Job template from the `[kubernetes]` table and the scan limits.
pub fn template(
    settings: &KubernetesConfig,
    limits: &ScanJobLimits,
) -> anyhow::Result<JobTemplate> {
    let ttl = match &settings.ttl_after_finished {
        Some(text) => parse_duration(text).context("invalid [kubernetes] ttl_after_finished")?,
        None => Duration::from_secs(600),
    };
    Ok(JobTemplate {
        namespace: settings
            .namespace
            .clone()
            .or_else(own_namespace)
            .unwrap_or_else(|| "airlock".to_owned()),
        image: settings.image.clone().unwrap_or_default(),
        image_pull_policy: settings
            .image_pull_policy
            .clone()
            .unwrap_or_else(|| "IfNotPresent".to_owned()),
        service_account: Some(
            settings
                .service_account
                .clone()
                .unwrap_or_else(|| "airlock-scan".to_owned()),
        ),
        config_map: settings
            .config_map
            .clone()
            .unwrap_or_else(|| "airlock-config".to_owned()),
        secret: settings
            .secret
            .clone()
            .unwrap_or_else(|| "airlock-s3".to_owned()),
        cpu_limit: settings.cpu_limit.clone().unwrap_or_else(|| "1".to_owned()),
        memory_limit: settings
            .memory_limit
            .clone()
            .unwrap_or_else(|| "2Gi".to_owned()),
        active_deadline: limits.wall_time,
        ttl_after_finished: ttl,
        node_selector: settings.node_selector.clone(),
        labels: std::collections::BTreeMap::new(),
    })
}

/// The runner: the client of this pod's service account (or the current
/// kubeconfig), the template, and the scan-job protocol both ways.
pub async fn runner(
    settings: &KubernetesConfig,
    limits: ScanJobLimits,
) -> anyhow::Result<Arc<dyn ScanRunner>> {
    let template = template(settings, &limits)?;
    let encode_limits = limits.clone();
    let encoder: airlock_scan_k8s::RequestEncoder = Arc::new(move |request| {
        // The pod fetches the blobs itself; its own blobs_dir is scratch.
        let job = job_description(request, "/tmp/blobs".into(), None, &encode_limits);
        serde_json::to_vec(&job)
            .map_err(|e| ScanFailure::Crashed(format!("serialising the scan job failed: {e}")))
    });
    let decoder: airlock_scan_k8s::OutputDecoder =
        Arc::new(move |code, log| interpret_output(Some(code), log, "", &limits));
    let runner = KubernetesScanRunner::try_default(template, encoder, decoder)
        .await
        .context("cannot use the Kubernetes API for scan Jobs")?;
    Ok(Arc::new(runner))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_takes_the_table_and_the_scan_limits() {
        let settings = KubernetesConfig {
            namespace: Some("scans".into()),
            image: Some("registry.example/airlock@sha256:00".into()),
            memory_limit: Some("4Gi".into()),
            ..KubernetesConfig::default()
        };
        let limits = ScanJobLimits {
            wall_time: Duration::from_secs(300),
            ..ScanJobLimits::default()
        };
        let template = template(&settings, &limits).unwrap();
        assert_eq!(template.namespace, "scans");
        assert_eq!(template.memory_limit, "4Gi");
        assert_eq!(template.cpu_limit, "1");
        assert_eq!(template.active_deadline, Duration::from_secs(300));
        assert_eq!(template.secret, "airlock-s3");
        let spec = airlock_scan_k8s::job_spec(
            &template,
            "airlock-scan-test",
            &airlock_oci::Digest::sha256_of(b"m"),
            b"{}",
        )
        .unwrap();
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(
            json["spec"]["template"]["spec"]["containers"][0]["args"],
            serde_json::json!(["scan-job", "--from-env", "--fetch-blobs"])
        );
    }

    #[test]
    fn a_result_is_found_in_a_log_with_standard_error_mixed_in() {
        let log = b"2026-11-27T21:00:00Z WARN scanning something\n{\"ok\":true,\"reports\":[]}\n";
        let reports = interpret_output(Some(0), log, "", &ScanJobLimits::default()).unwrap();
        assert!(reports.is_empty());
        let log = b"WARN nothing useful\n";
        assert!(matches!(
            interpret_output(Some(0), log, "", &ScanJobLimits::default()),
            Err(ScanFailure::Crashed(_))
        ));
    }
}
