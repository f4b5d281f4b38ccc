//! The OpenAPI 3.1 document of the management API, generated from the code
//! and served at `/api/v1/openapi.json` and `/api/v1/openapi.yaml`.
//!
//! Each handler describes itself with `#[utoipa::path]` (method, path, tag,
//! parameters, body, its own responses and its security) and is registered
//! with `utoipa_axum::routes!`, which routes it at the path it documents.
//! [`management_api`] nests those route tables under `/api/v1` and splits
//! them into the axum router and the document, so the two cannot disagree.
//!
//! What every authenticated operation shares is added here once, by
//! [`CredentialErrors`]: `401` (no or bad credentials), `429` (basic
//! credentials of a throttled login), `500`, and `403` on unsafe methods (a
//! session cookie without its CSRF token). Handlers list only their own.
//!
//! `docs/openapi.json` is a checked-in copy of [`document_json`]'s output;
//! a test fails when they differ (`AIRLOCK_UPDATE_OPENAPI=1` rewrites it).
//!
//! Adding an endpoint:
//! 1. Put `#[utoipa::path(method, path = "/relative/{param}", tag = ...,
//!    params(...), request_body = ..., responses(...), security(...))]` on
//!    the handler, copying a neighbour: its doc comment becomes the summary,
//!    path parameters are `("name" = String, Path, description = ...)`,
//!    query structs derive `IntoParams`, bodies derive `ToSchema`, and each
//!    of its own 4xx is `(status = 4xx, description = ..., body =
//!    ErrorEnvelope)`. Reads take `security(("bearer" = []), ("basic" =
//!    []), ("session" = []))`, unsafe methods `("session" = [], "csrf" =
//!    [])` in the last place.
//! 2. Register it in the module's `routes()` with
//!    `.routes(routes!(handler))` (handlers of one path share one
//!    `routes!`), never `.route(`; a new module's `routes()` is merged in
//!    `api::routes`.
//! 3. Add its rows to the authorization matrix (`tests/it/authz.rs`: an
//!    `Op`, its `endpoint`, one row per target) and regenerate
//!    `docs/openapi.json`; the tests name whatever is missing.

use std::sync::LazyLock;

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

/// The document's fixed parts; the paths come from the route tables.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "airlock",
        description = "The management API of an airlock registry: tenants, users, grants, robot \
accounts, the audit log, the quarantine gate's policies, exceptions and image status, webhooks, \
scan reports, and the image and vulnerability search.\n\n\
Authenticate with a bearer token from `/auth/token` (any scope), with HTTP basic credentials \
(a user's password or a robot's token), or with the dashboard's session cookie, which on \
unsafe methods (POST, PUT, PATCH, DELETE) needs the `X-CSRF-Token` header too.\n\n\
Errors are `{\"errors\": [{\"code\": \"...\", \"message\": \"...\"}]}` with codes \
UNAUTHORIZED (401), DENIED (403), INVALID (400), NOT_FOUND (404), CONFLICT (409), \
TOOMANYREQUESTS (429) and INTERNAL (500)."
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "meta", description = "This document"),
        (name = "identity", description = "Who is calling"),
        (name = "tenants", description = "Tenants (admin)"),
        (name = "users", description = "Users, their passwords and roles"),
        (name = "robots", description = "Robot accounts of a tenant, for CI"),
        (name = "audit", description = "The append-only audit log"),
        (name = "policies", description = "The gate's policies, global and per tenant (YAML)"),
        (name = "exceptions", description = "Vulnerability exceptions, requested and approved by different people"),
        (name = "images", description = "A tenant's gated images: state, verdict, history"),
        (name = "reports", description = "Scan reports and SBOMs"),
        (name = "webhooks", description = "Webhook subscriptions and their deliveries"),
        (name = "search", description = "The dashboard's image and vulnerability search, and their exports"),
    )
)]
struct ApiDoc;

/// The management API: its router and its document, from the same route
/// tables.
pub(crate) fn management_api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let api = crate::api::routes()
        .routes(routes!(openapi_json))
        .routes(routes!(openapi_yaml));
    let (router, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", api)
        .split_for_parts();
    CredentialErrors.modify(&mut document);
    (router, document)
}

/// The document, rendered once.
struct Rendered {
    json: String,
    yaml: String,
}

static DOCUMENT: LazyLock<Rendered> = LazyLock::new(|| {
    let document = management_api().1;
    let mut json = document
        .to_pretty_json()
        .expect("the OpenAPI document serializes as JSON");
    json.push('\n');
    let yaml = document
        .to_yaml()
        .expect("the OpenAPI document serializes as YAML");
    Rendered { json, yaml }
});

/// The document as JSON, as served and as `docs/openapi.json` holds it.
pub fn document_json() -> &'static str {
    &DOCUMENT.json
}

/// This document, as JSON.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    responses(
        (status = 200, description = "The OpenAPI document", content((Object = "application/json"))),
    ),
    security(())
)]
async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.json.as_str(),
    )
        .into_response()
}

/// This document, as YAML.
#[utoipa::path(
    get,
    path = "/openapi.yaml",
    tag = "meta",
    responses(
        (status = 200, description = "The OpenAPI document", content((String = "application/yaml"))),
    ),
    security(())
)]
async fn openapi_yaml() -> Response {
    (
        [(header::CONTENT_TYPE, "application/yaml")],
        DOCUMENT.yaml.as_str(),
    )
        .into_response()
}

/// The ways to authenticate: `bearer`, `basic`, and `session` (with `csrf`
/// beside it on unsafe methods).
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A JWT from the token endpoint `/auth/token`, for a user or a robot \
                         (any scope), or a robot's own token (`alr_<prefix>_<secret>`), checked \
                         and audited like a login",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "A user's name and password, or a robot's account name \
                         (`robot$<tenant>+<name>`) and token; failed logins are throttled",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::session::SESSION_COOKIE,
                "The dashboard's session cookie, set by signing in at `/ui/login`",
            ))),
        );
        components.add_security_scheme(
            "csrf",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "The session's CSRF token (the dashboard's pages carry it): required with the \
                 session cookie on POST, PUT, PATCH and DELETE",
            ))),
        );
    }
}

/// Adds the answers every authenticated operation can give (see the module
/// docs) as shared responses.
struct CredentialErrors;

impl CredentialErrors {
    const SHARED: [(&'static str, &'static str, &'static str); 4] = [
        (
            "401",
            "Unauthorized",
            "No credentials, or bad ones (with `WWW-Authenticate: Basic realm=\"airlock\"`)",
        ),
        (
            "403",
            "Forbidden",
            "The caller lacks the role, or a session-cookie request lacks its CSRF token",
        ),
        (
            "429",
            "TooManyRequests",
            "Too many failed logins with these basic credentials (with `Retry-After`)",
        ),
        (
            "500",
            "Internal",
            "airlock failed; the details are in its log",
        ),
    ];
}

impl Modify for CredentialErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (_, name, description) in Self::SHARED {
            let errors = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Errors")))
                .build();
            let response = ResponseBuilder::new()
                .description(description)
                .content("application/json", errors)
                .build();
            components
                .responses
                .insert(name.to_owned(), RefOr::T(response));
        }
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                (&mut item.get, false),
                (&mut item.head, false),
                (&mut item.options, false),
                (&mut item.trace, false),
                (&mut item.post, true),
                (&mut item.put, true),
                (&mut item.patch, true),
                (&mut item.delete, true),
            ];
            for (operation, unsafe_method) in operations {
                let Some(operation) = operation else { continue };
                if is_public(operation) {
                    continue;
                }
                for (status, name, _) in Self::SHARED {
                    if status == "403" && !unsafe_method {
                        continue;
                    }
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
                }
            }
        }
    }
}

/// Whether an operation is open to anonymous callers: its only security
/// requirement is the empty one.
fn is_public(operation: &utoipa::openapi::path::Operation) -> bool {
    operation.security.as_ref().is_some_and(|requirements| {
        requirements.iter().all(|requirement| {
            serde_json::to_value(requirement).is_ok_and(|value| value == serde_json::json!({}))
        })
    })
}
