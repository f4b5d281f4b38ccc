//! The management API under `/api/v1`: tenants, users, grants, robots, the
//! audit log, and the gate's policies, exceptions and image status, as JSON
//! (policies are sent as YAML text).
//!
//! Handlers are thin: [`Authenticated`] turns a bearer token, basic
//! credentials or the dashboard's session cookie (with its CSRF token on
//! unsafe methods, see [`crate::session`]) into an [`Operator`], the
//! [`Accounts`] service decides and does the rest, and errors leave as the
//! same `{"errors": [...]}` envelope as the registry's.
//!
//! Every handler carries its OpenAPI description (`#[utoipa::path]`) and is
//! registered with `routes!`, which takes the route from that description:
//! a handler cannot be routed undocumented, nor documented unrouted. The
//! document itself is assembled in [`crate::openapi`].
//!
//! [`Accounts`]: airlock_accounts::Accounts

use std::time::Duration;

use airlock_accounts::{
    AccountsError, ExceptionRequest, ExceptionView, ImageFilter, ImageStatusView, ImageView,
    NewRobot, Operator, PolicyView, RobotView, TenantView, UserView,
};
use airlock_audit::{ExportFormat, Outcome, RequestContext};
use airlock_auth::{GlobalRole, TenantRole};
use airlock_store::{AuditFilter, AuditSearch};
use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{accounts_error_response, api_principal, peer, request_context};
use crate::error::ErrorEnvelope;

/// The routes of `/api/v1`, each with its OpenAPI description.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(whoami))
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(delete_tenant))
        .routes(routes!(list_robots, create_robot))
        .routes(routes!(revoke_robot))
        .routes(routes!(list_users, create_user))
        .routes(routes!(change_password))
        .routes(routes!(disable_user))
        .routes(routes!(enable_user))
        .routes(routes!(grant))
        .routes(routes!(revoke_tenant_role))
        .routes(routes!(revoke_global_role))
        .routes(routes!(export_audit))
        .routes(routes!(verify_audit))
        .routes(routes!(global_policy, set_global_policy))
        .routes(routes!(tenant_policy, set_tenant_policy))
        .routes(routes!(list_exceptions, request_exception))
        .routes(routes!(revoke_exception))
        .routes(routes!(approve_exception))
        .routes(routes!(list_images))
        .routes(routes!(image_status))
        .merge(crate::notify_api::routes())
        .merge(crate::search_api::routes())
        .merge(crate::policy_api::routes())
}

/// An authenticated API caller: the local operator when the request carries
/// the [`LocalOperator`] extension (the CLI's in-process transport; see its
/// safety note), else the principal behind the request's credentials.
///
/// [`LocalOperator`]: crate::LocalOperator
pub(crate) struct Authenticated {
    pub(crate) operator: Operator,
    pub(crate) request: RequestContext,
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let request = request_context(&parts.headers, peer(&parts.extensions));
        if let Some(crate::LocalOperator(name)) = parts.extensions.get::<crate::LocalOperator>() {
            return Ok(Authenticated {
                operator: Operator::Local(name.clone()),
                request,
            });
        }
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

/// Who is calling.
#[derive(Serialize, ToSchema)]
#[schema(as = Principal)]
struct WhoAmI {
    /// `user` or `robot`.
    #[schema(value_type = String, example = "user")]
    kind: airlock_auth::PrincipalKind,
    /// The login or robot account name.
    name: String,
    /// `{"global": ["auditor" | "admin", ...], "tenants": {"<tenant>":
    /// "developer" | "reader" | "security"}}`.
    #[schema(value_type = Object)]
    roles: Option<airlock_auth::Roles>,
}

/// The authenticated principal and its roles.
#[utoipa::path(
    get,
    path = "/whoami",
    tag = "identity",
    responses(
        (status = 200, description = "The principal", body = WhoAmI),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = []))
)]
async fn whoami(caller: Authenticated) -> ApiResult<Json<WhoAmI>> {
    let Operator::Principal(principal) = &caller.operator else {
        return Err(invalid("no principal"));
    };
    Ok(Json(WhoAmI {
        kind: principal.kind(),
        name: principal.name().to_owned(),
        roles: principal.roles().cloned(),
    }))
}

// ----- tenants -----

/// A tenant to create.
#[derive(Deserialize, ToSchema)]
struct NewTenant {
    /// Lowercase letters, digits and inner dashes, at most 63 characters.
    #[schema(
        pattern = "^[a-z0-9]+(-[a-z0-9]+)*$",
        max_length = 63,
        example = "acme"
    )]
    id: String,
}

/// The tenants visible to the caller.
#[derive(Serialize, ToSchema)]
struct TenantList {
    tenants: Vec<TenantView>,
}

/// Tenants visible to the caller (all, for admins and auditors).
#[utoipa::path(
    get,
    path = "/tenants",
    tag = "tenants",
    responses(
        (status = 200, description = "Tenants", body = TenantList),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = []))
)]
async fn list_tenants(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<TenantList>> {
    let tenants = state
        .accounts
        .tenants(&caller.operator)
        .await
        .map_err(fail)?;
    Ok(Json(TenantList { tenants }))
}

/// Create a tenant (admin).
#[utoipa::path(
    post,
    path = "/tenants",
    tag = "tenants",
    request_body = NewTenant,
    responses(
        (status = 201, description = "Created", body = TenantView),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 409, description = "Exists already or still in use", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = [], "csrf" = []))
)]
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

/// Delete a tenant with no images left, with its grants and robots (admin).
#[utoipa::path(
    delete,
    path = "/tenants/{tenant}",
    tag = "tenants",
    params(("tenant" = String, Path, description = "The tenant id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 404, description = "No such object", body = ErrorEnvelope),
        (status = 409, description = "Exists already or still in use", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = [], "csrf" = []))
)]
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

/// A robot to create.
#[derive(Deserialize, ToSchema)]
struct NewRobotBody {
    /// Its short name; the account is `robot$<tenant>+<name>`.
    #[schema(
        pattern = "^[a-z0-9]+([._-][a-z0-9]+)*$",
        max_length = 64,
        example = "ci"
    )]
    name: String,
    /// `developer` or `reader`.
    #[schema(value_type = String, example = "developer")]
    role: TenantRole,
    /// Seconds until the token expires; none for no expiry.
    #[schema(minimum = 1)]
    expires_in_seconds: Option<u64>,
}

/// A tenant's robots, with token prefixes only.
#[derive(Serialize, ToSchema)]
struct RobotList {
    robots: Vec<RobotView>,
}

/// Robots of a tenant (admin, auditor, and the tenant's security and developers).
#[utoipa::path(
    get,
    path = "/tenants/{tenant}/robots",
    tag = "robots",
    params(("tenant" = String, Path, description = "The tenant id")),
    responses(
        (status = 200, description = "Robots, with token prefixes only", body = RobotList),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = []))
)]
async fn list_robots(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(tenant): Path<String>,
) -> ApiResult<Json<RobotList>> {
    let robots = state
        .accounts
        .robots(&caller.operator, &tenant)
        .await
        .map_err(fail)?;
    Ok(Json(RobotList { robots }))
}

/// Create a robot (admin, the tenant's security).
///
/// The token is in the response, once: use it as the password of the
/// robot's account name.
#[utoipa::path(
    post,
    path = "/tenants/{tenant}/robots",
    tag = "robots",
    params(("tenant" = String, Path, description = "The tenant id")),
    request_body = NewRobotBody,
    responses(
        (status = 201, description = "Created, with its token", body = NewRobot),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 404, description = "No such object", body = ErrorEnvelope),
        (status = 409, description = "Exists already or still in use", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = [], "csrf" = []))
)]
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

/// Revoke a robot (admin, the tenant's security).
#[utoipa::path(
    delete,
    path = "/tenants/{tenant}/robots/{name}",
    tag = "robots",
    params(
        ("tenant" = String, Path, description = "The tenant id"),
        ("name" = String, Path, description = "Short name or robot$<tenant>+<name>"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 404, description = "No such object", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = [], "csrf" = []))
)]
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

/// A user to create.
#[derive(Deserialize, ToSchema)]
struct NewUser {
    /// The login name.
    #[schema(pattern = "^[a-z0-9][a-z0-9._-]{0,63}$", example = "alice")]
    name: String,
    /// At least 8 characters.
    #[schema(min_length = 8)]
    password: String,
}

/// A new password.
#[derive(Deserialize, ToSchema)]
struct NewPassword {
    /// At least 8 characters.
    #[schema(min_length = 8)]
    password: String,
}

/// A role to grant.
#[derive(Deserialize, ToSchema)]
struct GrantBody {
    /// The tenant, for developer, reader and security; none for auditor and admin.
    tenant: Option<String>,
    /// `developer`, `reader`, `security` (with a tenant), `auditor` or
    /// `admin` (without).
    #[schema(example = "developer")]
    role: String,
}

/// Every user.
#[derive(Serialize, ToSchema)]
struct UserList {
    users: Vec<UserView>,
}

/// All users (admin, auditor).
#[utoipa::path(
    get,
    path = "/users",
    tag = "users",
    responses(
        (status = 200, description = "Users", body = UserList),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = []))
)]
async fn list_users(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<UserList>> {
    let users = state.accounts.users(&caller.operator).await.map_err(fail)?;
    Ok(Json(UserList { users }))
}

/// Create a user (admin).
#[utoipa::path(
    post,
    path = "/users",
    tag = "users",
    request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 409, description = "Exists already or still in use", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = [], "csrf" = []))
)]
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

/// Set a password (the user themself, or an admin).
#[utoipa::path(
    put,
    path = "/users/{name}/password",
    tag = "users",
    params(("name" = String, Path, description = "The user's login name")),
    request_body = NewPassword,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 404, description = "No such object", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = [], "csrf" = []))
)]
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

/// Refuse the user's logins (admin).
///
/// Tokens already issued expire within their lifetime.
#[utoipa::path(
    post,
    path = "/users/{name}/disable",
    tag = "users",
    params(("name" = String, Path, description = "The user's login name")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 404, description = "No such object", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = [], "csrf" = []))
)]
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

/// Allow the user's logins again (admin).
#[utoipa::path(
    post,
    path = "/users/{name}/enable",
    tag = "users",
    params(("name" = String, Path, description = "The user's login name")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 404, description = "No such object", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = [], "csrf" = []))
)]
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

/// Grant a role (admin).
///
/// A tenant role replaces the user's role in that tenant.
#[utoipa::path(
    post,
    path = "/users/{name}/grants",
    tag = "users",
    params(("name" = String, Path, description = "The user's login name")),
    request_body = GrantBody,
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 404, description = "No such object", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = [], "csrf" = []))
)]
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

/// Remove the user's role in a tenant (admin).
#[utoipa::path(
    delete,
    path = "/users/{name}/grants/tenants/{tenant}",
    tag = "users",
    params(("name" = String, Path, description = "The user's login name"), ("tenant" = String, Path, description = "The tenant id")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 404, description = "No such object", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = [], "csrf" = []))
)]
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

/// Remove a global role (admin).
#[utoipa::path(
    delete,
    path = "/users/{name}/grants/global/{role}",
    tag = "users",
    params(("name" = String, Path, description = "The user's login name"), ("role" = String, Path, description = "`auditor` or `admin`")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 404, description = "No such object", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = [], "csrf" = []))
)]
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

/// Which audit records to export, and how.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// `jsonl` (default) or `csv`.
    #[param(example = "jsonl")]
    format: Option<String>,
    /// RFC 3339: records at or after.
    #[param(format = DateTime)]
    since: Option<String>,
    /// RFC 3339: records before.
    #[param(format = DateTime)]
    until: Option<String>,
    /// Only this tenant's records.
    tenant: Option<String>,
    /// An action (`auth.login`) or its prefix (`auth`).
    action: Option<String>,
    /// Only this actor's records (a user, robot or system name).
    actor: Option<String>,
    /// Only records with this outcome: `success`, `failure` or `denied`.
    outcome: Option<String>,
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

/// Export audit records (auditor, admin), oldest first, as JSON Lines or CSV,
/// streamed as they are read.
#[utoipa::path(
    get,
    path = "/audit",
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "The records", content(
            (String = "application/x-ndjson"),
            (String = "text/csv"),
        )),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = []))
)]
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
    let outcome = query
        .outcome
        .as_deref()
        .map(str::parse::<Outcome>)
        .transpose()
        .map_err(|e| invalid(e.to_string()))?;
    let search = AuditSearch {
        filter: AuditFilter {
            since: parse_time("since", query.since.as_deref()).map_err(fail)?,
            until: parse_time("until", query.until.as_deref()).map_err(fail)?,
            tenant: query.tenant,
            action: query.action,
        },
        actor: query.actor,
        outcome,
    };
    // Encoded while it is read, a page at a time: memory stays bounded
    // whatever the size of the log.
    let stream = state
        .accounts
        .export_audit(&caller.operator, &caller.request, search, format)
        .await
        .map_err(fail)?;
    let content_type = match format {
        ExportFormat::Jsonl => "application/x-ndjson",
        ExportFormat::Csv => "text/csv",
    };
    Ok((
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(stream),
    )
        .into_response())
}

/// What a verification of the whole audit chain found.
#[derive(Serialize, ToSchema)]
struct AuditChain {
    /// Whether every record is intact and linked to the one before.
    intact: bool,
    /// Records verified, from the first one (up to the break, if any).
    records: u64,
    /// The seq of the last verified record (0 for an empty log).
    last_seq: u64,
    /// The hash of the last verified record (the chain's head when intact).
    last_hash: String,
    /// The first record that breaks the chain, and how.
    #[schema(example = "audit chain broken at record 7: its hash does not match its content")]
    broken: Option<String>,
}

/// Recompute the audit log's hash chain (auditor, admin); names the first
/// record that breaks it.
#[utoipa::path(
    get,
    path = "/audit/verify",
    tag = "audit",
    responses(
        (status = 200, description = "The chain's state, intact or broken", body = AuditChain),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = []))
)]
async fn verify_audit(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<Json<AuditChain>> {
    let status = state
        .accounts
        .verify_audit_chain(&caller.operator, &caller.request)
        .await
        .map_err(fail)?;
    Ok(Json(AuditChain {
        intact: status.broken.is_none(),
        records: status.records,
        last_seq: status.last_seq,
        last_hash: status.last_hash,
        broken: status.broken.map(|b| b.to_string()),
    }))
}

// ----- policies -----

/// The policy, or `404` when none was set (then another one applies).
fn policy_or_missing(policy: Option<airlock_accounts::PolicyView>, what: &str) -> Response {
    match policy {
        Some(policy) => Json(policy).into_response(),
        None => fail(AccountsError::NotFound(what.to_owned())),
    }
}

/// The newest global policy (every authenticated caller).
#[utoipa::path(
    get,
    path = "/policies/global",
    tag = "policies",
    responses(
        (status = 200, description = "The policy", body = PolicyView),
        (status = 404, description = "None was set: the built-in default applies", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = []))
)]
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

/// Store a new version of the global policy (admin).
///
/// The body is the policy's YAML text. It is validated first; a problem is
/// reported with its line. Promoted images are re-evaluated.
#[utoipa::path(
    put,
    path = "/policies/global",
    tag = "policies",
    request_body(description = "The policy's YAML text", content(
        (String = "application/yaml"),
        (String = "text/plain"),
    )),
    responses(
        (status = 200, description = "The stored version", body = PolicyView),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = [], "csrf" = []))
)]
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

/// The newest policy of a tenant (its members, auditor, admin).
#[utoipa::path(
    get,
    path = "/tenants/{tenant}/policy",
    tag = "policies",
    params(("tenant" = String, Path, description = "The tenant id")),
    responses(
        (status = 200, description = "The policy", body = PolicyView),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 404, description = "None was set: the global policy applies", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = []))
)]
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

/// Store a new version of a tenant's policy (security of the tenant, admin).
///
/// The body is the policy's YAML text. It is validated first; a problem is
/// reported with its line ("invalid policy, line 3, column 5, ..."). The
/// tenant's promoted images are re-evaluated.
#[utoipa::path(
    put,
    path = "/tenants/{tenant}/policy",
    tag = "policies",
    params(("tenant" = String, Path, description = "The tenant id")),
    request_body(description = "The policy's YAML text", content(
        (String = "application/yaml"),
        (String = "text/plain"),
    )),
    responses(
        (status = 200, description = "The stored version", body = PolicyView),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 404, description = "No such object", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = [], "csrf" = []))
)]
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

/// An exception to request.
#[derive(Deserialize, ToSchema)]
struct NewException {
    /// The vulnerability id (aliases are honoured when matching).
    #[schema(example = "CVE-2024-1234")]
    vulnerability: String,
    /// Narrows it to a package name.
    package: Option<String>,
    /// Narrows it to a repository.
    #[schema(example = "unscanned/acme/app")]
    repository: Option<String>,
    /// Narrows it to a manifest digest.
    digest: Option<String>,
    /// Why it is acceptable.
    reason: String,
    /// Seconds until it expires (required; at most a year).
    #[schema(minimum = 1, maximum = 31622400)]
    expires_in_seconds: u64,
}

/// A tenant's exceptions.
#[derive(Serialize, ToSchema)]
struct ExceptionList {
    exceptions: Vec<ExceptionView>,
}

/// A tenant's exceptions, newest first (its members, auditor, admin).
#[utoipa::path(
    get,
    path = "/tenants/{tenant}/exceptions",
    tag = "exceptions",
    params(("tenant" = String, Path, description = "The tenant id")),
    responses(
        (status = 200, description = "Exceptions", body = ExceptionList),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = []))
)]
async fn list_exceptions(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(tenant): Path<String>,
) -> ApiResult<Json<ExceptionList>> {
    let exceptions = state
        .accounts
        .exceptions(&caller.operator, &tenant)
        .await
        .map_err(fail)?;
    Ok(Json(ExceptionList { exceptions }))
}

/// Request an exception (developer or security of the tenant, admin).
///
/// It applies once approved by someone else.
#[utoipa::path(
    post,
    path = "/tenants/{tenant}/exceptions",
    tag = "exceptions",
    params(("tenant" = String, Path, description = "The tenant id")),
    request_body = NewException,
    responses(
        (status = 201, description = "Requested", body = ExceptionView),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 404, description = "No such object", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = [], "csrf" = []))
)]
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

/// Approve an exception (security of the tenant, admin; never its requester).
///
/// The tenant's promoted images are re-evaluated.
#[utoipa::path(
    post,
    path = "/tenants/{tenant}/exceptions/{id}/approve",
    tag = "exceptions",
    params(("tenant" = String, Path, description = "The tenant id"), ("id" = String, Path, description = "The exception id", example = "EXC-1")),
    responses(
        (status = 200, description = "Approved", body = ExceptionView),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 404, description = "No such object", body = ErrorEnvelope),
        (status = 409, description = "Exists already or still in use", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = [], "csrf" = []))
)]
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

/// Revoke an exception (security of the tenant, admin).
///
/// The tenant's promoted images are re-evaluated.
#[utoipa::path(
    delete,
    path = "/tenants/{tenant}/exceptions/{id}",
    tag = "exceptions",
    params(("tenant" = String, Path, description = "The tenant id"), ("id" = String, Path, description = "The exception id", example = "EXC-1")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 404, description = "No such object", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = [], "csrf" = []))
)]
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

/// Which of a tenant's gated images to list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ImagesQuery {
    /// Only in this state: `received`, `queued`, `scanning`, `passed`,
    /// `failed`, `promoted`, `rejected` or `covered`.
    state: Option<String>,
    /// Only in this repository, `unscanned/<tenant>/<name>`.
    repository: Option<String>,
    /// Only the manifest this tag of `repository` points at now (needs
    /// `repository`).
    tag: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[param(maximum = 1000)]
    limit: Option<usize>,
}

/// Which repository an image status is about.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ImageQuery {
    /// Which repository, when the digest was pushed to several; otherwise
    /// the most recently changed.
    repository: Option<String>,
}

/// A tenant's gated images.
#[derive(Serialize, ToSchema)]
struct ImageList {
    images: Vec<ImageView>,
}

/// A tenant's gated images, newest first (its members including robots, auditor, admin).
#[utoipa::path(
    get,
    path = "/tenants/{tenant}/images",
    tag = "images",
    params(("tenant" = String, Path, description = "The tenant id"), ImagesQuery),
    responses(
        (status = 200, description = "Images", body = ImageList),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = []))
)]
async fn list_images(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(tenant): Path<String>,
    Query(query): Query<ImagesQuery>,
) -> ApiResult<Json<ImageList>> {
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
    Ok(Json(ImageList { images }))
}

/// An image's state, verdict, reasons and history (its tenant's members including robots, auditor, admin).
#[utoipa::path(
    get,
    path = "/tenants/{tenant}/images/{digest}",
    tag = "images",
    params(("tenant" = String, Path, description = "The tenant id"), ("digest" = String, Path, description = "The manifest digest", example = "sha256:0f3a..."), ImageQuery),
    responses(
        (status = 200, description = "The image", body = ImageStatusView),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
        (status = 404, description = "No such object", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = []))
)]
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
