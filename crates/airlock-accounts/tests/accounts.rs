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
