#!/usr/bin/env bash
# Runs the scheduler benchmark on this machine, after upstream's scheduler_perf: a fresh etcd,
# a release kube-apiserver and kube-scheduler (as kubeadm runs it, with the client settings a
# user gets unless SCHED_QPS/SCHED_BURST are set) on free loopback ports, then hack/bench's
# scheduler-bench (fake nodes, no kubelets). Processes are stopped by PID on exit.
#
#   hack/bench-scheduler.sh [--workload basic|anti-affinity|spread|preemption|unschedulable]
#                           [--nodes N] [--init-pods N] [--pods N]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
cargo build --release --bin kube-apiserver --bin kube-scheduler --bin kubeadm --bin scheduler-bench
# etcd's data goes to a tmpfs when there is one: like upstream's scheduler_perf this measures
# the scheduler and the apiserver, not the disk (this machine's virtual disk costs a quarter of
# the throughput in fsync and journal work). BENCH_TMP=/tmp keeps it on disk.
if [ -z "${BENCH_TMP:-}" ]; then
  BENCH_TMP=/tmp
  [ -d /dev/shm ] && [ -w /dev/shm ] && BENCH_TMP=/dev/shm
fi
WORK=$(mktemp -d "$BENCH_TMP/k8s-rs-bench.XXXXXX")
echo "etcd data in $WORK (BENCH_TMP=$BENCH_TMP)"
PIDS=()
# KEEP=1 keeps the work directory (logs) for a look afterwards.
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  # Under SCHED_WRAP the scheduler is the wrapper's child.
  pkill -f -- "--kubeconfig $WORK/scheduler.conf" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
. "$ROOT/hack/lib.sh"
EP=$(port); PP=$(port); AP=$(port); SP=$(port)
target/release/kubeadm init phase certs all --apiserver-advertise-address 127.0.0.1 --cert-dir "$WORK/pki" >/dev/null
for kc in super-admin scheduler; do
  target/release/kubeadm init phase kubeconfig "$kc" --apiserver-advertise-address 127.0.0.1 --cert-dir "$WORK/pki" --kubeconfig-dir "$WORK" --apiserver-bind-port "$AP" >/dev/null
done
ETCD_PID=$(start_etcd "$WORK" "$EP" "$PP")
PIDS+=("$ETCD_PID")
admin_pair "$WORK"
API_PID=$(start_apiserver "$WORK" "$EP" "$AP" --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction)
PIDS+=("$API_PID")
QPS_FLAGS=()
[ -n "${SCHED_QPS:-}" ] && QPS_FLAGS+=(--kube-api-qps "$SCHED_QPS")
[ -n "${SCHED_BURST:-}" ] && QPS_FLAGS+=(--kube-api-burst "$SCHED_BURST")
# SCHED_WRAP runs the scheduler under a tool (e.g. "heaptrack -o /tmp/sched").
${SCHED_WRAP:-} target/release/kube-scheduler --kubeconfig "$WORK/scheduler.conf" \
  --authentication-kubeconfig "$WORK/scheduler.conf" --authorization-kubeconfig "$WORK/scheduler.conf" \
  --bind-address 127.0.0.1 --secure-port "$SP" --client-ca-file "$WORK/pki/ca.crt" --leader-elect=false \
  "${QPS_FLAGS[@]}" >"$WORK/scheduler.log" 2>&1 &
SCHED_PID=$!
PIDS+=($SCHED_PID)
for _ in $(seq 300); do curl -skf "https://127.0.0.1:$SP/healthz" >/dev/null && break; sleep 0.1; done
target/release/scheduler-bench --server "https://127.0.0.1:$AP" --ca "$WORK/pki/ca.crt" --cert "$WORK/admin.crt" \
  --key "$WORK/admin.key" --scheduler-pid "$SCHED_PID" --scheduler-port "$SP" \
  --apiserver-pid "$API_PID" --etcd-pid "$ETCD_PID" "$@"
echo "kube-apiserver: peak $(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$API_PID/status) MiB resident, $(awk '{printf "%.1f", ($14+$15)/100}' /proc/$API_PID/stat) CPU seconds in all"
echo "etcd: peak $(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$ETCD_PID/status) MiB resident, $(awk '{printf "%.1f", ($14+$15)/100}' /proc/$ETCD_PID/stat) CPU seconds in all"
