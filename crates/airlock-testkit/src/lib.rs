//! Test support for airlock: fixtures are made, not downloaded.
//!
//! - [`LayerBuilder`] writes layer tars (files with modes, directories,
//!   symlinks, hardlinks, whiteouts, opaque markers, and deliberately hostile
//!   entry names) and compresses them with gzip or zstd.
//! - [`OciLayoutBuilder`] turns layers into a complete image (config with
//!   `rootfs.diff_ids` and `history`, manifest) and writes it as an OCI image
//!   layout, a `docker save` archive, or part of a multi-platform index
//!   ([`write_index`]).
//! - [`fixtures`] produces realistic package-database contents (dpkg, apk,
//!   rpmdb.sqlite with real header blobs, Python, npm, Cargo, Go and
//!   cargo-auditable ELF binaries, jars, gems, composer, .NET) so analyzer,
//!   scanner and end-to-end tests share the same data.
//! - [`S3Server`] runs a real S3-compatible server (`s3s-fs`) for the S3
//!   storage tests; [`AzuriteServer`] runs Azurite for the Azure ones.
//!
//! Functions here panic on failure: they only ever run inside tests.

mod azurite;
pub mod fixtures;
mod image;
mod layer;
mod s3;
mod server;

pub use azurite::{AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY, AzuriteServer};
pub use image::{
    BuiltImage, BuiltIndex, BuiltLayer, LayerCompression, OciLayoutBuilder, write_index,
};
pub use layer::LayerBuilder;
pub use s3::{S3_ACCESS_KEY, S3_SECRET_KEY, S3Server, S3TestOptions};

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}
