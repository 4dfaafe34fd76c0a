#!/usr/bin/env bash
# Installs what is missing, builds, and starts a single-node ledger in the
# background with a data directory and a registered emitter key, then prints
# where it listens and what to try next.
#
#   scripts/start.sh [--data DIR] [--listen HOST:PORT]   start (default)
#   scripts/start.sh --stop [--data DIR]                  stop it
#   scripts/start.sh --cluster                            a local cluster
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=ledger-data
LISTEN=127.0.0.1:7400
ACTION=start
while [ $# -gt 0 ]; do
  case "$1" in
    --data) DATA="$2"; shift 2 ;;
    --listen) LISTEN="$2"; shift 2 ;;
    --stop) ACTION=stop; shift ;;
    --cluster) ACTION=cluster; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "start.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

BUILD_DIR="${LEDGER_BUILD_DIR:-build}"
NODE="$BUILD_DIR/node/ledger-node"
CTL="$BUILD_DIR/tools/ledgerctl/ledgerctl"
PIDFILE="$DATA/node.pid"

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

case "$ACTION" in
  stop)
    if running; then
      kill -TERM "$(cat "$PIDFILE")"
      for _ in $(seq 1 300); do running || break; sleep 0.1; done
      if running; then echo "ledger-node did not stop within 30 s" >&2; exit 1; fi
      echo "ledger-node stopped"
    else
      echo "no ledger-node running for $DATA"
    fi
    rm -f "$PIDFILE"
    exit 0 ;;
  cluster)
    echo "start.sh: the replicated cluster (etcd coordinator) is not part of this" \
         "version yet; run without --cluster for a single node." >&2
    exit 2 ;;
esac

./scripts/install-deps.sh
./scripts/build.sh

mkdir -p "$DATA"
if running; then
  echo "ledger-node is already running (pid $(cat "$PIDFILE"))"
else
  : > "$DATA/node.out"
  nohup "$NODE" --data "$DATA/node" --listen "$LISTEN" --insecure-plaintext \
    >"$DATA/node.out" 2>>"$DATA/node.log" </dev/null &
  echo $! > "$PIDFILE"
  for _ in $(seq 1 600); do
    grep -q "^listening on " "$DATA/node.out" 2>/dev/null && break
    if ! running; then
      echo "ledger-node exited; the end of $DATA/node.log:" >&2
      tail -n 20 "$DATA/node.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  grep -q "^listening on " "$DATA/node.out" || { echo "ledger-node did not start within 60 s; see $DATA/node.log" >&2; exit 1; }
fi

if [ ! -f "$DATA/emitter/demo.key" ]; then
  mkdir -p "$DATA/emitter"
  "$CTL" keygen --name demo --out "$DATA/emitter" >/dev/null
  "$CTL" register-key --server "$LISTEN" --pub "$DATA/emitter/demo.pub" \
    --tenant demo --producer label-studio >/dev/null
fi
"$CTL" keys --note --server "$LISTEN" > "$DATA/log.vkeys"

cat <<EOT

The annotation ledger is running.
  listening on   $LISTEN   (pid $(cat "$PIDFILE"), log $DATA/node.log)
  data           $DATA/node
  emitter key    $DATA/emitter/demo.key  (tenant "demo", producer "label-studio", registered)
  log keys       $DATA/log.vkeys          (for offline verification)

Try next:
  $CTL gen-events --count 1000 --tenant demo --producer label-studio/1.13.1 > events.jsonl
  $CTL append --server $LISTEN --key $DATA/emitter --file events.jsonl | tail -n 3
  $CTL checkpoint --server $LISTEN
  $CTL prove --server $LISTEN --index 5 --out entry5.tlog-proof
  $BUILD_DIR/tools/ledger-verify/ledger-verify proof entry5.tlog-proof --keys $DATA/log.vkeys --emitter-keys $DATA/emitter/demo.pub

Stop it with: scripts/start.sh --stop
EOT
