//! `block_unknown_os: true`: a scanned platform whose inventory has no
//! detected operating system fails (OS packages cannot be matched, so the
//! findings are incomplete).

use super::{Rule, where_found};
use crate::context::Context;
use crate::platform::platform_label;
use crate::verdict::RuleFailure;

pub(crate) struct BlockUnknownOs;

impl Rule for BlockUnknownOs {
    fn name(&self) -> &'static str {
        "block_unknown_os"
    }

    fn check(&self, context: &Context<'_>) -> Option<RuleFailure> {
        if !context.policy.block_unknown_os() {
            return None;
        }
        let mut places: Vec<String> = context
            .input
            .reports
            .iter()
            .filter(|report| report.inventory.os.is_none())
            .map(|report| {
                let platform = report
                    .inventory
                    .artifact
                    .platform
                    .as_ref()
                    .map(platform_label);
                where_found(platform.as_deref())
            })
            .collect();
        if places.is_empty() {
            return None;
        }
        places.sort();
        places.dedup();
        Some(RuleFailure {
            rule: self.name().to_owned(),
            message: format!(
                "no operating system was detected {}; build on a base image that has /etc/os-release",
                places.join(", ")
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
        let policy = "block_unknown_os: true";
        /// (policy, platforms with whether an OS was detected, expected message).
        type Case<'a> = (&'a str, &'a [(Option<&'a str>, bool)], Option<&'a str>);
        let cases: &[Case] = &[
            (policy, &[(Some("linux/amd64"), true)], None),
            (
                policy,
                &[(Some("linux/amd64"), true), (Some("linux/arm64"), false)],
                Some(
                    "no operating system was detected on linux/arm64; build on a base image that has /etc/os-release",
                ),
            ),
            (
                policy,
                &[(None, false)],
                Some(
                    "no operating system was detected in the image; build on a base image that has /etc/os-release",
                ),
            ),
            (
                "block_unknown_os: false",
                &[(Some("linux/amd64"), false)],
                None,
            ),
            ("{}", &[(Some("linux/amd64"), false)], None),
        ];
        for (policy, platforms, expected) in cases {
            let reports: Vec<_> = platforms
                .iter()
                .map(|(platform, has_os)| {
                    let mut scanned = report(*platform, vec![]);
                    if !has_os {
                        scanned.inventory.os = None;
                    }
                    scanned
                })
                .collect();
            let age = Some(std::time::Duration::from_secs(60));
            let failure = run_rule_on(&super::BlockUnknownOs, policy, &reports, age);
            assert_eq!(failure.map(|f| f.message).as_deref(), *expected, "{policy}");
        }
    }
}
