//! The dashboard's data under `/api/v1`: the image list with filters, the
//! vulnerability search ("which of our images have CVE-X"), and streamed
//! CSV/JSON exports of both. Same envelope and authentication as the rest
//! of the API; who sees which tenants is the service's decision.

use airlock_accounts::{
    AccountsError, FindingItem, FindingSearch, ImageItem, ImageSearch, SearchExportFormat,
    SearchPage,
};
use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::{ApiResult, Authenticated, fail};
use crate::error::ErrorEnvelope;

/// The routes, each with its OpenAPI description.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_images))
        .routes(routes!(export_images))
        .routes(routes!(search_vulnerabilities))
        .routes(routes!(export_vulnerabilities))
}

/// Query parameters are taken as text and parsed by the service, so a bad
/// value gets the API's error envelope, not the extractor's; the document
/// gives their real types.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ImagesParams {
    /// Only this tenant; 403 when the caller cannot read it.
    tenant: Option<String>,
    /// A substring of the repository name (any case).
    q: Option<String>,
    /// `received`, `queued`, `scanning`, `passed`, `failed`, `promoted`,
    /// `rejected` or `covered`.
    state: Option<String>,
    /// `unknown`, `low`, `medium`, `high` or `critical`: highest effective
    /// severity at least this.
    min_severity: Option<String>,
    /// A vulnerability id or alias, exactly (CVE-X finds GHSA records
    /// aliased to it).
    vulnerability: Option<String>,
    /// A package name, exactly.
    package: Option<String>,
    /// RFC 3339: pushed at or after.
    #[param(format = DateTime)]
    pushed_after: Option<String>,
    /// RFC 3339: pushed before.
    #[param(format = DateTime)]
    pushed_before: Option<String>,
    /// `pushed` (default), `updated`, `repository` or `severity`.
    sort: Option<String>,
    /// `asc` or `desc` (default: `asc` for `repository`, else `desc`).
    order: Option<String>,
    /// The page, from 1 (ignored by exports).
    #[param(value_type = Option<u64>, minimum = 1)]
    page: Option<String>,
    /// Rows per page: default 50, at most 500 (ignored by exports).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 500)]
    per_page: Option<String>,
    /// Exports only: `csv` (default) or `json`.
    format: Option<String>,
}

/// Query parameters of the vulnerability search, as text like
/// [`ImagesParams`].
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct VulnerabilitiesParams {
    /// Only this tenant; 403 when the caller cannot read it.
    tenant: Option<String>,
    /// A vulnerability id or alias, exactly.
    vulnerability: Option<String>,
    /// A package name, exactly.
    package: Option<String>,
    /// `unknown`, `low`, `medium`, `high` or `critical`: matched severity at
    /// least this.
    min_severity: Option<String>,
    /// Only findings with a fixed version.
    #[param(value_type = Option<bool>)]
    fixable: Option<String>,
    /// Only this image's findings (an image item's `id`).
    #[param(value_type = Option<i64>)]
    image: Option<String>,
    /// The page, from 1 (ignored by exports).
    #[param(value_type = Option<u64>, minimum = 1)]
    page: Option<String>,
    /// Rows per page: default 50, at most 500 (ignored by exports).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 500)]
    per_page: Option<String>,
    /// Exports only: `csv` (default) or `json`.
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

/// The images the caller may see, filtered, sorted and paged, with effective counts.
///
/// Admins and auditors see every tenant, others the tenants they hold a
/// role in.
#[utoipa::path(
    get,
    path = "/images",
    tag = "search",
    params(ImagesParams),
    responses(
        (status = 200, description = "One page", body = SearchPage<ImageItem>),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = []))
)]
async fn search_images(
    State(state): State<AppState>,
    caller: Authenticated,
    Query(params): Query<ImagesParams>,
) -> ApiResult<Json<SearchPage<ImageItem>>> {
    let (search, _) = params.into_search().map_err(fail)?;
    let page = state
        .accounts
        .search_images(&caller.operator, &search)
        .await
        .map_err(fail)?;
    Ok(Json(page))
}

/// Every image `/images` would list (paging ignored), streamed as CSV or JSON.
///
/// CSV has a header row (RFC 4180); JSON is one array of the same items as
/// `/images`. Sent as an attachment (`Content-Disposition`).
#[utoipa::path(
    get,
    path = "/images/export",
    tag = "search",
    params(ImagesParams),
    responses(
        (status = 200, description = "The export, streamed", content(
            (String = "text/csv"),
            (Vec<ImageItem> = "application/json"),
        ), headers(
            ("content-disposition" = String, description = "attachment; filename=\"images.csv\" (or .json)"),
        )),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = []))
)]
async fn export_images(
    State(state): State<AppState>,
    caller: Authenticated,
    Query(params): Query<ImagesParams>,
) -> ApiResult<Response> {
    let (search, format) = params.into_search().map_err(fail)?;
    let format = export_format(format).map_err(fail)?;
    let stream = state
        .accounts
        .export_images(&caller.operator, &caller.request, &search, format)
        .await
        .map_err(fail)?;
    Ok(attachment("images", format, Body::from_stream(stream)))
}

/// Findings with their image, in the tenants the caller may see; newest image first, most severe first.
#[utoipa::path(
    get,
    path = "/vulnerabilities",
    tag = "search",
    params(VulnerabilitiesParams),
    responses(
        (status = 200, description = "One page", body = SearchPage<FindingItem>),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = []))
)]
async fn search_vulnerabilities(
    State(state): State<AppState>,
    caller: Authenticated,
    Query(params): Query<VulnerabilitiesParams>,
) -> ApiResult<Json<SearchPage<FindingItem>>> {
    let (search, _) = params.into_search().map_err(fail)?;
    let page = state
        .accounts
        .search_findings(&caller.operator, &search)
        .await
        .map_err(fail)?;
    Ok(Json(page))
}

/// Every finding `/vulnerabilities` would list (paging ignored), streamed as CSV or JSON.
///
/// CSV joins lists with spaces; JSON is one array of the same items as
/// `/vulnerabilities`. Sent as an attachment (`Content-Disposition`).
#[utoipa::path(
    get,
    path = "/vulnerabilities/export",
    tag = "search",
    params(VulnerabilitiesParams),
    responses(
        (status = 200, description = "The export, streamed", content(
            (String = "text/csv"),
            (Vec<FindingItem> = "application/json"),
        ), headers(
            ("content-disposition" = String, description = "attachment; filename=\"vulnerabilities.csv\" (or .json)"),
        )),
        (status = 400, description = "Invalid input", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks the role", body = ErrorEnvelope),
    ),
    security(("bearer" = []), ("basic" = []), ("session" = []))
)]
async fn export_vulnerabilities(
    State(state): State<AppState>,
    caller: Authenticated,
    Query(params): Query<VulnerabilitiesParams>,
) -> ApiResult<Response> {
    let (search, format) = params.into_search().map_err(fail)?;
    let format = export_format(format).map_err(fail)?;
    let stream = state
        .accounts
        .export_findings(&caller.operator, &caller.request, &search, format)
        .await
        .map_err(fail)?;
    Ok(attachment(
        "vulnerabilities",
        format,
        Body::from_stream(stream),
    ))
}
