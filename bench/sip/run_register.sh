#!/usr/bin/env bash
# Authenticated REGISTER load against a running server (dialtoned,
# sip_bench_server or Kamailio): SIPp refreshes AOR u0 with a new Call-ID per
# registration. Prints SIPp's totals and, for local server pids (comma-
# separated: Kamailio's processes), the CPU their busiest thread (Dialtone's
# SIP thread) and all of them used per registration, and their memory (PSS,
# sampled every 0.5 s) before, at the peak and at the end.
# Usage: run_register.sh <port> <rate> <registrations> [server pid[,pid...]] [sipp port]
#   SETTLE=<seconds>: the memory once more that long after the run
#   RSS=1: resident set size instead of PSS (counts Kamailio's shared memory
#   once per process)
set -euo pipefail
port=$1 rate=$2 count=$3 pid=${4:-} sport=${5:-5094}
here=$(cd "$(dirname "$0")/../.." && pwd)
pids=${pid//,/ }
ticks() {  # "<busiest thread ticks> <ticks of every process>"
  local best=0 all=0 t v p
  for p in $pids; do
    for t in /proc/$p/task/*; do
      v=$(awk '{print $14 + $15}' "$t/stat" 2>/dev/null || echo 0)
      all=$((all + v)); ((v > best)) && best=$v
    done
  done
  echo "$best $all"
}
mem() {  # proportional set size of the processes, kB (RSS=1: their resident set)
  local p s=0 field=Pss
  [ "${RSS:-0}" = 1 ] && field=Rss
  for p in $pids; do s=$((s + $(awk -v f="$field:" '$1 == f {print $2}' /proc/$p/smaps_rollup 2>/dev/null || echo 0))); done
  echo "$s"
}
kind=PSS
[ "${RSS:-0}" = 1 ] && kind=RSS
load=$(cut -d' ' -f1-3 /proc/loadavg)
sampler=
if [ -n "$pid" ]; then
  read -r t0 p0 < <(ticks)
  rss0=$(mem)
  peak_file=$(mktemp)
  (peak=0; while :; do m=$(mem); ((m > peak)) && peak=$m && echo "$peak" > "$peak_file"; sleep 0.5; done) &
  sampler=$!
fi
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
  kill "$sampler" 2>/dev/null || true
  hz=$(getconf CLK_TCK)
  rss1=$(mem) peak=$(cat "$peak_file")
  awk -v t=$((t1 - t0)) -v p=$((p1 - p0)) -v hz="$hz" -v n="$ok" -v r0="$rss0" -v r1="$rss1" -v pk="$peak" -v kind="$kind" 'BEGIN {
    printf "server CPU per registration: busiest thread %.1f us, all processes %.1f us; memory (%s) %d MB before, %d MB peak, %d MB at the end\n",
      t / hz * 1e6 / n, p / hz * 1e6 / n, kind, r0 / 1024, pk / 1024, r1 / 1024 }'
  rm -f "$peak_file"
  # SETTLE=<s>: the memory again once the transactions have ended (timer J: 32 s).
  if [ "${SETTLE:-0}" -gt 0 ]; then
    sleep "$SETTLE"
    echo "memory ($kind) ${SETTLE} s after the run: $(($(mem) / 1024)) MB"
  fi
fi
rm -f "$out"
