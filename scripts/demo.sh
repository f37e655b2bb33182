#!/usr/bin/env bash
# Installs what is missing, builds everything, and runs the demo: a
# three-node cluster in one process (Rust).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo run --release -q -p raft-core --example cluster
