//! Listings: tags, the catalog and the referrers API.

use airlock_oci::{Digest, ErrorCode, RepoName, media_type};
use airlock_registry::Registry;
use axum::body::Body;
use axum::http::header;
use axum::response::Response;

use crate::{ApiError, OciRequest};

/// Reads `n` and `last`. Returns the page size (if any) and the marker.
fn page(request: &OciRequest) -> Result<(Option<usize>, Option<String>), ApiError> {
    let n = request
        .query
        .get("n")
        .map(|n| {
            n.parse::<usize>().map_err(|_| {
                ApiError::new(ErrorCode::Unsupported, format!("invalid page size n={n:?}"))
                    .with_status(axum::http::StatusCode::BAD_REQUEST)
            })
        })
        .transpose()?;
    Ok((n, request.query.get("last").cloned()))
}

/// Fetches one extra row to learn whether a `Link` to the next page is due.
fn paginate(mut items: Vec<String>, n: Option<usize>) -> (Vec<String>, bool) {
    match n {
        Some(n) if items.len() > n => {
            items.truncate(n);
            (items, true)
        }
        _ => (items, false),
    }
}

fn json_response(body: serde_json::Value, link: Option<String>) -> Response {
    let mut builder = Response::builder().header(header::CONTENT_TYPE, "application/json");
    if let Some(link) = link {
        builder = builder.header(header::LINK, link);
    }
    builder
        .body(Body::from(body.to_string()))
        .expect("valid response")
}

pub(crate) async fn tags(
    registry: &Registry,
    name: &RepoName,
    request: &OciRequest,
) -> Result<Response, ApiError> {
    let (n, last) = page(request)?;
    let tags = registry
        .tags(name, last.as_deref(), n.map(|n| n + 1))
        .await?;
    let (tags, more) = paginate(tags, n);
    let link = match (more, tags.last(), n) {
        (true, Some(last), Some(n)) => Some(format!(
            "</v2/{name}/tags/list?n={n}&last={last}>; rel=\"next\""
        )),
        _ => None,
    };
    Ok(json_response(
        serde_json::json!({ "name": name.as_str(), "tags": tags }),
        link,
    ))
}

pub(crate) async fn catalog(
    registry: &Registry,
    request: &OciRequest,
) -> Result<Response, ApiError> {
    let (n, last) = page(request)?;
    let repositories = registry
        .catalog(&request.caller, last.as_deref(), n.map(|n| n + 1))
        .await?;
    let (repositories, more) = paginate(repositories, n);
    let link = match (more, repositories.last(), n) {
        (true, Some(last), Some(n)) => {
            Some(format!("</v2/_catalog?n={n}&last={last}>; rel=\"next\""))
        }
        _ => None,
    };
    Ok(json_response(
        serde_json::json!({ "repositories": repositories }),
        link,
    ))
}

pub(crate) async fn referrers(
    registry: &Registry,
    name: &RepoName,
    digest: &Digest,
    request: &OciRequest,
) -> Result<Response, ApiError> {
    let filter = request.query.get("artifactType").map(String::as_str);
    let referrers = registry.referrers(name, digest, filter).await?;
    let manifests: Vec<serde_json::Value> = referrers
        .into_iter()
        .map(|r| {
            let mut descriptor = serde_json::json!({
                "mediaType": r.media_type,
                "digest": r.digest.to_string(),
                "size": r.size,
            });
            if let Some(artifact_type) = r.artifact_type {
                descriptor["artifactType"] = artifact_type.into();
            }
            if let Some(annotations) = r
                .annotations
                .and_then(|a| serde_json::from_str::<serde_json::Value>(&a).ok())
            {
                descriptor["annotations"] = annotations;
            }
            descriptor
        })
        .collect();
    let body = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": manifests,
    });
    let mut builder = Response::builder().header(header::CONTENT_TYPE, media_type::OCI_INDEX);
    if filter.is_some() {
        builder = builder.header("oci-filters-applied", "artifactType");
    }
    Ok(builder
        .body(Body::from(body.to_string()))
        .expect("valid response"))
}
