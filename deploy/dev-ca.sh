#!/usr/bin/env bash
# A development certificate authority for a local annotation ledger: a CA,
# one certificate per node, one per role for local use, the access policy
# that maps them to roles, and a client profile per role. OpenSSL CLI only.
# Not for production: the CA key sits next to the certificates it signs.
#
#   deploy/dev-ca.sh --out DIR [--node NAME]... [--node-dns NAME=HOST]...
#                    [--tenant T] [--address HOST:PORT] [--days N] [--quiet]
#
#   --out DIR          where everything goes (created, mode 0700)
#   --node NAME        a node certificate (repeatable; default: node-1)
#   --node-dns NAME=HOST
#                      also DNS:HOST in node NAME's certificate, the name
#                      other nodes and clients reach it by (repeatable; a
#                      compose service name, a Kubernetes pod's DNS name)
#   --tenant T         the tenant of the emitter and officer (default: demo)
#   --address H:P      the address written into the profiles
#                      (default: 127.0.0.1:7400)
#   --days N           validity of the leaf certificates (default: 365)
#
# Writes into DIR (private keys EC P-256, mode 0600):
#   ca.pem, ca.key                  the CA (10 years)
#   node/NAME.pem, node/NAME.key    SAN URI spiffe://annotation-ledger/node/NAME,
#                                   DNS localhost and each --node-dns HOST,
#                                   IP 127.0.0.1 and ::1
#   ROLE.pem, ROLE.key              ROLE = admin, regulator, emitter, officer;
#                                   SAN URI spiffe://annotation-ledger/ROLE/NAME
#                                   (NAME: "local" for admin and regulator,
#                                   the tenant for emitter and officer)
#   ROLE.profile                    client profile for ledgerctl / ledger-bench
#   access-policy.toml              the node's [access] policy_file
#
# Idempotent: an existing CA is kept; an existing certificate is kept while
# it verifies against the CA, is valid for 30 more days and carries every
# name asked for, otherwise it is issued again. The policy and the profiles
# are written when missing; one that differs from what this script would
# write is left alone with a warning (delete it to have it written again).
set -euo pipefail

OUT=""
NODES=()
NODE_DNS=()
TENANT=demo
ADDRESS=127.0.0.1:7400
DAYS=365
QUIET=0
usage() { sed -n '2,37p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="${2:?--out needs a directory}"; shift 2 ;;
    --node) NODES+=("${2:?--node needs a name}"); shift 2 ;;
    --node-dns) NODE_DNS+=("${2:?--node-dns needs NAME=HOST}"); shift 2 ;;
    --tenant) TENANT="${2:?--tenant needs a name}"; shift 2 ;;
    --address) ADDRESS="${2:?--address needs HOST:PORT}"; shift 2 ;;
    --days) DAYS="${2:?--days needs a number}"; shift 2 ;;
    --quiet) QUIET=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "dev-ca.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$OUT" ] || { echo "dev-ca.sh: --out DIR is required (see --help)" >&2; exit 2; }
[ ${#NODES[@]} -gt 0 ] || NODES=(node-1)
[[ "$DAYS" =~ ^[1-9][0-9]*$ ]] || { echo "dev-ca.sh: --days must be a positive number" >&2; exit 2; }
# Names become URI path segments and file names.
for name in "${NODES[@]}" "$TENANT"; do
  [[ "$name" =~ ^[a-z0-9][a-z0-9._-]*$ ]] || {
    echo "dev-ca.sh: \"$name\": names may hold only a-z 0-9 . _ - (and start with a letter or digit)" >&2
    exit 2
  }
done
for entry in "${NODE_DNS[@]}"; do
  name="${entry%%=*}"
  host="${entry#*=}"
  [[ "$entry" == *=* && "$host" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || {
    echo "dev-ca.sh: --node-dns \"$entry\": expected NAME=HOST with a DNS name (letters, digits, . and -)" >&2
    exit 2
  }
  known=0
  for n in "${NODES[@]}"; do [ "$n" = "$name" ] && known=1; done
  [ "$known" = 1 ] || { echo "dev-ca.sh: --node-dns \"$entry\": no --node $name" >&2; exit 2; }
done
command -v openssl >/dev/null || { echo "dev-ca.sh: the openssl command is missing (Debian package openssl)" >&2; exit 1; }

SPIFFE=spiffe://annotation-ledger
say() { [ "$QUIET" = 1 ] || echo "dev-ca.sh: $*" >&2; }

mkdir -p "$OUT/node"
chmod 700 "$OUT"
umask 077

newkey() {  # newkey FILE: an EC P-256 private key, mode 0600
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.tmp" 2>/dev/null
  chmod 600 "$1.tmp"
  mv "$1.tmp" "$1"
}

# --- the CA -----------------------------------------------------------------
if [ -f "$OUT/ca.pem" ] && [ ! -f "$OUT/ca.key" ]; then
  echo "dev-ca.sh: $OUT/ca.pem exists without ca.key; remove ca.pem to create a new CA (every certificate is then issued again)" >&2
  exit 1
fi
# Every openssl call gets its whole configuration here, never the system's
# openssl.cnf (whose defaults would add extensions of their own).
CONF="$(mktemp "$OUT/openssl.XXXXXX")"
trap 'rm -f "$CONF"' EXIT
reqconf() {  # reqconf CN [EXTENSION...]: the configuration of one subject
  local cn="$1"
  shift
  {
    printf '[req]\nprompt = no\ndistinguished_name = dn\n'
    if [ $# -gt 0 ]; then printf 'x509_extensions = ext\n'; fi
    printf '[dn]\nO = annotation-ledger dev\nCN = %s\n' "$cn"
    if [ $# -gt 0 ]; then
      printf '[ext]\n'
      printf '%s\n' "$@"
    fi
  } > "$CONF"
}

if [ ! -f "$OUT/ca.pem" ]; then
  newkey "$OUT/ca.key"
  reqconf "annotation-ledger dev CA" \
    "basicConstraints = critical,CA:TRUE" \
    "keyUsage = critical,keyCertSign,cRLSign" \
    "subjectKeyIdentifier = hash"
  openssl req -config "$CONF" -new -x509 -key "$OUT/ca.key" -sha256 \
    -days 3650 -out "$OUT/ca.pem.tmp"
  chmod 644 "$OUT/ca.pem.tmp"
  mv "$OUT/ca.pem.tmp" "$OUT/ca.pem"
  say "created the CA $OUT/ca.pem"
fi

# has_names CERT SAN: CERT carries every URI and DNS name of SAN (as
# written for subjectAltName: "URI:...,DNS:...,IP:...").
has_names() {
  local have want
  have="$(openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null |
    tail -n +2 | tr -d ' ' | tr ',' '\n')"
  for want in $(tr ',' '\n' <<<"$2" | grep -E '^(URI|DNS):'); do
    grep -qxF -- "$want" <<<"$have" || return 1
  done
}

# issue BASE CN SAN EKU: BASE.pem / BASE.key signed by the CA, unless a
# good one exists.
issue() {
  local base="$1" cn="$2" san="$3" eku="$4"
  if [ -f "$base.pem" ] && [ -f "$base.key" ] &&
     openssl verify -CAfile "$OUT/ca.pem" "$base.pem" >/dev/null 2>&1 &&
     openssl x509 -in "$base.pem" -noout -checkend 2592000 >/dev/null 2>&1 &&
     has_names "$base.pem" "$san"; then
    say "kept $base.pem"
    return
  fi
  newkey "$base.key"
  reqconf "$cn" \
    "basicConstraints = critical,CA:FALSE" \
    "keyUsage = critical,digitalSignature" \
    "extendedKeyUsage = $eku" \
    "subjectAltName = $san" \
    "subjectKeyIdentifier = hash" \
    "authorityKeyIdentifier = keyid"
  openssl req -config "$CONF" -new -key "$base.key" -out "$base.csr"
  # Serial: 124 random bits, positive as RFC 5280 requires.
  openssl x509 -req -in "$base.csr" -CA "$OUT/ca.pem" -CAkey "$OUT/ca.key" \
    -set_serial "0x7$(openssl rand -hex 15)" -days "$DAYS" -sha256 \
    -extfile "$CONF" -extensions ext -out "$base.pem.tmp" 2>/dev/null
  rm -f "$base.csr"
  chmod 644 "$base.pem.tmp"
  mv "$base.pem.tmp" "$base.pem"
  say "issued $base.pem ($san)"
}

for name in "${NODES[@]}"; do
  dns="DNS:localhost"
  for entry in "${NODE_DNS[@]}"; do
    [ "${entry%%=*}" = "$name" ] && dns="$dns,DNS:${entry#*=}"
  done
  issue "$OUT/node/$name" "$name" \
    "URI:$SPIFFE/node/$name,$dns,IP:127.0.0.1,IP:::1" \
    "serverAuth,clientAuth"
done

# role -> name in its SAN URI; emitter and officer belong to the tenant.
ROLES=(admin regulator emitter officer)
role_name() {
  case "$1" in
    admin|regulator) echo local ;;
    *) echo "$TENANT" ;;
  esac
}
for role in "${ROLES[@]}"; do
  issue "$OUT/$role" "$role $(role_name "$role")" \
    "URI:$SPIFFE/$role/$(role_name "$role")" "clientAuth"
done

# write_if_new FILE: stdin becomes FILE unless FILE exists (then a warning
# if its contents differ).
write_if_new() {
  local file="$1" content
  content="$(cat)"
  if [ -f "$file" ]; then
    if [ "$(cat "$file")" != "$content" ]; then
      echo "dev-ca.sh: warning: $file differs from what dev-ca.sh writes; left unchanged (delete it to write it again)" >&2
    fi
    return
  fi
  printf '%s\n' "$content" > "$file.tmp"
  chmod 644 "$file.tmp"
  mv "$file.tmp" "$file"
  say "wrote $file"
}

{
  echo "# Access policy of a local annotation ledger, written by deploy/dev-ca.sh."
  echo "# Each client certificate's SAN URI maps to a role (and tenants)."
  for name in "${NODES[@]}"; do
    printf '\n[[identity]]\nuri = "%s"\nrole = "node"\n' "$SPIFFE/node/$name"
  done
  printf '\n[[identity]]\nuri = "%s"\nrole = "admin"\n' "$SPIFFE/admin/local"
  printf '\n[[identity]]\nuri = "%s"\nrole = "regulator"\n' "$SPIFFE/regulator/local"
  printf '\n[[identity]]\nuri = "%s"\nrole = "emitter"\ntenants = ["%s"]\n' \
    "$SPIFFE/emitter/$TENANT" "$TENANT"
  printf '\n[[identity]]\nuri = "%s"\nrole = "officer"\ntenants = ["%s"]\n' \
    "$SPIFFE/officer/$TENANT" "$TENANT"
} | write_if_new "$OUT/access-policy.toml"

for role in "${ROLES[@]}"; do
  {
    echo "# ledgerctl / ledger-bench profile: $role $(role_name "$role") (deploy/dev-ca.sh)."
    echo "# Use: ledgerctl --profile <this file> ..., or export LEDGER_PROFILE=<this file>."
    echo "address = \"$ADDRESS\""
    echo "ca = \"ca.pem\""
    echo "cert = \"$role.pem\""
    echo "key = \"$role.key\""
  } | write_if_new "$OUT/$role.profile"
done
