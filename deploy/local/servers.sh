#!/usr/bin/env bash
# Installs (if missing), starts (if stopped) and sets up RabbitMQ and PostgreSQL on this machine,
# for development and the integration tests. Idempotent: run it as often as you like.
# Works without systemd and without Docker (Debian/Ubuntu, as root or with sudo).
#
# Environment (documented local defaults — not secrets):
#   OT_DB_PASSWORD               password of PostgreSQL role `ot`         (default: ot-local)
#   OT_AMQP_ADMIN_PASSWORD       password of RabbitMQ user `ot-admin`     (default: ot-admin-local)
#   OT_AMQP_PASSWORD_<NAME>      password of RabbitMQ user <name>         (default: <name>-local)
#                                NAME: every user of deploy/rabbitmq/permissions.tsv (services, CRM, CASHIER, OPERATIONS, OTCTL)
#   OT_PG_MAX_CONNECTIONS        minimum max_connections                  (default: 300)
#   OT_APPLY_POLICIES=1          also run ot_rmq_apply_policies (see below)
#   OT_WAIT_SECONDS              bound for each wait                      (default: 60)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DEFINITIONS="$ROOT/deploy/rabbitmq/definitions.json"
DB_PASSWORD="${OT_DB_PASSWORD:-ot-local}"
PG_MAX_CONN="${OT_PG_MAX_CONNECTIONS:-300}"
OT_LOG_PREFIX=servers
# shellcheck source=common.sh
. "$HERE/common.sh"
WAIT="$OT_WAIT"
ot_log() { log "rabbitmq: $*"; }

# ---------------------------------------------------------------------------------------------
# 1. packages
PACKAGES=(rabbitmq-server librabbitmq-dev postgresql libpq-dev pkg-config curl python3-pika)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "packages: installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
else
  log "packages: ok"
fi

# ---------------------------------------------------------------------------------------------
# 2. short hostname must resolve (Erlang distribution needs it)
short="$(hostname -s)"
if getent hosts "$short" >/dev/null 2>&1; then
  log "hostname $short: resolves"
else
  printf '127.0.0.1\t%s\n' "$short" | as_root tee -a /etc/hosts >/dev/null
  log "hostname $short: added to /etc/hosts"
fi

# ---------------------------------------------------------------------------------------------
# 3. RabbitMQ: management plugin, start, wait
enabled_plugins="${RABBITMQ_ENABLED_PLUGINS_FILE:-/etc/rabbitmq/enabled_plugins}"
if as_root grep -qs 'rabbitmq_management' "$enabled_plugins"; then
  log "rabbitmq: management plugin enabled"
else
  as_root rabbitmq-plugins enable --offline rabbitmq_management >/dev/null
  log "rabbitmq: management plugin enabled (offline)"
fi

if as_root rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
  log "rabbitmq: running"
else
  log "rabbitmq: starting"
  without_fds "${SUDO[@]}" rabbitmq-server -detached >/dev/null 2>&1 || true
  # await_startup fails at once (exit 69) before the node registers: ping first.
  wait_for "$WAIT" "rabbitmq (ping)" as_root rabbitmq-diagnostics -q ping
fi
as_root rabbitmqctl -q await_startup --timeout "$WAIT" >/dev/null || die "rabbitmq: await_startup failed"
log "rabbitmq: ready"

# ---------------------------------------------------------------------------------------------
# 4. PostgreSQL: pick the installed cluster (highest version with a 'main' cluster), start, wait
PG_VERSION="$(pg_version)"
[ -n "$PG_VERSION" ] || die "postgresql: no 'main' cluster found (pg_lsclusters)"
PG_CONF="/etc/postgresql/$PG_VERSION/main/postgresql.conf"

if pg_ready "$PG_VERSION"; then
  log "postgresql $PG_VERSION: running"
else
  log "postgresql $PG_VERSION: starting"
  without_fds "${SUDO[@]}" pg_ctlcluster "$PG_VERSION" main start || true
  wait_for "$WAIT" "postgresql $PG_VERSION" pg_ready "$PG_VERSION"
  log "postgresql $PG_VERSION: started"
fi

psql_su() { as_postgres psql -X -q -v ON_ERROR_STOP=1 "$@"; }

cur_max="$(psql_su -At -c 'SHOW max_connections')"
if [ "$cur_max" -lt "$PG_MAX_CONN" ]; then
  # postgresql.auto.conf (ALTER SYSTEM) would override postgresql.conf: clear it there too.
  psql_su -c 'ALTER SYSTEM RESET max_connections' >/dev/null
  if command -v pg_conftool >/dev/null 2>&1; then
    as_root pg_conftool "$PG_VERSION" main set max_connections "$PG_MAX_CONN"
  else
    as_root sed -i -E "s/^[#[:space:]]*max_connections[[:space:]]*=.*/max_connections = $PG_MAX_CONN/" "$PG_CONF"
  fi
  log "postgresql: max_connections $cur_max -> $PG_MAX_CONN, restarting"
  without_fds "${SUDO[@]}" pg_ctlcluster "$PG_VERSION" main restart -m fast
  wait_for "$WAIT" "postgresql $PG_VERSION (after restart)" pg_ready "$PG_VERSION"
  cur_max="$(psql_su -At -c 'SHOW max_connections')"
  [ "$cur_max" -ge "$PG_MAX_CONN" ] || die "postgresql: max_connections still $cur_max"
fi
log "postgresql: max_connections = $cur_max"

# role `ot` (LOGIN CREATEDB) — password via a psql variable, never interpolated into SQL text.
if [ "$(psql_su -At -c "SELECT 1 FROM pg_roles WHERE rolname = 'ot'")" != 1 ]; then
  psql_su -v pw="$DB_PASSWORD" <<'SQL'
CREATE ROLE ot LOGIN CREATEDB PASSWORD :'pw';
SQL
  log "postgresql: role ot created"
else
  log "postgresql: role ot exists"
fi
if [ "$(psql_su -At -c "SELECT 1 FROM pg_database WHERE datname = 'ot'")" != 1 ]; then
  psql_su -c 'CREATE DATABASE ot OWNER ot' >/dev/null
  log "postgresql: database ot created"
else
  log "postgresql: database ot exists"
fi

db_login_ok() { PGPASSWORD="$DB_PASSWORD" PGCONNECT_TIMEOUT=5 psql -X -q -h 127.0.0.1 -U ot -d ot -At -c 'select 1' 2>/dev/null | grep -qx 1; }
if ! db_login_ok; then
  # Existing role with another password (env changed) or no password: (re)set it, then re-check.
  psql_su -v pw="$DB_PASSWORD" <<'SQL'
ALTER ROLE ot WITH LOGIN CREATEDB PASSWORD :'pw';
SQL
  log "postgresql: role ot password (re)set"
  db_login_ok || die "postgresql: 'psql -h 127.0.0.1 -U ot -d ot' fails with the password: check pg_hba.conf (needs a host line with scram-sha-256 or md5 for 127.0.0.1/32)"
fi
log "postgresql: ot@127.0.0.1/ot password login ok"

# ---------------------------------------------------------------------------------------------
# 5. RabbitMQ vhost, users, permissions (the list lives in deploy/rabbitmq/users.sh)
# shellcheck source=../rabbitmq/users.sh
. "$ROOT/deploy/rabbitmq/users.sh"
ot_rmq_apply_users

# ---------------------------------------------------------------------------------------------
# 6. exchanges, queues, bindings, policies: generated definitions (written from code elsewhere)
if [ -f "$DEFINITIONS" ]; then
  # import_definitions reads the file on the CLI side: pass it on stdin so permissions never matter.
  as_root rabbitmqctl -q import_definitions < "$DEFINITIONS" >/dev/null \
    || die "rabbitmq: import_definitions $DEFINITIONS failed"
  log "rabbitmq: definitions imported from deploy/rabbitmq/definitions.json"
else
  log "rabbitmq: deploy/rabbitmq/definitions.json absent, import skipped"
fi

# Delay queues were classic `<queue>.retry.<n>` queues before they became quorum queues
# `<queue>.delay.<n>` (dead-lettering out of a classic queue is at-most-once): remove the old ones
# once they are empty (a message still waiting in one goes back to its queue at its TTL).
legacy="$(rmqctl -q list_queues -p "$OT_RMQ_VHOST" name --no-table-headers 2>/dev/null | grep -E '\.(commands|events)\.retry\.[0-9]+$' || true)"
for q in $legacy; do
  rmqctl -q delete_queue -p "$OT_RMQ_VHOST" "$q" --if-empty >/dev/null 2>&1 && log "rabbitmq: legacy delay queue $q removed" || true
done

# ---------------------------------------------------------------------------------------------
# 7. ##### POLICIES (opt-in) ##################################################################
# The generated definitions.json is expected to carry the policies. If it does not, run with
# OT_APPLY_POLICIES=1 to set these here. Keep them in sync with Shared/Runtime's retry/dead-letter
# policy; queue arguments declared by the code win over nothing, policies over arguments only
# where the broker says so (x-delivery-limit: the lower of the two).
ot_rmq_apply_policies() {
  local vh="$OT_RMQ_VHOST"
  # Quorum queues of the services: bounded redeliveries before dead-lettering (poison messages).
  rmqctl -q set_policy -p "$vh" --apply-to queues --priority 0 ot-quorum-delivery-limit \
    '^(commercial|approval|dispatch|billing|postsale|priority|records)\.(commands|events)$' \
    '{"delivery-limit": 20}' >/dev/null
  # Dead-letter queues: keep them bounded so a flood cannot fill the disk.
  rmqctl -q set_policy -p "$vh" --apply-to queues --priority 0 ot-dead-bounded \
    '^.*\.dead$' '{"max-length": 1000000, "overflow": "reject-publish"}' >/dev/null
  log "rabbitmq: policies set"
}
if [ "${OT_APPLY_POLICIES:-0}" = 1 ]; then
  ot_rmq_apply_policies
else
  log "rabbitmq: policies left to definitions.json (OT_APPLY_POLICIES=1 to set them here)"
fi

log "done in $((SECONDS - OT_T0))s — AMQP amqp://<user>:<pw>@127.0.0.1:5672/$OT_RMQ_VHOST, management http://127.0.0.1:15672, postgres://ot:***@127.0.0.1:5432/ot"
