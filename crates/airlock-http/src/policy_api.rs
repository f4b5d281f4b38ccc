//! The policy history, the policy dry run and the rejection of exception
//! requests under `/api/v1`: what the dashboard's Policies and Exceptions
//! pages need beyond setting and approving (in [`crate::api`]).

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::AppState;
use crate::api::{ApiResult, Authenticated, fail};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/policies/global/versions", get(global_policy_versions))
        .route(
            "/tenants/{tenant}/policy/versions",
            get(tenant_policy_versions),
        )
        .route("/tenants/{tenant}/policy/dry-run", post(dry_run_policy))
        .route(
            "/tenants/{tenant}/exceptions/{id}/reject",
            post(reject_exception),
        )
}

/// Every version of the global policy, newest first.
async fn global_policy_versions(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<serde_json::Value>> {
    let versions = state
        .accounts
        .policy_versions(&caller.operator, None)
        .await
        .map_err(fail)?;
    Ok(Json(serde_json::json!({ "versions": versions })))
}

/// Every version of a tenant's policy, newest first.
async fn tenant_policy_versions(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(tenant): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let versions = state
        .accounts
        .policy_versions(&caller.operator, Some(&tenant))
        .await
        .map_err(fail)?;
    Ok(Json(serde_json::json!({ "versions": versions })))
}

/// What the policy in the body (YAML text) would decide for the tenant's
/// images in `scanned/`; stores nothing.
async fn dry_run_policy(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(tenant): Path<String>,
    document: String,
) -> ApiResult<Json<airlock_accounts::DryRunView>> {
    let outcome = state
        .accounts
        .dry_run_policy(&caller.operator, &caller.request, &tenant, &document)
        .await
        .map_err(fail)?;
    Ok(Json(outcome))
}

/// Rejects a pending exception request.
async fn reject_exception(
    State(state): State<AppState>,
    caller: Authenticated,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<Json<airlock_accounts::ExceptionView>> {
    let exception = state
        .accounts
        .reject_exception(&caller.operator, &caller.request, Some(&tenant), &id)
        .await
        .map_err(fail)?;
    Ok(Json(exception))
}
