//! `airlock user create|list|disable|enable|passwd|grant|revoke`.

use airlock_auth::{GlobalRole, TenantRole};
use anyhow::bail;

use crate::config::CommonArgs;
use crate::local::{password_from, print_table, show_once, time_text, with_accounts};

/// User commands.
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create a user. Without --password-stdin a password is generated and printed once.
    Create {
        #[command(flatten)]
        common: CommonArgs,
        /// Login name.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users and their roles.
    List {
        #[command(flatten)]
        common: CommonArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Refuse a user's logins (tokens already issued expire within their lifetime).
    Disable {
        #[command(flatten)]
        common: CommonArgs,
        /// Login name.
        name: String,
    },
    /// Allow a disabled user's logins again.
    Enable {
        #[command(flatten)]
        common: CommonArgs,
        /// Login name.
        name: String,
    },
    /// Set a user's password. Without --password-stdin one is generated and printed once.
    Passwd {
        #[command(flatten)]
        common: CommonArgs,
        /// Login name.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Grant a role: developer, reader or security with --tenant; auditor or admin without.
    Grant {
        #[command(flatten)]
        common: CommonArgs,
        /// Login name.
        name: String,
        /// The tenant, for tenant roles.
        #[arg(long)]
        tenant: Option<String>,
        /// developer, reader, security, auditor or admin.
        #[arg(long)]
        role: String,
    },
    /// Take a role away: the tenant role with --tenant, else the global --role.
    Revoke {
        #[command(flatten)]
        common: CommonArgs,
        /// Login name.
        name: String,
        /// The tenant whose role is removed.
        #[arg(long)]
        tenant: Option<String>,
        /// auditor or admin (without --tenant).
        #[arg(long)]
        role: Option<String>,
    },
}

/// How a role argument reads.
enum RoleArg {
    Tenant(String, TenantRole),
    Global(GlobalRole),
}

fn role_arg(tenant: Option<String>, role: &str) -> anyhow::Result<RoleArg> {
    match (
        tenant,
        role.parse::<TenantRole>(),
        role.parse::<GlobalRole>(),
    ) {
        (Some(t), Ok(r), _) => Ok(RoleArg::Tenant(t, r)),
        (None, _, Ok(r)) => Ok(RoleArg::Global(r)),
        (None, Ok(_), _) => bail!("role {role} belongs to a tenant: add --tenant"),
        (Some(_), _, Ok(_)) => bail!("role {role} is global: drop --tenant"),
        _ => bail!("unknown role {role:?}: use developer, reader, security, auditor or admin"),
    }
}

/// Runs a user command.
pub fn run(command: UserCommand) -> anyhow::Result<u8> {
    match command {
        UserCommand::Create {
            common,
            name,
            password_stdin,
        } => {
            let (password, generated) = password_from(password_stdin)?;
            let shown = password.clone();
            let user = with_accounts(&common, |accounts, operator, request| async move {
                accounts
                    .create_user(&operator, &request, &name, &password)
                    .await
            })?;
            println!("created user {}", user.name);
            if generated {
                show_once("password", &shown);
            }
        }
        UserCommand::List { common, json } => {
            let users = with_accounts(&common, |accounts, operator, _| async move {
                accounts.users(&operator).await
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                let rows: Vec<Vec<String>> = users
                    .into_iter()
                    .map(|u| {
                        let mut roles: Vec<String> = u
                            .global_roles
                            .iter()
                            .map(|r| r.as_str().to_owned())
                            .collect();
                        roles.extend(u.tenants.iter().map(|(t, r)| format!("{t}:{}", r.as_str())));
                        vec![
                            u.name,
                            if u.disabled { "disabled" } else { "active" }.to_owned(),
                            roles.join(","),
                            time_text(u.created_at),
                        ]
                    })
                    .collect();
                print_table(&["USER", "STATE", "ROLES", "CREATED"], &rows);
            }
        }
        UserCommand::Disable { common, name } => set_disabled(&common, name, true)?,
        UserCommand::Enable { common, name } => set_disabled(&common, name, false)?,
        UserCommand::Passwd {
            common,
            name,
            password_stdin,
        } => {
            let (password, generated) = password_from(password_stdin)?;
            let shown = password.clone();
            let who = name.clone();
            with_accounts(&common, |accounts, operator, request| async move {
                accounts
                    .change_password(&operator, &request, &name, &password)
                    .await
            })?;
            println!("changed the password of {who}");
            if generated {
                show_once("password", &shown);
            }
        }
        UserCommand::Grant {
            common,
            name,
            tenant,
            role,
        } => {
            let role = role_arg(tenant, &role)?;
            let user = with_accounts(&common, |accounts, operator, request| async move {
                match role {
                    RoleArg::Tenant(t, r) => {
                        accounts
                            .set_tenant_role(&operator, &request, &name, &t, Some(r))
                            .await
                    }
                    RoleArg::Global(r) => {
                        accounts
                            .set_global_role(&operator, &request, &name, r, true)
                            .await
                    }
                }
            })?;
            println!("granted; {} now has: {}", user.name, describe_roles(&user));
        }
        UserCommand::Revoke {
            common,
            name,
            tenant,
            role,
        } => {
            let user = with_accounts(&common, |accounts, operator, request| async move {
                match (tenant, role) {
                    (Some(t), _) => {
                        accounts
                            .set_tenant_role(&operator, &request, &name, &t, None)
                            .await
                    }
                    (None, Some(r)) => {
                        let role: GlobalRole =
                            r.parse().map_err(|e: airlock_auth::AuthError| {
                                airlock_accounts::AccountsError::Invalid(e.to_string())
                            })?;
                        accounts
                            .set_global_role(&operator, &request, &name, role, false)
                            .await
                    }
                    (None, None) => Err(airlock_accounts::AccountsError::Invalid(
                        "say what to revoke: --tenant T or --role auditor|admin".into(),
                    )),
                }
            })?;
            println!("revoked; {} now has: {}", user.name, describe_roles(&user));
        }
    }
    Ok(0)
}

fn describe_roles(user: &airlock_accounts::UserView) -> String {
    let mut roles: Vec<String> = user
        .global_roles
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect();
    roles.extend(
        user.tenants
            .iter()
            .map(|(t, r)| format!("{} in {t}", r.as_str())),
    );
    if roles.is_empty() {
        "no roles".into()
    } else {
        roles.join(", ")
    }
}

fn set_disabled(common: &CommonArgs, name: String, disabled: bool) -> anyhow::Result<()> {
    let user = with_accounts(common, |accounts, operator, request| async move {
        accounts
            .set_user_disabled(&operator, &request, &name, disabled)
            .await
    })?;
    let state = if user.disabled { "disabled" } else { "enabled" };
    println!("{state} user {}", user.name);
    Ok(())
}
