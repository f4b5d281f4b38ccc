//! `GET`/`HEAD`/`PUT`/`DELETE /v2/<name>/manifests/<reference>`.

use airlock_oci::{Reference, RepoName};
use airlock_registry::{Registry, RegistryError};
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use http_body_util::BodyExt;

use crate::{ApiError, OciRequest};

pub(crate) async fn get(
    registry: &Registry,
    name: &RepoName,
    reference: &Reference,
    request: &OciRequest,
) -> Result<Response, ApiError> {
    let manifest = registry.manifest(name, reference).await?;
    if request.method == Method::GET {
        registry
            .record_pull(&request.caller, name, reference, &manifest.digest)
            .await?;
    }
    let builder = Response::builder()
        .header(header::CONTENT_TYPE, manifest.media_type)
        .header(header::CONTENT_LENGTH, manifest.content.len())
        .header("docker-content-digest", manifest.digest.to_string())
        .header(header::ETAG, format!("\"{}\"", manifest.digest));
    let body = if request.method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(manifest.content)
    };
    Ok(builder.body(body).expect("valid response"))
}

pub(crate) async fn put(
    registry: &Registry,
    name: &RepoName,
    reference: &Reference,
    request: &OciRequest,
    body: Body,
) -> Result<Response, ApiError> {
    let limit = registry.config().max_manifest_bytes;
    let content_type = request
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let too_large = || ApiError::from(RegistryError::ManifestTooLarge { limit });
    if request
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|len| len > limit)
    {
        return Err(too_large());
    }
    let content = http_body_util::Limited::new(body, limit)
        .collect()
        .await
        .map_err(|_| too_large())?
        .to_bytes()
        .to_vec();
    let stored = registry
        .put_manifest(
            &request.caller,
            name,
            reference,
            content_type.as_deref(),
            content,
        )
        .await?;
    let mut builder = Response::builder()
        .status(StatusCode::CREATED)
        .header(
            header::LOCATION,
            format!("/v2/{name}/manifests/{}", stored.digest),
        )
        .header("docker-content-digest", stored.digest.to_string())
        .header(header::CONTENT_LENGTH, 0);
    if let Some(subject) = stored.subject {
        builder = builder.header("oci-subject", subject.to_string());
    }
    Ok(builder.body(Body::empty()).expect("valid response"))
}

pub(crate) async fn delete(
    registry: &Registry,
    name: &RepoName,
    reference: &Reference,
    request: &OciRequest,
) -> Result<Response, ApiError> {
    registry
        .delete_manifest(&request.caller, name, reference)
        .await?;
    Ok(Response::builder()
        .status(StatusCode::ACCEPTED)
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
        .expect("valid response"))
}
