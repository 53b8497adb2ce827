# Sourced by the benchmark scripts that need an LDAP directory of people:
#   . "$here/bench/support/slapd.sh"
#   port=$(free_tcp_port)
#   bench_slapd "$work/ldap" "$N_ENTRIES" "$port"   # pid in $work/ldap/slapd.pid
# The directory holds ou=people,dc=bench,dc=test with N entries
# "cn=Given<i> Fam<i>" (sn Fam<i>, telephoneNumber 1<i>, i as %06d),
# bulk-loaded with slapadd before slapd starts.

# A free TCP port on 127.0.0.1.
free_tcp_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo "$p"; return; }
  done
}

# bench_slapd <dir> <entries> <port>: returns once slapd has written its pid.
bench_slapd() {
  local dir=$1 n=$2 port=$3
  mkdir -p "$dir/db"
  # `eq` indexes on the attributes compared by first_matched_columns (and on
  # entryUUID for favorites): without them slapd scans every entry per call.
  cat > "$dir/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $dir/slapd.pid
sizelimit unlimited
database mdb
maxsize 2147483648
dbnosync
suffix "dc=bench,dc=test"
rootdn "cn=admin,dc=bench,dc=test"
rootpw secret
directory $dir/db
index objectClass eq
index cn,sn sub,eq
index telephoneNumber,mobile eq
index entryUUID eq
CONF
  {
    printf 'dn: dc=bench,dc=test\nobjectClass: dcObject\nobjectClass: organization\no: bench\ndc: bench\n\n'
    printf 'dn: ou=people,dc=bench,dc=test\nobjectClass: organizationalUnit\nou: people\n\n'
    awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) {
      id = sprintf("%06d", i)
      printf "dn: cn=Given%s Fam%s,ou=people,dc=bench,dc=test\nobjectClass: inetOrgPerson\ncn: Given%s Fam%s\nsn: Fam%s\ntelephoneNumber: 1%s\n\n", id, id, id, id, id, id } }'
  } > "$dir/people.ldif"
  local t0
  t0=$(date +%s.%N)
  slapadd -q -f "$dir/slapd.conf" -l "$dir/people.ldif"
  printf 'slapadd %s entries: %s s\n' "$n" "$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{printf "%.2f", a-b}')" >&2
  slapd -h "ldap://127.0.0.1:$port/" -f "$dir/slapd.conf"
  for _ in $(seq 100); do [[ -s $dir/slapd.pid ]] && return 0; sleep 0.1; done
  echo "slapd did not start on 127.0.0.1:$port (see its configuration in $dir/slapd.conf)" >&2
  return 1
}
