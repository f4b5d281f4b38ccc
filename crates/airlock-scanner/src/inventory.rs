//! The pure last step of a scan: layer analyses plus the image's config
//! become a [`ScanReport`]. No I/O, so the gate can build a report from
//! analyses it already has (cached or stored) without a source.

use airlock_analyzer::LayerAnalysis;
use airlock_scan_model::{
    Artifact, Inventory, LayerInfo, SCHEMA_VERSION, ScanReport, VulnerabilityData,
};

use crate::oci::ImageConfig;
use crate::source::LayerDescriptor;

/// Builds the inventory-only report of one image.
///
/// `analyses` must be in layer order (the same order as `layers`). Layers get
/// their `created_by` from the config's history entries that produced a layer
/// (`empty_layer` entries are skipped). Packages are sorted; warnings from
/// every layer are kept.
pub fn build_report(
    artifact: Artifact,
    config: &ImageConfig,
    layers: &[LayerDescriptor],
    analyses: &[LayerAnalysis],
) -> ScanReport {
    let (os, packages) = airlock_analyzer::merge_layers(analyses);
    let mut created_by = config
        .history
        .iter()
        .filter(|entry| !entry.empty_layer)
        .map(|entry| entry.created_by.clone());
    let layers = layers
        .iter()
        .map(|layer| LayerInfo {
            digest: layer.digest.clone(),
            size: layer.size,
            created_by: created_by
                .next()
                .flatten()
                .filter(|command| !command.is_empty()),
        })
        .collect();
    let mut inventory = Inventory {
        artifact,
        os,
        layers,
        packages,
    };
    inventory.normalize();
    let mut warnings: Vec<String> = analyses
        .iter()
        .flat_map(|analysis| analysis.warnings.iter().cloned())
        .collect();
    warnings.dedup();
    ScanReport {
        schema_version: SCHEMA_VERSION,
        inventory,
        findings: Vec::new(),
        vulnerability_data: VulnerabilityData::Skipped,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::History;

    #[test]
    fn created_by_skips_empty_layer_history() {
        let config = ImageConfig {
            history: vec![
                History {
                    created_by: Some("ADD rootfs /".into()),
                    empty_layer: false,
                },
                History {
                    created_by: Some("ENV A=b".into()),
                    empty_layer: true,
                },
                History {
                    created_by: Some("RUN apt-get install".into()),
                    empty_layer: false,
                },
            ],
            ..ImageConfig::default()
        };
        let layers: Vec<LayerDescriptor> = ["sha256:01", "sha256:02", "sha256:03"]
            .iter()
            .map(|digest| LayerDescriptor {
                digest: digest.to_string(),
                media_type: String::new(),
                size: 1,
                locator: None,
            })
            .collect();
        let artifact = Artifact {
            reference: "r".into(),
            digest: "d".into(),
            media_type: "m".into(),
            platform: None,
        };
        let report = build_report(artifact, &config, &layers, &[]);
        let created: Vec<Option<&str>> = report
            .inventory
            .layers
            .iter()
            .map(|l| l.created_by.as_deref())
            .collect();
        assert_eq!(
            created,
            [Some("ADD rootfs /"), Some("RUN apt-get install"), None]
        );
        assert_eq!(report.vulnerability_data, VulnerabilityData::Skipped);
    }
}
