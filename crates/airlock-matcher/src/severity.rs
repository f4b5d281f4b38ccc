//! Severity of a matched record.
//!
//! A computed CVSS base score wins (v3.x preferred over v4.0, because most
//! feeds and policies are written against v3 ratings); without one, the
//! feed's own rating word is used; otherwise the severity is `unknown` and
//! policy decides what that means.

use std::str::FromStr;

use airlock_scan_model::Severity;

use crate::osv::{Advisory, Affected, FeedRating, SeverityScore};

/// A severity with the score and vector it came from, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Rated {
    /// The rating.
    pub severity: Severity,
    /// CVSS base score, when computed from a vector.
    pub cvss_score: Option<f64>,
    /// The vector the score was computed from.
    pub cvss_vector: Option<String>,
}

impl Rated {
    fn unknown() -> Rated {
        Rated {
            severity: Severity::Unknown,
            cvss_score: None,
            cvss_vector: None,
        }
    }
}

/// Rating of a CVSS base score (0.0, "none", counts as low: a vector exists).
pub fn rating_for_score(score: f64) -> Severity {
    if score >= 9.0 {
        Severity::Critical
    } else if score >= 7.0 {
        Severity::High
    } else if score >= 4.0 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// Computes the base score of a CVSS v3.x or v4.0 vector.
pub fn cvss_base_score(vector: &str) -> Option<f64> {
    if !(vector.starts_with("CVSS:3.") || vector.starts_with("CVSS:4.")) {
        return None;
    }
    cvss::Cvss::from_str(vector).ok().map(|c| c.score())
}

/// Maps a feed's rating word (GitHub, Debian urgency, Ubuntu priority).
pub fn rating_for_word(word: &str) -> Severity {
    let word: String = word
        .chars()
        .take_while(|c| c.is_ascii_alphabetic() || *c == ' ')
        .collect::<String>()
        .trim()
        .to_ascii_lowercase();
    match word.as_str() {
        "critical" => Severity::Critical,
        "high" | "important" => Severity::High,
        "moderate" | "medium" => Severity::Medium,
        "low" | "negligible" | "unimportant" => Severity::Low,
        _ => Severity::Unknown,
    }
}

fn from_vectors(scores: &[SeverityScore]) -> Option<Rated> {
    for kind in ["CVSS_V3", "CVSS_V4"] {
        for entry in scores.iter().filter(|s| s.kind == kind) {
            if let Some(score) = cvss_base_score(&entry.score) {
                return Some(Rated {
                    severity: rating_for_score(score),
                    cvss_score: Some(score),
                    cvss_vector: Some(entry.score.clone()),
                });
            }
        }
    }
    None
}

fn from_words(scores: &[SeverityScore], ratings: &[Option<&FeedRating>]) -> Option<Severity> {
    let words = scores
        .iter()
        .filter(|s| !s.kind.starts_with("CVSS_"))
        .map(|s| s.score.as_str())
        .chain(ratings.iter().flatten().flat_map(|r| {
            [r.severity.as_deref(), r.urgency.as_deref()]
                .into_iter()
                .flatten()
        }));
    words
        .map(rating_for_word)
        .filter(|s| *s != Severity::Unknown)
        .max()
}

/// The severity of `advisory` for the matched `affected` entries.
pub fn rate(advisory: &Advisory, affected: &[&Affected]) -> Rated {
    let per_package = affected.iter().flat_map(|a| a.severity.iter().cloned());
    let all_scores: Vec<SeverityScore> = advisory
        .severity
        .iter()
        .cloned()
        .chain(per_package)
        .collect();
    if let Some(rated) = from_vectors(&all_scores) {
        return rated;
    }
    let mut ratings: Vec<Option<&FeedRating>> = vec![advisory.database_specific.as_ref()];
    for a in affected {
        ratings.push(a.ecosystem_specific.as_ref());
        ratings.push(a.database_specific.as_ref());
    }
    match from_words(&all_scores, &ratings) {
        Some(severity) => Rated {
            severity,
            cvss_score: None,
            cvss_vector: None,
        },
        None => Rated::unknown(),
    }
}
