//! Debian package versions (`[epoch:]upstream[-revision]`), ordered exactly
//! like `dpkg --compare-versions`.
//!
//! A port of dpkg's `parseversion` (lib/dpkg/parsehelp.c) and `verrevcmp`
//! (lib/dpkg/version.c), Debian Policy §5.6.12. Where dpkg only warns (an
//! upstream version that does not start with a digit, characters outside the
//! allowed set) it still compares, and so do we; where it errors (empty
//! version, bad epoch, empty revision, embedded spaces) we return an error.

use std::cmp::Ordering;

use crate::{VersionError, VersionScheme};

/// Debian and Ubuntu: dpkg ordering.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dpkg;

const NAME: &str = "dpkg";

struct DebVersion<'a> {
    epoch: u32,
    upstream: &'a str,
    revision: &'a str,
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn parse(input: &str) -> Result<DebVersion<'_>, VersionError> {
    let err = |reason: &str| VersionError::new(NAME, input, reason);
    let s = input.trim_matches(|c| c == ' ' || c == '\t');
    if s.is_empty() {
        return Err(err("version string is empty"));
    }
    if s.bytes().any(is_blank) {
        return Err(err("version string has embedded spaces"));
    }
    let (epoch, rest) = match s.find(':') {
        Some(colon) => {
            // strtol: optional sign, then digits, must stop exactly at the colon
            let head = &s[..colon];
            let (negative, digits) = match head.as_bytes().first() {
                Some(b'-') => (true, &head[1..]),
                Some(b'+') => (false, &head[1..]),
                _ => (false, head),
            };
            let digit_len = digits.bytes().take_while(u8::is_ascii_digit).count();
            if digit_len == 0 {
                return Err(err("epoch in version is empty"));
            }
            if digit_len != digits.len() {
                return Err(err("epoch in version is not number"));
            }
            let trimmed = digits.trim_start_matches('0');
            let epoch: u64 = if trimmed.len() > 10 {
                u64::MAX
            } else {
                trimmed.parse().unwrap_or(0)
            };
            if negative && epoch != 0 {
                return Err(err("epoch in version is negative"));
            }
            if epoch > i32::MAX as u64 {
                return Err(err("epoch in version is too big"));
            }
            let rest = &s[colon + 1..];
            if rest.is_empty() {
                return Err(err("nothing after colon in version number"));
            }
            (epoch as u32, rest)
        }
        None => (0, s),
    };
    let (upstream, revision) = match rest.rfind('-') {
        Some(hyphen) => {
            let revision = &rest[hyphen + 1..];
            if revision.is_empty() {
                return Err(err("revision number is empty"));
            }
            (&rest[..hyphen], revision)
        }
        None => (rest, ""),
    };
    if upstream.is_empty() {
        return Err(err("version number is empty"));
    }
    // The remaining checks of parseversion are warnings only: dpkg compares anyway.
    Ok(DebVersion {
        epoch,
        upstream,
        revision,
    })
}

/// dpkg's `order()`: `~` first, then end/digits, then letters, then the rest.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        // C `char` is signed: bytes >= 0x80 are negative before the + 256
        Some(c) => i32::from(c as i8) + 256,
    }
}

/// dpkg's `verrevcmp`.
fn verrevcmp(a: &str, b: &str) -> Ordering {
    let a = a.as_bytes();
    let b = b.as_bytes();
    let (mut i, mut j) = (0, 0);
    let at = |k: usize| a.get(k).copied();
    let bt = |k: usize| b.get(k).copied();
    let is_digit = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_digit());
    while i < a.len() || j < b.len() {
        let mut first_diff = 0i32;
        while (at(i).is_some() && !is_digit(at(i))) || (bt(j).is_some() && !is_digit(bt(j))) {
            let ac = order(at(i));
            let bc = order(bt(j));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while at(i) == Some(b'0') {
            i += 1;
        }
        while bt(j) == Some(b'0') {
            j += 1;
        }
        while is_digit(at(i)) && is_digit(bt(j)) {
            if first_diff == 0 {
                first_diff = i32::from(a[i]) - i32::from(b[j]);
            }
            i += 1;
            j += 1;
        }
        if is_digit(at(i)) {
            return Ordering::Greater;
        }
        if is_digit(bt(j)) {
            return Ordering::Less;
        }
        if first_diff != 0 {
            return first_diff.cmp(&0);
        }
    }
    Ordering::Equal
}

impl VersionScheme for Dpkg {
    fn name(&self) -> &'static str {
        NAME
    }

    fn compare(&self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        let a = parse(a)?;
        let b = parse(b)?;
        Ok(a.epoch
            .cmp(&b.epoch)
            .then_with(|| verrevcmp(a.upstream, b.upstream))
            .then_with(|| verrevcmp(a.revision, b.revision)))
    }

    fn validate(&self, v: &str) -> Result<(), VersionError> {
        parse(v).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{assert_invalid, assert_valid, check, check_table};
    use Ordering::{Equal, Less};

    /// lib/dpkg/t/t-version.c: test_version_compare and test_version_parse,
    /// written as version strings.
    #[test]
    fn dpkg_t_version_vectors() {
        let d = &Dpkg;
        // test_version_compare
        check(d, "1:0", "2:0", Less);
        check(d, "1-1", "2-1", Less);
        check(d, "1-1", "1-2", Less);
        check(d, "0-0", "0-0", Equal);
        check(d, "0-00", "00-0", Equal);
        check(d, "1:2-3", "1:2-3", Equal);
        check(d, "0:0-0", "1:0-0", Less);
        check(d, "0:a-0", "0:b-0", Less);
        check(d, "0:0-a", "0:0-b", Less);
        // test_version_parse
        check(d, "0", "0:0", Equal);
        check(d, "0:0-0", "0-0", Equal);
        check(d, "0:0.0-0.0", "0.0-0.0", Equal);
        check(d, "1:0", "1:0", Equal);
        check(d, "5:1", "5:1", Equal);
        check(d, "0:0-0-0", "0-0-0", Equal);
        check(d, "0:0-0-0-0", "0-0-0-0", Equal);
        check(d, "0:0:0-0", "0:0:0-0", Equal);
        check(d, "0:0:0:0-0", "0:0:0:0-0", Equal);
        check(d, "0:0:0-0-0", "0:0:0-0-0", Equal);
        check(d, "0:0-0:0-0", "0:0-0:0-0", Equal);
        check(d, "0:09azAZ.-+~:-0", "0:09azAZ.-+~:-0", Equal);
        check(d, "0:0-azAZ09.+~", "0:0-azAZ09.+~", Equal);
        check(d, "  \t0:0-1", "0:0-1", Equal);
        check(d, "0:0-1\t  ", "0:0-1", Equal);
        check(d, "\t  0:0-1  \t", "0:0-1", Equal);
        // errors
        for bad in [
            "",
            "  ",
            "0:",
            "0:0 0-1",
            "-1:0-1",
            "999999999999999999999999:0-1",
            "a:0-0",
            "A:0-0",
            "-0",
            "0:-0",
            "0:0-",
            "1.0-0:0",
            "2147483648:1",
        ] {
            assert_invalid(d, bad);
        }
        // warnings only in dpkg: it compares anyway
        assert_valid(d, "0:abc3-0");
        for c in "!#@$%&/|\\<>()[]{};,_=*^'".chars() {
            assert_valid(d, &format!("0:0{c}-0"));
        }
        assert_valid(d, "0:0-0:0");
        assert_valid(d, "2147483647:1");
    }

    /// Debian Policy §5.6.12 and the dpkg man page examples.
    #[test]
    fn policy_examples() {
        let n = check_table(
            &Dpkg,
            "
            1.0~rc1 < 1.0
            1.0~~ < 1.0~~a
            1.0~~a < 1.0~
            1.0~ < 1.0
            1.0 < 1.0a
            ~~ < ~~a
            ~~a < ~
            ~ < 0
            1.0 = 1.0-0
            1.0 < 1.0-1
            1.0a < 1.0+
            1.0+ < 1.0.
            1:0.1 > 9.9
            2.10 > 2.9
            1.002 = 1.2
            1.0-1ubuntu1 > 1.0-1
            1.0-1 < 1.0-1+deb12u1
            1.0+dfsg-1 > 1.0-1
            1.0-1~bpo12+1 < 1.0-1
            7.88.1-10+deb12u5 < 7.88.1-10+deb12u6
            2.36-9+deb12u4 < 2.36-9+deb12u10
            2:1.0~ > 1:9.0  # epoch first
            10:1 > 9:1  # epoch is numeric
            ",
        );
        assert!(n >= 20);
    }
}
