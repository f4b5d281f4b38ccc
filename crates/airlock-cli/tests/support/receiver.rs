//! A real HTTP webhook receiver for the end-to-end tests: an axum server on
//! a loopback port, in its own thread and runtime, that records every
//! request and answers as the test tells it (fail the first N requests,
//! or hold the first N without answering).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// The `webhook-id` header.
    pub id: String,
    /// The `webhook-timestamp` header.
    pub timestamp: String,
    /// The `webhook-signature` header.
    pub signature: String,
    /// The `Content-Type` header.
    pub content_type: String,
    /// The body bytes, as signed.
    pub body: Vec<u8>,
    /// What the receiver answered (0: held, never answered).
    pub answered: u16,
}

impl Received {
    /// The body as JSON (a CloudEvent).
    pub fn event(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

#[derive(Default)]
struct Behaviour {
    fail_first: AtomicUsize,
    hold_first: AtomicUsize,
    seen: AtomicUsize,
    received: Mutex<Vec<Received>>,
}

/// The receiver; it stops with the test process.
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    behaviour: Arc<Behaviour>,
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

impl Receiver {
    /// Starts a receiver that answers 500 to the first `fail_first`
    /// requests, holds the next `hold_first` without ever answering, and
    /// answers 204 to the rest.
    pub fn start(fail_first: usize, hold_first: usize) -> Receiver {
        let behaviour = Arc::new(Behaviour::default());
        behaviour.fail_first.store(fail_first, Ordering::SeqCst);
        behaviour.hold_first.store(hold_first, Ordering::SeqCst);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("receiver address");
        let state = behaviour.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("receiver runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
                    let state = state.clone();
                    async move { answer(&state, &headers, body).await }
                });
                axum::serve(listener, app).await.expect("receiver serves");
            });
        });
        Receiver { addr, behaviour }
    }

    /// The URL to subscribe.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.behaviour.received.lock().expect("lock").clone()
    }

    /// Waits until `done` holds for the requests so far; panics after `timeout`.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if done(&received) {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver did not get {what} within {timeout:?}; got {} request(s): {:#?}",
                received.len(),
                received
                    .iter()
                    .map(|r| (r.id.clone(), r.event()["type"].clone(), r.answered))
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

async fn answer(state: &Behaviour, headers: &HeaderMap, body: Bytes) -> StatusCode {
    let n = state.seen.fetch_add(1, Ordering::SeqCst);
    let fail = state.fail_first.load(Ordering::SeqCst);
    let hold = state.hold_first.load(Ordering::SeqCst);
    let held = n >= fail && n < fail + hold;
    let status = if n < fail {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    };
    state.received.lock().expect("lock").push(Received {
        id: header(headers, "webhook-id"),
        timestamp: header(headers, "webhook-timestamp"),
        signature: header(headers, "webhook-signature"),
        content_type: header(headers, "content-type"),
        body: body.to_vec(),
        answered: if held { 0 } else { status.as_u16() },
    });
    if held {
        // Never answer: the sender must time out or die.
        std::future::pending::<()>().await;
    }
    status
}

/// Verifies a Standard Webhooks signature the way a receiver would,
/// independently of airlock's own code: HMAC-SHA256 keyed with the
/// base64-decoded part of `whsec_<base64>`, over `id.timestamp.body`,
/// compared with every `v1,<base64>` entry of the header.
pub fn signature_valid(secret: &str, received: &Received) -> bool {
    use base64::Engine as _;
    use hmac::{KeyInit, Mac};
    let engine = base64::engine::general_purpose::STANDARD;
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|k| engine.decode(k).ok())
    else {
        return false;
    };
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(received.id.as_bytes());
    mac.update(b".");
    mac.update(received.timestamp.as_bytes());
    mac.update(b".");
    mac.update(&received.body);
    let expected = engine.encode(mac.finalize().into_bytes());
    received
        .signature
        .split(' ')
        .any(|entry| entry.strip_prefix("v1,") == Some(expected.as_str()))
}
