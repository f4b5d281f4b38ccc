//! Debian packages from the dpkg database: `var/lib/dpkg/status`, and the
//! per-package files distroless images keep in `var/lib/dpkg/status.d/`
//! (named `<pkg>`, next to `<pkg>.md5sums` which are skipped). Only installed
//! packages count; status.d entries have no `Status:` and are installed.
//! Ecosystem and purl namespace are completed at merge from the image's OS.

use super::{
    AnalyzeContext, Analyzer, AnalyzerOutput, field, package, purl, rfc822_paragraphs, text,
};
use crate::{AnalyzeError, OS_ECOSYSTEM_PREFIX};

/// The dpkg analyzer.
pub struct Dpkg;

impl Dpkg {
    /// Bump when the output changes.
    pub const VERSION: u32 = 1;
}

impl Analyzer for Dpkg {
    fn name(&self) -> &'static str {
        "dpkg"
    }

    fn version(&self) -> u32 {
        Self::VERSION
    }

    fn wants(&self, path: &str, _mode: u32) -> bool {
        path == "var/lib/dpkg/status"
            || path
                .strip_prefix("var/lib/dpkg/status.d/")
                .is_some_and(|name| {
                    !name.is_empty() && !name.contains('/') && !name.ends_with(".md5sums")
                })
    }

    fn analyze(
        &self,
        path: &str,
        bytes: &[u8],
        _ctx: &AnalyzeContext<'_>,
    ) -> Result<AnalyzerOutput, AnalyzeError> {
        let in_status_d = path.starts_with("var/lib/dpkg/status.d/");
        let mut output = AnalyzerOutput::default();
        let paragraphs = rfc822_paragraphs(&text(bytes));
        for (index, paragraph) in paragraphs.iter().enumerate() {
            let (Some(name), Some(version)) =
                (field(paragraph, "Package"), field(paragraph, "Version"))
            else {
                output.warnings.push(format!(
                    "record {} has no Package or Version; skipped",
                    index + 1
                ));
                continue;
            };
            let installed = match field(paragraph, "Status") {
                Some(status) => status.split_whitespace().nth(2) == Some("installed"),
                None => in_status_d,
            };
            if !installed {
                continue;
            }
            let arch = field(paragraph, "Architecture").unwrap_or("");
            let mut pkg = package(
                &format!("{OS_ECOSYSTEM_PREFIX}Debian"),
                name,
                version,
                purl("deb", Some("debian"), name, version, &[("arch", arch)]),
            );
            if let Some(source) = field(paragraph, "Source") {
                let (source_name, source_version) = parse_source(source);
                pkg.source_name = Some(source_name.to_string());
                pkg.source_version = Some(source_version.unwrap_or(version).to_string());
            }
            output.packages.push(pkg);
        }
        if output.packages.is_empty() && !output.warnings.is_empty() {
            return Err(AnalyzeError::malformed(
                "dpkg status",
                "no record has a Package and a Version",
            ));
        }
        Ok(output)
    }
}

/// `Source: name (version)` or `Source: name`.
fn parse_source(source: &str) -> (&str, Option<&str>) {
    match source.split_once('(') {
        Some((name, rest)) => (name.trim(), Some(rest.trim_end_matches(')').trim())),
        None => (source.trim(), None),
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
    fn installed_packages_are_read_with_their_source() {
        let output = Dpkg
            .analyze(
                "var/lib/dpkg/status",
                airlock_testkit::fixtures::dpkg_status().as_bytes(),
                &CTX,
            )
            .unwrap();
        let names: Vec<&str> = output.packages.iter().map(|p| p.name.as_str()).collect();
        // libgcc-s1 is deinstalled (config-files only) and must not appear.
        assert_eq!(names, ["base-files", "libc6", "libssl3", "zlib1g"]);
        let libssl = &output.packages[2];
        assert_eq!(libssl.source_name.as_deref(), Some("openssl"));
        assert_eq!(libssl.source_version.as_deref(), Some("3.0.11-1~deb12u2"));
        assert_eq!(libssl.ecosystem, "os:Debian");
        assert_eq!(
            libssl.purl,
            "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64"
        );
        let zlib = &output.packages[3];
        // `Source: zlib (1:1.2.13.dfsg-1)` carries its own version.
        assert_eq!(zlib.source_name.as_deref(), Some("zlib"));
        assert_eq!(zlib.source_version.as_deref(), Some("1:1.2.13.dfsg-1"));
        assert_eq!(zlib.version, "1:1.2.13.dfsg-1");
        let libc = &output.packages[1];
        assert_eq!(libc.source_name.as_deref(), Some("glibc"));
        assert_eq!(libc.source_version.as_deref(), Some("2.36-9+deb12u4"));
    }

    #[test]
    fn distroless_status_d_entries_count_as_installed() {
        let output = Dpkg
            .analyze(
                "var/lib/dpkg/status.d/tzdata",
                airlock_testkit::fixtures::dpkg_status_d_tzdata().as_bytes(),
                &CTX,
            )
            .unwrap();
        assert_eq!(output.packages.len(), 1);
        assert_eq!(output.packages[0].name, "tzdata");
        assert_eq!(output.packages[0].version, "2024a-0+deb12u1");
    }

    #[test]
    fn md5sums_and_other_paths_are_not_wanted() {
        assert!(Dpkg.wants("var/lib/dpkg/status", 0o644));
        assert!(Dpkg.wants("var/lib/dpkg/status.d/base", 0o644));
        assert!(!Dpkg.wants("var/lib/dpkg/status.d/base.md5sums", 0o644));
        assert!(!Dpkg.wants("var/lib/dpkg/status-old", 0o644));
    }

    #[test]
    fn malformed_status_is_an_error_not_a_panic() {
        let garbage = b"\x00\x01binary\xff junk: with colon\n\nnot a record\n";
        let error = Dpkg
            .analyze("var/lib/dpkg/status", garbage, &CTX)
            .unwrap_err();
        assert!(
            error.to_string().contains("malformed dpkg status"),
            "{error}"
        );
    }

    #[test]
    fn one_broken_record_is_a_warning() {
        let status = "Package: a\nStatus: install ok installed\nVersion: 1\n\nStatus: install ok installed\nVersion: 2\n";
        let output = Dpkg
            .analyze("var/lib/dpkg/status", status.as_bytes(), &CTX)
            .unwrap();
        assert_eq!(output.packages.len(), 1);
        assert_eq!(output.warnings.len(), 1);
    }
}
