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
bad=0
# Tracked files in a git checkout (untracked ones too, unless ignored), every
# file elsewhere (a source tarball).
sources() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files --cached --others --exclude-standard -- sdk kernel plugins examples
  else
    find sdk kernel plugins examples -type f
  fi | grep -E '\.(h|hh|hpp|c|cc|cpp)$'
}
report() {
  echo "$1: $2"
  bad=1
}
while IFS= read -r hit; do
  file=${hit%%:*}
  rest=${hit#*:}
  line=${rest%%:*}
  inc=$(sed -E 's/^[^"]*"([^"]+)".*$/\1/' <<<"${rest#*:}")
  where="$file:$line: #include \"$inc\""
  case "$file" in
    sdk/*)
      case "$inc" in dialtone/*) ;; *) report "$where" "sdk/ includes only its own headers (dialtone/...)" ;; esac ;;
    kernel/*)
      case "$inc" in plugins/*|tests/*) report "$where" "the kernel never includes a plugin or a test" ;; esac ;;
    examples/*)
      case "$inc" in kernel/*|plugins/*|tests/*) report "$where" "an example plugin includes only the SDK" ;; esac ;;
    plugins/common/*)
      case "$inc" in plugins/common/*) ;; kernel/*|plugins/*|tests/*)
        report "$where" "plugins/common includes only the SDK and itself" ;; esac ;;
    plugins/*/*/*)
      kind=$(cut -d/ -f2 <<<"$file")
      name=$(cut -d/ -f3 <<<"$file")
      case "$inc" in
        plugins/common/*|"plugins/$kind/common/"*|"plugins/$kind/$name/"*) ;;
        kernel/*|plugins/*|tests/*)
          report "$where" "a plugin includes only sdk/, plugins/common/, plugins/$kind/common/ and its own folder" ;;
      esac ;;
  esac
done < <(sources | xargs -r grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' || true)
if [ "$bad" -ne 0 ]; then
  echo "layout: includes break the rules of docs/architecture.md (see its first section)"
  exit 1
fi
echo "layout: every include follows docs/architecture.md"
