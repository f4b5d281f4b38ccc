//! `airlock tenant create|list|delete`.

use crate::config::CommonArgs;
use crate::local::{print_table, time_text, with_accounts};

/// Tenant commands.
#[derive(Debug, clap::Subcommand)]
pub enum TenantCommand {
    /// Create a tenant: its images live under unscanned/<id>/ and scanned/<id>/.
    Create {
        #[command(flatten)]
        common: CommonArgs,
        /// Tenant id: lowercase letters, digits and single dashes.
        id: String,
    },
    /// List tenants.
    List {
        #[command(flatten)]
        common: CommonArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete a tenant that has no images left, with its grants and robots.
    Delete {
        #[command(flatten)]
        common: CommonArgs,
        /// Tenant id.
        id: String,
    },
}

/// Runs a tenant command.
pub fn run(command: TenantCommand) -> anyhow::Result<u8> {
    match command {
        TenantCommand::Create { common, id } => {
            let tenant = with_accounts(&common, |accounts, operator, request| async move {
                accounts.create_tenant(&operator, &request, &id).await
            })?;
            println!("created tenant {}", tenant.id);
        }
        TenantCommand::List { common, json } => {
            let tenants = with_accounts(&common, |accounts, operator, _| async move {
                accounts.tenants(&operator).await
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tenants)?);
            } else {
                let rows: Vec<Vec<String>> = tenants
                    .into_iter()
                    .map(|t| vec![t.id, time_text(t.created_at)])
                    .collect();
                print_table(&["TENANT", "CREATED"], &rows);
            }
        }
        TenantCommand::Delete { common, id } => {
            let shown = id.clone();
            with_accounts(&common, |accounts, operator, request| async move {
                accounts.delete_tenant(&operator, &request, &id).await
            })?;
            println!("deleted tenant {shown}");
        }
    }
    Ok(0)
}
