//! SemVer 2.0.0 versions (npm, crates.io, Hex, Pub), ordered by the
//! precedence rules of semver.org §11.
//!
//! Strict `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]` with no leading zeros in
//! numeric identifiers. As npm does, one leading `=` and one leading `v` are
//! stripped, and surrounding whitespace is ignored. Build metadata is
//! validated but ignored for ordering. The identifier rules here are shared
//! with the Go and NuGet schemes.

use std::cmp::Ordering;

use crate::{VersionError, VersionScheme, cmp_decimal, is_digits};

/// npm, crates.io, Hex, Pub: SemVer 2.0 precedence.
#[derive(Debug, Clone, Copy, Default)]
pub struct SemVer;

const NAME: &str = "semver";

/// A parsed SemVer version; build metadata is dropped.
#[derive(Debug)]
struct Parsed<'a> {
    core: [&'a str; 3],
    pre: Vec<&'a str>,
}

pub(crate) fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A numeric identifier: digits, no leading zero unless it is `0`.
pub(crate) fn is_numeric_no_leading_zero(s: &str) -> bool {
    is_digits(s) && (s == "0" || !s.starts_with('0'))
}

/// Splits `core[-pre][+build]` and checks the pre-release and build parts.
/// Returns (core, pre identifiers).
pub(crate) fn split_pre_build(s: &str) -> Result<(&str, Vec<&str>), String> {
    let (rest, build) = match s.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (s, None),
    };
    if let Some(build) = build
        && !build.split('.').all(is_identifier)
    {
        return Err("invalid build metadata".to_owned());
    }
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => {
            let ids: Vec<&str> = pre.split('.').collect();
            for id in &ids {
                if !is_identifier(id) {
                    return Err("invalid pre-release identifier".to_owned());
                }
                if is_digits(id) && !is_numeric_no_leading_zero(id) {
                    return Err("numeric pre-release identifier has a leading zero".to_owned());
                }
            }
            (core, ids)
        }
        None => (rest, Vec::new()),
    };
    Ok((core, pre))
}

fn parse(input: &str) -> Result<Parsed<'_>, VersionError> {
    let err = |reason: &str| VersionError::new(NAME, input, reason);
    let mut s = input.trim();
    s = s.strip_prefix('=').unwrap_or(s).trim_start();
    s = s.strip_prefix('v').unwrap_or(s);
    if s.is_empty() {
        return Err(err("version string is empty"));
    }
    let (core, pre) = split_pre_build(s).map_err(|r| err(&r))?;
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3 {
        return Err(err("expected major.minor.patch"));
    }
    for p in &parts {
        if !is_numeric_no_leading_zero(p) {
            return Err(err("version numbers must be digits without leading zeros"));
        }
    }
    Ok(Parsed {
        core: [parts[0], parts[1], parts[2]],
        pre,
    })
}

/// semver.org §11: identifiers compared left to right, numeric ones
/// numerically and below alphanumeric ones (ASCII order); a longer list wins
/// when all shared identifiers are equal; no pre-release beats any.
pub(crate) fn cmp_prerelease(a: &[&str], b: &[&str]) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        (false, false) => {}
    }
    for (x, y) in a.iter().zip(b) {
        let ord = match (is_digits(x), is_digits(y)) {
            (true, true) => cmp_decimal(x, y),
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.len().cmp(&b.len())
}

fn cmp_parsed(a: &Parsed<'_>, b: &Parsed<'_>) -> Ordering {
    a.core
        .iter()
        .zip(&b.core)
        .map(|(x, y)| cmp_decimal(x, y))
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
        .then_with(|| cmp_prerelease(&a.pre, &b.pre))
}

impl VersionScheme for SemVer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn compare(&self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        let a = parse(a)?;
        let b = parse(b)?;
        Ok(cmp_parsed(&a, &b))
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

    /// semver.org §11 precedence examples.
    #[test]
    fn semver_org_precedence() {
        check_sorted(&SemVer, &["1.0.0", "2.0.0", "2.1.0", "2.1.1"]);
        check_sorted(
            &SemVer,
            &[
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
            ],
        );
    }

    #[test]
    fn build_metadata_and_prefixes_are_ignored() {
        check(&SemVer, "1.0.0+build.1", "1.0.0+build.2", Equal);
        check(&SemVer, "1.0.0-alpha+001", "1.0.0-alpha", Equal);
        check(&SemVer, "v1.2.3", "1.2.3", Equal);
        check(&SemVer, "=1.2.3", "1.2.3", Equal);
        check(&SemVer, "=v1.2.3", "1.2.3", Equal);
        check(&SemVer, "1.2.3-0", "1.2.3-alpha", Ordering::Less);
        check(
            &SemVer,
            "18446744073709551616.0.0",
            "18446744073709551615.0.0",
            Ordering::Greater,
        );
    }

    #[test]
    fn invalid_versions() {
        for bad in [
            "",
            "1",
            "1.2",
            "1.2.3.4",
            "01.2.3",
            "1.02.3",
            "1.2.03",
            "1.2.3-01",
            "1.2.3-",
            "1.2.3+",
            "1.2.3-a..b",
            "1.2.3+a..b",
            "1.2.3-a_b",
            "a.b.c",
            "1.2.3 4",
            "vv1.2.3",
            "1.2.3-é",
        ] {
            assert_invalid(&SemVer, bad);
        }
    }
}
