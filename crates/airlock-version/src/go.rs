//! Go module and toolchain versions, ordered like `golang.org/x/mod/semver`.
//!
//! Module versions are SemVer with a `v` prefix; osv.dev writes them without
//! it, so the prefix is optional here. As in x/mod/semver, `v1` and `v1.2`
//! are shorthands for `v1.0.0` and `v1.2.0`, and build metadata such as
//! `+incompatible` is ignored. Pseudo-versions
//! (`v0.0.0-20191109021931-daa7c04131f5`) are ordinary pre-releases whose
//! fixed-width timestamps order them naturally. Toolchain versions as the Go
//! project spells them (`go1.21`, `go1.21.5`, `go1.21rc2`, `go1.9beta1`) are
//! read as `1.21.0`, `1.21.5`, `1.21.0-rc.2`, `1.9.0-beta.1`, which is how
//! osv.dev writes the `stdlib` and `toolchain` ranges.

use std::cmp::Ordering;

use crate::semver::{cmp_prerelease, is_numeric_no_leading_zero, split_pre_build};
use crate::{VersionError, VersionScheme, cmp_decimal};

/// Go modules and the Go toolchain (`stdlib`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Go;

const NAME: &str = "go";

/// An owned version, so toolchain spellings can be rewritten.
struct Owned {
    core: [String; 3],
    pre: Vec<String>,
}

fn parse_toolchain(input: &str, rest: &str) -> Result<Owned, VersionError> {
    let err = |reason: &str| VersionError::new(NAME, input, reason);
    // split off a trailing alpha/beta/rc pre-release
    let (nums, pre) = match ["alpha", "beta", "rc"]
        .iter()
        .find_map(|tag| rest.find(tag).map(|i| (i, *tag)))
    {
        Some((i, tag)) => {
            let n = &rest[i + tag.len()..];
            if !is_numeric_no_leading_zero(n) {
                return Err(err("toolchain pre-release needs a number"));
            }
            (&rest[..i], vec![tag.to_owned(), n.to_owned()])
        }
        None => (rest, Vec::new()),
    };
    let parts: Vec<&str> = nums.split('.').collect();
    if parts.is_empty() || parts.len() > 3 || !parts.iter().all(|p| is_numeric_no_leading_zero(p)) {
        return Err(err(
            "toolchain version must be go<major>[.<minor>[.<patch>]]",
        ));
    }
    let get = |i: usize| parts.get(i).map_or("0", |p| p).to_owned();
    Ok(Owned {
        core: [get(0), get(1), get(2)],
        pre,
    })
}

fn parse(input: &str) -> Result<Owned, VersionError> {
    let err = |reason: &str| VersionError::new(NAME, input, reason);
    let s = input.trim();
    if s.is_empty() {
        return Err(err("version string is empty"));
    }
    if let Some(rest) = s.strip_prefix("go") {
        return parse_toolchain(input, rest);
    }
    let s = s.strip_prefix('v').unwrap_or(s);
    let (core, pre) = split_pre_build(s).map_err(|r| err(&r))?;
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 || !parts.iter().all(|p| is_numeric_no_leading_zero(p)) {
        return Err(err("version numbers must be digits without leading zeros"));
    }
    if parts.len() < 3 && (s.len() != core.len()) {
        // x/mod/semver allows the v1 / v1.2 shorthand only without suffixes
        return Err(err(
            "shorthand versions cannot carry a pre-release or build",
        ));
    }
    let get = |i: usize| parts.get(i).map_or("0", |p| p).to_owned();
    Ok(Owned {
        core: [get(0), get(1), get(2)],
        pre: pre.into_iter().map(str::to_owned).collect(),
    })
}

fn compare(a: &Owned, b: &Owned) -> Ordering {
    let core = a
        .core
        .iter()
        .zip(&b.core)
        .map(|(x, y)| cmp_decimal(x, y))
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal);
    core.then_with(|| cmp_prerelease(&pre_ids(a), &pre_ids(b)))
}

fn pre_ids(v: &Owned) -> Vec<&str> {
    v.pre.iter().map(String::as_str).collect()
}

impl VersionScheme for Go {
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
    use Ordering::{Equal, Less};

    /// golang.org/x/mod/semver semver_test.go: the ordered list of valid
    /// versions (invalid entries are checked as errors below).
    #[test]
    fn x_mod_semver_order() {
        check_sorted(
            &Go,
            &[
                "v0.0.0",
                "v0.0.1-alpha",
                "v0.1.0",
                "v0.1.1",
                "v1.0.0-alpha",
                "v1.0.0-alpha.1",
                "v1.0.0-alpha.beta",
                "v1.0.0-beta",
                "v1.0.0-beta.2",
                "v1.0.0-beta.11",
                "v1.0.0-rc.1",
                "v1",
                "v1.2",
                "v1.2.3-456",
                "v1.2.3-456.789",
                "v1.2.3-456-789",
                "v1.2.3-456a",
                "v1.2.3-pre",
                "v1.2.3-pre.1",
                "v1.2.3-zzz",
                "v1.2.3",
            ],
        );
        check(&Go, "v1", "v1.0.0", Equal);
        check(&Go, "v1.2", "v1.2.0", Equal);
        check(&Go, "v1.2.3+meta", "v1.2.3", Equal);
        check(&Go, "v1.2.3-pre+meta", "v1.2.3-pre", Equal);
        check(&Go, "v2.0.0+incompatible", "v2.0.0", Equal);
        for bad in [
            "bad",
            "v1-alpha.beta.gamma",
            "v1-pre",
            "v1+meta",
            "v1-pre+meta",
            "v1.2-pre",
            "v1.2+meta",
            "v1.2.3.4",
            "v1.2.3-01",
            "v01.2.3",
            "v1.2.3-a..b",
            "",
        ] {
            assert_invalid(&Go, bad);
        }
    }

    #[test]
    fn pseudo_versions_order_by_timestamp() {
        check_sorted(
            &Go,
            &[
                "v0.0.0-20191109021931-daa7c04131f5",
                "v0.0.0-20200101000000-aaaaaaaaaaaa",
                "v0.0.1",
                "v1.2.3-pre",
                "v1.2.3-pre.0.20200101000000-abcdefabcdef",
                "v1.2.3",
                "v1.2.4-0.20200101000000-abcdefabcdef",
                "v1.2.4",
            ],
        );
        check(
            &Go,
            "0.0.0-20191109021931-daa7c04131f5",
            "v0.0.0-20191109021931-daa7c04131f5",
            Equal,
        );
    }

    #[test]
    fn toolchain_versions() {
        check(&Go, "go1.21", "1.21.0", Equal);
        check(&Go, "go1.21rc2", "1.21.0-rc.2", Equal);
        check(&Go, "go1.21.5", "1.21.5", Equal);
        check(&Go, "go1.9beta1", "1.9.0-beta.1", Equal);
        check_sorted(
            &Go,
            &[
                "go1.20.14",
                "go1.21rc1",
                "go1.21rc2",
                "go1.21",
                "go1.21.5",
                "1.22.0-0",
                "1.22.0",
            ],
        );
        check(&Go, "1.21.0-0", "1.21.0", Less);
        for bad in ["go", "go1.21rc", "gox", "go1.21.5.1", "go01.2"] {
            assert_invalid(&Go, bad);
        }
    }
}
