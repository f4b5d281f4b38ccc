//! PHP (Packagist / Composer) package versions, ordered the way Composer's
//! `Comparator` does: normalise with `VersionParser::normalize`, then
//! compare with PHP's `version_compare`.
//!
//! Supported is Composer's classical form `v?N(.N){0,3}` with an optional
//! stability modifier (`stable`, `alpha`/`a`, `beta`/`b`, `RC`, `patch`/`pl`/
//! `p`, with a number) and an optional `-dev` suffix; it is padded to four
//! numbers (`1.2` → `1.2.0.0`), so `1.2 = 1.2.0`. PHP's order then gives
//! `dev < alpha < beta < RC < release < patch`. Branch names (`dev-main`,
//! `1.x-dev`) have no place in an ordering and are rejected. Deviation:
//! Composer reads a first number of six or more digits as a date version and
//! does not pad it; we treat it as a classical version.

use std::cmp::Ordering;
use std::sync::LazyLock;

use regex::Regex;

use crate::{VersionError, VersionScheme, cmp_decimal};

/// Packagist: Composer's normaliser plus PHP `version_compare`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Packagist;

const NAME: &str = "packagist";

static CLASSICAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(\.[0-9]+)?(?:[._-]?(?:(stable|beta|b|rc|alpha|a|patch|pl|p)((?:[.-]?[0-9]+)*)?)?([.-]?dev)?)?$",
    )
    .expect("composer pattern compiles")
});

/// Composer's `VersionParser::normalize` for the classical form.
fn normalize(input: &str) -> Result<String, VersionError> {
    let s = input.trim();
    let caps = CLASSICAL
        .captures(s)
        .ok_or_else(|| VersionError::new(NAME, input, "not a composer version"))?;
    let mut out = caps[1].to_owned();
    for i in 2..=4 {
        out.push_str(caps.get(i).map_or(".0", |m| m.as_str()));
    }
    if let Some(stability) = caps.get(5) {
        // Composer returns early on exactly "stable", dropping any -dev
        if stability.as_str() == "stable" {
            return Ok(out);
        }
        let stability = stability.as_str().to_ascii_lowercase();
        {
            let expanded = match stability.as_str() {
                "a" => "alpha",
                "b" => "beta",
                "p" | "pl" => "patch",
                "rc" => "RC",
                other => other,
            };
            out.push('-');
            out.push_str(expanded);
            if let Some(n) = caps.get(6) {
                out.push_str(n.as_str().trim_start_matches(['.', '-']));
            }
        }
    }
    if caps.get(7).is_some() {
        out.push_str("-dev");
    }
    Ok(out)
}

/// PHP's `php_canonicalize_version`: `-_+` become `.`, a `.` goes between
/// every digit/non-digit transition, other non-alphanumerics become `.`.
fn canonicalize(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len() * 2);
    let Some((&first, rest)) = bytes.split_first() else {
        return String::new();
    };
    out.push(first);
    let mut lp = first;
    let isdig = |c: u8| c.is_ascii_digit();
    let isndig = |c: u8| !c.is_ascii_digit() && c != b'.';
    for &c in rest {
        let lq = *out.last().expect("out is non-empty");
        if c == b'-' || c == b'_' || c == b'+' {
            if lq != b'.' {
                out.push(b'.');
            }
        } else if (isndig(lp) && isdig(c)) || (isdig(lp) && isndig(c)) {
            if lq != b'.' {
                out.push(b'.');
            }
            out.push(c);
        } else if !c.is_ascii_alphanumeric() {
            if lq != b'.' {
                out.push(b'.');
            }
        } else {
            out.push(c);
        }
        lp = c;
    }
    String::from_utf8(out).expect("ascii in, ascii out")
}

/// PHP's `compare_special_version_forms` order (prefix match, in this order).
fn special_form(form: &str) -> i32 {
    const FORMS: [(&str, i32); 10] = [
        ("dev", 0),
        ("alpha", 1),
        ("a", 1),
        ("beta", 2),
        ("b", 2),
        ("RC", 3),
        ("rc", 3),
        ("#", 4),
        ("pl", 5),
        ("p", 5),
    ];
    FORMS
        .iter()
        .find(|(name, _)| form.starts_with(name))
        .map_or(-1, |(_, order)| *order)
}

const NUMBER_FORM: i32 = 4;

fn starts_with_digit(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_digit)
}

/// PHP's `version_compare` on two normalised versions.
fn php_version_compare(a: &str, b: &str) -> Ordering {
    let ca = canonicalize(a);
    let cb = canonicalize(b);
    let ta: Vec<&str> = ca.split('.').collect();
    let tb: Vec<&str> = cb.split('.').collect();
    let mut i = 0;
    while i < ta.len() && i < tb.len() {
        let (x, y) = (ta[i], tb[i]);
        let ord = match (starts_with_digit(x), starts_with_digit(y)) {
            (true, true) => cmp_decimal(x, y),
            (false, false) => special_form(x).cmp(&special_form(y)),
            (true, false) => NUMBER_FORM.cmp(&special_form(y)),
            (false, true) => special_form(x).cmp(&NUMBER_FORM),
        };
        if ord != Ordering::Equal {
            return ord;
        }
        i += 1;
    }
    if let Some(x) = ta.get(i) {
        if starts_with_digit(x) {
            Ordering::Greater
        } else {
            special_form(x).cmp(&NUMBER_FORM)
        }
    } else if let Some(y) = tb.get(i) {
        if starts_with_digit(y) {
            Ordering::Less
        } else {
            NUMBER_FORM.cmp(&special_form(y))
        }
    } else {
        Ordering::Equal
    }
}

impl VersionScheme for Packagist {
    fn name(&self) -> &'static str {
        NAME
    }

    fn compare(&self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        let a = normalize(a)?;
        let b = normalize(b)?;
        Ok(php_version_compare(&a, &b))
    }

    fn validate(&self, v: &str) -> Result<(), VersionError> {
        normalize(v).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{assert_invalid, check, check_sorted};
    use Ordering::{Equal, Greater, Less};

    /// Composer VersionParserTest::successfulNormalizedVersions (classical subset).
    #[test]
    fn composer_normalisation() {
        for (input, want) in [
            ("1.0.0", "1.0.0.0"),
            ("1.2.3.4", "1.2.3.4"),
            ("1.0.0RC1dev", "1.0.0.0-RC1-dev"),
            ("1.0.0-rC15-dev", "1.0.0.0-RC15-dev"),
            ("1.0.0.RC.15-dev", "1.0.0.0-RC15-dev"),
            ("1.0.0-rc1", "1.0.0.0-RC1"),
            ("1.0.0.pl3-dev", "1.0.0.0-patch3-dev"),
            ("1.0-dev", "1.0.0.0-dev"),
            ("0", "0.0.0.0"),
            ("10.4.13-beta", "10.4.13.0-beta"),
            ("10.4.13beta2", "10.4.13.0-beta2"),
            ("10.4.13beta.2", "10.4.13.0-beta2"),
            ("10.4.13-b", "10.4.13.0-beta"),
            ("10.4.13-b5", "10.4.13.0-beta5"),
            ("v1.0.0", "1.0.0.0"),
            ("1.0.0-stable", "1.0.0.0"),
            ("1.0.0-alpha3.1", "1.0.0.0-alpha3.1"),
            ("1.0.0-p1", "1.0.0.0-patch1"),
            ("1.0.0-stable-dev", "1.0.0.0"),
            ("1.0.0-STABLE", "1.0.0.0-stable"),
        ] {
            assert_eq!(normalize(input).unwrap(), want, "{input}");
        }
    }

    /// Found by the Composer oracle: exactly `stable` ends normalisation, so
    /// a `-dev` after it is dropped.
    #[test]
    fn regression_stable_modifier_drops_dev() {
        check(&Packagist, "1.0.0.0-stabledev", "1.0.0", Equal);
        check(&Packagist, "1.0.0.0-stable.dev", "v1.0", Equal);
        check(&Packagist, "01-dev", "1.0.0.0-stabledev", Less);
    }

    /// PHP ext/standard/tests/versioning/version_compare.phpt style cases on
    /// normalised input, and Composer's ordering of stabilities.
    #[test]
    fn ordering() {
        check(&Packagist, "1.0", "1.0.0", Equal);
        check(&Packagist, "v1.2.3", "1.2.3", Equal);
        check(&Packagist, "1.0.0-stable", "1.0.0", Equal);
        check(&Packagist, "1.0.0-RC1", "1.0.0-rc1", Equal);
        check(&Packagist, "1.10", "1.9.9", Greater);
        check(&Packagist, "2.0.0-beta", "2.0.0-beta1", Less);
        check_sorted(
            &Packagist,
            &[
                "1.0.0-dev",
                "1.0.0-alpha",
                "1.0.0-alpha2",
                "1.0.0-beta1",
                "1.0.0-beta2",
                "1.0.0-RC1",
                "1.0.0",
                "1.0.0-patch1",
                "1.0.1",
                "1.1",
                "5.4.47",
                "10.0.0",
            ],
        );
        assert_eq!(php_version_compare("1.0.0.0-beta2", "1.0.0.0"), Less);
        assert_eq!(php_version_compare("1.0pl1", "1.0"), Greater);
        assert_eq!(php_version_compare("1.0", "1.0.0"), Less);
        assert_eq!(php_version_compare("1.0-dev", "1.0a1"), Less);
        assert_eq!(php_version_compare("5.2", "5.2.0.0"), Less);
        for bad in ["", "dev-main", "1.x-dev", "foo", "1.0.0.0.0", "1.0 beta"] {
            assert_invalid(&Packagist, bad);
        }
    }
}
