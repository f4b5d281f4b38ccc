#!/usr/bin/env bash
# airlock against the CNCF distribution registry 2.8 (a measurement, not a test).
#
# Starts a release build of `airlock serve` and `/usr/bin/docker-registry`
# side by side on loopback, each over its own temporary store, and measures
# both in the same run:
#   1. `skopeo copy` push and pull of a ~200 MB image of two gzip layers
#      (random data, so gzip cannot shrink it), a fresh store for every run;
#      target: airlock's median time <= distribution's.
#   2. manifest GET by tag under `hey -c 16 -n 20000` (airlock verifies a
#      bearer token and appends an audit record for every GET);
#      target: airlock >= 3x distribution's requests per second.
#   3. peak RSS (VmHWM) of each server while a 1 GiB blob is pushed with curl
#      (POST session, one streamed PATCH, PUT ?digest=); target: airlock < 64 MiB.
# Prints medians and ratios. Needs skopeo, umoci, hey, curl, docker-registry.
#
# Usage: bench/registry.sh            (environment knobs below)
#   RUNS=5          push/pull repetitions (fresh stores each)
#   LAYER_MB=100    size of each of the two layers
#   HEY_N=20000 HEY_C=16 HEY_RUNS=3   manifest GET load
#   BLOB_MB=1024    size of the blob pushed for the RSS measurement
#   DISTRIBUTION=/usr/bin/docker-registry
#   AIRLOCK_BIN=path   use this airlock binary instead of building one
set -euo pipefail

RUNS="${RUNS:-5}"
LAYER_MB="${LAYER_MB:-100}"
HEY_N="${HEY_N:-20000}"
HEY_C="${HEY_C:-16}"
HEY_RUNS="${HEY_RUNS:-3}"
BLOB_MB="${BLOB_MB:-1024}"
DISTRIBUTION="${DISTRIBUTION:-/usr/bin/docker-registry}"
ACCEPT="application/vnd.oci.image.manifest.v1+json"
# airlock needs a tenant and credentials; the same repository names and skopeo
# flags go to distribution, which runs without authentication and ignores them.
ADMIN_PASSWORD="bench-admin-password"
CREDS="admin:$ADMIN_PASSWORD"
REPO="unscanned/bench/app"

root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
work="$(mktemp -d "${TMPDIR:-/tmp}/airlock-bench.XXXXXX")"
declare -A pid_of=()   # server name -> pid
declare -A port_of=()  # server name -> port

stop_server() {
    local name="$1" pid="${pid_of[$1]:-}"
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        unset "pid_of[$name]"
    fi
}
cleanup() {
    for name in "${!pid_of[@]}"; do stop_server "$name"; done
    rm -rf "$work"
}
trap cleanup EXIT

for tool in skopeo umoci hey curl python3 "$DISTRIBUTION"; do
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
    echo "bench: $1 did not answer" >&2
    return 1
}

# start_server NAME STORE_DIR: starts airlock or distribution on a fresh port.
start_server() {
    local name="$1" store="$2" port
    port="$(free_port)"
    mkdir -p "$store"
    case "$name" in
    airlock)
        AIRLOCK_ADMIN_PASSWORD="$ADMIN_PASSWORD" "$airlock" serve --listen "127.0.0.1:$port" \
            --data-dir "$store" --token-ttl 1h 2>>"$work/airlock.log" &
        ;;
    distribution)
        cat >"$store.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $store
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$port
EOF
        "$DISTRIBUTION" serve "$store.yml" 2>>"$work/distribution.log" &
        ;;
    esac
    pid_of[$name]=$!
    port_of[$name]=$port
    if [ "$name" = airlock ]; then
        wait_ready "http://127.0.0.1:$port/healthz"
        "$airlock" tenant create bench --data-dir "$store" >/dev/null
    else
        wait_ready "http://127.0.0.1:$port/v2/"
    fi
}

# auth_header NAME SCOPE: the Authorization header airlock wants (a token
# from its token endpoint); distribution runs without authentication.
auth_header() {
    if [ "$1" = airlock ]; then
        local token
        token=$(curl -sf --noproxy '*' -u "admin:$ADMIN_PASSWORD" \
            "http://127.0.0.1:${port_of[airlock]}/auth/token?service=airlock&scope=$2" |
            python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
        echo "Authorization: Bearer $token"
    else
        echo "X-No-Auth: 1"
    fi
}

now() { date +%s.%N; }
elapsed() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%.3f", e - s }'; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# ---------------------------------------------------------------- the image
echo "== building the image: two gzip layers of ${LAYER_MB} MB random data (umoci)"
image="$work/image"
umoci init --layout "$image"
umoci new --image "$image:bench"
for layer in 1 2; do
    mkdir -p "$work/rootfs$layer"
    head -c "$((LAYER_MB * 1024 * 1024))" /dev/urandom >"$work/rootfs$layer/payload.bin"
    umoci insert --rootless --image "$image:bench" "$work/rootfs$layer" "/layer$layer"
    rm -rf "$work/rootfs$layer"
done
umoci gc --layout "$image"
image_bytes=$(du -sb "$image/blobs" | cut -f1)
echo "image: $(find "$image/blobs" -type f | wc -l) blobs, $image_bytes bytes"

# ---------------------------------------------------------------- 1. push/pull
echo "== 1. skopeo copy push and pull, $RUNS runs, fresh stores each run"
declare -A push_times=() pull_times=()
for run in $(seq 1 "$RUNS"); do
    # Alternate who goes first so neither always gets the warmer cache.
    if [ $((run % 2)) -eq 1 ]; then order="airlock distribution"; else order="distribution airlock"; fi
    for name in $order; do
        start_server "$name" "$work/store-$name-$run"
        ref="docker://127.0.0.1:${port_of[$name]}/$REPO:1"
        t0=$(now)
        skopeo copy --quiet --dest-tls-verify=false --dest-creds "$CREDS" "oci:$image:bench" "$ref"
        t1=$(now)
        skopeo copy --quiet --src-tls-verify=false --src-creds "$CREDS" "$ref" "oci:$work/pulled-$name-$run:bench"
        t2=$(now)
        push_times[$name]+=" $(elapsed "$t0" "$t1")"
        pull_times[$name]+=" $(elapsed "$t1" "$t2")"
        stop_server "$name"
        rm -rf "$work/store-$name-$run" "$work/pulled-$name-$run"
    done
    echo "run $run: push airlock $(echo "${push_times[airlock]}" | awk '{print $NF}')s distribution $(echo "${push_times[distribution]}" | awk '{print $NF}')s; pull airlock $(echo "${pull_times[airlock]}" | awk '{print $NF}')s distribution $(echo "${pull_times[distribution]}" | awk '{print $NF}')s"
done
push_airlock=$(echo "${push_times[airlock]}" | median)
push_distribution=$(echo "${push_times[distribution]}" | median)
pull_airlock=$(echo "${pull_times[airlock]}" | median)
pull_distribution=$(echo "${pull_times[distribution]}" | median)

# ---------------------------------------------------------------- 2. manifest GET
echo "== 2. manifest GET by tag: hey -c $HEY_C -n $HEY_N, $HEY_RUNS runs"
declare -A rps=()
for name in airlock distribution; do
    start_server "$name" "$work/store-$name-hey"
    skopeo copy --quiet --dest-tls-verify=false --dest-creds "$CREDS" "oci:$image:bench" \
        "docker://127.0.0.1:${port_of[$name]}/$REPO:1"
done
for name in airlock distribution; do
    url="http://127.0.0.1:${port_of[$name]}/v2/$REPO/manifests/1"
    auth=$(auth_header "$name" "repository:$REPO:pull")
    hey -c "$HEY_C" -n 1000 -H "Accept: $ACCEPT" -H "$auth" "$url" >/dev/null # warm-up
    for run in $(seq 1 "$HEY_RUNS"); do
        hey -c "$HEY_C" -n "$HEY_N" -H "Accept: $ACCEPT" -H "$auth" "$url" >"$work/hey-$name-$run.txt"
        ok=$(awk '/\[200\]/ { print $2 }' "$work/hey-$name-$run.txt")
        if [ "${ok:-0}" != "$HEY_N" ]; then
            echo "bench: $name answered only ${ok:-0} of $HEY_N GETs with 200:" >&2
            sed -n '/Status code distribution/,$p' "$work/hey-$name-$run.txt" >&2
        fi
        rps[$name]+=" $(awk '/Requests\/sec/ { printf "%.0f", $2 }' "$work/hey-$name-$run.txt")"
    done
    echo "$name requests/s:${rps[$name]}"
done
for name in airlock distribution; do stop_server "$name"; done
rps_airlock=$(echo "${rps[airlock]}" | median)
rps_distribution=$(echo "${rps[distribution]}" | median)

# ---------------------------------------------------------------- 3. peak RSS
echo "== 3. peak RSS while pushing a ${BLOB_MB} MiB blob (POST, streamed PATCH, PUT ?digest=)"
blob="$work/blob.bin"
head -c "$((BLOB_MB * 1024 * 1024))" /dev/urandom >"$blob"
digest="sha256:$(sha256sum "$blob" | cut -d' ' -f1)"
declare -A hwm=() blob_secs=()
header() { # FILE NAME: value of the last such header
    grep -i "^$2:" "$1" | tail -1 | cut -d' ' -f2- | tr -d '\r'
}
absolute() { # LOCATION PORT
    case "$1" in http*) echo "$1" ;; *) echo "http://127.0.0.1:$2$1" ;; esac
}
for name in airlock distribution; do
    start_server "$name" "$work/store-$name-rss"
    port="${port_of[$name]}"
    auth=$(auth_header "$name" "repository:unscanned/bench/blob:pull,push")
    t0=$(now)
    curl -sS --noproxy '*' -H "$auth" -X POST -D "$work/h1" -o /dev/null \
        "http://127.0.0.1:$port/v2/unscanned/bench/blob/blobs/uploads/"
    location=$(absolute "$(header "$work/h1" location)" "$port")
    curl -sS --noproxy '*' -H "$auth" -X PATCH -H 'Content-Type: application/octet-stream' -T "$blob" \
        -D "$work/h2" -o /dev/null "$location"
    location=$(absolute "$(header "$work/h2" location)" "$port")
    case "$location" in *\?*) sep='&' ;; *) sep='?' ;; esac
    code=$(curl -sS --noproxy '*' -H "$auth" -X PUT -o /dev/null -w '%{http_code}' "$location${sep}digest=$digest")
    t1=$(now)
    [ "$code" = 201 ] || echo "bench: $name answered $code to the closing PUT" >&2
    hwm[$name]=$(awk '/VmHWM/ { print $2 }' "/proc/${pid_of[$name]}/status")
    blob_secs[$name]=$(elapsed "$t0" "$t1")
    echo "$name: VmHWM ${hwm[$name]} kB, push took ${blob_secs[$name]}s"
    stop_server "$name"
    rm -rf "$work/store-$name-rss"
done

# ---------------------------------------------------------------- summary
echo
echo "== summary (medians; airlock $("$airlock" --version | cut -d' ' -f2), distribution $("$DISTRIBUTION" --version | awk '{print $3}'))"
printf '%-34s %12s %14s %8s  %s\n' metric airlock distribution ratio target
printf '%-34s %12s %14s %8s  %s\n' "push ${image_bytes} B image (s)" "$push_airlock" "$push_distribution" \
    "$(ratio "$push_airlock" "$push_distribution")" "ratio <= 1"
printf '%-34s %12s %14s %8s  %s\n' "pull ${image_bytes} B image (s)" "$pull_airlock" "$pull_distribution" \
    "$(ratio "$pull_airlock" "$pull_distribution")" "ratio <= 1"
printf '%-34s %12s %14s %8s  %s\n' "manifest GET by tag (req/s)" "$rps_airlock" "$rps_distribution" \
    "$(ratio "$rps_airlock" "$rps_distribution")" "ratio >= 3"
printf '%-34s %12s %14s %8s  %s\n' "peak RSS, ${BLOB_MB} MiB push (MiB)" \
    "$(awk -v k="${hwm[airlock]}" 'BEGIN { printf "%.1f", k / 1024 }')" \
    "$(awk -v k="${hwm[distribution]}" 'BEGIN { printf "%.1f", k / 1024 }')" \
    "$(ratio "${hwm[airlock]}" "${hwm[distribution]}")" "airlock < 64"
printf '%-34s %12s %14s %8s\n' "${BLOB_MB} MiB blob push (s)" "${blob_secs[airlock]}" "${blob_secs[distribution]}" \
    "$(ratio "${blob_secs[airlock]}" "${blob_secs[distribution]}")"
