//! `require_platforms`: every listed platform must be among the scanned
//! reports. A report without a platform (a config that does not say)
//! satisfies no requirement, so an image whose platform is unknown fails
//! closed.

use super::Rule;
use crate::context::Context;
use crate::verdict::RuleFailure;

pub(crate) struct RequirePlatforms;

impl Rule for RequirePlatforms {
    fn name(&self) -> &'static str {
        "require_platforms"
    }

    fn check(&self, context: &Context<'_>) -> Option<RuleFailure> {
        let missing: Vec<String> = context
            .policy
            .require_platforms()
            .iter()
            .filter(|required| {
                !context.input.reports.iter().any(|report| {
                    report
                        .inventory
                        .artifact
                        .platform
                        .as_ref()
                        .is_some_and(|platform| required.is_satisfied_by(platform))
                })
            })
            .map(ToString::to_string)
            .collect();
        if missing.is_empty() {
            return None;
        }
        let noun = if missing.len() == 1 {
            "platform is"
        } else {
            "platforms are"
        };
        Some(RuleFailure {
            rule: self.name().to_owned(),
            message: format!(
                "required {noun} missing from the image: {}; build and push an index that includes them",
                missing.join(", ")
            ),
            findings: Vec::new(),
            packages: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{report, run_rule_on};

    #[test]
    fn table() {
        let policy = r#"require_platforms: ["linux/amd64", "linux/arm64"]"#;
        /// (policy, scanned platforms, expected message).
        type Case<'a> = (&'a str, &'a [Option<&'a str>], Option<&'a str>);
        let cases: &[Case] = &[
            (policy, &[Some("linux/amd64"), Some("linux/arm64/v8")], None),
            (
                policy,
                &[Some("linux/amd64")],
                Some(
                    "required platform is missing from the image: linux/arm64; build and push an index that includes them",
                ),
            ),
            (
                policy,
                &[None],
                Some(
                    "required platforms are missing from the image: linux/amd64, linux/arm64; build and push an index that includes them",
                ),
            ),
            (
                r#"require_platforms: ["linux/arm/v7"]"#,
                &[Some("linux/arm/v6")],
                Some(
                    "required platform is missing from the image: linux/arm/v7; build and push an index that includes them",
                ),
            ),
            ("{}", &[Some("linux/amd64")], None),
        ];
        for (policy, platforms, expected) in cases {
            let reports: Vec<_> = platforms.iter().map(|p| report(*p, vec![])).collect();
            let age = Some(std::time::Duration::from_secs(60));
            let failure = run_rule_on(&super::RequirePlatforms, policy, &reports, age);
            assert_eq!(
                failure.map(|f| f.message).as_deref(),
                *expected,
                "{policy} {platforms:?}"
            );
        }
    }
}
