#!/usr/bin/env bash
# Runs the apiserver benchmark on this machine: a fresh etcd and a release kube-apiserver on
# free loopback ports, then hack/bench's load tool. Both processes are stopped by PID on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
cargo build --release --bin kube-apiserver --bin kubeadm --bin apiserver-bench
WORK=$(mktemp -d /tmp/k8s-rs-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
. "$ROOT/hack/lib.sh"
EP=$(port); PP=$(port); AP=$(port)
target/release/kubeadm init phase certs all --apiserver-advertise-address 127.0.0.1 --cert-dir "$WORK/pki" >/dev/null
target/release/kubeadm init phase kubeconfig super-admin --apiserver-advertise-address 127.0.0.1 --cert-dir "$WORK/pki" --kubeconfig-dir "$WORK" --apiserver-bind-port "$AP" >/dev/null
PIDS+=("$(start_etcd "$WORK" "$EP" "$PP")")
# Admin client pair for the load tool, from the kubeconfig kubeadm wrote.
admin_pair "$WORK"
API_PID=$(start_apiserver "$WORK" "$EP" "$AP" --authorization-mode "${AUTHZ_MODE:-Node,RBAC}")
PIDS+=("$API_PID")
sleep 2  # let start-up settle so the idle memory figure is idle
target/release/apiserver-bench --server "https://127.0.0.1:$AP" --ca "$WORK/pki/ca.crt" --cert "$WORK/admin.crt" --key "$WORK/admin.key" --pid "$API_PID" --ca-key "$WORK/pki/ca.key" \
  --kubeconfig "$WORK/super-admin.conf" --kubectl "$(command -v kubectl)" "$@"
