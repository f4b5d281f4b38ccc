//! `airlock policy set|show|history|dry-run` and
//! `airlock exception request|approve|reject|list|revoke`:
//! the gate's policies and exceptions, against the data directory.
//!
//! Like the other management commands, these act as the local operator
//! `cli:<OS user>`. An exception requested and approved by the same OS
//! user is therefore refused as self-approval: the four-eyes rule holds on
//! the command line too. Changes that can alter verdicts queue
//! re-evaluations in the database; the server's (or `airlock worker`'s)
//! workers run them.

use std::future::Future;
use std::sync::Arc;

use airlock_accounts::{
    Accounts, AccountsError, DryRunFailure, DryRunImage, ExceptionRequest, GateTrigger, Operator,
};
use airlock_audit::RequestContext;
use airlock_auth::TenantId;
use airlock_gate::Gate;
use airlock_policy::Policy;
use anyhow::Context;

use crate::config::{CommonArgs, Config, parse_duration};
use crate::local::{local_operator, print_table, time_text};

/// Re-evaluation through the gate: queues jobs for promoted images.
pub struct GateReevaluation(pub Arc<Gate>);

#[async_trait::async_trait]
impl GateTrigger for GateReevaluation {
    async fn reevaluate(&self, tenant: Option<&TenantId>) -> Result<u64, String> {
        self.0
            .reevaluate_all(tenant)
            .await
            .map_err(|e| e.to_string())
    }

    async fn dry_run(
        &self,
        tenant: &TenantId,
        policy: &Policy,
    ) -> Result<Vec<DryRunImage>, String> {
        let outcomes = self
            .0
            .dry_run(tenant, policy)
            .await
            .map_err(|e| e.to_string())?;
        Ok(outcomes
            .into_iter()
            .map(|(image, would_pass, failures)| DryRunImage {
                repository: image.repository.to_string(),
                digest: image.digest.to_string(),
                would_pass,
                failures: failures
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|f| DryRunFailure {
                        rule: f["rule"].as_str().unwrap_or_default().to_owned(),
                        message: f["message"].as_str().unwrap_or_default().to_owned(),
                    })
                    .collect(),
            })
            .collect())
    }
}

/// Policy commands.
#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy file and store it as the newest version; prints the version.
    Set {
        #[command(flatten)]
        common: CommonArgs,
        /// The tenant [default: the global policy].
        #[arg(long)]
        tenant: Option<String>,
        /// The YAML policy file.
        file: std::path::PathBuf,
    },
    /// Print the newest policy.
    Show {
        #[command(flatten)]
        common: CommonArgs,
        /// The tenant [default: the global policy].
        #[arg(long)]
        tenant: Option<String>,
    },
    /// List every stored version of a policy, newest first.
    History {
        #[command(flatten)]
        common: CommonArgs,
        /// The tenant [default: the global policy].
        #[arg(long)]
        tenant: Option<String>,
        /// Print JSON (with the documents) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show what a policy file would decide for the tenant's images in
    /// scanned/, without storing it; exits 1 when any image would fail.
    DryRun {
        #[command(flatten)]
        common: CommonArgs,
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The YAML policy file.
        file: std::path::PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Exception commands.
#[derive(Debug, clap::Subcommand)]
pub enum ExceptionCommand {
    /// Request an exception; prints its id. Someone else must approve it.
    Request {
        #[command(flatten)]
        common: CommonArgs,
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The vulnerability id, e.g. CVE-2024-1234.
        #[arg(long = "id")]
        vulnerability: String,
        /// Only for this package.
        #[arg(long)]
        package: Option<String>,
        /// Only for this repository (unscanned/<tenant>/<name>).
        #[arg(long)]
        repository: Option<String>,
        /// Only for this manifest digest.
        #[arg(long)]
        digest: Option<String>,
        /// Why it is acceptable.
        #[arg(long)]
        reason: String,
        /// How long it applies, e.g. 30d (at most 366d).
        #[arg(long)]
        expires: String,
    },
    /// Approve an exception (not your own request).
    Approve {
        #[command(flatten)]
        common: CommonArgs,
        /// Its id, EXC-<n>.
        id: String,
    },
    /// List a tenant's exceptions.
    List {
        #[command(flatten)]
        common: CommonArgs,
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Reject a pending exception request.
    Reject {
        #[command(flatten)]
        common: CommonArgs,
        /// Its id, EXC-<n>.
        id: String,
    },
    /// Revoke an exception.
    Revoke {
        #[command(flatten)]
        common: CommonArgs,
        /// Its id, EXC-<n>.
        id: String,
    },
}

/// Runs `body` with the accounts service wired to the gate, as the local operator.
fn with_gate_accounts<T, F, Fut>(common: &CommonArgs, body: F) -> anyhow::Result<T>
where
    F: FnOnce(Arc<Accounts>, Operator, RequestContext) -> Fut,
    Fut: Future<Output = Result<T, AccountsError>>,
{
    let config = Config::load(common, None)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let database = crate::cmd_serve::open_database(&config).await?;
        let accounts = crate::cmd_serve::open_accounts(&config, database.clone())?;
        let gate = crate::cmd_serve::open_gate(&config, database).await?;
        accounts.set_gate_trigger(Arc::new(GateReevaluation(gate)));
        body(accounts, local_operator(), RequestContext::default())
            .await
            .map_err(anyhow::Error::from)
    })
}

/// Runs a policy command.
pub fn run_policy(command: PolicyCommand) -> anyhow::Result<u8> {
    match command {
        PolicyCommand::Set {
            common,
            tenant,
            file,
        } => {
            let document = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read policy file {}", file.display()))?;
            let policy = with_gate_accounts(&common, |accounts, operator, request| async move {
                accounts
                    .set_policy(&operator, &request, tenant.as_deref(), &document)
                    .await
            })?;
            let scope = policy.tenant.map_or_else(
                || "global policy".to_owned(),
                |t| format!("policy of tenant {t}"),
            );
            println!("stored {scope} version {}", policy.version);
        }
        PolicyCommand::History {
            common,
            tenant,
            json,
        } => {
            let versions =
                crate::local::with_accounts(&common, |accounts, operator, _| async move {
                    accounts.policy_versions(&operator, tenant.as_deref()).await
                })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&versions)?);
            } else {
                let rows: Vec<Vec<String>> = versions
                    .into_iter()
                    .map(|p| {
                        vec![
                            p.version.to_string(),
                            p.author,
                            time_text(p.created_at),
                            p.document.lines().count().to_string(),
                        ]
                    })
                    .collect();
                print_table(&["VERSION", "AUTHOR", "CREATED", "LINES"], &rows);
            }
        }
        PolicyCommand::DryRun {
            common,
            tenant,
            file,
            json,
        } => {
            let document = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read policy file {}", file.display()))?;
            let outcome = with_gate_accounts(&common, |accounts, operator, request| async move {
                accounts
                    .dry_run_policy(&operator, &request, &tenant, &document)
                    .await
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&outcome)?);
            } else {
                let rows: Vec<Vec<String>> = outcome
                    .images
                    .iter()
                    .map(|i| {
                        let rules: Vec<&str> = i.failures.iter().map(|f| f.rule.as_str()).collect();
                        vec![
                            i.repository.clone(),
                            i.digest.clone(),
                            if i.would_pass { "pass" } else { "FAIL" }.to_owned(),
                            rules.join(","),
                        ]
                    })
                    .collect();
                print_table(&["REPOSITORY", "DIGEST", "VERDICT", "FAILING RULES"], &rows);
                println!(
                    "{} of {} images in scanned/ would fail",
                    outcome.would_fail, outcome.evaluated
                );
            }
            return Ok(u8::from(outcome.would_fail > 0));
        }
        PolicyCommand::Show { common, tenant } => {
            let shown = tenant.clone();
            let policy =
                crate::local::with_accounts(&common, |accounts, operator, _| async move {
                    accounts.policy(&operator, tenant.as_deref()).await
                })?;
            match policy {
                Some(policy) => {
                    println!(
                        "# version {} by {} at {}",
                        policy.version,
                        policy.author,
                        time_text(policy.created_at)
                    );
                    print!("{}", policy.document);
                    if !policy.document.ends_with('\n') {
                        println!();
                    }
                }
                None => match shown {
                    Some(t) => println!("no policy set for tenant {t}; the global policy applies"),
                    None => {
                        println!("# no global policy set; the built-in default applies:");
                        print!("{}", airlock_policy::Policy::default_policy().to_yaml());
                    }
                },
            }
        }
    }
    Ok(0)
}

/// Runs an exception command.
pub fn run_exception(command: ExceptionCommand) -> anyhow::Result<u8> {
    match command {
        ExceptionCommand::Request {
            common,
            tenant,
            vulnerability,
            package,
            repository,
            digest,
            reason,
            expires,
        } => {
            let expires_in = parse_duration(&expires).context("invalid --expires")?;
            let exception =
                with_gate_accounts(&common, |accounts, operator, request| async move {
                    accounts
                        .request_exception(
                            &operator,
                            &request,
                            &tenant,
                            ExceptionRequest {
                                vulnerability,
                                package,
                                repository,
                                digest,
                                reason,
                                expires_in,
                            },
                        )
                        .await
                })?;
            println!("{}", exception.id);
        }
        ExceptionCommand::Approve { common, id } => {
            let exception =
                with_gate_accounts(&common, |accounts, operator, request| async move {
                    accounts
                        .approve_exception(&operator, &request, None, &id)
                        .await
                })?;
            println!(
                "approved {} ({} in tenant {}) until {}",
                exception.id,
                exception.vulnerability,
                exception.tenant,
                time_text(exception.expires_at)
            );
        }
        ExceptionCommand::List {
            common,
            tenant,
            json,
        } => {
            let exceptions =
                crate::local::with_accounts(&common, |accounts, operator, _| async move {
                    accounts.exceptions(&operator, &tenant).await
                })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&exceptions)?);
            } else {
                let rows: Vec<Vec<String>> = exceptions
                    .into_iter()
                    .map(|e| {
                        let scope = [e.package, e.repository, e.digest]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>()
                            .join(" ");
                        vec![
                            e.id,
                            e.vulnerability,
                            if scope.is_empty() { "*".into() } else { scope },
                            e.status.to_owned(),
                            e.requested_by,
                            e.approved_by.unwrap_or_else(|| "-".into()),
                            time_text(e.expires_at),
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "ID",
                        "VULNERABILITY",
                        "SCOPE",
                        "STATUS",
                        "REQUESTED BY",
                        "APPROVED BY",
                        "EXPIRES",
                    ],
                    &rows,
                );
            }
        }
        ExceptionCommand::Reject { common, id } => {
            let exception =
                with_gate_accounts(&common, |accounts, operator, request| async move {
                    accounts
                        .reject_exception(&operator, &request, None, &id)
                        .await
                })?;
            println!(
                "rejected {} ({} in tenant {})",
                exception.id, exception.vulnerability, exception.tenant
            );
        }
        ExceptionCommand::Revoke { common, id } => {
            let shown = id.clone();
            with_gate_accounts(&common, |accounts, operator, request| async move {
                accounts
                    .revoke_exception(&operator, &request, None, &id)
                    .await
            })?;
            println!("revoked {shown}");
        }
    }
    Ok(0)
}
