//! Standard Webhooks signatures: how a receiver knows a request came from
//! airlock, unmodified, and recently.
//!
//! The signed content is `"{msg_id}.{timestamp}.{body}"`, the MAC is
//! HMAC-SHA256 keyed with the endpoint secret, and the `webhook-signature`
//! header carries `v1,<base64 MAC>`. Several space-separated signatures may be
//! present (secret rotation), and any one matching `v1` signature is enough.
//! Following the spec keeps receivers free to use any Standard Webhooks
//! library instead of airlock-specific code.
//!
//! Replay protection is the timestamp: [`verify`] refuses a message whose
//! timestamp is further than the tolerance from the verifier's clock, in
//! either direction. MACs are compared in constant time (`Mac::verify_slice`).

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

/// Header carrying the message id (the outbox id, stable across retries).
pub const HEADER_ID: &str = "webhook-id";
/// Header carrying the signing time in Unix seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Header carrying one or more space-separated `v1,<base64>` signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// The signature version tag for HMAC-SHA256.
const VERSION_HMAC_SHA256: &str = "v1";

type HmacSha256 = Hmac<Sha256>;

/// Why a secret string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// The string did not start with `whsec_`.
    #[error("webhook secret must start with `{}`", Secret::PREFIX)]
    MissingPrefix,
    /// The part after the prefix was not standard base64.
    #[error("webhook secret is not valid base64")]
    InvalidBase64,
    /// The decoded key was shorter than 24 or longer than 64 bytes.
    #[error("webhook secret must decode to 24 to 64 bytes, got {0}")]
    InvalidLength(usize),
}

/// Why a signed message was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// The timestamp is older than `now - tolerance`.
    #[error("webhook timestamp {timestamp} is too old (now {now})")]
    TimestampTooOld { timestamp: i64, now: i64 },
    /// The timestamp is later than `now + tolerance`.
    #[error("webhook timestamp {timestamp} is in the future (now {now})")]
    TimestampInFuture { timestamp: i64, now: i64 },
    /// The signature header held no `v1` signature at all.
    #[error("webhook signature header holds no v1 signature")]
    NoSignature,
    /// No `v1` signature in the header matched.
    #[error("webhook signature does not match")]
    Mismatch,
}

/// An endpoint signing secret, written `whsec_<base64 key>`.
///
/// `Debug` is redacted; `Display` writes the full `whsec_` form, so only use
/// it to show the secret to its owner once.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// The prefix of the textual form.
    pub const PREFIX: &str = "whsec_";
    const MIN_LEN: usize = 24;
    const MAX_LEN: usize = 64;

    /// Parses `whsec_<base64>`; the key must be 24 to 64 bytes.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .strip_prefix(Self::PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let key = BASE64
            .decode(encoded)
            .map_err(|_| SecretError::InvalidBase64)?;
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&key.len()) {
            return Err(SecretError::InvalidLength(key.len()));
        }
        Ok(Self(key))
    }

    /// Makes a secret from 24 caller-supplied random bytes (use a CSPRNG).
    pub fn generate(random_bytes: [u8; 24]) -> Self {
        Self(random_bytes.to_vec())
    }

    /// The raw HMAC key.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", Self::PREFIX, BASE64.encode(&self.0))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

fn mac_for(secret: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).expect("hmac accepts any key length");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Signs a message: `v1,<base64(HMAC-SHA256(secret, "{msg_id}.{timestamp}.{body}"))>`.
pub fn sign(secret: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac_for(secret, msg_id, timestamp, body)
        .finalize()
        .into_bytes();
    format!("{VERSION_HMAC_SHA256},{}", BASE64.encode(tag))
}

/// The three Standard Webhooks headers for one delivery, as name/value pairs.
pub fn headers(
    secret: &Secret,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> [(&'static str, String); 3] {
    [
        (HEADER_ID, msg_id.to_owned()),
        (HEADER_TIMESTAMP, timestamp.to_string()),
        (
            HEADER_SIGNATURE,
            sign(secret.as_bytes(), msg_id, timestamp, body),
        ),
    ]
}

/// Verifies a received message.
///
/// `now` is the verifier's clock in Unix seconds; a `timestamp` more than
/// `tolerance` away from it is refused before any MAC is computed.
/// `signature_header` may hold several space-separated signatures; entries
/// with other versions (e.g. `v1a` asymmetric) or bad base64 are skipped.
pub fn verify(
    secret: &[u8],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
    signature_header: &str,
    now: i64,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let tolerance = i128::from(tolerance.as_secs());
    let skew = i128::from(now) - i128::from(timestamp);
    if skew > tolerance {
        return Err(VerifyError::TimestampTooOld { timestamp, now });
    }
    if -skew > tolerance {
        return Err(VerifyError::TimestampInFuture { timestamp, now });
    }

    let expected = mac_for(secret, msg_id, timestamp, body);
    let mut saw_v1 = false;
    for entry in signature_header.split_ascii_whitespace() {
        let Some((version, encoded)) = entry.split_once(',') else {
            continue;
        };
        if version != VERSION_HMAC_SHA256 {
            continue;
        }
        saw_v1 = true;
        let Ok(tag) = BASE64.decode(encoded) else {
            continue;
        };
        if expected.clone().verify_slice(&tag).is_ok() {
            return Ok(());
        }
    }
    if saw_v1 {
        Err(VerifyError::Mismatch)
    } else {
        Err(VerifyError::NoSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The test vector published with the Standard Webhooks reference
    // libraries.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const TOLERANCE: Duration = Duration::from_secs(300);

    fn secret() -> Secret {
        Secret::parse(SECRET).unwrap()
    }

    #[test]
    fn signs_the_standard_webhooks_test_vector() {
        assert_eq!(sign(secret().as_bytes(), MSG_ID, TIMESTAMP, BODY), EXPECTED);
    }

    #[test]
    fn verifies_the_standard_webhooks_test_vector() {
        let result = verify(
            secret().as_bytes(),
            MSG_ID,
            TIMESTAMP,
            BODY,
            EXPECTED,
            TIMESTAMP + 10,
            TOLERANCE,
        );
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn any_matching_signature_among_several_is_enough() {
        let header = format!("v1a,ignored v1,AAAA {EXPECTED}  v2,zzz");
        let result = verify(
            secret().as_bytes(),
            MSG_ID,
            TIMESTAMP,
            BODY,
            &header,
            TIMESTAMP,
            TOLERANCE,
        );
        assert_eq!(result, Ok(()));
    }

    /// Name, key, body, signature header, verifier clock, expected error.
    type Refusal<'a> = (&'a str, &'a [u8], &'a [u8], &'a str, i64, VerifyError);

    #[test]
    fn refusals() {
        let other = Secret::generate([7; 24]);
        let right = secret();
        let cases: [Refusal<'_>; 6] = [
            (
                "wrong secret",
                other.as_bytes(),
                BODY,
                EXPECTED,
                TIMESTAMP,
                VerifyError::Mismatch,
            ),
            (
                "tampered body",
                right.as_bytes(),
                br#"{"test": 2432232315}"#,
                EXPECTED,
                TIMESTAMP,
                VerifyError::Mismatch,
            ),
            (
                "expired timestamp",
                right.as_bytes(),
                BODY,
                EXPECTED,
                TIMESTAMP + 301,
                VerifyError::TimestampTooOld {
                    timestamp: TIMESTAMP,
                    now: TIMESTAMP + 301,
                },
            ),
            (
                "future timestamp",
                right.as_bytes(),
                BODY,
                EXPECTED,
                TIMESTAMP - 301,
                VerifyError::TimestampInFuture {
                    timestamp: TIMESTAMP,
                    now: TIMESTAMP - 301,
                },
            ),
            (
                "no v1 signature",
                right.as_bytes(),
                BODY,
                "v1a,abc",
                TIMESTAMP,
                VerifyError::NoSignature,
            ),
            (
                "bad base64",
                right.as_bytes(),
                BODY,
                "v1,!!!",
                TIMESTAMP,
                VerifyError::Mismatch,
            ),
        ];
        for (name, key, body, header, now, expected) in cases {
            let result = verify(key, MSG_ID, TIMESTAMP, body, header, now, TOLERANCE);
            assert_eq!(result, Err(expected), "{name}");
        }
    }

    #[test]
    fn timestamp_at_the_tolerance_edge_is_accepted() {
        for now in [TIMESTAMP - 300, TIMESTAMP + 300] {
            let result = verify(
                secret().as_bytes(),
                MSG_ID,
                TIMESTAMP,
                BODY,
                EXPECTED,
                now,
                TOLERANCE,
            );
            assert_eq!(result, Ok(()), "now {now}");
        }
    }

    #[test]
    fn extreme_timestamps_do_not_overflow() {
        let result = verify(
            b"key",
            MSG_ID,
            i64::MIN,
            BODY,
            EXPECTED,
            i64::MAX,
            TOLERANCE,
        );
        assert!(matches!(result, Err(VerifyError::TimestampTooOld { .. })));
    }

    #[test]
    fn headers_carry_id_timestamp_and_signature() {
        let headers = headers(&secret(), MSG_ID, TIMESTAMP, BODY);
        assert_eq!(
            headers,
            [
                (HEADER_ID, MSG_ID.to_owned()),
                (HEADER_TIMESTAMP, TIMESTAMP.to_string()),
                (HEADER_SIGNATURE, EXPECTED.to_owned()),
            ]
        );
    }

    #[test]
    fn secret_round_trips_through_display_and_hides_in_debug() {
        assert_eq!(secret().to_string(), SECRET);
        let generated = Secret::generate([42; 24]);
        assert_eq!(Secret::parse(&generated.to_string()), Ok(generated.clone()));
        assert_eq!(format!("{generated:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn malformed_secrets_are_refused() {
        assert_eq!(
            Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(SecretError::MissingPrefix)
        );
        assert_eq!(
            Secret::parse("whsec_not base64!"),
            Err(SecretError::InvalidBase64)
        );
        assert_eq!(
            Secret::parse("whsec_c2hvcnQ="),
            Err(SecretError::InvalidLength(5))
        );
    }
}
