#!/usr/bin/env bash
# kube-proxy's rule sync at scale (issue 14's benchmark): 1,000 and 10,000 Services × 5
# endpoints, full and partial syncs, each run in a network namespace of its own (never the
# machine's netfilter). Usage: [MODES="nftables iptables"] [IPTABLES=legacy] hack/bench-proxy.sh [SERVICES...]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
cargo build --release -p bench --bin proxy-bench >/dev/null
# iptables is whichever backend the host's `iptables` is (Debian: nft; IPTABLES=legacy runs
# iptables-legacy through a PATH of its own).
if [ "${IPTABLES:-}" = legacy ]; then
  d=$(mktemp -d)
  for b in iptables iptables-restore iptables-save; do ln -s "/usr/sbin/${b/iptables/iptables-legacy}" "$d/$b"; done
  export PATH="$d:$PATH"
fi
for s in ${@:-1000 10000}; do
  for mode in ${MODES:-nftables iptables}; do
    unshare --net "$ROOT/target/release/proxy-bench" --mode "$mode" --services "$s" --endpoints 5
  done
done
