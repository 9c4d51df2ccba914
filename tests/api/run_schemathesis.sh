#!/usr/bin/env bash
# Fuzzes the console's HTTP API against its own OpenAPI document with Schemathesis, and checks its
# access rules with curl. Needs a running console (bash deploy/local/up.sh, or deploy/local/test.sh
# which starts one for this).
#
#   bash tests/api/run_schemathesis.sh
#
# 1. Access rules (curl): no credentials or an unknown token → 401 with WWW-Authenticate on every
#    API operation; a viewer token may read but POSTing a command → 403; a signed-in browser
#    session writing without X-CSRF-Token → 403; the wrong media type → 415; an invalid command
#    → 400 with the command.rejected shape.
# 2. Schemathesis (`schemathesis run` on GET /api/v1/openapi.json, with the operator's bearer
#    token): no 5xx (not_a_server_error), answers documented (status_code_conformance), bodies
#    that match their schema (response_schema_conformance), declared media types and headers,
#    and auth enforced (ignored_auth). Bounded: ST_MAX_EXAMPLES test cases per operation and
#    phase (default 25), a fixed seed (ST_SEED, default 1; ST_SEED= for a random one), a
#    hard limit of ST_TIME_LIMIT seconds (default 150). Valid commands it generates are really
#    published on ot.commands (the services refuse most of them): run it against a local system.
#
# Schemathesis comes from PyPI into a virtualenv, .build/schemathesis-venv, made with Debian's
# /usr/bin/python3 -m venv: on a fresh Debian machine that needs the package python3-venv, which
# this script installs with apt-get when missing (the venv then carries its own pip). Set
# ST_PYTHON to build the venv with another interpreter instead.
#
# Environment: CONSOLE_URL (default http://127.0.0.1:$CONSOLE_HTTP_PORT, port 8090),
# CONSOLE_TOKEN_OPERATOR, CONSOLE_TOKEN_VIEWER, CONSOLE_PASSWORD_OPERATOR (default: from
# CONSOLE_ENV_FILE, itself by default .build/local-run/console.env, written by up.sh).
# Logs and a JUnit report: .build/test-logs/schemathesis/. Ends with a PASS or FAIL line.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
T0=$SECONDS
log() { printf '[api-test %3ds] %s\n' "$((SECONDS - T0))" "$*"; }
fail() { printf 'FAIL api_test: %s (%ds)\n' "$*" "$((SECONDS - T0))"; exit 1; }

# --- settings: the environment first, then the console's local logins file ---------------------
ENV_FILE=${CONSOLE_ENV_FILE:-$ROOT/.build/local-run/console.env}
from_file() { # NAME: the value of NAME in ENV_FILE (bash printf %q lines), or nothing
  [ -r "$ENV_FILE" ] || return 0
  (set +u; unset "$1"; . "$ENV_FILE" >/dev/null 2>&1; printf '%s' "${!1:-}")
}
for v in CONSOLE_TOKEN_OPERATOR CONSOLE_TOKEN_VIEWER CONSOLE_PASSWORD_OPERATOR; do
  [ -n "${!v:-}" ] || printf -v "$v" '%s' "$(from_file "$v")"
done
URL=${CONSOLE_URL:-http://127.0.0.1:${CONSOLE_HTTP_PORT:-8090}}
URL=${URL%/}
[ -n "$CONSOLE_TOKEN_OPERATOR" ] || fail "CONSOLE_TOKEN_OPERATOR is not set and not in $ENV_FILE"
[ -n "$CONSOLE_TOKEN_VIEWER" ] || fail "CONSOLE_TOKEN_VIEWER is not set and not in $ENV_FILE"
OUT=$ROOT/.build/test-logs/schemathesis
mkdir -p "$OUT"
curl -sf -o /dev/null --max-time 10 "$URL/health" || fail "the console does not answer at $URL/health (start it: bash deploy/local/up.sh)"

# --- Schemathesis in a virtualenv ----------------------------------------------------------------
VENV=$ROOT/.build/schemathesis-venv
ST_SPEC=${ST_SPEC:-schemathesis>=4.32,<5}   # the CLI flags below are those of 4.x
PY=${ST_PYTHON:-/usr/bin/python3}
if ! "$VENV/bin/python" -c 'import schemathesis' >/dev/null 2>&1 || [ "$(cat "$VENV/.spec" 2>/dev/null)" != "$ST_SPEC" ]; then
  if [ "$PY" = /usr/bin/python3 ] && ! /usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    log "installing python3-venv with apt-get"
    if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
  log "installing $ST_SPEC from PyPI into $VENV"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$ST_SPEC" >"$OUT/pip.log" 2>&1 ||
    { tail -20 "$OUT/pip.log"; fail "pip could not install $ST_SPEC (log: $OUT/pip.log)"; }
  printf '%s' "$ST_SPEC" >"$VENV/.spec"
fi
log "$("$VENV/bin/schemathesis" --version)"

# --- access rules, with curl ----------------------------------------------------------------------
failures=0
# expect WHAT STATUS CURL-ARGS...: the answer's status must be STATUS.
expect() {
  local what=$1 want=$2; shift 2
  local got
  got=$(curl -s -o "$OUT/last-body" -D "$OUT/last-headers" -w '%{http_code}' --max-time 20 "$@") || got="no answer"
  if [ "$got" = "$want" ]; then
    printf '  ok    %-64s %s\n' "$what" "$got"
  else
    printf '  FAIL  %-64s expected %s, got %s: %s\n' "$what" "$want" "$got" "$(head -c 300 "$OUT/last-body")"
    failures=$((failures + 1))
  fi
}
# has_header NAME-REGEX: the last answer carried such a header line.
has_header() {
  if ! grep -qiE "$1" "$OUT/last-headers"; then
    printf '  FAIL  the answer lacks a header matching %s\n' "$1"
    failures=$((failures + 1))
  fi
}
now() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
uuid() { cat /proc/sys/kernel/random/uuid; }
# A valid command: who may send it is checked before anything else, so nothing is published
# by the requests that must be refused.
command_json() {
  local s; s=$(uuid | cut -c1-8)
  printf '{"specversion":"1.0","id":"%s","source":"/ot/tests/api","type":"workorder.open","time":"%s","datacontenttype":"application/json","data":{"workOrderId":"WO-api-%s","kind":"repair","customer":{"id":"C-api-%s","name":"Cliente API %s","taxId":"123","sector":"private","segment":"residential","country":"BO"},"documents":[],"description":"api access test"}}' \
    "$(uuid)" "$(now)" "$s" "$s" "$s"
}
CE=(-H 'Content-Type: application/cloudevents+json')
log "access rules (curl)"
expect "GET /api/v1/openapi.json, public" 200 "$URL/api/v1/openapi.json"
for op in "GET /api/v1/workorders" "GET /api/v1/workorders/WO-none" "GET /api/v1/kpis"; do
  expect "$op, no credentials" 401 "$URL${op#GET }"
  has_header '^www-authenticate: *bearer'
  expect "$op, unknown bearer token" 401 -H "Authorization: Bearer not-a-token" "$URL${op#GET }"
done
expect "POST /api/v1/commands, no credentials" 401 -X POST "${CE[@]}" --data "$(command_json)" "$URL/api/v1/commands"
has_header '^www-authenticate: *bearer'
expect "POST /api/v1/commands, unknown bearer token" 401 -X POST "${CE[@]}" -H "Authorization: Bearer not-a-token" \
  --data "$(command_json)" "$URL/api/v1/commands"
expect "POST /api/v1/commands, session cookie forged" 401 -X POST "${CE[@]}" -H "Cookie: ot_session=forged" \
  --data "$(command_json)" "$URL/api/v1/commands"
VIEWER=(-H "Authorization: Bearer $CONSOLE_TOKEN_VIEWER")
OPERATOR=(-H "Authorization: Bearer $CONSOLE_TOKEN_OPERATOR")
expect "GET /api/v1/workorders, viewer token" 200 "${VIEWER[@]}" "$URL/api/v1/workorders?limit=1"
expect "POST /api/v1/commands, viewer token (may not send commands)" 403 -X POST "${CE[@]}" "${VIEWER[@]}" \
  --data "$(command_json)" "$URL/api/v1/commands"
expect "POST /api/v1/commands, operator, text/plain" 415 -X POST -H 'Content-Type: text/plain' "${OPERATOR[@]}" \
  --data "$(command_json)" "$URL/api/v1/commands"
expect "POST /api/v1/commands, operator, a command without data" 400 -X POST "${CE[@]}" "${OPERATOR[@]}" \
  --data "{\"specversion\":\"1.0\",\"id\":\"$(uuid)\",\"source\":\"/ot/tests/api\",\"type\":\"workorder.open\",\"time\":\"$(now)\"}" \
  "$URL/api/v1/commands"
grep -q '"code"' "$OUT/last-body" || { echo "  FAIL  the 400 does not have the command.rejected shape: $(head -c 300 "$OUT/last-body")"; failures=$((failures + 1)); }
if [ -n "${CONSOLE_PASSWORD_OPERATOR:-}" ]; then
  # A browser session may write only with its anti-forgery token.
  jar=$(mktemp); trap 'rm -f "$jar"' EXIT
  curl -s -o /dev/null -c "$jar" --max-time 10 --data-urlencode username=operator \
    --data-urlencode "password=$CONSOLE_PASSWORD_OPERATOR" --data-urlencode next=/board "$URL/login"
  expect "GET /api/v1/workorders, operator session cookie" 200 -b "$jar" "$URL/api/v1/workorders?limit=1"
  expect "POST /api/v1/commands, operator session, no X-CSRF-Token" 403 -X POST "${CE[@]}" -b "$jar" \
    --data "$(command_json)" "$URL/api/v1/commands"
fi
[ "$failures" -eq 0 ] || fail "$failures access-rule check(s) failed"

# --- Schemathesis ---------------------------------------------------------------------------------
# One OT that exists, for GET /api/v1/workorders/{id} (tests/api/schemathesis.toml).
first_ot() { # QUERY: the first OT id of plain characters the list answers, or nothing
  curl -sf --max-time 10 "${VIEWER[@]}" "$URL/api/v1/workorders?limit=50&$1" | /usr/bin/python3 -c '
import json, re, sys
ids = [i["workOrderId"] for i in json.load(sys.stdin)["items"] if re.fullmatch(r"[A-Za-z0-9._-]{1,64}", i["workOrderId"])]
print(ids[0] if ids else "")'
}
export OT_ST_WORKORDER_ID=${OT_ST_WORKORDER_ID:-$(first_ot "")}
[ -n "$OT_ST_WORKORDER_ID" ] || OT_ST_WORKORDER_ID=$(first_ot "status=closed")
[ -n "$OT_ST_WORKORDER_ID" ] || { OT_ST_WORKORDER_ID=WO-none; log "no OT known to the console: GET /api/v1/workorders/{id} is tested on 404s only"; }
SEED_ARGS=()
[ -n "${ST_SEED-1}" ] && SEED_ARGS=(--seed "${ST_SEED-1}")
log "schemathesis run $URL/api/v1/openapi.json (≤ ${ST_MAX_EXAMPLES:-25} cases per operation and phase, ≤ ${ST_TIME_LIMIT:-150}s; log $OUT/run.log)"
# Run in $OUT: Schemathesis and Hypothesis keep their caches in the working directory.
set +e
(cd "$OUT" && timeout --kill-after=10 "${ST_TIME_LIMIT:-150}" \
  "$VENV/bin/schemathesis" --config-file "$ROOT/tests/api/schemathesis.toml" run "$URL/api/v1/openapi.json" \
    -H "Authorization: Bearer $CONSOLE_TOKEN_OPERATOR" \
    --checks not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance,response_headers_conformance,ignored_auth \
    --phases examples,coverage,fuzzing \
    --max-examples "${ST_MAX_EXAMPLES:-25}" "${SEED_ARGS[@]}" \
    --request-timeout 15 --wait-for-schema 30 \
    --generation-database "$OUT/examples.db" \
    --report junit --report-junit-path "$OUT/junit.xml" \
    --no-color) >"$OUT/run.log" 2>&1
rc=$?
set -e
sed -n '/^=* *\(FAILURES\|ERRORS\|WARNINGS\|SUMMARY\) *=*$/,$p' "$OUT/run.log" | sed 's/^/  /'
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  fail "schemathesis did not finish within ${ST_TIME_LIMIT:-150}s (log: $OUT/run.log)"
fi
[ "$rc" -eq 0 ] || fail "schemathesis found failures (exit $rc; log: $OUT/run.log, report: $OUT/junit.xml)"
echo "PASS api_test: access rules held and schemathesis found no failure ($((SECONDS - T0))s; log: $OUT/run.log)"
