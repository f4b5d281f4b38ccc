//! The `airlock` binary: the composition root.
//!
//! Only this crate knows the command line, the configuration file format and
//! `anyhow`. Every subcommand lives in its own `cmd_*` module and returns the
//! process exit code.

mod cmd_db;
mod cmd_gc;
mod cmd_scan;
mod cmd_serve;
mod config;

use clap::{Parser, Subcommand};

/// airlock: a container registry with a quarantine gate.
#[derive(Debug, Parser)]
#[command(name = "airlock", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the registry.
    Serve(cmd_serve::ServeArgs),
    /// Remove unreferenced blobs, orphaned manifests and expired uploads.
    Gc(cmd_gc::GcArgs),
    /// Scan an image and print its package inventory and vulnerabilities.
    Scan(cmd_scan::ScanArgs),
    /// Manage the vulnerability database.
    #[command(subcommand)]
    Db(cmd_db::DbCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => cmd_serve::run(args),
        Command::Gc(args) => cmd_gc::run(args),
        Command::Scan(args) => cmd_scan::run(args),
        Command::Db(command) => cmd_db::run(command),
    };
    match result {
        Ok(code) => std::process::ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}
