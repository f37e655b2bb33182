#!/bin/sh
# The kv service under faults, checked for linearizability: builds the lraft
# module and the checker (tools/lincheck), then runs tests/lincheck/cases.lua,
# which starts the nodes and the fault proxy on 127.0.0.1 ports it picks and
# stops them all. LINCHECK_SECONDS=300 runs a longer fault phase (default
# 30); LINCHECK_SEED fixes the random choices; LINCHECK_NODE_ARGS adds node
# options; LINCHECK_KEEP=1 keeps the scratch directory (history, node and
# proxy logs). Ends with one line
# "lincheck: N passed, N failed".
cd "$(dirname "$0")/../.." || exit 1
root=$(pwd)
log=$(mktemp)
if ! ./scripts/build-lua.sh >"$log" 2>&1 || ! cargo build -q --release -p lincheck >>"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "lincheck: 0 passed, 1 failed"
    exit 1
fi
rm -f "$log"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
LUA_CPATH="$target_dir/lua/?.so;;"
LUA_PATH="$root/tests/lincheck/?.lua;$root/examples/kv/?.lua;$root/lua/?.lua;;"
export LUA_CPATH LUA_PATH
dir=$(mktemp -d)
# cases.lua stops what it started; this trap catches what an interrupted run
# leaves behind (every node and the proxy write a pid file in $dir).
cleanup() {
    for f in "$dir"/node*.pid "$dir"/proxy.pid; do
        [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
    done
    if [ -n "${LINCHECK_KEEP:-}" ]; then echo "lincheck: scratch directory kept: $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT INT TERM
seconds=${LINCHECK_SECONDS:-30}
timeout $((seconds + 180)) lua5.4 tests/lincheck/cases.lua "$dir" "$target_dir/release/lincheck"
status=$?
if [ "$status" -eq 124 ]; then echo "lincheck: the suite timed out"; echo "lincheck: 0 passed, 1 failed"; fi
exit "$status"
