//! The pure half of webhook delivery (DESIGN §5): everything about a webhook
//! that can be decided without a socket.
//!
//! Delivery itself (the outbox table, the worker that POSTs, DNS resolution)
//! lives elsewhere; this crate only computes. Keeping it pure means every
//! decision that matters for security or interoperability is exhaustively
//! unit-tested without a network:
//!
//! - [`cloudevent`]: the body is a [CloudEvents 1.0] event in structured JSON
//!   mode, built from an outbox row. Serialization is deterministic (fields in
//!   declaration order, `data` in insertion order), so the bytes that are
//!   signed are the bytes that are stored and sent.
//! - [`signature`]: requests are signed the [Standard Webhooks] way
//!   (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`), so
//!   receivers can use any of its published verifier libraries. Secrets use
//!   the `whsec_` format. Verification compares in constant time and refuses
//!   stale or future timestamps (replay protection).
//! - [`target`]: webhook URLs are tenant input, so they are an SSRF vector.
//!   URLs are parsed with the same WHATWG parser the HTTP client uses (the
//!   `url` crate, which `reqwest` re-exports), so the check sees exactly the
//!   address the client would connect to, including legacy IPv4 notations
//!   such as `0x7f.1` or `2130706433`. Hostnames are checked again after DNS
//!   resolution with [`target::check_resolved`].
//! - [`retry`]: an exponential back-off with *equal* jitter and a deadline
//!   after which the delivery is dead-lettered. Randomness is supplied by the
//!   caller, so the schedule is a deterministic function and testable.
//!
//! No async, no I/O, no clock: "now" and random values are always arguments.
//!
//! [CloudEvents 1.0]: https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md
//! [Standard Webhooks]: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md

/// Every event type airlock emits, as subscriptions name them.
pub const EVENT_TYPES: &[&str] = &[
    "airlock.image.pushed",
    "airlock.scan.queued",
    "airlock.scan.started",
    "airlock.scan.completed",
    "airlock.scan.failed",
    "airlock.image.promoted",
    "airlock.image.rejected",
    "airlock.image.demoted",
    "airlock.vulnerability.detected",
    "airlock.policy.changed",
    "airlock.exception.created",
    "airlock.exception.approved",
    "airlock.exception.revoked",
    "airlock.exception.rejected",
    "airlock.exception.expired",
    "airlock.webhook.test",
];

pub mod cloudevent;
pub mod retry;
pub mod signature;
pub mod target;

pub use cloudevent::{CloudEvent, CloudEventError};
pub use retry::{RetrySchedule, RetryScheduleError};
pub use signature::{Secret, SecretError, VerifyError, sign, verify};
pub use target::{TargetError, TargetPolicy, ValidatedUrl, check_resolved, check_url};
