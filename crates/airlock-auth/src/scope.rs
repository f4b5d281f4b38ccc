//! Docker registry token scopes (the CNCF distribution token spec): parsing
//! what a client asks for (`repository:unscanned/acme/app:pull,push`) and
//! granting the subset the principal holds under the zone rules. The token
//! spec says never to refuse a token for lacking rights: grant less and let
//! the registry answer 401/403 later.

use std::fmt;
use std::str::FromStr;

use crate::{AuthError, Principal, RepoAction, ZonedRepo, repo_actions};

/// The resource type of repository scopes.
pub const REPOSITORY: &str = "repository";
/// The resource type and name of the catalog scope (`registry:catalog:*`).
pub const REGISTRY: &str = "registry";
pub const CATALOG: &str = "catalog";
/// The wildcard action.
pub const ALL_ACTIONS: &str = "*";

/// One granted entry of a token's `access` claim.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Access {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub name: String,
    pub actions: Vec<String>,
}

/// One requested scope, `<type>:<name>:<action>[,<action>...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub resource_type: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl FromStr for Scope {
    type Err = AuthError;

    /// The name may itself contain `:` (a `host:port` prefix), so the type
    /// ends at the first `:` and the actions start after the last one.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |why: &str| {
            AuthError::InvalidScope(format!(
                "{s:?} {why}: expected <type>:<name>:<action>[,<action>...]"
            ))
        };
        let (resource_type, rest) = s.split_once(':').ok_or_else(|| invalid("has no name"))?;
        let (name, actions) = rest
            .rsplit_once(':')
            .ok_or_else(|| invalid("has no actions"))?;
        if resource_type.is_empty() {
            return Err(invalid("has an empty type"));
        }
        if name.is_empty() {
            return Err(invalid("has an empty name"));
        }
        let actions: Vec<String> = actions.split(',').map(str::to_owned).collect();
        if actions.iter().any(String::is_empty) {
            return Err(invalid("has an empty action"));
        }
        Ok(Scope {
            resource_type: resource_type.to_owned(),
            name: name.to_owned(),
            actions,
        })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.resource_type,
            self.name,
            self.actions.join(",")
        )
    }
}

/// Parses a whole `scope` query value; clients may send several scope params, and one param may hold several space-separated scopes.
pub fn parse_scopes<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Scope>, AuthError> {
    values
        .into_iter()
        .flat_map(str::split_whitespace)
        .map(str::parse)
        .collect()
}

/// The subset of `scope` that `principal` holds, or `None` if that is nothing.
fn grant_one(principal: &Principal, scope: &Scope) -> Option<Access> {
    let actions: Vec<String> = match scope.resource_type.as_str() {
        REGISTRY if scope.name == CATALOG => {
            let asks_all = scope.actions.iter().any(|a| a == ALL_ACTIONS);
            let person_or_robot = !matches!(principal, Principal::System(_));
            if !(asks_all && person_or_robot) {
                return None;
            }
            vec![ALL_ACTIONS.to_owned()]
        }
        REPOSITORY => {
            let repo = ZonedRepo::parse(&scope.name).ok()?;
            let held = repo_actions(principal, &repo);
            let asked = |action: &RepoAction| {
                scope
                    .actions
                    .iter()
                    .any(|a| a == ALL_ACTIONS || a == action.as_str())
            };
            held.into_iter()
                .filter(asked)
                .map(|a| a.as_str().to_owned())
                .collect()
        }
        _ => return None,
    };
    (!actions.is_empty()).then(|| Access {
        resource_type: scope.resource_type.clone(),
        name: scope.name.clone(),
        actions,
    })
}

/// Sort order of granted action names: repository actions in [`RepoAction`]
/// order, anything else (`*`) after them.
fn action_rank(action: &str) -> (usize, &str) {
    let rank = RepoAction::ALL
        .iter()
        .position(|a| a.as_str() == action)
        .unwrap_or(RepoAction::ALL.len());
    (rank, action)
}

/// The subset of requested actions the principal holds, as the token spec
/// says: never more than asked; `*` on a repository means pull, push and
/// delete, of which the held subset is granted; unknown actions are dropped.
/// `registry:catalog:*` grants `["*"]` to any user or robot (the catalog is
/// filtered later). A repository outside the zones, or naming an invalid
/// tenant, grants nothing. One [`Access`] per requested resource that ended
/// with at least one action, actions sorted, duplicates merged.
pub fn grant(principal: &Principal, requested: &[Scope]) -> Vec<Access> {
    let mut granted: Vec<Access> = Vec::new();
    for access in requested.iter().filter_map(|s| grant_one(principal, s)) {
        match granted
            .iter_mut()
            .find(|g| g.resource_type == access.resource_type && g.name == access.name)
        {
            Some(existing) => existing.actions.extend(access.actions),
            None => granted.push(access),
        }
    }
    for access in &mut granted {
        access
            .actions
            .sort_by(|a, b| action_rank(a).cmp(&action_rank(b)));
        access.actions.dedup();
    }
    granted
}

/// Whether token access covers `action` on `repository` ("*" in actions counts as all).
pub fn access_covers(access: &[Access], repository: &str, action: RepoAction) -> bool {
    access.iter().any(|a| {
        a.resource_type == REPOSITORY
            && a.name == repository
            && a.actions
                .iter()
                .any(|x| x == ALL_ACTIONS || x == action.as_str())
    })
}

/// Whether token access covers listing the catalog (`registry:catalog:*`).
pub fn access_covers_catalog(access: &[Access]) -> bool {
    access.iter().any(|a| {
        a.resource_type == REGISTRY
            && a.name == CATALOG
            && a.actions.iter().any(|x| x == ALL_ACTIONS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GlobalRole, Roles, SystemIdentity, TenantRole};

    fn scope(s: &str) -> Scope {
        s.parse().unwrap()
    }

    fn user(tenant: &str, role: TenantRole) -> Principal {
        Principal::User {
            name: "alice".into(),
            roles: Roles::single(tenant.parse().unwrap(), role),
        }
    }

    fn access(resource_type: &str, name: &str, actions: &[&str]) -> Access {
        Access {
            resource_type: resource_type.into(),
            name: name.into(),
            actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    #[test]
    fn parses_scopes() {
        let cases: &[(&str, &str, &str, &[&str])] = &[
            (
                "repository:unscanned/t/app:pull,push",
                "repository",
                "unscanned/t/app",
                &["pull", "push"],
            ),
            (
                "repository(plugin):name:pull",
                "repository(plugin)",
                "name",
                &["pull"],
            ),
            ("registry:catalog:*", "registry", "catalog", &["*"]),
            (
                "repository:localhost:5000/scanned/t/app:pull",
                "repository",
                "localhost:5000/scanned/t/app",
                &["pull"],
            ),
        ];
        for (input, resource_type, name, actions) in cases {
            let parsed = scope(input);
            assert_eq!(parsed.resource_type, *resource_type, "{input}");
            assert_eq!(parsed.name, *name, "{input}");
            assert_eq!(parsed.actions, *actions, "{input}");
            assert_eq!(parsed.to_string(), *input);
        }
    }

    #[test]
    fn rejects_malformed_scopes() {
        let cases = [
            "",
            "repository",
            "repository:app",
            ":app:pull",
            "repository::pull",
            "repository:app:",
            "repository:app:pull,,push",
        ];
        for input in cases {
            assert!(
                matches!(input.parse::<Scope>(), Err(AuthError::InvalidScope(_))),
                "{input:?}"
            );
        }
    }

    #[test]
    fn parses_several_scopes_per_param_and_several_params() {
        let scopes = parse_scopes([
            "repository:unscanned/t/a:push repository:scanned/t/a:pull",
            "registry:catalog:*",
            "",
        ])
        .unwrap();
        let names: Vec<&str> = scopes.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["unscanned/t/a", "scanned/t/a", "catalog"]);
        assert!(parse_scopes(["repository:ok/x:pull bad"]).is_err());
    }

    #[test]
    fn grants_the_held_subset() {
        let dev = user("acme", TenantRole::Developer);
        let reader = user("globex", TenantRole::Reader);
        let admin = Principal::User {
            name: "root".into(),
            roles: Roles {
                global: [GlobalRole::Admin].into(),
                ..Roles::default()
            },
        };
        let scanner = Principal::System(SystemIdentity::Scanner);
        let cases: Vec<(&str, &Principal, Vec<&str>, Vec<Access>)> = vec![
            (
                "developer asks pull,push on unscanned: push only",
                &dev,
                vec!["repository:unscanned/acme/app:pull,push"],
                vec![access("repository", "unscanned/acme/app", &["push"])],
            ),
            (
                "developer asks pull,push on scanned: pull only",
                &dev,
                vec!["repository:scanned/acme/app:pull,push"],
                vec![access("repository", "scanned/acme/app", &["pull"])],
            ),
            (
                "reader of another tenant gets nothing",
                &reader,
                vec!["repository:scanned/acme/app:pull"],
                vec![],
            ),
            (
                "* expands to the held subset",
                &admin,
                vec!["repository:scanned/acme/app:*"],
                vec![access(
                    "repository",
                    "scanned/acme/app",
                    &["pull", "delete"],
                )],
            ),
            (
                "* for a developer on unscanned",
                &dev,
                vec!["repository:unscanned/acme/app:*"],
                vec![access("repository", "unscanned/acme/app", &["push"])],
            ),
            (
                "never more than asked",
                &admin,
                vec!["repository:unscanned/acme/app:pull"],
                vec![access("repository", "unscanned/acme/app", &["pull"])],
            ),
            (
                "unknown actions dropped",
                &dev,
                vec!["repository:scanned/acme/app:pull,fly"],
                vec![access("repository", "scanned/acme/app", &["pull"])],
            ),
            (
                "duplicates merged and sorted",
                &admin,
                vec![
                    "repository:unscanned/acme/app:delete,push",
                    "repository:unscanned/acme/app:pull,push",
                ],
                vec![access(
                    "repository",
                    "unscanned/acme/app",
                    &["pull", "push", "delete"],
                )],
            ),
            (
                "outside the zones and invalid tenants grant nothing",
                &admin,
                vec![
                    "repository:library/app:pull",
                    "repository:scanned/a--b/app:pull",
                    "repository:localhost:5000/scanned/acme/app:pull",
                ],
                vec![],
            ),
            (
                "catalog for users",
                &reader,
                vec!["registry:catalog:*"],
                vec![access("registry", "catalog", &["*"])],
            ),
            (
                "catalog only with *",
                &reader,
                vec!["registry:catalog:pull"],
                vec![],
            ),
            (
                "no catalog for system identities",
                &scanner,
                vec!["registry:catalog:*", "repository:unscanned/acme/app:pull"],
                vec![access("repository", "unscanned/acme/app", &["pull"])],
            ),
            (
                "unknown resource types and classes grant nothing",
                &admin,
                vec!["repository(plugin):scanned/acme/app:pull", "blob:x:pull"],
                vec![],
            ),
        ];
        for (label, principal, requested, want) in cases {
            let requested = parse_scopes(requested).unwrap();
            assert_eq!(grant(principal, &requested), want, "{label}");
        }
    }

    #[test]
    fn access_covers_actions() {
        let granted = vec![
            access("repository", "unscanned/acme/app", &["push"]),
            access("repository", "scanned/acme/app", &["*"]),
            access("registry", "catalog", &["*"]),
        ];
        let cases: &[(&str, RepoAction, bool)] = &[
            ("unscanned/acme/app", RepoAction::Push, true),
            ("unscanned/acme/app", RepoAction::Pull, false),
            ("scanned/acme/app", RepoAction::Delete, true),
            ("scanned/acme/app", RepoAction::Pull, true),
            ("scanned/acme/other", RepoAction::Pull, false),
            ("catalog", RepoAction::Pull, false),
        ];
        for (repo, action, want) in cases {
            assert_eq!(
                access_covers(&granted, repo, *action),
                *want,
                "{repo} {action}"
            );
        }
        assert!(access_covers_catalog(&granted));
        assert!(!access_covers_catalog(&granted[..2]));
        assert!(!access_covers_catalog(&[access(
            "registry",
            "catalog",
            &["pull"]
        )]));
    }

    #[test]
    fn access_serializes_with_type_key() {
        let json = serde_json::to_string(&access("repository", "scanned/a/b", &["pull"])).unwrap();
        assert_eq!(
            json,
            r#"{"type":"repository","name":"scanned/a/b","actions":["pull"]}"#
        );
    }
}
