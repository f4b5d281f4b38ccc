//! SPDX 2.3 JSON: the SBOM format of the Linux Foundation, required by some
//! procurement rules.
//!
//! Each platform image is a package (`primaryPackagePurpose: CONTAINER`) the
//! document `DESCRIBES`; it `CONTAINS` its operating system and every package
//! found in it. Licences are declared as SPDX expressions when every declared
//! licence parses as SPDX, `NOASSERTION` otherwise; airlock concludes nothing.
//! SPDX ids are positional (`SPDXRef-Package-<n>`), stable because packages are
//! sorted.

use airlock_scan_model::{Package, ScanReport};
use serde_json::{Value, json};

use crate::licenses::spdx_expression;
use crate::{ReportContext, ReportError, to_pretty_json};

const NOASSERTION: &str = "NOASSERTION";

/// Renders `reports` as one SPDX 2.3 JSON document.
pub fn write(reports: &[ScanReport], context: &ReportContext) -> Result<String, ReportError> {
    let first = reports.first().ok_or(ReportError::Empty)?;
    let name = first.inventory.artifact.reference.clone();
    let mut packages = Vec::new();
    let mut relationships = Vec::new();
    let mut next_package = 1usize;

    for (index, report) in reports.iter().enumerate() {
        let image_id = if reports.len() == 1 {
            "SPDXRef-Image".to_string()
        } else {
            format!("SPDXRef-Image-{}", index + 1)
        };
        packages.push(image_package(report, &image_id));
        relationships.push(relationship("SPDXRef-DOCUMENT", "DESCRIBES", &image_id));

        if let Some(os) = &report.inventory.os {
            let os_id = format!("SPDXRef-OperatingSystem-{}", index + 1);
            packages.push(json!({
                "SPDXID": os_id,
                "name": os.family,
                "versionInfo": os.version,
                "downloadLocation": NOASSERTION,
                "filesAnalyzed": false,
                "licenseConcluded": NOASSERTION,
                "licenseDeclared": NOASSERTION,
                "copyrightText": NOASSERTION,
                "primaryPackagePurpose": "OPERATING-SYSTEM",
                "comment": format!("ecosystem {}", os.ecosystem),
            }));
            relationships.push(relationship(&image_id, "CONTAINS", &os_id));
        }
        for package in &report.inventory.packages {
            let package_id = format!("SPDXRef-Package-{next_package}");
            next_package += 1;
            packages.push(package_entry(package, &package_id));
            relationships.push(relationship(&image_id, "CONTAINS", &package_id));
        }
    }

    let document = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": format!(
            "https://spdx.org/spdxdocs/{}-{}",
            namespace_safe(&name),
            context.document_id
        ),
        "creationInfo": {
            "created": context.timestamp_rfc3339(),
            "creators": [format!("Tool: {}-{}", context.tool_name, context.tool_version)],
        },
        "packages": packages,
        "relationships": relationships,
    });
    to_pretty_json("spdx", &document)
}

fn image_package(report: &ScanReport, spdx_id: &str) -> Value {
    let artifact = &report.inventory.artifact;
    let mut package = json!({
        "SPDXID": spdx_id,
        "name": artifact.reference,
        "versionInfo": artifact.digest,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": false,
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": NOASSERTION,
        "copyrightText": NOASSERTION,
        "primaryPackagePurpose": "CONTAINER",
    });
    if let Some(hex) = artifact.digest.strip_prefix("sha256:") {
        package["checksums"] = json!([{ "algorithm": "SHA256", "checksumValue": hex }]);
    }
    if let Some(platform) = &artifact.platform {
        let mut text = format!("{}/{}", platform.os, platform.architecture);
        if let Some(variant) = &platform.variant {
            text.push('/');
            text.push_str(variant);
        }
        package["comment"] = json!(format!(
            "platform {text}; media type {}",
            artifact.media_type
        ));
    } else {
        package["comment"] = json!(format!("media type {}", artifact.media_type));
    }
    package
}

fn package_entry(package: &Package, spdx_id: &str) -> Value {
    let declared = spdx_expression(&package.licenses).unwrap_or_else(|| NOASSERTION.to_string());
    let mut entry = json!({
        "SPDXID": spdx_id,
        "name": package.name,
        "versionInfo": package.version,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": false,
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": declared,
        "copyrightText": NOASSERTION,
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": package.purl,
        }],
        "sourceInfo": format!("ecosystem {}, read from /{} in layer {}", package.ecosystem, package.path, package.layer),
    });
    if declared_is_unknown(&entry) && !package.licenses.is_empty() {
        entry["licenseComments"] = json!(format!("declared: {}", package.licenses.join("; ")));
    }
    if let Some(source_name) = &package.source_name {
        let source = match &package.source_version {
            Some(version) => format!("source package {source_name} {version}"),
            None => format!("source package {source_name}"),
        };
        entry["comment"] = json!(source);
    }
    entry
}

fn declared_is_unknown(entry: &Value) -> bool {
    entry["licenseDeclared"] == NOASSERTION
}

fn relationship(element: &str, kind: &str, related: &str) -> Value {
    json!({
        "spdxElementId": element,
        "relationshipType": kind,
        "relatedSpdxElement": related,
    })
}

/// Keeps a reference readable inside a URI path segment.
fn namespace_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect()
}
