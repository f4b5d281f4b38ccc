//! Tenants, users, grants and robots in SQLite. Each change and its audit
//! record are one `BEGIN IMMEDIATE` transaction.

use airlock_audit::AuditEvent;
use airlock_auth::{GlobalRole, Roles, TenantId, TenantRole};
use airlock_store::{IdentityStore, RobotRecord, StoreError, TenantRecord, UserRecord};
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row, Sqlite, SqliteConnection, Transaction};
use time::OffsetDateTime;

use crate::audit::append_in;
use crate::{SqliteMetadataStore, db_error, from_millis, now_millis, to_millis, unreadable};

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

impl SqliteMetadataStore {
    async fn write_tx(&self, operation: &str) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| StoreError::backend(format!("begin {operation}"), e))
    }

    async fn finish(
        mut tx: Transaction<'static, Sqlite>,
        audit: &AuditEvent,
        operation: &str,
    ) -> Result<(), StoreError> {
        append_in(&mut tx, std::slice::from_ref(audit)).await?;
        tx.commit()
            .await
            .map_err(|e| StoreError::backend(format!("commit {operation}"), e))
    }

    async fn roles_of(conn: &mut SqliteConnection, user: &str) -> Result<Roles, StoreError> {
        let mut roles = Roles::default();
        let rows = sqlx::query("SELECT tenant_id, role FROM tenant_roles WHERE user_name = ?")
            .bind(user.to_owned())
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error("read tenant roles"))?;
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
        let rows = sqlx::query("SELECT role FROM global_roles WHERE user_name = ?")
            .bind(user.to_owned())
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error("read global roles"))?;
        for row in rows {
            let role: GlobalRole = row
                .get::<String, _>(0)
                .parse()
                .map_err(|e| unreadable("global role", e))?;
            roles.global.insert(role);
        }
        Ok(roles)
    }

    async fn user_exists(conn: &mut SqliteConnection, name: &str) -> Result<bool, StoreError> {
        sqlx::query("SELECT 1 FROM users WHERE name = ?")
            .bind(name.to_owned())
            .fetch_optional(&mut *conn)
            .await
            .map(|r| r.is_some())
            .map_err(db_error("look up user"))
    }
}

fn robot_from_row(row: &SqliteRow) -> Result<RobotRecord, StoreError> {
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

const ROBOT_COLUMNS: &str =
    "name, tenant_id, role, prefix, token_hash, created_by, created_at, expires_at, revoked_at";

#[async_trait::async_trait]
impl IdentityStore for SqliteMetadataStore {
    async fn create_tenant(&self, tenant: &TenantId, audit: &AuditEvent) -> Result<(), StoreError> {
        let mut tx = self.write_tx("tenant create").await?;
        sqlx::query("INSERT INTO tenants (id, created_at) VALUES (?, ?)")
            .bind(tenant.as_str().to_owned())
            .bind(now_millis())
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(format!("tenant {tenant} already exists"))
                } else {
                    StoreError::backend("create tenant", e)
                }
            })?;
        Self::finish(tx, audit, "tenant create").await
    }

    async fn delete_tenant(&self, tenant: &TenantId, audit: &AuditEvent) -> Result<(), StoreError> {
        let mut tx = self.write_tx("tenant delete").await?;
        let in_use = sqlx::query(
            "SELECT r.name FROM repositories r
             WHERE (r.name LIKE ? OR r.name LIKE ?)
               AND EXISTS (SELECT 1 FROM repository_manifests rm WHERE rm.repository_id = r.id)
             LIMIT 1",
        )
        .bind(format!("unscanned/{tenant}/%"))
        .bind(format!("scanned/{tenant}/%"))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error("check tenant repositories"))?;
        if let Some(row) = in_use {
            return Err(StoreError::Conflict(format!(
                "tenant {tenant} still has images (e.g. in {}); delete them first",
                row.get::<String, _>(0)
            )));
        }
        let removed = sqlx::query("DELETE FROM tenants WHERE id = ?")
            .bind(tenant.as_str().to_owned())
            .execute(&mut *tx)
            .await
            .map_err(db_error("delete tenant"))?
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
        sqlx::query("SELECT 1 FROM tenants WHERE id = ?")
            .bind(tenant.as_str().to_owned())
            .fetch_optional(&self.pool)
            .await
            .map(|r| r.is_some())
            .map_err(db_error("look up tenant"))
    }

    async fn create_user(
        &self,
        name: &str,
        password_hash: &str,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx("user create").await?;
        sqlx::query(
            "INSERT INTO users (name, password_hash, disabled, created_at) VALUES (?, ?, 0, ?)",
        )
        .bind(name.to_owned())
        .bind(password_hash.to_owned())
        .bind(now_millis())
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("user {name} already exists"))
            } else {
                StoreError::backend("create user", e)
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
            "SELECT name, password_hash, disabled, created_at FROM users WHERE name = ?",
        )
        .bind(name.to_owned())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error("look up user"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let roles = Self::roles_of(&mut conn, name).await?;
        Ok(Some(UserRecord {
            name: row.get(0),
            password_hash: row.get(1),
            disabled: row.get::<i64, _>(2) != 0,
            roles,
            created_at: from_millis(row.get(3)),
        }))
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
            users.push(UserRecord {
                name,
                password_hash: row.get(1),
                disabled: row.get::<i64, _>(2) != 0,
                roles,
                created_at: from_millis(row.get(3)),
            });
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
        let changed = sqlx::query("UPDATE users SET disabled = ? WHERE name = ?")
            .bind(i64::from(disabled))
            .bind(name.to_owned())
            .execute(&mut *tx)
            .await
            .map_err(db_error("disable user"))?
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
        let changed = sqlx::query("UPDATE users SET password_hash = ? WHERE name = ?")
            .bind(password_hash.to_owned())
            .bind(name.to_owned())
            .execute(&mut *tx)
            .await
            .map_err(db_error("change password"))?
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
        let tenant_known = sqlx::query("SELECT 1 FROM tenants WHERE id = ?")
            .bind(tenant.as_str().to_owned())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error("look up tenant"))?
            .is_some();
        if !tenant_known {
            return Err(StoreError::NotFound(format!("tenant {tenant}")));
        }
        match role {
            Some(role) => sqlx::query(
                "INSERT INTO tenant_roles (user_name, tenant_id, role) VALUES (?, ?, ?)
                 ON CONFLICT (user_name, tenant_id) DO UPDATE SET role = excluded.role",
            )
            .bind(user.to_owned())
            .bind(tenant.as_str().to_owned())
            .bind(role.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error("grant tenant role"))?,
            None => sqlx::query("DELETE FROM tenant_roles WHERE user_name = ? AND tenant_id = ?")
                .bind(user.to_owned())
                .bind(tenant.as_str().to_owned())
                .execute(&mut *tx)
                .await
                .map_err(db_error("revoke tenant role"))?,
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
            "INSERT INTO global_roles (user_name, role) VALUES (?, ?) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM global_roles WHERE user_name = ? AND role = ?"
        };
        sqlx::query(sql)
            .bind(user.to_owned())
            .bind(role.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error("change global role"))?;
        Self::finish(tx, audit, "global role change").await
    }

    async fn create_robot(
        &self,
        robot: &RobotRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx("robot create").await?;
        let tenant_known = sqlx::query("SELECT 1 FROM tenants WHERE id = ?")
            .bind(robot.tenant.as_str().to_owned())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error("look up tenant"))?
            .is_some();
        if !tenant_known {
            return Err(StoreError::NotFound(format!("tenant {}", robot.tenant)));
        }
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO robots ({ROBOT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )))
        .bind(robot.name.clone())
        .bind(robot.tenant.as_str().to_owned())
        .bind(robot.role.as_str())
        .bind(robot.prefix.clone())
        .bind(robot.token_hash.clone())
        .bind(robot.created_by.clone())
        .bind(to_millis(robot.created_at))
        .bind(robot.expires_at.map(to_millis))
        .bind(robot.revoked_at.map(to_millis))
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("robot {} already exists", robot.name))
            } else {
                StoreError::backend("create robot", e)
            }
        })?;
        Self::finish(tx, audit, "robot create").await
    }

    async fn robots(&self, tenant: Option<&TenantId>) -> Result<Vec<RobotRecord>, StoreError> {
        let rows = match tenant {
            Some(t) => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {ROBOT_COLUMNS} FROM robots WHERE tenant_id = ? ORDER BY name"
                )))
                .bind(t.as_str().to_owned())
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
            "SELECT {ROBOT_COLUMNS} FROM robots WHERE prefix = ?"
        )))
        .bind(prefix.to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error("look up robot"))?
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
            sqlx::query("UPDATE robots SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL")
                .bind(to_millis(at))
                .bind(name.to_owned())
                .execute(&mut *tx)
                .await
                .map_err(db_error("revoke robot"))?
                .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound(format!("active robot {name}")));
        }
        Self::finish(tx, audit, "robot revoke").await
    }
}
