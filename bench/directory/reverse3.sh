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
  if [[ -f $work/slapd.pid ]]; then
    pid=$(cat "$work/slapd.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/db"
# `eq` indexes on the attributes compared by first_matched_columns (and on
# entryUUID for favorites): without them slapd scans every entry per call.
cat > "$work/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $work/slapd.pid
sizelimit unlimited
database mdb
maxsize 2147483648
dbnosync
suffix "dc=bench,dc=test"
rootdn "cn=admin,dc=bench,dc=test"
rootpw secret
directory $work/db
index objectClass eq
index cn,sn sub,eq
index telephoneNumber,mobile eq
index entryUUID eq
CONF
{
  printf 'dn: dc=bench,dc=test\nobjectClass: dcObject\nobjectClass: organization\no: bench\ndc: bench\n\n'
  printf 'dn: ou=people,dc=bench,dc=test\nobjectClass: organizationalUnit\nou: people\n\n'
  awk -v n="$N_ENTRIES" 'BEGIN { for (i = 0; i < n; i++) {
    id = sprintf("%06d", i)
    printf "dn: cn=Given%s Fam%s,ou=people,dc=bench,dc=test\nobjectClass: inetOrgPerson\ncn: Given%s Fam%s\nsn: Fam%s\ntelephoneNumber: 1%s\n\n", id, id, id, id, id, id } }'
} > "$work/people.ldif"
slapadd -q -f "$work/slapd.conf" -l "$work/people.ldif"
while :; do
  port=$((20000 + RANDOM % 30000))
  (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null || break
done
slapd -h "ldap://127.0.0.1:$port/" -f "$work/slapd.conf"
for _ in $(seq 100); do [[ -f $work/slapd.pid ]] && break; sleep 0.1; done
"$build/bin/reverse3_bench" "ldap://127.0.0.1:$port" "ou=people,dc=bench,dc=test" "$N_ENTRIES" "$QUERIES"
