//! Exact version ordering for every ecosystem the scanner matches.
//!
//! Wrong version ordering is the classic way a scanner misses a vulnerability
//! or cries wolf, so every scheme here is a port of its reference
//! implementation (dpkg's `verrevcmp`, rpm's `rpmvercmp`, apk-tools'
//! `version.c`, packaging's `Version`, Maven's `ComparableVersion`, RubyGems'
//! `Gem::Version`, NuGet's `VersionComparer`, Go's `x/mod/semver`, PHP's
//! `version_compare` behind Composer's normaliser) and is tested against that
//! implementation's published vectors.
//!
//! Design decisions:
//! - One scheme per file, each a unit struct behind [`VersionScheme`], listed
//!   once in [`ALL`]. Adding an ecosystem is one new file and one table row.
//! - The library is pure: no I/O, no global state, no allocation beyond what
//!   parsing needs. Comparing never panics.
//! - A version the reference implementation would reject is an error, never a
//!   silent "not affected". Where the reference tool only *warns* (dpkg on an
//!   upstream version that does not start with a digit), we accept, because
//!   the tool itself goes on to compare.
//! - Numbers are compared as arbitrary-length decimal strings, so no version
//!   overflows.
//!
//! How it is checked: each scheme file carries its reference implementation's
//! published vectors; `tests/properties.rs` checks that every scheme is a
//! total order on generated versions; `tests/reference_tools.rs` compares the
//! dpkg and rpm schemes with `dpkg --compare-versions` and python3-rpm's
//! `labelCompare` on thousands of generated pairs; `oracles/run.sh` (manual,
//! needs extra packages) does the same for PEP 440 (`packaging`), RubyGems
//! (`Gem::Version`), Maven (`ComparableVersion` 3.8.7), Packagist (Composer),
//! npm (`node-semver`) and Go (`x/mod/semver`).

mod apk;
mod dpkg;
mod go;
mod maven;
mod nuget;
mod packagist;
mod pep440;
mod rpm;
mod rubygems;
mod semver;

use std::cmp::Ordering;

pub use apk::Apk;
pub use dpkg::Dpkg;
pub use go::Go;
pub use maven::Maven;
pub use nuget::NuGet;
pub use packagist::Packagist;
pub use pep440::Pep440;
pub use rpm::Rpm;
pub use rubygems::RubyGems;
pub use semver::SemVer;

/// One ecosystem's version syntax and ordering.
pub trait VersionScheme: Send + Sync + std::fmt::Debug {
    /// Short stable name: "dpkg", "apk", "rpm", "pep440", "semver", "go",
    /// "maven", "rubygems", "nuget", "packagist".
    fn name(&self) -> &'static str;
    /// Orders two versions; fails if either does not parse.
    fn compare(&self, a: &str, b: &str) -> Result<Ordering, VersionError>;
    /// Parses only.
    fn validate(&self, v: &str) -> Result<(), VersionError>;
}

/// A version string that its scheme cannot parse.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("invalid {scheme} version {version:?}: {reason}")]
pub struct VersionError {
    pub scheme: &'static str,
    pub version: String,
    pub reason: String,
}

impl VersionError {
    pub(crate) fn new(scheme: &'static str, version: &str, reason: impl Into<String>) -> Self {
        Self {
            scheme,
            version: version.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Every scheme, in a fixed order.
pub static ALL: &[&dyn VersionScheme] = &[
    &Dpkg, &Apk, &Rpm, &Pep440, &SemVer, &Go, &Maven, &RubyGems, &NuGet, &Packagist,
];

/// Picks the scheme for an osv.dev ecosystem name, including release suffixes:
/// "Debian:12", "Ubuntu:22.04:LTS", "Ubuntu:Pro:18.04:LTS" → dpkg;
/// "Alpine:v3.19", "Wolfi", "Chainguard" → apk; "Red Hat", "Rocky Linux:9",
/// "AlmaLinux:9", "openSUSE:Leap 15.5", "SUSE:...", "Mageia", "openEuler",
/// "Photon OS" → rpm; "PyPI" → pep440; "npm", "crates.io", "Hex", "Pub" →
/// semver; "NuGet" → nuget; "Go" → go; "Maven" → maven; "RubyGems" →
/// rubygems; "Packagist" → packagist (Composer's normaliser, then PHP's
/// `version_compare`); unknown → None.
///
/// Only the part before the first `:` decides; names are case-sensitive, as
/// osv.dev writes them.
pub fn scheme_for_ecosystem(ecosystem: &str) -> Option<&'static dyn VersionScheme> {
    let base = ecosystem.split(':').next().unwrap_or("").trim();
    let scheme: &'static dyn VersionScheme = match base {
        "Debian" | "Ubuntu" => &Dpkg,
        "Alpine" | "Wolfi" | "Chainguard" => &Apk,
        "Red Hat" | "Rocky Linux" | "AlmaLinux" | "openSUSE" | "SUSE" | "Mageia" | "openEuler"
        | "Photon OS" => &Rpm,
        "PyPI" => &Pep440,
        "npm" | "crates.io" | "Hex" | "Pub" => &SemVer,
        "NuGet" => &NuGet,
        "Go" => &Go,
        "Maven" => &Maven,
        "RubyGems" => &RubyGems,
        "Packagist" => &Packagist,
        _ => return None,
    };
    Some(scheme)
}

/// Compares two runs of ASCII digits as unbounded non-negative integers.
pub(crate) fn cmp_decimal(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// True when `s` is a non-empty run of ASCII digits.
pub(crate) fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::VersionScheme;
    use std::cmp::Ordering;

    /// Asserts `compare(a, b)` and its mirror.
    pub fn check(scheme: &dyn VersionScheme, a: &str, b: &str, want: Ordering) {
        let got = scheme
            .compare(a, b)
            .unwrap_or_else(|e| panic!("{}: {a:?} vs {b:?}: {e}", scheme.name()));
        assert_eq!(got, want, "{}: {a:?} vs {b:?}", scheme.name());
        let back = scheme.compare(b, a).unwrap();
        assert_eq!(back, want.reverse(), "{}: {b:?} vs {a:?}", scheme.name());
    }

    /// Asserts a strictly increasing list, every pair.
    pub fn check_sorted(scheme: &dyn VersionScheme, versions: &[&str]) {
        for (i, a) in versions.iter().enumerate() {
            check(scheme, a, a, Ordering::Equal);
            for b in &versions[i + 1..] {
                check(scheme, a, b, Ordering::Less);
            }
        }
    }

    /// Parses a `a <op> b` table where op is one of `<`, `=`, `>`.
    pub fn check_table(scheme: &dyn VersionScheme, table: &str) -> usize {
        let mut n = 0;
        for line in table.lines() {
            let line = line.split('#').next().unwrap().trim();
            if line.is_empty() {
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(parts.len(), 3, "bad table line {line:?}");
            let want = match parts[1] {
                "<" => Ordering::Less,
                "=" => Ordering::Equal,
                ">" => Ordering::Greater,
                op => panic!("bad op {op:?}"),
            };
            check(scheme, parts[0], parts[2], want);
            n += 1;
        }
        n
    }

    pub fn assert_invalid(scheme: &dyn VersionScheme, v: &str) {
        assert!(
            scheme.validate(v).is_err(),
            "{}: {v:?} should be invalid",
            scheme.name()
        );
        assert!(scheme.compare(v, v).is_err());
    }

    pub fn assert_valid(scheme: &dyn VersionScheme, v: &str) {
        if let Err(e) = scheme.validate(v) {
            panic!("{}: {v:?} should be valid: {e}", scheme.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecosystem_names_map_to_schemes() {
        let cases = [
            ("Debian", "dpkg"),
            ("Debian:12", "dpkg"),
            ("Ubuntu:22.04:LTS", "dpkg"),
            ("Ubuntu:Pro:18.04:LTS", "dpkg"),
            ("Alpine:v3.19", "apk"),
            ("Wolfi", "apk"),
            ("Chainguard", "apk"),
            ("Red Hat", "rpm"),
            ("Red Hat:enterprise_linux:9::appstream", "rpm"),
            ("Rocky Linux:9", "rpm"),
            ("AlmaLinux:9", "rpm"),
            ("openSUSE:Leap 15.5", "rpm"),
            ("SUSE:Linux Enterprise Server 15 SP5", "rpm"),
            ("Mageia:9", "rpm"),
            ("openEuler:22.03-LTS", "rpm"),
            ("PyPI", "pep440"),
            ("npm", "semver"),
            ("crates.io", "semver"),
            ("Hex", "semver"),
            ("Pub", "semver"),
            ("NuGet", "nuget"),
            ("Go", "go"),
            ("Maven", "maven"),
            ("RubyGems", "rubygems"),
            ("Packagist", "packagist"),
        ];
        for (eco, want) in cases {
            let got = scheme_for_ecosystem(eco).map(|s| s.name());
            assert_eq!(got, Some(want), "{eco}");
        }
        for eco in ["", "GIT", "debian", "Unknown:1", "Android"] {
            assert!(scheme_for_ecosystem(eco).is_none(), "{eco}");
        }
    }

    #[test]
    fn table_names_are_unique_and_complete() {
        let mut names: Vec<&str> = ALL.iter().map(|s| s.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert_eq!(
            names,
            [
                "apk",
                "dpkg",
                "go",
                "maven",
                "nuget",
                "packagist",
                "pep440",
                "rpm",
                "rubygems",
                "semver"
            ]
        );
    }

    #[test]
    fn error_message_names_scheme_version_and_reason() {
        let err = Dpkg.validate("").unwrap_err();
        assert_eq!(err.scheme, "dpkg");
        assert_eq!(
            err.to_string(),
            "invalid dpkg version \"\": version string is empty"
        );
    }

    #[test]
    fn decimal_comparison_ignores_leading_zeros_and_never_overflows() {
        assert_eq!(cmp_decimal("007", "7"), Ordering::Equal);
        assert_eq!(cmp_decimal("0", ""), Ordering::Equal);
        assert_eq!(
            cmp_decimal("99999999999999999999999", "100000000000000000000000"),
            Ordering::Less
        );
    }
}
