#!/bin/bash
# run_calls_cpu.sh with the server's CPU split by thread: for each thread
# name (threads of one name summed), CPU time, context switches and futex
# calls per call, from `perf stat --per-thread` around the run (needs perf
# and the syscalls tracepoints: run as root).
# Usage: run_calls_threads.sh <server pid> <server dsn> <port> <rate> <calls>
here=$(cd "$(dirname "$0")" && pwd)
pid=$1 dsn=$2 port=$3 rate=$4 calls=$5
out=$(mktemp)
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
perf stat -x, --per-thread -e task-clock,context-switches,syscalls:sys_enter_futex -p "$pid" -o "$out" &
perf=$!
sleep 0.5
"$here/run_calls_cpu.sh" "$pid" "$dsn" "$port" "$rate" "$calls" 0 2>&1 | grep -E "Successful|Failed|server CPU"
kill -INT "$perf"; wait "$perf"
# Lines: <comm>-<tid>,<count>,<unit>,<event>,...
awk -F, -v n="$calls" '$2 + 0 > 0 {
    name = $1; sub(/-[0-9]+$/, "", name); v[name, $4] += $2; names[name] = 1 }
  END { for (t in names) if (v[t, "task-clock"] > 0)
    printf "%-18s CPU %.3f ms/call  context switches %.1f  futex %.1f\n", t, v[t, "task-clock"] / n,
      v[t, "context-switches"] / n, v[t, "syscalls:sys_enter_futex"] / n }' "$out" | sort -k3 -nr
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -f "$out"
