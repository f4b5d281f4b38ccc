//! Blob uploads: `POST`, `PATCH`, `PUT`, `GET` and `DELETE` on
//! `/v2/<name>/blobs/uploads/...`.

use airlock_oci::{Digest, ErrorCode, RepoName};
use airlock_registry::{Registry, RegistryError, UploadState, access};
use airlock_store::ByteStream;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use futures::TryStreamExt;

use crate::{ApiError, OciRequest};

fn body_stream(body: Body) -> ByteStream {
    Box::pin(body.into_data_stream().map_err(std::io::Error::other))
}

fn digest_param(request: &OciRequest) -> Result<Option<Digest>, ApiError> {
    request
        .query
        .get("digest")
        .map(|d| {
            d.parse()
                .map_err(|_| ApiError::from(RegistryError::DigestParameter(d.clone())))
        })
        .transpose()
}

fn session_response(name: &RepoName, state: &UploadState, status: StatusCode) -> Response {
    Response::builder()
        .status(status)
        .header(
            header::LOCATION,
            format!("/v2/{name}/blobs/uploads/{}", state.id),
        )
        .header(
            header::RANGE,
            format!("0-{}", state.offset.saturating_sub(1)),
        )
        .header("docker-upload-uuid", state.id.clone())
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
        .expect("valid response")
}

fn created(name: &RepoName, digest: &Digest) -> Response {
    Response::builder()
        .status(StatusCode::CREATED)
        .header(header::LOCATION, format!("/v2/{name}/blobs/{digest}"))
        .header("docker-content-digest", digest.to_string())
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
        .expect("valid response")
}

pub(crate) async fn start(
    registry: &Registry,
    name: &RepoName,
    request: &OciRequest,
    body: Body,
) -> Result<Response, ApiError> {
    if let (Some(mount), Some(from)) = (request.query.get("mount"), request.query.get("from")) {
        let digest: Digest = mount
            .parse()
            .map_err(|_| ApiError::from(RegistryError::DigestParameter(mount.clone())))?;
        // An invalid source name is treated like an invisible blob: fall back to an upload.
        // So is a source the caller may not pull from: mounting it would
        // leak its content.
        if let Ok(from) = from.parse::<RepoName>()
            && access::may_pull(&request.caller, &from)
            && registry.mount_blob(name, &from, &digest).await?
        {
            return Ok(created(name, &digest));
        }
    }
    if let Some(digest) = digest_param(request)? {
        registry.put_blob(name, &digest, body_stream(body)).await?;
        return Ok(created(name, &digest));
    }
    let state = registry.start_upload(name).await?;
    Ok(session_response(name, &state, StatusCode::ACCEPTED))
}

/// Parses `Content-Range: <start>-<end>` (also accepting a `bytes ` prefix).
fn content_range_start(request: &OciRequest) -> Result<Option<u64>, ApiError> {
    let Some(value) = request.headers.get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let invalid = || ApiError::new(ErrorCode::RangeInvalid, "invalid Content-Range");
    let text = value.to_str().map_err(|_| invalid())?.trim();
    let text = text.strip_prefix("bytes ").unwrap_or(text);
    let text = text.split('/').next().unwrap_or(text);
    let (start, end) = text.split_once('-').ok_or_else(invalid)?;
    let start: u64 = start.trim().parse().map_err(|_| invalid())?;
    let end: u64 = end.trim().parse().map_err(|_| invalid())?;
    if end < start {
        return Err(invalid());
    }
    Ok(Some(start))
}

pub(crate) async fn patch(
    registry: &Registry,
    name: &RepoName,
    id: &str,
    request: &OciRequest,
    body: Body,
) -> Result<Response, ApiError> {
    let start = content_range_start(request)?;
    match registry
        .append_upload(name, id, start, body_stream(body))
        .await
    {
        Ok(state) => Ok(session_response(name, &state, StatusCode::ACCEPTED)),
        Err(RegistryError::UploadOutOfOrder { id, offset, start }) => {
            let error = RegistryError::UploadOutOfOrder {
                id: id.clone(),
                offset,
                start,
            };
            Err(ApiError::from(error)
                .with_header("location", format!("/v2/{name}/blobs/uploads/{id}")))
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn put(
    registry: &Registry,
    name: &RepoName,
    id: &str,
    request: &OciRequest,
    body: Body,
) -> Result<Response, ApiError> {
    let digest = digest_param(request)?.ok_or_else(|| {
        ApiError::from(RegistryError::DigestParameter(
            "missing digest parameter".into(),
        ))
    })?;
    registry
        .finish_upload(name, id, &digest, Some(body_stream(body)))
        .await?;
    Ok(created(name, &digest))
}

pub(crate) async fn status(
    registry: &Registry,
    name: &RepoName,
    id: &str,
) -> Result<Response, ApiError> {
    let state = registry.upload_status(name, id).await?;
    Ok(session_response(name, &state, StatusCode::NO_CONTENT))
}

pub(crate) async fn cancel(
    registry: &Registry,
    name: &RepoName,
    id: &str,
) -> Result<Response, ApiError> {
    registry.cancel_upload(name, id).await?;
    Ok(Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::empty())
        .expect("valid response"))
}
