#!/usr/bin/env bash
# The test command (README quick start, CI): sets up and starts RabbitMQ and PostgreSQL if needed
# (installing them with apt-get on a fresh machine), builds everything, and runs the whole test
# suite — unit tests and integration tests against the real servers.
#
# Integration tests restart the broker and the database, so tests run one at a time
# (--no-parallel). Service logs of the integration tests land in .build/test-logs/.
#
# Then the console's end-to-end tests, against the whole platform: the browser test of the live
# board (tests/browser/run.sh, headless Chromium) and the API fuzzing (tests/api/run_schemathesis.sh,
# Schemathesis). They use the platform of deploy/local/up.sh when its console answers (with the
# binaries it was started with); otherwise this script starts every service from the build just
# made, runs them, and stops exactly what it started. Their logs and screenshots land in
# .build/test-logs/. With arguments (e.g. --filter) only `swift test` runs, unless OT_CONSOLE_E2E=1;
# OT_CONSOLE_E2E=0 skips them always. OT_E2E_START=1 starts the services even when up.sh's
# platform runs, with every port shifted by OT_E2E_PORT_OFFSET (e.g. 1000): a second instance of
# each service on the same broker and database (they run as competing consumers).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

bash deploy/local/servers.sh
# shellcheck source=common.sh
OT_LOG_PREFIX=test
. deploy/local/common.sh
log "building (debug, with tests; a first build takes several minutes)"
if ! swift_build .build/test-build.log --build-tests; then
  grep -E "error" .build/test-build.log | head -50 || tail -50 .build/test-build.log
  echo "[test] build failed (full log: .build/test-build.log)"; exit 1
fi
# Our own code builds without warnings (dependencies' warnings are theirs).
if grep -E "^/.*/(Shared|Services|Tests)/.*: warning:" .build/test-build.log | grep -v "/.build/"; then
  echo "[test] the build has warnings in the project's code (treated as errors)"; exit 1
fi
echo "[test] running the test suite"
status=0
swift test --skip-build --no-parallel "$@" || status=$?
if [ "${OT_CONSOLE_E2E:-}" = 0 ] || { [ $# -gt 0 ] && [ "${OT_CONSOLE_E2E:-}" != 1 ]; }; then exit "$status"; fi

# --- console end-to-end tests --------------------------------------------------------------------
E2E_T0=$SECONDS
E2E_LOGS=.build/test-logs/console-e2e
E2E_STATE=.build/test-console
mkdir -p "$E2E_LOGS"
STARTED=()        # pids of the services this script started
STARTED_NAMES=()  # and their names
# stop_started: SIGTERM to each (they drain and exit), SIGKILL after 15 s; says which did not
# exit cleanly (a warning: the tests' verdict stands).
stop_started() {
  local i pid st
  [ "${#STARTED[@]}" -gt 0 ] || return 0
  for pid in "${STARTED[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for i in "${!STARTED[@]}"; do
    pid=${STARTED[$i]}
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null || true
    st=0; wait "$pid" 2>/dev/null || st=$?
    [ "$st" -eq 0 ] || log "console e2e: WARNING ${STARTED_NAMES[$i]} exited with status $st on SIGTERM (log: $E2E_LOGS/${STARTED_NAMES[$i]}.log)"
  done
  log "console e2e: stopped the ${#STARTED[@]} services it started"
  STARTED=(); STARTED_NAMES=()
}
trap stop_started EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
OFF=${OT_E2E_PORT_OFFSET:-0}
CONSOLE_PORT=$((OT_CONSOLE_PORT + OFF))
if [ "${OT_E2E_START:-}" != 1 ] && curl -sf -o /dev/null --max-time 5 "http://127.0.0.1:${OT_PORTS[console]}/health/ready" &&
  [ -s .build/local-run/console.env ]; then
  log "console e2e: using the running platform (deploy/local/up.sh; its binaries may predate this build)"
  export CONSOLE_ENV_FILE=$PWD/.build/local-run/console.env
  CONSOLE_PORT=$OT_CONSOLE_PORT
else
  # The integration tests restarted the servers: make sure both are up and set up.
  bash deploy/local/servers.sh >"$E2E_LOGS/servers.log" 2>&1 || { tail -20 "$E2E_LOGS/servers.log"; die "servers.sh failed"; }
  BIN="$(swift build --show-bin-path)"
  mkdir -p "$E2E_STATE"
  console_logins "$E2E_STATE/console.env" "$BIN"
  export CONSOLE_ENV_FILE=$PWD/$E2E_STATE/console.env
  log "console e2e: starting ${OT_SERVICES[*]} from $BIN (logs: $E2E_LOGS/)"
  for s in "${OT_SERVICES[@]}"; do
    # shellcheck disable=SC1090
    (. "$CONSOLE_ENV_FILE"; export CONSOLE_USERS CONSOLE_TOKENS CONSOLE_SESSION_SECRET
     exec env HTTP_PORT=$((OT_PORTS[$s] + OFF)) CONSOLE_HTTP_PORT="$CONSOLE_PORT" DOCUMENTS_HTTP_PORT=$((8088 + OFF)) \
       LOG_LEVEL="${LOG_LEVEL:-info}" DOCUMENTS_DIR="${DOCUMENTS_DIR:-$PWD/.build/local-run/documents}" "$BIN/$s") >"$E2E_LOGS/$s.log" 2>&1 </dev/null &
    STARTED+=($!); STARTED_NAMES+=("$s")
  done
  for s in "${OT_SERVICES[@]}"; do
    wait_for "$OT_WAIT" "$s (log: $E2E_LOGS/$s.log)" curl -sf --max-time 2 "http://127.0.0.1:$((OT_PORTS[$s] + OFF))/health/ready"
  done
  log "console e2e: every service ready"
fi
export CONSOLE_URL="http://127.0.0.1:$CONSOLE_PORT"
export BOARD_SCREENSHOT="${BOARD_SCREENSHOT:-$PWD/.build/test-logs/board.png}"
passed=0 failed=0
log "console e2e: browser test of the live board"
if bash tests/browser/run.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
log "console e2e: API fuzzing"
if bash tests/api/run_schemathesis.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
stop_started
log "console e2e: done in $((SECONDS - E2E_T0))s; screenshots: $BOARD_SCREENSHOT (and workorder.png, kpis.png, procedures.png beside it)"
echo "console-e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || { echo "[test] the console's end-to-end tests failed"; status=1; }
[ "$status" -eq 0 ] || echo "[test] FAILED"
exit "$status"
