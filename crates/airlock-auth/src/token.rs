//! Short-lived registry tokens: JWTs signed with Ed25519 (EdDSA) that carry
//! the granted `access` (the distribution token spec) plus an `airlock`
//! claim naming the principal's kind and roles, so the registry can tell a
//! token that lacks a scope (401) from a caller who lacks the right (403)
//! without a database lookup.
//!
//! Time is passed in explicitly: `jsonwebtoken` would check `exp`/`nbf`
//! against the system clock, so that is switched off and done here against
//! `now`, with 30 s of leeway. Only EdDSA is accepted; `none`, HMAC and
//! every other algorithm are refused before any key is used.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use time::OffsetDateTime;

use crate::{Access, AuthError, Principal, PrincipalKind, Roles};

/// The `iss` of every token.
pub const ISSUER: &str = "airlock";
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: i64 = 30;

/// The signing key pair, kept in the data directory as PKCS#8 DER.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    public_key: Vec<u8>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("public_key", &hex::encode(&self.public_key))
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    /// A new random Ed25519 key; returns the PKCS#8 DER bytes to persist as well.
    pub fn generate() -> Result<(TokenKeys, Vec<u8>), AuthError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let der = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| AuthError::Key("generating an ed25519 key failed".into()))?
            .as_ref()
            .to_vec();
        let keys = TokenKeys::from_pkcs8(&der)?;
        Ok((keys, der))
    }

    /// Loads an Ed25519 key from PKCS#8 DER (v1 or v2).
    pub fn from_pkcs8(der: &[u8]) -> Result<TokenKeys, AuthError> {
        let pair = Ed25519KeyPair::from_pkcs8(der)
            .map_err(|e| AuthError::Key(format!("not an ed25519 pkcs#8 key: {e}")))?;
        let public_key = pair.public_key().as_ref().to_vec();
        Ok(TokenKeys {
            encoding: EncodingKey::from_ed_der(der),
            decoding: DecodingKey::from_ed_der(&public_key),
            public_key,
        })
    }

    /// The raw 32-byte Ed25519 public key (for publishing as a JWK).
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    /// Loads `path`, or generates the key and writes it there (mode 0600, written to a temp file in the same dir then renamed, so a crash never leaves half a key). Returns (keys, created: bool).
    pub fn load_or_create(path: &Path) -> Result<(TokenKeys, bool), AuthError> {
        match std::fs::read(path) {
            Ok(der) => {
                let keys = TokenKeys::from_pkcs8(&der)
                    .map_err(|e| AuthError::Key(format!("loading {}: {e}", path.display())))?;
                return Ok((keys, false));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        let (keys, der) = TokenKeys::generate()?;
        write_atomically(path, &der)?;
        Ok((keys, true))
    }
}

/// Writes `bytes` to a 0600 temp file next to `path`, syncs it, then renames
/// it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other(format!("{} has no file name", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        file_name.to_string_lossy(),
        uuid::Uuid::new_v4().simple()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        #[cfg(unix)]
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The airlock-specific claim: who the token speaks for, so the registry can tell 401 (token lacks scope) from 403 (caller lacks the right) without a database lookup.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PrincipalClaim {
    pub kind: PrincipalKind,
    pub roles: Roles,
}

/// The claims of a registry token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    pub access: Vec<Access>,
    pub airlock: PrincipalClaim,
}

impl TokenClaims {
    /// Rebuilds the principal (User or Robot; System never gets tokens, and
    /// [`TokenService::verify`] refuses a token claiming to be one).
    pub fn principal(&self) -> Principal {
        let name = self.sub.clone();
        let roles = self.airlock.roles.clone();
        match self.airlock.kind {
            PrincipalKind::Robot => Principal::Robot { name, roles },
            PrincipalKind::User | PrincipalKind::System => Principal::User { name, roles },
        }
    }
}

/// A freshly signed token and what the token endpoint reports about it.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    /// Seconds.
    pub expires_in: u64,
    pub issued_at: OffsetDateTime,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token has expired")]
    Expired,
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// Issues and verifies registry tokens for one service (the `aud`).
#[derive(Debug)]
pub struct TokenService {
    keys: TokenKeys,
    service: String,
    ttl: Duration,
    validation: Validation,
}

impl TokenService {
    /// issuer "airlock", audience = service name (e.g. "airlock").
    pub fn new(keys: TokenKeys, service: &str, ttl: Duration) -> TokenService {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
        validation.set_audience(&[service]);
        validation.set_issuer(&[ISSUER]);
        TokenService {
            keys,
            service: service.to_owned(),
            ttl,
            validation,
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    /// Signs a token granting `access` to `principal`. Refuses System principals (AuthError::SystemIdentity).
    pub fn issue(
        &self,
        principal: &Principal,
        access: Vec<Access>,
        now: OffsetDateTime,
    ) -> Result<IssuedToken, AuthError> {
        self.issue_for(principal, access, now, self.ttl)
    }

    /// Like [`TokenService::issue`], valid for `ttl` instead of the
    /// service's lifetime (dashboard sessions outlive registry tokens).
    pub fn issue_for(
        &self,
        principal: &Principal,
        access: Vec<Access>,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> Result<IssuedToken, AuthError> {
        let roles = principal.roles().ok_or(AuthError::SystemIdentity)?.clone();
        let iat = now.unix_timestamp();
        let ttl_secs = ttl.as_secs();
        let ttl = i64::try_from(ttl_secs).unwrap_or(i64::MAX);
        let claims = TokenClaims {
            iss: ISSUER.to_owned(),
            sub: principal.name().to_owned(),
            aud: self.service.clone(),
            exp: iat.saturating_add(ttl),
            nbf: iat,
            iat,
            jti: uuid::Uuid::new_v4().to_string(),
            access,
            airlock: PrincipalClaim {
                kind: principal.kind(),
                roles,
            },
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("JWT".to_owned());
        let token = jsonwebtoken::encode(&header, &claims, &self.keys.encoding)
            .map_err(|e| AuthError::Key(format!("signing a token failed: {e}")))?;
        Ok(IssuedToken {
            token,
            expires_in: ttl_secs,
            issued_at: now,
        })
    }

    /// Verifies signature (EdDSA only — any other alg incl. "none" and HS256 is refused), exp/nbf (leeway 30 s), aud, iss.
    pub fn verify(&self, token: &str, now: OffsetDateTime) -> Result<TokenClaims, TokenError> {
        let data =
            jsonwebtoken::decode::<TokenClaims>(token, &self.keys.decoding, &self.validation)
                .map_err(|e| TokenError::Invalid(e.to_string()))?;
        let claims = data.claims;
        let now = now.unix_timestamp();
        if claims.exp.saturating_add(LEEWAY_SECONDS) < now {
            return Err(TokenError::Expired);
        }
        if claims.nbf.saturating_sub(LEEWAY_SECONDS) > now {
            return Err(TokenError::Invalid("token is not valid yet".into()));
        }
        if claims.airlock.kind == PrincipalKind::System {
            return Err(TokenError::Invalid(
                "system identities never get tokens".into(),
            ));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;
    use crate::{SystemIdentity, TenantRole};

    const TTL: Duration = Duration::from_secs(300);

    fn service() -> TokenService {
        TokenService::new(TokenKeys::generate().unwrap().0, "airlock", TTL)
    }

    fn t0() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn robot() -> Principal {
        Principal::Robot {
            name: "robot$acme+ci".into(),
            roles: Roles::single("acme".parse().unwrap(), TenantRole::Developer),
        }
    }

    fn pull_scanned() -> Vec<Access> {
        vec![Access {
            resource_type: "repository".into(),
            name: "scanned/acme/app".into(),
            actions: vec!["pull".into()],
        }]
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn round_trip() {
        let svc = service();
        let issued = svc.issue(&robot(), pull_scanned(), t0()).unwrap();
        assert_eq!(issued.expires_in, 300);
        assert_eq!(issued.issued_at, t0());
        let claims = svc.verify(&issued.token, t0()).unwrap();
        assert_eq!(claims.iss, "airlock");
        assert_eq!(claims.aud, "airlock");
        assert_eq!(claims.sub, "robot$acme+ci");
        assert_eq!(claims.iat, t0().unix_timestamp());
        assert_eq!(claims.exp, t0().unix_timestamp() + 300);
        assert_eq!(claims.access, pull_scanned());
        assert_eq!(claims.principal(), robot());
        let header = jsonwebtoken::decode_header(&issued.token).unwrap();
        assert_eq!(header.alg, Algorithm::EdDSA);
    }

    #[test]
    fn refuses_to_issue_for_system_identities() {
        let err = service()
            .issue(&Principal::System(SystemIdentity::Promoter), vec![], t0())
            .unwrap_err();
        assert!(matches!(err, AuthError::SystemIdentity));
    }

    #[test]
    fn checks_time_against_now_with_leeway() {
        let svc = service();
        let token = svc.issue(&robot(), pull_scanned(), t0()).unwrap().token;
        let at = |secs: i64| t0() + time::Duration::seconds(secs);
        let cases: &[(i64, Result<(), TokenError>)] = &[
            (0, Ok(())),
            (300, Ok(())),
            (330, Ok(())),
            (331, Err(TokenError::Expired)),
            (86_400, Err(TokenError::Expired)),
            (-30, Ok(())),
            (
                -31,
                Err(TokenError::Invalid("token is not valid yet".into())),
            ),
        ];
        for (offset, want) in cases {
            assert_eq!(
                svc.verify(&token, at(*offset)).map(|_| ()),
                *want,
                "at {offset}"
            );
        }
    }

    fn assert_invalid(svc: &TokenService, token: &str, label: &str) {
        match svc.verify(token, t0()) {
            Err(TokenError::Invalid(_)) => {}
            other => panic!("{label}: expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn refuses_forged_and_foreign_tokens() {
        let svc = service();
        let genuine = svc.issue(&robot(), pull_scanned(), t0()).unwrap().token;
        let parts: Vec<&str> = genuine.split('.').collect();
        let (header, payload, signature) = (parts[0], parts[1], parts[2]);

        // Signed by another key.
        let other = service()
            .issue(&robot(), pull_scanned(), t0())
            .unwrap()
            .token;

        // alg: none with the real payload and an empty signature.
        let none = format!("{}.{payload}.", b64(br#"{"alg":"none","typ":"JWT"}"#));

        // HS256 keyed with the public key bytes (algorithm confusion).
        let claims: TokenClaims = svc.verify(&genuine, t0()).unwrap();
        let hs256 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(svc.keys.public_key()),
        )
        .unwrap();
        let hs256_raw = format!(
            "{}.{payload}.{signature}",
            b64(br#"{"alg":"HS256","typ":"JWT"}"#)
        );

        // Scope escalation: add push to the payload, keep the signature.
        let mut json: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        json["access"][0]["actions"]
            .as_array_mut()
            .unwrap()
            .push("push".into());
        let escalated = format!(
            "{header}.{}.{signature}",
            b64(&serde_json::to_vec(&json).unwrap())
        );

        // Wrong audience and wrong issuer, properly signed with the real key.
        let resign = |edit: &dyn Fn(&mut TokenClaims)| {
            let mut c = claims.clone();
            edit(&mut c);
            jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &c, &svc.keys.encoding).unwrap()
        };
        let wrong_aud = resign(&|c| c.aud = "other-registry".into());
        let wrong_iss = resign(&|c| c.iss = "evil".into());
        let system = resign(&|c| c.airlock.kind = PrincipalKind::System);
        // A sanity check that resigning itself is accepted.
        let resigned = resign(&|_| {});
        assert!(svc.verify(&resigned, t0()).is_ok());

        let cases: Vec<(&str, String)> = vec![
            ("another key", other),
            ("alg none", none),
            ("hs256 with public key", hs256),
            ("hs256 header on ed25519 signature", hs256_raw),
            ("scope escalation", escalated),
            ("wrong audience", wrong_aud),
            ("wrong issuer", wrong_iss),
            ("system kind", system),
            ("garbage", "not a token".into()),
            ("empty", String::new()),
            ("two parts", format!("{header}.{payload}")),
        ];
        for (label, token) in cases {
            assert_invalid(&svc, &token, label);
        }
    }

    #[test]
    fn keys_round_trip_through_pkcs8() {
        let (keys, der) = TokenKeys::generate().unwrap();
        let again = TokenKeys::from_pkcs8(&der).unwrap();
        assert_eq!(keys.public_key(), again.public_key());
        assert_eq!(keys.public_key().len(), 32);
        assert!(matches!(
            TokenKeys::from_pkcs8(b"not a key"),
            Err(AuthError::Key(_))
        ));
    }

    #[test]
    fn load_or_create_persists_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token-key.der");
        let (created, was_created) = TokenKeys::load_or_create(&path).unwrap();
        assert!(was_created);
        let (loaded, was_created) = TokenKeys::load_or_create(&path).unwrap();
        assert!(!was_created);
        assert_eq!(created.public_key(), loaded.public_key());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, [std::ffi::OsString::from("token-key.der")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Tokens from the first instance verify with the reloaded key.
        let token = TokenService::new(created, "airlock", TTL)
            .issue(&robot(), vec![], t0())
            .unwrap()
            .token;
        assert!(
            TokenService::new(loaded, "airlock", TTL)
                .verify(&token, t0())
                .is_ok()
        );
    }

    #[test]
    fn load_or_create_refuses_a_corrupt_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token-key.der");
        std::fs::write(&path, b"half a key").unwrap();
        assert!(matches!(
            TokenKeys::load_or_create(&path),
            Err(AuthError::Key(_))
        ));
    }
}
