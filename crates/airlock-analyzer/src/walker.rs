//! The layer walk: decompress one layer blob as a stream, walk its tar
//! entries once, and give the files analyzers want to those analyzers.
//!
//! The stack of readers is `source → decompressor → counter → tar`. Errors
//! are tagged on their way up (a failing source, a failing decompressor, a
//! tripped limit) so that one `io::Error` out of the tar crate can be turned
//! into the precise [`WalkError`] an operator needs. Only wanted files are
//! read into memory, each capped by `max_file_bytes`; nothing touches disk.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::io::{self, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::Instant;

use flate2::read::MultiGzDecoder;
use tar::EntryType;

use crate::analyzers::{ALL, AnalyzeContext, Analyzer, MAGIC_LEN};
use crate::paths::{file_name, join, normalize_entry_path, parent, resolve_in_root};
use crate::{
    Compression, FileResult, LayerAnalysis, Limits, WalkError, compression_for_media_type,
};

/// Mode used when asking analyzers about a link path (never executable, so
/// binary analyzers only read binaries at their real path).
const LINK_MODE: u32 = 0o644;
/// Largest buffer reserved up front for a wanted file.
const INITIAL_FILE_CAPACITY: u64 = 16 << 20;
/// How many decompressed bytes pass between two deadline checks.
const DEADLINE_CHECK_BYTES: u64 = 4 << 20;

/// Streams one layer exactly once: detects compression from the media type
/// and verifies it against the magic bytes (a lie is an error), walks the tar
/// entries and hands wanted files to the analyzers. `image_bytes_used` is the
/// running decompressed total across the image, checked against
/// `limits.max_image_bytes`, and updated even when this layer fails. Nothing
/// is written to disk.
pub fn analyze_layer<R: Read>(
    reader: R,
    media_type: &str,
    layer_digest: &str,
    limits: &Limits,
    image_bytes_used: &mut u64,
) -> Result<LayerAnalysis, WalkError> {
    let digest = layer_digest.to_string();
    let declared =
        compression_for_media_type(media_type).ok_or_else(|| WalkError::UnsupportedMediaType {
            digest: digest.clone(),
            media_type: media_type.to_string(),
        })?;

    let mut source = SourceTag(reader);
    let mut head = [0u8; 4];
    let head_len = read_up_to(&mut source, &mut head).map_err(|e| WalkError::Io {
        digest: digest.clone(),
        source: e,
    })?;
    if head_len == 0 {
        if declared != Compression::None {
            return Err(WalkError::Truncated {
                digest,
                detail: format!("the {} blob is empty", declared.name()),
            });
        }
    } else {
        let found = Compression::from_magic(&head[..head_len]);
        if found != declared {
            return Err(WalkError::CompressionMismatch {
                digest,
                declared: declared.name().to_string(),
                found: found.name().to_string(),
            });
        }
    }
    let stream = io::Cursor::new(head[..head_len].to_vec()).chain(source);
    let decoded: Box<dyn Read + '_> = match declared {
        Compression::None => Box::new(stream),
        Compression::Gzip => Box::new(DecodeTag(MultiGzDecoder::new(stream))),
        Compression::Zstd => Box::new(DecodeTag(
            zstd::stream::read::Decoder::new(stream).map_err(|e| {
                WalkError::CorruptCompression {
                    digest: digest.clone(),
                    compression: "zstd".to_string(),
                    detail: e.to_string(),
                }
            })?,
        )),
    };

    let counters = Rc::new(Counters::default());
    let counting = CountingReader {
        inner: decoded,
        counters: Rc::clone(&counters),
        max_layer_bytes: limits.max_layer_bytes,
        max_image_bytes: limits.max_image_bytes,
        image_before: *image_bytes_used,
        deadline: limits.deadline,
        next_deadline_check: DEADLINE_CHECK_BYTES,
    };
    let mut walk = Walk::new(&digest, limits);
    let mut archive = tar::Archive::new(counting);
    walk.counters = Some(Rc::clone(&counters));
    let outcome = walk.run(&mut archive).and_then(|()| {
        // Read to the end so the decompressor checks its trailer (CRC, size):
        // a stream truncated after the tar end marker is still an error.
        io::copy(&mut archive.into_inner(), &mut io::sink())
            .map(|_| ())
            .map_err(WalkFailure::from)
    });
    *image_bytes_used = image_bytes_used.saturating_add(counters.layer.get());
    match outcome {
        Ok(()) => Ok(walk.finish()),
        Err(error) => Err(classify(error, &counters, &digest, declared, limits)),
    }
}

/// Reads until `buf` is full or the reader ends; returns the bytes read.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Where an `io::Error` came from, attached as its payload on the way up.
#[derive(Debug, Clone)]
enum Fault {
    /// The blob reader failed.
    Source { kind: io::ErrorKind, detail: String },
    /// The decompressor rejected the stream.
    Decode { kind: io::ErrorKind, detail: String },
    /// A limit tripped; which one is in [`Counters::tripped`].
    Limit,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Source { detail, .. } | Fault::Decode { detail, .. } => f.write_str(detail),
            Fault::Limit => f.write_str("limit exceeded"),
        }
    }
}

impl std::error::Error for Fault {}

fn find_fault(error: &io::Error) -> Option<Fault> {
    let inner = error.get_ref()?;
    if let Some(fault) = inner.downcast_ref::<Fault>() {
        return Some(fault.clone());
    }
    let mut source = inner.source();
    while let Some(cause) = source {
        if let Some(fault) = cause.downcast_ref::<Fault>() {
            return Some(fault.clone());
        }
        if let Some(io_error) = cause.downcast_ref::<io::Error>() {
            return find_fault(io_error);
        }
        source = cause.source();
    }
    None
}

/// Tags errors of the blob reader.
struct SourceTag<R>(R);

impl<R: Read> Read for SourceTag<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            io::Error::new(
                e.kind(),
                Fault::Source {
                    kind: e.kind(),
                    detail: e.to_string(),
                },
            )
        })
    }
}

/// Tags errors of the decompressor (leaving source errors as they are).
struct DecodeTag<R>(R);

impl<R: Read> Read for DecodeTag<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            if find_fault(&e).is_some() {
                e
            } else {
                io::Error::new(
                    e.kind(),
                    Fault::Decode {
                        kind: e.kind(),
                        detail: e.to_string(),
                    },
                )
            }
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trip {
    Layer,
    Image,
    Deadline,
}

#[derive(Default)]
struct Counters {
    layer: Cell<u64>,
    tripped: Cell<Option<Trip>>,
}

/// Counts decompressed bytes and enforces the byte limits and the deadline.
struct CountingReader<R> {
    inner: R,
    counters: Rc<Counters>,
    max_layer_bytes: u64,
    max_image_bytes: u64,
    image_before: u64,
    deadline: Option<Instant>,
    next_deadline_check: u64,
}

impl<R> CountingReader<R> {
    fn trip(&self, trip: Trip) -> io::Error {
        self.counters.tripped.set(Some(trip));
        io::Error::other(Fault::Limit)
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.counters.tripped.get().is_some() {
            return Err(io::Error::other(Fault::Limit));
        }
        let n = self.inner.read(buf)?;
        let layer = self.counters.layer.get().saturating_add(n as u64);
        self.counters.layer.set(layer);
        if layer > self.max_layer_bytes {
            return Err(self.trip(Trip::Layer));
        }
        if self.image_before.saturating_add(layer) > self.max_image_bytes {
            return Err(self.trip(Trip::Image));
        }
        if layer >= self.next_deadline_check {
            self.next_deadline_check = layer.saturating_add(DEADLINE_CHECK_BYTES);
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(self.trip(Trip::Deadline));
            }
        }
        Ok(n)
    }
}

/// Turns an error of the walk into the most precise [`WalkError`].
fn classify(
    error: WalkFailure,
    counters: &Counters,
    digest: &str,
    declared: Compression,
    limits: &Limits,
) -> WalkError {
    let digest = digest.to_string();
    if let Some(trip) = counters.tripped.get() {
        return match trip {
            Trip::Layer => WalkError::LayerTooLarge {
                digest,
                limit: limits.max_layer_bytes,
            },
            Trip::Image => WalkError::ImageTooLarge {
                digest,
                limit: limits.max_image_bytes,
            },
            Trip::Deadline => WalkError::DeadlineExceeded { digest },
        };
    }
    let error = match error {
        WalkFailure::Walk(error) => return error,
        WalkFailure::Io(error) => error,
    };
    match find_fault(&error) {
        Some(Fault::Source { kind, detail }) => WalkError::Io {
            digest,
            source: io::Error::new(kind, detail),
        },
        Some(Fault::Decode {
            kind: io::ErrorKind::UnexpectedEof,
            detail,
        }) => WalkError::Truncated {
            digest,
            detail: format!("the {} stream ended early: {detail}", declared.name()),
        },
        Some(Fault::Decode { detail, .. }) => WalkError::CorruptCompression {
            digest,
            compression: declared.name().to_string(),
            detail,
        },
        Some(Fault::Limit) => WalkError::MalformedTar {
            digest,
            detail: "limit exceeded".to_string(),
        },
        // Running out of memory says nothing about the image: it is the
        // scan's resource limit (RLIMIT_AS in a scan job), not a bad archive.
        None if error.kind() == io::ErrorKind::OutOfMemory => WalkError::Io {
            digest,
            source: error,
        },
        None if error.kind() == io::ErrorKind::UnexpectedEof => WalkError::Truncated {
            digest,
            detail: format!("the tar stream ended early: {error}"),
        },
        None => WalkError::MalformedTar {
            digest,
            detail: error.to_string(),
        },
    }
}

/// An error inside the walk: either already precise, or an `io::Error` to
/// classify.
enum WalkFailure {
    Walk(WalkError),
    Io(io::Error),
}

impl From<io::Error> for WalkFailure {
    fn from(error: io::Error) -> Self {
        WalkFailure::Io(error)
    }
}

impl From<WalkError> for WalkFailure {
    fn from(error: WalkError) -> Self {
        WalkFailure::Walk(error)
    }
}

/// State of the walk over one layer.
struct Walk<'a> {
    digest: &'a str,
    limits: &'a Limits,
    analysis: LayerAnalysis,
    entries: u64,
    /// Paths of non-directory entries seen so far (hardlink targets).
    seen: HashSet<String>,
    /// Paths that already have results in `analysis.files`.
    produced: HashSet<String>,
    /// Link target → wanted link paths waiting for the target to stream by.
    pending: HashMap<String, Vec<String>>,
    /// Symlink path → resolved target, for following chains.
    symlinks: HashMap<String, String>,
    /// Decompressed bytes read so far (to tell a missing end marker from truncation).
    counters: Option<Rc<Counters>>,
    /// Stream offset where the last entry's data ends.
    last_data_end: u64,
}

impl<'a> Walk<'a> {
    fn new(digest: &'a str, limits: &'a Limits) -> Self {
        Self {
            digest,
            limits,
            analysis: LayerAnalysis {
                digest: digest.to_string(),
                files: Vec::new(),
                whiteouts: Vec::new(),
                opaque_dirs: Vec::new(),
                warnings: Vec::new(),
            },
            entries: 0,
            seen: HashSet::new(),
            produced: HashSet::new(),
            pending: HashMap::new(),
            symlinks: HashMap::new(),
            counters: None,
            last_data_end: 0,
        }
    }

    fn run<R: Read>(&mut self, archive: &mut tar::Archive<R>) -> Result<(), WalkFailure> {
        for entry in archive.entries()? {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) if self.ends_after_complete_entry(&error) => {
                    self.analysis.warnings.push(format!(
                        "layer {} ends without tar padding or end-of-archive marker after its last complete entry \
                         (the tool that wrote it did not close its tar stream); every entry was read whole",
                        self.digest
                    ));
                    return Ok(());
                }
                Err(error) => return Err(error.into()),
            };
            self.last_data_end = entry.raw_file_position().saturating_add(entry.size());
            self.entries += 1;
            if self.entries > self.limits.max_entries {
                return Err(WalkError::TooManyEntries {
                    digest: self.digest.to_string(),
                    limit: self.limits.max_entries,
                }
                .into());
            }
            if self.limits.deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(WalkError::DeadlineExceeded {
                    digest: self.digest.to_string(),
                }
                .into());
            }
            self.entry(entry)?;
        }
        Ok(())
    }

    /// Some writers (Debian's umoci 0.4.7, for one) never close their tar
    /// stream: the last entry's data is whole, but its padding and the two
    /// zero blocks are missing. The compressor's own trailer was verified, so
    /// the layer is intact; only a stream that ends *inside* an entry's data
    /// is truncated.
    fn ends_after_complete_entry(&self, error: &io::Error) -> bool {
        let read = self.counters.as_ref().map_or(0, |c| c.layer.get());
        find_fault(error).is_none()
            && error.to_string().contains("unexpected EOF")
            && self.entries > 0
            && read >= self.last_data_end
            && read < self.last_data_end + 512
    }

    fn entry<R: Read>(&mut self, entry: tar::Entry<'_, R>) -> Result<(), WalkFailure> {
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(path) = normalize_entry_path(&raw) else {
            self.warn(format!("entry {raw:?} escapes the image root; ignored"));
            return Ok(());
        };
        if path.is_empty() {
            return Ok(());
        }
        let name = file_name(&path);
        if name == ".wh..wh..opq" {
            self.analysis.opaque_dirs.push(parent(&path).to_string());
            return Ok(());
        }
        if let Some(hidden) = name.strip_prefix(".wh.") {
            let deleted = join(parent(&path), hidden);
            self.analysis.whiteouts.push(deleted);
            return Ok(());
        }
        match entry.header().entry_type() {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.regular(entry, path)
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                let mut resolved = resolve_in_root(parent(&path), &target);
                for _ in 0..8 {
                    match self.symlinks.get(&resolved) {
                        Some(next) => resolved = next.clone(),
                        None => break,
                    }
                }
                self.seen.insert(path.clone());
                self.symlinks.insert(path.clone(), resolved.clone());
                self.link(path, resolved);
                Ok(())
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                let Some(target) = normalize_entry_path(&target) else {
                    self.warn(format!(
                        "hardlink {path} points outside the image root ({target:?}); ignored"
                    ));
                    return Ok(());
                };
                if !self.seen.contains(&target) {
                    self.warn(format!(
                        "hardlink {path} points to missing target {target}; ignored"
                    ));
                    return Ok(());
                }
                self.seen.insert(path.clone());
                self.link(path, target);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn regular<R: Read>(
        &mut self,
        mut entry: tar::Entry<'_, R>,
        path: String,
    ) -> Result<(), WalkFailure> {
        let mode = entry.header().mode().unwrap_or(0o644);
        let size = entry.size();
        self.seen.insert(path.clone());
        self.symlinks.remove(&path);
        let mut wanting: Vec<&'static dyn Analyzer> = ALL
            .iter()
            .copied()
            .filter(|a| a.wants(&path, mode))
            .collect();
        let link_paths = self.pending.remove(&path).unwrap_or_default();
        if wanting.is_empty() && link_paths.is_empty() {
            return Ok(());
        }
        let mut head = [0u8; MAGIC_LEN];
        let head_len = read_up_to(&mut entry, &mut head)?;
        wanting.retain(|a| a.wants_content(&head[..head_len]));
        if wanting.is_empty() && link_paths.is_empty() {
            return Ok(());
        }
        if size > self.limits.max_file_bytes {
            return Err(WalkError::FileTooLarge {
                digest: self.digest.to_string(),
                path,
                size,
                limit: self.limits.max_file_bytes,
            }
            .into());
        }
        // A header may lie about the size: grow as data actually arrives.
        let mut bytes =
            Vec::with_capacity(usize::try_from(size.min(INITIAL_FILE_CAPACITY)).unwrap_or(0));
        bytes.extend_from_slice(&head[..head_len]);
        (&mut entry)
            .take(size.saturating_sub(head_len as u64))
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 != size {
            return Err(WalkError::Truncated {
                digest: self.digest.to_string(),
                detail: format!("file {path} has {} of its {size} bytes", bytes.len()),
            }
            .into());
        }
        if self.produced.contains(&path) {
            // The same path appears twice in one layer: the later entry wins.
            self.analysis.files.retain(|f| f.path != path);
        }
        for analyzer in wanting {
            self.run_analyzer(analyzer, &path, &bytes);
        }
        for link_path in link_paths {
            self.run_for_link(&link_path, &path, &bytes);
        }
        Ok(())
    }

    /// A symlink or hardlink at `path` to `target` (both inside the root).
    /// Analyzers that want the target's path read it there; the others that
    /// want the link path get the target's bytes when it streams by later in
    /// this layer. Targets earlier in the layer or in lower layers are not
    /// followed (the stream is read once), with a warning.
    fn link(&mut self, path: String, target: String) {
        let wanted = ALL
            .iter()
            .any(|a| a.wants(&path, LINK_MODE) && !a.wants(&target, LINK_MODE));
        if !wanted {
            return;
        }
        if self.seen.contains(&target) {
            // The target streamed by unread (no analyzer wanted its path) and
            // the layer is read once: say so rather than miss it silently.
            self.warn(format!(
                "link {path} -> {target}: the target was not kept in memory; not followed"
            ));
        } else {
            self.pending.entry(target).or_default().push(path);
        }
    }

    /// Runs, on the bytes of `target`, the analyzers that want the link path
    /// but not the target (those read the target at its own path already).
    fn run_for_link(&mut self, link_path: &str, target: &str, bytes: &[u8]) {
        for analyzer in ALL
            .iter()
            .copied()
            .filter(|a| a.wants(link_path, LINK_MODE) && !a.wants(target, LINK_MODE))
        {
            self.run_analyzer(analyzer, link_path, bytes);
        }
    }

    fn run_analyzer(&mut self, analyzer: &dyn Analyzer, path: &str, bytes: &[u8]) {
        let ctx = AnalyzeContext {
            layer_digest: self.digest,
            max_file_bytes: self.limits.max_file_bytes,
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| analyzer.analyze(path, bytes, &ctx)));
        let mut result = FileResult {
            path: path.to_string(),
            analyzer: analyzer.name().to_string(),
            packages: Vec::new(),
            os: None,
        };
        match outcome {
            Ok(Ok(output)) => {
                for warning in output.warnings {
                    self.warn(format!("{}: {path}: {warning}", analyzer.name()));
                }
                result.packages = output.packages;
                for package in &mut result.packages {
                    package.layer = self.digest.to_string();
                    if package.path.is_empty() {
                        package.path = path.to_string();
                    }
                }
                result.os = output.os;
            }
            Ok(Err(error)) => {
                self.warn(format!(
                    "analyzer {} could not read {path}: {error}",
                    analyzer.name()
                ));
            }
            Err(_) => {
                self.warn(format!("analyzer {} failed on {path}", analyzer.name()));
            }
        }
        self.produced.insert(path.to_string());
        self.analysis.files.push(result);
    }

    fn warn(&mut self, warning: String) {
        self.analysis.warnings.push(warning);
    }

    fn finish(mut self) -> LayerAnalysis {
        let mut unresolved: Vec<(String, String)> = self
            .pending
            .drain()
            .flat_map(|(target, links)| links.into_iter().map(move |l| (l, target.clone())))
            .collect();
        unresolved.sort();
        for (link, target) in unresolved {
            self.warn(format!(
                "link {link} -> {target}: the target is not in this layer; not followed"
            ));
        }
        self.analysis
    }
}
