#!/usr/bin/env bash
# The kubeadm bootstrap, measured (release binaries, this machine): the time from `kubeadm init`
# to the node Ready and to every control-plane pod Ready, the time of a `kubeadm join` (node
# created beforehand) to that node Ready, and the resident memory of each daemon once the
# cluster has idled IDLE seconds (default 60) with no workloads.
#
#   hack/bench-kubeadm.sh           builds (release) unless SKIP_BUILD=1; a cluster of its own in a
#                                   temporary directory, cleaned up at the end (KEEP=1 keeps it)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
IDLE=${IDLE:-60}
DIR=$(mktemp -d /tmp/k8s-rs-bench-kubeadm.XXXXXX)
export LOCAL_UP_DIR=$DIR/cluster API_PORT=${API_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
export SKIP_DEPS=${SKIP_DEPS:-1} PROFILE=release KUBECONFIG=$DIR/cluster/admin.conf
cleanup() {
  if [ "${KEEP:-0}" != 1 ]; then
    NODES=1 "$ROOT/hack/local-up-cluster.sh" clean >/dev/null 2>&1 || true
    rm -rf "$DIR"
  fi
}
trap cleanup EXIT

# One node: init, then Ready, then every control-plane pod Ready.
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  (cd "$ROOT" && cargo build --release --bin kube-apiserver --bin kube-controller-manager --bin kube-scheduler \
    --bin kubeadm --bin kubelet --bin kube-proxy --bin k8s-rs-testserver)
fi
SKIP_BUILD=1 NODES=1 "$ROOT/hack/local-up-cluster.sh" >"$DIR/up.log" 2>&1 || { tail -30 "$DIR/up.log"; exit 1; }
init_ready=$(grep -o 'to 1 node(s) Ready: [0-9]* ms' "$DIR/up.log" | grep -o '[0-9]* ms')
init_start=$(grep -o 'started at [0-9]* ms' "$DIR/up.log" | grep -o '[0-9]*')
# The control-plane pods' Ready transitions, from their mirrors' status (1 s resolution).
kubectl wait -n kube-system --for=condition=Ready pod -l tier=control-plane --timeout=120s >/dev/null
cp_ready=$(kubectl -n kube-system get pods -l tier=control-plane -o json | INIT_START=$init_start python3 -c '
import json, os, sys
from datetime import datetime, timezone
pods = json.load(sys.stdin)["items"]
ts = lambda s: datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
ready = max(ts(c["lastTransitionTime"]) for p in pods for c in p["status"]["conditions"] if c["type"] == "Ready")
print(len(pods), round(ready - int(os.environ["INIT_START"]) / 1000))')

# A join: node-2 made first, then `kubeadm join` until the node is Ready (timed by add-node).
SKIP_BUILD=1 "$ROOT/hack/local-up-cluster.sh" add-node >"$DIR/join.log" 2>&1 || { tail -30 "$DIR/join.log"; exit 1; }
joined=$(grep -o 'kubeadm join to node-2 Ready: [0-9]* ms' "$DIR/join.log" | grep -o '[0-9]* ms')

sleep "$IDLE"
rss() { # NAME PATTERN: the RSS (KiB) of each process of this cluster running PATTERN
  local total=0 p ns
  for p in $(pgrep -f "$2"); do
    ns=$(readlink "/proc/$p/ns/net")
    for n in "$DIR"/cluster/node-*/; do
      if [ "$(readlink "/proc/$(cat "$n/holder.pid")/ns/net")" = "$ns" ]; then
        printf '  %-24s %-8s %6.1f MiB\n' "$1" "$(basename "$n")" "$(awk '/VmRSS/{print $2/1024}' "/proc/$p/status")"
      fi
    done
  done
}
echo "kubeadm init to node Ready:                  $init_ready"
echo "kubeadm init to control-plane pods Ready:     ${cp_ready#* } s (${cp_ready%% *} pods; 1 s resolution)"
echo "kubeadm join to node Ready:                   $joined"
echo "resident memory after ${IDLE}s idle:"
rss kube-apiserver '^kube-apiserver '
rss kube-controller-manager '^kube-controller-manager '
rss kube-scheduler '^kube-scheduler '
rss kubelet "$ROOT/target/release/kubelet "
rss kube-proxy '^/usr/local/bin/kube-proxy '
rss etcd '^etcd '
