//! Measures rendering a large gate report (not a test; see bench/reports.sh).
//!
//! `report_bench [ROUNDS] [REPORT_HTML] [PEER_HTML]` builds one image report
//! with 2,000 packages and 500 findings from deterministic synthetic data,
//! renders the five files of `REPORT_FILES` ROUNDS times (default 21) and
//! prints the median and minimum of `render_all` and of each writer, and each
//! file's size. It writes `report.html` to REPORT_HTML and, to PEER_HTML, the
//! same findings and packages as a plain static table with no script but a
//! one-line load marker: the peer `bench/reports.sh` opens in Chromium to
//! show what the page's script costs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use airlock_report::ReportContext;
use airlock_report::image::{
    IMAGE_REPORT_SCHEMA_VERSION, ImageReport, REPORT_FILES, ReportImage, ReportPolicy,
    ReportReason, ReportVerdict, render_all,
};
use airlock_scan_model::{
    Artifact, Finding, FindingPackage, Inventory, LayerInfo, OsInfo, Package, Platform,
    SCHEMA_VERSION, ScanReport, Severity, VulnerabilityData,
};

const PACKAGES: usize = 2_000;
const FINDINGS: usize = 500;

const ECOSYSTEMS: [(&str, &str, &str); 5] = [
    ("Debian:12", "deb/debian", "var/lib/dpkg/status"),
    ("PyPI", "pypi", "usr/lib/python3/dist-packages"),
    ("npm", "npm", "srv/app/package-lock.json"),
    ("Go", "golang", "usr/local/bin/server"),
    ("crates.io", "cargo", "srv/worker/Cargo.lock"),
];
const STEMS: [&str; 16] = [
    "openssl",
    "libxml2",
    "requests",
    "lodash",
    "express",
    "tokio",
    "serde",
    "zlib",
    "curl",
    "django",
    "jinja2",
    "minimist",
    "golang.org/x/net",
    "protobuf",
    "glibc",
    "sqlite",
];
const SUMMARIES: [&str; 8] = [
    "Heap-based buffer overflow when parsing crafted input",
    "Denial of service via deeply nested \"JSON\" documents",
    "Prototype pollution in merge & clone helpers",
    "Improper certificate validation allows <MITM> attacks",
    "Path traversal in archive extraction",
    "Use-after-free in connection pool teardown",
    "Regular expression denial of service (ReDoS) in header parsing",
    "Integer overflow leads to out-of-bounds write",
];
const VECTORS: [(f64, &str); 4] = [
    (9.8, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
    (7.5, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"),
    (5.3, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N"),
    (3.1, "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"),
];

/// A small deterministic generator (64-bit LCG), so every run renders the
/// same report.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % bound as u64) as usize
    }
}

fn layer_digest(index: usize) -> String {
    format!("sha256:{index:02x}{}", &"5e3a9c0f1b7d2e46".repeat(4)[2..])
}

fn synthetic_package(index: usize, random: &mut Lcg) -> Package {
    let (ecosystem, purl_type, path) = ECOSYSTEMS[index % ECOSYSTEMS.len()];
    let name = format!("{}-{index}", STEMS[random.next(STEMS.len())]);
    let version = format!("{}.{}.{}", random.next(5), random.next(30), random.next(20));
    Package {
        ecosystem: ecosystem.into(),
        purl: format!("pkg:{purl_type}/{name}@{version}"),
        name,
        version,
        source_name: None,
        source_version: None,
        licenses: vec!["MIT".into()],
        layer: layer_digest(index % 6),
        path: path.into(),
        application: false,
    }
}

fn synthetic_finding(index: usize, package: &Package, random: &mut Lcg) -> Finding {
    let severity = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Unknown,
    ][random.next(5)];
    let cvss = (severity != Severity::Unknown).then(|| VECTORS[random.next(VECTORS.len())]);
    Finding {
        id: format!(
            "GHSA-{:04x}-{:04x}-{:04x}",
            index * 7919 % 65_536,
            index * 104_729 % 65_536,
            index
        ),
        aliases: vec![format!("CVE-2024-{}", 10_000 + index)],
        package: FindingPackage {
            ecosystem: package.ecosystem.clone(),
            name: package.name.clone(),
            version: package.version.clone(),
        },
        fixed_versions: vec![format!("{}.99.0", random.next(5))],
        severity,
        cvss_score: cvss.map(|(score, _)| score),
        cvss_vector: cvss.map(|(_, vector)| vector.to_string()),
        summary: Some(SUMMARIES[random.next(SUMMARIES.len())].to_string()),
        references: vec![format!(
            "https://nvd.nist.gov/vuln/detail/CVE-2024-{}",
            10_000 + index
        )],
        published: Some("2024-03-01T12:00:00Z".into()),
        modified: Some("2024-09-01T12:00:00Z".into()),
    }
}

/// The synthetic report: one linux/amd64 platform, 2,000 packages, 500 findings.
fn synthetic_report() -> ImageReport {
    let mut random = Lcg(0x00a1_710c);
    let packages: Vec<Package> = (0..PACKAGES)
        .map(|i| synthetic_package(i, &mut random))
        .collect();
    let mut findings: Vec<Finding> = (0..FINDINGS)
        .map(|i| synthetic_finding(i, &packages[i * PACKAGES / FINDINGS], &mut random))
        .collect();
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    let mut counts = BTreeMap::new();
    for finding in &findings {
        *counts
            .entry(severity_name(finding.severity).to_string())
            .or_insert(0) += 1;
    }
    let mut inventory = Inventory {
        artifact: Artifact {
            reference: "unscanned/bench/monolith@sha256:abcd".into(),
            digest: format!("sha256:{}", "ab".repeat(32)),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            platform: Some(Platform {
                os: "linux".into(),
                architecture: "amd64".into(),
                variant: None,
            }),
        },
        os: Some(OsInfo {
            family: "debian".into(),
            version: "12".into(),
            ecosystem: "Debian:12".into(),
        }),
        layers: (0..6)
            .map(|i| LayerInfo {
                digest: layer_digest(i),
                size: 10_000_000 * (i as u64 + 1),
                created_by: Some(format!("RUN /bin/sh -c step-{i}")),
            })
            .collect(),
        packages,
    };
    inventory.normalize();
    ImageReport {
        schema_version: IMAGE_REPORT_SCHEMA_VERSION,
        scan_id: "0190f5a4-7d2e-7c3b-9a51-2f4e8d6c1b0a".into(),
        image: ReportImage {
            tenant: "bench".into(),
            repository: "unscanned/bench/monolith".into(),
            digest: format!("sha256:{}", "ab".repeat(32)),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            tags: vec!["1.0.0".into(), "latest".into()],
            pusher: Some("robot$bench+ci".into()),
            pushed_at: Some(time::macros::datetime!(2026-11-27 10:00:00 UTC)),
        },
        scanned_at: time::macros::datetime!(2026-11-27 10:00:05 UTC),
        verdict: ReportVerdict {
            passed: false,
            reasons: vec![ReportReason {
                rule: "block_severity_at_or_above".into(),
                message: format!(
                    "{} findings are critical or worse",
                    counts.get("critical").unwrap_or(&0)
                ),
            }],
            counts,
            excepted: Vec::new(),
        },
        policy: ReportPolicy {
            tenant: None,
            version: 0,
        },
        vulnerability_data_age_seconds: Some(5_400),
        platforms: vec![ScanReport {
            schema_version: SCHEMA_VERSION,
            inventory,
            findings,
            vulnerability_data: VulnerabilityData::Present,
            warnings: Vec::new(),
        }],
    }
}

fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
        Severity::Unknown => "unknown",
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The same findings and packages as a plain table: no script but the load
/// marker, no sorting, no filter.
fn peer_page(report: &ImageReport) -> String {
    let platform = &report.platforms[0];
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>peer</title></head><body>\n\
         <h1>Findings</h1>\n<table id=\"findings\"><thead><tr><th>ID</th><th>Package</th><th>Installed</th>\
         <th>Fixed in</th><th>Severity</th><th>CVSS</th><th>Summary</th></tr></thead><tbody>\n",
    );
    for f in &platform.findings {
        let _ = writeln!(
            out,
            "<tr><td><a href=\"https://osv.dev/vulnerability/{0}\">{0}</a></td><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td><td>{5}</td><td>{6}</td></tr>",
            escape(&f.id),
            escape(&f.package.name),
            escape(&f.package.version),
            escape(&f.fixed_versions.join(", ")),
            severity_name(f.severity),
            f.cvss_score.map(|s| format!("{s:.1}")).unwrap_or_default(),
            escape(f.summary.as_deref().unwrap_or("")),
        );
    }
    out.push_str("</tbody></table>\n<h1>Packages</h1>\n<table><thead><tr><th>Ecosystem</th><th>Name</th><th>Version</th><th>Package URL</th><th>Layer</th><th>Path</th></tr></thead><tbody>\n");
    for p in &platform.inventory.packages {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>/{}</td></tr>",
            escape(&p.ecosystem),
            escape(&p.name),
            escape(&p.version),
            escape(&p.purl),
            escape(&p.layer[..19]),
            escape(&p.path),
        );
    }
    out.push_str(
        "</tbody></table>\n<script>document.body.dataset.renderMs = String(performance.now());</script>\n</body></html>\n",
    );
    out
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(Ok(21), |n| n.parse())?.max(1);
    let report_html = args.next().map(PathBuf::from);
    let peer_html = args.next().map(PathBuf::from);

    let report = synthetic_report();
    let context = ReportContext::now();
    let mut all = Vec::with_capacity(rounds);
    let mut per_file = vec![Vec::with_capacity(rounds); REPORT_FILES.len()];
    for _ in 0..rounds {
        let started = Instant::now();
        let files = render_all(&report, &context)?;
        all.push(started.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(files);
        for (index, file) in REPORT_FILES.iter().enumerate() {
            let started = Instant::now();
            std::hint::black_box((file.write)(&report, &context)?);
            per_file[index].push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    println!(
        "input: {} packages, {} findings; {rounds} rounds",
        report.platforms[0].inventory.packages.len(),
        report.platforms[0].findings.len()
    );
    println!(
        "render_all median_ms={:.2} min_ms={:.2}",
        median(&mut all),
        min(&all)
    );
    let files = render_all(&report, &context)?;
    for ((file, text), times) in files.iter().zip(&mut per_file) {
        println!(
            "file {:<15} bytes={:>9} median_ms={:.2} min_ms={:.2}",
            file.name,
            text.len(),
            median(times),
            min(times)
        );
    }
    if let Some(path) = report_html {
        let (_, html) = files
            .iter()
            .find(|(file, _)| file.name == "report.html")
            .ok_or("no report.html")?;
        std::fs::write(&path, html)?;
    }
    if let Some(path) = peer_html {
        let peer = peer_page(&report);
        println!("file {:<15} bytes={:>9}", "peer.html", peer.len());
        std::fs::write(&path, peer)?;
    }
    Ok(())
}
