#!/usr/bin/env bash
# Brings up a local cluster from this checkout: installs dependencies, builds the binaries and
# the test images, writes certificates and kubeconfigs kubeadm-style, starts etcd,
# kube-apiserver, kube-controller-manager and kube-scheduler in the background, and one node:
# a network namespace with its own containerd, the kubelet and kube-proxy (hack/node.sh). Prints how to
# point kubectl at it.
#
#   hack/local-up-cluster.sh          start (or restart) the cluster
#   hack/local-up-cluster.sh down     stop it (by PID) and keep its data
#   hack/local-up-cluster.sh clean    stop it and delete its data
#
# Environment: LOCAL_UP_DIR (default /tmp/k8s-rs-local), API_PORT (6443), ETCD_PORT (2379), KCM_PORT (10257),
# SCHEDULER_PORT (10259), SERVICE_CIDR (10.96.0.0/12), CLUSTER_CIDR (10.244.0.0/16), NODE_NAME (node-1),
# PROFILE (release|debug, default release), PROXY_MODE (iptables|nftables, default iptables), SKIP_DEPS=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${LOCAL_UP_DIR:-/tmp/k8s-rs-local}
API_PORT=${API_PORT:-6443}
ETCD_PORT=${ETCD_PORT:-2379}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-$((ETCD_PORT + 1))}
SERVICE_CIDR=${SERVICE_CIDR:-10.96.0.0/12}
PROFILE=${PROFILE:-release}
KCM_PORT=${KCM_PORT:-10257}
SCHEDULER_PORT=${SCHEDULER_PORT:-10259}
CLUSTER_CIDR=${CLUSTER_CIDR:-10.244.0.0/16}
NODE_NAME=${NODE_NAME:-node-1}

stop() {
  for name in kube-proxy kubelet; do
    if [ -f "$DIR/$name.pid" ]; then
      kill "$(cat "$DIR/$name.pid")" 2>/dev/null || true
      rm -f "$DIR/$name.pid"
    fi
  done
  # The node's containers, containerd, registry and namespaces (by namespace, cgroup and PID).
  if [ -d "$DIR/$NODE_NAME" ]; then "$ROOT/hack/node.sh" down "$DIR/$NODE_NAME" || true; fi
  if [ -d "$DIR/switch" ]; then "$ROOT/hack/node.sh" switch-down "$DIR/switch" || true; fi
  for name in kube-scheduler kube-controller-manager kube-apiserver etcd; do
    pidfile="$DIR/$name.pid"
    if [ -f "$pidfile" ]; then
      pid=$(cat "$pidfile")
      if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
      fi
      rm -f "$pidfile"
    fi
  done
}

case "${1:-up}" in
  down) stop; echo "cluster stopped (data kept in $DIR)"; exit 0 ;;
  clean) stop; rm -rf "$DIR"; echo "cluster stopped and $DIR removed"; exit 0 ;;
  up) ;;
  *) echo "usage: $0 [up|down|clean]" >&2; exit 2 ;;
esac

if [ "${SKIP_DEPS:-0}" != 1 ]; then
  "$ROOT/hack/install-deps.sh"
fi

echo ">>> building ($PROFILE)"
if [ "$PROFILE" = release ]; then
  (cd "$ROOT" && cargo build --release --bin kube-apiserver --bin kube-controller-manager --bin kube-scheduler --bin kubeadm --bin kubelet --bin kube-proxy --bin k8s-rs-testserver)
  BIN="$ROOT/target/release"
else
  (cd "$ROOT" && cargo build --bin kube-apiserver --bin kube-controller-manager --bin kube-scheduler --bin kubeadm --bin kubelet --bin kube-proxy --bin k8s-rs-testserver)
  BIN="$ROOT/target/debug"
fi

echo ">>> test images"
"$ROOT/hack/build-images.sh"

stop
mkdir -p "$DIR/logs" "$DIR/pki"

echo ">>> certificates and kubeconfig"
"$BIN/kubeadm" init phase certs all --cert-dir "$DIR/pki" --apiserver-advertise-address 127.0.0.1 --service-cidr "$SERVICE_CIDR" >"$DIR/logs/kubeadm.log"
"$BIN/kubeadm" init phase kubeconfig super-admin --cert-dir "$DIR/pki" --kubeconfig-dir "$DIR" \
  --apiserver-advertise-address 127.0.0.1 --apiserver-bind-port "$API_PORT" >>"$DIR/logs/kubeadm.log"
for kc in admin controller-manager scheduler; do
  "$BIN/kubeadm" init phase kubeconfig "$kc" --cert-dir "$DIR/pki" --kubeconfig-dir "$DIR" \
    --apiserver-advertise-address 127.0.0.1 --apiserver-bind-port "$API_PORT" >>"$DIR/logs/kubeadm.log"
done
"$BIN/kubeadm" init phase kubeconfig kubelet --node-name "$NODE_NAME" --cert-dir "$DIR/pki" --kubeconfig-dir "$DIR" \
  --apiserver-advertise-address 127.0.0.1 --apiserver-bind-port "$API_PORT" >>"$DIR/logs/kubeadm.log"
# kube-proxy's credentials: the system:kube-proxy user, which the default RBAC policy binds to
# system:node-proxier.
printf 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint: {advertiseAddress: 127.0.0.1, bindPort: %s}\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\ncertificatesDir: %s\n' \
  "$API_PORT" "$DIR/pki" >"$DIR/kubeadm.yaml"
"$BIN/kubeadm" kubeconfig user --client-name system:kube-proxy --config "$DIR/kubeadm.yaml" >"$DIR/kube-proxy.conf"

wait_for() { # url, what, pid
  for _ in $(seq 300); do
    # /readyz is public (system:public-info-viewer) once the default RBAC policy exists.
    # (kube-controller-manager and kube-scheduler serve self-signed certificates, hence -k.)
    if curl -sf --cacert "$DIR/pki/ca.crt" "$1" >/dev/null 2>&1 || curl -sf "$1" >/dev/null 2>&1 \
      || curl -skf "$1" >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$3" 2>/dev/null; then
      echo "$2 exited; see $DIR/logs" >&2; tail -20 "$DIR/logs/$2.log" >&2; exit 1
    fi
    sleep 0.1
  done
  echo "$2 did not become ready; see $DIR/logs/$2.log" >&2
  exit 1
}

echo ">>> etcd on 127.0.0.1:$ETCD_PORT"
nohup etcd --name local --data-dir "$DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "local=http://127.0.0.1:$ETCD_PEER_PORT" >"$DIR/logs/etcd.log" 2>&1 &
echo $! >"$DIR/etcd.pid"
wait_for "http://127.0.0.1:$ETCD_PORT/health" etcd "$(cat "$DIR/etcd.pid")"

echo ">>> the node switch, and the apiserver's way to its kubelets (an egress proxy on it)"
"$ROOT/hack/node.sh" switch-up "$DIR/switch" 172.18.0.254/24 "$BIN/k8s-rs-testserver" >/dev/null
cat >"$DIR/egress-selector.yaml" <<EOF
apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: $DIR/switch/egress.sock
EOF

echo ">>> kube-apiserver on 127.0.0.1:$API_PORT"
nohup "$BIN/kube-apiserver" \
  --egress-selector-config-file "$DIR/egress-selector.yaml" \
  --kubelet-client-certificate "$DIR/pki/apiserver-kubelet-client.crt" \
  --kubelet-client-key "$DIR/pki/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types InternalIP,ExternalIP,Hostname \
  --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --advertise-address 127.0.0.1 --bind-address 127.0.0.1 --secure-port "$API_PORT" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --tls-cert-file "$DIR/pki/apiserver.crt" --tls-private-key-file "$DIR/pki/apiserver.key" \
  --client-ca-file "$DIR/pki/ca.crt" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$DIR/pki/sa.pub" --service-account-signing-key-file "$DIR/pki/sa.key" \
  --authorization-mode Node,RBAC --enable-bootstrap-token-auth \
  --enable-admission-plugins NodeRestriction >"$DIR/logs/kube-apiserver.log" 2>&1 &
echo $! >"$DIR/kube-apiserver.pid"
wait_for "https://127.0.0.1:$API_PORT/readyz" kube-apiserver "$(cat "$DIR/kube-apiserver.pid")"

# As kubeadm init does: the kubeadm:cluster-admins group (the apiserver's kubelet client) is
# cluster-admin, so kubelets allow the apiserver's logs, exec and port-forward.
KUBECONFIG="$DIR/super-admin.conf" kubectl create clusterrolebinding kubeadm:cluster-admins \
  --clusterrole=cluster-admin --group=kubeadm:cluster-admins >/dev/null

echo ">>> kube-controller-manager on 127.0.0.1:$KCM_PORT"
# As kubeadm runs it: its own identity, each controller with its own service account.
nohup "$BIN/kube-controller-manager" \
  --kubeconfig "$DIR/controller-manager.conf" \
  --authentication-kubeconfig "$DIR/controller-manager.conf" \
  --authorization-kubeconfig "$DIR/controller-manager.conf" \
  --bind-address 127.0.0.1 --secure-port "$KCM_PORT" \
  --client-ca-file "$DIR/pki/ca.crt" \
  --root-ca-file "$DIR/pki/ca.crt" \
  --service-account-private-key-file "$DIR/pki/sa.key" \
  --cluster-signing-cert-file "$DIR/pki/ca.crt" --cluster-signing-key-file "$DIR/pki/ca.key" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --allocate-node-cidrs=true --cluster-cidr "$CLUSTER_CIDR" \
  --use-service-account-credentials=true \
  --leader-elect=true >"$DIR/logs/kube-controller-manager.log" 2>&1 &
echo $! >"$DIR/kube-controller-manager.pid"
wait_for "https://127.0.0.1:$KCM_PORT/healthz" kube-controller-manager "$(cat "$DIR/kube-controller-manager.pid")"

echo ">>> kube-scheduler on 127.0.0.1:$SCHEDULER_PORT"
nohup "$BIN/kube-scheduler" \
  --kubeconfig "$DIR/scheduler.conf" \
  --authentication-kubeconfig "$DIR/scheduler.conf" \
  --authorization-kubeconfig "$DIR/scheduler.conf" \
  --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" \
  --client-ca-file "$DIR/pki/ca.crt" \
  --leader-elect=true >"$DIR/logs/kube-scheduler.log" 2>&1 &
echo $! >"$DIR/kube-scheduler.pid"
wait_for "https://127.0.0.1:$SCHEDULER_PORT/healthz" kube-scheduler "$(cat "$DIR/kube-scheduler.pid")"

echo ">>> node $NODE_NAME: a network namespace with containerd and the kubelet"
"$ROOT/hack/node.sh" up "$DIR/$NODE_NAME" "$NODE_NAME" "$API_PORT" "$DIR/switch" 172.18.0.2/24 >"$DIR/node.env"
HOLDER=$(cat "$DIR/$NODE_NAME/holder.pid")
NETNS=$(cat "$DIR/$NODE_NAME/netns")
mkdir -p "$DIR/$NODE_NAME/kubelet" "$DIR/$NODE_NAME/manifests"
printf 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nstaticPodPath: %s\npodLogsDir: %s\nclusterDomain: cluster.local\nauthentication: {x509: {clientCAFile: %s}}\n' \
  "$DIR/$NODE_NAME/manifests" "$DIR/$NODE_NAME/pod-logs" "$DIR/pki/ca.crt" >"$DIR/$NODE_NAME/kubelet-config.yaml"
nohup nsenter --target "$HOLDER" --mount --net -- "$BIN/kubelet" \
  --kubeconfig "$DIR/kubelet.conf" --config "$DIR/$NODE_NAME/kubelet-config.yaml" \
  --root-dir "$DIR/$NODE_NAME/kubelet" --hostname-override "$NODE_NAME" --node-ip 172.18.0.2 \
  --container-runtime-endpoint "unix://$DIR/$NODE_NAME/containerd.sock" \
  --cgroup-root "/$NETNS" >"$DIR/logs/kubelet.log" 2>&1 &
echo $! >"$DIR/kubelet.pid"
for _ in $(seq 300); do
  "$ROOT/hack/node.sh" exec "$DIR/$NODE_NAME" curl -sf http://127.0.0.1:10248/healthz >/dev/null 2>&1 && break
  if ! kill -0 "$(cat "$DIR/kubelet.pid")" 2>/dev/null; then
    echo "kubelet exited; see $DIR/logs/kubelet.log" >&2; tail -20 "$DIR/logs/kubelet.log" >&2; exit 1
  fi
  sleep 0.1
done

echo ">>> kube-proxy on $NODE_NAME (${PROXY_MODE:-iptables} mode)"
# As kind runs it in a node container: conntrack's table size is the host's to set.
nohup nsenter --target "$HOLDER" --mount --net -- "$BIN/kube-proxy" \
  --kubeconfig "$DIR/kube-proxy.conf" --hostname-override "$NODE_NAME" --cluster-cidr "$CLUSTER_CIDR" \
  --proxy-mode "${PROXY_MODE:-iptables}" --conntrack-max-per-core 0 >"$DIR/logs/kube-proxy.log" 2>&1 &
echo $! >"$DIR/kube-proxy.pid"
for _ in $(seq 300); do
  "$ROOT/hack/node.sh" exec "$DIR/$NODE_NAME" curl -sf http://127.0.0.1:10256/healthz >/dev/null 2>&1 && break
  if ! kill -0 "$(cat "$DIR/kube-proxy.pid")" 2>/dev/null; then
    echo "kube-proxy exited; see $DIR/logs/kube-proxy.log" >&2; tail -20 "$DIR/logs/kube-proxy.log" >&2; exit 1
  fi
  sleep 0.1
done

cat <<MSG

Local cluster is running (logs in $DIR/logs; stop it with: hack/local-up-cluster.sh down).
To use it:

  export KUBECONFIG=$DIR/admin.conf
  kubectl get nodes
  kubectl create deployment web --image=nginx
  kubectl get pods -o wide
  kubectl logs deployment/web; kubectl exec -it deployment/web -- sh

Pod IPs are reachable from inside the node:  hack/node.sh exec $DIR/$NODE_NAME curl <pod IP>
Services too (kube-proxy programs the node):
  kubectl expose deployment web --port=80
  hack/node.sh exec $DIR/$NODE_NAME curl \$(kubectl get svc web -o jsonpath='{.spec.clusterIP}')
Static pods: put manifests in $DIR/$NODE_NAME/manifests

MSG

