//! The policy document: parsed once from YAML into typed values (parse,
//! don't validate), printed back in one canonical form.
//!
//! Every key is optional and an absent key disables its rule; unknown and
//! repeated keys are errors, because a misspelt rule that is silently ignored
//! is a gate that silently opens.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use airlock_scan_model::Severity;
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_yaml_ng::{Mapping, Value};

use crate::data_age::DataAge;
use crate::error::PolicyError;
use crate::package_pattern::PackagePattern;
use crate::platform::PlatformSpec;
use crate::severity::{SEVERITIES_DESCENDING, SeverityName, severity_name};

/// Every key a policy document may hold, in canonical order.
pub const POLICY_KEYS: &[&str] = &[
    "block_severity_at_or_above",
    "block_cvss_at_or_above",
    "max_findings",
    "ignore_unfixed",
    "deny_packages",
    "max_vulnerability_data_age",
    "block_unknown_os",
    "block_eol_os",
    "unknown_severity_as",
    "require_platforms",
    "demote_after",
];

/// A parsed, valid policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    block_severity_at_or_above: Option<Severity>,
    block_cvss_at_or_above: Option<f64>,
    max_findings: BTreeMap<Severity, u64>,
    ignore_unfixed: bool,
    deny_packages: Vec<PackagePattern>,
    max_vulnerability_data_age: Option<DataAge>,
    block_unknown_os: bool,
    block_eol_os: bool,
    unknown_severity_as: Option<Severity>,
    require_platforms: Vec<PlatformSpec>,
    demote_after: Option<DataAge>,
}

impl Policy {
    /// Parses a YAML policy document.
    ///
    /// Errors name the line (and column, past the first) and the key, e.g.
    /// `line 3: unknown rule "block_sevrity_at_or_above"; expected one of ...`
    /// or `line 2, column 29: block_severity_at_or_above: invalid severity
    /// "hihg"; use critical, high, medium, low or unknown`. An empty document
    /// (or one holding only comments) is a policy with no rules.
    pub fn from_yaml(text: &str) -> Result<Policy, PolicyError> {
        serde_yaml_ng::from_str::<Policy>(text).map_err(|error| PolicyError::from_yaml(&error))
    }

    /// The policy used when a tenant has none and no global default is set:
    /// block critical findings and fail closed on vulnerability data older
    /// than seven days (or missing), nothing else.
    ///
    /// ```
    /// let policy = airlock_policy::Policy::default_policy();
    /// assert_eq!(
    ///     policy.to_yaml(),
    ///     "block_severity_at_or_above: critical\nmax_vulnerability_data_age: 7d\n"
    /// );
    /// ```
    pub fn default_policy() -> Policy {
        Policy {
            block_severity_at_or_above: Some(Severity::Critical),
            max_vulnerability_data_age: Some(DataAge::from_seconds(7 * 86_400)),
            ..Policy::empty()
        }
    }

    /// A policy with no rule: only the built-in `scan_coverage` rule applies.
    pub(crate) fn empty() -> Policy {
        Policy {
            block_severity_at_or_above: None,
            block_cvss_at_or_above: None,
            max_findings: BTreeMap::new(),
            ignore_unfixed: false,
            deny_packages: Vec::new(),
            max_vulnerability_data_age: None,
            block_unknown_os: false,
            block_eol_os: false,
            unknown_severity_as: None,
            require_platforms: Vec::new(),
            demote_after: None,
        }
    }

    /// The canonical document: keys in [`POLICY_KEYS`] order, keys at their
    /// default (absent, `false`, empty) left out, severities most severe
    /// first, durations in their largest whole unit. `from_yaml(to_yaml(p))`
    /// equals `p`.
    pub fn to_yaml(&self) -> String {
        let mut document = Mapping::new();
        let mut put = |key: &str, value: Value| {
            document.insert(Value::String(key.to_owned()), value);
        };
        let text = |s: &str| Value::String(s.to_owned());
        if let Some(severity) = self.block_severity_at_or_above {
            put("block_severity_at_or_above", text(severity_name(severity)));
        }
        if let Some(score) = self.block_cvss_at_or_above {
            put("block_cvss_at_or_above", Value::Number(score.into()));
        }
        if !self.max_findings.is_empty() {
            let mut limits = Mapping::new();
            for severity in SEVERITIES_DESCENDING {
                if let Some(limit) = self.max_findings.get(&severity) {
                    limits.insert(
                        text(severity_name(severity)),
                        Value::Number((*limit).into()),
                    );
                }
            }
            put("max_findings", Value::Mapping(limits));
        }
        if self.ignore_unfixed {
            put("ignore_unfixed", Value::Bool(true));
        }
        if !self.deny_packages.is_empty() {
            let patterns = self.deny_packages.iter().map(|p| text(p.as_str()));
            put("deny_packages", Value::Sequence(patterns.collect()));
        }
        if let Some(age) = self.max_vulnerability_data_age {
            put("max_vulnerability_data_age", text(&age.to_string()));
        }
        if self.block_unknown_os {
            put("block_unknown_os", Value::Bool(true));
        }
        if self.block_eol_os {
            put("block_eol_os", Value::Bool(true));
        }
        if let Some(severity) = self.unknown_severity_as {
            put("unknown_severity_as", text(severity_name(severity)));
        }
        if !self.require_platforms.is_empty() {
            let platforms = self.require_platforms.iter().map(|p| text(&p.to_string()));
            put("require_platforms", Value::Sequence(platforms.collect()));
        }
        if let Some(grace) = self.demote_after {
            put("demote_after", text(&grace.to_string()));
        }
        // Serialising a mapping of strings, numbers and booleans cannot fail.
        serde_yaml_ng::to_string(&document).unwrap_or_default()
    }

    /// Findings at or above this severity fail `block_severity_at_or_above`.
    pub fn block_severity_at_or_above(&self) -> Option<Severity> {
        self.block_severity_at_or_above
    }

    /// Findings with a CVSS score at or above this fail
    /// `block_cvss_at_or_above`; always within 0.0–10.0.
    pub fn block_cvss_at_or_above(&self) -> Option<f64> {
        self.block_cvss_at_or_above
    }

    /// The most findings allowed per severity.
    pub fn max_findings(&self) -> &BTreeMap<Severity, u64> {
        &self.max_findings
    }

    /// Whether findings without a fixed version are ignored by every rule.
    pub fn ignore_unfixed(&self) -> bool {
        self.ignore_unfixed
    }

    /// Packages that must not be present.
    pub fn deny_packages(&self) -> &[PackagePattern] {
        &self.deny_packages
    }

    /// The oldest vulnerability data accepted.
    pub fn max_vulnerability_data_age(&self) -> Option<DataAge> {
        self.max_vulnerability_data_age
    }

    /// Whether an inventory without a detected OS fails.
    pub fn block_unknown_os(&self) -> bool {
        self.block_unknown_os
    }

    /// Whether an OS past its end of life (by the built-in table) fails.
    pub fn block_eol_os(&self) -> bool {
        self.block_eol_os
    }

    /// The severity findings of unknown severity count as.
    pub fn unknown_severity_as(&self) -> Option<Severity> {
        self.unknown_severity_as
    }

    /// When set, a promoted image that fails this policy on re-evaluation
    /// is demoted (removed from `scanned/`) once it has failed for this
    /// long. Not a rule: it never affects a verdict. Off by default.
    pub fn demote_after(&self) -> Option<std::time::Duration> {
        self.demote_after.map(DataAge::as_duration)
    }

    /// Platforms an index must contain.
    pub fn require_platforms(&self) -> &[PlatformSpec] {
        &self.require_platforms
    }
}

/// Reads one document key, rejecting unknown and repeated keys with the
/// key's own position (a seed, because it must know the keys already seen).
struct KeySeed<'s> {
    seen: &'s BTreeSet<&'static str>,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = &'static str;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a rule name")
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<&'static str, E> {
        let key = POLICY_KEYS
            .iter()
            .find(|key| **key == text)
            .ok_or_else(|| {
                E::custom(format_args!(
                    "unknown rule \"{text}\"; expected one of {}",
                    POLICY_KEYS.join(", ")
                ))
            })?;
        if self.seen.contains(key) {
            return Err(E::custom(format_args!("rule \"{key}\" is given twice")));
        }
        Ok(key)
    }
}

/// `block_cvss_at_or_above`: a finite number from 0 to 10.
struct CvssThreshold(f64);

impl<'de> Deserialize<'de> for CvssThreshold {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CvssVisitor;
        impl Visitor<'_> for CvssVisitor {
            type Value = CvssThreshold;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a CVSS score from 0.0 to 10.0")
            }
            fn visit_f64<E: de::Error>(self, score: f64) -> Result<CvssThreshold, E> {
                if score.is_finite() && (0.0..=10.0).contains(&score) {
                    Ok(CvssThreshold(score))
                } else {
                    Err(E::custom(format_args!(
                        "invalid CVSS score {score}; use a number from 0.0 to 10.0"
                    )))
                }
            }
            fn visit_u64<E: de::Error>(self, score: u64) -> Result<CvssThreshold, E> {
                // Precision loss is impossible for the accepted range.
                #[allow(clippy::cast_precision_loss)]
                self.visit_f64(score as f64)
            }
            fn visit_i64<E: de::Error>(self, score: i64) -> Result<CvssThreshold, E> {
                #[allow(clippy::cast_precision_loss)]
                self.visit_f64(score as f64)
            }
        }
        deserializer.deserialize_f64(CvssVisitor)
    }
}

/// One `max_findings` limit: a whole number, 0 or more.
struct Limit(u64);

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LimitVisitor;
        impl Visitor<'_> for LimitVisitor {
            type Value = Limit;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a whole number of findings, 0 or more")
            }
            fn visit_u64<E: de::Error>(self, limit: u64) -> Result<Limit, E> {
                Ok(Limit(limit))
            }
            fn visit_i64<E: de::Error>(self, limit: i64) -> Result<Limit, E> {
                u64::try_from(limit).map(Limit).map_err(|_| {
                    E::custom(format_args!(
                        "invalid limit {limit}; use a whole number of findings, 0 or more"
                    ))
                })
            }
        }
        deserializer.deserialize_any(LimitVisitor)
    }
}

/// `max_findings`: a severity → limit map without repeated severities.
struct MaxFindings(BTreeMap<Severity, u64>);

impl<'de> Deserialize<'de> for MaxFindings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LimitsVisitor;
        impl<'de> Visitor<'de> for LimitsVisitor {
            type Value = MaxFindings;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map from severity to a whole number, e.g. { critical: 0, high: 5 }")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaxFindings, A::Error> {
                let mut limits = BTreeMap::new();
                while let Some(SeverityName(severity)) = map.next_key()? {
                    let Limit(limit) = map.next_value()?;
                    if limits.insert(severity, limit).is_some() {
                        return Err(de::Error::custom(format_args!(
                            "severity \"{}\" is given twice",
                            severity_name(severity)
                        )));
                    }
                }
                Ok(MaxFindings(limits))
            }
        }
        deserializer.deserialize_map(LimitsVisitor)
    }
}

impl<'de> Deserialize<'de> for Policy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PolicyVisitor;
        impl<'de> Visitor<'de> for PolicyVisitor {
            type Value = Policy;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a policy: a map of rule names to settings")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Policy, E> {
                Ok(Policy::empty())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Policy, A::Error> {
                let mut policy = Policy::empty();
                let mut seen = BTreeSet::new();
                while let Some(key) = map.next_key_seed(KeySeed { seen: &seen })? {
                    seen.insert(key);
                    match key {
                        "block_severity_at_or_above" => {
                            let SeverityName(severity) = map.next_value()?;
                            policy.block_severity_at_or_above = Some(severity);
                        }
                        "block_cvss_at_or_above" => {
                            let CvssThreshold(score) = map.next_value()?;
                            policy.block_cvss_at_or_above = Some(score);
                        }
                        "max_findings" => {
                            let MaxFindings(limits) = map.next_value()?;
                            policy.max_findings = limits;
                        }
                        "ignore_unfixed" => policy.ignore_unfixed = map.next_value()?,
                        "deny_packages" => policy.deny_packages = map.next_value()?,
                        "max_vulnerability_data_age" => {
                            policy.max_vulnerability_data_age = Some(map.next_value()?);
                        }
                        "block_unknown_os" => policy.block_unknown_os = map.next_value()?,
                        "block_eol_os" => policy.block_eol_os = map.next_value()?,
                        "unknown_severity_as" => {
                            let SeverityName(severity) = map.next_value()?;
                            policy.unknown_severity_as = Some(severity);
                        }
                        "require_platforms" => policy.require_platforms = map.next_value()?,
                        "demote_after" => policy.demote_after = Some(map.next_value()?),
                        // `KeySeed` only yields names from POLICY_KEYS.
                        _ => return Err(de::Error::custom(format_args!("unknown rule \"{key}\""))),
                    }
                }
                Ok(policy)
            }
        }
        deserializer.deserialize_map(PolicyVisitor)
    }
}
