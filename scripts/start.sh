#!/usr/bin/env bash
# Installs what is missing, builds, and starts a single-node ledger in the
# background over mutual TLS with roles: a development CA and certificates
# (deploy/dev-ca.sh) in DATA/tls, the node's configuration in
# DATA/node.toml, an emitter key registered for tenant "demo"; then prints
# where it listens and how to use the client profiles.
#
#   scripts/start.sh [--data DIR] [--listen HOST:PORT]   start (default)
#                    [--http-listen HOST:PORT|off]        the HTTP port:
#                    tlog-tiles and /metrics (default 127.0.0.1:7402)
#   scripts/start.sh --insecure-plaintext ...             start without TLS
#                    (no certificates, every caller may do everything; only
#                    for local experiments)
#   scripts/start.sh --no-build ...                       use the binaries
#                    already built in $LEDGER_BUILD_DIR (default build)
#   scripts/start.sh --stop [--data DIR]                  stop it
#   scripts/start.sh --cluster [--data DIR]               a local cluster:
#                    three etcd members and three nodes on loopback, over
#                    mutual TLS, data in DIR (default ledger-cluster);
#                    scripts/cluster.sh --stop stops it (see its --help)
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=ledger-data
DATA_GIVEN=0
LISTEN=127.0.0.1:7400
HTTP_LISTEN=127.0.0.1:7402
ACTION=start
PLAINTEXT=0
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --data) DATA="$2"; DATA_GIVEN=1; shift 2 ;;
    --listen) LISTEN="$2"; shift 2 ;;
    --http-listen) HTTP_LISTEN="$2"; shift 2 ;;
    --insecure-plaintext) PLAINTEXT=1; shift ;;
    --no-build) BUILD=0; shift ;;
    --stop) ACTION=stop; shift ;;
    --cluster) ACTION=cluster; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "start.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

STOP="scripts/start.sh --stop"
[ "$DATA" = ledger-data ] || STOP="$STOP --data $DATA"
BUILD_DIR="${LEDGER_BUILD_DIR:-build}"
NODE="$BUILD_DIR/node/ledger-node"
CTL="$BUILD_DIR/tools/ledgerctl/ledgerctl"
VERIFY="$BUILD_DIR/tools/ledger-verify/ledger-verify"
PIDFILE="$DATA/node.pid"
TLS="$DATA/tls"

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
    if [ "$BUILD" = 1 ]; then
      ./scripts/install-deps.sh
      ./scripts/build.sh
    fi
    if [ "$DATA_GIVEN" = 1 ]; then exec ./scripts/cluster.sh --data "$DATA"; fi
    exec ./scripts/cluster.sh ;;
esac

if [ "$BUILD" = 1 ]; then
  ./scripts/install-deps.sh
  ./scripts/build.sh
fi

mkdir -p "$DATA"
if [ "$PLAINTEXT" = 1 ]; then
  NODE_ARGS=(--insecure-plaintext)
  # ledgerctl as any role: the node trusts every caller.
  ADMIN=(--insecure-plaintext --server "$LISTEN")
  READER=("${ADMIN[@]}")
else
  # Certificates: created on the first start, kept (or renewed when close
  # to expiry) afterwards.
  ./deploy/dev-ca.sh --out "$TLS" --node node-1 --tenant demo \
    --address "$LISTEN" --quiet
  if [ ! -f "$DATA/node.toml" ]; then
    cat > "$DATA/node.toml" <<'EOF'
# ledger-node configuration written by scripts/start.sh (paths are relative
# to this file); deploy/ledger-node.toml documents every key.
[tls]
ca_file = "tls/ca.pem"
cert_file = "tls/node/node-1.pem"
key_file = "tls/node/node-1.key"

[access]
policy_file = "tls/access-policy.toml"
EOF
  fi
  NODE_ARGS=(--config "$DATA/node.toml")
  ADMIN=(--profile "$TLS/admin.profile" --server "$LISTEN")
  READER=(--profile "$TLS/regulator.profile" --server "$LISTEN")
fi

HTTP_LINE="off"
if [ "$HTTP_LISTEN" != off ]; then
  NODE_ARGS+=(--http-listen "$HTTP_LISTEN")
  HTTP_LINE="$HTTP_LISTEN   (tlog-tiles and /metrics over HTTP"
  if [ "$PLAINTEXT" = 1 ]; then HTTP_LINE="$HTTP_LINE)"; else HTTP_LINE="${HTTP_LINE}S, same certificates)"; fi
fi

if running; then
  echo "ledger-node is already running (pid $(cat "$PIDFILE"))"
else
  : > "$DATA/node.out"
  nohup "$NODE" "${NODE_ARGS[@]}" --data "$DATA/node" --listen "$LISTEN" \
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
  if [ "$HTTP_LISTEN" != off ]; then
    # Printed after the other listen lines.
    for _ in $(seq 1 100); do
      grep -q "^http listening on " "$DATA/node.out" 2>/dev/null && break
      sleep 0.1
    done
    grep -q "^http listening on " "$DATA/node.out" || { echo "ledger-node's HTTP port did not come up; see $DATA/node.log" >&2; exit 1; }
  fi
fi

# The demo emitter's signing key, registered once by the admin.
if [ ! -f "$DATA/emitter/demo.key" ]; then
  mkdir -p "$DATA/emitter"
  "$CTL" keygen --name demo --out "$DATA/emitter" >/dev/null
fi
if [ ! -f "$DATA/emitter/demo.registered" ]; then
  # ALREADY_EXISTS: registered by an earlier start that left no marker.
  if out="$("$CTL" "${ADMIN[@]}" register-key --pub "$DATA/emitter/demo.pub" \
             --tenant demo --producer label-studio 2>&1)" || grep -q "ALREADY_EXISTS" <<<"$out"; then
    printf '%s\n' "$out" > "$DATA/emitter/demo.registered"
  else
    echo "start.sh: registering the demo emitter key failed: $out" >&2
    exit 1
  fi
fi
# The default risk policy (deploy/risk-policy.toml, docs/risk-rules.md),
# loaded once by the admin: the node appends a policy.changed entry, and
# every later entry is graded under it. The marker keeps restarts from
# loading it again (a start stopped between the two would load it twice:
# the same policy as version 2, harmless).
if [ ! -f "$DATA/policy.set" ]; then
  if out="$("$CTL" "${ADMIN[@]}" policy set deploy/risk-policy.toml 2>&1)"; then
    printf '%s\n' "$out" > "$DATA/policy.set"
  else
    echo "start.sh: loading the risk policy deploy/risk-policy.toml failed: $out" >&2
    exit 1
  fi
fi
"$CTL" "${READER[@]}" keys --note > "$DATA/log.vkeys"

if [ "$PLAINTEXT" = 1 ]; then
  cat <<EOT

The annotation ledger is running WITHOUT TLS (--insecure-plaintext): anyone
who can reach $LISTEN may read and write everything. Local experiments only.
  listening on   $LISTEN   (pid $(cat "$PIDFILE"), log $DATA/node.log)
  http           $HTTP_LINE
  data           $DATA/node
  emitter key    $DATA/emitter/demo.key  (tenant "demo", producer "label-studio", registered)
  risk policy    deploy/risk-policy.toml  (loaded: $DATA/policy.set; every later entry is graded)
  log keys       $DATA/log.vkeys          (for offline verification)

Try next (every ledgerctl network command needs --insecure-plaintext):
  $CTL gen-events --count 1000 --tenant demo --producer label-studio/1.13.1 > events.jsonl
  $CTL --insecure-plaintext --server $LISTEN append --emitter-key $DATA/emitter --file events.jsonl | tail -n 3
  $CTL --insecure-plaintext --server $LISTEN checkpoint
  $CTL --insecure-plaintext --server $LISTEN prove --index 5 --out entry5.tlog-proof
  $VERIFY proof entry5.tlog-proof --keys $DATA/log.vkeys --emitter-keys $DATA/emitter/demo.pub
  # The entries graded critical, e.g. the pilot's export of core data
  # without an approval (R1, docs/risk-rules.md, docs/queries.md).
  $CTL --insecure-plaintext --server $LISTEN risk findings --tenant demo --min-level critical
  # Another policy (admin): $CTL --insecure-plaintext --server $LISTEN policy set FILE

Stop it with: $STOP
EOT
  exit 0
fi

cat <<EOT

The annotation ledger is running over mutual TLS with roles.
  listening on   $LISTEN   (pid $(cat "$PIDFILE"), log $DATA/node.log)
  http           $HTTP_LINE
  data           $DATA/node   (configuration $DATA/node.toml)
  certificates   $TLS          (development CA, private keys mode 0600)
  access policy  $TLS/access-policy.toml
  profiles       $TLS/{admin,regulator,emitter,officer}.profile
                 (emitter and officer: tenant "demo")
  emitter key    $DATA/emitter/demo.key  (tenant "demo", producer "label-studio", registered)
  risk policy    deploy/risk-policy.toml  (loaded: $DATA/policy.set; every later entry is graded)
  log keys       $DATA/log.vkeys          (for offline verification)

ledgerctl picks its certificate from the profile in LEDGER_PROFILE (or
--profile FILE). Try next:
  export LEDGER_PROFILE=$TLS/emitter.profile
  $CTL gen-events --count 1000 --tenant demo --producer label-studio/1.13.1 > events.jsonl
  $CTL append --emitter-key $DATA/emitter --file events.jsonl | tail -n 3

  export LEDGER_PROFILE=$TLS/regulator.profile
  $CTL checkpoint
  $CTL prove --index 5 --out entry5.tlog-proof
  $VERIFY proof entry5.tlog-proof --keys $DATA/log.vkeys --emitter-keys $DATA/emitter/demo.pub

  $CTL --profile $TLS/officer.profile get --index 5
  $CTL --profile $TLS/emitter.profile get --index 5   # refused: PERMISSION_DENIED

  # The entries graded critical, e.g. the pilot's export of core data
  # without an approval (R1, docs/risk-rules.md, docs/queries.md).
  $CTL risk findings --tenant demo --min-level critical
  # Another policy: $CTL --profile $TLS/admin.profile policy set FILE

Stop it with: $STOP
EOT
