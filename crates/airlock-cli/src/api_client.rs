//! The management API client every management subcommand goes through:
//! there is no second path to the data.
//!
//! One [`ApiClient`] sends `/api/v1` requests over one of two transports:
//!
//! - **remote** (`--server URL` or `AIRLOCK_SERVER`): HTTP to a running
//!   server, with a bearer token fetched once from its `/auth/token` with
//!   the given credentials. The caller is whoever the credentials say; the
//!   server authorizes and audits.
//! - **local** (no server): the same axum router, built in this process over
//!   the data directory and called with `tower::ServiceExt::oneshot`. Each
//!   request carries the [`LocalOperator`] extension naming the OS user, so
//!   it acts as `Operator::Local` with the full rights that access to the
//!   data directory gives anyway, audited as `cli:<OS user>`. An extension
//!   cannot arrive over the network, so no remote caller can claim this.
//!
//! Either way a refusal arrives as the API's `{"errors": [...]}` envelope and
//! leaves as one readable error, e.g. `forbidden: an exception's approver
//! must not be its requester`.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use airlock_http::LocalOperator;
use anyhow::{Context, bail};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use futures::StreamExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::config::{CommonArgs, Config};

/// Where a management command sends its requests, and as whom.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Send the requests to this server's management API (e.g.
    /// https://registry.example) instead of running them in process over
    /// the data directory.
    #[arg(long, env = "AIRLOCK_SERVER")]
    pub server: Option<String>,
    /// With --server: the user or robot account to sign in as.
    #[arg(long, env = "AIRLOCK_USERNAME")]
    pub username: Option<String>,
    /// With --server: read the password (or robot token) from the first
    /// line of standard input [default: AIRLOCK_PASSWORD, else AIRLOCK_TOKEN].
    #[arg(long)]
    pub server_password_stdin: bool,
}

impl ApiArgs {
    /// Whether the command talks to a server (and may need standard input
    /// for the password).
    pub fn reads_password_from_stdin(&self) -> bool {
        self.server.is_some() && self.server_password_stdin
    }
}

/// Whether the local transport wires the gate, for the commands whose
/// changes re-evaluate images or whose answers need it (policies,
/// exceptions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Wired,
    Unwired,
}

/// A successful response.
#[derive(Debug)]
pub struct ApiResponse {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl ApiResponse {
    /// The body as JSON (`null` when empty).
    pub fn json(&self) -> anyhow::Result<Value> {
        if self.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body).context("the server's answer is not JSON")
    }
}

/// A refusal or failure the API answered with.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            StatusCode::FORBIDDEN => write!(f, "forbidden: {}", self.message),
            StatusCode::UNAUTHORIZED => write!(f, "unauthorized: {}", self.message),
            s if s.is_server_error() => write!(f, "server error ({s}): {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ApiError {}

/// A request body.
pub enum Payload {
    Empty,
    Json(Value),
    Yaml(String),
}

enum Transport {
    Local {
        router: axum::Router,
        operator: String,
    },
    Remote {
        client: reqwest::Client,
        base: String,
        token: String,
    },
}

/// The management API, in process or on a server.
pub struct ApiClient {
    runtime: tokio::runtime::Runtime,
    transport: Transport,
}

impl ApiClient {
    /// Connects as `args` say: to `--server` with its credentials, or in
    /// process over the data directory as the local operator.
    pub fn open(args: &ApiArgs, gate: Gate) -> anyhow::Result<ApiClient> {
        let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
        let transport = match &args.server {
            Some(server) => runtime.block_on(remote(args, server))?,
            None => runtime.block_on(local(&args.common, gate))?,
        };
        Ok(ApiClient { runtime, transport })
    }

    /// `GET path` (under `/api/v1`).
    pub fn get(&self, path: &str) -> anyhow::Result<ApiResponse> {
        self.send(Method::GET, path, Payload::Empty)
    }

    /// `GET path` as JSON.
    pub fn get_json(&self, path: &str) -> anyhow::Result<Value> {
        self.get(path)?.json()
    }

    /// `POST path` with `payload`; the answer as JSON.
    pub fn post(&self, path: &str, payload: Payload) -> anyhow::Result<Value> {
        self.send(Method::POST, path, payload)?.json()
    }

    /// `PUT path` with `payload`; the answer as JSON.
    pub fn put(&self, path: &str, payload: Payload) -> anyhow::Result<Value> {
        self.send(Method::PUT, path, payload)?.json()
    }

    /// `DELETE path`; the answer as JSON.
    pub fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.send(Method::DELETE, path, Payload::Empty)?.json()
    }

    /// One request; a non-2xx answer becomes an [`ApiError`].
    pub fn send(
        &self,
        method: Method,
        path: &str,
        payload: Payload,
    ) -> anyhow::Result<ApiResponse> {
        self.runtime.block_on(async {
            let (headers, mut body) = self.start(method, path, payload).await?;
            let mut bytes = Vec::new();
            while let Some(chunk) = body.next_chunk().await? {
                bytes.extend_from_slice(&chunk);
            }
            Ok(ApiResponse {
                headers,
                body: Bytes::from(bytes),
            })
        })
    }

    /// `GET path`, its body written to `out` as it arrives (exports of any
    /// size in bounded memory).
    pub fn download(&self, path: &str, out: &mut impl Write) -> anyhow::Result<()> {
        self.runtime.block_on(async {
            let (_, mut body) = self.start(Method::GET, path, Payload::Empty).await?;
            while let Some(chunk) = body.next_chunk().await? {
                out.write_all(&chunk)
                    .context("cannot write to standard output")?;
            }
            out.flush().context("cannot write to standard output")
        })
    }

    /// Sends a request; the headers and the body still to be read of a 2xx
    /// answer, an [`ApiError`] for any other.
    async fn start(
        &self,
        method: Method,
        path: &str,
        payload: Payload,
    ) -> anyhow::Result<(HeaderMap, ResponseBody)> {
        let path = format!("/api/v1{path}");
        let (content_type, body) = match payload {
            Payload::Empty => (None, Vec::new()),
            Payload::Json(value) => (Some("application/json"), value.to_string().into_bytes()),
            Payload::Yaml(text) => (Some("application/yaml"), text.into_bytes()),
        };
        let (status, headers, mut body) = match &self.transport {
            Transport::Local { router, operator } => {
                let mut request = Request::builder()
                    .method(method.clone())
                    .uri(&path)
                    .header(header::USER_AGENT, user_agent());
                if let Some(content_type) = content_type {
                    request = request.header(header::CONTENT_TYPE, content_type);
                }
                let mut request = request
                    .body(Body::from(body))
                    .with_context(|| format!("invalid request {method} {path}"))?;
                request
                    .extensions_mut()
                    .insert(LocalOperator(operator.clone()));
                let response = router
                    .clone()
                    .oneshot(request)
                    .await
                    .context("the in-process API failed")?;
                let (parts, body) = response.into_parts();
                let body = ResponseBody::Local(body.into_data_stream());
                (parts.status, parts.headers, body)
            }
            Transport::Remote {
                client,
                base,
                token,
            } => {
                let url = format!("{base}{path}");
                let mut request = client.request(method.clone(), &url).bearer_auth(token);
                if let Some(content_type) = content_type {
                    request = request.header(header::CONTENT_TYPE, content_type);
                }
                let response = request
                    .body(body)
                    .send()
                    .await
                    .with_context(|| format!("cannot reach {url}"))?;
                (
                    response.status(),
                    response.headers().clone(),
                    ResponseBody::Remote(response),
                )
            }
        };
        if status.is_success() {
            return Ok((headers, body));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = body.next_chunk().await? {
            bytes.extend_from_slice(&chunk);
        }
        Err(ApiError {
            status,
            message: envelope_message(&bytes).unwrap_or_else(|| {
                format!(
                    "{method} {path} answered {status}: {}",
                    String::from_utf8_lossy(&bytes).trim()
                )
            }),
        }
        .into())
    }
}

/// The body of an answer, read a chunk at a time.
enum ResponseBody {
    Local(axum::body::BodyDataStream),
    Remote(reqwest::Response),
}

impl ResponseBody {
    async fn next_chunk(&mut self) -> anyhow::Result<Option<Bytes>> {
        match self {
            ResponseBody::Local(stream) => stream
                .next()
                .await
                .transpose()
                .context("the in-process API broke off its answer"),
            ResponseBody::Remote(response) => {
                let url = response.url().clone();
                response
                    .chunk()
                    .await
                    .with_context(|| format!("cannot read the answer of {url}"))
            }
        }
    }
}

/// The messages of an `{"errors": [{"code", "message"}]}` envelope.
fn envelope_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let messages: Vec<&str> = value["errors"]
        .as_array()?
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    (!messages.is_empty()).then(|| messages.join("; "))
}

/// Whether `error` is the API's answer with `status`.
pub fn is_status(error: &anyhow::Error, status: StatusCode) -> bool {
    error
        .downcast_ref::<ApiError>()
        .is_some_and(|e| e.status == status)
}

/// A path segment, percent-encoded (robot names hold `$` and `+`).
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b':') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `?k=v&...` of the pairs whose value is present, percent-encoded.
pub fn query(pairs: &[(&str, Option<&str>)]) -> String {
    let present: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", segment(v))))
        .collect();
    if present.is_empty() {
        String::new()
    } else {
        format!("?{}", present.join("&"))
    }
}

fn user_agent() -> String {
    format!("airlock-cli/{}", env!("CARGO_PKG_VERSION"))
}

/// The OS user running the command: the local operator's name.
pub fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// The router over the data directory, as `airlock serve` wires it.
async fn local(common: &CommonArgs, gate: Gate) -> anyhow::Result<Transport> {
    let config = Config::load(common, None)?;
    // The API answers an internal failure with "internal error" only and
    // logs the cause; in process, that log is the operator's to read.
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::ERROR)
        .with_writer(std::io::stderr)
        .try_init();
    let database = crate::cmd_serve::open_database(&config).await?;
    let registry = crate::cmd_serve::registry_over(&config, database.clone()).await?;
    let accounts = crate::cmd_serve::open_accounts(&config, database.clone()).await?;
    if gate == Gate::Wired {
        let gate = crate::cmd_serve::open_gate(&config, database).await?;
        accounts.set_gate_trigger(Arc::new(crate::cmd_gate::GateReevaluation(gate)));
    }
    let state = airlock_http::AppState {
        registry,
        accounts,
        metrics: airlock_http::install_metrics(),
        settings: Arc::new(airlock_http::HttpSettings {
            external_url: config.external_url.clone(),
        }),
    };
    Ok(Transport::Local {
        router: airlock_http::router(state),
        operator: os_user(),
    })
}

/// A client for `server` holding a token for the credentials in `args`.
async fn remote(args: &ApiArgs, server: &str) -> anyhow::Result<Transport> {
    let base = server.trim_end_matches('/').to_owned();
    if !(base.starts_with("https://") || base.starts_with("http://")) {
        bail!(
            "invalid --server {server:?}: expected https://HOST[:PORT] (or http:// for a local test)"
        );
    }
    let password = if args.server_password_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the password from standard input")?;
        Some(text.lines().next().unwrap_or("").to_owned())
    } else {
        std::env::var("AIRLOCK_PASSWORD")
            .or_else(|_| std::env::var("AIRLOCK_TOKEN"))
            .ok()
    };
    let (Some(username), Some(password)) = (args.username.clone(), password) else {
        bail!(
            "credentials needed for --server: --username (or AIRLOCK_USERNAME) with \
             --server-password-stdin, AIRLOCK_PASSWORD or a robot's AIRLOCK_TOKEN"
        );
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .user_agent(user_agent())
        .build()
        .context("cannot build the HTTP client")?;
    let url = format!("{base}/auth/token");
    let response = client
        .get(&url)
        .basic_auth(&username, Some(&password))
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .with_context(|| format!("cannot read the answer of {url}"))?;
    if !status.is_success() {
        let message = envelope_message(&body).unwrap_or_else(|| format!("{url} answered {status}"));
        return Err(ApiError { status, message })
            .with_context(|| format!("cannot sign in to {base} as {username}"));
    }
    let token = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["token"].as_str().map(str::to_owned))
        .with_context(|| format!("{url} answered without a token"))?;
    Ok(Transport::Remote {
        client,
        base,
        token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_queries_are_percent_encoded() {
        assert_eq!(segment("robot$acme+ci"), "robot%24acme%2Bci");
        assert_eq!(segment("sha256:0f3a"), "sha256:0f3a");
        assert_eq!(
            query(&[
                ("tenant", Some("a b")),
                ("scan", None),
                ("limit", Some("5"))
            ]),
            "?tenant=a%20b&limit=5"
        );
        assert_eq!(query(&[("tenant", None)]), "");
    }

    #[test]
    fn refusals_read_as_their_envelope() {
        let body = br#"{"errors":[{"code":"DENIED","message":"an exception's approver must not be its requester"}]}"#;
        let error = ApiError {
            status: StatusCode::FORBIDDEN,
            message: envelope_message(body).unwrap(),
        };
        assert_eq!(
            error.to_string(),
            "forbidden: an exception's approver must not be its requester"
        );
        assert_eq!(envelope_message(b"not json"), None);
    }
}
