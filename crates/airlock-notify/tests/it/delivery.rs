//! What a receiver gets: a signed CloudEvent, retried until it answers
//! 2xx or the deadline passes.

use std::time::Duration;

use airlock_store::{DeliveryState, WebhookStore};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;
use time::OffsetDateTime;

use crate::{Receiver, Reply, Stack, event, test_config};

/// The Standard Webhooks signature computed here, from the spec, not with
/// airlock's own code: `v1,` + base64(HMAC-SHA256(key, "{id}.{ts}.{body}"))
/// with the key being the base64 after `whsec_`.
fn expected_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = BASE64
        .decode(secret.strip_prefix("whsec_").expect("whsec_ secret"))
        .expect("base64 secret");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

fn header<'a>(received: &'a crate::Received, name: &str) -> &'a str {
    received
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn receiver_gets_a_signed_cloudevent() {
    let stack = Stack::new().await;
    let receiver = Receiver::start().await;
    let subscription = stack.subscribe("hook", &receiver.url("/hook"), 7).await;
    let pushed = event("airlock.image.pushed", "unscanned/acme/app@sha256:abc");
    stack.emit(std::slice::from_ref(&pushed)).await;

    let dispatcher = stack.dispatcher(test_config());
    dispatcher.run_once().await.unwrap();

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.path, "/hook");
    assert_eq!(
        header(request, "content-type"),
        "application/cloudevents+json"
    );
    assert_eq!(
        header(request, "user-agent"),
        format!("airlock/{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(header(request, "webhook-id"), pushed.id);
    let timestamp = header(request, "webhook-timestamp");
    let sent_at: i64 = timestamp.parse().unwrap();
    assert!((OffsetDateTime::now_utc().unix_timestamp() - sent_at).abs() < 60);

    // The signature, checked independently; a different secret fails.
    let signature = header(request, "webhook-signature");
    assert_eq!(
        signature,
        expected_signature(&subscription.secret, &pushed.id, timestamp, &request.body)
    );
    let other_secret = airlock_webhook::Secret::generate([8; 24]).to_string();
    assert_ne!(
        signature,
        expected_signature(&other_secret, &pushed.id, timestamp, &request.body)
    );
    // A tampered body fails too.
    let mut tampered = request.body.to_vec();
    tampered.push(b' ');
    assert_ne!(
        signature,
        expected_signature(&subscription.secret, &pushed.id, timestamp, &tampered)
    );

    // A CloudEvents 1.0 structured event.
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["specversion"], "1.0");
    assert_eq!(body["id"], pushed.id.as_str());
    assert_eq!(body["type"], "airlock.image.pushed");
    assert_eq!(body["source"], "https://airlock.test");
    assert_eq!(body["subject"], "unscanned/acme/app@sha256:abc");
    assert_eq!(body["datacontenttype"], "application/json");
    assert_eq!(body["data"], pushed.data);
    let time = OffsetDateTime::parse(
        body["time"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!((time - pushed.time).abs() < time::Duration::seconds(1));

    // Recorded as delivered, with its one attempt.
    let deliveries = stack.deliveries("hook").await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].state, DeliveryState::Delivered);
    assert_eq!(deliveries[0].last_status, Some(200));
    let attempts = stack.attempts(deliveries[0].id).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].number, 1);
    assert_eq!(attempts[0].status, Some(200));
    assert_eq!(attempts[0].error, None);

    // Nothing is sent twice.
    dispatcher.run_once().await.unwrap();
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn retries_until_the_receiver_recovers() {
    let stack = Stack::new().await;
    let receiver = Receiver::start().await;
    receiver.script(
        "/flaky",
        [
            Reply::Status(500),
            Reply::Status(500),
            Reply::Status(500),
            Reply::Status(200),
        ],
    );
    stack.subscribe("flaky", &receiver.url("/flaky"), 1).await;
    let pushed = event("airlock.image.pushed", "acme/app@1");
    stack.emit(std::slice::from_ref(&pushed)).await;

    let dispatcher = stack.dispatcher(test_config());
    let deliveries = stack
        .settle(&dispatcher, "flaky", |d| {
            d[0].state == DeliveryState::Delivered
        })
        .await;

    let attempts = stack.attempts(deliveries[0].id).await;
    let statuses: Vec<Option<u16>> = attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(500), Some(200)]);
    let numbers: Vec<u32> = attempts.iter().map(|a| a.number).collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
    for failed in &attempts[..3] {
        assert_eq!(
            failed.error.as_deref(),
            Some("receiver answered 500 Internal Server Error")
        );
    }
    assert_eq!(attempts[3].error, None);
    assert_eq!(deliveries[0].attempts, 4);
    // The same message id on every attempt, so receivers can de-duplicate.
    let received = receiver.received_on("/flaky");
    assert_eq!(received.len(), 4);
    for request in &received {
        assert_eq!(header(request, "webhook-id"), pushed.id);
    }
    // Retries wait for the back-off (at least half of 10 ms).
    for pair in received.windows(2) {
        assert!(pair[1].at - pair[0].at >= Duration::from_millis(5));
    }
}

#[tokio::test]
async fn gives_up_after_the_deadline() {
    let stack = Stack::new().await;
    let receiver = Receiver::start().await;
    receiver.script("/down", [Reply::Status(503)]);
    stack.subscribe("down", &receiver.url("/down"), 1).await;
    stack
        .emit(&[event("airlock.image.pushed", "acme/app@1")])
        .await;

    let mut config = test_config();
    config.schedule = airlock_webhook::RetrySchedule::new(
        Duration::from_millis(10),
        1,
        Duration::from_millis(10),
        Duration::from_millis(100),
    )
    .unwrap();
    let dispatcher = stack.dispatcher(config);
    let deliveries = stack
        .settle(&dispatcher, "down", |d| d[0].state == DeliveryState::Dead)
        .await;

    let dead = &deliveries[0];
    assert_eq!(dead.last_status, Some(503));
    assert!(dead.finished_at.is_some());
    let attempts = stack.attempts(dead.id).await;
    assert!(attempts.len() >= 2, "{attempts:#?}");
    assert_eq!(receiver.received_on("/down").len(), attempts.len());
    // Given up at the deadline, not at some default's.
    let gave_up_after = dead.finished_at.unwrap() - dead.created_at;
    assert!(
        gave_up_after < time::Duration::seconds(5),
        "{gave_up_after}"
    );

    // A dead delivery is not sent again.
    tokio::time::sleep(Duration::from_millis(30)).await;
    dispatcher.run_once().await.unwrap();
    assert_eq!(receiver.received_on("/down").len(), attempts.len());
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let stack = Stack::new().await;
    let receiver = Receiver::start().await;
    receiver.script("/moved", [Reply::Redirect("/elsewhere")]);
    stack.subscribe("moved", &receiver.url("/moved"), 1).await;
    stack
        .emit(&[event("airlock.image.pushed", "acme/app@1")])
        .await;

    let dispatcher = stack.dispatcher(test_config());
    dispatcher.run_once().await.unwrap();

    assert_eq!(receiver.received_on("/moved").len(), 1);
    assert!(receiver.received_on("/elsewhere").is_empty());
    let deliveries = stack.deliveries("moved").await;
    assert_eq!(deliveries[0].state, DeliveryState::Pending);
    let attempts = stack.attempts(deliveries[0].id).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].status, Some(307));
    assert_eq!(
        attempts[0].error.as_deref(),
        Some("receiver answered 307 Temporary Redirect (redirects are not followed)")
    );
}

#[tokio::test]
async fn a_deleted_subscription_gets_nothing_more() {
    let stack = Stack::new().await;
    let receiver = Receiver::start().await;
    receiver.script("/gone", [Reply::Status(500)]);
    stack.subscribe("gone", &receiver.url("/gone"), 1).await;
    stack
        .emit(&[event("airlock.image.pushed", "acme/app@1")])
        .await;
    let dispatcher = stack.dispatcher(test_config());
    dispatcher.run_once().await.unwrap();
    assert_eq!(receiver.received_on("/gone").len(), 1);

    stack
        .store
        .delete_subscription(
            "gone",
            &airlock_audit::AuditEvent::new(
                airlock_audit::Actor::user("root"),
                "webhook.delete",
                "gone",
            ),
        )
        .await
        .unwrap();
    stack
        .emit(&[event("airlock.image.pushed", "acme/app@2")])
        .await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    dispatcher.run_once().await.unwrap();

    assert_eq!(receiver.received_on("/gone").len(), 1);
    let deliveries = stack.deliveries("gone").await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].state, DeliveryState::Dead);
    assert_eq!(
        deliveries[0].last_error.as_deref(),
        Some("subscription deleted")
    );
}

#[tokio::test]
async fn test_events_are_delivered_to_their_subscription_only() {
    let stack = Stack::new().await;
    let receiver = Receiver::start().await;
    stack.subscribe("one", &receiver.url("/one"), 1).await;
    stack.subscribe("two", &receiver.url("/two"), 2).await;
    let ping = event("airlock.webhook.test", "webhook/one");
    stack
        .store
        .enqueue_test(
            "one",
            &ping,
            &airlock_audit::AuditEvent::new(
                airlock_audit::Actor::user("root"),
                "webhook.test",
                "one",
            ),
        )
        .await
        .unwrap();

    stack.dispatcher(test_config()).run_once().await.unwrap();

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, "/one");
    assert_eq!(header(&received[0], "webhook-id"), ping.id);
}
