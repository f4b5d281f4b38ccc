//! Rust binaries built with cargo-auditable: their ELF section `.dep-v0`
//! holds zlib-compressed JSON listing every crate compiled in. crates.io
//! crates are reported; the root (the binary's own crate, `local`) and git
//! or path crates are not.

use std::io::Read;

use flate2::read::ZlibDecoder;
use serde::Deserialize;

use super::cargo_lock::{crate_package, is_crates_io};
use super::{AnalyzeContext, Analyzer, AnalyzerOutput};
use crate::{AnalyzeError, elf};

/// The cargo-auditable analyzer.
pub struct CargoAuditable;

impl CargoAuditable {
    /// Bump when the output changes.
    pub const VERSION: u32 = 1;
}

/// Largest decompressed dependency list accepted (a zlib bomb guard).
const MAX_JSON_BYTES: u64 = 8 << 20;

#[derive(Deserialize)]
struct Info {
    packages: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    name: String,
    version: String,
    source: String,
}

impl Analyzer for CargoAuditable {
    fn name(&self) -> &'static str {
        "cargo-auditable"
    }

    fn version(&self) -> u32 {
        Self::VERSION
    }

    fn wants(&self, _path: &str, mode: u32) -> bool {
        mode & 0o111 != 0
    }

    fn wants_content(&self, head: &[u8]) -> bool {
        head.starts_with(b"\x7fELF")
    }

    fn analyze(
        &self,
        _path: &str,
        bytes: &[u8],
        _ctx: &AnalyzeContext<'_>,
    ) -> Result<AnalyzerOutput, AnalyzeError> {
        let Some(section) = elf::section(bytes, ".dep-v0") else {
            return Ok(AnalyzerOutput::default());
        };
        let mut json = Vec::new();
        ZlibDecoder::new(section)
            .take(MAX_JSON_BYTES)
            .read_to_end(&mut json)
            .map_err(|e| AnalyzeError::malformed("cargo-auditable .dep-v0", e.to_string()))?;
        let info: Info = serde_json::from_slice(&json)
            .map_err(|e| AnalyzeError::malformed("cargo-auditable .dep-v0", e.to_string()))?;
        let packages = info
            .packages
            .iter()
            .filter(|entry| is_crates_io(&entry.source))
            .map(|entry| crate_package(&entry.name, &entry.version))
            .collect();
        Ok(AnalyzerOutput::packages(packages))
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
    fn auditable_section_lists_crates_io_dependencies() {
        let output = CargoAuditable
            .analyze(
                "usr/local/bin/myapp",
                &airlock_testkit::fixtures::cargo_auditable_binary(),
                &CTX,
            )
            .unwrap();
        let found: Vec<(&str, &str)> = output
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(found, [("serde", "1.0.193"), ("rustls", "0.21.0")]);
    }

    #[test]
    fn binaries_without_the_section_or_with_garbage() {
        let plain = airlock_testkit::fixtures::elf_with_sections(&[(".text", b"\x90")]);
        assert!(
            CargoAuditable
                .analyze("bin/x", &plain, &CTX)
                .unwrap()
                .packages
                .is_empty()
        );
        let broken = airlock_testkit::fixtures::elf_with_sections(&[(".dep-v0", b"not zlib")]);
        assert!(CargoAuditable.analyze("bin/x", &broken, &CTX).is_err());
        assert!(CargoAuditable.wants("bin/x", 0o755) && !CargoAuditable.wants("bin/x", 0o644));
        assert!(!CargoAuditable.wants_content(b"#!/bin/sh"));
    }
}
