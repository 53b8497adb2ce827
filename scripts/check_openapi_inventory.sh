#!/usr/bin/env bash
# Every OpenAPI file in the tree is a contract with a test, run by ctest
# (docs.openapi_inventory): each file under kernel/ and plugins/ that starts
# an OpenAPI document ("openapi:") has a row in docs/api/README.md, and the
# drift test that row names exists in tests/. A new API file without its row
# (and so without a named test) fails here. Prints one line per problem.
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
readme=docs/api/README.md
status=0
files() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files --cached --others --exclude-standard -- kernel plugins
  else
    find kernel plugins -type f
  fi | grep -E '\.ya?ml$' | xargs -r grep -l -m1 -E '^openapi:' | sort
}
for f in $(files); do
  row=$(grep -F "\`$f\`" "$readme" | head -1 || true)
  if [ -z "$row" ]; then
    echo "$f: OpenAPI file without a row in $readme (add it with its drift test)"
    status=1
    continue
  fi
  # The last backquoted name of the row is its drift test: Suite.* or Suite.Test.
  test=$(printf '%s\n' "$row" | grep -oE '`[A-Za-z_.]+(\.\*)?`' | tail -1 | tr -d '`')
  name=${test%.\*}
  name=${name##*.}
  if [ -z "$name" ] || ! grep -rqE "\b$name\b" tests --include='*.cc'; then
    echo "$f: the drift test '$test' named in $readme is not in tests/"
    status=1
  fi
done
# Rows naming a file that no longer exists.
grep -oE '\| `(kernel|plugins)/[^`]+\.ya?ml`' "$readme" | sed 's/^| `//; s/`$//' | while read -r f; do
  [ -f "$f" ] || { echo "$readme: names $f, which does not exist"; exit 1; }
done || status=1
exit $status
