//! OS detection from `os-release` and the older release files, normalised to
//! osv.dev ecosystem names (`Debian:12`, `Alpine:v3.19`, `Ubuntu:22.04`,
//! `Wolfi`, `Rocky Linux:9`, `AlmaLinux:9`, `Red Hat`, `openSUSE:Leap 15.5`).
//! Distroless images carry a plain `etc/os-release` (Debian-based ones with
//! `ID=debian`), so they need no special case.

use airlock_scan_model::OsInfo;

use super::{AnalyzeContext, Analyzer, AnalyzerOutput, text};
use crate::AnalyzeError;

/// The OS detection analyzer.
pub struct OsRelease;

impl OsRelease {
    /// Bump when the output changes.
    pub const VERSION: u32 = 1;
}

const PATHS: &[&str] = &[
    "etc/os-release",
    "usr/lib/os-release",
    "etc/alpine-release",
    "etc/debian_version",
    "etc/redhat-release",
];

impl Analyzer for OsRelease {
    fn name(&self) -> &'static str {
        "os-release"
    }

    fn version(&self) -> u32 {
        Self::VERSION
    }

    fn wants(&self, path: &str, _mode: u32) -> bool {
        PATHS.contains(&path)
    }

    fn analyze(
        &self,
        path: &str,
        bytes: &[u8],
        _ctx: &AnalyzeContext<'_>,
    ) -> Result<AnalyzerOutput, AnalyzeError> {
        let content = text(bytes);
        let os = match path {
            "etc/alpine-release" => from_id("alpine", content.trim()),
            "etc/debian_version" => debian_version(content.trim()),
            "etc/redhat-release" => redhat_release(content.trim()),
            _ => parse_os_release(&content),
        };
        Ok(AnalyzerOutput {
            os,
            ..AnalyzerOutput::default()
        })
    }
}

fn unquote(value: &str) -> String {
    let value = value.trim();
    let stripped = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value);
    stripped.replace("\\\"", "\"")
}

/// Parses `KEY=value` lines of os-release(5).
fn parse_os_release(content: &str) -> Option<OsInfo> {
    let mut id = None;
    let mut version_id = None;
    for line in content.lines() {
        let Some((key, value)) = line.trim().split_once('=') else {
            continue;
        };
        match key.trim() {
            "ID" => id = Some(unquote(value).to_ascii_lowercase()),
            "VERSION_ID" => version_id = Some(unquote(value)),
            _ => {}
        }
    }
    from_id(&id?, version_id.as_deref().unwrap_or(""))
}

/// `major.minor` of a dotted version (`3.19.1` → `3.19`).
fn major_minor(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

fn major(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
}

/// Maps an os-release `ID` and `VERSION_ID` to an [`OsInfo`].
fn from_id(id: &str, version: &str) -> Option<OsInfo> {
    if id.is_empty() {
        return None;
    }
    let ecosystem = match id {
        "debian" => with_version("Debian", major(version)),
        "ubuntu" => with_version("Ubuntu", version),
        "alpine" => {
            let mm = major_minor(version);
            if mm.is_empty() {
                "Alpine".to_string()
            } else {
                format!("Alpine:v{mm}")
            }
        }
        "wolfi" => "Wolfi".to_string(),
        "chainguard" => "Chainguard".to_string(),
        "rocky" => with_version("Rocky Linux", major(version)),
        "almalinux" => with_version("AlmaLinux", major(version)),
        "rhel" | "redhat" => "Red Hat".to_string(),
        "centos" => with_version("CentOS", major(version)),
        "fedora" => with_version("Fedora", version),
        "amzn" => with_version("Amazon Linux", version),
        "mariner" | "azurelinux" => with_version("Azure Linux", version),
        "opensuse-leap" => with_version("openSUSE", &format!("Leap {version}")),
        "opensuse-tumbleweed" => "openSUSE:Tumbleweed".to_string(),
        "sles" | "sled" => {
            let (major, minor) = version.split_once('.').unwrap_or((version, ""));
            let service_pack = if minor.is_empty() || minor == "0" {
                String::new()
            } else {
                format!(" SP{minor}")
            };
            format!("SUSE:Linux Enterprise Server {major}{service_pack}")
        }
        other => with_version(other, version),
    };
    Some(OsInfo {
        family: id.to_string(),
        version: version.to_string(),
        ecosystem,
    })
}

fn with_version(name: &str, version: &str) -> String {
    if version.is_empty() {
        name.to_string()
    } else {
        format!("{name}:{version}")
    }
}

/// `etc/debian_version`: `12.4`, or `bookworm/sid` on testing (no number).
fn debian_version(content: &str) -> Option<OsInfo> {
    let first = content.lines().next()?.trim();
    let version = if first.starts_with(|c: char| c.is_ascii_digit()) {
        first
    } else {
        ""
    };
    from_id("debian", version).map(|mut os| {
        os.version = major(version).to_string();
        os
    })
}

/// `etc/redhat-release`: `Rocky Linux release 9.3 (Blue Onyx)` and the like.
fn redhat_release(content: &str) -> Option<OsInfo> {
    let line = content.lines().next()?.trim();
    let (name, rest) = line.split_once(" release ")?;
    let version = rest.split_whitespace().next().unwrap_or("");
    let lowered = name.to_ascii_lowercase();
    let id = if lowered.starts_with("rocky") {
        "rocky"
    } else if lowered.starts_with("almalinux") {
        "almalinux"
    } else if lowered.starts_with("centos") {
        "centos"
    } else if lowered.starts_with("fedora") {
        "fedora"
    } else if lowered.starts_with("red hat") {
        "rhel"
    } else {
        return None;
    };
    from_id(id, version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(path: &str, content: &str) -> Option<OsInfo> {
        let ctx = AnalyzeContext {
            layer_digest: "sha256:x",
            max_file_bytes: 1 << 20,
        };
        OsRelease
            .analyze(path, content.as_bytes(), &ctx)
            .unwrap()
            .os
    }

    fn ecosystem(path: &str, content: &str) -> String {
        detect(path, content)
            .map(|os| os.ecosystem)
            .unwrap_or_default()
    }

    #[test]
    fn os_release_files_map_to_osv_ecosystems() {
        let cases = [
            (
                "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n",
                "Debian:12",
            ),
            // distroless (gcr.io/distroless/static-debian12)
            (
                "PRETTY_NAME=\"Distroless\"\nNAME=\"Debian GNU/Linux\"\nID=\"debian\"\nVERSION_ID=\"12\"\nVERSION=\"Debian GNU/Linux 12 (bookworm)\"\nHOME_URL=\"https://github.com/GoogleContainerTools/distroless\"\n",
                "Debian:12",
            ),
            (
                "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n",
                "Alpine:v3.19",
            ),
            (
                "NAME=\"Ubuntu\"\nVERSION=\"22.04.3 LTS (Jammy Jellyfish)\"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"22.04\"\n",
                "Ubuntu:22.04",
            ),
            (
                "ID=wolfi\nNAME=\"Wolfi\"\nPRETTY_NAME=\"Wolfi\"\nVERSION_ID=\"20230201\"\n",
                "Wolfi",
            ),
            (
                "NAME=\"Rocky Linux\"\nVERSION=\"9.3 (Blue Onyx)\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\n",
                "Rocky Linux:9",
            ),
            (
                "NAME=\"AlmaLinux\"\nVERSION=\"9.3 (Shamrock Pampas Cat)\"\nID=\"almalinux\"\nVERSION_ID=\"9.3\"\n",
                "AlmaLinux:9",
            ),
            (
                "NAME=\"Red Hat Enterprise Linux\"\nVERSION=\"9.3 (Plow)\"\nID=\"rhel\"\nVERSION_ID=\"9.3\"\n",
                "Red Hat",
            ),
            (
                "NAME=\"openSUSE Leap\"\nVERSION=\"15.5\"\nID=\"opensuse-leap\"\nVERSION_ID=\"15.5\"\n",
                "openSUSE:Leap 15.5",
            ),
            (
                "NAME=\"SLES\"\nVERSION=\"15-SP5\"\nVERSION_ID=\"15.5\"\nID=\"sles\"\n",
                "SUSE:Linux Enterprise Server 15 SP5",
            ),
        ];
        for (content, expected) in cases {
            assert_eq!(ecosystem("etc/os-release", content), expected, "{content}");
        }
    }

    #[test]
    fn family_and_version_are_kept_verbatim() {
        let os = detect("usr/lib/os-release", "ID=alpine\nVERSION_ID=3.19.1\n").unwrap();
        assert_eq!(
            (os.family.as_str(), os.version.as_str()),
            ("alpine", "3.19.1")
        );
    }

    #[test]
    fn fallback_release_files_are_understood() {
        assert_eq!(ecosystem("etc/alpine-release", "3.18.4\n"), "Alpine:v3.18");
        assert_eq!(ecosystem("etc/debian_version", "12.4\n"), "Debian:12");
        assert_eq!(ecosystem("etc/debian_version", "trixie/sid\n"), "Debian");
        assert_eq!(
            ecosystem(
                "etc/redhat-release",
                "Rocky Linux release 8.9 (Green Obsidian)\n"
            ),
            "Rocky Linux:8"
        );
        assert_eq!(
            ecosystem(
                "etc/redhat-release",
                "Red Hat Enterprise Linux release 8.9 (Ootpa)\n"
            ),
            "Red Hat"
        );
    }

    #[test]
    fn files_without_an_id_detect_nothing() {
        assert_eq!(detect("etc/os-release", "NAME=whatever\n"), None);
        assert_eq!(detect("etc/redhat-release", "garbage"), None);
    }

    #[test]
    fn only_release_files_are_wanted() {
        assert!(OsRelease.wants("etc/os-release", 0o644));
        assert!(!OsRelease.wants("home/etc/os-release", 0o644));
    }
}
