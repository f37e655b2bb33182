#!/bin/sh
# The kv service suite (examples/kv): builds the lraft module if needed, then
# runs tests/kv/cases.lua, which starts node processes on 127.0.0.1 ports it
# picks and stops them all. Ends with one line "kv: N passed, N failed".
cd "$(dirname "$0")/../.." || exit 1
root=$(pwd)
if ! ./scripts/build-lua.sh >/tmp/kv-build.$$ 2>&1; then
    cat /tmp/kv-build.$$ >&2
    rm -f /tmp/kv-build.$$
    echo "kv: 0 passed, 1 failed"
    exit 1
fi
rm -f /tmp/kv-build.$$
target_dir="${CARGO_TARGET_DIR:-$root/target}"
LUA_CPATH="$target_dir/lua/?.so;;"
LUA_PATH="$root/examples/kv/?.lua;$root/lua/?.lua;;"
export LUA_CPATH LUA_PATH
dir=$(mktemp -d)
# cases.lua stops its nodes itself; this trap catches what an interrupted
# run leaves behind (every node writes its pid file in $dir).
cleanup() {
    for f in "$dir"/*/node*.pid "$dir"/node*.pid; do
        [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
    done
    if [ -n "${KV_KEEP:-}" ]; then echo "kv: scratch directory kept: $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT INT TERM
timeout 240 lua5.4 tests/kv/cases.lua "$dir" "$@"
status=$?
if [ "$status" -eq 124 ]; then echo "kv: the suite timed out"; echo "kv: 0 passed, 1 failed"; fi
exit "$status"
