//! The zone rules: what each identity may do to repositories in
//! `unscanned/` and `scanned/`, and who may use the management API.
//!
//! Repository rights come from one table, [`ZONE_RULES`], with one row per
//! (role, zone). A principal's rights on a repository are the union of the
//! rows for every role it holds that applies there: its role in the
//! repository's tenant, plus its global roles (users only; a robot's global
//! roles are ignored), or its system identity. Nobody but the promoter pushes
//! to `scanned/`; a test checks the table for that.

use std::fmt;
use std::str::FromStr;

use crate::{
    AuthError, GlobalRole, Principal, SystemIdentity, TenantId, TenantRole, Zone, ZonedRepo,
};

/// An action on a repository, as named in registry token scopes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum RepoAction {
    Pull,
    Push,
    Delete,
}

impl RepoAction {
    pub const ALL: [RepoAction; 3] = [RepoAction::Pull, RepoAction::Push, RepoAction::Delete];

    pub fn as_str(&self) -> &'static str {
        match self {
            RepoAction::Pull => "pull",
            RepoAction::Push => "push",
            RepoAction::Delete => "delete",
        }
    }
}

impl FromStr for RepoAction {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RepoAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                AuthError::InvalidScope(format!(
                    "unknown repository action {s:?}: expected pull, push or delete"
                ))
            })
    }
}

impl fmt::Display for RepoAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that carries repository rights: a role or a system identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RightsHolder {
    /// A role in the repository's own tenant.
    Tenant(TenantRole),
    /// A global role; applies to every tenant.
    Global(GlobalRole),
    System(SystemIdentity),
}

use RepoAction::{Delete, Pull, Push};
use RightsHolder::{Global, System, Tenant};

/// THE zone-rule table: for each holder and zone, the actions it grants.
///
/// | holder              | unscanned/<t>/...  | scanned/<t>/...   |
/// |---------------------|--------------------|-------------------|
/// | developer of t      | push (no pull)     | pull              |
/// | reader of t         | —                  | pull              |
/// | security of t       | pull               | pull              |
/// | auditor             | pull               | pull              |
/// | admin               | pull, push, delete | pull, delete      |
/// | system scanner      | pull               | —                 |
/// | system promoter     | —                  | pull, push, delete|
///
/// Roles in another tenant grant nothing. Developers cannot pull from
/// `unscanned/` so that unscanned images never reach a workload.
pub const ZONE_RULES: &[(RightsHolder, Zone, &[RepoAction])] = &[
    (Tenant(TenantRole::Developer), Zone::Unscanned, &[Push]),
    (Tenant(TenantRole::Developer), Zone::Scanned, &[Pull]),
    (Tenant(TenantRole::Reader), Zone::Unscanned, &[]),
    (Tenant(TenantRole::Reader), Zone::Scanned, &[Pull]),
    (Tenant(TenantRole::Security), Zone::Unscanned, &[Pull]),
    (Tenant(TenantRole::Security), Zone::Scanned, &[Pull]),
    (Global(GlobalRole::Auditor), Zone::Unscanned, &[Pull]),
    (Global(GlobalRole::Auditor), Zone::Scanned, &[Pull]),
    (
        Global(GlobalRole::Admin),
        Zone::Unscanned,
        &[Pull, Push, Delete],
    ),
    (Global(GlobalRole::Admin), Zone::Scanned, &[Pull, Delete]),
    (System(SystemIdentity::Scanner), Zone::Unscanned, &[Pull]),
    (System(SystemIdentity::Scanner), Zone::Scanned, &[]),
    (System(SystemIdentity::Promoter), Zone::Unscanned, &[]),
    (
        System(SystemIdentity::Promoter),
        Zone::Scanned,
        &[Pull, Push, Delete],
    ),
];

fn rule(holder: RightsHolder, zone: Zone) -> &'static [RepoAction] {
    ZONE_RULES
        .iter()
        .find(|(h, z, _)| *h == holder && *z == zone)
        .map_or(&[], |(_, _, actions)| actions)
}

/// The holders that apply to `principal` in `tenant`.
fn holders(principal: &Principal, tenant: &TenantId) -> Vec<RightsHolder> {
    match principal {
        Principal::User { roles, .. } => roles
            .tenant_role(tenant)
            .map(Tenant)
            .into_iter()
            .chain(roles.global.iter().copied().map(Global))
            .collect(),
        Principal::Robot { roles, .. } => {
            roles.tenant_role(tenant).map(Tenant).into_iter().collect()
        }
        Principal::System(identity) => vec![System(*identity)],
    }
}

/// Whether `principal` may do `action` to `repo`, by [`ZONE_RULES`].
pub fn repo_allows(principal: &Principal, action: RepoAction, repo: &ZonedRepo) -> bool {
    holders(principal, &repo.tenant)
        .into_iter()
        .any(|h| rule(h, repo.zone).contains(&action))
}

/// All actions principal holds on repo, sorted.
pub fn repo_actions(principal: &Principal, repo: &ZonedRepo) -> Vec<RepoAction> {
    RepoAction::ALL
        .into_iter()
        .filter(|a| repo_allows(principal, *a, repo))
        .collect()
}

/// Management (the /api/v1 API and CLI) permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManageAction {
    /// Create/delete tenants: admin.
    ManageTenants,
    /// Admin and auditor see all tenants; other users and robots see the
    /// tenants for which [`tenant_visible`] holds.
    ListTenants,
    /// Create/disable/grant users: admin.
    ManageUsers,
    /// Admin, auditor.
    ListUsers,
    /// The user named, or an admin.
    ChangeOwnPassword(String),
    /// Create/revoke robots of a tenant: admin, security of the tenant.
    ManageRobots(TenantId),
    /// Admin, auditor, security or developer of the tenant.
    ListRobots(TenantId),
    /// Admin, auditor.
    ReadAudit,
    /// Read a tenant's policy (`None`: the global one): the global policy
    /// is readable by every user and robot; a tenant's by its members
    /// (robots included), auditors and admins.
    ReadPolicy(Option<TenantId>),
    /// Set a tenant's policy: admin, security of the tenant. The global
    /// policy (`None`): admin only.
    SetPolicy(Option<TenantId>),
    /// Read a tenant's images (state, verdict, history) and exceptions:
    /// admin, auditor, any member of the tenant (robots included, so CI can
    /// wait for its image).
    ReadGate(TenantId),
    /// Request an exception in a tenant: admin, developer or security of
    /// the tenant (people only).
    RequestException(TenantId),
    /// Approve or revoke an exception of a tenant: admin, security of the
    /// tenant (an approver must also not be the requester; the accounts
    /// service checks that).
    ApproveException(TenantId),
    /// Download a tenant's scan reports and SBOMs: admin, auditor, any
    /// member of the tenant (robots included, so CI can fetch its SBOM).
    ReadReports(TenantId),
    /// Create, list, test and delete a tenant's webhooks and read their
    /// deliveries: admin, developer or security of the tenant. Global
    /// subscriptions (`None`, every tenant's events): admin.
    ManageWebhooks(Option<TenantId>),
}

/// Whether `principal` may perform a management action.
///
/// System identities may not manage anything. Robots exist for registry
/// access: they may only list (their) tenants.
pub fn manage_allows(principal: &Principal, action: &ManageAction) -> bool {
    let (name, roles) = match principal {
        Principal::User { name, roles } => (name, roles),
        Principal::Robot { roles, .. } => {
            return match action {
                ManageAction::ListTenants | ManageAction::ReadPolicy(None) => true,
                ManageAction::ReadPolicy(Some(t))
                | ManageAction::ReadGate(t)
                | ManageAction::ReadReports(t) => roles.tenant_role(t).is_some(),
                _ => false,
            };
        }
        Principal::System(_) => return false,
    };
    let admin = roles.is_admin();
    let auditor = roles.is_auditor();
    match action {
        ManageAction::ManageTenants | ManageAction::ManageUsers => admin,
        ManageAction::ListTenants => true,
        ManageAction::ListUsers | ManageAction::ReadAudit => admin || auditor,
        ManageAction::ChangeOwnPassword(user) => admin || user == name,
        ManageAction::ManageRobots(t) => {
            admin || roles.tenant_role(t) == Some(TenantRole::Security)
        }
        ManageAction::ListRobots(t) => {
            admin
                || auditor
                || matches!(
                    roles.tenant_role(t),
                    Some(TenantRole::Security | TenantRole::Developer)
                )
        }
        ManageAction::ReadPolicy(None) => true,
        ManageAction::ReadPolicy(Some(t))
        | ManageAction::ReadGate(t)
        | ManageAction::ReadReports(t) => admin || auditor || roles.tenant_role(t).is_some(),
        ManageAction::SetPolicy(None) | ManageAction::ManageWebhooks(None) => admin,
        ManageAction::SetPolicy(Some(t)) | ManageAction::ApproveException(t) => {
            admin || roles.tenant_role(t) == Some(TenantRole::Security)
        }
        ManageAction::RequestException(t) | ManageAction::ManageWebhooks(Some(t)) => {
            admin
                || matches!(
                    roles.tenant_role(t),
                    Some(TenantRole::Security | TenantRole::Developer)
                )
        }
    }
}

/// Whether a tenant shows up in a non-admin's tenant list: any role in it (admin/auditor: all).
pub fn tenant_visible(principal: &Principal, tenant: &TenantId) -> bool {
    match principal {
        Principal::User { roles, .. } => {
            roles.is_admin() || roles.is_auditor() || roles.tenant_role(tenant).is_some()
        }
        Principal::Robot { roles, .. } => roles.tenant_role(tenant).is_some(),
        Principal::System(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Roles;

    fn tenant(s: &str) -> TenantId {
        s.parse().unwrap()
    }

    fn user(tenants: &[(&str, TenantRole)], global: &[GlobalRole]) -> Principal {
        Principal::User {
            name: "alice".into(),
            roles: Roles {
                global: global.iter().copied().collect(),
                tenants: tenants.iter().map(|(t, r)| (tenant(t), *r)).collect(),
            },
        }
    }

    fn robot(t: &str, role: TenantRole) -> Principal {
        Principal::Robot {
            name: format!("robot${t}+ci"),
            roles: Roles::single(tenant(t), role),
        }
    }

    /// Every principal × {own tenant acme, other tenant globex} × zone, with
    /// the full set of actions expected ("" = nothing).
    #[test]
    fn zone_rule_table() {
        use GlobalRole::{Admin, Auditor};
        use TenantRole::{Developer, Reader, Security};
        let rows: Vec<(&str, Principal, [&str; 4])> = vec![
            //                                        unscanned/acme, scanned/acme, unscanned/globex, scanned/globex
            (
                "developer user",
                user(&[("acme", Developer)], &[]),
                ["push", "pull", "", ""],
            ),
            (
                "developer robot",
                robot("acme", Developer),
                ["push", "pull", "", ""],
            ),
            (
                "reader user",
                user(&[("acme", Reader)], &[]),
                ["", "pull", "", ""],
            ),
            ("reader robot", robot("acme", Reader), ["", "pull", "", ""]),
            (
                "security user",
                user(&[("acme", Security)], &[]),
                ["pull", "pull", "", ""],
            ),
            (
                "security robot",
                robot("acme", Security),
                ["pull", "pull", "", ""],
            ),
            (
                "auditor",
                user(&[], &[Auditor]),
                ["pull", "pull", "pull", "pull"],
            ),
            (
                "admin",
                user(&[], &[Admin]),
                [
                    "pull,push,delete",
                    "pull,delete",
                    "pull,push,delete",
                    "pull,delete",
                ],
            ),
            (
                "admin who is also reader of acme",
                user(&[("acme", Reader)], &[Admin]),
                [
                    "pull,push,delete",
                    "pull,delete",
                    "pull,push,delete",
                    "pull,delete",
                ],
            ),
            (
                "auditor who is also developer of acme",
                user(&[("acme", Developer)], &[Auditor]),
                ["pull,push", "pull", "pull", "pull"],
            ),
            (
                "developer of acme, security of globex",
                user(&[("acme", Developer), ("globex", Security)], &[]),
                ["push", "pull", "pull", "pull"],
            ),
            (
                "developer of acme, reader of globex",
                user(&[("acme", Developer), ("globex", Reader)], &[]),
                ["push", "pull", "", "pull"],
            ),
            ("user with no roles", user(&[], &[]), ["", "", "", ""]),
            (
                "robot given a global role (ignored)",
                Principal::Robot {
                    name: "robot$acme+x".into(),
                    roles: Roles {
                        global: [Admin].into(),
                        tenants: [(tenant("acme"), Reader)].into(),
                    },
                },
                ["", "pull", "", ""],
            ),
            (
                "system scanner",
                Principal::System(SystemIdentity::Scanner),
                ["pull", "", "pull", ""],
            ),
            (
                "system promoter",
                Principal::System(SystemIdentity::Promoter),
                ["", "pull,push,delete", "", "pull,push,delete"],
            ),
        ];
        let repos = [
            "unscanned/acme/app",
            "scanned/acme/app",
            "unscanned/globex/team/app",
            "scanned/globex/team/app",
        ];
        for (label, principal, expected) in &rows {
            for (repo, want) in repos.iter().zip(expected) {
                let repo = ZonedRepo::parse(repo).unwrap();
                let got: Vec<&str> = repo_actions(principal, &repo)
                    .iter()
                    .map(RepoAction::as_str)
                    .collect();
                assert_eq!(got.join(","), *want, "{label} on {}", repo.repository());
                for action in RepoAction::ALL {
                    assert_eq!(
                        repo_allows(principal, action, &repo),
                        want.split(',').any(|w| w == action.as_str()),
                        "{label} {action} {}",
                        repo.repository()
                    );
                }
            }
        }
    }

    #[test]
    fn nobody_but_the_promoter_pushes_to_scanned() {
        for (holder, zone, actions) in ZONE_RULES {
            if *zone == Zone::Scanned && actions.contains(&RepoAction::Push) {
                assert_eq!(*holder, System(SystemIdentity::Promoter));
            }
        }
    }

    #[test]
    fn table_has_one_row_per_holder_and_zone() {
        let mut holders: Vec<RightsHolder> = TenantRole::ALL.into_iter().map(Tenant).collect();
        holders.extend(GlobalRole::ALL.into_iter().map(Global));
        holders.extend([
            System(SystemIdentity::Scanner),
            System(SystemIdentity::Promoter),
        ]);
        for holder in holders {
            for zone in Zone::ALL {
                let rows = ZONE_RULES
                    .iter()
                    .filter(|(h, z, _)| *h == holder && *z == zone)
                    .count();
                assert_eq!(rows, 1, "{holder:?} in {zone}");
            }
        }
    }

    #[test]
    fn management_permissions() {
        use GlobalRole::{Admin, Auditor};
        use ManageAction::*;
        use TenantRole::{Developer, Reader, Security};
        let acme = || tenant("acme");
        let globex = || tenant("globex");
        let admin = user(&[], &[Admin]);
        let auditor = user(&[], &[Auditor]);
        let dev = user(&[("acme", Developer)], &[]);
        let reader = user(&[("acme", Reader)], &[]);
        let sec = user(&[("acme", Security)], &[]);
        let bot = robot("acme", Security);
        let scanner = Principal::System(SystemIdentity::Scanner);
        let promoter = Principal::System(SystemIdentity::Promoter);
        let cases: Vec<(&str, &Principal, ManageAction, bool)> = vec![
            ("admin", &admin, ManageTenants, true),
            ("auditor", &auditor, ManageTenants, false),
            ("developer", &dev, ManageTenants, false),
            ("admin", &admin, ListTenants, true),
            ("reader", &reader, ListTenants, true),
            ("robot", &bot, ListTenants, true),
            ("scanner", &scanner, ListTenants, false),
            ("admin", &admin, ManageUsers, true),
            ("auditor", &auditor, ManageUsers, false),
            ("security", &sec, ManageUsers, false),
            ("admin", &admin, ListUsers, true),
            ("auditor", &auditor, ListUsers, true),
            ("developer", &dev, ListUsers, false),
            ("self", &dev, ChangeOwnPassword("alice".into()), true),
            ("other", &dev, ChangeOwnPassword("bob".into()), false),
            ("admin", &admin, ChangeOwnPassword("bob".into()), true),
            (
                "robot",
                &bot,
                ChangeOwnPassword("robot$acme+ci".into()),
                false,
            ),
            ("admin", &admin, ManageRobots(globex()), true),
            ("security own", &sec, ManageRobots(acme()), true),
            ("security other", &sec, ManageRobots(globex()), false),
            ("developer", &dev, ManageRobots(acme()), false),
            ("auditor", &auditor, ManageRobots(acme()), false),
            ("robot with security", &bot, ManageRobots(acme()), false),
            ("admin", &admin, ListRobots(acme()), true),
            ("auditor", &auditor, ListRobots(acme()), true),
            ("security own", &sec, ListRobots(acme()), true),
            ("developer own", &dev, ListRobots(acme()), true),
            ("developer other", &dev, ListRobots(globex()), false),
            ("reader own", &reader, ListRobots(acme()), false),
            ("admin", &admin, ReadAudit, true),
            ("auditor", &auditor, ReadAudit, true),
            ("security", &sec, ReadAudit, false),
            ("promoter", &promoter, ReadAudit, false),
            ("promoter", &promoter, ManageTenants, false),
            ("admin", &admin, ReadReports(globex()), true),
            ("auditor", &auditor, ReadReports(globex()), true),
            ("reader own", &reader, ReadReports(acme()), true),
            ("developer other", &dev, ReadReports(globex()), false),
            ("robot own", &bot, ReadReports(acme()), true),
            ("robot other", &bot, ReadReports(globex()), false),
            ("scanner", &scanner, ReadReports(acme()), false),
            ("admin", &admin, ManageWebhooks(Some(acme())), true),
            ("admin global", &admin, ManageWebhooks(None), true),
            ("developer own", &dev, ManageWebhooks(Some(acme())), true),
            (
                "developer other",
                &dev,
                ManageWebhooks(Some(globex())),
                false,
            ),
            ("developer global", &dev, ManageWebhooks(None), false),
            ("security own", &sec, ManageWebhooks(Some(acme())), true),
            ("security global", &sec, ManageWebhooks(None), false),
            ("reader own", &reader, ManageWebhooks(Some(acme())), false),
            ("auditor", &auditor, ManageWebhooks(Some(acme())), false),
            ("robot", &bot, ManageWebhooks(Some(acme())), false),
        ];
        for (label, principal, action, want) in cases {
            assert_eq!(
                manage_allows(principal, &action),
                want,
                "{label} {action:?}"
            );
        }
    }

    #[test]
    fn tenant_visibility() {
        let cases: Vec<(&str, Principal, &str, bool)> = vec![
            ("admin", user(&[], &[GlobalRole::Admin]), "globex", true),
            ("auditor", user(&[], &[GlobalRole::Auditor]), "globex", true),
            (
                "reader own",
                user(&[("acme", TenantRole::Reader)], &[]),
                "acme",
                true,
            ),
            (
                "reader other",
                user(&[("acme", TenantRole::Reader)], &[]),
                "globex",
                false,
            ),
            (
                "robot own",
                robot("acme", TenantRole::Developer),
                "acme",
                true,
            ),
            (
                "robot other",
                robot("acme", TenantRole::Developer),
                "globex",
                false,
            ),
            (
                "scanner",
                Principal::System(SystemIdentity::Scanner),
                "acme",
                false,
            ),
        ];
        for (label, principal, t, want) in cases {
            assert_eq!(tenant_visible(&principal, &tenant(t)), want, "{label}");
        }
    }

    #[test]
    fn actions_parse_only_known_names() {
        let cases: &[(&str, Option<RepoAction>)] = &[
            ("pull", Some(RepoAction::Pull)),
            ("push", Some(RepoAction::Push)),
            ("delete", Some(RepoAction::Delete)),
            ("*", None),
            ("Pull", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(input.parse::<RepoAction>().ok(), *want, "{input:?}");
        }
    }
}
