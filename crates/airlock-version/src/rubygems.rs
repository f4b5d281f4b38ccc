//! Ruby gem versions, ordered like RubyGems' `Gem::Version#<=>`.
//!
//! A version must match `Gem::Version::ANCHORED_VERSION_PATTERN`; `-` is
//! rewritten to `.pre.`, a blank version means `0`. Segments are runs of
//! digits (numbers) or letters (strings, compared bytewise, case kept); a
//! string segment makes the version a pre-release, which sorts below the
//! release. Trailing zeros of the numeric part and of the pre-release part
//! are dropped (`canonical_segments`), so `1.0 = 1.0.0` and `1.0.a = 1.a`.

use std::cmp::Ordering;
use std::sync::LazyLock;

use regex::Regex;

use crate::{VersionError, VersionScheme, cmp_decimal};

/// RubyGems: `Gem::Version` ordering.
#[derive(Debug, Clone, Copy, Default)]
pub struct RubyGems;

const NAME: &str = "rubygems";

static PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$")
        .expect("gem version pattern compiles")
});

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Number(String),
    Text(String),
}

fn is_zero(s: &Segment) -> bool {
    matches!(s, Segment::Number(n) if n.bytes().all(|b| b == b'0'))
}

fn parse(input: &str) -> Result<Vec<Segment>, VersionError> {
    // Ruby's String#strip: ASCII whitespace and NUL
    let s = input.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\0' || c == '\x0b');
    let s = if s.is_empty() { "0" } else { s };
    if !PATTERN.is_match(s) {
        return Err(VersionError::new(
            NAME,
            input,
            "malformed version number string",
        ));
    }
    let s = s.replace('-', ".pre.");
    let mut segments = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        if bytes[i].is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            segments.push(Segment::Number(s[start..i].to_owned()));
        } else if bytes[i].is_ascii_alphabetic() {
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            segments.push(Segment::Text(s[start..i].to_owned()));
        } else {
            i += 1;
        }
    }
    // canonical_segments: drop trailing zeros from the numeric part and from
    // the part starting at the first string segment, then concatenate
    let split = segments
        .iter()
        .position(|s| matches!(s, Segment::Text(_)))
        .unwrap_or(segments.len());
    let mut strings = segments.split_off(split);
    while segments.last().is_some_and(is_zero) {
        segments.pop();
    }
    while strings.last().is_some_and(is_zero) {
        strings.pop();
    }
    segments.extend(strings);
    Ok(segments)
}

fn compare(a: &[Segment], b: &[Segment]) -> Ordering {
    let zero = Segment::Number("0".to_owned());
    for i in 0..a.len().max(b.len()) {
        let l = a.get(i).unwrap_or(&zero);
        let r = b.get(i).unwrap_or(&zero);
        let ord = match (l, r) {
            (Segment::Number(x), Segment::Number(y)) => cmp_decimal(x, y),
            (Segment::Text(x), Segment::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
            (Segment::Text(_), Segment::Number(_)) => Ordering::Less,
            (Segment::Number(_), Segment::Text(_)) => Ordering::Greater,
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

impl VersionScheme for RubyGems {
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
    use crate::testutil::{assert_invalid, check};
    use Ordering::{Equal, Greater, Less};

    /// rubygems test/rubygems/test_gem_version.rb.
    #[test]
    fn test_gem_version_cases() {
        let g = &RubyGems;
        // test_spaceship
        check(g, "1.0", "1.0.0", Equal);
        check(g, "1.0", "1.0.a", Greater);
        check(g, "1.8.2", "0.0.0", Greater);
        check(g, "1.8.2", "1.8.2.a", Greater);
        check(g, "1.8.2.b", "1.8.2.a", Greater);
        check(g, "1.8.2.a", "1.8.2", Less);
        check(g, "1.8.2.a10", "1.8.2.a9", Greater);
        check(g, "", "0", Equal);
        check(g, "0.beta.1", "0.0.beta.1", Equal);
        check(g, "0.0.beta", "0.0.beta.1", Less);
        check(g, "0.0.beta", "0.beta.1", Less);
        check(g, "5.a", "5.0.0.rc2", Less);
        check(g, "5.x", "5.0.0.rc2", Greater);
        // test_equals2 / test_initialize
        check(g, "1.2", "1.2", Equal);
        check(g, "1.2", "1.3", Less);
        check(g, "1.2.b1", "1.2.b.1", Equal);
        for good in ["1.0 ", " 1.0 ", "1.0\n", "\n1.0\n"] {
            check(g, "1.0", good, Equal);
        }
        // test_initialize_bad
        for bad in [
            "junk", "1.0\n2.0", "1..2", "1.2\\ 3", "1.0-", "-1", "1.2.3 4",
        ] {
            assert_invalid(g, bad);
        }
        // test_semver
        let ordered = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
        ];
        for pair in ordered.windows(2) {
            check(g, pair[0], pair[1], Less);
        }
        // test_prerelease: a string segment makes a pre-release
        for pre in ["1.2.0.a", "2.9.b", "22.1.50.0.d", "1.2.d.42", "1.A"] {
            let release = pre
                .split(|c: char| c.is_ascii_alphabetic())
                .next()
                .unwrap()
                .trim_end_matches('.');
            check(g, pre, release, Less);
        }
    }
}
