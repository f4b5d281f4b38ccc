//! The OpenAPI document of `/api/v1`: it is OpenAPI 3.1, `docs/openapi.json`
//! is its current copy, every documented operation is routed (and answers
//! as its security says), and every route in the sources is documented.
//!
//! `AIRLOCK_UPDATE_OPENAPI=1 cargo test -p airlock-http --test it openapi`
//! rewrites `docs/openapi.json` after an API change.

use std::collections::BTreeSet;
use std::path::PathBuf;

use axum::http::StatusCode;

use crate::TestApp;

/// The methods an operation can have, lowercase as OpenAPI keys them.
const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

/// One operation of the document.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Operation {
    /// `GET`, `POST`, ...
    pub method: String,
    /// As documented, with `{parameters}`.
    pub path: String,
    /// Its `operationId`: the handler's name.
    pub id: String,
    /// Whether anonymous callers may use it (`security: [{}]`).
    pub public: bool,
    /// Its security requirements, each as its sorted scheme names.
    pub security: Vec<Vec<String>>,
}

/// The document the code generates.
pub fn generated() -> serde_json::Value {
    serde_json::from_str(airlock_http::openapi_json()).expect("the generated document is JSON")
}

/// Every operation of `document`, sorted.
pub fn operations(document: &serde_json::Value) -> Vec<Operation> {
    let mut operations = Vec::new();
    let paths = document["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let security: Vec<Vec<String>> = operation["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path} declares no security"))
                .iter()
                .map(|requirement| {
                    let mut names: Vec<String> = requirement
                        .as_object()
                        .expect("a security requirement")
                        .keys()
                        .cloned()
                        .collect();
                    names.sort();
                    names
                })
                .collect();
            operations.push(Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                id: operation["operationId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                public: security.iter().all(Vec::is_empty),
                security,
            });
        }
    }
    operations.sort();
    operations
}

fn docs_copy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[tokio::test]
async fn served_document_is_openapi_3_1_and_equals_the_docs_copy() {
    let app = TestApp::new().await;
    let reply = app.get("/api/v1/openapi.json").await.expect(StatusCode::OK);
    assert_eq!(reply.header("content-type"), "application/json");
    let served = std::str::from_utf8(&reply.body).expect("utf-8").to_owned();
    let document: serde_json::Value = serde_json::from_str(&served).expect("JSON");
    let version = document["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1."), "openapi {version:?}");
    assert_eq!(document["info"]["title"], "airlock");
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        document["info"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("X-CSRF-Token")),
        "{}",
        document["info"]
    );
    assert_eq!(served, airlock_http::openapi_json());

    // The YAML form is the same document.
    let reply = app.get("/api/v1/openapi.yaml").await.expect(StatusCode::OK);
    assert_eq!(reply.header("content-type"), "application/yaml");
    let yaml: serde_json::Value = serde_yaml_ng::from_slice(&reply.body).expect("YAML");
    assert_eq!(yaml, document);

    let path = docs_copy();
    if std::env::var_os("AIRLOCK_UPDATE_OPENAPI").is_some_and(|v| v == "1") {
        std::fs::write(&path, &served).expect("write docs/openapi.json");
    }
    let copy = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        copy == served,
        "docs/openapi.json differs from the document the code generates; \
         run `AIRLOCK_UPDATE_OPENAPI=1 cargo test -p airlock-http --test it openapi` \
         and commit the result"
    );
}

#[test]
fn schemes_and_shapes_are_declared() {
    let document = generated();
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["basic"]["scheme"], "basic");
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], "airlock_session");
    assert_eq!(schemes["csrf"]["in"], "header");
    assert_eq!(schemes["csrf"]["name"], "X-CSRF-Token");
    let errors = &document["components"]["schemas"]["Errors"];
    assert!(errors["properties"]["errors"].is_object(), "{errors}");
    // The YAML policy bodies and the streamed exports keep their media types.
    let paths = &document["paths"];
    let policy = &paths["/api/v1/tenants/{tenant}/policy"]["put"]["requestBody"]["content"];
    assert!(policy["application/yaml"].is_object(), "{policy}");
    for export in ["/api/v1/images/export", "/api/v1/vulnerabilities/export"] {
        let content = &paths[export]["get"]["responses"]["200"]["content"];
        assert!(content["text/csv"].is_object(), "{export}: {content}");
        assert_eq!(content["application/json"]["schema"]["type"], "array");
    }
    let audit = &paths["/api/v1/audit"]["get"]["responses"]["200"]["content"];
    assert!(audit["application/x-ndjson"].is_object(), "{audit}");
}

/// Every operation that needs credentials accepts the three ways, with the
/// CSRF header beside the session cookie on unsafe methods, and documents
/// its error answers with the error envelope.
#[test]
fn every_operation_declares_its_security_and_errors() {
    let document = generated();
    for operation in operations(&document) {
        let label = format!("{} {}", operation.method, operation.path);
        if operation.public {
            assert!(
                operation.path.starts_with("/api/v1/openapi."),
                "{label} is public"
            );
            continue;
        }
        let session: Vec<String> = if operation.method == "GET" {
            vec!["session".into()]
        } else {
            vec!["csrf".into(), "session".into()]
        };
        assert_eq!(
            operation.security,
            vec![vec!["bearer".to_owned()], vec!["basic".to_owned()], session],
            "{label}"
        );
        let responses =
            document["paths"][&operation.path][operation.method.to_lowercase()]["responses"]
                .as_object()
                .expect("responses");
        assert!(responses.contains_key("401"), "{label} lacks 401");
        for (status, response) in responses {
            if !status.starts_with('4') && !status.starts_with('5') {
                continue;
            }
            let schema = response
                .get("$ref")
                .and_then(|r| r.as_str())
                .map(|name| {
                    let name = name.trim_start_matches("#/components/responses/");
                    &document["components"]["responses"][name]
                })
                .unwrap_or(response)["content"]["application/json"]["schema"]["$ref"]
                .clone();
            assert_eq!(
                schema, "#/components/schemas/Errors",
                "{label} {status}: {response}"
            );
        }
    }
}

/// A documented path with dummy values for its parameters.
fn concrete(path: &str) -> String {
    let mut concrete = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        concrete.push_str(&rest[..open]);
        let close = rest[open..].find('}').expect("a closing brace") + open;
        concrete.push_str(match &rest[open + 1..close] {
            "digest" => "sha256:0000000000000000000000000000000000000000000000000000000000000000",
            _ => "t",
        });
        rest = &rest[close + 1..];
    }
    concrete.push_str(rest);
    concrete
}

/// Each documented operation, called without credentials, reaches its
/// handler: public ones answer `200`, the others the API's own `401` with
/// the error envelope — never the router's empty `404` or a `405`. And no
/// documented path answers a method it does not document.
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = TestApp::new().await;
    let document = generated();
    let operations = operations(&document);
    assert!(operations.len() >= 35, "{operations:?}");
    for operation in &operations {
        let path = concrete(&operation.path);
        let reply = app.send(&operation.method, &path, &[], Vec::new()).await;
        let label = format!("{} {path}", operation.method);
        if operation.public {
            assert_eq!(reply.status, StatusCode::OK, "{label}");
            continue;
        }
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{label}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.json()["errors"][0]["code"], "UNAUTHORIZED", "{label}");
    }
    let paths: BTreeSet<&str> = operations.iter().map(|o| o.path.as_str()).collect();
    for documented in paths {
        for method in METHODS {
            let method = method.to_uppercase();
            if operations
                .iter()
                .any(|o| o.path == documented && o.method == method)
            {
                continue;
            }
            let path = concrete(documented);
            let reply = app.send(&method, &path, &[], Vec::new()).await;
            assert_eq!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is routed but not documented"
            );
        }
    }
    // The check can tell: an unknown path gets the router's empty 404.
    let reply = app.get("/api/v1/no-such-route").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.body.is_empty(), "{reply:?}");
}

/// The handlers the API's source files register with `routes!(...)`.
fn registered_handlers(sources: &[(String, String)]) -> BTreeSet<String> {
    let mut handlers = BTreeSet::new();
    for (_, source) in sources {
        let mut rest = source.as_str();
        while let Some(start) = rest.find("routes!(") {
            rest = &rest[start + "routes!(".len()..];
            let close = rest.find(')').expect("a closing parenthesis");
            for handler in rest[..close].split(',') {
                let handler = handler.trim().rsplit("::").next().unwrap_or_default();
                if !handler.is_empty() {
                    handlers.insert(handler.to_owned());
                }
            }
            rest = &rest[close..];
        }
    }
    handlers
}

/// The source files of the HTTP crate that can hold `/api/v1` route tables:
/// every top-level module but `lib.rs` (whose `.route(` calls are the
/// registry's, health and metrics) and the dashboard under `ui/`.
fn api_sources() -> Vec<(String, String)> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = Vec::new();
    for entry in std::fs::read_dir(&src).expect("src") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "lib.rs" || path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        // Code only: comments may mention `.route(` and `routes!(...)`.
        let text: String = std::fs::read_to_string(&path)
            .expect("source")
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .map(|line| format!("{line}\n"))
            .collect();
        sources.push((name, text));
    }
    sources.sort();
    sources
}

/// Every handler a route table registers is documented, and nothing is
/// routed around the documentation: a plain `.route(` in an API module
/// would be served but missing from the document.
#[test]
fn every_registered_route_is_documented() {
    let sources = api_sources();
    for (name, source) in &sources {
        assert!(
            !source.contains(".route("),
            "{name} registers a route with .route(: use .routes(routes!(handler)) with a #[utoipa::path] handler"
        );
    }
    let registered = registered_handlers(&sources);
    let documented: BTreeSet<String> = operations(&generated())
        .into_iter()
        .map(|operation| operation.id)
        .collect();
    assert!(registered.len() >= 35, "{registered:?}");
    assert_eq!(registered, documented);
}
