//! Java archives (`.jar`, `.war`, `.ear`): Maven writes
//! `META-INF/maven/<groupId>/<artifactId>/pom.properties` into every artifact
//! it builds; when there is none, `META-INF/MANIFEST.MF` (Implementation-*
//! or Bundle-* headers) is the fallback. Archives nested one level deep
//! (Spring Boot's `BOOT-INF/lib/*.jar`, `WEB-INF/lib/*.jar`, ear modules)
//! are opened from memory too, each capped by `max_file_bytes`.
//! Ecosystem `Maven`, name `groupId:artifactId`.

use std::io::{Cursor, Read};

use super::{
    AnalyzeContext, Analyzer, AnalyzerOutput, field, package, purl, rfc822_paragraphs, text,
};
use crate::AnalyzeError;
use airlock_scan_model::Package;

/// The Java archive analyzer.
pub struct Java;

impl Java {
    /// Bump when the output changes.
    pub const VERSION: u32 = 1;
}

/// Largest metadata file (pom.properties, MANIFEST.MF) read from an archive.
const MAX_METADATA_BYTES: u64 = 1 << 20;

impl Analyzer for Java {
    fn name(&self) -> &'static str {
        "java"
    }

    fn version(&self) -> u32 {
        Self::VERSION
    }

    fn wants(&self, path: &str, _mode: u32) -> bool {
        is_archive(path)
    }

    fn analyze(
        &self,
        _path: &str,
        bytes: &[u8],
        ctx: &AnalyzeContext<'_>,
    ) -> Result<AnalyzerOutput, AnalyzeError> {
        let mut output = AnalyzerOutput::default();
        let nested = scan_archive(bytes, &mut output.packages, true, ctx.max_file_bytes)?;
        for (name, nested_bytes) in nested {
            if let Err(error) = scan_archive(
                &nested_bytes,
                &mut output.packages,
                false,
                ctx.max_file_bytes,
            ) {
                output
                    .warnings
                    .push(format!("nested archive {name}: {error}"));
            }
        }
        Ok(output)
    }
}

fn is_archive(path: &str) -> bool {
    [".jar", ".war", ".ear"]
        .iter()
        .any(|ext| path.ends_with(ext))
}

fn maven_package(group: &str, artifact: &str, version: &str) -> Package {
    let name = if group.is_empty() {
        artifact.to_string()
    } else {
        format!("{group}:{artifact}")
    };
    package(
        "Maven",
        &name,
        version,
        purl("maven", Some(group), artifact, version, &[]),
    )
}

fn read_entry(file: zip::read::ZipFile<'_, impl Read>, cap: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(cap).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Adds the archive's packages; returns nested archives when `collect_nested`.
fn scan_archive(
    bytes: &[u8],
    packages: &mut Vec<Package>,
    collect_nested: bool,
    max_file_bytes: u64,
) -> Result<Vec<(String, Vec<u8>)>, AnalyzeError> {
    let malformed =
        |e: &dyn std::fmt::Display| AnalyzeError::malformed("java archive", e.to_string());
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| malformed(&e))?;
    let mut found_pom = false;
    let mut manifest: Option<Vec<u8>> = None;
    let mut nested = Vec::new();
    for index in 0..archive.len() {
        let file = archive.by_index(index).map_err(|e| malformed(&e))?;
        let name = file.name().to_string();
        if name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties") {
            let content = read_entry(file, MAX_METADATA_BYTES).map_err(|e| malformed(&e))?;
            if let Some(pkg) = pom_properties(&text(&content)) {
                packages.push(pkg);
                found_pom = true;
            }
        } else if name == "META-INF/MANIFEST.MF" {
            manifest = Some(read_entry(file, MAX_METADATA_BYTES).map_err(|e| malformed(&e))?);
        } else if collect_nested && is_archive(&name) {
            if file.size() > max_file_bytes {
                return Err(malformed(&format!(
                    "nested archive {name} is larger than max_file_bytes ({max_file_bytes})"
                )));
            }
            nested.push((
                name,
                read_entry(file, max_file_bytes).map_err(|e| malformed(&e))?,
            ));
        }
    }
    if !found_pom && let Some(pkg) = manifest.and_then(|m| manifest_package(&text(&m))) {
        packages.push(pkg);
    }
    Ok(nested)
}

fn pom_properties(content: &str) -> Option<Package> {
    let mut group = None;
    let mut artifact = None;
    let mut version = None;
    for line in content.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key.trim() {
            "groupId" => group = Some(value.trim()),
            "artifactId" => artifact = Some(value.trim()),
            "version" => version = Some(value.trim()),
            _ => {}
        }
    }
    Some(maven_package(group?, artifact?, version?))
}

fn manifest_package(content: &str) -> Option<Package> {
    let paragraphs = rfc822_paragraphs(content);
    let main = paragraphs.first()?;
    let version =
        field(main, "Implementation-Version").or_else(|| field(main, "Bundle-Version"))?;
    let artifact = field(main, "Implementation-Title")
        .or_else(|| field(main, "Bundle-SymbolicName").map(|s| s.split(';').next().unwrap_or(s)))?;
    let group = field(main, "Implementation-Vendor-Id").unwrap_or("");
    Some(maven_package(group, artifact.trim(), version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_testkit::fixtures;

    const CTX: AnalyzeContext<'static> = AnalyzeContext {
        layer_digest: "sha256:x",
        max_file_bytes: 1 << 20,
    };

    fn found(bytes: &[u8]) -> Vec<(String, String, String)> {
        Java.analyze("app.jar", bytes, &CTX)
            .unwrap()
            .packages
            .into_iter()
            .map(|p| (p.name, p.version, p.purl))
            .collect()
    }

    #[test]
    fn pom_properties_wins_over_manifest() {
        assert_eq!(
            found(&fixtures::jar_with_pom()),
            [(
                "com.fasterxml.jackson.core:jackson-databind".to_string(),
                "2.15.2".to_string(),
                "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.15.2".to_string()
            )]
        );
    }

    #[test]
    fn nested_jars_one_level_with_manifest_fallback() {
        let names: Vec<String> = found(&fixtures::spring_boot_jar())
            .into_iter()
            .map(|(n, v, _)| format!("{n}@{v}"))
            .collect();
        assert_eq!(
            names,
            [
                "com.acme:shop@1.0.0",
                "com.fasterxml.jackson.core:jackson-databind@2.15.2",
                "org.apache.logging.log4j:log4j-core@2.14.1"
            ]
        );
    }

    #[test]
    fn garbage_and_oversized_nested_archives_are_errors() {
        assert!(Java.analyze("x.jar", b"PK\x03\x04 nope", &CTX).is_err());
        let small = AnalyzeContext {
            layer_digest: "sha256:x",
            max_file_bytes: 100,
        };
        let error = Java
            .analyze("x.jar", &fixtures::spring_boot_jar(), &small)
            .unwrap_err();
        assert!(error.to_string().contains("max_file_bytes"), "{error}");
    }
}
