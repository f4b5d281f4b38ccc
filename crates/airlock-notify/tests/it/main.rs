//! The dispatcher end to end over real parts: a SQLite store in a
//! temporary directory, events written to its outbox the way the gate
//! writes them, and a real HTTP receiver on 127.0.0.1 whose answers each
//! test scripts. With the `nats` feature, the broker sink against the
//! JetStream server on 127.0.0.1:4222.

mod delivery;
#[cfg(feature = "nats")]
mod nats;
mod ordering;
mod targets;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use airlock_audit::{Actor, AuditEvent};
use airlock_db_sqlite::SqliteMetadataStore;
use airlock_notify::{DispatchConfig, Dispatcher};
use airlock_oci::{Digest, RepoName};
use airlock_store::{
    Attempt, Delivery, GateStore, OutboxEvent, PushedImage, Subscription, WebhookStore,
};
use airlock_webhook::{RetrySchedule, Secret, TargetPolicy};
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;

/// A store in a temporary directory.
pub struct Stack {
    pub store: Arc<SqliteMetadataStore>,
    _dir: tempfile::TempDir,
}

impl Stack {
    pub async fn new() -> Stack {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = SqliteMetadataStore::open(&dir.path().join("registry.db"))
            .await
            .expect("open store");
        Stack {
            store: Arc::new(store),
            _dir: dir,
        }
    }

    /// A subscription of tenant `acme` to every event type, with a secret
    /// made from `key_byte`.
    pub async fn subscribe(&self, id: &str, url: &str, key_byte: u8) -> Subscription {
        let subscription = Subscription {
            id: id.to_owned(),
            tenant: Some("acme".parse().unwrap()),
            url: url.to_owned(),
            events: Vec::new(),
            secret: Secret::generate([key_byte; 24]).to_string(),
            description: String::new(),
            created_by: "root".into(),
            created_at: OffsetDateTime::now_utc(),
        };
        self.store
            .create_subscription(
                &subscription,
                &AuditEvent::new(Actor::user("root"), "webhook.create", id),
            )
            .await
            .unwrap();
        subscription
    }

    /// Writes events to the outbox with a change, as the gate does.
    pub async fn emit(&self, events: &[OutboxEvent]) {
        let repository: RepoName = "unscanned/acme/app".parse().unwrap();
        self.store
            .record_push(
                &PushedImage {
                    tenant: "acme".parse().unwrap(),
                    repository,
                    digest: Digest::sha256_of(events[0].id.as_bytes()),
                    media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                    pushed_by: None,
                },
                &[],
                events,
            )
            .await
            .unwrap();
    }

    pub fn dispatcher(&self, config: DispatchConfig) -> Arc<Dispatcher> {
        Dispatcher::new(self.store.clone(), config).expect("dispatcher")
    }

    /// The subscription's deliveries, oldest first.
    pub async fn deliveries(&self, subscription: &str) -> Vec<Delivery> {
        let mut deliveries = self
            .store
            .deliveries(subscription, usize::MAX)
            .await
            .unwrap();
        deliveries.reverse();
        deliveries
    }

    pub async fn attempts(&self, delivery: i64) -> Vec<Attempt> {
        self.store.attempts(delivery).await.unwrap()
    }

    /// Runs rounds until `done` holds for the subscription's deliveries;
    /// panics after 10 s.
    pub async fn settle(
        &self,
        dispatcher: &Dispatcher,
        subscription: &str,
        done: impl Fn(&[Delivery]) -> bool,
    ) -> Vec<Delivery> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            dispatcher.run_once().await.unwrap();
            let deliveries = self.deliveries(subscription).await;
            if done(&deliveries) {
                return deliveries;
            }
            assert!(
                Instant::now() < deadline,
                "deliveries of {subscription} did not settle: {deliveries:#?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Polls the store until `done` holds; panics after `within`.
    pub async fn wait_for(
        &self,
        subscription: &str,
        within: Duration,
        done: impl Fn(&[Delivery]) -> bool,
    ) -> Vec<Delivery> {
        let deadline = Instant::now() + within;
        loop {
            let deliveries = self.deliveries(subscription).await;
            if done(&deliveries) {
                return deliveries;
            }
            assert!(
                Instant::now() < deadline,
                "deliveries of {subscription} not as expected within {within:?}: {deliveries:#?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// An event of tenant `acme`.
pub fn event(event_type: &str, subject: &str) -> OutboxEvent {
    OutboxEvent::new(
        event_type,
        Some("acme".into()),
        subject,
        serde_json::json!({ "repository": "acme/app", "subject": subject }),
    )
}

/// Plain HTTP to 127.0.0.1 allowed, fast retries (10 ms, constant), a
/// minute before giving up, 2 s per attempt.
pub fn test_config() -> DispatchConfig {
    let mut config = DispatchConfig::new("https://airlock.test");
    config.targets = TargetPolicy {
        allow_http: true,
        allow_private: true,
    };
    config.schedule = RetrySchedule::new(
        Duration::from_millis(10),
        1,
        Duration::from_millis(10),
        Duration::from_secs(60),
    )
    .unwrap();
    config.timeout = Duration::from_secs(2);
    config.poll_interval = Duration::from_millis(20);
    config
}

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// 307 to the given path.
    Redirect(&'static str),
    /// Never answers.
    Hang,
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

#[derive(Default)]
struct Script {
    /// Per path: answers to give in turn, then the last one forever.
    replies: HashMap<String, VecDeque<Reply>>,
    received: Vec<Received>,
}

/// An HTTP server on 127.0.0.1 that records requests and answers as
/// scripted (200 unless told otherwise).
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let script = Arc::new(Mutex::new(Script::default()));
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { addr, script }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers requests to `path` with `replies` in turn, repeating the
    /// last one.
    pub fn script(&self, path: &str, replies: impl IntoIterator<Item = Reply>) {
        self.script
            .lock()
            .unwrap()
            .replies
            .insert(path.to_owned(), replies.into_iter().collect());
    }

    pub fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().received.clone()
    }

    pub fn received_on(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

async fn receive(State(script): State<Arc<Mutex<Script>>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let headers = request.headers().clone();
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap();
    let reply = {
        let mut script = script.lock().unwrap();
        script.received.push(Received {
            path: path.clone(),
            headers,
            body,
            at: Instant::now(),
        });
        match script.replies.get_mut(&path) {
            Some(queue) if queue.len() > 1 => queue.pop_front().unwrap(),
            Some(queue) => queue.front().cloned().unwrap_or(Reply::Status(200)),
            None => Reply::Status(200),
        }
    };
    match reply {
        Reply::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
        Reply::Redirect(to) => {
            (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)]).into_response()
        }
        Reply::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
    }
}
