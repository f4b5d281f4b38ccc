//! Tenants, users, grants and robots in PostgreSQL: a port of
//! `airlock-db-sqlite`'s [`IdentityStore`]. Each change and its audit
//! record are one transaction.
//!
//! Where SQLite's single writer lock made a check-then-write safe:
//!
//! * creating a tenant, user or robot relies on the primary (or unique)
//!   key: the loser of a race gets [`StoreError::Conflict`];
//! * granting a role or creating a robot checks that the user and tenant
//!   exist; the foreign keys (with `ON DELETE CASCADE`) keep a concurrent
//!   delete from leaving a dangling grant;
//! * deleting a tenant takes `repository_manifests` in `SHARE` mode before
//!   checking the tenant has no images, so no manifest put can commit into
//!   its repositories between the check and the delete (tenant deletion
//!   is rare; pushes wait for it, not the other way round).

use airlock_audit::AuditEvent;
use airlock_auth::{GlobalRole, Roles, TenantId, TenantRole};
use airlock_store::{IdentityStore, RobotRecord, StoreError, TenantRecord, UserRecord};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, Postgres, Row, Transaction};
use time::OffsetDateTime;

use crate::audit::append_in;
use crate::{PgStore, db_error, from_millis, now_millis, to_millis, unreadable};

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

const ROBOT_COLUMNS: &str =
    "name, tenant_id, role, prefix, token_hash, created_by, created_at, expires_at, revoked_at";

impl PgStore {
    async fn write_tx(
        &self,
        operation: &str,
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool
            .begin()
            .await
            .map_err(|e| StoreError::backend(format!("begin {operation}"), e))
    }

    /// Appends the change's audit record and commits.
    async fn finish(
        mut tx: Transaction<'static, Postgres>,
        audit: &AuditEvent,
        operation: &str,
    ) -> Result<(), StoreError> {
        append_in(&mut tx, std::slice::from_ref(audit)).await?;
        tx.commit()
            .await
            .map_err(|e| StoreError::backend(format!("commit {operation}"), e))
    }

    async fn roles_of(conn: &mut PgConnection, user: &str) -> Result<Roles, StoreError> {
        let mut roles = Roles::default();
        let rows = sqlx::query("SELECT tenant_id, role FROM tenant_roles WHERE user_name = $1")
            .bind(user)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| StoreError::backend(format!("read the tenant roles of {user}"), e))?;
        for row in rows {
            let tenant: TenantId = row
                .get::<String, _>(0)
                .parse()
                .map_err(|e| unreadable("tenant role", e))?;
            let role: TenantRole = row
                .get::<String, _>(1)
                .parse()
                .map_err(|e| unreadable("tenant role", e))?;
            roles.tenants.insert(tenant, role);
        }
        let rows = sqlx::query("SELECT role FROM global_roles WHERE user_name = $1")
            .bind(user)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| StoreError::backend(format!("read the global roles of {user}"), e))?;
        for row in rows {
            let role: GlobalRole = row
                .get::<String, _>(0)
                .parse()
                .map_err(|e| unreadable("global role", e))?;
            roles.global.insert(role);
        }
        Ok(roles)
    }

    async fn user_exists(conn: &mut PgConnection, name: &str) -> Result<bool, StoreError> {
        sqlx::query("SELECT 1 FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .map(|r| r.is_some())
            .map_err(|e| StoreError::backend(format!("look up user {name}"), e))
    }

    async fn tenant_known(conn: &mut PgConnection, tenant: &TenantId) -> Result<bool, StoreError> {
        sqlx::query("SELECT 1 FROM tenants WHERE id = $1")
            .bind(tenant.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map(|r| r.is_some())
            .map_err(|e| StoreError::backend(format!("look up tenant {tenant}"), e))
    }
}

fn user_from_row(row: &PgRow, roles: Roles) -> UserRecord {
    UserRecord {
        name: row.get(0),
        password_hash: row.get(1),
        disabled: row.get::<bool, _>(2),
        roles,
        created_at: from_millis(row.get(3)),
    }
}

fn robot_from_row(row: &PgRow) -> Result<RobotRecord, StoreError> {
    Ok(RobotRecord {
        name: row.get(0),
        tenant: row
            .get::<String, _>(1)
            .parse()
            .map_err(|e| unreadable("robot", e))?,
        role: row
            .get::<String, _>(2)
            .parse()
            .map_err(|e| unreadable("robot", e))?,
        prefix: row.get(3),
        token_hash: row.get(4),
        created_by: row.get(5),
        created_at: from_millis(row.get(6)),
        expires_at: row.get::<Option<i64>, _>(7).map(from_millis),
        revoked_at: row.get::<Option<i64>, _>(8).map(from_millis),
    })
}

#[async_trait::async_trait]
impl IdentityStore for PgStore {
    async fn create_tenant(&self, tenant: &TenantId, audit: &AuditEvent) -> Result<(), StoreError> {
        let mut tx = self.write_tx("tenant create").await?;
        sqlx::query("INSERT INTO tenants (id, created_at) VALUES ($1, $2)")
            .bind(tenant.as_str())
            .bind(now_millis())
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(format!("tenant {tenant} already exists"))
                } else {
                    StoreError::backend(format!("create tenant {tenant}"), e)
                }
            })?;
        Self::finish(tx, audit, "tenant create").await
    }

    async fn delete_tenant(&self, tenant: &TenantId, audit: &AuditEvent) -> Result<(), StoreError> {
        let mut tx = self.write_tx("tenant delete").await?;
        // Hold off manifest puts (and wait for those in flight) until this
        // transaction ends, so the emptiness check stays true.
        sqlx::query("LOCK TABLE repository_manifests IN SHARE MODE")
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                StoreError::backend(format!("lock images to delete tenant {tenant}"), e)
            })?;
        // Tenant ids are lowercase letters, digits and '-': no LIKE wildcards.
        let in_use: Option<String> = sqlx::query_scalar(
            "SELECT r.name FROM repositories r
             WHERE (r.name LIKE $1 OR r.name LIKE $2)
               AND EXISTS (SELECT 1 FROM repository_manifests rm WHERE rm.repository_id = r.id)
             LIMIT 1",
        )
        .bind(format!("unscanned/{tenant}/%"))
        .bind(format!("scanned/{tenant}/%"))
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| {
            StoreError::backend(format!("check the repositories of tenant {tenant}"), e)
        })?;
        if let Some(repository) = in_use {
            return Err(StoreError::Conflict(format!(
                "tenant {tenant} still has images (e.g. in {repository}); delete them first"
            )));
        }
        let removed = sqlx::query("DELETE FROM tenants WHERE id = $1")
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::backend(format!("delete tenant {tenant}"), e))?
            .rows_affected();
        if removed == 0 {
            return Err(StoreError::NotFound(format!("tenant {tenant}")));
        }
        Self::finish(tx, audit, "tenant delete").await
    }

    async fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        let rows = sqlx::query("SELECT id, created_at FROM tenants ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_error("list tenants"))?;
        rows.iter()
            .map(|row| {
                Ok(TenantRecord {
                    id: row
                        .get::<String, _>(0)
                        .parse()
                        .map_err(|e| unreadable("tenant", e))?,
                    created_at: from_millis(row.get(1)),
                })
            })
            .collect()
    }

    async fn tenant_exists(&self, tenant: &TenantId) -> Result<bool, StoreError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_error("acquire connection"))?;
        Self::tenant_known(&mut conn, tenant).await
    }

    async fn create_user(
        &self,
        name: &str,
        password_hash: &str,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx("user create").await?;
        sqlx::query(
            "INSERT INTO users (name, password_hash, disabled, created_at)
             VALUES ($1, $2, FALSE, $3)",
        )
        .bind(name)
        .bind(password_hash)
        .bind(now_millis())
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("user {name} already exists"))
            } else {
                StoreError::backend(format!("create user {name}"), e)
            }
        })?;
        Self::finish(tx, audit, "user create").await
    }

    async fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_error("acquire connection"))?;
        let row = sqlx::query(
            "SELECT name, password_hash, disabled, created_at FROM users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| StoreError::backend(format!("look up user {name}"), e))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let roles = Self::roles_of(&mut conn, name).await?;
        Ok(Some(user_from_row(&row, roles)))
    }

    async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_error("acquire connection"))?;
        let rows = sqlx::query(
            "SELECT name, password_hash, disabled, created_at FROM users ORDER BY name",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error("list users"))?;
        let mut users = Vec::with_capacity(rows.len());
        for row in rows {
            let name: String = row.get(0);
            let roles = Self::roles_of(&mut conn, &name).await?;
            users.push(user_from_row(&row, roles));
        }
        Ok(users)
    }

    async fn user_count(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error("count users"))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn set_user_disabled(
        &self,
        name: &str,
        disabled: bool,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx("user disable").await?;
        let changed = sqlx::query("UPDATE users SET disabled = $1 WHERE name = $2")
            .bind(disabled)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::backend(format!("disable user {name}"), e))?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound(format!("user {name}")));
        }
        Self::finish(tx, audit, "user disable").await
    }

    async fn set_password(
        &self,
        name: &str,
        password_hash: &str,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx("password change").await?;
        let changed = sqlx::query("UPDATE users SET password_hash = $1 WHERE name = $2")
            .bind(password_hash)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::backend(format!("change the password of {name}"), e))?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound(format!("user {name}")));
        }
        Self::finish(tx, audit, "password change").await
    }

    async fn set_tenant_role(
        &self,
        user: &str,
        tenant: &TenantId,
        role: Option<TenantRole>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx("tenant role change").await?;
        if !Self::user_exists(&mut tx, user).await? {
            return Err(StoreError::NotFound(format!("user {user}")));
        }
        if !Self::tenant_known(&mut tx, tenant).await? {
            return Err(StoreError::NotFound(format!("tenant {tenant}")));
        }
        match role {
            Some(role) => sqlx::query(
                "INSERT INTO tenant_roles (user_name, tenant_id, role) VALUES ($1, $2, $3)
                 ON CONFLICT (user_name, tenant_id) DO UPDATE SET role = excluded.role",
            )
            .bind(user)
            .bind(tenant.as_str())
            .bind(role.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                StoreError::backend(format!("grant {user} {} in {tenant}", role.as_str()), e)
            })?,
            None => sqlx::query("DELETE FROM tenant_roles WHERE user_name = $1 AND tenant_id = $2")
                .bind(user)
                .bind(tenant.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    StoreError::backend(format!("revoke the role of {user} in {tenant}"), e)
                })?,
        };
        Self::finish(tx, audit, "tenant role change").await
    }

    async fn set_global_role(
        &self,
        user: &str,
        role: GlobalRole,
        granted: bool,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx("global role change").await?;
        if !Self::user_exists(&mut tx, user).await? {
            return Err(StoreError::NotFound(format!("user {user}")));
        }
        let sql = if granted {
            "INSERT INTO global_roles (user_name, role) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM global_roles WHERE user_name = $1 AND role = $2"
        };
        sqlx::query(sql)
            .bind(user)
            .bind(role.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                StoreError::backend(format!("change global role {} of {user}", role.as_str()), e)
            })?;
        Self::finish(tx, audit, "global role change").await
    }

    async fn create_robot(
        &self,
        robot: &RobotRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx("robot create").await?;
        if !Self::tenant_known(&mut tx, &robot.tenant).await? {
            return Err(StoreError::NotFound(format!("tenant {}", robot.tenant)));
        }
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO robots ({ROBOT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        )))
        .bind(&robot.name)
        .bind(robot.tenant.as_str())
        .bind(robot.role.as_str())
        .bind(&robot.prefix)
        .bind(&robot.token_hash)
        .bind(&robot.created_by)
        .bind(to_millis(robot.created_at))
        .bind(robot.expires_at.map(to_millis))
        .bind(robot.revoked_at.map(to_millis))
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("robot {} already exists", robot.name))
            } else {
                StoreError::backend(format!("create robot {}", robot.name), e)
            }
        })?;
        Self::finish(tx, audit, "robot create").await
    }

    async fn robots(&self, tenant: Option<&TenantId>) -> Result<Vec<RobotRecord>, StoreError> {
        let rows = match tenant {
            Some(t) => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {ROBOT_COLUMNS} FROM robots WHERE tenant_id = $1 ORDER BY name"
                )))
                .bind(t.as_str())
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {ROBOT_COLUMNS} FROM robots ORDER BY name"
                )))
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(db_error("list robots"))?;
        rows.iter().map(robot_from_row).collect()
    }

    async fn robot_by_prefix(&self, prefix: &str) -> Result<Option<RobotRecord>, StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {ROBOT_COLUMNS} FROM robots WHERE prefix = $1"
        )))
        .bind(prefix)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| StoreError::backend(format!("look up robot by prefix {prefix}"), e))?
        .as_ref()
        .map(robot_from_row)
        .transpose()
    }

    async fn revoke_robot(
        &self,
        name: &str,
        at: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx("robot revoke").await?;
        let changed =
            sqlx::query("UPDATE robots SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL")
                .bind(to_millis(at))
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::backend(format!("revoke robot {name}"), e))?
                .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound(format!("active robot {name}")));
        }
        Self::finish(tx, audit, "robot revoke").await
    }
}
