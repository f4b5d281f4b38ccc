//! Alpine (and Wolfi) packages from the apk database `lib/apk/db/installed`:
//! blank-line separated records of one-letter fields (`P:` name, `V:`
//! version, `o:` origin, `L:` licence, `A:` arch). The origin is the source
//! package osv.dev's Alpine records are keyed by.

use super::{AnalyzeContext, Analyzer, AnalyzerOutput, package, purl, text};
use crate::{AnalyzeError, OS_ECOSYSTEM_PREFIX};

/// The apk analyzer.
pub struct Apk;

impl Apk {
    /// Bump when the output changes.
    pub const VERSION: u32 = 1;
}

#[derive(Default)]
struct Record {
    name: Option<String>,
    version: Option<String>,
    origin: Option<String>,
    license: Option<String>,
    arch: Option<String>,
}

impl Analyzer for Apk {
    fn name(&self) -> &'static str {
        "apk"
    }

    fn version(&self) -> u32 {
        Self::VERSION
    }

    fn wants(&self, path: &str, _mode: u32) -> bool {
        path == "lib/apk/db/installed"
    }

    fn analyze(
        &self,
        _path: &str,
        bytes: &[u8],
        _ctx: &AnalyzeContext<'_>,
    ) -> Result<AnalyzerOutput, AnalyzeError> {
        let mut records = Vec::new();
        let mut current = Record::default();
        for line in text(bytes).lines() {
            if line.trim().is_empty() {
                records.push(std::mem::take(&mut current));
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = Some(value.to_string());
            match key {
                "P" => current.name = value,
                "V" => current.version = value,
                "o" => current.origin = value,
                "L" => current.license = value,
                "A" => current.arch = value,
                _ => {}
            }
        }
        records.push(current);
        let mut output = AnalyzerOutput::default();
        for record in records {
            let (Some(name), Some(version)) = (record.name, record.version) else {
                continue;
            };
            let arch = record.arch.unwrap_or_default();
            let mut pkg = package(
                &format!("{OS_ECOSYSTEM_PREFIX}Alpine"),
                &name,
                &version,
                purl("apk", Some("alpine"), &name, &version, &[("arch", &arch)]),
            );
            pkg.source_name = record.origin;
            if pkg.source_name.is_some() {
                pkg.source_version = Some(version.clone());
            }
            pkg.licenses = record
                .license
                .filter(|l| !l.is_empty())
                .into_iter()
                .collect();
            output.packages.push(pkg);
        }
        if output.packages.is_empty() && !bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(AnalyzeError::malformed(
                "apk installed database",
                "no record has P: and V:",
            ));
        }
        Ok(output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_origin_license_and_arch() {
        let ctx = AnalyzeContext {
            layer_digest: "sha256:x",
            max_file_bytes: 1 << 20,
        };
        let output = Apk
            .analyze(
                "lib/apk/db/installed",
                airlock_testkit::fixtures::apk_installed().as_bytes(),
                &ctx,
            )
            .unwrap();
        let names: Vec<&str> = output.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["musl", "busybox", "libcrypto3"]);
        let libcrypto = &output.packages[2];
        assert_eq!(libcrypto.version, "3.1.4-r5");
        assert_eq!(libcrypto.source_name.as_deref(), Some("openssl"));
        assert_eq!(libcrypto.licenses, ["Apache-2.0"]);
        assert_eq!(libcrypto.ecosystem, "os:Alpine");
        assert_eq!(
            libcrypto.purl,
            "pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64"
        );
    }

    #[test]
    fn garbage_is_malformed() {
        let ctx = AnalyzeContext {
            layer_digest: "sha256:x",
            max_file_bytes: 1 << 20,
        };
        assert!(
            Apk.analyze("lib/apk/db/installed", b"nonsense\x00\xff", &ctx)
                .is_err()
        );
        assert!(
            Apk.analyze("lib/apk/db/installed", b"\n", &ctx)
                .unwrap()
                .packages
                .is_empty()
        );
    }
}
