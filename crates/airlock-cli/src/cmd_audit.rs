//! `airlock audit export|verify`: the audit log for the SIEM and the
//! auditor.

use std::io::Write;

use airlock_audit::{ChainVerifier, ExportFormat, ExportWriter};
use airlock_store::{AuditFilter, AuditStore};
use anyhow::Context;
use time::OffsetDateTime;

use crate::config::{CommonArgs, Config};

/// Audit commands.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Stream matching records to standard output, oldest first.
    Export {
        #[command(flatten)]
        common: CommonArgs,
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
        common: CommonArgs,
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

const PAGE: usize = 1000;

/// Runs an audit command.
pub fn run(command: AuditCommand) -> anyhow::Result<u8> {
    let common = match &command {
        AuditCommand::Export { common, .. } | AuditCommand::Verify { common } => common.clone(),
    };
    let config = Config::load(&common, None)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let database = crate::cmd_serve::open_database(&config).await?;
        match command {
            AuditCommand::Export {
                format,
                since,
                until,
                tenant,
                action,
                ..
            } => {
                let filter = AuditFilter {
                    since: parse_time("--since", since)?,
                    until: parse_time("--until", until)?,
                    tenant,
                    action,
                };
                let stdout = std::io::stdout().lock();
                let mut writer = ExportWriter::new(format, std::io::BufWriter::new(stdout))?;
                let mut after = 0;
                loop {
                    let page = database.audit_records(&filter, after, PAGE).await?;
                    let Some(last) = page.last() else { break };
                    after = last.seq;
                    for record in &page {
                        writer.write(record)?;
                    }
                }
                writer.finish()?.flush()?;
                Ok(0)
            }
            AuditCommand::Verify { .. } => {
                let mut verifier = ChainVerifier::new();
                let mut after = 0;
                loop {
                    let page = match database
                        .audit_records(&AuditFilter::default(), after, PAGE)
                        .await
                    {
                        Ok(page) => page,
                        Err(e) => {
                            println!("audit log broken after record {after}: {e}");
                            return Ok(1);
                        }
                    };
                    let Some(last) = page.last() else { break };
                    after = last.seq;
                    for record in &page {
                        if let Err(broken) = verifier.push(record) {
                            println!("{broken}");
                            return Ok(1);
                        }
                    }
                }
                let summary = verifier.finish();
                println!(
                    "audit log intact: {} records, last seq {}, head {}",
                    summary.records, summary.last_seq, summary.last_hash
                );
                Ok(0)
            }
        }
    })
}
