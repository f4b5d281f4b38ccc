//! Identities and authorization for airlock: who is acting, what the zone
//! rules let them do, and the credentials that prove it.
//!
//! Design decisions:
//!
//! - **The zone rules live in one table** ([`ZONE_RULES`] in `access.rs`).
//!   Repositories sit in `unscanned/<tenant>/...` (teams push there) or
//!   `scanned/<tenant>/...` (only the promoter writes there, after a scan
//!   passes). Every registry decision goes through [`repo_allows`]; a
//!   principal's rights are the union over its roles.
//! - **Parse, don't validate**: [`TenantId`] and [`ZonedRepo`] cannot hold
//!   invalid values, so the rules never see a malformed tenant.
//! - **Tokens never grant more than asked or held** ([`grant`]), and carry
//!   the principal's roles so the registry can answer 401 versus 403
//!   without a database lookup.
//! - **Time is a parameter** (`now`) everywhere it matters, so expiry and
//!   throttling are tested without sleeping.
//! - **Pure logic**: no async, no database, no network. The only I/O is
//!   [`TokenKeys::load_or_create`], which reads or writes the key file.
//! - **Randomness comes from aws-lc** (the same library that signs tokens),
//!   through one private module.

mod access;
mod error;
mod password;
mod principal;
mod random;
mod robot;
mod role;
mod scope;
mod tenant;
mod throttle;
mod token;
mod zone;

pub use access::{
    ManageAction, RepoAction, RightsHolder, ZONE_RULES, manage_allows, repo_actions, repo_allows,
    tenant_visible,
};
pub use error::AuthError;
pub use password::{
    GENERATED_PASSWORD_LEN, generate_password, hash_password, verify_dummy, verify_password,
};
pub use principal::{Principal, PrincipalKind, Roles};
pub use random::random_bytes;
pub use robot::{
    ROBOT_NAME_MAX_LEN, RobotSecret, hashes_equal, new_robot_secret, parse_robot_account_name,
    robot_account_name, robot_token_hash, robot_token_prefix,
};
pub use role::{GlobalRole, SystemIdentity, TenantRole};
pub use scope::{
    ALL_ACTIONS, Access, CATALOG, REGISTRY, REPOSITORY, Scope, access_covers,
    access_covers_catalog, grant, parse_scopes,
};
pub use tenant::{TENANT_ID_MAX_LEN, TenantId};
pub use throttle::LoginThrottle;
pub use token::{
    ISSUER, IssuedToken, LEEWAY_SECONDS, PrincipalClaim, TokenClaims, TokenError, TokenKeys,
    TokenService,
};
pub use zone::{Zone, ZoneError, ZonedRepo};
