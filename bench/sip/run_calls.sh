#!/bin/sh
# Calls/s and concurrent calls through a SIP server on 127.0.0.1:$1 with
# SIPp: one UAS answering for users u0..u199 (extensions 2000..2199), all
# registered with digest auth, and a UAC calling them in turn as u1000+.
# Usage: run_calls.sh <port> <rate> <calls> <hold ms> [limit] [callees]
# A user takes at most 20 calls at once, so concurrency runs above 4,000
# calls need more callees: e.g. 1100 registers u0..u1100 but u999 (the
# server needs 1101 users).

here=$(cd "$(dirname "$0")" && pwd)
S=$here/../../tests/plugins/backend/sip/scenarios
port=$1 rate=$2 calls=$3 hold=$4 limit=${5:-30000} callees=${6:-200}
# SIPp's own ports (the answering phones, the registrations, the caller):
# UAS_PORT, REG_PORT, UAC_PORT override them when another run holds these.
uas_port=${UAS_PORT:-5093} reg_port=${REG_PORT:-5094} uac_port=${UAC_PORT:-5095}
csv=$here/callees.csv
users=$(seq 0 199)
if [ "$callees" != 200 ]; then
  csv=$(mktemp)
  users=$(seq 0 "$callees" | grep -vx 999)
  { echo SEQUENTIAL; for i in $users; do echo "$((2000 + i))"; done; } >"$csv"
fi
# The registrations come from port 5094 (one short SIPp each), so a
# registrar that qualifies contacts (OPTIONS to the REGISTER's source) finds
# them unreachable a qualify interval later and stops ringing them (480):
# run Dialtone's sip_bench_server with qualify.interval=0.
uas_pid=$(sipp -sf "$S/uas_answer.xml" -i 127.0.0.1 -p "$uas_port" \
  -nostdin -bg -m $((calls * 2 + 100000)) \
  -max_socket 60000 2>&1 | sed -n 's/.*PID=\[\([0-9]*\)\].*/\1/p')
for i in $users; do
  sipp 127.0.0.1:$port -sf "$S/register.xml" -au u$i -ap pw$i -key user u$i \
    -key contact_port "$uas_port" -key expires 3600 -m 1 -i 127.0.0.1 -p "$reg_port" -nostdin \
    -timeout 10s >/dev/null 2>&1 || echo "register u$i failed"
done
# SIPp's -timeout ends the whole run: leave room for the ramp and the hold.
# It does not end a SIPp some of whose calls still wait for a message (seen
# at 500 calls/s on a machine past its capacity: a few hundred calls of
# 20,000 never ended): SIGINT then, which still prints the statistics.
timeout=$((calls / rate + hold / 1000 + 60))
timeout -s INT $((timeout + 30)) sipp 127.0.0.1:$port -sf "$here/uac_call.xml" -inf "$csv" \
  -au u999 -ap pw999 -key user u999 -r "$rate" -m "$calls" -l "$limit" -d "$hold" \
  -i 127.0.0.1 -p "$uac_port" -nostdin -timeout "$timeout"s -max_socket 60000 2>&1 |
  grep -E "Successful call|Failed call|Call Rate|Elapsed|Total Call created" | tail -6
[ -n "$uas_pid" ] && kill "$uas_pid" 2>/dev/null || true
[ "$csv" = "$here/callees.csv" ] || rm -f "$csv"
