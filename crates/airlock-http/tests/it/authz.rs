//! THE authorization matrix: every principal × every route × own or other
//! tenant × zone, driven by one table ([`MATRIX`]).
//!
//! Each cell is one request with a token minted the way the token endpoint
//! mints it ([`airlock_auth::grant`] over the scopes a client asks for) and
//! its expected outcome: the exact status and, for errors, the exact OCI
//! error code. The test runs every cell, collects every mismatch and fails
//! listing them all, so a change to the zone rules shows as a readable diff
//! of the table. The management rows name the OpenAPI operation they call
//! ([`Op::endpoint`]); [`matrix_covers_every_documented_operation`] fails
//! when a documented operation has no row. Cells that destroy content or
//! change state once (deletes, robot revocation, exception approval and
//! revocation) run on a fresh application each; the others share one.

use std::collections::BTreeMap;
use std::time::Instant;

use airlock_accounts::{ExceptionRequest, NewWebhook, Operator};
use airlock_audit::RequestContext;
use airlock_auth::{GlobalRole, Principal, Roles, SystemIdentity, TenantId, TenantRole};
use airlock_oci::{RepoName, media_type};
use airlock_registry::Caller;
use airlock_store::{AuditFilter, AuditStore, GateStore, PushedImage};

use crate::{Reply, TestApp, sha256};

/// Who sends a request: the columns of [`MATRIX`], in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Anonymous,
    Developer,
    Robot,
    Reader,
    Security,
    Auditor,
    Admin,
    /// A reader of tenant `u`: "anyone, for another tenant".
    OtherTenant,
}

/// The columns of every row.
const COLUMNS: [Who; 8] = [
    Who::Anonymous,
    Who::Developer,
    Who::Robot,
    Who::Reader,
    Who::Security,
    Who::Auditor,
    Who::Admin,
    Who::OtherTenant,
];

impl Who {
    fn principal(self) -> Option<Principal> {
        let tenant = |role| Roles::single("t".parse().unwrap(), role);
        let global = |role| {
            let mut roles = Roles::default();
            roles.global.insert(role);
            roles
        };
        let user = |name: &str, roles| Principal::User {
            name: name.into(),
            roles,
        };
        Some(match self {
            Who::Anonymous => return None,
            Who::Developer => user("dev", tenant(TenantRole::Developer)),
            Who::Robot => Principal::Robot {
                name: "robot$t+ci".into(),
                roles: tenant(TenantRole::Developer),
            },
            Who::Reader => user("reader", tenant(TenantRole::Reader)),
            Who::Security => user("security", tenant(TenantRole::Security)),
            Who::Auditor => user("auditor", global(GlobalRole::Auditor)),
            Who::Admin => user("admin", global(GlobalRole::Admin)),
            Who::OtherTenant => user(
                "stranger",
                Roles::single("u".parse().unwrap(), TenantRole::Reader),
            ),
        })
    }
}

/// A route, as exercised by one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `GET /v2/`.
    Base,
    /// `GET /v2/_catalog`; the listed repositories are checked too.
    Catalog,
    GetManifest,
    HeadManifest,
    GetBlob,
    HeadBlob,
    TagsList,
    Referrers,
    /// `POST .../blobs/uploads/`.
    UploadStart,
    /// `PATCH` on a session the admin opened.
    UploadPatch,
    /// `PUT ?digest=` on a session the admin opened and filled.
    UploadPut,
    /// `POST .../blobs/uploads/?digest=`.
    MonolithicPost,
    PutManifest,
    /// `DELETE .../manifests/<digest>`.
    DeleteManifest,
    DeleteBlob,
    /// Mount the layer from the target repository itself.
    MountSameRepo,
    /// Mount the layer from the same tenant's other zone.
    MountOtherZone,
    /// Mount the layer from the same zone of the other tenant.
    MountOtherTenant,
    ListTenants,
    CreateTenant,
    DeleteTenant,
    ListUsers,
    CreateUser,
    Grant,
    ListRobots,
    CreateRobot,
    RevokeRobot,
    ReadAudit,
    VerifyAudit,
    WhoAmI,
    /// `PUT /users/target/password`.
    ChangePassword,
    DisableUser,
    EnableUser,
    RevokeTenantRole,
    RevokeGlobalRole,
    GetGlobalPolicy,
    SetGlobalPolicy,
    GetTenantPolicy,
    SetTenantPolicy,
    ListExceptions,
    RequestException,
    /// On the pending exception seeded in the target tenant.
    ApproveException,
    RevokeException,
    /// On the pending exception seeded in the target tenant.
    RejectException,
    GlobalPolicyVersions,
    TenantPolicyVersions,
    /// A candidate policy over the tenant's images in `scanned/`.
    DryRunPolicy,
    ListImages,
    ImageStatus,
    DownloadReport,
    /// `?tenant=` the target tenant; without one (all) for [`NONE`].
    ListWebhooks,
    /// For the target tenant; a global subscription for [`NONE`].
    CreateWebhook,
    /// On the webhook seeded in the target tenant.
    DeleteWebhook,
    TestWebhook,
    WebhookDeliveries,
    /// On the test event seeded for the target tenant's webhook.
    RedeliverEvent,
    /// `?tenant=` the target tenant; without one for [`NONE`].
    SearchImages,
    ExportImages,
    SearchVulnerabilities,
    ExportVulnerabilities,
}

impl Op {
    /// Whether a successful cell changes what later cells see.
    fn destroys(self) -> bool {
        matches!(
            self,
            Op::DeleteManifest
                | Op::DeleteBlob
                | Op::RevokeRobot
                | Op::ApproveException
                | Op::RevokeException
                | Op::RejectException
                | Op::DeleteWebhook
        )
    }

    /// `HEAD` responses have no body, so only their status is compared.
    fn is_head(self) -> bool {
        matches!(self, Op::HeadManifest | Op::HeadBlob)
    }

    fn is_registry(self) -> bool {
        self.endpoint().is_none()
    }

    /// The management API operation a row exercises: its method and its
    /// path as the OpenAPI document writes it; `None` for `/v2/` rows.
    fn endpoint(self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            Op::ListTenants => ("GET", "/api/v1/tenants"),
            Op::CreateTenant => ("POST", "/api/v1/tenants"),
            Op::DeleteTenant => ("DELETE", "/api/v1/tenants/{tenant}"),
            Op::ListUsers => ("GET", "/api/v1/users"),
            Op::CreateUser => ("POST", "/api/v1/users"),
            Op::Grant => ("POST", "/api/v1/users/{name}/grants"),
            Op::ListRobots => ("GET", "/api/v1/tenants/{tenant}/robots"),
            Op::CreateRobot => ("POST", "/api/v1/tenants/{tenant}/robots"),
            Op::RevokeRobot => ("DELETE", "/api/v1/tenants/{tenant}/robots/{name}"),
            Op::ReadAudit => ("GET", "/api/v1/audit"),
            Op::VerifyAudit => ("GET", "/api/v1/audit/verify"),
            Op::WhoAmI => ("GET", "/api/v1/whoami"),
            Op::ChangePassword => ("PUT", "/api/v1/users/{name}/password"),
            Op::DisableUser => ("POST", "/api/v1/users/{name}/disable"),
            Op::EnableUser => ("POST", "/api/v1/users/{name}/enable"),
            Op::RevokeTenantRole => ("DELETE", "/api/v1/users/{name}/grants/tenants/{tenant}"),
            Op::RevokeGlobalRole => ("DELETE", "/api/v1/users/{name}/grants/global/{role}"),
            Op::GetGlobalPolicy => ("GET", "/api/v1/policies/global"),
            Op::SetGlobalPolicy => ("PUT", "/api/v1/policies/global"),
            Op::GetTenantPolicy => ("GET", "/api/v1/tenants/{tenant}/policy"),
            Op::SetTenantPolicy => ("PUT", "/api/v1/tenants/{tenant}/policy"),
            Op::ListExceptions => ("GET", "/api/v1/tenants/{tenant}/exceptions"),
            Op::RequestException => ("POST", "/api/v1/tenants/{tenant}/exceptions"),
            Op::ApproveException => ("POST", "/api/v1/tenants/{tenant}/exceptions/{id}/approve"),
            Op::RevokeException => ("DELETE", "/api/v1/tenants/{tenant}/exceptions/{id}"),
            Op::RejectException => ("POST", "/api/v1/tenants/{tenant}/exceptions/{id}/reject"),
            Op::GlobalPolicyVersions => ("GET", "/api/v1/policies/global/versions"),
            Op::TenantPolicyVersions => ("GET", "/api/v1/tenants/{tenant}/policy/versions"),
            Op::DryRunPolicy => ("POST", "/api/v1/tenants/{tenant}/policy/dry-run"),
            Op::ListImages => ("GET", "/api/v1/tenants/{tenant}/images"),
            Op::ImageStatus => ("GET", "/api/v1/tenants/{tenant}/images/{digest}"),
            Op::DownloadReport => (
                "GET",
                "/api/v1/tenants/{tenant}/images/{digest}/reports/{name}",
            ),
            Op::ListWebhooks => ("GET", "/api/v1/webhooks"),
            Op::CreateWebhook => ("POST", "/api/v1/webhooks"),
            Op::DeleteWebhook => ("DELETE", "/api/v1/webhooks/{id}"),
            Op::TestWebhook => ("POST", "/api/v1/webhooks/{id}/test"),
            Op::WebhookDeliveries => ("GET", "/api/v1/webhooks/{id}/deliveries"),
            Op::RedeliverEvent => ("POST", "/api/v1/events/{id}/redeliver"),
            Op::SearchImages => ("GET", "/api/v1/images"),
            Op::ExportImages => ("GET", "/api/v1/images/export"),
            Op::SearchVulnerabilities => ("GET", "/api/v1/vulnerabilities"),
            Op::ExportVulnerabilities => ("GET", "/api/v1/vulnerabilities/export"),
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Zone {
    Unscanned,
    Scanned,
}

impl Zone {
    fn name(self) -> &'static str {
        match self {
            Zone::Unscanned => "unscanned",
            Zone::Scanned => "scanned",
        }
    }

    fn opposite(self) -> Zone {
        match self {
            Zone::Unscanned => Zone::Scanned,
            Zone::Scanned => Zone::Unscanned,
        }
    }
}

/// Tenant `t` (of the tenant-bound principals) or `u` (another tenant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tenant {
    Own,
    Other,
}

impl Tenant {
    fn id(self) -> &'static str {
        match self {
            Tenant::Own => "t",
            Tenant::Other => "u",
        }
    }

    fn opposite(self) -> Tenant {
        match self {
            Tenant::Own => Tenant::Other,
            Tenant::Other => Tenant::Own,
        }
    }
}

/// What a row's operation acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Nothing,
    Tenant(Tenant),
    Repo(Zone, Tenant),
    /// `unscanned/ghost/app`: a tenant that does not exist.
    Ghost,
    /// `library/app`: outside both zones.
    Outside,
}

fn repo(zone: Zone, tenant: Tenant) -> String {
    format!("{}/{}/app", zone.name(), tenant.id())
}

const NONE: Target = Target::Nothing;
const OWN: Target = Target::Tenant(Tenant::Own);
const OTHER: Target = Target::Tenant(Tenant::Other);
const UT: Target = Target::Repo(Zone::Unscanned, Tenant::Own);
const ST: Target = Target::Repo(Zone::Scanned, Tenant::Own);
const UU: Target = Target::Repo(Zone::Unscanned, Tenant::Other);
const SU: Target = Target::Repo(Zone::Scanned, Tenant::Other);
const GHOST: Target = Target::Ghost;
const OUTSIDE: Target = Target::Outside;

/// Expected outcomes: a status, and for errors the OCI code.
const UNAUTH: &str = "401 UNAUTHORIZED";
const DENIED: &str = "403 DENIED";
const CONFLICT: &str = "409 CONFLICT";
const NAME_UNKNOWN: &str = "404 NAME_UNKNOWN";
const NAME_INVALID: &str = "400 NAME_INVALID";
const NOT_FOUND: &str = "404 NOT_FOUND";

struct Row {
    op: Op,
    target: Target,
    /// One entry per [`COLUMNS`] principal.
    expected: [&'static str; 8],
}

const fn row(op: Op, target: Target, expected: [&'static str; 8]) -> Row {
    Row {
        op,
        target,
        expected,
    }
}

const D: &str = DENIED;
const U: &str = UNAUTH;

/// THE matrix. Columns: anonymous, developer of t, robot developer of t,
/// reader of t, security of t, auditor, admin, reader of u.
#[rustfmt::skip]
const MATRIX: &[Row] = &[
    row(Op::Base, NONE,             [U, "200", "200", "200", "200", "200", "200", "200"]),
    row(Op::Catalog, NONE,          [U, "200", "200", "200", "200", "200", "200", "200"]),
    // pulls
    row(Op::GetManifest, UT,        [U, D, D, D, "200", "200", "200", D]),
    row(Op::GetManifest, ST,        [U, "200", "200", "200", "200", "200", "200", D]),
    row(Op::GetManifest, UU,        [U, D, D, D, D, "200", "200", D]),
    row(Op::GetManifest, SU,        [U, D, D, D, D, "200", "200", "200"]),
    row(Op::HeadManifest, UT,       [U, D, D, D, "200", "200", "200", D]),
    row(Op::HeadManifest, ST,       [U, "200", "200", "200", "200", "200", "200", D]),
    row(Op::HeadManifest, UU,       [U, D, D, D, D, "200", "200", D]),
    row(Op::HeadManifest, SU,       [U, D, D, D, D, "200", "200", "200"]),
    row(Op::GetBlob, UT,            [U, D, D, D, "200", "200", "200", D]),
    row(Op::GetBlob, ST,            [U, "200", "200", "200", "200", "200", "200", D]),
    row(Op::GetBlob, UU,            [U, D, D, D, D, "200", "200", D]),
    row(Op::GetBlob, SU,            [U, D, D, D, D, "200", "200", "200"]),
    // blob existence: pull or push
    row(Op::HeadBlob, UT,           [U, "200", "200", D, "200", "200", "200", D]),
    row(Op::HeadBlob, ST,           [U, "200", "200", "200", "200", "200", "200", D]),
    row(Op::HeadBlob, UU,           [U, D, D, D, D, "200", "200", D]),
    row(Op::HeadBlob, SU,           [U, D, D, D, D, "200", "200", "200"]),
    row(Op::TagsList, UT,           [U, D, D, D, "200", "200", "200", D]),
    row(Op::TagsList, ST,           [U, "200", "200", "200", "200", "200", "200", D]),
    row(Op::TagsList, UU,           [U, D, D, D, D, "200", "200", D]),
    row(Op::TagsList, SU,           [U, D, D, D, D, "200", "200", "200"]),
    row(Op::Referrers, UT,          [U, D, D, D, "200", "200", "200", D]),
    row(Op::Referrers, ST,          [U, "200", "200", "200", "200", "200", "200", D]),
    row(Op::Referrers, UU,          [U, D, D, D, D, "200", "200", D]),
    row(Op::Referrers, SU,          [U, D, D, D, D, "200", "200", "200"]),
    // pushes: nobody pushes to scanned/
    // the decision order: credentials, zones, rules, then the tenant's existence
    row(Op::GetManifest, GHOST,     [U, D, D, D, D, NAME_UNKNOWN, NAME_UNKNOWN, D]),
    row(Op::PutManifest, GHOST,     [U, D, D, D, D, D, NAME_UNKNOWN, D]),
    row(Op::GetManifest, OUTSIDE,   [U, NAME_INVALID, NAME_INVALID, NAME_INVALID, NAME_INVALID, NAME_INVALID, NAME_INVALID, NAME_INVALID]),
    row(Op::PutManifest, OUTSIDE,   [U, NAME_INVALID, NAME_INVALID, NAME_INVALID, NAME_INVALID, NAME_INVALID, NAME_INVALID, NAME_INVALID]),
    row(Op::UploadStart, UT,        [U, "202", "202", D, D, D, "202", D]),
    row(Op::UploadStart, ST,        [U, D, D, D, D, D, D, D]),
    row(Op::UploadStart, UU,        [U, D, D, D, D, D, "202", D]),
    row(Op::UploadStart, SU,        [U, D, D, D, D, D, D, D]),
    row(Op::UploadPatch, UT,        [U, "202", "202", D, D, D, "202", D]),
    row(Op::UploadPatch, ST,        [U, D, D, D, D, D, D, D]),
    row(Op::UploadPatch, UU,        [U, D, D, D, D, D, "202", D]),
    row(Op::UploadPatch, SU,        [U, D, D, D, D, D, D, D]),
    row(Op::UploadPut, UT,          [U, "201", "201", D, D, D, "201", D]),
    row(Op::UploadPut, ST,          [U, D, D, D, D, D, D, D]),
    row(Op::UploadPut, UU,          [U, D, D, D, D, D, "201", D]),
    row(Op::UploadPut, SU,          [U, D, D, D, D, D, D, D]),
    row(Op::MonolithicPost, UT,     [U, "201", "201", D, D, D, "201", D]),
    row(Op::MonolithicPost, ST,     [U, D, D, D, D, D, D, D]),
    row(Op::MonolithicPost, UU,     [U, D, D, D, D, D, "201", D]),
    row(Op::MonolithicPost, SU,     [U, D, D, D, D, D, D, D]),
    row(Op::PutManifest, UT,        [U, "201", "201", D, D, D, "201", D]),
    row(Op::PutManifest, ST,        [U, D, D, D, D, D, D, D]),
    row(Op::PutManifest, UU,        [U, D, D, D, D, D, "201", D]),
    row(Op::PutManifest, SU,        [U, D, D, D, D, D, D, D]),
    // deletes: admins only, in both zones
    row(Op::DeleteManifest, UT,     [U, D, D, D, D, D, "202", D]),
    row(Op::DeleteManifest, ST,     [U, D, D, D, D, D, "202", D]),
    row(Op::DeleteManifest, UU,     [U, D, D, D, D, D, "202", D]),
    row(Op::DeleteManifest, SU,     [U, D, D, D, D, D, "202", D]),
    row(Op::DeleteBlob, UT,         [U, D, D, D, D, D, "202", D]),
    row(Op::DeleteBlob, ST,         [U, D, D, D, D, D, "202", D]),
    row(Op::DeleteBlob, UU,         [U, D, D, D, D, D, "202", D]),
    row(Op::DeleteBlob, SU,         [U, D, D, D, D, D, "202", D]),
    // mounts: push on the target, pull on the source, else a plain upload (202)
    row(Op::MountSameRepo, UT,      [U, "202", "202", D, D, D, "201", D]),
    row(Op::MountSameRepo, ST,      [U, D, D, D, D, D, D, D]),
    row(Op::MountSameRepo, UU,      [U, D, D, D, D, D, "201", D]),
    row(Op::MountSameRepo, SU,      [U, D, D, D, D, D, D, D]),
    row(Op::MountOtherZone, UT,     [U, "201", "201", D, D, D, "201", D]),
    row(Op::MountOtherZone, ST,     [U, D, D, D, D, D, D, D]),
    row(Op::MountOtherZone, UU,     [U, D, D, D, D, D, "201", D]),
    row(Op::MountOtherZone, SU,     [U, D, D, D, D, D, D, D]),
    row(Op::MountOtherTenant, UT,   [U, "202", "202", D, D, D, "201", D]),
    row(Op::MountOtherTenant, ST,   [U, D, D, D, D, D, D, D]),
    row(Op::MountOtherTenant, UU,   [U, D, D, D, D, D, "201", D]),
    row(Op::MountOtherTenant, SU,   [U, D, D, D, D, D, D, D]),
    // management API
    row(Op::ListTenants, NONE,      [U, "200", "200", "200", "200", "200", "200", "200"]),
    row(Op::CreateTenant, NONE,     [U, D, D, D, D, D, "201", D]),
    row(Op::DeleteTenant, OWN,      [U, D, D, D, D, D, CONFLICT, D]),
    row(Op::DeleteTenant, OTHER,    [U, D, D, D, D, D, CONFLICT, D]),
    row(Op::ListUsers, NONE,        [U, D, D, D, D, "200", "200", D]),
    row(Op::CreateUser, NONE,       [U, D, D, D, D, D, "201", D]),
    row(Op::Grant, NONE,            [U, D, D, D, D, D, "200", D]),
    row(Op::ListRobots, OWN,        [U, "200", D, D, "200", "200", "200", D]),
    row(Op::ListRobots, OTHER,      [U, D, D, D, D, "200", "200", D]),
    row(Op::CreateRobot, OWN,       [U, D, D, D, "201", D, "201", D]),
    row(Op::CreateRobot, OTHER,     [U, D, D, D, D, D, "201", D]),
    row(Op::RevokeRobot, OWN,       [U, D, D, D, "204", D, "204", D]),
    row(Op::RevokeRobot, OTHER,     [U, D, D, D, D, D, "204", D]),
    row(Op::ReadAudit, NONE,        [U, D, D, D, D, "200", "200", D]),
    row(Op::VerifyAudit, NONE,      [U, D, D, D, D, "200", "200", D]),
    row(Op::WhoAmI, NONE,           [U, "200", "200", "200", "200", "200", "200", "200"]),
    // a user's password: the user themself or an admin ("target" is none of the columns)
    row(Op::ChangePassword, NONE,   [U, D, D, D, D, D, "204", D]),
    row(Op::DisableUser, NONE,      [U, D, D, D, D, D, "200", D]),
    row(Op::EnableUser, NONE,       [U, D, D, D, D, D, "200", D]),
    row(Op::RevokeTenantRole, OWN,  [U, D, D, D, D, D, "200", D]),
    row(Op::RevokeGlobalRole, NONE, [U, D, D, D, D, D, "200", D]),
    // policies: reads before writes, since the admin's write stays
    row(Op::GetGlobalPolicy, NONE,  [U, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND]),
    row(Op::SetGlobalPolicy, NONE,  [U, D, D, D, D, D, "200", D]),
    row(Op::GetTenantPolicy, OWN,   [U, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, D]),
    row(Op::GetTenantPolicy, OTHER, [U, D, D, D, D, NOT_FOUND, NOT_FOUND, NOT_FOUND]),
    row(Op::SetTenantPolicy, OWN,   [U, D, D, D, "200", D, "200", D]),
    row(Op::SetTenantPolicy, OTHER, [U, D, D, D, D, D, "200", D]),
    // exceptions: members read, people among developers and security request,
    // security approves and revokes
    row(Op::ListExceptions, OWN,    [U, "200", "200", "200", "200", "200", "200", D]),
    row(Op::ListExceptions, OTHER,  [U, D, D, D, D, "200", "200", "200"]),
    row(Op::RequestException, OWN,  [U, "201", D, D, "201", D, "201", D]),
    row(Op::RequestException, OTHER,[U, D, D, D, D, D, "201", D]),
    row(Op::ApproveException, OWN,  [U, D, D, D, "200", D, "200", D]),
    row(Op::ApproveException, OTHER,[U, D, D, D, D, D, "200", D]),
    row(Op::RevokeException, OWN,   [U, D, D, D, "204", D, "204", D]),
    row(Op::RevokeException, OTHER, [U, D, D, D, D, D, "204", D]),
    row(Op::RejectException, OWN,   [U, D, D, D, "200", D, "200", D]),
    row(Op::RejectException, OTHER, [U, D, D, D, D, D, "200", D]),
    // the policy history: who may read the policy; a dry run: who may set it
    row(Op::GlobalPolicyVersions, NONE, [U, "200", "200", "200", "200", "200", "200", "200"]),
    row(Op::TenantPolicyVersions, OWN,  [U, "200", "200", "200", "200", "200", "200", D]),
    row(Op::TenantPolicyVersions, OTHER,[U, D, D, D, D, "200", "200", "200"]),
    row(Op::DryRunPolicy, OWN,      [U, D, D, D, "200", D, "200", D]),
    row(Op::DryRunPolicy, OTHER,    [U, D, D, D, D, D, "200", D]),
    // the gate's images and reports: members (robots too), auditor, admin
    row(Op::ListImages, OWN,        [U, "200", "200", "200", "200", "200", "200", D]),
    row(Op::ListImages, OTHER,      [U, D, D, D, D, "200", "200", "200"]),
    row(Op::ImageStatus, OWN,       [U, "200", "200", "200", "200", "200", "200", D]),
    row(Op::ImageStatus, OTHER,     [U, D, D, D, D, "200", "200", "200"]),
    // no scan ran: who may read is told "no reports", the others "denied"
    row(Op::DownloadReport, OWN,    [U, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, D]),
    row(Op::DownloadReport, OTHER,  [U, D, D, D, D, NOT_FOUND, NOT_FOUND, NOT_FOUND]),
    // webhooks: people among the tenant's developers and security; global ones admins
    row(Op::ListWebhooks, NONE,     [U, D, D, D, D, D, "200", D]),
    row(Op::ListWebhooks, OWN,      [U, "200", D, D, "200", D, "200", D]),
    row(Op::ListWebhooks, OTHER,    [U, D, D, D, D, D, "200", D]),
    row(Op::CreateWebhook, NONE,    [U, D, D, D, D, D, "201", D]),
    row(Op::CreateWebhook, OWN,     [U, "201", D, D, "201", D, "201", D]),
    row(Op::CreateWebhook, OTHER,   [U, D, D, D, D, D, "201", D]),
    row(Op::DeleteWebhook, OWN,     [U, "204", D, D, "204", D, "204", D]),
    row(Op::DeleteWebhook, OTHER,   [U, D, D, D, D, D, "204", D]),
    row(Op::TestWebhook, OWN,       [U, "202", D, D, "202", D, "202", D]),
    row(Op::TestWebhook, OTHER,     [U, D, D, D, D, D, "202", D]),
    row(Op::WebhookDeliveries, OWN, [U, "200", D, D, "200", D, "200", D]),
    row(Op::WebhookDeliveries, OTHER,[U, D, D, D, D, D, "200", D]),
    row(Op::RedeliverEvent, OWN,    [U, "202", D, D, "202", D, "202", D]),
    row(Op::RedeliverEvent, OTHER,  [U, D, D, D, D, D, "202", D]),
    // search: every tenant one may read; naming another is refused
    row(Op::SearchImages, NONE,     [U, "200", "200", "200", "200", "200", "200", "200"]),
    row(Op::SearchImages, OWN,      [U, "200", "200", "200", "200", "200", "200", D]),
    row(Op::SearchImages, OTHER,    [U, D, D, D, D, "200", "200", "200"]),
    row(Op::ExportImages, NONE,     [U, "200", "200", "200", "200", "200", "200", "200"]),
    row(Op::ExportImages, OWN,      [U, "200", "200", "200", "200", "200", "200", D]),
    row(Op::ExportImages, OTHER,    [U, D, D, D, D, "200", "200", "200"]),
    row(Op::SearchVulnerabilities, NONE,  [U, "200", "200", "200", "200", "200", "200", "200"]),
    row(Op::SearchVulnerabilities, OWN,   [U, "200", "200", "200", "200", "200", "200", D]),
    row(Op::SearchVulnerabilities, OTHER, [U, D, D, D, D, "200", "200", "200"]),
    row(Op::ExportVulnerabilities, NONE,  [U, "200", "200", "200", "200", "200", "200", "200"]),
    row(Op::ExportVulnerabilities, OWN,   [U, "200", "200", "200", "200", "200", "200", D]),
    row(Op::ExportVulnerabilities, OTHER, [U, D, D, D, D, "200", "200", "200"]),
];

/// What `GET /v2/_catalog` lists for each principal (anonymous gets a 401).
fn expected_catalog(who: Who) -> &'static [&'static str] {
    const ALL: &[&str] = &[
        "scanned/t/app",
        "scanned/u/app",
        "unscanned/t/app",
        "unscanned/u/app",
    ];
    match who {
        Who::Anonymous => &[],
        Who::Developer | Who::Robot | Who::Reader => &["scanned/t/app"],
        Who::Security => &["scanned/t/app", "unscanned/t/app"],
        Who::Auditor | Who::Admin => ALL,
        Who::OtherTenant => &["scanned/u/app"],
    }
}

/// The image every repository holds under `v1`.
const LAYER: &[u8] = b"authz matrix layer";

/// An application seeded with the same image in all four repositories.
struct World {
    app: TestApp,
    manifest: Vec<u8>,
    manifest_digest: String,
    layer_digest: String,
    /// Per tenant id: what the management rows act on.
    seeded: BTreeMap<&'static str, Seeded>,
}

/// Objects of one tenant, made by the local operator.
struct Seeded {
    /// A pending exception.
    exception: String,
    /// A webhook subscription.
    webhook: String,
    /// The id of the test event sent to it.
    event: String,
}

impl World {
    async fn new(with_user: bool) -> World {
        let mut app = TestApp::new().await;
        let local = Operator::Local("test".into());
        let context = RequestContext::default();
        app.accounts
            .create_tenant(&local, &context, "u")
            .await
            .expect("create tenant u");
        app.accounts
            .set_gate_trigger(std::sync::Arc::new(crate::ui_gate::FakeGate));
        let mut seeded = None;
        for tenant in ["t", "u"] {
            let image = app
                .push_image(&format!("unscanned/{tenant}/app"), "v1", &[LAYER])
                .await;
            seeded = Some(image);
        }
        let (manifest, manifest_digest) = seeded.expect("an image");
        let parsed: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        let config_digest = parsed["config"]["digest"].as_str().unwrap().to_owned();
        let layer_digest = sha256(LAYER);
        // Only the promoter writes to scanned/: copy the image in as it would.
        let promoter = Caller::system(Principal::System(SystemIdentity::Promoter));
        for tenant in ["t", "u"] {
            let from: RepoName = format!("unscanned/{tenant}/app").parse().unwrap();
            let to: RepoName = format!("scanned/{tenant}/app").parse().unwrap();
            for digest in [&config_digest, &layer_digest] {
                let mounted = app
                    .registry
                    .mount_blob(&to, &from, &digest.parse().unwrap())
                    .await
                    .expect("copy blob");
                assert!(mounted, "blob {digest} not copied to {to}");
            }
            app.registry
                .put_manifest(
                    &promoter,
                    &to,
                    &"v1".parse().unwrap(),
                    Some(media_type::OCI_MANIFEST),
                    manifest.clone(),
                )
                .await
                .expect("promote manifest");
            app.accounts
                .create_robot(
                    &local,
                    &context,
                    tenant,
                    "seeded",
                    TenantRole::Developer,
                    None,
                )
                .await
                .expect("seed robot");
        }
        let mut seeded = BTreeMap::new();
        for tenant in ["t", "u"] {
            // The gate's record of the push, as the gate's hook writes it.
            let pushed = PushedImage {
                tenant: TenantId::try_from(tenant.to_owned()).unwrap(),
                repository: format!("unscanned/{tenant}/app").parse().unwrap(),
                digest: manifest_digest.parse().unwrap(),
                media_type: media_type::OCI_MANIFEST.to_owned(),
                pushed_by: None,
            };
            app.database
                .record_push(&pushed, &[], &[])
                .await
                .expect("record push");
            let exception = app
                .accounts
                .request_exception(
                    &local,
                    &context,
                    tenant,
                    ExceptionRequest {
                        vulnerability: "CVE-2024-0001".into(),
                        package: None,
                        repository: None,
                        digest: None,
                        reason: "seeded".into(),
                        expires_in: std::time::Duration::from_secs(3600),
                    },
                )
                .await
                .expect("seed exception")
                .id;
            let webhook = app
                .accounts
                .create_webhook(
                    &local,
                    NewWebhook {
                        tenant: Some(tenant.into()),
                        url: format!("https://hooks.example/{tenant}"),
                        ..NewWebhook::default()
                    },
                    &context,
                )
                .await
                .expect("seed webhook")
                .webhook
                .id;
            let event = app
                .accounts
                .test_webhook(&local, &webhook, &context)
                .await
                .expect("seed event")
                .event_id;
            seeded.insert(
                tenant,
                Seeded {
                    exception,
                    webhook,
                    event,
                },
            );
        }
        if with_user {
            app.accounts
                .create_user(&local, &context, "target", "password1")
                .await
                .expect("create user");
        }
        app.principal = None;
        World {
            app,
            manifest,
            manifest_digest,
            layer_digest,
            seeded,
        }
    }

    /// A request as `who`, with a token for `repos` and the catalog, as a
    /// client would ask the token endpoint for.
    async fn call(
        &self,
        who: Who,
        repos: &[&str],
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let authorization = who.principal().map(|principal| {
            let mut scopes = vec!["registry:catalog:*".to_owned()];
            scopes.extend(
                repos
                    .iter()
                    .filter(|r| !r.is_empty())
                    .map(|r| format!("repository:{r}:pull,push,delete")),
            );
            let scopes = airlock_auth::parse_scopes(scopes.iter().map(String::as_str)).unwrap();
            let access = airlock_auth::grant(&principal, &scopes);
            format!("Bearer {}", self.app.token(&principal, access))
        });
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if let Some(value) = &authorization {
            all.push(("authorization", value));
        }
        self.app.send(method, path, &all, body).await
    }

    /// An upload session in `repository`, opened by the admin; in `scanned/`
    /// (where nobody may open one) a made-up session, so that the only
    /// request that can be refused is the cell's own.
    async fn session(&self, repository: &str, zone: Zone) -> String {
        if zone == Zone::Scanned {
            return format!("/v2/{repository}/blobs/uploads/6f1c2b1e-0000-4000-8000-000000000000");
        }
        self.call(
            Who::Admin,
            &[repository],
            "POST",
            &format!("/v2/{repository}/blobs/uploads/"),
            &[],
            Vec::new(),
        )
        .await
        .expect(axum::http::StatusCode::ACCEPTED)
        .header("location")
        .to_owned()
    }

    async fn run(&self, op: Op, target: Target, who: Who) -> Reply {
        let (name, zone, owner) = match target {
            Target::Repo(zone, owner) => (repo(zone, owner), zone, owner),
            Target::Ghost => ("unscanned/ghost/app".into(), Zone::Unscanned, Tenant::Own),
            Target::Outside => ("library/app".into(), Zone::Unscanned, Tenant::Own),
            Target::Nothing | Target::Tenant(_) => (String::new(), Zone::Unscanned, Tenant::Own),
        };
        let name = name.as_str();
        let layer = self.layer_digest.as_str();
        let chunk = format!("chunk for {who:?}").into_bytes();
        let mount = |from: String| async move {
            self.call(
                who,
                &[name, &from],
                "POST",
                &format!("/v2/{name}/blobs/uploads/?mount={layer}&from={from}"),
                &[],
                Vec::new(),
            )
            .await
        };
        let v2 = |method: &'static str, path: String| async move {
            self.call(who, &[name], method, &path, &[], Vec::new())
                .await
        };
        match op {
            Op::Base => v2("GET", "/v2/".into()).await,
            Op::Catalog => v2("GET", "/v2/_catalog".into()).await,
            Op::GetManifest => v2("GET", format!("/v2/{name}/manifests/v1")).await,
            Op::HeadManifest => v2("HEAD", format!("/v2/{name}/manifests/v1")).await,
            Op::GetBlob => v2("GET", format!("/v2/{name}/blobs/{layer}")).await,
            Op::HeadBlob => v2("HEAD", format!("/v2/{name}/blobs/{layer}")).await,
            Op::TagsList => v2("GET", format!("/v2/{name}/tags/list")).await,
            Op::Referrers => {
                v2(
                    "GET",
                    format!("/v2/{name}/referrers/{}", self.manifest_digest),
                )
                .await
            }
            Op::UploadStart => v2("POST", format!("/v2/{name}/blobs/uploads/")).await,
            Op::UploadPatch => {
                let location = self.session(name, zone).await;
                let headers = [("content-type", "application/octet-stream")];
                self.call(who, &[name], "PATCH", &location, &headers, chunk)
                    .await
            }
            Op::UploadPut => {
                let location = self.session(name, zone).await;
                let headers = [("content-type", "application/octet-stream")];
                let digest = sha256(&chunk);
                if zone == Zone::Unscanned {
                    self.call(Who::Admin, &[name], "PATCH", &location, &headers, chunk)
                        .await
                        .expect(axum::http::StatusCode::ACCEPTED);
                }
                let path = format!("{location}?digest={digest}");
                self.call(who, &[name], "PUT", &path, &[], Vec::new()).await
            }
            Op::MonolithicPost => {
                let digest = sha256(&chunk);
                self.call(
                    who,
                    &[name],
                    "POST",
                    &format!("/v2/{name}/blobs/uploads/?digest={digest}"),
                    &[],
                    chunk,
                )
                .await
            }
            Op::PutManifest => {
                self.call(
                    who,
                    &[name],
                    "PUT",
                    &format!("/v2/{name}/manifests/v2"),
                    &[("content-type", media_type::OCI_MANIFEST)],
                    self.manifest.clone(),
                )
                .await
            }
            Op::DeleteManifest => {
                v2(
                    "DELETE",
                    format!("/v2/{name}/manifests/{}", self.manifest_digest),
                )
                .await
            }
            Op::DeleteBlob => v2("DELETE", format!("/v2/{name}/blobs/{layer}")).await,
            Op::MountSameRepo => mount(name.to_owned()).await,
            Op::MountOtherZone => mount(repo(zone.opposite(), owner)).await,
            Op::MountOtherTenant => mount(repo(zone, owner.opposite())).await,
            _ => self.management(op, target, who).await,
        }
    }

    /// A management API cell: the row's documented operation with its path
    /// parameters filled in for the target.
    async fn management(&self, op: Op, target: Target, who: Who) -> Reply {
        let (method, template) = op.endpoint().expect("a management operation");
        let tenant = match target {
            Target::Tenant(t) | Target::Repo(_, t) => Some(t.id()),
            Target::Nothing | Target::Ghost | Target::Outside => None,
        };
        let seeded = &self.seeded[tenant.unwrap_or("t")];
        let name = match op {
            Op::RevokeRobot => "seeded",
            Op::DownloadReport => "sbom.cdx.json",
            _ => "target",
        };
        let id = match op {
            Op::ApproveException | Op::RevokeException | Op::RejectException => {
                seeded.exception.as_str()
            }
            Op::RedeliverEvent => seeded.event.as_str(),
            _ => seeded.webhook.as_str(),
        };
        let mut path = template
            .replace("{tenant}", tenant.unwrap_or(""))
            .replace("{name}", name)
            .replace("{role}", "auditor")
            .replace("{digest}", &self.manifest_digest)
            .replace("{id}", id);
        let filtered = matches!(
            op,
            Op::ListWebhooks
                | Op::SearchImages
                | Op::ExportImages
                | Op::SearchVulnerabilities
                | Op::ExportVulnerabilities
        );
        if let (true, Some(tenant)) = (filtered, tenant) {
            path.push_str(&format!("?tenant={tenant}"));
        }
        let short = format!("{who:?}").to_lowercase();
        let body = match op {
            Op::CreateTenant => serde_json::json!({ "id": format!("new-{short}") }).to_string(),
            Op::CreateUser => {
                serde_json::json!({ "name": format!("new-{short}"), "password": "password1" })
                    .to_string()
            }
            Op::Grant => serde_json::json!({ "tenant": "t", "role": "reader" }).to_string(),
            Op::CreateRobot => {
                serde_json::json!({ "name": format!("ci-{short}"), "role": "developer" })
                    .to_string()
            }
            Op::ChangePassword => serde_json::json!({ "password": "password2" }).to_string(),
            Op::SetGlobalPolicy | Op::SetTenantPolicy | Op::DryRunPolicy => {
                "ignore_unfixed: true\n".to_owned()
            }
            Op::RequestException => serde_json::json!({
                "vulnerability": "CVE-2024-0002",
                "reason": format!("asked by {short}"),
                "expires_in_seconds": 3600,
            })
            .to_string(),
            Op::CreateWebhook => serde_json::json!({
                "tenant": tenant,
                "url": format!("https://hooks.example/{short}"),
            })
            .to_string(),
            _ => String::new(),
        };
        let content_type = match op {
            Op::SetGlobalPolicy | Op::SetTenantPolicy | Op::DryRunPolicy => "application/yaml",
            _ => "application/json",
        };
        self.call(
            who,
            &[],
            method,
            &path,
            &[("content-type", content_type)],
            body.into_bytes(),
        )
        .await
    }

    /// `access.denied` records per actor name.
    async fn denials(&self) -> BTreeMap<String, usize> {
        let filter = AuditFilter {
            action: Some("access.denied".into()),
            ..AuditFilter::default()
        };
        let records = self
            .app
            .database
            .audit_records(&filter, 0, 1_000_000)
            .await
            .expect("audit records");
        let mut counts = BTreeMap::new();
        for record in records {
            *counts.entry(record.event.actor.name).or_default() += 1;
        }
        counts
    }
}

/// A reply as the table writes it: the status, then the OCI code of an error.
fn outcome(reply: &Reply) -> String {
    let status = reply.status.as_u16().to_string();
    if !reply.status.is_client_error() && !reply.status.is_server_error() {
        return status;
    }
    let code = serde_json::from_slice::<serde_json::Value>(&reply.body)
        .ok()
        .and_then(|body| body["errors"][0]["code"].as_str().map(str::to_owned));
    match code {
        Some(code) => format!("{status} {code}"),
        None => status,
    }
}

/// Runs every cell of [`MATRIX`] and fails listing every mismatching one.
#[tokio::test]
async fn authorization_matrix() {
    let started = Instant::now();
    let shared = World::new(true).await;
    let mut failures: Vec<String> = Vec::new();
    let mut executed = 0;
    // Per principal: /v2/ cells answered 403, and access.denied records they left.
    let mut refused: BTreeMap<Who, usize> = BTreeMap::new();
    let mut audited: BTreeMap<Who, usize> = BTreeMap::new();
    for row in MATRIX {
        // The admin goes last so that its successes cannot change what the
        // others see in the same row.
        let mut cells: Vec<(Who, &str)> = COLUMNS.into_iter().zip(row.expected).collect();
        cells.sort_by_key(|(who, _)| *who == Who::Admin);
        for (who, expected) in cells {
            let fresh;
            let world = if row.op.destroys() {
                fresh = World::new(false).await;
                &fresh
            } else {
                &shared
            };
            let name = who.principal().map(|p| p.name().to_owned());
            let denials = |counts: &BTreeMap<String, usize>| {
                name.as_ref()
                    .and_then(|n| counts.get(n).copied())
                    .unwrap_or(0)
            };
            let before = denials(&world.denials().await);
            let reply = world.run(row.op, row.target, who).await;
            let after = denials(&world.denials().await);
            executed += 1;
            let cell = format!("{:?} on {:?} as {who:?}", row.op, row.target);
            let got = outcome(&reply);
            let matches = if row.op.is_head() {
                expected.split(' ').next() == Some(got.as_str()) && reply.body.is_empty()
            } else {
                got == expected
            };
            if !matches {
                failures.push(format!(
                    "{cell}: expected {expected}, got {got} ({})",
                    String::from_utf8_lossy(&reply.body)
                ));
                continue;
            }
            if !row.op.is_registry() {
                continue;
            }
            if reply.status == 401 {
                let challenge = reply.maybe_header("www-authenticate").unwrap_or("");
                if !challenge.starts_with("Bearer realm=") {
                    failures.push(format!("{cell}: 401 without a Bearer challenge"));
                }
            }
            // Every refusal of the access decision is audited (a 401 to a
            // client without credentials is only a challenge).
            let decided = matches!(row.target, Target::Ghost | Target::Outside);
            let refusal = usize::from(reply.status == 403 || (decided && reply.status != 401));
            *refused.entry(who).or_default() += refusal;
            *audited.entry(who).or_default() += after - before;
            if after - before != refusal {
                failures.push(format!(
                    "{cell}: {got} left {} access.denied records, expected {refusal}",
                    after - before
                ));
            }
            if row.op == Op::Catalog && reply.status == 200 {
                let listed: Vec<String> = reply.json()["repositories"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|r| r.as_str().unwrap_or_default().to_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                if listed != expected_catalog(who) {
                    failures.push(format!(
                        "{cell}: catalog lists {listed:?}, expected {:?}",
                        expected_catalog(who)
                    ));
                }
            }
        }
    }
    let elapsed = started.elapsed();
    eprintln!("authorization matrix: {executed} cells in {elapsed:?}");
    assert!(
        failures.is_empty(),
        "{} of {executed} cells failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(executed, MATRIX.len() * COLUMNS.len(), "cells skipped");
    assert_eq!(
        refused, audited,
        "403s versus access.denied records per principal"
    );
    // Every principal but the anonymous one (always 401) is refused
    // somewhere: even the admin may not push to scanned/.
    for who in COLUMNS {
        let want = who != Who::Anonymous;
        assert_eq!(
            refused.get(&who).is_some_and(|n| *n > 0),
            want,
            "{who:?} refusals: {refused:?}"
        );
    }
}

/// Every row has a distinct (operation, target), and every repository
/// operation is listed for all four repositories.
#[test]
fn matrix_has_each_cell_once() {
    let mut seen = std::collections::HashSet::new();
    for row in MATRIX {
        assert!(
            seen.insert(format!("{:?} {:?}", row.op, row.target)),
            "duplicate row {:?} {:?}",
            row.op,
            row.target
        );
    }
    for row in MATRIX {
        if let Target::Repo(..) = row.target {
            for target in [UT, ST, UU, SU] {
                assert!(
                    seen.contains(&format!("{:?} {target:?}", row.op)),
                    "{:?} misses {target:?}",
                    row.op
                );
            }
        }
    }
}

/// Every operation of the OpenAPI document that needs credentials has rows
/// in [`MATRIX`], and every management row exercises a documented
/// operation: an endpoint cannot be added without saying who may call it.
#[test]
fn matrix_covers_every_documented_operation() {
    let documented: std::collections::BTreeSet<(String, String)> =
        crate::openapi::operations(&crate::openapi::generated())
            .into_iter()
            .filter(|operation| !operation.public)
            .map(|operation| (operation.method, operation.path))
            .collect();
    let covered: std::collections::BTreeSet<(String, String)> = MATRIX
        .iter()
        .filter_map(|row| row.op.endpoint())
        .map(|(method, path)| (method.to_owned(), path.to_owned()))
        .collect();
    assert!(documented.len() >= 30, "{documented:?}");
    let missing: Vec<_> = documented.difference(&covered).collect();
    let undocumented: Vec<_> = covered.difference(&documented).collect();
    assert!(
        missing.is_empty() && undocumented.is_empty(),
        "documented without matrix rows: {missing:?}; matrix rows for undocumented operations: {undocumented:?}"
    );
}
