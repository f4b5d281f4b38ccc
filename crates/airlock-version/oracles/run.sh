#!/usr/bin/env bash
# Manual cross-check of airlock-version against other reference
# implementations (not part of `cargo test`; dpkg and rpm are checked there).
# Needs whichever of these are installed: python3 `packaging`, ruby, java with
# Debian's libmaven3-core-java, php-cli with Debian's composer, node with the
# `semver` npm package (NODE_PATH). Usage: oracles/run.sh [PAIRS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
n="${1:-5000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/../../../target}"
cargo build -q -p airlock-version --example compare
ours="$CARGO_TARGET_DIR/debug/examples/compare"

check() { # scheme, oracle command...
  local scheme="$1"; shift
  python3 "$here/gen.py" "$scheme" "$n" 42 > "$work/$scheme.pairs"
  if ! "$@" < "$work/$scheme.pairs" > "$work/$scheme.want" 2> "$work/$scheme.err"; then
    echo "$scheme: SKIPPED (oracle failed: $(head -c 200 "$work/$scheme.err"))"; return
  fi
  "$ours" "$scheme" < "$work/$scheme.pairs" > "$work/$scheme.got"
  paste "$work/$scheme.pairs" "$work/$scheme.want" "$work/$scheme.got" | awk -F'\t' -v s="$scheme" '
    { total++ }
    $3 == "E" && $4 == "E" { bothbad++; next }
    $3 == $4 { agree++; if ($3 == 0) eq++; next }
    $3 == "E" || $4 == "E" { valid++; if (valid <= 5) print "  validity: " $1 " vs " $2 ": oracle " $3 ", ours " $4; next }
    { order++; if (order <= 10) print "  ORDER: " $1 " vs " $2 ": oracle " $3 ", ours " $4 }
    END { printf "%s: %d pairs, %d agree (%d equal), %d both rejected, %d validity differences, %d ORDER DIFFERENCES\n", s, total, agree, eq, bothbad, valid, order }'
}

python3 -c 'import packaging' 2>/dev/null && check pep440 python3 "$here/pep440.py" || echo "pep440: SKIPPED (pip install packaging)"
command -v ruby >/dev/null && check rubygems ruby "$here/rubygems.rb" || echo "rubygems: SKIPPED (apt-get install ruby)"
if command -v java >/dev/null && ls /usr/share/java/maven-artifact*.jar >/dev/null 2>&1; then
  jar="$(ls /usr/share/java/maven-artifact*.jar | head -1)"
  check maven java -cp "$jar" "$here/Maven.java"
else
  echo "maven: SKIPPED (apt-get install libmaven3-core-java)"
fi
[ -f /usr/share/php/Composer/Semver/autoload.php ] && check packagist php "$here/packagist.php" || echo "packagist: SKIPPED (apt-get install php-cli composer)"
command -v node >/dev/null && node -e 'require("semver")' 2>/dev/null && check semver node "$here/semver.js" || echo "semver: SKIPPED (npm install semver; set NODE_PATH)"
if command -v go >/dev/null && [ -d /usr/share/gocode/src/golang.org/x/mod/semver ]; then
  (cd "$here/go" && GOPATH=/usr/share/gocode GO111MODULE=off GOCACHE="$work/gocache" go build -o "$work/go-oracle" .)
  check go "$work/go-oracle"
else
  echo "go: SKIPPED (apt-get install golang-go golang-golang-x-mod-dev)"
fi
