//! The testkit's fixture layers through the whole pipeline: each base image
//! is recognised with its osv.dev ecosystem and every language format in the
//! application layer yields its packages. These are the images the scanner's
//! golden tests are built from, so their inventory is pinned here.

use std::collections::BTreeMap;

use airlock_analyzer::{LayerAnalysis, Limits, analyze_layer, merge_layers};
use airlock_testkit::{LayerBuilder, fixtures};

fn analyze(layer: &LayerBuilder, digest: &str) -> LayerAnalysis {
    let mut used = 0;
    let analysis = analyze_layer(
        layer.gzip().as_slice(),
        "application/vnd.oci.image.layer.v1.tar+gzip",
        digest,
        &Limits::default(),
        &mut used,
    )
    .unwrap();
    assert!(
        analysis.warnings.is_empty(),
        "{digest}: {:?}",
        analysis.warnings
    );
    analysis
}

fn counts(layers: &[LayerAnalysis]) -> (String, BTreeMap<String, usize>) {
    let (os, packages) = merge_layers(layers);
    let mut counts = BTreeMap::new();
    for package in packages {
        *counts.entry(package.ecosystem).or_insert(0) += 1;
    }
    (os.map(|os| os.ecosystem).unwrap_or_default(), counts)
}

fn map(items: &[(&str, usize)]) -> BTreeMap<String, usize> {
    items.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn base_images_are_recognised_with_their_packages() {
    let debian = counts(&[analyze(&fixtures::debian_layer(), "sha256:debian")]);
    assert_eq!(debian, ("Debian:12".to_string(), map(&[("Debian:12", 5)])));
    let alpine = counts(&[analyze(&fixtures::alpine_layer(), "sha256:alpine")]);
    assert_eq!(
        alpine,
        ("Alpine:v3.19".to_string(), map(&[("Alpine:v3.19", 3)]))
    );
    let rocky = counts(&[analyze(&fixtures::rocky_layer(), "sha256:rocky")]);
    assert_eq!(
        rocky,
        ("Rocky Linux:9".to_string(), map(&[("Rocky Linux:9", 3)]))
    );
}

#[test]
fn the_application_layer_yields_every_language_ecosystem() {
    let layers = [
        analyze(&fixtures::debian_layer(), "sha256:debian"),
        analyze(&fixtures::application_layer(), "sha256:app"),
    ];
    let (os, found) = counts(&layers);
    assert_eq!(os, "Debian:12");
    assert_eq!(
        found,
        map(&[
            ("Debian:12", 5),
            // stdlib, main module, cobra, x/net (replaced)
            ("Go", 4),
            // jackson (twice: plain jar and nested), shop, log4j-core
            ("Maven", 4),
            ("NuGet", 2),
            ("Packagist", 3),
            ("PyPI", 2),
            ("RubyGems", 1),
            // Cargo.lock: itoa, serde and the application myapp; auditable: serde, rustls
            ("crates.io", 5),
            // @babel/core; lock v3: the application webapp, express, debug,
            // @types/node; yarn: 2; pnpm: 3
            ("npm", 10),
        ])
    );
}
