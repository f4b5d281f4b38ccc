//! Order within a subscription, independence between subscriptions, and
//! the running loop.

use std::time::{Duration, Instant};

use airlock_store::DeliveryState;
use tokio_util::sync::CancellationToken;

use crate::{Receiver, Reply, Stack, event, test_config};

fn ids(requests: &[crate::Received]) -> Vec<String> {
    requests
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_subscription_receives_its_events_in_order() {
    let stack = Stack::new().await;
    let receiver = Receiver::start().await;
    // The first event fails twice: the ones after it must wait for it.
    receiver.script(
        "/ordered",
        [Reply::Status(500), Reply::Status(502), Reply::Status(200)],
    );
    stack
        .subscribe("ordered", &receiver.url("/ordered"), 1)
        .await;
    let events: Vec<_> = (1..=5)
        .map(|n| event("airlock.image.pushed", &format!("acme/app@{n}")))
        .collect();
    stack.emit(&events[..2]).await;
    stack.emit(&events[2..]).await;

    let dispatcher = stack.dispatcher(test_config());
    stack
        .settle(&dispatcher, "ordered", |d| {
            d.len() == 5 && d.iter().all(|d| d.state == DeliveryState::Delivered)
        })
        .await;

    let expected: Vec<String> = [0, 0, 0, 1, 2, 3, 4]
        .iter()
        .map(|&i| events[i].id.clone())
        .collect();
    assert_eq!(ids(&receiver.received_on("/ordered")), expected);
}

#[tokio::test]
async fn a_hanging_receiver_does_not_delay_another_subscription() {
    let stack = Stack::new().await;
    let receiver = Receiver::start().await;
    receiver.script("/hangs", [Reply::Hang]);
    // Created first, so it is first in every round.
    stack.subscribe("hangs", &receiver.url("/hangs"), 1).await;
    stack.subscribe("fast", &receiver.url("/fast"), 2).await;
    let mut config = test_config();
    config.timeout = Duration::from_secs(3);
    let dispatcher = stack.dispatcher(config);
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(dispatcher.clone().run(shutdown.clone()));

    let started = Instant::now();
    stack
        .emit(&[
            event("airlock.image.pushed", "acme/app@1"),
            event("airlock.image.pushed", "acme/app@2"),
        ])
        .await;
    dispatcher.wake();

    // The fast one gets both events while the other waits for its answer.
    stack
        .wait_for("fast", Duration::from_secs(2), |d| {
            d.len() == 2 && d.iter().all(|d| d.state == DeliveryState::Delivered)
        })
        .await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(receiver.received_on("/hangs").len(), 1);
    let hanging = stack.deliveries("hangs").await;
    assert!(stack.attempts(hanging[0].id).await.is_empty());

    // The hanging one times out after 3 s and is scheduled for a retry;
    // its second event was never sent meanwhile.
    let hanging = stack
        .wait_for("hangs", Duration::from_secs(6), |d| d[0].attempts >= 1)
        .await;
    assert!(started.elapsed() >= Duration::from_secs(3));
    let attempts = stack.attempts(hanging[0].id).await;
    assert_eq!(attempts[0].status, None);
    assert_eq!(
        attempts[0].error.as_deref(),
        Some("timed out after 3000 ms")
    );
    assert!(attempts[0].latency_ms >= 3000);
    assert!(
        ids(&receiver.received_on("/hangs"))
            .iter()
            .all(|id| *id == hanging[0].event.id)
    );

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("run stops on shutdown")
        .unwrap();
}

#[tokio::test]
async fn wake_starts_a_round_without_waiting_for_the_poll() {
    let stack = Stack::new().await;
    let receiver = Receiver::start().await;
    stack.subscribe("woken", &receiver.url("/woken"), 1).await;
    let mut config = test_config();
    config.poll_interval = Duration::from_secs(3600);
    let dispatcher = stack.dispatcher(config);
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(dispatcher.clone().run(shutdown.clone()));
    // Let the first (empty) round pass.
    tokio::time::sleep(Duration::from_millis(100)).await;

    stack
        .emit(&[event("airlock.image.pushed", "acme/app@1")])
        .await;
    dispatcher.wake();
    stack
        .wait_for("woken", Duration::from_secs(2), |d| {
            d.len() == 1 && d[0].state == DeliveryState::Delivered
        })
        .await;

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("run stops on shutdown")
        .unwrap();
}
