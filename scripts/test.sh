#!/usr/bin/env bash
# The test command (`npm test`, and what .ci/run runs): provisions what the suites need on a fresh
# Debian/Ubuntu machine, then runs every suite and ends with one line "N passed, N failed".
#   1. system packages the tests start for real (apt-get as root or with non-interactive sudo;
#      otherwise it stops before any test and prints the command to run);
#   2. npm ci when node_modules is missing or older than package-lock.json;
#   3. the toolchain, built from Go modules into .toolchain/ (cached by version): the e2e's, and the
#      exporters the monitoring tests run;
#   4. type-check, the unit/component/real-server tests (npm run test:unit), then the e2e (npm run e2e).
# A suite that cannot run is a failure with its reason, never a skip.
set -uo pipefail
cd "$(dirname "$0")/.."

# The real programs the suites start (test/support/*): PostgreSQL with pgcrypto, NGINX, Redis,
# Prometheus (promtool) and mtail it scrapes, OpenSSL for the TLS handshakes, gpg and rclone for the
# encrypted backups and their copy off the cluster, python3-venv for the S3 server. The other exporters
# come from the toolchain (step 3), built at the versions their images pin.
# The e2e's real node (test/e2e/support/): containerd, runc and the CNI plugins; iptables, ipset
# and iproute2 for its network; mmdebstrap and Debian's archive key for the images' Debian root
# filesystems (also on Ubuntu), busybox-static for the exporter images' shell, gcc and libc6-dev
# for the pause program, file and curl.
PACKAGES=(postgresql postgresql-contrib nginx-light redis-server openssl prometheus mtail gnupg rclone python3-venv
    containerd runc containernetworking-plugins iptables ipset iproute2 mmdebstrap debian-archive-keyring
    busybox-static gcc libc6-dev file curl)
# The S3-compatible server the backup test copies to: moto's, from PyPI, in its own venv in the toolchain directory.
MOTO_VERSION=5.2.5

fail() {
    echo "test: $*" >&2
    echo
    echo "0 passed, 1 failed"
    exit 1
}

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        sudo=()
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo=(sudo)
    else
        fail "missing system packages; run this once, then npm test again:
  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
    fi
    echo "test: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || fail "apt-get install ${missing[*]} failed"
    # The packages start system services; the tests start throwaway servers of their own.
    for svc in postgresql redis-server prometheus mtail nginx containerd; do
        "${sudo[@]}" service "$svc" stop >/dev/null 2>&1 || true
    done
    command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | while read -r ver name _; do
        "${sudo[@]}" pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || true
    done
fi

# node_modules is current when npm ci last ran from this very package-lock.json.
stamp=node_modules/.asky-package-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "test: npm ci (node_modules missing or older than package-lock.json)"
    npm ci --no-audit --no-fund || fail "npm ci failed"
    echo "$want" >"$stamp"
fi
# The policy pack (policy/) is its own npm project: the unit tests load @pulumi/policy from it.
stamp=policy/node_modules/.asky-package-lock.sha256
want=$(sha256sum policy/package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "test: npm ci --prefix policy (the policy pack's node_modules missing or older than its package-lock.json)"
    npm ci --no-audit --no-fund --prefix policy || fail "npm ci --prefix policy failed"
    echo "$want" >"$stamp"
fi

moto_dir="${ASKY_TOOLCHAIN_DIR:-$PWD/.toolchain}/moto-$MOTO_VERSION"
if [ ! -x "$moto_dir/bin/moto_server" ]; then
    echo "test: installing moto[server]==$MOTO_VERSION (the S3 server of the backup test) into $moto_dir"
    rm -rf "$moto_dir"
    { python3 -m venv "$moto_dir" && "$moto_dir/bin/pip" install -q "moto[server]==$MOTO_VERSION"; } || fail "could not install moto[server]==$MOTO_VERSION from PyPI"
fi
export ASKY_MOTO_SERVER="$moto_dir/bin/moto_server"

go version >/dev/null 2>&1 || fail "Go (>= 1.26, with the Go module proxy) is needed to build the e2e toolchain"
# The real node's images start from Debian root filesystems (mmdebstrap: downloads and unpacking, cached
# beside the toolchain): they build while the toolchain compiles, not after it.
prebuild_log=$(mktemp)
npm run --silent e2e:image -- --prebuild >"$prebuild_log" 2>&1 &
prebuild=$!
bash scripts/toolchain.sh >/dev/null || fail "the e2e toolchain did not build (scripts/toolchain.sh, log above)"
if ! wait "$prebuild"; then
    echo "test: the e2e images' root filesystems did not prebuild; the e2e will try again:" >&2
    cat "$prebuild_log" >&2
fi
rm -f "$prebuild_log"

passed=0
failed=0
run_suite() { # NAME COMMAND...: runs a suite, adds its "N passed, N failed" line to the totals
    local name=$1 log status line
    shift
    log=$(mktemp)
    "$@" 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    rm -f "$log"
    if [ -z "$line" ]; then
        echo "test: $name ended (status $status) before reporting its tests" >&2
        failed=$((failed + 1))
        return
    fi
    read -r p _ f _ k _ <<<"${line//,/}"
    passed=$((passed + p))
    failed=$((failed + f))
    # A skipped test is a check that did not run: it counts as failed, never as silence.
    if [ -n "${k:-}" ] && [ "$k" != 0 ]; then
        echo "test: $name skipped $k test(s); a skipped test counts as failed" >&2
        failed=$((failed + k))
    fi
    [ "$status" = 0 ] || [ "$f" != 0 ] || failed=$((failed + 1))
}

run_suite "unit, component and real-server tests" npm run --silent test:unit
run_suite "e2e" npm run --silent e2e

echo
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
