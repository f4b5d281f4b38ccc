//! The five files of a gate scan (`render_all` over an [`ImageReport`]):
//! golden files for the four JSON documents, structural checks that hold
//! whatever the snapshots say, the HTML page read as text, and the page
//! loaded in headless Chromium to prove its script runs.
//!
//! The fixture is a rejected Debian 12 image pushed by a robot: three
//! findings of different severities (one with a CVSS vector, one without a
//! fix), a package whose name is a `<script>` tag, a summary full of quotes
//! and ampersands, and two failed rules. Its passing variant has no findings.
//!
//! The Chromium test needs `/usr/bin/chromium` (Debian's package): without
//! it the test fails when `CI` is set and is skipped loudly otherwise. With
//! `AIRLOCK_UPDATE_SCREENSHOT=1` it also rewrites `docs/report-screenshot.png`
//! from a larger fixture.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use airlock_report::ReportContext;
use airlock_report::image::{
    IMAGE_REPORT_SCHEMA_VERSION, ImageReport, ReportImage, ReportPolicy, ReportReason,
    ReportVerdict, render_all,
};
use airlock_scan_model::{
    Artifact, Finding, FindingPackage, Inventory, LayerInfo, OsInfo, Package, Platform,
    SCHEMA_VERSION, ScanReport, Severity, VulnerabilityData,
};
use serde_json::Value;

const BASE_LAYER: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";
const APP_LAYER: &str = "sha256:4444444444444444444444444444444444444444444444444444444444444444";
const IMAGE_DIGEST: &str =
    "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
const HOSTILE_NAME: &str = "<script>alert(1)</script>";
const HOSTILE_SUMMARY: &str = r#"Crafted "Accept" & 'Range' headers <b>crash</b> the parser"#;

fn package(ecosystem: &str, name: &str, version: &str, layer: &str, path: &str) -> Package {
    let purl_type = match ecosystem {
        "PyPI" => "pypi",
        "npm" => "npm",
        "crates.io" => "cargo",
        _ => "deb",
    };
    Package {
        ecosystem: ecosystem.into(),
        name: name.into(),
        version: version.into(),
        source_name: None,
        source_version: None,
        purl: format!("pkg:{purl_type}/{name}@{version}"),
        licenses: Vec::new(),
        layer: layer.into(),
        path: path.into(),
        application: false,
    }
}

struct FindingSpec<'a> {
    id: &'a str,
    package: &'a Package,
    severity: Severity,
    cvss: Option<(f64, &'a str)>,
    fixed: &'a [&'a str],
    summary: Option<&'a str>,
}

fn finding(spec: FindingSpec<'_>) -> Finding {
    Finding {
        id: spec.id.into(),
        aliases: Vec::new(),
        package: FindingPackage {
            ecosystem: spec.package.ecosystem.clone(),
            name: spec.package.name.clone(),
            version: spec.package.version.clone(),
        },
        fixed_versions: spec.fixed.iter().map(|v| v.to_string()).collect(),
        severity: spec.severity,
        cvss_score: spec.cvss.map(|(score, _)| score),
        cvss_vector: spec.cvss.map(|(_, vector)| vector.to_string()),
        summary: spec.summary.map(str::to_string),
        references: Vec::new(),
        published: None,
        modified: None,
    }
}

fn platform(packages: Vec<Package>, findings: Vec<Finding>) -> ScanReport {
    let mut inventory = Inventory {
        artifact: Artifact {
            reference: "unscanned/shop/api@sha256:cccc".into(),
            digest: IMAGE_DIGEST.into(),
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
        layers: vec![
            LayerInfo {
                digest: BASE_LAYER.into(),
                size: 29_000_000,
                created_by: Some("/bin/sh -c #(nop) ADD rootfs /".into()),
            },
            LayerInfo {
                digest: APP_LAYER.into(),
                size: 4_200_000,
                created_by: Some("COPY app /app".into()),
            },
        ],
        packages,
    };
    inventory.normalize();
    ScanReport {
        schema_version: SCHEMA_VERSION,
        inventory,
        findings,
        vulnerability_data: VulnerabilityData::Present,
        warnings: Vec::new(),
    }
}

fn counts(entries: [u64; 5]) -> BTreeMap<String, u64> {
    ["critical", "high", "medium", "low", "unknown"]
        .iter()
        .zip(entries)
        .map(|(name, count)| (name.to_string(), count))
        .collect()
}

fn image() -> ReportImage {
    ReportImage {
        tenant: "shop".into(),
        repository: "unscanned/shop/api".into(),
        digest: IMAGE_DIGEST.into(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        tags: vec!["1.4.2".into(), "latest".into()],
        pusher: Some("robot$shop+ci".into()),
        pushed_at: Some(time::macros::datetime!(2024-05-06 07:05:00 UTC)),
    }
}

/// The rejected image: three findings, a hostile package name and summary.
fn rejected_report() -> ImageReport {
    let openssl = package(
        "Debian:12",
        "libssl3",
        "3.0.11-1~deb12u1",
        BASE_LAYER,
        "var/lib/dpkg/status",
    );
    let django = package(
        "PyPI",
        "django",
        "2.2.0",
        APP_LAYER,
        "app/Django-2.2.dist-info/METADATA",
    );
    let mut hostile = package(
        "npm",
        HOSTILE_NAME,
        "1.0.0",
        APP_LAYER,
        "app/package-lock.json",
    );
    hostile.purl = "pkg:npm/%3Cscript%3Ealert%281%29%3C/script%3E@1.0.0".into();
    let findings = vec![
        finding(FindingSpec {
            id: "CVE-2019-19844",
            package: &django,
            severity: Severity::Critical,
            cvss: Some((9.8, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")),
            fixed: &["2.2.9", "3.0.1"],
            summary: Some("Django account hijack via password reset form"),
        }),
        finding(FindingSpec {
            id: "GHSA-hostile-0001",
            package: &hostile,
            severity: Severity::Medium,
            cvss: None,
            fixed: &["1.0.1"],
            summary: Some(HOSTILE_SUMMARY),
        }),
        finding(FindingSpec {
            id: "DSA-9999-1",
            package: &openssl,
            severity: Severity::Low,
            cvss: None,
            fixed: &[],
            summary: None,
        }),
    ];
    ImageReport {
        schema_version: IMAGE_REPORT_SCHEMA_VERSION,
        scan_id: "0190f5a4-7d2e-7c3b-9a51-2f4e8d6c1b0a".into(),
        image: image(),
        scanned_at: time::macros::datetime!(2024-05-06 07:08:09 UTC),
        verdict: ReportVerdict {
            passed: false,
            reasons: vec![
                ReportReason {
                    rule: "block_severity_at_or_above".into(),
                    message: "1 finding is critical or worse: CVE-2019-19844 in django 2.2.0 (fixed in 2.2.9)".into(),
                },
                ReportReason {
                    rule: "block_packages".into(),
                    message: format!("package {HOSTILE_NAME} is blocked by the policy"),
                },
            ],
            counts: counts([1, 0, 1, 1, 0]),
            excepted: Vec::new(),
        },
        policy: ReportPolicy {
            tenant: Some("shop".into()),
            version: 3,
        },
        vulnerability_data_age_seconds: Some(3 * 3600 + 25 * 60),
        platforms: vec![platform(vec![openssl, django, hostile], findings)],
    }
}

/// The same image without findings: the policy passes it.
fn passed_report() -> ImageReport {
    let mut report = rejected_report();
    report.verdict = ReportVerdict {
        passed: true,
        reasons: Vec::new(),
        counts: counts([0; 5]),
        excepted: Vec::new(),
    };
    report.policy = ReportPolicy {
        tenant: None,
        version: 0,
    };
    report.platforms[0].findings.clear();
    report
}

fn context() -> ReportContext {
    let mut context = ReportContext::fixed(
        time::macros::datetime!(2024-05-06 07:08:10 UTC),
        uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
    );
    context.tool_version = "0.0.0-golden".into();
    context
}

/// Every file of `report`, by name.
fn files(report: &ImageReport) -> BTreeMap<&'static str, String> {
    render_all(report, &context())
        .expect("every file renders")
        .into_iter()
        .map(|(file, text)| (file.name, text))
        .collect()
}

fn json_file(report: &ImageReport, name: &str) -> Value {
    serde_json::from_str(&files(report)[name]).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn html(report: &ImageReport) -> String {
    files(report).remove("report.html").expect("report.html")
}

// ------------------------------------------------------------ JSON goldens

#[test]
fn render_all_writes_the_five_files_in_table_order() {
    let names: Vec<&str> = render_all(&rejected_report(), &context())
        .unwrap()
        .iter()
        .map(|(file, _)| file.name)
        .collect();
    assert_eq!(
        names,
        [
            "report.json",
            "report.html",
            "report.sarif",
            "sbom.cdx.json",
            "sbom.spdx.json"
        ]
    );
}

#[test]
fn report_json_golden() {
    let value = json_file(&rejected_report(), "report.json");
    assert_eq!(value["schema_version"], IMAGE_REPORT_SCHEMA_VERSION);
    assert_eq!(value["verdict"]["passed"], false);
    let reasons = value["verdict"]["reasons"].as_array().expect("reasons");
    assert_eq!(reasons.len(), 2);
    assert_eq!(reasons[0]["rule"], "block_severity_at_or_above");
    assert!(reasons.iter().all(|r| r["message"].as_str().is_some()));
    insta::assert_json_snapshot!("report_json", value, {
        ".scan_id" => "[scan-id]",
        ".scanned_at" => "[time]",
        ".image.pushed_at" => "[time]",
    });
}

#[test]
fn report_json_of_a_passed_image_golden() {
    let value = json_file(&passed_report(), "report.json");
    assert_eq!(value["verdict"]["passed"], true);
    assert_eq!(value["verdict"]["reasons"], serde_json::json!([]));
    insta::assert_json_snapshot!("report_json_passed", value["verdict"]);
}

#[test]
fn report_json_round_trips_to_the_model() {
    for report in [rejected_report(), passed_report()] {
        let text = &files(&report)["report.json"];
        let parsed: ImageReport = serde_json::from_str(text).expect("report.json parses");
        assert_eq!(parsed, report);
    }
}

#[test]
fn report_sarif_golden() {
    let value = json_file(&rejected_report(), "report.sarif");
    assert_eq!(value["version"], "2.1.0");
    let results = value["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 3, "one result per finding");
    insta::assert_json_snapshot!("report_sarif", value, {
        ".runs[].tool.driver.version" => "[version]",
    });
}

#[test]
fn sbom_cyclonedx_golden() {
    let value = json_file(&rejected_report(), "sbom.cdx.json");
    assert_eq!(value["bomFormat"], "CycloneDX");
    assert_eq!(value["specVersion"], "1.5");
    let names: Vec<&str> = value["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(names.contains(&HOSTILE_NAME), "JSON keeps names verbatim");
    insta::assert_json_snapshot!("sbom_cdx", value, {
        ".serialNumber" => "[serial]",
        ".metadata.timestamp" => "[time]",
        ".metadata.tools.components[].version" => "[version]",
    });
}

#[test]
fn sbom_spdx_golden() {
    let value = json_file(&rejected_report(), "sbom.spdx.json");
    assert_eq!(value["spdxVersion"], "SPDX-2.3");
    assert!(
        value["packages"].as_array().expect("packages").len() >= 3,
        "image and its packages"
    );
    insta::assert_json_snapshot!("sbom_spdx", value, {
        ".documentNamespace" => "[namespace]",
        ".creationInfo.created" => "[time]",
        ".creationInfo.creators[]" => "[creator]",
    });
}

#[test]
fn every_file_is_deterministic() {
    assert_eq!(files(&rejected_report()), files(&rejected_report()));
}

// ------------------------------------------------------------ HTML as text

/// The text of the element with `id`, tags stripped.
fn element_text(page: &str, id: &str) -> String {
    let start = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element with id {id}"));
    let open_end = start + page[start..].find('>').expect("tag ends");
    let close = open_end + page[open_end..].find("</").expect("element closes");
    page[open_end + 1..close].trim().to_string()
}

/// The `<tbody>` of the findings table.
fn findings_body(page: &str) -> &str {
    let table = page.find("id=\"findings\"").expect("findings table");
    let start = table + page[table..].find("<tbody>").expect("tbody");
    let end = start + page[start..].find("</tbody>").expect("tbody ends");
    &page[start..end]
}

/// Finding rows in the table, and how many of them are hidden.
fn finding_rows(page: &str) -> (usize, usize) {
    let rows: Vec<&str> = findings_body(page).split("<tr").skip(1).collect();
    let hidden = rows
        .iter()
        .filter(|row| row[..row.find('>').unwrap_or(0)].contains(" hidden"))
        .count();
    (rows.len(), hidden)
}

#[test]
fn html_states_the_verdict_and_its_reasons() {
    let page = html(&rejected_report());
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<p id=\"verdict\" class=\"verdict rejected\">REJECTED</p>"));
    let reasons = element_text(&page, "reasons");
    assert!(page.contains("data-rule=\"block_severity_at_or_above\""));
    assert!(reasons.contains("block_severity_at_or_above"), "{reasons}");
    assert!(page.contains("1 finding is critical or worse: CVE-2019-19844"));

    let passed = html(&passed_report());
    assert!(passed.contains("<p id=\"verdict\" class=\"verdict passed\">PASSED</p>"));
    assert!(passed.contains("global, version 0"));
    assert_eq!(finding_rows(&passed), (0, 0));
}

#[test]
fn html_header_shows_the_image_and_the_scan() {
    let page = html(&rejected_report());
    for expected in [
        "unscanned/shop/api",
        IMAGE_DIGEST,
        "1.4.2, latest",
        "robot$shop+ci",
        "2024-05-06T07:05:00Z",
        "2024-05-06T07:08:09Z",
        "0190f5a4-7d2e-7c3b-9a51-2f4e8d6c1b0a",
        "tenant <code>shop</code>, version 3",
        "3 h 25 min",
    ] {
        assert!(page.contains(expected), "header lacks {expected}");
    }
}

#[test]
fn html_counts_come_from_the_verdict() {
    let page = html(&rejected_report());
    for (severity, count) in [
        ("critical", 1),
        ("high", 0),
        ("medium", 1),
        ("low", 1),
        ("unknown", 0),
    ] {
        let expected = format!(
            "<li data-severity=\"{severity}\"><span class=\"sev {severity}\">{severity}</span><b>{count}</b></li>"
        );
        assert!(page.contains(&expected), "counts lack {expected}");
    }
    assert!(page.contains("<ul id=\"counts\">"));
}

#[test]
fn html_has_one_row_per_finding_linked_to_osv() {
    let report = rejected_report();
    let page = html(&report);
    assert_eq!(finding_rows(&page), (3, 0));
    let body = findings_body(&page);
    for finding in &report.platforms[0].findings {
        let link = format!(
            "<a href=\"https://osv.dev/vulnerability/{0}\">{0}</a>",
            finding.id
        );
        assert!(body.contains(&link), "no link {link}");
    }
    assert!(
        body.contains("<td class=\"num\" data-key=\"9.8\""),
        "CVSS score"
    );
    assert!(
        body.contains("<code>2.2.9</code>, <code>3.0.1</code>"),
        "fixed versions"
    );
    assert!(
        !page.contains("<th scope=\"col\">Platform</th>"),
        "one platform"
    );
}

#[test]
fn html_escapes_hostile_names_and_summaries() {
    let page = html(&rejected_report());
    assert!(!page.contains(HOSTILE_NAME), "raw <script> from the feed");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains(
        "Crafted &quot;Accept&quot; &amp; &#39;Range&#39; headers &lt;b&gt;crash&lt;/b&gt; the parser"
    ));
    // The page's own script is the only one.
    assert_eq!(page.matches("<script").count(), 1);
    assert_eq!(page.matches("</script>").count(), 1);
}

#[test]
fn html_loads_nothing_from_elsewhere() {
    let page = html(&rejected_report());
    for forbidden in [
        "src=\"http",
        "src='http",
        "<link",
        "@import",
        "url(",
        "<iframe",
        "<img",
    ] {
        assert!(!page.contains(forbidden), "page contains {forbidden}");
    }
    // The only absolute links are advisories.
    for (index, _) in page.match_indices("href=\"") {
        let url = &page[index + 6..];
        assert!(
            url.starts_with("https://osv.dev/vulnerability/"),
            "unexpected link {}",
            &url[..url.find('"').unwrap_or(url.len())]
        );
    }
}

#[test]
fn html_prints_cleanly() {
    let page = html(&rejected_report());
    assert!(page.contains("@media print"));
    let print = &page[page.find("@media print").unwrap()..];
    assert!(
        print.contains("#controls{display:none"),
        "controls hidden in print"
    );
    assert!(print.contains("break-inside:avoid"), "rows not split");
}

#[test]
fn html_lists_packages_and_layers_per_platform() {
    let page = html(&rejected_report());
    let packages = &page[page.find("id=\"packages\"").expect("packages")..];
    assert!(packages.contains("<h3>linux/amd64 (3 packages)</h3>"));
    assert!(packages.contains("pkg:pypi/django@2.2.0"));
    assert!(
        packages.contains("<code title=\"sha256:4444"),
        "layer digest"
    );
    assert!(packages.contains("/app/Django-2.2.dist-info/METADATA"));
    let layers = &page[page.find("id=\"layers\"").expect("layers")..];
    assert!(layers.contains(BASE_LAYER) && layers.contains("27.7 MiB"));
    assert!(layers.contains("COPY app /app"));
}

#[test]
fn html_names_the_platform_of_each_finding_when_there_are_several() {
    let mut report = rejected_report();
    let mut arm = report.platforms[0].clone();
    arm.inventory.artifact.platform = Some(Platform {
        os: "linux".into(),
        architecture: "arm64".into(),
        variant: Some("v8".into()),
    });
    report.platforms.push(arm);
    let page = html(&report);
    assert!(page.contains("<th scope=\"col\">Platform</th>"));
    assert_eq!(finding_rows(&page), (6, 0));
    assert!(findings_body(&page).contains("<td>linux/arm64/v8</td>"));
    assert!(page.contains("<h3>linux/arm64/v8 (3 packages)</h3>"));
}

#[test]
fn html_marks_findings_waived_by_an_exception() {
    let mut report = rejected_report();
    report.verdict.excepted = vec!["DSA-9999-1 libssl3".into()];
    let page = html(&report);
    assert!(page.contains("<details id=\"excepted\">"));
    let waived: Vec<&str> = findings_body(&page)
        .split("<tr")
        .filter(|row| row.contains("class=\"waived\""))
        .collect();
    assert_eq!(waived.len(), 1);
    assert!(waived[0].contains("DSA-9999-1"));
}

// ------------------------------------------------------------ in Chromium

/// Chromium's binary, or `None` (after failing under CI) when absent.
fn chromium() -> Option<PathBuf> {
    let candidates = ["chromium", "chromium-browser", "google-chrome"];
    let found = std::env::var_os("AIRLOCK_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .flat_map(|dir| candidates.iter().map(move |name| dir.join(name)))
                .find(|candidate| candidate.is_file())
        });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is not installed, and CI is set: install Debian's `chromium` \
             package (or set AIRLOCK_CHROMIUM) so the HTML report's script is tested"
        );
        // Straight to the stderr handle: the test harness captures `eprintln!`.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: chromium not installed; the HTML report's script is untested ***\n"
        );
    }
    found
}

/// Runs headless Chromium with `args` and a fresh profile; its stdout. Killed
/// after 60 s so a hang cannot stall the suite.
fn run_chromium(binary: &Path, args: &[String]) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let output = tempfile::NamedTempFile::new().expect("output file");
    let mut command = Command::new(binary);
    // Its own process group, so a timeout ends the renderer processes too.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--disable-extensions",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(output.reopen().expect("output file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("chromium wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 60 s: {args:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "chromium failed ({status}): {args:?}");
    std::fs::read_to_string(output.path()).expect("chromium output")
}

fn file_url(path: &Path, fragment: &str) -> String {
    format!("file://{}{fragment}", path.display())
}

/// The value of `attribute` on the dumped `<body>` tag.
fn body_attribute(dom: &str, attribute: &str) -> Option<String> {
    let body = &dom[dom.find("<body")?..];
    let tag = &body[..body.find('>')?];
    let start = tag.find(&format!("{attribute}=\""))? + attribute.len() + 2;
    Some(tag[start..start + tag[start..].find('"')?].to_string())
}

fn is_png(path: &Path) -> bool {
    let bytes = std::fs::read(path).unwrap_or_default();
    bytes.starts_with(b"\x89PNG\r\n\x1a\n")
}

#[test]
fn chromium_runs_the_page_script() {
    let Some(binary) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let page_path = dir.path().join("report.html");
    std::fs::write(&page_path, html(&rejected_report())).unwrap();

    let dom = run_chromium(&binary, &["--dump-dom".into(), file_url(&page_path, "")]);
    assert_eq!(element_text(&dom, "verdict"), "REJECTED");
    assert_eq!(finding_rows(&dom), (3, 0), "every finding shown");
    assert_eq!(
        body_attribute(&dom, "data-visible-rows").as_deref(),
        Some("3")
    );
    let render_ms: f64 = body_attribute(&dom, "data-render-ms")
        .expect("the script records when it finished")
        .parse()
        .expect("a number");
    assert!(render_ms > 0.0);

    // The fragment's filter matches the Django finding only.
    let url = file_url(&page_path, "#filter=hijack");
    let dom = run_chromium(&binary, &["--dump-dom".into(), url]);
    assert_eq!(
        body_attribute(&dom, "data-visible-rows").as_deref(),
        Some("1")
    );
    assert_eq!(finding_rows(&dom), (3, 2), "two rows hidden");
    assert!(dom.contains("value=\"hijack\"") || dom.contains("1 of 3 findings shown"));

    let url = file_url(&page_path, "#severity=low");
    let dom = run_chromium(&binary, &["--dump-dom".into(), url]);
    assert_eq!(
        body_attribute(&dom, "data-visible-rows").as_deref(),
        Some("1")
    );

    // Clicking the headers sorts: CVSS highest first (ties in table order),
    // then the ids A to Z.
    let clicks = "<script>\n\
        var ids = function () { return Array.prototype.map.call(\
          document.querySelectorAll('#findings tbody tr td:first-child a'),\
          function (a) { return a.textContent; }).join(' '); };\n\
        var headers = document.querySelectorAll('#findings thead th');\n\
        headers[5].click(); document.body.dataset.byCvss = ids();\n\
        headers[0].click(); document.body.dataset.byId = ids();\n\
        </script>\n</body>";
    let sorted_path = dir.path().join("sorted.html");
    std::fs::write(
        &sorted_path,
        html(&rejected_report()).replace("</body>", clicks),
    )
    .unwrap();
    let dom = run_chromium(&binary, &["--dump-dom".into(), file_url(&sorted_path, "")]);
    assert_eq!(
        body_attribute(&dom, "data-by-cvss").as_deref(),
        Some("CVE-2019-19844 GHSA-hostile-0001 DSA-9999-1")
    );
    assert_eq!(
        body_attribute(&dom, "data-by-id").as_deref(),
        Some("CVE-2019-19844 DSA-9999-1 GHSA-hostile-0001")
    );

    let screenshot = dir.path().join("report.png");
    take_screenshot(&binary, &page_path, &screenshot);
    let size = std::fs::metadata(&screenshot).expect("screenshot").len();
    assert!(is_png(&screenshot), "screenshot is a PNG");
    assert!(size > 10 * 1024, "screenshot is only {size} bytes");

    if std::env::var("AIRLOCK_UPDATE_SCREENSHOT").as_deref() == Ok("1") {
        update_docs_screenshot(&binary, dir.path());
    }
}

fn take_screenshot(binary: &Path, page: &Path, png: &Path) {
    run_chromium(
        binary,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,1800".into(),
            file_url(page, ""),
        ],
    );
}

/// Rewrites `docs/report-screenshot.png` from a realistic rejected image.
fn update_docs_screenshot(binary: &Path, dir: &Path) {
    let page_path = dir.join("showcase.html");
    std::fs::write(&page_path, html(&showcase_report())).unwrap();
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/report-screenshot.png");
    take_screenshot(binary, &page_path, &docs);
    assert!(is_png(&docs), "{} is a PNG", docs.display());
    eprintln!("wrote {}", docs.display());
}

/// A rejected image as a developer meets one: a dozen findings across OS
/// and application packages.
fn showcase_report() -> ImageReport {
    type Row = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        Severity,
        Option<(f64, &'static str)>,
        &'static str,
    );
    const ROWS: &[Row] = &[
        (
            "CVE-2024-6387",
            "",
            "Debian:12",
            "openssh-client",
            "1:9.2p1-2+deb12u2",
            "1:9.2p1-2+deb12u3",
            Severity::High,
            Some((8.1, "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H")),
            "regreSSHion: signal handler race condition in sshd allows remote code execution",
        ),
        (
            "CVE-2023-5363",
            "",
            "Debian:12",
            "libssl3",
            "3.0.11-1~deb12u1",
            "3.0.11-1~deb12u2",
            Severity::High,
            Some((7.5, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N")),
            "Incorrect cipher key and IV length processing",
        ),
        (
            "CVE-2024-7264",
            "",
            "Debian:12",
            "libcurl4",
            "7.88.1-10+deb12u5",
            "7.88.1-10+deb12u7",
            Severity::Low,
            Some((3.7, "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:L")),
            "curl: ASN.1 date parser overread",
        ),
        (
            "CVE-2022-48303",
            "",
            "Debian:12",
            "tar",
            "1.34+dfsg-1.2",
            "",
            Severity::Unknown,
            None,
            "GNU tar: one-byte out-of-bounds read in from_header",
        ),
        (
            "CVE-2019-19844",
            "GHSA-vfq6-hq5r-27r6",
            "PyPI",
            "django",
            "2.2.0",
            "2.2.9",
            Severity::Critical,
            Some((9.8, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")),
            "Django account hijack via password reset form",
        ),
        (
            "GHSA-j8r2-6x86-q33q",
            "CVE-2023-32681",
            "PyPI",
            "requests",
            "2.19.0",
            "2.31.0",
            Severity::Medium,
            Some((6.1, "CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:C/C:H/I:N/A:N")),
            "Unintended leak of Proxy-Authorization header in requests",
        ),
        (
            "GHSA-462w-v97r-4m45",
            "CVE-2019-10906",
            "PyPI",
            "jinja2",
            "2.10",
            "2.10.1",
            Severity::High,
            Some((8.6, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:N")),
            "Jinja2 sandbox escape via string formatting",
        ),
        (
            "GHSA-p6mc-m468-83gw",
            "CVE-2020-8203",
            "npm",
            "lodash",
            "4.17.15",
            "4.17.19",
            Severity::High,
            Some((7.4, "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H")),
            "Prototype pollution in lodash zipObjectDeep",
        ),
        (
            "GHSA-vh95-rmgr-6w4m",
            "CVE-2020-7598",
            "npm",
            "minimist",
            "1.2.0",
            "1.2.3",
            Severity::Medium,
            Some((5.6, "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:L/A:L")),
            "Prototype pollution in minimist",
        ),
        (
            "RUSTSEC-2019-0009",
            "CVE-2019-15551",
            "crates.io",
            "smallvec",
            "0.6.9",
            "0.6.10",
            Severity::High,
            Some((7.5, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H")),
            "Double-free and use-after-free in SmallVec::grow()",
        ),
        (
            "GO-2024-2687",
            "CVE-2023-45288",
            "Go",
            "golang.org/x/net",
            "0.17.0",
            "0.23.0",
            Severity::Medium,
            Some((5.3, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L")),
            "HTTP/2 CONTINUATION flood in net/http",
        ),
    ];
    let mut packages = Vec::new();
    let mut findings = Vec::new();
    for &(id, alias, ecosystem, name, version, fixed, severity, cvss, summary) in ROWS {
        let (layer, path) = match ecosystem {
            "Debian:12" => (BASE_LAYER, "var/lib/dpkg/status"),
            "PyPI" => (APP_LAYER, "usr/lib/python3/dist-packages"),
            "npm" => (APP_LAYER, "srv/app/package-lock.json"),
            "crates.io" => (APP_LAYER, "srv/app/Cargo.lock"),
            _ => (APP_LAYER, "usr/local/bin/checkout"),
        };
        let package = package(ecosystem, name, version, layer, path);
        let fixed: Vec<&str> = Some(fixed).filter(|f| !f.is_empty()).into_iter().collect();
        let mut finding = finding(FindingSpec {
            id,
            package: &package,
            severity,
            cvss,
            fixed: &fixed,
            summary: Some(summary),
        });
        finding.aliases = Some(alias)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .into_iter()
            .collect();
        packages.push(package);
        findings.push(finding);
    }
    for name in [
        "base-files",
        "bash",
        "coreutils",
        "dash",
        "libc6",
        "zlib1g",
        "ca-certificates",
    ] {
        packages.push(package(
            "Debian:12",
            name,
            "12.4+deb12u5",
            BASE_LAYER,
            "var/lib/dpkg/status",
        ));
    }
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    let mut report = rejected_report();
    report.image.repository = "unscanned/payments/checkout-api".into();
    report.image.tags = vec!["2.14.0".into(), "2.14".into(), "latest".into()];
    report.image.pusher = Some("robot$payments+github-actions".into());
    report.verdict.reasons = vec![
        ReportReason {
            rule: "block_severity_at_or_above".into(),
            message: "1 finding is critical or worse: CVE-2019-19844 in django 2.2.0 (fixed in 2.2.9)".into(),
        },
        ReportReason {
            rule: "max_fixable_high".into(),
            message: "5 high findings have a fix (the policy allows 0): upgrade openssh-client, libssl3, jinja2, lodash, smallvec".into(),
        },
    ];
    report.verdict.counts = counts([1, 5, 3, 1, 1]);
    report.platforms = vec![platform(packages, findings)];
    report
}
