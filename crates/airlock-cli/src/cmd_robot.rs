//! `airlock robot create|list|revoke`: robot accounts for CI pipelines.

use airlock_auth::TenantRole;
use anyhow::Context;
use serde_json::json;

use crate::api_client::{ApiArgs, ApiClient, Gate, Payload, segment};
use crate::config::parse_duration;
use crate::output::{items, opt_field, print_table, show_once, str_field};

/// Robot commands.
#[derive(Debug, clap::Subcommand)]
pub enum RobotCommand {
    /// Create a robot and print its token, once.
    Create {
        #[command(flatten)]
        api: ApiArgs,
        /// The tenant it works for.
        #[arg(long)]
        tenant: String,
        /// developer (pushes to unscanned/, pulls from scanned/) or reader (pulls from scanned/).
        #[arg(long)]
        role: TenantRole,
        /// Lifetime of the token, e.g. 90d; without it the token does not expire.
        #[arg(long)]
        expires: Option<String>,
        /// Short name [default: generated]; the account is robot$<tenant>+<name>.
        name: Option<String>,
        /// Print JSON (with the token) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List a tenant's robots (token prefixes only).
    List {
        #[command(flatten)]
        api: ApiArgs,
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a robot: its token stops working at once for new logins.
    Revoke {
        #[command(flatten)]
        api: ApiArgs,
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// Short name or robot$<tenant>+<name>.
        name: String,
    },
}

/// Runs a robot command.
pub fn run(command: RobotCommand) -> anyhow::Result<u8> {
    match command {
        RobotCommand::Create {
            api,
            tenant,
            role,
            expires,
            name,
            json,
        } => {
            let expires_in = expires
                .as_deref()
                .map(parse_duration)
                .transpose()
                .context("invalid --expires")?;
            let name = name.unwrap_or_else(|| {
                let id = uuid::Uuid::new_v4().simple().to_string();
                format!("robot-{}", &id[..8])
            });
            let client = ApiClient::open(&api, Gate::Unwired)?;
            let robot = client.post(
                &format!("/tenants/{}/robots", segment(&tenant)),
                Payload::Json(json!({
                    "name": name,
                    "role": role.as_str(),
                    "expires_in_seconds": expires_in.map(|d| d.as_secs()),
                })),
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&robot)?);
            } else {
                println!("created robot {}", str_field(&robot, "name"));
                if let Some(expires) = opt_field(&robot, "expires_at") {
                    println!("expires: {expires}");
                }
                show_once("token", &str_field(&robot, "token"));
                println!("log in with the robot's name as user name and the token as password");
            }
        }
        RobotCommand::List { api, tenant, json } => {
            let client = ApiClient::open(&api, Gate::Unwired)?;
            let robots =
                client.get_json(&format!("/tenants/{}/robots", segment(&tenant)))?["robots"].take();
            if json {
                println!("{}", serde_json::to_string_pretty(&robots)?);
            } else {
                let rows: Vec<Vec<String>> = items(&robots)
                    .iter()
                    .map(|r| {
                        let state = if !r["revoked_at"].is_null() {
                            "revoked"
                        } else if r["active"].as_bool().unwrap_or(false) {
                            "active"
                        } else {
                            "expired"
                        };
                        vec![
                            str_field(r, "name"),
                            str_field(r, "role"),
                            format!("alr_{}_…", str_field(r, "prefix")),
                            state.to_owned(),
                            opt_field(r, "expires_at").unwrap_or_else(|| "never".into()),
                        ]
                    })
                    .collect();
                print_table(&["ROBOT", "ROLE", "TOKEN", "STATE", "EXPIRES"], &rows);
            }
        }
        RobotCommand::Revoke { api, tenant, name } => {
            let client = ApiClient::open(&api, Gate::Unwired)?;
            client.delete(&format!(
                "/tenants/{}/robots/{}",
                segment(&tenant),
                segment(&name)
            ))?;
            println!("revoked robot {name}");
        }
    }
    Ok(0)
}
