//! Opens the storage the configuration names: SQLite or PostgreSQL for
//! metadata, the filesystem or an object store (S3-compatible, Google Cloud
//! Storage, Azure Blob Storage) for blobs and reports. Everything above this
//! module sees only the storage ports, so the embedded and the scale-out
//! deployment run the same code.
//!
//! PostgreSQL and the object stores are cargo features (`postgres`, `s3`,
//! `gcs`, `azure`) so the default binary stays lean; a configuration that
//! needs a missing feature is refused with the feature's name.

use std::sync::Arc;

use airlock_store::{BlobStore, Database, ReportStore};
use anyhow::Context;

use crate::config::{Config, DatabaseConfig, StorageConfig};

/// Opens the metadata database. SQLite is created and migrated on open;
/// PostgreSQL must already be migrated (`airlock migrate`) and is refused
/// when its schema is not exactly the one this build knows.
pub async fn open_database(config: &Config) -> anyhow::Result<Arc<dyn Database>> {
    match &config.database {
        DatabaseConfig::Sqlite => Ok(open_sqlite(config).await?),
        DatabaseConfig::Postgres(pg) => open_postgres(pg, false).await,
    }
}

/// Applies the metadata database's migrations (`airlock migrate`).
pub async fn migrate(config: &Config) -> anyhow::Result<String> {
    match &config.database {
        DatabaseConfig::Sqlite => {
            open_sqlite(config).await?;
            Ok(format!(
                "migrated {}",
                config.data_dir.join("registry.db").display()
            ))
        }
        DatabaseConfig::Postgres(pg) => {
            open_postgres(pg, true).await?;
            Ok("migrated the PostgreSQL database".to_owned())
        }
    }
}

async fn open_sqlite(
    config: &Config,
) -> anyhow::Result<Arc<airlock_db_sqlite::SqliteMetadataStore>> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let meta = airlock_db_sqlite::SqliteMetadataStore::open(&config.data_dir.join("registry.db"))
        .await
        .context("cannot open the metadata database")?;
    Ok(Arc::new(meta))
}

#[cfg(feature = "postgres")]
async fn open_postgres(
    pg: &crate::config::PostgresConfig,
    migrate: bool,
) -> anyhow::Result<Arc<dyn Database>> {
    use airlock_db_postgres::{PgOptions, PgStore};
    let options = PgOptions {
        url: pg.url.clone(),
        schema: pg.schema.clone(),
        max_connections: pg.max_connections,
        min_connections: pg.min_connections,
        acquire_timeout: pg.acquire_timeout,
        idle_timeout: pg.idle_timeout,
        statement_timeout: pg.statement_timeout,
    };
    let store = if migrate {
        let store = PgStore::connect_unchecked(options)
            .await
            .context("cannot connect to PostgreSQL")?;
        store
            .migrate()
            .await
            .context("cannot migrate the PostgreSQL database")?;
        store
    } else {
        PgStore::connect(options)
            .await
            .context("cannot open the PostgreSQL database")?
    };
    Ok(Arc::new(store))
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(
    _pg: &crate::config::PostgresConfig,
    _migrate: bool,
) -> anyhow::Result<Arc<dyn Database>> {
    anyhow::bail!(
        "the database url names PostgreSQL, but this airlock was built without it; \
         rebuild with `cargo build --release --features postgres`"
    )
}

/// Opens the blob store: `<data-dir>/storage`, or the bucket (container).
pub async fn open_blob_store(config: &Config) -> anyhow::Result<Arc<dyn BlobStore>> {
    match &config.storage {
        StorageConfig::Filesystem => {
            let blobs = airlock_store_fs::FsBlobStore::open(config.data_dir.join("storage"))
                .await
                .context("cannot open the blob store")?;
            Ok(Arc::new(blobs))
        }
        StorageConfig::S3(s3) => open_s3_blobs(s3).await,
        StorageConfig::Gcs(gcs) => open_gcs_blobs(gcs).await,
        StorageConfig::Azure(azure) => open_azure_blobs(azure).await,
    }
}

/// Opens the store scan reports are kept in: `<data-dir>/objects`, or the
/// bucket (container).
pub async fn open_report_store(config: &Config) -> anyhow::Result<Arc<dyn ReportStore>> {
    match &config.storage {
        StorageConfig::Filesystem => {
            let root = config.data_dir.join("objects");
            let store = airlock_store_fs::FsReportStore::open(&root)
                .with_context(|| format!("cannot open the report store {}", root.display()))?;
            Ok(Arc::new(store))
        }
        StorageConfig::S3(s3) => open_s3_reports(s3).await,
        StorageConfig::Gcs(gcs) => open_gcs_reports(gcs).await,
        StorageConfig::Azure(azure) => open_azure_reports(azure).await,
    }
}

/// The refusal for a storage backend whose cargo feature this build lacks.
#[cfg(not(all(feature = "s3", feature = "gcs", feature = "azure")))]
fn backend_missing(backend: &str, feature: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "the storage backend is {backend}, but this airlock was built without it; \
         rebuild with `cargo build --release --features {feature}`"
    )
}

#[cfg(not(feature = "s3"))]
async fn open_s3_blobs(_s3: &crate::config::S3Config) -> anyhow::Result<Arc<dyn BlobStore>> {
    Err(backend_missing("s3", "s3"))
}

#[cfg(not(feature = "s3"))]
async fn open_s3_reports(_s3: &crate::config::S3Config) -> anyhow::Result<Arc<dyn ReportStore>> {
    Err(backend_missing("s3", "s3"))
}

#[cfg(feature = "s3")]
fn s3_options(s3: &crate::config::S3Config) -> airlock_store_s3::S3Options {
    let mut options = airlock_store_s3::S3Options::new(s3.bucket.clone());
    options.endpoint = s3.endpoint.clone();
    options.region = s3.region.clone();
    options.prefix = s3.prefix.clone();
    options.path_style = s3.path_style;
    options.allow_http = s3.allow_http;
    options.presign_ttl = s3.presign_ttl;
    options
}

#[cfg(feature = "s3")]
async fn open_s3_blobs(s3: &crate::config::S3Config) -> anyhow::Result<Arc<dyn BlobStore>> {
    let store = airlock_store_s3::S3BlobStore::open(&s3_options(s3))
        .await
        .context("cannot open the S3 blob store")?;
    Ok(Arc::new(store))
}

#[cfg(feature = "s3")]
async fn open_s3_reports(s3: &crate::config::S3Config) -> anyhow::Result<Arc<dyn ReportStore>> {
    let store = airlock_store_s3::S3ReportStore::open(&s3_options(s3))
        .await
        .context("cannot open the S3 report store")?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "gcs"))]
async fn open_gcs_blobs(_gcs: &crate::config::GcsConfig) -> anyhow::Result<Arc<dyn BlobStore>> {
    Err(backend_missing("gcs", "gcs"))
}

#[cfg(not(feature = "gcs"))]
async fn open_gcs_reports(_gcs: &crate::config::GcsConfig) -> anyhow::Result<Arc<dyn ReportStore>> {
    Err(backend_missing("gcs", "gcs"))
}

#[cfg(feature = "gcs")]
fn gcs_options(gcs: &crate::config::GcsConfig) -> airlock_store_s3::GcsOptions {
    let mut options = airlock_store_s3::GcsOptions::new(gcs.bucket.clone());
    options.prefix = gcs.prefix.clone();
    options.service_account_key = gcs.service_account_key.clone();
    options.presign_ttl = gcs.presign_ttl;
    options
}

#[cfg(feature = "gcs")]
async fn open_gcs_blobs(gcs: &crate::config::GcsConfig) -> anyhow::Result<Arc<dyn BlobStore>> {
    let store = airlock_store_s3::S3BlobStore::open_gcs(&gcs_options(gcs))
        .await
        .context("cannot open the GCS blob store")?;
    Ok(Arc::new(store))
}

#[cfg(feature = "gcs")]
async fn open_gcs_reports(gcs: &crate::config::GcsConfig) -> anyhow::Result<Arc<dyn ReportStore>> {
    let store = airlock_store_s3::S3ReportStore::open_gcs(&gcs_options(gcs))
        .await
        .context("cannot open the GCS report store")?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "azure"))]
async fn open_azure_blobs(
    _azure: &crate::config::AzureConfig,
) -> anyhow::Result<Arc<dyn BlobStore>> {
    Err(backend_missing("azure", "azure"))
}

#[cfg(not(feature = "azure"))]
async fn open_azure_reports(
    _azure: &crate::config::AzureConfig,
) -> anyhow::Result<Arc<dyn ReportStore>> {
    Err(backend_missing("azure", "azure"))
}

/// The Azure options; the access key comes from `AZURE_STORAGE_ACCOUNT_KEY`
/// (or another `AZURE_*` credential), never from the configuration file.
#[cfg(feature = "azure")]
fn azure_options(azure: &crate::config::AzureConfig) -> airlock_store_s3::AzureOptions {
    let mut options = airlock_store_s3::AzureOptions::new(azure.container.clone());
    options.account = azure.account.clone();
    options.prefix = azure.prefix.clone();
    options.endpoint = azure.endpoint.clone();
    options.use_emulator = azure.use_emulator;
    options.allow_http = azure.allow_http;
    options.presign_ttl = azure.presign_ttl;
    options
}

#[cfg(feature = "azure")]
async fn open_azure_blobs(
    azure: &crate::config::AzureConfig,
) -> anyhow::Result<Arc<dyn BlobStore>> {
    let store = airlock_store_s3::S3BlobStore::open_azure(&azure_options(azure))
        .await
        .context("cannot open the Azure blob store")?;
    Ok(Arc::new(store))
}

#[cfg(feature = "azure")]
async fn open_azure_reports(
    azure: &crate::config::AzureConfig,
) -> anyhow::Result<Arc<dyn ReportStore>> {
    let store = airlock_store_s3::S3ReportStore::open_azure(&azure_options(azure))
        .await
        .context("cannot open the Azure report store")?;
    Ok(Arc::new(store))
}

#[cfg(test)]
mod tests {
    /// A configuration naming a backend this build lacks is refused with
    /// the feature to rebuild with (run by the default-feature tests).
    #[cfg(not(feature = "gcs"))]
    #[tokio::test]
    async fn a_gcs_config_without_its_feature_names_the_feature() {
        let gcs = crate::config::GcsConfig {
            bucket: "b".into(),
            prefix: String::new(),
            service_account_key: None,
            presign_ttl: None,
        };
        let Err(error) = super::open_gcs_blobs(&gcs).await else {
            panic!("gcs must be refused without its feature");
        };
        assert!(
            error
                .to_string()
                .contains("rebuild with `cargo build --release --features gcs`"),
            "{error}"
        );
    }

    #[cfg(not(feature = "azure"))]
    #[tokio::test]
    async fn an_azure_config_without_its_feature_names_the_feature() {
        let azure = crate::config::AzureConfig {
            account: Some("a".into()),
            container: "c".into(),
            prefix: String::new(),
            endpoint: None,
            use_emulator: false,
            allow_http: false,
            presign_ttl: None,
        };
        let Err(error) = super::open_azure_reports(&azure).await else {
            panic!("azure must be refused without its feature");
        };
        assert!(
            error
                .to_string()
                .contains("rebuild with `cargo build --release --features azure`"),
            "{error}"
        );
    }
}
