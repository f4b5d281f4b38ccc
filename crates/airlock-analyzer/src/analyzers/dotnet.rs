//! .NET applications: `dotnet publish` writes `<app>.deps.json`, whose
//! `libraries` map has one `Name/Version` key per assembly source; the
//! entries of type `package` are NuGet packages (`project` and `reference`
//! entries are the application's own code).

use serde_json::Value;

use super::{AnalyzeContext, Analyzer, AnalyzerOutput, package, purl};
use crate::AnalyzeError;

/// The .NET deps.json analyzer.
pub struct DotNet;

impl DotNet {
    /// Bump when the output changes.
    pub const VERSION: u32 = 1;
}

impl Analyzer for DotNet {
    fn name(&self) -> &'static str {
        "dotnet-deps"
    }

    fn version(&self) -> u32 {
        Self::VERSION
    }

    fn wants(&self, path: &str, _mode: u32) -> bool {
        path.ends_with(".deps.json")
    }

    fn analyze(
        &self,
        _path: &str,
        bytes: &[u8],
        _ctx: &AnalyzeContext<'_>,
    ) -> Result<AnalyzerOutput, AnalyzeError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| AnalyzeError::malformed("deps.json", e.to_string()))?;
        let libraries = value
            .get("libraries")
            .and_then(Value::as_object)
            .ok_or_else(|| AnalyzeError::malformed("deps.json", "no libraries object"))?;
        let packages = libraries
            .iter()
            .filter(|(_, library)| library.get("type").and_then(Value::as_str) == Some("package"))
            .filter_map(|(key, _)| key.split_once('/'))
            .map(|(name, version)| {
                package(
                    "NuGet",
                    name,
                    version,
                    purl("nuget", None, name, version, &[]),
                )
            })
            .collect();
        Ok(AnalyzerOutput::packages(packages))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_libraries_only() {
        let ctx = AnalyzeContext {
            layer_digest: "sha256:x",
            max_file_bytes: 1 << 20,
        };
        let output = DotNet
            .analyze(
                "app/app.deps.json",
                airlock_testkit::fixtures::deps_json().as_bytes(),
                &ctx,
            )
            .unwrap();
        let found: Vec<(&str, &str, &str)> = output
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str(), p.purl.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "Newtonsoft.Json",
                    "13.0.1",
                    "pkg:nuget/Newtonsoft.Json@13.0.1"
                ),
                (
                    "System.Text.Json",
                    "8.0.0",
                    "pkg:nuget/System.Text.Json@8.0.0"
                )
            ]
        );
        assert!(DotNet.analyze("x.deps.json", b"{}", &ctx).is_err());
    }
}
