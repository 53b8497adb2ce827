# Sourced by the benchmarks that run dialtoned as an admin runs it:
#   . "$here/bench/support/dialtoned.sh"
#   bench_work dt-bench-events         # $work (removed at exit), $pids (TERMed at exit)
#   bench_kernel_conf <<CONF           # 00-kernel.conf: data_dir, log level warn, + these lines
#   $(http_listeners confd auth)
#   CONF
#   printf '[plugin]\nname = api.confd\n' > "$work/conf.d/50-confd.conf"
#   bench_dialtoned "$build/bin/dialtoned" "$build/plugins"
#   confd=$(listen_port confd)          # then curl -H "$H" ... (an admin token)
# bench_dialtoned returns once dialtoned printed its admin password; it sets
# $dpid, puts it first in $pids, and sets $token and $H from POST /0.1/token.

say() { printf '%s\n' "$*" >&2; }

bench_cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
  rm -rf "$work"
}

# bench_work <prefix>: a private work folder with conf.d/ and data/.
bench_work() {
  work=$(mktemp -d "/tmp/$1-XXXXXX")
  chmod 755 "$work"
  mkdir -p "$work/conf.d" "$work/data"
  pids=()
  trap bench_cleanup EXIT
}

# bench_kernel_conf: 00-kernel.conf, its own sections followed by stdin.
bench_kernel_conf() {
  {
    printf '[plugin]\nname = kernel\n[kernel]\ndata_dir = %s\n[log]\nlevel = warn\n' "$work/data"
    cat
  } > "$work/conf.d/00-kernel.conf"
}

# http_listeners <listener>...: an [http.<listener>] section listening on a
# free port for each, for a kernel conf (listen_port tells the port).
http_listeners() {
  local l
  for l in "$@"; do printf '[http.%s]\nlisten = 127.0.0.1:0\n' "$l"; done
}

# listen_port <listener>: the port dialtoned said it listens on for it.
listen_port() { sed -n "s|^listening: $1 http://127.0.0.1:\([0-9]*\)|\1|p" "$work/stdout.log"; }

# bench_dialtoned <binary> <plugin-dir>
# A free UDP port on 127.0.0.1 (a SIP listener for the bench).
free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# api <method> <path under /1.1> [json]: confd's answer body; the bench stops
# with the status and body when it is >= 300.
api() {
  local code
  code=$(curl -s -o "$work/api.out" -w '%{http_code}' -X "$1" -H "$H" -H 'Content-Type: application/json' \
    ${3:+-d "$3"} "http://127.0.0.1:$(listen_port confd)/1.1$2")
  [ "$code" -lt 300 ] || { say "$1 $2: $code $(cat "$work/api.out")"; exit 1; }
  cat "$work/api.out"
}
# The "id" of the JSON object on stdin.
id_of() { python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'; }

bench_dialtoned() {
  # BENCH_OWN_SESSION=1: dialtoned in a session of its own, as a daemon runs
  # (the kernel's autogroups share the CPU between sessions: in the bench's,
  # dialtoned would share one share with its load generators).
  ${BENCH_OWN_SESSION:+setsid} "$1" --config-dir "$work/conf.d" --plugin-dir "$2" --data-dir "$work/data" \
    > "$work/stdout.log" 2> "$work/stderr.log" &
  dpid=$!
  pids=("$dpid" "${pids[@]}")
  for _ in $(seq 600); do grep -q "admin password in" "$work/stdout.log" && break; sleep 0.1; done
  grep -q "admin password in" "$work/stdout.log" || { cat "$work/stdout.log" "$work/stderr.log"; exit 1; }
  local auth pw
  auth=$(listen_port auth)
  pw=$(cat "$work/data/admin-password")
  token=$(curl -s -u "admin:$pw" -X POST -H 'Content-Type: application/json' -d '{"expiration":36000}' \
    "http://127.0.0.1:$auth/0.1/token" | sed 's/.*"token":"\([^"]*\)".*/\1/')
  H="X-Auth-Token: $token"
}

# bench_context <first-extension> <last-extension>: the internal context
# "default" with that user range.
bench_context() {
  curl -s -o /dev/null -H "$H" -H 'Content-Type: application/json' -X POST \
    "http://127.0.0.1:$(listen_port confd)/1.1/contexts" \
    -d "{\"name\":\"default\",\"type\":\"internal\",\"user_ranges\":[{\"start\":\"$1\",\"end\":\"$2\"}]}"
}

# bench_import_users <users.csv>: POST /1.1/users/import; exits unless it
# answers 201.
bench_import_users() {
  local code
  code=$(curl -s -o "$work/import.json" -w '%{http_code}' -H "$H" -H 'Content-Type: text/csv; charset=utf-8' \
    --data-binary @"$1" -X POST "http://127.0.0.1:$(listen_port confd)/1.1/users/import")
  [ "$code" = 201 ] || { say "import failed: $code $(head -c 500 "$work/import.json")"; exit 1; }
}

# bench_sip_conf <port>: 40-sip.conf, backend.sip on UDP 127.0.0.1:<port>
# with room for bench loads (5,000 pending requests, no ban, no qualify).
bench_sip_conf() {
  cat > "$work/conf.d/40-sip.conf" <<CONF
[plugin]
name = backend.sip
[sip]
listen = 127.0.0.1:$1
transports = udp
max_pending = 5000
[auth]
ban_failures = 0
[qualify]
interval = 0s
CONF
}

# bench_user_line <exten> <username> <secret>: a user "Bench Caller" with a
# SIP line and extension <exten> in context default, over confd's REST API.
bench_user_line() {
  local user line sip ext
  user=$(api POST /users '{"firstname":"Bench","lastname":"Caller"}' | id_of)
  line=$(api POST /lines '{"context":"default"}' | id_of)
  sip=$(api POST /endpoints/sip "{\"username\":\"$2\",\"secret\":\"$3\"}" | id_of)
  ext=$(api POST /extensions "{\"exten\":\"$1\",\"context\":\"default\"}" | id_of)
  api PUT "/users/$user/lines/$line" >/dev/null
  api PUT "/lines/$line/endpoints/sip/$sip" >/dev/null
  api PUT "/lines/$line/extensions/$ext" >/dev/null
}

# bench_shipped_kernel: 00-kernel.conf running the shipped lua-dialplan with
# every HTTP listener on a free port, and api.confd (50-confd.conf).
bench_shipped_kernel() {
  bench_kernel_conf <<CONF
[lua]
script = $here/lua-dialplan/extensions.lua
$(http_listeners confd auth dird phoned provd provd_phones calld)
CONF
  printf '[plugin]\nname = api.confd\n' > "$work/conf.d/50-confd.conf"
}
