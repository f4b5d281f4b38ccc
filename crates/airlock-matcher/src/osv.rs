//! The subset of the OSV schema that matching needs.
//!
//! These structs are both the parser for osv.dev's JSON records and the
//! normalised form the vulnerability database stores: fields matching never
//! reads (`details`, `credits`, range `repo`, ...) are dropped on parse, so the
//! database keeps only what it needs. Unknown range types and unknown range
//! events are parse errors, which makes a record "bad" rather than silently
//! not matching.

use serde::{Deserialize, Deserializer, Serialize};

/// One OSV record, reduced to what matching and reporting read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    /// The record id, e.g. `GHSA-xxxx-xxxx-xxxx`, `DSA-5380-1`.
    pub id: String,
    /// RFC 3339 time of the last modification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// RFC 3339 time of publication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// RFC 3339 time the record was withdrawn; withdrawn records never match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    /// Other ids of the same vulnerability.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// One-line summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Scores (CVSS vectors and feed-specific ratings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<SeverityScore>,
    /// Reference URLs (the OSV objects are reduced to their `url`).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "reference_urls"
    )]
    pub references: Vec<String>,
    /// The rating fields of the record-level `database_specific`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "rating_object"
    )]
    pub database_specific: Option<FeedRating>,
    /// Affected packages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected: Vec<Affected>,
    /// Set by an [`AdvisorySource`](crate::AdvisorySource) that returned the
    /// record without what only reporting reads (see
    /// [`advisories_for_matching`](crate::AdvisorySource::advisories_for_matching)):
    /// what it left out, still in that source's own encoding (opaque to
    /// everyone else). Never read from or written to JSON.
    #[serde(skip)]
    pub deferred: Option<Box<[u8]>>,
}

/// One `severity[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityScore {
    /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4`, `Ubuntu`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// A CVSS vector, or a rating word for feed-specific types.
    pub score: String,
}

/// The rating words a feed puts in `database_specific` / `ecosystem_specific`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedRating {
    /// GitHub-style rating: `CRITICAL`, `HIGH`, `MODERATE`, `LOW`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_string"
    )]
    pub severity: Option<String>,
    /// Debian-style urgency: `unimportant`, `low`, `medium`, `high`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_string"
    )]
    pub urgency: Option<String>,
}

impl FeedRating {
    fn is_empty(&self) -> bool {
        self.severity.is_none() && self.urgency.is_none()
    }
}

/// One `affected[]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    /// The package; OSV allows it to be absent (then nothing matches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<AffectedPackage>,
    /// Per-package scores.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<SeverityScore>,
    /// Version ranges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Range>,
    /// Exact affected versions.
    #[serde(default, skip_serializing_if = "VersionList::is_empty")]
    pub versions: VersionList,
    /// Rating fields of `ecosystem_specific`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "rating_object"
    )]
    pub ecosystem_specific: Option<FeedRating>,
    /// Rating fields of `database_specific`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "rating_object"
    )]
    pub database_specific: Option<FeedRating>,
}

/// An `affected[].versions` list, held in one buffer.
///
/// Some feeds enumerate hundreds of versions per entry; one allocation per
/// list instead of one per version keeps lookups and matching cheap. It reads
/// and writes as the JSON array of strings it is in OSV.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct VersionList {
    /// The versions, each followed by `\n` (versions never contain one).
    joined: String,
}

impl VersionList {
    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.joined.is_empty()
    }

    /// The versions, in feed order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.joined.split_terminator('\n')
    }

    /// Whether `version` is listed verbatim.
    pub fn contains(&self, version: &str) -> bool {
        self.iter().any(|v| v == version)
    }

    fn push(&mut self, version: &str) {
        // A newline cannot be part of any ecosystem's version; drop it so the
        // list stays well-formed.
        self.joined.extend(version.chars().filter(|c| *c != '\n'));
        self.joined.push('\n');
    }
}

impl<S: AsRef<str>> FromIterator<S> for VersionList {
    fn from_iter<I: IntoIterator<Item = S>>(versions: I) -> Self {
        let mut list = VersionList::default();
        for version in versions {
            list.push(version.as_ref());
        }
        list
    }
}

impl std::fmt::Debug for VersionList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for VersionList {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for VersionList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = VersionList;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of version strings")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<VersionList, A::Error> {
                struct Version<'a>(&'a mut VersionList);
                impl<'de> serde::de::DeserializeSeed<'de> for Version<'_> {
                    type Value = ();
                    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                        d.deserialize_str(self)
                    }
                }
                impl<'de> serde::de::Visitor<'de> for Version<'_> {
                    type Value = ();
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("a version string")
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
                        self.0.push(v);
                        Ok(())
                    }
                }
                let mut list = VersionList::default();
                while seq.next_element_seed(Version(&mut list))?.is_some() {}
                Ok(list)
            }
        }
        deserializer.deserialize_seq(Visitor)
    }
}

/// `affected[].package`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedPackage {
    /// osv.dev ecosystem, e.g. `Debian:11`, `PyPI`.
    pub ecosystem: String,
    /// Package name as the feed keys it.
    pub name: String,
}

/// The kind of a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RangeKind {
    /// Versions ordered by the ecosystem's own scheme.
    Ecosystem,
    /// SemVer 2.0 ordering.
    Semver,
    /// Commit hashes: not matchable against installed packages.
    Git,
}

/// One `ranges[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// The range kind.
    #[serde(rename = "type")]
    pub kind: RangeKind,
    /// Events in feed order.
    pub events: Vec<Event>,
}

/// One range event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Inclusive lower bound; `"0"` means from the beginning.
    Introduced(String),
    /// Exclusive upper bound.
    Fixed(String),
    /// Inclusive upper bound.
    LastAffected(String),
    /// No version at or above this is in the range.
    Limit(String),
}

impl Event {
    /// The version the event names.
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        }
    }
}

/// Why a JSON document is not a usable OSV record.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Not JSON, or not the OSV shape (includes unknown range types).
    #[error("invalid osv record: {0}")]
    Invalid(#[from] serde_json::Error),
    /// A required field is absent or empty.
    #[error("osv record {id:?} is missing {field}")]
    Missing {
        /// The id, when there was one.
        id: String,
        /// The missing field.
        field: &'static str,
    },
}

impl Advisory {
    /// Parses one OSV JSON document, requiring `id` and `modified`.
    pub fn from_json(bytes: &[u8]) -> Result<Advisory, RecordError> {
        let advisory: Advisory = serde_json::from_slice(bytes)?;
        if advisory.id.trim().is_empty() {
            return Err(RecordError::Missing {
                id: String::new(),
                field: "id",
            });
        }
        if advisory.modified.is_none() {
            return Err(RecordError::Missing {
                id: advisory.id,
                field: "modified",
            });
        }
        Ok(advisory)
    }

    /// Whether the record was withdrawn.
    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn.is_some()
    }
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    })
}

fn rating_object<'de, D: Deserializer<'de>>(d: D) -> Result<Option<FeedRating>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    if !value.is_object() {
        return Ok(None);
    }
    let rating: FeedRating = serde_json::from_value(value).map_err(serde::de::Error::custom)?;
    Ok((!rating.is_empty()).then_some(rating))
}

fn reference_urls<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Reference {
        Url(String),
        Object { url: String },
    }
    let references: Option<Vec<Reference>> = Option::deserialize(d)?;
    Ok(references
        .unwrap_or_default()
        .into_iter()
        .map(|r| match r {
            Reference::Url(url) | Reference::Object { url } => url,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_lists_round_trip_as_json_arrays() {
        let json = r#"["1.0","2.0\u0041",""]"#;
        let list: VersionList = serde_json::from_str(json).unwrap();
        assert_eq!(list.iter().collect::<Vec<_>>(), vec!["1.0", "2.0A", ""]);
        assert!(list.contains("2.0A") && list.contains("") && !list.contains("2.0"));
        assert_eq!(
            serde_json::to_string(&list).unwrap(),
            r#"["1.0","2.0A",""]"#
        );
        assert!(serde_json::from_str::<VersionList>("[1]").is_err());
        let built: VersionList = ["a", "b\nc"].into_iter().collect();
        assert_eq!(built.iter().collect::<Vec<_>>(), vec!["a", "bc"]);
    }

    #[test]
    fn references_accept_objects_and_strings() {
        let advisory = Advisory::from_json(
            br#"{"id":"X","modified":"2024-01-01T00:00:00Z","references":[{"type":"WEB","url":"https://a"},"https://b"],
                "database_specific":{"severity":"HIGH","cwe_ids":["CWE-79"]},
                "affected":[{"package":{"ecosystem":"Go","name":"m"},"ecosystem_specific":{"imports":[]},"database_specific":"text"}]}"#,
        )
        .unwrap();
        assert_eq!(advisory.references, vec!["https://a", "https://b"]);
        assert_eq!(
            advisory.database_specific.unwrap().severity.as_deref(),
            Some("HIGH")
        );
        assert_eq!(advisory.affected[0].ecosystem_specific, None);
        assert_eq!(advisory.affected[0].database_specific, None);
    }
}
