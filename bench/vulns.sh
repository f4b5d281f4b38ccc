#!/usr/bin/env bash
# Real-data check of the vulnerability database (a measurement, not a test).
#
# Imports every ../shared/data/osv/<Ecosystem>/all.zip with a release build of
# `airlock db import`, prints the time and the database size against the zips
# (targets: under 15 s, no larger than the zips), then times matching 2,000
# packages drawn from the data (target: under 50 ms) with the vulndb_bench
# example. Usage: bench/vulns.sh [OSV_DATA_DIR]
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
data="${1:-$root/../shared/data/osv}"
target="${CARGO_TARGET_DIR:-$root/target}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$root"
cargo build --release --quiet -p airlock-cli
cargo build --release --quiet -p airlock-vulndb --example vulndb_bench

zips=("$data"/*/all.zip)
zip_bytes=$(cat "${zips[@]}" | wc -c)

echo "== airlock db import (${#zips[@]} zips, $zip_bytes bytes)"
start=$(date +%s.%N)
"$target/release/airlock" db import --db "$work/osv.db" "${zips[@]}"
end=$(date +%s.%N)
db_bytes=$(wc -c < "$work/osv.db")
awk -v s="$start" -v e="$end" -v d="$db_bytes" -v z="$zip_bytes" \
    'BEGIN { printf "import wall time %.2f s; database %d bytes = %.0f%% of the zips\n", e - s, d, 100 * d / z }'

echo "== airlock db status"
"$target/release/airlock" db status --db "$work/osv.db"

echo "== matching 2,000 packages"
"$target/release/examples/vulndb_bench" "$work/bench.db" "${zips[@]}"
