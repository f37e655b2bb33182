#!/usr/bin/env bash
# The 3-voter workload of the side-by-side benchmark (64 proposals of 128
# bytes per round, 3 nodes in one process) driven from Rust (messages passed
# as values, and encoded to raftpb bytes), from C++ through raft.hpp
# (bench/three_voters.cpp) and from Lua through lraft
# (bench/three_voters.lua), the latter two with messages as raftpb bytes.
# Each round of the loop runs every driver once (interleaved, for a noisy
# machine); the table gives medians and the ratios the issue asks about.
#
# Usage: bash scripts/bench-langs.sh [runs] [rounds]   (defaults 5, 500).
# Honours CARGO_TARGET_DIR. Needs g++ and lua5.4 (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
runs=${1:-5}
rounds=${2:-500}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

bash scripts/build-bench-cpp.sh "$out/three_voters"
bash scripts/build-lua.sh >/dev/null 2>&1
bin=$(cargo bench -p raft-core --bench vs_raft_rs --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*vs_raft_rs[^"]*\)".*/\1/p' | tail -n 1)
[ -x "$bin" ] || { echo "bench-langs: could not build the vs_raft_rs bench" >&2; exit 1; }
export LUA_CPATH="$TARGET/lua/?.so;;"

rust_scale=$(awk -v r="$rounds" 'BEGIN { printf "%g", r / 500 }')
for ((i = 0; i < runs; i++)); do
    VS_RAFT_RS_RUNS=1 VS_RAFT_RS_WORKLOADS=3v VS_RAFT_RS_SCALE=$rust_scale "$bin" --bench >"$out/rust"
    awk '$4 == "ours" { print $6 }' "$out/rust" >>"$out/rust.ours"
    awk '$4 == "ours-enc" { print $6 }' "$out/rust" >>"$out/rust.enc"
    "$out/three_voters" 1 "$rounds" | sed -n 's/.*median_entries_per_s=\([0-9.]*\).*/\1/p' >>"$out/cpp"
    lua5.4 bench/three_voters.lua 1 "$rounds" 2>/dev/null |
        sed -n 's/.*median_entries_per_s=\([0-9.]*\).*/\1/p' >>"$out/lua"
    BENCH_API=batch lua5.4 bench/three_voters.lua 1 "$rounds" 2>/dev/null |
        sed -n 's/.*median_entries_per_s=\([0-9.]*\).*/\1/p' >>"$out/luab"
    BENCH_API=batch BENCH_BATCH=1 lua5.4 bench/three_voters.lua 1 $((rounds * 4)) 2>/dev/null |
        sed -n 's/.*median_entries_per_s=\([0-9.]*\).*/\1/p' >>"$out/lua1"
done

median() { sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; print v[int((NR + 1) / 2)] }'; }
for f in rust.ours rust.enc cpp lua luab lua1; do
    [ "$(wc -l <"$out/$f")" -eq "$runs" ] || { echo "bench-langs: the $f driver failed" >&2; exit 1; }
done
ro=$(median "$out/rust.ours"); re=$(median "$out/rust.enc"); c=$(median "$out/cpp")
l=$(median "$out/lua"); lb=$(median "$out/luab"); l1=$(median "$out/lua1")
printf '3 voters, 128 B entries, medians of %d interleaved runs\n' "$runs"
printf '%-40s %12s %10s\n' driver entries/s ratio
printf '%-40s %12.0f %10s\n' "Rust, messages as values" "$ro" ""
printf '%-40s %12.0f %10s\n' "Rust, raftpb bytes" "$re" "$(awk -v a="$re" -v b="$ro" 'BEGIN { printf "%.2f", a / b }') of Rust"
printf '%-40s %12.0f %10s\n' "C++ (raft.hpp), raftpb bytes" "$c" "$(awk -v a="$c" -v b="$re" 'BEGIN { printf "%.2f", a / b }') of Rust-enc"
printf '%-40s %12.0f %10s\n' "Lua (lraft), list views" "$l" "$(awk -v a="$l" -v b="$re" 'BEGIN { printf "%.2f", a / b }') of Rust-enc"
printf '%-40s %12.0f %10s\n' "Lua (lraft), batch accessors" "$lb" "$(awk -v a="$lb" -v b="$re" 'BEGIN { printf "%.2f", a / b }') of Rust-enc"
printf '%-40s %12.0f %10s\n' "Lua (lraft), batch, 1 proposal per round" "$l1" ""
