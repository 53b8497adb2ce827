#!/bin/bash
# Overload (not a test): offered load at twice a server's capacity for 30 s,
# then half of it for 30 s, through SIPp as run_calls.sh sets it up (callee
# UAS on 5093, users u0..u199 registered, caller u999 on 5095 then 5096;
# UAS_PORT, REG_PORT, UAC_PORT move them, the second caller on UAC_PORT+1).
# The half-rate caller starts 30 s after the overload began, whatever the
# overloaded caller is still finishing. Prints the successful calls of each
# second (goodput) from SIPp's periodic statistics, the totals, and:
#  - overload: the lowest and the mean goodput of its seconds 3-30, as a
#    share of the capacity (target: at least 90 %);
#  - recovery: the first second from which the half-rate caller's goodput
#    stays at 90 % of its offered rate (target: within 5 s);
#  - with server pids (comma-separated, e.g. Kamailio's processes), the CPU
#    they used per successful call over the whole run.
# Dialtone should refuse the surplus at once (503 with Retry-After past
# sip.max_queue_delay or sip.max_pending) so that calls already admitted
# complete.
# Usage: run_overload.sh <port> <capacity calls/s> [hold ms] [server pids]
# Run the server with qualify off (see README.md); Kamailio on its port.

here=$(cd "$(dirname "$0")" && pwd)
S=$here/../../tests/plugins/backend/sip/scenarios
port=$1 capacity=$2 hold=${3:-1000} pids=${4:-}
[ -n "$capacity" ] || { echo "usage: $0 <port> <capacity calls/s> [hold ms] [server pids]"; exit 2; }
work=$(mktemp -d)
ticks() {
  local all=0 p t
  for p in ${pids//,/ }; do
    for t in /proc/$p/task/*; do all=$((all + $(awk '{print $14 + $15}' "$t/stat" 2>/dev/null || echo 0))); done
  done
  echo "$all"
}
uas_port=${UAS_PORT:-5093} reg_port=${REG_PORT:-5094} uac_port=${UAC_PORT:-5095}
uas_pid=$(sipp -sf "$S/uas_answer.xml" -i 127.0.0.1 -p "$uas_port" -nostdin -bg \
  -m $((capacity * 100 + 100000)) -max_socket 60000 2>&1 |
  sed -n 's/.*PID=\[\([0-9]*\)\].*/\1/p')
for i in $(seq 0 199); do
  sipp 127.0.0.1:$port -sf "$S/register.xml" -au u$i -ap pw$i -key user u$i \
    -key contact_port "$uas_port" -key expires 3600 -m 1 -i 127.0.0.1 -p "$reg_port" -nostdin \
    -timeout 10s >/dev/null 2>&1 || echo "register u$i failed"
done
phase() {  # name rate seconds local-port
  # SIPp 3.6.1 can outlive its -timeout while calls wait for answers that
  # never come: stopped (with its statistics written) 45 s after its last call.
  timeout -s INT $(($3 + hold / 1000 + 45)) sipp 127.0.0.1:$port -sf "$here/uac_call.xml" -inf "$here/callees.csv" \
    -au u999 -ap pw999 -key user u999 -r "$2" -m $(($2 * $3)) -l 60000 -d "$hold" \
    -i 127.0.0.1 -p "$4" -nostdin -timeout $(($3 + hold / 1000 + 40))s -max_socket 60000 \
    -trace_stat -stf "$work/$1.csv" -fd 1 >/dev/null 2>&1
}
# SuccessfulCall(P) and FailedCall(P): per 1 s period.
report() {  # name offered-rate
  awk -F';' -v name="$1" -v cap="$capacity" -v rate="$2" '
    NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "SuccessfulCall(P)") s = i; if ($i == "FailedCall(P)") f = i } next }
    { n++; printf "%s t=%ds goodput=%s failed=%s\n", name, n, $s, $f; ok += $s; bad += $f
      if (name == "overload" && n >= 3 && n <= 30) { m++; sum += $s; if (min == "" || $s < min) min = $s }
      if (name == "recovery" && n <= 30) { last = n; good[n] = ($s >= 0.9 * rate) } }
    END {
      printf "%s total: %d successful, %d failed\n", name, ok, bad
      if (name == "overload" && m)
        printf "overload seconds 3-30: goodput min %d (%.0f %% of capacity %d), mean %.0f (%.0f %%)\n",
          min, 100 * min / cap, cap, sum / m, 100 * sum / m / cap
      if (name == "recovery") {
        back = 0
        # Its 30 offered seconds (what follows is the last calls ending).
        for (i = last; i >= 1; i--) { if (!good[i]) { back = i + 1; break } }
        if (back == 0) back = 1
        if (back > last) print "recovery: goodput never stayed at 90 % of the offered rate"
        else printf "recovery: goodput at 90 %% of %d/s or more from second %d on\n", rate, back
      } }' "$work/$1.csv"
}
load=$(cut -d' ' -f1-3 /proc/loadavg)
[ -n "$pids" ] && t0=$(ticks)
phase overload $((capacity * 2)) 30 "$uac_port" &
over=$!
sleep 30
phase recovery $((capacity / 2)) 30 $((uac_port + 1))
wait "$over"
[ -n "$pids" ] && t1=$(ticks)
report overload $((capacity * 2))
report recovery $((capacity / 2))
echo "load average before: $load"
if [ -n "$pids" ]; then
  ok=$(cat "$work"/*.csv | awk -F';' 'FNR == 1 { for (i = 1; i <= NF; i++) if ($i == "SuccessfulCall(P)") s = i; next } { n += $s } END { print n }')
  awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$ok" 'BEGIN {
    printf "server CPU %.1f s for %d successful calls: %.3f ms per call\n", t / hz, n, 1000 * t / hz / n }'
fi
[ -n "$uas_pid" ] && kill "$uas_pid" 2>/dev/null || true
rm -rf "$work"
