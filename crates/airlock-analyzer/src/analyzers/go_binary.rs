//! Go binaries: the linker embeds build info (toolchain version, main module,
//! dependencies with versions and replacements) in the `.go.buildinfo`
//! section, behind the magic `\xff Go buildinf:`. Go ≥ 1.18 stores the two
//! strings inline as varint-prefixed bytes; the older pointer format needs
//! the binary's address space and is reported as a warning instead.
//!
//! Output: `stdlib` at the toolchain version without the `go` prefix
//! (`go1.21.5` → `1.21.5`, as osv.dev's Go ecosystem spells it), the main
//! module and every `dep`, unless at `(devel)`; a `=>` replacement replaces
//! its dependency, and a replacement by a local directory (`=> ../lib`)
//! removes it, since no advisory can name it. Module versions are kept as Go
//! writes them (`v1.2.3`), which is also what purls use.

use super::{AnalyzeContext, Analyzer, AnalyzerOutput, package, purl};
use crate::{AnalyzeError, elf};

/// The Go build info analyzer.
pub struct GoBinary;

impl GoBinary {
    /// Bump when the output changes.
    pub const VERSION: u32 = 2;
}

const MAGIC: &[u8] = b"\xff Go buildinf:";
const FLAG_INLINE: u8 = 0x2;

impl Analyzer for GoBinary {
    fn name(&self) -> &'static str {
        "go-binary"
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
        let Some(info) = find_build_info(bytes) else {
            return Ok(AnalyzerOutput::default());
        };
        let malformed = |reason: &str| AnalyzeError::malformed("Go build info", reason.to_string());
        let flags = *info.get(15).ok_or_else(|| malformed("truncated header"))?;
        if flags & FLAG_INLINE == 0 {
            return Ok(AnalyzerOutput {
                warnings: vec![
                    "Go build info in the pre-1.18 pointer format is not read".to_string(),
                ],
                ..AnalyzerOutput::default()
            });
        }
        let mut rest = info
            .get(32..)
            .ok_or_else(|| malformed("truncated header"))?;
        let go_version =
            read_string(&mut rest).ok_or_else(|| malformed("truncated version string"))?;
        let mut modinfo =
            read_string(&mut rest).ok_or_else(|| malformed("truncated module info"))?;
        if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
            modinfo = &modinfo[16..modinfo.len() - 16];
        }
        let go_version = String::from_utf8_lossy(go_version);
        Ok(AnalyzerOutput::packages(packages(
            &go_version,
            &String::from_utf8_lossy(modinfo),
        )))
    }
}

/// The build info blob: the `.go.buildinfo` section, or failing that the
/// first 16-byte-aligned occurrence of the magic.
fn find_build_info(bytes: &[u8]) -> Option<&[u8]> {
    if let Some(section) = elf::section(bytes, ".go.buildinfo") {
        return section.starts_with(MAGIC).then_some(section);
    }
    (0..bytes.len().saturating_sub(MAGIC.len()))
        .step_by(16)
        .find(|&offset| bytes[offset..].starts_with(MAGIC))
        .map(|offset| &bytes[offset..])
}

/// Reads a uvarint-length-prefixed byte string and advances `rest`.
fn read_string<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let mut length: u64 = 0;
    let mut shift = 0;
    let mut used = 0;
    loop {
        let byte = *rest.get(used)?;
        used += 1;
        length |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    let length = usize::try_from(length).ok()?;
    let value = rest.get(used..used.checked_add(length)?)?;
    *rest = &rest[used + length..];
    Some(value)
}

fn go_package(module: &str, version: &str) -> airlock_scan_model::Package {
    let (namespace, name) = module
        .rsplit_once('/')
        .map_or((None, module), |(ns, name)| (Some(ns), name));
    package(
        "Go",
        module,
        version,
        purl("golang", namespace, name, version, &[]),
    )
}

/// A module version an advisory can name (not `(devel)`, not empty).
fn is_release(version: &str) -> bool {
    !version.is_empty() && version != "(devel)"
}

/// `=> ../lib` or `=> /src/lib`: a replacement by a local directory.
fn is_local_path(module: &str) -> bool {
    module.starts_with('.') || module.starts_with('/')
}

/// Packages from the toolchain version and the module info text.
fn packages(go_version: &str, modinfo: &str) -> Vec<airlock_scan_model::Package> {
    let mut out = Vec::new();
    let toolchain = go_version.split_whitespace().next().unwrap_or("");
    if let Some(version) = toolchain.strip_prefix("go").filter(|v| !v.is_empty()) {
        out.push(go_package("stdlib", version));
    }
    // Index in `out` of the module the next `=>` line replaces.
    let mut replaceable: Option<usize> = None;
    for line in modinfo.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["mod" | "dep", module, version, ..] if is_release(version) => {
                out.push(go_package(module, version));
                replaceable = Some(out.len() - 1);
            }
            ["mod" | "dep", ..] => replaceable = None,
            ["=>", module, version, ..] => {
                let Some(index) = replaceable.take() else {
                    continue;
                };
                if is_release(version) && !is_local_path(module) {
                    out[index] = go_package(module, version);
                } else {
                    // Replaced by a local directory: no module version exists
                    // that an advisory could name.
                    out.remove(index);
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_testkit::fixtures;

    /// Local replacements and `(devel)` dependencies named no module version,
    /// yet were reported as packages (`../lib (devel)`, purl
    /// `pkg:golang/../lib@%28devel%29`); found by the inventory benchmark.
    #[test]
    fn regression_local_replacements_and_devel_dependencies_are_not_packages() {
        let modinfo = "path\tx\nmod\texample.com/x\tv1.0.0\t\n\
                       dep\texample.com/lib\tv1.2.3\t\n=>\t../lib\t(devel)\t\n\
                       dep\tk8s.io/api\t(devel)\t\n\
                       dep\tgolang.org/x/net\tv0.1.0\th1:abc=\n=>\tgolang.org/x/net\tv0.17.0\th1:def=\n";
        let found: Vec<(String, String)> = packages("go1.21.5", modinfo)
            .into_iter()
            .map(|p| (p.name, p.version))
            .collect();
        let expected = [
            ("stdlib", "1.21.5"),
            ("example.com/x", "v1.0.0"),
            ("golang.org/x/net", "v0.17.0"),
        ];
        assert_eq!(found, expected.map(|(n, v)| (n.to_string(), v.to_string())));
    }

    const CTX: AnalyzeContext<'static> = AnalyzeContext {
        layer_digest: "sha256:x",
        max_file_bytes: 1 << 20,
    };

    #[test]
    fn build_info_gives_stdlib_main_module_and_replaced_deps() {
        let output = GoBinary
            .analyze("usr/local/bin/tool", &fixtures::go_binary(), &CTX)
            .unwrap();
        let found: Vec<(&str, &str)> = output
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("stdlib", "1.21.5"),
                ("github.com/acme/tool", "v1.4.0"),
                ("github.com/spf13/cobra", "v1.8.0"),
                ("golang.org/x/net", "v0.19.0"),
            ]
        );
        assert_eq!(
            output.packages[2].purl,
            "pkg:golang/github.com/spf13/cobra@v1.8.0"
        );
        assert_eq!(output.packages[0].ecosystem, "Go");
    }

    #[test]
    fn devel_main_module_is_skipped() {
        let found = packages(
            "go1.22.0 X:boringcrypto",
            "path\tx\nmod\texample.com/x\t(devel)\t\n",
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].version, "1.22.0");
    }

    #[test]
    fn non_go_and_truncated_binaries_do_not_panic() {
        let plain = fixtures::elf_with_sections(&[(".text", b"\x90")]);
        assert!(
            GoBinary
                .analyze("bin/x", &plain, &CTX)
                .unwrap()
                .packages
                .is_empty()
        );
        let mut section = fixtures::go_buildinfo_section("go1.21.5", "mod\tx\tv1.0.0\t\n");
        section.truncate(40);
        let truncated = fixtures::elf_with_sections(&[(".go.buildinfo", &section)]);
        assert!(GoBinary.analyze("bin/x", &truncated, &CTX).is_err());
        let mut old = fixtures::go_buildinfo_section("go1.16", "");
        old[15] = 0;
        let old = fixtures::elf_with_sections(&[(".go.buildinfo", &old)]);
        assert_eq!(
            GoBinary
                .analyze("bin/x", &old, &CTX)
                .unwrap()
                .warnings
                .len(),
            1
        );
    }
}
