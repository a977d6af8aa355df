#!/bin/sh
# Golden layout tests: tests/golden.sh BULLETIN [--update].  Each case renders
# a source with --trace and compares tests/golden.py's text form of the trace
# with tests/golden/CASE.txt.  `make golden` rewrites them; review the diff.
set -u
BIN=$1 UPDATE=${2:-}
. tests/lib.sh
# case name, layout, source
while read -r name layout src; do
  [ -n "$name" ] || continue
  "$BIN" "$src" --layout "$layout" -o "$T/$name.pdf" --trace "$T/$name.json" 2>"$T/$name.err" || {
    FAIL=$((FAIL + 1)); echo "FAIL: $name does not render: $(head -c 300 "$T/$name.err")" >&2; continue; }
  python3 tests/golden.py "$T/$name.json" > "$T/$name.txt"
  if [ "$UPDATE" = --update ]; then cp "$T/$name.txt" "tests/golden/$name.txt"; echo "updated tests/golden/$name.txt"; fi
  if diff -u "tests/golden/$name.txt" "$T/$name.txt" > "$T/$name.diff"; then PASS=$((PASS + 1))
  else FAIL=$((FAIL + 1)); echo "FAIL: $name differs from tests/golden/$name.txt:" >&2; head -n 30 "$T/$name.diff" >&2; fi
done <<CASES
en-he-parallel parallel samples/mod-2021-11-24.en-he.md
en-he-stacked stacked samples/mod-2021-11-24.en-he.md
fr-ar-parallel parallel samples/mod-2021-11-24.fr-ar.md
features parallel tests/data/src/features.md
CASES
done_tests
