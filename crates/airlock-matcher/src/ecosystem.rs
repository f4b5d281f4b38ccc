//! Which feed entries belong to which installed package.
//!
//! osv.dev names ecosystems with a release suffix (`Debian:12`,
//! `Alpine:v3.19`) and Ubuntu adds `:LTS` and `:Pro:` forms; OS feeds are
//! keyed by source package; Python names compare PEP 503-normalised; Go
//! toolchain versions carry a `go` prefix. Both the matcher and the database
//! (which indexes by these keys) use the functions here, so the two sides
//! cannot disagree.

use airlock_scan_model::Package;

/// The part of an ecosystem name before the first `:` (`Debian:12` → `Debian`).
///
/// The database indexes by (family, lookup name); the exact release is then
/// checked with [`ecosystem_matches`].
pub fn ecosystem_family(ecosystem: &str) -> &str {
    ecosystem.split(':').next().unwrap_or(ecosystem)
}

/// Canonical release form used to compare a feed's ecosystem with a package's.
///
/// `Ubuntu:22.04:LTS`, `Ubuntu:Pro:22.04:LTS` and `Ubuntu:22.04` all become
/// `Ubuntu:22.04`; other ecosystems are returned unchanged.
pub fn canonical_ecosystem(ecosystem: &str) -> String {
    let mut parts: Vec<&str> = ecosystem.split(':').collect();
    if parts.first() == Some(&"Ubuntu") {
        parts.retain(|p| *p != "LTS" && *p != "Pro");
    }
    parts.join(":")
}

/// Whether a feed entry for `feed_ecosystem` applies to a package installed
/// from `package_ecosystem`.
pub fn ecosystem_matches(package_ecosystem: &str, feed_ecosystem: &str) -> bool {
    if package_ecosystem == feed_ecosystem {
        return true;
    }
    // Only Ubuntu has alternative spellings of one release.
    ecosystem_family(feed_ecosystem) == "Ubuntu"
        && ecosystem_family(package_ecosystem) == "Ubuntu"
        && canonical_ecosystem(package_ecosystem) == canonical_ecosystem(feed_ecosystem)
}

/// The name under which the feed of `ecosystem` keys `name` (PEP 503 for PyPI).
pub fn lookup_name(ecosystem: &str, name: &str) -> String {
    if ecosystem_family(ecosystem) == "PyPI" {
        pep503_normalize(name)
    } else {
        name.to_owned()
    }
}

/// Whether the feed's `name` has the lookup name `key` (itself a
/// [`lookup_name`] result): [`lookup_name`]`(ecosystem, name) == key`,
/// without allocating when the names are spelled alike.
pub fn has_lookup_name(ecosystem: &str, name: &str, key: &str) -> bool {
    // Normalising is idempotent, so a verbatim match is a match.
    name == key || (ecosystem_family(ecosystem) == "PyPI" && pep503_normalize(name) == key)
}

/// PEP 503: lowercase, runs of `-`, `_` and `.` become one `-`.
pub fn pep503_normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator {
                out.push('-');
            }
            in_separator = true;
        } else {
            out.extend(c.to_lowercase());
            in_separator = false;
        }
    }
    out
}

/// Whether packages of this ecosystem are matched by their source package.
fn keyed_by_source(ecosystem: &str) -> bool {
    matches!(ecosystem_family(ecosystem), "Debian" | "Ubuntu" | "Alpine")
}

/// The (lookup name, version) under which the feeds key an installed package.
///
/// Debian, Ubuntu and Alpine feeds name the source package (Debian `Source:`,
/// Alpine origin) and give source versions; everything else uses the binary
/// package itself. Go versions lose their `v`/`go` prefix, because the Go
/// feed writes bare SemVer (`1.21.5`, also for `stdlib`).
pub fn feed_key(package: &Package) -> (String, String) {
    let ecosystem = package.ecosystem.as_str();
    if keyed_by_source(ecosystem) {
        let name = package.source_name.as_deref().unwrap_or(&package.name);
        let version = package
            .source_version
            .as_deref()
            .unwrap_or(&package.version);
        return (name.to_owned(), version.to_owned());
    }
    let version = if ecosystem == "Go" {
        go_semver(&package.version)
    } else {
        package.version.clone()
    };
    (lookup_name(ecosystem, &package.name), version)
}

fn go_semver(version: &str) -> String {
    let bare = version
        .strip_prefix("go")
        .or_else(|| version.strip_prefix('v'))
        .unwrap_or(version);
    bare.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ubuntu_suffixes_are_canonicalised() {
        assert!(ecosystem_matches("Ubuntu:22.04", "Ubuntu:22.04:LTS"));
        assert!(ecosystem_matches("Ubuntu:18.04", "Ubuntu:Pro:18.04:LTS"));
        assert!(!ecosystem_matches("Ubuntu:22.04", "Ubuntu:20.04:LTS"));
        assert!(ecosystem_matches("Debian:12", "Debian:12"));
        assert!(!ecosystem_matches("Debian:12", "Debian:11"));
        assert!(!ecosystem_matches("Alpine:v3.19", "Alpine:v3.1"));
    }

    #[test]
    fn pep503() {
        assert_eq!(pep503_normalize("Django"), "django");
        assert_eq!(pep503_normalize("zope.interface"), "zope-interface");
        assert_eq!(pep503_normalize("Foo__Bar-.baz"), "foo-bar-baz");
        assert_eq!(lookup_name("PyPI", "Jinja2"), "jinja2");
        assert_eq!(lookup_name("npm", "Foo_Bar"), "Foo_Bar");
        for (ecosystem, name, key) in [
            ("PyPI", "Jinja2", "jinja2"),
            ("PyPI", "jinja2", "jinja2"),
            ("PyPI", "zope.interface", "zope-interface"),
            ("npm", "Foo_Bar", "Foo_Bar"),
            ("npm", "Foo_Bar", "foo-bar"),
            ("Go", "golang.org/x/net", "golang.org/x/net"),
        ] {
            assert_eq!(
                has_lookup_name(ecosystem, name, key),
                lookup_name(ecosystem, name) == key,
                "{ecosystem} {name} {key}"
            );
        }
    }

    #[test]
    fn families() {
        assert_eq!(ecosystem_family("Ubuntu:Pro:18.04:LTS"), "Ubuntu");
        assert_eq!(ecosystem_family("Go"), "Go");
    }
}
