# Rewrites ctest's result lines without the dots that pad every test name to
# the longest one (about 150 characters here), status and time first:
#   634/993 Test #632: backend.sip.FunckeyTest.Keys ....................   Passed    1.89 sec
# becomes
#   634/993  Passed     1.89 s  backend.sip.FunckeyTest.Keys
# Every other line (a failed test's output, the summary) passes unchanged.
match($0, /^ *[0-9]+\/[0-9]+ Test +#[0-9]+: [^ ]+ \.* *[^ ].* +[0-9.]+ sec$/) {
  progress = $1
  name = $4
  line = $0
  sub(/ +[0-9.]+ sec$/, "", line)
  seconds = $(NF - 1)
  status = line
  sub(/^.*: [^ ]+ \.* */, "", status)
  printf "%9s  %-10s %8s s  %s\n", progress, status, seconds, name
  fflush()
  next
}
{ print; fflush() }
