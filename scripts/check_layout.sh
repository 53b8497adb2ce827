#!/usr/bin/env bash
# Checks the include rules of docs/architecture.md, run by ctest (layout.includes):
#   sdk/       includes only the SDK's own headers and the system's;
#   kernel/    never includes a plugin (nor tests/);
#   plugins/<kind>/<name>/  includes only the SDK, plugins/common/,
#              plugins/<kind>/common/ and its own folder: never the kernel,
#              tests/ or another plugin;
#   plugins/common/, plugins/<kind>/common/  the same, minus other folders;
#   examples/  includes only the SDK (it builds against the installed SDK).
# Prints one line per offending include (file:line: the include, the rule)
# and exits 1 if there is any.
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
# Tracked files in a git checkout (untracked ones too, unless ignored), every
# file elsewhere (a source tarball).
sources() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files --cached --others --exclude-standard -- sdk kernel plugins examples
  else
    find sdk kernel plugins examples -type f
  fi | grep -E '\.(h|hh|hpp|c|cc|cpp)$'
}
# One awk over every quoted include: "file:line:text" in, offending lines out.
sources | xargs -r grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' | awk '
  {
    file = $0; sub(/:.*/, "", file)
    rest = substr($0, length(file) + 2); line = rest; sub(/:.*/, "", line)
    inc = rest; sub(/^[^"]*"/, "", inc); sub(/".*$/, "", inc)
    split(file, part, "/")
    foreign = (inc ~ /^(kernel|plugins|tests)\//)
    rule = ""
    if (file ~ /^sdk\//) {
      if (inc !~ /^dialtone\//) rule = "sdk/ includes only its own headers (dialtone/...)"
    } else if (file ~ /^kernel\//) {
      if (inc ~ /^(plugins|tests)\//) rule = "the kernel never includes a plugin or a test"
    } else if (file ~ /^examples\//) {
      if (foreign) rule = "an example plugin includes only the SDK"
    } else if (file ~ /^plugins\/common\//) {
      if (foreign && inc !~ /^plugins\/common\//) rule = "plugins/common includes only the SDK and itself"
    } else if (file ~ /^plugins\/[^\/]+\/[^\/]+\//) {
      kind = part[2]; name = part[3]
      ok = (inc ~ /^plugins\/common\//) || index(inc, "plugins/" kind "/common/") == 1 ||
           index(inc, "plugins/" kind "/" name "/") == 1
      if (foreign && !ok)
        rule = "a plugin includes only sdk/, plugins/common/, plugins/" kind "/common/ and its own folder"
    }
    if (rule != "") { printf "%s:%s: #include \"%s\": %s\n", file, line, inc, rule; bad = 1 }
  }
  END {
    if (bad) { print "layout: includes break the rules of docs/architecture.md (see its first section)"; exit 1 }
    print "layout: every include follows docs/architecture.md"
  }'
