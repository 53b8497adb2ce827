#!/usr/bin/env bash
# End-to-end benchmarks through the real dialtoned (docs/performance.md,
# "Integration"). Usage: bench/integration/run.sh [build-dir]
#   N_USERS (10000)  N_ENTRIES (100000)  DURATION (10s)  CONNS (8)
#   REVERSE_ONLY=1: only the directories' reverse lookup, 1 connection, warm
#   (no user import, no other load before it)
# Everything listens on 127.0.0.1; the work folder is removed at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$here/build}
# DIALTONED=<path> runs another binary with the plugins of <build-dir>.
dialtoned=${DIALTONED:-$build/bin/dialtoned}
N_USERS=${N_USERS:-10000}
REVERSE_ONLY=${REVERSE_ONLY:-0}
N_ENTRIES=${N_ENTRIES:-100000}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-8}
. "$here/bench/support/dialtoned.sh"
. "$here/bench/support/slapd.sh"
bench_work dt-bench
port() { free_tcp_port; }

# --- slapd with N_ENTRIES people, bulk-loaded with slapadd before it starts
ldap_port=$(port)
bench_slapd "$work/ldap" "$N_ENTRIES" "$ldap_port"
pids+=("$(cat "$work/ldap/slapd.pid")")

# --- CSV source with N_ENTRIES rows
awk -v n="$N_ENTRIES" 'BEGIN { print "id,firstname,lastname,phone"
  for (i = 0; i < n; i++) { id = sprintf("%06d", i); printf "%d,Given%s,Fam%s,2%s\n", i, id, id, id } }' \
  > "$work/contacts.csv"

# --- dialtoned on its private cluster, every listener on a free port
bench_kernel_conf <<CONF
[store]
pool_size = 8
[http.confd]
listen = 127.0.0.1:0
max_body = 67108864
[http.auth]
listen = 127.0.0.1:0
[http.dird]
listen = 127.0.0.1:0
max_body = 67108864
[http.phoned]
listen = 127.0.0.1:0
[http.provd]
listen = 127.0.0.1:0
[http.provd_phones]
listen = 127.0.0.1:0
CONF
printf '[plugin]\nname = api.confd\n' > "$work/conf.d/50-confd.conf"
cat > "$work/conf.d/20-csv.conf" <<CONF
[plugin]
name = directory.csv
[source.csv]
file = $work/contacts.csv
unique_column = id
searched_columns = firstname, lastname
first_matched_columns = phone
format_columns = name = {firstname} {lastname}, number = {phone}
CONF
cat > "$work/conf.d/21-pb.conf" <<CONF
[plugin]
name = directory.phonebook
[source.pb]
phonebook_name = bench
unique_column = id
searched_columns = firstname, lastname
first_matched_columns = officenumbers
format_columns = name = {fullname}, number = {officenumbers}
CONF
cat > "$work/conf.d/22-ldap.conf" <<CONF
[plugin]
name = directory.ldap
[source.ldap]
uri = ldap://127.0.0.1:$ldap_port
base_dn = ou=people,dc=bench,dc=test
unique_column = entryUUID
searched_columns = cn, sn
first_matched_columns = telephoneNumber
format_columns = name = {cn}, number = {telephoneNumber}
CONF
cat > "$work/conf.d/25-dird.conf" <<CONF
[plugin]
name = directory.dird
[profile.bench]
sources = ldap, csv, pb
[profile.ldap]
sources = ldap
[profile.csv]
sources = csv
[profile.pb]
sources = pb
CONF
printf '[plugin]\nname = view.phoned\n' > "$work/conf.d/30-phoned.conf"
printf '[plugin]\nname = view.cisco\n' > "$work/conf.d/31-cisco.conf"
bench_dialtoned "$dialtoned" "$build/plugins"
confd=$(listen_port confd) dird=$(listen_port dird) phoned=$(listen_port phoned)

run_wrk() { # label url [script]
  local label=$1 url=$2 script=${3:-}
  local out
  local threads=2
  [ "$CONNS" -lt 2 ] && threads=1
  out=$(wrk -t"$threads" -c"$CONNS" -d"$DURATION" --latency -H "$H" ${script:+-s "$script"} "$url")
  local rps p50 p99
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  grep -q "Non-2xx" <<<"$out" && say "$label: WARNING non-2xx answers: $(grep Non-2xx <<<"$out")"
  printf '%-44s %10s req/s  p50 %8s  p99 %8s\n' "$label" "$rps" "$p50" "$p99"
}

if [ "$REVERSE_ONLY" = 0 ]; then
# --- (b) import N_USERS users with lines and extensions over REST
bench_context 100000 199999
awk -v n="$N_USERS" 'BEGIN { print "firstname,lastname,exten,context,line_protocol,sip_username,sip_secret"
  for (i = 0; i < n; i++) printf "User%d,Bench%05d,%d,default,sip,b%d,secret%d\n", i, i, 100000 + i, i, i }' \
  > "$work/users.csv"
t0=$(date +%s.%N)
bench_import_users "$work/users.csv"
t1=$(date +%s.%N)
printf '%-44s %10.2f s\n' "import $N_USERS users (POST /1.1/users/import)" "$(awk -v a="$t1" -v b="$t0" 'BEGIN{print a-b}')"

# --- (a) list users
run_wrk "GET /1.1/users?limit=100 ($N_USERS users)" "http://127.0.0.1:$confd/1.1/users?limit=100"
run_wrk "GET /1.1/users?limit=100&offset=5000" "http://127.0.0.1:$confd/1.1/users?limit=100&offset=5000"
run_wrk "GET /1.1/users?search=bench0042&limit=100" "http://127.0.0.1:$confd/1.1/users?search=bench0042&limit=100"
fi

# --- phonebook with N_ENTRIES contacts (one import)
pb=$(curl -s -H "$H" -H 'Content-Type: application/json' -X POST -d '{"name":"bench"}' \
  "http://127.0.0.1:$dird/0.1/tenants/default/phonebooks" | sed 's/.*"id":\([0-9]*\).*/\1/')
awk -v n="$N_ENTRIES" 'BEGIN { print "title|displayname|firstname|lastname|officenumbers"
  for (i = 0; i < n; i++) { id = sprintf("%06d", i); printf "mr|Given%s Fam%s|Given%s|Fam%s|3%s\n", id, id, id, id, id } }' \
  > "$work/pb.csv"
t0=$(date +%s.%N)
code=$(curl -s -o "$work/pb.json" -w '%{http_code}' -H "$H" -H 'Content-Type: text/csv' --data-binary @"$work/pb.csv" \
  -X POST "http://127.0.0.1:$dird/0.1/tenants/default/phonebooks/$pb/contacts/import")
t1=$(date +%s.%N)
[ "$code" = 201 ] || { say "phonebook import failed: $code $(head -c 500 "$work/pb.json")"; exit 1; }
printf '%-44s %10.2f s\n' "phonebook import $N_ENTRIES contacts" "$(awk -v a="$t1" -v b="$t0" 'BEGIN{print a-b}')"

# --- (c) lookups, reverse lookups, phone views
for profile in bench ldap csv pb; do
cat > "$work/lookup-$profile.lua" <<LUA
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/0.1/directories/lookup/$profile?term=fam" .. string.format("%06d", math.random(0, $N_ENTRIES - 1)))
end
LUA
done
# Reverse: a number of a random source (bench) or of the one source.
for spec in bench:123 ldap:1 csv:2 pb:3; do
profile=${spec%%:*} prefixes=${spec#*:}
cat > "$work/reverse-$profile.lua" <<LUA
math.randomseed(os.time())
local prefixes = "$prefixes"
request = function()
  local i = math.random(1, #prefixes)
  return wrk.format("GET", "/0.1/directories/reverse/$profile/00000000-0000-0000-0000-000000000001?exten=" ..
    prefixes:sub(i, i) .. string.format("%06d", math.random(0, $N_ENTRIES - 1)))
end
LUA
done
cat > "$work/phone.lua" <<LUA
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/0.1/directories/lookup/bench/cisco?term=given" .. string.format("%05d", math.random(0, ($N_ENTRIES / 10) - 1)))
end
LUA
curl -s -o /dev/null -H "$H" "http://127.0.0.1:$dird/0.1/directories/lookup/bench?term=fam000001"  # warm
sample=$(curl -s -H "$H" "http://127.0.0.1:$dird/0.1/directories/lookup/bench?term=fam000042")
say "sample lookup: $sample"
if [ "$REVERSE_ONLY" = 1 ]; then
  for _ in 1 2 3 4 5; do  # warm: the CSV file loaded, LDAP and PostgreSQL connections open
    for n in 1000001 2000001 3000001; do
      curl -s -o /dev/null -H "$H" "http://127.0.0.1:$dird/0.1/directories/reverse/bench/00000000-0000-0000-0000-000000000001?exten=$n"
    done
  done
  say "load before measuring: $(cut -d' ' -f1-3 /proc/loadavg)"
  CONNS=1 run_wrk "reverse lookup, 3 sources, 1 connection" "http://127.0.0.1:$dird/" "$work/reverse-bench.lua"
else
run_wrk "lookup 3 sources x $N_ENTRIES (1 hit each)" "http://127.0.0.1:$dird/" "$work/lookup-bench.lua"
run_wrk "reverse lookup, 3 sources (random source)" "http://127.0.0.1:$dird/" "$work/reverse-bench.lua"
for profile in ldap csv pb; do
  run_wrk "lookup, $profile only" "http://127.0.0.1:$dird/" "$work/lookup-$profile.lua"
  run_wrk "reverse lookup, $profile only" "http://127.0.0.1:$dird/" "$work/reverse-$profile.lua"
done
CONNS=1 run_wrk "reverse lookup, 3 sources, 1 connection" "http://127.0.0.1:$dird/" "$work/reverse-bench.lua"
run_wrk "cisco phone view (10 hits per source)" "http://127.0.0.1:$phoned/" "$work/phone.lua"
fi

# A clean stop is part of the result.
kill -TERM "$dpid"
rc=0
wait "$dpid" || rc=$?
say "dialtoned stopped with exit status $rc"
[ "$rc" = 0 ] || { tail -20 "$work/stderr.log" >&2; exit 1; }
