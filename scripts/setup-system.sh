#!/usr/bin/env bash
# Installs and starts the system components that some test suites and benchmarks need:
# Chromium (browser tests), Python gRPC (the KServe v2 gRPC client test), PostgreSQL (distributed
# tuning), OpenBLAS + a C toolchain (native accelerator), wrk/hyperfine (benchmarks), kubectl
# (renders deploy/k8s) and podman (container build). Idempotent; quiet when everything is already
# present. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "setup-system: must run as root (sudo bash scripts/setup-system.sh)" >&2
  exit 2
fi

export DEBIAN_FRONTEND=noninteractive
want=(chromium libopenblas-dev gcc g++ make python3 python3-grpcio python3-grpc-tools postgresql wrk hyperfine fonts-dejavu-core)
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-system: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# PostgreSQL on 127.0.0.1:5432 with a test role and database (no systemd here: use pg_ctlcluster).
pg_version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | grep -q .; then
  pg_createcluster "$pg_version" main >/dev/null
fi
cluster=$(pg_lsclusters -h | head -1 | awk '{print $1" "$2}')
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  # shellcheck disable=SC2086
  pg_ctlcluster $cluster start
  for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
fi
if ! su postgres -c "psql -tAc \"select 1 from pg_roles where rolname='tuneserve'\"" | grep -q 1; then
  su postgres -c "psql -qc \"create role tuneserve login password 'tuneserve' createdb\""
fi
if ! su postgres -c "psql -tAc \"select 1 from pg_database where datname='tuneserve_test'\"" | grep -q 1; then
  su postgres -c "createdb -O tuneserve tuneserve_test"
fi

# kubectl with kustomize v4+ (a no-op where the machine has one; see the script for the fallback).
bash scripts/install-kubectl.sh

# podman plus a local stand-in for node:20-bookworm-slim (see ../shared/container/README.md).
if [ -f ../shared/container/setup-podman.sh ]; then
  bash ../shared/container/setup-podman.sh >/dev/null
elif [ "${CI:-}" = true ]; then
  echo "setup-system: ../shared/container/setup-podman.sh not found; the container suite cannot run" >&2
fi
