//! Configuration: raw values from a TOML file, the environment and flags,
//! validated once into [`Config`].
//!
//! Precedence, highest first: command-line flag, `AIRLOCK_*` environment
//! variable (clap reads both), the `--config` file, built-in defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

/// Flags shared by every command that opens the data directory.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// TOML configuration file.
    #[arg(long, env = "AIRLOCK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory holding the database and blobs [default: ./airlock-data].
    #[arg(long, env = "AIRLOCK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "AIRLOCK_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Log filter, e.g. `info` or `airlock=debug` [default: info].
    #[arg(long, env = "AIRLOCK_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// Accept plain http:// webhook URLs (development only) [default: false].
    #[arg(long, env = "AIRLOCK_WEBHOOK_ALLOW_HTTP")]
    pub webhook_allow_http: Option<bool>,
    /// Accept webhook URLs on loopback and private addresses [default: false].
    #[arg(long, env = "AIRLOCK_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: Option<bool>,
    /// Metadata database: `postgres://USER@HOST:PORT/DB` [default: SQLite in the data directory].
    #[arg(long, env = "AIRLOCK_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The token signing key (PKCS#8 DER), shared by every replica; created if missing [default: DATA_DIR/token-signing-key.der].
    #[arg(long, env = "AIRLOCK_TOKEN_SIGNING_KEY")]
    pub token_signing_key: Option<PathBuf>,
    /// The vulnerability database file [default: DATA_DIR/vulndb/osv.db].
    #[arg(long, env = "AIRLOCK_VULNDB")]
    pub vulndb: Option<PathBuf>,
}

/// Flags of `airlock serve` that configure the server.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Address to listen on [default: 127.0.0.1:5000].
    #[arg(long, env = "AIRLOCK_LISTEN")]
    pub listen: Option<String>,
    /// Largest manifest accepted, in bytes [default: 4194304].
    #[arg(long, env = "AIRLOCK_MAX_MANIFEST_BYTES")]
    pub max_manifest_bytes: Option<usize>,
    /// Idle time after which an upload session expires, e.g. `24h` [default: 24h].
    #[arg(long, env = "AIRLOCK_UPLOAD_TTL")]
    pub upload_ttl: Option<String>,
    /// URL clients reach airlock at, for the token realm [default: http:// + the request's Host].
    #[arg(long, env = "AIRLOCK_EXTERNAL_URL")]
    pub external_url: Option<String>,
    /// Lifetime of registry tokens, e.g. `5m` [default: 5m].
    #[arg(long, env = "AIRLOCK_TOKEN_TTL")]
    pub token_ttl: Option<String>,
    /// Forward audit records to syslog (RFC 5424), e.g. `udp://127.0.0.1:514` or `tcp://siem:601`.
    #[arg(long, env = "AIRLOCK_AUDIT_SYSLOG")]
    pub audit_syslog: Option<String>,
    /// Scan workers run by this process [default: the number of cores; 0 runs none].
    #[arg(long, env = "AIRLOCK_SCAN_WORKERS")]
    pub scan_workers: Option<usize>,
    /// Wall-time limit of one scan job, e.g. `10m` [default: 10m].
    #[arg(long, env = "AIRLOCK_SCAN_TIMEOUT")]
    pub scan_timeout: Option<String>,
    /// Address-space limit of one scan job in bytes [default: 2147483648].
    #[arg(long, env = "AIRLOCK_SCAN_MAX_MEMORY")]
    pub scan_max_memory: Option<u64>,
    /// How long rejected images stay in unscanned/ for inspection, e.g. `7d` [default: 7d].
    #[arg(long, env = "AIRLOCK_REJECTED_RETENTION")]
    pub rejected_retention: Option<String>,
    /// Time limit of one webhook request, e.g. `10s` [default: 10s].
    #[arg(long, env = "AIRLOCK_WEBHOOK_TIMEOUT")]
    pub webhook_timeout: Option<String>,
    /// Delay before the first webhook retry; doubles per attempt, e.g. `5s` [default: 5s].
    #[arg(long, env = "AIRLOCK_WEBHOOK_RETRY_INITIAL")]
    pub webhook_retry_initial: Option<String>,
    /// How long a webhook delivery is retried before it is dead-lettered [default: 24h].
    #[arg(long, env = "AIRLOCK_WEBHOOK_GIVE_UP_AFTER")]
    pub webhook_give_up_after: Option<String>,
    /// How often unreferenced blobs are garbage-collected; `0` turns it off [default: 24h].
    #[arg(long, env = "AIRLOCK_GC_INTERVAL")]
    pub gc_interval: Option<String>,
    /// How long a scan job stays leased to a worker that stops renewing it, e.g. `60s` [default: 60s].
    #[arg(long, env = "AIRLOCK_JOB_LEASE")]
    pub job_lease: Option<String>,
    /// Where scans run: `process` (a child process) or `kubernetes` (a Job per scan; feature `kubernetes`) [default: process].
    #[arg(long, env = "AIRLOCK_SCAN_EXECUTOR")]
    pub scan_executor: Option<String>,
    /// Refresh the vulnerability database from the mirror this often, once cluster-wide, e.g. `6h`; `0` turns it off [default: 0].
    #[arg(long, env = "AIRLOCK_VULNDB_REFRESH")]
    pub vulndb_refresh: Option<String>,
    /// Base URL serving `<Ecosystem>/all.zip` for the refresh [default: osv.dev's bucket].
    #[arg(long, env = "AIRLOCK_OSV_MIRROR")]
    pub vulndb_mirror: Option<String>,
    /// Ecosystems the refresh fetches, comma-separated, e.g. `PyPI,Go` [default: those in the database, or airlock's list for a new one].
    #[arg(long, env = "AIRLOCK_VULNDB_ECOSYSTEMS", value_delimiter = ',')]
    pub vulndb_ecosystems: Option<Vec<String>>,
}

/// The configuration file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    log_format: Option<String>,
    log_level: Option<String>,
    max_manifest_bytes: Option<usize>,
    upload_ttl: Option<String>,
    external_url: Option<String>,
    token_ttl: Option<String>,
    audit_syslog: Option<String>,
    scan_workers: Option<usize>,
    scan_timeout: Option<String>,
    scan_max_memory: Option<u64>,
    rejected_retention: Option<String>,
    webhook_allow_http: Option<bool>,
    webhook_allow_private: Option<bool>,
    webhook_timeout: Option<String>,
    webhook_retry_initial: Option<String>,
    webhook_give_up_after: Option<String>,
    gc_interval: Option<String>,
    job_lease: Option<String>,
    token_signing_key: Option<PathBuf>,
    vulndb: Option<PathBuf>,
    scan_executor: Option<String>,
    vulndb_refresh: Option<String>,
    vulndb_mirror: Option<String>,
    vulndb_ecosystems: Option<Vec<String>>,
    kubernetes: Option<KubernetesConfig>,
    database: Option<RawDatabase>,
    storage: Option<RawStorage>,
}

/// The `[database]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: Option<String>,
    schema: Option<String>,
    max_connections: Option<u32>,
    min_connections: Option<u32>,
    acquire_timeout: Option<String>,
    idle_timeout: Option<String>,
    statement_timeout: Option<String>,
}

/// The `[storage]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    backend: Option<String>,
    endpoint: Option<String>,
    region: Option<String>,
    bucket: Option<String>,
    prefix: Option<String>,
    path_style: Option<bool>,
    allow_http: Option<bool>,
    presign_ttl: Option<String>,
    service_account_key: Option<PathBuf>,
    account: Option<String>,
    container: Option<String>,
    use_emulator: Option<bool>,
}

impl RawStorage {
    /// The keys that are set, besides `backend`, with the backends each
    /// one applies to.
    fn set_keys(&self) -> Vec<(&'static str, &'static [&'static str])> {
        const S3: &[&str] = &["s3"];
        const AZURE: &[&str] = &["azure"];
        const GCS: &[&str] = &["gcs"];
        const S3_AZURE: &[&str] = &["s3", "azure"];
        const S3_GCS: &[&str] = &["s3", "gcs"];
        const CLOUDS: &[&str] = &["s3", "gcs", "azure"];
        [
            ("endpoint", self.endpoint.is_some(), S3_AZURE),
            ("region", self.region.is_some(), S3),
            ("bucket", self.bucket.is_some(), S3_GCS),
            ("prefix", self.prefix.is_some(), CLOUDS),
            ("path_style", self.path_style.is_some(), S3),
            ("allow_http", self.allow_http.is_some(), S3_AZURE),
            ("presign_ttl", self.presign_ttl.is_some(), CLOUDS),
            (
                "service_account_key",
                self.service_account_key.is_some(),
                GCS,
            ),
            ("account", self.account.is_some(), AZURE),
            ("container", self.container.is_some(), AZURE),
            ("use_emulator", self.use_emulator.is_some(), AZURE),
        ]
        .into_iter()
        .filter(|(_, set, _)| *set)
        .map(|(key, _, backends)| (key, backends))
        .collect()
    }

    /// Refuses keys that belong to another backend than `backend`.
    fn check_keys_belong_to(&self, backend: &str) -> anyhow::Result<()> {
        for (key, backends) in self.set_keys() {
            if !backends.contains(&backend) {
                let owners: Vec<String> = backends.iter().map(|b| format!("{b:?}")).collect();
                bail!(
                    "[storage] {key} is set but backend is not {} (it is {backend:?})",
                    owners.join(" or ")
                );
            }
        }
        Ok(())
    }

    fn presign_ttl(&self) -> anyhow::Result<Option<Duration>> {
        self.presign_ttl
            .as_deref()
            .map(|text| parse_duration(text).context("invalid storage presign_ttl"))
            .transpose()
    }

    fn prefix(&self) -> String {
        self.prefix
            .as_deref()
            .unwrap_or_default()
            .trim_matches('/')
            .to_owned()
    }
}

/// The `[kubernetes]` table: how `--scan-executor kubernetes` builds each
/// scan Job (see docs/kubernetes.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesConfig {
    /// Namespace of the scan Jobs [default: the worker's own].
    pub namespace: Option<String>,
    /// The airlock image the scan pods run (by digest, preferably).
    pub image: Option<String>,
    /// [default: IfNotPresent].
    pub image_pull_policy: Option<String>,
    /// [default: airlock-scan].
    pub service_account: Option<String>,
    /// ConfigMap holding airlock.toml [default: airlock-config].
    pub config_map: Option<String>,
    /// Secret with the S3 credentials [default: airlock-s3].
    pub secret: Option<String>,
    /// [default: 1].
    pub cpu_limit: Option<String>,
    /// [default: 2Gi].
    pub memory_limit: Option<String>,
    /// How long finished Jobs are kept if the worker cannot delete them [default: 10m].
    pub ttl_after_finished: Option<String>,
    #[serde(default)]
    pub node_selector: std::collections::BTreeMap<String, String>,
}

/// Where scans run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanExecutor {
    /// `airlock scan-job` as a child process with OS limits.
    Process,
    /// A Kubernetes Job per scan.
    Kubernetes(Box<KubernetesConfig>),
}

/// Where metadata (registry state, identities, the gate's queue, the
/// audit log) is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseConfig {
    /// `<data-dir>/registry.db` (embedded; migrated on open).
    Sqlite,
    /// A PostgreSQL server (scale-out; migrated by `airlock migrate`).
    Postgres(PostgresConfig),
}

/// A PostgreSQL connection and its pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    pub url: String,
    pub schema: Option<String>,
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout: Duration,
    pub idle_timeout: Duration,
    pub statement_timeout: Duration,
}

/// Where blobs and reports are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    /// `<data-dir>/storage` and `<data-dir>/objects` (embedded).
    Filesystem,
    /// An S3-compatible bucket (scale-out).
    S3(S3Config),
    /// A Google Cloud Storage bucket (scale-out; cargo feature `gcs`).
    Gcs(GcsConfig),
    /// An Azure Blob Storage container (scale-out; cargo feature `azure`).
    Azure(AzureConfig),
}

/// An S3-compatible bucket; credentials come from the standard `AWS_*`
/// environment variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    pub prefix: String,
    pub path_style: bool,
    pub allow_http: bool,
    /// Redirect blob downloads to presigned URLs valid this long.
    pub presign_ttl: Option<Duration>,
}

/// A Google Cloud Storage bucket; credentials come from
/// `service_account_key` or the `GOOGLE_*` environment variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcsConfig {
    pub bucket: String,
    pub prefix: String,
    /// A service-account key file (JSON); `None` reads the environment.
    pub service_account_key: Option<PathBuf>,
    /// Redirect blob downloads to signed URLs valid this long.
    pub presign_ttl: Option<Duration>,
}

/// An Azure Blob Storage container; credentials come from the `AZURE_*`
/// environment variables (`AZURE_STORAGE_ACCOUNT_KEY`, or a service
/// principal, workload or managed identity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureConfig {
    /// The storage account; `None` only with `use_emulator`.
    pub account: Option<String>,
    pub container: String,
    pub prefix: String,
    pub endpoint: Option<String>,
    /// Azurite at `http://127.0.0.1:10000` with its well-known account.
    pub use_emulator: bool,
    pub allow_http: bool,
    /// Redirect blob downloads to SAS URLs valid this long.
    pub presign_ttl: Option<Duration>,
}

fn database_config(
    common: &CommonArgs,
    raw: Option<RawDatabase>,
) -> anyhow::Result<DatabaseConfig> {
    let raw = raw.unwrap_or_default();
    let Some(url) = common.database_url.clone().or(raw.url) else {
        if raw.schema.is_some() || raw.max_connections.is_some() {
            bail!("[database] settings need a url (postgres://...)");
        }
        return Ok(DatabaseConfig::Sqlite);
    };
    if url.starts_with("sqlite:") {
        return Ok(DatabaseConfig::Sqlite);
    }
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        bail!("invalid database url: expected postgres://USER@HOST:PORT/DATABASE");
    }
    let duration = |value: Option<String>, key: &str, default: Duration| match value {
        Some(text) => parse_duration(&text).with_context(|| format!("invalid database {key}")),
        None => Ok(default),
    };
    let max_connections = raw.max_connections.unwrap_or(16);
    let min_connections = raw.min_connections.unwrap_or(0);
    if max_connections == 0 || min_connections > max_connections {
        bail!("database max_connections must be at least 1 and at least min_connections");
    }
    Ok(DatabaseConfig::Postgres(PostgresConfig {
        url,
        schema: raw.schema,
        max_connections,
        min_connections,
        acquire_timeout: duration(
            raw.acquire_timeout,
            "acquire_timeout",
            Duration::from_secs(30),
        )?,
        idle_timeout: duration(raw.idle_timeout, "idle_timeout", Duration::from_secs(600))?,
        statement_timeout: duration(
            raw.statement_timeout,
            "statement_timeout",
            Duration::from_secs(60),
        )?,
    }))
}

fn storage_config(raw: Option<RawStorage>) -> anyhow::Result<StorageConfig> {
    let raw = raw.unwrap_or_default();
    let backend = raw
        .backend
        .clone()
        .unwrap_or_else(|| "filesystem".to_owned());
    if !["filesystem", "s3", "gcs", "azure"].contains(&backend.as_str()) {
        bail!("invalid storage backend {backend:?} (use filesystem, s3, gcs or azure)");
    }
    raw.check_keys_belong_to(&backend)?;
    let non_empty = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
    match backend.as_str() {
        "s3" => {
            let Some(bucket) = non_empty(&raw.bucket) else {
                bail!("[storage] backend \"s3\" needs a bucket");
            };
            Ok(StorageConfig::S3(S3Config {
                endpoint: raw.endpoint.clone(),
                region: raw.region.clone().unwrap_or_else(|| "us-east-1".to_owned()),
                bucket,
                prefix: raw.prefix(),
                path_style: raw.path_style.unwrap_or(false),
                allow_http: raw.allow_http.unwrap_or(false),
                presign_ttl: raw.presign_ttl()?,
            }))
        }
        "gcs" => {
            let Some(bucket) = non_empty(&raw.bucket) else {
                bail!("[storage] backend \"gcs\" needs a bucket");
            };
            Ok(StorageConfig::Gcs(GcsConfig {
                bucket,
                prefix: raw.prefix(),
                service_account_key: raw.service_account_key.clone(),
                presign_ttl: raw.presign_ttl()?,
            }))
        }
        "azure" => {
            let Some(container) = non_empty(&raw.container) else {
                bail!("[storage] backend \"azure\" needs a container");
            };
            let use_emulator = raw.use_emulator.unwrap_or(false);
            let account = non_empty(&raw.account);
            if account.is_none() && !use_emulator {
                bail!("[storage] backend \"azure\" needs an account (or use_emulator = true)");
            }
            if use_emulator && raw.endpoint.is_some() {
                bail!(
                    "[storage] use_emulator and endpoint exclude each other \
                     (the emulator is at http://127.0.0.1:10000, or AZURITE_BLOB_STORAGE_URL)"
                );
            }
            Ok(StorageConfig::Azure(AzureConfig {
                account,
                container,
                prefix: raw.prefix(),
                endpoint: raw.endpoint.clone(),
                use_emulator,
                allow_http: raw.allow_http.unwrap_or(false),
                presign_ttl: raw.presign_ttl()?,
            }))
        }
        _ => Ok(StorageConfig::Filesystem),
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    pub log_level: String,
    pub max_manifest_bytes: usize,
    pub upload_ttl: Duration,
    pub external_url: Option<String>,
    pub token_ttl: Duration,
    pub audit_syslog: Option<airlock_audit::syslog::SyslogTarget>,
    pub scan_workers: usize,
    pub scan_timeout: Duration,
    pub scan_max_memory: u64,
    pub rejected_retention: Duration,
    pub webhooks: WebhookConfig,
    pub database: DatabaseConfig,
    pub storage: StorageConfig,
    /// `None`: no periodic garbage collection.
    pub gc_interval: Option<Duration>,
    pub job_lease: Duration,
    pub token_signing_key: PathBuf,
    pub vulndb: PathBuf,
    pub scan_executor: ScanExecutor,
    /// `None`: the vulnerability database is not refreshed by the server.
    pub vulndb_refresh: Option<Duration>,
    pub vulndb_mirror: String,
    /// Empty: those in the database, or airlock's default list.
    pub vulndb_ecosystems: Vec<String>,
}

/// How webhooks are delivered.
#[derive(Debug, Clone, Copy)]
pub struct WebhookConfig {
    /// Which targets are accepted.
    pub targets: airlock_webhook::TargetPolicy,
    /// Time limit of one request.
    pub timeout: Duration,
    /// Delay before the first retry.
    pub retry_initial: Duration,
    /// Retry deadline, counted from the event.
    pub give_up_after: Duration,
}

/// Parses `90s`, `15m`, `24h`, `7d` (a bare number means seconds).
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().with_context(|| {
        format!("invalid duration {text:?}: expected a number followed by ms, s, m, h or d")
    })?;
    let seconds = match unit {
        "ms" => return Ok(Duration::from_millis(number)),
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => bail!("invalid duration {text:?}: unknown unit {other:?} (use ms, s, m, h or d)"),
    };
    Ok(Duration::from_secs(number.saturating_mul(seconds)))
}

fn webhook_config(
    common: &CommonArgs,
    server: Option<&ServerArgs>,
    file: &RawConfig,
) -> anyhow::Result<WebhookConfig> {
    let duration =
        |flag: Option<String>, key: &str, default: Duration| -> anyhow::Result<Duration> {
            let value = match flag {
                Some(text) => parse_duration(&text).with_context(|| format!("invalid {key}"))?,
                None => default,
            };
            if value.is_zero() {
                bail!("{key} must be greater than zero");
            }
            Ok(value)
        };
    let timeout = duration(
        server
            .and_then(|s| s.webhook_timeout.clone())
            .or(file.webhook_timeout.clone()),
        "webhook_timeout",
        Duration::from_secs(10),
    )?;
    let retry_initial = duration(
        server
            .and_then(|s| s.webhook_retry_initial.clone())
            .or(file.webhook_retry_initial.clone()),
        "webhook_retry_initial",
        Duration::from_secs(5),
    )?;
    let give_up_after = duration(
        server
            .and_then(|s| s.webhook_give_up_after.clone())
            .or(file.webhook_give_up_after.clone()),
        "webhook_give_up_after",
        Duration::from_secs(24 * 3600),
    )?;
    Ok(WebhookConfig {
        targets: airlock_webhook::TargetPolicy {
            allow_http: common
                .webhook_allow_http
                .or(file.webhook_allow_http)
                .unwrap_or(false),
            allow_private: common
                .webhook_allow_private
                .or(file.webhook_allow_private)
                .unwrap_or(false),
        },
        timeout,
        retry_initial,
        give_up_after,
    })
}

fn read_file(path: &Path) -> anyhow::Result<RawConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
}

impl Config {
    /// Merges and validates flags, environment and file.
    pub fn load(common: &CommonArgs, server: Option<&ServerArgs>) -> anyhow::Result<Config> {
        let file = match &common.config {
            Some(path) => read_file(path)?,
            None => RawConfig::default(),
        };
        let webhooks = webhook_config(common, server, &file)?;
        let database = database_config(common, file.database)?;
        let storage = storage_config(file.storage)?;
        let listen_text = server
            .and_then(|s| s.listen.clone())
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:5000".to_owned());
        let listen = listen_text.parse().with_context(|| {
            format!(
                "invalid listen address {listen_text:?} (expected HOST:PORT, e.g. 127.0.0.1:5000)"
            )
        })?;
        let data_dir = common
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./airlock-data"));
        let log_format = match common.log_format.clone().or(file.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => bail!("invalid log format {other:?} (use text or json)"),
        };
        let log_level = common
            .log_level
            .clone()
            .or(file.log_level)
            .unwrap_or_else(|| "info".to_owned());
        tracing_subscriber::EnvFilter::try_new(&log_level)
            .with_context(|| format!("invalid log level {log_level:?}"))?;
        let max_manifest_bytes = server
            .and_then(|s| s.max_manifest_bytes)
            .or(file.max_manifest_bytes)
            .unwrap_or(4 * 1024 * 1024);
        if max_manifest_bytes == 0 {
            bail!("max_manifest_bytes must be greater than zero");
        }
        let upload_ttl = match server
            .and_then(|s| s.upload_ttl.clone())
            .or(file.upload_ttl)
        {
            Some(text) => parse_duration(&text).context("invalid upload_ttl")?,
            None => Duration::from_secs(24 * 3600),
        };
        if upload_ttl.is_zero() {
            bail!("upload_ttl must be greater than zero");
        }
        let external_url = server
            .and_then(|s| s.external_url.clone())
            .or(file.external_url)
            .map(|url| {
                if url.starts_with("http://") || url.starts_with("https://") {
                    Ok(url.trim_end_matches('/').to_owned())
                } else {
                    Err(anyhow::anyhow!(
                        "invalid external_url {url:?}: expected http://HOST[:PORT] or https://..."
                    ))
                }
            })
            .transpose()?;
        let token_ttl = match server.and_then(|s| s.token_ttl.clone()).or(file.token_ttl) {
            Some(text) => parse_duration(&text).context("invalid token_ttl")?,
            None => Duration::from_secs(300),
        };
        if token_ttl.is_zero() || token_ttl > Duration::from_secs(86_400) {
            bail!("token_ttl must be between 1s and 24h");
        }
        let audit_syslog = server
            .and_then(|s| s.audit_syslog.clone())
            .or(file.audit_syslog)
            .map(|t| {
                t.parse::<airlock_audit::syslog::SyslogTarget>()
                    .map_err(|e| anyhow::anyhow!("invalid audit_syslog: {e}"))
            })
            .transpose()?;
        let scan_workers = server
            .and_then(|s| s.scan_workers)
            .or(file.scan_workers)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let scan_timeout = match server
            .and_then(|s| s.scan_timeout.clone())
            .or(file.scan_timeout)
        {
            Some(text) => parse_duration(&text).context("invalid scan_timeout")?,
            None => Duration::from_secs(600),
        };
        if scan_timeout.is_zero() {
            bail!("scan_timeout must be greater than zero");
        }
        let scan_max_memory = server
            .and_then(|s| s.scan_max_memory)
            .or(file.scan_max_memory)
            .unwrap_or(2 << 30);
        if scan_max_memory < 64 << 20 {
            bail!("scan_max_memory must be at least 67108864 (64 MiB)");
        }
        let rejected_retention = match server
            .and_then(|s| s.rejected_retention.clone())
            .or(file.rejected_retention)
        {
            Some(text) => parse_duration(&text).context("invalid rejected_retention")?,
            None => Duration::from_secs(7 * 86_400),
        };
        let gc_interval = match server
            .and_then(|s| s.gc_interval.clone())
            .or(file.gc_interval)
        {
            Some(text) => Some(parse_duration(&text).context("invalid gc_interval")?),
            None => Some(Duration::from_secs(86_400)),
        }
        .filter(|every| !every.is_zero());
        let job_lease = match server.and_then(|s| s.job_lease.clone()).or(file.job_lease) {
            Some(text) => parse_duration(&text).context("invalid job_lease")?,
            None => Duration::from_secs(60),
        };
        if job_lease < Duration::from_secs(4) {
            bail!("job_lease must be at least 4s");
        }
        let token_signing_key = common
            .token_signing_key
            .clone()
            .or(file.token_signing_key)
            .unwrap_or_else(|| data_dir.join("token-signing-key.der"));
        let vulndb = common
            .vulndb
            .clone()
            .or(file.vulndb)
            .unwrap_or_else(|| data_dir.join("vulndb").join("osv.db"));
        let scan_executor = match server
            .and_then(|s| s.scan_executor.clone())
            .or(file.scan_executor)
            .as_deref()
        {
            None | Some("process") => ScanExecutor::Process,
            Some("kubernetes") => {
                let kubernetes = file.kubernetes.unwrap_or_default();
                if kubernetes.image.as_deref().is_none_or(str::is_empty) {
                    bail!(
                        "scan_executor \"kubernetes\" needs [kubernetes] image (the airlock image scan pods run)"
                    );
                }
                ScanExecutor::Kubernetes(Box::new(kubernetes))
            }
            Some(other) => {
                bail!("invalid scan_executor {other:?} (use process or kubernetes)")
            }
        };
        let vulndb_refresh = server
            .and_then(|s| s.vulndb_refresh.clone())
            .or(file.vulndb_refresh)
            .map(|text| parse_duration(&text).context("invalid vulndb_refresh"))
            .transpose()?
            .filter(|every| !every.is_zero());
        let vulndb_mirror = server
            .and_then(|s| s.vulndb_mirror.clone())
            .or(file.vulndb_mirror)
            .unwrap_or_else(|| airlock_vulndb::DEFAULT_MIRROR.to_owned());
        let vulndb_ecosystems = server
            .and_then(|s| s.vulndb_ecosystems.clone())
            .or(file.vulndb_ecosystems)
            .unwrap_or_default();
        Ok(Config {
            vulndb_ecosystems,
            vulndb_refresh,
            vulndb_mirror,
            scan_executor,
            token_signing_key,
            vulndb,
            gc_interval,
            job_lease,
            database,
            storage,
            webhooks,
            rejected_retention,
            scan_workers,
            scan_timeout,
            scan_max_memory,
            external_url,
            token_ttl,
            audit_syslog,
            listen,
            data_dir,
            log_format,
            log_level,
            max_manifest_bytes,
            upload_ttl,
        })
    }

    /// The settings the accounts service checks webhook URLs with.
    pub fn webhook_settings(&self) -> airlock_accounts::WebhookSettings {
        airlock_accounts::WebhookSettings {
            targets: self.webhooks.targets,
            nats: cfg!(feature = "nats"),
        }
    }

    /// Starts logging as configured.
    pub fn init_logging(&self) {
        let filter = tracing_subscriber::EnvFilter::new(&self.log_level);
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr);
        match self.log_format {
            LogFormat::Json => builder.json().init(),
            LogFormat::Text => builder.init(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn common(config: Option<PathBuf>) -> CommonArgs {
        CommonArgs {
            config,
            data_dir: None,
            log_format: None,
            log_level: None,
            webhook_allow_http: None,
            webhook_allow_private: None,
            database_url: None,
            token_signing_key: None,
            vulndb: None,
        }
    }

    fn server(listen: Option<&str>) -> ServerArgs {
        ServerArgs {
            listen: listen.map(str::to_owned),
            max_manifest_bytes: None,
            upload_ttl: None,
            external_url: None,
            token_ttl: None,
            audit_syslog: None,
            scan_workers: None,
            scan_timeout: None,
            scan_max_memory: None,
            rejected_retention: None,
            webhook_timeout: None,
            webhook_retry_initial: None,
            webhook_give_up_after: None,
            gc_interval: None,
            job_lease: None,
            scan_executor: None,
            vulndb_refresh: None,
            vulndb_mirror: None,
            vulndb_ecosystems: None,
        }
    }

    #[test]
    fn defaults_apply_without_a_file() {
        let config = Config::load(&common(None), Some(&server(None))).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:5000");
        assert_eq!(config.data_dir, PathBuf::from("./airlock-data"));
        assert_eq!(config.max_manifest_bytes, 4 * 1024 * 1024);
        assert_eq!(config.upload_ttl, Duration::from_secs(86_400));
        assert_eq!(config.token_ttl, Duration::from_secs(300));
        assert_eq!(config.external_url, None);
        assert_eq!(config.audit_syslog, None);
    }

    #[test]
    fn flags_override_the_file_and_the_file_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("airlock.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:6000\"\nupload_ttl = \"2h\"\nlog_format = \"json\"\n",
        )
        .unwrap();
        let config = Config::load(&common(Some(path.clone())), Some(&server(None))).unwrap();
        assert_eq!(config.listen.port(), 6000);
        assert_eq!(config.upload_ttl, Duration::from_secs(7200));
        assert_eq!(config.log_format, LogFormat::Json);
        let config =
            Config::load(&common(Some(path)), Some(&server(Some("127.0.0.1:7000")))).unwrap();
        assert_eq!(config.listen.port(), 7000);
    }

    #[test]
    fn invalid_values_get_clear_messages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        let error = format!("{:#}", Config::load(&common(Some(path)), None).unwrap_err());
        assert!(
            error.contains("unknown field") && error.contains("lisen"),
            "{error}"
        );
        let error = format!(
            "{:#}",
            Config::load(&common(None), Some(&server(Some("nowhere")))).unwrap_err()
        );
        assert!(
            error.contains("invalid listen address \"nowhere\""),
            "{error}"
        );
        let mut args = server(None);
        args.upload_ttl = Some("3 weeks".into());
        let error = format!(
            "{:#}",
            Config::load(&common(None), Some(&args)).unwrap_err()
        );
        assert!(error.contains("invalid upload_ttl"), "{error}");
        let mut args = server(None);
        args.audit_syslog = Some("syslog.example:514".into());
        let error = format!(
            "{:#}",
            Config::load(&common(None), Some(&args)).unwrap_err()
        );
        assert!(error.contains("invalid audit_syslog"), "{error}");
        let mut args = server(None);
        args.external_url = Some("registry.example".into());
        let error = format!(
            "{:#}",
            Config::load(&common(None), Some(&args)).unwrap_err()
        );
        assert!(error.contains("invalid external_url"), "{error}");
    }

    #[test]
    fn database_and_storage_tables_configure_the_backends() {
        let config = Config::load(&common(None), None).unwrap();
        assert_eq!(config.database, DatabaseConfig::Sqlite);
        assert_eq!(config.storage, StorageConfig::Filesystem);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("airlock.toml");
        std::fs::write(
            &path,
            "[database]\nurl = \"postgres://a@db:5432/airlock\"\nmax_connections = 4\n\
             acquire_timeout = \"5s\"\n\
             [storage]\nbackend = \"s3\"\nbucket = \"blobs\"\nendpoint = \"http://s3:9000\"\n\
             prefix = \"/prod/\"\npath_style = true\npresign_ttl = \"5m\"\n",
        )
        .unwrap();
        let config = Config::load(&common(Some(path.clone())), None).unwrap();
        let DatabaseConfig::Postgres(pg) = &config.database else {
            panic!("{:?}", config.database)
        };
        assert_eq!(pg.url, "postgres://a@db:5432/airlock");
        assert_eq!(pg.max_connections, 4);
        assert_eq!(pg.acquire_timeout, Duration::from_secs(5));
        assert_eq!(pg.statement_timeout, Duration::from_secs(60));
        let StorageConfig::S3(s3) = &config.storage else {
            panic!("{:?}", config.storage)
        };
        assert_eq!(s3.bucket, "blobs");
        assert_eq!(s3.prefix, "prod");
        assert_eq!(s3.region, "us-east-1");
        assert!(s3.path_style && !s3.allow_http);
        assert_eq!(s3.presign_ttl, Some(Duration::from_secs(300)));

        // The flag wins over the file.
        let mut args = common(Some(path));
        args.database_url = Some("postgres://b@other/x".into());
        let config = Config::load(&args, None).unwrap();
        assert!(
            matches!(&config.database, DatabaseConfig::Postgres(pg) if pg.url == "postgres://b@other/x")
        );

        for (text, message) in [
            ("[database]\nurl = \"mysql://x\"\n", "expected postgres://"),
            ("[storage]\nbackend = \"s3\"\n", "needs a bucket"),
            (
                "[storage]\nbackend = \"minio\"\n",
                "invalid storage backend",
            ),
            ("[storage]\nbucket = \"b\"\n", "backend is not"),
            ("[database]\nmax_connections = 3\n", "need a url"),
        ] {
            std::fs::write(dir.path().join("bad.toml"), text).unwrap();
            let error = format!(
                "{:#}",
                Config::load(&common(Some(dir.path().join("bad.toml"))), None).unwrap_err()
            );
            assert!(error.contains(message), "{text}: {error}");
        }
    }

    fn load_storage(text: &str) -> anyhow::Result<StorageConfig> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("airlock.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(&common(Some(path)), None).map(|config| config.storage)
    }

    #[test]
    fn gcs_and_azure_storage_tables_configure_the_backends() {
        let gcs = load_storage(
            "[storage]\nbackend = \"gcs\"\nbucket = \"blobs\"\nprefix = \"/prod/\"\n\
             service_account_key = \"/etc/airlock/gcs.json\"\npresign_ttl = \"10m\"\n",
        )
        .unwrap();
        assert_eq!(
            gcs,
            StorageConfig::Gcs(GcsConfig {
                bucket: "blobs".into(),
                prefix: "prod".into(),
                service_account_key: Some(PathBuf::from("/etc/airlock/gcs.json")),
                presign_ttl: Some(Duration::from_secs(600)),
            })
        );
        let azure = load_storage(
            "[storage]\nbackend = \"azure\"\naccount = \"acct\"\ncontainer = \"blobs\"\n\
             endpoint = \"https://acct.blob.example\"\nprefix = \"prod\"\npresign_ttl = \"1h\"\n",
        )
        .unwrap();
        assert_eq!(
            azure,
            StorageConfig::Azure(AzureConfig {
                account: Some("acct".into()),
                container: "blobs".into(),
                prefix: "prod".into(),
                endpoint: Some("https://acct.blob.example".into()),
                use_emulator: false,
                allow_http: false,
                presign_ttl: Some(Duration::from_secs(3600)),
            })
        );
        let emulator = load_storage(
            "[storage]\nbackend = \"azure\"\ncontainer = \"blobs\"\nuse_emulator = true\n",
        )
        .unwrap();
        assert!(
            matches!(&emulator, StorageConfig::Azure(a) if a.use_emulator && a.account.is_none()),
            "{emulator:?}"
        );
    }

    #[test]
    fn storage_tables_refuse_missing_and_foreign_keys() {
        for (text, message) in [
            (
                "[storage]\nbackend = \"gcs\"\n",
                "backend \"gcs\" needs a bucket",
            ),
            (
                "[storage]\nbackend = \"gcs\"\nbucket = \"\"\n",
                "backend \"gcs\" needs a bucket",
            ),
            (
                "[storage]\nbackend = \"azure\"\naccount = \"a\"\n",
                "backend \"azure\" needs a container",
            ),
            (
                "[storage]\nbackend = \"azure\"\ncontainer = \"c\"\n",
                "backend \"azure\" needs an account (or use_emulator = true)",
            ),
            (
                "[storage]\nbackend = \"azure\"\ncontainer = \"c\"\nuse_emulator = true\n\
                 endpoint = \"http://127.0.0.1:1\"\n",
                "use_emulator and endpoint exclude each other",
            ),
            (
                "[storage]\nbackend = \"azure\"\naccount = \"a\"\ncontainer = \"c\"\nbucket = \"b\"\n",
                "bucket is set but backend is not \"s3\" or \"gcs\" (it is \"azure\")",
            ),
            (
                "[storage]\nbackend = \"gcs\"\nbucket = \"b\"\nendpoint = \"http://x\"\n",
                "endpoint is set but backend is not \"s3\" or \"azure\" (it is \"gcs\")",
            ),
            (
                "[storage]\nbackend = \"gcs\"\nbucket = \"b\"\nregion = \"eu\"\n",
                "region is set but backend is not \"s3\" (it is \"gcs\")",
            ),
            (
                "[storage]\nbackend = \"s3\"\nbucket = \"b\"\ncontainer = \"c\"\n",
                "container is set but backend is not \"azure\" (it is \"s3\")",
            ),
            (
                "[storage]\nbackend = \"s3\"\nbucket = \"b\"\nservice_account_key = \"k.json\"\n",
                "service_account_key is set but backend is not \"gcs\" (it is \"s3\")",
            ),
            (
                "[storage]\nuse_emulator = true\n",
                "use_emulator is set but backend is not \"azure\" (it is \"filesystem\")",
            ),
            (
                "[storage]\nbackend = \"azure\"\naccount = \"a\"\ncontainer = \"c\"\n\
                 presign_ttl = \"soon\"\n",
                "invalid storage presign_ttl",
            ),
            (
                "[storage]\nbackend = \"azure\"\naccount = \"a\"\ncontainer = \"c\"\n\
                 access_key = \"k\"\n",
                "unknown field `access_key`",
            ),
            (
                "[storage]\nbackend = \"blob\"\n",
                "invalid storage backend \"blob\" (use filesystem, s3, gcs or azure)",
            ),
        ] {
            let error = format!("{:#}", load_storage(text).unwrap_err());
            assert!(error.contains(message), "{text}: {error}");
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
    }
}
