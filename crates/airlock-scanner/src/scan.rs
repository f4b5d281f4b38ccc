//! Orchestration: target → source → images → layers (cache or analyzer) →
//! reports. Each layer is streamed once, verified against its digest, and
//! analysed under the configured limits; the wall-time limit becomes the
//! analyzer's deadline.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use airlock_analyzer::{LayerAnalysis, Limits};
use airlock_scan_model::{Artifact, ScanReport};

use crate::cache::LayerCache;
use crate::error::ScanError;
use crate::inventory::build_report;
use crate::source::docker_archive::DockerArchiveSource;
use crate::source::oci_layout::OciLayoutSource;
use crate::source::registry::{RegistryOptions, RegistrySource};
use crate::source::{ImageSource, LayerDescriptor, ResolvedImage};
use crate::target::{PlatformFilter, Target};

/// Resource limits of one scan. Defaults are the analyzer's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanLimits {
    /// Decompressed bytes of one layer.
    pub max_layer_bytes: u64,
    /// Decompressed bytes of one image (per platform).
    pub max_image_bytes: u64,
    /// Largest file read into memory.
    pub max_file_bytes: u64,
    /// Tar entries of one layer.
    pub max_entries: u64,
    /// Wall time of the whole scan.
    pub timeout: Option<Duration>,
}

impl Default for ScanLimits {
    fn default() -> Self {
        let limits = Limits::default();
        ScanLimits {
            max_layer_bytes: limits.max_layer_bytes,
            max_image_bytes: limits.max_image_bytes,
            max_file_bytes: limits.max_file_bytes,
            max_entries: limits.max_entries,
            timeout: None,
        }
    }
}

impl ScanLimits {
    fn to_limits(&self, started: Instant) -> Limits {
        Limits {
            max_layer_bytes: self.max_layer_bytes,
            max_image_bytes: self.max_image_bytes,
            max_file_bytes: self.max_file_bytes,
            max_entries: self.max_entries,
            deadline: self.timeout.map(|timeout| started + timeout),
        }
    }
}

/// Observes a scan (the CLI draws a progress bar). Every method defaults to nothing.
pub trait ScanProgress: Send + Sync {
    /// A layer is about to be read; `remote` when it comes over the network.
    fn layer_started(&self, _digest: &str, _size: u64, _remote: bool) {}
    /// `bytes` more of the current layer's blob were read.
    fn layer_bytes(&self, _bytes: u64) {}
    /// The layer is done; `cached` when it was not read at all.
    fn layer_finished(&self, _digest: &str, _cached: bool) {}
}

/// How to scan.
#[derive(Clone, Default)]
pub struct ScanOptions {
    /// For an index: scan only this platform (default: every platform).
    pub platform: Option<PlatformFilter>,
    /// Resource limits.
    pub limits: ScanLimits,
    /// Per-layer cache; `None` analyses every layer.
    pub cache: Option<LayerCache>,
    /// How to reach registries.
    pub registry: RegistryOptions,
    /// Progress observer.
    pub progress: Option<Arc<dyn ScanProgress>>,
}

/// How much work a scan did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Layers streamed and analysed.
    pub layers_analyzed: usize,
    /// Layers taken from the cache (or from an earlier platform of the same scan).
    pub layers_cached: usize,
}

/// Reports plus statistics.
#[derive(Debug, Clone)]
pub struct ScanOutcome {
    /// One report per scanned platform image.
    pub reports: Vec<ScanReport>,
    /// What it took.
    pub stats: ScanStats,
}

/// Scans `target`: one report per platform image.
pub fn scan(target: &Target, options: &ScanOptions) -> Result<Vec<ScanReport>, ScanError> {
    scan_with_stats(target, options).map(|outcome| outcome.reports)
}

/// Scans `target` and says how many layers were analysed and how many cached.
pub fn scan_with_stats(target: &Target, options: &ScanOptions) -> Result<ScanOutcome, ScanError> {
    let source = open_source(target, options)?;
    scan_source(source.as_ref(), &target.to_string(), options)
}

/// The source a target names.
pub fn open_source(
    target: &Target,
    options: &ScanOptions,
) -> Result<Box<dyn ImageSource>, ScanError> {
    let reference = target.to_string();
    Ok(match target {
        Target::OciLayout { dir, tag } => {
            Box::new(OciLayoutSource::new(dir.clone(), tag.clone(), reference))
        }
        Target::DockerArchive { path } => {
            Box::new(DockerArchiveSource::open(path.clone(), reference)?)
        }
        Target::Registry(image) => {
            let mut registry = options.registry.clone();
            registry.timeout = registry.timeout.or(options.limits.timeout);
            Box::new(RegistrySource::new(image.clone(), reference, &registry)?)
        }
    })
}

/// Scans whatever `source` resolves to; `reference` is recorded in each artifact.
pub fn scan_source(
    source: &dyn ImageSource,
    reference: &str,
    options: &ScanOptions,
) -> Result<ScanOutcome, ScanError> {
    let limits = options.limits.to_limits(Instant::now());
    let images = source.resolve(options.platform.as_ref())?;
    let mut stats = ScanStats::default();
    let mut this_scan: HashMap<String, LayerAnalysis> = HashMap::new();
    let mut reports = Vec::with_capacity(images.len());
    for image in images {
        let mut image_bytes_used = 0;
        let mut analyses = Vec::with_capacity(image.layers.len());
        for layer in &image.layers {
            let cached = this_scan
                .get(&layer.digest)
                .cloned()
                .or_else(|| options.cache.as_ref()?.get(&layer.digest));
            let analysis = match cached {
                Some(analysis) => {
                    stats.layers_cached += 1;
                    if let Some(progress) = &options.progress {
                        progress.layer_finished(&layer.digest, true);
                    }
                    analysis
                }
                None => {
                    let analysis = analyze(source, layer, &limits, &mut image_bytes_used, options)?;
                    stats.layers_analyzed += 1;
                    if let Some(cache) = &options.cache {
                        // A cache that cannot be written only costs speed next time.
                        let _ = cache.put(&analysis);
                    }
                    analysis
                }
            };
            this_scan.insert(layer.digest.clone(), analysis.clone());
            analyses.push(analysis);
        }
        reports.push(report_for(reference, &image, &analyses));
    }
    Ok(ScanOutcome { reports, stats })
}

fn report_for(reference: &str, image: &ResolvedImage, analyses: &[LayerAnalysis]) -> ScanReport {
    let artifact = Artifact {
        reference: reference.to_string(),
        digest: image.digest.clone(),
        media_type: image.media_type.clone(),
        platform: image.platform.clone(),
    };
    build_report(artifact, &image.config, &image.layers, analyses)
}

/// Streams one layer through the analyzer, then drains it so its digest is checked.
fn analyze(
    source: &dyn ImageSource,
    layer: &LayerDescriptor,
    limits: &Limits,
    image_bytes_used: &mut u64,
    options: &ScanOptions,
) -> Result<LayerAnalysis, ScanError> {
    let layer_error = |source| ScanError::Layer {
        digest: layer.digest.clone(),
        source,
    };
    let mut stream = source.open_layer(layer).map_err(layer_error)?;
    if let Some(progress) = &options.progress {
        progress.layer_started(&layer.digest, layer.size, source.is_remote());
        let progress = Arc::clone(progress);
        stream = stream.with_progress(Box::new(move |bytes| progress.layer_bytes(bytes)));
    }
    let result = airlock_analyzer::analyze_layer(
        &mut stream,
        &layer.media_type,
        &layer.digest,
        limits,
        image_bytes_used,
    );
    if let Some(mismatch) = stream.take_mismatch() {
        return Err(layer_error(mismatch));
    }
    let analysis = result?;
    stream.finish().map_err(layer_error)?;
    if let Some(progress) = &options.progress {
        progress.layer_finished(&layer.digest, false);
    }
    Ok(analysis)
}
