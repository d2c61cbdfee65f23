#!/usr/bin/env bash
# kube-proxy's rule sync at scale (issue 14's benchmark): 1,000 and 10,000 Services × 5
# endpoints, full and partial syncs, each run in a network namespace of its own (never the
# machine's netfilter). Usage: [MODES="nftables iptables"] [IPTABLES=legacy] hack/bench-proxy.sh [SERVICES...]
#
# hack/bench-proxy.sh --cluster [SERVICES]: the real kube-proxy binary against etcd and a
# release kube-apiserver (all in one network namespace) holding SERVICES Services (default
# 10,000) of 5 endpoints: time to program them all, resident memory, network programming latency.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
if [ "${1:-}" = --cluster ]; then
  cargo build --release --bin kube-apiserver --bin kubeadm --bin kube-proxy --bin proxy-cluster-bench >/dev/null
  for mode in ${MODES:-nftables iptables}; do
    unshare --net bash -c '
      set -euo pipefail
      ip link set lo up
      . hack/lib.sh
      WORK=$(mktemp -d /tmp/k8s-rs-bench.XXXXXX)
      PIDS=()
      trap '"'"'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"'"'"' EXIT
      EP=$(port); PP=$(port); AP=$(port)
      target/release/kubeadm init phase certs all --apiserver-advertise-address 127.0.0.1 --cert-dir "$WORK/pki" >/dev/null
      target/release/kubeadm init phase kubeconfig super-admin --apiserver-advertise-address 127.0.0.1 --cert-dir "$WORK/pki" --kubeconfig-dir "$WORK" --apiserver-bind-port "$AP" >/dev/null
      printf "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint: {advertiseAddress: 127.0.0.1, bindPort: %s}\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\ncertificatesDir: %s\n" "$AP" "$WORK/pki" >"$WORK/kubeadm.yaml"
      target/release/kubeadm kubeconfig user --client-name system:kube-proxy --config "$WORK/kubeadm.yaml" >"$WORK/kube-proxy.conf"
      PIDS+=("$(start_etcd "$WORK" "$EP" "$PP")")
      admin_pair "$WORK"
      PIDS+=("$(start_apiserver "$WORK" "$EP" "$AP" --authorization-mode Node,RBAC)")
      target/release/proxy-cluster-bench --server "https://127.0.0.1:$AP" --ca "$WORK/pki/ca.crt" \
        --cert "$WORK/admin.crt" --key "$WORK/admin.key" --proxy target/release/kube-proxy \
        --kubeconfig "$WORK/kube-proxy.conf" --mode "$0" --services "$1"
    ' "$mode" "${2:-10000}"
  done
  exit 0
fi
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
