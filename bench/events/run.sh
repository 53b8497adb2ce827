#!/usr/bin/env bash
# Calls through dialtoned as shipped (backend.sip, the Lua dialplan, api.confd,
# events.websocketd; records.cel and records.call_logs with RECORDS=1) while
# CLIENTS WebSocket clients follow every call event (docs/performance.md,
# "Event stream"). Prints SIPp's result, the clients' latency and what
# dialtoned's process spent (user + system CPU) per call and per event
# delivered to a client, and what its PostgreSQL cluster spent per call.
# With RECORDS=1 and QUERY_ROWS=N, then fills call_log up to N rows (one
# INSERT ... generate_series, 10,000 users over 12 months) and times one
# user's month through GET /1.1/users/{uuid}/call_logs on confd, 20 times,
# with dialtoned's CPU per request and the plans (EXPLAIN ANALYZE).
# The clients are bench/events/ws_fanout.cc (build target ws_fanout): one
# process, epoll; PROBES of them time the events (PROBES=CLIENTS: every
# delivery). The script also prints the clients' own CPU per event.
# Usage: bench/events/run.sh [build-dir]
#   RATE (100) CALLS (3000) HOLD ms (500) CLIENTS (1000) PROBES (20) RECORDS (0) QUERY_ROWS (0)
#   THREADS, BATCH_DELAY (unset: the shipped websocketd.threads, websocketd.batch_delay);
#   PROCS (1): client processes, each in a session of its own
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$here/build}
RATE=${RATE:-100} CALLS=${CALLS:-3000} HOLD=${HOLD:-500} CLIENTS=${CLIENTS:-1000} PROBES=${PROBES:-20}
RECORDS=${RECORDS:-0} QUERY_ROWS=${QUERY_ROWS:-0}
. "$here/bench/support/dialtoned.sh"
bench_work dt-bench-events
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sip=$(free_port) ws=$(free_port)
bench_kernel_conf <<CONF
[lua]
script = $here/lua-dialplan/extensions.lua
$(http_listeners confd auth)
CONF
cat > "$work/conf.d/40-sip.conf" <<CONF
[plugin]
name = backend.sip
[sip]
listen = 127.0.0.1:$sip
transports = udp
[qualify]
interval = 0s
[auth]
ban_failures = 0
CONF
printf '[plugin]\nname = api.confd\n' > "$work/conf.d/50-confd.conf"
printf '[plugin]\nname = events.websocketd\n[websocketd]\nlisten = 127.0.0.1:%s\nmax_clients = %s\n' \
  "$ws" "$((CLIENTS + 10))" > "$work/conf.d/80-events.conf"
[ -n "${THREADS:-}" ] && printf 'threads = %s\n' "$THREADS" >> "$work/conf.d/80-events.conf"
[ -n "${BATCH_DELAY:-}" ] && printf 'batch_delay = %s\n' "$BATCH_DELAY" >> "$work/conf.d/80-events.conf"
if [ "$RECORDS" = 1 ]; then
  printf '[plugin]\nname = records.cel\n' > "$work/conf.d/70-records-cel.conf"
  printf '[plugin]\nname = records.call_logs\n' > "$work/conf.d/71-records-call-logs.conf"
fi
# Its own session: the 1,000 clients and SIPp stand for other machines.
BENCH_OWN_SESSION=1 bench_dialtoned "$build/bin/dialtoned" "$build/plugins"
# The users bench/sip/run_calls.sh calls: u0..u199 at 2000..2199, u999 calls.
bench_context 2000 2999
{ echo "firstname,lastname,exten,context,line_protocol,sip_username,sip_secret"
  for i in $(seq 0 199) 999; do echo "User$i,Bench,$((2000 + i)),default,sip,u$i,pw$i"; done; } > "$work/users.csv"
bench_import_users "$work/users.csv"

fpid=
if [ "$CLIENTS" -gt 0 ]; then
mkfifo "$work/fanout.in"
"$build/bin/ws_fanout" "ws://127.0.0.1:$ws/" "$token" "$CLIENTS" "$PROBES" \
  < "$work/fanout.in" > "$work/fanout.out" 2>&1 &
fpid=$!
pids+=("$fpid")
exec 3> "$work/fanout.in"
for _ in $(seq 1200); do grep -q "^ready" "$work/fanout.out" && break; sleep 0.1; done
grep -q "^ready" "$work/fanout.out" || { cat "$work/fanout.out"; exit 1; }
fi
say "$CLIENTS WebSocket clients subscribed to calls.#, records $RECORDS; load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# dialtoned's private PostgreSQL cluster: the postmaster and its processes.
pgdir=$(dirname "$(find "$work/data" -name dialtone.conf | head -1)")
pg="host=$pgdir dbname=dialtone user=postgres"
pg_ticks() {
  local pm p t=0
  pm=$(head -1 "$pgdir/postmaster.pid")
  for p in "$pm" $(pgrep -P "$pm"); do t=$((t + $(ticks "$p"))); done
  echo "$t"
}
# Where the events wait, sampled each second during the calls: bytes in the
# clients' sockets that they have not read yet, and bytes in dialtoned's that
# the clients' windows did not take yet (the server's own queues are beyond).
spid=
if [ "$CLIENTS" -gt 0 ]; then
  while :; do
    ss -Htn state established "( dport = :$ws )" | awk '{ q += $1 } END { printf "%d ", q }'
    ss -Htn state established "( sport = :$ws )" | awk '{ q += $2 } END { printf "%d\n", q }'
    sleep 1
  done > "$work/backlog" 2>/dev/null &
  spid=$!
  pids+=("$spid")
fi
# The clients' CPU (their process and any it forked).
tree_ticks() {
  local p t=0
  [ -n "$1" ] || { echo 0; return; }
  for p in "$1" $(pgrep -P "$1"); do t=$((t + $(ticks "$p"))); done
  echo "$t"
}
# dialtoned's CPU by thread name (its threads are named: sip, lua*, ws-fanout,
# cel-writer, and each bus subscriber after its subscription).
thread_ticks() {
  local t
  for t in /proc/"$dpid"/task/*; do
    printf '%s\t%s\n' "$(cat "$t/comm" 2>/dev/null)" "$(awk '{print $14 + $15}' "$t/stat" 2>/dev/null || echo 0)"
  done
}
thread_ticks > "$work/threads0"
t0=$(ticks "$dpid") p0=$(pg_ticks) c0=$(tree_ticks "$fpid")
UAS_PORT=$(free_port) REG_PORT=$(free_port) UAC_PORT=$(free_port) \
  "$here/bench/sip/run_calls.sh" "$sip" "$RATE" "$CALLS" "$HOLD"
per_client=
if [ -n "$fpid" ]; then
  kill "$spid" 2>/dev/null || true
  c1=$(tree_ticks "$fpid")
  awk '{ if ($1 > c) c = $1; if ($2 > s) s = $2 } END {
    printf "most bytes waiting (sampled each second): %.1f MB unread in the clients'"'"' sockets, %.1f MB unsent in dialtoned'"'"'s\n", c / 1e6, s / 1e6 }' "$work/backlog"
  exec 3>&-
  wait "$fpid" || true
  grep -v '^ready' "$work/fanout.out"
  per_client=$(sed -n 's/.*events each min [0-9]* max \([0-9]*\).*/\1/p' "$work/fanout.out")
  awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v e="${per_client:-0}" -v c="$CLIENTS" 'BEGIN {
    printf "the clients'"'"' CPU during the calls %.2f s: %.2f us per event received\n", t / hz, (e > 0 ? 1e6 * t / hz / (e * c) : 0) }'
elif [ "$RECORDS" = 1 ]; then
  # Until every call has its call log (CEL is written and call logs built
  # off the call path, behind the calls at high rates), or none came for 15 s.
  s0=$(date +%s.%N) last=-1 still=0
  while :; do
    n=$(psql "$pg" -Atc "SELECT count(*) FROM call_log" 2>/dev/null || echo 0)
    [ "$n" -ge "$CALLS" ] && break
    if [ "$n" = "$last" ]; then still=$((still + 1)); [ "$still" -ge 15 ] && break; else still=0; fi
    last=$n
    sleep 1
  done
  say "call logs: $n of $CALLS, $(awk -v a="$s0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after the last call"
else
  sleep 3
fi
t1=$(ticks "$dpid") p1=$(pg_ticks)
awk -v t=$((t1 - t0)) -v p=$((p1 - p0)) -v hz="$(getconf CLK_TCK)" -v n="$CALLS" -v e="${per_client:-0}" \
  -v c="$CLIENTS" 'BEGIN {
  printf "dialtoned CPU %.2f s: %.3f ms per call, %.2f us per event delivered (%d events x %d clients)\n",
    t / hz, 1000 * t / hz / n, (e > 0 ? 1e6 * t / hz / (e * c) : 0), e, c
  printf "its PostgreSQL cluster CPU %.2f s: %.3f ms per call\n", p / hz, 1000 * p / hz / n }'
thread_ticks > "$work/threads1"
awk -F'\t' -v hz="$(getconf CLK_TCK)" -v n="$CALLS" '
  NR == FNR { a[$1] += $2; next } { b[$1] += $2 }
  END { for (k in b) if (b[k] - a[k] > 0) printf "  %-16s %.3f ms per call\n", k, 1000 * (b[k] - a[k]) / hz / n }' \
  "$work/threads0" "$work/threads1" | sort -k2 -rn | { echo "dialtoned's CPU by thread:"; cat; } >&2
say "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
grep -ih "websocketd\|records" "$work/stdout.log" "$work/stderr.log" | grep -iv "listening" | tail -3 || true
if [ "$RECORDS" = 1 ]; then
  psql "$pg" -Atc "SELECT 'cel rows ' || (SELECT count(*) FROM cel) || ', call logs ' || (SELECT count(*) FROM call_log)" || true
  if [ "$QUERY_ROWS" -gt 0 ]; then
    confd=$(listen_port confd)
    s0=$(date +%s)
    # Caller and callee drawn from 10,000 users (uuids made from the user number), dates over a year.
    psql "$pg" -qAt -v ON_ERROR_STOP=1 -c "INSERT INTO call_log (date, date_end, source_exten, destination_exten,
      answered, duration, direction, source_user_uuid, destination_user_uuid, status, linkedid)
      SELECT now() - make_interval(secs => ((g * 15773) % 31536000)::int), now(), (1000 + g % 10000)::text,
      (1000 + (g * 7) % 10000)::text, g % 3 <> 0, make_interval(secs => g % 300), 'internal',
      md5('u' || (g % 10000))::uuid, md5('u' || ((g * 7) % 10000))::uuid,
      CASE WHEN g % 3 <> 0 THEN 'answered' ELSE 'noanswer' END, 'bench-' || g
      FROM generate_series(1, $QUERY_ROWS::bigint) g" -c "ANALYZE call_log"
    say "call_log filled to $(psql "$pg" -Atc 'SELECT count(*) FROM call_log') rows in $(( $(date +%s) - s0 )) s"
    user=$(psql "$pg" -Atc "SELECT md5('u42')::uuid")
    from=$(date -u -d '45 days ago' +%F) to=$(date -u -d '15 days ago' +%F)
    url="http://127.0.0.1:$confd/1.1/users/$user/call_logs?start_date=$from&end_date=$to"
    curl -s -H "$H" -H 'Accept: application/json' "$url" > "$work/month.json"
    say "one user's month ($from to $to): $(sed 's/.*"total":\([0-9]*\).*/\1/' "$work/month.json") rows, $(wc -c < "$work/month.json") bytes of JSON"
    q0=$(ticks "$dpid")
    for _ in $(seq 20); do
      curl -s -o /dev/null -w '%{time_total}\n' -H "$H" -H 'Accept: application/json' "$url"
    done | sort -n | awk '{ t[NR] = $1 * 1000 } END {
      printf "GET one user'"'"'s month, 20 requests: min %.1f ms, median %.1f ms, max %.1f ms\n", t[1], t[int(NR / 2) + 1], t[NR] }'
    q1=$(ticks "$dpid")
    awk -v t=$((q1 - q0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "dialtoned CPU per request %.2f ms\n", 1000 * t / hz / 20 }'
    where="WHERE date >= '$from+00' AND date < '$to+00' AND (source_user_uuid = '$user' OR destination_user_uuid = '$user')"
    psql "$pg" -c "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM call_log $where ORDER BY date, id" \
      -c "EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM call_log $where"
  fi
fi
