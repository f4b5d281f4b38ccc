//! Helpers the object-store test files share (each file uses some).
#![allow(dead_code)]

use airlock_store::ByteStream;
use bytes::Bytes;
use futures::StreamExt;

pub const MIB: usize = 1024 * 1024;

/// `bytes` as a one-piece stream.
pub fn stream_of(bytes: &[u8]) -> ByteStream {
    Box::pin(futures::stream::iter([Ok(Bytes::copy_from_slice(bytes))]))
}

/// `len` bytes of a repeating pattern, as if starting at offset `start`.
pub fn pattern(start: usize, len: usize) -> Vec<u8> {
    (start..start + len).map(|i| (i % 251) as u8).collect()
}

/// Everything a stream yields.
pub async fn collect(mut stream: ByteStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(piece) = stream.next().await {
        out.extend_from_slice(&piece.expect("stream piece"));
    }
    out
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
