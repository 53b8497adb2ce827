#!/usr/bin/env bash
# Configures and builds Dialtone into ./build (or $DIALTONE_BUILD_DIR):
# everything (tests and benchmarks included), or only the targets named.
#   scripts/build.sh                         # all
#   scripts/build.sh dialtoned backend_sip   # just these
# DIALTONE_WERROR=ON makes every warning an error (off by default, on in
# scripts/test.sh and so in CI; see README.md).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${DIALTONE_BUILD_DIR:-$here/build}
jobs=${DIALTONE_JOBS:-$(nproc)}
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=${DIALTONE_BUILD_TYPE:-RelWithDebInfo} \
  -DDIALTONE_WERROR=${DIALTONE_WERROR:-OFF} >/dev/null
if [ $# -gt 0 ]; then
  cmake --build "$build" -j"$jobs" --target "$@"
else
  cmake --build "$build" -j"$jobs"
fi
