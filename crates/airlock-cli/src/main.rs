//! The `airlock` binary: the composition root.
//!
//! Only this crate knows the command line, the configuration file format and
//! `anyhow`. Every subcommand lives in its own `cmd_*` module and returns the
//! process exit code. The management subcommands (tenant, user, robot,
//! audit, policy, exception, webhook, report) are clients of the management
//! API, in process or on a server ([`api_client`]).

mod api_client;
mod backends;
mod cmd_audit;
mod cmd_db;
mod cmd_gate;
mod cmd_gc;
mod cmd_migrate;
mod cmd_report;
mod cmd_robot;
mod cmd_scan;
mod cmd_scan_job;
mod cmd_serve;
mod cmd_tenant;
mod cmd_user;
mod cmd_wait;
mod cmd_webhook;
mod cmd_worker;
mod config;
mod duties;
#[cfg(feature = "kubernetes")]
mod k8s_executor;
mod output;
mod scan_runner;
mod vuln_matcher;

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
    /// Run one isolated scan job (started by the server; JSON on stdin and stdout).
    #[command(hide = true)]
    ScanJob(cmd_scan_job::ScanJobArgs),
    /// Manage the vulnerability database.
    #[command(subcommand)]
    Db(cmd_db::DbCommand),
    /// Run scan workers and background work (webhooks, maintenance, gc) without the HTTP server.
    Worker(cmd_worker::WorkerArgs),
    /// Apply the metadata database's migrations (PostgreSQL needs this before `serve`).
    Migrate(cmd_migrate::MigrateArgs),
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
    /// Set and show the gate's policies.
    #[command(subcommand)]
    Policy(cmd_gate::PolicyCommand),
    /// Request, approve, list and revoke policy exceptions.
    #[command(subcommand)]
    Exception(cmd_gate::ExceptionCommand),
    /// Manage webhook subscriptions and read their delivery log.
    #[command(subcommand)]
    Webhook(cmd_webhook::WebhookCommand),
    /// Download scan reports (HTML, JSON, SARIF, CycloneDX, SPDX).
    #[command(subcommand)]
    Report(cmd_report::ReportCommand),
    /// Wait until the gate decides on a pushed image (exit 0 promoted, 1 rejected, 2 otherwise).
    Wait(cmd_wait::WaitArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => cmd_serve::run(args),
        Command::Gc(args) => cmd_gc::run(args),
        Command::Scan(args) => cmd_scan::run(args),
        Command::ScanJob(args) => cmd_scan_job::run(args),
        Command::Db(command) => cmd_db::run(command),
        Command::Tenant(command) => cmd_tenant::run(command),
        Command::Worker(args) => cmd_worker::run(args),
        Command::Migrate(args) => cmd_migrate::run(args),
        Command::User(command) => cmd_user::run(command),
        Command::Robot(command) => cmd_robot::run(command),
        Command::Audit(command) => cmd_audit::run(command),
        Command::Policy(command) => cmd_gate::run_policy(command),
        Command::Exception(command) => cmd_gate::run_exception(command),
        Command::Wait(args) => cmd_wait::run(args),
        Command::Webhook(command) => cmd_webhook::run(command),
        Command::Report(command) => cmd_report::run(command),
    };
    match result {
        Ok(code) => std::process::ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}
