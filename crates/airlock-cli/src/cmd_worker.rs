//! `airlock worker`: scan workers and the cluster's background work
//! (webhook deliveries, gate maintenance, upload expiry, gc) without the
//! registry's HTTP server, against the same database and storage as the
//! `serve` replicas. Any number can run; see [`crate::duties`].
//!
//! A small HTTP listener (`--metrics-listen`) answers `/healthz`, `/readyz`
//! and `/metrics`, where `airlock_gate_queue_depth` is what an autoscaler
//! scales workers by.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use airlock_store::Database;
use anyhow::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{CommonArgs, Config, ServerArgs};

/// Arguments of `airlock worker`.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    server: ServerArgs,
    /// Address of the health and metrics listener [default: 127.0.0.1:9091].
    #[arg(long, env = "AIRLOCK_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
}

/// Publishes the number of pending gate jobs as the gauge
/// `airlock_gate_queue_depth` every 5 s until `stop`.
pub fn export_queue_depth(
    database: Arc<dyn Database>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let gauge = metrics::gauge!("airlock_gate_queue_depth");
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.cancelled() => return,
            }
            match database.pending_jobs().await {
                #[allow(clippy::cast_precision_loss)]
                Ok(depth) => gauge.set(depth as f64),
                Err(e) => tracing::warn!(error = %e, "could not read the queue depth"),
            }
        }
    })
}

#[derive(Clone)]
struct Probe {
    database: Arc<dyn Database>,
    metrics: PrometheusHandle,
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(probe): State<Probe>) -> Response {
    match probe.database.pending_jobs().await {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

async fn render_metrics(State(probe): State<Probe>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        probe.metrics.render(),
    )
        .into_response()
}

/// Runs `airlock worker` until SIGTERM or SIGINT; then stops taking jobs,
/// hands the leased ones back and releases its cluster leases.
pub fn run(args: WorkerArgs) -> anyhow::Result<u8> {
    let config = Config::load(&args.common, Some(&args.server))?;
    config.init_logging();
    let listen = args
        .metrics_listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9091)));
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(work(config, listen))?;
    Ok(0)
}

async fn work(config: Config, listen: SocketAddr) -> anyhow::Result<()> {
    let database = crate::cmd_serve::open_database(&config).await?;
    let registry = crate::cmd_serve::registry_over(&config, database.clone()).await?;
    let gate = crate::cmd_serve::open_gate(&config, database.clone()).await?;
    let stop = CancellationToken::new();
    let count = config.scan_workers.max(1);
    let workers = crate::cmd_serve::start_scan_workers(&gate, count, &stop);
    let duties = crate::cmd_serve::start_duties(&config, &database, &gate, &registry, &stop)?;
    let depth = export_queue_depth(database.clone(), stop.clone());
    let probe = Probe {
        database: database.clone(),
        metrics: airlock_http::install_metrics(),
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let app = axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .with_state(probe);
    tracing::info!(
        workers = count,
        metrics = %listener.local_addr().unwrap_or(listen),
        process = %crate::duties::process_name(),
        "airlock worker is running"
    );
    let stopping = stop.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stopping.cancelled().await })
            .await
    });
    crate::cmd_serve::shutdown_signal().await;
    stop.cancel();
    workers.stop().await;
    for task in duties {
        let _ = task.await;
    }
    let _ = depth.await;
    let _ = server.await;
    tracing::info!("airlock worker stopped");
    Ok(())
}
