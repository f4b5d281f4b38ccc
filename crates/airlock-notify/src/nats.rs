//! The NATS JetStream sink (feature `nats`): `nats://host:port`
//! subscriptions publish the CloudEvent body instead of POSTing it.
//!
//! Subjects are `airlock.<tenant>.<type>`, with the event type's
//! `airlock.` prefix dropped and `_global` for events of no tenant, so
//! consumers filter with ordinary subject wildcards
//! (`airlock.acme.>`, `airlock.*.image.pushed`). Every message carries the
//! event id as `Nats-Msg-Id`, which JetStream uses to drop duplicates
//! within the stream's de-duplication window: a retry after a lost ack is
//! stored once. An attempt succeeds only when JetStream acknowledged the
//! message, i.e. it is persisted in the `AIRLOCK` stream, which is created
//! on first use (subjects `airlock.>`) if it does not exist.
//!
//! Broker URLs are not held to the HTTP target policy: a broker is part
//! of the deployment, normally on a private network. Who may create such a
//! subscription is for the API to decide.

use std::collections::HashMap;
use std::time::Duration;

use airlock_store::OutboxEvent;
use async_nats::jetstream;
use tokio::sync::Mutex;

use crate::NotifyError;
use crate::dispatcher::Failure;

/// The stream every event is stored in.
pub(crate) const STREAM: &str = "AIRLOCK";
/// The subjects of [`STREAM`].
const STREAM_SUBJECTS: &str = "airlock.>";
/// The subject segment of events that belong to no tenant.
const GLOBAL_TENANT: &str = "_global";

/// Checks the shape of a `nats://` URL: a host, optionally a port, no
/// credentials (they would show in listings), no path.
pub(crate) fn check_url(url: &str) -> Result<(), NotifyError> {
    let invalid = |reason: &str| NotifyError::InvalidNatsUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    if parsed.scheme() != "nats" {
        return Err(invalid("the scheme must be nats"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("credentials are not allowed in the url"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host"));
    }
    if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() {
        return Err(invalid("a path or query is not allowed"));
    }
    Ok(())
}

/// The subject an event is published on.
pub(crate) fn subject(event: &OutboxEvent) -> String {
    let tenant = event.tenant.as_deref().unwrap_or(GLOBAL_TENANT);
    let event_type = event
        .event_type
        .strip_prefix("airlock.")
        .unwrap_or(&event.event_type);
    format!("airlock.{tenant}.{event_type}")
}

/// Publishes to JetStream, one connection per broker URL.
#[derive(Debug)]
pub(crate) struct NatsSink {
    contexts: Mutex<HashMap<String, jetstream::Context>>,
    timeout: Duration,
}

impl NatsSink {
    pub(crate) fn new(timeout: Duration) -> NatsSink {
        NatsSink {
            contexts: Mutex::new(HashMap::new()),
            timeout,
        }
    }

    /// Publishes `body` for `event` and waits for JetStream's ack.
    pub(crate) async fn publish(
        &self,
        url: &str,
        event: &OutboxEvent,
        body: Vec<u8>,
    ) -> Result<Option<u16>, Failure> {
        let context = self.context(url).await?;
        let subject = subject(event);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", event.id.as_str());
        let published = async {
            context
                .publish_with_headers(subject.clone(), headers, body.into())
                .await
                .map_err(|e| e.to_string())?
                .await
                .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(self.timeout, published).await {
            Ok(Ok(_ack)) => Ok(None),
            Ok(Err(error)) => Err(failure(format!("publish to {subject} on {url}: {error}"))),
            Err(_) => Err(failure(format!(
                "publish to {subject} on {url} timed out after {} ms",
                self.timeout.as_millis()
            ))),
        }
    }

    /// The JetStream context for `url`, connecting and ensuring the stream
    /// on first use.
    async fn context(&self, url: &str) -> Result<jetstream::Context, Failure> {
        let mut contexts = self.contexts.lock().await;
        if let Some(context) = contexts.get(url) {
            return Ok(context.clone());
        }
        let connect = async {
            let client = async_nats::connect(url)
                .await
                .map_err(|e| format!("connect to {url}: {e}"))?;
            let context = jetstream::new(client);
            context
                .get_or_create_stream(jetstream::stream::Config {
                    name: STREAM.to_owned(),
                    subjects: vec![STREAM_SUBJECTS.to_owned()],
                    ..Default::default()
                })
                .await
                .map_err(|e| format!("ensure stream {STREAM} on {url}: {e}"))?;
            Ok::<_, String>(context)
        };
        let context = tokio::time::timeout(self.timeout, connect)
            .await
            .map_err(|_| {
                failure(format!(
                    "connect to {url} timed out after {} ms",
                    self.timeout.as_millis()
                ))
            })?
            .map_err(failure)?;
        contexts.insert(url.to_owned(), context.clone());
        Ok(context)
    }
}

fn failure(message: String) -> Failure {
    Failure {
        status: None,
        message,
        permanent: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_name_tenant_and_type() {
        let mut event = OutboxEvent::new(
            "airlock.image.pushed",
            Some("acme".into()),
            "acme/app@sha256:1",
            serde_json::json!({}),
        );
        assert_eq!(subject(&event), "airlock.acme.image.pushed");
        event.tenant = None;
        event.event_type = "airlock.vulndb.updated".into();
        assert_eq!(subject(&event), "airlock._global.vulndb.updated");
        event.event_type = "custom".into();
        assert_eq!(subject(&event), "airlock._global.custom");
    }
}
