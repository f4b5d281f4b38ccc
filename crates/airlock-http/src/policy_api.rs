//! The policy history, the policy dry run and the rejection of exception
//! requests under `/api/v1`: what the dashboard's Policies and Exceptions
//! pages need beyond setting and approving (in [`crate::api`]).

use airlock_accounts::{DryRunView, ExceptionView, PolicyView};
use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::{ApiResult, Authenticated, fail};
use crate::error::ErrorEnvelope;

/// The routes, each with its OpenAPI description.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(global_policy_versions))
        .routes(routes!(tenant_policy_versions))
        .routes(routes!(dry_run_policy))
        .routes(routes!(reject_exception))
}

/// Every version of a policy, newest first.
#[derive(Serialize, ToSchema)]
struct PolicyVersions {
    versions: Vec<PolicyView>,
}

/// Every version of the global policy, newest first (everyone signed in).
#[utoipa::path(
    get,
    path = "/policies/global/versions",
    tag = "policies",
    responses(
        (status = 200, description = "The versions, newest first", body = PolicyVersions),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = []))
)]
async fn global_policy_versions(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<PolicyVersions>> {
    let versions = state
        .accounts
        .policy_versions(&caller.operator, None)
        .await
        .map_err(fail)?;
    Ok(Json(PolicyVersions { versions }))
}

/// Every version of a tenant's policy, newest first (its members, auditor, admin).
#[utoipa::path(
    get,
    path = "/tenants/{tenant}/policy/versions",
    tag = "policies",
    params(("tenant" = String, Path, description = "The tenant id")),
    responses(
        (status = 200, description = "The versions, newest first", body = PolicyVersions),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = []))
)]
async fn tenant_policy_versions(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(tenant): Path<String>,
) -> ApiResult<Json<PolicyVersions>> {
    let versions = state
        .accounts
        .policy_versions(&caller.operator, Some(&tenant))
        .await
        .map_err(fail)?;
    Ok(Json(PolicyVersions { versions }))
}

/// What a policy would decide for the tenant's images in `scanned/`
/// (security of the tenant, admin).
///
/// The body is the candidate policy's YAML text. Each promoted image is
/// matched again from its stored inventory with the current vulnerability
/// data and the tenant's exceptions, and evaluated against the candidate.
/// Nothing is stored and nothing is re-evaluated.
#[utoipa::path(
    post,
    path = "/tenants/{tenant}/policy/dry-run",
    tag = "policies",
    params(("tenant" = String, Path, description = "The tenant id")),
    request_body(description = "The candidate policy's YAML text", content(
        (String = "application/yaml"),
        (String = "text/plain"),
    )),
    responses(
        (status = 200, description = "What the policy would decide, failing images first", body = DryRunView),
        (status = 400, description = "Invalid input (the policy, with its line)", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 404, description = "No such tenant", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = [], "csrf" = []))
)]
async fn dry_run_policy(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(tenant): Path<String>,
    document: String,
) -> ApiResult<Json<DryRunView>> {
    let outcome = state
        .accounts
        .dry_run_policy(&caller.operator, &caller.request, &tenant, &document)
        .await
        .map_err(fail)?;
    Ok(Json(outcome))
}

/// Reject a pending exception request (security of the tenant, admin).
///
/// It is closed without ever applying; its status becomes `rejected`.
#[utoipa::path(
    post,
    path = "/tenants/{tenant}/exceptions/{id}/reject",
    tag = "exceptions",
    params(("tenant" = String, Path, description = "The tenant id"), ("id" = String, Path, description = "The exception id", example = "EXC-1")),
    responses(
        (status = 200, description = "Rejected", body = ExceptionView),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 404, description = "No such object", body = ErrorEnvelope),
        (status = 409, description = "Not pending", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = [], "csrf" = []))
)]
async fn reject_exception(
    State(state): State<AppState>,
    caller: Authenticated,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<Json<ExceptionView>> {
    let exception = state
        .accounts
        .reject_exception(&caller.operator, &caller.request, Some(&tenant), &id)
        .await
        .map_err(fail)?;
    Ok(Json(exception))
}
