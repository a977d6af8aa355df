#!/bin/sh
# Runs every test program (normal and ASan+UBSan builds) and the command-line
# tests, then prints the total as "N passed, N failed".  Run from the repo root
# (make check does).
set -u
cd "$(dirname "$0")/.." || exit 2
P=0 F=0
LOG=build/test-logs
mkdir -p "$LOG"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Compiled hyphenation dictionaries go to a scratch cache folder, never the
# real one; `BULLETIN_CACHE_DIR= make check` runs everything with caching off.
if [ "${BULLETIN_CACHE_DIR-unset}" != "" ]; then
  BULLETIN_CACHE_DIR=$(mktemp -d) || exit 2
  trap 'rm -rf "$BULLETIN_CACHE_DIR"' EXIT
fi
export BULLETIN_CACHE_DIR
run() { # name, command...
  name=$1; shift
  out="$LOG/$(echo "$name" | tr '/ ' '__').log"
  "$@" >"$out" 2>&1; rc=$?
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
  p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p'); f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
  [ -n "$p" ] || { p=0; f=1; }
  # a crash or sanitizer report after the summary still fails the program
  if [ $rc -ne 0 ] && [ "${f:-0}" -eq 0 ]; then f=1; fi
  P=$((P + p)); F=$((F + f))
  if [ "$f" -eq 0 ]; then echo "ok   $name ($p)"; else echo "FAIL $name ($p passed, $f failed; log: $out)"; grep -E 'FAIL|ERROR|runtime error|Sanitizer' "$out" | head -n 15; fi
}
# The tests of tests/test-*.c only (not a binary left over from a test that
# was renamed or removed); one that was not built fails.
for d in build/tests build/asan/tests; do
  for s in tests/test-*.c; do
    t=$d/$(basename "$s" .c)
    if [ -x "$t" ]; then run "$t" "$t"; else echo "FAIL $t was not built"; F=$((F + 1)); fi
  done
done
run "golden layouts" sh tests/golden.sh build/bulletin
run "cli (build/bulletin)" sh tests/cli.sh build/bulletin
run "cli (build/asan/bulletin)" sh tests/cli.sh build/asan/bulletin
run "cli-layout (build/bulletin)" sh tests/cli-layout.sh build/bulletin
run "cli-batch (build/bulletin)" sh tests/cli-batch.sh build/bulletin
run "cli-batch (build/asan/bulletin)" sh tests/cli-batch.sh build/asan/bulletin
echo "$P passed, $F failed"
[ "$F" -eq 0 ]
