//! What `airlock scan TARGET` can point at, parsed once into a [`Target`].
//!
//! - `oci:DIR[:TAG]`: an OCI image layout directory;
//! - `docker-archive:FILE`: the tar `docker save` writes;
//! - `HOST[:PORT]/REPO[:TAG]` or `HOST[:PORT]/REPO@sha256:...`: an image in a
//!   registry (an optional `docker://` prefix is accepted; no tag means `latest`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use airlock_scan_model::Platform;

use crate::digest::Digest;
use crate::error::SourceError;

/// A parsed scan target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An OCI image layout directory, optionally with a tag.
    OciLayout {
        /// The layout directory.
        dir: PathBuf,
        /// The `org.opencontainers.image.ref.name` to pick.
        tag: Option<String>,
    },
    /// A `docker save` archive.
    DockerArchive {
        /// The tar file.
        path: PathBuf,
    },
    /// An image in a registry.
    Registry(RegistryReference),
}

/// `HOST[:PORT]/REPO` plus a tag or digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryReference {
    /// `host[:port]`.
    pub registry: String,
    /// Repository path, e.g. `library/debian`.
    pub repository: String,
    /// Tag or digest.
    pub reference: TagOrDigest,
}

/// The part after the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagOrDigest {
    /// `:tag`.
    Tag(String),
    /// `@sha256:...`.
    Digest(Digest),
}

impl fmt::Display for TagOrDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagOrDigest::Tag(tag) => f.write_str(tag),
            TagOrDigest::Digest(digest) => write!(f, "{digest}"),
        }
    }
}

impl fmt::Display for RegistryReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reference {
            TagOrDigest::Tag(tag) => write!(f, "{}/{}:{tag}", self.registry, self.repository),
            TagOrDigest::Digest(digest) => {
                write!(f, "{}/{}@{digest}", self.registry, self.repository)
            }
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::OciLayout {
                dir,
                tag: Some(tag),
            } => write!(f, "oci:{}:{tag}", dir.display()),
            Target::OciLayout { dir, tag: None } => write!(f, "oci:{}", dir.display()),
            Target::DockerArchive { path } => write!(f, "docker-archive:{}", path.display()),
            Target::Registry(reference) => write!(f, "{reference}"),
        }
    }
}

impl FromStr for Target {
    type Err = SourceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| SourceError::InvalidTarget {
            target: text.to_string(),
            reason: reason.to_string(),
        };
        if let Some(rest) = text.strip_prefix("oci:") {
            // The tag is what follows the last ':' unless that part looks like a path.
            let (dir, tag) = match rest.rsplit_once(':') {
                Some((dir, tag)) if !tag.is_empty() && !tag.contains('/') && !dir.is_empty() => {
                    (dir, Some(tag))
                }
                _ => (rest, None),
            };
            if dir.is_empty() {
                return Err(invalid("expected oci:DIR[:TAG]"));
            }
            return Ok(Target::OciLayout {
                dir: PathBuf::from(dir),
                tag: tag.map(str::to_string),
            });
        }
        if let Some(path) = text.strip_prefix("docker-archive:") {
            if path.is_empty() {
                return Err(invalid("expected docker-archive:FILE"));
            }
            return Ok(Target::DockerArchive {
                path: PathBuf::from(path),
            });
        }
        let rest = text.strip_prefix("docker://").unwrap_or(text);
        let (registry, path) = rest.split_once('/').ok_or_else(|| {
            invalid("expected oci:DIR[:TAG], docker-archive:FILE or HOST[:PORT]/REPO[:TAG|@DIGEST]")
        })?;
        if !(registry.contains('.') || registry.contains(':') || registry == "localhost") {
            return Err(invalid(
                "a registry reference must start with a host name (HOST[:PORT]/REPO:TAG)",
            ));
        }
        let (repository, reference) = if let Some((repository, digest)) = path.split_once('@') {
            (repository, TagOrDigest::Digest(digest.parse()?))
        } else {
            match path.rsplit_once(':') {
                Some((repository, tag)) if !tag.contains('/') => {
                    (repository, TagOrDigest::Tag(tag.to_string()))
                }
                _ => (path, TagOrDigest::Tag("latest".to_string())),
            }
        };
        let valid_repository = !repository.is_empty()
            && repository.split('/').all(|part| {
                !part.is_empty()
                    && part.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            });
        if !valid_repository {
            return Err(invalid("the repository must be lowercase path components"));
        }
        if let TagOrDigest::Tag(tag) = &reference {
            let valid_tag = !tag.is_empty()
                && tag.len() <= 128
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !valid_tag {
                return Err(invalid("invalid tag"));
            }
        }
        Ok(Target::Registry(RegistryReference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            reference,
        }))
    }
}

/// `--platform os/arch[/variant]`: which image of an index to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformFilter {
    /// Required OS.
    pub os: String,
    /// Required architecture.
    pub architecture: String,
    /// Required variant, if given.
    pub variant: Option<String>,
}

impl PlatformFilter {
    /// Whether `platform` satisfies this filter.
    pub fn matches(&self, platform: &Platform) -> bool {
        platform.os == self.os
            && platform.architecture == self.architecture
            && (self.variant.is_none() || self.variant == platform.variant)
    }
}

impl fmt::Display for PlatformFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

impl FromStr for PlatformFilter {
    type Err = SourceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split('/').collect();
        let invalid = || SourceError::InvalidPlatform {
            platform: text.to_string(),
        };
        if parts.iter().any(|part| part.is_empty()) {
            return Err(invalid());
        }
        match parts.as_slice() {
            [os, architecture] => Ok(PlatformFilter {
                os: os.to_string(),
                architecture: architecture.to_string(),
                variant: None,
            }),
            [os, architecture, variant] => Ok(PlatformFilter {
                os: os.to_string(),
                architecture: architecture.to_string(),
                variant: Some(variant.to_string()),
            }),
            _ => Err(invalid()),
        }
    }
}

/// Renders a platform as `os/arch[/variant]`.
pub fn platform_text(platform: &Platform) -> String {
    match &platform.variant {
        Some(variant) => format!("{}/{}/{variant}", platform.os, platform.architecture),
        None => format!("{}/{}", platform.os, platform.architecture),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_target_form() {
        let digest = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        let cases: Vec<(String, Target)> = vec![
            (
                "oci:./img".into(),
                Target::OciLayout {
                    dir: "./img".into(),
                    tag: None,
                },
            ),
            (
                "oci:/tmp/img:v1".into(),
                Target::OciLayout {
                    dir: "/tmp/img".into(),
                    tag: Some("v1".into()),
                },
            ),
            (
                "docker-archive:a.tar".into(),
                Target::DockerArchive {
                    path: "a.tar".into(),
                },
            ),
            (
                "127.0.0.1:5000/team/app:1.0".into(),
                Target::Registry(RegistryReference {
                    registry: "127.0.0.1:5000".into(),
                    repository: "team/app".into(),
                    reference: TagOrDigest::Tag("1.0".into()),
                }),
            ),
            (
                "registry.example/app".into(),
                Target::Registry(RegistryReference {
                    registry: "registry.example".into(),
                    repository: "app".into(),
                    reference: TagOrDigest::Tag("latest".into()),
                }),
            ),
            (
                format!("docker://localhost/app@{digest}"),
                Target::Registry(RegistryReference {
                    registry: "localhost".into(),
                    repository: "app".into(),
                    reference: TagOrDigest::Digest(digest.parse().unwrap()),
                }),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<Target>().unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn rejects_malformed_targets() {
        for bad in [
            "debian:12",
            "oci:",
            "docker-archive:",
            "host.example/App:1",
            "host.example/app@sha256:12",
            "host.example/app:t@g",
        ] {
            assert!(bad.parse::<Target>().is_err(), "{bad}");
        }
    }

    #[test]
    fn platform_filter_matches_variant_only_when_given() {
        let arm = Platform {
            os: "linux".into(),
            architecture: "arm64".into(),
            variant: Some("v8".into()),
        };
        assert!(
            "linux/arm64"
                .parse::<PlatformFilter>()
                .unwrap()
                .matches(&arm)
        );
        assert!(
            "linux/arm64/v8"
                .parse::<PlatformFilter>()
                .unwrap()
                .matches(&arm)
        );
        assert!(
            !"linux/arm64/v7"
                .parse::<PlatformFilter>()
                .unwrap()
                .matches(&arm)
        );
        assert!(
            !"linux/amd64"
                .parse::<PlatformFilter>()
                .unwrap()
                .matches(&arm)
        );
        assert!("linux".parse::<PlatformFilter>().is_err());
        assert!("linux//v8".parse::<PlatformFilter>().is_err());
    }
}
