//! Severity names as the policy document spells them, and the one place that
//! turns a string into an [`airlock_scan_model::Severity`].

use std::fmt;

use airlock_scan_model::Severity;
use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Every severity, most severe first: the order of `max_findings` in the
/// canonical document and of the keys in messages.
pub(crate) const SEVERITIES_DESCENDING: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Unknown,
];

/// The lowercase name of a severity, as written in policies and verdicts.
pub fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
        Severity::Unknown => "unknown",
    }
}

fn parse_severity(text: &str) -> Option<Severity> {
    SEVERITIES_DESCENDING
        .into_iter()
        .find(|severity| severity_name(*severity) == text)
}

/// A severity read from the document (a newtype so it can carry its own
/// error message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SeverityName(pub(crate) Severity);

impl<'de> Deserialize<'de> for SeverityName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SeverityVisitor;
        impl Visitor<'_> for SeverityVisitor {
            type Value = SeverityName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a severity: critical, high, medium, low or unknown")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<SeverityName, E> {
                parse_severity(text).map(SeverityName).ok_or_else(|| {
                    E::custom(format_args!(
                        "invalid severity \"{text}\"; use critical, high, medium, low or unknown"
                    ))
                })
            }
        }
        deserializer.deserialize_str(SeverityVisitor)
    }
}
