# shellcheck shell=bash
# Helpers shared by deploy/local/*.sh (sourced).
OT_T0="${OT_T0:-$SECONDS}"
OT_WAIT="${OT_WAIT_SECONDS:-60}"
OT_LOG_PREFIX="${OT_LOG_PREFIX:-$(basename "$0" .sh)}"

log() { printf '[%s %3ds] %s\n' "$OT_LOG_PREFIX" "$((SECONDS - OT_T0))" "$*"; }
die() { printf '[%s] ERROR: %s\n' "$OT_LOG_PREFIX" "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
as_root() { "${SUDO[@]}" "$@"; }
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else (cd / && sudo -u postgres "$@"); fi
}
# rabbitmqctl must run as root or rabbitmq (it reads the node's Erlang cookie).
rmqctl() { as_root rabbitmqctl "$@"; }

# wait_for SECONDS DESCRIPTION CMD...  — polls CMD every 0.5 s, dies after SECONDS.
wait_for() {
  local limit="$1" what="$2"; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "$what: not ready after ${limit}s"
    sleep 0.5
  done
}

# Milliseconds since the epoch (timings).
now_ms() { date +%s%3N; }

# PostgreSQL: version of the 'main' cluster (highest installed), its port, readiness.
pg_version() {
  if [ -n "${OT_PG_VERSION:-}" ]; then echo "$OT_PG_VERSION"; return; fi
  pg_lsclusters -h 2>/dev/null | awk '$2=="main" {print $1}' | sort -V | tail -n1
}
pg_port()  { pg_conftool -s "$1" main show port 2>/dev/null || echo 5432; }
pg_ready() { pg_isready -q -h 127.0.0.1 -p "$(pg_port "$1")"; }

rmq_ping() { as_root rabbitmq-diagnostics -q ping; }
# The broker accepts work: app running, every vhost up, AMQP listener reachable.
rmq_ready() {
  as_root rabbitmq-diagnostics -q check_running >/dev/null 2>&1 &&
  as_root rabbitmq-diagnostics -q check_virtual_hosts >/dev/null 2>&1 &&
  as_root rabbitmq-diagnostics -q check_port_connectivity >/dev/null 2>&1
}

# swift_build LOG ARGS... — `swift build ARGS...` with its full output in LOG and a progress line
# on screen every 10 % of the steps (and at least every 20 s), plus every error and every warning
# in the project's own code. Returns swift build's exit status.
# (SwiftPM builds only the last of several --product flags: build everything, or one product per call.)
swift_build() {
  local log="$1"; shift
  mkdir -p "$(dirname "$log")"
  local last_pct=-10 last_t=$SECONDS line n total pct
  log "swift build $* (full log: $log)"
  set -o pipefail
  swift build "$@" 2>&1 | tee "$log" | while IFS= read -r line; do
    if [[ "$line" =~ ^\[([0-9]+)/([0-9]+)\]\ (.*)$ ]]; then
      n=${BASH_REMATCH[1]}; total=${BASH_REMATCH[2]}
      pct=$((n * 100 / total))
      if [ "$pct" -ge $((last_pct + 10)) ] || [ $((SECONDS - last_t)) -ge 20 ]; then
        printf '  [build %3ds] %5d/%-5d %3d%%  %s\n' "$((SECONDS - OT_T0))" "$n" "$total" "$pct" "${BASH_REMATCH[3]:0:70}"
        last_pct=$pct; last_t=$SECONDS
      fi
    elif [[ "$line" == *"error:"* ]] || [[ "$line" =~ (Shared|Services|Tests)/.*warning: ]] || [[ "$line" == "Build complete"* ]]; then
      printf '  %s\n' "$line"
    fi
  done
}

# The services deploy/local/up.sh runs, and the port of each one's health and metrics endpoint.
OT_SERVICES=(commercial approval dispatch billing postsale priority records console)
declare -A OT_PORTS=([commercial]=8081 [approval]=8082 [dispatch]=8083 [billing]=8084 [postsale]=8085 [priority]=8086 [records]=8087 [console]=8089)
# The console's web UI and API (its health endpoint is OT_PORTS[console]).
OT_CONSOLE_PORT=${CONSOLE_HTTP_PORT:-8090}

# console_logins FILE BIN: the console's local sign-ins, made once (random passwords and tokens,
# kept in FILE under .build/, never in git): admin, operator and viewer users, an operator API
# token, and the session secret. Sourcing FILE sets CONSOLE_USERS, CONSOLE_TOKENS and
# CONSOLE_SESSION_SECRET for the console, and the clear passwords and token for the person.
console_logins() {
  local file=$1 bin=$2
  [ -s "$file" ] && return 0
  local users="" role pw token
  {
    for role in admin operator viewer; do
      pw=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 16)
      printf 'CONSOLE_PASSWORD_%s=%q\n' "${role^^}" "$pw"
      users+="${users:+;}$role:$role:$(printf '%s\n' "$pw" | "$bin/console" hash-password)"
    done
    printf 'CONSOLE_USERS=%q\n' "$users"
    read -r token hash < <("$bin/console" make-token)
    printf 'CONSOLE_TOKEN_OPERATOR=%q\n' "$token"
    read -r token2 hash2 < <("$bin/console" make-token)
    printf 'CONSOLE_TOKEN_VIEWER=%q\n' "$token2"
    read -r token3 hash3 < <("$bin/console" make-token)
    printf 'CONSOLE_TOKEN_ADMIN=%q\n' "$token3"
    printf 'CONSOLE_TOKENS=%q\n' "api-operator:operator:$hash;api-viewer:viewer:$hash2;api-admin:admin:$hash3"
    printf 'CONSOLE_SESSION_SECRET=%q\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  } >"$file.tmp"
  chmod 600 "$file.tmp"
  mv "$file.tmp" "$file"
}

# without_fds CMD...: runs CMD with no file descriptor above 2 open, so that a daemon it starts
# (PostgreSQL, RabbitMQ) does not inherit the caller's files — e.g. a test runner's lock.
without_fds() {
  /usr/bin/python3 -c 'import os, sys; os.closerange(3, 65536); os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}
