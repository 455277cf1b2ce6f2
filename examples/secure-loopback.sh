#!/usr/bin/env bash
# A coordinator and three parties on loopback with everything the trust model asks for
# (docs/security.md): TLS for HTTP and WebSocket (docs/tls.md), an operator key that certifies
# every party, one-time enrolment tokens per party, a pinned coordinator key, and API tokens with
# roles (docs/roles.md). The README walks through the same steps; `npm test` runs this script
# (test/e2e/secure-walkthrough.test.ts).
#
#   bash examples/secure-loopback.sh [WORKDIR]      needs node, openssl and curl
#
# It stops only the processes it started (by PID) and leaves WORKDIR for you to inspect.
set -euo pipefail
QUORATE="node $(cd "$(dirname "$0")/.." && pwd)/bin/quorate.js"
WORK="${1:-$(mktemp -d)}"
mkdir -p "$WORK" && cd "$WORK"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(String(JSON.parse(s)[process.argv[1]])))' "$1"; }
say() { printf '\n== %s\n' "$*"; }
export QUORATE_KEY_PASSPHRASE="$(openssl rand -hex 24)"   # seals every key at rest

say "1. a CA and a certificate for 127.0.0.1 (docs/tls.md)"
mkdir -p pki
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout pki/ca.key \
  -out pki/ca.crt -days 30 -subj /CN=quorate-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > pki/server.ext
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout pki/server.key \
  -out pki/server.csr -subj /CN=127.0.0.1 2>/dev/null
openssl x509 -req -in pki/server.csr -CA pki/ca.crt -CAkey pki/ca.key -CAcreateserial -days 30 \
  -out pki/server.crt -extfile pki/server.ext 2>/dev/null
chmod 600 pki/*.key

say "2. the operator key (keep it offline: it vouches for every party's keys)"
OPERATOR_KEY="$($QUORATE operator init --out operator.key | json operatorKey)"
echo "operator key: $OPERATOR_KEY"

say "3. API tokens with roles: ops (admin), desk (signer), audit (auditor)"
for who in ops:admin desk:signer audit:auditor; do
  $QUORATE api-token new --name "${who%%:*}" --role "${who##*:}" --json > "token-${who%%:*}.json"
done
node -e '
  const fs = require("fs");
  const lines = ["ops", "desk", "audit"].map((n) => JSON.parse(fs.readFileSync(`token-${n}.json`, "utf8")))
    .map((t) => `  - { name: ${t.name}, sha256: ${t.sha256}, roles: [${t.roles.join(", ")}] }`);
  fs.writeFileSync("tokens.yaml", ["tokens:", ...lines, ""].join("\n"), { mode: 0o600 });'
OPS="$(json token < token-ops.json)"; DESK="$(json token < token-desk.json)"; AUDIT="$(json token < token-audit.json)"

say "4. the coordinator: HTTPS + WSS, named tokens, party certificates required"
$QUORATE coordinator --listen 127.0.0.1:0 --data coordinator --api-tokens tokens.yaml \
  --tls-cert pki/server.crt --tls-key pki/server.key --operator-key "$OPERATOR_KEY" --json \
  > coordinator.out 2> coordinator.log &
PIDS+=($!)
for _ in $(seq 100); do grep -q listening coordinator.out 2>/dev/null && break; sleep 0.2; done
URL="$(grep listening coordinator.out | json url)"
COORDINATOR_KEY="$(grep listening coordinator.out | json coordinatorKey)"
echo "coordinator: $URL (identity key $COORDINATOR_KEY)"
api() { curl -sS --cacert pki/ca.crt -H "authorization: Bearer $1" -H 'content-type: application/json' "${@:2}"; }

say "5. each party: identity -> operator certificate -> one-time enrolment token -> start"
for id in mobile backend guardian; do
  $QUORATE party identity --id "$id" --data "party-$id" > "$id.request.json"
  $QUORATE operator certify --key operator.key --request "$id.request.json" --out "$id.cert.json"
  TOKEN="$(api "$OPS" -d '{"ttlSeconds":600}' "$URL/v1/parties/$id/enrolment" | json token)"
  $QUORATE party --id "$id" --coordinator "${URL/https:/wss:}" --data "party-$id" \
    --tls-ca pki/ca.crt --enrol-token "$TOKEN" --coordinator-key "$COORDINATOR_KEY" \
    --operator-key "$OPERATOR_KEY" --certificate "$id.cert.json" 2> "$id.log" &
  PIDS+=($!)
done
for _ in $(seq 150); do
  [ "$(api "$AUDIT" "$URL/v1/parties" | grep -o '"state":"alive"' | wc -l)" -eq 3 ] && break
  sleep 0.2
done
api "$AUDIT" "$URL/v1/parties"; echo

say "6. ops (admin) creates a 2-of-3 wallet; desk (signer) signs; audit (auditor) reads"
WALLET="$(api "$OPS" -d '{"scheme":"bip340","threshold":2,"parties":["mobile","backend","guardian"]}' \
  "$URL/v1/wallets" | json walletId)"
echo "wallet: $WALLET"
SIGNED="$(api "$DESK" -d '{"message":"68656c6c6f","intentKey":"pay-1"}' "$URL/v1/wallets/$WALLET/signatures")"
echo "$SIGNED"
api "$AUDIT" "$URL/v1/sessions/$(echo "$SIGNED" | json sessionId)" > /dev/null && echo "audit read the session"

say "7. roles hold: the signer cannot create a wallet, the auditor cannot sign"
api "$DESK" -o /dev/null -w 'desk  POST /v1/wallets -> %{http_code}\n' \
  -d '{"scheme":"bip340","threshold":2,"parties":["mobile","backend","guardian"]}' "$URL/v1/wallets"
api "$AUDIT" -o /dev/null -w 'audit POST signatures -> %{http_code}\n' \
  -d '{"message":"68656c6c6f","intentKey":"pay-2"}' "$URL/v1/wallets/$WALLET/signatures"
echo "done: $(echo "$SIGNED" | json status)"
