//! `airlock serve`: the registry server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use airlock_accounts::Accounts;
use airlock_audit::SyslogForwarder;
use airlock_auth::{LoginThrottle, TokenKeys, TokenService};
use airlock_gate::reports::ReportOutput;
use airlock_gate::{Gate, GateConfig};
use airlock_registry::{Registry, RegistryConfig};
use airlock_store::{AuditFilter, Database, ReportStore};
use anyhow::Context;

use crate::config::{CommonArgs, Config, ServerArgs};

/// Arguments of `airlock serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    server: ServerArgs,
    /// Serve requests only: no scan workers, webhook deliveries or periodic
    /// jobs (run `airlock worker` processes for those). For API replicas.
    #[arg(long, env = "AIRLOCK_NO_WORKERS")]
    no_workers: bool,
}

/// The token service's name, in challenges and the JWT audience.
pub const SERVICE: &str = "airlock";

/// Opens the metadata database the configuration names.
pub async fn open_database(config: &Config) -> anyhow::Result<Arc<dyn Database>> {
    crate::backends::open_database(config).await
}

/// Builds the identity service over the database, with the token signing
/// key kept in the data directory (generated on first use).
pub async fn open_accounts(
    config: &Config,
    database: Arc<dyn Database>,
) -> anyhow::Result<Arc<Accounts>> {
    let key_path = &config.token_signing_key;
    let (keys, created) = TokenKeys::load_or_create(key_path)
        .with_context(|| format!("cannot load the token signing key {}", key_path.display()))?;
    if created {
        tracing::info!(path = %key_path.display(), "generated the token signing key");
    }
    let accounts = Accounts::new(
        database,
        TokenService::new(keys, SERVICE, config.token_ttl),
        LoginThrottle::default(),
    );
    accounts.set_report_store(open_report_store(config).await?);
    accounts.set_webhook_settings(config.webhook_settings());
    Ok(Arc::new(accounts))
}

/// The object store scan reports are kept in.
pub async fn open_report_store(config: &Config) -> anyhow::Result<Arc<dyn ReportStore>> {
    crate::backends::open_report_store(config).await
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
pub async fn open_gate(config: &Config, database: Arc<dyn Database>) -> anyhow::Result<Arc<Gate>> {
    let limits = crate::scan_runner::ScanJobLimits {
        max_memory_bytes: config.scan_max_memory,
        wall_time: config.scan_timeout,
        ..crate::scan_runner::ScanJobLimits::default()
    };
    let blobs = crate::backends::open_blob_store(config).await?;
    let access = match &config.storage {
        crate::config::StorageConfig::Filesystem => {
            crate::scan_runner::BlobAccess::Directory(config.data_dir.join("storage"))
        }
        crate::config::StorageConfig::S3(_)
        | crate::config::StorageConfig::Gcs(_)
        | crate::config::StorageConfig::Azure(_) => crate::scan_runner::BlobAccess::Staged {
            store: blobs.clone(),
            staging: config.data_dir.join("scan-staging"),
        },
    };
    let runner: Arc<dyn airlock_gate::ScanRunner> = match &config.scan_executor {
        crate::config::ScanExecutor::Process => Arc::new(
            crate::scan_runner::ChildScanRunner::new(
                access,
                Some(config.data_dir.join("scan-cache")),
                limits,
            )
            .context("cannot find the airlock executable for scan jobs")?,
        ),
        crate::config::ScanExecutor::Kubernetes(settings) => {
            kubernetes_runner(settings, limits).await?
        }
    };
    let matcher = crate::vuln_matcher::VulnDbMatcher::new(config.vulndb.clone());
    let reports = ReportOutput {
        store: open_report_store(config).await?,
        blobs,
        external_url: external_base(config),
    };
    Ok(Arc::new(
        Gate::new(
            database,
            runner,
            Arc::new(matcher),
            GateConfig {
                rejected_retention: config.rejected_retention,
                lease: config.job_lease,
                heartbeat: config.job_lease / 4,
                ..GateConfig::default()
            },
        )
        .with_reports(reports),
    ))
}

#[cfg(feature = "kubernetes")]
async fn kubernetes_runner(
    settings: &crate::config::KubernetesConfig,
    limits: crate::scan_runner::ScanJobLimits,
) -> anyhow::Result<Arc<dyn airlock_gate::ScanRunner>> {
    crate::k8s_executor::runner(settings, limits).await
}

#[cfg(not(feature = "kubernetes"))]
async fn kubernetes_runner(
    _settings: &crate::config::KubernetesConfig,
    _limits: crate::scan_runner::ScanJobLimits,
) -> anyhow::Result<Arc<dyn airlock_gate::ScanRunner>> {
    anyhow::bail!(
        "scan_executor is kubernetes, but this airlock was built without it; \
         rebuild with `cargo build --release --features kubernetes`"
    )
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

/// Scan workers of this process; [`ScanWorkers::stop`] hands their leased
/// jobs back to the queue.
pub struct ScanWorkers {
    gate: Arc<Gate>,
    names: Vec<String>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl ScanWorkers {
    /// Waits for the workers to stop (after `stop` was cancelled) and makes
    /// the jobs they held ready again at once, so another worker takes them
    /// over without waiting for the leases to expire.
    pub async fn stop(self) {
        for task in self.tasks {
            let _ = task.await;
        }
        for name in &self.names {
            match self.gate.release_leases_of(|worker| worker == name).await {
                Ok(0) => {}
                Ok(released) => {
                    tracing::info!(worker = %name, jobs = released, "handed leased jobs back")
                }
                Err(e) => tracing::warn!(worker = %name, error = %e, "could not hand jobs back"),
            }
        }
    }
}

/// Starts `count` scan workers; they stop when `stop` is cancelled.
pub fn start_scan_workers(
    gate: &Arc<Gate>,
    count: usize,
    stop: &tokio_util::sync::CancellationToken,
) -> ScanWorkers {
    let process = crate::duties::process_name();
    let names: Vec<String> = (0..count).map(|i| format!("{process}-{i}")).collect();
    let tasks = names
        .iter()
        .map(|name| {
            let stop = stop.clone();
            tokio::spawn(
                gate.clone()
                    .run_worker(name.clone(), async move { stop.cancelled().await }),
            )
        })
        .collect();
    ScanWorkers {
        gate: gate.clone(),
        names,
        tasks,
    }
}

/// Everything a worker process does besides scanning, each under its
/// cluster lease ([`crate::duties`]): gate maintenance, upload expiry,
/// garbage collection, the webhook dispatcher and the audit forwarder.
pub fn start_duties(
    config: &Config,
    database: &Arc<dyn Database>,
    gate: &Arc<Gate>,
    registry: &Arc<Registry>,
    stop: &tokio_util::sync::CancellationToken,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let mut tasks = Vec::new();
    let host = crate::duties::host_name();
    let reconciler = gate.clone();
    tasks.push(crate::duties::periodic(
        database.clone(),
        "gate-maintenance",
        Duration::from_secs(30),
        stop.clone(),
        move || {
            let gate = reconciler.clone();
            let host = host.clone();
            async move { gate_maintenance(&gate, &host).await }
        },
    ));
    let expiring = registry.clone();
    tasks.push(crate::duties::periodic(
        database.clone(),
        "upload-expiry",
        Duration::from_secs(300),
        stop.clone(),
        move || {
            let registry = expiring.clone();
            async move {
                if let Err(e) = registry.expire_uploads().await {
                    tracing::warn!(error = %e, "could not expire upload sessions");
                }
            }
        },
    ));
    if let Some(every) = config.gc_interval {
        let collecting = registry.clone();
        tasks.push(crate::duties::periodic(
            database.clone(),
            "gc",
            every,
            stop.clone(),
            move || {
                let registry = collecting.clone();
                async move {
                    let options = airlock_registry::GcOptions {
                        grace: Duration::from_secs(3600),
                        dry_run: false,
                    };
                    match registry.gc(&options).await {
                        Ok(report) => tracing::info!(
                            blobs = report.blobs_removed,
                            bytes = report.bytes_removed,
                            manifests = report.orphan_manifests,
                            uploads = report.expired_uploads,
                            "garbage collection done"
                        ),
                        Err(e) => tracing::warn!(error = %e, "garbage collection failed"),
                    }
                }
            },
        ));
    }
    if let Some(every) = config.vulndb_refresh {
        let path = config.vulndb.clone();
        let mirror = config.vulndb_mirror.clone();
        let ecosystems = config.vulndb_ecosystems.clone();
        let reevaluating = gate.clone();
        tasks.push(crate::duties::periodic(
            database.clone(),
            "vulndb-refresh",
            every,
            stop.clone(),
            move || {
                let (path, gate) = (path.clone(), reevaluating.clone());
                let options = airlock_vulndb::UpdateOptions {
                    mirror: mirror.clone(),
                    ecosystems: ecosystems.clone(),
                    progress: false,
                };
                async move { refresh_vulndb(path, options, &gate).await }
            },
        ));
    }
    let dispatcher = airlock_notify::Dispatcher::new(database.clone(), dispatch_config(config)?)
        .context("cannot start the webhook dispatcher")?;
    tasks.push(crate::duties::exclusive(
        database.clone(),
        "webhook-dispatcher",
        stop.clone(),
        move |token| dispatcher.clone().run(token),
    ));
    if let Some(target) = config.audit_syslog.clone() {
        let forwarder = Arc::new(SyslogForwarder::spawn(target));
        let source = database.clone();
        tasks.push(crate::duties::exclusive(
            database.clone(),
            "audit-syslog",
            stop.clone(),
            move |token| {
                let database = source.clone();
                let forwarder = forwarder.clone();
                async move {
                    tokio::select! {
                        () = forward_audit(database, forwarder) => {}
                        () = token.cancelled() => {}
                    }
                }
            },
        ));
    }
    Ok(tasks)
}

/// Refreshes the vulnerability database from the mirror (conditional GETs;
/// a new generation is switched in atomically, so workers reading the same
/// file never see half of it), then re-evaluates every promoted image when
/// anything changed.
async fn refresh_vulndb(
    path: std::path::PathBuf,
    options: airlock_vulndb::UpdateOptions,
    gate: &Gate,
) {
    let updating = path.clone();
    let report =
        tokio::task::spawn_blocking(move || airlock_vulndb::update(&updating, &options)).await;
    let report = match report {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => {
            tracing::warn!(path = %path.display(), error = %e, "vulnerability database refresh failed");
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "vulnerability database refresh panicked");
            return;
        }
    };
    let changed = report.sources.iter().filter(|s| !s.not_modified).count();
    tracing::info!(
        path = %path.display(),
        changed,
        "refreshed the vulnerability database"
    );
    if changed > 0 {
        match gate.reevaluate_all(None).await {
            Ok(queued) => tracing::info!(
                images = queued,
                "queued re-evaluations after new vulnerability data"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "could not queue re-evaluations after new vulnerability data")
            }
        }
    }
}

/// One round of the gate's upkeep: jobs of dead local workers, stuck
/// images, expired exceptions, rejected images past retention.
async fn gate_maintenance(gate: &Gate, host: &str) {
    match gate
        .release_leases_of(|worker| local_worker_is_gone(host, worker))
        .await
    {
        Ok(0) => {}
        Ok(released) => tracing::info!(
            jobs = released,
            "released the scan jobs of workers of a process that is gone"
        ),
        Err(e) => tracing::warn!(error = %e, "could not release the jobs of gone workers"),
    }
    match gate.reconcile().await {
        Ok(0) => {}
        Ok(moved) => tracing::info!(images = moved, "gate reconciliation moved images on"),
        Err(e) => tracing::warn!(error = %e, "gate reconciliation failed"),
    }
    match gate
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
    match gate.expire_rejected(time::OffsetDateTime::now_utc()).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(
            images = removed,
            "removed rejected images past their retention from unscanned/"
        ),
        Err(e) => tracing::warn!(error = %e, "could not expire rejected images"),
    }
}

/// Whether `worker` (named `<host>-<pid>-<n>` by [`start_scan_workers`])
/// belonged to a process on this host that no longer runs.
fn local_worker_is_gone(host: &str, worker: &str) -> bool {
    worker.rsplit_once('-').is_some_and(|(process, index)| {
        index.parse::<u32>().is_ok() && crate::duties::process_is_gone(host, process)
    })
}

/// Opens the stores under the data directory and builds the registry service.
pub async fn open_registry(config: &Config) -> anyhow::Result<Arc<Registry>> {
    let database = open_database(config).await?;
    registry_over(config, database).await
}

/// Builds the registry service over an open database.
pub async fn registry_over(
    config: &Config,
    database: Arc<dyn Database>,
) -> anyhow::Result<Arc<Registry>> {
    Ok(Arc::new(Registry::new(
        database,
        crate::backends::open_blob_store(config).await?,
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
    runtime.block_on(serve(config, !args.no_workers))?;
    Ok(0)
}

async fn serve(config: Config, with_workers: bool) -> anyhow::Result<()> {
    let database = open_database(&config).await?;
    let registry = registry_over(&config, database.clone()).await?;
    let accounts = open_accounts(&config, database.clone()).await?;
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
    let (workers, duties) = if with_workers {
        let workers = start_scan_workers(&gate, config.scan_workers, &stop);
        let duties = start_duties(&config, &database, &gate, &registry, &stop)?;
        (Some(workers), duties)
    } else {
        (None, Vec::new())
    };
    let metrics = airlock_http::install_metrics();
    let depth = crate::cmd_worker::export_queue_depth(database.clone(), stop.clone());
    let state = airlock_http::AppState {
        registry: registry.clone(),
        accounts,
        metrics,
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
        workers = with_workers,
        "airlock is serving the registry"
    );
    axum::serve(
        listener,
        airlock_http::router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("the server failed")?;
    stop.cancel();
    if let Some(workers) = workers {
        workers.stop().await;
    }
    for task in duties {
        let _ = task.await;
    }
    let _ = depth.await;
    tracing::info!("airlock stopped");
    Ok(())
}

/// Tails the audit log and forwards each new record to syslog, remembering
/// how far it got in the database so a restart resumes where it stopped.
/// Records written by other processes (the CLI) are forwarded too.
async fn forward_audit(database: Arc<dyn Database>, forwarder: Arc<SyslogForwarder>) {
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
