//! Tenant ids as a newtype that cannot hold an invalid value, so every
//! repository path, role grant and audit record names a well-formed tenant.

use std::fmt;
use std::str::FromStr;

use crate::AuthError;

/// The longest tenant id (a DNS label's limit, so ids fit in hostnames).
pub const TENANT_ID_MAX_LEN: usize = 63;

/// A tenant id: `[a-z0-9]+(-[a-z0-9]+)*`, at most 63 characters.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `s` matches `[a-z0-9]+(-[a-z0-9]+)*` and fits the length limit.
pub(crate) fn is_valid_tenant(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= TENANT_ID_MAX_LEN
        && s.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

fn invalid(s: &str) -> AuthError {
    AuthError::InvalidTenant(format!(
        "{s:?} must match [a-z0-9]+(-[a-z0-9]+)* and be at most {TENANT_ID_MAX_LEN} characters"
    ))
}

impl FromStr for TenantId {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if is_valid_tenant(s) {
            Ok(TenantId(s.to_owned()))
        } else {
            Err(invalid(s))
        }
    }
}

impl TryFrom<String> for TenantId {
    type Error = AuthError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        if is_valid_tenant(&s) {
            Ok(TenantId(s))
        } else {
            Err(invalid(&s))
        }
    }
}

impl From<TenantId> for String {
    fn from(t: TenantId) -> String {
        t.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_valid_ids() {
        let long_ok = "a".repeat(63);
        let too_long = "a".repeat(64);
        let cases: &[(&str, bool)] = &[
            ("acme", true),
            ("a", true),
            ("0", true),
            ("team-42", true),
            ("a-b-c", true),
            (&long_ok, true),
            (&too_long, false),
            ("", false),
            ("-a", false),
            ("a-", false),
            ("a--b", false),
            ("Acme", false),
            ("a_b", false),
            ("a.b", false),
            ("a/b", false),
            ("é", false),
        ];
        for (input, ok) in cases {
            assert_eq!(input.parse::<TenantId>().is_ok(), *ok, "{input:?}");
        }
    }

    #[test]
    fn error_names_the_rule() {
        let err = "a--b".parse::<TenantId>().unwrap_err().to_string();
        assert!(err.contains("[a-z0-9]+(-[a-z0-9]+)*"), "{err}");
    }

    #[test]
    fn serde_round_trips_and_rejects_invalid() {
        let t: TenantId = "acme".parse().unwrap();
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"acme\"");
        assert_eq!(serde_json::from_str::<TenantId>(&json).unwrap(), t);
        assert!(serde_json::from_str::<TenantId>("\"Bad\"").is_err());
        assert_eq!(t.to_string(), "acme");
        assert_eq!(String::from(t), "acme");
    }
}
