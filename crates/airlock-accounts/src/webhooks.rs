//! Webhook subscriptions (DESIGN §5): who may subscribe to what, which
//! URLs are accepted, and the delivery log.
//!
//! A tenant's developers and security team manage its webhooks; global
//! subscriptions (every tenant's events) are for admins. URLs are checked
//! against the deployment's [`TargetPolicy`] when created (https only,
//! no loopback or private addresses unless configured), and the dispatcher
//! checks the resolved address again before every attempt.

use airlock_audit::RequestContext;
use airlock_auth::{ManageAction, TenantId, manage_allows};
use airlock_store::{Delivery, OutboxEvent, Subscription};
use airlock_webhook::{EVENT_TYPES, Secret, TargetPolicy};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::manage::parse_tenant;
use crate::{Accounts, AccountsError, Operator};

/// What webhook URLs the deployment accepts.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebhookSettings {
    /// The SSRF rules for `http(s)` URLs.
    pub targets: TargetPolicy,
    /// Whether `nats://` broker sinks are available (cargo feature `nats`).
    pub nats: bool,
}

/// A subscription to create.
#[derive(Debug, Clone, Default, serde::Deserialize, ToSchema)]
pub struct NewWebhook {
    /// The tenant; `None` for a global subscription.
    pub tenant: Option<String>,
    /// Where to deliver (`https://`; `nats://` for a broker sink when
    /// built with it).
    #[schema(example = "https://ci.example/hooks/airlock")]
    pub url: String,
    /// Event types; empty for all (docs/webhooks.md lists them).
    #[serde(default)]
    #[schema(example = json!(["airlock.image.promoted"]))]
    pub events: Vec<String>,
    /// The signing secret (`whsec_...`); generated when absent.
    pub secret: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

/// A subscription as listed (the secret is never shown again).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Webhook)]
pub struct WebhookView {
    /// Its id.
    pub id: String,
    /// Its tenant; `None` for a global subscription.
    pub tenant: Option<String>,
    /// Where it delivers.
    pub url: String,
    /// Its event types; empty for all.
    pub events: Vec<String>,
    /// Free text.
    pub description: String,
    /// Who created it.
    pub created_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&Subscription> for WebhookView {
    fn from(s: &Subscription) -> WebhookView {
        WebhookView {
            id: s.id.clone(),
            tenant: s.tenant.as_ref().map(ToString::to_string),
            url: s.url.clone(),
            events: s.events.clone(),
            description: s.description.clone(),
            created_by: s.created_by.clone(),
            created_at: s.created_at,
        }
    }
}

/// A created subscription with its secret, shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookCreated {
    /// The subscription.
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The signing secret.
    pub secret: String,
}

/// One attempt, as the delivery log shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Attempt)]
pub struct AttemptView {
    /// 1, 2, ...
    pub number: u32,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The receiver's status, if it answered.
    pub status: Option<u16>,
    /// How long it took.
    pub latency_ms: u64,
    /// What went wrong.
    pub error: Option<String>,
}

/// One delivery with its attempts.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Delivery)]
pub struct DeliveryView {
    /// Its id.
    pub id: i64,
    /// The event id (the CloudEvents `id`, `webhook-id`).
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// What the event is about.
    pub subject: String,
    /// `pending`, `delivered` or `dead`.
    #[schema(value_type = String)]
    pub state: &'static str,
    /// Attempts made.
    pub attempts: u32,
    /// When it was queued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The next attempt, while pending.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// When it was delivered or given up.
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// Every attempt, oldest first.
    pub log: Vec<AttemptView>,
}

fn delivery_view(delivery: Delivery, log: Vec<AttemptView>) -> DeliveryView {
    let pending = delivery.state == airlock_store::DeliveryState::Pending;
    DeliveryView {
        id: delivery.id,
        event_id: delivery.event.id,
        event_type: delivery.event.event_type,
        subject: delivery.event.subject,
        state: delivery.state.as_str(),
        attempts: delivery.attempts,
        created_at: delivery.created_at,
        next_attempt_at: pending.then_some(delivery.next_attempt_at),
        finished_at: delivery.finished_at,
        log,
    }
}

impl Accounts {
    /// Sets which webhook URLs are accepted (default: https to public
    /// addresses only, no broker sinks).
    pub fn set_webhook_settings(&self, settings: WebhookSettings) {
        let _ = self.webhooks.set(settings);
    }

    fn webhook_settings(&self) -> WebhookSettings {
        self.webhooks.get().copied().unwrap_or_default()
    }

    fn check_webhook_url(&self, url: &str, tenant: Option<&TenantId>) -> Result<(), AccountsError> {
        if url.starts_with("nats://") {
            if !self.webhook_settings().nats {
                return Err(AccountsError::Invalid(
                    "nats:// sinks need airlock built with the cargo feature `nats`".into(),
                ));
            }
            if tenant.is_some() {
                return Err(AccountsError::Invalid(
                    "a nats:// sink is a global subscription: omit the tenant".into(),
                ));
            }
            return url::Url::parse(url)
                .map(|_| ())
                .map_err(|e| AccountsError::Invalid(format!("invalid nats url: {e}")));
        }
        airlock_webhook::check_url(url, self.webhook_settings().targets)
            .map(|_| ())
            .map_err(|e| AccountsError::Invalid(e.to_string()))
    }

    /// Creates a subscription; returns it with its secret (shown once).
    pub async fn create_webhook(
        &self,
        operator: &Operator,
        new: NewWebhook,
        request: &RequestContext,
    ) -> Result<WebhookCreated, AccountsError> {
        let tenant = new.tenant.as_deref().map(parse_tenant).transpose()?;
        let target = format!("webhook:{}", new.tenant.as_deref().unwrap_or("*"));
        self.allow(
            operator,
            ManageAction::ManageWebhooks(tenant.clone()),
            &target,
            request,
        )
        .await?;
        self.check_webhook_url(&new.url, tenant.as_ref())?;
        if let Some(unknown) = new
            .events
            .iter()
            .find(|e| !EVENT_TYPES.contains(&e.as_str()))
        {
            return Err(AccountsError::Invalid(format!(
                "unknown event type {unknown:?}: use one of {}",
                EVENT_TYPES.join(", ")
            )));
        }
        let secret = match &new.secret {
            Some(text) => Secret::parse(text.trim())
                .map_err(|e| AccountsError::Invalid(format!("invalid webhook secret: {e}")))?,
            None => Secret::generate(airlock_auth::random_bytes::<24>()),
        }
        .to_string();
        let mut events = new.events.clone();
        events.sort();
        events.dedup();
        let subscription = Subscription {
            id: uuid::Uuid::now_v7().to_string(),
            tenant: tenant.clone(),
            url: new.url.clone(),
            events,
            secret: secret.clone(),
            description: new.description.clone(),
            created_by: operator.actor().name,
            created_at: OffsetDateTime::now_utc(),
        };
        let mut event = Self::event(
            operator,
            "webhook.create",
            format!("webhook:{}", subscription.id),
            request,
        )
        .details(serde_json::json!({ "url": subscription.url, "events": subscription.events }));
        if let Some(t) = &tenant {
            event = event.tenant(t.as_str());
        }
        self.store
            .create_subscription(&subscription, &event)
            .await?;
        Ok(WebhookCreated {
            webhook: WebhookView::from(&subscription),
            secret,
        })
    }

    /// A tenant's subscriptions, or (admins) every subscription.
    pub async fn webhooks(
        &self,
        operator: &Operator,
        tenant: Option<&str>,
    ) -> Result<Vec<WebhookView>, AccountsError> {
        let tenant = tenant.map(parse_tenant).transpose()?;
        let target = format!("webhook:{}", tenant.as_ref().map_or("*", |t| t.as_str()));
        self.allow(
            operator,
            ManageAction::ManageWebhooks(tenant.clone()),
            &target,
            &RequestContext::default(),
        )
        .await?;
        Ok(self
            .store
            .subscriptions(tenant.as_ref())
            .await?
            .iter()
            .map(WebhookView::from)
            .collect())
    }

    /// Every subscription the operator may manage: all of them for admins
    /// (and the local operator), else those of the tenants whose webhooks it
    /// manages. Subscriptions it may not manage are left out, not refused,
    /// so listing them audits no denial.
    pub async fn visible_webhooks(
        &self,
        operator: &Operator,
    ) -> Result<Vec<WebhookView>, AccountsError> {
        let may_manage = |tenant: &Option<TenantId>| match operator {
            Operator::Local(_) => true,
            Operator::Principal(principal) => {
                manage_allows(principal, &ManageAction::ManageWebhooks(tenant.clone()))
            }
        };
        Ok(self
            .store
            .subscriptions(None)
            .await?
            .iter()
            .filter(|s| may_manage(&s.tenant))
            .map(WebhookView::from)
            .collect())
    }

    /// A subscription the operator may manage.
    async fn managed_webhook(
        &self,
        operator: &Operator,
        id: &str,
        request: &RequestContext,
    ) -> Result<Subscription, AccountsError> {
        let subscription = self
            .store
            .subscription(id)
            .await?
            .ok_or_else(|| AccountsError::NotFound(format!("webhook {id}")))?;
        self.allow(
            operator,
            ManageAction::ManageWebhooks(subscription.tenant.clone()),
            &format!("webhook:{id}"),
            request,
        )
        .await?;
        Ok(subscription)
    }

    /// Deletes a subscription; its pending deliveries are dropped.
    pub async fn delete_webhook(
        &self,
        operator: &Operator,
        id: &str,
        request: &RequestContext,
    ) -> Result<(), AccountsError> {
        let subscription = self.managed_webhook(operator, id, request).await?;
        let mut event = Self::event(operator, "webhook.delete", format!("webhook:{id}"), request);
        if let Some(t) = &subscription.tenant {
            event = event.tenant(t.as_str());
        }
        self.store.delete_subscription(id, &event).await?;
        Ok(())
    }

    /// Sends a test event to one subscription; returns the delivery id.
    pub async fn test_webhook(
        &self,
        operator: &Operator,
        id: &str,
        request: &RequestContext,
    ) -> Result<DeliveryView, AccountsError> {
        let subscription = self.managed_webhook(operator, id, request).await?;
        let event = OutboxEvent::new(
            "airlock.webhook.test",
            subscription.tenant.as_ref().map(ToString::to_string),
            format!("webhook:{id}"),
            serde_json::json!({
                "message": "a test event sent by `airlock webhook test`",
                "subscription": id,
                "requested_by": operator.actor().name,
            }),
        );
        let audit = Self::event(operator, "webhook.test", format!("webhook:{id}"), request);
        let delivery = self.store.enqueue_test(id, &event, &audit).await?;
        Ok(delivery_view(delivery, Vec::new()))
    }

    /// A subscription's newest deliveries with their attempts.
    pub async fn webhook_deliveries(
        &self,
        operator: &Operator,
        id: &str,
        limit: usize,
    ) -> Result<Vec<DeliveryView>, AccountsError> {
        self.managed_webhook(operator, id, &RequestContext::default())
            .await?;
        let mut views = Vec::new();
        for delivery in self.store.deliveries(id, limit.clamp(1, 1000)).await? {
            let log = self
                .store
                .attempts(delivery.id)
                .await?
                .into_iter()
                .map(|a| AttemptView {
                    number: a.number,
                    at: a.at,
                    status: a.status,
                    latency_ms: a.latency_ms,
                    error: a.error,
                })
                .collect();
            views.push(delivery_view(delivery, log));
        }
        Ok(views)
    }

    /// Sends an event again to every subscription that had it.
    pub async fn redeliver_event(
        &self,
        operator: &Operator,
        event_id: &str,
        request: &RequestContext,
    ) -> Result<Vec<DeliveryView>, AccountsError> {
        let event = self
            .store
            .outbox_event(event_id)
            .await?
            .ok_or_else(|| AccountsError::NotFound(format!("event {event_id}")))?;
        let tenant = event.tenant.as_deref().map(parse_tenant).transpose()?;
        self.allow(
            operator,
            ManageAction::ManageWebhooks(tenant.clone()),
            &format!("event:{event_id}"),
            request,
        )
        .await?;
        let mut audit = Self::event(
            operator,
            "webhook.redeliver",
            format!("event:{event_id}"),
            request,
        );
        if let Some(t) = &tenant {
            audit = audit.tenant(t.as_str());
        }
        let deliveries = self
            .store
            .redeliver(event_id, OffsetDateTime::now_utc(), &audit)
            .await?;
        Ok(deliveries
            .into_iter()
            .map(|d| delivery_view(d, Vec::new()))
            .collect())
    }
}
