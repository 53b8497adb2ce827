#!/usr/bin/env bash
# Configures and builds Dialtone into ./build (or $DIALTONE_BUILD_DIR).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${DIALTONE_BUILD_DIR:-$here/build}
jobs=${DIALTONE_JOBS:-$(nproc)}
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=${DIALTONE_BUILD_TYPE:-RelWithDebInfo} >/dev/null
cmake --build "$build" -j"$jobs"
