//! Signing in and out. The password is checked by
//! [`Accounts::login`](airlock_accounts::Accounts::login), which throttles
//! and audits failures like any other login; success starts a session
//! ([`Accounts::start_session`](airlock_accounts::Accounts::start_session))
//! whose token becomes the session cookie. The form's CSRF protection is
//! the pre-session cookie described in [`crate::session`].

use airlock_accounts::AccountsError;
use askama::Template;
use axum::Form;
use axum::extract::{FromRequest, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Chrome, error_page, render, safe_next};
use crate::AppState;
use crate::auth::{peer, request_context};
use crate::session;

/// The login page.
#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    /// The form's CSRF value (also in the login cookie).
    login_csrf: String,
    /// Where to go after signing in.
    next: String,
    /// The name typed last time, kept after a failure.
    username: String,
    /// Why the last attempt failed.
    error: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct LoginQuery {
    next: Option<String>,
}

/// `GET /ui/login`: the form, with a fresh login CSRF cookie.
pub(crate) async fn form(
    State(state): State<AppState>,
    Query(query): Query<LoginQuery>,
) -> Response {
    let login_csrf = session::new_login_csrf();
    let page = LoginPage {
        chrome: Chrome::anonymous(),
        login_csrf: login_csrf.clone(),
        next: safe_next(query.next.as_deref()),
        username: String::new(),
        error: None,
    };
    let mut response = render(StatusCode::OK, &page);
    response.headers_mut().append(
        header::SET_COOKIE,
        session::login_csrf_cookie(&state, &login_csrf),
    );
    response
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    username: String,
    password: String,
    /// Checked by the guard already; repeated in the form after a failure.
    csrf: String,
    next: Option<String>,
}

/// `POST /ui/login`: checks the password and starts the session.
pub(crate) async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Response {
    let context = request_context(&headers, peer(request.extensions()));
    let Form(form) = match Form::<LoginForm>::from_request(request, &state).await {
        Ok(form) => form,
        Err(_) => {
            return error_page(
                &Chrome::anonymous(),
                &AccountsError::Invalid("the login form needs a username and a password".into()),
            );
        }
    };
    let next = safe_next(form.next.as_deref());
    let again = |status: StatusCode, message: String| {
        render(
            status,
            &LoginPage {
                chrome: Chrome::anonymous(),
                login_csrf: form.csrf.clone(),
                next: next.clone(),
                username: form.username.clone(),
                error: Some(message),
            },
        )
    };
    let principal = match state
        .accounts
        .login(&form.username, &form.password, &context)
        .await
    {
        Ok(principal) => principal,
        Err(AccountsError::BadCredentials) => {
            return again(
                StatusCode::UNAUTHORIZED,
                "Invalid username or password.".into(),
            );
        }
        Err(AccountsError::Throttled { retry_after_secs }) => {
            let mut response = again(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many failed sign-ins. Try again in {retry_after_secs} seconds."),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            return response;
        }
        Err(error) => return error_page(&Chrome::anonymous(), &error),
    };
    let issued = match state.accounts.start_session(&principal, &context).await {
        Ok(issued) => issued,
        Err(AccountsError::Forbidden(message)) => {
            return again(StatusCode::FORBIDDEN, format!("{message}."));
        }
        Err(error) => return error_page(&Chrome::anonymous(), &error),
    };
    let mut response = Redirect::to(&next).into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        session::session_cookie(&state, &issued.token, issued.expires_in),
    );
    headers.append(header::SET_COOKIE, session::clear_login_csrf_cookie(&state));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /ui/logout`: forgets the session cookie. (The token itself stays
/// valid until it expires: sessions are stateless; disabling the user ends
/// them at once.)
pub(crate) async fn logout(State(state): State<AppState>) -> Response {
    let mut response = Redirect::to("/ui/login").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, session::clear_session_cookie(&state));
    response
}
