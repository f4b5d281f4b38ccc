//! Layer tars built in memory, including entries a well-behaved tar writer
//! would refuse (`../` names), because the scanner must survive them.

use std::io::Write;

use tar::{EntryType, Header};

#[derive(Debug, Clone)]
enum Entry {
    File {
        path: String,
        data: Vec<u8>,
        mode: u32,
    },
    Dir {
        path: String,
    },
    Symlink {
        path: String,
        target: String,
    },
    Hardlink {
        path: String,
        target: String,
    },
}

/// Builds one layer tar. Paths are written exactly as given (no
/// normalisation, no `..` check) so hostile layers can be made too.
#[derive(Debug, Clone, Default)]
pub struct LayerBuilder {
    entries: Vec<Entry>,
}

impl LayerBuilder {
    /// An empty layer.
    pub fn new() -> Self {
        Self::default()
    }

    /// A regular file with mode 0644.
    pub fn file(self, path: &str, contents: impl AsRef<[u8]>) -> Self {
        self.file_with_mode(path, contents, 0o644)
    }

    /// A regular file with the given mode (e.g. 0o755 for executables).
    pub fn file_with_mode(mut self, path: &str, contents: impl AsRef<[u8]>, mode: u32) -> Self {
        self.entries.push(Entry::File {
            path: path.to_string(),
            data: contents.as_ref().to_vec(),
            mode,
        });
        self
    }

    /// A directory.
    pub fn dir(mut self, path: &str) -> Self {
        self.entries.push(Entry::Dir {
            path: path.to_string(),
        });
        self
    }

    /// A symlink `path -> target` (target written verbatim).
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        self.entries.push(Entry::Symlink {
            path: path.to_string(),
            target: target.to_string(),
        });
        self
    }

    /// A hardlink `path` to the earlier entry `target`.
    pub fn hardlink(mut self, path: &str, target: &str) -> Self {
        self.entries.push(Entry::Hardlink {
            path: path.to_string(),
            target: target.to_string(),
        });
        self
    }

    /// A whiteout deleting `path` from lower layers (`dir/.wh.name`).
    pub fn whiteout(self, path: &str) -> Self {
        let (dir, name) = path.rsplit_once('/').map_or(("", path), |(d, n)| (d, n));
        let marker = if dir.is_empty() {
            format!(".wh.{name}")
        } else {
            format!("{dir}/.wh.{name}")
        };
        self.file(&marker, b"")
    }

    /// An opaque marker hiding everything lower layers had under `dir`.
    pub fn opaque(self, dir: &str) -> Self {
        self.file(&format!("{}/.wh..wh..opq", dir.trim_end_matches('/')), b"")
    }

    /// The uncompressed tar.
    pub fn build_tar(&self) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for entry in &self.entries {
            let mut header = Header::new_gnu();
            header.set_mtime(1_700_000_000);
            header.set_uid(0);
            header.set_gid(0);
            let (path, data): (&str, &[u8]) = match entry {
                Entry::File { path, data, mode } => {
                    header.set_entry_type(EntryType::Regular);
                    header.set_mode(*mode);
                    header.set_size(data.len() as u64);
                    (path, data)
                }
                Entry::Dir { path } => {
                    header.set_entry_type(EntryType::Directory);
                    header.set_mode(0o755);
                    header.set_size(0);
                    (path, &[])
                }
                Entry::Symlink { path, target } | Entry::Hardlink { path, target } => {
                    let kind = if matches!(entry, Entry::Symlink { .. }) {
                        EntryType::Symlink
                    } else {
                        EntryType::Link
                    };
                    header.set_entry_type(kind);
                    header.set_mode(0o777);
                    header.set_size(0);
                    header.set_link_name(target).expect("link name fits");
                    (path, &[])
                }
            };
            if path.len() < 100 {
                let name = &mut header.as_old_mut().name;
                name.fill(0);
                name[..path.len()].copy_from_slice(path.as_bytes());
                header.set_cksum();
                builder
                    .append(&header, data)
                    .expect("append to in-memory tar");
            } else {
                builder
                    .append_data(&mut header, path, data)
                    .expect("append long name to in-memory tar");
            }
        }
        builder.into_inner().expect("finish in-memory tar")
    }

    /// The tar, gzip-compressed.
    pub fn gzip(&self) -> Vec<u8> {
        gzip(&self.build_tar())
    }

    /// The tar, zstd-compressed.
    pub fn zstd(&self) -> Vec<u8> {
        zstd::encode_all(self.build_tar().as_slice(), 3).expect("zstd in memory")
    }
}

/// gzip-compresses bytes.
pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}
