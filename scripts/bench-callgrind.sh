#!/usr/bin/env bash
# Instructions per entry of this core and of raft-rs on the side-by-side
# benchmark's workloads (raft-core/benches/vs_raft_rs.rs), counted by
# valgrind's callgrind inside `measured_rounds` only (the rounds after the
# election and the final check). Instruction counts stay stable on a busy
# machine, where wall-clock timings do not.
#
# `cpp` instead of a workload compares the 3-voter workload driven from C++
# (bench/three_voters.cpp, through raft.hpp, its `measured_rounds` counted
# the same way) with the Rust driver that passes raftpb bytes (ours-enc).
#
# `lua` counts the Lua batch driver (bench/three_voters.lua with
# BENCH_API=batch) the same way. A Lua script cannot mark its measured
# rounds for callgrind, so it runs the whole script twice, with 100 and 300
# rounds of 64 entries, and divides the difference by the 12,800 entries
# between them: start-up, election and module loading cancel out.
#
# Usage: bash scripts/bench-callgrind.sh [workload...]   (default: 1v 3v 1p;
# keys: 1v 3v 5v 4k 1p cpp lua). Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "bench-callgrind: valgrind is not installed" >&2; exit 1; }
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(1v 3v 1p)

bin=$(cargo bench -p raft-core --bench vs_raft_rs --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*vs_raft_rs[^"]*\)".*/\1/p' | tail -n 1)
[ -x "$bin" ] || { echo "bench-callgrind: could not build the vs_raft_rs bench" >&2; exit 1; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# One row: workload $1, backend $2, then the command to count.
count() {
    local w=$1 b=$2 f="$out/cg.$2.$1" line entries ir
    shift 2
    line=$(valgrind --tool=callgrind --callgrind-out-file="$f" --collect-atstart=no \
        '--toggle-collect=*measured_rounds*' "$@" 2>/dev/null)
    entries=$(sed -n 's/.* entries=\([0-9]*\).*/\1/p' <<<"$line")
    ir=$(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$f")
    [ -n "$entries" ] && [ -n "$ir" ] || { echo "bench-callgrind: run $b $w failed" >&2; exit 1; }
    printf '%-9s %-11s %9s %14s %16s\n' "$w" "$b" "$entries" "$ir" "$((ir / entries))"
}

printf '%-9s %-11s %9s %14s %16s\n' workload backend entries instructions "instr/entry"
for w in "${workloads[@]}"; do
    if [ "$w" = lua ]; then
        command -v lua5.4 >/dev/null || { echo "bench-callgrind: lua5.4 is not installed" >&2; exit 1; }
        bash scripts/build-lua.sh >/dev/null 2>&1 || { echo "bench-callgrind: could not build lraft" >&2; exit 1; }
        count 3v ours-enc "$bin" --callgrind ours-enc 3v
        irs=()
        for rounds in 100 300; do
            LUA_CPATH="${CARGO_TARGET_DIR:-$PWD/target}/lua/?.so;;" BENCH_API=batch \
                valgrind --tool=callgrind --callgrind-out-file="$out/cg.lua.$rounds" \
                lua5.4 bench/three_voters.lua 1 "$rounds" 0 >/dev/null 2>&1 ||
                { echo "bench-callgrind: the Lua driver failed" >&2; exit 1; }
            irs+=("$(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$out/cg.lua.$rounds")")
        done
        ir=$((irs[1] - irs[0]))
        printf '%-9s %-11s %9s %14s %16s\n' 3v lua-batch 12800 "$ir" "$((ir / 12800))"
        continue
    fi
    if [ "$w" = cpp ]; then
        bash scripts/build-bench-cpp.sh "$out/three_voters"
        count 3v ours-enc "$bin" --callgrind ours-enc 3v
        # The Rust 3v size (500 rounds of 64), one run without warm-up: the
        # count covers every call of measured_rounds.
        count 3v cpp "$out/three_voters" 1 500 0
        continue
    fi
    for b in ours rs-nobatch rs-batch; do
        count "$w" "$b" "$bin" --callgrind "$b" "$w"
    done
done
