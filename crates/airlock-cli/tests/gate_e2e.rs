//! The quarantine gate end to end: the real `airlock serve` with two scan
//! workers, real skopeo pushing to `unscanned/` and pulling from `scanned/`,
//! and a vulnerability database imported from one hand-written OSV record.
//!
//! What a test expects of the gate it reads from the metadata database (the
//! single source of truth: `images`, `outbox`, `repository_manifests`) and
//! from what the registry serves. Every wait is bounded.

mod support;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use airlock_testkit::{LayerBuilder, write_index};
use serde_json::{Value, json};
#[allow(clippy::wildcard_imports)]
use support::gate::*;
use support::{
    OCI_INDEX, OCI_MANIFEST, Server, admin_creds, airlock_cli, airlock_cli_env, airlock_cli_ok,
    db_rows, fresh_seed, http, raw_manifest, require_tools, sha256,
};

// ----- images -----

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip in memory");
    encoder.finish().expect("finish gzip")
}

/// A gzip layer holding one file at `path` of `chunks` × 16 MiB of `fill`
/// bytes, as a multi-member gzip stream: a few KiB per 16 MiB, so a huge
/// file costs the test nothing and the scanner the whole decompression.
fn huge_file_layer(path: &str, chunks: u64, fill: &[u8]) -> Vec<u8> {
    const CHUNK: usize = 16 << 20;
    let mut header = tar::Header::new_gnu();
    header.set_path(path).expect("tar path");
    header.set_size(chunks * CHUNK as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    let chunk: Vec<u8> = fill.iter().copied().cycle().take(CHUNK).collect();
    let chunk = gzip(&chunk);
    let mut blob = gzip(header.as_bytes());
    for _ in 0..chunks {
        blob.extend_from_slice(&chunk);
    }
    blob.extend_from_slice(&gzip(&[0u8; 1024]));
    blob
}

/// Writes an OCI layout holding one linux/amd64 image of these gzip layer
/// blobs, tagged [`TAG`]; returns the manifest digest. (The config's
/// `diff_ids` are the blob digests: nothing on the way checks them.)
fn raw_layout(dir: &Path, layers: &[Vec<u8>]) -> String {
    let blobs = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).expect("create blobs/sha256");
    let put = |bytes: &[u8]| {
        let digest = sha256(bytes);
        std::fs::write(blobs.join(&digest["sha256:".len()..]), bytes).expect("write a blob");
        digest
    };
    let layers: Vec<Value> = layers
        .iter()
        .map(|blob| json!({"mediaType": GZIP_LAYER, "digest": put(blob), "size": blob.len()}))
        .collect();
    let diff_ids: Vec<&Value> = layers.iter().map(|l| &l["digest"]).collect();
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .expect("serialise the config");
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": put(&config), "size": config.len()},
        "layers": layers,
    }))
    .expect("serialise the manifest");
    let digest = put(&manifest);
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("write oci-layout");
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": digest, "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": TAG},
    }]});
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&index).expect("serialise index.json"),
    )
    .expect("write index.json");
    digest
}

/// A small layer with a seed file (so images differ) and django `version`.
fn django_layer(version: &str, seed: u64) -> Vec<u8> {
    LayerBuilder::new()
        .file("etc/os-release", OS_RELEASE)
        .file(
            &format!("usr/lib/python3/dist-packages/Django-{version}.dist-info/METADATA"),
            format!("Metadata-Version: 2.1\nName: Django\nVersion: {version}\n"),
        )
        .file("etc/e2e-seed", seed.to_string())
        .gzip()
}

// ----- what the gate decided -----

/// How many `scanned/` repositories hold the manifest.
fn scanned_copies(data: &Path, digest: &str) -> usize {
    db_rows(
        data,
        "SELECT r.name FROM repository_manifests m JOIN repositories r ON r.id = m.repository_id
         WHERE m.digest = ? AND r.name LIKE 'scanned/%'",
        &[digest],
    )
    .len()
}

/// The status of `GET /v2/<repository>/manifests/<reference>` as the admin.
fn manifest_status(server: &Server, repository: &str, reference: &str) -> u16 {
    let token = server.admin_token(&[&format!("repository:{repository}:pull")]);
    http()
        .get(server.url(&format!("/v2/{repository}/manifests/{reference}")))
        .bearer_auth(token)
        .header("Accept", format!("{OCI_MANIFEST}, {OCI_INDEX}"))
        .send()
        .expect("GET the manifest")
        .status()
        .as_u16()
}

/// Asserts that skopeo cannot read `repository:tag` because it is unknown
/// (`MANIFEST_UNKNOWN`, or `NAME_UNKNOWN` when nothing was ever promoted
/// into the repository).
fn assert_manifest_unknown(server: &Server, repository_and_tag: &str) {
    let output = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", "--creds"])
        .arg(admin_creds())
        .arg(server.docker_ref(repository_and_tag))
        .stdin(Stdio::null())
        .output()
        .expect("run skopeo inspect");
    let stderr = String::from_utf8_lossy(&output.stderr).to_lowercase();
    assert!(
        !output.status.success()
            && (stderr.contains("manifest unknown") || stderr.contains("name unknown")),
        "{repository_and_tag} must be unknown; status {}, stderr: {stderr}",
        output.status
    );
}

/// The digest `repository:tag` resolves to, as served.
fn served_digest(server: &Server, repository_and_tag: &str) -> String {
    sha256(&raw_manifest(&server.docker_ref(repository_and_tag)))
}

// ----- the tests -----

#[test]
fn a_clean_image_is_promoted_and_a_reader_pulls_it_from_scanned() {
    if !tools_present("a_clean_image_is_promoted_and_a_reader_pulls_it_from_scanned") {
        return;
    }
    let gate = Gate::start(&[]);
    let (layout, digest) = django_layout(&gate.scratch("clean"), FIXED);
    gate.push(&layout, "unscanned/team-a/app:1.0", &[]);

    let row = decided(&gate.server, "unscanned/team-a/app", &digest, "promoted");
    assert_eq!(row.verdict["passed"], true, "{row:#?}");
    assert_eq!(scanned_copies(gate.data(), &digest), 1);

    let password = "e2e-reader-password-91d2";
    airlock_cli_ok(
        gate.data(),
        &["user", "create", "carol", "--password-stdin"],
        Some(&format!("{password}\n")),
    );
    airlock_cli_ok(
        gate.data(),
        &[
            "user", "grant", "carol", "--tenant", "team-a", "--role", "reader",
        ],
        None,
    );
    let pulled = gate.scratch("pulled");
    let destination = format!("oci:{}:pulled", pulled.display());
    support::skopeo(&[
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        "--src-creds",
        &format!("carol:{password}"),
        "--preserve-digests",
        &gate.server.docker_ref("scanned/team-a/app:1.0"),
        &destination,
    ]);
    assert_eq!(support::Layout::open(&pulled).digest("pulled"), digest);
}

#[test]
fn a_critical_finding_rejects_the_image_and_names_the_cve_and_rule() {
    if !tools_present("a_critical_finding_rejects_the_image_and_names_the_cve_and_rule") {
        return;
    }
    let gate = Gate::start(&[]);
    let (layout, digest) = django_layout(&gate.scratch("vulnerable"), VULNERABLE);
    gate.push(&layout, "unscanned/team-a/app:1.0", &[]);

    let row = decided(&gate.server, "unscanned/team-a/app", &digest, "rejected");
    assert_eq!(row.reason.as_deref(), Some("policy"), "{row:#?}");
    let failures = failures(&row);
    assert!(
        failures.contains("block_severity_at_or_above") && failures.contains(CVE),
        "{failures}"
    );
    assert_manifest_unknown(&gate.server, "scanned/team-a/app:1.0");
    assert_eq!(
        manifest_status(&gate.server, "scanned/team-a/app", &digest),
        404
    );
    assert_eq!(scanned_copies(gate.data(), &digest), 0);
}

#[test]
fn an_approved_exception_lets_a_repush_of_the_rejected_digest_through() {
    if !tools_present("an_approved_exception_lets_a_repush_of_the_rejected_digest_through") {
        return;
    }
    let gate = Gate::start(&[]);
    let (layout, digest) = django_layout(&gate.scratch("vulnerable"), VULNERABLE);
    gate.push(&layout, "unscanned/team-a/app:1.0", &[]);
    decided(&gate.server, "unscanned/team-a/app", &digest, "rejected");

    let as_user =
        |user: &str, args: &[&str]| airlock_cli_env(gate.data(), args, &[("USER", user)], None);
    let requested = as_user(
        "alice",
        &[
            "exception",
            "request",
            "--tenant",
            "team-a",
            "--id",
            CVE,
            "--reason",
            "not reachable: the ORM is unused",
            "--expires",
            "30d",
        ],
    );
    assert!(
        requested.status.success(),
        "exception request failed: {}",
        String::from_utf8_lossy(&requested.stderr)
    );
    let id = String::from_utf8_lossy(&requested.stdout).trim().to_owned();
    assert!(id.starts_with("EXC-"), "{id:?}");

    let own = as_user("alice", &["exception", "approve", &id]);
    assert!(
        !own.status.success(),
        "alice approved her own request: {}",
        String::from_utf8_lossy(&own.stdout)
    );
    let approved = as_user("bob", &["exception", "approve", &id]);
    assert!(
        approved.status.success(),
        "bob's approval failed: {}",
        String::from_utf8_lossy(&approved.stderr)
    );

    gate.push(&layout, "unscanned/team-a/app:1.1", &[]);
    let row = decided(&gate.server, "unscanned/team-a/app", &digest, "promoted");
    assert!(
        row.verdict["excepted"].to_string().contains(CVE),
        "the verdict lists the waived finding: {row:#?}"
    );
    assert_eq!(
        served_digest(&gate.server, "scanned/team-a/app:1.1"),
        digest
    );
}

#[test]
fn a_tag_moved_to_a_vulnerable_image_keeps_the_promoted_digest_in_scanned() {
    if !tools_present("a_tag_moved_to_a_vulnerable_image_keeps_the_promoted_digest_in_scanned") {
        return;
    }
    let gate = Gate::start(&[]);
    let (clean, clean_digest) = django_layout(&gate.scratch("clean"), FIXED);
    gate.push(&clean, "unscanned/team-a/app:1.0", &[]);
    decided(
        &gate.server,
        "unscanned/team-a/app",
        &clean_digest,
        "promoted",
    );

    let (vulnerable, vulnerable_digest) = django_layout(&gate.scratch("vulnerable"), VULNERABLE);
    gate.push(&vulnerable, "unscanned/team-a/app:1.0", &[]);
    decided(
        &gate.server,
        "unscanned/team-a/app",
        &vulnerable_digest,
        "rejected",
    );

    assert_eq!(
        served_digest(&gate.server, "unscanned/team-a/app:1.0"),
        vulnerable_digest
    );
    assert_eq!(
        served_digest(&gate.server, "scanned/team-a/app:1.0"),
        clean_digest
    );
    assert_eq!(scanned_copies(gate.data(), &vulnerable_digest), 0);
}

#[test]
fn a_multi_arch_index_with_one_vulnerable_platform_is_rejected_whole() {
    if !tools_present("a_multi_arch_index_with_one_vulnerable_platform_is_rejected_whole") {
        return;
    }
    let gate = Gate::start(&[]);
    let layout = gate.scratch("index");
    let built = write_index(
        &layout,
        TAG,
        &[
            django_image(FIXED, fresh_seed()).platform("linux", "amd64"),
            django_image(VULNERABLE, fresh_seed()).platform("linux", "arm64"),
        ],
    );
    gate.push(&layout, "unscanned/team-a/multi:1.0", &["--all"]);

    let row = decided(
        &gate.server,
        "unscanned/team-a/multi",
        &built.index_digest,
        "rejected",
    );
    assert!(failures(&row).contains(CVE), "{row:#?}");
    for image in &built.images {
        // The platform manifests are the index's children: the index is gated.
        decided(
            &gate.server,
            "unscanned/team-a/multi",
            &image.manifest_digest,
            "covered",
        );
        assert_eq!(scanned_copies(gate.data(), &image.manifest_digest), 0);
    }
    assert_manifest_unknown(&gate.server, "scanned/team-a/multi:1.0");
    assert_eq!(
        manifest_status(&gate.server, "scanned/team-a/multi", &built.index_digest),
        404
    );
    assert_eq!(scanned_copies(gate.data(), &built.index_digest), 0);
}

/// Process ids of the `airlock scan-job` children of `pid`.
fn scan_job_children(pid: u32) -> Vec<String> {
    let output = Command::new("pgrep")
        .args(["-P", &pid.to_string(), "-f", "scan-job"])
        .output()
        .expect("run pgrep");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_server_killed_mid_scan_decides_every_image_exactly_once_after_restart() {
    if !require_tools(
        "a_server_killed_mid_scan_decides_every_image_exactly_once_after_restart",
        &[
            ("skopeo", "skopeo"),
            ("python3", "python3"),
            ("pgrep", "procps"),
        ],
    ) {
        return;
    }
    let gate = Gate::start(&[]);
    let mut pushed = Vec::new();
    for i in 0..6u8 {
        // 2 GiB of filler per image, different in each (the scan cache
        // knows layers by digest): every scan takes a while to walk it.
        let filler = huge_file_layer("data/filler.bin", 128, &[b'a' + i]);
        let version = if i % 3 == 2 { VULNERABLE } else { FIXED };
        let layout = gate.scratch(&format!("svc-{i}"));
        let digest = raw_layout(&layout, &[django_layer(version, fresh_seed()), filler]);
        let repository = format!("unscanned/team-a/svc-{i}");
        gate.push(&layout, &format!("{repository}:1.0"), &[]);
        pushed.push((repository, digest, version));
    }

    let deadline = Instant::now() + Duration::from_secs(30);
    while scan_job_children(gate.server.pid()).is_empty() {
        assert!(
            Instant::now() < deadline,
            "no scan job ran within 30s; log:\n{}",
            gate.server.logs()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let Gate { work, server } = gate;
    let data = server.data_dir.clone();
    server.kill_hard();
    let undecided = pushed
        .iter()
        .filter(|(repository, digest, _)| {
            image_row(&data, repository, digest)
                .is_none_or(|row| !TERMINAL.contains(&row.state.as_str()))
        })
        .count();
    assert!(undecided > 0, "the server was killed after every decision");

    // Jobs leased by the dead server come back when their lease expires.
    let server = Server::start(&data, &["--scan-workers", "2"]);
    for (repository, digest, version) in &pushed {
        let row = wait_for_state(
            &server,
            repository,
            digest,
            TERMINAL,
            Duration::from_secs(150),
        );
        let expected = if *version == VULNERABLE {
            "rejected"
        } else {
            "promoted"
        };
        assert_eq!(row.state, expected, "{repository}@{digest}: {row:#?}");
    }
    for (repository, digest, version) in &pushed {
        let subject = format!("{repository}@{digest}");
        let promotions = db_rows(
            &data,
            "SELECT seq FROM outbox WHERE type = 'airlock.image.promoted' AND subject = ?",
            &[&subject],
        );
        let copies = scanned_copies(&data, digest);
        if *version == VULNERABLE {
            assert_eq!((promotions.len(), copies), (0, 0), "{subject}");
        } else {
            assert_eq!((promotions.len(), copies), (1, 1), "{subject}");
        }
    }
    drop(server);
    drop(work);
}

#[test]
fn a_scan_over_its_memory_limit_rejects_the_image_with_scan_error() {
    if !tools_present("a_scan_over_its_memory_limit_rejects_the_image_with_scan_error") {
        return;
    }
    let gate = Gate::start(&["--scan-max-memory", "67108864"]);
    // A 96 MiB package database: the dpkg analyzer reads it into memory whole.
    let layout = gate.scratch("hungry");
    let digest = raw_layout(
        &layout,
        &[huge_file_layer(
            "var/lib/dpkg/status",
            6,
            b"Package: a\nStatus: install ok installed\nVersion: 1\n\n",
        )],
    );
    gate.push(&layout, "unscanned/team-a/hungry:1.0", &[]);

    let row = decided(&gate.server, "unscanned/team-a/hungry", &digest, "rejected");
    assert_eq!(row.reason.as_deref(), Some("scan_error"), "{row:#?}");
    // Either the allocation aborts the job (a signal, retried, then named
    // as the memory limit) or the walker sees the failed allocation as an
    // error ("out of memory"); both must reject.
    let failures = failures(&row);
    assert!(
        failures.contains("memory limit of 67108864 bytes") || failures.contains("out of memory"),
        "{failures}"
    );
    assert!(row.attempts >= 1, "{row:#?}");
    assert_eq!(scanned_copies(gate.data(), &digest), 0);
}

#[test]
fn a_hostile_image_is_rejected_and_the_server_keeps_serving() {
    if !tools_present("a_hostile_image_is_rejected_and_the_server_keeps_serving") {
        return;
    }
    let gate = Gate::start(&[]);
    let traversal = LayerBuilder::new()
        .file("../../../etc/passwd", "root:x:0:0::/root:/bin/sh\n")
        .symlink("var/lib/dpkg", "../../../../../tmp")
        .hardlink("etc/shadow", "../../etc/shadow")
        .file("etc/os-release", OS_RELEASE)
        .gzip();
    // A decompression bomb: a 272 MiB package database in ~300 KiB.
    let bomb = huge_file_layer("var/lib/dpkg/status", 17, b"Package: a\n");
    let layout = gate.scratch("hostile");
    let digest = raw_layout(&layout, &[traversal, bomb]);
    gate.push(&layout, "unscanned/team-a/hostile:1.0", &[]);

    let row = decided(
        &gate.server,
        "unscanned/team-a/hostile",
        &digest,
        "rejected",
    );
    assert_eq!(row.reason.as_deref(), Some("scan_error"), "{row:#?}");
    assert!(failures(&row).contains("max_file_bytes"), "{row:#?}");
    assert_manifest_unknown(&gate.server, "scanned/team-a/hostile:1.0");

    let (clean, clean_digest) = django_layout(&gate.scratch("clean"), FIXED);
    gate.push(&clean, "unscanned/team-a/app:1.0", &[]);
    decided(
        &gate.server,
        "unscanned/team-a/app",
        &clean_digest,
        "promoted",
    );
    assert_eq!(
        served_digest(&gate.server, "scanned/team-a/app:1.0"),
        clean_digest
    );
    // The CLI still sees the same data directory.
    assert!(
        airlock_cli(gate.data(), &["tenant", "list"], None)
            .status
            .success()
    );
}

/// A record published after the image was promoted: django 2.2.1 is
/// affected by it.
const LATER_RECORD: &str = r#"{"id":"CVE-2099-5151","modified":"2099-02-02T00:00:00Z",
    "published":"2099-02-01T00:00:00Z","summary":"a later flaw",
    "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    "affected":[{"package":{"ecosystem":"PyPI","name":"django"},
      "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"2.2.1"},{"fixed":"2.2.2"}]}]}]}"#;

#[test]
fn new_vulnerability_data_re_evaluates_a_promoted_image_and_raises_an_event() {
    if !tools_present("new_vulnerability_data_re_evaluates_a_promoted_image_and_raises_an_event") {
        return;
    }
    let gate = Gate::start(&[]);
    let (layout, digest) = django_layout(&gate.scratch("clean"), FIXED);
    gate.push(&layout, "unscanned/team-a/app:1.0", &[]);
    decided(&gate.server, "unscanned/team-a/app", &digest, "promoted");

    let records = gate.scratch("later");
    std::fs::create_dir_all(&records).unwrap();
    std::fs::write(records.join("CVE-2099-5151.json"), LATER_RECORD).unwrap();
    // As the deployment's operator: on PostgreSQL + S3 with its configuration.
    let output = support::airlock_command(gate.data())
        .args(["db", "import"])
        .arg(&records)
        .arg("--db")
        .arg(gate.data().join("vulndb").join("osv.db"))
        .output()
        .expect("run airlock db import");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("queued a re-evaluation of 1 promoted images"),
        "{stdout}"
    );

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let events = loop {
        let rows = db_rows(
            gate.data(),
            "SELECT data FROM outbox WHERE type = 'airlock.vulnerability.detected' AND subject LIKE ?",
            &[&format!("%{digest}")],
        );
        if !rows.is_empty() || std::time::Instant::now() > deadline {
            break rows;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(
        events.len(),
        1,
        "one vulnerability.detected event: {events:?}"
    );
    assert!(
        events[0]
            .iter()
            .any(|v| v.to_string().contains("CVE-2099-5151")),
        "{events:?}"
    );
    // Nothing is demoted: the image stays in scanned/.
    let row = decided(&gate.server, "unscanned/team-a/app", &digest, "promoted");
    assert_eq!(row.state, "promoted");
    assert_eq!(scanned_copies(gate.data(), &digest), 1);
}
