//! Fixtures shared by the database tests: OSV records and zips made in code.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};

/// A PyPI record affecting `name` below `fixed`.
pub fn pypi_record(id: &str, name: &str, fixed: &str) -> Value {
    json!({
        "id": id,
        "modified": "2024-01-01T00:00:00Z",
        "published": "2023-12-01T00:00:00Z",
        "aliases": [format!("CVE-{id}")],
        "summary": format!("{name} is vulnerable"),
        "details": "long text that the database does not keep",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "references": [{"type": "WEB", "url": format!("https://example.invalid/{id}")}],
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": name, "purl": format!("pkg:pypi/{name}")},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
            "versions": ["0.1", "0.2"],
            "database_specific": {"source": "x"}
        }]
    })
}

/// Writes a zip with the given members.
pub fn write_zip(path: &Path, members: &[(String, Vec<u8>)]) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in members {
        zip.start_file(name.as_str(), options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// Zip bytes of records, one member `<id>.json` each.
pub fn zip_of(records: &[Value]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("all.zip");
    let members: Vec<(String, Vec<u8>)> = records
        .iter()
        .map(|r| {
            (
                format!("{}.json", r["id"].as_str().unwrap()),
                r.to_string().into_bytes(),
            )
        })
        .collect();
    write_zip(&path, &members);
    std::fs::read(path).unwrap()
}
