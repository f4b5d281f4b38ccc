//! Python distributions installed anywhere in the filesystem: wheel installs
//! leave `<name>.dist-info/METADATA`, setuptools leaves
//! `<name>.egg-info/PKG-INFO` (or an `.egg-info` file). Both are RFC 822
//! headers; the body after the first blank line is ignored. Names are
//! normalised per PEP 503 (lowercase, runs of `-_.` become `-`).

use super::{
    AnalyzeContext, Analyzer, AnalyzerOutput, field, package, purl, rfc822_paragraphs, text,
};
use crate::AnalyzeError;

/// The Python analyzer.
pub struct Python;

impl Python {
    /// Bump when the output changes.
    pub const VERSION: u32 = 1;
}

impl Analyzer for Python {
    fn name(&self) -> &'static str {
        "python"
    }

    fn version(&self) -> u32 {
        Self::VERSION
    }

    fn wants(&self, path: &str, _mode: u32) -> bool {
        path.ends_with(".dist-info/METADATA")
            || path.ends_with(".egg-info/PKG-INFO")
            || path.ends_with(".egg-info")
    }

    fn analyze(
        &self,
        _path: &str,
        bytes: &[u8],
        _ctx: &AnalyzeContext<'_>,
    ) -> Result<AnalyzerOutput, AnalyzeError> {
        let content = text(bytes);
        let paragraphs = rfc822_paragraphs(&content);
        let headers = paragraphs
            .first()
            .ok_or_else(|| AnalyzeError::malformed("Python metadata", "empty file"))?;
        let (Some(name), Some(version)) = (field(headers, "Name"), field(headers, "Version"))
        else {
            return Err(AnalyzeError::malformed(
                "Python metadata",
                "no Name or Version header",
            ));
        };
        let name = normalize_name(name);
        let mut pkg = package(
            "PyPI",
            &name,
            version,
            purl("pypi", None, &name, version, &[]),
        );
        let license = field(headers, "License-Expression").or_else(|| {
            field(headers, "License")
                .filter(|l| !l.contains('\n') && l.len() <= 100 && *l != "UNKNOWN")
        });
        pkg.licenses = license.map(str::to_string).into_iter().collect();
        Ok(AnalyzerOutput::packages(vec![pkg]))
    }
}

/// PEP 503 normalisation.
pub(crate) fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator {
                out.push('-');
            }
            in_separator = true;
        } else {
            out.push(c.to_ascii_lowercase());
            in_separator = false;
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

    #[test]
    fn dist_info_metadata_gives_a_normalised_package() {
        let output = Python
            .analyze(
                "usr/lib/python3/dist-packages/Flask_SQLAlchemy-3.1.1.dist-info/METADATA",
                fixtures::python_metadata().as_bytes(),
                &CTX,
            )
            .unwrap();
        let pkg = &output.packages[0];
        assert_eq!(
            (pkg.name.as_str(), pkg.version.as_str()),
            ("flask-sqlalchemy", "3.1.1")
        );
        assert_eq!(
            pkg.licenses,
            ["BSD-3-Clause"],
            "License-Expression wins; body text is not a header"
        );
        assert_eq!(pkg.purl, "pkg:pypi/flask-sqlalchemy@3.1.1");
        assert_eq!(pkg.ecosystem, "PyPI");
    }

    #[test]
    fn egg_info_pkg_info_is_read() {
        let output = Python
            .analyze(
                "opt/app/requests.egg-info/PKG-INFO",
                fixtures::python_pkg_info().as_bytes(),
                &CTX,
            )
            .unwrap();
        assert_eq!(output.packages[0].name, "requests");
        assert_eq!(output.packages[0].licenses, ["Apache 2.0"]);
    }

    #[test]
    fn pep_503_normalisation() {
        assert_eq!(normalize_name("Foo.Bar__baz"), "foo-bar-baz");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
    }

    #[test]
    fn paths_and_malformed_files() {
        assert!(Python.wants(
            "usr/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA",
            0o644
        ));
        assert!(Python.wants("usr/lib/python2.7/dist-packages/foo-1.0.egg-info", 0o644));
        assert!(!Python.wants("usr/lib/python3/x.dist-info/RECORD", 0o644));
        assert!(
            Python
                .analyze("a.dist-info/METADATA", b"Summary: x\n", &CTX)
                .is_err()
        );
    }
}
