#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole default test suite
# (labels unit and integration; benchmarks and the crash and soak tests
# have their own commands, see BENCHMARKS.md and README.md). Its build
# treats compiler warnings as errors (-DLEDGER_WERROR=ON); the build
# directory keeps that setting until it is configured otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh -DLEDGER_WERROR=ON
BUILD_DIR="${LEDGER_BUILD_DIR:-build}"
ctest --test-dir "$BUILD_DIR" -j2 --output-on-failure -L 'unit|integration' "$@"
