//! Encoding of stored fragments: JSON, zlib-compressed when large.
//!
//! A stored fragment starts with `{` or `[` when it is plain JSON and with a
//! zlib header (`0x78`) otherwise, so no flag column is needed. The zlib
//! state is reused across fragments: setting it up (zeroing its window) costs
//! more than inflating a typical fragment.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::schema::COMPRESS_FROM;

/// Reusable zlib state for encoding and decoding fragments.
pub struct Codec {
    compress: Option<Compress>,
    decompress: Option<Decompress>,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Codec")
    }
}

impl Codec {
    /// A codec whose zlib state is created on first use.
    pub fn new() -> Codec {
        Codec {
            compress: None,
            decompress: None,
        }
    }

    /// Encodes a JSON fragment for storage.
    pub fn encode(&mut self, json: String) -> Vec<u8> {
        if json.len() < COMPRESS_FROM {
            return json.into_bytes();
        }
        let compress = self
            .compress
            .get_or_insert_with(|| Compress::new(Compression::default(), true));
        compress.reset();
        let mut out = Vec::with_capacity(json.len() / 2 + 64);
        loop {
            let consumed = compress.total_in() as usize;
            match compress.compress_vec(
                &json.as_bytes()[consumed..],
                &mut out,
                FlushCompress::Finish,
            ) {
                Ok(Status::StreamEnd) => break,
                Ok(_) if out.len() < json.len() => out.reserve(out.capacity().max(64)),
                // Incompressible (or an internal error): store it plain.
                _ => return json.into_bytes(),
            }
        }
        if out.len() < json.len() {
            out
        } else {
            json.into_bytes()
        }
    }

    /// Decodes and parses a stored fragment; a NULL column is an error.
    pub fn parse<T: serde::de::DeserializeOwned>(
        &mut self,
        stored: Option<&[u8]>,
    ) -> Result<T, String> {
        let stored = stored.ok_or("missing fragment")?;
        match stored.first() {
            // Plain JSON parses in place, with no copy.
            Some(b'{') | Some(b'[') | None => serde_json::from_slice(stored),
            Some(_) => serde_json::from_slice(&self.decode(stored)?),
        }
        .map_err(|e| e.to_string())
    }

    /// [`parse`](Codec::parse), with the type's default for a NULL column.
    pub fn parse_or_default<T: serde::de::DeserializeOwned + Default>(
        &mut self,
        stored: Option<&[u8]>,
    ) -> Result<T, String> {
        match stored {
            None => Ok(T::default()),
            Some(_) => self.parse(stored),
        }
    }

    /// Decodes a stored fragment back to JSON bytes.
    pub fn decode(&mut self, stored: &[u8]) -> Result<Vec<u8>, String> {
        match stored.first() {
            Some(b'{') | Some(b'[') | None => return Ok(stored.to_vec()),
            Some(_) => {}
        }
        let decompress = self.decompress.get_or_insert_with(|| Decompress::new(true));
        decompress.reset(true);
        let mut out = Vec::with_capacity(stored.len() * 4 + 64);
        loop {
            let consumed = decompress.total_in() as usize;
            let produced = out.len();
            let status = decompress
                .decompress_vec(&stored[consumed..], &mut out, FlushDecompress::Finish)
                .map_err(|e| format!("corrupt compressed fragment: {e}"))?;
            match status {
                Status::StreamEnd => return Ok(out),
                _ if out.len() == out.capacity() => out.reserve(out.capacity()),
                _ if out.len() == produced && decompress.total_in() as usize == consumed => {
                    return Err("corrupt compressed fragment: truncated".into());
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_small_and_large_with_reused_state() {
        let mut codec = Codec::new();
        let small = r#"{"a":1}"#.to_string();
        assert_eq!(codec.encode(small.clone()), small.as_bytes());
        for n in [100, 500, 5000] {
            let large = format!("[{}]", vec!["\"1.2.3\""; n].join(","));
            let stored = codec.encode(large.clone());
            assert!(stored.len() < large.len());
            assert_eq!(stored[0], 0x78);
            assert_eq!(codec.decode(&stored).unwrap(), large.as_bytes());
        }
    }

    #[test]
    fn truncated_fragments_are_errors() {
        let mut codec = Codec::new();
        let large = format!("[{}]", vec!["\"1.2.3\""; 500].join(","));
        let stored = codec.encode(large);
        assert!(codec.decode(&stored[..stored.len() / 2]).is_err());
    }
}
