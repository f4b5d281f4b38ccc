//! `airlock robot create|list|revoke`: robot accounts for CI pipelines.

use airlock_auth::TenantRole;
use anyhow::Context;

use crate::config::{CommonArgs, parse_duration};
use crate::local::{print_table, show_once, time_text, with_accounts};

/// Robot commands.
#[derive(Debug, clap::Subcommand)]
pub enum RobotCommand {
    /// Create a robot and print its token, once.
    Create {
        #[command(flatten)]
        common: CommonArgs,
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
        common: CommonArgs,
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
        common: CommonArgs,
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
            common,
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
            let robot = with_accounts(&common, |accounts, operator, request| async move {
                accounts
                    .create_robot(&operator, &request, &tenant, &name, role, expires_in)
                    .await
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&robot)?);
            } else {
                println!("created robot {}", robot.robot.name);
                if let Some(expires) = robot.robot.expires_at {
                    println!("expires: {}", time_text(expires));
                }
                show_once("token", &robot.token);
                println!("log in with the robot's name as user name and the token as password");
            }
        }
        RobotCommand::List {
            common,
            tenant,
            json,
        } => {
            let robots = with_accounts(&common, |accounts, operator, _| async move {
                accounts.robots(&operator, &tenant).await
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&robots)?);
            } else {
                let rows: Vec<Vec<String>> = robots
                    .into_iter()
                    .map(|r| {
                        let state = if r.revoked_at.is_some() {
                            "revoked"
                        } else if r.active {
                            "active"
                        } else {
                            "expired"
                        };
                        vec![
                            r.name,
                            r.role.as_str().to_owned(),
                            format!("alr_{}_…", r.prefix),
                            state.to_owned(),
                            r.expires_at
                                .map(time_text)
                                .unwrap_or_else(|| "never".into()),
                        ]
                    })
                    .collect();
                print_table(&["ROBOT", "ROLE", "TOKEN", "STATE", "EXPIRES"], &rows);
            }
        }
        RobotCommand::Revoke {
            common,
            tenant,
            name,
        } => {
            let shown = name.clone();
            with_accounts(&common, |accounts, operator, request| async move {
                accounts
                    .revoke_robot(&operator, &request, &tenant, &name)
                    .await
            })?;
            println!("revoked robot {shown}");
        }
    }
    Ok(0)
}
