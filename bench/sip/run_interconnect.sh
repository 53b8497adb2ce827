#!/usr/bin/env bash
# Interconnection benchmarks on dialtoned as shipped (backend.sip, api.confd,
# the shipped lua-dialplan), configured through confd's REST API only
# (docs/performance.md, "Interconnections"). Everything on 127.0.0.1.
#
#   run_interconnect.sh <build> trunks <rate> <calls>
#     One caller line dials 0123456789 at <rate>/s, <calls> calls (no hold),
#     through the route's trunk, in turn: a provider that answers at once
#     (trunk by IP), one that challenges every INVITE with 407 (trunk by IP,
#     with a secret), and the first again by host name (a dnsmasq started
#     here, TTL 5 s). Per run: SIPp's totals, and the CPU dialtoned used per
#     call, whole process and its "sip" thread. RUNS="challenging" runs only those.
#   run_interconnect.sh <build> nat <phones> <seconds>
#     <phones> lines imported over REST register from their own UDP ports
#     with private Contacts (bench/sip/nat_phones.py), then qualify OPTIONS
#     every 25 s (sip keep-alive) and the phones' CRLF keep-alives every 25 s
#     run for <seconds>: packets per second, and dialtoned's CPU.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd) mode=$2
S=$here/tests/plugins/backend/sip/scenarios
. "$here/bench/support/dialtoned.sh"
bench_work dt-bench-interco
# "<sip thread ticks> <process ticks>" of dialtoned
ticks() {
  local sip=0 all=0 t v
  for t in /proc/$dpid/task/*; do
    v=$(awk '{print $14 + $15}' "$t/stat")
    all=$((all + v))
    [ "$(cat "$t/comm")" = sip ] && sip=$v
  done
  echo "$sip $all"
}
cpu_line() { # label t0 p0 t1 p1 n
  awk -v t=$(($4 - $2)) -v p=$(($5 - $3)) -v hz="$(getconf CLK_TCK)" -v n="$6" -v l="$1" 'BEGIN {
    printf "%s: dialtoned CPU %.2f s = %.0f us per %s (sip thread %.0f us)\n", l, p / hz, p / hz * 1e6 / n,
      (l ~ /phone/ ? "phone" : "call"), t / hz * 1e6 / n }'
}

sip_port=$(free_port)
qualify=0s
[ "$mode" = nat ] && qualify=25s
dns_port=$(free_port)
printf 'nameserver 127.0.0.1\nport %s\n' "$dns_port" > "$work/resolv.conf"
bench_shipped_kernel
cat > "$work/conf.d/40-sip.conf" <<CONF
[plugin]
name = backend.sip
[sip]
listen = 127.0.0.1:$sip_port
transports = udp
resolv_conf = $work/resolv.conf
max_pending = 5000
[auth]
ban_failures = 0
[qualify]
interval = $qualify
CONF
bench_dialtoned "$build/bin/dialtoned" "$build/plugins"
say "dialtoned $dpid, SIP on 127.0.0.1:$sip_port; load average $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$mode" = trunks ]; then
  rate=$3 calls=$4
  /usr/sbin/dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces \
    --listen-address=127.0.0.1 --port="$dns_port" --host-record=prov.bench.test,127.0.0.1 --local-ttl=5 \
    --user=root --pid-file= &
  pids+=($!)
  api POST /contexts '{"name":"default","type":"internal","user_ranges":[{"start":"1000","end":"1999"}]}' >/dev/null
  outctx=$(api POST /contexts '{"name":"to-extern","type":"outcall"}' | id_of)
  api PUT /contexts/1/contexts "{\"contexts\":[{\"id\":$outctx}]}" >/dev/null
  bench_user_line 1000 caller callerpw
  declare -A trunk port
  for spec in plain:127.0.0.1:: challenging:127.0.0.1:s3cret named:prov.bench.test:; do
    name=${spec%%:*} rest=${spec#*:}; host=${rest%%:*} secret=${rest#*:}
    port[$name]=$(free_port)
    t=$(api POST /trunks '{"context":"to-extern"}' | id_of)
    # Without a secret confd draws one; those providers never challenge.
    e=$(api POST /endpoints/sip "{\"username\":\"$name\",${secret:+\"secret\":\"$secret\",}\"type\":\"peer\",\"host\":\"$host:${port[$name]}\"}" | id_of)
    api PUT "/trunks/$t/endpoints/sip/$e" >/dev/null
    trunk[$name]=$t
  done
  route=$(api POST /outcalls '{"name":"national","patterns":[{"pattern":"0XXXXXXXXX"}]}' | id_of)
  api PUT "/outcalls/$route/contexts" "{\"contexts\":[{\"id\":$outctx}]}" >/dev/null
  printf 'SEQUENTIAL\n0123456789\n' > "$work/number.csv"
  for name in ${RUNS:-plain challenging named plain}; do
    api PUT "/outcalls/$route/trunks" "{\"trunks\":[{\"id\":${trunk[$name]}}]}" >/dev/null
    scenario=$S/uas_answer.xml
    [ "$name" = challenging ] && scenario=$here/bench/sip/provider_challenge.xml
    sipp -sf "$scenario" -i 127.0.0.1 -p "${port[$name]}" -m "$calls" -nostdin -timeout 600s \
      -max_socket 60000 > "$work/uas-$name.log" 2>&1 &
    uas=$!
    sleep 1
    read -r t0 p0 < <(ticks)
    w0=$(date +%s.%N)
    out=$(sipp 127.0.0.1:"$sip_port" -sf "$here/bench/sip/uac_call.xml" -inf "$work/number.csv" \
      -au caller -ap callerpw -key user caller -r "$rate" -m "$calls" -d 0 -i 127.0.0.1 -p "$(free_port)" \
      -nostdin -timeout $((calls / rate + 60))s -max_socket 60000 2>&1 || true)
    read -r t1 p1 < <(ticks)
    w1=$(date +%s.%N)
    ok=$(awk -F'|' '/Successful call/{gsub(/ /,"",$3); print $3}' <<<"$out")
    failed=$(awk -F'|' '/Failed call/{gsub(/ /,"",$3); print $3}' <<<"$out")
    secs=$(awk -v a="$w0" -v b="$w1" 'BEGIN{printf "%.1f", b - a}')
    printf '%-12s offered %s/s x %s: ok %s failed %s in %s s = %s calls/s\n' "$name" "$rate" "$calls" "$ok" "$failed" \
      "$secs" "$(awk -v o="$ok" -v s="$secs" 'BEGIN{printf "%.0f", o / s}')"
    cpu_line "$name" "$t0" "$p0" "$t1" "$p1" "${ok:-1}"
    [ "${failed:-0}" = 0 ] || { say "$name: caller's view:"; tail -30 <<<"$out" >&2; say "provider's:"; tail -30 "$work/uas-$name.log" >&2; }
    wait "$uas" 2>/dev/null || true
    sleep 35  # finished transactions (timer J/H) gone before the next run
  done
  say "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

if [ "$mode" = nat ]; then
  phones=$3 seconds=$4
  bench_context 100000 199999
  awk -v n="$phones" 'BEGIN { print "firstname,lastname,exten,context,line_protocol,sip_username,sip_secret"
    for (i = 0; i < n; i++) printf "Nat%d,Phone,%d,default,sip,b%d,secret%d\n", i, 100000 + i, i, i }' > "$work/users.csv"
  bench_import_users "$work/users.csv"
  python3 "$here/bench/sip/nat_phones.py" "$sip_port" 0 "$phones" $((seconds + 30)) 25 > "$work/phones.log" 2>&1 &
  nat=$!
  pids+=("$nat")
  for _ in $(seq 3000); do grep -q "^registered" "$work/phones.log" && break; sleep 0.1; done
  cat "$work/phones.log"
  sleep 30  # the first qualify round (25 s after each registration) under way
  read -r t0 p0 < <(ticks)
  sleep "$seconds"
  read -r t1 p1 < <(ticks)
  cpu_line "$phones phones, $seconds s" "$t0" "$p0" "$t1" "$p1" "$phones"
  awk -v t=$((t1 - t0)) -v p=$((p1 - p0)) -v hz="$(getconf CLK_TCK)" -v s="$seconds" 'BEGIN {
    printf "dialtoned CPU %.1f %% of one core (sip thread %.1f %%)\n", 100 * p / hz / s, 100 * t / hz / s }'
  wait "$nat" || true
  tail -1 "$work/phones.log"
  grep -c "unreachable" "$work/stdout.log" "$work/stderr.log" || true
  say "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
fi
