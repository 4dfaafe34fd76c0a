#!/usr/bin/env bash
# Copies this repository's ledger-node and ledgerctl from a build into
# deploy/compose/stage/ (debug sections stripped), where the Dockerfile
# takes them. The binaries link Debian 12's shared libraries, so the build
# must have been made on Debian 12 (scripts/build.sh, or cmake as in
# README.md); the image is debian:12 with those libraries.
#
#   deploy/compose/prepare.sh [BUILD_DIR]     (default: build)
set -euo pipefail
case "${1:-}" in
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
esac
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BUILD="${1:-$ROOT/build}"
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac

for f in "$BUILD/node/ledger-node" "$BUILD/tools/ledgerctl/ledgerctl"; do
  [ -x "$f" ] || { echo "prepare.sh: $f is missing: build first (cmake --build $BUILD)" >&2; exit 1; }
done
if ! grep -qx 'VERSION_ID="12"' /etc/os-release 2>/dev/null ||
   ! grep -qx 'ID=debian' /etc/os-release 2>/dev/null; then
  echo "prepare.sh: warning: this is not Debian 12; binaries built here may need libraries the debian:12 image lacks" >&2
fi
mkdir -p "$HERE/stage"
for f in "$BUILD/node/ledger-node" "$BUILD/tools/ledgerctl/ledgerctl"; do
  objcopy --strip-debug "$f" "$HERE/stage/$(basename "$f").tmp"
  chmod 0755 "$HERE/stage/$(basename "$f").tmp"
  mv "$HERE/stage/$(basename "$f").tmp" "$HERE/stage/$(basename "$f")"
done
echo "prepare.sh: staged ledger-node and ledgerctl from $BUILD in $HERE/stage/"
