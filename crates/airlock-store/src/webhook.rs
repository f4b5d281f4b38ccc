//! Webhook subscriptions and their deliveries (DESIGN §5).
//!
//! The gate writes events to the outbox in the transaction that caused
//! them. The dispatcher then *fans out* each event into one delivery per
//! matching subscription ([`WebhookStore::fan_out`]) and works through
//! each subscription's deliveries in order, recording every attempt. A
//! delivery stays pending until an attempt succeeds, so a crash between
//! sending and recording sends it again: delivery is at least once, and
//! receivers de-duplicate by the event id.

use airlock_audit::AuditEvent;
use airlock_auth::TenantId;
use time::OffsetDateTime;

use crate::{OutboxEvent, StoreError};

/// A webhook subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// Stable id (a UUID).
    pub id: String,
    /// The tenant whose events it receives; `None` for every tenant
    /// (global subscriptions are for admin and security).
    pub tenant: Option<TenantId>,
    /// Where to send: an `https://` (or, when allowed, `http://`) URL, or a
    /// broker sink such as `nats://host:4222`.
    pub url: String,
    /// Event types it receives; empty means every type.
    pub events: Vec<String>,
    /// The signing secret, `whsec_<base64>`.
    pub secret: String,
    /// Free text shown in listings.
    pub description: String,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: OffsetDateTime,
}

impl Subscription {
    /// Whether it receives `event` (tenant and type filter).
    pub fn wants(&self, event: &OutboxEvent) -> bool {
        let tenant_matches = match &self.tenant {
            None => true,
            Some(tenant) => event.tenant.as_deref() == Some(tenant.as_str()),
        };
        tenant_matches && (self.events.is_empty() || self.events.contains(&event.event_type))
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Not yet acknowledged; attempted when due.
    Pending,
    /// A receiver answered 2xx.
    Delivered,
    /// Given up after the retry deadline (dead-lettered), or its
    /// subscription was deleted.
    Dead,
}

impl DeliveryState {
    /// Lowercase name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }

    /// Parses [`DeliveryState::as_str`].
    pub fn parse(text: &str) -> Option<DeliveryState> {
        match text {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "dead" => Some(DeliveryState::Dead),
            _ => None,
        }
    }
}

/// One event on its way to one subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Stable id; deliveries of one subscription are sent in id order.
    pub id: i64,
    /// The subscription.
    pub subscription: String,
    /// The event (from the outbox).
    pub event: OutboxEvent,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it was queued (the retry deadline counts from here).
    pub created_at: OffsetDateTime,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: OffsetDateTime,
    /// The HTTP status of the last attempt, if it got one.
    pub last_status: Option<u16>,
    /// The error of the last attempt, if it failed.
    pub last_error: Option<String>,
    /// When it was delivered or given up.
    pub finished_at: Option<OffsetDateTime>,
}

/// One attempt to send a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The delivery.
    pub delivery: i64,
    /// 1, 2, ...
    pub number: u32,
    /// When it started.
    pub at: OffsetDateTime,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    /// How long it took, in milliseconds.
    pub latency_ms: u64,
    /// What went wrong (timeout, refused, non-2xx), if anything.
    pub error: Option<String>,
}

/// What an attempt leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Acknowledged: the delivery is done.
    Delivered,
    /// Failed: try again at the given time.
    Retry(OffsetDateTime),
    /// Failed for the last time: dead-letter it.
    Dead,
}

/// Storage for subscriptions, deliveries and their attempts.
#[async_trait::async_trait]
pub trait WebhookStore: Send + Sync {
    /// Stores a new subscription with its audit record.
    async fn create_subscription(
        &self,
        subscription: &Subscription,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// One subscription by id (deleted ones are gone).
    async fn subscription(&self, id: &str) -> Result<Option<Subscription>, StoreError>;

    /// Subscriptions, oldest first: of one tenant (not the global ones)
    /// when `tenant` is given, else all.
    async fn subscriptions(
        &self,
        tenant: Option<&TenantId>,
    ) -> Result<Vec<Subscription>, StoreError>;

    /// Deletes a subscription with its audit record; its pending deliveries
    /// become dead, its delivery log stays readable by id.
    /// `NotFound` if unknown.
    async fn delete_subscription(&self, id: &str, audit: &AuditEvent) -> Result<(), StoreError>;

    /// Moves up to `limit` undelivered outbox events, oldest first, into
    /// one pending delivery per subscription that [`Subscription::wants`]
    /// it (due at `now`), and marks them delivered in the outbox: all in
    /// one transaction. Returns how many outbox events it took.
    async fn fan_out(&self, limit: usize, now: OffsetDateTime) -> Result<usize, StoreError>;

    /// Ids of the subscriptions whose oldest pending delivery is due at
    /// `now`.
    async fn due_subscriptions(&self, now: OffsetDateTime) -> Result<Vec<String>, StoreError>;

    /// The oldest pending delivery of a subscription, if it is due at
    /// `now`. A pending delivery that is not yet due holds back the ones
    /// after it: a subscription receives its events in order.
    async fn next_delivery(
        &self,
        subscription: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Delivery>, StoreError>;

    /// Records an attempt and what it leads to, in one transaction.
    async fn record_attempt(
        &self,
        attempt: &Attempt,
        outcome: AttemptOutcome,
    ) -> Result<(), StoreError>;

    /// A subscription's deliveries, newest first, at most `limit`.
    async fn deliveries(
        &self,
        subscription: &str,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// The attempts of one delivery, oldest first.
    async fn attempts(&self, delivery: i64) -> Result<Vec<Attempt>, StoreError>;

    /// Queues an outbox event again, as a new pending delivery, for every
    /// subscription that had a delivery of it (and still exists), with its
    /// audit record. Returns the new deliveries; `NotFound` if no
    /// subscription ever had the event.
    async fn redeliver(
        &self,
        event_id: &str,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Stores `event` in the outbox as already fanned out and queues it for
    /// one subscription only (`airlock webhook test`), with its audit
    /// record. `NotFound` if the subscription is unknown.
    async fn enqueue_test(
        &self,
        subscription: &str,
        event: &OutboxEvent,
        audit: &AuditEvent,
    ) -> Result<Delivery, StoreError>;
}
