#!/usr/bin/env bash
# mypy over the package as it installs. The repository keeps broker/, adapters/, policies/, sim/ and
# proto/dualtrack at the top level and setup.py maps them into one import package, dualtrack; mypy cannot follow
# an install-time mapping, so this lays the same tree out as symlinks in build/typecheck/dualtrack and checks it.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
tree=build/typecheck/dualtrack
rm -rf build/typecheck && mkdir -p "$tree"
for f in proto/dualtrack/*; do ln -s "$REPO/$f" "$tree/$(basename "$f")"; done
for pkg in broker adapters policies sim; do
  if [ -f "$pkg/__init__.py" ]; then ln -s "$REPO/$pkg" "$tree/$pkg"; fi
done
exec "${MYPY:-.venv/bin/mypy}" "$@"
