//! Compares version pairs from standard input with one scheme, for checking
//! this crate against other implementations (see `oracles/run.sh`).
//!
//! Usage: `compare SCHEME < pairs`, where each input line is `a<TAB>b`; each
//! output line is `-1`, `0`, `1`, or `E` when either version is rejected.

use std::io::{BufRead, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(name) = std::env::args().nth(1) else {
        eprintln!("usage: compare SCHEME < pairs");
        return ExitCode::from(2);
    };
    let Some(scheme) = airlock_version::ALL.iter().find(|s| s.name() == name) else {
        eprintln!("unknown scheme {name:?}");
        return ExitCode::from(2);
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("read standard input");
        let (a, b) = line.split_once('\t').unwrap_or((&line, ""));
        let answer = match scheme.compare(a, b) {
            Ok(std::cmp::Ordering::Less) => "-1",
            Ok(std::cmp::Ordering::Equal) => "0",
            Ok(std::cmp::Ordering::Greater) => "1",
            Err(_) => "E",
        };
        writeln!(out, "{answer}").expect("write standard output");
    }
    ExitCode::SUCCESS
}
