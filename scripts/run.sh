#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running Dialtone:
# installs the packages, builds, and starts dialtoned in the foreground on the
# shipped conf.d (zero-config: a private PostgreSQL cluster under the data
# directory, REST on 127.0.0.1:9486, auth on 127.0.0.1:9497).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/deps.sh"
"$here/scripts/build.sh"
build=${DIALTONE_BUILD_DIR:-$here/build}
data=${DIALTONE_DATA_DIR:-$here/var}
exec "$build/bin/dialtoned" --config-dir "$here/conf.d" --plugin-dir "$build/plugins" \
  --data-dir "$data" "$@"
