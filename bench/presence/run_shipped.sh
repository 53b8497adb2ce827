#!/usr/bin/env bash
# BLF on dialtoned as shipped beside Kamailio's presence + pua_dialoginfo
# (bench/presence/kamailio_presence.cfg), both started by this run and
# measured in turn with the same load:
#
#   1. blf_probe.py registers the <monitored> phones (u200.., extensions
#      2200..) and opens <subs> dialog subscriptions on them from watcher
#      lines (100 each): memory per subscription = the server's growth
#      (dialtoned: RSS; Kamailio: the sum of its processes' PSS) / <subs>,
#      CPU per subscription = the server's CPU meanwhile / <subs>;
#   2. state changes alone: SIPp calls the monitored extensions at <rate>/s
#      for <seconds> (each rings <ring> ms, then 486): CPU per NOTIFY = the
#      server's CPU (all threads / processes) / NOTIFYs the watchers got,
#      the calls' own cost included; latency of each change to its watchers;
#   3. the same with <load> calls/s of ordinary calls beside (run_calls.sh:
#      200 callees answering, 1 s hold): the latency under call load.
#
# Usage: bench/presence/run_shipped.sh <build dir> [subs] [monitored] [load] [rate] [seconds]
#   BLF_SERVERS: which to measure, in order (default "dialtone kamailio").
# Needs: sipp, kamailio + kamailio-presence-modules, python3.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$1 subs=${2:-10000} monitored=${3:-1000} load=${4:-500} rate=${5:-20} secs=${6:-60}
per=100 first=200
watchers=$(((subs + per - 1) / per))
wfirst=$((first + monitored + 100))
users=$((wfirst + watchers))
dport=${DIALTONE_PORT:-5272} kport=5080
tmp=$(mktemp -d /tmp/blf-bench-XXXXXX)
bgpids=()  # Kamailio, the probe and the call load of the step running
server=""  # dialtoned_server.sh, which runs until its standard input closes
cleanup() {
  local p
  for p in "${bgpids[@]}"; do kill -TERM -- "$p" 2>/dev/null || true; done
  # Closing the server's stdin ends it: it stops dialtoned and removes its
  # work folder (a TERM would wait for its `cat` forever).
  exec 7>&- 2>/dev/null || true
  for p in "${bgpids[@]}" $server; do
    for _ in $(seq 300); do kill -0 -- "$p" 2>/dev/null || break; sleep 0.1; done
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' INT TERM
# A trace of the steps for a run that stalls: BLF_TRACE=file.
if [ -n "${BLF_TRACE:-}" ]; then exec 9>"$BLF_TRACE"; BASH_XTRACEFD=9; set -x; fi
{ echo SEQUENTIAL; for i in $(seq "$first" $((first + monitored - 1))); do echo $((2000 + i)); done; } >"$tmp/monitored.csv"

ticks() {  # CPU ticks (1/CLK_TCK s) of the processes in $1 (comma list)
  local t=0 p
  for p in ${1//,/ }; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t"
}
kb() {  # memory in kB: dialtoned's RSS, or the sum of Kamailio's PSS
  local t=0 p
  if [ "$2" = dialtone ]; then awk '/^VmRSS/ {print $2}' "/proc/$1/status"; return; fi
  for p in ${1//,/ }; do t=$((t + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup"))); done
  echo "$t"
}
wait_line() {  # wait_line <file> <pattern>: until the file holds it (10 min at most)
  for _ in $(seq 6000); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1" >&2; cat "$1" >&2; exit 1
}

# dialtoned as shipped (bench/sip/dialtoned_server.sh), 100 keys per line
# allowed; its stdin is a FIFO this script holds open on fd 7 until cleanup.
mkfifo "$tmp/server.stdin"
SIP_CONF_EXTRA=$'[subscribe]\nmax_per_line = 100' \
  "$here/bench/sip/dialtoned_server.sh" "$build" $dport $users <"$tmp/server.stdin" >"$tmp/dialtoned.out" 2>&1 &
server=$!
exec 7>"$tmp/server.stdin"
wait_line "$tmp/dialtoned.out" "^ready pid="
dpid=$(sed -n 's/^ready pid=\([0-9]*\).*/\1/p' "$tmp/dialtoned.out")
rm -rf /tmp/kamailio-blf-db && cp -r /usr/share/kamailio/dbtext/kamailio /tmp/kamailio-blf-db
kamailio -f "$here/bench/presence/kamailio_presence.cfg" -DD -E -m 1024 -M 16 >"$tmp/kamailio.log" 2>&1 &
kmain=$!
bgpids+=($kmain)
sleep 3
kpids=$( (echo "$kmain"; pgrep -P "$kmain") | paste -sd,)

measure() {  # measure <label> <port> <pids> <kind>
  local label=$1 port=$2 pids=$3 kind=$4 out="$tmp/probe-$1.out"
  python3 "$here/bench/presence/blf_probe.py" --server "127.0.0.1:$port" --subs "$subs" \
    --monitored "$monitored" --first "$first" --watchers-first "$wfirst" --per-watcher "$per" \
    --ring-ms "${RING_MS:-300}" >"$out" 2>"$tmp/probe-$label.err" &
  local probe=$!
  bgpids+=("$probe")
  wait_line "$out" '"registered"'
  local m0 m1 s0 s1
  m0=$(kb "$pids" "$kind")
  s0=$(ticks "$pids")
  wait_line "$out" '"ready"'
  s1=$(ticks "$pids")
  sleep 5
  m1=$(kb "$pids" "$kind")
  echo "$label: $(grep '"ready"' "$out") memory ${m0} -> ${m1} kB: $(((m1 - m0) * 1024 / subs)) bytes per subscription"
  echo "$label: CPU $(((s1 - s0) * 10)) ms for $subs SUBSCRIBEs (each challenged, then accepted, and its first" \
    "NOTIFY): $(python3 -c "print(round(($s1 - $s0) * 10000 / $subs, 1))") us per subscription"
  # State changes alone.
  local c0 c1
  c0=$(ticks "$pids")
  sipp "127.0.0.1:$port" -sf "$here/bench/presence/uac_busy.xml" -inf "$tmp/monitored.csv" -au u999 -ap pw999 \
    -key user u999 -r "$rate" -m $((rate * secs)) -i 127.0.0.1 -p 5097 -nostdin -timeout $((secs + 60))s \
    -max_socket 60000 2>&1 | grep -E "Successful call|Failed call" | tail -2 | sed "s/^/$label changes alone: /" || true
  sleep 2
  c1=$(ticks "$pids")
  kill -USR1 "$probe"
  sleep 1
  local figures notifies
  figures=$(tail -1 "$out")
  notifies=$(echo "$figures" | python3 -c 'import json,sys; print(json.load(sys.stdin)["notifies"])')
  echo "$label changes alone: $figures"
  echo "$label changes alone: CPU $(((c1 - c0) * 10)) ms for $notifies NOTIFYs:" \
    "$(python3 -c "print(round(($c1 - $c0) * 10000 / max(1, $notifies), 1))") us per NOTIFY (calls included)"
  # The same beside <load> calls/s.
  # In its own process group, so that a cleanup ends its SIPps too.
  UAS_PORT=5093 REG_PORT=5094 UAC_PORT=5095 setsid "$here/bench/sip/run_calls.sh" "$port" "$load" \
    $((load * (secs + 20))) 1000 >"$tmp/load-$label.out" 2>&1 &
  local loader=$!
  bgpids+=("-$loader")
  # The 200 callees register one SIPp at a time; then its caller starts.
  for _ in $(seq 3000); do pgrep -P "$loader" -f uac_call.xml >/dev/null && break; sleep 0.1; done
  sleep 5  # the ramp
  c0=$(ticks "$pids")
  sipp "127.0.0.1:$port" -sf "$here/bench/presence/uac_busy.xml" -inf "$tmp/monitored.csv" -au u999 -ap pw999 \
    -key user u999 -r "$rate" -m $((rate * secs)) -i 127.0.0.1 -p 5097 -nostdin -timeout $((secs + 60))s \
    -max_socket 60000 2>&1 | grep -E "Successful call|Failed call" | tail -2 | sed "s/^/$label with load: /" || true
  c1=$(ticks "$pids")
  kill -USR1 "$probe"
  sleep 1
  echo "$label with $load calls/s: $(tail -1 "$out")"
  echo "$label with $load calls/s: CPU $(python3 -c "print(round(($c1 - $c0) / 100 / $secs * 100, 1))") % of a core"
  wait "$loader" || true
  sed "s/^/$label load: /" "$tmp/load-$label.out"
  kill -TERM "$probe"
  wait "$probe" || true
}

echo "# $(date -u +%FT%TZ) load average $(cut -d' ' -f1-3 /proc/loadavg); subs=$subs monitored=$monitored" \
  "load=$load/s changes=$rate calls/s for ${secs}s"
for server in ${BLF_SERVERS:-dialtone kamailio}; do
  case $server in
    dialtone) measure dialtone "$dport" "$dpid" dialtone ;;
    kamailio) measure kamailio "$kport" "$kpids" kamailio ;;
  esac
done
