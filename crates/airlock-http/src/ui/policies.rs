//! `/ui/policies`: the policy editor of the security team. One tenant's
//! policy (or, for admins, the global default) in a text area; saving
//! stores a new version (validation errors shown at the form, with the
//! line), a dry run shows what the edited text would decide for the
//! tenant's images in `scanned/` without storing it, and the history lists
//! every version with its diff to the one before.
//!
//! Everything goes through the [`Accounts`](airlock_accounts::Accounts)
//! service: a user who may not set the policy (a developer) gets the 403
//! page, and the refusal is audited.

use airlock_accounts::{AccountsError, DryRunView, PolicyView};
use airlock_auth::{ManageAction, TenantId, manage_allows};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use similar::{ChangeTag, TextDiff};

use super::images::Choice;
use super::{Chrome, UiSession, error_page, render};
use crate::AppState;

/// The `tenant` value that selects the global default policy (not a valid
/// tenant id).
const GLOBAL: &str = "-";

/// Which policy the page shows.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PolicyQuery {
    /// A tenant id, or [`GLOBAL`]; empty: the first one the user may edit.
    #[serde(default)]
    tenant: String,
    /// The version just saved, to confirm it.
    saved: Option<i64>,
}

/// The editor's form.
#[derive(Debug, Deserialize)]
pub(crate) struct PolicyForm {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    document: String,
    /// `save` or `dry-run`.
    #[serde(default)]
    action: String,
}

/// One line of a diff between two versions.
pub(crate) struct DiffLine {
    /// `add`, `del` or `same`.
    pub(crate) class: &'static str,
    pub(crate) sign: &'static str,
    pub(crate) text: String,
}

/// A version in the history, with its diff to the version before.
pub(crate) struct VersionRow {
    pub(crate) version: i64,
    pub(crate) author: String,
    pub(crate) created: String,
    pub(crate) added: usize,
    pub(crate) removed: usize,
    pub(crate) diff: Vec<DiffLine>,
}

#[derive(Template)]
#[template(path = "policies.html")]
struct PoliciesPage {
    chrome: Chrome,
    scopes: Vec<Choice>,
    /// The selected scope's form value (a tenant id or [`GLOBAL`]).
    scope: String,
    /// "tenant acme" or "the global default".
    scope_label: String,
    is_global: bool,
    /// The text in the editor.
    document: String,
    /// Where the text came from, when it is not this scope's newest version.
    origin: Option<String>,
    current: Option<i64>,
    saved: Option<i64>,
    error: Option<String>,
    dry_run: Option<DryRunView>,
    versions: Vec<VersionRow>,
}

/// The scopes `session` may edit: its tenants where it may set the policy,
/// and the global one for admins.
async fn editable_scopes(state: &AppState, session: &UiSession) -> Result<Vec<String>, Response> {
    let tenants = state
        .accounts
        .tenants(&session.operator)
        .await
        .map_err(|e| error_page(&Chrome::of(session, "/ui/policies"), &e))?;
    let mut scopes: Vec<String> = tenants
        .into_iter()
        .filter(|t| {
            TenantId::try_from(t.id.clone()).is_ok_and(|id| {
                manage_allows(&session.principal, &ManageAction::SetPolicy(Some(id)))
            })
        })
        .map(|t| t.id)
        .collect();
    if manage_allows(&session.principal, &ManageAction::SetPolicy(None)) {
        scopes.push(GLOBAL.to_owned());
    }
    Ok(scopes)
}

fn tenant_of(scope: &str) -> Option<&str> {
    (scope != GLOBAL).then_some(scope)
}

/// What the page needs besides the editor's text.
struct Loaded {
    scopes: Vec<String>,
    versions: Vec<PolicyView>,
    /// The starting text for a scope without a version: the global policy
    /// or the built-in default, and which.
    fallback: (String, String),
}

async fn load(
    state: &AppState,
    session: &UiSession,
    request: &airlock_audit::RequestContext,
    scope: &str,
) -> Result<Loaded, AccountsError> {
    let versions = state
        .accounts
        .policy_for_editing(&session.operator, request, tenant_of(scope))
        .await?;
    let fallback = match state.accounts.policy(&session.operator, None).await {
        Ok(Some(global)) if scope != GLOBAL => (
            global.document,
            format!(
                "This tenant has no policy of its own: the global policy (version {}) applies. \
                 It is shown as a starting point.",
                global.version
            ),
        ),
        _ => (
            airlock_policy::Policy::default_policy().to_yaml(),
            "No policy was stored yet: the built-in default applies. It is shown as a starting point."
                .to_owned(),
        ),
    };
    Ok(Loaded {
        scopes: Vec::new(),
        versions,
        fallback,
    })
}

/// The history with diffs (`versions` newest first).
fn history(versions: &[PolicyView]) -> Vec<VersionRow> {
    versions
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let before = versions.get(i + 1).map_or("", |p| p.document.as_str());
            let diff: Vec<DiffLine> = TextDiff::from_lines(before, &v.document)
                .iter_all_changes()
                .map(|change| {
                    let (class, sign) = match change.tag() {
                        ChangeTag::Insert => ("add", "+"),
                        ChangeTag::Delete => ("del", "-"),
                        ChangeTag::Equal => ("same", " "),
                    };
                    DiffLine {
                        class,
                        sign,
                        text: change.value().trim_end_matches('\n').to_owned(),
                    }
                })
                .collect();
            VersionRow {
                version: v.version,
                author: v.author.clone(),
                created: super::images::when(v.created_at),
                added: diff.iter().filter(|l| l.class == "add").count(),
                removed: diff.iter().filter(|l| l.class == "del").count(),
                diff,
            }
        })
        .collect()
}

/// What to render: the loaded scope, the editor's text and the outcome of
/// the last action.
struct View {
    status: StatusCode,
    document: Option<String>,
    saved: Option<i64>,
    error: Option<String>,
    dry_run: Option<DryRunView>,
}

fn page(session: &UiSession, scope: &str, loaded: Loaded, view: View) -> Response {
    let current = loaded.versions.first().map(|v| v.version);
    let (document, origin) = match (view.document, loaded.versions.first()) {
        (Some(text), _) => (text, None),
        (None, Some(newest)) => (newest.document.clone(), None),
        (None, None) => (loaded.fallback.0, Some(loaded.fallback.1)),
    };
    let scopes = loaded
        .scopes
        .iter()
        .map(|s| Choice {
            value: s.clone(),
            label: if s == GLOBAL {
                "Global default".to_owned()
            } else {
                format!("Tenant {s}")
            },
            selected: s == scope,
        })
        .collect();
    render(
        view.status,
        &PoliciesPage {
            chrome: Chrome::of(session, "/ui/policies"),
            scopes,
            scope: scope.to_owned(),
            scope_label: tenant_of(scope).map_or_else(
                || "the global default".to_owned(),
                |t| format!("tenant {t}"),
            ),
            is_global: scope == GLOBAL,
            document,
            origin,
            current,
            saved: view.saved,
            error: view.error,
            dry_run: view.dry_run,
            versions: history(&loaded.versions),
        },
    )
}

/// The scope asked for, or the first the user may edit (or, when there is
/// none, the first tenant they see, so that the service refuses it).
async fn chosen_scope(
    state: &AppState,
    session: &UiSession,
    asked: &str,
) -> Result<(String, Vec<String>), Response> {
    let scopes = editable_scopes(state, session).await?;
    let asked = asked.trim();
    if !asked.is_empty() {
        return Ok((asked.to_owned(), scopes));
    }
    if let Some(first) = scopes.first() {
        return Ok((first.clone(), scopes));
    }
    let visible = state
        .accounts
        .tenants(&session.operator)
        .await
        .ok()
        .and_then(|t| t.into_iter().next())
        .map_or_else(|| GLOBAL.to_owned(), |t| t.id);
    Ok((visible, scopes))
}

/// `GET /ui/policies`.
pub(crate) async fn show(
    State(state): State<AppState>,
    session: UiSession,
    Query(query): Query<PolicyQuery>,
) -> Response {
    let request = session.request.clone();
    let (scope, scopes) = match chosen_scope(&state, &session, &query.tenant).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match load(&state, &session, &request, &scope).await {
        Ok(mut loaded) => {
            loaded.scopes = scopes;
            page(
                &session,
                &scope,
                loaded,
                View {
                    status: StatusCode::OK,
                    document: None,
                    saved: query.saved,
                    error: None,
                    dry_run: None,
                },
            )
        }
        Err(error) => error_page(&Chrome::of(&session, "/ui/policies"), &error),
    }
}

/// `POST /ui/policies`: save a new version, or dry-run the text.
pub(crate) async fn submit(
    State(state): State<AppState>,
    session: UiSession,
    Form(form): Form<PolicyForm>,
) -> Response {
    let request = session.request.clone();
    let (scope, scopes) = match chosen_scope(&state, &session, &form.tenant).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let chrome = Chrome::of(&session, "/ui/policies");
    let mut loaded = match load(&state, &session, &request, &scope).await {
        Ok(loaded) => loaded,
        Err(error) => return error_page(&chrome, &error),
    };
    loaded.scopes = scopes;
    let outcome = if form.action == "dry-run" {
        match tenant_of(&scope) {
            Some(tenant) => state
                .accounts
                .dry_run_policy(&session.operator, &request, tenant, &form.document)
                .await
                .map(Some),
            None => Err(AccountsError::Invalid(
                "a dry run needs a tenant: the global policy applies to every tenant's images"
                    .into(),
            )),
        }
    } else {
        match state
            .accounts
            .set_policy(
                &session.operator,
                &request,
                tenant_of(&scope),
                &form.document,
            )
            .await
        {
            Ok(saved) => {
                let query = serde_urlencoded::to_string([
                    ("tenant", scope.clone()),
                    ("saved", saved.version.to_string()),
                ])
                .unwrap_or_default();
                return Redirect::to(&format!("/ui/policies?{query}")).into_response();
            }
            Err(error) => Err(error),
        }
    };
    let (status, error, dry_run) = match outcome {
        Ok(dry_run) => (StatusCode::OK, None, dry_run),
        Err(AccountsError::Invalid(message)) => (StatusCode::BAD_REQUEST, Some(message), None),
        Err(error) => return error_page(&chrome, &error),
    };
    page(
        &session,
        &scope,
        loaded,
        View {
            status,
            document: Some(form.document),
            saved: None,
            error,
            dry_run,
        },
    )
}
