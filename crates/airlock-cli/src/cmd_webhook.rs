//! `airlock webhook create|list|delete|test|deliveries|redeliver`: webhook
//! subscriptions and their delivery log, against the data directory.
//!
//! The server's dispatcher delivers what these commands queue (a test
//! event, a redelivery) within a second or so.

use std::io::Read;

use anyhow::Context;

use crate::config::CommonArgs;
use crate::local::{print_table, show_once, time_text, with_accounts};

/// Webhook commands.
#[derive(Debug, clap::Subcommand)]
pub enum WebhookCommand {
    /// Subscribe a URL to events; prints the id and the signing secret.
    Create {
        #[command(flatten)]
        common: CommonArgs,
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
        common: CommonArgs,
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
        common: CommonArgs,
        /// The subscription id.
        id: String,
    },
    /// Send a test event to a subscription.
    Test {
        #[command(flatten)]
        common: CommonArgs,
        /// The subscription id.
        id: String,
    },
    /// Show a subscription's deliveries with every attempt (status, latency).
    Deliveries {
        #[command(flatten)]
        common: CommonArgs,
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
        common: CommonArgs,
        /// The event id (the CloudEvents id and webhook-id header).
        event_id: String,
    },
}

/// Runs a webhook command.
pub fn run(command: WebhookCommand) -> anyhow::Result<u8> {
    match command {
        WebhookCommand::Create {
            common,
            tenant,
            url,
            events,
            secret_stdin,
            description,
        } => {
            let secret = if secret_stdin {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("cannot read the secret from standard input")?;
                Some(text.lines().next().unwrap_or("").to_owned())
            } else {
                None
            };
            let new = airlock_accounts::NewWebhook {
                tenant,
                url,
                events,
                secret,
                description,
            };
            let created = with_accounts(&common, |accounts, operator, request| async move {
                accounts.create_webhook(&operator, new, &request).await
            })?;
            println!("created webhook {}", created.webhook.id);
            if !secret_stdin {
                show_once("signing secret", &created.secret);
            }
        }
        WebhookCommand::List {
            common,
            tenant,
            json,
        } => {
            let webhooks = with_accounts(&common, |accounts, operator, _| async move {
                accounts.webhooks(&operator, tenant.as_deref()).await
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&webhooks)?);
                return Ok(0);
            }
            let rows: Vec<Vec<String>> = webhooks
                .iter()
                .map(|w| {
                    vec![
                        w.id.clone(),
                        w.tenant.clone().unwrap_or_else(|| "*".into()),
                        w.url.clone(),
                        if w.events.is_empty() {
                            "all".into()
                        } else {
                            w.events.join(",")
                        },
                        w.created_by.clone(),
                        time_text(w.created_at),
                    ]
                })
                .collect();
            print_table(
                &["ID", "TENANT", "URL", "EVENTS", "CREATED BY", "CREATED"],
                &rows,
            );
        }
        WebhookCommand::Delete { common, id } => {
            with_accounts(&common, |accounts, operator, request| async move {
                accounts.delete_webhook(&operator, &id, &request).await
            })?;
            println!("deleted");
        }
        WebhookCommand::Test { common, id } => {
            let delivery = with_accounts(&common, |accounts, operator, request| async move {
                accounts.test_webhook(&operator, &id, &request).await
            })?;
            println!(
                "queued test event {} (delivery {})",
                delivery.event_id, delivery.id
            );
        }
        WebhookCommand::Deliveries {
            common,
            id,
            limit,
            json,
        } => {
            let deliveries = with_accounts(&common, |accounts, operator, _| async move {
                accounts.webhook_deliveries(&operator, &id, limit).await
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&deliveries)?);
                return Ok(0);
            }
            let mut rows = Vec::new();
            for d in &deliveries {
                rows.push(vec![
                    d.event_id.clone(),
                    d.event_type.clone(),
                    d.state.to_owned(),
                    d.attempts.to_string(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
                for attempt in &d.log {
                    rows.push(vec![
                        String::new(),
                        format!("  attempt {}", attempt.number),
                        time_text(attempt.at),
                        String::new(),
                        attempt.status.map_or_else(|| "-".into(), |s| s.to_string()),
                        format!("{} ms", attempt.latency_ms),
                        attempt.error.clone().unwrap_or_default(),
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
        WebhookCommand::Redeliver { common, event_id } => {
            let deliveries = with_accounts(&common, |accounts, operator, request| async move {
                accounts
                    .redeliver_event(&operator, &event_id, &request)
                    .await
            })?;
            println!("queued {} redelivery(ies)", deliveries.len());
        }
    }
    Ok(0)
}
