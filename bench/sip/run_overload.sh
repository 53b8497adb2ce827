#!/bin/sh
# Overload (not a test): offered load at twice a server's capacity for 30 s,
# then half of it for 30 s, through SIPp as run_calls.sh sets it up (callee
# UAS on 5093, users u0..u199 registered, caller u999 on 5095). Prints the
# successful calls per second (goodput) of each phase from SIPp's periodic
# statistics, and the totals: Dialtone should keep >= 90 % of its capacity
# through the overload (the surplus gets 503 with Retry-After at once) and be
# back to normal within 5 s of the load dropping.
# Usage: run_overload.sh <port> <capacity calls/s> [hold ms]
# Run the server with qualify.interval=0 (see README.md); for Kamailio use
# the same command on its port.

here=$(cd "$(dirname "$0")" && pwd)
S=$here/../../tests/plugins/backend/sip/scenarios
port=$1 capacity=$2 hold=${3:-1000}
[ -n "$capacity" ] || { echo "usage: $0 <port> <capacity calls/s> [hold ms]"; exit 2; }
work=$(mktemp -d)
uas_pid=$(sipp -sf "$S/uas_answer.xml" -i 127.0.0.1 -p 5093 -nostdin -bg \
  -m $((capacity * 100 + 100000)) -max_socket 60000 2>&1 |
  sed -n 's/.*PID=\[\([0-9]*\)\].*/\1/p')
for i in $(seq 0 199); do
  sipp 127.0.0.1:$port -sf "$S/register.xml" -au u$i -ap pw$i -key user u$i \
    -key contact_port 5093 -key expires 3600 -m 1 -i 127.0.0.1 -p 5094 -nostdin \
    -timeout 10s >/dev/null 2>&1 || echo "register u$i failed"
done
phase() {  # name rate seconds
  sipp 127.0.0.1:$port -sf "$here/uac_call.xml" -inf "$here/callees.csv" \
    -au u999 -ap pw999 -key user u999 -r "$2" -m $(($2 * $3)) -l 60000 -d "$hold" \
    -i 127.0.0.1 -p 5095 -nostdin -timeout $(($3 + hold / 1000 + 40))s -max_socket 60000 \
    -trace_stat -stf "$work/$1.csv" -fd 1 >/dev/null 2>&1
  # SuccessfulCall(P) and FailedCall(P): per 1 s period.
  awk -F';' -v name="$1" 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "SuccessfulCall(P)") s = i; if ($i == "FailedCall(P)") f = i } next }
    { n++; printf "%s t=%ds goodput=%s failed=%s\n", name, n, $s, $f; ok += $s; bad += $f }
    END { printf "%s total: %d successful, %d failed\n", name, ok, bad }' "$work/$1.csv"
}
phase overload $((capacity * 2)) 30
phase recovery $((capacity / 2)) 30
[ -n "$uas_pid" ] && kill "$uas_pid" 2>/dev/null || true
rm -rf "$work"
