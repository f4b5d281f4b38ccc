//! `airlock serve`: the registry server.

use std::sync::Arc;
use std::time::Duration;

use airlock_db_sqlite::SqliteMetadataStore;
use airlock_registry::{Registry, RegistryConfig};
use airlock_store_fs::FsBlobStore;
use anyhow::Context;

use crate::config::{CommonArgs, Config, ServerArgs};

/// Arguments of `airlock serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    server: ServerArgs,
}

/// Opens the stores under the data directory and builds the registry service.
pub async fn open_registry(config: &Config) -> anyhow::Result<Arc<Registry>> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let meta = SqliteMetadataStore::open(&config.data_dir.join("registry.db"))
        .await
        .context("cannot open the metadata database")?;
    let blobs = FsBlobStore::open(config.data_dir.join("storage"))
        .await
        .context("cannot open the blob store")?;
    Ok(Arc::new(Registry::new(
        Arc::new(meta),
        Arc::new(blobs),
        RegistryConfig {
            max_manifest_bytes: config.max_manifest_bytes,
            upload_ttl: config.upload_ttl,
        },
    )))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler can be installed");
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutdown signal received, finishing requests in flight");
}

/// Runs `airlock serve`.
pub fn run(args: ServeArgs) -> anyhow::Result<u8> {
    let config = Config::load(&args.common, Some(&args.server))?;
    config.init_logging();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(serve(config))?;
    Ok(0)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let registry = open_registry(&config).await?;
    let state = airlock_http::AppState {
        registry: registry.clone(),
        metrics: airlock_http::install_metrics(),
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(
        address = %listener.local_addr().unwrap_or(config.listen),
        data_dir = %config.data_dir.display(),
        "airlock is serving the registry"
    );
    let expiry = tokio::spawn(expire_uploads(registry));
    axum::serve(listener, airlock_http::router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the server failed")?;
    expiry.abort();
    tracing::info!("airlock stopped");
    Ok(())
}

/// Purges expired upload sessions every few minutes; blobs are left to `airlock gc`.
async fn expire_uploads(registry: Arc<Registry>) {
    let mut tick = tokio::time::interval(Duration::from_secs(300));
    loop {
        tick.tick().await;
        if let Err(e) = registry.expire_uploads().await {
            tracing::warn!(error = %e, "could not expire upload sessions");
        }
    }
}
