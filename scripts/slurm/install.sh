#!/usr/bin/env bash
# Install the Debian packages of the local Slurm cluster (scripts/slurm/start.sh). Idempotent: packages that
# are already installed are skipped, and `apt-get update` runs at most once, only when something is missing.
# Needs root. Usage: scripts/slurm/install.sh
set -euo pipefail

PACKAGES=(
  slurm-wlm slurmctld slurmd slurm-client slurmrestd slurm-wlm-jwt-plugin libslurm-dev munge
  mariadb-server slurmdbd slurm-wlm-mysql-plugin
  openssh-server openssh-client curl
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install.sh: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: must run as root to install: ${missing[*]}" >&2
  exit 1
fi

echo "install.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Debian's maintainer scripts would start MariaDB, munge or sshd with their default configs; this project starts
# its own (scripts/slurm/start.sh), so forbid service starts during the install (policy-rc.d, exit 101).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 0755 "$policy" && created_policy=1
fi
trap '[ "$created_policy" -eq 1 ] && rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install.sh: done"
