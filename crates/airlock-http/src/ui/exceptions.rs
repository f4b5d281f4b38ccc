//! `/ui/exceptions`: policy exceptions across the tenants the user may
//! see. Developers request one (the form can be pre-filled from a finding
//! on the image page); a security member of the tenant or an admin who is
//! not the requester approves or rejects it, and revokes it later. Those
//! expiring within a week are highlighted.
//!
//! The service decides who may do what (the four-eyes rule included) and
//! audits it; the page only hides buttons the user could not use, and shows
//! a refusal next to the list rather than as a blank page.

use std::time::Duration;

use airlock_accounts::{AccountsError, ExceptionRequest, ExceptionView};
use airlock_auth::{ManageAction, TenantId, manage_allows};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::OffsetDateTime;

use super::images::{Choice, when};
use super::{Chrome, UiSession, error_page, render};
use crate::AppState;

/// Highlighted when an exception in force expires within this.
const EXPIRING_SOON: time::Duration = time::Duration::days(7);

/// The list's filters, and the request form's pre-filled values.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ExceptionsQuery {
    #[serde(default)]
    tenant: String,
    /// `pending`, `active`, `expired`, `revoked`, `rejected`; empty: all.
    #[serde(default)]
    status: String,
    #[serde(default)]
    vulnerability: String,
    #[serde(default)]
    package: String,
    #[serde(default)]
    repository: String,
    #[serde(default)]
    digest: String,
    /// What was just done, to confirm it.
    #[serde(default)]
    done: String,
}

/// The request form.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct RequestForm {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    vulnerability: String,
    #[serde(default)]
    package: String,
    #[serde(default)]
    repository: String,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    reason: String,
    /// Days until it expires.
    #[serde(default)]
    days: String,
}

/// One exception in the list.
pub(crate) struct Row {
    pub(crate) id: String,
    pub(crate) tenant: String,
    pub(crate) vulnerability: String,
    pub(crate) scope: String,
    pub(crate) reason: String,
    pub(crate) requested_by: String,
    pub(crate) approved_by: String,
    pub(crate) status: &'static str,
    pub(crate) expires: String,
    pub(crate) expires_in: String,
    pub(crate) expiring: bool,
    pub(crate) can_approve: bool,
    pub(crate) own_request: bool,
    pub(crate) can_revoke: bool,
}

#[derive(Template)]
#[template(path = "exceptions.html")]
struct ExceptionsPage {
    chrome: Chrome,
    tenants: Vec<Choice>,
    statuses: Vec<Choice>,
    rows: Vec<Row>,
    done: String,
    error: Option<String>,
    /// The tenants the user may request exceptions in.
    request_tenants: Vec<Choice>,
    form: RequestForm,
    form_error: Option<String>,
    durations: Vec<Choice>,
}

const STATUSES: [&str; 5] = ["pending", "active", "expired", "revoked", "rejected"];
const DURATIONS: [u64; 5] = [7, 30, 90, 180, 365];

fn days_text(span: time::Duration) -> String {
    let days = span.whole_days();
    match days {
        d if d < 0 => "expired".to_owned(),
        0 => format!("in {} hours", span.whole_hours().max(1)),
        1 => "in 1 day".to_owned(),
        d => format!("in {d} days"),
    }
}

fn row(session: &UiSession, e: ExceptionView, now: OffsetDateTime) -> Row {
    let decider = TenantId::try_from(e.tenant.clone())
        .is_ok_and(|t| manage_allows(&session.principal, &ManageAction::ApproveException(t)));
    let own_request = e.requested_by == session.principal.name();
    let scope = [e.package, e.repository, e.digest]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let open = matches!(e.status, "pending" | "active");
    Row {
        can_approve: decider && e.status == "pending" && !own_request,
        can_revoke: decider && e.status == "active",
        own_request,
        expiring: open && e.expires_at - now <= EXPIRING_SOON,
        expires_in: days_text(e.expires_at - now),
        expires: when(e.expires_at),
        id: e.id,
        tenant: e.tenant,
        vulnerability: e.vulnerability,
        scope: if scope.is_empty() {
            "every image of the tenant".to_owned()
        } else {
            scope
        },
        reason: e.reason,
        requested_by: e.requested_by,
        approved_by: e.approved_by.unwrap_or_default(),
        status: e.status,
    }
}

/// What the list shows after an action.
struct Outcome {
    status: StatusCode,
    error: Option<String>,
    form: RequestForm,
    form_error: Option<String>,
}

async fn page(
    state: &AppState,
    session: &UiSession,
    query: &ExceptionsQuery,
    outcome: Outcome,
) -> Response {
    let chrome = Chrome::of(session, "/ui/exceptions");
    let visible = match state.accounts.tenants(&session.operator).await {
        Ok(tenants) => tenants,
        Err(error) => return error_page(&chrome, &error),
    };
    let wanted = query.tenant.trim();
    let mut exceptions = Vec::new();
    for tenant in visible
        .iter()
        .filter(|t| wanted.is_empty() || t.id == wanted)
    {
        match state
            .accounts
            .exceptions(&session.operator, &tenant.id)
            .await
        {
            Ok(found) => exceptions.extend(found),
            Err(AccountsError::Forbidden(_)) if wanted.is_empty() => {}
            Err(error) => return error_page(&chrome, &error),
        }
    }
    if !wanted.is_empty() && !visible.iter().any(|t| t.id == wanted) {
        // Not a tenant the user sees: let the service refuse (and audit) it.
        if let Err(error) = state.accounts.exceptions(&session.operator, wanted).await {
            return error_page(&chrome, &error);
        }
    }
    let status_filter = query.status.trim();
    exceptions.retain(|e| status_filter.is_empty() || e.status == status_filter);
    exceptions.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let now = OffsetDateTime::now_utc();
    let rows = exceptions
        .into_iter()
        .map(|e| row(session, e, now))
        .collect();
    let mut tenants = vec![Choice {
        value: String::new(),
        label: "All you may see".into(),
        selected: wanted.is_empty(),
    }];
    tenants.extend(visible.iter().map(|t| Choice {
        value: t.id.clone(),
        label: t.id.clone(),
        selected: t.id == wanted,
    }));
    let mut statuses = vec![Choice {
        value: String::new(),
        label: "Any".into(),
        selected: status_filter.is_empty(),
    }];
    statuses.extend(STATUSES.iter().map(|s| Choice {
        value: (*s).to_owned(),
        label: (*s).to_owned(),
        selected: *s == status_filter,
    }));
    let form = outcome.form;
    let request_tenants = visible
        .iter()
        .filter(|t| {
            TenantId::try_from(t.id.clone()).is_ok_and(|id| {
                manage_allows(&session.principal, &ManageAction::RequestException(id))
            })
        })
        .map(|t| Choice {
            value: t.id.clone(),
            label: t.id.clone(),
            selected: t.id == form.tenant,
        })
        .collect();
    let chosen_days = form.days.trim().parse::<u64>().unwrap_or(30);
    let durations = DURATIONS
        .iter()
        .map(|d| Choice {
            value: d.to_string(),
            label: format!("{d} days"),
            selected: *d == chosen_days,
        })
        .collect();
    render(
        outcome.status,
        &ExceptionsPage {
            chrome,
            tenants,
            statuses,
            rows,
            done: query.done.trim().to_owned(),
            error: outcome.error,
            request_tenants,
            form,
            form_error: outcome.form_error,
            durations,
        },
    )
}

/// `GET /ui/exceptions`.
pub(crate) async fn list(
    State(state): State<AppState>,
    session: UiSession,
    Query(query): Query<ExceptionsQuery>,
) -> Response {
    let form = RequestForm {
        tenant: query.tenant.clone(),
        vulnerability: query.vulnerability.clone(),
        package: query.package.clone(),
        repository: query.repository.clone(),
        digest: query.digest.clone(),
        ..RequestForm::default()
    };
    page(
        &state,
        &session,
        &query,
        Outcome {
            status: StatusCode::OK,
            error: None,
            form,
            form_error: None,
        },
    )
    .await
}

fn back(tenant: &str, done: &str) -> Response {
    let query =
        serde_urlencoded::to_string([("tenant", tenant), ("done", done)]).unwrap_or_default();
    Redirect::to(&format!("/ui/exceptions?{query}")).into_response()
}

/// The status and the words for a refused action shown on the page.
fn refusal(error: &AccountsError) -> Option<(StatusCode, String)> {
    match error {
        AccountsError::Invalid(m) => Some((StatusCode::BAD_REQUEST, m.clone())),
        AccountsError::Conflict(m) => Some((StatusCode::CONFLICT, m.clone())),
        AccountsError::NotFound(what) => {
            Some((StatusCode::NOT_FOUND, format!("{what} was not found")))
        }
        AccountsError::Forbidden(m) => Some((StatusCode::FORBIDDEN, format!("Refused: {m}."))),
        _ => None,
    }
}

/// `POST /ui/exceptions/request`.
pub(crate) async fn request(
    State(state): State<AppState>,
    session: UiSession,
    Form(form): Form<RequestForm>,
) -> Response {
    let days = form.days.trim().parse::<u64>().unwrap_or(0);
    let asked = ExceptionRequest {
        vulnerability: form.vulnerability.clone(),
        package: Some(form.package.clone()),
        repository: Some(form.repository.clone()),
        digest: Some(form.digest.clone()),
        reason: form.reason.clone(),
        expires_in: Duration::from_secs(days.saturating_mul(86_400)),
    };
    match state
        .accounts
        .request_exception(
            &session.operator,
            &session.request,
            form.tenant.trim(),
            asked,
        )
        .await
    {
        Ok(created) => back(
            &created.tenant,
            &format!("Requested {} for {}", created.id, created.vulnerability),
        ),
        Err(error) => match refusal(&error) {
            Some((status, message)) => {
                let query = ExceptionsQuery {
                    tenant: form.tenant.clone(),
                    ..ExceptionsQuery::default()
                };
                page(
                    &state,
                    &session,
                    &query,
                    Outcome {
                        status,
                        error: None,
                        form,
                        form_error: Some(message),
                    },
                )
                .await
            }
            None => error_page(&Chrome::of(&session, "/ui/exceptions"), &error),
        },
    }
}

/// `POST /ui/exceptions/{tenant}/{id}/{approve|reject|revoke}`.
pub(crate) async fn decide(
    State(state): State<AppState>,
    session: UiSession,
    Path((tenant, id, decision)): Path<(String, String, String)>,
) -> Response {
    let (operator, request) = (&session.operator, &session.request);
    let accounts = &state.accounts;
    let result = match decision.as_str() {
        "approve" => accounts
            .approve_exception(operator, request, Some(&tenant), &id)
            .await
            .map(|_| format!("Approved {id}: the tenant's images are being re-evaluated")),
        "reject" => accounts
            .reject_exception(operator, request, Some(&tenant), &id)
            .await
            .map(|_| format!("Rejected {id}")),
        "revoke" => accounts
            .revoke_exception(operator, request, Some(&tenant), &id)
            .await
            .map(|()| format!("Revoked {id}: the tenant's images are being re-evaluated")),
        _ => Err(AccountsError::NotFound(format!("action {decision}"))),
    };
    match result {
        Ok(done) => back(&tenant, &done),
        Err(error) => match refusal(&error) {
            Some((status, message)) => {
                let query = ExceptionsQuery {
                    tenant,
                    ..ExceptionsQuery::default()
                };
                page(
                    &state,
                    &session,
                    &query,
                    Outcome {
                        status,
                        error: Some(message),
                        form: RequestForm::default(),
                        form_error: None,
                    },
                )
                .await
            }
            None => error_page(&Chrome::of(&session, "/ui/exceptions"), &error),
        },
    }
}
