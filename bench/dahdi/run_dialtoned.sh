#!/usr/bin/env bash
# Simulated E1 spans bridged to RTP in dialtoned as an admin runs it
# (docs/performance.md, "ISDN spans (backend.dahdi)"): backend.sip, the media
# engine, api.confd (configured over REST only) and backend.dahdi with
# <pairs> pairs of simulated E1s back to back (spans 1,3,5... pri_cpe in
# group 1; 2,4,6... pri_net, context from-extern).
#
#   run_dialtoned.sh <build> <pairs> <calls> <hold seconds>
#
# One SIP line (SIPp, A-law RTP streamed both ways for the hold) makes
# <calls> calls at 20/s to 0XXXXXXXXX, whose outgoing route's trunk is the
# customized interface dahdi/g1: each call gets early media from the route
# (183 with the engine's SDP, its media in the engine), goes out on a
# B-channel of an odd span, and is answered on the even span by
# bench/dahdi/span_answer.lua with a tone (then the phone gets its 200 OK).
# Every call so has three engine endpoints (the phone's RTP, both
# B-channels) and audio both ways on both B-channels. Printed: SIPp's
# totals, dialtoned's CPU over the middle of the hold (all calls up) per
# call, and the driver's audio summary logged at stop (frames lost at each
# hop).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd) pairs=$2 calls=$3 hold=$4
. "$here/bench/support/dialtoned.sh"
bench_work dt-bench-dahdi
ticks() { awk '{print $14 + $15}' "/proc/$dpid/stat"; }

sip_port=$(free_port)
mkdir -p "$work/lua"
cp "$here/bench/dahdi/span_answer.lua" "$work/lua/"
ln -s "$here/lua-dialplan/lib" "$work/lua/lib"
bench_kernel_conf <<CONF
[lua]
script = $work/lua/span_answer.lua
$(http_listeners confd auth dird phoned provd provd_phones calld)
CONF
sed -i 's/^level = warn/level = info/' "$work/conf.d/00-kernel.conf"
printf '[plugin]\nname = api.confd\n' > "$work/conf.d/50-confd.conf"
printf '[plugin]\nname = media.engine\n' > "$work/conf.d/45-media.conf"
bench_sip_conf "$sip_port"
{
  printf '[plugin]\nname = backend.dahdi\n'
  for p in $(seq 1 "$pairs"); do
    for side in cpe net; do
      n=$(( 2 * p - 1 )); peer=$(( n + 1 ))
      [ $side = net ] && { n=$(( 2 * p )); peer=$(( n - 1 )); }
      b=$(( (n - 1) * 31 ))
      printf '[span.%s]\ndriver = simulated\npeer = %s\nbchan = %s-%s,%s-%s\ndchan = %s\nsignalling = pri_%s\n' \
        "$n" "$peer" $((b + 1)) $((b + 15)) $((b + 17)) $((b + 31)) $((b + 16)) $side
      [ $side = cpe ] && printf 'group = 1\ncontext = from-pabx\n' || printf 'group = 2\ncontext = from-extern\n'
    done
  done
} > "$work/conf.d/55-dahdi.conf"
bench_dialtoned "$build/bin/dialtoned" "$build/plugins"
for _ in $(seq 200); do
  [ "$(grep -c 'D-channel up' "$work/stdout.log" "$work/stderr.log" | awk -F: '{s += $2} END {print s}')" -ge $((2 * pairs)) ] && break
  sleep 0.1
done
say "dialtoned $dpid, $((2 * pairs)) spans up; load average $(cut -d' ' -f1-3 /proc/loadavg)"

# The admin's configuration, over confd's REST API.
api POST /contexts '{"name":"default","type":"internal","user_ranges":[{"start":"1000","end":"1099"}]}' >/dev/null
api POST /contexts '{"name":"from-extern","type":"incall"}' >/dev/null
out_ctx=$(api POST /contexts '{"name":"to-extern","type":"outcall"}' | id_of)
def_ctx=$(api GET '/contexts?search=default' | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin)["items"] if c["name"]=="default"][0])')
api PUT "/contexts/$def_ctx/contexts" "{\"contexts\":[{\"id\":$out_ctx}]}" >/dev/null
bench_user_line 1001 caller callerpw
trunk=$(api POST /trunks '{"context":"to-extern"}' | id_of)
custom=$(api POST /endpoints/custom '{"interface":"dahdi/g1"}' | id_of)
api PUT "/trunks/$trunk/endpoints/custom/$custom" >/dev/null
route=$(api POST /outcalls '{"name":"spans","priority":1,"patterns":[{"pattern":"0XXXXXXXXX"}]}' | id_of)
api PUT "/outcalls/$route/trunks" "{\"trunks\":[{\"id\":$trunk}]}" >/dev/null
api PUT "/outcalls/$route/contexts" "{\"contexts\":[{\"id\":$out_ctx}]}" >/dev/null
sleep 1  # the dialplan's configuration snapshot follows confd's notification

# One second of A-law 1 kHz for SIPp to stream in a loop.
python3 -W ignore -c 'import audioop, math, struct, sys
pcm = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 1000 * i / 8000))) for i in range(8000))
sys.stdout.buffer.write(audioop.lin2alaw(pcm, 2))' > "$work/tone.al"
sed "s|/usr/share/sip-tester/g711a.pcap|$work/tone.al|" "$here/bench/dahdi/uac_hold_rtp.xml" > "$work/uac.xml"

rate=20
ramp=$(( calls / rate + 2 ))
sipp 127.0.0.1:$sip_port -sf "$work/uac.xml" -s 0140001000 -au caller -ap callerpw -key user caller \
  -r $rate -m "$calls" -l "$calls" -d $((hold * 1000)) -i 127.0.0.1 -mi 127.0.0.1 -p "$(free_port)" \
  -mp "$(free_port)" -nostdin -timeout $((ramp + hold + 60))s -max_socket 60000 > "$work/sipp.out" 2>&1 &
sipp_pid=$!
pids+=("$sipp_pid")
# CPU over the middle of the hold, once every call is up.
window=$(( hold - 10 ))
sleep $(( ramp + 3 ))
t0=$(ticks); up=$(grep -c . /dev/null || true)
sleep "$window"
t1=$(ticks)
wait "$sipp_pid" || true
grep -E "Successful call|Failed call|Total Call created" "$work/sipp.out" | tail -3 || tail -20 "$work/sipp.out"
awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v w="$window" -v n="$calls" 'BEGIN {
  printf "dialtoned CPU over %d s with %d calls up: %.1f %% of one core, %.3f %% per call\n", w, n, 100 * t / hz / w,
    100 * t / hz / w / n }'
kill -TERM "$dpid"
for _ in $(seq 150); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
grep -h "dahdi: audio since start" "$work/stdout.log" "$work/stderr.log" || say "no audio summary in dialtoned's log"
