//! Rust crates from `Cargo.lock` files anywhere in the image. Dependencies
//! count only when sourced from crates.io (`registry+https://github.com/rust-lang/crates.io-index`
//! or `sparse+https://index.crates.io/`): git or private-registry crates are
//! not in the `crates.io` ecosystem advisories describe. Workspace members
//! (no `source`) are the project itself: listed with `application` set, so
//! SBOMs are complete, and never matched. The format is machine-written TOML, read
//! line by line.

use super::{AnalyzeContext, Analyzer, AnalyzerOutput, package, purl, text};
use crate::AnalyzeError;
use crate::paths::file_name;

/// The Cargo.lock analyzer.
pub struct CargoLock;

impl CargoLock {
    /// Bump when the output changes.
    pub const VERSION: u32 = 2;
}

/// Whether a `source` is crates.io.
pub(crate) fn is_crates_io(source: &str) -> bool {
    source == "crates.io"
        || source.starts_with("registry+https://github.com/rust-lang/crates.io-index")
        || source.starts_with("sparse+https://index.crates.io")
}

/// A crates.io package.
pub(crate) fn crate_package(name: &str, version: &str) -> airlock_scan_model::Package {
    package(
        "crates.io",
        name,
        version,
        purl("cargo", None, name, version, &[]),
    )
}

impl Analyzer for CargoLock {
    fn name(&self) -> &'static str {
        "cargo-lock"
    }

    fn version(&self) -> u32 {
        Self::VERSION
    }

    fn wants(&self, path: &str, _mode: u32) -> bool {
        file_name(path) == "Cargo.lock"
    }

    fn analyze(
        &self,
        _path: &str,
        bytes: &[u8],
        _ctx: &AnalyzeContext<'_>,
    ) -> Result<AnalyzerOutput, AnalyzeError> {
        #[derive(Default)]
        struct Entry {
            name: Option<String>,
            version: Option<String>,
            source: Option<String>,
        }
        let mut entries: Vec<Entry> = Vec::new();
        let mut in_package = false;
        for line in text(bytes).lines() {
            let line = line.trim();
            if line.starts_with('[') {
                in_package = line == "[[package]]";
                if in_package {
                    entries.push(Entry::default());
                }
                continue;
            }
            let (Some(entry), true) = (entries.last_mut(), in_package) else {
                continue;
            };
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim();
            let Some(value) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
                continue;
            };
            match key.trim() {
                "name" => entry.name = Some(value.to_string()),
                "version" => entry.version = Some(value.to_string()),
                "source" => entry.source = Some(value.to_string()),
                _ => {}
            }
        }
        if entries.is_empty() && !bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(AnalyzeError::malformed(
                "Cargo.lock",
                "no [[package]] table",
            ));
        }
        let packages = entries
            .into_iter()
            .filter_map(|entry| match (entry.name, entry.version, entry.source) {
                (Some(name), Some(version), Some(source)) if is_crates_io(&source) => {
                    Some(crate_package(&name, &version))
                }
                // Workspace members: the project itself, listed, never matched.
                (Some(name), Some(version), None) => {
                    let mut package = crate_package(&name, &version);
                    package.application = true;
                    Some(package)
                }
                _ => None,
            })
            .collect();
        Ok(AnalyzerOutput::packages(packages))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_crates_only() {
        let ctx = AnalyzeContext {
            layer_digest: "sha256:x",
            max_file_bytes: 1 << 20,
        };
        let output = CargoLock
            .analyze(
                "src/app/Cargo.lock",
                airlock_testkit::fixtures::cargo_lock().as_bytes(),
                &ctx,
            )
            .unwrap();
        let found: Vec<(&str, &str, &str)> = output
            .packages
            .iter()
            .filter(|p| !p.application)
            .map(|p| (p.name.as_str(), p.version.as_str(), p.purl.as_str()))
            .collect();
        let applications: Vec<&str> = output
            .packages
            .iter()
            .filter(|p| p.application)
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(
            applications,
            ["myapp"],
            "the workspace member is the application"
        );
        assert_eq!(
            found,
            [
                ("itoa", "1.0.10", "pkg:cargo/itoa@1.0.10"),
                ("serde", "1.0.193", "pkg:cargo/serde@1.0.193")
            ]
        );
        assert_eq!(output.packages[0].ecosystem, "crates.io");
        assert!(
            CargoLock
                .analyze("Cargo.lock", b"garbage garbage", &ctx)
                .is_err()
        );
    }
}
