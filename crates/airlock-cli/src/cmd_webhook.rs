//! `airlock webhook create|list|delete|test|deliveries|redeliver`: webhook
//! subscriptions and their delivery log, through the management API.
//!
//! The server's dispatcher delivers what these commands queue (a test
//! event, a redelivery) within a second or so.

use std::io::Read;

use anyhow::{Context, bail};
use serde_json::json;

use crate::api_client::{ApiArgs, ApiClient, Gate, Payload, query, segment};
use crate::output::{items, opt_field, print_table, show_once, str_field};

/// Webhook commands.
#[derive(Debug, clap::Subcommand)]
pub enum WebhookCommand {
    /// Subscribe a URL to events; prints the id and the signing secret.
    Create {
        #[command(flatten)]
        api: ApiArgs,
        /// The tenant whose events to send [default: every tenant's, admin only].
        #[arg(long)]
        tenant: Option<String>,
        /// Where to send them (https://...; http:// and private addresses only when allowed).
        #[arg(long)]
        url: String,
        /// Comma-separated event types [default: all], e.g. airlock.image.promoted,airlock.image.rejected.
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
        /// Read the signing secret (whsec_...) from standard input instead of generating one.
        #[arg(long)]
        secret_stdin: bool,
        /// A description shown in listings.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List subscriptions.
    List {
        #[command(flatten)]
        api: ApiArgs,
        /// Only this tenant's [default: all].
        #[arg(long)]
        tenant: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete a subscription; its pending deliveries are dropped.
    Delete {
        #[command(flatten)]
        api: ApiArgs,
        /// The subscription id.
        id: String,
    },
    /// Send a test event to a subscription.
    Test {
        #[command(flatten)]
        api: ApiArgs,
        /// The subscription id.
        id: String,
    },
    /// Show a subscription's deliveries with every attempt (status, latency).
    Deliveries {
        #[command(flatten)]
        api: ApiArgs,
        /// The subscription id.
        id: String,
        /// At most this many deliveries, newest first.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Send an event again to every subscription that had it.
    Redeliver {
        #[command(flatten)]
        api: ApiArgs,
        /// The event id (the CloudEvents id and webhook-id header).
        event_id: String,
    },
}

/// Runs a webhook command.
pub fn run(command: WebhookCommand) -> anyhow::Result<u8> {
    match command {
        WebhookCommand::Create {
            api,
            tenant,
            url,
            events,
            secret_stdin,
            description,
        } => {
            if secret_stdin && api.reads_password_from_stdin() {
                bail!(
                    "--secret-stdin and --server-password-stdin both read standard input: \
                     give the server password in AIRLOCK_PASSWORD instead"
                );
            }
            let secret = if secret_stdin {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("cannot read the secret from standard input")?;
                Some(text.lines().next().unwrap_or("").to_owned())
            } else {
                None
            };
            let client = ApiClient::open(&api, Gate::Unwired)?;
            let created = client.post(
                "/webhooks",
                Payload::Json(json!({
                    "tenant": tenant,
                    "url": url,
                    "events": events,
                    "secret": secret,
                    "description": description,
                })),
            )?;
            println!("created webhook {}", str_field(&created, "id"));
            if !secret_stdin {
                show_once("signing secret", &str_field(&created, "secret"));
            }
        }
        WebhookCommand::List { api, tenant, json } => {
            let client = ApiClient::open(&api, Gate::Unwired)?;
            let webhooks = client.get_json(&format!(
                "/webhooks{}",
                query(&[("tenant", tenant.as_deref())])
            ))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&webhooks)?);
                return Ok(0);
            }
            let rows: Vec<Vec<String>> = items(&webhooks)
                .iter()
                .map(|w| {
                    let events: Vec<String> = items(&w["events"])
                        .iter()
                        .filter_map(|e| e.as_str().map(str::to_owned))
                        .collect();
                    vec![
                        str_field(w, "id"),
                        opt_field(w, "tenant").unwrap_or_else(|| "*".into()),
                        str_field(w, "url"),
                        if events.is_empty() {
                            "all".into()
                        } else {
                            events.join(",")
                        },
                        str_field(w, "created_by"),
                        str_field(w, "created_at"),
                    ]
                })
                .collect();
            print_table(
                &["ID", "TENANT", "URL", "EVENTS", "CREATED BY", "CREATED"],
                &rows,
            );
        }
        WebhookCommand::Delete { api, id } => {
            let client = ApiClient::open(&api, Gate::Unwired)?;
            client.delete(&format!("/webhooks/{}", segment(&id)))?;
            println!("deleted");
        }
        WebhookCommand::Test { api, id } => {
            let client = ApiClient::open(&api, Gate::Unwired)?;
            let delivery =
                client.post(&format!("/webhooks/{}/test", segment(&id)), Payload::Empty)?;
            println!(
                "queued test event {} (delivery {})",
                str_field(&delivery, "event_id"),
                str_field(&delivery, "id")
            );
        }
        WebhookCommand::Deliveries {
            api,
            id,
            limit,
            json,
        } => {
            let client = ApiClient::open(&api, Gate::Unwired)?;
            let deliveries = client.get_json(&format!(
                "/webhooks/{}/deliveries{}",
                segment(&id),
                query(&[("limit", Some(&limit.to_string()))])
            ))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&deliveries)?);
                return Ok(0);
            }
            let mut rows = Vec::new();
            for d in items(&deliveries) {
                rows.push(vec![
                    str_field(d, "event_id"),
                    str_field(d, "event_type"),
                    str_field(d, "state"),
                    str_field(d, "attempts"),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
                for attempt in items(&d["log"]) {
                    rows.push(vec![
                        String::new(),
                        format!("  attempt {}", str_field(attempt, "number")),
                        str_field(attempt, "at"),
                        String::new(),
                        opt_field(attempt, "status").unwrap_or_else(|| "-".into()),
                        format!("{} ms", str_field(attempt, "latency_ms")),
                        str_field(attempt, "error"),
                    ]);
                }
            }
            print_table(
                &[
                    "EVENT", "TYPE", "STATE", "ATTEMPTS", "STATUS", "LATENCY", "ERROR",
                ],
                &rows,
            );
        }
        WebhookCommand::Redeliver { api, event_id } => {
            let client = ApiClient::open(&api, Gate::Unwired)?;
            let deliveries = client.post(
                &format!("/events/{}/redeliver", segment(&event_id)),
                Payload::Empty,
            )?;
            println!("queued {} redelivery(ies)", items(&deliveries).len());
        }
    }
    Ok(0)
}
