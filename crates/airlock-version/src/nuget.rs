//! NuGet package versions, ordered like NuGet.Versioning's `VersionComparer`.
//!
//! NuGet is SemVer 2.0 with legacy allowances, following `NuGetVersion.TryParse`:
//! one to four numeric parts (`1`, `1.0`, `1.0.0`, `1.0.0.0`; missing parts
//! are 0, so `1.0` equals `1.0.0.0`; leading zeros allowed, `01.0` equals
//! `1.0`; each part at most `i32::MAX`), dot-separated pre-release labels of
//! `[0-9A-Za-z-]` with no leading zero on a numeric label, and build
//! metadata that is ignored for ordering. Labels compare as in
//! `CompareRelease`: both parse as `Int32` → numerically; one does → it sorts
//! first; otherwise case-insensitively (`OrdinalIgnoreCase`).

use std::cmp::Ordering;

use crate::semver::is_identifier;
use crate::{VersionError, VersionScheme, cmp_decimal, is_digits};

/// NuGet: normalised SemVer.
#[derive(Debug, Clone, Copy, Default)]
pub struct NuGet;

const NAME: &str = "nuget";

struct Parsed<'a> {
    parts: [&'a str; 4],
    labels: Vec<&'a str>,
}

fn parse(input: &str) -> Result<Parsed<'_>, VersionError> {
    let err = |reason: &str| VersionError::new(NAME, input, reason);
    let s = input.trim();
    if s.is_empty() {
        return Err(err("version string is empty"));
    }
    let (rest, build) = match s.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (s, None),
    };
    if let Some(build) = build
        && !build.split('.').all(is_identifier)
    {
        return Err(err("invalid build metadata"));
    }
    let (core, labels) = match rest.split_once('-') {
        Some((core, pre)) => {
            let labels: Vec<&str> = pre.split('.').collect();
            if !labels.iter().all(|l| is_identifier(l)) {
                return Err(err("invalid pre-release label"));
            }
            if labels
                .iter()
                .any(|l| l.len() > 1 && l.starts_with('0') && is_digits(l))
            {
                return Err(err("numeric pre-release label has a leading zero"));
            }
            (core, labels)
        }
        None => (rest, Vec::new()),
    };
    let nums: Vec<&str> = core.split('.').collect();
    if nums.len() > 4 || !nums.iter().all(|n| is_digits(n)) {
        return Err(err("expected one to four numeric parts"));
    }
    if nums
        .iter()
        .any(|n| cmp_decimal(n, "2147483647") == Ordering::Greater)
    {
        return Err(err("version part is larger than 2147483647"));
    }
    let get = |i: usize| nums.get(i).copied().unwrap_or("0");
    Ok(Parsed {
        parts: [get(0), get(1), get(2), get(3)],
        labels,
    })
}

/// `Int32.TryParse` on a label (labels hold no whitespace or `+`).
fn label_number(label: &str) -> Option<i32> {
    label.parse().ok()
}

fn cmp_label(a: &str, b: &str) -> Ordering {
    match (label_number(a), label_number(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        // StringComparer.OrdinalIgnoreCase compares upper-cased
        (None, None) => a
            .bytes()
            .map(|c| c.to_ascii_uppercase())
            .cmp(b.bytes().map(|c| c.to_ascii_uppercase())),
    }
}

fn compare(a: &Parsed<'_>, b: &Parsed<'_>) -> Ordering {
    for (x, y) in a.parts.iter().zip(&b.parts) {
        match cmp_decimal(x, y) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    match (a.labels.is_empty(), b.labels.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        (false, false) => {}
    }
    for (x, y) in a.labels.iter().zip(&b.labels) {
        match cmp_label(x, y) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    a.labels.len().cmp(&b.labels.len())
}

impl VersionScheme for NuGet {
    fn name(&self) -> &'static str {
        NAME
    }

    fn compare(&self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        let a = parse(a)?;
        let b = parse(b)?;
        Ok(compare(&a, &b))
    }

    fn validate(&self, v: &str) -> Result<(), VersionError> {
        parse(v).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{assert_invalid, check, check_sorted};
    use Ordering::Equal;

    /// NuGet.Versioning VersionComparerTests equality and ordering cases.
    #[test]
    fn nuget_versioning_cases() {
        for (a, b) in [
            ("1.0", "1.0.0"),
            ("1.0.0", "1.0.0.0"),
            ("1", "1.0.0.0"),
            ("01.0", "1.0"),
            ("1.0.0-BETA", "1.0.0-beta"),
            ("1.0.0-beta.1", "1.0.0-BETA.1"),
            ("1.0.0-beta+abc", "1.0.0-beta+xyz"),
            ("1.0.0+ABC", "1.0.0"),
        ] {
            check(&NuGet, a, b, Equal);
        }
        check_sorted(
            &NuGet,
            &[
                "0.9.9",
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
                "1.0.0.1",
                "1.0.1",
                "1.1",
                "2.0.0.0",
            ],
        );
        for bad in [
            "",
            "v1.0",
            "1.0.0.0.0",
            "1..0",
            "1.0-",
            "1.0+",
            "1.0-a..b",
            "a.b",
            "1.0 beta",
        ] {
            assert_invalid(&NuGet, bad);
        }
    }
}
