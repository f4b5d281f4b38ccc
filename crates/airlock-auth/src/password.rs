//! Password hashing for people: argon2id PHC strings with the crate's
//! default parameters (m=19456 KiB, t=2, p=1) and a random 16-byte salt.
//! Robot tokens are high-entropy and use a fast hash instead (`robot.rs`).

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::AuthError;
use crate::random::{random_alphanumeric, random_bytes};

/// Length of generated passwords.
pub const GENERATED_PASSWORD_LEN: usize = 24;

/// Hashes `password` into an argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = random_bytes::<16>();
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string; false on a malformed PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok()
}

/// A new random password: 24 alphanumeric characters (about 143 bits).
pub fn generate_password() -> String {
    random_alphanumeric(GENERATED_PASSWORD_LEN)
}

/// The cost of verifying a password against a dummy hash, to use when the user does not exist (constant-ish timing).
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc = DUMMY.get_or_init(|| {
        hash_password(&generate_password()).expect("hashing a generated password cannot fail")
    });
    let _ = verify_password(password, phc);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_the_right_password() {
        let phc = hash_password("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let cases: &[(&str, &str, bool)] = &[
            ("correct horse", &phc, true),
            ("correct horse ", &phc, false),
            ("", &phc, false),
            ("correct horse", "", false),
            ("correct horse", "$argon2id$garbage", false),
            ("correct horse", "plaintext", false),
        ];
        for (password, phc, want) in cases {
            assert_eq!(
                verify_password(password, phc),
                *want,
                "{password:?} {phc:?}"
            );
        }
    }

    #[test]
    fn salts_differ() {
        assert_ne!(hash_password("x").unwrap(), hash_password("x").unwrap());
    }

    #[test]
    fn generated_passwords_are_24_alphanumerics() {
        let p = generate_password();
        assert_eq!(p.len(), 24);
        assert!(p.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(p, generate_password());
        verify_dummy(&p);
    }
}
