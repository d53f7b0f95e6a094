#!/usr/bin/env bash
# Build the YOLO image (images/yolo/Dockerfile) offline from a registry into an OCI layout, cached by input hash.
# See docs/yolo.md#image. No Docker engine and no container registry: the base root filesystem comes from
# Debian packages (mmdebstrap), buildah builds the Dockerfile with chroot isolation, pip reaches PyPI (the host's
# CA bundle is bound in for the build only, never written into the image).
#
# Usage: scripts/images/build-yolo.sh            prints the layout reference, e.g.
#        oci:/var/tmp/dualtrack-images/yolo/<hash>/layout:latest
# Cache: ${DUALTRACK_YOLO_IMAGE_CACHE:-/var/tmp/dualtrack-images/yolo}/<hash>/layout, where <hash> covers the
# Dockerfile, the build context files, the torch wheel, the base package list and this script. A hit takes
# well under a second; `current` is a symlink to the newest build. Figures (seconds, bytes) go to
# <hash>/build-figures.txt and stderr. Needs root, mmdebstrap, buildah, umoci (scripts/setup.sh installs them).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${DUALTRACK_YOLO_IMAGE_CACHE:-/var/tmp/dualtrack-images/yolo}"
SUITE="${DUALTRACK_YOLO_SUITE:-bookworm}"
BASE_PACKAGES="python3,python3-venv,ca-certificates"
TORCH_WHEEL="${DUALTRACK_TORCH_WHEEL:-$(ls /opt/wheels/torch-2.13.0+cpu-cp311-*.whl 2>/dev/null | head -1)}"
CTX_SRC="$REPO/images/yolo"
log() { echo "build-yolo: $*" >&2; }

[ -n "$TORCH_WHEEL" ] && [ -f "$TORCH_WHEEL" ] || { log "no CPU torch wheel (set DUALTRACK_TORCH_WHEEL)"; exit 1; }
for tool in mmdebstrap buildah umoci; do
  command -v "$tool" >/dev/null || { log "$tool missing: run scripts/setup.sh"; exit 127; }
done

wheel_id="$(basename "$TORCH_WHEEL") $(stat -c %s "$TORCH_WHEEL")"
hash="$( { cat "$CTX_SRC"/Dockerfile "$CTX_SRC"/torchvision_cpu_ops.py "$0"; echo "$wheel_id $SUITE $BASE_PACKAGES"; } \
  | sha256sum | cut -c1-16)"
OUT="$CACHE/$hash"
if [ -f "$OUT/done" ]; then
  ln -sfn "$OUT" "$CACHE/current"
  echo "oci:$OUT/layout:latest"
  exit 0
fi
mkdir -p "$CACHE"
W="$CACHE/work-$hash"
rm -rf "$W" "$OUT"
mkdir -p "$W/ctx/wheels" "$OUT"
export BUILDAH_ISOLATION=chroot
B=(buildah --root "$W/storage" --runroot "$W/run" --storage-driver vfs)
cleanup() { "${B[@]}" rmi -a -f >/dev/null 2>&1 || true; rm -rf "$W"; }
trap cleanup EXIT
t0=$(date +%s)

# 1. base root filesystem from Debian packages, cached by suite + package list + day (the mirror moves daily)
base_key="$(echo "$SUITE $BASE_PACKAGES $(date +%F)" | sha256sum | cut -c1-16)"
BASE_LAYOUT="$CACHE/base-$base_key"
if [ ! -f "$BASE_LAYOUT/done" ]; then
  log "base rootfs ($SUITE: $BASE_PACKAGES) with mmdebstrap"
  rm -rf "$BASE_LAYOUT"
  mmdebstrap --quiet --variant=apt --include="$BASE_PACKAGES" "$SUITE" "$W/base.tar"
  umoci init --layout "$BASE_LAYOUT/layout" && umoci new --image "$BASE_LAYOUT/layout:latest"
  umoci unpack --image "$BASE_LAYOUT/layout:latest" "$W/ubundle"
  tar -xpf "$W/base.tar" -C "$W/ubundle/rootfs" --numeric-owner
  umoci repack --image "$BASE_LAYOUT/layout:latest" "$W/ubundle"
  umoci config --image "$BASE_LAYOUT/layout:latest" --config.cmd /bin/bash \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --architecture amd64 --os linux
  umoci gc --layout "$BASE_LAYOUT/layout"
  rm -rf "$W/ubundle" "$W/base.tar"
  touch "$BASE_LAYOUT/done"
fi
t1=$(date +%s)

# 2. the Dockerfile, with the CPU torch wheel in the context and a pip cache bound in (not part of any layer)
cp "$CTX_SRC"/Dockerfile "$CTX_SRC"/torchvision_cpu_ops.py "$W/ctx/"
ln "$TORCH_WHEEL" "$W/ctx/wheels/" 2>/dev/null || cp "$TORCH_WHEEL" "$W/ctx/wheels/"
mkdir -p "$CACHE/pip-cache"
log "buildah bud (BASE=oci:$BASE_LAYOUT/layout:latest)"
"${B[@]}" bud --quiet --layers=false \
  -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
  -v "$CACHE/pip-cache:/root/.cache/pip" \
  --build-arg BASE="oci:$BASE_LAYOUT/layout:latest" \
  -f "$W/ctx/Dockerfile" -t "localhost/dualtrack-yolo:$hash" "$W/ctx" >&2
t2=$(date +%s)
"${B[@]}" push --quiet "localhost/dualtrack-yolo:$hash" "oci:$OUT/layout:latest" >&2
t3=$(date +%s)
size=$(du -sb "$OUT/layout" | cut -f1)
cat >"$OUT/build-figures.txt" <<FIG
base_seconds=$((t1 - t0))
bud_seconds=$((t2 - t1))
push_seconds=$((t3 - t2))
total_seconds=$((t3 - t0))
layout_bytes=$size
FIG
log "built in $((t3 - t0)) s (base $((t1 - t0)) s, bud $((t2 - t1)) s, push $((t3 - t2)) s), layout $((size / 1024 / 1024)) MiB"
touch "$OUT/done"
ln -sfn "$OUT" "$CACHE/current"
echo "oci:$OUT/layout:latest"
