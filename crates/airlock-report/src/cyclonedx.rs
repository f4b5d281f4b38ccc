//! CycloneDX 1.5 JSON: the SBOM format most security tooling ingests.
//!
//! One document per scan. A single-platform image is the BOM's
//! `metadata.component` (type `container`) and its packages are the top-level
//! `components`. Several platforms nest: `metadata.component` names the index
//! and each platform image is a `container` component holding its packages.
//! Where a package came from (layer, path, ecosystem, source package) is kept in
//! `airlock:*` properties; `dependencies` links every image to what it contains.

use std::collections::BTreeSet;

use airlock_scan_model::{Package, ScanReport};
use serde_json::{Value, json};

use crate::licenses::{DeclaredLicense, classify, spdx_expression};
use crate::{ReportContext, ReportError, to_pretty_json};

/// Renders `reports` as one CycloneDX 1.5 JSON document.
pub fn write(reports: &[ScanReport], context: &ReportContext) -> Result<String, ReportError> {
    let first = reports.first().ok_or(ReportError::Empty)?;
    let mut refs = RefAllocator::default();
    let mut dependencies = Vec::new();

    let (root, components) = if let [report] = reports {
        let image_ref = refs.allocate(&report.inventory.artifact.digest);
        let components = image_contents(report, "", &image_ref, &mut refs, &mut dependencies);
        (image_component(report, &image_ref), components)
    } else {
        let index_ref = refs.allocate(&format!("index:{}", first.inventory.artifact.reference));
        let mut images = Vec::new();
        let mut image_refs = Vec::new();
        for report in reports {
            let image_ref = refs.allocate(&report.inventory.artifact.digest);
            let prefix = format!("{}/", report.inventory.artifact.digest);
            let contents =
                image_contents(report, &prefix, &image_ref, &mut refs, &mut dependencies);
            let mut image = image_component(report, &image_ref);
            image["components"] = Value::Array(contents);
            images.push(image);
            image_refs.push(image_ref);
        }
        dependencies.insert(0, json!({ "ref": index_ref, "dependsOn": image_refs }));
        let root = json!({
            "bom-ref": index_ref,
            "type": "container",
            "name": first.inventory.artifact.reference,
            "description": format!("image index, {} platforms", reports.len()),
        });
        (root, images)
    };

    let document = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{}", context.document_id),
        "version": 1,
        "metadata": {
            "timestamp": context.timestamp_rfc3339(),
            "tools": {
                "components": [{
                    "type": "application",
                    "name": context.tool_name,
                    "version": context.tool_version,
                }],
            },
            "component": root,
        },
        "components": components,
        "dependencies": dependencies,
    });
    to_pretty_json("cyclonedx", &document)
}

/// The `container` component describing one platform image.
fn image_component(report: &ScanReport, bom_ref: &str) -> Value {
    let artifact = &report.inventory.artifact;
    let mut properties = vec![
        property("airlock:image:digest", &artifact.digest),
        property("airlock:image:media_type", &artifact.media_type),
    ];
    if let Some(platform) = &artifact.platform {
        let mut text = format!("{}/{}", platform.os, platform.architecture);
        if let Some(variant) = &platform.variant {
            text.push('/');
            text.push_str(variant);
        }
        properties.push(property("airlock:image:platform", &text));
    }
    for layer in &report.inventory.layers {
        properties.push(property("airlock:image:layer", &layer.digest));
    }
    json!({
        "bom-ref": bom_ref,
        "type": "container",
        "name": artifact.reference,
        "version": artifact.digest,
        "properties": properties,
    })
}

/// The OS and package components of one image; records the image's dependencies.
fn image_contents(
    report: &ScanReport,
    prefix: &str,
    image_ref: &str,
    refs: &mut RefAllocator,
    dependencies: &mut Vec<Value>,
) -> Vec<Value> {
    let mut components = Vec::new();
    let mut contained = Vec::new();
    if let Some(os) = &report.inventory.os {
        let os_ref = refs.allocate(&format!("{prefix}os:{}", os.ecosystem));
        components.push(json!({
            "bom-ref": os_ref,
            "type": "operating-system",
            "name": os.family,
            "version": os.version,
            "properties": [property("airlock:ecosystem", &os.ecosystem)],
        }));
        contained.push(os_ref);
    }
    for package in &report.inventory.packages {
        let package_ref = refs.allocate(&format!("{prefix}{}#{}", package.purl, package.path));
        components.push(package_component(package, &package_ref));
        contained.push(package_ref);
    }
    dependencies.push(json!({ "ref": image_ref, "dependsOn": contained }));
    components
}

fn package_component(package: &Package, bom_ref: &str) -> Value {
    let mut properties = vec![
        property("airlock:ecosystem", &package.ecosystem),
        property("airlock:layer", &package.layer),
        property("airlock:path", &package.path),
    ];
    if let Some(source_name) = &package.source_name {
        properties.push(property("airlock:source_name", source_name));
    }
    if let Some(source_version) = &package.source_version {
        properties.push(property("airlock:source_version", source_version));
    }
    let mut component = json!({
        "bom-ref": bom_ref,
        "type": "library",
        "name": package.name,
        "version": package.version,
        "purl": package.purl,
    });
    if !package.licenses.is_empty() {
        component["licenses"] = licenses(&package.licenses);
    }
    component["properties"] = Value::Array(properties);
    component
}

/// CycloneDX 1.5 allows either licence objects or one single expression.
fn licenses(declared: &[String]) -> Value {
    let classified: Vec<DeclaredLicense> = declared.iter().map(|text| classify(text)).collect();
    if classified
        .iter()
        .any(|license| matches!(license, DeclaredLicense::Expression(_)))
        && let Some(expression) = spdx_expression(declared)
    {
        return json!([{ "expression": expression }]);
    }
    let objects: Vec<Value> = classified
        .into_iter()
        .map(|license| match license {
            DeclaredLicense::Id(id) => json!({ "license": { "id": id } }),
            DeclaredLicense::Expression(text) | DeclaredLicense::Name(text) => {
                json!({ "license": { "name": text } })
            }
        })
        .collect();
    Value::Array(objects)
}

fn property(name: &str, value: &str) -> Value {
    json!({ "name": name, "value": value })
}

/// Hands out `bom-ref`s that are unique within the document.
#[derive(Default)]
struct RefAllocator {
    used: BTreeSet<String>,
}

impl RefAllocator {
    fn allocate(&mut self, wanted: &str) -> String {
        let mut candidate = wanted.to_string();
        let mut counter = 1;
        while !self.used.insert(candidate.clone()) {
            counter += 1;
            candidate = format!("{wanted}#{counter}");
        }
        candidate
    }
}
