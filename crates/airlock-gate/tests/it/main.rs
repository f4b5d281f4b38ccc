//! The quarantine gate end to end, in-process, over real storage: a SQLite
//! metadata store and a filesystem blob store in a temporary directory, the
//! registry service pushing into `unscanned/`, and the gate recording,
//! scanning, deciding and promoting.
//!
//! The two seams to the outside world are faked: [`FakeRunner`] stands for
//! the isolated scan child process and [`FakeMatcher`] for the OSV
//! database (both are tested for real elsewhere). Jobs are driven
//! deterministically with [`Stack::settle`] unless a test is about workers.

mod decisions;
mod fakes;
mod multi_arch;
mod recovery;
mod reevaluation;
mod reports;
mod scan_errors;
mod workers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use airlock_audit::{Actor, AuditEvent};
use airlock_auth::{GlobalRole, Principal, Roles, TenantId};
use airlock_db_sqlite::SqliteMetadataStore;
use airlock_gate::{Gate, GateConfig};
use airlock_oci::{Digest, Reference, RepoName, media_type};
use airlock_registry::{Caller, Registry, RegistryConfig};
use airlock_store::{
    AuditFilter, AuditStore, BlobStore, GateStore, HistoryEntry, IdentityStore, ImageRecord,
    ImageState, OutboxEvent,
};
use airlock_store_fs::FsBlobStore;
use serde_json::json;

pub use fakes::{FakeMatcher, FakeRunner, report};

/// The gate's tunables in these tests: two attempts, short delays.
pub fn test_config() -> GateConfig {
    GateConfig {
        max_attempts: 2,
        retry_backoff: Duration::from_millis(10),
        lease: Duration::from_secs(2),
        heartbeat: Duration::from_millis(100),
        child_grace: Duration::from_millis(200),
        poll: Duration::from_millis(20),
        ..GateConfig::default()
    }
}

/// The admin every push is made as.
pub fn admin() -> Caller {
    let mut roles = Roles::default();
    roles.global.insert(GlobalRole::Admin);
    Caller::system(Principal::User {
        name: "admin".into(),
        roles,
    })
}

pub fn repo(name: &str) -> RepoName {
    name.parse().expect("repository name")
}

pub fn tenant(name: &str) -> TenantId {
    name.parse().expect("tenant id")
}

pub fn tag(name: &str) -> Reference {
    Reference::Tag(name.parse().expect("tag"))
}

/// A registry with the gate observing its pushes, over one temporary
/// directory.
pub struct Stack {
    pub db: Arc<SqliteMetadataStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub registry: Arc<Registry>,
    pub gate: Arc<Gate>,
    pub runner: Arc<FakeRunner>,
    pub matcher: Arc<FakeMatcher>,
    _dir: tempfile::TempDir,
}

/// One pushed image manifest and its blobs.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub digest: Digest,
    pub blobs: Vec<Digest>,
    pub content: Vec<u8>,
}

impl Stack {
    /// A stack with tenants `acme` and `globex` and the test configuration.
    pub async fn new() -> Stack {
        Stack::with_config(test_config()).await
    }

    pub async fn with_config(config: GateConfig) -> Stack {
        Stack::build(config, None).await
    }

    /// A stack whose gate writes reports to `store` and links them from
    /// `https://airlock.test`.
    pub async fn with_reports(store: Arc<dyn airlock_store::ReportStore>) -> Stack {
        Stack::build(test_config(), Some(store)).await
    }

    async fn build(
        config: GateConfig,
        reports: Option<Arc<dyn airlock_store::ReportStore>>,
    ) -> Stack {
        let dir = tempfile::tempdir().expect("temporary directory");
        let db = Arc::new(
            SqliteMetadataStore::open(&dir.path().join("registry.db"))
                .await
                .expect("open metadata store"),
        );
        let blobs: Arc<dyn BlobStore> = Arc::new(
            FsBlobStore::open(dir.path().join("blobs"))
                .await
                .expect("open blob store"),
        );
        for name in ["acme", "globex"] {
            db.create_tenant(
                &tenant(name),
                &AuditEvent::new(Actor::system("test"), "tenant.create", name),
            )
            .await
            .expect("create tenant");
        }
        let registry = Arc::new(Registry::new(
            db.clone(),
            blobs.clone(),
            RegistryConfig::default(),
        ));
        let runner = Arc::new(FakeRunner::default());
        let matcher = Arc::new(FakeMatcher::default());
        let mut gate = Gate::new(db.clone(), runner.clone(), matcher.clone(), config);
        if let Some(store) = reports {
            gate = gate.with_reports(airlock_gate::reports::ReportOutput {
                store,
                blobs: blobs.clone(),
                external_url: "https://airlock.test".into(),
            });
        }
        let gate = Arc::new(gate);
        registry.observe_pushes(gate.clone());
        Stack {
            db,
            blobs,
            registry,
            gate,
            runner,
            matcher,
            _dir: dir,
        }
    }

    /// A second registry over the same storage that tells nobody about its
    /// pushes (a push whose record was lost).
    pub fn unobserved_registry(&self) -> Registry {
        Registry::new(
            self.db.clone(),
            self.blobs.clone(),
            RegistryConfig::default(),
        )
    }

    async fn put_blob(registry: &Registry, repository: &RepoName, data: Vec<u8>) -> Digest {
        let digest = Digest::sha256_of(&data);
        let body: airlock_store::ByteStream = Box::pin(futures::stream::once(async move {
            Ok::<_, std::io::Error>(bytes::Bytes::from(data))
        }));
        registry
            .put_blob(repository, &digest, body)
            .await
            .expect("put blob");
        digest
    }

    /// Pushes an image (a config and one layer, unique per `seed`) to
    /// `repository` under `reference` (`None`: by digest).
    pub async fn push_image(
        &self,
        repository: &str,
        reference: Option<&str>,
        seed: &str,
    ) -> Pushed {
        Self::push_image_to(&self.registry, repository, reference, seed).await
    }

    /// As [`Stack::push_image`], through the given registry.
    pub async fn push_image_to(
        registry: &Registry,
        repository: &str,
        reference: Option<&str>,
        seed: &str,
    ) -> Pushed {
        let repository = repo(repository);
        let (config, layer, content) = image_parts(seed);
        let config = Self::put_blob(registry, &repository, config).await;
        let layer = Self::put_blob(registry, &repository, layer).await;
        let digest = Digest::sha256_of(&content);
        Self::put_manifest_to(
            registry,
            &repository,
            reference,
            media_type::OCI_MANIFEST,
            content.clone(),
        )
        .await;
        Pushed {
            digest,
            blobs: vec![config, layer],
            content,
        }
    }

    /// Pushes manifest bytes under a tag, or by digest with `None`.
    pub async fn put_manifest(
        &self,
        repository: &RepoName,
        reference: Option<&str>,
        content_type: &str,
        content: Vec<u8>,
    ) -> Digest {
        Self::put_manifest_to(&self.registry, repository, reference, content_type, content).await
    }

    async fn put_manifest_to(
        registry: &Registry,
        repository: &RepoName,
        reference: Option<&str>,
        content_type: &str,
        content: Vec<u8>,
    ) -> Digest {
        let reference = match reference {
            Some(name) => tag(name),
            None => Reference::Digest(Digest::sha256_of(&content)),
        };
        registry
            .put_manifest(
                &admin(),
                repository,
                &reference,
                Some(content_type),
                content,
            )
            .await
            .expect("put manifest")
            .digest
    }

    /// Leases and processes jobs one at a time until none is pending,
    /// waiting for delayed ones (retries, the child grace). Returns the
    /// processed jobs' image ids, in order.
    pub async fn settle(&self) -> Vec<i64> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut processed = Vec::new();
        loop {
            assert!(Instant::now() < deadline, "jobs did not settle");
            let leased = self
                .db
                .lease_job(
                    "settle",
                    self.gate.config().lease,
                    time::OffsetDateTime::now_utc(),
                )
                .await
                .expect("lease job");
            match leased {
                Some(job) => {
                    self.gate.process(&job).await.expect("process job");
                    processed.push(job.image_id);
                }
                None if self.db.pending_jobs().await.expect("pending jobs") > 0 => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                None => return processed,
            }
        }
    }

    /// Jobs not done or dead.
    pub async fn db_pending(&self) -> u64 {
        self.db.pending_jobs().await.expect("pending jobs")
    }

    /// Leases the next ready job for `worker` now, with the gate's lease.
    pub async fn db_lease(&self, worker: &str) -> Option<airlock_store::Job> {
        self.db
            .lease_job(
                worker,
                self.gate.config().lease,
                time::OffsetDateTime::now_utc(),
            )
            .await
            .expect("lease job")
    }

    /// The gate's image for a digest in a repository.
    pub async fn image(&self, repository: &str, digest: &Digest) -> ImageRecord {
        self.find_image(repository, digest)
            .await
            .unwrap_or_else(|| panic!("no image for {repository}@{digest}"))
    }

    pub async fn find_image(&self, repository: &str, digest: &Digest) -> Option<ImageRecord> {
        let tenant = repository.split('/').nth(1).expect("zoned repository");
        self.db
            .images_by_digest(&self.tenant_id(tenant), digest)
            .await
            .expect("images by digest")
            .into_iter()
            .find(|i| i.repository.as_str() == repository)
    }

    fn tenant_id(&self, name: &str) -> TenantId {
        tenant(name)
    }

    pub async fn history(&self, image: &ImageRecord) -> Vec<HistoryEntry> {
        self.db.history(image.id).await.expect("history")
    }

    /// The states an image went through, oldest first.
    pub async fn states(&self, image: &ImageRecord) -> Vec<ImageState> {
        self.history(image)
            .await
            .into_iter()
            .map(|h| h.to)
            .collect()
    }

    /// Outbox events about one digest, oldest first.
    pub async fn events(&self, digest: &Digest) -> Vec<OutboxEvent> {
        let digest = digest.to_string();
        self.db
            .outbox(100_000)
            .await
            .expect("outbox")
            .into_iter()
            .filter(|e| e.subject.ends_with(&format!("@{digest}")))
            .collect()
    }

    /// The event types about one digest, oldest first.
    pub async fn event_types(&self, digest: &Digest) -> Vec<String> {
        self.events(digest)
            .await
            .into_iter()
            .map(|e| e.event_type)
            .collect()
    }

    /// Audit actions (with the given prefix) about one digest, in order.
    pub async fn audit_actions(&self, prefix: &str, digest: &Digest) -> Vec<String> {
        let digest = digest.to_string();
        self.db
            .audit_records(
                &AuditFilter {
                    action: Some(prefix.into()),
                    ..AuditFilter::default()
                },
                0,
                100_000,
            )
            .await
            .expect("audit records")
            .into_iter()
            .filter(|r| r.event.target.ends_with(&format!("@{digest}")))
            .map(|r| r.event.action)
            .collect()
    }

    /// What `repository:reference` resolves to, if anything.
    pub async fn resolve(&self, repository: &str, reference: &Reference) -> Option<Digest> {
        self.registry
            .manifest(&repo(repository), reference)
            .await
            .ok()
            .map(|m| m.digest)
    }
}

/// The config, layer and manifest bytes of the image made from `seed`.
pub fn image_parts(seed: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let config = json!({ "architecture": "amd64", "os": "linux", "seed": seed })
        .to_string()
        .into_bytes();
    let layer = format!("layer of {seed}").into_bytes();
    let content = json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": {
            "mediaType": media_type::OCI_CONFIG,
            "digest": Digest::sha256_of(&config).to_string(),
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": Digest::sha256_of(&layer).to_string(),
            "size": layer.len(),
        }],
    })
    .to_string()
    .into_bytes();
    (config, layer, content)
}

/// The digest of the image made from `seed`, known before it is pushed.
pub fn image_digest(seed: &str) -> Digest {
    Digest::sha256_of(&image_parts(seed).2)
}

/// How many events of this type are in the list.
pub fn count(types: &[String], event_type: &str) -> usize {
    types.iter().filter(|t| *t == event_type).count()
}
