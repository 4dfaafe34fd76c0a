#!/usr/bin/env bash
# A local replicated cluster (docs/cluster.md) on loopback: three etcd
# members and three ledger nodes, over mutual TLS with the development CA
# (deploy/dev-ca.sh: one certificate per node, the node role between them),
# data under one folder. Started in the background; prints where each node
# listens. Run through scripts/start.sh --cluster (which installs and builds
# first) or directly once built.
#
#   scripts/cluster.sh [--data DIR]          start (default DIR: ledger-cluster)
#   scripts/cluster.sh --stop [--data DIR]   stop the nodes, then etcd
#   scripts/cluster.sh --status [--data DIR] who leads, committed sizes
#
# Ports: node i (1-3) serves clients on 127.0.0.1:74i0, replication on
# 127.0.0.1:74i1, HTTP on 127.0.0.1:74i2; etcd member i on 127.0.0.1:23i9
# (clients) and 23i8 (peers). A node that stepped down (exit code 4, it lost
# its leadership) is restarted by this script's supervisor loop as a
# follower, as systemd's Restart= would.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=ledger-cluster
ACTION=start
while [ $# -gt 0 ]; do
  case "$1" in
    --data) DATA="$2"; shift 2 ;;
    --stop) ACTION=stop; shift ;;
    --status) ACTION=status; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "cluster.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

BUILD_DIR="${LEDGER_BUILD_DIR:-build}"
NODE="$BUILD_DIR/node/ledger-node"
CTL="$BUILD_DIR/tools/ledgerctl/ledgerctl"
ETCD="${ETCD:-/usr/bin/etcd}"
ORIGIN="annotation-ledger.local/cluster"
TLS="$DATA/tls"
NODES="1 2 3"

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pid() {  # pidfile, what
  if alive "$1"; then
    kill -TERM "$(cat "$1")"
    for _ in $(seq 1 300); do alive "$1" || break; sleep 0.1; done
    if alive "$1"; then kill -KILL "$(cat "$1")"; fi
    echo "$2 stopped"
  fi
  rm -f "$1"
}

case "$ACTION" in
  stop)
    # Supervisors first (they would restart the nodes), then the nodes,
    # then etcd.
    for i in $NODES; do stop_pid "$DATA/n$i.supervisor.pid" "supervisor of n$i" >/dev/null; done
    for i in $NODES; do stop_pid "$DATA/n$i.pid" "ledger node n$i"; done
    for i in $NODES; do stop_pid "$DATA/etcd$i.pid" "etcd member $i"; done
    exit 0 ;;
  status)
    for i in $NODES; do
      if "$CTL" --profile "$TLS/regulator.profile" --server "127.0.0.1:74${i}0" keys 2>/dev/null \
          | grep -E '"(size|write_state)"' -o >/dev/null; then
        info="$("$CTL" --profile "$TLS/regulator.profile" --server "127.0.0.1:74${i}0" keys 2>/dev/null)"
        printf 'n%s: %s\n' "$i" "$(grep -oE '"(size|write_state)":[^,}]*' <<<"$info" | tr '\n' ' ')"
      else
        printf 'n%s: not answering\n' "$i"
      fi
    done
    exit 0 ;;
esac

for f in "$NODE" "$CTL" "$ETCD"; do
  [ -x "$f" ] || { echo "cluster.sh: $f is missing (build first: scripts/start.sh --cluster)" >&2; exit 1; }
done
mkdir -p "$DATA"

# etcd: three members on loopback.
CLUSTER_SPEC="m1=http://127.0.0.1:2318,m2=http://127.0.0.1:2328,m3=http://127.0.0.1:2338"
for i in $NODES; do
  alive "$DATA/etcd$i.pid" && continue
  state=new
  [ -d "$DATA/etcd$i" ] && state=existing
  nohup "$ETCD" --name "m$i" --data-dir "$DATA/etcd$i" --logger=zap --log-outputs=stderr \
    --listen-client-urls "http://127.0.0.1:23${i}9" --advertise-client-urls "http://127.0.0.1:23${i}9" \
    --listen-peer-urls "http://127.0.0.1:23${i}8" --initial-advertise-peer-urls "http://127.0.0.1:23${i}8" \
    --initial-cluster "$CLUSTER_SPEC" --initial-cluster-token annotation-ledger-local \
    --initial-cluster-state "$state" \
    --auto-compaction-mode=revision --auto-compaction-retention=10000 \
    </dev/null >"$DATA/etcd$i.log" 2>&1 &
  echo $! >"$DATA/etcd$i.pid"
  disown
done

# Certificates (one per node, node role between them) and the shared log key.
./deploy/dev-ca.sh --out "$TLS" --node n1 --node n2 --node n3 --tenant demo \
  --address 127.0.0.1:7410 --quiet
[ -f "$DATA/log.key" ] || "$CTL" cluster-key --origin "$ORIGIN" --out "$DATA/log.key" >/dev/null

for i in $NODES; do
  conf="$DATA/n$i.toml"
  [ -f "$conf" ] && continue
  {
    echo "# written by scripts/cluster.sh; paths are relative to this file"
    echo "data_dir = \"n$i\""
    echo "listen = \"127.0.0.1:74${i}0\""
    echo "http_listen = \"127.0.0.1:74${i}2\""
    echo "node_name = \"n$i\""
    echo "origin = \"$ORIGIN\""
    echo "[tls]"
    echo "ca_file = \"tls/ca.pem\""
    echo "cert_file = \"tls/node/n$i.pem\""
    echo "key_file = \"tls/node/n$i.key\""
    echo "[access]"
    echo "policy_file = \"tls/access-policy.toml\""
    echo "[cluster]"
    echo "listen = \"127.0.0.1:74${i}1\""
    echo "etcd_endpoints = [\"127.0.0.1:2319\", \"127.0.0.1:2329\", \"127.0.0.1:2339\"]"
    echo "log_key_file = \"log.key\""
    for j in $NODES; do
      [ "$j" = "$i" ] && continue
      echo "[[cluster.peers]]"
      echo "name = \"n$j\""
      echo "address = \"127.0.0.1:74${j}0\""
      echo "cluster_address = \"127.0.0.1:74${j}1\""
    done
  } >"$conf"
done

# data_dir in the configs is relative to the config file's directory only
# for paths given as such; run the nodes from DATA so "n1" resolves there.
ABS_DATA="$(cd "$DATA" && pwd)"
ABS_NODE="$(cd "$(dirname "$NODE")" && pwd)/$(basename "$NODE")"
for i in $NODES; do
  alive "$DATA/n$i.supervisor.pid" && continue
  # The supervisor restarts a node that stepped down (exit code 4).
  (
    cd "$ABS_DATA"
    trap 'kill -TERM "$(cat n'"$i"'.pid)" 2>/dev/null; exit 0' TERM
    while true; do
      "$ABS_NODE" --config "n$i.toml" >>"n$i.out" 2>>"n$i.log" &
      echo $! >"n$i.pid"
      code=0
      wait "$(cat "n$i.pid")" || code=$?
      [ "$code" = 4 ] || exit "$code"
      echo "n$i stepped down; restarting it as a follower" >>"n$i.log"
    done
  ) </dev/null >/dev/null 2>&1 &
  echo $! >"$DATA/n$i.supervisor.pid"
  disown
done

echo "waiting for a leader ..."
leader=""
for _ in $(seq 1 600); do
  for i in $NODES; do
    if "$CTL" --profile "$TLS/regulator.profile" --server "127.0.0.1:74${i}0" keys 2>/dev/null \
        | grep -q '"write_state":"running"'; then
      leader=$i; break
    fi
  done
  [ -n "$leader" ] && break
  sleep 0.1
done
[ -n "$leader" ] || { echo "cluster.sh: no leader within 60 s; see $DATA/n*.log and $DATA/etcd*.log" >&2; exit 1; }

cat <<EOF
local cluster running (data in $DATA):
  etcd     127.0.0.1:2319, 127.0.0.1:2329, 127.0.0.1:2339
  node n1  127.0.0.1:7410   n2  127.0.0.1:7420   n3  127.0.0.1:7430
  leader   n$leader (appends sent to a follower are refused with the leader's
           address, which ledgerctl follows)
  profiles $TLS/{admin,emitter,officer,regulator}.profile
  status   scripts/cluster.sh --status${DATA:+ --data $DATA}
  stop     scripts/cluster.sh --stop${DATA:+ --data $DATA}
EOF
