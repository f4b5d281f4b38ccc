//! The one error response of the `/v2/` API: the OCI error envelope, and
//! [`ErrorEnvelope`], its shape, which the management API and the token
//! endpoint send too (and the OpenAPI document describes).

use airlock_oci::{ErrorCode, RouteError};
use airlock_registry::RegistryError;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error answer: `{"errors": [{code, message, detail}]}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Errors)]
pub(crate) struct ErrorEnvelope {
    /// Always one error.
    errors: Vec<ErrorEntry>,
}

/// One error of an [`ErrorEnvelope`].
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
struct ErrorEntry {
    /// What went wrong. The management API uses `UNAUTHORIZED` (401),
    /// `DENIED` (403), `INVALID` (400), `NOT_FOUND` (404), `CONFLICT` (409),
    /// `TOOMANYREQUESTS` (429) and `INTERNAL` (500).
    #[schema(example = "DENIED")]
    code: String,
    /// For people; internal details never appear here.
    message: String,
    /// More, for some registry errors; otherwise null.
    #[schema(value_type = Option<Object>)]
    detail: serde_json::Value,
}

impl ErrorEnvelope {
    /// The envelope of one error.
    pub(crate) fn one(
        code: &str,
        message: impl Into<String>,
        detail: serde_json::Value,
    ) -> ErrorEnvelope {
        ErrorEnvelope {
            errors: vec![ErrorEntry {
                code: code.to_owned(),
                message: message.into(),
                detail,
            }],
        }
    }
}

/// An error on its way to the client (boxed: it travels in every `Result`).
#[derive(Debug)]
pub struct ApiError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    code: ErrorCode,
    status: StatusCode,
    message: String,
    detail: serde_json::Value,
    headers: HeaderMap,
}

impl ApiError {
    /// An error with the code's own status.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError(Box::new(Inner {
            code,
            status: StatusCode::from_u16(code.status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            message: message.into(),
            detail: serde_json::Value::Null,
            headers: HeaderMap::new(),
        }))
    }

    /// An `UNSUPPORTED` error.
    pub fn unsupported(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Unsupported, message)
    }

    /// Overrides the HTTP status.
    pub fn with_status(mut self, status: StatusCode) -> ApiError {
        self.0.status = status;
        self
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: &'static str, value: String) -> ApiError {
        if let Ok(value) = HeaderValue::from_str(&value) {
            self.0.headers.insert(name, value);
        }
        self
    }

    /// The OCI error code.
    pub fn code(&self) -> ErrorCode {
        self.0.code
    }
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> ApiError {
        let code = error.code();
        if code == ErrorCode::Internal {
            tracing::error!(error = %error, "request failed inside airlock");
            return ApiError::new(code, code.message());
        }
        let mut api = ApiError::new(code, error.to_string());
        match &error {
            RegistryError::UploadOutOfOrder { id: _, offset, .. } => {
                api = api.with_header("range", format!("0-{}", offset.saturating_sub(1)));
            }
            RegistryError::RangeNotSatisfiable { size } => {
                api = api.with_header("content-range", format!("bytes */{size}"));
            }
            RegistryError::ManifestTooLarge { .. } => {
                api = api.with_status(StatusCode::PAYLOAD_TOO_LARGE);
            }
            RegistryError::ManifestBlobUnknown(digest) => {
                api.0.detail = serde_json::json!({ "digest": digest.to_string() });
            }
            _ => {}
        }
        api
    }
}

impl From<RouteError> for ApiError {
    fn from(error: RouteError) -> ApiError {
        match error {
            RouteError::NotFound(_) => ApiError::new(ErrorCode::NameUnknown, "no such route")
                .with_status(StatusCode::NOT_FOUND),
            RouteError::Name(e) => ApiError::new(ErrorCode::NameInvalid, e.to_string()),
            RouteError::Digest(d) => {
                ApiError::new(ErrorCode::DigestInvalid, format!("invalid digest {d:?}"))
            }
            RouteError::Reference(r) => ApiError::new(
                ErrorCode::ManifestInvalid,
                format!("invalid manifest reference {r:?}"),
            )
            .with_status(StatusCode::BAD_REQUEST),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let Inner {
            code,
            status,
            message,
            detail,
            headers,
        } = *self.0;
        let body = ErrorEnvelope::one(code.as_str(), message, detail);
        let mut response = (status, axum::Json(body)).into_response();
        response.headers_mut().extend(headers);
        response
    }
}
