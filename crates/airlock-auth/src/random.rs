//! Random bytes and strings from the system CSPRNG (aws-lc), shared by
//! password generation, salts and robot secrets so there is one source of
//! randomness to audit.

const ALPHANUMERIC: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `N` random bytes.
///
/// # Panics
/// If the system random number generator fails, which leaves nothing safe to do.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random number generator failed");
    bytes
}

/// `len` uniformly random characters from `[0-9A-Za-z]` (base62), by
/// rejection sampling so no character is more likely than another.
pub(crate) fn random_alphanumeric(len: usize) -> String {
    // 248 = 4 × 62: bytes at or above it would bias the modulo.
    const LIMIT: u8 = 248;
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for b in random_bytes::<64>() {
            if b < LIMIT && out.len() < len {
                out.push(char::from(ALPHANUMERIC[usize::from(b % 62)]));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphanumeric_strings_have_the_length_and_alphabet_asked_for() {
        for len in [0, 1, 24, 32, 200] {
            let s = random_alphanumeric(len);
            assert_eq!(s.len(), len);
            assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()), "{s}");
        }
        assert_ne!(random_alphanumeric(32), random_alphanumeric(32));
        assert_ne!(random_bytes::<16>(), random_bytes::<16>());
    }
}
