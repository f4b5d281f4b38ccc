//! The dashboard's data under `/api/v1`: the image list with filters, the
//! vulnerability search ("which of our images have CVE-X"), and streamed
//! CSV/JSON exports of both. Same envelope and authentication as the rest
//! of the API; who sees which tenants is the service's decision.

use airlock_accounts::{AccountsError, FindingSearch, ImageSearch, SearchExportFormat};
use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::AppState;
use crate::api::{ApiResult, Authenticated, fail};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/images", get(search_images))
        .route("/images/export", get(export_images))
        .route("/vulnerabilities", get(search_vulnerabilities))
        .route("/vulnerabilities/export", get(export_vulnerabilities))
}

/// Query parameters are taken as text and parsed by the service, so a bad
/// value gets the API's error envelope, not the extractor's.
#[derive(Deserialize)]
struct ImagesParams {
    tenant: Option<String>,
    q: Option<String>,
    state: Option<String>,
    min_severity: Option<String>,
    vulnerability: Option<String>,
    package: Option<String>,
    pushed_after: Option<String>,
    pushed_before: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    page: Option<String>,
    per_page: Option<String>,
    format: Option<String>,
}

#[derive(Deserialize)]
struct VulnerabilitiesParams {
    tenant: Option<String>,
    vulnerability: Option<String>,
    package: Option<String>,
    min_severity: Option<String>,
    fixable: Option<String>,
    image: Option<String>,
    page: Option<String>,
    per_page: Option<String>,
    format: Option<String>,
}

/// An empty parameter (`?tenant=`) is an absent one.
fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

fn number<T: std::str::FromStr>(
    name: &str,
    value: Option<String>,
) -> Result<Option<T>, AccountsError> {
    given(value)
        .map(|v| {
            v.parse()
                .map_err(|_| AccountsError::Invalid(format!("{name} {v:?} is not a number")))
        })
        .transpose()
}

fn flag(name: &str, value: Option<String>) -> Result<Option<bool>, AccountsError> {
    match given(value).as_deref() {
        None => Ok(None),
        Some("true" | "1") => Ok(Some(true)),
        Some("false" | "0") => Ok(Some(false)),
        Some(other) => Err(AccountsError::Invalid(format!(
            "{name} {other:?} is not true or false"
        ))),
    }
}

fn export_format(value: Option<String>) -> Result<SearchExportFormat, AccountsError> {
    given(value).as_deref().unwrap_or("csv").parse()
}

impl ImagesParams {
    fn into_search(self) -> Result<(ImageSearch, Option<String>), AccountsError> {
        let search = ImageSearch {
            tenant: given(self.tenant),
            q: given(self.q),
            state: given(self.state),
            min_severity: given(self.min_severity),
            vulnerability: given(self.vulnerability),
            package: given(self.package),
            pushed_after: given(self.pushed_after),
            pushed_before: given(self.pushed_before),
            sort: given(self.sort),
            order: given(self.order),
            page: number("page", self.page)?,
            per_page: number("per_page", self.per_page)?,
        };
        Ok((search, self.format))
    }
}

impl VulnerabilitiesParams {
    fn into_search(self) -> Result<(FindingSearch, Option<String>), AccountsError> {
        let search = FindingSearch {
            tenant: given(self.tenant),
            vulnerability: given(self.vulnerability),
            package: given(self.package),
            min_severity: given(self.min_severity),
            fixable: flag("fixable", self.fixable)?,
            image: number("image", self.image)?,
            page: number("page", self.page)?,
            per_page: number("per_page", self.per_page)?,
        };
        Ok((search, self.format))
    }
}

fn attachment(name: &str, format: SearchExportFormat, body: Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{}\"", format.extension()),
            ),
        ],
        body,
    )
        .into_response()
}

async fn search_images(
    State(state): State<AppState>,
    caller: Authenticated,
    Query(params): Query<ImagesParams>,
) -> ApiResult<Json<serde_json::Value>> {
    let (search, _) = params.into_search().map_err(fail)?;
    let page = state
        .accounts
        .search_images(&caller.operator, &search)
        .await
        .map_err(fail)?;
    Ok(Json(serde_json::to_value(page).unwrap_or_default()))
}

async fn export_images(
    State(state): State<AppState>,
    caller: Authenticated,
    Query(params): Query<ImagesParams>,
) -> ApiResult<Response> {
    let (search, format) = params.into_search().map_err(fail)?;
    let format = export_format(format).map_err(fail)?;
    let stream = state
        .accounts
        .export_images(&caller.operator, &search, format)
        .await
        .map_err(fail)?;
    Ok(attachment("images", format, Body::from_stream(stream)))
}

async fn search_vulnerabilities(
    State(state): State<AppState>,
    caller: Authenticated,
    Query(params): Query<VulnerabilitiesParams>,
) -> ApiResult<Json<serde_json::Value>> {
    let (search, _) = params.into_search().map_err(fail)?;
    let page = state
        .accounts
        .search_findings(&caller.operator, &search)
        .await
        .map_err(fail)?;
    Ok(Json(serde_json::to_value(page).unwrap_or_default()))
}

async fn export_vulnerabilities(
    State(state): State<AppState>,
    caller: Authenticated,
    Query(params): Query<VulnerabilitiesParams>,
) -> ApiResult<Response> {
    let (search, format) = params.into_search().map_err(fail)?;
    let format = export_format(format).map_err(fail)?;
    let stream = state
        .accounts
        .export_findings(&caller.operator, &search, format)
        .await
        .map_err(fail)?;
    Ok(attachment(
        "vulnerabilities",
        format,
        Body::from_stream(stream),
    ))
}
