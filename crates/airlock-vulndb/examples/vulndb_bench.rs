//! Measures import and matching on real data (not a test; see bench/vulns.sh).
//!
//! `vulndb_bench DB ZIP...` imports the zips into a new database at DB,
//! prints time and size against the zips, then matches 2,000 packages drawn
//! from the database (names that have records, with low versions so that
//! most ranges are evaluated) and prints the matching time: single runs, then
//! the median of `VULNDB_BENCH_ROUNDS` (default 15) runs. With
//! `VULNDB_BENCH_FINDINGS=FILE` it also writes the findings of the cold run
//! as JSON, to check that a speed-up changed none.

use std::path::PathBuf;
use std::time::Instant;

use airlock_matcher::match_packages;
use airlock_scan_model::Package;
use airlock_vulndb::{VulnDb, import};

/// CPU time of this thread in ms (Linux), so a busy machine does not inflate
/// the numbers; falls back to 0 elsewhere.
fn cpu_ms() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|n| n.parse::<f64>().ok())
        })
        .map_or(0.0, |ns| ns / 1e6)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let db = args.next().ok_or("usage: vulndb_bench DB ZIP...")?;
    let zips: Vec<PathBuf> = args.collect();
    let _ = std::fs::remove_file(&db);

    let started = Instant::now();
    let report = import(&db, &zips)?;
    let import_time = started.elapsed();
    let zip_bytes: u64 = zips
        .iter()
        .map(|z| std::fs::metadata(z).map(|m| m.len()).unwrap_or(0))
        .sum();
    let db_bytes = std::fs::metadata(&db)?.len();
    for source in &report.sources {
        println!(
            "{:<10} records {:>6} withdrawn {:>4} bad {:>4}",
            source.ecosystem, source.records, source.withdrawn, source.bad
        );
        for example in &source.bad_examples {
            println!("    bad: {example}");
        }
    }
    println!(
        "import: {:.2}s; database {} bytes ({:.1} MiB) vs zips {} bytes ({:.1} MiB): {:.0}%",
        import_time.as_secs_f64(),
        db_bytes,
        db_bytes as f64 / 1048576.0,
        zip_bytes,
        zip_bytes as f64 / 1048576.0,
        100.0 * db_bytes as f64 / zip_bytes as f64
    );

    let conn = rusqlite::Connection::open(&db)?;
    let mut statement = conn.prepare(
        "SELECT ecosystem, name FROM (SELECT DISTINCT ecosystem, name FROM affected)
         ORDER BY (length(name) * 7919 + unicode(name)) % 1000, name LIMIT 2000",
    )?;
    let packages: Vec<Package> = statement
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(|(ecosystem, name)| {
            let version = match ecosystem.split(':').next().unwrap_or("") {
                "Debian" => "1.0-1",
                "Alpine" => "1.0-r0",
                "PyPI" => "1.0",
                "Go" => "v0.1.0",
                _ => "0.1.0",
            };
            Package {
                ecosystem,
                name,
                version: version.into(),
                source_name: None,
                source_version: None,
                purl: String::new(),
                licenses: Vec::new(),
                layer: String::new(),
                path: String::new(),
                application: false,
            }
        })
        .collect();
    drop(statement);
    drop(conn);

    let database = VulnDb::open(&db)?;
    let started = Instant::now();
    let cpu = cpu_ms();
    let mut records = 0;
    let mut all = std::collections::BTreeMap::new();
    for package in &packages {
        let (key, _) = airlock_matcher::ecosystem::feed_key(package);
        let found = database.advisories_for(&package.ecosystem, &key)?;
        records += found.len();
        for advisory in found {
            all.insert(advisory.id.clone(), advisory);
        }
    }
    println!(
        "lookups only: {} packages, {records} records in {:.1} ms wall, {:.1} ms cpu",
        packages.len(),
        started.elapsed().as_secs_f64() * 1000.0,
        cpu_ms() - cpu
    );
    let memory = airlock_matcher::MemorySource::new(all.into_values().collect());
    let started = Instant::now();
    let cpu = cpu_ms();
    let outcome = match_packages(&packages, &memory);
    println!(
        "match (records in memory): {} packages in {:.1} ms wall, {:.1} ms cpu: {} findings",
        packages.len(),
        started.elapsed().as_secs_f64() * 1000.0,
        cpu_ms() - cpu,
        outcome.findings.len()
    );
    let patched: Vec<Package> = packages
        .iter()
        .map(|p| {
            let mut p = p.clone();
            p.version = match p.ecosystem.split(':').next().unwrap_or("") {
                "Debian" => "99:99-1",
                "Alpine" => "99999-r0",
                "Go" => "v99.0.0",
                _ => "99999.0.0",
            }
            .into();
            p
        })
        .collect();
    let started = Instant::now();
    let cpu = cpu_ms();
    let outcome = match_packages(&patched, &database);
    println!(
        "match (all newer than every fix): {} packages in {:.1} ms wall, {:.1} ms cpu: {} findings, {} records examined",
        patched.len(),
        started.elapsed().as_secs_f64() * 1000.0,
        cpu_ms() - cpu,
        outcome.findings.len(),
        outcome.stats.records_examined
    );
    for round in ["cold", "warm"] {
        let started = Instant::now();
        let cpu = cpu_ms();
        let outcome = match_packages(&packages, &database);
        println!(
            "match ({round}): {} packages in {:.1} ms wall, {:.1} ms cpu: {} findings, {} warnings, {} records examined",
            packages.len(),
            started.elapsed().as_secs_f64() * 1000.0,
            cpu_ms() - cpu,
            outcome.findings.len(),
            outcome.warnings.len(),
            outcome.stats.records_examined
        );
        if let Some(path) = std::env::var_os("VULNDB_BENCH_FINDINGS").filter(|_| round == "cold") {
            // For checking that a speed-up changed no finding.
            std::fs::write(path, serde_json::to_vec_pretty(&outcome.findings)?)?;
        }
        if round == "warm" {
            for warning in outcome.warnings.iter().take(5) {
                println!("    warning: {warning}");
            }
        }
    }
    // Single runs on a shared machine are noisy: repeat and report medians
    // (VULNDB_BENCH_ROUNDS, default 15).
    let rounds: usize = std::env::var("VULNDB_BENCH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(15);
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        let before = cpu_ms();
        let outcome = match_packages(&packages, &database);
        cpu.push(cpu_ms() - before);
        wall.push(started.elapsed().as_secs_f64() * 1000.0);
        drop(outcome);
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied().unwrap_or(0.0)
    };
    println!(
        "match (median of {rounds} rounds): {} packages in {:.1} ms wall, {:.1} ms cpu",
        packages.len(),
        median(&mut wall),
        median(&mut cpu)
    );
    Ok(())
}
