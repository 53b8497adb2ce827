#!/usr/bin/env bash
# dialtoned as shipped for the SIP benchmarks: the repository's conf.d as it
# is (every plugin it enables, log level info, its private PostgreSQL
# cluster), with only the listeners moved (SIP on 127.0.0.1:<port>, HTTP on
# free ports), qualify off (the bench phones register from a port nobody
# answers on afterwards), bans off (thousands of registrations from one
# address) and the RTP relay range given by RTP_PORTS. Users are created
# through confd as an admin would: u<i> / pw<i> at extension 2000+i, for
# i in 0..<users>-1 and 999 (the caller of run_calls.sh).
# Prints "ready pid=<dialtoned pid> sip=<port> dsn=<dsn>" and runs until its
# standard input closes; everything it created is removed then.
# Usage: sleep 100000 | bench/sip/dialtoned_server.sh <build dir> <sip port> [users]
#   RTP_PORTS (shipped: 10000-30000), e.g. RTP_PORTS=10000-11000
#   SIP_CONF: more lines for the [sip] section, e.g. SIP_CONF="max_queue_delay = 0"
#   SIP_CONF_EXTRA: more sections after it, e.g. $'[subscribe]\nmax_per_line = 100'
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$1 sip=$2 users=${3:-1000}
. "$here/bench/support/dialtoned.sh"
bench_work dt-bench-sip
cp "$here"/conf.d/*.conf "$here"/conf.d/*.csv "$work/conf.d/"
# Paths relative to the parent of conf.d, as in an installation.
ln -s "$here/lua-dialplan" "$work/lua-dialplan"
# Overrides: the first file in lexical order that sets a key wins.
cat > "$work/conf.d/00-bench-kernel.conf" <<CONF
[plugin]
name = kernel
[kernel]
data_dir = $work/data
$(http_listeners confd auth dird phoned provd provd_phones calld)
CONF
rtp=${RTP_PORTS:-10000-30000}
cat > "$work/conf.d/40-bench-sip.conf" <<CONF
[plugin]
name = backend.sip
[sip]
listen = 127.0.0.1:$sip
${SIP_CONF:-}
[qualify]
interval = 0s
[auth]
ban_failures = 0
[rtp]
port_min = ${rtp%-*}
port_max = ${rtp#*-}
${SIP_CONF_EXTRA:-}
CONF
bench_dialtoned "$build/bin/dialtoned" "$build/plugins"
bench_context 2000 9999
{ echo "firstname,lastname,exten,context,line_protocol,sip_username,sip_secret"
  for i in $( (seq 0 $((users - 1)); echo 999) | sort -un); do
    echo "User$i,Bench,$((2000 + i)),default,sip,u$i,pw$i"
  done; } > "$work/users.csv"
bench_import_users "$work/users.csv"
dsn="host=$(dirname "$(find "$work/data" -name dialtone.conf | head -1)") dbname=dialtone user=postgres"
echo "ready pid=$dpid sip=$sip dsn=$dsn log=$work/stderr.log"
cat > /dev/null  # until stdin closes
