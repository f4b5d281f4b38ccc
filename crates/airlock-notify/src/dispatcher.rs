//! The delivery loop: fan out, find due subscriptions, one task each.
//!
//! A subscription is worked on by at most one task at a time (the
//! `in_flight` set), which sends its due deliveries strictly one after the
//! other; the store's head-of-line rule (a pending delivery that is not yet
//! due hides the ones after it) keeps the order across retries. Different
//! subscriptions run in parallel, so a receiver that hangs until the
//! timeout delays nobody else.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use airlock_store::{Attempt, AttemptOutcome, Delivery, Subscription, WebhookStore};
use airlock_webhook::CloudEvent;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::http::HttpSink;
use crate::{DispatchConfig, NotifyError, is_nats_url};

/// Why one attempt failed.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The receiver's HTTP status, if it answered.
    pub(crate) status: Option<u16>,
    /// What went wrong, as recorded in the attempt log.
    pub(crate) message: String,
    /// Retrying cannot help (the event or the secret is unusable): the
    /// delivery is dead-lettered at once.
    pub(crate) permanent: bool,
}

/// Delivers webhook events; see the crate docs.
pub struct Dispatcher {
    store: Arc<dyn WebhookStore>,
    config: DispatchConfig,
    http: HttpSink,
    #[cfg(feature = "nats")]
    nats: crate::nats::NatsSink,
    wake: Notify,
    in_flight: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Takes a subscription out of the in-flight set when its task ends,
/// however it ends.
struct Release<'a> {
    dispatcher: &'a Dispatcher,
    subscription: &'a str,
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.dispatcher
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(self.subscription);
    }
}

impl Dispatcher {
    /// A dispatcher over `store`; nothing runs until [`Dispatcher::run`] or
    /// [`Dispatcher::run_once`].
    pub fn new(
        store: Arc<dyn WebhookStore>,
        config: DispatchConfig,
    ) -> Result<Arc<Dispatcher>, NotifyError> {
        let http = HttpSink::new(config.targets, config.timeout)?;
        Ok(Arc::new(Dispatcher {
            store,
            #[cfg(feature = "nats")]
            nats: crate::nats::NatsSink::new(config.timeout),
            config,
            http,
            wake: Notify::new(),
            in_flight: Mutex::new(HashSet::new()),
        }))
    }

    /// Tells the loop that new outbox events may exist, so it does not wait
    /// for the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Delivers until `shutdown` is cancelled: a round on every wake-up and
    /// every poll interval. Deliveries still in flight at shutdown are
    /// abandoned; they stay pending and are sent again (at least once).
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tasks = JoinSet::new();
        loop {
            if let Err(error) = self.start_round(&mut tasks).await {
                tracing::warn!(%error, "webhook dispatch round failed");
            }
            while let Some(finished) = tasks.try_join_next() {
                if let Err(error) = finished {
                    tracing::error!(%error, "webhook delivery task failed");
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
        tasks.shutdown().await;
    }

    /// One round, awaited to the end: fans out every outbox event and sends
    /// every delivery that is due (retries that become due meanwhile wait
    /// for the next round). Subscriptions already being worked on by
    /// [`Dispatcher::run`] are skipped.
    pub async fn run_once(&self) -> Result<(), NotifyError> {
        let claimed = self.claim_due().await?;
        let tasks = claimed.iter().map(|subscription| async move {
            let _release = Release {
                dispatcher: self,
                subscription,
            };
            self.deliver_subscription(subscription).await;
        });
        futures::future::join_all(tasks).await;
        Ok(())
    }

    async fn start_round(self: &Arc<Self>, tasks: &mut JoinSet<()>) -> Result<(), NotifyError> {
        for subscription in self.claim_due().await? {
            let dispatcher = Arc::clone(self);
            tasks.spawn(async move {
                let _release = Release {
                    dispatcher: &dispatcher,
                    subscription: &subscription,
                };
                dispatcher.deliver_subscription(&subscription).await;
            });
        }
        Ok(())
    }

    /// Fans out the whole outbox, then claims every due subscription that
    /// no task is working on. Each claim must be released by a
    /// [`Release`].
    async fn claim_due(&self) -> Result<Vec<String>, NotifyError> {
        let batch = self.config.batch.max(1);
        while self.store.fan_out(batch, OffsetDateTime::now_utc()).await? == batch {}
        let due = self
            .store
            .due_subscriptions(OffsetDateTime::now_utc())
            .await?;
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(due
            .into_iter()
            .filter(|subscription| in_flight.insert(subscription.clone()))
            .collect())
    }

    /// Sends a subscription's due deliveries in order until none is due.
    async fn deliver_subscription(&self, id: &str) {
        loop {
            let delivery = match self
                .store
                .next_delivery(id, OffsetDateTime::now_utc())
                .await
            {
                Ok(Some(delivery)) => delivery,
                Ok(None) => return,
                Err(error) => {
                    tracing::warn!(subscription = id, %error, "cannot read next webhook delivery");
                    return;
                }
            };
            let subscription = match self.store.subscription(id).await {
                Ok(Some(subscription)) => subscription,
                Ok(None) => return,
                Err(error) => {
                    tracing::warn!(subscription = id, %error, "cannot read webhook subscription");
                    return;
                }
            };
            if let Err(error) = self.attempt(&subscription, &delivery).await {
                // Not recorded: stop rather than resend it in a tight loop;
                // the next round tries again.
                tracing::warn!(
                    subscription = id,
                    event = %delivery.event.id,
                    delivery = delivery.id,
                    %error,
                    "cannot record webhook attempt"
                );
                return;
            }
        }
    }

    /// Makes one attempt and records it with what it leads to.
    async fn attempt(
        &self,
        subscription: &Subscription,
        delivery: &Delivery,
    ) -> Result<(), NotifyError> {
        let number = delivery.attempts + 1;
        let at = OffsetDateTime::now_utc();
        let clock = Instant::now();
        let result = self.send(subscription, delivery).await;
        let latency_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (status, error, outcome) = match result {
            Ok(status) => (status, None, AttemptOutcome::Delivered),
            Err(failure) => {
                let outcome = if failure.permanent {
                    AttemptOutcome::Dead
                } else {
                    self.retry_or_give_up(delivery)
                };
                (failure.status, Some(failure.message), outcome)
            }
        };
        let attempt = Attempt {
            delivery: delivery.id,
            number,
            at,
            status,
            latency_ms,
            error,
        };
        self.store.record_attempt(&attempt, outcome).await?;
        let subscription = subscription.id.as_str();
        let event = delivery.event.id.as_str();
        match (&attempt.error, outcome) {
            (None, _) => tracing::info!(
                subscription,
                event,
                delivery = delivery.id,
                attempt = number,
                status,
                latency_ms,
                "webhook delivered"
            ),
            (Some(error), AttemptOutcome::Retry(retry_at)) => tracing::warn!(
                subscription,
                event,
                delivery = delivery.id,
                attempt = number,
                status,
                latency_ms,
                error,
                %retry_at,
                "webhook attempt failed, will retry"
            ),
            (Some(error), _) => tracing::warn!(
                subscription,
                event,
                delivery = delivery.id,
                attempt = number,
                status,
                latency_ms,
                error,
                "webhook attempt failed, giving up (dead-lettered)"
            ),
        }
        Ok(())
    }

    /// After a failed attempt: the next one after the schedule's jittered
    /// delay, or dead when that would pass the give-up deadline counted
    /// from when the delivery was queued.
    fn retry_or_give_up(&self, delivery: &Delivery) -> AttemptOutcome {
        let schedule = &self.config.schedule;
        let deadline = delivery.created_at + schedule.give_up_after();
        let now = OffsetDateTime::now_utc();
        match schedule.next_delay(delivery.attempts, rand::random::<f64>()) {
            Some(delay) if now + delay <= deadline => AttemptOutcome::Retry(now + delay),
            _ => AttemptOutcome::Dead,
        }
    }

    /// Builds the CloudEvent and hands it to the subscription's sink.
    async fn send(
        &self,
        subscription: &Subscription,
        delivery: &Delivery,
    ) -> Result<Option<u16>, Failure> {
        let event = &delivery.event;
        let body = CloudEvent::from_outbox(
            event.id.clone(),
            event.event_type.clone(),
            Some(event.subject.clone()),
            event.time,
            event.data.clone(),
            &self.config.source,
        )
        .map_err(|e| Failure {
            status: None,
            message: format!("cannot build the cloudevent: {e}"),
            permanent: true,
        })?
        .to_body();
        if is_nats_url(&subscription.url) {
            return self.send_to_broker(subscription, delivery, body).await;
        }
        self.http
            .send(&subscription.url, &subscription.secret, &event.id, body)
            .await
    }

    #[cfg(feature = "nats")]
    async fn send_to_broker(
        &self,
        subscription: &Subscription,
        delivery: &Delivery,
        body: Vec<u8>,
    ) -> Result<Option<u16>, Failure> {
        self.nats
            .publish(&subscription.url, &delivery.event, body)
            .await
    }

    #[cfg(not(feature = "nats"))]
    async fn send_to_broker(
        &self,
        _subscription: &Subscription,
        _delivery: &Delivery,
        _body: Vec<u8>,
    ) -> Result<Option<u16>, Failure> {
        // Not permanent: a build with the feature may take over in time.
        Err(Failure {
            status: None,
            message: NotifyError::NatsDisabled.to_string(),
            permanent: false,
        })
    }
}
