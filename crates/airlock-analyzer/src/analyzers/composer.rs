//! PHP packages: `composer.lock` (`packages` and `packages-dev`) and what
//! Composer installed, `vendor/composer/installed.json` (Composer 1: a bare
//! array; Composer 2: `{"packages": [...]}`). Ecosystem `Packagist`, names
//! `vendor/package`. A leading `v` before a digit is stripped from versions
//! (`v10.5.5` → `10.5.5`) because osv.dev's Packagist records do not use it.

use serde_json::Value;

use super::{AnalyzeContext, Analyzer, AnalyzerOutput, package, purl};
use crate::AnalyzeError;
use crate::paths::file_name;

/// The Composer analyzer.
pub struct Composer;

impl Composer {
    /// Bump when the output changes.
    pub const VERSION: u32 = 1;
}

impl Analyzer for Composer {
    fn name(&self) -> &'static str {
        "composer"
    }

    fn version(&self) -> u32 {
        Self::VERSION
    }

    fn wants(&self, path: &str, _mode: u32) -> bool {
        file_name(path) == "composer.lock" || path.ends_with("vendor/composer/installed.json")
    }

    fn analyze(
        &self,
        _path: &str,
        bytes: &[u8],
        _ctx: &AnalyzeContext<'_>,
    ) -> Result<AnalyzerOutput, AnalyzeError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| AnalyzeError::malformed("composer metadata", e.to_string()))?;
        let lists: Vec<&Vec<Value>> = match &value {
            Value::Array(list) => vec![list],
            Value::Object(object) => ["packages", "packages-dev"]
                .iter()
                .filter_map(|key| object.get(*key).and_then(Value::as_array))
                .collect(),
            _ => Vec::new(),
        };
        let mut packages = Vec::new();
        for entry in lists.into_iter().flatten() {
            let (Some(name), Some(version)) = (
                entry.get("name").and_then(Value::as_str),
                entry.get("version").and_then(Value::as_str),
            ) else {
                continue;
            };
            let version = match version.strip_prefix('v') {
                Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
                _ => version,
            };
            let (vendor, bare) = name
                .split_once('/')
                .map_or((None, name), |(v, b)| (Some(v), b));
            let mut pkg = package(
                "Packagist",
                name,
                version,
                purl("composer", vendor, bare, version, &[]),
            );
            pkg.licenses = entry
                .get("license")
                .and_then(Value::as_array)
                .map(|l| {
                    l.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            packages.push(pkg);
        }
        Ok(AnalyzerOutput::packages(packages))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_testkit::fixtures;

    const CTX: AnalyzeContext<'static> = AnalyzeContext {
        layer_digest: "sha256:x",
        max_file_bytes: 1 << 20,
    };

    #[test]
    fn lock_packages_and_dev_packages_without_v() {
        let output = Composer
            .analyze(
                "var/www/composer.lock",
                fixtures::composer_lock().as_bytes(),
                &CTX,
            )
            .unwrap();
        let found: Vec<(&str, &str)> = output
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(
            found,
            [("monolog/monolog", "3.5.0"), ("phpunit/phpunit", "10.5.5")]
        );
        assert_eq!(
            output.packages[0].purl,
            "pkg:composer/monolog/monolog@3.5.0"
        );
        assert_eq!(output.packages[0].licenses, ["MIT"]);
    }

    #[test]
    fn installed_json_v1_and_v2() {
        let v2 = Composer
            .analyze(
                "var/www/vendor/composer/installed.json",
                fixtures::composer_installed_v2().as_bytes(),
                &CTX,
            )
            .unwrap();
        assert_eq!(v2.packages[0].name, "guzzlehttp/guzzle");
        let v1 = Composer
            .analyze(
                "vendor/composer/installed.json",
                br#"[{"name":"a/b","version":"1.0.0"}]"#,
                &CTX,
            )
            .unwrap();
        assert_eq!(v1.packages[0].version, "1.0.0");
        assert!(Composer.analyze("composer.lock", b"{", &CTX).is_err());
    }
}
