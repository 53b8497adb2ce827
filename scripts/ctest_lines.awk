# Rewrites ctest's result lines without the dots that pad every test name to
# the longest one (about 150 characters here), status and time first:
#   634/993 Test #632: backend.sip.FunckeyTest.Keys ....................   Passed    1.89 sec
# becomes
#   634/993  Passed     1.89 s  backend.sip.FunckeyTest.Keys
# Every other line (a failed test's output, the summary) passes unchanged.
# At the end, a digest of the failures: each failed test's first assertion
# messages (gtest's "file:line: Failure" and the lines after it), so that the
# last lines of a long log say why, not only which.
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
  failing = (status !~ /^Passed/ && status !~ /Not Run|Disabled|Skipped/) ? name : ""
  if (failing != "") { order[++failed] = failing; blocks[failing] = 0 }
  after = 0
  next
}
{ print; fflush() }
failing != "" && /: Failure$/ && blocks[failing] < 3 {
  blocks[failing]++
  digest[failing] = digest[failing] "    " $0 "\n"
  after = 5
  next
}
failing != "" && after > 0 {
  digest[failing] = digest[failing] "      " substr($0, 1, 300) "\n"
  after--
}
END {
  if (failed == 0) exit
  print ""
  print "Why the failed tests failed (their first assertions):"
  for (i = 1; i <= failed; i++) {
    print "  " order[i] (digest[order[i]] == "" ? " (no gtest assertion: see its output above)" : "")
    printf "%s", digest[order[i]]
  }
}
