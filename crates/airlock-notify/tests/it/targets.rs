//! SSRF: targets the policy refuses are never contacted.

use airlock_store::DeliveryState;
use airlock_webhook::TargetPolicy;

use crate::{Receiver, Stack, event, test_config};

#[tokio::test]
async fn private_targets_are_refused_before_any_request() {
    let stack = Stack::new().await;
    let receiver = Receiver::start().await;
    let port = receiver.addr.port();
    // Allowed when they were created, refused by today's policy.
    stack
        .subscribe("by-name", &format!("http://localhost:{port}/by-name"), 1)
        .await;
    stack
        .subscribe(
            "by-address",
            &format!("http://127.0.0.1:{port}/by-address"),
            2,
        )
        .await;
    stack
        .emit(&[event("airlock.image.pushed", "acme/app@1")])
        .await;

    let mut config = test_config();
    config.targets = TargetPolicy {
        allow_http: true,
        allow_private: false,
    };
    stack.dispatcher(config).run_once().await.unwrap();

    assert!(receiver.received().is_empty());
    for (subscription, reason) in [
        (
            "by-name",
            "refused: webhook host `localhost` is a local name",
        ),
        (
            "by-address",
            "refused: webhook address 127.0.0.1 is not a public address",
        ),
    ] {
        let deliveries = stack.deliveries(subscription).await;
        assert_eq!(deliveries[0].state, DeliveryState::Pending);
        let attempts = stack.attempts(deliveries[0].id).await;
        assert_eq!(attempts.len(), 1, "{subscription}");
        assert_eq!(attempts[0].status, None);
        assert_eq!(attempts[0].error.as_deref(), Some(reason), "{subscription}");
    }
}

#[tokio::test]
async fn plain_http_is_refused_unless_allowed() {
    let stack = Stack::new().await;
    let receiver = Receiver::start().await;
    stack.subscribe("plain", &receiver.url("/plain"), 1).await;
    stack
        .emit(&[event("airlock.image.pushed", "acme/app@1")])
        .await;

    let mut config = test_config();
    config.targets = TargetPolicy {
        allow_http: false,
        allow_private: true,
    };
    stack.dispatcher(config).run_once().await.unwrap();

    assert!(receiver.received().is_empty());
    let deliveries = stack.deliveries("plain").await;
    let attempts = stack.attempts(deliveries[0].id).await;
    assert_eq!(
        attempts[0].error.as_deref(),
        Some("refused: webhook url must use https")
    );
}
