#!/usr/bin/env bash
# Builds libraft (release), checks that the committed raft.h is current,
# compiles the C and C++ tests against it, and runs each test program linked
# dynamically (libraft.so), statically (libraft.a) and under valgrind.
# Ends with one line `ffi: N passed, M failed`; exits non-zero on failure.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
LIB=$TARGET/release
INC=$ROOT/include
OUT=$ROOT/tests/build/ffi
mkdir -p "$OUT"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
finish() {
    echo "ffi: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}

if ! command -v valgrind >/dev/null 2>&1; then
    (apt-get update -qq && apt-get install -y -qq valgrind) >/dev/null 2>&1 || true
fi

if ! cargo build --release -p raft-ffi; then
    fail "cargo build --release -p raft-ffi"
    finish
fi

# libraft.so carries the soname libraft.so.MAJOR (raft-ffi/build.rs), the name
# the dynamically linked tests look for at run time: provide it in the build
# directory, as an install does.
soname=$(readelf -d "$LIB/libraft.so" | sed -n 's/.*soname: \[\(.*\)\]/\1/p')
[ -n "$soname" ] && ln -sfn libraft.so "$LIB/$soname"

# The header cbindgen generated during this build must equal the committed one.
generated=$(ls -t "$TARGET"/release/build/raft-ffi-*/out/raft.h 2>/dev/null | head -1)
if [ -n "$generated" ] && cmp -s "$generated" "$INC/raft.h"; then
    pass "header-current (include/raft.h matches cbindgen output)"
else
    fail "header-current: include/raft.h is stale; run RAFT_FFI_UPDATE_HEADER=1 cargo build -p raft-ffi"
fi

# Native libraries a Rust staticlib needs on Linux.
STATIC_DEPS="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
CFLAGS="-std=c11 -Wall -Wextra -Werror -g -I$INC"
CXXFLAGS="-std=c++17 -Wall -Wextra -Werror -g -I$INC"

build() { # name compiler flags source -> builds $OUT/name.dyn and $OUT/name.static
    local name=$1 cc=$2 flags=$3 src=$4
    # shellcheck disable=SC2086
    $cc $flags "$src" -o "$OUT/$name.dyn" -L"$LIB" -lraft -Wl,-rpath,"$LIB" || return 1
    # shellcheck disable=SC2086
    $cc $flags "$src" -o "$OUT/$name.static" "$LIB/libraft.a" $STATIC_DEPS || return 1
}

run_case() { # label command...
    local label=$1
    shift
    local log="$OUT/$(echo "$label" | tr ' /' '__').log"
    if "$@" >"$log" 2>&1; then
        pass "$label"
    else
        fail "$label (log: $log)"
        tail -20 "$log"
    fi
}

for t in smoke:gcc:c status:gcc:c ready_twice:gcc:c cluster:g++:cpp bad_input:g++:cpp durable:g++:cpp store_bad_input:gcc:c persist_ready:g++:cpp; do
    IFS=: read -r name cc ext <<<"$t"
    if [ "$cc" = gcc ]; then flags=$CFLAGS; else flags=$CXXFLAGS; fi
    if ! build "$name" "$cc" "$flags" "tests/cpp/$name.$ext"; then
        fail "$name dynamic (compile)"
        fail "$name static (compile)"
        fail "$name valgrind (compile)"
        continue
    fi
    run_case "$name dynamic" "$OUT/$name.dyn"
    run_case "$name static" "$OUT/$name.static"
    if command -v valgrind >/dev/null 2>&1; then
        run_case "$name valgrind" valgrind -q --error-exitcode=1 --leak-check=full \
            --errors-for-leak-kinds=definite,indirect,possible "$OUT/$name.dyn"
    else
        fail "$name valgrind (valgrind not installed)"
    fi
done

# The C++ driver of the 3-voter benchmark builds (-Werror) and passes its own
# checks on a small run with a warm-up: every node applies every proposed
# entry, in order, or it exits 1 without a number; under valgrind as well,
# since it keeps Readys alive while their messages are in flight.
bench_smoke() {
    bash scripts/build-bench-cpp.sh "$OUT/three_voters" &&
        "$OUT/three_voters" 2 5 1 | grep -q "entries=320 runs=2 median_entries_per_s=" &&
        valgrind -q --error-exitcode=1 --leak-check=full \
            --errors-for-leak-kinds=definite,indirect,possible "$OUT/three_voters" 1 3 1 >/dev/null
}
run_case "bench/three_voters.cpp small run" bench_smoke

finish
