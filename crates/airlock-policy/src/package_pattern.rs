//! `deny_packages` entries: a name glob, an `<ecosystem>/<name glob>` pair,
//! or a purl glob.
//!
//! Globs know `*` (any run of characters, including none) and `?` (exactly one
//! character); nothing else is special. Matching ignores case everywhere: a
//! deny list that matches too much fails closed, one that matches too little
//! lets a denied package through.
//!
//! An entry is read as `<ecosystem>/<name glob>` only when the text before its
//! first `/` is an osv.dev ecosystem name (lowercase, without a release such
//! as `:12`); otherwise the whole entry is a name glob, so npm scopes
//! (`@babel/core`) and Go modules (`golang.org/x/net`) can be written bare.
//! An ecosystem matches a package whose ecosystem is the same, either whole
//! (`debian:12`) or without its release (`debian` matches `Debian:12`).

use std::fmt;

use airlock_scan_model::Package;
use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Lowercase osv.dev ecosystem names (without a release suffix).
const KNOWN_ECOSYSTEMS: &[&str] = &[
    "almalinux",
    "alpine",
    "android",
    "bitnami",
    "chainguard",
    "cran",
    "crates.io",
    "debian",
    "gha",
    "go",
    "hackage",
    "hex",
    "mageia",
    "maven",
    "npm",
    "nuget",
    "opensuse",
    "packagist",
    "photon os",
    "pub",
    "pypi",
    "red hat",
    "rocky linux",
    "rubygems",
    "suse",
    "swifturl",
    "ubuntu",
    "wolfi",
];

/// One parsed `deny_packages` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackagePattern {
    text: String,
    target: Target,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Purl(Glob),
    Name {
        ecosystem: Option<String>,
        name: Glob,
    },
}

impl PackagePattern {
    /// Parses one entry; `None` for an empty pattern or an empty name.
    pub fn parse(text: &str) -> Option<PackagePattern> {
        if text.trim().is_empty() || text.trim() != text {
            return None;
        }
        let target = if text.starts_with("pkg:") {
            Target::Purl(Glob::new(text))
        } else {
            match text.split_once('/') {
                Some((ecosystem, name)) if is_known_ecosystem(ecosystem) => {
                    if name.is_empty() {
                        return None;
                    }
                    Target::Name {
                        ecosystem: Some(ecosystem.to_lowercase()),
                        name: Glob::new(name),
                    }
                }
                _ => Target::Name {
                    ecosystem: None,
                    name: Glob::new(text),
                },
            }
        };
        Some(PackagePattern {
            text: text.to_owned(),
            target,
        })
    }

    /// The entry as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `package` is denied by this entry.
    pub fn matches(&self, package: &Package) -> bool {
        match &self.target {
            Target::Purl(glob) => glob.matches(&package.purl),
            Target::Name { ecosystem, name } => {
                let ecosystem_matches = ecosystem.as_ref().is_none_or(|wanted| {
                    let actual = package.ecosystem.to_lowercase();
                    let base = actual.split(':').next().unwrap_or_default();
                    *wanted == actual || wanted == base
                });
                ecosystem_matches && name.matches(&package.name)
            }
        }
    }
}

fn is_known_ecosystem(text: &str) -> bool {
    let lower = text.to_lowercase();
    let base = lower.split(':').next().unwrap_or_default();
    KNOWN_ECOSYSTEMS.contains(&base)
}

/// A case-insensitive glob with `*` and `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Glob {
    pattern: Vec<char>,
}

impl Glob {
    fn new(pattern: &str) -> Glob {
        Glob {
            pattern: pattern.to_lowercase().chars().collect(),
        }
    }

    /// Iterative matching with one backtrack point (the last `*`): linear in
    /// practice, never exponential.
    fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.to_lowercase().chars().collect();
        let pattern = &self.pattern;
        let (mut p, mut t) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
                p += 1;
                t += 1;
            } else if p < pattern.len() && pattern[p] == '*' {
                star = Some((p, t));
                p += 1;
            } else if let Some((star_p, star_t)) = star {
                p = star_p + 1;
                t = star_t + 1;
                star = Some((star_p, star_t + 1));
            } else {
                return false;
            }
        }
        pattern[p..].iter().all(|c| *c == '*')
    }
}

impl<'de> Deserialize<'de> for PackagePattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PatternVisitor;
        impl Visitor<'_> for PatternVisitor {
            type Value = PackagePattern;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a package pattern such as openssl*, npm/event-stream or pkg:pypi/pyyaml@5.*",
                )
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<PackagePattern, E> {
                PackagePattern::parse(text).ok_or_else(|| {
                    E::custom(format_args!(
                        "invalid package pattern \"{text}\"; use a name glob (openssl*), <ecosystem>/<name glob> (npm/event-stream) or a purl glob (pkg:pypi/pyyaml@5.*)"
                    ))
                })
            }
        }
        deserializer.deserialize_str(PatternVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(ecosystem: &str, name: &str, purl: &str) -> Package {
        Package {
            ecosystem: ecosystem.into(),
            name: name.into(),
            version: "1".into(),
            source_name: None,
            source_version: None,
            purl: purl.into(),
            licenses: vec![],
            layer: "sha256:00".into(),
            path: "x".into(),
            application: false,
        }
    }

    #[test]
    fn globs() {
        let cases: &[(&str, &str, bool)] = &[
            ("openssl*", "openssl", true),
            ("openssl*", "openssl-libs", true),
            ("openssl*", "libopenssl", false),
            ("*ssl*", "libssl3", true),
            ("lib?", "libc", true),
            ("lib?", "libcc", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("OpenSSL", "openssl", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                Glob::new(pattern).matches(text),
                *expected,
                "{pattern} ~ {text}"
            );
        }
    }

    #[test]
    fn patterns() {
        let event_stream = package("npm", "event-stream", "pkg:npm/event-stream@3.3.6");
        let pyyaml = package("PyPI", "pyyaml", "pkg:pypi/pyyaml@5.4.1");
        let openssl = package("Debian:12", "openssl", "pkg:deb/debian/openssl@3.0.1");
        let babel = package("npm", "@babel/core", "pkg:npm/%40babel/core@7.0.0");
        let cases: &[(&str, &Package, bool)] = &[
            ("npm/event-stream", &event_stream, true),
            ("pypi/event-stream", &event_stream, false),
            ("event-stream", &event_stream, true),
            ("pkg:pypi/pyyaml@5.*", &pyyaml, true),
            ("pkg:pypi/pyyaml@6.*", &pyyaml, false),
            ("PyPI/py*", &pyyaml, true),
            ("openssl*", &openssl, true),
            ("debian/openssl", &openssl, true),
            ("debian:12/openssl", &openssl, true),
            ("debian:11/openssl", &openssl, false),
            ("alpine/openssl", &openssl, false),
            ("@babel/core", &babel, true),
            ("npm/@babel/*", &babel, true),
        ];
        for (text, package, expected) in cases {
            let pattern = PackagePattern::parse(text).expect(text);
            assert_eq!(
                pattern.matches(package),
                *expected,
                "{text} ~ {}",
                package.name
            );
        }
    }

    #[test]
    fn rejects_empty_patterns() {
        for text in ["", " ", "npm/", " openssl"] {
            assert_eq!(PackagePattern::parse(text), None, "{text:?}");
        }
    }
}
