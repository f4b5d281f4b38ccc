//! `/ui/admin`: tenants, users with their roles, and each tenant's
//! robots, for admins. Every change is a POST form through the same
//! [`Accounts`](airlock_accounts::Accounts) operations as the API and the
//! CLI, so authorization and audit are the service's. A change that worked
//! redirects back with `done=<code>`; a refused one shows the page again
//! with the reason; a new robot's token is shown once, on the page that
//! answers its form.

use airlock_accounts::{AccountsError, NewRobot, RobotView, UserView};
use airlock_auth::{GlobalRole, TenantRole};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::images::when;
use super::{Chrome, FormFields, UiSession, done, error_page, error_status, form_error, render};
use crate::AppState;

/// The `done=` code of a redirect after a change.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct DoneQuery {
    #[serde(default)]
    done: String,
}

fn done_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "tenant-created" => "The tenant was created.",
        "tenant-deleted" => "The tenant was deleted.",
        "user-created" => "The user was created.",
        "user-disabled" => "The user was disabled and signed out.",
        "user-enabled" => "The user was enabled.",
        "granted" => "The role was granted.",
        "revoked" => "The role was revoked.",
        "robot-revoked" => "The robot was revoked; its token no longer works.",
        _ => return None,
    })
}

/// What a form's action led to, for the page that answers it.
#[derive(Default)]
struct Outcome {
    notice: Option<&'static str>,
    error: Option<String>,
    /// A robot just created and its token, shown this once.
    robot_token: Option<(String, String)>,
}

struct TenantRow {
    id: String,
    created: String,
}

struct UserRow {
    name: String,
    disabled: bool,
    global_roles: Vec<&'static str>,
    tenant_roles: Vec<(String, &'static str)>,
    created: String,
}

impl From<UserView> for UserRow {
    fn from(u: UserView) -> UserRow {
        UserRow {
            global_roles: u.global_roles.iter().map(GlobalRole::as_str).collect(),
            tenant_roles: u
                .tenants
                .into_iter()
                .map(|(tenant, role)| (tenant, role.as_str()))
                .collect(),
            created: when(u.created_at),
            name: u.name,
            disabled: u.disabled,
        }
    }
}

struct RobotRow {
    name: String,
    tenant: String,
    role: &'static str,
    prefix: String,
    created: String,
    created_by: String,
    expires: String,
    status: &'static str,
}

impl From<RobotView> for RobotRow {
    fn from(r: RobotView) -> RobotRow {
        let status = if r.revoked_at.is_some() {
            "revoked"
        } else if r.active {
            "active"
        } else {
            "expired"
        };
        RobotRow {
            role: r.role.as_str(),
            created: when(r.created_at),
            expires: r.expires_at.map(when).unwrap_or_else(|| "never".into()),
            name: r.name,
            tenant: r.tenant,
            prefix: r.prefix,
            created_by: r.created_by,
            status,
        }
    }
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    chrome: Chrome,
    notice: Option<&'static str>,
    error: Option<String>,
    robot_token: Option<(String, String)>,
    tenants: Vec<TenantRow>,
    users: Vec<UserRow>,
    robots: Vec<RobotRow>,
    tenant_roles: Vec<&'static str>,
    global_roles: Vec<&'static str>,
}

/// The page as `session` may see it, answering with `status`.
async fn page(
    state: &AppState,
    session: &UiSession,
    status: StatusCode,
    outcome: Outcome,
) -> Response {
    let chrome = Chrome::of(session, "/ui/admin");
    let accounts = &state.accounts;
    // Users first: listing them is refused (and audited) for anyone who
    // is not an admin or an auditor.
    let users = match accounts.users(&session.operator).await {
        Ok(users) => users,
        Err(error) => return error_page(&chrome, &error),
    };
    let tenants = match accounts.tenants(&session.operator).await {
        Ok(tenants) => tenants,
        Err(error) => return error_page(&chrome, &error),
    };
    let mut robots = Vec::new();
    for tenant in &tenants {
        match accounts.robots(&session.operator, &tenant.id).await {
            Ok(found) => robots.extend(found.into_iter().map(RobotRow::from)),
            Err(error) => return error_page(&chrome, &error),
        }
    }
    render(
        status,
        &AdminPage {
            chrome,
            notice: outcome.notice,
            error: outcome.error,
            robot_token: outcome.robot_token,
            tenants: tenants
                .into_iter()
                .map(|t| TenantRow {
                    created: when(t.created_at),
                    id: t.id,
                })
                .collect(),
            users: users.into_iter().map(UserRow::from).collect(),
            robots,
            tenant_roles: TenantRole::ALL.iter().map(TenantRole::as_str).collect(),
            global_roles: GlobalRole::ALL.iter().map(GlobalRole::as_str).collect(),
        },
    )
}

/// `GET /ui/admin`.
pub(crate) async fn show(
    State(state): State<AppState>,
    session: UiSession,
    Query(query): Query<DoneQuery>,
) -> Response {
    let outcome = Outcome {
        notice: done_message(&query.done),
        ..Outcome::default()
    };
    page(&state, &session, StatusCode::OK, outcome).await
}

/// The answer to a change: back to the page with `code`, or the page
/// again with the reason it was refused.
async fn answer(
    state: &AppState,
    session: &UiSession,
    result: Result<(), AccountsError>,
    code: &str,
) -> Response {
    match result {
        Ok(()) => done("/ui/admin", code),
        Err(error) => {
            let outcome = Outcome {
                error: Some(form_error(&error)),
                ..Outcome::default()
            };
            page(state, session, error_status(&error), outcome).await
        }
    }
}

fn invalid(message: &str) -> AccountsError {
    AccountsError::Invalid(message.to_owned())
}

/// `POST /ui/admin/tenants` with `id`.
pub(crate) async fn create_tenant(
    State(state): State<AppState>,
    session: UiSession,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = FormFields(fields);
    let result = state
        .accounts
        .create_tenant(&session.operator, &session.request, fields.text("id"))
        .await
        .map(|_| ());
    answer(&state, &session, result, "tenant-created").await
}

/// `POST /ui/admin/tenants/{id}/delete` with `confirm`, which must repeat
/// the tenant's id.
pub(crate) async fn delete_tenant(
    State(state): State<AppState>,
    session: UiSession,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = FormFields(fields);
    let result = if fields.text("confirm") == id {
        state
            .accounts
            .delete_tenant(&session.operator, &session.request, &id)
            .await
    } else {
        Err(AccountsError::Invalid(format!(
            "tenant {id} was not deleted: type its id to confirm"
        )))
    };
    answer(&state, &session, result, "tenant-deleted").await
}

/// `POST /ui/admin/users` with `name` and `password`.
pub(crate) async fn create_user(
    State(state): State<AppState>,
    session: UiSession,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = FormFields(fields);
    // The password as typed: spaces at either end are part of it.
    let password = fields
        .0
        .iter()
        .find(|(key, _)| key == "password")
        .map_or("", |(_, value)| value.as_str());
    let result = state
        .accounts
        .create_user(
            &session.operator,
            &session.request,
            fields.text("name"),
            password,
        )
        .await
        .map(|_| ());
    answer(&state, &session, result, "user-created").await
}

/// `POST /ui/admin/users/{name}/disable`.
pub(crate) async fn disable_user(
    State(state): State<AppState>,
    session: UiSession,
    Path(name): Path<String>,
) -> Response {
    let result = state
        .accounts
        .set_user_disabled(&session.operator, &session.request, &name, true)
        .await
        .map(|_| ());
    answer(&state, &session, result, "user-disabled").await
}

/// `POST /ui/admin/users/{name}/enable`.
pub(crate) async fn enable_user(
    State(state): State<AppState>,
    session: UiSession,
    Path(name): Path<String>,
) -> Response {
    let result = state
        .accounts
        .set_user_disabled(&session.operator, &session.request, &name, false)
        .await
        .map(|_| ());
    answer(&state, &session, result, "user-enabled").await
}

/// `POST /ui/admin/grant` with `user` and either `tenant` and `role` (a
/// tenant role) or `global` (a global role).
pub(crate) async fn grant(
    State(state): State<AppState>,
    session: UiSession,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = FormFields(fields);
    let result = set_role(&state, &session, fields.text("user"), &fields, true).await;
    answer(&state, &session, result, "granted").await
}

/// `POST /ui/admin/users/{name}/revoke` with `tenant`, or `global`.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    session: UiSession,
    Path(name): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = FormFields(fields);
    let result = set_role(&state, &session, &name, &fields, false).await;
    answer(&state, &session, result, "revoked").await
}

async fn set_role(
    state: &AppState,
    session: &UiSession,
    name: &str,
    fields: &FormFields,
    granted: bool,
) -> Result<(), AccountsError> {
    let accounts = &state.accounts;
    if let Some(global) = fields.optional("global") {
        let role: GlobalRole = global
            .parse()
            .map_err(|_| invalid("choose auditor or admin as the global role"))?;
        accounts
            .set_global_role(&session.operator, &session.request, name, role, granted)
            .await?;
        return Ok(());
    }
    let Some(tenant) = fields.optional("tenant") else {
        return Err(invalid("choose a tenant or a global role"));
    };
    let role = if granted {
        let role: TenantRole = fields
            .text("role")
            .parse()
            .map_err(|_| invalid("choose developer, reader or security as the tenant role"))?;
        Some(role)
    } else {
        None
    };
    accounts
        .set_tenant_role(&session.operator, &session.request, name, &tenant, role)
        .await?;
    Ok(())
}

/// `POST /ui/admin/robots` with `tenant`, `name`, `role` and optionally
/// `expires_days`: answers with the page showing the token, once.
pub(crate) async fn create_robot(
    State(state): State<AppState>,
    session: UiSession,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = FormFields(fields);
    let created = new_robot(&state, &session, &fields).await;
    match created {
        Ok(robot) => {
            let outcome = Outcome {
                robot_token: Some((robot.robot.name, robot.token)),
                ..Outcome::default()
            };
            page(&state, &session, StatusCode::CREATED, outcome).await
        }
        Err(error) => {
            let outcome = Outcome {
                error: Some(form_error(&error)),
                ..Outcome::default()
            };
            page(&state, &session, error_status(&error), outcome).await
        }
    }
}

async fn new_robot(
    state: &AppState,
    session: &UiSession,
    fields: &FormFields,
) -> Result<NewRobot, AccountsError> {
    let role: TenantRole = fields
        .text("role")
        .parse()
        .map_err(|_| invalid("choose developer or reader as the robot's role"))?;
    let expires_in = match fields.optional("expires_days") {
        None => None,
        Some(days) => {
            let days: u64 = days
                .parse()
                .ok()
                .filter(|d| (1..=3650).contains(d))
                .ok_or_else(|| invalid("the expiry is a number of days from 1 to 3650"))?;
            Some(std::time::Duration::from_secs(days * 24 * 60 * 60))
        }
    };
    state
        .accounts
        .create_robot(
            &session.operator,
            &session.request,
            fields.text("tenant"),
            fields.text("name"),
            role,
            expires_in,
        )
        .await
}

/// `POST /ui/admin/robots/revoke` with `tenant` and `name`.
pub(crate) async fn revoke_robot(
    State(state): State<AppState>,
    session: UiSession,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = FormFields(fields);
    let result = state
        .accounts
        .revoke_robot(
            &session.operator,
            &session.request,
            fields.text("tenant"),
            fields.text("name"),
        )
        .await;
    answer(&state, &session, result, "robot-revoked").await
}
