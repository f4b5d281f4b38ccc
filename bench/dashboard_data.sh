#!/usr/bin/env bash
# The dashboard's data layer (issue 8) at scale (a measurement, not a test).
#
# Seeds one SQLite metadata database with 10,000 images across 20 tenants
# and 1,000,000 findings (crates/airlock-db-sqlite/examples/dashboard_data.rs:
# the real migrations, then a bulk insert in one transaction into the same
# tables the deciding transition writes), then times the SearchStore query
# behind each dashboard page (median, min and max of RUNS after a warm-up)
# and a 100,000-row streamed CSV export of findings and of all images (time
# and peak RSS via /usr/bin/time -v when present).
# Target: every page query well under 100 ms.
#
# Usage: bench/dashboard_data.sh   (knobs: RUNS=21 IMAGES=10000 PER_IMAGE=100
#                                   EXPORT_ROWS=100000 KEEP=1 DB=path)
set -euo pipefail

RUNS="${RUNS:-21}"
IMAGES="${IMAGES:-10000}"
PER_IMAGE="${PER_IMAGE:-100}"
EXPORT_ROWS="${EXPORT_ROWS:-100000}"

root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
work="$(mktemp -d "${TMPDIR:-/tmp}/airlock-dashboard-bench.XXXXXX")"
cleanup() { [ -n "${KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT

cd "$root"
echo "== building the seeder (release)"
cargo build --release --quiet -p airlock-db-sqlite --example dashboard_data
bin="$target/release/examples/dashboard_data"

db="${DB:-$work/meta.db}"
if [ ! -e "$db" ]; then
    echo "== seeding $IMAGES images x $PER_IMAGE findings into $db"
    "$bin" seed "$db" "$IMAGES" "$PER_IMAGE"
fi
echo "== database: $(du -sh "$db" | cut -f1) (+ WAL $(du -sh "$db-wal" 2>/dev/null | cut -f1 || echo 0))"

echo "== page queries (median of $RUNS)"
"$bin" query "$db" "$RUNS"

export_run() { # ROWS WHAT
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -v "$bin" export "$db" "$1" "$2" 2>"$work/time.txt" | wc -c >"$work/bytes.txt"
        grep -E '^exported' "$work/time.txt"
        grep -E 'Maximum resident set size|Elapsed \(wall clock\)' "$work/time.txt" | sed 's/^\s*/    /'
    else
        "$bin" export "$db" "$1" "$2" | wc -c >"$work/bytes.txt"
    fi
    echo "    $(cat "$work/bytes.txt") bytes of CSV"
}
echo "== streamed CSV exports"
export_run "$EXPORT_ROWS" findings
export_run "$IMAGES" images
