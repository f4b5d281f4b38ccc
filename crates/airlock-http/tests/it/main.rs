//! Router-level tests of the `/v2/` API: a port of the OCI distribution-spec
//! conformance checks (pull, push, content discovery, content management)
//! plus every success path and error code of every endpoint, and the
//! operational endpoints.
//!
//! Each test builds its own application in-process over a temporary
//! directory (filesystem blob store, SQLite metadata) and drives the axum
//! router with `tower::ServiceExt::oneshot`; no socket is opened.

mod api;
mod authz;
mod discovery;
mod errors;
mod gate_api;
mod local_operator;
mod management;
mod openapi;
mod ops;
mod pull;
mod push;
mod s3_storage;
mod search_api;
mod token;
mod ui;
mod ui_admin;
mod ui_gate;

use std::sync::Arc;
use std::time::Duration;

use airlock_accounts::Accounts;
use airlock_auth::{Access, GlobalRole, LoginThrottle, Principal, Roles, TokenKeys, TokenService};
use airlock_db_sqlite::SqliteMetadataStore;
use airlock_http::{AppState, HttpSettings};
use airlock_oci::media_type;
use airlock_registry::{Registry, RegistryConfig};
use airlock_store_fs::FsBlobStore;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use sha2::Digest as _;
use tower::ServiceExt;

/// One registry application over a temporary directory.
pub struct TestApp {
    pub router: Router,
    pub registry: Arc<Registry>,
    pub accounts: Arc<Accounts>,
    pub database: Arc<SqliteMetadataStore>,
    pub dir: tempfile::TempDir,
    /// Who [`TestApp::send`] acts as: by default an admin, whose token is
    /// minted per request for exactly the repository the path names.
    pub principal: Option<Principal>,
}

/// The admin the conformance tests act as.
pub fn admin() -> Principal {
    let mut roles = Roles::default();
    roles.global.insert(GlobalRole::Admin);
    Principal::User {
        name: "admin".into(),
        roles,
    }
}

/// The tenant the conformance tests push to.
pub const TENANT: &str = "t";

/// The repository name, from a `/v2/<name>/<route>...` path: the name ends
/// at the last route keyword, since names may contain keywords themselves
/// (`unscanned/t/a/manifests/b/blobs/<digest>`).
fn repository_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/v2/")?;
    let rest = rest.split('?').next()?;
    ["/manifests/", "/blobs/", "/tags/", "/referrers/"]
        .iter()
        .filter_map(|marker| rest.rfind(marker))
        .max()
        .map(|index| rest[..index].to_owned())
}

/// The source repository of a cross-repository mount (`?mount=..&from=<name>`),
/// which a client asks a pull scope for as well.
fn mount_source_of(path: &str) -> Option<String> {
    let (_, query) = path.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("from="))
        .map(str::to_owned)
}

/// What came back from one request.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// A header as text; panics when it is missing.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("missing header {name} in {self:?}"))
            .to_str()
            .expect("ascii header")
    }

    /// A header as text, if present.
    pub fn maybe_header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii header"))
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {self:?}"))
    }

    /// Asserts the status and returns self, for chaining.
    #[track_caller]
    pub fn expect(self, status: StatusCode) -> Reply {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self
    }

    /// Asserts an OCI error envelope with exactly this status and code.
    #[track_caller]
    pub fn expect_error(self, status: StatusCode, code: &str) -> Reply {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        let body = self.json();
        let errors = body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("no errors array: {body}"));
        assert_eq!(errors.len(), 1, "{body}");
        let error = &errors[0];
        assert_eq!(error["code"], code, "{body}");
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "message missing: {body}"
        );
        assert!(
            error.as_object().unwrap().contains_key("detail"),
            "detail missing: {body}"
        );
        assert!(
            self.header("content-type").starts_with("application/json"),
            "error content type: {:?}",
            self.headers
        );
        self
    }
}

impl TestApp {
    /// An application with the default configuration.
    pub async fn new() -> TestApp {
        TestApp::with_config(RegistryConfig::default()).await
    }

    /// An application with the given configuration.
    pub async fn with_config(config: RegistryConfig) -> TestApp {
        let dir = tempfile::tempdir().expect("temporary directory");
        TestApp::open(dir, config).await
    }

    /// An application with the default configuration over `blobs`
    /// (metadata stays in SQLite in a temporary directory).
    pub async fn with_blob_store(blobs: Arc<dyn airlock_store::BlobStore>) -> TestApp {
        let dir = tempfile::tempdir().expect("temporary directory");
        TestApp::open_with(dir, RegistryConfig::default(), Some(blobs)).await
    }

    async fn open(dir: tempfile::TempDir, config: RegistryConfig) -> TestApp {
        TestApp::open_with(dir, config, None).await
    }

    async fn open_with(
        dir: tempfile::TempDir,
        config: RegistryConfig,
        blobs: Option<Arc<dyn airlock_store::BlobStore>>,
    ) -> TestApp {
        let blobs: Arc<dyn airlock_store::BlobStore> = match blobs {
            Some(blobs) => blobs,
            None => Arc::new(
                FsBlobStore::open(dir.path())
                    .await
                    .expect("open blob store"),
            ),
        };
        let meta = Arc::new(
            SqliteMetadataStore::open(&dir.path().join("registry.db"))
                .await
                .expect("open metadata store"),
        );
        let registry = Arc::new(Registry::new(meta.clone(), blobs, config));
        let (keys, _) = TokenKeys::load_or_create(&dir.path().join("token-signing-key.der"))
            .expect("signing key");
        let accounts = Arc::new(Accounts::new(
            meta.clone(),
            TokenService::new(keys, "airlock", Duration::from_secs(300)),
            LoginThrottle::default(),
        ));
        let tenant: airlock_auth::TenantId = TENANT.parse().unwrap();
        if !airlock_store::IdentityStore::tenant_exists(meta.as_ref(), &tenant)
            .await
            .unwrap()
        {
            airlock_store::IdentityStore::create_tenant(
                meta.as_ref(),
                &tenant,
                &airlock_audit::AuditEvent::new(
                    airlock_audit::Actor::system("test"),
                    "tenant.create",
                    TENANT,
                ),
            )
            .await
            .unwrap();
        }
        let router = airlock_http::router(AppState {
            registry: registry.clone(),
            accounts: accounts.clone(),
            metrics: airlock_http::install_metrics(),
            settings: Arc::new(HttpSettings::default()),
        });
        TestApp {
            router,
            registry,
            accounts,
            database: meta,
            dir,
            principal: Some(admin()),
        }
    }

    /// A token for `principal` with exactly `access`.
    pub fn token(&self, principal: &Principal, access: Vec<Access>) -> String {
        self.accounts
            .tokens()
            .issue(principal, access, time::OffsetDateTime::now_utc())
            .expect("token")
            .token
    }

    /// The token [`TestApp::send`] attaches for `path`: everything the
    /// principal holds on the path's repository (and on a mount's source),
    /// and the catalog.
    fn token_for(&self, principal: &Principal, path: &str) -> String {
        let mut scopes = vec!["registry:catalog:*".to_owned()];
        if let Some(repo) = repository_of(path) {
            scopes.push(format!("repository:{repo}:pull,push,delete"));
        }
        if let Some(source) = mount_source_of(path) {
            scopes.push(format!("repository:{source}:pull"));
        }
        let scopes = airlock_auth::parse_scopes(scopes.iter().map(String::as_str)).expect("scopes");
        self.token(principal, airlock_auth::grant(principal, &scopes))
    }

    /// Drops this application (and its in-memory state) and opens a new one
    /// over the same directory, as a server restart would.
    pub async fn restart(self) -> TestApp {
        let TestApp {
            router,
            registry,
            accounts,
            database,
            dir,
            principal,
        } = self;
        let config = registry.config().clone();
        drop((router, registry, accounts, database));
        let mut app = TestApp::open(dir, config).await;
        app.principal = principal;
        app
    }

    /// An application whose upload sessions expire after `ttl`.
    pub async fn with_upload_ttl(ttl: Duration) -> TestApp {
        TestApp::with_config(RegistryConfig {
            upload_ttl: ttl,
            ..RegistryConfig::default()
        })
        .await
    }

    /// Sends one request. Every `/v2` response must carry the API version header.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).expect("method"))
            .uri(path);
        let explicit = headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("authorization"));
        if let (Some(principal), false, true) = (&self.principal, explicit, path.starts_with("/v2"))
        {
            request = request.header(
                "authorization",
                format!("Bearer {}", self.token_for(principal, path)),
            );
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(body.into()).expect("valid request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible router");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("response body").to_bytes();
        let reply = Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        };
        if path.starts_with("/v2") {
            assert_eq!(
                reply.maybe_header("docker-distribution-api-version"),
                Some("registry/2.0"),
                "{method} {path} lacks the API version header: {reply:?}"
            );
        }
        reply
    }

    /// `GET` without headers.
    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, &[], Body::empty()).await
    }

    /// `HEAD` without headers.
    pub async fn head(&self, path: &str) -> Reply {
        self.send("HEAD", path, &[], Body::empty()).await
    }

    /// Pushes a blob monolithically (`POST ?digest=`) and returns its sha256 digest.
    pub async fn push_blob(&self, repo: &str, content: &[u8]) -> String {
        let digest = sha256(content);
        self.send(
            "POST",
            &format!("/v2/{repo}/blobs/uploads/?digest={digest}"),
            &[],
            content.to_vec(),
        )
        .await
        .expect(StatusCode::CREATED);
        digest
    }

    /// Pushes a manifest under `reference` and returns the reply (asserting 201).
    pub async fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        content: &[u8],
    ) -> Reply {
        let reply = self
            .send(
                "PUT",
                &format!("/v2/{repo}/manifests/{reference}"),
                &[("content-type", media_type)],
                content.to_vec(),
            )
            .await
            .expect(StatusCode::CREATED);
        assert_eq!(reply.header("docker-content-digest"), sha256(content));
        reply
    }

    /// Pushes a config and the given layers, then an OCI image manifest
    /// referencing them under `reference`. Returns the manifest bytes and digest.
    pub async fn push_image(
        &self,
        repo: &str,
        reference: &str,
        layers: &[&[u8]],
    ) -> (Vec<u8>, String) {
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","n":{}}}}}"#,
            layers.len()
        );
        let config_digest = self.push_blob(repo, config.as_bytes()).await;
        let mut descriptors = Vec::new();
        for layer in layers {
            let digest = self.push_blob(repo, layer).await;
            descriptors.push(descriptor(LAYER_GZIP, &digest, layer.len()));
        }
        let manifest = image_manifest(
            &descriptor(media_type::OCI_CONFIG, &config_digest, config.len()),
            &descriptors,
        );
        let reply = self
            .push_manifest(repo, reference, media_type::OCI_MANIFEST, &manifest)
            .await;
        let digest = reply.header("docker-content-digest").to_owned();
        (manifest, digest)
    }

    /// The path of a committed blob inside the blob store.
    pub fn blob_file(&self, digest: &str) -> std::path::PathBuf {
        let (algorithm, hex) = digest.split_once(':').expect("algorithm:hex");
        self.dir
            .path()
            .join("blobs")
            .join(algorithm)
            .join(&hex[..2])
            .join(hex)
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// `sha512:<hex>` of `bytes`.
pub fn sha512(bytes: &[u8]) -> String {
    format!("sha512:{}", hex::encode(sha2::Sha512::digest(bytes)))
}

/// A descriptor as JSON text.
pub fn descriptor(media_type: &str, digest: &str, size: usize) -> String {
    format!(r#"{{"mediaType":"{media_type}","digest":"{digest}","size":{size}}}"#)
}

/// An OCI image manifest as bytes.
pub fn image_manifest(config: &str, layers: &[String]) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{config},"layers":[{}]}}"#,
        media_type::OCI_MANIFEST,
        layers.join(",")
    )
    .into_bytes()
}

/// An image index (OCI or Docker list, by `media_type`) of the given children.
pub fn index_manifest(media_type: &str, children: &[String]) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{media_type}","manifests":[{}]}}"#,
        children.join(",")
    )
    .into_bytes()
}

/// The OCI empty descriptor's content, `{}`.
pub const EMPTY_JSON: &[u8] = b"{}";

/// The OCI gzip layer media type.
pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
