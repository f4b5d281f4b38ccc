//! `airlock serve`: the registry server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use airlock_accounts::Accounts;
use airlock_audit::SyslogForwarder;
use airlock_auth::{LoginThrottle, TokenKeys, TokenService};
use airlock_db_sqlite::SqliteMetadataStore;
use airlock_gate::reports::ReportOutput;
use airlock_gate::{Gate, GateConfig};
use airlock_registry::{Registry, RegistryConfig};
use airlock_store::{AuditFilter, AuditStore, ReportStore};
use airlock_store_fs::{FsBlobStore, FsReportStore};
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

/// The token service's name, in challenges and the JWT audience.
pub const SERVICE: &str = "airlock";

/// Opens (creating if needed) the metadata database in the data directory.
pub async fn open_database(config: &Config) -> anyhow::Result<Arc<SqliteMetadataStore>> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let meta = SqliteMetadataStore::open(&config.data_dir.join("registry.db"))
        .await
        .context("cannot open the metadata database")?;
    Ok(Arc::new(meta))
}

/// Builds the identity service over the database, with the token signing
/// key kept in the data directory (generated on first use).
pub fn open_accounts(
    config: &Config,
    database: Arc<SqliteMetadataStore>,
) -> anyhow::Result<Arc<Accounts>> {
    let key_path = config.data_dir.join("token-signing-key.der");
    let (keys, created) = TokenKeys::load_or_create(&key_path)
        .with_context(|| format!("cannot load the token signing key {}", key_path.display()))?;
    if created {
        tracing::info!(path = %key_path.display(), "generated the token signing key");
    }
    let accounts = Accounts::new(
        database,
        TokenService::new(keys, SERVICE, config.token_ttl),
        LoginThrottle::default(),
    );
    accounts.set_report_store(open_report_store(config)?);
    accounts.set_webhook_settings(config.webhook_settings());
    Ok(Arc::new(accounts))
}

/// The object store scan reports are kept in: `<data-dir>/objects`.
pub fn open_report_store(config: &Config) -> anyhow::Result<Arc<dyn ReportStore>> {
    let root = config.data_dir.join("objects");
    let store = FsReportStore::open(&root)
        .with_context(|| format!("cannot open the report store {}", root.display()))?;
    Ok(Arc::new(store))
}

/// The base of absolute links (reports in events): the configured
/// external URL, else the listen address.
pub fn external_base(config: &Config) -> String {
    config
        .external_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen))
}

/// Builds the gate over the database: scans run as `airlock scan-job`
/// children with the configured limits, matching uses the OSV database in
/// the data directory.
pub async fn open_gate(
    config: &Config,
    database: Arc<SqliteMetadataStore>,
) -> anyhow::Result<Arc<Gate>> {
    let limits = crate::scan_runner::ScanJobLimits {
        max_memory_bytes: config.scan_max_memory,
        wall_time: config.scan_timeout,
        ..crate::scan_runner::ScanJobLimits::default()
    };
    let runner = crate::scan_runner::ChildScanRunner::new(
        config.data_dir.join("storage"),
        Some(config.data_dir.join("scan-cache")),
        limits,
    )
    .context("cannot find the airlock executable for scan jobs")?;
    let matcher =
        crate::vuln_matcher::VulnDbMatcher::new(config.data_dir.join("vulndb").join("osv.db"));
    let blobs = FsBlobStore::open(config.data_dir.join("storage"))
        .await
        .context("cannot open the blob store")?;
    let reports = ReportOutput {
        store: open_report_store(config)?,
        blobs: Arc::new(blobs),
        external_url: external_base(config),
    };
    Ok(Arc::new(
        Gate::new(
            database,
            Arc::new(runner),
            Arc::new(matcher),
            GateConfig {
                rejected_retention: config.rejected_retention,
                ..GateConfig::default()
            },
        )
        .with_reports(reports),
    ))
}

/// The webhook dispatcher's settings from the configuration.
pub fn dispatch_config(config: &Config) -> anyhow::Result<airlock_notify::DispatchConfig> {
    let webhooks = &config.webhooks;
    let mut dispatch = airlock_notify::DispatchConfig::new(external_base(config));
    dispatch.timeout = webhooks.timeout;
    dispatch.targets = webhooks.targets;
    dispatch.schedule = airlock_webhook::RetrySchedule::new(
        webhooks.retry_initial,
        2,
        Duration::from_secs(3600).max(webhooks.retry_initial),
        webhooks.give_up_after,
    )
    .context("invalid webhook retry settings")?;
    Ok(dispatch)
}

/// Starts `count` scan workers and the reconciliation loop; they stop when
/// `stop` is cancelled.
pub fn start_gate_workers(
    gate: &Arc<Gate>,
    count: usize,
    stop: &tokio_util::sync::CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "airlock".into());
    let mut tasks: Vec<tokio::task::JoinHandle<()>> = (0..count)
        .map(|i| {
            let name = format!("{host}-{}-{i}", std::process::id());
            let stop = stop.clone();
            tokio::spawn(
                gate.clone()
                    .run_worker(name, async move { stop.cancelled().await }),
            )
        })
        .collect();
    let reconciler = gate.clone();
    let stop = stop.clone();
    let this_host = host.clone();
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.cancelled() => return,
            }
            match reconciler
                .release_leases_of(|worker| local_worker_is_gone(&this_host, worker))
                .await
            {
                Ok(0) => {}
                Ok(released) => tracing::info!(
                    jobs = released,
                    "released the scan jobs of workers of a process that is gone"
                ),
                Err(e) => tracing::warn!(error = %e, "could not release the jobs of gone workers"),
            }
            match reconciler.reconcile().await {
                Ok(0) => {}
                Ok(moved) => tracing::info!(images = moved, "gate reconciliation moved images on"),
                Err(e) => tracing::warn!(error = %e, "gate reconciliation failed"),
            }
            match reconciler
                .notice_expired_exceptions(time::OffsetDateTime::now_utc())
                .await
            {
                Ok(0) => {}
                Ok(expired) => tracing::info!(
                    exceptions = expired,
                    "exceptions expired; re-evaluating their tenants' promoted images"
                ),
                Err(e) => tracing::warn!(error = %e, "could not handle expired exceptions"),
            }
            match reconciler
                .expire_rejected(time::OffsetDateTime::now_utc())
                .await
            {
                Ok(0) => {}
                Ok(removed) => tracing::info!(
                    images = removed,
                    "removed rejected images past their retention from unscanned/"
                ),
                Err(e) => tracing::warn!(error = %e, "could not expire rejected images"),
            }
        }
    }));
    tasks
}

/// Whether `worker` (named `<host>-<pid>-<n>` by [`start_gate_workers`])
/// belonged to a process on this host that no longer runs. Workers of other
/// hosts are never judged: their leases expire on their own.
fn local_worker_is_gone(host: &str, worker: &str) -> bool {
    let mut parts = worker.rsplitn(3, '-');
    let (Some(_index), Some(pid), Some(worker_host)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    worker_host == host
        && pid != std::process::id()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Opens the stores under the data directory and builds the registry service.
pub async fn open_registry(config: &Config) -> anyhow::Result<Arc<Registry>> {
    let database = open_database(config).await?;
    registry_over(config, database).await
}

/// Builds the registry service over an open database.
pub async fn registry_over(
    config: &Config,
    database: Arc<SqliteMetadataStore>,
) -> anyhow::Result<Arc<Registry>> {
    let blobs = FsBlobStore::open(config.data_dir.join("storage"))
        .await
        .context("cannot open the blob store")?;
    Ok(Arc::new(Registry::new(
        database,
        Arc::new(blobs),
        RegistryConfig {
            max_manifest_bytes: config.max_manifest_bytes,
            upload_ttl: config.upload_ttl,
        },
    )))
}

pub async fn shutdown_signal() {
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
    let database = open_database(&config).await?;
    let registry = registry_over(&config, database.clone()).await?;
    let accounts = open_accounts(&config, database.clone())?;
    let admin_password = std::env::var("AIRLOCK_ADMIN_PASSWORD").ok();
    if let Some(generated) = accounts
        .bootstrap_admin(admin_password.as_deref())
        .await
        .context("cannot create the first admin user")?
    {
        eprintln!(
            "airlock: created user \"admin\" with password {generated}\n\
             airlock: it is shown only this once; change it with `airlock user passwd admin`"
        );
    }
    let gate = open_gate(&config, database.clone()).await?;
    registry.observe_pushes(gate.clone());
    accounts.set_gate_trigger(Arc::new(crate::cmd_gate::GateReevaluation(gate.clone())));
    let stop = tokio_util::sync::CancellationToken::new();
    let workers = start_gate_workers(&gate, config.scan_workers, &stop);
    let dispatcher = airlock_notify::Dispatcher::new(database.clone(), dispatch_config(&config)?)
        .context("cannot start the webhook dispatcher")?;
    let dispatching = tokio::spawn(dispatcher.run(stop.clone()));
    let forwarding = config.audit_syslog.clone().map(|target| {
        tokio::spawn(forward_audit(
            database.clone(),
            SyslogForwarder::spawn(target),
        ))
    });
    let state = airlock_http::AppState {
        registry: registry.clone(),
        accounts,
        metrics: airlock_http::install_metrics(),
        settings: Arc::new(airlock_http::HttpSettings {
            external_url: config.external_url.clone(),
        }),
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
    axum::serve(
        listener,
        airlock_http::router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("the server failed")?;
    expiry.abort();
    stop.cancel();
    for worker in workers {
        let _ = worker.await;
    }
    let _ = dispatching.await;
    if let Some(forwarding) = forwarding {
        forwarding.abort();
    }
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

/// Tails the audit log and forwards each new record to syslog, remembering
/// how far it got in the database so a restart resumes where it stopped.
/// Records written by other processes (the CLI) are forwarded too.
async fn forward_audit(database: Arc<SqliteMetadataStore>, forwarder: SyslogForwarder) {
    const CONSUMER: &str = "syslog";
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        let result = async {
            let after = database.audit_cursor(CONSUMER).await?;
            let records = database
                .audit_records(&AuditFilter::default(), after, 500)
                .await?;
            if let Some(last) = records.last() {
                for record in &records {
                    forwarder.send(record);
                }
                database.set_audit_cursor(CONSUMER, last.seq).await?;
            }
            Ok::<_, airlock_store::StoreError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not forward audit records to syslog");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::local_worker_is_gone;

    #[test]
    fn only_local_workers_of_dead_processes_are_gone() {
        let me = std::process::id();
        // pid 0 has no /proc entry; our own pid is alive.
        assert!(local_worker_is_gone("box", "box-0-1"));
        assert!(local_worker_is_gone("my-box", "my-box-0-1"));
        assert!(!local_worker_is_gone("box", &format!("box-{me}-0")));
        assert!(!local_worker_is_gone("box", "other-0-1"));
        assert!(!local_worker_is_gone("box", "box-notapid-1"));
        assert!(!local_worker_is_gone("box", "w1"));
    }
}
