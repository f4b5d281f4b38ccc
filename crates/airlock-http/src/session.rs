//! The dashboard's session cookie and its cross-site request forgery (CSRF)
//! defence, shared by the pages under `/ui` and the API under `/api/v1`
//! (which accepts the cookie too, so the dashboard can call it).
//!
//! The session is the JWT of [`Accounts::start_session`] in the
//! `airlock_session` cookie: `HttpOnly` (scripts cannot read it),
//! `SameSite=Lax` (browsers leave it off cross-site subrequests and
//! `POST`s) and `Secure` when airlock is reached over `https://`.
//!
//! `SameSite` alone is not the defence: older browsers ignore it and a
//! sibling subdomain counts as the same site. Every unsafe request that
//! rides the cookie must also carry the CSRF token, a hash of the session
//! token ([`csrf_token`]): a page of another origin cannot read the cookie,
//! so it cannot compute the hash, and the server keeps no state for it
//! (double submit, bound to the session). Forms carry it as the `csrf`
//! field, scripts as the `X-CSRF-Token` header. Unsafe requests whose
//! `Origin` is present and not airlock's own, or whose `Sec-Fetch-Site`
//! says `cross-site`, are refused before any of that.
//!
//! The login form has no session yet; it is protected by a pre-session
//! cookie, `airlock_login_csrf`: a random value set by `GET /ui/login` as
//! `HttpOnly; SameSite=Strict; Path=/ui/login` and repeated in the form. A
//! cross-site post carries neither the cookie (`Strict`) nor knows the
//! value, so an attacker cannot log a victim in to the attacker's account.
//!
//! [`Accounts::start_session`]: airlock_accounts::Accounts::start_session

use axum::http::{HeaderMap, HeaderValue, Method, header};
use sha2::Digest as _;

use crate::AppState;

/// The session cookie.
pub(crate) const SESSION_COOKIE: &str = "airlock_session";
/// The login form's pre-session CSRF cookie.
pub(crate) const LOGIN_CSRF_COOKIE: &str = "airlock_login_csrf";
/// The header scripts send the CSRF token in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
/// The form field forms send the CSRF token in.
pub(crate) const CSRF_FIELD: &str = "csrf";
/// How long a login form stays usable, in seconds.
const LOGIN_CSRF_MAX_AGE: u64 = 60 * 60;

/// The value of cookie `name`, from every `Cookie` header of the request.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// The session token, when the request carries the session cookie.
pub(crate) fn session_token(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, SESSION_COOKIE)
}

/// The CSRF token of a session: a hash of its token, domain-separated so it
/// is of no use anywhere else.
pub(crate) fn csrf_token(session_token: &str) -> String {
    let mut hasher = sha2::Sha256::new();
    hasher.update(b"airlock-csrf-v1\0");
    hasher.update(session_token.as_bytes());
    hex::encode(hasher.finalize())
}

/// A fresh random value for the login form's cookie.
pub(crate) fn new_login_csrf() -> String {
    hex::encode(airlock_auth::random_bytes::<32>())
}

/// Compares two tokens in time independent of where they differ.
pub(crate) fn tokens_equal(given: &str, expected: &str) -> bool {
    airlock_auth::hashes_equal(given, expected)
}

/// Whether a method changes state (everything but `GET`, `HEAD`,
/// `OPTIONS` and `TRACE`).
pub(crate) fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Whether airlock is reached over TLS, so cookies must be `Secure`.
pub(crate) fn secure(state: &AppState) -> bool {
    state
        .settings
        .external_url
        .as_deref()
        .is_some_and(|url| url.len() >= 8 && url[..8].eq_ignore_ascii_case("https://"))
}

fn cookie_header(state: &AppState, name: &str, value: &str, attributes: &str) -> HeaderValue {
    let secure = if secure(state) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{name}={value}; {attributes}{secure}"))
        .expect("cookie values are hex or JWT characters")
}

/// `Set-Cookie` for a new session.
pub(crate) fn session_cookie(state: &AppState, token: &str, max_age_secs: u64) -> HeaderValue {
    cookie_header(
        state,
        SESSION_COOKIE,
        token,
        &format!("HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age_secs}"),
    )
}

/// `Set-Cookie` that removes the session.
pub(crate) fn clear_session_cookie(state: &AppState) -> HeaderValue {
    cookie_header(
        state,
        SESSION_COOKIE,
        "",
        "HttpOnly; SameSite=Lax; Path=/; Max-Age=0",
    )
}

/// `Set-Cookie` for the login form's CSRF value.
pub(crate) fn login_csrf_cookie(state: &AppState, value: &str) -> HeaderValue {
    cookie_header(
        state,
        LOGIN_CSRF_COOKIE,
        value,
        &format!("HttpOnly; SameSite=Strict; Path=/ui/login; Max-Age={LOGIN_CSRF_MAX_AGE}"),
    )
}

/// `Set-Cookie` that removes the login form's CSRF value.
pub(crate) fn clear_login_csrf_cookie(state: &AppState) -> HeaderValue {
    cookie_header(
        state,
        LOGIN_CSRF_COOKIE,
        "",
        "HttpOnly; SameSite=Strict; Path=/ui/login; Max-Age=0",
    )
}

/// `scheme://host[:port]` of a URL, lowercased, default ports dropped.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    let authority = authority.rsplit('@').next()?;
    let authority = match (scheme.as_str(), authority.rsplit_once(':')) {
        ("http", Some((host, "80"))) | ("https", Some((host, "443"))) => host,
        _ => authority,
    };
    if authority.is_empty() {
        return None;
    }
    Some(format!("{scheme}://{authority}"))
}

/// Why an unsafe request is refused as cross-site, if it is: an `Origin`
/// that is not airlock's (compared with the external URL when one is
/// configured, else with the `Host` header), or `Sec-Fetch-Site:
/// cross-site`. Requests without either header pass (non-browser clients);
/// they still need the CSRF token to use the cookie.
pub(crate) fn cross_site(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site.eq_ignore_ascii_case("cross-site"))
    {
        return Some("the request comes from another site".into());
    }
    let origin = text(header::ORIGIN)?;
    let same = match (&state.settings.external_url, origin_of(origin)) {
        (_, None) => false,
        (Some(external), Some(origin)) => origin_of(external).is_some_and(|own| own == origin),
        (None, Some(origin)) => text(header::HOST).is_some_and(|host| {
            let scheme = origin
                .split_once("://")
                .map_or("http", |(scheme, _)| scheme);
            origin_of(&format!("{scheme}://{host}")).as_deref() == Some(origin.as_str())
        }),
    };
    (!same).then(|| format!("the request comes from another origin ({origin})"))
}

/// Checks an unsafe request that rides the session cookie: same origin,
/// and the CSRF token in the header or the given form field.
pub(crate) fn check_csrf(
    state: &AppState,
    headers: &HeaderMap,
    session_token: &str,
    form_field: Option<&str>,
) -> Result<(), String> {
    if let Some(reason) = cross_site(state, headers) {
        return Err(reason);
    }
    let given = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .or(form_field)
        .ok_or_else(|| "the CSRF token is missing".to_owned())?;
    if tokens_equal(given, &csrf_token(session_token)) {
        Ok(())
    } else {
        Err("the CSRF token is wrong".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others_and_across_headers() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("airlock_session=tok; c=3"),
        );
        assert_eq!(cookie(&headers, "b"), Some("2"));
        assert_eq!(session_token(&headers), Some("tok"));
        assert_eq!(cookie(&headers, "d"), None);
        headers.insert(header::COOKIE, HeaderValue::from_static("airlock_session="));
        assert_eq!(session_token(&headers), None);
    }

    #[test]
    fn origins_are_normalized() {
        let cases = [
            (
                "https://Registry.Example:443/ui",
                Some("https://registry.example"),
            ),
            ("http://localhost:5000", Some("http://localhost:5000")),
            ("http://localhost:80/", Some("http://localhost")),
            ("null", None),
            ("https://", None),
        ];
        for (url, want) in cases {
            assert_eq!(origin_of(url).as_deref(), want, "{url}");
        }
    }

    #[test]
    fn csrf_tokens_differ_per_session() {
        assert_eq!(csrf_token("a"), csrf_token("a"));
        assert_ne!(csrf_token("a"), csrf_token("b"));
        assert_eq!(csrf_token("a").len(), 64);
    }
}
