//! `airlock worker`: scan workers without the HTTP server, against the same
//! data directory (or, at scale, the same database) as `airlock serve`.

use anyhow::Context;

use crate::config::{CommonArgs, Config, ServerArgs};

/// Arguments of `airlock worker`.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    server: ServerArgs,
}

/// Runs `airlock worker` until SIGTERM or SIGINT.
pub fn run(args: WorkerArgs) -> anyhow::Result<u8> {
    let config = Config::load(&args.common, Some(&args.server))?;
    config.init_logging();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let database = crate::cmd_serve::open_database(&config).await?;
        let gate = crate::cmd_serve::open_gate(&config, database).await?;
        let stop = tokio_util::sync::CancellationToken::new();
        let workers =
            crate::cmd_serve::start_gate_workers(&gate, config.scan_workers.max(1), &stop);
        tracing::info!(
            workers = config.scan_workers.max(1),
            "airlock scan workers are running"
        );
        crate::cmd_serve::shutdown_signal().await;
        stop.cancel();
        for worker in workers {
            let _ = worker.await;
        }
        anyhow::Ok(())
    })?;
    Ok(0)
}
