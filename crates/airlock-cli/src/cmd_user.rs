//! `airlock user create|list|disable|enable|passwd|grant|revoke`.

use airlock_auth::{GlobalRole, TenantRole};
use anyhow::bail;
use serde_json::{Value, json};

use crate::api_client::{ApiArgs, ApiClient, Gate, Payload, segment};
use crate::output::{items, password_from, print_table, show_once, str_field};

/// User commands.
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create a user. Without --password-stdin a password is generated and printed once.
    Create {
        #[command(flatten)]
        api: ApiArgs,
        /// Login name.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users and their roles.
    List {
        #[command(flatten)]
        api: ApiArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Refuse a user's logins (tokens already issued expire within their lifetime).
    Disable {
        #[command(flatten)]
        api: ApiArgs,
        /// Login name.
        name: String,
    },
    /// Allow a disabled user's logins again.
    Enable {
        #[command(flatten)]
        api: ApiArgs,
        /// Login name.
        name: String,
    },
    /// Set a user's password. Without --password-stdin one is generated and printed once.
    Passwd {
        #[command(flatten)]
        api: ApiArgs,
        /// Login name.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Grant a role: developer, reader or security with --tenant; auditor or admin without.
    Grant {
        #[command(flatten)]
        api: ApiArgs,
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
        api: ApiArgs,
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

/// The new password, from standard input or generated; standard input
/// cannot carry the server's password too.
fn new_password(api: &ApiArgs, password_stdin: bool) -> anyhow::Result<(String, bool)> {
    if password_stdin && api.reads_password_from_stdin() {
        bail!(
            "--password-stdin and --server-password-stdin both read standard input: \
             give the server password in AIRLOCK_PASSWORD instead"
        );
    }
    password_from(password_stdin)
}

/// Runs a user command.
pub fn run(command: UserCommand) -> anyhow::Result<u8> {
    match command {
        UserCommand::Create {
            api,
            name,
            password_stdin,
        } => {
            let (password, generated) = new_password(&api, password_stdin)?;
            let client = ApiClient::open(&api, Gate::Unwired)?;
            let user = client.post(
                "/users",
                Payload::Json(json!({ "name": name, "password": password })),
            )?;
            println!("created user {}", str_field(&user, "name"));
            if generated {
                show_once("password", &password);
            }
        }
        UserCommand::List { api, json } => {
            let client = ApiClient::open(&api, Gate::Unwired)?;
            let users = client.get_json("/users")?["users"].take();
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                let rows: Vec<Vec<String>> = items(&users)
                    .iter()
                    .map(|u| {
                        let mut roles: Vec<String> = items(&u["global_roles"])
                            .iter()
                            .filter_map(|r| r.as_str().map(str::to_owned))
                            .collect();
                        roles.extend(tenant_roles(u).into_iter().map(|(t, r)| format!("{t}:{r}")));
                        vec![
                            str_field(u, "name"),
                            if u["disabled"].as_bool().unwrap_or(false) {
                                "disabled"
                            } else {
                                "active"
                            }
                            .to_owned(),
                            roles.join(","),
                            str_field(u, "created_at"),
                        ]
                    })
                    .collect();
                print_table(&["USER", "STATE", "ROLES", "CREATED"], &rows);
            }
        }
        UserCommand::Disable { api, name } => set_disabled(&api, &name, true)?,
        UserCommand::Enable { api, name } => set_disabled(&api, &name, false)?,
        UserCommand::Passwd {
            api,
            name,
            password_stdin,
        } => {
            let (password, generated) = new_password(&api, password_stdin)?;
            let client = ApiClient::open(&api, Gate::Unwired)?;
            client.put(
                &format!("/users/{}/password", segment(&name)),
                Payload::Json(json!({ "password": password })),
            )?;
            println!("changed the password of {name}");
            if generated {
                show_once("password", &password);
            }
        }
        UserCommand::Grant {
            api,
            name,
            tenant,
            role,
        } => {
            let body = match role_arg(tenant, &role)? {
                RoleArg::Tenant(t, r) => json!({ "tenant": t, "role": r.as_str() }),
                RoleArg::Global(r) => json!({ "tenant": null, "role": r.as_str() }),
            };
            let client = ApiClient::open(&api, Gate::Unwired)?;
            let user = client.post(
                &format!("/users/{}/grants", segment(&name)),
                Payload::Json(body),
            )?;
            println!(
                "granted; {} now has: {}",
                str_field(&user, "name"),
                describe_roles(&user)
            );
        }
        UserCommand::Revoke {
            api,
            name,
            tenant,
            role,
        } => {
            let path = match (tenant, role) {
                (Some(t), _) => format!("/users/{}/grants/tenants/{}", segment(&name), segment(&t)),
                (None, Some(r)) => {
                    format!("/users/{}/grants/global/{}", segment(&name), segment(&r))
                }
                (None, None) => bail!("say what to revoke: --tenant T or --role auditor|admin"),
            };
            let client = ApiClient::open(&api, Gate::Unwired)?;
            let user = client.delete(&path)?;
            println!(
                "revoked; {} now has: {}",
                str_field(&user, "name"),
                describe_roles(&user)
            );
        }
    }
    Ok(0)
}

/// A user's tenant roles, `(tenant, role)` in the API's (sorted) order.
fn tenant_roles(user: &Value) -> Vec<(String, String)> {
    user["tenants"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(t, r)| (t.clone(), r.as_str().unwrap_or_default().to_owned()))
        .collect()
}

fn describe_roles(user: &Value) -> String {
    let mut roles: Vec<String> = items(&user["global_roles"])
        .iter()
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    roles.extend(
        tenant_roles(user)
            .into_iter()
            .map(|(t, r)| format!("{r} in {t}")),
    );
    if roles.is_empty() {
        "no roles".into()
    } else {
        roles.join(", ")
    }
}

fn set_disabled(api: &ApiArgs, name: &str, disabled: bool) -> anyhow::Result<()> {
    let client = ApiClient::open(api, Gate::Unwired)?;
    let action = if disabled { "disable" } else { "enable" };
    let user = client.post(
        &format!("/users/{}/{action}", segment(name)),
        Payload::Empty,
    )?;
    let state = if user["disabled"].as_bool().unwrap_or(false) {
        "disabled"
    } else {
        "enabled"
    };
    println!("{state} user {}", str_field(&user, "name"));
    Ok(())
}
