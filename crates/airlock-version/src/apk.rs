//! Alpine (and Wolfi, Chainguard) package versions, ordered exactly like
//! apk-tools.
//!
//! A token-for-token port of the current apk-tools `src/version.c` (the
//! rewrite shipped since apk-tools 2.14, with apk-tools 3's `~hash` token):
//! `digit{.digit}...{letter}{_suf{#}}...{~hash}{-r#}`. `_alpha`, `_beta`,
//! `_pre`, `_rc` sort before the release, `_cvs`, `_svn`, `_git`, `_hg`, `_p`
//! after it, `-rN` is the package revision, and a dotted component where
//! either side has a leading zero (`1.01`) is compared as a string, as Gentoo
//! does. A version that `apk_version_validate` rejects is an error here
//! (apk-tools itself falls back to a string sort for those).

use std::cmp::Ordering;

use crate::{VersionError, VersionScheme, cmp_decimal};

/// Alpine, Wolfi, Chainguard: apk-tools ordering.
#[derive(Debug, Clone, Copy, Default)]
pub struct Apk;

const NAME: &str = "apk";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Token {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
    Invalid,
}

/// Suffix ranks; `None` is the pivot between pre- and post-release.
const SUFFIXES: [&str; 11] = [
    "", "alpha", "beta", "pre", "rc", "", "cvs", "svn", "git", "hg", "p",
];
const SUFFIX_INVALID: usize = 0;
const SUFFIX_NONE: usize = 5;

fn suffix_value(suffix: &[u8]) -> usize {
    let Some(&first) = suffix.first() else {
        return SUFFIX_INVALID;
    };
    let val = match first {
        b'a' => 1,
        b'b' => 2,
        b'c' => 6,
        b'g' => 8,
        b'h' => 9,
        b'p' => {
            if suffix.len() > 1 {
                3
            } else {
                10
            }
        }
        b'r' => 4,
        b's' => 7,
        _ => return SUFFIX_INVALID,
    };
    if SUFFIXES[val].as_bytes() == suffix {
        val
    } else {
        SUFFIX_INVALID
    }
}

struct TokenState<'a> {
    token: Token,
    suffix: usize,
    value: &'a [u8],
}

struct Blob<'a> {
    s: &'a [u8],
}

impl<'a> Blob<'a> {
    fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a [u8] {
        let n = self.s.iter().take_while(|&&b| pred(b)).count();
        let (head, tail) = self.s.split_at(n);
        self.s = tail;
        head
    }
    fn skip(&mut self, n: usize) {
        self.s = &self.s[n..];
    }
}

fn parse_digits<'a>(t: &mut TokenState<'a>, b: &mut Blob<'a>) {
    t.value = b.take_while(|c| c.is_ascii_digit());
    if t.value.is_empty() {
        t.token = Token::Invalid;
    }
}

fn token_first<'a>(b: &mut Blob<'a>) -> TokenState<'a> {
    let mut t = TokenState {
        token: Token::InitialDigit,
        suffix: SUFFIX_INVALID,
        value: &[],
    };
    parse_digits(&mut t, b);
    t
}

fn token_next<'a>(t: &mut TokenState<'a>, b: &mut Blob<'a>) {
    let Some(&c) = b.s.first() else {
        t.token = Token::End;
        return;
    };
    match c {
        b'a'..=b'z' if t.token <= Token::Digit => {
            t.value = &b.s[..1];
            t.token = Token::Letter;
            b.skip(1);
        }
        b'.' | b'0'..=b'9'
            if t.token <= Token::Digit || (c != b'.' && t.token == Token::Suffix) =>
        {
            if c == b'.' {
                b.skip(1);
            }
            t.token = if t.token == Token::Suffix {
                Token::SuffixNo
            } else {
                Token::Digit
            };
            parse_digits(t, b);
        }
        b'_' if t.token <= Token::SuffixNo => {
            b.skip(1);
            t.value = b.take_while(|c| c.is_ascii_lowercase());
            t.suffix = suffix_value(t.value);
            t.token = if t.suffix == SUFFIX_INVALID {
                Token::Invalid
            } else {
                Token::Suffix
            };
        }
        b'~' if t.token < Token::CommitHash => {
            b.skip(1);
            t.value = b.take_while(|c| c.is_ascii_hexdigit());
            t.token = if t.value.is_empty() {
                Token::Invalid
            } else {
                Token::CommitHash
            };
        }
        b'-' if t.token < Token::RevisionNo && b.s.starts_with(b"-r") => {
            b.skip(2);
            t.token = Token::RevisionNo;
            parse_digits(t, b);
        }
        _ => t.token = Token::Invalid,
    }
}

fn as_str(v: &[u8]) -> &str {
    std::str::from_utf8(v).expect("token values are ascii")
}

fn token_cmp(ta: &TokenState<'_>, tb: &TokenState<'_>) -> Ordering {
    match ta.token {
        Token::Digit if ta.value.first() == Some(&b'0') || tb.value.first() == Some(&b'0') => {
            // a leading zero on either side: raw string comparison, as Gentoo
            ta.value.cmp(tb.value)
        }
        Token::Digit | Token::InitialDigit | Token::SuffixNo | Token::RevisionNo => {
            cmp_decimal(as_str(ta.value), as_str(tb.value))
        }
        Token::Letter => ta.value[0].cmp(&tb.value[0]),
        Token::Suffix => ta.suffix.cmp(&tb.suffix),
        _ => ta.value.cmp(tb.value),
    }
}

fn validate(input: &str) -> Result<(), VersionError> {
    if input.is_empty() {
        return Err(VersionError::new(NAME, input, "version string is empty"));
    }
    let mut b = Blob {
        s: input.as_bytes(),
    };
    let mut t = token_first(&mut b);
    while t.token < Token::End {
        token_next(&mut t, &mut b);
    }
    if t.token == Token::End {
        Ok(())
    } else {
        let offset = input.len() - b.s.len();
        Err(VersionError::new(
            NAME,
            input,
            format!("does not follow the apk version grammar near offset {offset}"),
        ))
    }
}

/// apk-tools' `apk_version_compare_fuzzy` with `fuzzy = false`.
fn compare_valid(a: &str, b: &str) -> Ordering {
    let mut ba = Blob { s: a.as_bytes() };
    let mut bb = Blob { s: b.as_bytes() };
    let mut ta = token_first(&mut ba);
    let mut tb = token_first(&mut bb);
    while ta.token == tb.token && ta.token < Token::End {
        let r = token_cmp(&ta, &tb);
        if r != Ordering::Equal {
            return r;
        }
        token_next(&mut ta, &mut ba);
        token_next(&mut tb, &mut bb);
    }
    if ta.token == tb.token {
        return Ordering::Equal;
    }
    // equal so far: the longer one is greater unless it goes on with a
    // pre-release suffix
    if ta.token == Token::Suffix && ta.suffix < SUFFIX_NONE {
        return Ordering::Less;
    }
    if tb.token == Token::Suffix && tb.suffix < SUFFIX_NONE {
        return Ordering::Greater;
    }
    tb.token.cmp(&ta.token)
}

impl VersionScheme for Apk {
    fn name(&self) -> &'static str {
        NAME
    }

    fn compare(&self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        validate(a)?;
        validate(b)?;
        Ok(compare_valid(a, b))
    }

    fn validate(&self, v: &str) -> Result<(), VersionError> {
        validate(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{assert_invalid, assert_valid, check, check_table};

    /// apk-tools test/version.data (as of commit 50ab589e), every line. The
    /// two lines apk-tools marks as invalid versions are checked as errors.
    const VERSION_DATA: &str = include_str!("../tests/data/apk-version.data");

    #[test]
    fn apk_tools_version_data() {
        let mut valid = String::new();
        let mut invalid_lines = 0;
        for line in VERSION_DATA.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 3 {
                continue;
            }
            if validate(fields[0]).is_err() || validate(fields[2]).is_err() {
                invalid_lines += 1;
                continue;
            }
            valid.push_str(line);
            valid.push('\n');
        }
        let n = check_table(&Apk, &valid);
        assert_eq!(invalid_lines, 2, "only 23_foo and 1.0bc are invalid");
        assert!(n > 600, "{n} lines checked");
        assert_invalid(&Apk, "23_foo");
        assert_invalid(&Apk, "1.0bc");
    }

    #[test]
    fn validation() {
        for good in [
            "1",
            "1.2.3",
            "1.2.3a",
            "1.2_rc1",
            "1.2_rc1_p2-r3",
            "1.0-r0",
            "1.0_git20240101~abc123-r1",
            "0.1_pre20060810",
        ] {
            assert_valid(&Apk, good);
        }
        for bad in [
            "",
            "1.2-3",
            "1.2_foo",
            "1.2.3-r",
            "1.2.3-rr",
            "1.A",
            "1 2",
            "a",
            "1.0~",
            "1.0~xyz",
            "1.0-r1~abc",
            "1.0ab",
            "1.0a.1",
        ] {
            assert_invalid(&Apk, bad);
        }
    }

    #[test]
    fn suffix_ordering() {
        check_table(
            &Apk,
            "
            1.0_alpha < 1.0_beta
            1.0_beta < 1.0_pre
            1.0_pre < 1.0_rc
            1.0_rc < 1.0
            1.0 < 1.0_cvs
            1.0_cvs < 1.0_svn
            1.0_svn < 1.0_git
            1.0_git < 1.0_hg
            1.0_hg < 1.0_p
            1.0_p1 < 1.0_p2
            1.0-r1 > 1.0
            1.0 < 1.0a
            1.01 < 1.1
            1.001 < 1.01
            1.0 > 1
            1.0~abc < 1.0~abd
            1.0~abc > 1.0-r1  # a hash is a closer continuation than a revision
            1.0 < 1.0~abc
            1.0_rc1~ab < 1.0
            ",
        );
        check(&Apk, "3.1.4-r5", "3.1.4-r10", Ordering::Less);
    }
}
