//! Docker token authentication: who a request comes from, the
//! `WWW-Authenticate` challenge, and the token endpoint.
//!
//! Clients (docker, podman, skopeo, crane, containerd) call `/v2/`, receive
//! `401` with `Bearer realm="<external-url>/auth/token",service="airlock"`,
//! send their credentials to the token endpoint with the `scope`s they want,
//! and retry with the JWT it returns. The token endpoint grants only the
//! subset of the requested actions the caller holds; the registry then
//! checks each request against the token and the zone rules.

use std::net::SocketAddr;

use airlock_accounts::{Accounts, AccountsError};
use airlock_audit::RequestContext;
use airlock_auth::{Principal, parse_scopes};
use airlock_registry::Caller;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use time::OffsetDateTime;

use crate::AppState;

/// Request id, client address and user agent of a request.
pub(crate) fn request_context(headers: &HeaderMap, peer: Option<SocketAddr>) -> RequestContext {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect::<String>())
    };
    RequestContext {
        request_id: Some(text("x-request-id").unwrap_or_else(|| uuid::Uuid::now_v7().to_string())),
        client_addr: peer.map(|p| p.to_string()),
        user_agent: text("user-agent"),
    }
}

/// The peer address, when the server was started with connect info.
pub(crate) fn peer(extensions: &axum::http::Extensions) -> Option<SocketAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr)
}

/// `user:password` from an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The caller of a `/v2/` request: a verified bearer token, or nobody.
pub(crate) fn registry_caller(
    accounts: &Accounts,
    headers: &HeaderMap,
    request: RequestContext,
) -> Caller {
    let mut caller = Caller {
        request,
        ..Caller::default()
    };
    if let Some(token) = bearer_token(headers) {
        match accounts.tokens().verify(token, OffsetDateTime::now_utc()) {
            Ok(claims) => {
                caller.principal = Some(claims.principal());
                caller.access = claims.access;
            }
            Err(e) => caller.rejected = Some(e.to_string()),
        }
    } else if headers.contains_key(header::AUTHORIZATION) {
        caller.rejected =
            Some("the registry takes bearer tokens; send credentials to the token endpoint".into());
    }
    caller
}

/// The principal behind a management API request: a bearer token from the
/// token endpoint, basic credentials checked like a login, or else the
/// dashboard's session cookie, which on unsafe methods needs the CSRF token
/// and a same-origin request (refused as forbidden otherwise).
pub(crate) async fn api_principal(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    request: &RequestContext,
) -> Result<Principal, AccountsError> {
    let accounts = &state.accounts;
    if !headers.contains_key(header::AUTHORIZATION)
        && let Some(token) = crate::session::session_token(headers)
    {
        let principal = accounts.session_principal(token).await?;
        if crate::session::is_unsafe(method) {
            crate::session::check_csrf(state, headers, token, None).map_err(|reason| {
                AccountsError::Forbidden(format!(
                    "{reason}: requests authenticated by the session cookie must send the {} header",
                    crate::session::CSRF_HEADER
                ))
            })?;
        }
        return Ok(principal);
    }
    if let Some(token) = bearer_token(headers) {
        if airlock_auth::robot_token_prefix(token).is_some() {
            return accounts.login_robot_token(token, request).await;
        }
        return accounts
            .tokens()
            .verify(token, OffsetDateTime::now_utc())
            .map(|claims| claims.principal())
            .map_err(|_| AccountsError::BadCredentials);
    }
    match basic_credentials(headers) {
        Some((user, password)) => accounts.login(&user, &password, request).await,
        None => Err(AccountsError::BadCredentials),
    }
}

/// The base URL clients should use to reach airlock.
pub(crate) fn external_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.settings.external_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// The `WWW-Authenticate` value for a `/v2/` request.
pub(crate) fn challenge(
    state: &AppState,
    headers: &HeaderMap,
    scope: Option<&str>,
    problem: Option<&str>,
) -> HeaderValue {
    let mut value = format!(
        "Bearer realm=\"{}/auth/token\",service=\"{}\"",
        external_url(state, headers),
        state.accounts.tokens().service()
    );
    if let Some(scope) = scope {
        value.push_str(&format!(",scope=\"{scope}\""));
    }
    if let Some(problem) = problem {
        value.push_str(&format!(",error=\"{problem}\""));
    }
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

fn token_error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut response = (
        status,
        axum::Json(crate::error::ErrorEnvelope::one(
            code,
            message,
            serde_json::Value::Null,
        )),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"airlock\""),
        );
    }
    response
}

pub(crate) fn accounts_error_response(error: &AccountsError) -> Response {
    match error {
        AccountsError::BadCredentials => {
            token_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", &error.to_string())
        }
        AccountsError::Throttled { retry_after_secs } => {
            let mut response = token_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TOOMANYREQUESTS",
                &error.to_string(),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            response
        }
        AccountsError::Forbidden(_) => {
            token_error(StatusCode::FORBIDDEN, "DENIED", &error.to_string())
        }
        AccountsError::Invalid(_) => {
            token_error(StatusCode::BAD_REQUEST, "INVALID", &error.to_string())
        }
        AccountsError::NotFound(_) => {
            token_error(StatusCode::NOT_FOUND, "NOT_FOUND", &error.to_string())
        }
        AccountsError::Conflict(_) => {
            token_error(StatusCode::CONFLICT, "CONFLICT", &error.to_string())
        }
        AccountsError::Internal(e) => {
            tracing::error!(error = %e, "identity operation failed");
            token_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "internal error",
            )
        }
    }
}

/// What a token request carries, from either form of the endpoint.
struct TokenRequest {
    username: String,
    password: String,
    scopes: Vec<String>,
    service: Option<String>,
    oauth: bool,
}

fn pairs(text: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(text).unwrap_or_default()
}

/// `GET` (docker's form: basic credentials, `scope` query parameters) and
/// `POST` (OAuth2 password grant in a form body) on `/auth/token`.
pub(crate) async fn token_endpoint(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let context = request_context(&parts.headers, peer(&parts.extensions));
    let query = pairs(parts.uri.query().unwrap_or(""));
    let values = |pairs: &[(String, String)], key: &str| -> Vec<String> {
        pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let token_request = if parts.method == Method::POST {
        let bytes = match axum::body::to_bytes(body, 64 * 1024).await {
            Ok(b) => b,
            Err(_) => return oauth_error("invalid_request", "unreadable form body"),
        };
        let form = pairs(&String::from_utf8_lossy(&bytes));
        let first = |key: &str| values(&form, key).into_iter().next();
        match first("grant_type").as_deref() {
            Some("password") => {}
            Some(other) => {
                return oauth_error(
                    "unsupported_grant_type",
                    &format!("grant_type {other:?} is not supported; use password"),
                );
            }
            None => return oauth_error("invalid_request", "grant_type is required"),
        }
        let (Some(username), Some(password)) = (first("username"), first("password")) else {
            return oauth_error("invalid_request", "username and password are required");
        };
        TokenRequest {
            username,
            password,
            scopes: values(&form, "scope"),
            service: first("service"),
            oauth: true,
        }
    } else {
        let Some((username, password)) = basic_credentials(&parts.headers) else {
            return token_error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "credentials required: anonymous access is off",
            );
        };
        TokenRequest {
            username,
            password,
            scopes: values(&query, "scope"),
            service: values(&query, "service").into_iter().next(),
            oauth: false,
        }
    };
    if let Some(service) = &token_request.service
        && service != state.accounts.tokens().service()
    {
        return token_error(
            StatusCode::BAD_REQUEST,
            "INVALID",
            &format!(
                "this token endpoint serves {:?}, not {service:?}",
                state.accounts.tokens().service()
            ),
        );
    }
    let scopes = match parse_scopes(token_request.scopes.iter().map(String::as_str)) {
        Ok(s) => s,
        Err(e) => return token_error(StatusCode::BAD_REQUEST, "INVALID", &e.to_string()),
    };
    let principal = match state
        .accounts
        .login(&token_request.username, &token_request.password, &context)
        .await
    {
        Ok(p) => p,
        Err(e) => return accounts_error_response(&e),
    };
    let (issued, access) = match state
        .accounts
        .issue_token(&principal, &scopes, &context)
        .await
    {
        Ok(t) => t,
        Err(e) => return accounts_error_response(&e),
    };
    let issued_at = issued
        .issued_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let body = if token_request.oauth {
        let scope: Vec<String> = access
            .iter()
            .map(|a| format!("{}:{}:{}", a.resource_type, a.name, a.actions.join(",")))
            .collect();
        serde_json::json!({
            "access_token": issued.token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "issued_at": issued_at,
            "scope": scope.join(" "),
        })
    } else {
        serde_json::json!({
            "token": issued.token,
            "access_token": issued.token,
            "expires_in": issued.expires_in,
            "issued_at": issued_at,
        })
    };
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from(body.to_string()))
        .expect("valid response")
}

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(serde_json::json!({ "error": error, "error_description": description })),
    )
        .into_response()
}
