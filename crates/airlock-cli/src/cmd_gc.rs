//! `airlock gc`: garbage collection, safe beside a running server.

use airlock_registry::GcOptions;
use anyhow::Context;

use crate::config::{CommonArgs, Config, parse_duration};

/// Arguments of `airlock gc`.
#[derive(Debug, clap::Args)]
pub struct GcArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Keep blobs written or linked more recently than this (pushes in flight).
    #[arg(long, default_value = "1h")]
    grace: String,
    /// Upload sessions idle longer than this are removed.
    #[arg(long, env = "AIRLOCK_UPLOAD_TTL", default_value = "24h")]
    upload_ttl: String,
    /// Only report what would be removed.
    #[arg(long)]
    dry_run: bool,
}

/// Runs `airlock gc`.
pub fn run(args: GcArgs) -> anyhow::Result<u8> {
    let mut config = Config::load(&args.common, None)?;
    config.upload_ttl = parse_duration(&args.upload_ttl).context("invalid --upload-ttl")?;
    let grace = parse_duration(&args.grace).context("invalid --grace")?;
    config.init_logging();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let report = runtime.block_on(async {
        let registry = crate::cmd_serve::open_registry(&config).await?;
        registry
            .gc(&GcOptions {
                grace,
                dry_run: args.dry_run,
            })
            .await
            .context("garbage collection failed")
    })?;
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    println!(
        "gc {verb}: {} blobs ({} bytes), {} orphaned manifests, {} expired uploads",
        report.blobs_removed, report.bytes_removed, report.orphan_manifests, report.expired_uploads
    );
    Ok(0)
}
