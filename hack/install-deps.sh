#!/usr/bin/env bash
# Installs everything the build, the local cluster and the tests need. Idempotent: packages
# already present are skipped, and `apt-get update` runs at most once per invocation.
set -euo pipefail

PKGS=(etcd-server etcd-client protobuf-compiler libprotobuf-dev curl openssl jq ca-certificates)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's etcd package may try to start a service; we always run etcd ourselves.
command -v etcd >/dev/null || { echo "install-deps: etcd not found after install" >&2; exit 1; }
command -v protoc >/dev/null || { echo "install-deps: protoc not found after install" >&2; exit 1; }
if ! command -v kubectl >/dev/null; then
  echo "install-deps: warning: kubectl not found; the kubectl end-to-end tests need it" >&2
fi
# The official Python client for the client-library end-to-end test, in its own venv.
PYENV="${K8S_RS_PYENV:-$HOME/.cache/k8s-rs/pyenv}"
if ! "$PYENV/bin/python" -c 'import kubernetes' 2>/dev/null; then
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3 python3-venv
  fi
  echo "install-deps: installing the Python client into $PYENV"
  python3 -m venv "$PYENV"
  "$PYENV/bin/pip" install -q kubernetes==33.1.0
fi
echo "install-deps: ok"
