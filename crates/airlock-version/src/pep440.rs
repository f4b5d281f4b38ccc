//! Python package versions (PEP 440), ordered exactly like `packaging`'s
//! `Version`.
//!
//! Parses with the same grammar as packaging's `VERSION_PATTERN`, including
//! the normalisations PEP 440 allows (case, a leading `v`, `-`/`_`/`.`
//! separators, spelled pre-release names `alpha`/`beta`/`c`/`pre`/`preview`,
//! implicit post releases `1.0-1`, `rev`/`r`), and orders with packaging's
//! `_cmpkey`: epoch, release with trailing zeros dropped, then
//! dev-only < pre < release < post, dev before its non-dev sibling, and local
//! labels last (numeric segments above alphanumeric ones).

use std::cmp::Ordering;
use std::sync::LazyLock;

use regex::Regex;

use crate::{VersionError, VersionScheme, cmp_decimal};

/// PyPI: PEP 440 ordering.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pep440;

const NAME: &str = "pep440";

static PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)^
        v?
        (?:(?P<epoch>[0-9]+)!)?
        (?P<release>[0-9]+(?:\.[0-9]+)*)
        (?P<pre>
            [-_.]?
            (?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)
            [-_.]?
            (?P<pre_n>[0-9]+)?
        )?
        (?P<post>
            (?:-(?P<post_n1>[0-9]+))
            |
            (?:
                [-_.]?
                (?P<post_l>post|rev|r)
                [-_.]?
                (?P<post_n2>[0-9]+)?
            )
        )?
        (?P<dev>
            [-_.]?
            (?P<dev_l>dev)
            [-_.]?
            (?P<dev_n>[0-9]+)?
        )?
        (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
        $",
    )
    .expect("pep 440 pattern compiles")
});

/// Pre-release phase: a < b < rc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Alpha,
    Beta,
    Candidate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum LocalPart {
    Text(String),
    Number(String),
}

#[derive(Debug)]
struct Version {
    epoch: String,
    /// Release numbers with trailing zeros removed.
    release: Vec<String>,
    pre: Option<(Phase, String)>,
    post: Option<String>,
    dev: Option<String>,
    local: Option<Vec<LocalPart>>,
}

fn parse(input: &str) -> Result<Version, VersionError> {
    let err = |reason: &str| VersionError::new(NAME, input, reason);
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(err("version string is empty"));
    }
    if !trimmed.is_ascii() {
        return Err(err("non-ascii character"));
    }
    let lower = trimmed.to_ascii_lowercase();
    let caps = PATTERN
        .captures(&lower)
        .ok_or_else(|| err("does not match the pep 440 grammar"))?;
    let num = |name: &str| caps.name(name).map(|m| m.as_str().to_owned());
    let epoch = num("epoch").unwrap_or_else(|| "0".to_owned());
    let mut release: Vec<String> = caps["release"].split('.').map(str::to_owned).collect();
    while release.last().is_some_and(|n| n.bytes().all(|b| b == b'0')) {
        release.pop();
    }
    let pre = caps.name("pre_l").map(|l| {
        let phase = match l.as_str() {
            "a" | "alpha" => Phase::Alpha,
            "b" | "beta" => Phase::Beta,
            _ => Phase::Candidate,
        };
        (phase, num("pre_n").unwrap_or_else(|| "0".to_owned()))
    });
    let post = if caps.name("post").is_some() {
        Some(
            num("post_n1")
                .or_else(|| num("post_n2"))
                .unwrap_or_else(|| "0".to_owned()),
        )
    } else {
        None
    };
    let dev = caps
        .name("dev")
        .map(|_| num("dev_n").unwrap_or_else(|| "0".to_owned()));
    let local = caps.name("local").map(|m| {
        m.as_str()
            .split(['-', '_', '.'])
            .map(|part| {
                if crate::is_digits(part) {
                    LocalPart::Number(part.to_owned())
                } else {
                    LocalPart::Text(part.to_owned())
                }
            })
            .collect()
    });
    Ok(Version {
        epoch,
        release,
        pre,
        post,
        dev,
        local,
    })
}

fn cmp_release(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        match cmp_decimal(x, y) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    a.len().cmp(&b.len())
}

/// packaging's `_cmpkey` pre-release component: a dev release with no pre
/// and no post sorts before every pre-release; no pre sorts after all.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum PreKey<'a> {
    NegInfinity,
    Pre(Phase, Num<'a>),
    Infinity,
}

/// A decimal string ordered numerically.
#[derive(Debug, PartialEq, Eq)]
struct Num<'a>(&'a str);

impl PartialOrd for Num<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Num<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_decimal(self.0, other.0)
    }
}

fn pre_key(v: &Version) -> PreKey<'_> {
    match &v.pre {
        None if v.post.is_none() && v.dev.is_some() => PreKey::NegInfinity,
        None => PreKey::Infinity,
        Some((phase, n)) => PreKey::Pre(*phase, Num(n)),
    }
}

/// Post: none sorts first. Dev: none sorts last.
fn post_key(v: &Version) -> Option<Num<'_>> {
    v.post.as_deref().map(Num)
}

fn dev_key(v: &Version) -> (bool, Option<Num<'_>>) {
    match &v.dev {
        None => (true, None),
        Some(n) => (false, Some(Num(n))),
    }
}

fn cmp_local(a: &Option<Vec<LocalPart>>, b: &Option<Vec<LocalPart>>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => {
            for (x, y) in a.iter().zip(b) {
                let ord = match (x, y) {
                    (LocalPart::Number(x), LocalPart::Number(y)) => cmp_decimal(x, y),
                    (LocalPart::Text(x), LocalPart::Text(y)) => x.cmp(y),
                    (LocalPart::Number(_), LocalPart::Text(_)) => Ordering::Greater,
                    (LocalPart::Text(_), LocalPart::Number(_)) => Ordering::Less,
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            a.len().cmp(&b.len())
        }
    }
}

fn compare(a: &Version, b: &Version) -> Ordering {
    cmp_decimal(&a.epoch, &b.epoch)
        .then_with(|| cmp_release(&a.release, &b.release))
        .then_with(|| pre_key(a).cmp(&pre_key(b)))
        .then_with(|| post_key(a).cmp(&post_key(b)))
        .then_with(|| dev_key(a).cmp(&dev_key(b)))
        .then_with(|| cmp_local(&a.local, &b.local))
}

impl VersionScheme for Pep440 {
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

    /// packaging tests/test_version.py `VERSIONS`, in its sorted order.
    const VERSIONS: &[&str] = &[
        "1.0.dev0",
        "1.0.dev456",
        "1.0.dev456+local",
        "1.0a0",
        "1.0a0.post0.dev0",
        "1.0a0.post0",
        "1.0a1.dev1",
        "1.0a1.dev1+local",
        "1.0a1",
        "1.0a1+local",
        "1.0b0",
        "1.0b1.dev456",
        "1.0b2",
        "1.0b2.post345.dev456",
        "1.0b2.post345",
        "1.0b2-346",
        "1.0rc0",
        "1.0rc1.dev1",
        "1.0c1",
        "1.0rc2",
        "1.0",
        "1.0.post0.dev0",
        "1.0.post0",
        "1.0.post456.dev34",
        "1.0.post456",
        "1.0.post456+local",
        "1.0.1.dev1",
        "1.0.1a1",
        "1.0.1",
        "1.0.1+local",
        "1.0.1.post1",
        "1.1.dev1",
        "1.2+a",
        "1.2+abc",
        "1.2+abcdef",
        "1.2+def",
        "1.2+0",
        "1.2+1",
        "1.2+1.abc",
        "1.2+1.1",
        "1.2+1.1.0",
        "1.2+2",
        "1.2+123",
        "1.2+123456",
        "1.2.r32+123456",
        "1.2.rev33+123456",
        "1!1.0.dev0",
        "1!1.0.dev456",
        "1!1.0.dev456+local",
        "1!1.0a0",
        "1!1.0a0.post0.dev0",
        "1!1.0a0.post0",
        "1!1.0a1.dev1",
        "1!1.0a1.dev1+local",
        "1!1.0a1",
        "1!1.0a1+local",
        "1!1.0b0",
        "1!1.0b1.dev456",
        "1!1.0b2",
        "1!1.0b2.post345.dev456",
        "1!1.0b2.post345",
        "1!1.0b2-346",
        "1!1.0rc0",
        "1!1.0rc1.dev1",
        "1!1.0c1",
        "1!1.0rc2",
        "1!1.0",
        "1!1.0.post0.dev0",
        "1!1.0.post0",
        "1!1.0.post456.dev34",
        "1!1.0.post456",
        "1!1.0.post456+local",
        "1!1.0.1.dev1",
        "1!1.0.1a1",
        "1!1.0.1",
        "1!1.0.1+local",
        "1!1.0.1.post1",
        "1!1.1.dev1",
        "1!1.2+a",
        "1!1.2+abc",
        "1!1.2+abcdef",
        "1!1.2+def",
        "1!1.2+0",
        "1!1.2+1",
        "1!1.2+1.abc",
        "1!1.2+1.1",
        "1!1.2+1.1.0",
        "1!1.2+2",
        "1!1.2+123",
        "1!1.2+123456",
        "1!1.2.r32+123456",
        "1!1.2.rev33+123456",
    ];

    #[test]
    fn packaging_versions_are_sorted() {
        // 1.0rc1.dev1 < 1.0c1: the list holds both rc and c, equal phase
        check_sorted(&Pep440, VERSIONS);
    }

    #[test]
    fn brief_ordering() {
        check_sorted(
            &Pep440,
            &[
                "1.0.dev0",
                "1.0a0.dev0",
                "1.0a0",
                "1.0",
                "1.0.post0.dev0",
                "1.0.post0",
            ],
        );
    }

    /// packaging test_normalized_versions: each spelling equals its normal form.
    #[test]
    fn packaging_normalisations_compare_equal() {
        let pairs = [
            ("1.0dev", "1.0.dev0"),
            ("1.0.dev", "1.0.dev0"),
            ("1.0dev1", "1.0.dev1"),
            ("1.0-dev", "1.0.dev0"),
            ("1.0-dev1", "1.0.dev1"),
            ("1.0DEV", "1.0.dev0"),
            ("1.0.DEV1", "1.0.dev1"),
            ("1.0a", "1.0a0"),
            ("1.0.a1", "1.0a1"),
            ("1.0-a", "1.0a0"),
            ("1.0alpha", "1.0a0"),
            ("1.0-alpha1", "1.0a1"),
            ("1.0A", "1.0a0"),
            ("1.0.ALPHA1", "1.0a1"),
            ("1.0b", "1.0b0"),
            ("1.0.beta1", "1.0b1"),
            ("1.0-BETA", "1.0b0"),
            ("1.0c", "1.0rc0"),
            ("1.0.c1", "1.0rc1"),
            ("1.0-rc", "1.0rc0"),
            ("1.0RC1", "1.0rc1"),
            ("1.0pre", "1.0rc0"),
            ("1.0preview2", "1.0rc2"),
            ("1.0post", "1.0.post0"),
            ("1.0-post1", "1.0.post1"),
            ("1.0r", "1.0.post0"),
            ("1.0rev", "1.0.post0"),
            ("1.0.r1", "1.0.post1"),
            ("1.0-5", "1.0.post5"),
            ("1.0-r5", "1.0.post5"),
            ("1.0-rev5", "1.0.post5"),
            ("1.0+AbC", "1.0+abc"),
            ("1.01", "1.1"),
            ("1.0a05", "1.0a5"),
            ("1.0c056", "1.0rc56"),
            ("1.0.post000", "1.0.post0"),
            ("1.1.dev09000", "1.1.dev9000"),
            ("00!1.2", "1.2"),
            ("0100!0.0", "100!0.0"),
            ("v1.0", "1.0"),
            ("   v1.0\t\n", "1.0"),
            ("1.0", "1.0.0"),
            ("1.0rc1", "1.0c1"),
            ("0!1.0.2", "1.0.2"),
        ];
        for (a, b) in pairs {
            check(&Pep440, a, b, Equal);
        }
    }

    /// packaging test_invalid_versions.
    #[test]
    fn packaging_invalid_versions() {
        for bad in [
            "french toast",
            "1.0+a+",
            "1.0++",
            "1.0+_foobar",
            "1.0+foo&asd",
            "1.0+1+1",
            "1. 0",
            "1 .0",
            "1. 0a1",
            "1 .0a1",
            "1.0 a1",
            "1.0a 1",
            "٠١٢.٣٤٥.٦٧٨٩",
            ".",
            "..",
            "1..0",
            "1.0.",
            ".1.0",
            "1..2.3",
            "1.0+\u{130}",
            "lolwat",
            "",
        ] {
            assert_invalid(&Pep440, bad);
        }
    }
}
