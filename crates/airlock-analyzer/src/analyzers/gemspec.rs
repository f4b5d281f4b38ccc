//! Ruby gems: RubyGems writes an evaluated, regular gemspec for every
//! installed gem into `specifications/<name>-<version>.gemspec`. The
//! assignments (`s.name = "rake".freeze`, `s.version = "13.0.6"`,
//! `s.licenses = ["MIT".freeze]`) are read with regular expressions; the
//! Ruby is never evaluated.

use std::sync::LazyLock;

use regex::Regex;

use super::{AnalyzeContext, Analyzer, AnalyzerOutput, package, purl, text};
use crate::AnalyzeError;
use crate::paths::parent;

/// The gemspec analyzer.
pub struct Gemspec;

impl Gemspec {
    /// Bump when the output changes.
    pub const VERSION: u32 = 1;
}

static NAME: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"(?m)^\s*\w+\.name\s*=\s*["']([^"']+)["']"#).ok());
static VERSION: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"(?m)^\s*\w+\.version\s*=\s*(?:Gem::Version\.new\(\s*)?["']([^"']+)["']"#).ok()
});
static LICENSES: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"(?m)^\s*\w+\.licenses?\s*=\s*(.*)$"#).ok());
static QUOTED: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r#"["']([^"']+)["']"#).ok());

fn capture(regex: &LazyLock<Option<Regex>>, content: &str) -> Option<String> {
    Some(
        regex
            .as_ref()?
            .captures(content)?
            .get(1)?
            .as_str()
            .to_string(),
    )
}

impl Analyzer for Gemspec {
    fn name(&self) -> &'static str {
        "gemspec"
    }

    fn version(&self) -> u32 {
        Self::VERSION
    }

    fn wants(&self, path: &str, _mode: u32) -> bool {
        path.ends_with(".gemspec")
            && (parent(path) == "specifications" || parent(path).ends_with("/specifications"))
    }

    fn analyze(
        &self,
        _path: &str,
        bytes: &[u8],
        _ctx: &AnalyzeContext<'_>,
    ) -> Result<AnalyzerOutput, AnalyzeError> {
        let content = text(bytes);
        let (Some(name), Some(version)) = (capture(&NAME, &content), capture(&VERSION, &content))
        else {
            return Err(AnalyzeError::malformed(
                "gemspec",
                "no name or version assignment",
            ));
        };
        let mut pkg = package(
            "RubyGems",
            &name,
            &version,
            purl("gem", None, &name, &version, &[]),
        );
        if let (Some(line), Some(quoted)) = (capture(&LICENSES, &content), QUOTED.as_ref()) {
            pkg.licenses = quoted
                .captures_iter(&line)
                .filter_map(|c| c.get(1))
                .map(|m| m.as_str().to_string())
                .collect();
        }
        Ok(AnalyzerOutput::packages(vec![pkg]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: AnalyzeContext<'static> = AnalyzeContext {
        layer_digest: "sha256:x",
        max_file_bytes: 1 << 20,
    };

    #[test]
    fn gemspec_assignments_are_read() {
        let output = Gemspec
            .analyze(
                "usr/local/bundle/specifications/rake-13.0.6.gemspec",
                airlock_testkit::fixtures::gemspec().as_bytes(),
                &CTX,
            )
            .unwrap();
        let pkg = &output.packages[0];
        assert_eq!(
            (pkg.name.as_str(), pkg.version.as_str()),
            ("rake", "13.0.6")
        );
        assert_eq!(pkg.licenses, ["MIT"]);
        assert_eq!(pkg.purl, "pkg:gem/rake@13.0.6");
        assert_eq!(pkg.ecosystem, "RubyGems");
    }

    #[test]
    fn gem_version_new_and_wanted_paths() {
        let spec = "Gem::Specification.new do |spec|\n  spec.name = 'nokogiri'\n  spec.version = Gem::Version.new(\"1.15.5\")\nend\n";
        let output = Gemspec
            .analyze("specifications/nokogiri.gemspec", spec.as_bytes(), &CTX)
            .unwrap();
        assert_eq!(output.packages[0].version, "1.15.5");
        assert!(Gemspec.wants(
            "var/lib/gems/3.1.0/specifications/rake-13.0.6.gemspec",
            0o644
        ));
        assert!(!Gemspec.wants("src/app/app.gemspec", 0o644));
        assert!(
            Gemspec
                .analyze("specifications/x.gemspec", b"puts 1", &CTX)
                .is_err()
        );
    }
}
