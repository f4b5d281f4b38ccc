//! The dashboard under `/ui`: server-rendered HTML from askama templates
//! (`templates/`, compiled into the binary), no JavaScript build, one
//! module per page.
//!
//! Pages read through the same [`Accounts`](airlock_accounts::Accounts)
//! service as the API, as the signed-in user, so they show exactly what the
//! API would. Who is signed in comes from the session cookie
//! ([`crate::session`]); a request without a valid one is sent to the login
//! page, with the page it asked for in `next`. Every unsafe request is
//! checked by [`guard`] before it reaches a handler: same origin, and the
//! CSRF token of the session (or of the login form), so a form added later
//! cannot forget it.

mod admin;
mod audit;
mod exceptions;
mod image_detail;
mod images;
mod login;
mod policies;
mod vulnerabilities;
mod webhooks;

use airlock_accounts::{AccountsError, Operator};
use airlock_audit::RequestContext;
use airlock_auth::{ManageAction, Principal, manage_allows};
use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, OriginalUri, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::AppState;
use crate::auth::{peer, request_context};
use crate::session;

/// The routes under `/ui`; `state` is what [`guard`] checks requests with.
pub(crate) fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/images", get(images::list))
        .route("/images/{tenant}/{digest}", get(image_detail::show))
        .route("/vulnerabilities", get(vulnerabilities::list))
        .route("/policies", get(policies::show).post(policies::submit))
        .route("/exceptions", get(exceptions::list))
        .route("/exceptions/request", post(exceptions::request))
        .route(
            "/exceptions/{tenant}/{id}/{decision}",
            post(exceptions::decide),
        )
        .route("/admin", get(admin::show))
        .route("/admin/tenants", post(admin::create_tenant))
        .route("/admin/tenants/{id}/delete", post(admin::delete_tenant))
        .route("/admin/users", post(admin::create_user))
        .route("/admin/users/{name}/disable", post(admin::disable_user))
        .route("/admin/users/{name}/enable", post(admin::enable_user))
        .route("/admin/users/{name}/revoke", post(admin::revoke))
        .route("/admin/grant", post(admin::grant))
        .route("/admin/robots", post(admin::create_robot))
        .route("/admin/robots/revoke", post(admin::revoke_robot))
        .route("/audit", get(audit::list))
        .route("/audit/export", get(audit::export))
        .route("/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/webhooks/{id}", get(webhooks::deliveries))
        .route("/webhooks/{id}/delete", post(webhooks::delete))
        .route("/webhooks/{id}/test", post(webhooks::send_test))
        .route("/webhooks/{id}/redeliver", post(webhooks::redeliver))
        .route("/assets/ui.js", get(script))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state, guard))
}

/// The largest form the dashboard accepts.
const FORM_LIMIT: usize = 64 * 1024;

/// One entry of the navigation: pages not built yet are listed here with
/// `ready: false` and left out of the header until they are.
struct NavItem {
    label: &'static str,
    href: &'static str,
    ready: bool,
}

const NAV: &[NavItem] = &[
    NavItem {
        label: "Images",
        href: "/ui/images",
        ready: true,
    },
    NavItem {
        label: "Vulnerabilities",
        href: "/ui/vulnerabilities",
        ready: true,
    },
    NavItem {
        label: "Policies",
        href: "/ui/policies",
        ready: true,
    },
    NavItem {
        label: "Exceptions",
        href: "/ui/exceptions",
        ready: true,
    },
    NavItem {
        label: "Webhooks",
        href: "/ui/webhooks",
        ready: true,
    },
    NavItem {
        label: "Audit",
        href: "/ui/audit",
        ready: true,
    },
    NavItem {
        label: "Admin",
        href: "/ui/admin",
        ready: true,
    },
];

/// What the layout (`base.html`) needs on every page.
pub(crate) struct Chrome {
    /// The signed-in user, if any.
    pub(crate) user: Option<String>,
    /// The session's CSRF token, for the forms of the page (logout too).
    pub(crate) csrf: String,
    /// The `href` of the current section, marked `aria-current`.
    pub(crate) current: &'static str,
    /// Navigation entries left out for this user (see [`nav_allows`]).
    pub(crate) hidden: Vec<&'static str>,
}

impl Chrome {
    /// The layout of a page seen by `session`.
    pub(crate) fn of(session: &UiSession, current: &'static str) -> Chrome {
        Chrome {
            user: Some(session.principal.name().to_owned()),
            csrf: session.csrf.clone(),
            current,
            hidden: NAV
                .iter()
                .filter(|item| !nav_allows(item.href, &session.principal))
                .map(|item| item.href)
                .collect(),
        }
    }

    /// The layout of a page seen by nobody signed in.
    pub(crate) fn anonymous() -> Chrome {
        Chrome {
            user: None,
            csrf: String::new(),
            current: "",
            hidden: Vec::new(),
        }
    }

    /// The navigation entries to show.
    pub(crate) fn nav(&self) -> Vec<NavLink> {
        NAV.iter()
            .filter(|item| item.ready && !self.hidden.contains(&item.href))
            .map(|item| NavLink {
                label: item.label,
                href: item.href,
                current: item.href == self.current,
            })
            .collect()
    }
}

/// Whether the navigation offers `href` to `principal`: the audit log
/// only to those who may read it, the admin page only to admins, the policy
/// editor to security members and admins. (The
/// pages themselves are refused by the service, whatever the menu shows.)
fn nav_allows(href: &str, principal: &Principal) -> bool {
    match href {
        "/ui/audit" => manage_allows(principal, &ManageAction::ReadAudit),
        "/ui/admin" => manage_allows(principal, &ManageAction::ManageTenants),
        "/ui/policies" => match principal {
            Principal::User { roles, .. } => {
                roles.is_admin()
                    || roles
                        .tenants
                        .values()
                        .any(|role| *role == airlock_auth::TenantRole::Security)
            }
            _ => false,
        },
        _ => true,
    }
}

/// A link of the navigation, as the layout shows it.
pub(crate) struct NavLink {
    pub(crate) label: &'static str,
    pub(crate) href: &'static str,
    pub(crate) current: bool,
}

/// A signed-in dashboard user. Rejected with a redirect to the login page.
pub(crate) struct UiSession {
    pub(crate) principal: Principal,
    pub(crate) operator: Operator,
    pub(crate) csrf: String,
    /// Who asked from where, for the audit records of the page's actions.
    pub(crate) request: RequestContext,
}

impl FromRequestParts<AppState> for UiSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(token) = session::session_token(&parts.headers) else {
            return Err(to_login(parts));
        };
        match state.accounts.session_principal(token).await {
            Ok(principal) => Ok(UiSession {
                operator: Operator::Principal(principal.clone()),
                principal,
                csrf: session::csrf_token(token),
                request: request_context(&parts.headers, peer(&parts.extensions)),
            }),
            Err(AccountsError::BadCredentials) => {
                let mut response = to_login(parts);
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, session::clear_session_cookie(state));
                Err(response)
            }
            Err(error) => Err(error_page(&Chrome::anonymous(), &error)),
        }
    }
}

/// A redirect to the login page that comes back to this request's page.
fn to_login(parts: &Parts) -> Response {
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or_else(|| parts.uri.clone(), |OriginalUri(uri)| uri.clone());
    let next = uri
        .path_and_query()
        .map_or("/ui/images", |pq| pq.as_str())
        .to_owned();
    let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
    Redirect::to(&format!("/ui/login?{query}")).into_response()
}

/// Where to go after login: a dashboard page, never another site.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(next)
            if next.starts_with("/ui/")
                && !next.starts_with("/ui//")
                && !next.contains('\\')
                && !next.chars().any(char::is_control) =>
        {
            next.to_owned()
        }
        _ => "/ui/images".to_owned(),
    }
}

/// Renders a template as a page with `status`, and the headers every
/// dashboard page carries: not cached, not framed, scripts only from
/// airlock itself.
pub(crate) fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => {
            let mut response = (status, html).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; \
                     img-src 'self' data:; connect-src 'self'; form-action 'self'; \
                     frame-ancestors 'none'; base-uri 'none'",
                ),
            );
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            );
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "rendering a dashboard page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// An error page.
#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage {
    pub(crate) chrome: Chrome,
    pub(crate) status: u16,
    pub(crate) title: &'static str,
    pub(crate) message: String,
}

/// The page for an error of the accounts layer; internal details go to the
/// log only.
pub(crate) fn error_page(chrome: &Chrome, error: &AccountsError) -> Response {
    let (status, title, message) = match error {
        AccountsError::Forbidden(_) => (
            StatusCode::FORBIDDEN,
            "Access denied",
            "You do not have access to this page. Ask an administrator of the tenant for a role."
                .to_owned(),
        ),
        AccountsError::NotFound(what) => (
            StatusCode::NOT_FOUND,
            "Not found",
            format!("{what} was not found."),
        ),
        AccountsError::Invalid(message) => {
            (StatusCode::BAD_REQUEST, "Bad request", message.clone())
        }
        AccountsError::BadCredentials => (
            StatusCode::UNAUTHORIZED,
            "Signed out",
            "Your session has ended. Sign in again.".to_owned(),
        ),
        AccountsError::Throttled { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            format!("Too many failed sign-ins. Try again in {retry_after_secs} seconds."),
        ),
        AccountsError::Conflict(message) => (StatusCode::CONFLICT, "Conflict", message.clone()),
        AccountsError::Internal(e) => {
            tracing::error!(error = %e, "a dashboard page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The page could not be shown. The error was logged.".to_owned(),
            )
        }
    };
    render(
        status,
        &ErrorPage {
            chrome: Chrome {
                user: chrome.user.clone(),
                csrf: chrome.csrf.clone(),
                current: chrome.current,
                hidden: chrome.hidden.clone(),
            },
            status: status.as_u16(),
            title,
            message,
        },
    )
}

/// A refused unsafe request (cross-site, or without the right CSRF token).
fn forbidden(reason: &str) -> Response {
    tracing::info!(reason, "refused a dashboard request as cross-site");
    render(
        StatusCode::FORBIDDEN,
        &ErrorPage {
            chrome: Chrome::anonymous(),
            status: 403,
            title: "Request refused",
            message: format!(
                "The form could not be accepted ({reason}). Reload the page and try again."
            ),
        },
    )
}

/// Checks every unsafe request under `/ui` before its handler runs: it must
/// come from airlock's own origin and carry the CSRF token, in the `csrf`
/// form field or the `X-CSRF-Token` header, that matches the session
/// cookie (for the login form: the login form's cookie).
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !session::is_unsafe(request.method()) {
        return next.run(request).await;
    }
    if let Some(reason) = session::cross_site(&state, request.headers()) {
        return forbidden(&reason);
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
        return render(
            StatusCode::PAYLOAD_TOO_LARGE,
            &ErrorPage {
                chrome: Chrome::anonymous(),
                status: 413,
                title: "Form too large",
                message: "The form is larger than the dashboard accepts.".into(),
            },
        );
    };
    let field = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .unwrap_or_default()
        .into_iter()
        .find(|(key, _)| key == session::CSRF_FIELD)
        .map(|(_, value)| value);
    let given = parts
        .headers
        .get(session::CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(field);
    let is_login = parts.uri.path().trim_end_matches('/').ends_with("/login");
    let expected = if is_login {
        session::cookie(&parts.headers, session::LOGIN_CSRF_COOKIE).map(str::to_owned)
    } else {
        session::session_token(&parts.headers).map(session::csrf_token)
    };
    match (given, expected) {
        (Some(given), Some(expected)) if session::tokens_equal(&given, &expected) => {}
        (None, _) => return forbidden("the CSRF token is missing"),
        (_, None) if is_login => return forbidden("the login form has expired"),
        (_, None) => return forbidden("you are not signed in"),
        _ => return forbidden("the CSRF token is wrong"),
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The fields of a posted form, in order, repeated names kept (a group
/// of checkboxes sends one field per checked box).
pub(crate) struct FormFields(pub(crate) Vec<(String, String)>);

impl FormFields {
    /// The first value of `name`, trimmed; empty when absent.
    pub(crate) fn text(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map_or("", |(_, value)| value.trim())
    }

    /// The value of `name`, or `None` when absent or blank.
    pub(crate) fn optional(&self, name: &str) -> Option<String> {
        Some(self.text(name).to_owned()).filter(|v| !v.is_empty())
    }

    /// Every value of `name`.
    pub(crate) fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.trim().to_owned())
            .collect()
    }
}

/// `path` with `done=<code>` in its query: the page shows the message of
/// that code (never text taken from the URL).
pub(crate) fn done(path: &str, code: &str) -> Response {
    let separator = if path.contains('?') { '&' } else { '?' };
    let query = serde_urlencoded::to_string([("done", code)]).unwrap_or_default();
    Redirect::to(&format!("{path}{separator}{query}")).into_response()
}

/// The status of a page that shows `error` next to its form.
pub(crate) fn error_status(error: &AccountsError) -> StatusCode {
    match error {
        AccountsError::Forbidden(_) => StatusCode::FORBIDDEN,
        AccountsError::NotFound(_) => StatusCode::NOT_FOUND,
        AccountsError::Conflict(_) => StatusCode::CONFLICT,
        AccountsError::Invalid(_) => StatusCode::BAD_REQUEST,
        AccountsError::BadCredentials => StatusCode::UNAUTHORIZED,
        AccountsError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        AccountsError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// What a form shows when its action failed: the reason for the user's
/// own mistakes and refusals, nothing internal.
pub(crate) fn form_error(error: &AccountsError) -> String {
    match error {
        AccountsError::Forbidden(reason) => format!("Not allowed: {reason}."),
        AccountsError::NotFound(what) => format!("{what} was not found."),
        AccountsError::Invalid(message) | AccountsError::Conflict(message) => message.clone(),
        AccountsError::BadCredentials => "Your session has ended. Sign in again.".to_owned(),
        AccountsError::Throttled { retry_after_secs } => {
            format!("Too many attempts. Try again in {retry_after_secs} seconds.")
        }
        AccountsError::Internal(e) => {
            tracing::error!(error = %e, "a dashboard action failed");
            "The action failed. The error was logged.".to_owned()
        }
    }
}

/// A time as the dashboard shows it: `2026-05-01 12:34:56 UTC`.
pub(crate) fn show_time(time: time::OffsetDateTime) -> String {
    let utc = time.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
    )
}

/// `/ui` and `/ui/` → the images. (The nested router's `/` is `/ui` only,
/// so [`crate::router`] routes `/ui/` here itself.)
pub(crate) async fn home() -> Redirect {
    Redirect::to("/ui/images")
}

async fn not_found() -> Response {
    render(
        StatusCode::NOT_FOUND,
        &ErrorPage {
            chrome: Chrome::anonymous(),
            status: 404,
            title: "Not found",
            message: "There is no such page.".into(),
        },
    )
}

/// The dashboard's one script: copy buttons and confirmations.
async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../../templates/ui.js"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_the_dashboard() {
        let cases = [
            (None, "/ui/images"),
            (
                Some("/ui/images?state=rejected"),
                "/ui/images?state=rejected",
            ),
            (Some("https://evil.example/"), "/ui/images"),
            (Some("//evil.example/ui/"), "/ui/images"),
            (Some("/ui//evil.example"), "/ui/images"),
            (Some("/ui/\\evil"), "/ui/images"),
            (Some("/api/v1/users"), "/ui/images"),
        ];
        for (next, want) in cases {
            assert_eq!(safe_next(next), want, "{next:?}");
        }
    }
}
