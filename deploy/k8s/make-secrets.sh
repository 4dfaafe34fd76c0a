#!/usr/bin/env bash
# Development key material for deploy/k8s: a CA and node certificates made
# by deploy/dev-ca.sh, each node's naming its pod DNS name
# (ledger-N.ledger.NAMESPACE.svc.cluster.local) and the client Service
# (ledger-client.NAMESPACE.svc.cluster.local), plus IP 127.0.0.1 for the
# readiness probe; the role certificates and profiles; and the log key the
# nodes share (ledgerctl cluster-key). Writes the Secrets ledger-tls and
# ledger-log-key as a manifest to apply. Not for production: the CA key
# stays in DIR. With your own CA, issue certificates with the same names
# (and SAN URI spiffe://annotation-ledger/node/ledger-N, which the access
# policy gives the node role) and put them into the Secrets under the same
# keys.
#
#   deploy/k8s/make-secrets.sh --out DIR [--namespace NS] [--origin ORIGIN]
#                              [--ledgerctl PATH]
#   kubectl apply -f DIR/secrets.yaml
#
#   --out DIR        the CA, certificates, profiles, log.key, secrets.yaml
#   --namespace NS   default annotation-ledger (as in the manifests)
#   --origin O       default annotation-ledger.local/k8s (as configmap.yaml)
#   --ledgerctl P    default build/tools/ledgerctl/ledgerctl
#
# Existing files in DIR are kept (dev-ca.sh is idempotent; log.key is never
# replaced: the ledger's entries are signed with it).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT=""
NS=annotation-ledger
ORIGIN=annotation-ledger.local/k8s
CTL="$ROOT/build/tools/ledgerctl/ledgerctl"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="${2:?--out needs a directory}"; shift 2 ;;
    --namespace) NS="${2:?--namespace needs a name}"; shift 2 ;;
    --origin) ORIGIN="${2:?--origin needs a value}"; shift 2 ;;
    --ledgerctl) CTL="${2:?--ledgerctl needs a path}"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "make-secrets.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$OUT" ] || { echo "make-secrets.sh: --out DIR is required (see --help)" >&2; exit 2; }
[ -x "$CTL" ] || { echo "make-secrets.sh: $CTL is missing: build first, or give --ledgerctl" >&2; exit 1; }

NODES=(ledger-0 ledger-1 ledger-2)
args=()
for n in "${NODES[@]}"; do
  args+=(--node "$n" --node-dns "$n=$n.ledger.$NS.svc.cluster.local"
         --node-dns "$n=ledger-client.$NS.svc.cluster.local")
done
bash "$ROOT/deploy/dev-ca.sh" --out "$OUT/tls" "${args[@]}" --tenant demo \
  --address "ledger-client.$NS.svc.cluster.local:7400" --quiet
[ -f "$OUT/log.key" ] || "$CTL" cluster-key --origin "$ORIGIN" --out "$OUT/log.key" >/dev/null

b64() { base64 -w0 < "$1"; }
{
  echo "# Written by deploy/k8s/make-secrets.sh: development key material."
  echo "apiVersion: v1"
  echo "kind: Secret"
  echo "metadata:"
  echo "  name: ledger-tls"
  echo "  namespace: $NS"
  echo "type: Opaque"
  echo "data:"
  echo "  ca.pem: $(b64 "$OUT/tls/ca.pem")"
  echo "  access-policy.toml: $(b64 "$OUT/tls/access-policy.toml")"
  for n in "${NODES[@]}"; do
    echo "  $n.pem: $(b64 "$OUT/tls/node/$n.pem")"
    echo "  $n.key: $(b64 "$OUT/tls/node/$n.key")"
  done
  echo "---"
  echo "apiVersion: v1"
  echo "kind: Secret"
  echo "metadata:"
  echo "  name: ledger-log-key"
  echo "  namespace: $NS"
  echo "type: Opaque"
  echo "data:"
  echo "  log.key: $(b64 "$OUT/log.key")"
} > "$OUT/secrets.yaml.tmp"
chmod 0600 "$OUT/secrets.yaml.tmp"
mv "$OUT/secrets.yaml.tmp" "$OUT/secrets.yaml"
echo "make-secrets.sh: wrote $OUT/secrets.yaml (kubectl apply -f $OUT/secrets.yaml); client profiles in $OUT/tls/"
