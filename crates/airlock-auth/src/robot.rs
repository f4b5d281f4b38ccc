//! Robot accounts and their tokens. A robot token is shown once, as
//! `alr_<prefix8>_<secret32>`; only its prefix (to find the row) and the
//! SHA-256 of the whole token are stored. Tokens carry ~190 bits of entropy,
//! so a fast hash is right here, unlike passwords.

use sha2::{Digest, Sha256};

use crate::random::{random_alphanumeric, random_bytes};
use crate::{AuthError, TenantId};

const TOKEN_TAG: &str = "alr_";
const PREFIX_LEN: usize = 8;
const SECRET_LEN: usize = 32;
/// The longest robot name (the part after `+`).
pub const ROBOT_NAME_MAX_LEN: usize = 64;

/// The token shown once: "alr_<prefix8>_<secret32>" (prefix: 8 lowercase hex chars; secret: 32 base62 chars), from aws_lc_rs::rand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobotSecret {
    pub token: String,
    pub prefix: String,
    pub hash: String,
}

/// A new random robot token with its prefix and hash.
pub fn new_robot_secret() -> RobotSecret {
    let prefix = hex::encode(random_bytes::<{ PREFIX_LEN / 2 }>());
    let token = format!("{TOKEN_TAG}{prefix}_{}", random_alphanumeric(SECRET_LEN));
    let hash = robot_token_hash(&token);
    RobotSecret {
        token,
        prefix,
        hash,
    }
}

/// hex SHA-256 of the whole token (tokens are high-entropy, so a fast hash is right here).
pub fn robot_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The prefix of a well-formed robot token, None otherwise.
pub fn robot_token_prefix(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(TOKEN_TAG)?;
    let (prefix, secret) = rest.split_once('_')?;
    let prefix_ok = prefix.len() == PREFIX_LEN
        && prefix
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let secret_ok = secret.len() == SECRET_LEN && secret.bytes().all(|b| b.is_ascii_alphanumeric());
    (prefix_ok && secret_ok).then_some(prefix)
}

/// Constant-time comparison of two hex hashes (the length is not secret).
pub fn hashes_equal(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn is_valid_robot_name(name: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    name.len() <= ROBOT_NAME_MAX_LEN
        && name
            .split(['.', '_', '-'])
            .all(|part| !part.is_empty() && part.bytes().all(alnum))
}

/// Robot account names: "robot$<tenant>+<name>", name [a-z0-9]+([._-][a-z0-9]+)* max 64.
pub fn robot_account_name(tenant: &TenantId, name: &str) -> Result<String, AuthError> {
    if !is_valid_robot_name(name) {
        return Err(AuthError::InvalidName(format!(
            "robot name {name:?} must match [a-z0-9]+([._-][a-z0-9]+)* and be at most {ROBOT_NAME_MAX_LEN} characters"
        )));
    }
    Ok(format!("robot${tenant}+{name}"))
}

/// Splits a robot account name back into tenant and robot name; None if
/// `account` is not a well-formed robot account name.
pub fn parse_robot_account_name(account: &str) -> Option<(TenantId, &str)> {
    let (tenant, name) = account.strip_prefix("robot$")?.split_once('+')?;
    let tenant: TenantId = tenant.parse().ok()?;
    is_valid_robot_name(name).then_some((tenant, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_secrets_are_well_formed_and_hashed() {
        let secret = new_robot_secret();
        assert_eq!(secret.token.len(), 4 + 8 + 1 + 32);
        assert!(secret.token.starts_with("alr_"), "{}", secret.token);
        assert_eq!(
            robot_token_prefix(&secret.token),
            Some(secret.prefix.as_str())
        );
        assert_eq!(secret.hash, robot_token_hash(&secret.token));
        assert_eq!(secret.hash.len(), 64);
        assert_ne!(new_robot_secret().token, secret.token);
    }

    #[test]
    fn prefix_only_of_well_formed_tokens() {
        let secret32 = "A".repeat(32);
        let ok = format!("alr_0123abcd_{secret32}");
        let cases: Vec<(String, Option<&str>)> = vec![
            (ok.clone(), Some("0123abcd")),
            (format!("alr_0123ABCD_{secret32}"), None),
            (format!("alr_0123abc_{secret32}"), None),
            (format!("alr_0123abcde_{secret32}"), None),
            (format!("alr_0123abcg_{secret32}"), None),
            (format!("alr_0123abcd_{}", "A".repeat(31)), None),
            (format!("alr_0123abcd_{}", "A".repeat(33)), None),
            (format!("alr_0123abcd_{}-", "A".repeat(31)), None),
            (format!("alr_0123abcd_{}_", "A".repeat(31)), None),
            (format!("xyz_0123abcd_{secret32}"), None),
            (format!("0123abcd_{secret32}"), None),
            ("alr_".to_owned(), None),
            (String::new(), None),
        ];
        for (token, want) in &cases {
            assert_eq!(robot_token_prefix(token), *want, "{token}");
        }
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            robot_token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn compares_hashes() {
        let cases: &[(&str, &str, bool)] = &[
            ("abcd", "abcd", true),
            ("abcd", "abce", false),
            ("abcd", "abc", false),
            ("", "", true),
        ];
        for (a, b, want) in cases {
            assert_eq!(hashes_equal(a, b), *want, "{a} {b}");
        }
    }

    #[test]
    fn account_names() {
        let acme: TenantId = "acme".parse().unwrap();
        let long_ok = "a".repeat(64);
        let too_long = "a".repeat(65);
        let cases: &[(&str, Option<&str>)] = &[
            ("ci", Some("robot$acme+ci")),
            ("ci.deploy-1_x", Some("robot$acme+ci.deploy-1_x")),
            (&long_ok, Some("")),
            (&too_long, None),
            ("", None),
            ("CI", None),
            ("ci..x", None),
            (".ci", None),
            ("ci-", None),
            ("ci+x", None),
            ("ci$x", None),
        ];
        for (name, want) in cases {
            let got = robot_account_name(&acme, name);
            match want {
                None => assert!(matches!(got, Err(AuthError::InvalidName(_))), "{name:?}"),
                Some("") => assert!(got.is_ok(), "{name:?}"),
                Some(full) => {
                    let full_name = got.unwrap();
                    assert_eq!(full_name, *full);
                    assert_eq!(
                        parse_robot_account_name(&full_name),
                        Some((acme.clone(), *name))
                    );
                }
            }
        }
        assert_eq!(parse_robot_account_name("alice"), None);
        assert_eq!(parse_robot_account_name("robot$Acme+ci"), None);
        assert_eq!(parse_robot_account_name("robot$acme+"), None);
    }
}
