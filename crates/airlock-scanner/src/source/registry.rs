//! `HOST[:PORT]/REPO:TAG` or `@DIGEST`: pulls over the OCI distribution API.
//!
//! Blocking HTTP (the scan runs in its own process and reads one stream at a
//! time). Manifests are fetched with an `Accept` header listing the OCI and
//! Docker manifest and index types, and verified against their digest (the
//! one asked for, else the `Docker-Content-Digest` the registry announced).
//! Layers are streamed straight from the response body into the walker
//! through a [`VerifyingReader`].
//!
//! Authentication follows what registries ask for in `WWW-Authenticate`:
//! Docker token auth (`Bearer realm=..,service=..,scope=..`, a token fetched
//! from the realm with basic credentials if any) or plain `Basic`.
//! Credentials come from the caller or from `~/.docker/config.json`
//! (`auths.<host>.auth`, base64 `user:pass`). HTTPS unless `insecure`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::blocking::{Client, Response};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, WWW_AUTHENTICATE};

use super::{
    DocumentStore, ImageSource, LayerDescriptor, LayerStream, ResolvedImage, read_document_bytes,
    resolve_images,
};
use crate::digest::{Digest, VerifyingReader};
use crate::error::SourceError;
use crate::oci::{self, Descriptor};
use crate::target::{PlatformFilter, RegistryReference, TagOrDigest};

/// A username and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or identity token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// The credentials stored for `registry` in a Docker `config.json`, if any.
    pub fn from_docker_config(
        path: &Path,
        registry: &str,
    ) -> Result<Option<Credentials>, SourceError> {
        let failed = |reason: String| SourceError::Credentials {
            path: path.to_path_buf(),
            reason,
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(failed(error.to_string())),
        };
        let config: serde_json::Value =
            serde_json::from_str(&text).map_err(|error| failed(error.to_string()))?;
        let Some(auths) = config.get("auths").and_then(|a| a.as_object()) else {
            return Ok(None);
        };
        for (key, entry) in auths {
            if registry_host(key) != registry {
                continue;
            }
            if let Some(encoded) = entry
                .get("auth")
                .and_then(|a| a.as_str())
                .filter(|a| !a.is_empty())
            {
                let decoded = BASE64
                    .decode(encoded.trim())
                    .map_err(|error| failed(format!("auths.{key}.auth is not base64: {error}")))?;
                let decoded = String::from_utf8(decoded)
                    .map_err(|_| failed(format!("auths.{key}.auth is not UTF-8")))?;
                let (username, password) = decoded
                    .split_once(':')
                    .ok_or_else(|| failed(format!("auths.{key}.auth is not user:password")))?;
                return Ok(Some(Credentials {
                    username: username.to_string(),
                    password: password.to_string(),
                }));
            }
            if let (Some(username), Some(password)) = (
                entry.get("username").and_then(|u| u.as_str()),
                entry.get("password").and_then(|p| p.as_str()),
            ) {
                return Ok(Some(Credentials {
                    username: username.to_string(),
                    password: password.to_string(),
                }));
            }
        }
        Ok(None)
    }

    fn basic_header(&self) -> String {
        format!(
            "Basic {}",
            BASE64.encode(format!("{}:{}", self.username, self.password))
        )
    }
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn default_docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".docker/config.json"))
}

/// `https://host:5000/v1/` → `host:5000`.
fn registry_host(key: &str) -> &str {
    let without_scheme = key.split_once("://").map(|(_, rest)| rest).unwrap_or(key);
    without_scheme.split('/').next().unwrap_or(without_scheme)
}

/// How to reach a registry.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Use plain HTTP instead of HTTPS.
    pub insecure: bool,
    /// Explicit credentials; when `None`, the Docker config is consulted.
    pub credentials: Option<Credentials>,
    /// Docker config to read credentials from (default [`default_docker_config_path`]).
    pub docker_config: Option<PathBuf>,
    /// Overall timeout of one request, body included (`None`: no limit).
    pub timeout: Option<Duration>,
}

/// An image in a registry.
#[derive(Debug)]
pub struct RegistrySource {
    client: Client,
    base: String,
    image: RegistryReference,
    reference: String,
    credentials: Option<Credentials>,
    authorization: Mutex<Option<String>>,
}

/// What a `WWW-Authenticate` header asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// Docker token auth.
    Bearer {
        /// Token endpoint.
        realm: String,
        /// `service` parameter, if any.
        service: Option<String>,
        /// `scope` parameter, if any.
        scope: Option<String>,
    },
    /// HTTP basic auth.
    Basic,
}

impl Challenge {
    /// Parses `Bearer realm="...",service="...",scope="..."` or `Basic realm="..."`.
    pub fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Challenge::Basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let params = parse_auth_params(rest);
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        Some(Challenge::Bearer {
            realm: get("realm")?,
            service: get("service"),
            scope: get("scope"),
        })
    }
}

/// `key="value", key2=value2` with commas allowed inside quotes.
fn parse_auth_params(text: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.is_empty() || chars.next() != Some('=') {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ','))
                .collect::<String>()
                .trim()
                .to_string();
        }
        params.push((key.trim().to_string(), value));
    }
    params
}

impl RegistrySource {
    /// A source for `image`; `reference` is what the user typed.
    pub fn new(
        image: RegistryReference,
        reference: impl Into<String>,
        options: &RegistryOptions,
    ) -> Result<Self, SourceError> {
        let scheme = if options.insecure { "http" } else { "https" };
        let base = format!("{scheme}://{}", image.registry);
        let client = Client::builder()
            .user_agent(concat!("airlock/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .timeout(options.timeout)
            .build()
            .map_err(|error| SourceError::Http {
                url: base.clone(),
                source: Box::new(error),
            })?;
        let credentials = match &options.credentials {
            Some(credentials) => Some(credentials.clone()),
            None => match options
                .docker_config
                .clone()
                .or_else(default_docker_config_path)
            {
                Some(path) => Credentials::from_docker_config(&path, &image.registry)?,
                None => None,
            },
        };
        Ok(RegistrySource {
            client,
            base,
            image,
            reference: reference.into(),
            credentials,
            authorization: Mutex::new(None),
        })
    }

    fn url(&self, kind: &str, reference: &str) -> String {
        format!(
            "{}/v2/{}/{kind}/{reference}",
            self.base, self.image.repository
        )
    }

    fn current_authorization(&self) -> Option<String> {
        self.authorization
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default()
    }

    /// GET with the current authorization; on 401 authenticate as challenged and retry once.
    fn get(&self, url: &str, accept: Option<&str>) -> Result<Response, SourceError> {
        let send = |authorization: Option<String>| {
            let mut request = self.client.get(url);
            if let Some(accept) = accept {
                request = request.header(ACCEPT, accept);
            }
            if let Some(authorization) = authorization {
                request = request.header(AUTHORIZATION, authorization);
            }
            request.send().map_err(|error| SourceError::Http {
                url: url.to_string(),
                source: Box::new(error),
            })
        };
        let response = send(self.current_authorization())?;
        if response.status().as_u16() != 401 {
            return check_status(url, response);
        }
        let authorization = self.authenticate(response.headers())?;
        if let Ok(mut slot) = self.authorization.lock() {
            *slot = Some(authorization.clone());
        }
        let response = send(Some(authorization))?;
        if response.status().as_u16() == 401 {
            return Err(SourceError::Auth {
                registry: self.image.registry.clone(),
                reason: format!("the registry still answers 401 to GET {url} after authenticating"),
            });
        }
        check_status(url, response)
    }

    /// Computes the `Authorization` header a 401's challenge asks for.
    fn authenticate(&self, headers: &HeaderMap) -> Result<String, SourceError> {
        let auth_error = |reason: String| SourceError::Auth {
            registry: self.image.registry.clone(),
            reason,
        };
        let challenge = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(Challenge::parse)
            .ok_or_else(|| {
                auth_error("401 without a Bearer or Basic WWW-Authenticate challenge".to_string())
            })?;
        match challenge {
            Challenge::Basic => match &self.credentials {
                Some(credentials) => Ok(credentials.basic_header()),
                None => Err(auth_error(
                    "credentials required (use --username/--password-stdin or docker login)".into(),
                )),
            },
            Challenge::Bearer {
                realm,
                service,
                scope,
            } => {
                let scope =
                    scope.unwrap_or_else(|| format!("repository:{}:pull", self.image.repository));
                let mut params = vec![("scope", scope)];
                if let Some(service) = service {
                    params.push(("service", service));
                }
                let url = reqwest::Url::parse_with_params(&realm, &params).map_err(|error| {
                    auth_error(format!("token realm {realm:?} is not a URL: {error}"))
                })?;
                let mut request = self.client.get(url.clone());
                if let Some(credentials) = &self.credentials {
                    request = request.header(AUTHORIZATION, credentials.basic_header());
                }
                let response = request.send().map_err(|error| SourceError::Http {
                    url: url.to_string(),
                    source: Box::new(error),
                })?;
                if !response.status().is_success() {
                    return Err(auth_error(format!(
                        "token endpoint {realm} answered HTTP {}",
                        response.status().as_u16()
                    )));
                }
                let body = read_document_bytes(&format!("token from {realm}"), response)?;
                let token: serde_json::Value = serde_json::from_slice(&body).map_err(|error| {
                    auth_error(format!(
                        "token endpoint {realm} did not answer JSON: {error}"
                    ))
                })?;
                let token = token
                    .get("token")
                    .or_else(|| token.get("access_token"))
                    .and_then(|t| t.as_str())
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| {
                        auth_error(format!("token endpoint {realm} returned no token"))
                    })?;
                Ok(format!("Bearer {token}"))
            }
        }
    }

    /// Fetches a manifest by tag or digest; returns bytes, media type and digest.
    fn fetch_manifest(
        &self,
        reference: &str,
        expected: Option<&Digest>,
    ) -> Result<(Vec<u8>, Option<String>, Digest), SourceError> {
        let url = self.url("manifests", reference);
        let response = self.get(&url, Some(&oci::ACCEPTED_MANIFESTS.join(", ")))?;
        let media_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
        let announced = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<Digest>().ok());
        let bytes = read_document_bytes(
            &format!("manifest {reference} from {}", self.base),
            response,
        )?;
        let digest = match expected.or(announced.as_ref()) {
            Some(digest) => {
                digest.verify(&bytes)?;
                digest.clone()
            }
            None => Digest::sha256_of(&bytes),
        };
        Ok((bytes, media_type, digest))
    }
}

fn check_status(url: &str, response: Response) -> Result<Response, SourceError> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status().as_u16();
    let mut body = Vec::new();
    let _ = response.take(4096).read_to_end(&mut body);
    let detail = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|value| {
            let error = value.get("errors")?.get(0)?;
            let code = error
                .get("code")
                .and_then(|c| c.as_str())
                .unwrap_or_default();
            let message = error
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or_default();
            Some(format!(": {code} {message}").trim_end().to_string())
        })
        .unwrap_or_default();
    Err(SourceError::HttpStatus {
        method: "GET",
        url: url.to_string(),
        status,
        detail,
    })
}

impl DocumentStore for RegistrySource {
    fn read_document(
        &self,
        descriptor: &Descriptor,
    ) -> Result<(Vec<u8>, Option<String>), SourceError> {
        let digest: Digest = descriptor.digest.parse()?;
        if oci::is_index(&descriptor.media_type) || oci::is_manifest(&descriptor.media_type) {
            let (bytes, media_type, _) = self.fetch_manifest(&descriptor.digest, Some(&digest))?;
            return Ok((bytes, media_type));
        }
        let url = self.url("blobs", &descriptor.digest);
        let response = self.get(&url, None)?;
        let bytes = read_document_bytes(&format!("blob {}", descriptor.digest), response)?;
        digest.verify(&bytes)?;
        Ok((bytes, None))
    }
}

impl ImageSource for RegistrySource {
    fn resolve(
        &self,
        platform: Option<&PlatformFilter>,
    ) -> Result<Vec<ResolvedImage>, SourceError> {
        let (reference, expected) = match &self.image.reference {
            TagOrDigest::Tag(tag) => (tag.clone(), None),
            TagOrDigest::Digest(digest) => (digest.to_string(), Some(digest.clone())),
        };
        let (bytes, media_type, digest) = self.fetch_manifest(&reference, expected.as_ref())?;
        let root = Descriptor {
            media_type: media_type.clone().unwrap_or_default(),
            digest: digest.to_string(),
            size: bytes.len() as u64,
            platform: None,
            annotations: Default::default(),
        };
        resolve_images(
            self,
            &self.reference,
            &root,
            &bytes,
            media_type.as_deref(),
            platform,
        )
    }

    fn open_layer(&self, layer: &LayerDescriptor) -> Result<LayerStream, SourceError> {
        let digest: Digest = layer.digest.parse()?;
        let response = self.get(&self.url("blobs", &layer.digest), None)?;
        let reader: Box<dyn Read + Send> = Box::new(response);
        Ok(VerifyingReader::new(
            reader,
            digest,
            (layer.size > 0).then_some(layer.size),
        ))
    }

    fn is_remote(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_and_basic_challenges() {
        let header = r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#;
        assert_eq!(
            Challenge::parse(header),
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
        assert_eq!(
            Challenge::parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(Challenge::parse("Negotiate"), None);
        assert_eq!(
            Challenge::parse(r#"Bearer service="x""#),
            None,
            "a bearer challenge needs a realm"
        );
    }

    #[test]
    fn reads_basic_credentials_from_docker_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let auth = BASE64.encode("alice:s3cr:et");
        std::fs::write(
            &path,
            format!(r#"{{"auths": {{"https://registry.example:5000/v1/": {{"auth": "{auth}"}}, "other.example": {{"auth": "eDp5"}}}}}}"#),
        )
        .unwrap();
        let credentials = Credentials::from_docker_config(&path, "registry.example:5000")
            .unwrap()
            .unwrap();
        assert_eq!(credentials.username, "alice");
        assert_eq!(
            credentials.password, "s3cr:et",
            "only the first colon separates"
        );
        assert_eq!(
            Credentials::from_docker_config(&path, "missing.example").unwrap(),
            None
        );
        assert_eq!(
            Credentials::from_docker_config(&dir.path().join("absent.json"), "x").unwrap(),
            None
        );
        std::fs::write(
            &path,
            r#"{"auths": {"registry.example:5000": {"auth": "not base64!"}}}"#,
        )
        .unwrap();
        assert!(Credentials::from_docker_config(&path, "registry.example:5000").is_err());
    }

    #[test]
    fn credentials_never_print_the_password() {
        let credentials = Credentials {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{credentials:?}").contains("hunter2"));
    }
}
