//! Checks every manifest in `deploy/kubernetes` (no cluster here: this test
//! is the only check they get): the restricted Pod Security Standard on every
//! pod template, probes on the API, limits on the worker, default-deny
//! networking with scan pods reaching only DNS and S3, a least-privilege
//! Role, and a kustomization listing every file. The checker is also run on
//! broken copies, so it is known to catch what it claims to.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize as _;
use serde_json::{Value, json};

fn manifest_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/kubernetes")
}

/// Every YAML file of the directory, by file name, in order.
fn manifest_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(manifest_dir())
        .expect("deploy/kubernetes must exist")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
        })
        .map(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("a file name")
                .to_owned();
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            (name, text)
        })
        .collect();
    files.sort();
    files
}

/// Every Kubernetes object of every manifest (not the kustomization).
fn documents() -> Vec<Value> {
    let mut documents = Vec::new();
    for (name, text) in manifest_files() {
        if name == "kustomization.yaml" {
            continue;
        }
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            let value = Value::deserialize(document)
                .unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"));
            if value.is_null() {
                continue;
            }
            assert!(
                value["apiVersion"].is_string() && value["kind"].is_string(),
                "{name}: a document without apiVersion/kind: {value}"
            );
            documents.push(value);
        }
    }
    assert!(
        documents.len() > 10,
        "too few manifests: {}",
        documents.len()
    );
    documents
}

fn id(document: &Value) -> String {
    format!(
        "{} {}",
        document["kind"].as_str().unwrap_or("?"),
        document["metadata"]["name"].as_str().unwrap_or("?")
    )
}

/// The pod templates of a workload object.
fn pod_spec(document: &Value) -> Option<&Value> {
    match document["kind"].as_str()? {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            Some(&document["spec"]["template"]["spec"])
        }
        "CronJob" => Some(&document["spec"]["jobTemplate"]["spec"]["template"]["spec"]),
        "Pod" => Some(&document["spec"]),
        _ => None,
    }
}

fn pod_labels(document: &Value) -> &Value {
    match document["kind"].as_str() {
        Some("Pod") => &document["metadata"]["labels"],
        Some("CronJob") => {
            &document["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        }
        _ => &document["spec"]["template"]["metadata"]["labels"],
    }
}

fn component(document: &Value) -> Option<&str> {
    pod_labels(document)["app.kubernetes.io/component"].as_str()
}

fn containers(pod: &Value) -> impl Iterator<Item = &Value> {
    ["containers", "initContainers", "ephemeralContainers"]
        .into_iter()
        .filter_map(|key| pod[key].as_array())
        .flatten()
}

/// What the restricted Pod Security Standard (plus our own rules: user
/// 65532, a read-only root with an emptyDir /tmp, no token unless the pod
/// is the worker) asks of one pod spec.
fn pod_problems(what: &str, pod: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut require = |ok: bool, text: String| {
        if !ok {
            problems.push(text);
        }
    };
    let pod_security = &pod["securityContext"];
    require(
        pod_security["runAsNonRoot"] == json!(true),
        format!("{what}: pod securityContext.runAsNonRoot is not true"),
    );
    require(
        pod_security["runAsUser"] == json!(65532),
        format!("{what}: pod securityContext.runAsUser is not 65532"),
    );
    require(
        pod_security["seccompProfile"]["type"] == json!("RuntimeDefault"),
        format!("{what}: pod seccompProfile is not RuntimeDefault"),
    );
    for key in ["hostNetwork", "hostPID", "hostIPC"] {
        require(pod[key] != json!(true), format!("{what}: {key} is true"));
    }
    let volumes = pod["volumes"].as_array().cloned().unwrap_or_default();
    for volume in &volumes {
        require(
            volume.get("hostPath").is_none(),
            format!("{what}: hostPath volume {}", volume["name"]),
        );
    }
    let is_worker = pod["serviceAccountName"] == json!("airlock-worker");
    require(
        pod["automountServiceAccountToken"] == json!(false) || is_worker,
        format!(
            "{what}: automountServiceAccountToken is not false (only the worker may have a token)"
        ),
    );
    let mut count = 0;
    for container in containers(pod) {
        count += 1;
        let name = format!("{what} container {}", container["name"]);
        let security = &container["securityContext"];
        require(
            security["runAsNonRoot"] == json!(true),
            format!("{name}: runAsNonRoot is not true"),
        );
        require(
            security["runAsUser"] == json!(65532),
            format!("{name}: runAsUser is not 65532"),
        );
        require(
            security["allowPrivilegeEscalation"] == json!(false),
            format!("{name}: allowPrivilegeEscalation is not false"),
        );
        require(
            security["privileged"] != json!(true),
            format!("{name}: privileged"),
        );
        require(
            security["readOnlyRootFilesystem"] == json!(true),
            format!("{name}: readOnlyRootFilesystem is not true"),
        );
        require(
            security["capabilities"]["drop"] == json!(["ALL"]),
            format!("{name}: capabilities.drop is not [ALL]"),
        );
        require(
            security["capabilities"]["add"]
                .as_array()
                .is_none_or(Vec::is_empty),
            format!("{name}: adds capabilities"),
        );
        require(
            security["seccompProfile"]["type"] == json!("RuntimeDefault"),
            format!("{name}: seccompProfile is not RuntimeDefault"),
        );
        let tmp_volume = container["volumeMounts"]
            .as_array()
            .and_then(|mounts| mounts.iter().find(|m| m["mountPath"] == json!("/tmp")))
            .and_then(|mount| volumes.iter().find(|v| v["name"] == mount["name"]));
        require(
            tmp_volume.is_some_and(|v| v["emptyDir"].is_object()),
            format!("{name}: /tmp is not an emptyDir mount"),
        );
        let limits = &container["resources"]["limits"];
        require(
            limits["cpu"].is_string() && limits["memory"].is_string(),
            format!("{name}: no cpu and memory limits"),
        );
    }
    require(count > 0, format!("{what}: no containers"));
    problems
}

fn http_probe_path<'a>(container: &'a Value, probe: &str) -> Option<&'a str> {
    container[probe]["httpGet"]["path"].as_str()
}

/// Whether `selector` (matchLabels and matchExpressions In/NotIn/Exists)
/// selects a pod with `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    let match_labels = selector["matchLabels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    if !match_labels.iter().all(|(k, v)| &labels[k] == v) {
        return false;
    }
    selector["matchExpressions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .all(|expression| {
            let value = &labels[expression["key"].as_str().unwrap_or_default()];
            let values = expression["values"].as_array().cloned().unwrap_or_default();
            match expression["operator"].as_str() {
                Some("In") => values.contains(value),
                Some("NotIn") => !values.contains(value),
                Some("Exists") => !value.is_null(),
                Some("DoesNotExist") => value.is_null(),
                other => panic!("unknown selector operator {other:?}"),
            }
        })
}

fn policies(documents: &[Value]) -> impl Iterator<Item = &Value> {
    documents
        .iter()
        .filter(|d| d["kind"] == json!("NetworkPolicy"))
}

fn has_type(policy: &Value, kind: &str) -> bool {
    policy["spec"]["policyTypes"]
        .as_array()
        .is_some_and(|types| types.contains(&json!(kind)))
}

/// Everything wrong with the set of manifests; empty when all is well.
fn problems(documents: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();

    // The namespace enforces the restricted standard.
    let namespaces: Vec<&Value> = documents
        .iter()
        .filter(|d| d["kind"] == json!("Namespace"))
        .collect();
    if namespaces.is_empty()
        || namespaces.iter().any(|ns| {
            ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] != json!("restricted")
        })
    {
        problems.push("no namespace enforcing pod-security restricted".to_owned());
    }

    // Every pod template.
    let workloads: Vec<&Value> = documents.iter().filter(|d| pod_spec(d).is_some()).collect();
    for workload in &workloads {
        if let Some(pod) = pod_spec(workload) {
            problems.extend(pod_problems(&id(workload), pod));
        }
    }

    // The API: probes, replicas, no workers.
    let api: Vec<&&Value> = workloads
        .iter()
        .filter(|d| d["kind"] == json!("Deployment") && component(d) == Some("api"))
        .collect();
    if api.is_empty() {
        problems.push("no API Deployment (component api)".to_owned());
    }
    for deployment in &api {
        if deployment["spec"]["replicas"]
            .as_i64()
            .is_none_or(|n| n < 2)
        {
            problems.push(format!("{}: fewer than 2 replicas", id(deployment)));
        }
        for container in containers(&deployment["spec"]["template"]["spec"]) {
            let name = format!("{} container {}", id(deployment), container["name"]);
            if http_probe_path(container, "readinessProbe") != Some("/readyz") {
                problems.push(format!("{name}: readinessProbe is not GET /readyz"));
            }
            if http_probe_path(container, "livenessProbe") != Some("/healthz") {
                problems.push(format!("{name}: livenessProbe is not GET /healthz"));
            }
            if !container["startupProbe"].is_object() {
                problems.push(format!("{name}: no startupProbe"));
            }
            let args = container["args"].as_array().cloned().unwrap_or_default();
            if !(args.contains(&json!("serve")) && args.contains(&json!("--no-workers"))) {
                problems.push(format!("{name}: does not run serve --no-workers"));
            }
        }
    }
    if !documents.iter().any(|d| {
        d["kind"] == json!("PodDisruptionBudget")
            && d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == json!("api")
    }) {
        problems.push("no PodDisruptionBudget for the API".to_owned());
    }

    // The workers: requests and limits, time to hand jobs back.
    let workers: Vec<&&Value> = workloads
        .iter()
        .filter(|d| d["kind"] == json!("Deployment") && component(d) == Some("worker"))
        .collect();
    if workers.is_empty() {
        problems.push("no worker Deployment (component worker)".to_owned());
    }
    for deployment in &workers {
        let pod = &deployment["spec"]["template"]["spec"];
        if pod["terminationGracePeriodSeconds"]
            .as_i64()
            .is_none_or(|s| s < 60)
        {
            problems.push(format!(
                "{}: terminationGracePeriodSeconds under 60 s",
                id(deployment)
            ));
        }
        for container in containers(pod) {
            let requests = &container["resources"]["requests"];
            if !(requests["cpu"].is_string() && requests["memory"].is_string()) {
                problems.push(format!(
                    "{} container {}: no cpu and memory requests",
                    id(deployment),
                    container["name"]
                ));
            }
        }
    }

    // The migrate Job exists.
    if !workloads
        .iter()
        .any(|d| d["kind"] == json!("Job") && component(d) == Some("migrate"))
    {
        problems.push("no migrate Job".to_owned());
    }

    // Default deny.
    if !policies(documents).any(|p| {
        p["spec"]["podSelector"]
            .as_object()
            .is_some_and(|s| s.is_empty())
            && has_type(p, "Ingress")
            && has_type(p, "Egress")
            && p["spec"]["ingress"].as_array().is_none_or(Vec::is_empty)
            && p["spec"]["egress"].as_array().is_none_or(Vec::is_empty)
    }) {
        problems.push(
            "no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)"
                .to_owned(),
        );
    }

    // Scan Job pods: no ingress, egress to DNS and the S3 ports only.
    let scan_pod = json!({
        "app.kubernetes.io/name": "airlock",
        "app.kubernetes.io/component": "scan-job",
    });
    let mut isolated = false;
    for policy in policies(documents) {
        if !selects(&policy["spec"]["podSelector"], &scan_pod) {
            continue;
        }
        let ingress = policy["spec"]["ingress"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if has_type(policy, "Ingress") && ingress.is_empty() {
            isolated = true;
        }
        if !ingress.is_empty() {
            problems.push(format!("{} lets traffic into scan Job pods", id(policy)));
        }
        for rule in policy["spec"]["egress"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let ports = rule["ports"].as_array().cloned().unwrap_or_default();
            if ports.is_empty() {
                problems.push(format!("{}: scan Job pods may reach any port", id(policy)));
            }
            for port in ports {
                if ![json!(53), json!(443), json!(9000)].contains(&port["port"]) {
                    problems.push(format!(
                        "{}: scan Job pods may reach port {}",
                        id(policy),
                        port["port"]
                    ));
                }
            }
        }
    }
    if !isolated {
        problems.push("no NetworkPolicy denying all ingress to scan Job pods".to_owned());
    }
    // Scan pods must be able to reach S3 and DNS, or every scan fails.
    for port in [53, 443] {
        if !policies(documents).any(|p| {
            selects(&p["spec"]["podSelector"], &scan_pod)
                && p["spec"]["egress"].as_array().is_some_and(|rules| {
                    rules.iter().any(|r| {
                        r["ports"]
                            .as_array()
                            .is_some_and(|ports| ports.iter().any(|q| q["port"] == json!(port)))
                    })
                })
        }) {
            problems.push(format!("scan Job pods cannot reach port {port}"));
        }
    }

    // The worker's Role: Jobs, pods and their logs, in its namespace only.
    let allowed: BTreeSet<&str> = ["jobs", "pods", "pods/log"].into();
    for role in documents
        .iter()
        .filter(|d| d["kind"] == json!("Role") || d["kind"] == json!("ClusterRole"))
    {
        if role["kind"] == json!("ClusterRole") {
            problems.push(format!("{}: no cluster-wide rights wanted", id(role)));
        }
        for rule in role["rules"].as_array().cloned().unwrap_or_default() {
            for resource in rule["resources"].as_array().cloned().unwrap_or_default() {
                if !resource.as_str().is_some_and(|r| allowed.contains(r)) {
                    problems.push(format!("{}: rights on {resource}", id(role)));
                }
            }
        }
    }
    problems
}

#[test]
fn the_manifests_meet_every_rule() {
    let problems = problems(&documents());
    assert!(problems.is_empty(), "problems:\n{}", problems.join("\n"));
}

#[test]
fn kustomization_lists_every_manifest() {
    let files = manifest_files();
    let kustomization = files
        .iter()
        .find(|(name, _)| name == "kustomization.yaml")
        .expect("a kustomization.yaml");
    let parsed: Value = serde_yaml_ng::from_str(&kustomization.1).expect("kustomization YAML");
    let listed: BTreeSet<String> = parsed["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r.as_str().expect("a file name").to_owned())
        .collect();
    let present: BTreeSet<String> = files
        .iter()
        .map(|(name, _)| name.clone())
        .filter(|name| name != "kustomization.yaml")
        .collect();
    assert_eq!(listed, present);
}

#[test]
fn config_map_holds_valid_toml_without_secrets() {
    let documents = documents();
    let config = documents
        .iter()
        .find(|d| {
            d["kind"] == json!("ConfigMap") && d["metadata"]["name"] == json!("airlock-config")
        })
        .expect("the airlock-config ConfigMap");
    let text = config["data"]["airlock.toml"]
        .as_str()
        .expect("airlock.toml");
    let parsed: toml::Table = toml::from_str(text).expect("airlock.toml is TOML");
    let url = parsed["database"]["url"].as_str().expect("[database] url");
    let authority = url
        .strip_prefix("postgres://")
        .and_then(|rest| rest.split('@').next())
        .expect("postgres://USER@HOST");
    assert!(
        !authority.contains(':'),
        "the ConfigMap holds a database password: {url}"
    );
    assert_eq!(parsed["storage"]["backend"].as_str(), Some("s3"));
    assert_eq!(parsed["listen"].as_str(), Some("0.0.0.0:5000"));
    for key in ["AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "CHANGE-ME"] {
        assert!(!text.contains(key), "the ConfigMap mentions {key}");
    }
}

/// The Job the executor creates passes the same rules as the manifests, and
/// the manifests' NetworkPolicy isolates it.
#[test]
fn generated_scan_jobs_meet_the_same_rules() {
    let template = airlock_scan_k8s::JobTemplate {
        namespace: "airlock".to_owned(),
        image: "ghcr.io/example/airlock:0.1.0".to_owned(),
        image_pull_policy: "IfNotPresent".to_owned(),
        service_account: Some("airlock-scan".to_owned()),
        config_map: "airlock-config".to_owned(),
        secret: "airlock-s3".to_owned(),
        cpu_limit: "1".to_owned(),
        memory_limit: "2Gi".to_owned(),
        active_deadline: Duration::from_secs(600),
        ttl_after_finished: Duration::from_secs(3600),
        node_selector: Default::default(),
        labels: Default::default(),
    };
    let digest = airlock_oci::Digest::sha256_of(b"m");
    let job =
        airlock_scan_k8s::job_spec(&template, "airlock-scan-x", &digest, b"{}").expect("a job");
    let job = serde_json::to_value(&job).expect("JSON");
    let pod = pod_spec(&job).expect("a pod template");
    let found = pod_problems("scan job", pod);
    assert!(found.is_empty(), "{found:?}");

    let documents = documents();
    let labels = pod_labels(&job);
    assert!(
        policies(&documents).any(|p| selects(&p["spec"]["podSelector"], labels)
            && has_type(p, "Ingress")
            && p["spec"]["ingress"].as_array().is_none_or(Vec::is_empty)),
        "no policy isolates the generated scan pod (labels {labels})"
    );
    // The names the template refers to exist in the manifests.
    for (kind, name) in [
        ("ConfigMap", "airlock-config"),
        ("Secret", "airlock-s3"),
        ("ServiceAccount", "airlock-scan"),
    ] {
        assert!(
            documents
                .iter()
                .any(|d| d["kind"] == json!(kind) && d["metadata"]["name"] == json!(name)),
            "no {kind} {name}"
        );
    }
}

/// Breaks one thing at a time in a copy of the manifests: the checker must
/// name each.
#[test]
fn the_checker_catches_each_broken_rule() {
    let original = documents();
    let find = |documents: &mut Vec<Value>, kind: &str, component_name: &str| -> usize {
        documents
            .iter()
            .position(|d| {
                d["kind"] == json!(kind)
                    && (component(d) == Some(component_name)
                        || d["metadata"]["name"] == json!(component_name))
            })
            .unwrap_or_else(|| panic!("no {kind} {component_name}"))
    };
    type Breakage = (&'static str, fn(&mut Value), &'static str, &'static str);
    let cases: [Breakage; 10] = [
        (
            "Deployment",
            |d| {
                d["spec"]["template"]["spec"]["containers"][0]["securityContext"]
                    .as_object_mut()
                    .expect("securityContext")
                    .remove("runAsNonRoot");
            },
            "api",
            "runAsNonRoot is not true",
        ),
        (
            "Deployment",
            |d| {
                d["spec"]["template"]["spec"]["securityContext"]
                    .as_object_mut()
                    .expect("securityContext")
                    .remove("runAsNonRoot");
            },
            "worker",
            "pod securityContext.runAsNonRoot",
        ),
        (
            "Job",
            |d| {
                d["spec"]["template"]["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] =
                    json!(true);
            },
            "migrate",
            "allowPrivilegeEscalation",
        ),
        (
            "Deployment",
            |d| {
                d["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]
                    ["drop"] = json!([]);
            },
            "api",
            "capabilities.drop",
        ),
        (
            "Deployment",
            |d| {
                d["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] =
                    json!(false);
            },
            "worker",
            "readOnlyRootFilesystem",
        ),
        (
            "Deployment",
            |d| {
                d["spec"]["template"]["spec"]["automountServiceAccountToken"] = json!(true);
            },
            "api",
            "automountServiceAccountToken",
        ),
        (
            "Deployment",
            |d| {
                d["spec"]["template"]["spec"]["containers"][0]
                    .as_object_mut()
                    .expect("container")
                    .remove("readinessProbe");
            },
            "api",
            "readinessProbe",
        ),
        (
            "Deployment",
            |d| {
                d["spec"]["template"]["spec"]["containers"][0]["resources"]
                    .as_object_mut()
                    .expect("resources")
                    .remove("limits");
            },
            "worker",
            "no cpu and memory limits",
        ),
        (
            "NetworkPolicy",
            |d| {
                d["spec"]["podSelector"] =
                    json!({"matchLabels": {"app.kubernetes.io/name": "airlock"}});
            },
            "default-deny",
            "no default-deny NetworkPolicy",
        ),
        (
            "NetworkPolicy",
            |d| {
                d["spec"]["egress"][0]["ports"][0]["port"] = json!(5432);
            },
            "s3-egress",
            "scan Job pods may reach port 5432",
        ),
    ];
    for (kind, breakage, target, expected) in cases {
        let mut documents = original.clone();
        let index = find(&mut documents, kind, target);
        breakage(&mut documents[index]);
        let found = problems(&documents);
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "breaking {kind} {target} should report {expected:?}, got {found:?}"
        );
    }
}
