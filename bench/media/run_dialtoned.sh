#!/usr/bin/env bash
# Terminated media in dialtoned as an admin runs it (docs/performance.md,
# "Media engine on dialtoned as shipped"): backend.sip, the shipped
# 45-media.conf (real-time media threads) and lua-dialplan, api.confd
# configured over REST only; SIPp phones whose SDP names one rtp_probe port.
#
#   run_dialtoned.sh <build> moh <calls> <seconds>         # parked callers hearing music on hold
#   run_dialtoned.sh <build> conference <calls> <seconds>  # one room, every party talking
#
# moh: the default parking lot gets <calls>+ slots and no timeout; every
# call dials 700 and is parked, hearing the default music class (the
# asterisk-moh-opsound-wav files). conference: room 4010, every party sends
# a 440 Hz tone (rtp_probe --talk) and hears the mix of the others.
# Printed: SIPp's totals and rtp_probe's figures over <seconds> once every
# call's stream arrived: packets received, lost and late, jitter, and
# dialtoned's CPU (whole process and media threads) per stream.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd) mode=$2 calls=$3 seconds=$4
. "$here/bench/support/dialtoned.sh"
bench_work dt-bench-media

sip_port=$(free_port)
probe_port=$(free_port)
bench_shipped_kernel
cp "$here/conf.d/45-media.conf" "$work/conf.d/45-media.conf"
bench_sip_conf "$sip_port"
bench_dialtoned "$build/bin/dialtoned" "$build/plugins"
say "dialtoned $dpid; load average $(cut -d' ' -f1-3 /proc/loadavg)"

# The admin's configuration, over confd's REST API.
api POST /contexts '{"name":"default","type":"internal","user_ranges":[{"start":"1000","end":"1099"}],"conference_room_ranges":[{"start":"4000","end":"4099"}]}' >/dev/null
bench_user_line 1001 caller callerpw
case $mode in
  moh)
    lot=$(api GET /parkinglots | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
    api PUT "/parkinglots/$lot" "{\"slots_start\":\"7001\",\"slots_end\":\"$((7001 + calls + 10))\",\"timeout\":null}" >/dev/null
    number=700 talk=() ;;
  conference)
    room=$(api POST /conferences '{"name":"bench","max_users":0}' | id_of)
    rext=$(api POST /extensions '{"exten":"4010","context":"default"}' | id_of)
    api PUT "/conferences/$room/extensions/$rext" >/dev/null
    number=4010 talk=(--talk) ;;
  *) say "mode: moh or conference"; exit 2 ;;
esac
sleep 1  # the dialplan's configuration snapshot follows confd's notification

"$build/bin/rtp_probe" --port "$probe_port" --pid "$dpid" --streams "$calls" --seconds "$seconds" \
  --wait $(( calls / 20 + 60 )) "${talk[@]}" > "$work/probe.out" 2>&1 &
probe=$!
pids+=("$probe")
rate=50
hold=$(( calls / rate + 60 + seconds + 10 ))
sipp 127.0.0.1:$sip_port -sf "$here/bench/media/uac_hold.xml" -s $number -au caller -ap callerpw -key user caller \
  -key probe_port "$probe_port" -r $rate -m "$calls" -l "$calls" -d $((hold * 1000)) -i 127.0.0.1 \
  -p "$(free_port)" -mp "$(free_port)" -nostdin -timeout $((hold + 60))s -max_socket 60000 > "$work/sipp.out" 2>&1 &
sipp_pid=$!
pids+=("$sipp_pid")
wait "$probe" || true
cat "$work/probe.out"
kill -INT "$sipp_pid" 2>/dev/null || true   # ends the calls early: the figures are in
wait "$sipp_pid" 2>/dev/null || true
grep -E "Successful call|Failed call|Total Call created" "$work/sipp.out" | tail -3 || tail -20 "$work/sipp.out"
grep -hiE "error|warn" "$work/stdout.log" "$work/stderr.log" | sort | uniq -c | sort -rn | head -5 || true
