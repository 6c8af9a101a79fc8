#!/usr/bin/env bash
# Proves the README's quick start: clones this checkout into an empty directory and runs the two
# commands of the README's "The two commands" block there, exactly as written (read from the README,
# so they cannot drift), then checks what they promise: the offline render of the dev stack, and the
# test command's closing "N passed, N failed" line. Its own two checks are added to that line.
# ASKY_TOOLCHAIN_DIR, when set, is passed on (a warm toolchain for a local run; CI builds it cold).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

mapfile -t commands < <(awk '
    /^## The two commands/ { section = 1; next }
    section && /^## / { exit }
    section && /^```bash/ { block = 1; next }
    block && /^```/ { exit }
    block && NF { sub(/[[:space:]]+#.*$/, ""); print }
' "$ROOT/README.md")
if [ ${#commands[@]} -ne 2 ]; then
    echo "quickstart: the README's 'The two commands' block has ${#commands[@]} commands, not 2"
    echo "0 passed, 1 failed"
    exit 1
fi

work=$(mktemp -d)
# A failed e2e leaves its real node up for a look (npm run e2e:down); the clone goes with this run, so
# its node, mounts and rules go first, or they would outlive the clone they were made from.
cleanup() {
    if [ -d "$work/asky/.e2e" ]; then
        (cd "$work/asky" && npm run --silent e2e:down >/dev/null 2>&1) || echo "quickstart: npm run e2e:down failed in $work/asky" >&2
    fi
    rm -rf "$work"
}
trap cleanup EXIT
git clone --quiet --no-local "$ROOT" "$work/asky" || { echo "quickstart: git clone failed"; echo "0 passed, 1 failed"; exit 1; }
cd "$work/asky"
echo "quickstart: fresh clone of $(git rev-parse --short HEAD) in $work/asky"

passed=0
failed=0
check() { # DESCRIPTION CONDITION...
    local what=$1
    shift
    if "$@"; then passed=$((passed + 1)); echo "quickstart: ok: $what"; else failed=$((failed + 1)); echo "quickstart: FAILED: $what"; fi
}

echo "quickstart: \$ ${commands[0]}"
start=$SECONDS
bash -c "${commands[0]}"
first=$?
echo "quickstart: first command: exit $first in $((SECONDS - start)) s"
check "the first command renders the dev stack offline (rendered/dev.yaml)" \
    bash -c "[ $first = 0 ] && [ \"\$(grep -c '^kind: ' rendered/dev.yaml 2>/dev/null)\" -ge 30 ]"

echo "quickstart: \$ ${commands[1]}"
log=$work/test.log
start=$SECONDS
bash -c "${commands[1]}" 2>&1 | tee "$log"
second=${PIPESTATUS[0]}
echo "quickstart: second command: exit $second in $((SECONDS - start)) s"
summary=$(tail -n 1 "$log")
check "the test command ends with its 'N passed, N failed' line" bash -c "[[ '$summary' =~ ^[0-9]+\ passed,\ [0-9]+\ failed$ ]]"

if [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    passed=$((passed + BASH_REMATCH[1]))
    failed=$((failed + BASH_REMATCH[2]))
fi
[ "$second" = 0 ] || [ "$failed" != 0 ] || failed=$((failed + 1))
echo
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
