# Sourced by the benchmark scripts that run dialtoned and configure it
# through its REST API:
#   . "$here/bench/support/dialtoned.sh"
#   start_dialtoned <dialtoned> <plugin dir> <work dir>   # conf in <work>/conf.d
#   # sets dpid, confd, auth (ports), token and H (the X-Auth-Token header)
#   import_users <work dir> <csv rows file>               # POST /1.1/users/import
# <work>/conf.d must give listen = 127.0.0.1:0 (or a port) to http.confd and
# http.auth; dialtoned's output goes to <work>/stdout.log and stderr.log and
# its state to <work>/data.

# start_dialtoned <dialtoned> <plugin dir> <work dir>: returns once the admin
# password is written and a token taken with it.
start_dialtoned() {
  local bin=$1 plugins=$2 work=$3 pw
  mkdir -p "$work/data"
  "$bin" --config-dir "$work/conf.d" --plugin-dir "$plugins" --data-dir "$work/data" \
    > "$work/stdout.log" 2> "$work/stderr.log" &
  dpid=$!
  for _ in $(seq 900); do grep -q "admin password in" "$work/stdout.log" && break; sleep 0.1; done
  grep -q "admin password in" "$work/stdout.log" || { cat "$work/stdout.log" "$work/stderr.log" >&2; return 1; }
  confd=$(dialtoned_port "$work" confd) auth=$(dialtoned_port "$work" auth)
  pw=$(cat "$work/data/admin-password")
  token=$(curl -s -u "admin:$pw" -X POST -H 'Content-Type: application/json' -d '{"expiration":360000}' \
    "http://127.0.0.1:$auth/0.1/token" | sed 's/.*"token":"\([^"]*\)".*/\1/')
  H="X-Auth-Token: $token"
}

# dialtoned_port <work dir> <listener>: the port an HTTP listener took.
dialtoned_port() {
  sed -n "s|^listening: $2 http://127.0.0.1:\([0-9]*\)|\1|p" "$1/stdout.log"
}

# import_users <work dir> <csv file>: the users (firstname, lastname, exten,
# context, line_protocol, sip_username, sip_secret) in one request.
import_users() {
  local code
  code=$(curl -s -o "$1/import.json" -w '%{http_code}' -H "$H" -H 'Content-Type: text/csv; charset=utf-8' \
    --data-binary @"$2" -X POST "http://127.0.0.1:$confd/1.1/users/import")
  [ "$code" = 201 ] || { echo "import failed: $code $(head -c 500 "$1/import.json")" >&2; return 1; }
}

# dialtoned_dsn <work dir>: the connection string of its private cluster.
dialtoned_dsn() {
  echo "host=$(dirname "$(find "$1/data" -name dialtone.conf | head -1)") dbname=dialtone user=postgres"
}
