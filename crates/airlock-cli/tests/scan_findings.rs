//! `airlock scan` with vulnerability matching, as a CI pipeline runs it:
//! the real binary, a fixture image with known-vulnerable packages, and a
//! database imported from hand-written OSV records with `airlock db import`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use airlock_testkit::{LayerBuilder, LayerCompression, OciLayoutBuilder};

const RECORDS: &[(&str, &str)] = &[
    // Affects django 2.2.0, fixed in 2.2.1; critical by its CVSS vector.
    (
        "PYSEC-2099-1",
        r#"{"id":"PYSEC-2099-1","modified":"2099-01-02T00:00:00Z","published":"2099-01-01T00:00:00Z",
            "aliases":["CVE-2099-0001"],"summary":"SQL injection in QuerySet",
            "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "affected":[{"package":{"ecosystem":"PyPI","name":"django"},
              "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"2.2"},{"fixed":"2.2.1"}]}]}],
            "references":[{"type":"ADVISORY","url":"https://example.test/PYSEC-2099-1"}]}"#,
    ),
    // The same vulnerability under another id: one finding, both ids listed.
    (
        "GHSA-aaaa-bbbb-cccc",
        r#"{"id":"GHSA-aaaa-bbbb-cccc","modified":"2099-01-02T00:00:00Z","aliases":["CVE-2099-0001"],
            "affected":[{"package":{"ecosystem":"PyPI","name":"Django"},
              "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.2.1"}]}]}]}"#,
    ),
    // A later release line only: django 2.2.0 is not affected.
    (
        "PYSEC-2099-2",
        r#"{"id":"PYSEC-2099-2","modified":"2099-01-02T00:00:00Z",
            "affected":[{"package":{"ecosystem":"PyPI","name":"django"},
              "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"3.0"},{"fixed":"3.0.1"}]}]}]}"#,
    ),
    // No fix yet; the feed rates it low.
    (
        "PYSEC-2099-3",
        r#"{"id":"PYSEC-2099-3","modified":"2099-01-02T00:00:00Z","summary":"unfixed",
            "affected":[{"package":{"ecosystem":"PyPI","name":"django"},
              "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}],
              "database_specific":{"severity":"LOW"}}]}"#,
    ),
];

fn fixture(dir: &Path) -> String {
    let image = dir.join("image");
    OciLayoutBuilder::new()
        .tag("v1")
        .layer(
            LayerBuilder::new()
                .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                .file(
                    "usr/lib/python3/dist-packages/Django-2.2.0.dist-info/METADATA",
                    "Metadata-Version: 2.1\nName: Django\nVersion: 2.2.0\nLicense: BSD\n",
                ),
            LayerCompression::Gzip,
        )
        .write(&image);
    format!("oci:{}:v1", image.display())
}

fn airlock(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .env_remove("AIRLOCK_DATA_DIR")
        .output()
        .expect("airlock runs")
}

fn imported_db(dir: &Path) -> PathBuf {
    let records = dir.join("records");
    std::fs::create_dir_all(&records).unwrap();
    for (id, json) in RECORDS {
        std::fs::write(records.join(format!("{id}.json")), json).unwrap();
    }
    let db = dir.join("osv.db");
    let output = airlock(&[
        "db",
        "import",
        records.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    db
}

fn scan_json(target: &str, db: &Path, extra: &[&str]) -> (Output, serde_json::Value) {
    let mut args = vec![
        "scan",
        target,
        "--format",
        "json",
        "--no-cache",
        "--db",
        db.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = airlock(&args);
    let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output, json)
}

fn finding_ids(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn findings_are_matched_deduplicated_and_rated() {
    let dir = tempfile::tempdir().unwrap();
    let target = fixture(dir.path());
    let db = imported_db(dir.path());
    let (output, report) = scan_json(&target, &db, &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(report["vulnerability_data"], "present");
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2, "{findings:#?}");
    // Most severe first; the two aliased records are one finding.
    let critical = &findings[0];
    assert_eq!(critical["severity"], "critical");
    assert_eq!(critical["cvss_score"], 9.8);
    assert_eq!(critical["package"]["name"], "django");
    assert_eq!(critical["package"]["version"], "2.2.0");
    assert_eq!(critical["fixed_versions"], serde_json::json!(["2.2.1"]));
    let mut ids: Vec<String> = critical["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .chain([critical["id"].as_str().unwrap().to_owned()])
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        ["CVE-2099-0001", "GHSA-aaaa-bbbb-cccc", "PYSEC-2099-1"]
    );
    assert_eq!(findings[1]["id"], "PYSEC-2099-3");
    assert_eq!(findings[1]["severity"], "low");
    assert!(
        !finding_ids(&report).contains(&"PYSEC-2099-2".to_owned()),
        "3.0 line must not match 2.2.0"
    );
}

#[test]
fn filters_and_exit_code_work_as_in_ci() {
    let dir = tempfile::tempdir().unwrap();
    let target = fixture(dir.path());
    let db = imported_db(dir.path());

    let (output, report) = scan_json(&target, &db, &["--ignore-unfixed", "--exit-code", "3"]);
    assert_eq!(
        output.status.code(),
        Some(3),
        "findings remain, so the exit code is 3"
    );
    assert_eq!(finding_ids(&report).len(), 1);

    let (output, report) = scan_json(
        &target,
        &db,
        &[
            "--severity",
            "medium,low",
            "--ignore-unfixed",
            "--exit-code",
            "3",
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "nothing remains after filtering"
    );
    assert!(finding_ids(&report).is_empty());

    let (_, report) = scan_json(&target, &db, &["--severity", "low"]);
    assert_eq!(finding_ids(&report), ["PYSEC-2099-3"]);
}

#[test]
fn a_missing_database_is_loud_and_marked_missing() {
    let dir = tempfile::tempdir().unwrap();
    let target = fixture(dir.path());
    let (output, report) = scan_json(
        &target,
        &dir.path().join("absent.db"),
        &["--exit-code", "3"],
    );
    assert!(output.status.success());
    assert_eq!(report["vulnerability_data"], "missing");
    assert!(finding_ids(&report).is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("WARNING: no vulnerability data"),
        "{stderr}"
    );
}

#[test]
fn inventory_only_skips_matching() {
    let dir = tempfile::tempdir().unwrap();
    let target = fixture(dir.path());
    let output = airlock(&[
        "scan",
        &target,
        "--format",
        "json",
        "--no-cache",
        "--inventory-only",
    ]);
    assert!(output.status.success());
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["vulnerability_data"], "skipped");
    assert!(!String::from_utf8_lossy(&output.stderr).contains("WARNING"));
}

#[test]
fn table_output_lists_findings_by_severity() {
    let dir = tempfile::tempdir().unwrap();
    let target = fixture(dir.path());
    let db = imported_db(dir.path());
    let output = airlock(&["scan", &target, "--no-cache", "--db", db.to_str().unwrap()]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    let critical = ["PYSEC-2099-1", "GHSA-aaaa-bbbb-cccc", "CVE-2099-0001"]
        .iter()
        .find_map(|id| text.find(id))
        .expect("critical finding shown");
    let low = text.find("PYSEC-2099-3").expect("low finding shown");
    assert!(critical < low, "sorted by severity:\n{text}");
}
