#!/usr/bin/env bash
# Scale-out throughput (a measurement, not a test).
#
# IMAGES (default 200) distinct small images (one ~64 KiB layer each) go
# through the gate in these set-ups on this machine, each on fresh storage:
#
#   embedded-1      airlock serve, SQLite + local disk, 1 scan worker
#   embedded-2      the same with 2 scan workers
#   scaled-1        airlock serve --no-workers + 1 airlock worker process
#                   (--scan-workers 1), PostgreSQL (127.0.0.1:5432, a schema
#                   of its own) + S3 (s3s-fs with TCP_NODELAY, see below)
#   scaled-2        the same with 2 worker processes
#   scaled-1x4      1 worker process at --scan-workers 4 (a worker's default
#                   is one per core): jobs overlap their round trips
#   scaled-1-async  scaled-1 with PostgreSQL's synchronous_commit = off (a
#                   commit does not wait for its WAL flush): what flushes cost
#   scaled-1-stock  scaled-1 on the stock s3s-fs binary the tests use
#
# The S3 server: stock s3s-fs 0.14.1 leaves Nagle's algorithm on, so a GET
# answer's body waits for the client's delayed ACK of its headers (40 ms)
# about half the time. Production S3 servers set TCP_NODELAY, so the
# scaled set-ups run bench/s3s-fs-nodelay (the same server with that one
# difference, built here) and scaled-1-stock shows what the stalls cost.
#
# For each: the images are pushed first with no worker running (PUSH_JOBS
# skopeo processes at a time; "push" is that wall time), then the workers
# start and "drain" is the time until every image is decided, so the drain
# rate is the gate's throughput on its own. "busy" is the part of the drain
# from the first job's start to the last decision (from the images'
# histories): it leaves out the processes' start-up. Then, per image, from the
# history: scan (scanning -> passed) and promotion (passed -> promoted);
# and the CPU seconds each process used during the drain (airlock serve,
# workers with their scan children, PostgreSQL, the S3 server), which says
# where the time goes.
#
# Needs: skopeo, umoci, curl, python3, psql, s3s-fs (cargo install --locked
# s3s-fs@0.14.1 --features binary) and the PostgreSQL server on this
# machine. Builds airlock with --features postgres,s3, and s3s-fs-nodelay.
#
# Every set-up runs ROUNDS times (rounds interleave the set-ups, so a noisy
# minute hits all of them); the summary gives each column's median.
#
# Usage: bench/scale.sh   (knobs: IMAGES=200 PUSH_JOBS=8 ROUNDS=3 AIRLOCK_BIN=path
#                          SETUPS="embedded-1 ... scaled-1-stock"
#                          S3S_FS=path S3S_FS_NODELAY=path)
set -euo pipefail

IMAGES="${IMAGES:-200}"
PUSH_JOBS="${PUSH_JOBS:-8}"
ROUNDS="${ROUNDS:-3}"
SETUPS="${SETUPS:-embedded-1 embedded-2 scaled-1 scaled-2 scaled-1x4 scaled-1-async scaled-1-stock}"
DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
ADMIN_PASSWORD="bench-admin-password"
CREDS="admin:$ADMIN_PASSWORD"
S3S_FS="${S3S_FS:-$(command -v s3s-fs || echo "$HOME/.cargo/bin/s3s-fs")}"

root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
work="$(mktemp -d "${TMPDIR:-/tmp}/airlock-scale-bench.XXXXXX")"
pids=()
schemas=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for schema in "${schemas[@]}"; do
        psql -X -q "$DATABASE_URL" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

for tool in skopeo umoci curl python3 psql "$S3S_FS"; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done
psql -X -q "$DATABASE_URL" -c 'SELECT 1' >/dev/null || { echo "bench: PostgreSQL at $DATABASE_URL does not answer" >&2; exit 1; }

cd "$root"
if [ -n "${AIRLOCK_BIN:-}" ]; then
    airlock="$AIRLOCK_BIN"
else
    echo "== building airlock (release, --features postgres,s3)"
    cargo build --release --quiet -p airlock-cli --features postgres,s3
    airlock="$target/release/airlock"
fi
# The S3 server: s3s-fs with TCP_NODELAY (bench/s3s-fs-nodelay), as
# production S3 servers run; the -stock set-ups use the stock s3s-fs the
# tests use, whose Nagle + delayed-ACK stalls cost ~40 ms on many GETs.
if [ -z "${S3S_FS_NODELAY:-}" ]; then
    echo "== building bench/s3s-fs-nodelay (release)"
    (cd bench/s3s-fs-nodelay && CARGO_TARGET_DIR="$target/s3s-fs-nodelay" cargo build --release --quiet --locked)
    S3S_FS_NODELAY="$target/s3s-fs-nodelay/release/s3s-fs-nodelay"
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_ready() { # URL
    for _ in $(seq 1 400); do
        curl -sf --noproxy '*' -o /dev/null "$1" && return 0
        sleep 0.05
    done
    echo "bench: $1 did not come up" >&2
    exit 1
}
now() { date +%s.%N; }
# CPU seconds (user + system, children included) of a process so far.
cpu_of() { # PID
    awk -v tck="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15 + $16 + $17) / tck }' "/proc/$1/stat" 2>/dev/null || echo 0
}
# CPU seconds of every process whose command line matches PATTERN.
cpu_matching() { # PATTERN
    local total=0 pid
    for pid in $(pgrep -f "$1" || true); do
        total=$(awk -v a="$total" -v b="$(cpu_of "$pid")" 'BEGIN { printf "%.2f", a + b }')
    done
    echo "$total"
}

# ------------------------------------------------------------ fixtures
echo "== preparing $IMAGES images"
mkdir -p "$work/osv"
cat >"$work/osv/BENCH-1.json" <<'JSON'
{"id": "BENCH-2026-0001", "modified": "2026-01-01T00:00:00Z",
 "affected": [{"package": {"ecosystem": "PyPI", "name": "not-installed-here"},
   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}]}]}
JSON
"$airlock" db import --db "$work/osv.db" "$work/osv" >/dev/null
for i in $(seq 1 "$IMAGES"); do
    image="$work/images/$i"
    mkdir -p "$work/images"
    umoci init --layout "$image" >/dev/null
    umoci new --image "$image:bench" >/dev/null
    mkdir -p "$work/rootfs-$i"
    head -c 65536 /dev/urandom >"$work/rootfs-$i/data.bin"
    umoci insert --rootless --image "$image:bench" "$work/rootfs-$i" /data >/dev/null
    rm -rf "$work/rootfs-$i"
done

# start_s3 BINARY NAME: starts an S3 server on its own root; sets
# s3_port_NAME and s3_pid_NAME.
start_s3() {
    local root="$work/s3-$2" port
    mkdir -p "$root/bench"
    port="$(free_port)"
    "$1" --host 127.0.0.1 --port "$port" --access-key bench --secret-key bench-secret "$root" \
        2>>"$work/s3s-$2.log" &
    pids+=($!)
    printf -v "s3_pid_$2" '%s' "$!"
    printf -v "s3_port_$2" '%s' "$port"
    for _ in $(seq 1 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "bench: $1 did not come up" >&2
    exit 1
}
start_s3 "$S3S_FS_NODELAY" nodelay
start_s3 "$S3S_FS" stock
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1

# decided PORT TOKEN: "decided total" for the bench tenant.
count_decided() {
    python3 - "$1" "$2" <<'PY'
import json, sys, urllib.request
port, token = sys.argv[1:3]
decided = total = 0
url = f"http://127.0.0.1:{port}/api/v1/tenants/bench/images?limit=1000"
request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
with urllib.request.urlopen(request) as response:
    body = json.load(response)
images = body["images"] if isinstance(body, dict) else body
for image in images:
    total += 1
    if image["state"] in ("promoted", "rejected", "covered"):
        decided += 1
print(decided, total)
PY
}

# phases PORT TOKEN: medians of queue wait, scan and promotion, and the
# count of promoted images, from every image's history.
phases() {
    python3 - "$1" "$2" <<'PY'
import json, sys, urllib.request, datetime, statistics
port, token = sys.argv[1:3]
def get(path):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)
body = get("/api/v1/tenants/bench/images?limit=1000")
images = body["images"] if isinstance(body, dict) else body
def at(entry):
    return datetime.datetime.fromisoformat(entry["at"].replace("Z", "+00:00")).timestamp()
scan, promote, promoted = [], [], 0
starts, ends = [], []
for summary in images:
    image = get(f"/api/v1/tenants/bench/images/{summary['digest']}")
    history = image.get("history", [])
    times = {}
    for entry in history:
        times.setdefault(entry["to"], at(entry))
    if "scanning" in times:
        starts.append(times["scanning"])
    ends += [times[s] for s in ("promoted", "rejected", "covered") if s in times]
    if "scanning" in times and "passed" in times:
        scan.append(times["passed"] - times["scanning"])
    if "passed" in times and "promoted" in times:
        promote.append(times["promoted"] - times["passed"])
    promoted += image["state"] == "promoted"
m = lambda v: f"{statistics.median(v):.3f}" if v else "nan"
# busy: from the first job's start to the last decision, which leaves out
# the workers' start-up (in the drain time).
busy = f"{max(ends) - min(starts):.1f}" if starts and ends else "nan"
print(m(scan), m(promote), promoted, busy)
PY
}

results=()
run_setup() { # NAME MODE(embedded|scaled) WORKERS [SCAN_WORKERS per worker process, default 1]
    local name="$1" mode="$2" workers="$3" scan_workers="${4:-1}" database_url="$DATABASE_URL"
    # An "-async" set-up commits without waiting for the WAL flush
    # (synchronous_commit = off, through the url's options).
    case "$name" in *-async) database_url="$DATABASE_URL?options=-c%20synchronous_commit%3Doff" ;; esac
    local s3_port="$s3_port_nodelay" s3_pid="$s3_pid_nodelay"
    case "$name" in *-stock) s3_port="$s3_port_stock" s3_pid="$s3_pid_stock" ;; esac
    local dir="$work/$name-$round" port config schema="" worker_pids=()
    mkdir -p "$dir"
    port="$(free_port)"
    config="$dir/airlock.toml"
    {
        echo "token_signing_key = \"$dir/token-signing-key.der\""
        echo "vulndb = \"$work/osv.db\""
        echo "gc_interval = \"0\""
        if [ "$mode" = scaled ]; then
            schema="bench_${name//-/_}_${round}_$$"
            schemas+=("$schema")
            printf '[database]\nurl = "%s"\nschema = "%s"\n' "$database_url" "$schema"
            printf '[storage]\nbackend = "s3"\nendpoint = "http://127.0.0.1:%s"\nbucket = "bench"\nprefix = "%s"\npath_style = true\nallow_http = true\n' "$s3_port" "$name-$round"
        fi
    } >"$config"
    # Embedded: one data directory for every process; scaled-out: a scratch
    # directory of its own per process (the state is in PostgreSQL and S3).
    data_for() { if [ "$mode" = embedded ]; then echo "$dir/data"; else echo "$dir/$1"; fi; }
    "$airlock" migrate --config "$config" --data-dir "$(data_for cli)" >/dev/null
    "$airlock" tenant create bench --config "$config" --data-dir "$(data_for cli)" >/dev/null
    # The server: with no scan workers during the pushes in both modes.
    AIRLOCK_ADMIN_PASSWORD="$ADMIN_PASSWORD" "$airlock" serve --config "$config" --data-dir "$(data_for serve)" \
        --listen "127.0.0.1:$port" --token-ttl 1h --scan-workers 0 \
        $([ "$mode" = scaled ] && echo --no-workers) 2>>"$dir/serve.log" &
    local serve_pid=$!
    pids+=("$serve_pid")
    wait_ready "http://127.0.0.1:$port/healthz"
    local token
    token=$(curl -sf --noproxy '*' -u "$CREDS" "http://127.0.0.1:$port/auth/token?service=airlock" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')

    local t0 t1 t2
    t0=$(now)
    seq 1 "$IMAGES" | xargs -P "$PUSH_JOBS" -I{} skopeo copy --quiet --dest-tls-verify=false \
        --dest-creds "$CREDS" "oci:$work/images/{}:bench" "docker://127.0.0.1:$port/unscanned/bench/app{}:v1"
    t1=$(now)

    # Start the workers and measure the drain.
    local pg_before s3_before serve_before
    pg_before=$(cpu_matching 'postgres:')
    s3_before=$(cpu_of "$s3_pid")
    serve_before=$(cpu_of "$serve_pid")
    if [ "$mode" = scaled ]; then
        for w in $(seq 1 "$workers"); do
            "$airlock" worker --config "$config" --data-dir "$(data_for "worker-$w")" --scan-workers "$scan_workers" \
                --metrics-listen "127.0.0.1:$(free_port)" 2>>"$dir/worker-$w.log" &
            worker_pids+=($!)
            pids+=($!)
        done
    else
        # Embedded: restart serve with its own scan workers.
        kill -TERM "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
        AIRLOCK_ADMIN_PASSWORD="$ADMIN_PASSWORD" "$airlock" serve --config "$config" --data-dir "$(data_for serve)" \
            --listen "127.0.0.1:$port" --token-ttl 1h --scan-workers "$workers" 2>>"$dir/serve.log" &
        serve_pid=$!
        pids+=("$serve_pid")
        serve_before=0
        wait_ready "http://127.0.0.1:$port/healthz"
    fi
    while :; do
        read -r decided total < <(count_decided "$port" "$token")
        [ "$decided" -ge "$IMAGES" ] && break
        sleep 0.2
    done
    t2=$(now)
    local serve_cpu workers_cpu=0 pg_cpu s3_cpu
    serve_cpu=$(awk -v a="$serve_before" -v b="$(cpu_of "$serve_pid")" 'BEGIN { printf "%.1f", b - a }')
    for pid in "${worker_pids[@]}"; do
        workers_cpu=$(awk -v a="$workers_cpu" -v b="$(cpu_of "$pid")" 'BEGIN { printf "%.1f", a + b }')
    done
    pg_cpu=$(awk -v a="$pg_before" -v b="$(cpu_matching 'postgres:')" 'BEGIN { printf "%.1f", b - a }')
    s3_cpu=$(awk -v a="$s3_before" -v b="$(cpu_of "$s3_pid")" 'BEGIN { printf "%.1f", b - a }')
    read -r scan promote promoted busy < <(phases "$port" "$token")
    local push drain rate busy_rate
    push=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    drain=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f", b - a }')
    rate=$(awk -v n="$IMAGES" -v d="$drain" 'BEGIN { printf "%.1f", n / d * 60 }')
    busy_rate=$(awk -v n="$IMAGES" -v d="$busy" 'BEGIN { printf "%.1f", n / d * 60 }')
    echo "$name: push ${push}s, drain ${drain}s (${rate} images/min), busy ${busy}s (${busy_rate} images/min)," \
        "promoted $promoted/$IMAGES; median scan ${scan}s, promotion ${promote}s;" \
        "CPU s during drain: serve $serve_cpu, workers+scans $workers_cpu, postgres $pg_cpu, s3s-fs $s3_cpu"
    results+=("$name $push $drain $rate $busy $busy_rate $scan $promote $serve_cpu $workers_cpu $pg_cpu $s3_cpu")
    for pid in "${worker_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    kill -TERM "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
}

for round in $(seq 1 "$ROUNDS"); do
for setup in $SETUPS; do
    echo "== round $round: $setup"
    case "$setup" in
        embedded-1) run_setup embedded-1 embedded 1 ;;
        embedded-2) run_setup embedded-2 embedded 2 ;;
        scaled-1) run_setup scaled-1 scaled 1 ;;
        scaled-2) run_setup scaled-2 scaled 2 ;;
        # One worker process at --scan-workers 4: jobs overlap their round trips.
        scaled-1x4) run_setup scaled-1x4 scaled 1 4 ;;
        # The same as scaled-1 with PostgreSQL's synchronous_commit off.
        scaled-1-async) run_setup scaled-1-async scaled 1 ;;
        # The same as scaled-1 on the stock s3s-fs (no TCP_NODELAY).
        scaled-1-stock) run_setup scaled-1-stock scaled 1 ;;
        *) echo "bench: unknown set-up $setup" >&2; exit 1 ;;
    esac
done
done

echo "== summary ($IMAGES images, $ROUNDS round(s), $(nproc) cores, airlock $("$airlock" --version | cut -d' ' -f2)): medians over the rounds"
printf '%s\n' "${results[@]}" | python3 -c '
import statistics, sys
columns = "push_s drain_s drain/min busy_s busy/min scan_s promo_s serve_cpu worker_cpu pg_cpu s3_cpu".split()
rows = {}
for line in sys.stdin:
    name, *values = line.split()
    if values:
        rows.setdefault(name, []).append([float(v) for v in values])
median = {name: [statistics.median(c) for c in zip(*runs)] for name, runs in rows.items()}
print("setup".ljust(15) + "".join(c.rjust(11) for c in columns))
for name, values in median.items():
    print(f"{name:<15}" + "".join(f"{v:>11.3f}" if c in ("scan_s", "promo_s") else f"{v:>11.1f}" for c, v in zip(columns, values)))
def ratio(a, b):
    if a not in median or b not in median:
        return "n/a"
    drain, busy = columns.index("drain/min"), columns.index("busy/min")
    return f"x{median[a][drain] / median[b][drain]:.2f} (busy x{median[a][busy] / median[b][busy]:.2f})"
print("scaling 1 -> 2 workers: embedded", ratio("embedded-2", "embedded-1"), "| scaled-out", ratio("scaled-2", "scaled-1"))
print("per worker, scaled-out vs embedded: 1 worker", ratio("scaled-1", "embedded-1"), "| 2 workers", ratio("scaled-2", "embedded-2"))
print("one worker process at 4 scan workers vs embedded-1:", ratio("scaled-1x4", "embedded-1"))
print("scaled-1 with synchronous_commit off vs scaled-1:", ratio("scaled-1-async", "scaled-1"))
print("scaled-1 on the stock s3s-fs vs scaled-1:", ratio("scaled-1-stock", "scaled-1"))
'
