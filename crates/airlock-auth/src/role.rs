//! The roles a person or robot can hold, per tenant or across all tenants,
//! and the system identities that act on their own. What each role may do
//! lives in `access.rs`; this file only names them.

use std::fmt;
use std::str::FromStr;

use crate::AuthError;

/// A role held within one tenant.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum TenantRole {
    /// Pushes to `unscanned/<t>/`, pulls from `scanned/<t>/`.
    Developer,
    /// Pulls from `scanned/<t>/`.
    Reader,
    /// Pulls from both zones of the tenant and manages its robots.
    Security,
}

impl TenantRole {
    pub const ALL: [TenantRole; 3] = [
        TenantRole::Developer,
        TenantRole::Reader,
        TenantRole::Security,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            TenantRole::Developer => "developer",
            TenantRole::Reader => "reader",
            TenantRole::Security => "security",
        }
    }
}

/// A role that applies to every tenant.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum GlobalRole {
    /// Reads everything, changes nothing.
    Auditor,
    /// Manages everything; still cannot push to `scanned/`.
    Admin,
}

impl GlobalRole {
    pub const ALL: [GlobalRole; 2] = [GlobalRole::Auditor, GlobalRole::Admin];

    pub fn as_str(&self) -> &'static str {
        match self {
            GlobalRole::Auditor => "auditor",
            GlobalRole::Admin => "admin",
        }
    }
}

/// Internal identities with no credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SystemIdentity {
    /// Pulls from `unscanned/` to scan.
    Scanner,
    /// The only writer of `scanned/`.
    Promoter,
}

impl SystemIdentity {
    pub fn as_str(&self) -> &'static str {
        match self {
            SystemIdentity::Scanner => "scanner",
            SystemIdentity::Promoter => "promoter",
        }
    }
}

fn parse_from<T: Copy>(
    s: &str,
    all: &[T],
    name: impl Fn(&T) -> &'static str,
    what: &str,
) -> Result<T, AuthError> {
    all.iter().copied().find(|r| name(r) == s).ok_or_else(|| {
        let valid: Vec<&str> = all.iter().map(name).collect();
        AuthError::InvalidRole(format!(
            "unknown {what} {s:?}: expected one of {}",
            valid.join(", ")
        ))
    })
}

impl FromStr for TenantRole {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_from(s, &TenantRole::ALL, TenantRole::as_str, "tenant role")
    }
}

impl FromStr for GlobalRole {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_from(s, &GlobalRole::ALL, GlobalRole::as_str, "global role")
    }
}

impl fmt::Display for TenantRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for GlobalRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for SystemIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_str_and_serde() {
        for role in TenantRole::ALL {
            assert_eq!(role.as_str().parse::<TenantRole>().unwrap(), role);
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{role}\""));
        }
        for role in GlobalRole::ALL {
            assert_eq!(role.as_str().parse::<GlobalRole>().unwrap(), role);
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{role}\""));
        }
        assert_eq!(
            serde_json::to_string(&SystemIdentity::Promoter).unwrap(),
            "\"promoter\""
        );
    }

    #[test]
    fn unknown_roles_list_the_valid_ones() {
        let cases: &[(&str, &str)] = &[
            ("Developer", "developer, reader, security"),
            ("admin", "developer, reader, security"),
        ];
        for (input, listed) in cases {
            let err = input.parse::<TenantRole>().unwrap_err().to_string();
            assert!(err.contains(listed), "{err}");
        }
        let err = "root".parse::<GlobalRole>().unwrap_err().to_string();
        assert!(err.contains("auditor, admin"), "{err}");
    }
}
