//! The analyzers: one file per package format, all behind [`Analyzer`], all
//! listed in [`ALL`]. The walker asks each analyzer whether it wants a tar
//! entry (by path and mode, then by its first bytes), reads the wanted files
//! into memory once and hands the bytes to every analyzer that asked.
//!
//! Analyzers are pure parsers: bytes in, packages out. They leave
//! [`Package::layer`] and [`Package::path`] empty; the walker stamps them.

use airlock_scan_model::{OsInfo, Package};

use crate::AnalyzeError;

pub mod apk;
pub mod cargo_auditable;
pub mod cargo_lock;
pub mod composer;
pub mod dotnet;
pub mod dpkg;
pub mod gemspec;
pub mod go_binary;
pub mod java;
pub mod npm;
pub mod os_release;
pub mod python;
pub mod rpm;

/// Every analyzer, in the order the walker consults them.
pub static ALL: &[&dyn Analyzer] = &[
    &os_release::OsRelease,
    &dpkg::Dpkg,
    &apk::Apk,
    &rpm::Rpm,
    &python::Python,
    &npm::Npm,
    &cargo_lock::CargoLock,
    &cargo_auditable::CargoAuditable,
    &go_binary::GoBinary,
    &java::Java,
    &gemspec::Gemspec,
    &composer::Composer,
    &dotnet::DotNet,
];

/// What the walker tells an analyzer besides the file's bytes.
#[derive(Debug, Clone, Copy)]
pub struct AnalyzeContext<'a> {
    /// Digest of the layer being walked.
    pub layer_digest: &'a str,
    /// The configured [`crate::Limits::max_file_bytes`], for analyzers that
    /// unpack nested content (jars in jars).
    pub max_file_bytes: u64,
}

/// What an analyzer found in one file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnalyzerOutput {
    /// Packages found.
    pub packages: Vec<Package>,
    /// The OS, for OS detection.
    pub os: Option<OsInfo>,
    /// Non-fatal problems (skipped records and the like).
    pub warnings: Vec<String>,
}

impl AnalyzerOutput {
    /// An output holding only packages.
    pub fn packages(packages: Vec<Package>) -> Self {
        Self {
            packages,
            ..Self::default()
        }
    }
}

/// One package format.
pub trait Analyzer: Sync {
    /// Stable name, e.g. `dpkg`; recorded in [`crate::FileResult::analyzer`].
    fn name(&self) -> &'static str;
    /// Bump whenever the output for the same input changes: it invalidates
    /// cached layer analyses through [`crate::analyzers_fingerprint`].
    fn version(&self) -> u32;
    /// Cheap filter on the normalised path (no leading `/`) and tar mode.
    fn wants(&self, path: &str, mode: u32) -> bool;
    /// Second filter on the first bytes of a file [`Analyzer::wants`]
    /// accepted (at most [`MAGIC_LEN`] bytes, fewer for short files).
    fn wants_content(&self, _head: &[u8]) -> bool {
        true
    }
    /// Parses one file.
    fn analyze(
        &self,
        path: &str,
        bytes: &[u8],
        ctx: &AnalyzeContext<'_>,
    ) -> Result<AnalyzerOutput, AnalyzeError>;
}

/// How many leading bytes [`Analyzer::wants_content`] sees.
pub const MAGIC_LEN: usize = 16;

/// A package with the fields every analyzer sets; `layer` and `path` are
/// stamped by the walker.
pub(crate) fn package(ecosystem: &str, name: &str, version: &str, purl: String) -> Package {
    Package {
        ecosystem: ecosystem.to_string(),
        name: name.to_string(),
        version: version.to_string(),
        source_name: None,
        source_version: None,
        purl,
        licenses: Vec::new(),
        layer: String::new(),
        path: String::new(),
        application: false,
    }
}

/// Percent-encodes one purl segment (everything but RFC 3986 unreserved).
pub(crate) fn purl_encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Builds a purl: `pkg:type/namespace/name@version?k=v` with the namespace's
/// segments and every value percent-encoded and the qualifiers sorted;
/// empty qualifier values are left out.
pub(crate) fn purl(
    purl_type: &str,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> String {
    let mut out = format!("pkg:{purl_type}/");
    if let Some(namespace) = namespace.filter(|n| !n.is_empty()) {
        for segment in namespace.split('/').filter(|s| !s.is_empty()) {
            out.push_str(&purl_encode(segment));
            out.push('/');
        }
    }
    out.push_str(&purl_encode(name));
    if !version.is_empty() {
        out.push('@');
        out.push_str(&purl_encode(version));
    }
    let mut qualifiers: Vec<&(&str, &str)> = qualifiers
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .collect();
    qualifiers.sort();
    for (index, (key, value)) in qualifiers.iter().enumerate() {
        out.push(if index == 0 { '?' } else { '&' });
        out.push_str(key);
        out.push('=');
        out.push_str(&purl_encode(value));
    }
    out
}

/// Iterates over the `Key: value` paragraphs of RFC 822-style files (dpkg
/// status, Python METADATA, MANIFEST.MF): continuation lines (leading space
/// or tab) are appended to the previous value with a newline.
pub(crate) fn rfc822_paragraphs(text: &str) -> Vec<Vec<(String, String)>> {
    let mut paragraphs = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some((_, value)) = current.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            current.push((key.trim().to_string(), value.trim().to_string()));
        }
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    paragraphs
}

/// The first value of `key` in a paragraph (case-insensitive key).
pub(crate) fn field<'a>(paragraph: &'a [(String, String)], key: &str) -> Option<&'a str> {
    paragraph
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// Decodes bytes as UTF-8, replacing invalid sequences.
pub(crate) fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_encode_scopes_and_sort_qualifiers() {
        assert_eq!(
            purl("npm", Some("@babel"), "core", "7.0.0", &[]),
            "pkg:npm/%40babel/core@7.0.0"
        );
        assert_eq!(
            purl(
                "deb",
                Some("debian"),
                "libc6",
                "2.36-9+deb12u4",
                &[("distro", "debian-12"), ("arch", "amd64")]
            ),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12"
        );
        assert_eq!(
            purl(
                "golang",
                Some("github.com/pkg"),
                "errors",
                "v0.9.1",
                &[("epoch", "")]
            ),
            "pkg:golang/github.com/pkg/errors@v0.9.1"
        );
    }

    #[test]
    fn rfc822_paragraphs_join_continuations() {
        let paragraphs = rfc822_paragraphs("A: 1\nB: x\n y\n\n\nA: 2\n");
        assert_eq!(paragraphs.len(), 2);
        assert_eq!(field(&paragraphs[0], "b"), Some("x\ny"));
        assert_eq!(field(&paragraphs[1], "A"), Some("2"));
    }
}
