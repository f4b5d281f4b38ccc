#!/usr/bin/env bash
# Every dashboard page at scale, through a real `airlock serve` (a
# measurement, not a test).
#
# Seeds the embedded database with 10,000 images across 20 tenants and
# 1,000,000 findings (the seeder of bench/dashboard_data.sh, written as the
# data directory's registry.db; the server migrates nothing more), creates
# the 20 tenants with the CLI, starts a release `airlock serve` over it,
# signs in through the login form with curl (session cookie + CSRF) and
# times each page RUNS times after a warm-up: curl's time to first byte on
# loopback, an upper bound of the server-side render time. Target: every
# page under 100 ms (median).
#
# Peer, measured in the same run: the CNCF distribution registry's
# `GET /v2/_catalog` (Debian's docker-registry) on loopback, the floor of an
# HTTP round trip through a Go server; each page's ratio to it is printed.
#
# Usage: bench/dashboard_pages.sh   (knobs: RUNS=21 IMAGES=10000 PER_IMAGE=100
#                                    KEEP=1 AIRLOCK_BIN=path
#                                    DISTRIBUTION=/usr/bin/docker-registry)
set -euo pipefail

RUNS="${RUNS:-21}"
IMAGES="${IMAGES:-10000}"
PER_IMAGE="${PER_IMAGE:-100}"
DISTRIBUTION="${DISTRIBUTION:-/usr/bin/docker-registry}"
ADMIN_PASSWORD="bench-admin-password"

root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
work="$(mktemp -d "${TMPDIR:-/tmp}/airlock-pages-bench.XXXXXX")"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

cd "$root"
echo "== building airlock and the seeder (release)"
cargo build --release --quiet -p airlock-db-sqlite --example dashboard_data
seeder="$target/release/examples/dashboard_data"
if [ -n "${AIRLOCK_BIN:-}" ]; then
    airlock="$AIRLOCK_BIN"
else
    cargo build --release --quiet -p airlock-cli
    airlock="$target/release/airlock"
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_ready() { # URL
    for _ in $(seq 1 400); do
        curl -sf --noproxy '*' -o /dev/null "$1" && return 0
        sleep 0.05
    done
    echo "bench: $1 did not answer" >&2
    return 1
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

data="$work/data"
mkdir -p "$data"
echo "== seeding $IMAGES images x $PER_IMAGE findings"
"$seeder" seed "$data/registry.db" "$IMAGES" "$PER_IMAGE"
for i in $(seq 0 19); do
    "$airlock" tenant create "$(printf 'tenant-%02d' "$i")" --data-dir "$data" >/dev/null
done
echo "== database: $(du -sh "$data/registry.db" | cut -f1)"

port="$(free_port)"
AIRLOCK_ADMIN_PASSWORD="$ADMIN_PASSWORD" "$airlock" serve --data-dir "$data" \
    --listen "127.0.0.1:$port" --scan-workers 1 >"$work/airlock.log" 2>&1 &
pids+=("$!")
base="http://127.0.0.1:$port"
wait_ready "$base/healthz"

peer_base=""
if [ -x "$DISTRIBUTION" ]; then
    peer_port="$(free_port)"
    cat >"$work/distribution.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/distribution
http:
  addr: 127.0.0.1:$peer_port
EOF
    "$DISTRIBUTION" serve "$work/distribution.yml" >"$work/distribution.log" 2>&1 &
    pids+=("$!")
    peer_base="http://127.0.0.1:$peer_port"
    wait_ready "$peer_base/v2/"
else
    echo "bench: $DISTRIBUTION missing (apt-get install docker-registry): no peer" >&2
fi

# Sign in as the admin through the login form.
jar="$work/cookies"
form="$(curl -s --noproxy '*' -c "$jar" "$base/ui/login")"
csrf="$(printf '%s' "$form" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n 1)"
curl -s --noproxy '*' -b "$jar" -c "$jar" -o /dev/null \
    -H "Origin: $base" \
    --data-urlencode "username=admin" --data-urlencode "password=$ADMIN_PASSWORD" \
    --data-urlencode "csrf=$csrf" "$base/ui/login"
grep -q airlock_session "$jar" || { echo "bench: sign-in failed" >&2; exit 1; }

# An image with findings and a vulnerability many images share.
read -r tenant digest repository <<<"$(python3 - "$data/registry.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(*db.execute("SELECT tenant, digest, repository FROM images ORDER BY id LIMIT 1").fetchone())
EOF
)"
cve="$(python3 - "$data/registry.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT vulnerability FROM finding_ids GROUP BY id ORDER BY COUNT(*) DESC LIMIT 1").fetchone()[0])
EOF
)"

pages=(
    "images|/ui/images"
    "images, by severity|/ui/images?sort=severity"
    "images, one tenant|/ui/images?tenant=tenant-07"
    "images, by CVE|/ui/images?cve=$cve"
    "images, page 50|/ui/images?page=50"
    "image detail|/ui/images/$tenant/$digest?repository=$repository"
    "vulnerabilities, by CVE|/ui/vulnerabilities?cve=$cve"
    "vulnerabilities, critical|/ui/vulnerabilities?severity=critical"
    "policies|/ui/policies?tenant=tenant-07"
    "exceptions|/ui/exceptions"
    "webhooks|/ui/webhooks"
    "audit|/ui/audit"
    "admin|/ui/admin"
)

ttfb() { # URL [cookie jar]
    local args=(-s --noproxy '*' -o /dev/null -w '%{http_code} %{time_starttransfer}\n')
    [ -n "${2:-}" ] && args+=(-b "$2")
    curl "${args[@]}" "$1"
}

peer_ms=""
if [ -n "$peer_base" ]; then
    for _ in 1 2 3; do ttfb "$peer_base/v2/_catalog" >/dev/null; done
    times=""
    for _ in $(seq 1 "$RUNS"); do
        times+=" $(ttfb "$peer_base/v2/_catalog" | awk '{ printf "%.3f", $2 * 1000 }')"
    done
    peer_ms="$(echo "$times" | median)"
fi

echo "== pages: median of $RUNS, time to first byte on loopback (ms)"
printf '%-26s %8s %8s %8s %6s %s\n' page median min max status "ratio to peer"
worst=0
for entry in "${pages[@]}"; do
    name="${entry%%|*}"
    path="${entry#*|}"
    for _ in 1 2 3; do ttfb "$base$path" "$jar" >/dev/null; done
    times=""
    status=""
    for _ in $(seq 1 "$RUNS"); do
        read -r status seconds <<<"$(ttfb "$base$path" "$jar")"
        times+=" $(awk -v s="$seconds" 'BEGIN { printf "%.3f", s * 1000 }')"
    done
    med="$(echo "$times" | median)"
    min="$(echo "$times" | tr ' ' '\n' | grep -v '^$' | sort -g | head -n 1)"
    max="$(echo "$times" | tr ' ' '\n' | grep -v '^$' | sort -g | tail -n 1)"
    ratio="-"
    [ -n "$peer_ms" ] && ratio="$(awk -v a="$med" -v b="$peer_ms" 'BEGIN { printf "%.1fx", a / b }')"
    printf '%-26s %8s %8s %8s %6s %s\n' "$name" "$med" "$min" "$max" "$status" "$ratio"
    if [ "$status" != 200 ]; then echo "bench: $path answered $status" >&2; fi
    worst="$(awk -v a="$med" -v w="$worst" 'BEGIN { print (a > w) ? a : w }')"
done
[ -n "$peer_ms" ] && echo "peer: distribution GET /v2/_catalog median $peer_ms ms"
echo "slowest page median: $worst ms (target < 100 ms)"
