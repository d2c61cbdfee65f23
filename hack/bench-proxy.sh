#!/usr/bin/env bash
# kube-proxy's rule sync at scale (issue 14's benchmark): 1,000 and 10,000 Services × 5
# endpoints, full and partial syncs, each run in a network namespace of its own (never the
# machine's netfilter). Usage: hack/bench-proxy.sh [SERVICES...]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
cargo build --release -p bench --bin proxy-bench >/dev/null
for n in "${@:-1000 10000}"; do
  for s in $n; do
    unshare --net "$ROOT/target/release/proxy-bench" --services "$s" --endpoints 5
  done
done
