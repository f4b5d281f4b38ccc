//! Seeds and measures the dashboard's data layer (issue 8): 10,000 images
//! across 20 tenants and 1,000,000 findings in one SQLite file, then times
//! the `SearchStore` queries behind each dashboard page.
//!
//! ```text
//! dashboard_data seed  <db> [images] [findings-per-image]
//! dashboard_data query <db> [runs]
//! dashboard_data export <db> <rows> <images|findings>   (CSV to stdout)
//! ```
//!
//! Seeding opens the store once (so the real migrations create the schema)
//! and then bulk-inserts through its own connection in one transaction:
//! the same tables and columns the deciding transition writes
//! (`image_findings`, `finding_ids`, the counts on `images`), with
//! multi-row `INSERT`s, because a million rows through one transition per
//! image would measure the audit chain, not the queries. Data is
//! deterministic (a fixed-seed xorshift): vulnerability popularity is
//! skewed (draws are `N·u²`), so a few records are in half the images and
//! most in a handful; half the records are `GHSA-…` with a `CVE-…` alias.

use std::path::Path;
use std::time::Instant;

use airlock_db_sqlite::SqliteMetadataStore;
use airlock_store::{FindingQuery, ImageQuery, SearchStore, severity_name};
use futures::StreamExt;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Connection, SqliteConnection};
use std::io::Write;

const TENANTS: usize = 20;
const VULNERABILITIES: u64 = 20_000;
const PACKAGES: u64 = 2_000;
const BASE_MILLIS: i64 = 1_767_225_600_000; // 2026-01-01

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The vulnerability id of record `k` and its alias, if any.
fn vulnerability(k: u64) -> (String, Option<String>) {
    let cve = format!("CVE-2024-{k:05}");
    if k.is_multiple_of(2) {
        (
            format!("GHSA-{k:04x}-bnch-{:04x}", k * 31 % 65_536),
            Some(cve),
        )
    } else {
        (cve, None)
    }
}

/// The package record `k` is about: `openssl` for the most common ones.
fn package(k: u64) -> String {
    let p = k * 7919 % PACKAGES;
    if p < 3 {
        "openssl".to_owned()
    } else {
        format!("pkg-{p:04}")
    }
}

fn severity(k: u64) -> i64 {
    i64::try_from(k * 2_654_435_761 % 5).unwrap_or(0)
}

async fn seed(path: &Path, images: usize, per_image: usize) -> Result<(), String> {
    drop(
        SqliteMetadataStore::open(path)
            .await
            .map_err(|e| e.to_string())?,
    );
    let options = SqliteConnectOptions::new()
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Off);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| e.to_string())?;
    let mut tx = conn.begin().await.map_err(|e| e.to_string())?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let states = ["promoted", "promoted", "promoted", "promoted", "rejected"];
    for i in 0..images {
        let tenant = format!("tenant-{:02}", i % TENANTS);
        let repository = format!("unscanned/{tenant}/app-{:03}", (i / TENANTS) % 50);
        let digest = format!("sha256:{:064x}", i + 1);
        let created = BASE_MILLIS + i64::try_from(i).unwrap_or(0) * 60_000;
        let mut counts = [0i64; 5];
        let mut rows = Vec::with_capacity(per_image);
        let mut ids = std::collections::BTreeSet::new();
        for _ in 0..per_image {
            let u = rng.unit();
            let k = ((VULNERABILITIES as f64) * u * u) as u64;
            let (id, alias) = vulnerability(k);
            let sev = severity(k);
            counts[usize::try_from(sev).unwrap_or(0)] += 1;
            ids.insert((id.clone(), id.clone()));
            if let Some(alias) = &alias {
                ids.insert((alias.clone(), id.clone()));
            }
            rows.push((k, id, alias, sev));
        }
        let max = (0..5).rev().find(|s| counts[*s] > 0);
        let state = states[usize::try_from(rng.below(5)).unwrap_or(0)];
        sqlx::query(
            "INSERT INTO images (id, tenant, repository, digest, media_type, state, verdict,
                 attempts, created_at, updated_at, pushed_by, max_severity, count_critical,
                 count_high, count_medium, count_low, count_unknown, scanned_at)
             VALUES (?, ?, ?, ?, 'application/vnd.oci.image.manifest.v1+json', ?, '{}', 0, ?, ?,
                 'ci-robot', ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(i64::try_from(i + 1).unwrap_or(0))
        .bind(tenant)
        .bind(repository)
        .bind(digest)
        .bind(state)
        .bind(created)
        .bind(created + 90_000)
        .bind(max.map(|m| i64::try_from(m).unwrap_or(0)))
        .bind(counts[4])
        .bind(counts[3])
        .bind(counts[2])
        .bind(counts[1])
        .bind(counts[0])
        .bind(created + 60_000)
        .execute(&mut *tx)
        .await
        .map_err(|e| format!("insert image: {e}"))?;
        let image_id = i64::try_from(i + 1).unwrap_or(0);
        for chunk in rows.chunks(200) {
            let marks = vec!["(?, ?, ?, 'Debian:12', ?, '1.0-1', ?, ?, ?, ?, NULL)"; chunk.len()]
                .join(", ");
            let mut query = sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO image_findings (image_id, vulnerability, aliases, ecosystem, package,
                     version, fixed_versions, severity, cvss, summary, platform) VALUES {marks}"
            )));
            for (k, id, alias, sev) in chunk {
                let aliases = match alias {
                    Some(a) => format!("[\"{a}\"]"),
                    None => "[]".to_owned(),
                };
                let fixed = if k.is_multiple_of(3) {
                    "[]"
                } else {
                    "[\"1.0-2\"]"
                };
                query = query
                    .bind(image_id)
                    .bind(id.clone())
                    .bind(aliases)
                    .bind(package(*k))
                    .bind(fixed)
                    .bind(*sev)
                    .bind(2.0 * (*sev as f64) + 1.5)
                    .bind(format!("{id} in {}", package(*k)));
            }
            query
                .execute(&mut *tx)
                .await
                .map_err(|e| format!("insert findings: {e}"))?;
        }
        let ids: Vec<(String, String)> = ids.into_iter().collect();
        for chunk in ids.chunks(300) {
            let marks = vec!["(?, ?, ?)"; chunk.len()].join(", ");
            let mut query = sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO finding_ids (id, image_id, vulnerability) VALUES {marks}"
            )));
            for (id, record) in chunk {
                query = query.bind(id.clone()).bind(image_id).bind(record.clone());
            }
            query
                .execute(&mut *tx)
                .await
                .map_err(|e| format!("insert finding ids: {e}"))?;
        }
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    sqlx::query("ANALYZE")
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

fn median_ms(mut samples: Vec<f64>) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    (samples[n / 2], samples[0], samples[n - 1])
}

async fn time<F, Fut>(label: &str, runs: usize, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = (usize, u64)>,
{
    let (rows, total) = f().await; // warm-up
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f().await;
        samples.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let (median, min, max) = median_ms(samples);
    println!("| {label} | {rows} | {total} | {median:.2} | {min:.2} | {max:.2} |");
}

async fn query(path: &Path, runs: usize) -> Result<(), String> {
    let store = SqliteMetadataStore::open(path)
        .await
        .map_err(|e| e.to_string())?;
    let page = |q: ImageQuery| ImageQuery { limit: 50, ..q };
    let findings = |q: FindingQuery| FindingQuery { limit: 50, ..q };
    let typical = vulnerability(1000);
    let typical_cve = typical.1.unwrap_or(typical.0);
    let common_cve = vulnerability(0).1.unwrap_or_default();
    let one_tenant = Some(vec!["tenant-07".parse().map_err(|e| format!("{e}"))?]);
    let three_tenants = Some(
        ["tenant-01", "tenant-02", "tenant-03"]
            .iter()
            .map(|t| t.parse().map_err(|e| format!("{e}")))
            .collect::<Result<Vec<_>, String>>()?,
    );
    println!("| page (store query) | rows | total | median ms | min ms | max ms |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let s = &store;
    macro_rules! images {
        ($label:expr, $query:expr) => {{
            let q = page($query);
            time($label, runs, || async {
                let (rows, total) = s.search_images(&q).await.expect("search images");
                (rows.len(), total)
            })
            .await;
        }};
    }
    macro_rules! hits {
        ($label:expr, $query:expr) => {{
            let q = findings($query);
            time($label, runs, || async {
                let (rows, total) = s.search_findings(&q).await.expect("search findings");
                (rows.len(), total)
            })
            .await;
        }};
    }
    images!(
        "images, first page, no filter, pushed desc (admin)",
        ImageQuery::default()
    );
    images!(
        "images, first page, one tenant (developer)",
        ImageQuery {
            tenants: one_tenant.clone(),
            ..ImageQuery::default()
        }
    );
    images!(
        "images, page 100 (offset 4950), no filter",
        ImageQuery {
            offset: 4950,
            ..ImageQuery::default()
        }
    );
    images!(
        &format!("images with {typical_cve} (typical CVE)"),
        ImageQuery {
            vulnerability: Some(typical_cve.clone()),
            ..ImageQuery::default()
        }
    );
    images!(
        &format!("images with {common_cve} (in ~half the images)"),
        ImageQuery {
            vulnerability: Some(common_cve.clone()),
            ..ImageQuery::default()
        }
    );
    images!(
        "images with package openssl (most common package)",
        ImageQuery {
            package: Some("openssl".into()),
            ..ImageQuery::default()
        }
    );
    images!(
        "images with package pkg-1234",
        ImageQuery {
            package: Some("pkg-1234".into()),
            ..ImageQuery::default()
        }
    );
    images!(
        "images, min severity critical, sort severity, 3 tenants",
        ImageQuery {
            tenants: three_tenants.clone(),
            min_severity: Some(4),
            sort: airlock_store::ImageSort {
                key: airlock_store::ImageSortKey::Severity,
                descending: true,
            },
            ..ImageQuery::default()
        }
    );
    images!(
        "images, repository contains \"app-01\"",
        ImageQuery {
            repository_contains: Some("app-01".into()),
            ..ImageQuery::default()
        }
    );
    hits!(
        "findings of one image (image 5000)",
        FindingQuery {
            image_id: Some(5000),
            ..FindingQuery::default()
        }
    );
    hits!(
        &format!("vulnerabilities: {typical_cve} across tenants"),
        FindingQuery {
            vulnerability: Some(typical_cve.clone()),
            ..FindingQuery::default()
        }
    );
    hits!(
        &format!("vulnerabilities: {common_cve} across tenants"),
        FindingQuery {
            vulnerability: Some(common_cve.clone()),
            ..FindingQuery::default()
        }
    );
    hits!(
        &format!("vulnerabilities: {typical_cve}, 3 tenants, fixable"),
        FindingQuery {
            tenants: three_tenants.clone(),
            vulnerability: Some(typical_cve.clone()),
            fixable_only: true,
            ..FindingQuery::default()
        }
    );
    hits!(
        "vulnerabilities: no filter (counts all 1M rows)",
        FindingQuery::default()
    );
    Ok(())
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// Streams `rows` rows as CSV to stdout, the way the export use case does
/// (store stream → encoder → 64 KiB chunks), and reports time and rows on
/// stderr.
async fn export(path: &Path, rows: usize, what: &str) -> Result<(), String> {
    let store = SqliteMetadataStore::open(path)
        .await
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut buffer = Vec::with_capacity(64 * 1024 + 4096);
    let mut written = 0usize;
    let mut flush = |buffer: &mut Vec<u8>, force: bool| -> Result<(), String> {
        if force || buffer.len() >= 64 * 1024 {
            out.write_all(buffer).map_err(|e| e.to_string())?;
            buffer.clear();
        }
        Ok(())
    };
    if what == "images" {
        let query = ImageQuery {
            limit: rows,
            ..ImageQuery::default()
        };
        let mut stream = store.stream_images(&query);
        buffer.extend_from_slice(b"id,tenant,repository,digest,state,max_severity,critical,high\n");
        while let Some(image) = stream.next().await {
            let image = image.map_err(|e| e.to_string())?;
            let line = [
                image.id.to_string(),
                image.tenant.to_string(),
                image.repository.to_string(),
                image.digest.to_string(),
                image.state.to_string(),
                image
                    .max_severity
                    .map(severity_name)
                    .unwrap_or("")
                    .to_owned(),
                image.counts.critical.to_string(),
                image.counts.high.to_string(),
            ]
            .iter()
            .map(|f| csv_field(f))
            .collect::<Vec<_>>()
            .join(",");
            buffer.extend_from_slice(line.as_bytes());
            buffer.push(b'\n');
            written += 1;
            flush(&mut buffer, false)?;
        }
    } else {
        let query = FindingQuery {
            limit: rows,
            ..FindingQuery::default()
        };
        let mut stream = store.stream_findings(&query);
        buffer.extend_from_slice(
            b"image_id,tenant,repository,digest,vulnerability,aliases,package,version,fixed_versions,severity,summary\n",
        );
        while let Some(hit) = stream.next().await {
            let hit = hit.map_err(|e| e.to_string())?;
            let f = &hit.finding;
            let line = [
                hit.image_id.to_string(),
                hit.tenant.to_string(),
                hit.repository.to_string(),
                hit.digest.to_string(),
                f.vulnerability.clone(),
                f.aliases.join(" "),
                f.package.clone(),
                f.version.clone(),
                f.fixed_versions.join(" "),
                severity_name(f.severity).to_owned(),
                f.summary.clone().unwrap_or_default(),
            ]
            .iter()
            .map(|f| csv_field(f))
            .collect::<Vec<_>>()
            .join(",");
            buffer.extend_from_slice(line.as_bytes());
            buffer.push(b'\n');
            written += 1;
            flush(&mut buffer, false)?;
        }
    }
    flush(&mut buffer, true)?;
    eprintln!(
        "exported {written} {what} rows in {:.1} ms",
        start.elapsed().as_secs_f64() * 1000.0
    );
    Ok(())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    let number = |i: usize, default: usize| {
        arg(i)
            .map(|v| v.parse().expect("a number"))
            .unwrap_or(default)
    };
    let result = match (arg(0), arg(1)) {
        (Some("seed"), Some(path)) => {
            let start = Instant::now();
            let images = number(2, 10_000);
            let per_image = number(3, 100);
            let result = seed(Path::new(path), images, per_image).await;
            eprintln!(
                "seeded {images} images, {} findings in {:.1} s",
                images * per_image,
                start.elapsed().as_secs_f64()
            );
            result
        }
        (Some("query"), Some(path)) => query(Path::new(path), number(2, 21)).await,
        (Some("export"), Some(path)) => {
            export(
                Path::new(path),
                number(2, 100_000),
                arg(3).unwrap_or("findings"),
            )
            .await
        }
        _ => Err("usage: dashboard_data seed|query|export <db> [...]".to_owned()),
    };
    if let Err(e) = result {
        eprintln!("dashboard_data: {e}");
        std::process::exit(1);
    }
}
