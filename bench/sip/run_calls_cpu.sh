#!/bin/sh
# run_calls.sh plus the CPU it cost: the server process's (user+system) and
# that of the PostgreSQL backends serving its database, per call.
# Usage: run_calls_cpu.sh <server pid> <server dsn> <port> <rate> <calls> <hold ms>
# (the pid and the "database ..." DSN are what sip_bench_server prints).
here=$(cd "$(dirname "$0")" && pwd)
pid=$1 dsn=$2; shift 2
calls=$3
tck=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
backends() { psql "$dsn" -Atc "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"; }
pg_ticks() { t=0; for b in $(backends); do t=$((t + $(ticks "$b"))); done; echo "$t"; }
s0=$(ticks "$pid") p0=$(pg_ticks)
"$here/run_calls.sh" "$@"
# Let the CEL writer and the call logs finish what the run queued.
sleep 3
s1=$(ticks "$pid") p1=$(pg_ticks)
awk -v s=$((s1 - s0)) -v p=$((p1 - p0)) -v t="$tck" -v n="$calls" 'BEGIN {
  printf "server CPU %.2f s (%.3f ms/call), its PostgreSQL backends %.2f s (%.3f ms/call)\n",
    s / t, 1000 * s / t / n, p / t, 1000 * p / t / n }'
if psql "$dsn" -Atc "SELECT to_regclass('cel') IS NOT NULL" | grep -q t; then
  psql "$dsn" -Atc "SELECT 'cel rows ' || (SELECT count(*) FROM cel) || ', call logs ' || (SELECT count(*) FROM call_log)"
fi
