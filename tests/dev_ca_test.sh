#!/usr/bin/env bash
# Runs deploy/dev-ca.sh (path in $1) into a temporary directory and checks
# what it promises: every certificate verifies against the CA, with the
# SAN URIs, DNS and IP names, key usages and validity it documents; private
# keys are 0600; the policy and profiles name the certificates; a second
# run keeps every file; a certificate signed by another CA is issued again;
# --node-dns adds a node's DNS names (issuing it again when one is missing).
set -euo pipefail
SCRIPT="${1:?usage: dev_ca_test.sh path/to/dev-ca.sh}"
TMP="$(mktemp -d /tmp/dev_ca_test.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT
OUT="$TMP/ca"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
expect_contains() {  # expect_contains WHAT TEXT NEEDLE
  grep -qF -- "$3" <<<"$2" || fail "$1: \"$3\" not in: $2"
}

bash "$SCRIPT" --out "$OUT" --node node-1 --node node-2 --tenant acme \
  --address 127.0.0.1:7555 --quiet

[ "$(stat -c %a "$OUT")" = 700 ] || fail "$OUT is not mode 0700"
for key in ca.key node/node-1.key node/node-2.key admin.key regulator.key \
           emitter.key officer.key; do
  [ "$(stat -c %a "$OUT/$key")" = 600 ] || fail "$key is not mode 0600"
  openssl pkey -in "$OUT/$key" -noout -text 2>/dev/null | grep -q "prime256v1" \
    || fail "$key is not an EC P-256 key"
done

ca_text="$(openssl x509 -in "$OUT/ca.pem" -noout -text)"
expect_contains "ca.pem" "$ca_text" "CA:TRUE"
expect_contains "ca.pem" "$ca_text" "Certificate Sign"

# check CERT URI EKU [DNS/IP names...]
check() {
  local file="$1" cert="$OUT/$1" uri="$2" eku="$3"
  shift 3
  openssl verify -CAfile "$OUT/ca.pem" "$cert" >/dev/null \
    || fail "$file does not verify against ca.pem"
  local san text
  san="$(openssl x509 -in "$cert" -noout -ext subjectAltName)"
  expect_contains "$file SAN" "$san" "URI:$uri"
  for name in "$@"; do expect_contains "$file SAN" "$san" "$name"; done
  text="$(openssl x509 -in "$cert" -noout -text)"
  expect_contains "$file" "$text" "CA:FALSE"
  expect_contains "$file" "$text" "$eku"
  # One year: valid for 364 more days, not for 366.
  openssl x509 -in "$cert" -noout -checkend $((364 * 86400)) >/dev/null \
    || fail "$file expires within 364 days"
  if openssl x509 -in "$cert" -noout -checkend $((366 * 86400)) >/dev/null; then
    fail "$file is valid for more than a year"
  fi
  # The key belongs to the certificate.
  [ "$(openssl x509 -in "$cert" -noout -pubkey)" = \
    "$(openssl pkey -in "${cert%.pem}.key" -pubout)" ] \
    || fail "${cert%.pem}.key does not belong to $file"
}
for n in node-1 node-2; do
  check "node/$n.pem" "spiffe://annotation-ledger/node/$n" \
    "TLS Web Server Authentication, TLS Web Client Authentication" \
    "DNS:localhost" "IP Address:127.0.0.1" "IP Address:0:0:0:0:0:0:0:1"
done
check admin.pem spiffe://annotation-ledger/admin/local "TLS Web Client Authentication"
check regulator.pem spiffe://annotation-ledger/regulator/local "TLS Web Client Authentication"
check emitter.pem spiffe://annotation-ledger/emitter/acme "TLS Web Client Authentication"
check officer.pem spiffe://annotation-ledger/officer/acme "TLS Web Client Authentication"

policy="$(cat "$OUT/access-policy.toml")"
for uri in node/node-1 node/node-2 admin/local regulator/local emitter/acme \
           officer/acme; do
  expect_contains access-policy.toml "$policy" "uri = \"spiffe://annotation-ledger/$uri\""
done
expect_contains access-policy.toml "$policy" 'role = "emitter"
tenants = ["acme"]'
expect_contains access-policy.toml "$policy" 'role = "officer"
tenants = ["acme"]'

for role in admin regulator emitter officer; do
  profile="$(cat "$OUT/$role.profile")"
  expect_contains "$role.profile" "$profile" 'address = "127.0.0.1:7555"'
  expect_contains "$role.profile" "$profile" 'ca = "ca.pem"'
  expect_contains "$role.profile" "$profile" "cert = \"$role.pem\""
  expect_contains "$role.profile" "$profile" "key = \"$role.key\""
done

# Idempotent: a second run changes nothing and warns about nothing.
before="$(cd "$OUT" && find . -type f | sort | xargs sha256sum)"
second="$(bash "$SCRIPT" --out "$OUT" --node node-1 --node node-2 --tenant acme \
  --address 127.0.0.1:7555 2>&1)"
after="$(cd "$OUT" && find . -type f | sort | xargs sha256sum)"
[ "$before" = "$after" ] || fail "a second run changed files"
expect_contains "second run" "$second" "kept $OUT/admin.pem"
grep -q "warning" <<<"$second" && fail "second run warned: $second"

# A certificate of another CA is replaced; an edited profile is kept with
# a warning.
bash "$SCRIPT" --out "$TMP/other" --quiet
cp "$TMP/other/admin.pem" "$OUT/admin.pem"
cp "$TMP/other/admin.key" "$OUT/admin.key"
echo "# edited" >> "$OUT/admin.profile"
third="$(bash "$SCRIPT" --out "$OUT" --node node-1 --node node-2 --tenant acme \
  --address 127.0.0.1:7555 2>&1)"
openssl verify -CAfile "$OUT/ca.pem" "$OUT/admin.pem" >/dev/null \
  || fail "admin.pem of another CA was not issued again"
expect_contains "third run" "$third" "issued $OUT/admin.pem"
expect_contains "third run" "$third" "warning: $OUT/admin.profile differs"
grep -q "# edited" "$OUT/admin.profile" || fail "the edited profile was overwritten"

# --node-dns: the names other nodes reach a node by. A certificate without
# a name now asked for is issued again; one that has it is kept.
bash "$SCRIPT" --out "$OUT" --node node-1 --node node-2 --tenant acme \
  --address 127.0.0.1:7555 --node-dns node-1=n1.example \
  --node-dns node-1=node-1.ledger.ns.svc.cluster.local --quiet
san="$(openssl x509 -in "$OUT/node/node-1.pem" -noout -ext subjectAltName)"
for name in URI:spiffe://annotation-ledger/node/node-1 DNS:localhost \
            DNS:n1.example DNS:node-1.ledger.ns.svc.cluster.local \
            "IP Address:127.0.0.1"; do
  expect_contains "node-1.pem SAN with --node-dns" "$san" "$name"
done
san="$(openssl x509 -in "$OUT/node/node-2.pem" -noout -ext subjectAltName)"
grep -qF "n1.example" <<<"$san" && fail "node-2.pem carries node-1's DNS name"
fourth="$(bash "$SCRIPT" --out "$OUT" --node node-1 --node node-2 --tenant acme \
  --address 127.0.0.1:7555 --node-dns node-1=n1.example 2>&1)"
expect_contains "fourth run" "$fourth" "kept $OUT/node/node-1.pem"
expect_contains "fourth run" "$fourth" "kept $OUT/node/node-2.pem"

# Usage errors.
if bash "$SCRIPT" --out "$TMP/bad" --node n1 --node-dns n2=n2 2>/dev/null; then
  fail "--node-dns for a node that is not issued accepted"
fi
if bash "$SCRIPT" --out "$TMP/bad" --node n1 --node-dns n1=bad_name 2>/dev/null; then
  fail "--node-dns with a host that is no DNS name accepted"
fi
if bash "$SCRIPT" --node x 2>/dev/null; then fail "no --out accepted"; fi
if bash "$SCRIPT" --out "$TMP/bad" --node "Bad Name" 2>/dev/null; then
  fail "a node name with a space accepted"
fi

if [ "$failures" -gt 0 ]; then
  echo "dev_ca_test: $failures failure(s)" >&2
  exit 1
fi
echo "dev_ca_test: ok"
