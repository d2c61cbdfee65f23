#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, the storage integration tests against a real
# etcd, and the end-to-end suites over the built binaries with the real kubectl.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
command -v etcd >/dev/null || { echo "etcd not found: run hack/install-deps.sh" >&2; exit 1; }
# The e2e suites run the binaries, so build them first.
cargo build --workspace --bins
cargo test --workspace --no-fail-fast "$@"
