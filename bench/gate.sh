#!/usr/bin/env bash
# The quarantine gate under load (a measurement, not a test).
#
# Starts a release build of `airlock serve` (SQLite, local disk, scan workers
# in child processes) with a fresh vulnerability database, and measures:
#   1. push-to-promoted latency of a ~100 MB image (two layers of random
#      data; fresh layers every run, so no scan cache helps), median of RUNS,
#      with the scan itself (scanning -> passed in the image history) shown
#      separately; gate overhead = (promoted - push done) - scan time.
#      Target: the gate adds under 1 s beyond the scan.
#      Peer: the same push to the CNCF distribution registry (no gate), in the
#      same run, so the push part can be compared.
#   2. N concurrent pushes (default 50) of distinct small images from two
#      tenants: every one must reach a terminal state; throughput (images
#      per minute from first push to last decision) and the spread of
#      push-done -> decided latency (p50, p90, max).
# Needs skopeo, umoci, curl, python3, docker-registry.
#
# Usage: bench/gate.sh     (knobs: RUNS=10 LAYER_MB=50 CONCURRENT=50
#                           SCAN_WORKERS=2 AIRLOCK_BIN=path DISTRIBUTION=path)
set -euo pipefail

RUNS="${RUNS:-10}"
LAYER_MB="${LAYER_MB:-50}"
CONCURRENT="${CONCURRENT:-50}"
SCAN_WORKERS="${SCAN_WORKERS:-2}"
DISTRIBUTION="${DISTRIBUTION:-/usr/bin/docker-registry}"
ADMIN_PASSWORD="bench-admin-password"
CREDS="admin:$ADMIN_PASSWORD"

root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
work="$(mktemp -d "${TMPDIR:-/tmp}/airlock-gate-bench.XXXXXX")"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

for tool in skopeo umoci curl python3 "$DISTRIBUTION"; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done

cd "$root"
if [ -n "${AIRLOCK_BIN:-}" ]; then
    airlock="$AIRLOCK_BIN"
else
    echo "== building airlock (release)"
    cargo build --release --quiet -p airlock-cli
    airlock="$target/release/airlock"
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_ready() { # URL
    for _ in $(seq 1 200); do
        curl -sf --noproxy '*' -o /dev/null "$1" && return 0
        sleep 0.05
    done
    echo "bench: $1 did not come up" >&2
    exit 1
}
now() { date +%s.%N; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---------------------------------------------------------------- airlock
data="$work/airlock-data"
mkdir -p "$data/osv"
# One OSV record for a package no image here contains: the database is
# present and fresh, so the default policy (block critical, data <= 7 days)
# passes clean images.
cat >"$data/osv/BENCH-1.json" <<'JSON'
{"id": "BENCH-2026-0001", "modified": "2026-01-01T00:00:00Z",
 "affected": [{"package": {"ecosystem": "PyPI", "name": "not-installed-here"},
   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}]}]}
JSON
"$airlock" db import --db "$data/vulndb/osv.db" "$data/osv" >/dev/null
"$airlock" tenant create bench --data-dir "$data" >/dev/null
"$airlock" tenant create other --data-dir "$data" >/dev/null
port="$(free_port)"
AIRLOCK_ADMIN_PASSWORD="$ADMIN_PASSWORD" "$airlock" serve --listen "127.0.0.1:$port" \
    --data-dir "$data" --scan-workers "$SCAN_WORKERS" --token-ttl 1h 2>>"$work/airlock.log" &
pids+=($!)
wait_ready "http://127.0.0.1:$port/healthz"
token=$(curl -sf --noproxy '*' -u "$CREDS" "http://127.0.0.1:$port/auth/token?service=airlock" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')

# image TENANT DIGESTFILE: prints "state scan_seconds decided_epoch" once decided.
wait_decided() {
    python3 - "$port" "$token" "$1" "$2" <<'PY'
import json, sys, time, urllib.request, datetime
port, token, tenant, digest = sys.argv[1:5]
url = f"http://127.0.0.1:{port}/api/v1/tenants/{tenant}/images/{digest}"
deadline = time.time() + 900
while time.time() < deadline:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request) as response:
            image = json.load(response)
    except urllib.error.HTTPError:
        time.sleep(0.02)
        continue
    if image["state"] in ("promoted", "rejected", "covered"):
        decided = time.time()
        def at(entry):
            return datetime.datetime.fromisoformat(entry["at"].replace("Z", "+00:00")).timestamp()
        history = image.get("history", [])
        start = next((at(h) for h in history if h["to"] == "scanning"), None)
        end = next((at(h) for h in history if h["to"] in ("passed", "failed", "rejected")), None)
        scan = (end - start) if start and end else float("nan")
        print(image["state"], f"{scan:.3f}", f"{decided:.3f}")
        sys.exit(0)
    time.sleep(0.02)
print("timeout nan nan")
PY
}

# ---------------------------------------------------------------- 1. latency
echo "== 1. push-to-promoted of a ~$((2 * LAYER_MB)) MB image, $RUNS runs (fresh layers each run)"
dport="$(free_port)"
cat >"$work/distribution.yml" <<EOF2
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/distribution
http:
  addr: 127.0.0.1:$dport
EOF2
"$DISTRIBUTION" serve "$work/distribution.yml" 2>>"$work/distribution.log" &
pids+=($!)
wait_ready "http://127.0.0.1:$dport/v2/"
totals="" scans="" overheads="" pushes="" peer_pushes=""
for run in $(seq 1 "$RUNS"); do
    image="$work/image-$run"
    umoci init --layout "$image" >/dev/null
    umoci new --image "$image:bench" >/dev/null
    for layer in 1 2; do
        mkdir -p "$work/rootfs"
        head -c "$((LAYER_MB * 1024 * 1024))" /dev/urandom >"$work/rootfs/payload$layer.bin"
        umoci insert --rootless --image "$image:bench" "$work/rootfs" "/layer$layer" >/dev/null
        rm -rf "$work/rootfs"
    done
    t0=$(now)
    skopeo copy --quiet --dest-tls-verify=false --dest-creds "$CREDS" --digestfile "$work/digest" \
        "oci:$image:bench" "docker://127.0.0.1:$port/unscanned/bench/app:run$run"
    t1=$(now)
    read -r state scan decided < <(wait_decided bench "$(cat "$work/digest")")
    [ "$state" = promoted ] || echo "bench: run $run ended $state" >&2
    p0=$(now)
    skopeo copy --quiet --dest-tls-verify=false "oci:$image:bench" \
        "docker://127.0.0.1:$dport/unscanned/bench/app:run$run"
    p1=$(now)
    push=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    total=$(awk -v a="$t0" -v b="$decided" 'BEGIN { printf "%.3f", b - a }')
    overhead=$(awk -v a="$t1" -v b="$decided" -v s="$scan" 'BEGIN { printf "%.3f", b - a - s }')
    peer=$(awk -v a="$p0" -v b="$p1" 'BEGIN { printf "%.3f", b - a }')
    echo "run $run: push ${push}s, push-to-promoted ${total}s, scan ${scan}s, gate overhead ${overhead}s; distribution push ${peer}s"
    pushes+=" $push" totals+=" $total" scans+=" $scan" overheads+=" $overhead" peer_pushes+=" $peer"
    rm -rf "$image"
done

# ---------------------------------------------------------------- 2. concurrency
echo "== 2. $CONCURRENT concurrent pushes of distinct small images from two tenants"
for i in $(seq 1 "$CONCURRENT"); do
    image="$work/small-$i"
    umoci init --layout "$image" >/dev/null
    umoci new --image "$image:bench" >/dev/null
    mkdir -p "$work/rootfs-$i"
    head -c 65536 /dev/urandom >"$work/rootfs-$i/data.bin"
    umoci insert --rootless --image "$image:bench" "$work/rootfs-$i" /data >/dev/null
    rm -rf "$work/rootfs-$i"
done
start=$(now)
for i in $(seq 1 "$CONCURRENT"); do
    tenant=$([ $((i % 2)) -eq 0 ] && echo bench || echo other)
    (
        skopeo copy --quiet --dest-tls-verify=false --dest-creds "$CREDS" --digestfile "$work/small-$i.digest" \
            "oci:$work/small-$i:bench" "docker://127.0.0.1:$port/unscanned/$tenant/small:$i"
        echo "$tenant $(now)" >"$work/small-$i.pushed"
    ) &
done
wait_pushes=0
for i in $(seq 1 "$CONCURRENT"); do
    while [ ! -s "$work/small-$i.pushed" ]; do sleep 0.05; wait_pushes=$((wait_pushes + 1)); done
done
latencies="" last=0 states=""
for i in $(seq 1 "$CONCURRENT"); do
    read -r tenant pushed <"$work/small-$i.pushed"
    read -r state _ decided < <(wait_decided "$tenant" "$(cat "$work/small-$i.digest")")
    states+="$state "
    latencies+=" $(awk -v a="$pushed" -v b="$decided" 'BEGIN { printf "%.3f", b - a }')"
    last=$(awk -v a="$last" -v b="$decided" 'BEGIN { print (b > a) ? b : a }')
done
terminal=$(echo "$states" | tr ' ' '\n' | grep -cE '^(promoted|rejected|covered)$' || true)
per_minute=$(awk -v n="$CONCURRENT" -v a="$start" -v b="$last" 'BEGIN { printf "%.1f", n / (b - a) * 60 }')
spread=$(echo "$latencies" | tr ' ' '\n' | grep -v '^$' | sort -g |
    awk '{ v[NR] = $1 } END { printf "p50 %.2fs p90 %.2fs max %.2fs", v[int(NR * 0.5 + 0.5)], v[int(NR * 0.9 + 0.5)], v[NR] }')

echo "== summary (medians of $RUNS; airlock $("$airlock" --version | cut -d' ' -f2), $SCAN_WORKERS scan workers, $(nproc) cores)"
printf '%-40s %10s\n' "push to airlock (s)" "$(echo "$pushes" | median)"
printf '%-40s %10s\n' "push to distribution, peer (s)" "$(echo "$peer_pushes" | median)"
printf '%-40s %10s\n' "push-to-promoted (s)" "$(echo "$totals" | median)"
printf '%-40s %10s\n' "scan, scanning->passed (s)" "$(echo "$scans" | median)"
printf '%-40s %10s  target < 1 s\n' "gate overhead beyond the scan (s)" "$(echo "$overheads" | median)"
printf '%-40s %10s\n' "concurrent pushes decided" "$terminal/$CONCURRENT"
printf '%-40s %10s\n' "throughput (images/min)" "$per_minute"
printf '%-40s %s\n' "push-done -> decided latency" "$spread"
