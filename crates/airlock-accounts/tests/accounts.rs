//! The identity service over a real SQLite database: bootstrap, logins,
//! robots, and management refused (and audited) for the wrong operator.

use std::sync::Arc;
use std::time::Duration;

use airlock_accounts::{Accounts, AccountsError, Operator};
use airlock_audit::{Outcome, RequestContext};
use airlock_auth::{LoginThrottle, Principal, TenantRole, TokenKeys, TokenService};
use airlock_db_sqlite::SqliteMetadataStore;
use airlock_store::{AuditFilter, AuditStore};

struct Fixture {
    accounts: Accounts,
    db: Arc<SqliteMetadataStore>,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(
        SqliteMetadataStore::open(&dir.path().join("registry.db"))
            .await
            .unwrap(),
    );
    let (keys, _) = TokenKeys::generate().unwrap();
    let accounts = Accounts::new(
        db.clone(),
        TokenService::new(keys, "airlock", Duration::from_secs(300)),
        LoginThrottle::new(3, Duration::from_secs(60)),
    );
    Fixture {
        accounts,
        db,
        _dir: dir,
    }
}

fn local() -> Operator {
    Operator::Local("test".into())
}

fn ctx() -> RequestContext {
    RequestContext {
        client_addr: Some("10.0.0.1:4000".into()),
        ..RequestContext::default()
    }
}

async fn actions(db: &SqliteMetadataStore, prefix: &str) -> Vec<(String, Outcome)> {
    db.audit_records(
        &AuditFilter {
            action: Some(prefix.into()),
            ..AuditFilter::default()
        },
        0,
        1000,
    )
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.event.action, r.event.outcome))
    .collect()
}

#[tokio::test]
async fn bootstrap_creates_one_admin_once_even_after_cli_users() {
    let f = fixture().await;
    f.accounts
        .create_user(&local(), &ctx(), "early", "password1")
        .await
        .unwrap();
    let generated = f.accounts.bootstrap_admin(None).await.unwrap().unwrap();
    assert_eq!(generated.len(), 24);
    let admin = f.accounts.login("admin", &generated, &ctx()).await.unwrap();
    assert!(admin.roles().unwrap().is_admin());
    assert_eq!(f.accounts.bootstrap_admin(None).await.unwrap(), None);
    assert_eq!(
        f.accounts.bootstrap_admin(Some("another1")).await.unwrap(),
        None
    );
    assert!(f.accounts.login("admin", "another1", &ctx()).await.is_err());
}

#[tokio::test]
async fn logins_are_checked_throttled_and_audited() {
    let f = fixture().await;
    f.accounts
        .create_tenant(&local(), &ctx(), "acme")
        .await
        .unwrap();
    f.accounts
        .create_user(&local(), &ctx(), "dev", "password1")
        .await
        .unwrap();
    let dev = f.accounts.login("dev", "password1", &ctx()).await.unwrap();
    assert!(matches!(dev, Principal::User { ref name, .. } if name == "dev"));
    for _ in 0..3 {
        assert!(matches!(
            f.accounts.login("dev", "wrong", &ctx()).await,
            Err(AccountsError::BadCredentials)
        ));
    }
    // locked out now, even with the right password
    assert!(matches!(
        f.accounts.login("dev", "password1", &ctx()).await,
        Err(AccountsError::Throttled { .. })
    ));
    let logins = actions(&f.db, "auth.login").await;
    assert_eq!(logins.len(), 5);
    assert_eq!(logins[0].1, Outcome::Success);
    assert!(logins[1..].iter().all(|(_, o)| *o == Outcome::Failure));
}

#[tokio::test]
async fn robots_log_in_with_their_token_until_revoked() {
    let f = fixture().await;
    f.accounts
        .create_tenant(&local(), &ctx(), "acme")
        .await
        .unwrap();
    let robot = f
        .accounts
        .create_robot(&local(), &ctx(), "acme", "ci", TenantRole::Developer, None)
        .await
        .unwrap();
    assert_eq!(robot.robot.name, "robot$acme+ci");
    assert!(robot.token.starts_with("alr_"));
    let principal = f
        .accounts
        .login("robot$acme+ci", &robot.token, &ctx())
        .await
        .unwrap();
    assert_eq!(
        principal
            .roles()
            .unwrap()
            .tenant_role(&"acme".parse().unwrap()),
        Some(TenantRole::Developer)
    );
    assert!(
        f.accounts
            .create_robot(&local(), &ctx(), "acme", "sec", TenantRole::Security, None)
            .await
            .is_err()
    );
    f.accounts
        .revoke_robot(&local(), &ctx(), "acme", "ci")
        .await
        .unwrap();
    assert!(
        f.accounts
            .login("robot$acme+ci", &robot.token, &ctx())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn management_is_refused_and_audited_for_non_admins() {
    let f = fixture().await;
    f.accounts
        .create_tenant(&local(), &ctx(), "acme")
        .await
        .unwrap();
    f.accounts
        .create_user(&local(), &ctx(), "dev", "password1")
        .await
        .unwrap();
    f.accounts
        .set_tenant_role(&local(), &ctx(), "dev", "acme", Some(TenantRole::Developer))
        .await
        .unwrap();
    let dev = Operator::Principal(f.accounts.login("dev", "password1", &ctx()).await.unwrap());
    for result in [
        f.accounts
            .create_tenant(&dev, &ctx(), "mine")
            .await
            .map(|_| ()),
        f.accounts
            .create_user(&dev, &ctx(), "x", "password1")
            .await
            .map(|_| ()),
        f.accounts
            .create_robot(&dev, &ctx(), "acme", "ci", TenantRole::Developer, None)
            .await
            .map(|_| ()),
        f.accounts
            .set_tenant_role(&dev, &ctx(), "dev", "acme", Some(TenantRole::Security))
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(AccountsError::Forbidden(_))),
            "{result:?}"
        );
    }
    let denied = actions(&f.db, "access.denied").await;
    assert_eq!(denied.len(), 4);
    assert!(denied.iter().all(|(_, o)| *o == Outcome::Denied));
    // the developer still sees their own tenant, and only that
    let visible: Vec<String> = f
        .accounts
        .tenants(&dev)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(visible, ["acme"]);
}

/// The gate's management: policies, exceptions and who may do what.
mod gate_admin {
    use std::sync::Mutex;

    use airlock_accounts::{DryRunImage, ExceptionRequest, GateTrigger};
    use airlock_auth::{GlobalRole, Roles, TenantId};
    use airlock_store::GateStore;

    use super::*;

    /// Records each re-evaluation asked for.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<Option<String>>>);

    #[async_trait::async_trait]
    impl GateTrigger for Recorder {
        async fn reevaluate(&self, tenant: Option<&TenantId>) -> Result<u64, String> {
            self.0.lock().unwrap().push(tenant.map(|t| t.to_string()));
            Ok(0)
        }

        /// Two images: `a` passes any policy, `b` fails one that blocks
        /// on a severity.
        async fn dry_run(
            &self,
            _tenant: &TenantId,
            policy: &airlock_policy::Policy,
        ) -> Result<Vec<DryRunImage>, String> {
            let image = |name: &str, would_pass: bool| DryRunImage {
                repository: format!("unscanned/acme/{name}"),
                digest: format!("sha256:{}", name.repeat(64)),
                would_pass,
                failures: Vec::new(),
            };
            Ok(vec![
                image("a", true),
                image("b", policy.block_severity_at_or_above().is_none()),
            ])
        }
    }

    fn member(name: &str, role: TenantRole) -> Operator {
        Operator::Principal(Principal::User {
            name: name.into(),
            roles: Roles::single("acme".parse().unwrap(), role),
        })
    }

    fn admin(name: &str) -> Operator {
        let mut roles = Roles::default();
        roles.global.insert(GlobalRole::Admin);
        Operator::Principal(Principal::User {
            name: name.into(),
            roles,
        })
    }

    fn cve(expires_in: Duration) -> ExceptionRequest {
        ExceptionRequest {
            vulnerability: "CVE-2024-1234".into(),
            package: None,
            repository: Some("unscanned/acme/app".into()),
            digest: None,
            reason: "mitigated by configuration".into(),
            expires_in,
        }
    }

    async fn with_tenant() -> (Fixture, Arc<Recorder>) {
        let f = fixture().await;
        f.accounts
            .create_tenant(&local(), &ctx(), "acme")
            .await
            .unwrap();
        let recorder = Arc::new(Recorder::default());
        f.accounts.set_gate_trigger(recorder.clone());
        (f, recorder)
    }

    #[tokio::test]
    async fn policies_are_validated_versioned_and_trigger_reevaluation() {
        let (f, recorder) = with_tenant().await;
        let security = member("sec", TenantRole::Security);
        let error = f
            .accounts
            .set_policy(
                &security,
                &ctx(),
                Some("acme"),
                "ignore_unfixed: yes please\n",
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&error, AccountsError::Invalid(m) if m.contains("line 1")),
            "{error}"
        );
        assert!(recorder.0.lock().unwrap().is_empty());
        let first = f
            .accounts
            .set_policy(&security, &ctx(), Some("acme"), "ignore_unfixed: true\n")
            .await
            .unwrap();
        let second = f
            .accounts
            .set_policy(&security, &ctx(), Some("acme"), "block_eol_os: true\n")
            .await
            .unwrap();
        assert_eq!((first.version, second.version), (1, 2));
        assert_eq!(
            *recorder.0.lock().unwrap(),
            vec![Some("acme".to_owned()); 2]
        );

        let developer = member("dev", TenantRole::Developer);
        let refused = f
            .accounts
            .set_policy(&developer, &ctx(), Some("acme"), "block_eol_os: true\n")
            .await
            .unwrap_err();
        assert!(matches!(refused, AccountsError::Forbidden(_)), "{refused}");
        let refused = f
            .accounts
            .set_policy(&security, &ctx(), None, "block_eol_os: true\n")
            .await
            .unwrap_err();
        assert!(matches!(refused, AccountsError::Forbidden(_)), "{refused}");
        f.accounts
            .set_policy(&admin("root"), &ctx(), None, "block_eol_os: true\n")
            .await
            .unwrap();
        assert_eq!(recorder.0.lock().unwrap().last(), Some(&None));

        let shown = f
            .accounts
            .policy(&developer, Some("acme"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(shown.document, "block_eol_os: true\n");
        assert_eq!(shown.author, "sec");
        let audited = actions(&f.db, "policy.set").await;
        assert_eq!(audited.len(), 3, "{audited:?}");
        let events: Vec<String> =
            f.db.outbox(100)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.event_type)
                .collect();
        assert_eq!(events, vec!["airlock.policy.changed"; 3]);
    }

    #[tokio::test]
    async fn policy_history_and_dry_run() {
        let (f, recorder) = with_tenant().await;
        let security = member("sec", TenantRole::Security);
        for document in ["ignore_unfixed: true\n", "block_eol_os: true\n"] {
            f.accounts
                .set_policy(&security, &ctx(), Some("acme"), document)
                .await
                .unwrap();
        }
        let developer = member("dev", TenantRole::Developer);
        let history = f
            .accounts
            .policy_versions(&developer, Some("acme"))
            .await
            .unwrap();
        let versions: Vec<(i64, &str)> = history
            .iter()
            .map(|p| (p.version, p.document.as_str()))
            .collect();
        assert_eq!(
            versions,
            [(2, "block_eol_os: true\n"), (1, "ignore_unfixed: true\n")]
        );

        let queued_before = recorder.0.lock().unwrap().len();
        let outcome = f
            .accounts
            .dry_run_policy(
                &security,
                &ctx(),
                "acme",
                "block_severity_at_or_above: high\n",
            )
            .await
            .unwrap();
        assert_eq!((outcome.evaluated, outcome.would_fail), (2, 1));
        assert_eq!(outcome.images[0].repository, "unscanned/acme/b");
        assert!(!outcome.images[0].would_pass);
        // A dry run stores nothing and re-evaluates nothing.
        assert_eq!(recorder.0.lock().unwrap().len(), queued_before);
        assert_eq!(
            f.accounts
                .policy(&security, Some("acme"))
                .await
                .unwrap()
                .unwrap()
                .version,
            2
        );
        let invalid = f
            .accounts
            .dry_run_policy(&security, &ctx(), "acme", "block_severity_at_or_above: 7\n")
            .await
            .unwrap_err();
        assert!(matches!(invalid, AccountsError::Invalid(_)), "{invalid}");
        let refused = f
            .accounts
            .dry_run_policy(&developer, &ctx(), "acme", "block_eol_os: true\n")
            .await
            .unwrap_err();
        assert!(matches!(refused, AccountsError::Forbidden(_)), "{refused}");
    }

    #[tokio::test]
    async fn a_pending_request_can_be_rejected_once() {
        let (f, recorder) = with_tenant().await;
        let developer = member("dev", TenantRole::Developer);
        let security = member("sec", TenantRole::Security);
        let exception = f
            .accounts
            .request_exception(&developer, &ctx(), "acme", cve(Duration::from_secs(3600)))
            .await
            .unwrap();
        let refused = f
            .accounts
            .reject_exception(&developer, &ctx(), Some("acme"), &exception.id)
            .await
            .unwrap_err();
        assert!(matches!(refused, AccountsError::Forbidden(_)), "{refused}");
        let rejected = f
            .accounts
            .reject_exception(&security, &ctx(), Some("acme"), &exception.id)
            .await
            .unwrap();
        assert_eq!(rejected.status, "rejected");
        assert!(recorder.0.lock().unwrap().is_empty());
        let again = f
            .accounts
            .reject_exception(&security, &ctx(), Some("acme"), &exception.id)
            .await
            .unwrap_err();
        assert!(matches!(again, AccountsError::Conflict(_)), "{again}");
        let approve = f
            .accounts
            .approve_exception(&security, &ctx(), Some("acme"), &exception.id)
            .await;
        assert!(approve.is_err(), "a rejected request cannot be approved");
        assert_eq!(
            actions(&f.db, "exception.reject").await,
            vec![("exception.reject".to_owned(), Outcome::Success)]
        );
    }

    #[tokio::test]
    async fn self_approval_is_refused_and_audited() {
        let (f, recorder) = with_tenant().await;
        let security = member("sec", TenantRole::Security);
        let exception = f
            .accounts
            .request_exception(&security, &ctx(), "acme", cve(Duration::from_secs(3600)))
            .await
            .unwrap();
        let error = f
            .accounts
            .approve_exception(&security, &ctx(), Some("acme"), &exception.id)
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "an exception's approver must not be its requester"
        );
        let denials = actions(&f.db, "access.denied").await;
        assert_eq!(denials, vec![("access.denied".to_owned(), Outcome::Denied)]);
        assert!(recorder.0.lock().unwrap().is_empty());

        // An admin who did not ask may approve.
        let approved = f
            .accounts
            .approve_exception(&admin("root"), &ctx(), None, &exception.id)
            .await
            .unwrap();
        assert_eq!(approved.status, "active");
        assert_eq!(approved.approved_by.as_deref(), Some("root"));
        f.accounts
            .revoke_exception(&security, &ctx(), Some("acme"), &exception.id)
            .await
            .unwrap();
        assert_eq!(recorder.0.lock().unwrap().len(), 2);
        let stored = f.db.exception(&exception.id).await.unwrap().unwrap();
        assert!(stored.revoked_at.is_some());
    }

    #[tokio::test]
    async fn the_same_local_user_cannot_request_and_approve() {
        let (f, _) = with_tenant().await;
        let alice = Operator::Local("alice".into());
        let exception = f
            .accounts
            .request_exception(&alice, &ctx(), "acme", cve(Duration::from_secs(3600)))
            .await
            .unwrap();
        assert_eq!(exception.requested_by, "cli:alice");
        let error = f
            .accounts
            .approve_exception(&alice, &ctx(), None, &exception.id)
            .await
            .unwrap_err();
        assert!(matches!(error, AccountsError::Forbidden(_)), "{error}");
        f.accounts
            .approve_exception(&Operator::Local("bob".into()), &ctx(), None, &exception.id)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn exceptions_need_an_expiry_a_reason_and_the_right_role() {
        let (f, _) = with_tenant().await;
        let developer = member("dev", TenantRole::Developer);
        let reader = member("rd", TenantRole::Reader);
        for bad in [
            cve(Duration::ZERO),
            cve(Duration::from_secs(400 * 86_400)),
            ExceptionRequest {
                reason: " ".into(),
                ..cve(Duration::from_secs(60))
            },
            ExceptionRequest {
                vulnerability: String::new(),
                ..cve(Duration::from_secs(60))
            },
            ExceptionRequest {
                digest: Some("sha256:nope".into()),
                ..cve(Duration::from_secs(60))
            },
            ExceptionRequest {
                repository: Some("unscanned/other/app".into()),
                ..cve(Duration::from_secs(60))
            },
        ] {
            let error = f
                .accounts
                .request_exception(&developer, &ctx(), "acme", bad)
                .await
                .unwrap_err();
            assert!(matches!(error, AccountsError::Invalid(_)), "{error}");
        }
        let error = f
            .accounts
            .request_exception(&reader, &ctx(), "acme", cve(Duration::from_secs(60)))
            .await
            .unwrap_err();
        assert!(matches!(error, AccountsError::Forbidden(_)), "{error}");
        let exception = f
            .accounts
            .request_exception(&developer, &ctx(), "acme", cve(Duration::from_secs(60)))
            .await
            .unwrap();
        let error = f
            .accounts
            .approve_exception(
                &member("dev2", TenantRole::Developer),
                &ctx(),
                None,
                &exception.id,
            )
            .await
            .unwrap_err();
        assert!(matches!(error, AccountsError::Forbidden(_)), "{error}");
        let listed = f.accounts.exceptions(&reader, "acme").await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].status, "pending");
    }
}
