//! The management API's notification half: webhook subscriptions, their
//! delivery log and redelivery, and scan report downloads. Same envelope,
//! authentication and authorization path as the rest of `/api/v1`.

use airlock_accounts::{DeliveryView, NewWebhook, ReportQuery, WebhookCreated, WebhookView};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::{ApiResult, Authenticated, fail};
use crate::error::ErrorEnvelope;

/// The routes, each with its OpenAPI description.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(delete_webhook))
        .routes(routes!(test_webhook))
        .routes(routes!(webhook_deliveries))
        .routes(routes!(redeliver_event))
        .routes(routes!(download_report))
}

/// Whose subscriptions to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TenantQuery {
    /// A tenant; absent for every subscription (admin).
    tenant: Option<String>,
}

/// Webhook subscriptions of a tenant (its developers and security), or all (admin).
///
/// Secrets are never listed.
#[utoipa::path(
    get,
    path = "/webhooks",
    tag = "webhooks",
    params(TenantQuery),
    responses(
        (status = 200, description = "Subscriptions", body = Vec<WebhookView>),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = []))
)]
async fn list_webhooks(
    State(state): State<AppState>,
    caller: Authenticated,
    Query(query): Query<TenantQuery>,
) -> ApiResult<Response> {
    let webhooks = state
        .accounts
        .webhooks(&caller.operator, query.tenant.as_deref())
        .await
        .map_err(fail)?;
    Ok(Json(webhooks).into_response())
}

/// Subscribe a URL to a tenant's events (its developers and security), or to every tenant's (admin).
///
/// https only, no loopback or private addresses unless the deployment
/// allows them. The secret is generated when absent and shown this once.
#[utoipa::path(
    post,
    path = "/webhooks",
    tag = "webhooks",
    request_body = NewWebhook,
    responses(
        (status = 201, description = "Created, with its secret", body = WebhookCreated),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = [], "csrf" = []))
)]
async fn create_webhook(
    State(state): State<AppState>,
    caller: Authenticated,
    Json(new): Json<NewWebhook>,
) -> ApiResult<Response> {
    let created = state
        .accounts
        .create_webhook(&caller.operator, new, &caller.request)
        .await
        .map_err(fail)?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Delete a subscription; its pending deliveries are dropped, its log stays.
#[utoipa::path(
    delete,
    path = "/webhooks/{id}",
    tag = "webhooks",
    params(("id" = String, Path, description = "The subscription id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 404, description = "No such object", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = [], "csrf" = []))
)]
async fn delete_webhook(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state
        .accounts
        .delete_webhook(&caller.operator, &id, &caller.request)
        .await
        .map_err(fail)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Queue an `airlock.webhook.test` event for this subscription.
#[utoipa::path(
    post,
    path = "/webhooks/{id}/test",
    tag = "webhooks",
    params(("id" = String, Path, description = "The subscription id")),
    responses(
        (status = 202, description = "Queued", body = DeliveryView),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 404, description = "No such object", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = [], "csrf" = []))
)]
async fn test_webhook(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let delivery = state
        .accounts
        .test_webhook(&caller.operator, &id, &caller.request)
        .await
        .map_err(fail)?;
    Ok((StatusCode::ACCEPTED, Json(delivery)).into_response())
}

/// How many deliveries to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct LimitQuery {
    /// At most this many (default 100, at most 1000).
    #[param(maximum = 1000)]
    limit: Option<usize>,
}

/// The subscription's newest deliveries with every attempt.
#[utoipa::path(
    get,
    path = "/webhooks/{id}/deliveries",
    tag = "webhooks",
    params(("id" = String, Path, description = "The subscription id"), LimitQuery),
    responses(
        (status = 200, description = "Deliveries", body = Vec<DeliveryView>),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 404, description = "No such object", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = []))
)]
async fn webhook_deliveries(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<String>,
    Query(query): Query<LimitQuery>,
) -> ApiResult<Response> {
    let deliveries = state
        .accounts
        .webhook_deliveries(&caller.operator, &id, query.limit.unwrap_or(100))
        .await
        .map_err(fail)?;
    Ok(Json(deliveries).into_response())
}

/// Queue an event again for every subscription that had it.
#[utoipa::path(
    post,
    path = "/events/{id}/redeliver",
    tag = "webhooks",
    params(("id" = String, Path, description = "The event id (CloudEvents id, webhook-id header)")),
    responses(
        (status = 202, description = "Queued", body = Vec<DeliveryView>),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 404, description = "No such object", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = [], "csrf" = []))
)]
async fn redeliver_event(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let deliveries = state
        .accounts
        .redeliver_event(&caller.operator, &id, &caller.request)
        .await
        .map_err(fail)?;
    Ok((StatusCode::ACCEPTED, Json(deliveries)).into_response())
}

/// Which scan's report to download.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ScanQuery {
    /// A scan id (from an event's `data.scan_id`); default: the latest scan.
    scan: Option<String>,
}

/// One report file of the digest's latest scan, or of the scan given (its tenant's members including robots, auditor, admin).
///
/// Every download and refusal is audited.
#[utoipa::path(
    get,
    path = "/tenants/{tenant}/images/{digest}/reports/{name}",
    tag = "reports",
    params(
        ("tenant" = String, Path, description = "The tenant id"),
        ("digest" = String, Path, description = "The manifest digest", example = "sha256:0f3a..."),
        ("name" = String, Path, description = "`report.html`, `report.json`, `report.sarif`, `sbom.cdx.json` or `sbom.spdx.json`", example = "sbom.cdx.json"),
        ScanQuery,
    ),
    responses(
        (status = 200, description = "The file", content(
            (String = "text/html"),
            (Object = "application/json"),
            (Object = "application/sarif+json"),
            (Object = "application/vnd.cyclonedx+json"),
            (Object = "application/spdx+json"),
        ), headers(
            ("x-airlock-scan-id" = String, description = "The scan the file belongs to"),
        )),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 404, description = "No such object", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = []))
)]
async fn download_report(
    State(state): State<AppState>,
    caller: Authenticated,
    Path((tenant, digest, name)): Path<(String, String, String)>,
    Query(query): Query<ScanQuery>,
) -> ApiResult<Response> {
    let report = state
        .accounts
        .report(
            &caller.operator,
            ReportQuery {
                tenant: &tenant,
                digest: &digest,
                name: &name,
                scan: query.scan.as_deref(),
            },
            &caller.request,
        )
        .await
        .map_err(fail)?;
    Ok((
        [
            (header::CONTENT_TYPE, report.content_type.to_owned()),
            (
                header::HeaderName::from_static("x-airlock-scan-id"),
                report.scan_id,
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            // The HTML report runs its own inline script only.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
                    .to_owned(),
            ),
        ],
        report.content,
    )
        .into_response())
}
