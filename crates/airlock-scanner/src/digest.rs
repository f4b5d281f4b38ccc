//! Content digests, and a reader that checks one while the bytes stream past.
//!
//! Every blob airlock reads (manifests, configs, layers) is addressed by its
//! digest, and nothing read from an untrusted source is believed until its
//! bytes hash to that digest. Layers are verified on the fly so they still
//! stream exactly once.

use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;

use sha2::{Digest as _, Sha256, Sha512};

use crate::error::SourceError;

/// A parsed content digest, `sha256:<64 hex>` or `sha512:<128 hex>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Algorithm {
    Sha256,
    Sha512,
}

impl Digest {
    /// The SHA-256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        Digest {
            algorithm: Algorithm::Sha256,
            hex: hex::encode(Sha256::digest(bytes)),
        }
    }

    /// The hex part.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The algorithm part (`sha256`).
    pub fn algorithm(&self) -> &'static str {
        match self.algorithm {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Checks that `bytes` hash to this digest.
    pub fn verify(&self, bytes: &[u8]) -> Result<(), SourceError> {
        let mut hasher = Hasher::new(self.algorithm);
        hasher.update(bytes);
        let actual = hasher.finish();
        if actual == self.hex {
            Ok(())
        } else {
            Err(SourceError::DigestMismatch {
                expected: self.to_string(),
                actual: format!("{}:{actual}", self.algorithm()),
            })
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm(), self.hex)
    }
}

impl FromStr for Digest {
    type Err = SourceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || SourceError::InvalidDigest {
            digest: text.to_string(),
        };
        let (algorithm, hex) = text.split_once(':').ok_or_else(invalid)?;
        let (algorithm, length) = match algorithm {
            "sha256" => (Algorithm::Sha256, 64),
            "sha512" => (Algorithm::Sha512, 128),
            _ => return Err(invalid()),
        };
        if hex.len() != length
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(invalid());
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }
}

enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    fn finish(self) -> String {
        match self {
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
        }
    }
}

/// Wraps a blob stream, hashing it; at end of stream the digest (and the size,
/// when known) must match, otherwise the final read fails with
/// [`io::ErrorKind::InvalidData`]. The outcome stays queryable with
/// [`VerifyingReader::mismatch`] because a consumer may turn the I/O error
/// into its own.
pub struct VerifyingReader<R> {
    inner: R,
    expected: Digest,
    expected_size: Option<u64>,
    hasher: Option<Hasher>,
    read: u64,
    mismatch: Option<SourceError>,
    on_bytes: Option<Box<dyn FnMut(u64) + Send>>,
}

impl<R: Read> VerifyingReader<R> {
    /// Verifies `inner` against `expected` (and `expected_size` if given).
    pub fn new(inner: R, expected: Digest, expected_size: Option<u64>) -> Self {
        let hasher = Some(Hasher::new(expected.algorithm));
        VerifyingReader {
            inner,
            expected,
            expected_size,
            hasher,
            read: 0,
            mismatch: None,
            on_bytes: None,
        }
    }

    /// Calls `on_bytes` with the number of bytes after every read (progress).
    pub fn with_progress(mut self, on_bytes: Box<dyn FnMut(u64) + Send>) -> Self {
        self.on_bytes = Some(on_bytes);
        self
    }

    /// Reads the rest of the stream so that the digest gets checked.
    pub fn finish(&mut self) -> Result<(), SourceError> {
        let drained = io::copy(self, &mut io::sink());
        if let Some(mismatch) = self.mismatch.take() {
            return Err(mismatch);
        }
        drained.map(|_| ()).map_err(|source| SourceError::Read {
            what: format!("blob {}", self.expected),
            source,
        })
    }

    /// The verification failure, if the stream was read to its end and did not match.
    pub fn mismatch(&self) -> Option<&SourceError> {
        self.mismatch.as_ref()
    }

    /// Takes the verification failure out, to report it as the cause.
    pub fn take_mismatch(&mut self) -> Option<SourceError> {
        self.mismatch.take()
    }

    fn fail(&mut self, error: SourceError) -> io::Error {
        let io_error = io::Error::new(io::ErrorKind::InvalidData, error.to_string());
        self.mismatch = Some(error);
        io_error
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(error) = &self.mismatch {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                error.to_string(),
            ));
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if let Some(on_bytes) = &mut self.on_bytes {
            on_bytes(n as u64);
        }
        if let Some(size) = self.expected_size
            && self.read > size
        {
            return Err(self.fail(SourceError::SizeMismatch {
                digest: self.expected.to_string(),
                expected: size,
                actual: self.read,
            }));
        }
        if n > 0 {
            if let Some(hasher) = &mut self.hasher {
                hasher.update(&buf[..n]);
            }
            return Ok(n);
        }
        if let Some(hasher) = self.hasher.take() {
            if let Some(size) = self.expected_size
                && self.read != size
            {
                return Err(self.fail(SourceError::SizeMismatch {
                    digest: self.expected.to_string(),
                    expected: size,
                    actual: self.read,
                }));
            }
            let actual = hasher.finish();
            if actual != self.expected.hex {
                let actual = format!("{}:{actual}", self.expected.algorithm());
                return Err(self.fail(SourceError::DigestMismatch {
                    expected: self.expected.to_string(),
                    actual,
                }));
            }
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &str = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    #[test]
    fn parses_and_rejects_digests() {
        let digest: Digest = HELLO.parse().unwrap();
        assert_eq!(digest.to_string(), HELLO);
        for bad in [
            "sha256:abc",
            "md5:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            "sha256",
            "sha256:2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824",
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad}");
        }
    }

    #[test]
    fn verifying_reader_accepts_matching_bytes() {
        let mut reader = VerifyingReader::new(&b"hello"[..], HELLO.parse().unwrap(), Some(5));
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"hello");
        assert!(reader.mismatch().is_none());
    }

    #[test]
    fn verifying_reader_rejects_tampered_bytes() {
        let mut reader = VerifyingReader::new(&b"hellO"[..], HELLO.parse().unwrap(), None);
        let error = reader.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(matches!(
            reader.mismatch(),
            Some(SourceError::DigestMismatch { .. })
        ));
    }

    #[test]
    fn verifying_reader_rejects_wrong_size() {
        let mut reader = VerifyingReader::new(&b"hello"[..], HELLO.parse().unwrap(), Some(4));
        assert!(reader.read_to_end(&mut Vec::new()).is_err());
        assert!(matches!(
            reader.mismatch(),
            Some(SourceError::SizeMismatch { .. })
        ));
    }

    #[test]
    fn finish_drains_and_verifies() {
        let mut reader = VerifyingReader::new(&b"hellO"[..], HELLO.parse().unwrap(), None);
        let mut first = [0u8; 2];
        reader.read_exact(&mut first).unwrap();
        assert!(matches!(
            reader.finish(),
            Err(SourceError::DigestMismatch { .. })
        ));
    }
}
