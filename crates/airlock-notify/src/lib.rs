//! The webhook dispatcher (DESIGN §5): turns outbox events into signed
//! deliveries and sends them.
//!
//! The gate writes events to the outbox in the transaction that caused
//! them; this crate moves them on. Each round of [`Dispatcher`]:
//!
//! 1. *fans out* undelivered outbox events into one pending delivery per
//!    matching subscription, one transaction per batch
//!    ([`WebhookStore::fan_out`](airlock_store::WebhookStore::fan_out));
//! 2. lists the subscriptions whose oldest pending delivery is due, and
//! 3. starts one task per subscription (never two for the same one) that
//!    sends that subscription's due deliveries one after the other, in
//!    order, until none is due.
//!
//! A subscription receives its events in order, and a slow, hanging or dead
//! receiver holds back only its own subscription: every other subscription
//! has its own task. A failed delivery stays at the head of its
//! subscription's line until it is delivered or given up.
//!
//! Delivery is at least once: a delivery is recorded only after the
//! receiver answered, so a crash in between sends it again. Receivers
//! de-duplicate by the `webhook-id` header, which is the event id and
//! stays the same across retries and redeliveries.
//!
//! What is sent is decided in `airlock-webhook` (pure, no I/O): the body is
//! a CloudEvents 1.0 structured event, the headers are Standard Webhooks
//! signatures, the retry schedule is exponential back-off with jitter and
//! a give-up deadline counted from when the delivery was queued.
//!
//! SSRF: subscription URLs are tenant input. The URL is checked against the
//! [`TargetPolicy`] before every attempt (the policy may have been tightened
//! since the subscription was created), host names are resolved by a
//! resolver that refuses the connection when any resolved address is not
//! allowed (so a DNS answer that changes to a private address is caught at
//! connect time, not only at creation), redirects are never followed and
//! proxies from the environment are ignored (a proxy would resolve the name
//! itself, past the check).
//!
//! With the `nats` feature, subscriptions whose URL is `nats://host:port`
//! publish the same CloudEvent body to a NATS JetStream subject instead
//! (see the `nats` module).

mod dispatcher;
mod http;
#[cfg(feature = "nats")]
mod nats;
mod resolver;

use std::time::Duration;

use airlock_store::StoreError;
use airlock_webhook::{RetrySchedule, TargetError, TargetPolicy, check_url};

pub use dispatcher::Dispatcher;

/// How the dispatcher delivers.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// The CloudEvents `source` attribute, e.g. the registry's external URL.
    pub source: String,
    /// How long one attempt may take, connecting included.
    pub timeout: Duration,
    /// Back-off between attempts and the deadline after which a delivery
    /// is dead-lettered.
    pub schedule: RetrySchedule,
    /// Which target URLs and addresses are allowed.
    pub targets: TargetPolicy,
    /// How often to look for due work when nobody calls
    /// [`Dispatcher::wake`] (retries become due without a wake-up).
    pub poll_interval: Duration,
    /// Outbox events per fan-out transaction.
    pub batch: usize,
}

impl DispatchConfig {
    /// The defaults: 10 s per attempt, the default retry schedule (24 h
    /// deadline), https to public addresses only, polling every second,
    /// 256 events per fan-out.
    pub fn new(source: impl Into<String>) -> DispatchConfig {
        DispatchConfig {
            source: source.into(),
            timeout: Duration::from_secs(10),
            schedule: RetrySchedule::default(),
            targets: TargetPolicy::default(),
            poll_interval: Duration::from_secs(1),
            batch: 256,
        }
    }
}

/// The dispatcher could not be built, a subscription URL was refused, or
/// the store failed.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// An `http(s)://` target URL is not allowed by the target policy.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A `nats://` URL was given but this build has no NATS sink.
    #[error("webhook url scheme `nats` needs airlock built with the `nats` feature")]
    NatsDisabled,
    /// A `nats://` URL that cannot be used.
    #[error("webhook url {url} is not a usable nats url: {reason}")]
    InvalidNatsUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("build webhook http client: {0}")]
    Client(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a subscription URL when it is created: `http(s)://` URLs against
/// the target policy, `nats://` URLs for their shape (and for the `nats`
/// feature being built in).
pub fn check_subscription_url(url: &str, targets: TargetPolicy) -> Result<(), NotifyError> {
    if is_nats_url(url) {
        return check_nats_url(url);
    }
    check_url(url, targets)?;
    Ok(())
}

/// Whether `url` names a NATS broker sink rather than an HTTP receiver.
fn is_nats_url(url: &str) -> bool {
    url.get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("nats://"))
}

#[cfg(feature = "nats")]
fn check_nats_url(url: &str) -> Result<(), NotifyError> {
    nats::check_url(url)
}

#[cfg(not(feature = "nats"))]
fn check_nats_url(_url: &str) -> Result<(), NotifyError> {
    Err(NotifyError::NatsDisabled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_follow_the_target_policy() {
        let strict = TargetPolicy::default();
        let lenient = TargetPolicy {
            allow_http: true,
            allow_private: true,
        };
        assert!(check_subscription_url("https://hooks.example.com/x", strict).is_ok());
        assert!(matches!(
            check_subscription_url("http://hooks.example.com/x", strict),
            Err(NotifyError::Target(TargetError::HttpNotAllowed))
        ));
        assert!(matches!(
            check_subscription_url("https://10.0.0.1/x", strict),
            Err(NotifyError::Target(TargetError::PrivateAddress(_)))
        ));
        assert!(check_subscription_url("http://127.0.0.1:8080/x", lenient).is_ok());
        assert!(matches!(
            check_subscription_url("ftp://hooks.example.com/x", lenient),
            Err(NotifyError::Target(TargetError::SchemeNotAllowed(_)))
        ));
    }

    #[cfg(not(feature = "nats"))]
    #[test]
    fn nats_urls_need_the_nats_feature() {
        assert!(matches!(
            check_subscription_url("nats://127.0.0.1:4222", TargetPolicy::default()),
            Err(NotifyError::NatsDisabled)
        ));
    }

    #[cfg(feature = "nats")]
    #[test]
    fn nats_urls_need_a_host() {
        let policy = TargetPolicy::default();
        assert!(check_subscription_url("nats://127.0.0.1:4222", policy).is_ok());
        assert!(check_subscription_url("NATS://broker.internal", policy).is_ok());
        for bad in ["nats://", "nats://:4222", "nats://user:pw@broker:4222/path"] {
            assert!(
                matches!(
                    check_subscription_url(bad, policy),
                    Err(NotifyError::InvalidNatsUrl { .. })
                ),
                "{bad}"
            );
        }
    }
}
