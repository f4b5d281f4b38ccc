//! Turns the free-form licence strings packages declare into what SBOM formats
//! accept: SPDX identifiers and expressions where they parse, names otherwise.

/// How one declared licence string is best expressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeclaredLicense {
    /// A single SPDX licence identifier, e.g. `MIT`.
    Id(String),
    /// A valid SPDX expression, e.g. `MIT OR Apache-2.0`.
    Expression(String),
    /// Anything else, e.g. `BSD License`.
    Name(String),
}

/// Classifies one declared licence.
pub(crate) fn classify(text: &str) -> DeclaredLicense {
    let text = text.trim();
    if let Some(id) = spdx::license_id(text) {
        return DeclaredLicense::Id(id.name.to_string());
    }
    if is_spdx_expression(text) {
        return DeclaredLicense::Expression(text.to_string());
    }
    DeclaredLicense::Name(text.to_string())
}

fn is_spdx_expression(text: &str) -> bool {
    !text.is_empty()
        && spdx::Expression::parse_mode(
            text,
            spdx::ParseMode {
                allow_deprecated: true,
                ..spdx::ParseMode::STRICT
            },
        )
        .is_ok()
}

/// Combines declared licences into one SPDX expression (`AND` of each), or
/// `None` when any of them is not valid SPDX.
pub(crate) fn spdx_expression(licenses: &[String]) -> Option<String> {
    if licenses.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    for license in licenses {
        match classify(license) {
            DeclaredLicense::Id(id) => parts.push(id),
            DeclaredLicense::Expression(expression) if licenses.len() == 1 => {
                parts.push(expression)
            }
            DeclaredLicense::Expression(expression) => parts.push(format!("({expression})")),
            DeclaredLicense::Name(_) => return None,
        }
    }
    parts.dedup();
    Some(parts.join(" AND "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_ids_expressions_and_names() {
        assert_eq!(classify("MIT"), DeclaredLicense::Id("MIT".into()));
        assert_eq!(
            classify("MIT OR Apache-2.0"),
            DeclaredLicense::Expression("MIT OR Apache-2.0".into())
        );
        assert_eq!(
            classify("BSD License"),
            DeclaredLicense::Name("BSD License".into())
        );
    }

    #[test]
    fn combines_only_valid_spdx() {
        assert_eq!(
            spdx_expression(&["MIT".into(), "ISC".into()]).as_deref(),
            Some("MIT AND ISC")
        );
        assert_eq!(
            spdx_expression(&["MIT OR Apache-2.0".into(), "ISC".into()]).as_deref(),
            Some("(MIT OR Apache-2.0) AND ISC")
        );
        assert_eq!(spdx_expression(&["MIT".into(), "GNU GPL".into()]), None);
        assert_eq!(spdx_expression(&[]), None);
    }
}
