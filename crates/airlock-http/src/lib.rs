//! HTTP delivery: the OCI distribution API under `/v2/`, the token endpoint
//! `/auth/token`, the management API under `/api/v1`, the dashboard under
//! `/ui`, plus `/healthz`, `/readyz` and `/metrics`.
//!
//! This is the only crate (with the binary) that knows axum. Every `/v2/`
//! request goes through one dispatcher: the bearer token is verified
//! ([`auth`]), the pure [`airlock_oci::OciRoute`] parser names the resource,
//! [`airlock_registry::Registry::authorize`] applies the zone rules, and one
//! handler per resource calls the registry service. Errors of every kind
//! leave through [`error::ApiError`], so clients always receive the OCI error
//! envelope; a `401` always carries the `WWW-Authenticate` challenge.
//!
//! The management API is described by an OpenAPI 3.1 document generated
//! from its handlers ([`openapi`]), served at `/api/v1/openapi.json` and
//! `/api/v1/openapi.yaml`; `docs/openapi.json` is a checked-in copy that a
//! test keeps equal to it.

mod api;
mod auth;
mod blob;
mod error;
mod listing;
mod manifest;
mod metrics;
mod notify_api;
mod openapi;
mod policy_api;
mod search_api;
mod session;
mod ui;
mod upload;

use std::sync::Arc;

use airlock_accounts::Accounts;
use airlock_oci::OciRoute;
use airlock_registry::{Caller, Need, Registry, RegistryError};
use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use std::collections::HashMap;

pub use error::ApiError;
pub use metrics::install_metrics;
pub use openapi::document_json as openapi_json;

/// Shared state of the HTTP layer.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The registry service.
    pub registry: Arc<Registry>,
    /// The identity service: logins, tokens, management.
    pub accounts: Arc<Accounts>,
    /// Renders the Prometheus exposition.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Settings of the HTTP layer.
    pub settings: Arc<HttpSettings>,
}

/// The local operator, named by the OS user running the `airlock` CLI on
/// the data directory: a request extension that the management API's
/// [`api::Authenticated`] extractor accepts before any credentials, as
/// `Operator::Local(name)` with the full rights the data directory gives.
///
/// Only the CLI's in-process transport inserts it, into requests it hands
/// to this router with `tower::ServiceExt::oneshot`. Request extensions are
/// not part of the HTTP message: nothing a client sends over the network
/// (no header, cookie, query or body) can produce one, so a remote caller
/// cannot become the local operator. It needs no CSRF token either: it is
/// never a browser's ambient credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalOperator(pub String);

/// Settings of the HTTP layer.
#[derive(Debug, Clone, Default)]
pub struct HttpSettings {
    /// The URL clients reach airlock at (for the token realm); by default
    /// `http://` and the request's `Host`.
    pub external_url: Option<String>,
}

/// The `Docker-Distribution-API-Version` header every `/v2/` response carries.
const API_VERSION: (&str, &str) = ("docker-distribution-api-version", "registry/2.0");

/// Builds the whole HTTP application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .route("/v2", any(dispatch))
        .route("/v2/", any(dispatch))
        .route("/v2/{*path}", any(dispatch))
        .route(
            "/auth/token",
            get(auth::token_endpoint).post(auth::token_endpoint),
        )
        .merge(openapi::management_api().0)
        .nest("/ui", ui::routes(state.clone()))
        .route("/ui/", get(ui::home))
        .layer(axum::middleware::from_fn(metrics::track))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.registry.ready().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable").into_response()
        }
    }
}

async fn render_metrics(State(state): State<AppState>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// What a handler receives: everything parsed from the request.
pub(crate) struct OciRequest {
    pub(crate) method: Method,
    pub(crate) headers: axum::http::HeaderMap,
    pub(crate) query: HashMap<String, String>,
    pub(crate) caller: Caller,
}

/// What each route needs, for the one access decision.
fn need_for(route: &OciRoute, method: &Method) -> Need {
    match (route, method) {
        (OciRoute::Catalog, _) => Need::Catalog,
        (OciRoute::Blob { .. }, &Method::HEAD) => Need::BlobExists,
        (_, &Method::GET | &Method::HEAD) => Need::Pull,
        (OciRoute::Manifest { .. } | OciRoute::Blob { .. }, &Method::DELETE) => Need::Delete,
        _ => Need::Push,
    }
}

/// An error response; a `401` gets the challenge the client needs: with
/// `error="invalid_token"` when the credentials were refused, and
/// `error="insufficient_scope"` when a valid token does not cover the request
/// (RFC 6750 §3.1).
fn refusal(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    caller: &Caller,
    error: RegistryError,
) -> Response {
    let challenge = match &error {
        RegistryError::Unauthenticated { scope, .. } => {
            let problem = if caller.principal.is_some() {
                Some("insufficient_scope")
            } else if caller.rejected.is_some() {
                Some("invalid_token")
            } else {
                None
            };
            Some(auth::challenge(state, headers, scope.as_deref(), problem))
        }
        _ => None,
    };
    let mut response = ApiError::from(error).into_response();
    if let Some(challenge) = challenge {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
    }
    response
}

async fn dispatch(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let context = auth::request_context(&parts.headers, auth::peer(&parts.extensions));
    let caller = auth::registry_caller(&state.accounts, &parts.headers, context);
    let mut response = match OciRoute::parse(parts.uri.path()) {
        Err(_) if caller.principal.is_none() => refusal(
            &state,
            &parts.headers,
            &caller,
            RegistryError::Unauthenticated {
                reason: "authentication required".into(),
                scope: None,
            },
        ),
        Err(e) => ApiError::from(e).into_response(),
        Ok(route) => {
            let label = route.label();
            let need = need_for(&route, &parts.method);
            let mut response = match state
                .registry
                .authorize(&caller, need, route.repository())
                .await
            {
                Err(e) => refusal(&state, &parts.headers, &caller, e),
                Ok(()) => {
                    let request = OciRequest {
                        method: parts.method,
                        headers: parts.headers,
                        query,
                        caller,
                    };
                    handle(&state.registry, route, request, body)
                        .await
                        .unwrap_or_else(IntoResponse::into_response)
                }
            };
            response.extensions_mut().insert(metrics::RouteLabel(label));
            response
        }
    };
    response.headers_mut().insert(
        HeaderName::from_static(API_VERSION.0),
        HeaderValue::from_static(API_VERSION.1),
    );
    response
}

async fn handle(
    registry: &Registry,
    route: OciRoute,
    request: OciRequest,
    body: Body,
) -> Result<Response, ApiError> {
    let method = request.method.clone();
    match (route, method) {
        (OciRoute::Base, Method::GET | Method::HEAD) => Ok(Response::new(Body::from("{}"))),
        (OciRoute::Catalog, Method::GET) => listing::catalog(registry, &request).await,
        (OciRoute::TagsList { name }, Method::GET) => {
            listing::tags(registry, &name, &request).await
        }
        (OciRoute::Referrers { name, digest }, Method::GET) => {
            listing::referrers(registry, &name, &digest, &request).await
        }
        (OciRoute::Manifest { name, reference }, Method::GET | Method::HEAD) => {
            manifest::get(registry, &name, &reference, &request).await
        }
        (OciRoute::Manifest { name, reference }, Method::PUT) => {
            manifest::put(registry, &name, &reference, &request, body).await
        }
        (OciRoute::Manifest { name, reference }, Method::DELETE) => {
            manifest::delete(registry, &name, &reference, &request).await
        }
        (OciRoute::Blob { name, digest }, Method::GET | Method::HEAD) => {
            blob::get(registry, &name, &digest, &request).await
        }
        (OciRoute::Blob { name, digest }, Method::DELETE) => {
            blob::delete(registry, &name, &digest).await
        }
        (OciRoute::UploadStart { name }, Method::POST) => {
            upload::start(registry, &name, &request, body).await
        }
        (OciRoute::Upload { name, id }, Method::GET) => upload::status(registry, &name, &id).await,
        (OciRoute::Upload { name, id }, Method::PATCH) => {
            upload::patch(registry, &name, &id, &request, body).await
        }
        (OciRoute::Upload { name, id }, Method::PUT) => {
            upload::put(registry, &name, &id, &request, body).await
        }
        (OciRoute::Upload { name, id }, Method::DELETE) => {
            upload::cancel(registry, &name, &id).await
        }
        (route, method) => Err(ApiError::unsupported(format!(
            "{method} is not supported on {}",
            route.label()
        ))),
    }
}
