# tests/lib.sh - the shell test harness, sourced by tests/cli*.sh (run from
# the repository root).  Each check counts once; `done_tests` prints the line
# "N passed, N failed" that tests/run.sh adds up, and sets the exit status.
# Provides $T, a temporary folder removed at exit, and sets BULLETIN_CACHE_DIR.
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
# The hyphenation cache: tests/run.sh's scratch folder (or "": off), else one
# in $T, so that a script run by hand does not write to the real cache either.
export BULLETIN_CACHE_DIR="${BULLETIN_CACHE_DIR-$T/cache}"
PASS=0 FAIL=0
PDFCHECK=${PDFCHECK:-../shared/checks/pdfcheck.sh}
ok() { PASS=$((PASS + 1)); }
bad() { FAIL=$((FAIL + 1)); echo "FAIL: $*" >&2; }
check() { # description, command...
  d=$1; shift
  if "$@"; then ok; else bad "$d"; fi
}
# A bulletin source made from the shared corpus: corpus LANG... > FILE
corpus() { CORPUS=${CORPUS:-../shared/corpus} sh tools/corpus-source.sh "$@"; }
done_tests() {
  echo "$PASS passed, $FAIL failed"
  [ "$FAIL" -eq 0 ]
}
