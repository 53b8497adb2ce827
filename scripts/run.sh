#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running Dialtone:
# installs the packages, builds dialtoned and the plugins conf.d enables (not
# the tests), and starts dialtoned in the foreground on the shipped conf.d
# (zero-config: a private PostgreSQL cluster under the data directory, REST on
# 127.0.0.1:9486, auth on 127.0.0.1:9497). Arguments go to dialtoned, e.g.
# --config-dir <dir> to run on another conf.d.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
conf=$here/conf.d
conf_arg=(--config-dir "$conf")
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --config-dir=*) conf=${args[$i]#--config-dir=}; conf_arg=() ;;
    --config-dir) conf=${args[$((i + 1))]:-$conf}; conf_arg=() ;;
  esac
done

# The plugin ids of the conf.d files whose [plugin] section is not disabled;
# plugin <kind>.<name> lives in plugins/<kind>/<name>/ and its build target is
# <kind>_<name>.
enabled_plugins() {
  for f in "$1"/*.conf; do
    case "$(basename "$f")" in .*) continue ;; esac
    awk '
      /^[ \t]*\[/ { section = $0; gsub(/[ \t\[\]]/, "", section); next }
      section == "plugin" && /^[ \t]*name[ \t]*=/ { sub(/^[^=]*=[ \t]*/, ""); sub(/[ \t#;].*$/, ""); name = $0 }
      section == "plugin" && /^[ \t]*enabled[ \t]*=/ { sub(/^[^=]*=[ \t]*/, ""); sub(/[ \t#;].*$/, ""); enabled = tolower($0) }
      END { if (name != "" && enabled != "false" && enabled != "no" && enabled != "0" && enabled != "off") print name }
    ' "$f"
  done
}

"$here/scripts/deps.sh"
targets=(dialtoned)
for id in $(enabled_plugins "$conf"); do
  # In-tree plugins only: `kernel` is dialtoned's own section, and a plugin
  # built out of the tree is not ours to build.
  if [ -f "$here/plugins/${id/.//}/CMakeLists.txt" ]; then targets+=("${id//./_}"); fi
done
"$here/scripts/build.sh" "${targets[@]}"
build=${DIALTONE_BUILD_DIR:-$here/build}
data=${DIALTONE_DATA_DIR:-$here/var}
exec "$build/bin/dialtoned" "${conf_arg[@]}" --plugin-dir "$build/plugins" --data-dir "$data" "$@"
