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
target/release/kubeadm init phase certs all --cert-dir "$WORK/pki" >/dev/null
target/release/kubeadm init phase kubeconfig admin --cert-dir "$WORK/pki" --kubeconfig-dir "$WORK" --apiserver-bind-port "$AP" >/dev/null
PIDS+=("$(start_etcd "$WORK" "$EP" "$PP")")
# Admin client pair for the load tool, from the kubeconfig kubeadm wrote.
admin_pair "$WORK"
target/release/kube-apiserver --etcd-servers "http://127.0.0.1:$EP" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
  --secure-port "$AP" --service-cluster-ip-range 10.96.0.0/12 --tls-cert-file "$WORK/pki/apiserver.crt" \
  --tls-private-key-file "$WORK/pki/apiserver.key" --client-ca-file "$WORK/pki/ca.crt" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$WORK/pki/sa.pub" --service-account-signing-key-file "$WORK/pki/sa.key" \
  --authorization-mode "${AUTHZ_MODE:-Node,RBAC}" >"$WORK/apiserver.log" 2>&1 &
API_PID=$!
PIDS+=($API_PID)
for _ in $(seq 300); do curl -sf --cacert "$WORK/pki/ca.crt" --cert "$WORK/admin.crt" --key "$WORK/admin.key" "https://127.0.0.1:$AP/readyz" >/dev/null && break; sleep 0.1; done
sleep 2  # let start-up settle so the idle memory figure is idle
target/release/apiserver-bench --server "https://127.0.0.1:$AP" --ca "$WORK/pki/ca.crt" --cert "$WORK/admin.crt" --key "$WORK/admin.key" --pid "$API_PID" --ca-key "$WORK/pki/ca.key" \
  --kubeconfig "$WORK/admin.conf" --kubectl "$(command -v kubectl)" "$@"
