#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a passing test suite:
# installs the packages, builds everything (a compiler warning fails the
# build), and runs every test with ctest.
# Tests start the servers they need themselves (a private PostgreSQL cluster,
# slapd, SIPp) on 127.0.0.1 and stop them at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/deps.sh"
# Warnings are errors here (CI runs this script): the tree is kept free of
# them on Debian 12's GCC 12. DIALTONE_WERROR=OFF ./scripts/test.sh builds
# with them as warnings.
DIALTONE_WERROR=${DIALTONE_WERROR:-ON} "$here/scripts/build.sh"
build=${DIALTONE_BUILD_DIR:-$here/build}
# One PostgreSQL cluster for the whole run, shared by the test processes.
export DIALTONE_TEST_PGDIR=${DIALTONE_TEST_PGDIR:-/tmp/dialtone-test-pg.$$}
cleanup() {
  pgctl=$(ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$pgctl" ] && [ -f "$DIALTONE_TEST_PGDIR/postmaster.pid" ]; then
    runuser -u postgres -- "$pgctl" -D "$DIALTONE_TEST_PGDIR" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$DIALTONE_TEST_PGDIR" "$DIALTONE_TEST_PGDIR.lock"
}
trap cleanup EXIT
cd "$build"
# Four at a time on two cores: most tests wait on the network, SIP timers
# and real-time audio, not the CPU (run one after the other they take about
# 1,500 s); the one that compiles whole projects declares two slots (ctest's
# PROCESSORS). Result lines come through
# scripts/ctest_lines.awk: status and time first, no padding dots.
ctest -j"${DIALTONE_TEST_JOBS:-4}" --output-on-failure --timeout 600 "$@" |
  awk -f "$here/scripts/ctest_lines.awk"
