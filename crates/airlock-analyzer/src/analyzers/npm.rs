//! npm packages: installed packages (`node_modules/<name>/package.json`,
//! scoped `node_modules/@scope/name/package.json`) and, outside
//! `node_modules`, the lockfiles of projects: `package-lock.json` (v1
//! `dependencies`, v2/v3 `packages`), `yarn.lock` (v1 and berry) and
//! `pnpm-lock.yaml` (the keys of its `packages:` map, read line by line:
//! no YAML parser is needed for keys). Workspace links and local packages
//! are skipped: they are not from the registry. A `package-lock.json`'s root
//! entry is the project itself: listed with `application` set, never matched.

use serde_json::Value;

use super::{AnalyzeContext, Analyzer, AnalyzerOutput, package, purl, text};
use crate::AnalyzeError;
use crate::paths::file_name;
use airlock_scan_model::Package;

/// The npm analyzer.
pub struct Npm;

impl Npm {
    /// Bump when the output changes.
    pub const VERSION: u32 = 2;
}

const LOCKFILES: &[&str] = &["package-lock.json", "yarn.lock", "pnpm-lock.yaml"];

/// Whether `path` is `.../node_modules/<name>/package.json` (or scoped).
fn is_installed_manifest(path: &str) -> bool {
    let Some(dir) = path.strip_suffix("/package.json") else {
        return false;
    };
    let parts: Vec<&str> = dir.rsplit('/').take(3).collect();
    match parts.as_slice() {
        [name, "node_modules", ..] => !name.starts_with('.') && !name.starts_with('@'),
        [name, scope, "node_modules"] => scope.starts_with('@') && !name.is_empty(),
        _ => false,
    }
}

fn in_node_modules(path: &str) -> bool {
    path.split('/').any(|c| c == "node_modules")
}

impl Analyzer for Npm {
    fn name(&self) -> &'static str {
        "npm"
    }

    fn version(&self) -> u32 {
        Self::VERSION
    }

    fn wants(&self, path: &str, _mode: u32) -> bool {
        is_installed_manifest(path)
            || (LOCKFILES.contains(&file_name(path)) && !in_node_modules(path))
    }

    fn analyze(
        &self,
        path: &str,
        bytes: &[u8],
        _ctx: &AnalyzeContext<'_>,
    ) -> Result<AnalyzerOutput, AnalyzeError> {
        let packages = match file_name(path) {
            "package.json" => package_json(bytes)?,
            "package-lock.json" => package_lock(bytes)?,
            "yarn.lock" => yarn_lock(&text(bytes)),
            _ => pnpm_lock(&text(bytes)),
        };
        Ok(AnalyzerOutput::packages(packages))
    }
}

fn npm_package(name: &str, version: &str) -> Package {
    let (namespace, bare) = match name.split_once('/') {
        Some((scope, bare)) if scope.starts_with('@') => (Some(scope), bare),
        _ => (None, name),
    };
    package(
        "npm",
        name,
        version,
        purl("npm", namespace, bare, version, &[]),
    )
}

/// Only versions from the registry: `file:`, `link:`, git URLs and the like
/// are not (they would never match advisories anyway).
fn is_registry_version(version: &str) -> bool {
    version.starts_with(|c: char| c.is_ascii_digit())
}

fn license_of(value: &Value) -> Option<String> {
    match value.get("license")? {
        Value::String(license) => Some(license.clone()),
        Value::Object(object) => object.get("type")?.as_str().map(str::to_string),
        _ => None,
    }
}

fn package_json(bytes: &[u8]) -> Result<Vec<Package>, AnalyzeError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| AnalyzeError::malformed("package.json", e.to_string()))?;
    let (Some(name), Some(version)) = (
        value.get("name").and_then(Value::as_str),
        value.get("version").and_then(Value::as_str),
    ) else {
        return Err(AnalyzeError::malformed(
            "package.json",
            "no name or version",
        ));
    };
    let mut pkg = npm_package(name, version);
    pkg.licenses = license_of(&value).into_iter().collect();
    Ok(vec![pkg])
}

fn package_lock(bytes: &[u8]) -> Result<Vec<Package>, AnalyzeError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| AnalyzeError::malformed("package-lock.json", e.to_string()))?;
    let mut out = Vec::new();
    // The project itself (v2/v3 root entry, or v1 top level): listed as the
    // application, never matched.
    let root = value
        .get("packages")
        .and_then(|p| p.get(""))
        .unwrap_or(&value);
    if let (Some(name), Some(version)) = (
        root.get("name")
            .and_then(Value::as_str)
            .or_else(|| value.get("name").and_then(Value::as_str)),
        root.get("version").and_then(Value::as_str),
    ) {
        let mut pkg = npm_package(name, version);
        pkg.application = true;
        pkg.licenses = license_of(root).into_iter().collect();
        out.push(pkg);
    }
    if let Some(packages) = value.get("packages").and_then(Value::as_object) {
        for (key, entry) in packages {
            let Some((_, name)) = key.rsplit_once("node_modules/") else {
                continue; // the root project or a workspace folder
            };
            if entry.get("link").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let name = entry.get("name").and_then(Value::as_str).unwrap_or(name);
            if let Some(version) = entry
                .get("version")
                .and_then(Value::as_str)
                .filter(|v| is_registry_version(v))
            {
                let mut pkg = npm_package(name, version);
                pkg.licenses = license_of(entry).into_iter().collect();
                out.push(pkg);
            }
        }
    } else if let Some(dependencies) = value.get("dependencies").and_then(Value::as_object) {
        let mut stack: Vec<&serde_json::Map<String, Value>> = vec![dependencies];
        while let Some(level) = stack.pop() {
            for (name, entry) in level {
                if let Some(version) = entry
                    .get("version")
                    .and_then(Value::as_str)
                    .filter(|v| is_registry_version(v))
                {
                    out.push(npm_package(name, version));
                }
                if let Some(nested) = entry.get("dependencies").and_then(Value::as_object) {
                    stack.push(nested);
                }
            }
        }
    }
    Ok(out)
}

/// The package name of a yarn descriptor: `@scope/name@npm:^1` → `@scope/name`.
fn descriptor_name(descriptor: &str) -> Option<&str> {
    let descriptor = descriptor.trim().trim_matches('"');
    let at = descriptor.get(1..)?.find('@')? + 1;
    Some(&descriptor[..at])
}

fn yarn_lock(content: &str) -> Vec<Package> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    let mut skip = false;
    for line in content.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            let header = line.trim_end_matches(':');
            let first = header.split(", ").next().unwrap_or(header);
            current = descriptor_name(first).map(str::to_string);
            skip = header.contains("@workspace:")
                || header.contains("@link:")
                || header.contains("@file:")
                || header.starts_with("__metadata");
            continue;
        }
        let trimmed = line.trim();
        let version = trimmed
            .strip_prefix("version ")
            .or_else(|| trimmed.strip_prefix("version: "))
            .map(|v| v.trim().trim_matches('"'));
        if let (Some(version), Some(name), false) = (version, current.as_deref(), skip)
            && line.starts_with("  ")
            && !line.starts_with("   ")
            && is_registry_version(version)
        {
            out.push(npm_package(name, version));
        }
    }
    out
}

fn pnpm_lock(content: &str) -> Vec<Package> {
    let mut out = Vec::new();
    let mut in_packages = false;
    for line in content.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() {
            in_packages = line.trim_end() == "packages:";
            continue;
        }
        if !in_packages || !line.starts_with("  ") || line.starts_with("   ") {
            continue;
        }
        let key = line
            .trim()
            .trim_end_matches(':')
            .trim_matches(|c| c == '\'' || c == '"');
        let key = key.strip_prefix('/').unwrap_or(key);
        let key = key.split('(').next().unwrap_or(key);
        let segments: Vec<&str> = key.split('/').collect();
        // lockfile v5: /name/1.2.3 or /@scope/name/1.2.3 (peers after `_`)
        let v5 = match segments.as_slice() {
            [scope, name, version] if scope.starts_with('@') => {
                Some((&key[..scope.len() + 1 + name.len()], *version))
            }
            [name, version] if !name.starts_with('@') => Some((*name, *version)),
            _ => None,
        };
        let (name, version) = match v5.filter(|(_, v)| is_registry_version(v)) {
            Some(found) => found,
            // lockfile v6/v9: name@1.2.3 or @scope/name@1.2.3
            None => match key.get(1..).and_then(|k| k.find('@')) {
                Some(at) => (&key[..=at], &key[at + 2..]),
                None => continue,
            },
        };
        let version = version.split('_').next().unwrap_or(version);
        if is_registry_version(version) && !name.is_empty() {
            out.push(npm_package(name, version));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_testkit::fixtures;

    const CTX: AnalyzeContext<'static> = AnalyzeContext {
        layer_digest: "sha256:x",
        max_file_bytes: 1 << 20,
    };

    fn found(path: &str, content: &str) -> Vec<(String, String)> {
        let mut packages: Vec<(String, String)> = Npm
            .analyze(path, content.as_bytes(), &CTX)
            .unwrap()
            .packages
            .into_iter()
            .map(|p| {
                let marker = if p.application { " (application)" } else { "" };
                (p.name, format!("{}{marker}", p.version))
            })
            .collect();
        packages.sort();
        packages
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn installed_package_json_with_scope_gets_an_encoded_purl() {
        let output = Npm
            .analyze(
                "app/node_modules/@babel/core/package.json",
                fixtures::npm_package_json("@babel/core", "7.23.6", "MIT").as_bytes(),
                &CTX,
            )
            .unwrap();
        assert_eq!(output.packages[0].purl, "pkg:npm/%40babel/core@7.23.6");
        assert_eq!(output.packages[0].licenses, ["MIT"]);
        assert_eq!(output.packages[0].ecosystem, "npm");
    }

    #[test]
    fn package_json_needs_name_and_version() {
        assert!(
            Npm.analyze("node_modules/x/package.json", br#"{"name":"x"}"#, &CTX)
                .is_err()
        );
        assert!(
            Npm.analyze("node_modules/x/package.json", b"{not json", &CTX)
                .is_err()
        );
    }

    #[test]
    fn lockfile_v3_lists_the_root_as_the_application_and_skips_links() {
        assert_eq!(
            found("srv/app/package-lock.json", &fixtures::package_lock_v3()),
            pairs(&[
                ("@types/node", "20.10.5"),
                ("debug", "2.6.9"),
                ("express", "4.18.2"),
                ("webapp", "1.0.0 (application)")
            ])
        );
    }

    #[test]
    fn lockfile_v1_recurses() {
        assert_eq!(
            found("package-lock.json", &fixtures::package_lock_v1()),
            pairs(&[
                ("legacy", "1.0.0 (application)"),
                ("lodash", "4.17.20"),
                ("minimist", "0.0.8")
            ])
        );
    }

    #[test]
    fn yarn_v1_and_berry() {
        assert_eq!(
            found("app/yarn.lock", &fixtures::yarn_lock_v1()),
            pairs(&[("@babel/code-frame", "7.12.13"), ("js-tokens", "4.0.0")])
        );
        assert_eq!(
            found("app/yarn.lock", &fixtures::yarn_lock_berry()),
            pairs(&[("lodash", "4.17.21")])
        );
    }

    #[test]
    fn pnpm_packages_keys() {
        assert_eq!(
            found("app/pnpm-lock.yaml", &fixtures::pnpm_lock()),
            pairs(&[
                ("@types/node", "20.10.5"),
                ("ms", "2.1.3"),
                ("react-dom", "18.2.0")
            ])
        );
        assert_eq!(
            found(
                "pnpm-lock.yaml",
                "lockfileVersion: 5.4\npackages:\n  /@scope/pkg/1.0.0_react@18.2.0:\n    resolution: {}\n  /ms/2.1.2:\n    dev: false\n"
            ),
            pairs(&[("@scope/pkg", "1.0.0"), ("ms", "2.1.2")])
        );
    }

    #[test]
    fn wanted_paths() {
        assert!(Npm.wants("usr/lib/node_modules/npm/package.json", 0o644));
        assert!(Npm.wants("app/node_modules/@types/node/package.json", 0o644));
        assert!(Npm.wants("app/node_modules/a/node_modules/b/package.json", 0o644));
        assert!(!Npm.wants("app/node_modules/a/lib/package.json", 0o644));
        assert!(!Npm.wants("app/package.json", 0o644));
        assert!(Npm.wants("app/package-lock.json", 0o644));
        assert!(!Npm.wants("app/node_modules/x/package-lock.json", 0o644));
    }
}
