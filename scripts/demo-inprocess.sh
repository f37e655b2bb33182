#!/usr/bin/env bash
# The in-process examples: a three-node cluster in one process, in Rust
# (in-memory storage) and in Lua (LevelDB storage through lua/ldbstorage.lua).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
echo "== Rust: raft-core/examples/cluster.rs"
cargo run --release -q -p raft-core --example cluster
echo "== Lua: examples/cluster.lua"
bash scripts/build-lua.sh >/dev/null
LUA_CPATH="$target_dir/lua/?.so;;" LUA_PATH="$PWD/lua/?.lua;;" lua5.4 examples/cluster.lua
