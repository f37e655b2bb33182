#!/bin/sh
# Builds the lraft module if needed and runs the busted specs under tests/lua.
# Ends with exactly one line "lua: N passed, N failed" and exits non-zero on
# any failure. Extra arguments go to busted (e.g. a single spec file).
cd "$(dirname "$0")/../.." || exit 1
root=$(pwd)
if ! ./scripts/build-lua.sh >/tmp/lraft-build.$$ 2>&1; then
    cat /tmp/lraft-build.$$ >&2
    rm -f /tmp/lraft-build.$$
    echo "lua: 0 passed, 1 failed"
    exit 1
fi
rm -f /tmp/lraft-build.$$
target_dir="${CARGO_TARGET_DIR:-$root/target}"
LUA_CPATH="$target_dir/lua/?.so;;"
LUA_PATH="$root/lua/?.lua;$root/tests/lua/?.lua;;"
export LUA_CPATH LUA_PATH
out=$(mktemp)
if [ $# -eq 0 ]; then set -- tests/lua; fi
busted --lua=lua5.4 -o TAP --pattern=_spec "$@" >"$out" 2>&1
status=$?
cat "$out"
passed=$(grep -c '^ok ' "$out")
failed=$(grep -c '^not ok ' "$out")
rm -f "$out"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    # busted itself failed (e.g. a spec file did not load).
    failed=1
fi
echo "lua: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
