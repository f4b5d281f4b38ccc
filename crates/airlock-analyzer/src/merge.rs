//! Layer merging: the union filesystem semantics of OCI images applied to
//! analysis results instead of files. A later layer's file at a path replaces
//! every result an earlier layer had for that path; whiteouts and opaque
//! directories delete what lower layers had. OS packages receive the image's
//! OS ecosystem here (see the crate docs).

use std::collections::{BTreeMap, HashSet};

use airlock_scan_model::{OsInfo, Package};

use crate::paths::is_within;
use crate::{FileResult, LayerAnalysis, OS_ECOSYSTEM_PREFIX};

/// Applies layers in order: a later layer's file at the same path replaces an
/// earlier one; whiteouts (`.wh.name`) and opaque dirs (`.wh..wh..opq`)
/// delete what lower layers had. Returns the OS and the sorted,
/// de-duplicated packages, OS packages carrying the OS's ecosystem.
pub fn merge_layers(layers: &[LayerAnalysis]) -> (Option<OsInfo>, Vec<Package>) {
    let mut visible: BTreeMap<&str, Vec<&FileResult>> = BTreeMap::new();
    for layer in layers {
        for dir in &layer.opaque_dirs {
            visible.retain(|path, _| !(is_within(path, dir) && *path != dir.as_str()));
        }
        for deleted in &layer.whiteouts {
            visible.retain(|path, _| !is_within(path, deleted));
        }
        let mut replaced: HashSet<&str> = HashSet::new();
        for file in &layer.files {
            let path = file.path.as_str();
            if replaced.insert(path) {
                visible.remove(path);
            }
            visible.entry(path).or_default().push(file);
        }
    }

    let os = visible
        .iter()
        .flat_map(|(path, results)| results.iter().map(move |r| (*path, r)))
        .filter_map(|(path, result)| result.os.as_ref().map(|os| (os_source_rank(path), os)))
        .min_by_key(|(rank, _)| *rank)
        .map(|(_, os)| os.clone());

    let mut packages: Vec<Package> = visible
        .values()
        .flatten()
        .flat_map(|result| result.packages.iter().cloned())
        .map(|package| complete_os_package(package, os.as_ref()))
        .collect();
    packages.sort();
    packages.dedup();
    (os, packages)
}

/// Which OS source wins when several are present (lower is better).
fn os_source_rank(path: &str) -> u8 {
    match path {
        "etc/os-release" => 0,
        "usr/lib/os-release" => 1,
        "etc/alpine-release" => 2,
        "etc/redhat-release" => 3,
        "etc/debian_version" => 4,
        _ => 5,
    }
}

/// Replaces the placeholder ecosystem of an OS package by the OS's and adds
/// the OS to its purl (namespace and `distro=` qualifier).
fn complete_os_package(mut package: Package, os: Option<&OsInfo>) -> Package {
    let Some(implied) = package.ecosystem.strip_prefix(OS_ECOSYSTEM_PREFIX) else {
        return package;
    };
    match os {
        Some(os) => {
            package.ecosystem = os.ecosystem.clone();
            package.purl = os_purl(&package.purl, os);
        }
        None => package.ecosystem = implied.to_string(),
    }
    package
}

/// purl namespace for an OS family (os-release `ID`).
fn purl_namespace(family: &str) -> &str {
    match family {
        "rhel" => "redhat",
        "opensuse-leap" | "opensuse-tumbleweed" | "opensuse" => "opensuse",
        "sles" | "sled" => "suse",
        other => other,
    }
}

fn os_purl(purl: &str, os: &OsInfo) -> String {
    // pkg:<type>/<namespace>/<name>@<version>?<qualifiers>
    let Some(rest) = purl.strip_prefix("pkg:") else {
        return purl.to_string();
    };
    let (path, qualifiers) = rest.split_once('?').unwrap_or((rest, ""));
    let mut segments: Vec<&str> = path.split('/').collect();
    let namespace = purl_namespace(&os.family);
    if segments.len() >= 3 && !namespace.is_empty() {
        segments[1] = namespace;
    }
    let mut pairs: Vec<String> = qualifiers
        .split('&')
        .filter(|q| !q.is_empty() && !q.starts_with("distro="))
        .map(str::to_string)
        .collect();
    if !os.version.is_empty() {
        pairs.push(format!(
            "distro={}-{}",
            namespace,
            crate::analyzers::purl_encode(&os.version)
        ));
    }
    pairs.sort();
    let mut out = format!("pkg:{}", segments.join("/"));
    if !pairs.is_empty() {
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, ecosystem: &str, path: &str) -> Package {
        Package {
            ecosystem: ecosystem.to_string(),
            name: name.to_string(),
            version: "1.0".to_string(),
            source_name: None,
            source_version: None,
            purl: format!("pkg:deb/debian/{name}@1.0?arch=amd64"),
            licenses: Vec::new(),
            layer: "sha256:l".to_string(),
            path: path.to_string(),
            application: false,
        }
    }

    fn file(path: &str, packages: Vec<Package>, os: Option<OsInfo>) -> FileResult {
        FileResult {
            path: path.to_string(),
            analyzer: "test".to_string(),
            packages,
            os,
        }
    }

    fn layer(files: Vec<FileResult>, whiteouts: &[&str], opaque: &[&str]) -> LayerAnalysis {
        LayerAnalysis {
            digest: "sha256:l".to_string(),
            files,
            whiteouts: whiteouts.iter().map(|s| s.to_string()).collect(),
            opaque_dirs: opaque.iter().map(|s| s.to_string()).collect(),
            warnings: Vec::new(),
        }
    }

    fn debian() -> OsInfo {
        OsInfo {
            family: "debian".to_string(),
            version: "12".to_string(),
            ecosystem: "Debian:12".to_string(),
        }
    }

    #[test]
    fn os_packages_get_the_detected_os_ecosystem_and_distro() {
        let layers = [
            layer(
                vec![file(
                    "var/lib/dpkg/status",
                    vec![pkg("bash", "os:Debian", "var/lib/dpkg/status")],
                    None,
                )],
                &[],
                &[],
            ),
            layer(
                vec![file("etc/os-release", vec![], Some(debian()))],
                &[],
                &[],
            ),
        ];
        let (os, packages) = merge_layers(&layers);
        assert_eq!(os, Some(debian()));
        assert_eq!(packages[0].ecosystem, "Debian:12");
        assert_eq!(
            packages[0].purl,
            "pkg:deb/debian/bash@1.0?arch=amd64&distro=debian-12"
        );
    }

    #[test]
    fn without_an_os_the_implied_family_is_used() {
        let layers = [layer(
            vec![file(
                "lib/apk/db/installed",
                vec![pkg("musl", "os:Alpine", "x")],
                None,
            )],
            &[],
            &[],
        )];
        let (os, packages) = merge_layers(&layers);
        assert_eq!(os, None);
        assert_eq!(packages[0].ecosystem, "Alpine");
    }

    #[test]
    fn later_file_replaces_earlier_and_whiteouts_delete() {
        let layers = [
            layer(
                vec![
                    file("a/status", vec![pkg("old", "npm", "a/status")], None),
                    file(
                        "b/x/package.json",
                        vec![pkg("gone", "npm", "b/x/package.json")],
                        None,
                    ),
                    file(
                        "c/package.json",
                        vec![pkg("opaque-gone", "npm", "c/package.json")],
                        None,
                    ),
                ],
                &[],
                &[],
            ),
            layer(
                vec![
                    file("a/status", vec![pkg("new", "npm", "a/status")], None),
                    file(
                        "c/new.json",
                        vec![pkg("opaque-new", "npm", "c/new.json")],
                        None,
                    ),
                ],
                &["b"],
                &["c"],
            ),
        ];
        let (_, packages) = merge_layers(&layers);
        let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["new", "opaque-new"]);
    }
}
