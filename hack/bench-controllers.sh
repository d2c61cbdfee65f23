#!/usr/bin/env bash
# Runs the controller-manager benchmark on this machine: a fresh etcd, a release kube-apiserver
# and kube-controller-manager (as kubeadm runs it, with --kube-api-qps/--kube-api-burst from
# KCM_QPS/KCM_BURST, default 1000) on free loopback ports, then hack/bench's controller-bench
# (fake nodes and kubelet, Deployments, namespace deletion). Processes are stopped by PID on exit.
#
#   hack/bench-controllers.sh [--deployments N] [--replicas N] [--nodes N]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
cargo build --release --bin kube-apiserver --bin kube-controller-manager --bin kubeadm --bin controller-bench
WORK=$(mktemp -d /tmp/k8s-rs-bench.XXXXXX)
PIDS=()
# KEEP=1 keeps the work directory (logs) for a look afterwards.
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
. "$ROOT/hack/lib.sh"
EP=$(port); PP=$(port); AP=$(port); KP=$(port)
target/release/kubeadm init phase certs all --apiserver-advertise-address 127.0.0.1 --cert-dir "$WORK/pki" >/dev/null
for kc in super-admin controller-manager; do
  target/release/kubeadm init phase kubeconfig "$kc" --apiserver-advertise-address 127.0.0.1 --cert-dir "$WORK/pki" --kubeconfig-dir "$WORK" --apiserver-bind-port "$AP" >/dev/null
done
ETCD_PID=$(start_etcd "$WORK" "$EP" "$PP")
PIDS+=("$ETCD_PID")
admin_pair "$WORK"
API_PID=$(start_apiserver "$WORK" "$EP" "$AP" --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction)
PIDS+=("$API_PID")
target/release/kube-controller-manager --kubeconfig "$WORK/controller-manager.conf" \
  --authentication-kubeconfig "$WORK/controller-manager.conf" --authorization-kubeconfig "$WORK/controller-manager.conf" \
  --bind-address 127.0.0.1 --secure-port "$KP" --client-ca-file "$WORK/pki/ca.crt" --root-ca-file "$WORK/pki/ca.crt" \
  --service-account-private-key-file "$WORK/pki/sa.key" \
  --cluster-signing-cert-file "$WORK/pki/ca.crt" --cluster-signing-key-file "$WORK/pki/ca.key" \
  --use-service-account-credentials=true --leader-elect=false \
  --kube-api-qps "${KCM_QPS:-1000}" --kube-api-burst "${KCM_BURST:-1000}" >"$WORK/kcm.log" 2>&1 &
KCM_PID=$!
PIDS+=($KCM_PID)
for _ in $(seq 300); do curl -skf "https://127.0.0.1:$KP/healthz" >/dev/null && break; sleep 0.1; done
target/release/controller-bench --server "https://127.0.0.1:$AP" --ca "$WORK/pki/ca.crt" --cert "$WORK/admin.crt" \
  --key "$WORK/admin.key" --kcm-pid "$KCM_PID" --kcm-port "$KP" \
  --apiserver-pid "$API_PID" --etcd-pid "$ETCD_PID" "$@"
echo "kube-apiserver: peak $(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$API_PID/status) MiB resident, $(awk '{printf "%.1f", ($14+$15)/100}' /proc/$API_PID/stat) CPU seconds in all"
echo "etcd: peak $(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$ETCD_PID/status) MiB resident, $(awk '{printf "%.1f", ($14+$15)/100}' /proc/$ETCD_PID/stat) CPU seconds in all"
