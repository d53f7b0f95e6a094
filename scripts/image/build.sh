#!/usr/bin/env bash
# Build the broker image from ./Dockerfile without Docker or a registry (docs/deployment.md, "Image"):
#   1. a Debian bookworm base (python3, venv) from Debian packages with mmdebstrap, as an OCI layout (cached);
#   2. buildah bud with chroot isolation, BASE=that layout, the host's CA bundle bind-mounted for pip only;
#   3. the result pushed to an OCI layout and unpacked with umoci (a runtime bundle for bwrap or runc).
# Cached by input hash: the Dockerfile and the files that reach the image (the package's sources and the
# run-time files they link to; tracked or untracked, not ignored), the base layout's digest and the build args. A rerun with the same inputs prints the cached paths at once.
#
# Usage: scripts/image/build.sh [--slurm-client]     Needs root and mmdebstrap, buildah, umoci (scripts/setup.sh).
# Env:   DUALTRACK_IMAGE_DIR  work and cache folder (default /var/tmp/dualtrack-image)
# Prints (last lines, KEY=VALUE): LAYOUT=<oci layout dir>:latest  BUNDLE=<umoci bundle dir>  HASH=<input hash>
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
W="${DUALTRACK_IMAGE_DIR:-/var/tmp/dualtrack-image}"
slurm=false
[ "${1:-}" = "--slurm-client" ] && slurm=true
export BUILDAH_ISOLATION=chroot
B=(buildah --root "$W/storage" --runroot "$W/run" --storage-driver vfs)
mkdir -p "$W"
exec 9>"$W/lock" && flock 9   # one build at a time on this machine

log() { printf 'image: %s\n' "$*" >&2; }

# 1. the base (rebuilt only when absent; delete $W/base to take today's Debian packages)
if [ ! -f "$W/base/index.json" ]; then
  log "mmdebstrap bookworm base"
  start=$SECONDS
  rm -rf "$W/base" "$W/base-bundle" "$W/base.tar"
  mmdebstrap --quiet --variant=apt --include=python3,python3-venv,ca-certificates bookworm "$W/base.tar"
  umoci init --layout "$W/base" && umoci new --image "$W/base:latest"
  umoci unpack --image "$W/base:latest" "$W/base-bundle" >/dev/null
  tar -xpf "$W/base.tar" -C "$W/base-bundle/rootfs" --numeric-owner
  umoci repack --image "$W/base:latest" "$W/base-bundle"
  umoci config --image "$W/base:latest" --config.cmd /bin/bash --architecture amd64 --os linux \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  umoci gc --layout "$W/base"
  rm -rf "$W/base-bundle" "$W/base.tar"
  log "base done in $((SECONDS - start)) s"
fi

# 2. the input hash
base_digest="$(sha256sum "$W/base/index.json" | cut -c1-64)"
# only what reaches the final image: the wheel's sources (and the files they link to) and the build recipe
inputs=(Dockerfile .dockerignore pyproject.toml setup.py README.md broker adapters policies sim proto
        scripts/images/sif-run tests/fixtures/volcano charts/dashboards charts/alerts charts/dualtrack/files)
context_hash="$(git ls-files -z -co --exclude-standard -- "${inputs[@]}" | python3 -c '
import hashlib, os, sys
digest = hashlib.sha256()
for name in sorted(n for n in sys.stdin.buffer.read().decode().split("\0") if n):
    if os.path.isfile(name):  # files and links to files; links to folders are covered by their targets
        digest.update(name.encode() + b"\0" + hashlib.sha256(open(name, "rb").read()).digest())
print(digest.hexdigest())')"
hash="$(printf '%s\n' "$base_digest" "$context_hash" "slurm=$slurm" | sha256sum | cut -c1-16)"
out="$W/images/$hash"
if [ -f "$out/done" ]; then
  log "cached: inputs unchanged ($hash)"
else
  rm -rf "$out" && mkdir -p "$out"
  start=$SECONDS
  log "buildah bud (slurm client: $slurm)"
  "${B[@]}" bud --quiet -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
    --build-arg BASE="oci:$W/base:latest" --build-arg SLURM_CLIENT="$slurm" \
    -f Dockerfile -t "localhost/dualtrack:$hash" . >&2
  "${B[@]}" push --quiet "localhost/dualtrack:$hash" "oci:$out/layout:latest" >&2
  built=$((SECONDS - start))
  "${B[@]}" rmi -a -f >/dev/null 2>&1 || true   # the layout is the product; keep the storage small
  umoci unpack --image "$out/layout:latest" "$out/bundle" >/dev/null
  size="$(du -sb "$out/layout" | cut -f1)"
  printf 'build_seconds=%s\nlayout_bytes=%s\nrootfs_bytes=%s\n' "$built" "$size" \
    "$(du -sb "$out/bundle/rootfs" | cut -f1)" >"$out/figures"
  touch "$out/done"
  log "built in $built s: $(cat "$out/figures" | tr '\n' ' ')"
  # keep the three newest builds
  ls -1dt "$W/images"/*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
fi
echo "LAYOUT=$out/layout:latest"
echo "BUNDLE=$out/bundle"
echo "HASH=$hash"
