#!/usr/bin/env bash
# Pod startup latency on a real node: a fresh etcd, release kube-apiserver,
# kube-controller-manager (node IPAM) and kube-scheduler on free loopback ports, one node from
# hack/node.sh (its own network namespace and containerd) with the release kubelet, then
# hack/bench's kubelet-bench. Everything is stopped by PID and namespace on exit.
#
#   hack/bench-kubelet.sh [--singles N] [--burst N] [--idle-seconds N]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
cargo build --release --bin kube-apiserver --bin kube-controller-manager --bin kube-scheduler --bin kubeadm \
  --bin kubelet --bin kubelet-bench --bin cri-bench --bin k8s-rs-testserver
bash hack/build-images.sh >/dev/null
WORK=$(mktemp -d /tmp/k8s-rs-kubelet-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  bash hack/node.sh down "$WORK/node" 2>/dev/null || true
  bash hack/node.sh switch-down "$WORK/switch" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
. "$ROOT/hack/lib.sh"
EP=$(port); PP=$(port); AP=$(port); SP=$(port); CP=$(port)
target/release/kubeadm init phase certs all --cert-dir "$WORK/pki" >/dev/null
for kc in admin scheduler controller-manager; do
  target/release/kubeadm init phase kubeconfig "$kc" --cert-dir "$WORK/pki" --kubeconfig-dir "$WORK" --apiserver-bind-port "$AP" >/dev/null
done
target/release/kubeadm init phase kubeconfig kubelet --node-name bench-node --cert-dir "$WORK/pki" --kubeconfig-dir "$WORK" \
  --apiserver-bind-port "$AP" >/dev/null
ETCD_PID=$(start_etcd "$WORK" "$EP" "$PP")
PIDS+=("$ETCD_PID")
admin_pair "$WORK"
API_PID=$(start_apiserver "$WORK" "$EP" "$AP" --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction)
PIDS+=("$API_PID")
target/release/kube-controller-manager --kubeconfig "$WORK/controller-manager.conf" \
  --authentication-kubeconfig "$WORK/controller-manager.conf" --authorization-kubeconfig "$WORK/controller-manager.conf" \
  --bind-address 127.0.0.1 --secure-port "$CP" --root-ca-file "$WORK/pki/ca.crt" \
  --service-account-private-key-file "$WORK/pki/sa.key" --use-service-account-credentials=true --leader-elect=false \
  --allocate-node-cidrs=true --cluster-cidr 10.244.0.0/16 >"$WORK/controller-manager.log" 2>&1 &
PIDS+=($!)
target/release/kube-scheduler --kubeconfig "$WORK/scheduler.conf" \
  --authentication-kubeconfig "$WORK/scheduler.conf" --authorization-kubeconfig "$WORK/scheduler.conf" \
  --bind-address 127.0.0.1 --secure-port "$SP" --leader-elect=false >"$WORK/scheduler.log" 2>&1 &
PIDS+=($!)
bash hack/node.sh switch-up "$WORK/switch" >/dev/null
bash hack/node.sh up "$WORK/node" bench-node "$AP" "$WORK/switch" 172.18.0.2/24 >/dev/null
HOLDER=$(cat "$WORK/node/holder.pid")
printf 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\npodLogsDir: %s\n' "$WORK/node/pod-logs" \
  >"$WORK/node/kubelet-config.yaml"
nsenter --target "$HOLDER" --mount --net -- "$ROOT/target/release/kubelet" --kubeconfig "$WORK/kubelet.conf" \
  --config "$WORK/node/kubelet-config.yaml" --root-dir "$WORK/node/kubelet" --hostname-override bench-node \
  --node-ip 172.18.0.2 --container-runtime-endpoint "unix://$WORK/node/containerd.sock" \
  --cgroup-root "/$(cat "$WORK/node/netns")" >"$WORK/kubelet.log" 2>&1 &
KUBELET_PID=$!
PIDS+=("$KUBELET_PID")
# The node is ready once the lifecycle controller lifts its not-ready taint.
for _ in $(seq 600); do
  out=$(curl -sf --cacert "$WORK/pki/ca.crt" --cert "$WORK/admin.crt" --key "$WORK/admin.key" \
    "https://127.0.0.1:$AP/api/v1/nodes/bench-node" || true)
  if echo "$out" | python3 -c 'import json,sys
n = json.load(sys.stdin)
ready = any(c["type"] == "Ready" and c["status"] == "True" for c in n.get("status", {}).get("conditions", []))
tainted = any(t["key"] == "node.kubernetes.io/not-ready" for t in n.get("spec", {}).get("taints", []) or [])
sys.exit(0 if ready and not tainted else 1)' 2>/dev/null; then
    break
  fi
  sleep 0.1
done
target/release/kubelet-bench --server "https://127.0.0.1:$AP" --ca "$WORK/pki/ca.crt" --cert "$WORK/admin.crt" \
  --key "$WORK/admin.key" --kubelet-pid "$KUBELET_PID" "$@"
# The runtime's own floor for the same burst, with the kubelet stopped (it would kill pods it
# does not know): what the figures above would be if the kubelet and the control plane took
# no time at all.
kill "$KUBELET_PID"
wait "$KUBELET_PID" 2>/dev/null || true
BURST=30
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = --burst ]; then j=$((i + 1)); BURST=${!j}; fi
done
nsenter --target "$HOLDER" --mount --net -- "$ROOT/target/release/cri-bench" --burst "$BURST" \
  --config "$WORK/node/kubelet-config.yaml" --container-runtime-endpoint "unix://$WORK/node/containerd.sock" \
  --cgroup-root "/$(cat "$WORK/node/netns")"
