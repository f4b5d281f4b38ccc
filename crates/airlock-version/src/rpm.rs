//! RPM package versions (`[epoch:]version[-release]`), ordered exactly like
//! rpm's `rpmvercmp` applied to epoch, version and release in turn.
//!
//! A port of rpmvercmp (rpmio/rpmvercmp.c): runs of ASCII letters or digits
//! are compared, everything else separates; digits beat letters; `~` sorts
//! before anything, even the end of the string; `^` sorts after the end of
//! the string but before any further segment. The split follows rpm's
//! `parseEVR`: the epoch is the leading digits before a `:`, the release is
//! after the last `-`. A missing epoch is 0; a missing release compares like
//! an empty one (below any release). Characters are limited to what rpm
//! allows in a version (ASCII letters, digits and `._+%{}~^`).

use std::cmp::Ordering;

use crate::{VersionError, VersionScheme};

/// Red Hat, Rocky, Alma, SUSE, openSUSE, Mageia, openEuler: rpm ordering.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rpm;

const NAME: &str = "rpm";

pub(crate) struct Evr<'a> {
    pub epoch: &'a str,
    pub version: &'a str,
    pub release: &'a str,
}

fn allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._+%{}~^".contains(&b)
}

pub(crate) fn parse(input: &str) -> Result<Evr<'_>, VersionError> {
    let err = |reason: &str| VersionError::new(NAME, input, reason);
    if input.is_empty() {
        return Err(err("version string is empty"));
    }
    let digits = input.bytes().take_while(u8::is_ascii_digit).count();
    let (epoch, rest) = if input.as_bytes().get(digits) == Some(&b':') {
        let epoch = &input[..digits];
        (
            if epoch.is_empty() { "0" } else { epoch },
            &input[digits + 1..],
        )
    } else {
        ("0", input)
    };
    let (version, release) = match rest.rfind('-') {
        Some(i) => {
            let release = &rest[i + 1..];
            if release.is_empty() {
                return Err(err("release is empty"));
            }
            (&rest[..i], release)
        }
        None => (rest, ""),
    };
    if version.is_empty() {
        return Err(err("version is empty"));
    }
    if let Some(bad) = version.bytes().find(|&b| !allowed(b)) {
        return Err(err(&format!(
            "invalid character {:?} in version",
            bad as char
        )));
    }
    if let Some(bad) = release.bytes().find(|&b| !allowed(b)) {
        return Err(err(&format!(
            "invalid character {:?} in release",
            bad as char
        )));
    }
    Ok(Evr {
        epoch,
        version,
        release,
    })
}

/// rpm's `rpmvercmp`.
pub(crate) fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let a = a.as_bytes();
    let b = b.as_bytes();
    let (mut i, mut j) = (0usize, 0usize);
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    while i < a.len() || j < b.len() {
        while i < a.len() && sep(a[i]) {
            i += 1;
        }
        while j < b.len() && sep(b[j]) {
            j += 1;
        }
        let ca = a.get(i).copied();
        let cb = b.get(j).copied();
        // tilde sorts before everything else
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        // caret: like tilde, except that the end of string sorts lower
        if ca == Some(b'^') || cb == Some(b'^') {
            if ca.is_none() {
                return Ordering::Less;
            }
            if cb.is_none() {
                return Ordering::Greater;
            }
            if ca != Some(b'^') {
                return Ordering::Greater;
            }
            if cb != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca.is_none() || cb.is_none() {
            break;
        }
        let (start_a, start_b) = (i, j);
        let isnum = a[i].is_ascii_digit();
        if isnum {
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
        } else {
            while i < a.len() && a[i].is_ascii_alphabetic() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_alphabetic() {
                j += 1;
            }
        }
        // segments of different types: numeric is newer
        if start_b == j {
            return if isnum {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let mut seg_a = &a[start_a..i];
        let mut seg_b = &b[start_b..j];
        if isnum {
            while seg_a.first() == Some(&b'0') {
                seg_a = &seg_a[1..];
            }
            while seg_b.first() == Some(&b'0') {
                seg_b = &seg_b[1..];
            }
            match seg_a.len().cmp(&seg_b.len()) {
                Ordering::Equal => {}
                other => return other,
            }
        }
        match seg_a.cmp(seg_b) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

impl VersionScheme for Rpm {
    fn name(&self) -> &'static str {
        NAME
    }

    fn compare(&self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        let a = parse(a)?;
        let b = parse(b)?;
        Ok(rpmvercmp(a.epoch, b.epoch)
            .then_with(|| rpmvercmp(a.version, b.version))
            .then_with(|| rpmvercmp(a.release, b.release)))
    }

    fn validate(&self, v: &str) -> Result<(), VersionError> {
        parse(v).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{assert_invalid, check, check_table};
    use Ordering::{Equal, Greater, Less};

    /// rpm tests/rpmvercmp.at, every active RPMVERCMP line, on rpmvercmp
    /// directly (some inputs such as `+a` are not valid whole versions).
    #[test]
    fn rpmvercmp_at_vectors() {
        let table: &[(&str, &str, i32)] = &[
            ("1.0", "1.0", 0),
            ("1.0", "2.0", -1),
            ("2.0", "1.0", 1),
            ("2.0.1", "2.0.1", 0),
            ("2.0", "2.0.1", -1),
            ("2.0.1", "2.0", 1),
            ("2.0.1a", "2.0.1a", 0),
            ("2.0.1a", "2.0.1", 1),
            ("2.0.1", "2.0.1a", -1),
            ("5.5p1", "5.5p1", 0),
            ("5.5p1", "5.5p2", -1),
            ("5.5p2", "5.5p1", 1),
            ("5.5p10", "5.5p10", 0),
            ("5.5p1", "5.5p10", -1),
            ("5.5p10", "5.5p1", 1),
            ("10xyz", "10.1xyz", -1),
            ("10.1xyz", "10xyz", 1),
            ("xyz10", "xyz10", 0),
            ("xyz10", "xyz10.1", -1),
            ("xyz10.1", "xyz10", 1),
            ("xyz.4", "xyz.4", 0),
            ("xyz.4", "8", -1),
            ("8", "xyz.4", 1),
            ("xyz.4", "2", -1),
            ("2", "xyz.4", 1),
            ("5.5p2", "5.6p1", -1),
            ("5.6p1", "5.5p2", 1),
            ("5.6p1", "6.5p1", -1),
            ("6.5p1", "5.6p1", 1),
            ("6.0.rc1", "6.0", 1),
            ("6.0", "6.0.rc1", -1),
            ("10b2", "10a1", 1),
            ("10a2", "10b2", -1),
            ("1.0aa", "1.0aa", 0),
            ("1.0a", "1.0aa", -1),
            ("1.0aa", "1.0a", 1),
            ("10.0001", "10.0001", 0),
            ("10.0001", "10.1", 0),
            ("10.1", "10.0001", 0),
            ("10.0001", "10.0039", -1),
            ("10.0039", "10.0001", 1),
            ("4.999.9", "5.0", -1),
            ("5.0", "4.999.9", 1),
            ("20101121", "20101121", 0),
            ("20101121", "20101122", -1),
            ("20101122", "20101121", 1),
            ("2_0", "2_0", 0),
            ("2.0", "2_0", 0),
            ("2_0", "2.0", 0),
            ("a", "a", 0),
            ("a+", "a+", 0),
            ("a+", "a_", 0),
            ("a_", "a+", 0),
            ("+a", "+a", 0),
            ("+a", "_a", 0),
            ("_a", "+a", 0),
            ("+_", "+_", 0),
            ("_+", "+_", 0),
            ("_+", "_+", 0),
            ("+", "_", 0),
            ("_", "+", 0),
            ("1.0~rc1", "1.0~rc1", 0),
            ("1.0~rc1", "1.0", -1),
            ("1.0", "1.0~rc1", 1),
            ("1.0~rc1", "1.0~rc2", -1),
            ("1.0~rc2", "1.0~rc1", 1),
            ("1.0~rc1~git123", "1.0~rc1~git123", 0),
            ("1.0~rc1~git123", "1.0~rc1", -1),
            ("1.0~rc1", "1.0~rc1~git123", 1),
            // caret tests from later rpm releases' rpmvercmp.at
            ("1.0^", "1.0^", 0),
            ("1.0^", "1.0", 1),
            ("1.0", "1.0^", -1),
            ("1.0^git1", "1.0^git1", 0),
            ("1.0^git1", "1.0", 1),
            ("1.0", "1.0^git1", -1),
            ("1.0^git1", "1.0^git2", -1),
            ("1.0^git2", "1.0^git1", 1),
            ("1.0^git1", "1.01", -1),
            ("1.01", "1.0^git1", 1),
            ("1.0^20160101", "1.0^20160101", 0),
            ("1.0^20160101", "1.0.1", -1),
            ("1.0.1", "1.0^20160101", 1),
            ("1.0^20160101^git1", "1.0^20160101^git1", 0),
            ("1.0^20160102", "1.0^20160101^git1", 1),
            ("1.0^20160101^git1", "1.0^20160102", -1),
            ("1.0~rc1^git1", "1.0~rc1^git1", 0),
            ("1.0~rc1^git1", "1.0~rc1", 1),
            ("1.0~rc1", "1.0~rc1^git1", -1),
            ("1.0^git1~pre", "1.0^git1~pre", 0),
            ("1.0^git1", "1.0^git1~pre", 1),
            ("1.0^git1~pre", "1.0^git1", -1),
        ];
        for &(a, b, want) in table {
            let got = match rpmvercmp(a, b) {
                Less => -1,
                Equal => 0,
                Greater => 1,
            };
            assert_eq!(got, want, "rpmvercmp({a:?}, {b:?})");
        }
    }

    #[test]
    fn epoch_version_release() {
        let r = &Rpm;
        check_table(
            r,
            "
            1.0-1 = 0:1.0-1
            1:1.0-1 > 2.0-1
            1.0-1.el9 < 1.0-2.el9
            1.0-1.el9 < 1.0-1.el9_1
            1.0 < 1.0-1
            2.4.57-5.el9 < 2.4.57-5.el9_2.1
            2.4.57-11.el9_4 > 2.4.57-8.el9
            010:1-1 = 10:1-1
            ",
        );
        check(r, ":1.0-1", "0:1.0-1", Equal);
        for bad in ["", "1.0-", "-1", "1:-1", "1.0 -1", "1.0-1 2", "1,0", "é"] {
            assert_invalid(r, bad);
        }
    }
}
