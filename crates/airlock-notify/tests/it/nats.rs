//! The JetStream sink against the NATS server on 127.0.0.1:4222.
//!
//! Without a server the test is skipped with a message, except under CI
//! (`CI` set), where it fails: CI must start the server.

use airlock_store::{DeliveryState, Subscription, WebhookStore};
use time::OffsetDateTime;

use crate::{Stack, test_config};

const NATS_URL: &str = "nats://127.0.0.1:4222";

async fn jetstream() -> Option<async_nats::jetstream::Context> {
    match async_nats::connect(NATS_URL).await {
        Ok(client) => Some(async_nats::jetstream::new(client)),
        Err(error) if std::env::var_os("CI").is_some() => {
            panic!("NATS server at {NATS_URL} is unreachable under CI: {error}")
        }
        Err(error) => {
            eprintln!("skipping: NATS server at {NATS_URL} is unreachable: {error}");
            None
        }
    }
}

fn audit(action: &str, target: &str) -> airlock_audit::AuditEvent {
    airlock_audit::AuditEvent::new(airlock_audit::Actor::user("root"), action, target)
}

#[tokio::test]
async fn publishes_cloudevents_to_jetstream_once() {
    let Some(jetstream) = jetstream().await else {
        return;
    };
    let stack = Stack::new().await;
    // A tenant of its own, so earlier runs' messages do not interfere.
    let tenant = format!("t{:016x}", rand::random::<u64>());
    let subscription = Subscription {
        id: "broker".into(),
        tenant: None,
        url: NATS_URL.into(),
        events: vec!["airlock.image.pushed".into()],
        secret: airlock_webhook::Secret::generate([3; 24]).to_string(),
        description: "to the broker".into(),
        created_by: "root".into(),
        created_at: OffsetDateTime::now_utc(),
    };
    stack
        .store
        .create_subscription(&subscription, &audit("webhook.create", "broker"))
        .await
        .unwrap();
    let pushed = airlock_store::OutboxEvent::new(
        "airlock.image.pushed",
        Some(tenant.clone()),
        format!("unscanned/{tenant}/app@sha256:1"),
        serde_json::json!({ "n": 1 }),
    );
    stack.emit(std::slice::from_ref(&pushed)).await;

    let dispatcher = stack.dispatcher(test_config());
    dispatcher.run_once().await.unwrap();

    let deliveries = stack.deliveries("broker").await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(
        deliveries[0].state,
        DeliveryState::Delivered,
        "{deliveries:#?}"
    );
    let attempts = stack.attempts(deliveries[0].id).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].status, None);
    assert_eq!(attempts[0].error, None);

    let subject = format!("airlock.{tenant}.image.pushed");
    let stream = jetstream.get_stream("AIRLOCK").await.unwrap();
    let message = stream
        .get_last_raw_message_by_subject(&subject)
        .await
        .unwrap();
    assert_eq!(
        message
            .headers
            .get("Nats-Msg-Id")
            .map(|v| v.as_str().to_owned()),
        Some(pushed.id.clone())
    );
    let body: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
    assert_eq!(body["specversion"], "1.0");
    assert_eq!(body["id"], pushed.id.as_str());
    assert_eq!(body["type"], "airlock.image.pushed");
    assert_eq!(body["subject"], pushed.subject.as_str());
    assert_eq!(body["data"], serde_json::json!({ "n": 1 }));

    // Sent again (redelivery): JetStream drops the duplicate by its id.
    let again = stack
        .store
        .redeliver(
            &pushed.id,
            OffsetDateTime::now_utc(),
            &audit("webhook.redeliver", &pushed.id),
        )
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    dispatcher.run_once().await.unwrap();
    let deliveries = stack.deliveries("broker").await;
    assert_eq!(deliveries[1].state, DeliveryState::Delivered);
    let latest = stream
        .get_last_raw_message_by_subject(&subject)
        .await
        .unwrap();
    assert_eq!(latest.sequence, message.sequence);
}

#[tokio::test]
async fn an_unreachable_broker_is_a_failed_attempt() {
    let stack = Stack::new().await;
    // Nothing listens on port 1.
    let subscription = Subscription {
        id: "nowhere".into(),
        tenant: None,
        url: "nats://127.0.0.1:1".into(),
        events: Vec::new(),
        secret: airlock_webhook::Secret::generate([3; 24]).to_string(),
        description: String::new(),
        created_by: "root".into(),
        created_at: OffsetDateTime::now_utc(),
    };
    stack
        .store
        .create_subscription(&subscription, &audit("webhook.create", "nowhere"))
        .await
        .unwrap();
    stack
        .emit(&[crate::event("airlock.image.pushed", "acme/app@1")])
        .await;

    stack.dispatcher(test_config()).run_once().await.unwrap();

    let deliveries = stack.deliveries("nowhere").await;
    assert_eq!(deliveries[0].state, DeliveryState::Pending);
    let attempts = stack.attempts(deliveries[0].id).await;
    let error = attempts[0].error.as_deref().unwrap();
    assert!(
        error.starts_with("connect to nats://127.0.0.1:1:"),
        "{error}"
    );
}
