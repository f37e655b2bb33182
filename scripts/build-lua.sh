#!/bin/sh
# Builds the lraft Lua module and installs it as target/lua/lraft.so, where
# tests/lua/run.sh (and the README's package.cpath) look for it.
set -e
cd "$(dirname "$0")/.."
cargo build --release -p lraft
target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target_dir/lua"
cp -f "$target_dir/release/liblraft.so" "$target_dir/lua/lraft.so.tmp"
mv -f "$target_dir/lua/lraft.so.tmp" "$target_dir/lua/lraft.so"
