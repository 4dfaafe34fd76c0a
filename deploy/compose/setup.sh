#!/usr/bin/env bash
# The one-shot "setup" service of compose.yaml, run inside the image as
# ledger: writes into the secrets volume (/secrets) the development CA
# (deploy/dev-ca.sh, mounted at /opt/annotation-ledger/dev-ca.sh), one
# certificate per node naming its service (n1, n2, n3) as its DNS name, the
# role certificates and client profiles (address 127.0.0.1:7510, node n1's
# published port), the access policy, and the log key the three nodes share
# (ledgerctl cluster-key). Idempotent: what exists is kept.
#
# SECRETS_DIR, DEV_CA and LEDGERCTL (defaults /secrets,
# /opt/annotation-ledger/dev-ca.sh, ledgerctl) let the deploy test run it
# outside a container.
set -euo pipefail
ORIGIN="${LEDGER_ORIGIN:?LEDGER_ORIGIN must name the origin of the ledger}"
SECRETS="${SECRETS_DIR:-/secrets}"
DEV_CA="${DEV_CA:-/opt/annotation-ledger/dev-ca.sh}"
bash "$DEV_CA" --out "$SECRETS/tls" \
  --node n1 --node n2 --node n3 \
  --node-dns n1=n1 --node-dns n2=n2 --node-dns n3=n3 \
  --tenant demo --address 127.0.0.1:7510 --quiet
if [ ! -f "$SECRETS/log.key" ]; then
  "${LEDGERCTL:-ledgerctl}" cluster-key --origin "$ORIGIN" --out "$SECRETS/log.key" >/dev/null
fi
echo "setup: certificates in $SECRETS/tls, log key $SECRETS/log.key ($ORIGIN)"
