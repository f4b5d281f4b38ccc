//! The management API under `/api/v1`: tenants, users, grants, robots, the
//! audit log, and the gate's policies, exceptions and image status, as JSON
//! (policies are sent as YAML text). Documented in `docs/openapi.yaml`, which is also
//! served at `/api/v1/openapi.yaml`.
//!
//! Handlers are thin: [`Authenticated`] turns a bearer token, basic
//! credentials or the dashboard's session cookie (with its CSRF token on
//! unsafe methods, see [`crate::session`]) into an [`Operator`], the
//! [`Accounts`] service decides and does the rest, and errors leave as the same `{"errors": [...]}` envelope
//! as the registry's.

use std::time::Duration;

use airlock_accounts::{AccountsError, ExceptionRequest, ImageFilter, Operator};
use airlock_audit::{ExportFormat, ExportWriter, RequestContext};
use airlock_auth::{GlobalRole, TenantRole};
use airlock_store::AuditFilter;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::AppState;
use crate::auth::{accounts_error_response, api_principal, peer, request_context};

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("../../../docs/openapi.yaml");

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.yaml", get(openapi))
        .route("/whoami", get(whoami))
        .route("/tenants", get(list_tenants).post(create_tenant))
        .route("/tenants/{tenant}", delete(delete_tenant))
        .route(
            "/tenants/{tenant}/robots",
            get(list_robots).post(create_robot),
        )
        .route("/tenants/{tenant}/robots/{name}", delete(revoke_robot))
        .route("/users", get(list_users).post(create_user))
        .route("/users/{name}/password", put(change_password))
        .route("/users/{name}/disable", post(disable_user))
        .route("/users/{name}/enable", post(enable_user))
        .route("/users/{name}/grants", post(grant))
        .route(
            "/users/{name}/grants/tenants/{tenant}",
            delete(revoke_tenant_role),
        )
        .route(
            "/users/{name}/grants/global/{role}",
            delete(revoke_global_role),
        )
        .route("/audit", get(export_audit))
        .route(
            "/policies/global",
            get(global_policy).put(set_global_policy),
        )
        .route(
            "/tenants/{tenant}/policy",
            get(tenant_policy).put(set_tenant_policy),
        )
        .route(
            "/tenants/{tenant}/exceptions",
            get(list_exceptions).post(request_exception),
        )
        .route(
            "/tenants/{tenant}/exceptions/{id}",
            delete(revoke_exception),
        )
        .route(
            "/tenants/{tenant}/exceptions/{id}/approve",
            post(approve_exception),
        )
        .route("/tenants/{tenant}/images", get(list_images))
        .route("/tenants/{tenant}/images/{digest}", get(image_status))
        .merge(crate::notify_api::routes())
        .merge(crate::search_api::routes())
        .merge(crate::policy_api::routes())
}

/// An authenticated API caller.
pub(crate) struct Authenticated {
    pub(crate) operator: Operator,
    pub(crate) request: RequestContext,
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let request = request_context(&parts.headers, peer(&parts.extensions));
        match api_principal(state, &parts.method, &parts.headers, &request).await {
            Ok(principal) => Ok(Authenticated {
                operator: Operator::Principal(principal),
                request,
            }),
            Err(error) => Err(accounts_error_response(&error)),
        }
    }
}

pub(crate) type ApiResult<T> = Result<T, Response>;

pub(crate) fn fail(error: AccountsError) -> Response {
    accounts_error_response(&error)
}

fn invalid(message: impl Into<String>) -> Response {
    fail(AccountsError::Invalid(message.into()))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI).into_response()
}

async fn whoami(caller: Authenticated) -> ApiResult<Json<serde_json::Value>> {
    let Operator::Principal(principal) = &caller.operator else {
        return Err(invalid("no principal"));
    };
    Ok(Json(serde_json::json!({
        "kind": principal.kind(),
        "name": principal.name(),
        "roles": principal.roles(),
    })))
}

// ----- tenants -----

#[derive(Deserialize)]
struct NewTenant {
    id: String,
}

async fn list_tenants(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<serde_json::Value>> {
    let tenants = state
        .accounts
        .tenants(&caller.operator)
        .await
        .map_err(fail)?;
    Ok(Json(serde_json::json!({ "tenants": tenants })))
}

async fn create_tenant(
    State(state): State<AppState>,
    caller: Authenticated,
    Json(body): Json<NewTenant>,
) -> ApiResult<Response> {
    let tenant = state
        .accounts
        .create_tenant(&caller.operator, &caller.request, &body.id)
        .await
        .map_err(fail)?;
    Ok((StatusCode::CREATED, Json(tenant)).into_response())
}

async fn delete_tenant(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(tenant): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .accounts
        .delete_tenant(&caller.operator, &caller.request, &tenant)
        .await
        .map_err(fail)?;
    Ok(StatusCode::NO_CONTENT)
}

// ----- robots -----

#[derive(Deserialize)]
struct NewRobotBody {
    name: String,
    role: TenantRole,
    /// Seconds until the token expires; none for no expiry.
    expires_in_seconds: Option<u64>,
}

async fn list_robots(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(tenant): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let robots = state
        .accounts
        .robots(&caller.operator, &tenant)
        .await
        .map_err(fail)?;
    Ok(Json(serde_json::json!({ "robots": robots })))
}

async fn create_robot(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(tenant): Path<String>,
    Json(body): Json<NewRobotBody>,
) -> ApiResult<Response> {
    let robot = state
        .accounts
        .create_robot(
            &caller.operator,
            &caller.request,
            &tenant,
            &body.name,
            body.role,
            body.expires_in_seconds.map(Duration::from_secs),
        )
        .await
        .map_err(fail)?;
    Ok((StatusCode::CREATED, Json(robot)).into_response())
}

async fn revoke_robot(
    State(state): State<AppState>,
    caller: Authenticated,
    Path((tenant, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .accounts
        .revoke_robot(&caller.operator, &caller.request, &tenant, &name)
        .await
        .map_err(fail)?;
    Ok(StatusCode::NO_CONTENT)
}

// ----- users -----

#[derive(Deserialize)]
struct NewUser {
    name: String,
    password: String,
}

#[derive(Deserialize)]
struct NewPassword {
    password: String,
}

#[derive(Deserialize)]
struct GrantBody {
    /// The tenant, for developer, reader and security; none for auditor and admin.
    tenant: Option<String>,
    role: String,
}

async fn list_users(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<serde_json::Value>> {
    let users = state.accounts.users(&caller.operator).await.map_err(fail)?;
    Ok(Json(serde_json::json!({ "users": users })))
}

async fn create_user(
    State(state): State<AppState>,
    caller: Authenticated,
    Json(body): Json<NewUser>,
) -> ApiResult<Response> {
    let user = state
        .accounts
        .create_user(
            &caller.operator,
            &caller.request,
            &body.name,
            &body.password,
        )
        .await
        .map_err(fail)?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

async fn change_password(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(name): Path<String>,
    Json(body): Json<NewPassword>,
) -> ApiResult<StatusCode> {
    state
        .accounts
        .change_password(&caller.operator, &caller.request, &name, &body.password)
        .await
        .map_err(fail)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn disable_user(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let user = state
        .accounts
        .set_user_disabled(&caller.operator, &caller.request, &name, true)
        .await
        .map_err(fail)?;
    Ok(Json(user).into_response())
}

async fn enable_user(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let user = state
        .accounts
        .set_user_disabled(&caller.operator, &caller.request, &name, false)
        .await
        .map_err(fail)?;
    Ok(Json(user).into_response())
}

async fn grant(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(name): Path<String>,
    Json(body): Json<GrantBody>,
) -> ApiResult<Response> {
    let user = match (&body.tenant, body.role.parse::<TenantRole>()) {
        (Some(tenant), Ok(role)) => {
            state
                .accounts
                .set_tenant_role(&caller.operator, &caller.request, &name, tenant, Some(role))
                .await
        }
        (None, Err(_)) => {
            let role: GlobalRole = body.role.parse().map_err(|e| invalid(format!("{e}")))?;
            state
                .accounts
                .set_global_role(&caller.operator, &caller.request, &name, role, true)
                .await
        }
        (Some(_), Err(_)) => {
            return Err(invalid(format!(
                "{:?} is not a tenant role: use developer, reader or security with a tenant",
                body.role
            )));
        }
        (None, Ok(_)) => {
            return Err(invalid(format!(
                "role {:?} needs a tenant; auditor and admin are global",
                body.role
            )));
        }
    }
    .map_err(fail)?;
    Ok(Json(user).into_response())
}

async fn revoke_tenant_role(
    State(state): State<AppState>,
    caller: Authenticated,
    Path((name, tenant)): Path<(String, String)>,
) -> ApiResult<Response> {
    let user = state
        .accounts
        .set_tenant_role(&caller.operator, &caller.request, &name, &tenant, None)
        .await
        .map_err(fail)?;
    Ok(Json(user).into_response())
}

async fn revoke_global_role(
    State(state): State<AppState>,
    caller: Authenticated,
    Path((name, role)): Path<(String, String)>,
) -> ApiResult<Response> {
    let role: GlobalRole = role.parse().map_err(|e| invalid(format!("{e}")))?;
    let user = state
        .accounts
        .set_global_role(&caller.operator, &caller.request, &name, role, false)
        .await
        .map_err(fail)?;
    Ok(Json(user).into_response())
}

// ----- audit -----

#[derive(Deserialize)]
struct AuditQuery {
    format: Option<String>,
    since: Option<String>,
    until: Option<String>,
    tenant: Option<String>,
    action: Option<String>,
}

fn parse_time(name: &str, value: Option<&str>) -> Result<Option<OffsetDateTime>, AccountsError> {
    value
        .map(|v| {
            OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).map_err(|e| {
                AccountsError::Invalid(format!("{name} must be an RFC 3339 time: {e}"))
            })
        })
        .transpose()
}

/// Exports audit records (auditor, admin), as JSON Lines or CSV.
async fn export_audit(
    State(state): State<AppState>,
    caller: Authenticated,
    Query(query): Query<AuditQuery>,
) -> ApiResult<Response> {
    let format: ExportFormat = query
        .format
        .as_deref()
        .unwrap_or("jsonl")
        .parse()
        .map_err(|e| invalid(format!("{e}")))?;
    let filter = AuditFilter {
        since: parse_time("since", query.since.as_deref()).map_err(fail)?,
        until: parse_time("until", query.until.as_deref()).map_err(fail)?,
        tenant: query.tenant,
        action: query.action,
    };
    let mut writer = ExportWriter::new(format, Vec::new()).map_err(|e| invalid(e.to_string()))?;
    let mut after = 0;
    loop {
        let page = state
            .accounts
            .audit_records(&caller.operator, &caller.request, &filter, after, 1000)
            .await
            .map_err(fail)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for record in &page {
            writer
                .write(record)
                .map_err(|e| fail(AccountsError::Internal(e.to_string())))?;
        }
    }
    let bytes = writer
        .finish()
        .map_err(|e| fail(AccountsError::Internal(e.to_string())))?;
    let content_type = match format {
        ExportFormat::Jsonl => "application/x-ndjson",
        ExportFormat::Csv => "text/csv",
    };
    Ok(([(header::CONTENT_TYPE, content_type)], Body::from(bytes)).into_response())
}

// ----- policies -----

/// The policy, or `404` when none was set (then another one applies).
fn policy_or_missing(policy: Option<airlock_accounts::PolicyView>, what: &str) -> Response {
    match policy {
        Some(policy) => Json(policy).into_response(),
        None => fail(AccountsError::NotFound(what.to_owned())),
    }
}

async fn global_policy(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Response> {
    let policy = state
        .accounts
        .policy(&caller.operator, None)
        .await
        .map_err(fail)?;
    Ok(policy_or_missing(
        policy,
        "global policy (the built-in default applies)",
    ))
}

/// The body is the policy's YAML text (`application/yaml` or `text/plain`).
async fn set_global_policy(
    State(state): State<AppState>,
    caller: Authenticated,
    document: String,
) -> ApiResult<Response> {
    let policy = state
        .accounts
        .set_policy(&caller.operator, &caller.request, None, &document)
        .await
        .map_err(fail)?;
    Ok(Json(policy).into_response())
}

async fn tenant_policy(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    let policy = state
        .accounts
        .policy(&caller.operator, Some(&tenant))
        .await
        .map_err(fail)?;
    Ok(policy_or_missing(
        policy,
        &format!("policy of tenant {tenant} (the global policy applies)"),
    ))
}

async fn set_tenant_policy(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(tenant): Path<String>,
    document: String,
) -> ApiResult<Response> {
    let policy = state
        .accounts
        .set_policy(&caller.operator, &caller.request, Some(&tenant), &document)
        .await
        .map_err(fail)?;
    Ok(Json(policy).into_response())
}

// ----- exceptions -----

#[derive(Deserialize)]
struct NewException {
    vulnerability: String,
    package: Option<String>,
    repository: Option<String>,
    digest: Option<String>,
    reason: String,
    /// Seconds until it expires (required).
    expires_in_seconds: u64,
}

async fn list_exceptions(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(tenant): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let exceptions = state
        .accounts
        .exceptions(&caller.operator, &tenant)
        .await
        .map_err(fail)?;
    Ok(Json(serde_json::json!({ "exceptions": exceptions })))
}

async fn request_exception(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(tenant): Path<String>,
    Json(body): Json<NewException>,
) -> ApiResult<Response> {
    let exception = state
        .accounts
        .request_exception(
            &caller.operator,
            &caller.request,
            &tenant,
            ExceptionRequest {
                vulnerability: body.vulnerability,
                package: body.package,
                repository: body.repository,
                digest: body.digest,
                reason: body.reason,
                expires_in: Duration::from_secs(body.expires_in_seconds),
            },
        )
        .await
        .map_err(fail)?;
    Ok((StatusCode::CREATED, Json(exception)).into_response())
}

async fn approve_exception(
    State(state): State<AppState>,
    caller: Authenticated,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let exception = state
        .accounts
        .approve_exception(&caller.operator, &caller.request, Some(&tenant), &id)
        .await
        .map_err(fail)?;
    Ok(Json(exception).into_response())
}

async fn revoke_exception(
    State(state): State<AppState>,
    caller: Authenticated,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .accounts
        .revoke_exception(&caller.operator, &caller.request, Some(&tenant), &id)
        .await
        .map_err(fail)?;
    Ok(StatusCode::NO_CONTENT)
}

// ----- images -----

#[derive(Deserialize)]
struct ImagesQuery {
    state: Option<String>,
    repository: Option<String>,
    tag: Option<String>,
    limit: Option<usize>,
}

#[derive(Deserialize)]
struct ImageQuery {
    repository: Option<String>,
}

async fn list_images(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(tenant): Path<String>,
    Query(query): Query<ImagesQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let filter = ImageFilter {
        state: query.state,
        repository: query.repository,
        tag: query.tag,
        limit: query.limit,
    };
    let images = state
        .accounts
        .images(&caller.operator, &tenant, &filter)
        .await
        .map_err(fail)?;
    Ok(Json(serde_json::json!({ "images": images })))
}

async fn image_status(
    State(state): State<AppState>,
    caller: Authenticated,
    Path((tenant, digest)): Path<(String, String)>,
    Query(query): Query<ImageQuery>,
) -> ApiResult<Response> {
    let status = state
        .accounts
        .image_status(
            &caller.operator,
            &tenant,
            &digest,
            query.repository.as_deref(),
        )
        .await
        .map_err(fail)?;
    Ok(Json(status).into_response())
}
