#!/usr/bin/env bash
# Runs make targets as lanes at the same time: `test-lanes.sh "NAME PORTS TARGET" ...`.
# Each lane's lines come as they are written, prefixed with its name; each lane picks its test ports from its
# own range (FLEETMON_TEST_PORTS, read by tests/conftest.py free_port), so lanes never pick the same port.
# Each lane ends with its status and time; the exit status is non-zero when any lane failed.
set -uo pipefail

run_lane() {
    local name=$1 ports=$2 target=$3 start status verdict
    start=$(date +%s)
    FLEETMON_TEST_PORTS=$ports ${MAKE:-make} --no-print-directory "$target" 2>&1 | sed -u "s/^/[$name] /"
    status=$?
    if [ "$status" -eq 0 ]; then verdict=passed; else verdict="FAILED (exit $status)"; fi
    printf 'lane %s (make %s): %s after %ds\n' "$name" "$target" "$verdict" $(( $(date +%s) - start ))
    return "$status"
}

pids=()
for lane in "$@"; do
    read -r name ports target <<<"$lane"
    run_lane "$name" "$ports" "$target" &
    pids+=("$!")
done

failed=0
for pid in "${pids[@]}"; do
    wait "$pid" || failed=1
done
exit "$failed"
