# shellcheck shell=bash
# RabbitMQ vhost, users and permissions of the OT Platform — the ONE list.
#
# Sourced (not executed) by:
#   deploy/local/servers.sh        (local machine, rabbitmqctl against the local node)
#   docker-compose.yml broker-init (rabbitmqctl against rabbit@rabbitmq with the shared cookie)
#
# Before calling ot_rmq_apply_users the caller may define a function `rmqctl` that runs
# rabbitmqctl with the right node/cookie options; the default below runs plain `rabbitmqctl`.
#
# Environment (documented local defaults; set real secrets outside git):
#   OT_AMQP_VHOST                  vhost                              (default: ot)
#   OT_AMQP_ADMIN_USER             administrator user                 (default: ot-admin)
#   OT_AMQP_ADMIN_PASSWORD         its password                       (default: ot-admin-local)
#   OT_AMQP_PASSWORD_<NAME>        password of user <name>            (default: <name>-local)
#                                  e.g. OT_AMQP_PASSWORD_COMMERCIAL, OT_AMQP_PASSWORD_OTCTL

# The users and their permissions: deploy/rabbitmq/permissions.tsv, generated from the code
# (`otctl permissions`): one broker user per service, per external sender (crm, cashier,
# operations) and for the operator tool (otctl), each with least-privilege resource permissions
# and topic permissions (which event types it may publish, which command types it may send).
OT_RMQ_PERMISSIONS_FILE="${OT_RMQ_PERMISSIONS_FILE:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/permissions.tsv}"
OT_RMQ_VHOST="${OT_AMQP_VHOST:-ot}"
OT_RMQ_ADMIN_USER="${OT_AMQP_ADMIN_USER:-ot-admin}"
OT_RMQ_ADMIN_PASSWORD="${OT_AMQP_ADMIN_PASSWORD:-ot-admin-local}"

if ! declare -F rmqctl >/dev/null; then
  rmqctl() { rabbitmqctl "$@"; }
fi
if ! declare -F ot_log >/dev/null; then
  ot_log() { printf '[rabbitmq] %s\n' "$*"; }
fi

# Every platform user named in the permissions file.
ot_rmq_users() { awk -F'\t' '$1 == "permission" {print $2}' "$OT_RMQ_PERMISSIONS_FILE"; }

# Password of a user: $OT_AMQP_PASSWORD_<UPPERCASE NAME, '-' -> '_'> or "<name>-local".
ot_rmq_password() {
  local name="$1" var
  var="OT_AMQP_PASSWORD_$(printf '%s' "$name" | tr '[:lower:]-' '[:upper:]_')"
  printf '%s' "${!var:-${name}-local}"
}

# Cached state. _OT_RMQ_USERS: "user<TAB>tags" lines; _OT_RMQ_PERMS: "vhost<TAB>user<TAB>conf<TAB>write<TAB>read"
# lines; _OT_RMQ_VHOSTS: names; _OT_RMQ_PW_OK: users whose stored hash matches the wanted password.
_OT_RMQ_USERS=""
_OT_RMQ_PERMS=""
_OT_RMQ_VHOSTS=""
_OT_RMQ_PW_OK=""
_OT_RMQ_TOPICS=""

# Wanted "user<TAB>password" lines (admin, services, tools).
_ot_rmq_wanted() {
  local u
  printf '%s\t%s\n' "$OT_RMQ_ADMIN_USER" "$OT_RMQ_ADMIN_PASSWORD"
  for u in $(ot_rmq_users); do printf '%s\t%s\n' "$u" "$(ot_rmq_password "$u")"; done
}

# One `export_definitions` call (~0.3 s) reads users, tags, hashes, vhosts and permissions; python3
# checks the password hashes locally so unchanged passwords cost nothing. Without python3: listings,
# and every password is (re)set.
_OT_RMQ_SNAPSHOT_PY='
import base64, hashlib, json, sys
d = json.load(sys.stdin)
want = dict(l.rstrip("\n").split("\t", 1) for l in open(3) if "\t" in l)
algos = {"rabbit_password_hashing_sha256": hashlib.sha256, "rabbit_password_hashing_sha512": hashlib.sha512,
         "rabbit_password_hashing_md5": hashlib.md5}
for u in d.get("users", []):
    tags = u.get("tags", [])
    tags = tags.split(",") if isinstance(tags, str) else tags
    ok = 0
    pw, h = want.get(u["name"]), u.get("password_hash", "")
    algo = algos.get(u.get("hashing_algorithm", "rabbit_password_hashing_sha256"))
    if pw is not None and h and algo:
        raw = base64.b64decode(h)
        ok = int(raw[4:] == algo(raw[:4] + pw.encode()).digest())
    print("U\t%s\t%s\t%d" % (u["name"], " ".join(t for t in tags if t), ok))
for v in d.get("vhosts", []):
    print("V\t%s" % v["name"])
for p in d.get("permissions", []):
    print("P\t%s\t%s\t%s\t%s\t%s" % (p["vhost"], p["user"], p["configure"], p["write"], p["read"]))
for p in d.get("topic_permissions", []):
    print("T\t%s\t%s\t%s\t%s\t%s" % (p["vhost"], p["user"], p["exchange"], p["write"], p["read"]))
'

_ot_rmq_snapshot() {
  local snap vh out
  if command -v python3 >/dev/null 2>&1 &&
     snap="$(rmqctl -q export_definitions - --format json 2>/dev/null |
             python3 -c "$_OT_RMQ_SNAPSHOT_PY" 3< <(_ot_rmq_wanted))"; then
    _OT_RMQ_USERS="$(printf '%s\n' "$snap" | awk -F'\t' '$1=="U" {print $2 "\t" $3}')"
    _OT_RMQ_PW_OK="$(printf '%s\n' "$snap" | awk -F'\t' '$1=="U" && $4==1 {print $2}')"
    _OT_RMQ_VHOSTS="$(printf '%s\n' "$snap" | awk -F'\t' '$1=="V" {print $2}')"
    _OT_RMQ_PERMS="$(printf '%s\n' "$snap" | awk -F'\t' -v OFS='\t' '$1=="P" {print $2, $3, $4, $5, $6}')"
    _OT_RMQ_TOPICS="$(printf '%s\n' "$snap" | awk -F'\t' -v OFS='\t' '$1=="T" {print $2, $3, $4, $5, $6}')"
    return 0
  fi
  _OT_RMQ_PW_OK=""
  _OT_RMQ_USERS="$(rmqctl -q list_users --no-table-headers 2>/dev/null || true)"
  _OT_RMQ_VHOSTS="$(rmqctl -q list_vhosts --no-table-headers 2>/dev/null || true)"
  _OT_RMQ_PERMS=""
  for vh in "$OT_RMQ_VHOST" /; do
    out="$(rmqctl -q list_permissions -p "$vh" --no-table-headers 2>/dev/null)" || out=""
    [ -n "$out" ] && _OT_RMQ_PERMS+="$(printf '%s\n' "$out" | sed "s|^|${vh}\t|")"$'\n'
  done
  return 0
}

# ensure_user NAME PASSWORD TAGS   (TAGS: "" or "administrator" …)
ot_rmq_ensure_user() {
  local name="$1" pw="$2" tags="${3:-}" cur_tags
  if ! printf '%s\n' "$_OT_RMQ_USERS" | cut -f1 | grep -qxF -- "$name"; then
    # add_user exits 70 when the user exists (race with another run): fall back to change_password.
    if rmqctl -q add_user "$name" "$pw" >/dev/null 2>&1; then
      ot_log "user $name: created"
    else
      rmqctl -q change_password "$name" "$pw" >/dev/null
      ot_log "user $name: existed, password set"
    fi
  elif printf '%s\n' "$_OT_RMQ_PW_OK" | grep -qxF -- "$name"; then
    ot_log "user $name: ok"
  else
    rmqctl -q change_password "$name" "$pw" >/dev/null
    ot_log "user $name: password updated"
  fi
  cur_tags="$(printf '%s\n' "$_OT_RMQ_USERS" | awk -F'\t' -v u="$name" '$1==u {print $2}' | tr -d '[]' | tr ',' ' ' | xargs)"
  if [ "$cur_tags" != "$tags" ]; then
    # shellcheck disable=SC2086
    rmqctl -q set_user_tags "$name" $tags >/dev/null
    ot_log "user $name: tags set to '${tags}'"
  fi
}

# ensure_perms VHOST USER CONF WRITE READ
ot_rmq_ensure_perms() {
  local vh="$1" user="$2" conf="$3" write="$4" read="$5"
  if printf '%s' "$_OT_RMQ_PERMS" | grep -qxF -- "$(printf '%s\t%s\t%s\t%s\t%s' "$vh" "$user" "$conf" "$write" "$read")"; then
    return 0
  fi
  rmqctl -q set_permissions -p "$vh" "$user" "$conf" "$write" "$read" >/dev/null
  ot_log "permissions $user@$vh: set (conf '$conf' write '$write' read '$read')"
}

# ensure_topic_perms VHOST USER EXCHANGE WRITE READ
ot_rmq_ensure_topic_perms() {
  local vh="$1" user="$2" exchange="$3" write="$4" read="$5"
  if printf '%s' "$_OT_RMQ_TOPICS" | grep -qxF -- "$(printf '%s\t%s\t%s\t%s\t%s' "$vh" "$user" "$exchange" "$write" "$read")"; then
    return 0
  fi
  rmqctl -q set_topic_permissions -p "$vh" "$user" "$exchange" "$write" "$read" >/dev/null
  ot_log "topic permissions $user@$vh $exchange: set (write '$write' read '$read')"
}

# Creates the vhost, the admin and every platform user; grants least-privilege permissions.
ot_rmq_apply_users() {
  local vh="$OT_RMQ_VHOST"
  _ot_rmq_snapshot
  if printf '%s\n' "$_OT_RMQ_VHOSTS" | grep -qxF -- "$vh"; then
    ot_log "vhost $vh: ok"
  else
    rmqctl -q add_vhost "$vh" >/dev/null
    ot_log "vhost $vh: created"
  fi

  ot_rmq_ensure_user "$OT_RMQ_ADMIN_USER" "$OT_RMQ_ADMIN_PASSWORD" administrator
  ot_rmq_ensure_perms "$vh" "$OT_RMQ_ADMIN_USER" '.*' '.*' '.*'
  ot_rmq_ensure_perms /     "$OT_RMQ_ADMIN_USER" '.*' '.*' '.*'

  # guest stays (the broker keeps it loopback-only by default); tests use it on 127.0.0.1.
  if printf '%s\n' "$_OT_RMQ_USERS" | cut -f1 | grep -qxF guest; then
    ot_rmq_ensure_perms "$vh" guest '.*' '.*' '.*'
  fi

  local kind user a b c
  # (fd 9: rabbitmqctl reads standard input and would swallow the rest of the file)
  while IFS=$'\t' read -r -u 9 kind user a b c; do
    case "$kind" in
      permission)
        ot_rmq_ensure_user "$user" "$(ot_rmq_password "$user")" ""
        ot_rmq_ensure_perms "$vh" "$user" "$a" "$b" "$c" ;;
      topic)
        ot_rmq_ensure_topic_perms "$vh" "$user" "$a" "$b" "$c" ;;
    esac
  done 9< "$OT_RMQ_PERMISSIONS_FILE"
  ot_log "users and permissions: done"
}
