//! `airlock policy set|show|history|dry-run` and
//! `airlock exception request|approve|reject|list|revoke`:
//! the gate's policies and exceptions, through the management API.
//!
//! Like the other management commands, these act in process as the local
//! operator `cli:<OS user>`, or with `--server` as the signed-in user. An
//! exception requested and approved by the same OS user (or the same
//! user) is therefore refused as self-approval: the four-eyes rule holds
//! on the command line too. Changes that can alter verdicts queue
//! re-evaluations in the database; the server's (or `airlock worker`'s)
//! workers run them.

use std::sync::Arc;

use airlock_accounts::{DryRunFailure, DryRunImage, GateTrigger};
use airlock_auth::TenantId;
use airlock_gate::Gate;
use airlock_policy::Policy;
use anyhow::{Context, bail};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::api_client::{self, ApiArgs, ApiClient, Payload, segment};
use crate::config::parse_duration;
use crate::output::{items, opt_field, print_table, str_field};

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
        api: ApiArgs,
        /// The tenant [default: the global policy].
        #[arg(long)]
        tenant: Option<String>,
        /// The YAML policy file.
        file: std::path::PathBuf,
    },
    /// Print the newest policy.
    Show {
        #[command(flatten)]
        api: ApiArgs,
        /// The tenant [default: the global policy].
        #[arg(long)]
        tenant: Option<String>,
    },
    /// List every stored version of a policy, newest first.
    History {
        #[command(flatten)]
        api: ApiArgs,
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
        api: ApiArgs,
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
        api: ApiArgs,
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
        api: ApiArgs,
        /// Its tenant [default: found among the tenants you can see].
        #[arg(long)]
        tenant: Option<String>,
        /// Its id, EXC-<n>.
        id: String,
    },
    /// List a tenant's exceptions.
    List {
        #[command(flatten)]
        api: ApiArgs,
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
        api: ApiArgs,
        /// Its tenant [default: found among the tenants you can see].
        #[arg(long)]
        tenant: Option<String>,
        /// Its id, EXC-<n>.
        id: String,
    },
    /// Revoke an exception.
    Revoke {
        #[command(flatten)]
        api: ApiArgs,
        /// Its tenant [default: found among the tenants you can see].
        #[arg(long)]
        tenant: Option<String>,
        /// Its id, EXC-<n>.
        id: String,
    },
}

/// The API path of a policy: the global one, or a tenant's.
fn policy_path(tenant: Option<&str>) -> String {
    match tenant {
        Some(t) => format!("/tenants/{}/policy", segment(t)),
        None => "/policies/global".to_owned(),
    }
}

fn read_policy_file(file: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(file)
        .with_context(|| format!("cannot read policy file {}", file.display()))
}

/// Runs a policy command.
pub fn run_policy(command: PolicyCommand) -> anyhow::Result<u8> {
    match command {
        PolicyCommand::Set { api, tenant, file } => {
            let document = read_policy_file(&file)?;
            let client = ApiClient::open(&api, api_client::Gate::Wired)?;
            let policy = client.put(&policy_path(tenant.as_deref()), Payload::Yaml(document))?;
            let scope = opt_field(&policy, "tenant").map_or_else(
                || "global policy".to_owned(),
                |t| format!("policy of tenant {t}"),
            );
            println!("stored {scope} version {}", str_field(&policy, "version"));
        }
        PolicyCommand::History { api, tenant, json } => {
            let client = ApiClient::open(&api, api_client::Gate::Unwired)?;
            let versions = client
                .get_json(&format!("{}/versions", policy_path(tenant.as_deref())))?["versions"]
                .take();
            if json {
                println!("{}", serde_json::to_string_pretty(&versions)?);
            } else {
                let rows: Vec<Vec<String>> = items(&versions)
                    .iter()
                    .map(|p| {
                        vec![
                            str_field(p, "version"),
                            str_field(p, "author"),
                            str_field(p, "created_at"),
                            str_field(p, "document").lines().count().to_string(),
                        ]
                    })
                    .collect();
                print_table(&["VERSION", "AUTHOR", "CREATED", "LINES"], &rows);
            }
        }
        PolicyCommand::DryRun {
            api,
            tenant,
            file,
            json,
        } => {
            let document = read_policy_file(&file)?;
            let client = ApiClient::open(&api, api_client::Gate::Wired)?;
            let outcome = client.post(
                &format!("/tenants/{}/policy/dry-run", segment(&tenant)),
                Payload::Yaml(document),
            )?;
            let would_fail = outcome["would_fail"].as_u64().unwrap_or(0);
            if json {
                println!("{}", serde_json::to_string_pretty(&outcome)?);
            } else {
                let rows: Vec<Vec<String>> = items(&outcome["images"])
                    .iter()
                    .map(|i| {
                        let rules: Vec<String> = items(&i["failures"])
                            .iter()
                            .map(|f| str_field(f, "rule"))
                            .collect();
                        vec![
                            str_field(i, "repository"),
                            str_field(i, "digest"),
                            if i["would_pass"].as_bool().unwrap_or(false) {
                                "pass"
                            } else {
                                "FAIL"
                            }
                            .to_owned(),
                            rules.join(","),
                        ]
                    })
                    .collect();
                print_table(&["REPOSITORY", "DIGEST", "VERDICT", "FAILING RULES"], &rows);
                println!(
                    "{would_fail} of {} images in scanned/ would fail",
                    str_field(&outcome, "evaluated")
                );
            }
            return Ok(u8::from(would_fail > 0));
        }
        PolicyCommand::Show { api, tenant } => {
            let client = ApiClient::open(&api, api_client::Gate::Unwired)?;
            let policy = match client.get_json(&policy_path(tenant.as_deref())) {
                Ok(policy) => Some(policy),
                // The API answers 404 when no policy was set at this level.
                Err(e) if api_client::is_status(&e, StatusCode::NOT_FOUND) => None,
                Err(e) => return Err(e),
            };
            match policy {
                Some(policy) => {
                    let document = str_field(&policy, "document");
                    println!(
                        "# version {} by {} at {}",
                        str_field(&policy, "version"),
                        str_field(&policy, "author"),
                        str_field(&policy, "created_at")
                    );
                    print!("{document}");
                    if !document.ends_with('\n') {
                        println!();
                    }
                }
                None => match tenant {
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

/// The API path of exception `id`: in `tenant`, or in whichever tenant
/// visible to the caller holds it.
fn exception_path(client: &ApiClient, tenant: Option<String>, id: &str) -> anyhow::Result<String> {
    let tenant = match tenant {
        Some(t) => t,
        None => find_exception_tenant(client, id)?,
    };
    Ok(format!(
        "/tenants/{}/exceptions/{}",
        segment(&tenant),
        segment(id)
    ))
}

fn find_exception_tenant(client: &ApiClient, id: &str) -> anyhow::Result<String> {
    let tenants = client.get_json("/tenants")?;
    for tenant in items(&tenants["tenants"]) {
        let tenant = str_field(tenant, "id");
        // Tenants whose exceptions the caller may not read are skipped.
        let Ok(listed) = client.get_json(&format!("/tenants/{}/exceptions", segment(&tenant)))
        else {
            continue;
        };
        if items(&listed["exceptions"])
            .iter()
            .any(|e| e["id"].as_str() == Some(id))
        {
            return Ok(tenant);
        }
    }
    bail!("exception {id} not found in the tenants you can see; name its tenant with --tenant")
}

/// Runs an exception command.
pub fn run_exception(command: ExceptionCommand) -> anyhow::Result<u8> {
    match command {
        ExceptionCommand::Request {
            api,
            tenant,
            vulnerability,
            package,
            repository,
            digest,
            reason,
            expires,
        } => {
            let expires_in = parse_duration(&expires).context("invalid --expires")?;
            let client = ApiClient::open(&api, api_client::Gate::Wired)?;
            let exception = client.post(
                &format!("/tenants/{}/exceptions", segment(&tenant)),
                Payload::Json(json!({
                    "vulnerability": vulnerability,
                    "package": package,
                    "repository": repository,
                    "digest": digest,
                    "reason": reason,
                    "expires_in_seconds": expires_in.as_secs(),
                })),
            )?;
            println!("{}", str_field(&exception, "id"));
        }
        ExceptionCommand::Approve { api, tenant, id } => {
            let client = ApiClient::open(&api, api_client::Gate::Wired)?;
            let path = exception_path(&client, tenant, &id)?;
            let exception = client.post(&format!("{path}/approve"), Payload::Empty)?;
            println!(
                "approved {} ({} in tenant {}) until {}",
                str_field(&exception, "id"),
                str_field(&exception, "vulnerability"),
                str_field(&exception, "tenant"),
                str_field(&exception, "expires_at")
            );
        }
        ExceptionCommand::List { api, tenant, json } => {
            let client = ApiClient::open(&api, api_client::Gate::Unwired)?;
            let exceptions = client
                .get_json(&format!("/tenants/{}/exceptions", segment(&tenant)))?["exceptions"]
                .take();
            if json {
                println!("{}", serde_json::to_string_pretty(&exceptions)?);
            } else {
                let rows: Vec<Vec<String>> = items(&exceptions).iter().map(exception_row).collect();
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
        ExceptionCommand::Reject { api, tenant, id } => {
            let client = ApiClient::open(&api, api_client::Gate::Wired)?;
            let path = exception_path(&client, tenant, &id)?;
            let exception = client.post(&format!("{path}/reject"), Payload::Empty)?;
            println!(
                "rejected {} ({} in tenant {})",
                str_field(&exception, "id"),
                str_field(&exception, "vulnerability"),
                str_field(&exception, "tenant")
            );
        }
        ExceptionCommand::Revoke { api, tenant, id } => {
            let client = ApiClient::open(&api, api_client::Gate::Wired)?;
            let path = exception_path(&client, tenant, &id)?;
            client.delete(&path)?;
            println!("revoked {id}");
        }
    }
    Ok(0)
}

fn exception_row(e: &Value) -> Vec<String> {
    let scope = ["package", "repository", "digest"]
        .into_iter()
        .filter_map(|key| opt_field(e, key))
        .collect::<Vec<_>>()
        .join(" ");
    vec![
        str_field(e, "id"),
        str_field(e, "vulnerability"),
        if scope.is_empty() { "*".into() } else { scope },
        str_field(e, "status"),
        str_field(e, "requested_by"),
        opt_field(e, "approved_by").unwrap_or_else(|| "-".into()),
        str_field(e, "expires_at"),
    ]
}
