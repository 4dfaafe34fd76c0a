#!/usr/bin/env bash
# Configures and builds into ./build (or $LEDGER_BUILD_DIR); arguments go to
# cmake. Warnings are not fatal unless -DLEDGER_WERROR=ON is given
# (scripts/test.sh gives it) or the build directory was configured with it.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${LEDGER_BUILD_DIR:-build}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
