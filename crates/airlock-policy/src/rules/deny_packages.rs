//! `deny_packages`: any installed package matching an entry fails, whether
//! or not it has findings. The project a lockfile describes (a package with
//! `application: true`) is not checked: it is the user's own code, and a
//! private project may share a public package's name.

use super::Rule;
use crate::context::Context;
use crate::platform::platform_label;
use crate::verdict::{PackageRef, RuleFailure};

pub(crate) struct DenyPackages;

/// How many packages a message lists before it says "and N more".
const LISTED_IN_MESSAGE: usize = 10;

impl Rule for DenyPackages {
    fn name(&self) -> &'static str {
        "deny_packages"
    }

    fn check(&self, context: &Context<'_>) -> Option<RuleFailure> {
        let patterns = context.policy.deny_packages();
        if patterns.is_empty() {
            return None;
        }
        let mut denied = Vec::new();
        for report in context.input.reports {
            let platform = report
                .inventory
                .artifact
                .platform
                .as_ref()
                .map(platform_label);
            for package in report.inventory.packages.iter().filter(|p| !p.application) {
                if let Some(pattern) = patterns.iter().find(|pattern| pattern.matches(package)) {
                    denied.push(PackageRef {
                        ecosystem: package.ecosystem.clone(),
                        name: package.name.clone(),
                        version: package.version.clone(),
                        purl: package.purl.clone(),
                        pattern: pattern.as_str().to_owned(),
                        platform: platform.clone(),
                    });
                }
            }
        }
        if denied.is_empty() {
            return None;
        }
        denied.sort();
        denied.dedup();
        let mut described: Vec<String> = Vec::new();
        for package in &denied {
            let text = format!(
                "{} {} ({}, matches \"{}\")",
                package.name, package.version, package.ecosystem, package.pattern
            );
            if !described.contains(&text) {
                described.push(text);
            }
        }
        let count = described.len();
        if count > LISTED_IN_MESSAGE {
            described.truncate(LISTED_IN_MESSAGE);
            described.push(format!("and {} more", count - LISTED_IN_MESSAGE));
        }
        let (noun, verb) = if count == 1 {
            ("package is", "remove it or replace it")
        } else {
            ("packages are", "remove them or replace them")
        };
        Some(RuleFailure {
            rule: self.name().to_owned(),
            message: format!(
                "{count} denied {noun} installed: {}; {verb}",
                described.join(", ")
            ),
            findings: Vec::new(),
            packages: denied,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{package, report, run_rule_on};
    use airlock_scan_model::Package;

    fn run(policy: &str, packages: Vec<Package>) -> Option<String> {
        let mut scanned = report(Some("linux/amd64"), vec![]);
        scanned.inventory.packages = packages;
        let age = Some(std::time::Duration::from_secs(60));
        run_rule_on(&super::DenyPackages, policy, &[scanned], age).map(|f| f.message)
    }

    #[test]
    fn table() {
        let policy = r#"deny_packages: ["npm/event-stream", "pkg:pypi/pyyaml@5.*", "openssl*"]"#;
        let event_stream = || package("npm", "event-stream", "3.3.6", "pkg:npm/event-stream@3.3.6");
        let pyyaml5 = || package("PyPI", "pyyaml", "5.4.1", "pkg:pypi/pyyaml@5.4.1");
        let pyyaml6 = || package("PyPI", "pyyaml", "6.0.1", "pkg:pypi/pyyaml@6.0.1");
        let openssl = || {
            package(
                "Debian:12",
                "openssl",
                "3.0.1",
                "pkg:deb/debian/openssl@3.0.1",
            )
        };
        let zlib = || package("Debian:12", "zlib1g", "1.2", "pkg:deb/debian/zlib1g@1.2");
        let mut own_project = package(
            "npm",
            "openssl-wrapper",
            "0.1.0",
            "pkg:npm/openssl-wrapper@0.1.0",
        );
        own_project.application = true;
        let cases: Vec<(&str, Vec<Package>, Option<&str>)> = vec![
            (policy, vec![zlib(), pyyaml6()], None),
            (
                policy,
                vec![event_stream()],
                Some(
                    "1 denied package is installed: event-stream 3.3.6 (npm, matches \"npm/event-stream\"); remove it or replace it",
                ),
            ),
            (
                policy,
                vec![zlib(), openssl(), pyyaml5()],
                Some(
                    "2 denied packages are installed: openssl 3.0.1 (Debian:12, matches \"openssl*\"), pyyaml 5.4.1 (PyPI, matches \"pkg:pypi/pyyaml@5.*\"); remove them or replace them",
                ),
            ),
            (policy, vec![own_project], None),
            ("{}", vec![event_stream()], None),
        ];
        for (policy, packages, expected) in cases {
            assert_eq!(run(policy, packages).as_deref(), expected, "{policy}");
        }
    }
}
