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
# shellcheck source=common.sh
OT_LOG_PREFIX=up
. deploy/local/common.sh
SERVICES=("${OT_SERVICES[@]}")

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "servers: RabbitMQ + PostgreSQL"
bash deploy/local/servers.sh

say "building ($CONFIG): every service and otctl (a first build takes several minutes)"
# One plain `swift build` builds every product (several --product flags would build only the last).
swift_build "$STATE/build.log" -c "$CONFIG" || { echo "build failed: see $STATE/build.log"; exit 1; }
BIN="$(swift build -c "$CONFIG" --show-bin-path)"
for s in "${SERVICES[@]}" otctl; do
  [ -x "$BIN/$s" ] || { echo "build did not produce $BIN/$s (see $STATE/build.log)"; exit 1; }
done

say "starting services"
bash deploy/local/down.sh --quiet || true
mkdir -p "$STATE/logs"
# start_service NAME [VAR=VALUE…]: in the background, its pid in $STATE/NAME.pid, its log appended.
start_service() {
  local s=$1; shift
  # DOCUMENTS_DIR: where records keeps the documents' bytes (its endpoint: http://127.0.0.1:8088).
  env HTTP_PORT="${OT_PORTS[$s]}" LOG_LEVEL="${LOG_LEVEL:-info}" DOCUMENTS_DIR="${DOCUMENTS_DIR:-$STATE/documents}" "$@" \
    nohup "$BIN/$s" >>"$STATE/logs/$s.log" 2>&1 &
  echo $! >"$STATE/$s.pid"
  echo "  $s: pid $!, http://127.0.0.1:${OT_PORTS[$s]}/health/ready, log $STATE/logs/$s.log"
}
wait_ready() {
  local s=$1
  for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:${OT_PORTS[$s]}/health/ready" >/dev/null && break
    sleep 0.5
  done
  curl -sf "http://127.0.0.1:${OT_PORTS[$s]}/health/ready" >/dev/null || { echo "$s is not ready; see $STATE/logs/$s.log"; exit 1; }
  echo "  $s: ready"
}
console_logins "$STATE/console.env" "$BIN"
# shellcheck disable=SC1091
. "$STATE/console.env"
export CONSOLE_USERS CONSOLE_TOKENS CONSOLE_SESSION_SECRET
for s in "${SERVICES[@]}"; do : >"$STATE/logs/$s.log"; start_service "$s"; done
for s in "${SERVICES[@]}"; do wait_ready "$s"; done

say "console: http://127.0.0.1:$OT_CONSOLE_PORT  (sign in as admin / $CONSOLE_PASSWORD_ADMIN; every login: $STATE/console.env)"
echo "  open it now to watch the demo's OTs move on the board"

say "demo: OTs through their whole lifecycle (events printed as they flow)"
OTCTL=("$BIN/otctl")
"${OTCTL[@]}" demo

say "bad input: the contract check in otctl refuses a command without customer…"
"${OTCTL[@]}" send workorder.open --data '{"kind": "repair", "documents": [], "description": "sin cliente"}' || true
echo "…forced onto the broker anyway, and a malformed one: the service rejects both (command.rejected + dead letter)"
"${OTCTL[@]}" tail --key command.rejected --count 2 --timeout 20 &
TAIL=$!
sleep 1
"${OTCTL[@]}" send workorder.open --no-validate --data '{"kind": "repair", "documents": [], "description": "sin cliente"}' >/dev/null
"${OTCTL[@]}" send workorder.open --raw --data '{"specversion": "1.0", "oops' >/dev/null
wait "$TAIL" || true
"${OTCTL[@]}" dead list commercial --limit 2 || true

say "follow-up (OPE-SUM-GES-P08): OTs by state this month, and the monthly CxC reconciliation"
month=$(date -u +%Y-%m)
"${OTCTL[@]}" report "$month" || true
"${OTCTL[@]}" reconcile "$month" || true
"${OTCTL[@]}" kpi postsale "$month" || true
"${OTCTL[@]}" kpi damages "$month" || true
"${OTCTL[@]}" kpi records "$month" || true

say "records, two years later: a second records instance, its clock 731 days ahead, transfers the archived files to Condebamba"
"${OTCTL[@]}" tail --key records.transferred --count 3 --timeout 30 &
TAIL=$!
sleep 1
env HTTP_PORT=0 DOCUMENTS_HTTP_PORT=0 CLOCK_OFFSET_SECONDS=$((731 * 86400)) LOG_LEVEL="${LOG_LEVEL:-info}" \
  DOCUMENTS_DIR="${DOCUMENTS_DIR:-$STATE/documents}" nohup "$BIN/records" >"$STATE/logs/records-two-years-later.log" 2>&1 &
LATER=$!
wait "$TAIL" || true
kill -TERM "$LATER" 2>/dev/null || true
for _ in $(seq 1 60); do kill -0 "$LATER" 2>/dev/null || break; sleep 0.25; done

say "the platform is up"
for s in "${SERVICES[@]}"; do echo "  $s  http://127.0.0.1:${OT_PORTS[$s]}/metrics   log: $STATE/logs/$s.log"; done
cat <<TXT
  Console: http://127.0.0.1:$OT_CONSOLE_PORT  (admin / $CONSOLE_PASSWORD_ADMIN, operator / $CONSOLE_PASSWORD_OPERATOR,
           viewer / $CONSOLE_PASSWORD_VIEWER; API: curl -H "Authorization: Bearer \$CONSOLE_TOKEN_VIEWER" …; all in $STATE/console.env)
  RabbitMQ management: http://127.0.0.1:15672 (ot-admin / ot-admin-local)
  Try:  $BIN/otctl tail                      # watch every event
        $BIN/otctl send workorder.open --file my-command.json
        $BIN/otctl demo                      # run the lifecycle demo again
  Stop: bash deploy/local/down.sh            # services (add --servers to stop RabbitMQ and PostgreSQL too)
TXT
