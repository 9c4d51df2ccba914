#!/usr/bin/env bash
# Quick start: brings the whole OT Platform up on this machine, with no Docker:
#   1. installs (apt-get, first time only) and starts RabbitMQ and PostgreSQL, users, definitions;
#   2. builds and starts every service in the background (logs in .build/local-run/logs/);
#   3. runs a demo that drives OTs through the platform and prints the events as they flow.
# Services keep running afterwards; stop them with deploy/local/down.sh.
# OT_BUILD_CONFIG=release builds optimised binaries (slower first build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
CONFIG="${OT_BUILD_CONFIG:-debug}"
STATE="$ROOT/.build/local-run"
SERVICES=(commercial)
declare -A PORTS=([commercial]=8081 [approval]=8082 [dispatch]=8083 [billing]=8084)

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "servers: RabbitMQ + PostgreSQL"
bash deploy/local/servers.sh

say "building ($CONFIG): ${SERVICES[*]} otctl"
products=()
for s in "${SERVICES[@]}" otctl; do products+=(--product "$s"); done
swift build -c "$CONFIG" "${products[@]}" 2>&1 | grep -E "error|warning:|Compiling|Build" | grep -v "^\[" || true
BIN="$(swift build -c "$CONFIG" --show-bin-path)"
[ -x "$BIN/otctl" ] || { echo "build failed"; exit 1; }

say "starting services"
bash deploy/local/down.sh --quiet || true
mkdir -p "$STATE/logs"
for s in "${SERVICES[@]}"; do
  HTTP_PORT="${PORTS[$s]}" LOG_LEVEL="${LOG_LEVEL:-info}" nohup "$BIN/$s" >"$STATE/logs/$s.log" 2>&1 &
  echo $! >"$STATE/$s.pid"
  echo "  $s: pid $!, http://127.0.0.1:${PORTS[$s]}/health/ready, log $STATE/logs/$s.log"
done
for s in "${SERVICES[@]}"; do
  for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:${PORTS[$s]}/health/ready" >/dev/null && break
    sleep 0.5
  done
  curl -sf "http://127.0.0.1:${PORTS[$s]}/health/ready" >/dev/null || { echo "$s is not ready; see $STATE/logs/$s.log"; exit 1; }
  echo "  $s: ready"
done

say "demo: OTs through the platform (events printed as they flow)"
OTCTL=("$BIN/otctl")
"${OTCTL[@]}" tail --key '#' --timeout 20 --count 6 &
TAIL=$!
sleep 1
due=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
run=$(date +%s)

echo "-> a private project in Chile (service line CSV) with offer and purchase order"
"${OTCTL[@]}" send workorder.open --data "$(cat <<JSON
{"workOrderId": "DEMO-$run-CL", "kind": "project", "serviceLine": "CSV",
 "customer": {"id": "C-CL-77", "name": "Minera Los Andes SpA", "taxId": "76.543.210-3", "sector": "private", "segment": "enterprise", "country": "CL"},
 "opportunityId": "OPP-CL-1201", "purchaseOrder": {"number": "OC-4410", "amount": {"minor": 12500000, "currency": "CLP"}},
 "documents": [{"kind": "offer", "uri": "s3://ot-docs/C-CL-77/oferta.pdf"}, {"kind": "purchaseOrder", "uri": "s3://ot-docs/C-CL-77/oc-4410.pdf"}],
 "description": "Medición de calidad de energía en planta"}
JSON
)"
echo "-> a public tender in Colombia (service line GEP) with its deadline"
"${OTCTL[@]}" send workorder.open --data "$(cat <<JSON
{"workOrderId": "DEMO-$run-CO", "kind": "project", "serviceLine": "GEP",
 "customer": {"id": "C-CO-12", "name": "Alcaldía de Medellín", "taxId": "890905211-1", "sector": "public", "segment": "enterprise", "country": "CO"},
 "purchaseOrder": {"number": "LP-2026-88", "amount": {"minor": 98000000, "currency": "COP"}},
 "documents": [{"kind": "offer", "uri": "s3://ot-docs/C-CO-12/oferta.pdf"}, {"kind": "contract", "uri": "s3://ot-docs/C-CO-12/contrato.pdf"}],
 "dueBy": "$due", "description": "Consultoría de eficiencia energética (licitación pública)"}
JSON
)"
echo "-> a repair in Bolivia"
"${OTCTL[@]}" send workorder.open --data "$(cat <<JSON
{"workOrderId": "DEMO-$run-BO", "kind": "repair",
 "customer": {"id": "C-BO-5", "name": "Juan Pérez", "taxId": "4455667", "sector": "private", "segment": "residential", "country": "BO"},
 "documents": [], "description": "Sin tono en línea fija"}
JSON
)"
echo "-> an invalid command (no customer): the contract check in otctl refuses it"
"${OTCTL[@]}" send workorder.open --data '{"kind": "repair", "documents": [], "description": "x"}' || true
echo "-> the same invalid command forced onto the broker, and a malformed one: the service rejects both"
"${OTCTL[@]}" send workorder.open --no-validate --data '{"kind": "repair", "documents": [], "description": "x"}'
"${OTCTL[@]}" send workorder.open --raw --data '{"specversion": "1.0", "oops'
wait "$TAIL" || true

say "dead letters of commercial (reason in headers)"
"${OTCTL[@]}" dead list commercial --limit 5 || true

say "the platform is up"
for s in "${SERVICES[@]}"; do echo "  $s  http://127.0.0.1:${PORTS[$s]}/metrics   log: $STATE/logs/$s.log"; done
cat <<TXT
  RabbitMQ management: http://127.0.0.1:15672 (ot-admin / ot-admin-local)
  Try:  $BIN/otctl tail                      # watch every event
        $BIN/otctl send workorder.open --file my-command.json
  Stop: bash deploy/local/down.sh            # services (add --servers to stop RabbitMQ and PostgreSQL too)
TXT
