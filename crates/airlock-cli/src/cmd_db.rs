//! `airlock db`: placeholder until the vulnerability database lands.

/// Subcommands of `airlock db`.
#[derive(Debug, clap::Subcommand)]
pub enum DbCommand {
    /// Show each ecosystem's record count and last refresh.
    Status,
}

/// Runs `airlock db`.
pub fn run(command: DbCommand) -> anyhow::Result<u8> {
    anyhow::bail!("{command:?} is not implemented yet")
}
