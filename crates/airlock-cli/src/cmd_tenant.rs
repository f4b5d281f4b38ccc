//! `airlock tenant create|list|delete`, through the management API.

use serde_json::json;

use crate::api_client::{ApiArgs, ApiClient, Gate, Payload, segment};
use crate::output::{items, print_table, str_field};

/// Tenant commands.
#[derive(Debug, clap::Subcommand)]
pub enum TenantCommand {
    /// Create a tenant: its images live under unscanned/<id>/ and scanned/<id>/.
    Create {
        #[command(flatten)]
        api: ApiArgs,
        /// Tenant id: lowercase letters, digits and single dashes.
        id: String,
    },
    /// List tenants.
    List {
        #[command(flatten)]
        api: ApiArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete a tenant that has no images left, with its grants and robots.
    Delete {
        #[command(flatten)]
        api: ApiArgs,
        /// Tenant id.
        id: String,
    },
}

/// Runs a tenant command.
pub fn run(command: TenantCommand) -> anyhow::Result<u8> {
    match command {
        TenantCommand::Create { api, id } => {
            let client = ApiClient::open(&api, Gate::Unwired)?;
            let tenant = client.post("/tenants", Payload::Json(json!({ "id": id })))?;
            println!("created tenant {}", str_field(&tenant, "id"));
        }
        TenantCommand::List { api, json } => {
            let client = ApiClient::open(&api, Gate::Unwired)?;
            let tenants = client.get_json("/tenants")?["tenants"].take();
            if json {
                println!("{}", serde_json::to_string_pretty(&tenants)?);
            } else {
                let rows: Vec<Vec<String>> = items(&tenants)
                    .iter()
                    .map(|t| vec![str_field(t, "id"), str_field(t, "created_at")])
                    .collect();
                print_table(&["TENANT", "CREATED"], &rows);
            }
        }
        TenantCommand::Delete { api, id } => {
            let client = ApiClient::open(&api, Gate::Unwired)?;
            client.delete(&format!("/tenants/{}", segment(&id)))?;
            println!("deleted tenant {id}");
        }
    }
    Ok(0)
}
