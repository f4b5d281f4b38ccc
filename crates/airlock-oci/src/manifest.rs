//! Parsing and validating pushed manifests.
//!
//! airlock stores manifest bytes exactly as pushed and serves them back
//! unchanged; this module only extracts what the registry must know (the
//! referenced blobs and child manifests, `subject`, `artifactType`,
//! annotations) and refuses documents that are not valid manifests.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{Digest, media_type};

/// A content descriptor, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// Digest of the referenced content.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// `artifactType`, when present.
    pub artifact_type: Option<String>,
    /// Annotations, when present.
    pub annotations: BTreeMap<String, String>,
}

/// Whether a manifest is a single image (or artifact) or an index of manifests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    /// An OCI image manifest or Docker schema 2 manifest.
    Image,
    /// An OCI image index or Docker manifest list.
    Index,
}

/// What the registry needs to know about a pushed manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedManifest {
    /// The effective media type.
    pub media_type: String,
    /// Image or index.
    pub kind: ManifestKind,
    /// The config descriptor (images only).
    pub config: Option<Descriptor>,
    /// Layer (or blob) descriptors (images only).
    pub layers: Vec<Descriptor>,
    /// Child manifests (indexes only).
    pub manifests: Vec<Descriptor>,
    /// The `subject` this manifest refers to.
    pub subject: Option<Descriptor>,
    /// `artifactType`, or for images the config media type when that is not
    /// the standard image config (as the referrers API defines it).
    pub artifact_type: Option<String>,
    /// Top-level annotations.
    pub annotations: BTreeMap<String, String>,
}

/// Why a manifest was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Not JSON, or not the shape of a manifest.
    #[error("manifest is not valid: {0}")]
    Invalid(String),
    /// The media type is not one airlock stores.
    #[error("media type {0:?} is not a supported manifest type")]
    UnsupportedMediaType(String),
    /// `Content-Type` and the document's `mediaType` disagree.
    #[error("content type {content_type:?} does not match the manifest's mediaType {media_type:?}")]
    MediaTypeMismatch {
        /// The request's Content-Type.
        content_type: String,
        /// The document's mediaType.
        media_type: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: Option<i64>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<RawDescriptor>,
    layers: Option<Vec<RawDescriptor>>,
    manifests: Option<Vec<RawDescriptor>>,
    subject: Option<RawDescriptor>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDescriptor {
    media_type: Option<String>,
    digest: Option<String>,
    size: Option<i64>,
    artifact_type: Option<String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

impl RawDescriptor {
    fn validate(self, field: &str) -> Result<Descriptor, ManifestError> {
        let invalid = |what: &str| ManifestError::Invalid(format!("{field}: {what}"));
        let media_type = self
            .media_type
            .ok_or_else(|| invalid("mediaType is missing"))?;
        let digest = self
            .digest
            .ok_or_else(|| invalid("digest is missing"))?
            .parse()
            .map_err(|e: crate::DigestError| invalid(&e.to_string()))?;
        let size = self.size.ok_or_else(|| invalid("size is missing"))?;
        let size = u64::try_from(size).map_err(|_| invalid("size is negative"))?;
        Ok(Descriptor {
            media_type,
            digest,
            size,
            artifact_type: self.artifact_type,
            annotations: self.annotations,
        })
    }
}

/// Media types accepted as manifests.
pub const SUPPORTED: [&str; 4] = [
    media_type::OCI_MANIFEST,
    media_type::OCI_INDEX,
    media_type::DOCKER_MANIFEST,
    media_type::DOCKER_MANIFEST_LIST,
];

impl ParsedManifest {
    /// Parses `bytes` pushed with `content_type` (the request's `Content-Type`, if any).
    pub fn parse(
        bytes: &[u8],
        content_type: Option<&str>,
    ) -> Result<ParsedManifest, ManifestError> {
        let raw: RawManifest = serde_json::from_slice(bytes)
            .map_err(|e| ManifestError::Invalid(format!("not a JSON manifest: {e}")))?;
        let content_type = content_type
            .map(|c| c.split(';').next().unwrap_or(c).trim())
            .filter(|c| !c.is_empty());
        let media_type = match (&raw.media_type, content_type) {
            (Some(declared), Some(header)) if declared != header => {
                return Err(ManifestError::MediaTypeMismatch {
                    content_type: header.to_owned(),
                    media_type: declared.clone(),
                });
            }
            (Some(declared), _) => declared.clone(),
            (None, Some(header)) => header.to_owned(),
            (None, None) if raw.manifests.is_some() => media_type::OCI_INDEX.to_owned(),
            (None, None) => media_type::OCI_MANIFEST.to_owned(),
        };
        if !SUPPORTED.contains(&media_type.as_str()) {
            return Err(ManifestError::UnsupportedMediaType(media_type));
        }
        if raw.schema_version != Some(2) {
            return Err(ManifestError::Invalid("schemaVersion must be 2".into()));
        }
        let kind = if media_type == media_type::OCI_INDEX
            || media_type == media_type::DOCKER_MANIFEST_LIST
        {
            ManifestKind::Index
        } else {
            ManifestKind::Image
        };
        let subject = raw.subject.map(|s| s.validate("subject")).transpose()?;
        match kind {
            ManifestKind::Image => {
                if raw.manifests.is_some() {
                    return Err(ManifestError::Invalid(
                        "an image manifest has no manifests field".into(),
                    ));
                }
                let config = raw
                    .config
                    .ok_or_else(|| ManifestError::Invalid("config is missing".into()))?
                    .validate("config")?;
                let layers = raw
                    .layers
                    .ok_or_else(|| ManifestError::Invalid("layers is missing".into()))?
                    .into_iter()
                    .enumerate()
                    .map(|(i, l)| l.validate(&format!("layers[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                let artifact_type = raw.artifact_type.or_else(|| {
                    (config.media_type != media_type::OCI_CONFIG
                        && config.media_type != media_type::DOCKER_CONFIG)
                        .then(|| config.media_type.clone())
                });
                Ok(ParsedManifest {
                    media_type,
                    kind,
                    config: Some(config),
                    layers,
                    manifests: Vec::new(),
                    subject,
                    artifact_type,
                    annotations: raw.annotations,
                })
            }
            ManifestKind::Index => {
                if raw.layers.is_some() || raw.config.is_some() {
                    return Err(ManifestError::Invalid(
                        "an index has no config or layers".into(),
                    ));
                }
                let manifests = raw
                    .manifests
                    .ok_or_else(|| ManifestError::Invalid("manifests is missing".into()))?
                    .into_iter()
                    .enumerate()
                    .map(|(i, m)| m.validate(&format!("manifests[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(ParsedManifest {
                    media_type,
                    kind,
                    config: None,
                    layers: Vec::new(),
                    manifests,
                    subject,
                    artifact_type: raw.artifact_type,
                    annotations: raw.annotations,
                })
            }
        }
    }

    /// Every blob the manifest references (config first, then layers).
    pub fn blobs(&self) -> impl Iterator<Item = &Descriptor> {
        self.config.iter().chain(self.layers.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn image(config_type: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{config_type}","digest":"{}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":10}}],"subject":{{"mediaType":"{}","digest":"{}","size":5}},"annotations":{{"a":"b"}}}}"#,
            media_type::OCI_MANIFEST,
            d('a'),
            d('b'),
            media_type::OCI_MANIFEST,
            d('c')
        )
    }

    #[test]
    fn parses_an_image_with_subject_and_artifact_type() {
        let m = ParsedManifest::parse(
            image("application/vnd.example+json").as_bytes(),
            Some(media_type::OCI_MANIFEST),
        )
        .unwrap();
        assert_eq!(m.kind, ManifestKind::Image);
        assert_eq!(m.blobs().count(), 2);
        assert_eq!(m.subject.unwrap().digest.to_string(), d('c'));
        assert_eq!(
            m.artifact_type.as_deref(),
            Some("application/vnd.example+json")
        );
        assert_eq!(m.annotations.get("a").map(String::as_str), Some("b"));
        let plain = ParsedManifest::parse(image(media_type::OCI_CONFIG).as_bytes(), None).unwrap();
        assert_eq!(plain.artifact_type, None);
    }

    #[test]
    fn parses_an_index() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{{"mediaType":"{}","digest":"{}","size":7,"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#,
            media_type::DOCKER_MANIFEST_LIST,
            media_type::DOCKER_MANIFEST,
            d('e')
        );
        let m =
            ParsedManifest::parse(body.as_bytes(), Some(media_type::DOCKER_MANIFEST_LIST)).unwrap();
        assert_eq!(m.kind, ManifestKind::Index);
        assert_eq!(m.manifests.len(), 1);
    }

    #[test]
    fn refuses_mismatch_unsupported_and_malformed() {
        let body = image(media_type::OCI_CONFIG);
        assert!(matches!(
            ParsedManifest::parse(body.as_bytes(), Some(media_type::OCI_INDEX)),
            Err(ManifestError::MediaTypeMismatch { .. })
        ));
        assert!(matches!(
            ParsedManifest::parse(br#"{"schemaVersion":2,"mediaType":"text/plain"}"#, None),
            Err(ManifestError::UnsupportedMediaType(_))
        ));
        for bad in [
            &b"not json"[..],
            br#"{"schemaVersion":1,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#,
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}"#,
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":"sha256:zz","size":1},"layers":[]}"#,
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":-1},"layers":[]}"#,
        ] {
            assert!(matches!(ParsedManifest::parse(bad, None), Err(ManifestError::Invalid(_))), "{}", String::from_utf8_lossy(bad));
        }
    }
}
