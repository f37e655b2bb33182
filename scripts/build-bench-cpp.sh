#!/usr/bin/env bash
# Builds the C++ driver of the 3-voter workload (bench/three_voters.cpp)
# against the release libraft.a into the file given as argument; used by
# scripts/bench-langs.sh (wall clock) and scripts/bench-callgrind.sh cpp
# (instructions). Honours CARGO_TARGET_DIR. Needs g++.
#
# Usage: bash scripts/build-bench-cpp.sh <output binary>
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: build-bench-cpp.sh <output binary>" >&2; exit 2; }
out=$1
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build --release -q -p raft-ffi
g++ -std=c++17 -O2 -g -Wall -Wextra -Werror -I"$ROOT/include" bench/three_voters.cpp -o "$out" \
    "$TARGET/release/libraft.a" -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
