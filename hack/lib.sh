# Shell helpers the bench scripts share. Source it; it defines functions only.

# A free TCP port on loopback.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_etcd DIR CLIENT_PORT PEER_PORT: a fresh etcd in DIR/etcd, logging to DIR/etcd.log;
# prints its PID once it answers /health.
start_etcd() {
  etcd --data-dir "$1/etcd" --listen-client-urls "http://127.0.0.1:$2" --advertise-client-urls "http://127.0.0.1:$2" \
    --listen-peer-urls "http://127.0.0.1:$3" --initial-advertise-peer-urls "http://127.0.0.1:$3" \
    --initial-cluster "default=http://127.0.0.1:$3" --quota-backend-bytes=8589934592 >"$1/etcd.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$2/health" >/dev/null && break; sleep 0.1; done
  echo "$pid"
}

# start_apiserver DIR ETCD_PORT PORT [FLAG...]: a release kube-apiserver on the kubeadm PKI in
# DIR/pki, logging to DIR/apiserver.log; prints its PID once /readyz answers the admin pair
# (admin_pair first).
start_apiserver() {
  local dir=$1 ep=$2 ap=$3
  shift 3
  target/release/kube-apiserver --etcd-servers "http://127.0.0.1:$ep" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
    --secure-port "$ap" --service-cluster-ip-range 10.96.0.0/12 --tls-cert-file "$dir/pki/apiserver.crt" \
    --tls-private-key-file "$dir/pki/apiserver.key" --client-ca-file "$dir/pki/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$dir/pki/sa.pub" --service-account-signing-key-file "$dir/pki/sa.key" \
    "$@" >"$dir/apiserver.log" 2>&1 &
  local pid=$!
  for _ in $(seq 300); do
    curl -sf --cacert "$dir/pki/ca.crt" --cert "$dir/admin.crt" --key "$dir/admin.key" "https://127.0.0.1:$ap/readyz" >/dev/null && break
    sleep 0.1
  done
  echo "$pid"
}

# admin_pair DIR: DIR/admin.crt and DIR/admin.key from the kubeconfig DIR/admin.conf.
admin_pair() {
  python3 - "$1" <<'PY'
import base64, sys, re
w = sys.argv[1]
t = open(w + "/admin.conf").read()
open(w + "/admin.crt", "wb").write(base64.b64decode(re.search(r"client-certificate-data: (\S+)", t).group(1)))
open(w + "/admin.key", "wb").write(base64.b64decode(re.search(r"client-key-data: (\S+)", t).group(1)))
PY
}
