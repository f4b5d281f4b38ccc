//! Import, status, lookups, export/bundle and generation switching.

mod common;

use std::path::{Path, PathBuf};

use airlock_matcher::AdvisorySource;
use airlock_vulndb::{Error, VulnDb, export, import};
use common::{pypi_record, write_zip, zip_of};
use serde_json::json;

/// `<dir>/<ecosystem>/all.zip` with `members`.
fn dump(dir: &Path, ecosystem: &str, members: Vec<(String, Vec<u8>)>) -> PathBuf {
    let folder = dir.join(ecosystem);
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join("all.zip");
    write_zip(&path, &members);
    path
}

fn member(name: &str, value: &serde_json::Value) -> (String, Vec<u8>) {
    (name.to_owned(), value.to_string().into_bytes())
}

fn pypi_dump(dir: &Path) -> PathBuf {
    let mut withdrawn = pypi_record("PYSEC-3", "flask", "1.0");
    withdrawn["withdrawn"] = json!("2024-02-01T00:00:00Z");
    let mut unknown_range = pypi_record("PYSEC-5", "x", "1.0");
    unknown_range["affected"][0]["ranges"][0]["type"] = json!("CALVER");
    let mut no_modified = pypi_record("PYSEC-6", "x", "1.0");
    no_modified.as_object_mut().unwrap().remove("modified");
    dump(
        dir,
        "PyPI",
        vec![
            member("PYSEC-1.json", &pypi_record("PYSEC-1", "Django", "2.2.1")),
            member("PYSEC-2.json", &pypi_record("PYSEC-2", "django", "3.0")),
            member("PYSEC-3.json", &withdrawn),
            ("PYSEC-4.json".into(), b"{not json".to_vec()),
            member("PYSEC-5.json", &unknown_range),
            member("PYSEC-6.json", &no_modified),
            member(
                "dup/PYSEC-1.json",
                &pypi_record("PYSEC-1", "Django", "2.2.1"),
            ),
            ("README.txt".into(), b"ignored".to_vec()),
        ],
    )
}

#[test]
fn import_counts_good_and_bad_records_per_ecosystem() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vulndb/osv.db");
    let report = import(&db, &[pypi_dump(dir.path())]).unwrap();
    assert_eq!(report.sources.len(), 1);
    let source = &report.sources[0];
    assert_eq!(source.ecosystem, "PyPI");
    assert_eq!((source.records, source.withdrawn, source.bad), (3, 1, 4));
    let reasons = source.bad_examples.join("\n");
    assert!(reasons.contains("PYSEC-4.json"), "{reasons}");
    assert!(reasons.contains("CALVER"), "{reasons}");
    assert!(reasons.contains("modified"), "{reasons}");
    assert!(reasons.contains("duplicate id PYSEC-1"), "{reasons}");

    let database = VulnDb::open(&db).unwrap();
    let status = database.status().unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!(
        (status[0].records, status[0].withdrawn, status[0].bad),
        (3, 1, 4)
    );
    assert!(
        status[0].last_refresh.ends_with('Z'),
        "{}",
        status[0].last_refresh
    );
    assert_eq!(database.active_records().unwrap(), 2);
}

#[test]
fn lookups_use_the_normalised_name_and_round_trip_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("osv.db");
    import(&db, &[pypi_dump(dir.path())]).unwrap();
    let database = VulnDb::open(&db).unwrap();
    let found = database.advisories("PyPI", "django").unwrap();
    let ids: Vec<&str> = found.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, vec!["PYSEC-1", "PYSEC-2"]);
    let first = &found[0];
    assert_eq!(first.aliases, vec!["CVE-PYSEC-1"]);
    assert_eq!(first.references, vec!["https://example.invalid/PYSEC-1"]);
    assert_eq!(first.severity.len(), 1);
    let versions: Vec<&str> = first.affected[0].versions.iter().collect();
    assert_eq!(versions, vec!["0.1", "0.2"]);
    assert_eq!(
        first.affected[0].package.as_ref().unwrap().ecosystem,
        "PyPI"
    );
    assert!(database.advisories("PyPI", "Django").unwrap().is_empty());
    assert!(database.advisories("npm", "django").unwrap().is_empty());
}

#[test]
fn lookups_go_through_the_family_and_keep_only_matching_releases() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("osv.db");
    let entry = |ecosystem: &str| {
        json!({"package": {"ecosystem": ecosystem, "name": "openssl"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1.1n-0+deb10u4"}]}]})
    };
    let debian = json!({"id": "DSA-1-1", "modified": "2023-01-01T00:00:00Z",
        "affected": [entry("Debian:10"), entry("Debian:11")]});
    let ubuntu = json!({"id": "USN-1", "modified": "2023-01-01T00:00:00Z",
        "affected": [entry("Ubuntu:22.04:LTS"), entry("Ubuntu:Pro:22.04:LTS"), entry("Ubuntu:20.04:LTS")]});
    import(
        &db,
        &[
            dump(dir.path(), "Debian", vec![member("DSA-1-1.json", &debian)]),
            dump(dir.path(), "Ubuntu", vec![member("USN-1.json", &ubuntu)]),
        ],
    )
    .unwrap();
    let database = VulnDb::open(&db).unwrap();
    let releases = |ecosystem: &str| -> Vec<String> {
        database
            .advisories(ecosystem, "openssl")
            .unwrap()
            .iter()
            .flat_map(|a| a.affected.iter())
            .map(|a| a.package.as_ref().unwrap().ecosystem.clone())
            .collect()
    };
    assert_eq!(releases("Debian:11"), vec!["Debian:11"]);
    assert!(releases("Debian:12").is_empty());
    assert_eq!(
        releases("Ubuntu:22.04"),
        vec!["Ubuntu:22.04:LTS", "Ubuntu:Pro:22.04:LTS"]
    );
}

#[test]
fn folders_of_json_are_imported_by_folder_name() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("crates.io");
    std::fs::create_dir_all(folder.join("nested")).unwrap();
    let mut record = pypi_record("RUSTSEC-1", "smallvec", "1.6.1");
    record["affected"][0]["package"]["ecosystem"] = json!("crates.io");
    std::fs::write(folder.join("nested/RUSTSEC-1.json"), record.to_string()).unwrap();
    std::fs::write(folder.join("broken.json"), "[]").unwrap();
    let db = dir.path().join("osv.db");
    let report = import(&db, &[folder]).unwrap();
    assert_eq!(report.sources[0].ecosystem, "crates.io");
    assert_eq!((report.sources[0].records, report.sources[0].bad), (1, 1));
}

#[test]
fn reimporting_a_source_replaces_it_and_keeps_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("osv.db");
    let mut go = pypi_record("GO-1", "golang.org/x/net", "0.7.0");
    go["affected"][0]["package"]["ecosystem"] = json!("Go");
    let go_zip = dump(dir.path(), "Go", vec![member("GO-1.json", &go)]);
    import(&db, &[pypi_dump(dir.path()), go_zip]).unwrap();

    let smaller = dir.path().join("smaller");
    let pypi = dump(
        &smaller,
        "PyPI",
        vec![member(
            "PYSEC-9.json",
            &pypi_record("PYSEC-9", "requests", "2.20.0"),
        )],
    );
    import(&db, &[pypi]).unwrap();
    let database = VulnDb::open(&db).unwrap();
    let status: Vec<(String, u64)> = database
        .status()
        .unwrap()
        .into_iter()
        .map(|s| (s.ecosystem, s.records))
        .collect();
    assert_eq!(status, vec![("Go".to_string(), 1), ("PyPI".to_string(), 1)]);
    assert!(database.advisories("PyPI", "django").unwrap().is_empty());
    assert_eq!(database.advisories("PyPI", "requests").unwrap().len(), 1);
    assert_eq!(
        database.advisories("Go", "golang.org/x/net").unwrap().len(),
        1
    );
}

#[test]
fn export_then_import_the_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("osv.db");
    import(&db, &[pypi_dump(dir.path())]).unwrap();
    let bundle = dir.path().join("bundle.osvdb");
    export(&db, &bundle).unwrap();

    // Into an empty database: the same content.
    let other = dir.path().join("other/osv.db");
    let report = import(&other, std::slice::from_ref(&bundle)).unwrap();
    assert_eq!(report.sources[0].records, 3);
    let copy = VulnDb::open(&other).unwrap();
    let original = VulnDb::open(&db).unwrap();
    assert_eq!(copy.status().unwrap(), original.status().unwrap());
    assert_eq!(
        copy.advisories("PyPI", "django").unwrap(),
        original.advisories("PyPI", "django").unwrap()
    );

    // Into a database with another source: merged, record ids renumbered.
    let third = dir.path().join("third/osv.db");
    let mut go = pypi_record("GO-1", "golang.org/x/net", "0.7.0");
    go["affected"][0]["package"]["ecosystem"] = json!("Go");
    import(
        &third,
        &[dump(dir.path(), "Go", vec![member("GO-1.json", &go)])],
    )
    .unwrap();
    import(&third, &[bundle]).unwrap();
    let merged = VulnDb::open(&third).unwrap();
    assert_eq!(merged.status().unwrap().len(), 2);
    assert_eq!(merged.advisories("PyPI", "django").unwrap().len(), 2);
    assert_eq!(
        merged.advisories("Go", "golang.org/x/net").unwrap().len(),
        1
    );
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") || n.ends_with(".part"))
        .collect()
}

#[test]
fn a_failed_import_leaves_the_current_generation() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("osv.db");
    import(&db, &[pypi_dump(dir.path())]).unwrap();
    let before = std::fs::read(&db).unwrap();

    // A good zip first, then a corrupt one in the same import: all or nothing.
    let mut go = pypi_record("GO-1", "golang.org/x/net", "0.7.0");
    go["affected"][0]["package"]["ecosystem"] = json!("Go");
    let good = dump(dir.path(), "Go", vec![member("GO-1.json", &go)]);
    let corrupt = dir.path().join("corrupt.zip");
    let mut bytes = zip_of(&[pypi_record("PYSEC-7", "x", "1")]);
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&corrupt, bytes).unwrap();
    let error = import(&db, &[good, corrupt]).unwrap_err();
    assert!(matches!(error, Error::Input { .. }), "{error}");
    assert!(error.to_string().contains("corrupt zip"), "{error}");

    assert_eq!(std::fs::read(&db).unwrap(), before);
    let database = VulnDb::open(&db).unwrap();
    assert_eq!(database.status().unwrap().len(), 1);
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}

#[test]
fn readers_keep_their_generation_while_a_new_one_is_switched_in() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("osv.db");
    import(&db, &[pypi_dump(dir.path())]).unwrap();
    let reader = VulnDb::open(&db).unwrap();
    let smaller = dir.path().join("smaller");
    let pypi = dump(
        &smaller,
        "PyPI",
        vec![member(
            "PYSEC-9.json",
            &pypi_record("PYSEC-9", "requests", "2.20.0"),
        )],
    );
    import(&db, &[pypi]).unwrap();
    assert_eq!(reader.advisories("PyPI", "django").unwrap().len(), 2);
    assert!(
        VulnDb::open(&db)
            .unwrap()
            .advisories("PyPI", "django")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn missing_database_and_unknown_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("osv.db");
    assert!(matches!(VulnDb::open(&db), Err(Error::Missing(_))));
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let error = import(&db, &[text]).unwrap_err();
    assert!(error.to_string().contains("not a zip"), "{error}");
    assert!(!db.exists());
}
