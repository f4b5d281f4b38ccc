//! Golden files and validity checks for every report writer, on one fixture
//! report with dpkg, Python and npm packages.

use std::collections::HashSet;

use airlock_report::{Format, ReportContext};
use airlock_scan_model::{
    Artifact, Finding, FindingPackage, Inventory, LayerInfo, OsInfo, Package, Platform,
    SCHEMA_VERSION, ScanReport, Severity, VulnerabilityData,
};
use serde_json::Value;

const BASE_LAYER: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const APP_LAYER: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn package(
    ecosystem: &str,
    name: &str,
    version: &str,
    purl: &str,
    layer: &str,
    path: &str,
) -> Package {
    Package {
        ecosystem: ecosystem.into(),
        name: name.into(),
        version: version.into(),
        source_name: None,
        source_version: None,
        purl: purl.into(),
        licenses: Vec::new(),
        layer: layer.into(),
        path: path.into(),
        application: false,
    }
}

fn fixture_report(digest: &str, architecture: &str) -> ScanReport {
    let mut libc = package(
        "Debian:12",
        "libc6",
        "2.36-9+deb12u4",
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12",
        BASE_LAYER,
        "var/lib/dpkg/status",
    );
    libc.source_name = Some("glibc".into());
    libc.source_version = Some("2.36-9+deb12u4".into());
    let mut requests = package(
        "PyPI",
        "requests",
        "2.31.0",
        "pkg:pypi/requests@2.31.0",
        APP_LAYER,
        "usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA",
    );
    requests.licenses = vec!["Apache-2.0".into()];
    let mut six = package(
        "PyPI",
        "six",
        "1.16.0",
        "pkg:pypi/six@1.16.0",
        APP_LAYER,
        "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
    );
    six.licenses = vec!["MIT License".into()];
    let mut lodash = package(
        "npm",
        "lodash",
        "4.17.20",
        "pkg:npm/lodash@4.17.20",
        APP_LAYER,
        "app/node_modules/lodash/package.json",
    );
    lodash.licenses = vec!["MIT".into()];
    let mut scoped = package(
        "npm",
        "@babel/core",
        "7.22.0",
        "pkg:npm/%40babel/core@7.22.0",
        APP_LAYER,
        "app/node_modules/@babel/core/package.json",
    );
    scoped.licenses = vec!["MIT OR Apache-2.0".into()];
    let mut inventory = Inventory {
        artifact: Artifact {
            reference: "oci:fixture:latest".into(),
            digest: digest.into(),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            platform: Some(Platform {
                os: "linux".into(),
                architecture: architecture.into(),
                variant: None,
            }),
        },
        os: Some(OsInfo {
            family: "debian".into(),
            version: "12".into(),
            ecosystem: "Debian:12".into(),
        }),
        layers: vec![
            LayerInfo {
                digest: BASE_LAYER.into(),
                size: 1234,
                created_by: Some("/bin/sh -c #(nop) ADD rootfs /".into()),
            },
            LayerInfo {
                digest: APP_LAYER.into(),
                size: 567,
                created_by: None,
            },
        ],
        packages: vec![
            libc,
            package(
                "Debian:12",
                "base-files",
                "12.4+deb12u5",
                "pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64&distro=debian-12",
                BASE_LAYER,
                "var/lib/dpkg/status",
            ),
            requests,
            six,
            lodash,
            scoped,
        ],
    };
    inventory.normalize();
    ScanReport {
        schema_version: SCHEMA_VERSION,
        inventory,
        findings: Vec::new(),
        vulnerability_data: VulnerabilityData::Skipped,
        warnings: Vec::new(),
    }
}

fn single() -> Vec<ScanReport> {
    vec![fixture_report(
        "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "amd64",
    )]
}

fn multi() -> Vec<ScanReport> {
    vec![
        fixture_report(
            "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "amd64",
        ),
        fixture_report(
            "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
            "arm64",
        ),
    ]
}

fn context() -> ReportContext {
    ReportContext::fixed(
        time::macros::datetime!(2024-05-06 07:08:09 UTC),
        uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
    )
}

fn render(format: Format, reports: &[ScanReport]) -> String {
    format.write(reports, &context()).expect("report renders")
}

fn render_json(format: Format, reports: &[ScanReport]) -> Value {
    serde_json::from_str(&render(format, reports)).expect("output is JSON")
}

#[test]
fn json_single_platform_golden() {
    let value = render_json(Format::Json, &single());
    assert_eq!(value["schema_version"], 1);
    insta::assert_json_snapshot!("json_single", value);
}

#[test]
fn json_several_platforms_wraps_reports() {
    let value = render_json(Format::Json, &multi());
    assert_eq!(value["schema_version"], 1);
    let reports = value["reports"].as_array().expect("reports array");
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[1]["artifact"]["platform"]["architecture"], "arm64");
    let parsed: ScanReport =
        serde_json::from_value(reports[0].clone()).expect("report parses back");
    assert_eq!(parsed, multi()[0]);
}

#[test]
fn json_round_trips_to_the_model() {
    let parsed: ScanReport = serde_json::from_str(&render(Format::Json, &single())).unwrap();
    assert_eq!(parsed, single()[0]);
}

#[test]
fn writers_are_deterministic() {
    for format in [Format::Json, Format::Table, Format::CycloneDx, Format::Spdx] {
        assert_eq!(
            render(format, &multi()),
            render(format, &multi()),
            "{format}"
        );
    }
}

#[test]
fn empty_input_is_an_error() {
    for format in [Format::Json, Format::Table, Format::CycloneDx, Format::Spdx] {
        assert!(format.write(&[], &context()).is_err(), "{format}");
    }
}

#[test]
fn table_golden() {
    insta::assert_snapshot!("table_single", render(Format::Table, &single()));
}

#[test]
fn table_lists_findings_when_matched() {
    let mut reports = single();
    reports[0].vulnerability_data = VulnerabilityData::Present;
    reports[0].findings.push(Finding {
        id: "GHSA-jf85-cpcp-j695".into(),
        aliases: vec!["CVE-2020-8203".into()],
        package: FindingPackage {
            ecosystem: "npm".into(),
            name: "lodash".into(),
            version: "4.17.20".into(),
        },
        fixed_versions: vec!["4.17.21".into()],
        severity: Severity::High,
        cvss_score: Some(7.4),
        cvss_vector: None,
        summary: None,
        references: Vec::new(),
        published: None,
        modified: None,
    });
    let text = render(Format::Table, &reports);
    let line = text
        .lines()
        .find(|line| line.contains("GHSA-jf85-cpcp-j695"))
        .expect("finding row");
    assert!(
        line.contains("high") && line.contains("lodash") && line.contains("4.17.21"),
        "{line}"
    );
}

fn cyclonedx_is_valid(text: &str) {
    use cyclonedx_bom::prelude::{Bom, Validate};
    let bom = Bom::parse_from_json_v1_5(text.as_bytes()).expect("CycloneDX 1.5 parses");
    let result = bom.validate();
    assert!(result.passed(), "CycloneDX validation failed: {result:?}");
}

#[test]
fn cyclonedx_golden_and_valid() {
    let text = render(Format::CycloneDx, &single());
    cyclonedx_is_valid(&text);
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["specVersion"], "1.5");
    assert_eq!(
        value["components"].as_array().unwrap().len(),
        7,
        "os + 6 packages"
    );
    insta::assert_json_snapshot!("cyclonedx_single", value, {
        ".serialNumber" => "[serial]",
        ".metadata.timestamp" => "[timestamp]",
        ".metadata.tools.components[].version" => "[version]",
    });
}

#[test]
fn cyclonedx_several_platforms_is_valid() {
    let text = render(Format::CycloneDx, &multi());
    cyclonedx_is_valid(&text);
    let value: Value = serde_json::from_str(&text).unwrap();
    let images = value["components"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    assert_eq!(images[1]["components"].as_array().unwrap().len(), 7);
}

#[test]
fn cyclonedx_validation_can_fail() {
    // Guards the validity tests above: a broken document must not pass.
    let text = render(Format::CycloneDx, &single())
        .replace("\"id\": \"MIT\"", "\"id\": \"Not-A-License\"");
    use cyclonedx_bom::prelude::{Bom, Validate};
    let bom = Bom::parse_from_json_v1_5(text.as_bytes()).unwrap();
    assert!(!bom.validate().passed());
}

/// Structural SPDX 2.3 checks: typed parse, required fields, unique ids and
/// relationships that only reference existing elements.
fn spdx_is_valid(text: &str) -> Value {
    let typed: serde_spdx::spdx::v_2_3::Spdx =
        serde_json::from_str(text).expect("typed SPDX 2.3 parses");
    assert_eq!(typed.spdx_version, "SPDX-2.3");
    assert_eq!(typed.data_license, "CC0-1.0");
    assert_eq!(typed.spdxid, "SPDXRef-DOCUMENT");
    assert!(!typed.creation_info.creators.is_empty());

    let value: Value = serde_json::from_str(text).unwrap();
    let namespace = value["documentNamespace"].as_str().unwrap();
    assert!(
        namespace.starts_with("https://") && !namespace.contains('#'),
        "{namespace}"
    );
    let mut ids = HashSet::from(["SPDXRef-DOCUMENT".to_string()]);
    let id_pattern = |id: &str| {
        id.strip_prefix("SPDXRef-").is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        })
    };
    for package in value["packages"].as_array().unwrap() {
        let id = package["SPDXID"].as_str().unwrap();
        assert!(id_pattern(id), "bad SPDXID {id}");
        assert!(ids.insert(id.to_string()), "duplicate SPDXID {id}");
        for field in [
            "name",
            "downloadLocation",
            "licenseConcluded",
            "licenseDeclared",
        ] {
            assert!(package[field].is_string(), "{id} lacks {field}");
        }
    }
    let relationships = value["relationships"].as_array().unwrap();
    assert!(
        relationships
            .iter()
            .any(|r| r["relationshipType"] == "DESCRIBES")
    );
    for relationship in relationships {
        for end in ["spdxElementId", "relatedSpdxElement"] {
            let id = relationship[end].as_str().unwrap();
            assert!(
                ids.contains(id),
                "relationship references unknown element {id}"
            );
        }
    }
    value
}

#[test]
fn spdx_golden_and_valid() {
    let value = spdx_is_valid(&render(Format::Spdx, &single()));
    let packages = value["packages"].as_array().unwrap();
    let six = packages.iter().find(|p| p["name"] == "six").unwrap();
    assert_eq!(
        six["licenseDeclared"], "NOASSERTION",
        "a non-SPDX licence is not asserted"
    );
    let babel = packages
        .iter()
        .find(|p| p["name"] == "@babel/core")
        .unwrap();
    assert_eq!(babel["licenseDeclared"], "MIT OR Apache-2.0");
    insta::assert_json_snapshot!("spdx_single", value, {
        ".documentNamespace" => "[namespace]",
        ".creationInfo.created" => "[timestamp]",
        ".creationInfo.creators[]" => "[creator]",
    });
}

#[test]
fn spdx_several_platforms_is_valid() {
    let value = spdx_is_valid(&render(Format::Spdx, &multi()));
    let describes = value["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["relationshipType"] == "DESCRIBES")
        .count();
    assert_eq!(describes, 2);
}
