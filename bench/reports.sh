#!/usr/bin/env bash
# The gate's report files (a measurement, not a test).
#
# 1. Rendering: crates/airlock-report/examples/report_bench.rs (release)
#    builds one image report with 2,000 packages and 500 findings and renders
#    the five files of REPORT_FILES ROUNDS times; median and minimum of
#    render_all and of each writer, and each file's size.
#    Targets: render_all well under 200 ms; report.html < 2 MB.
# 2. Opening report.html in headless Chromium, CHROMIUM_RUNS times, each with
#    a fresh profile: data-render-ms (performance.now() when the page's script
#    has finished its setup, read from the dumped DOM) and the wall time of
#    the chromium process (start-up, load, layout, DOM dump).
#    Peer, in the same rounds (alternating): the same 500 findings and 2,000
#    packages as a plain static table with no script but the one-line load
#    marker, written by the example; the ratios show what the page's
#    sorting/filtering script and richer markup cost. data-script-ms (the
#    script's own run time, report only) separates the two.
# Needs chromium (Debian's package), coreutils' timeout, and cargo unless
# REPORT_BENCH names an already built report_bench.
#
# Usage: bench/reports.sh      (knobs: ROUNDS=21 CHROMIUM_RUNS=5
#                               CHROMIUM=chromium REPORT_BENCH=path
#                               STEP_TIMEOUT=60)
set -euo pipefail

ROUNDS="${ROUNDS:-21}"
CHROMIUM_RUNS="${CHROMIUM_RUNS:-5}"
CHROMIUM="${CHROMIUM:-chromium}"
STEP_TIMEOUT="${STEP_TIMEOUT:-60}"

root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
work="$(mktemp -d "${TMPDIR:-/tmp}/airlock-reports-bench.XXXXXX")"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

for tool in "$CHROMIUM" timeout; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done

cd "$root"
if [ -n "${REPORT_BENCH:-}" ]; then
    bench="$REPORT_BENCH"
else
    echo "== building report_bench (release)"
    cargo build --release --quiet -p airlock-report --example report_bench
    bench="$target/release/examples/report_bench"
fi

now() { date +%s.%N; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# ---------------------------------------------------------------- rendering
echo "== rendering ($ROUNDS rounds)"
"$bench" "$ROUNDS" "$work/report.html" "$work/peer.html" | tee "$work/render.txt"
render_ms="$(awk '/^render_all/ { sub("median_ms=", "", $2); print $2 }' "$work/render.txt")"
html_bytes="$(stat -c %s "$work/report.html")"
peer_bytes="$(stat -c %s "$work/peer.html")"

# ---------------------------------------------------------------- chromium
# Loads PAGE once; prints "RENDER_MS WALL_MS VISIBLE_ROWS SCRIPT_MS".
load() { # PAGE
    local profile dom start end
    profile="$(mktemp -d "$work/profile.XXXXXX")"
    dom="$work/dom.html"
    start="$(now)"
    timeout -k 5 "$STEP_TIMEOUT" "$CHROMIUM" --headless --disable-gpu --no-sandbox \
        --no-first-run --disable-extensions --user-data-dir="$profile" \
        --dump-dom "file://$1" >"$dom" 2>/dev/null
    end="$(now)"
    rm -rf "$profile"
    local render visible script
    render="$(grep -o 'data-render-ms="[0-9.]*"' "$dom" | head -1 | tr -dc '0-9.' || true)"
    visible="$(grep -o 'data-visible-rows="[0-9]*"' "$dom" | head -1 | tr -dc '0-9' || true)"
    script="$(grep -o 'data-script-ms="[0-9.]*"' "$dom" | head -1 | tr -dc '0-9.' || true)"
    [ -n "$render" ] || { echo "bench: no data-render-ms in the DOM of $1" >&2; exit 1; }
    awk -v r="$render" -v s="$start" -v e="$end" -v v="${visible:--}" -v j="${script:--}" \
        'BEGIN { printf "%.1f %.1f %s %s\n", r, (e - s) * 1000, v, (j == "-" ? j : sprintf("%.1f", j)) }'
}

echo "== chromium ($("$CHROMIUM" --version 2>/dev/null | head -1)), $CHROMIUM_RUNS rounds, fresh profile each"
load "$work/peer.html" >/dev/null # warm the page cache and the binary once
report_render=() report_wall=() report_script=() peer_render=() peer_wall=()
for round in $(seq 1 "$CHROMIUM_RUNS"); do
    if [ $((round % 2)) -eq 1 ]; then order="report peer"; else order="peer report"; fi
    for page in $order; do
        read -r render wall visible script < <(load "$work/$page.html")
        printf '  round %d %-6s render %7s ms  wall %7s ms  script %5s ms  visible rows %s\n' \
            "$round" "$page" "$render" "$wall" "$script" "$visible"
        if [ "$page" = report ]; then
            [ "$visible" = 500 ] || { echo "bench: the report shows $visible rows, not 500" >&2; exit 1; }
            report_render+=("$render") report_wall+=("$wall") report_script+=("$script")
        else
            peer_render+=("$render") peer_wall+=("$wall")
        fi
    done
done

r_render="$(echo "${report_render[*]}" | median)"
r_wall="$(echo "${report_wall[*]}" | median)"
r_script="$(echo "${report_script[*]}" | median)"
p_render="$(echo "${peer_render[*]}" | median)"
p_wall="$(echo "${peer_wall[*]}" | median)"

echo
echo "== results ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg))"
printf '| metric | report.html | peer (static table) | ratio | target |\n'
printf '| --- | ---: | ---: | ---: | --- |\n'
printf '| render_all, 5 files (median ms) | %s | | | well under 200 |\n' "$render_ms"
printf '| HTML size (bytes) | %s | %s | %s | < 2,000,000 |\n' "$html_bytes" "$peer_bytes" "$(ratio "$html_bytes" "$peer_bytes")"
printf '| Chromium data-render-ms (median) | %s | %s | %s | |\n' "$r_render" "$p_render" "$(ratio "$r_render" "$p_render")"
printf '| Chromium wall, --dump-dom (median ms) | %s | %s | %s | |\n' "$r_wall" "$p_wall" "$(ratio "$r_wall" "$p_wall")"
printf '| the page script alone, data-script-ms (median ms) | %s | | | |\n' "$r_script"
