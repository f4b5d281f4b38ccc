//! `airlock report get`: download a scan's report files from the object
//! store, against the data directory. Every download is audited.

use std::io::Write;

use airlock_accounts::ReportQuery;
use anyhow::Context;

use crate::config::CommonArgs;
use crate::local::with_accounts;

/// Report commands.
#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// Write one report file of an image's latest (or given) scan to stdout or a file.
    Get {
        #[command(flatten)]
        common: CommonArgs,
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The image digest (sha256:...).
        digest: String,
        /// report.html, report.json, report.sarif, sbom.cdx.json or sbom.spdx.json.
        #[arg(long, default_value = "report.json")]
        name: String,
        /// A scan id [default: the latest scan].
        #[arg(long)]
        scan: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
}

/// Runs a report command.
pub fn run(command: ReportCommand) -> anyhow::Result<u8> {
    let ReportCommand::Get {
        common,
        tenant,
        digest,
        name,
        scan,
        output,
    } = command;
    let report = with_accounts(&common, |accounts, operator, request| async move {
        accounts
            .report(
                &operator,
                ReportQuery {
                    tenant: &tenant,
                    digest: &digest,
                    name: &name,
                    scan: scan.as_deref(),
                },
                &request,
            )
            .await
    })?;
    match output {
        Some(path) => {
            std::fs::write(&path, &report.content)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "wrote {} of scan {} to {}",
                report.name,
                report.scan_id,
                path.display()
            );
        }
        None => std::io::stdout()
            .write_all(&report.content)
            .context("cannot write to standard output")?,
    }
    Ok(0)
}
