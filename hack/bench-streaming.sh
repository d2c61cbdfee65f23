#!/usr/bin/env bash
# The streaming calls on a real node (issue 13's benchmarks): `kubectl logs -f` throughput,
# `kubectl exec -- true` round trips, port-forward throughput, and the apiserver's and the
# kubelet's memory and open files with idle exec sessions. Release binaries, the node from
# hack/lib.sh's start_bench_node, kubectl 1.33; everything is stopped on exit.
#
#   hack/bench-streaming.sh [--runs N] [--log-mib N] [--forward-mib N] [--sessions N]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
cargo build --release --bin kube-apiserver --bin kube-controller-manager --bin kube-scheduler --bin kubeadm \
  --bin kubelet --bin streaming-bench --bin k8s-rs-testserver
bash hack/build-images.sh >/dev/null
KUBECTL=${KUBECTL:-$(command -v kubectl.1.33 || ls /usr/lib/google-cloud-sdk/bin/kubectl.1.33 2>/dev/null || command -v kubectl)}
WORK=$(mktemp -d /tmp/k8s-rs-streaming-bench.XXXXXX)
. "$ROOT/hack/lib.sh"
trap 'stop_bench_node "$WORK"' EXIT
start_bench_node "$WORK"
target/release/streaming-bench --server "https://127.0.0.1:$AP" --ca "$WORK/pki/ca.crt" --cert "$WORK/admin.crt" \
  --key "$WORK/admin.key" --kubectl "$KUBECTL" --kubeconfig "$WORK/super-admin.conf" \
  --apiserver-pid "$API_PID" --kubelet-pid "$KUBELET_PID" "$@"
