//! The management API's notification half: webhook subscriptions, their
//! delivery log and redelivery, and scan report downloads. Same envelope,
//! authentication and authorization path as the rest of `/api/v1`.

use airlock_accounts::{NewWebhook, ReportQuery};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::AppState;
use crate::api::{ApiResult, Authenticated, fail};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhooks", get(list_webhooks).post(create_webhook))
        .route("/webhooks/{id}", axum::routing::delete(delete_webhook))
        .route("/webhooks/{id}/test", post(test_webhook))
        .route("/webhooks/{id}/deliveries", get(webhook_deliveries))
        .route("/events/{id}/redeliver", post(redeliver_event))
        .route(
            "/tenants/{tenant}/images/{digest}/reports/{name}",
            get(download_report),
        )
}

#[derive(Debug, Deserialize)]
struct TenantQuery {
    tenant: Option<String>,
}

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

#[derive(Debug, Deserialize)]
struct LimitQuery {
    limit: Option<usize>,
}

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

#[derive(Debug, Deserialize)]
struct ScanQuery {
    scan: Option<String>,
}

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
