//! `airlock audit export|verify`: the audit log for the SIEM and the
//! auditor, through the management API.

use airlock_audit::ExportFormat;
use anyhow::Context;
use time::OffsetDateTime;

use crate::api_client::{ApiArgs, ApiClient, Gate, query};
use crate::output::str_field;

/// Audit commands.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Stream matching records to standard output, oldest first.
    Export {
        #[command(flatten)]
        api: ApiArgs,
        /// jsonl or csv.
        #[arg(long, default_value = "jsonl")]
        format: ExportFormat,
        /// Records at or after this RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// Records before this RFC 3339 time.
        #[arg(long)]
        until: Option<String>,
        /// Records of this tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// An action (auth.login) or a prefix of actions (auth).
        #[arg(long)]
        action: Option<String>,
    },
    /// Recompute the hash chain; name the first record that breaks it.
    Verify {
        #[command(flatten)]
        api: ApiArgs,
    },
}

fn parse_time(flag: &str, value: Option<String>) -> anyhow::Result<Option<OffsetDateTime>> {
    value
        .map(|v| {
            OffsetDateTime::parse(&v, &time::format_description::well_known::Rfc3339).with_context(
                || format!("invalid {flag} {v:?}: expected RFC 3339, e.g. 2026-11-27T00:00:00Z"),
            )
        })
        .transpose()
}

/// Runs an audit command.
pub fn run(command: AuditCommand) -> anyhow::Result<u8> {
    match command {
        AuditCommand::Export {
            api,
            format,
            since,
            until,
            tenant,
            action,
        } => {
            // Checked here too, to name the flag.
            parse_time("--since", since.clone())?;
            parse_time("--until", until.clone())?;
            let format = match format {
                ExportFormat::Jsonl => "jsonl",
                ExportFormat::Csv => "csv",
            };
            let client = ApiClient::open(&api, Gate::Unwired)?;
            let path = format!(
                "/audit{}",
                query(&[
                    ("format", Some(format)),
                    ("since", since.as_deref()),
                    ("until", until.as_deref()),
                    ("tenant", tenant.as_deref()),
                    ("action", action.as_deref()),
                ])
            );
            client.download(&path, &mut std::io::stdout().lock())?;
            Ok(0)
        }
        AuditCommand::Verify { api } => {
            let client = ApiClient::open(&api, Gate::Unwired)?;
            let chain = client.get_json("/audit/verify")?;
            if chain["intact"].as_bool() == Some(true) {
                println!(
                    "audit log intact: {} records, last seq {}, head {}",
                    str_field(&chain, "records"),
                    str_field(&chain, "last_seq"),
                    str_field(&chain, "last_hash")
                );
                Ok(0)
            } else {
                println!("{}", str_field(&chain, "broken"));
                Ok(1)
            }
        }
    }
}
