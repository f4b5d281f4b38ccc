//! The `/v2/` path grammar.
//!
//! Repository names contain slashes (`unscanned/team-a/payments/api`), so a
//! router cannot match them with fixed segments. This one pure function
//! finds the resource by the *last* occurrence of the keyword that names it,
//! then validates the name and the reference.

use crate::{Digest, NameError, Reference, RepoName};

/// A parsed `/v2/...` path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OciRoute {
    /// `/v2/`
    Base,
    /// `/v2/_catalog`
    Catalog,
    /// `/v2/<name>/tags/list`
    TagsList {
        /// Repository.
        name: RepoName,
    },
    /// `/v2/<name>/manifests/<reference>`
    Manifest {
        /// Repository.
        name: RepoName,
        /// Tag or digest.
        reference: Reference,
    },
    /// `/v2/<name>/blobs/<digest>`
    Blob {
        /// Repository.
        name: RepoName,
        /// Blob digest.
        digest: Digest,
    },
    /// `/v2/<name>/blobs/uploads/`
    UploadStart {
        /// Repository.
        name: RepoName,
    },
    /// `/v2/<name>/blobs/uploads/<id>`
    Upload {
        /// Repository.
        name: RepoName,
        /// Upload session id.
        id: String,
    },
    /// `/v2/<name>/referrers/<digest>`
    Referrers {
        /// Repository.
        name: RepoName,
        /// Subject digest.
        digest: Digest,
    },
}

/// Why a `/v2/` path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// No route has this shape.
    #[error("no route for {0:?}")]
    NotFound(String),
    /// The repository name is invalid.
    #[error(transparent)]
    Name(#[from] NameError),
    /// The digest in the path is invalid.
    #[error("invalid digest {0:?} in path")]
    Digest(String),
    /// The manifest reference is neither a tag nor a digest.
    #[error("invalid manifest reference {0:?}")]
    Reference(String),
}

impl OciRoute {
    /// A short, stable label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            OciRoute::Base => "base",
            OciRoute::Catalog => "catalog",
            OciRoute::TagsList { .. } => "tags",
            OciRoute::Manifest { .. } => "manifest",
            OciRoute::Blob { .. } => "blob",
            OciRoute::UploadStart { .. } => "upload_start",
            OciRoute::Upload { .. } => "upload",
            OciRoute::Referrers { .. } => "referrers",
        }
    }

    /// The repository the route addresses, if any.
    pub fn repository(&self) -> Option<&RepoName> {
        match self {
            OciRoute::Base | OciRoute::Catalog => None,
            OciRoute::TagsList { name }
            | OciRoute::Manifest { name, .. }
            | OciRoute::Blob { name, .. }
            | OciRoute::UploadStart { name }
            | OciRoute::Upload { name, .. }
            | OciRoute::Referrers { name, .. } => Some(name),
        }
    }

    /// Parses a request path (without query string).
    pub fn parse(path: &str) -> Result<OciRoute, RouteError> {
        let not_found = || RouteError::NotFound(path.to_owned());
        let rest = path.strip_prefix("/v2").ok_or_else(not_found)?;
        if rest.is_empty() || rest == "/" {
            return Ok(OciRoute::Base);
        }
        let rest = rest.strip_prefix('/').ok_or_else(not_found)?;
        if rest == "_catalog" {
            return Ok(OciRoute::Catalog);
        }
        if let Some(name) = rest.strip_suffix("/tags/list") {
            return Ok(OciRoute::TagsList {
                name: name.parse()?,
            });
        }
        if let Some(name) = rest
            .strip_suffix("/blobs/uploads/")
            .or_else(|| rest.strip_suffix("/blobs/uploads"))
        {
            return Ok(OciRoute::UploadStart {
                name: name.parse()?,
            });
        }
        // A keyword followed by more than one segment belongs to the name
        // (`a/manifests/b/blobs/<digest>`), so each shape needs a last segment.
        if let Some((name, id)) = rest.rsplit_once("/blobs/uploads/")
            && !id.contains('/')
        {
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(not_found());
            }
            return Ok(OciRoute::Upload {
                name: name.parse()?,
                id: id.to_owned(),
            });
        }
        if let Some((name, reference)) = rest.rsplit_once("/manifests/")
            && !reference.contains('/')
        {
            let name = name.parse()?;
            let reference = reference
                .parse()
                .map_err(|_| RouteError::Reference(reference.to_owned()))?;
            return Ok(OciRoute::Manifest { name, reference });
        }
        if let Some((name, digest)) = rest.rsplit_once("/blobs/")
            && !digest.contains('/')
        {
            let name = name.parse()?;
            let digest = digest
                .parse()
                .map_err(|_| RouteError::Digest(digest.to_owned()))?;
            return Ok(OciRoute::Blob { name, digest });
        }
        if let Some((name, digest)) = rest.rsplit_once("/referrers/")
            && !digest.contains('/')
        {
            let name = name.parse()?;
            let digest = digest
                .parse()
                .map_err(|_| RouteError::Digest(digest.to_owned()))?;
            return Ok(OciRoute::Referrers { name, digest });
        }
        Err(not_found())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest() -> String {
        format!("sha256:{}", "c".repeat(64))
    }

    #[test]
    fn parses_every_route_shape() {
        let d = digest();
        let cases: Vec<(String, &str, Option<&str>)> = vec![
            ("/v2/".into(), "base", None),
            ("/v2".into(), "base", None),
            ("/v2/_catalog".into(), "catalog", None),
            ("/v2/a/tags/list".into(), "tags", Some("a")),
            (
                "/v2/unscanned/team-a/payments/api/tags/list".into(),
                "tags",
                Some("unscanned/team-a/payments/api"),
            ),
            ("/v2/a/b/manifests/latest".into(), "manifest", Some("a/b")),
            (format!("/v2/a/b/manifests/{d}"), "manifest", Some("a/b")),
            (format!("/v2/a/b/c/blobs/{d}"), "blob", Some("a/b/c")),
            ("/v2/a/b/blobs/uploads/".into(), "upload_start", Some("a/b")),
            ("/v2/a/b/blobs/uploads".into(), "upload_start", Some("a/b")),
            (
                "/v2/a/b/blobs/uploads/0190-abc".into(),
                "upload",
                Some("a/b"),
            ),
            (format!("/v2/a/referrers/{d}"), "referrers", Some("a")),
            // Keywords inside a name: the last occurrence decides.
            (
                "/v2/manifests/manifests/latest".into(),
                "manifest",
                Some("manifests"),
            ),
            ("/v2/blobs/tags/list".into(), "tags", Some("blobs")),
            (
                format!("/v2/x/blobs/y/blobs/{d}"),
                "blob",
                Some("x/blobs/y"),
            ),
            (
                format!("/v2/a/manifests/b/blobs/{d}"),
                "blob",
                Some("a/manifests/b"),
            ),
            (
                format!("/v2/a/blobs/b/referrers/{d}"),
                "referrers",
                Some("a/blobs/b"),
            ),
            (
                "/v2/a/blobs/uploads/b/manifests/v1".into(),
                "manifest",
                Some("a/blobs/uploads/b"),
            ),
            (
                format!("/v2/a/referrers/b/manifests/{d}"),
                "manifest",
                Some("a/referrers/b"),
            ),
        ];
        for (path, label, name) in cases {
            let route = OciRoute::parse(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(route.label(), label, "{path}");
            assert_eq!(route.repository().map(RepoName::as_str), name, "{path}");
        }
    }

    #[test]
    fn refuses_bad_paths_with_the_right_error() {
        assert!(matches!(
            OciRoute::parse("/v3/"),
            Err(RouteError::NotFound(_))
        ));
        assert!(matches!(
            OciRoute::parse("/v2/a"),
            Err(RouteError::NotFound(_))
        ));
        assert!(matches!(
            OciRoute::parse("/v2/A/tags/list"),
            Err(RouteError::Name(_))
        ));
        assert!(matches!(
            OciRoute::parse("/v2/a/blobs/sha256:xyz"),
            Err(RouteError::Digest(_))
        ));
        assert!(matches!(
            OciRoute::parse("/v2/a/manifests/-bad"),
            Err(RouteError::Reference(_))
        ));
        assert!(matches!(
            OciRoute::parse("/v2/a/referrers/latest"),
            Err(RouteError::Digest(_))
        ));
        assert!(matches!(
            OciRoute::parse("/v2/a/blobs/uploads/../x"),
            Err(RouteError::NotFound(_))
        ));
        assert!(matches!(
            OciRoute::parse("/v2//tags/list"),
            Err(RouteError::Name(_))
        ));
    }
}
