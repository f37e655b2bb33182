#!/usr/bin/env bash
# Runs the same load against our 3-node kv cluster (examples/kv) and a
# 3-member etcd 3.4 cluster (Debian's etcd-server, installed if missing),
# both on 127.0.0.1: puts and linearizable gets with 1 and 16 clients, and the
# time from SIGKILL of the leader to the first acknowledged put.
# Extra arguments go to examples/kv/compare.lua (e.g. --seconds 10).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
if ! command -v etcd >/dev/null; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq etcd-server >/dev/null
fi
bash scripts/build-lua.sh >/dev/null
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
LUA_CPATH="$target_dir/lua/?.so;;" LUA_PATH="$PWD/lua/?.lua;;" lua5.4 examples/kv/compare.lua "$@"
