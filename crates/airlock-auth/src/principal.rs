//! Who is acting: a person, a robot account, or one of the internal system
//! identities. The zone rules in `access.rs` decide what each may do; this
//! file only says who they are and which roles they hold.

use std::collections::{BTreeMap, BTreeSet};

use crate::{GlobalRole, SystemIdentity, TenantId, TenantRole};

/// The kind of principal, as recorded in tokens and audit records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    User,
    Robot,
    System,
}

impl PrincipalKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Robot => "robot",
            PrincipalKind::System => "system",
        }
    }
}

/// A person's or robot's roles.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Roles {
    pub global: BTreeSet<GlobalRole>,
    pub tenants: BTreeMap<TenantId, TenantRole>,
}

impl Roles {
    pub fn is_admin(&self) -> bool {
        self.global.contains(&GlobalRole::Admin)
    }

    pub fn is_auditor(&self) -> bool {
        self.global.contains(&GlobalRole::Auditor)
    }

    pub fn tenant_role(&self, t: &TenantId) -> Option<TenantRole> {
        self.tenants.get(t).copied()
    }

    /// Roles holding only `role` in `tenant`: the shape of a robot's roles.
    pub fn single(tenant: TenantId, role: TenantRole) -> Roles {
        Roles {
            global: BTreeSet::new(),
            tenants: BTreeMap::from([(tenant, role)]),
        }
    }
}

/// Someone or something making a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User {
        name: String,
        roles: Roles,
    },
    /// A robot has exactly one tenant role and no global roles; the zone
    /// rules ignore any global role a robot is (wrongly) given.
    Robot {
        name: String,
        roles: Roles,
    },
    System(SystemIdentity),
}

impl Principal {
    pub fn kind(&self) -> PrincipalKind {
        match self {
            Principal::User { .. } => PrincipalKind::User,
            Principal::Robot { .. } => PrincipalKind::Robot,
            Principal::System(_) => PrincipalKind::System,
        }
    }

    /// The account name; `"scanner"` or `"promoter"` for system identities.
    pub fn name(&self) -> &str {
        match self {
            Principal::User { name, .. } | Principal::Robot { name, .. } => name,
            Principal::System(identity) => identity.as_str(),
        }
    }

    /// The roles of a user or robot; `None` for system identities.
    pub fn roles(&self) -> Option<&Roles> {
        match self {
            Principal::User { roles, .. } | Principal::Robot { roles, .. } => Some(roles),
            Principal::System(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_report_kind_name_and_roles() {
        let acme: TenantId = "acme".parse().unwrap();
        let roles = Roles::single(acme.clone(), TenantRole::Developer);
        let cases = [
            (
                Principal::User {
                    name: "alice".into(),
                    roles: roles.clone(),
                },
                PrincipalKind::User,
                "alice",
                true,
            ),
            (
                Principal::Robot {
                    name: "robot$acme+ci".into(),
                    roles: roles.clone(),
                },
                PrincipalKind::Robot,
                "robot$acme+ci",
                true,
            ),
            (
                Principal::System(SystemIdentity::Scanner),
                PrincipalKind::System,
                "scanner",
                false,
            ),
            (
                Principal::System(SystemIdentity::Promoter),
                PrincipalKind::System,
                "promoter",
                false,
            ),
        ];
        for (principal, kind, name, has_roles) in cases {
            assert_eq!(principal.kind(), kind);
            assert_eq!(principal.name(), name);
            assert_eq!(principal.roles().is_some(), has_roles);
        }
        assert_eq!(roles.tenant_role(&acme), Some(TenantRole::Developer));
        assert!(!roles.is_admin());
        assert!(!roles.is_auditor());
    }

    #[test]
    fn roles_serialize_with_tenant_keys() {
        let mut roles = Roles::single("acme".parse().unwrap(), TenantRole::Reader);
        roles.global.insert(GlobalRole::Auditor);
        let json = serde_json::to_string(&roles).unwrap();
        assert_eq!(
            json,
            r#"{"global":["auditor"],"tenants":{"acme":"reader"}}"#
        );
        assert_eq!(serde_json::from_str::<Roles>(&json).unwrap(), roles);
        assert!(roles.is_auditor());
    }
}
