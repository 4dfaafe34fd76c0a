#!/usr/bin/env bash
# The full benchmark: never part of the default test run (scripts/test.sh).
# Builds ledger-bench and ledger-node in Release mode into ./build-release
# (or $LEDGER_BENCH_BUILD_DIR) and runs
#
#   scripts/bench.sh [ARGS...]         ledger-bench suite: ours in every
#                                      mode, raw RocksDB, Ed25519 and
#                                      PostgreSQL peers, ratios, targets
#   scripts/bench.sh growth [ARGS...]  ingest rate, proof latency and disk
#                                      use as the ledger grows to 10M entries
#                                      (hours; --target N for less)
#   scripts/bench.sh tls [ARGS...]     mutual TLS with authorization vs
#                                      plaintext, alternating in one run
#   scripts/bench.sh provenance        provenance queries in process vs
#                                      PostgreSQL on the same 1M entries,
#                                      ingest with and without the indexes
#   scripts/bench.sh risk              ingest with and without risk
#                                      evaluation; ledger-verify grades
#                                      over 1M entries (in process)
#   scripts/bench.sh CMD [ARGS...]     any other ledger-bench command
#                                      (ingest, proofs, verify-offline, peers,
#                                      flood, tiles; with --tls: over mTLS)
#
# Results: bench-results/<UTC time>-<command>.json (the summary, with the
# machine's CPU, cores and disk) and .md (the tables). Run it on an
# otherwise idle machine: the node, the clients and the peers share the
# cores. See tools/bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
BUILD_DIR="${LEDGER_BENCH_BUILD_DIR:-build-release}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target ledger-bench ledger-node

command="suite"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  command="$1"
  shift
fi
args=("$command")  # growth's default target is 10M entries
mkdir -p bench-results
out="bench-results/$(date -u +%Y%m%dT%H%M%SZ)-$command"
"$BUILD_DIR/tools/bench/ledger-bench" --out "$out.json" --markdown "$out.md" \
  "${args[@]}" "$@"
echo "bench: wrote $out.json and $out.md"
