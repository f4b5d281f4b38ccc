//! The `airlock` binary: the composition root.
//!
//! Only this crate knows the command line, the configuration file format and
//! `anyhow`. Every subcommand lives in its own `cmd_*` module and returns the
//! process exit code.

mod cmd_audit;
mod cmd_db;
mod cmd_gc;
mod cmd_robot;
mod cmd_scan;
mod cmd_serve;
mod cmd_tenant;
mod cmd_user;
mod config;
mod local;

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
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(cmd_tenant::TenantCommand),
    /// Manage users and their roles.
    #[command(subcommand)]
    User(cmd_user::UserCommand),
    /// Manage robot accounts.
    #[command(subcommand)]
    Robot(cmd_robot::RobotCommand),
    /// Export and verify the audit log.
    #[command(subcommand)]
    Audit(cmd_audit::AuditCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => cmd_serve::run(args),
        Command::Gc(args) => cmd_gc::run(args),
        Command::Scan(args) => cmd_scan::run(args),
        Command::Db(command) => cmd_db::run(command),
        Command::Tenant(command) => cmd_tenant::run(command),
        Command::User(command) => cmd_user::run(command),
        Command::Robot(command) => cmd_robot::run(command),
        Command::Audit(command) => cmd_audit::run(command),
    };
    match result {
        Ok(code) => std::process::ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}
