//! `airlock report get`: download a scan's report files from the object
//! store, through the management API. Every download is audited.

use std::io::Write;

use anyhow::Context;

use crate::api_client::{ApiArgs, ApiClient, Gate, query, segment};

/// Report commands.
#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// Write one report file of an image's latest (or given) scan to stdout or a file.
    Get {
        #[command(flatten)]
        api: ApiArgs,
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
        api,
        tenant,
        digest,
        name,
        scan,
        output,
    } = command;
    let client = ApiClient::open(&api, Gate::Unwired)?;
    let report = client.get(&format!(
        "/tenants/{}/images/{}/reports/{}{}",
        segment(&tenant),
        segment(&digest),
        segment(&name),
        query(&[("scan", scan.as_deref())])
    ))?;
    match output {
        Some(path) => {
            std::fs::write(&path, &report.body)
                .with_context(|| format!("cannot write {}", path.display()))?;
            let scan_id = report
                .headers
                .get("x-airlock-scan-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("?");
            eprintln!("wrote {name} of scan {scan_id} to {}", path.display());
        }
        None => std::io::stdout()
            .write_all(&report.body)
            .context("cannot write to standard output")?,
    }
    Ok(0)
}
