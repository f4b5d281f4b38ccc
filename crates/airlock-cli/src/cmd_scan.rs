//! `airlock scan`: placeholder until the scanner lands.

/// Arguments of `airlock scan`.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// What to scan.
    pub target: String,
}

/// Runs `airlock scan`.
pub fn run(args: ScanArgs) -> anyhow::Result<u8> {
    anyhow::bail!("scanning {} is not implemented yet", args.target)
}
