//! A dotted-numeric ordering for unit tests of range logic that must not
//! depend on a real scheme's details.

use std::cmp::Ordering;

use airlock_version::{VersionError, VersionScheme};

#[derive(Debug)]
pub struct Dotted;

fn parse(v: &str) -> Result<Vec<u64>, VersionError> {
    v.split('.')
        .map(|p| p.parse::<u64>())
        .collect::<Result<_, _>>()
        .map_err(|e| VersionError {
            scheme: "dotted",
            version: v.to_owned(),
            reason: e.to_string(),
        })
}

impl VersionScheme for Dotted {
    fn name(&self) -> &'static str {
        "dotted"
    }
    fn compare(&self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        let (mut a, mut b) = (parse(a)?, parse(b)?);
        let len = a.len().max(b.len());
        a.resize(len, 0);
        b.resize(len, 0);
        Ok(a.cmp(&b))
    }
    fn validate(&self, v: &str) -> Result<(), VersionError> {
        parse(v).map(|_| ())
    }
}
