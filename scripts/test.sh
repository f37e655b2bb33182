#!/usr/bin/env bash
# Runs every check and test of the project and ends with one line
# "N passed, N failed". Exits non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh || exit 1

passed=0
failed=0
logdir=$(mktemp -d)
summary=()

step() { # step NAME CMD... : one pass/fail unit
  local name=$1; shift
  echo "=== $name"
  if "$@"; then passed=$((passed + 1)); summary+=("ok    $name")
  else failed=$((failed + 1)); summary+=("FAIL  $name"); fi
}

step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy -D warnings" cargo clippy --workspace --all-targets -- -D warnings
step "cargo doc -D warnings" env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps -q
# The bindings use only raft-core's public API: built as a library (no
# dev-dependencies), raft-core comes without its test-internals feature,
# which the workspace builds above turn on for raft-core's own tests.
step "bindings build on the public API" cargo check -q -p raft-ffi -p lraft -p raft-store

# Rust tests: count the individual tests.
echo "=== cargo test --workspace"
cargo test --workspace --no-fail-fast -- --nocapture >"$logdir/cargo.log" 2>&1
rc=$?
grep -E "^(conformance|test result|    |---- |failures:|error)|panicked" "$logdir/cargo.log" | grep -v "^    Finished\|^    Running\|^   Compiling" | tail -n 200
p=$(grep -Eo "test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed" "$logdir/cargo.log" | awk '{s+=$4} END {print s+0}')
f=$(grep -Eo "test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed" "$logdir/cargo.log" | awk '{s+=$6} END {print s+0}')
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
  tail -n 60 "$logdir/cargo.log"; f=1
fi
passed=$((passed + p)); failed=$((failed + f))
summary+=("cargo test: $p passed, $f failed")
while read -r group; do summary+=("  $group"); done < <(
  awk '/^group /{g=$2} /^conformance: /{print "conformance " g ": " $2 " files pass"}' "$logdir/cargo.log")

# The seeded simulation's CI budget, optimized but with overflow checks; a
# failing seed prints the command that replays it.
step "simulation: 500 seeds per mode (sim profile)" \
  env RAFT_SIM_SEEDS=500 cargo test -p raft-core --profile sim --test simulation -- --nocapture

# Fuzz targets (fuzz/, cargo-fuzz on nightly): a few seconds each from the
# committed corpus (new inputs and crashes go to a temporary directory). They
# build in fuzz/target (sanitizer flags: kept apart from the main target).
fuzz_smoke() {
  local dir rc=0
  dir=$(mktemp -d)
  for t in $(cd fuzz && cargo +nightly fuzz list); do
    mkdir -p "$dir/$t"
    (cd fuzz && env -u CARGO_TARGET_DIR \
      cargo +nightly fuzz run "$t" "$dir/$t" "corpus/$t" -- \
      -max_total_time=5 -artifact_prefix="$dir/$t-" 2>&1 | tail -n 3) || rc=1
    if compgen -G "$dir/$t-*" >/dev/null; then
      echo "fuzz $t found: $(ls "$dir/$t"-*)"; rc=1
    fi
  done
  rm -rf "$dir"
  return $rc
}
if cargo +nightly fuzz --version >/dev/null 2>&1; then
  step "fuzz targets, 5 s each" fuzz_smoke
else
  echo "=== fuzz targets: SKIPPED (needs a nightly toolchain and cargo-fuzz:"
  echo "    rustup toolchain install nightly && cargo install cargo-fuzz)"
  summary+=("skip  fuzz targets (no nightly toolchain or cargo-fuzz)")
fi

step "benchmarks build" cargo bench --workspace --no-run -q

# Suites of the other languages print "<suite>: N passed, N failed".
for suite in tests/cpp/run.sh tests/lua/run.sh tests/kv/run.sh tests/lincheck/run.sh tests/install/run.sh; do
  [ -f "$suite" ] || continue
  echo "=== $suite"
  bash "$suite" 2>&1 | tee "$logdir/suite.log"
  line=$(grep -E "^[a-z+]+: [0-9]+ passed, [0-9]+ failed" "$logdir/suite.log" | tail -n 1)
  if [ -z "$line" ]; then
    failed=$((failed + 1)); summary+=("FAIL  $suite (no result line)")
  else
    p=$(echo "$line" | awk '{print $2}'); f=$(echo "$line" | awk '{print $4}')
    passed=$((passed + p)); failed=$((failed + f)); summary+=("$line")
  fi
done

echo
echo "=== summary"
printf '%s\n' "${summary[@]}"
rm -rf "$logdir"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
