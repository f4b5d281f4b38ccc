#!/usr/bin/env bash
# Real-data check of the vulnerability database (a measurement, not a test).
#
# Imports every ../shared/data/osv/<Ecosystem>/all.zip with a release build of
# `airlock db import`, prints the time and the database size against the zips
# (targets: under 15 s, no larger than the zips), then times matching 2,000
# packages drawn from the data (target: under 50 ms) with the vulndb_bench
# example; then builds an OCI image with old Python packages, an old Cargo.lock
# and a real Go executable (bench/vulns/build_fixture.py), scans it with
# `airlock scan --format json`, and compares the findings per ecosystem with
# an independent Python reference (bench/vulns/reference.py, PEP 440 through
# `packaging`, simple SemVer range checks for crates.io and Go).
#
# Usage: bench/vulns.sh [OSV_DATA_DIR]
# Environment: GO_BINARY (default: the google-cloud-cli `cbt` executable,
# else the first Go executable in /usr/bin with module build info),
# VULNS_OUT (keep the image, report and comparison there).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
data="${1:-$root/../shared/data/osv}"
target="${CARGO_TARGET_DIR:-$root/target}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
out="${VULNS_OUT:-$work/out}"
mkdir -p "$out"

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

echo "== fixture image"
go_binary="${GO_BINARY:-}"
if [[ -z "$go_binary" ]]; then
    for candidate in /usr/lib/google-cloud-sdk/bin/cbt /usr/bin/*; do
        if [[ -f "$candidate" && -x "$candidate" ]] \
            && go version -m "$candidate" 2>/dev/null | grep -q "^[[:space:]]dep"; then
            go_binary="$(readlink -f "$candidate")"
            break
        fi
    done
fi
[[ -n "$go_binary" ]] || { echo "no Go executable with module info found; set GO_BINARY" >&2; exit 1; }
echo "Go executable: $go_binary ($(go version "$go_binary" 2>/dev/null | awk '{print $2}'), $(go version -m "$go_binary" | grep -c "^[[:space:]]dep") modules)"
python3 "$root/bench/vulns/build_fixture.py" "$work/layer.tar" "$go_binary"
rm -rf "$out/image"
python3 "$root/bench/inventory/build_image.py" --oci "$out/image" --tag vulns \
    --layer "$work/layer.tar" "COPY vulns fixture /"

echo "== airlock scan (release build)"
start=$(date +%s.%N)
status=0
"$target/release/airlock" scan "oci:$out/image:vulns" --format json --db "$work/osv.db" \
    --no-cache -o "$out/airlock.json" || status=$?
end=$(date +%s.%N)
[[ $status -eq 0 ]] || { echo "airlock scan failed ($status)" >&2; exit 1; }
awk -v s="$start" -v e="$end" 'BEGIN { printf "scan wall time %.2f s\n", e - s }'
python3 - "$out/airlock.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
for one in report.get("reports", [report]):
    packages = one["packages"]
    print(f"{len(packages)} packages, {len(one.get('findings', []))} findings, "
          f"vulnerability_data={one['vulnerability_data']}, {len(one.get('warnings', []))} warnings")
    for p in packages:
        if p["ecosystem"] != "Go" or p["name"] == "stdlib":
            print(f"    {p['ecosystem']:<10} {p['name']} {p['version']}")
    for warning in one.get("warnings", []):
        print(f"    warning: {warning}")
PY

echo "== reference comparison (PyPI with packaging, crates.io and Go with SemVer)"
python3 -m venv "$work/venv"
if ! "$work/venv/bin/pip" install --quiet --disable-pip-version-check packaging; then
    echo "pip install packaging failed; falling back to the system python's packaging" >&2
    rm -rf "$work/venv"
    python3 -m venv --system-site-packages "$work/venv"
fi
"$work/venv/bin/python" -c 'import packaging; print("packaging", packaging.__version__)'
compare=0
"$work/venv/bin/python" "$root/bench/vulns/reference.py" "$out/airlock.json" "$data" \
    | tee "$out/comparison.txt" || compare=$?
if [[ $compare -eq 0 ]]; then
    echo "no differences"
else
    echo "differences found (see bench/README.md, ## vulns, for the explanations)"
fi
