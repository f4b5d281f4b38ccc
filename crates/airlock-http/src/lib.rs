//! HTTP delivery: the OCI distribution API under `/v2/`, plus `/healthz`,
//! `/readyz` and `/metrics`.
//!
//! This is the only crate (with the binary) that knows axum. Every `/v2/`
//! request goes through one dispatcher: the pure [`airlock_oci::OciRoute`]
//! parser names the resource, [`airlock_registry::access::authorize`] decides
//! whether the caller may touch it, and one handler per resource calls the
//! registry service. Errors of every kind leave through [`error::ApiError`],
//! so clients always receive the OCI error envelope.

mod blob;
mod error;
mod listing;
mod manifest;
mod metrics;
mod upload;

use std::sync::Arc;

use airlock_oci::OciRoute;
use airlock_registry::Registry;
use airlock_registry::access::{self, Action, Identity};
use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use std::collections::HashMap;

pub use error::ApiError;
pub use metrics::install_metrics;

/// Shared state of the HTTP layer.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The registry service.
    pub registry: Arc<Registry>,
    /// Renders the Prometheus exposition.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
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
}

fn action_for(route: &OciRoute, method: &Method) -> Action {
    match (route, method) {
        (OciRoute::Catalog, _) => Action::Catalog,
        (_, &Method::GET | &Method::HEAD) => Action::Pull,
        (OciRoute::Manifest { .. } | OciRoute::Blob { .. }, &Method::DELETE) => Action::Delete,
        _ => Action::Push,
    }
}

async fn dispatch(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let mut response = match OciRoute::parse(parts.uri.path()) {
        Err(e) => ApiError::from(e).into_response(),
        Ok(route) => {
            let label = route.label();
            let identity = Identity::Anonymous;
            let mut response = match access::authorize(
                &identity,
                action_for(&route, &parts.method),
                route.repository(),
            ) {
                Err(e) => ApiError::from(e).into_response(),
                Ok(()) => {
                    let request = OciRequest {
                        method: parts.method,
                        headers: parts.headers,
                        query,
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
            manifest::delete(registry, &name, &reference).await
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
