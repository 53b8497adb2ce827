#!/usr/bin/env bash
# Authenticated REGISTER load against a running sip_bench_server (or
# Kamailio): SIPp refreshes AOR u0 with a new Call-ID per registration.
# Prints SIPp's totals and, for a local server pid, the CPU its busiest
# thread (the SIP thread) and the whole process used, and its RSS.
# Usage: run_register.sh <port> <rate> <registrations> [server pid] [sipp port]
set -euo pipefail
port=$1 rate=$2 count=$3 pid=${4:-} sport=${5:-5094}
here=$(cd "$(dirname "$0")/../.." && pwd)
ticks() {  # "<busiest thread ticks> <process ticks>"
  local best=0 all=0 t v
  for t in /proc/$pid/task/*; do
    v=$(awk '{print $14 + $15}' "$t/stat")
    all=$((all + v)); ((v > best)) && best=$v
  done
  echo "$best $all"
}
load=$(cut -d' ' -f1-3 /proc/loadavg)
[ -n "$pid" ] && read -r t0 p0 < <(ticks) && rss0=$(awk '/VmRSS/{print $2}' /proc/$pid/status)
out=$(mktemp)
sipp 127.0.0.1:"$port" -sf "$here/tests/plugins/backend/sip/scenarios/register.xml" \
  -au u0 -ap pw0 -key user u0 -key contact_port 5093 -key expires 3600 \
  -r "$rate" -rp 1000 -m "$count" -l 5000 -i 127.0.0.1 -p "$sport" -nostdin -timeout 60s \
  >"$out" 2>&1 || true
secs=$(awk '/\(UDP\)/{print $4; exit}' "$out")
ok=$(awk -F'|' '/Successful call/{gsub(/ /,"",$3); print $3}' "$out")
failed=$(awk -F'|' '/Failed call/{gsub(/ /,"",$3); print $3}' "$out")
retrans=$(awk '/REGISTER ---/{s += $4} END {print s}' "$out")
echo "offered ${rate}/s x $count: ok $ok failed $failed in ${secs}s = $(awk "BEGIN{printf \"%d\", $ok/$secs}")/s; REGISTER retransmissions $retrans; load before: $load"
if [ -n "$pid" ]; then
  read -r t1 p1 < <(ticks)
  hz=$(getconf CLK_TCK)
  rss1=$(awk '/VmRSS/{print $2}' /proc/$pid/status)
  awk -v t=$((t1 - t0)) -v p=$((p1 - p0)) -v hz="$hz" -v n="$ok" -v r0="$rss0" -v r1="$rss1" 'BEGIN {
    printf "server CPU per registration: SIP thread %.1f us, whole process %.1f us; RSS %d -> %d MB\n",
      t / hz * 1e6 / n, p / hz * 1e6 / n, r0 / 1024, r1 / 1024 }'
fi
rm -f "$out"
