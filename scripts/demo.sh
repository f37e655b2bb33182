#!/usr/bin/env bash
# The README's first command. Installs what is missing, builds the Lua
# module, then runs the replicated key-value service (examples/kv) as
# separate node processes on 127.0.0.1: writes, a leader killed with
# SIGKILL, a restart, a node added and removed (examples/kv/scenario.lua).
# The in-process examples are in scripts/demo-inprocess.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
echo "== building the Lua module (scripts/build-lua.sh)"
t0=$(date +%s)
bash scripts/build-lua.sh >/tmp/kv-demo-build.$$ 2>&1 || { cat /tmp/kv-demo-build.$$; rm -f /tmp/kv-demo-build.$$; exit 1; }
rm -f /tmp/kv-demo-build.$$
echo "   built in $(( $(date +%s) - t0 )) s"
echo "== replicated key-value service: 3 node processes on 127.0.0.1 (examples/kv)"
LUA_CPATH="$target_dir/lua/?.so;;" LUA_PATH="$PWD/lua/?.lua;;" lua5.4 examples/kv/scenario.lua "$@"
echo "== next: examples/kv/README.md (run a cluster and kvctl by hand), scripts/demo-inprocess.sh"
