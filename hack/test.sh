#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, the storage integration tests against a real
# etcd, and the end-to-end suites over the built binaries with the real kubectl.
#
#   STRESS=N   runs the tests beside N busy loops (CPU contention, as on a shared CI machine);
#              the loops start after the build and stop when the tests end, also on failure.
#   REPEAT=N   runs the tests N times in a row (after one build), stopping at the first failure.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
command -v etcd >/dev/null || { echo "etcd not found: run hack/install-deps.sh" >&2; exit 1; }
STRESS=${STRESS:-0}
REPEAT=${REPEAT:-1}
# The e2e suites run the binaries, so build them (and the tests) first.
cargo build --workspace --bins
cargo test --workspace --no-run
# Test nodes left behind by a test process that was killed (see hack/node.sh).
bash hack/node.sh gc

loops=()
stop_loops() {
  for pid in "${loops[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${loops[@]}"; do wait "$pid" 2>/dev/null || true; done
  loops=()
}
trap stop_loops EXIT
for _ in $(seq 1 "$STRESS"); do
  sh -c 'while :; do :; done' &
  loops+=("$!")
done
[ "$STRESS" -gt 0 ] && echo "test.sh: running beside $STRESS busy loops"

for run in $(seq 1 "$REPEAT"); do
  [ "$REPEAT" -gt 1 ] && echo "test.sh: run $run of $REPEAT"
  cargo test --workspace --no-fail-fast "$@"
done
