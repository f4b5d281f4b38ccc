//! Prometheus metrics: request counts and latencies by route and status,
//! bytes in and out.

use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The route label a handler leaves in the response extensions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteLabel(pub(crate) &'static str);

const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Installs the process-wide Prometheus recorder (once) and returns its handle.
pub fn install_metrics() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("airlock_http_request_duration_seconds".into()),
                    &LATENCY_BUCKETS,
                )
                .expect("static buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (tests); ours still renders.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// A body that counts the bytes passing through it.
struct CountingBody {
    inner: Body,
    counter: metrics::Counter,
}

impl http_body::Body for CountingBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.counter.increment(data.len() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn static_route(path: &str) -> &'static str {
    match path {
        "/healthz" => "healthz",
        "/readyz" => "readyz",
        "/metrics" => "metrics",
        _ => "other",
    }
}

/// Middleware: times every request and counts its bytes.
pub(crate) async fn track(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().as_str().to_owned();
    let fallback_route = static_route(request.uri().path());
    let request = request.map(|inner| {
        Body::new(CountingBody {
            inner,
            counter: metrics::counter!("airlock_http_request_bytes_total"),
        })
    });
    let response = next.run(request).await;
    let route = response
        .extensions()
        .get::<RouteLabel>()
        .map_or(fallback_route, |label| label.0);
    let status = response.status().as_u16().to_string();
    let labels = [
        ("route", route.to_owned()),
        ("method", method),
        ("status", status),
    ];
    metrics::counter!("airlock_http_requests_total", &labels).increment(1);
    metrics::histogram!("airlock_http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    response.map(|inner| {
        Body::new(CountingBody {
            inner,
            counter: metrics::counter!("airlock_http_response_bytes_total", "route" => route),
        })
    })
}
