#!/usr/bin/env bash
# Reverse lookups over the LDAP + CSV + phonebook profile in-process
# (reverse3_bench), against a private slapd bulk-loaded with slapadd.
# Usage: bench/directory/reverse3.sh [build-dir]   N_ENTRIES (100000)  QUERIES (2000)
# slapd listens on 127.0.0.1; its folder is removed at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$here/build}
N_ENTRIES=${N_ENTRIES:-100000}
QUERIES=${QUERIES:-2000}
work=$(mktemp -d /tmp/dt-reverse3-XXXXXX)
cleanup() {
  if [[ -f $work/ldap/slapd.pid ]]; then
    pid=$(cat "$work/ldap/slapd.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT
. "$here/bench/support/slapd.sh"
port=$(free_tcp_port)
mkdir -p "$work/ldap"
bench_slapd "$work/ldap" "$N_ENTRIES" "$port"
"$build/bin/reverse3_bench" "ldap://127.0.0.1:$port" "ou=people,dc=bench,dc=test" "$N_ENTRIES" "$QUERIES"
