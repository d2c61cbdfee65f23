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
. "$ROOT/hack/lib.sh"
trap 'stop_bench_node "$WORK"' EXIT
start_bench_node "$WORK"
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
HOLDER=$(cat "$WORK/node/holder.pid")
nsenter --target "$HOLDER" --mount --net -- "$ROOT/target/release/cri-bench" --burst "$BURST" \
  --config "$WORK/node/kubelet-config.yaml" --container-runtime-endpoint "unix://$WORK/node/containerd.sock" \
  --cgroup-root "/$(cat "$WORK/node/netns")"
