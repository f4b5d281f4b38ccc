//! `GET`/`HEAD`/`DELETE /v2/<name>/blobs/<digest>`, with `Range` support.
//! A whole-blob `GET` is redirected (`307`) when the blob store hands out
//! presigned URLs (S3 with a presign TTL); `HEAD` and range requests are
//! always answered here.

use airlock_oci::{Digest, ErrorCode, RepoName};
use airlock_registry::Registry;
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;

use crate::{ApiError, OciRequest};

/// Parses `bytes=start-end`, `bytes=start-` or `bytes=-suffix` against `size`.
/// Returns the start and optional inclusive end.
fn parse_range(value: &str, size: u64) -> Result<(u64, Option<u64>), ApiError> {
    let invalid = || {
        ApiError::new(ErrorCode::RangeInvalid, format!("invalid range {value:?}"))
            .with_header("content-range", format!("bytes */{size}"))
    };
    let spec = value.trim().strip_prefix("bytes=").ok_or_else(invalid)?;
    if spec.contains(',') {
        return Err(invalid());
    }
    let (start, end) = spec.split_once('-').ok_or_else(invalid)?;
    if start.is_empty() {
        let suffix: u64 = end.parse().map_err(|_| invalid())?;
        if suffix == 0 {
            return Err(invalid());
        }
        return Ok((size.saturating_sub(suffix), None));
    }
    let start: u64 = start.parse().map_err(|_| invalid())?;
    let end = if end.is_empty() {
        None
    } else {
        Some(end.parse::<u64>().map_err(|_| invalid())?)
    };
    if end.is_some_and(|e| e < start) {
        return Err(invalid());
    }
    Ok((start, end))
}

pub(crate) async fn get(
    registry: &Registry,
    name: &RepoName,
    digest: &Digest,
    request: &OciRequest,
) -> Result<Response, ApiError> {
    let size = registry.blob_size(name, digest).await?;
    let builder = Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header("docker-content-digest", digest.to_string())
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::ETAG, format!("\"{digest}\""));
    if request.method == Method::HEAD {
        return Ok(builder
            .header(header::CONTENT_LENGTH, size)
            .body(Body::empty())
            .expect("valid response"));
    }
    let range_header = request.headers.get(header::RANGE);
    if range_header.is_none()
        && let Some(location) = registry.blob_redirect(name, digest).await?
    {
        // The storage serves the bytes itself (a presigned S3 URL).
        return Ok(Response::builder()
            .status(StatusCode::TEMPORARY_REDIRECT)
            .header(header::LOCATION, location)
            .header("docker-content-digest", digest.to_string())
            .header(header::CONTENT_LENGTH, 0)
            .body(Body::empty())
            .expect("valid response"));
    }
    let range = range_header
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, size))
        .transpose()?;
    let (total, served, stream) = registry.read_blob(name, digest, range).await?;
    let response = match served {
        None => builder.header(header::CONTENT_LENGTH, total),
        Some((start, end)) => builder
            .status(StatusCode::PARTIAL_CONTENT)
            .header(header::CONTENT_LENGTH, end - start + 1)
            .header(
                header::CONTENT_RANGE,
                format!("bytes {start}-{end}/{total}"),
            ),
    };
    Ok(response
        .body(Body::from_stream(stream))
        .expect("valid response"))
}

pub(crate) async fn delete(
    registry: &Registry,
    name: &RepoName,
    digest: &Digest,
) -> Result<Response, ApiError> {
    registry.delete_blob(name, digest).await?;
    Ok(Response::builder()
        .status(StatusCode::ACCEPTED)
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
        .expect("valid response"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges() {
        assert_eq!(parse_range("bytes=0-9", 100).unwrap(), (0, Some(9)));
        assert_eq!(parse_range("bytes=10-", 100).unwrap(), (10, None));
        assert_eq!(parse_range("bytes=-10", 100).unwrap(), (90, None));
        for bad in ["0-9", "bytes=9-1", "bytes=a-b", "bytes=0-1,3-4", "bytes=-0"] {
            assert!(parse_range(bad, 100).is_err(), "{bad}");
        }
    }
}
