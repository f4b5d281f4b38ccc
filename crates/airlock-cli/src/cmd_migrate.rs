//! `airlock migrate`: applies the metadata database's migrations.
//!
//! SQLite migrates itself on open, so this is only needed (and only does
//! something) for PostgreSQL, where `serve` and `worker` refuse a schema
//! that is not exactly the one they know. Safe to run from several
//! processes at once: the migrator holds an advisory lock.

use anyhow::Context;

use crate::config::{CommonArgs, Config};

/// Arguments of `airlock migrate`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    common: CommonArgs,
}

/// Runs `airlock migrate`.
pub fn run(args: MigrateArgs) -> anyhow::Result<u8> {
    let config = Config::load(&args.common, None)?;
    config.init_logging();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let done = runtime.block_on(crate::backends::migrate(&config))?;
    println!("{done}");
    Ok(0)
}
