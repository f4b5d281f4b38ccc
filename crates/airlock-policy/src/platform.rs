//! Platform names (`linux/amd64`, `linux/arm64/v8`) as `require_platforms`
//! writes them and as verdicts print them.

use std::fmt;

use airlock_scan_model::Platform;
use serde::de::{self, Deserialize, Deserializer, Visitor};

/// `<os>/<architecture>[/<variant>]`, lowercase.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PlatformSpec {
    os: String,
    architecture: String,
    variant: Option<String>,
}

impl PlatformSpec {
    /// Parses `os/arch` or `os/arch/variant`; every part must be non-empty.
    pub fn parse(text: &str) -> Option<PlatformSpec> {
        let lower = text.to_lowercase();
        let parts: Vec<&str> = lower.split('/').collect();
        if parts
            .iter()
            .any(|part| part.is_empty() || part.trim() != *part)
        {
            return None;
        }
        match parts.as_slice() {
            [os, architecture] => Some(PlatformSpec {
                os: (*os).to_owned(),
                architecture: (*architecture).to_owned(),
                variant: None,
            }),
            [os, architecture, variant] => Some(PlatformSpec {
                os: (*os).to_owned(),
                architecture: (*architecture).to_owned(),
                variant: Some((*variant).to_owned()),
            }),
            _ => None,
        }
    }

    /// Whether a scanned platform satisfies this requirement: os and
    /// architecture must be equal; a variant, when required, too (a
    /// requirement without a variant accepts any variant).
    pub fn is_satisfied_by(&self, platform: &Platform) -> bool {
        self.os == platform.os.to_lowercase()
            && self.architecture == platform.architecture.to_lowercase()
            && self.variant.as_ref().is_none_or(|variant| {
                platform.variant.as_ref().map(|v| v.to_lowercase()).as_ref() == Some(variant)
            })
    }
}

impl fmt::Display for PlatformSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// How a verdict names a scanned platform: `os/arch[/variant]`.
pub(crate) fn platform_label(platform: &Platform) -> String {
    match &platform.variant {
        Some(variant) => format!("{}/{}/{variant}", platform.os, platform.architecture),
        None => format!("{}/{}", platform.os, platform.architecture),
    }
}

impl<'de> Deserialize<'de> for PlatformSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PlatformVisitor;
        impl Visitor<'_> for PlatformVisitor {
            type Value = PlatformSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a platform such as linux/amd64 or linux/arm64/v8")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<PlatformSpec, E> {
                PlatformSpec::parse(text).ok_or_else(|| {
                    E::custom(format_args!(
                        "invalid platform \"{text}\"; use <os>/<architecture>[/<variant>], e.g. linux/arm64/v8"
                    ))
                })
            }
        }
        deserializer.deserialize_str(PlatformVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: os.into(),
            architecture: architecture.into(),
            variant: variant.map(Into::into),
        }
    }

    #[test]
    fn requirements() {
        let cases: &[(&str, Platform, bool)] = &[
            ("linux/amd64", platform("linux", "amd64", None), true),
            ("linux/arm64", platform("linux", "arm64", Some("v8")), true),
            (
                "linux/arm64/v8",
                platform("linux", "arm64", Some("v8")),
                true,
            ),
            ("linux/arm64/v8", platform("linux", "arm64", None), false),
            ("linux/arm/v7", platform("linux", "arm", Some("v6")), false),
            ("linux/amd64", platform("windows", "amd64", None), false),
            ("Linux/AMD64", platform("linux", "amd64", None), true),
        ];
        for (text, platform, expected) in cases {
            let spec = PlatformSpec::parse(text).expect(text);
            assert_eq!(spec.is_satisfied_by(platform), *expected, "{text}");
        }
    }

    #[test]
    fn rejects_malformed() {
        for text in [
            "linux",
            "linux/",
            "/amd64",
            "linux/arm64/v8/x",
            "",
            "linux/ amd64",
        ] {
            assert_eq!(PlatformSpec::parse(text), None, "{text:?}");
        }
    }
}
