#!/bin/sh
# Layout acceptance tests (issue 4): tests/cli-layout.sh BULLETIN_BINARY.
# Renders every corpus pairing and the fixtures in tests/data/layout-cases/
# with --trace and checks the trace with tests/layout_checks.py: paired blocks
# on one baseline, lines and glyphs inside their columns, widows and orphans,
# no heading at a column's foot, "Page N of M" in every language, a paragraph
# pair over three pages kept in step, justification quality in an 80 mm
# column (measured and printed), and layout-file errors.  Run from the
# repository root.  (Trace glyphs against the PDF: tests/cli.sh.)
set -u
BIN=$1
. tests/lib.sh
CASES=tests/data/layout-cases
lc() { python3 tests/layout_checks.py "$@"; }

# render NAME SOURCE [OPTION...]: PDF and trace in $T/NAME.{pdf,json}
render() {
  name=$1 src=$2; shift 2
  rm -f "$T/$name.json"
  timeout 20 "$BIN" "$src" "$@" -o "$T/$name.pdf" --trace "$T/$name.json" 2>"$T/$name.err"; rc=$?
  check "$name renders (rc=$rc: $(head -c 300 "$T/$name.err"))" [ $rc -eq 0 ]
}

# accept NAME LAYOUT LANGS SOURCE: the trace checks of issue 4's acceptance
accept() {
  name=$1 layout=$2 langs=$3 src=$4
  set -- --layout "$layout" --langs "$langs" --source "$src"
  case $layout in
  stacked|single) ;;
  *) check "$name: paired blocks start on the same baseline" lc pairs "$T/$name.json" "$@" ;;
  esac
  check "$name: no line or glyph outside its column" lc columns "$T/$name.json" "$@"
  check "$name: no widow or orphan, no paragraph under four lines split" lc breaks "$T/$name.json" "$@"
  check "$name: no heading is the last line of a column" lc headings "$T/$name.json" "$@"
  check "$name: every page has its header and footer, Page N of M" lc furniture "$T/$name.json" "$@"
}

# ---- every corpus pairing, parallel; en+he stacked and Hebrew alone ------------
for pair in "en he" "he en" "fr ar" "en fr"; do
  name=$(echo "$pair" | tr -d ' ')
  corpus $pair > "$T/$name.md"
  render "$name" "$T/$name.md"
  accept "$name" parallel "$(echo "$pair" | tr ' ' ,)" "$T/$name.md"
done
render enhe-stacked "$T/enhe.md" --layout stacked
accept enhe-stacked stacked en,he "$T/enhe.md"
render enhe-he "$T/enhe.md" --lang he
accept enhe-he single he "$T/enhe.md"

# ---- headings: thirty sections, headings at every height of the page -----------
render headings "$CASES/headings.md"
accept headings parallel en,he "$CASES/headings.md"
check "headings: some column begins with a heading (the fixture reaches a page's foot)" \
  lc headings "$T/headings.json" --layout parallel --langs en,he --min-heading-tops 1
render headings-stacked "$CASES/headings.md" --layout stacked
accept headings-stacked stacked en,he "$CASES/headings.md"

# ---- a paragraph pair over three pages -------------------------------------------
render long-pair "$CASES/long-pair.md"
accept long-pair parallel en,he "$CASES/long-pair.md"
check "long-pair: both columns split and resume in step over pages 1, 2 and 3" \
  lc longpair "$T/long-pair.json" "$CASES/long-pair.md" --langs en,he

# ---- the checks catch what they are meant to catch --------------------------------
if [ -s "$T/enhe.json" ] && [ -s "$T/long-pair.json" ]; then
  check "every trace check fails on a doctored trace" \
    lc selftest "$T/enhe.json" "$T/enhe.md" "$T/long-pair.json" "$CASES/long-pair.md"
else
  bad "selftest: no trace to doctor"
fi

# ---- justification quality at an 80 mm column (measured and printed) --------------
for l in en fr; do
  render "col80-$l" "$T/enfr.md" --layout "$CASES/col80.yaml" --lang $l
  check "col80-$l: no line or glyph outside the 80 mm column" \
    lc columns "$T/col80-$l.json" --layout "$CASES/col80.yaml" --langs $l
done
check "justification: >= 95% of justified lines within 0.8-1.5x natural spaces, none beyond 2x" \
  lc justify "$T/col80-en.json" "$T/col80-fr.json"

# ---- layout errors: file:line:col, exit 1, no output, no endless pages -------------
# layout_error FIXTURE LINE MESSAGE-SUBSTRING: the fixture's bad key is on LINE
layout_error() {
  f=$CASES/$1.yaml want_line=$2 want=$3
  rm -f "$T/err.pdf" "$T/err.json"
  timeout 20 "$BIN" "$T/enhe.md" --layout "$f" -o "$T/err.pdf" --trace "$T/err.json" 2>"$T/$1.err"; rc=$?
  check "$1: exit 1 within 20 s (got $rc)" [ $rc -eq 1 ]
  check "$1: no PDF and no trace written" sh -c "[ ! -e '$T/err.pdf' ] && [ ! -e '$T/err.json' ] && ! ls '$T' | grep -q '^err\.\(pdf\|json\)\.'"
  if grep -q "^$f:$want_line:[0-9][0-9]*: error: .*$want" "$T/$1.err"; then ok
  else bad "$1: stderr lacks '$f:$want_line:COL: error: ...$want': $(head -c 300 "$T/$1.err")"; fi
  check "$1: the diagnostic quotes the layout line" grep -qF -- " $(sed -n "${want_line}p" "$f")" "$T/$1.err"
}
layout_error err-bad-extends 2 "unknown layout 'no-such-layout'"
layout_error err-missing-font 3 "NoSuchFont.ttf"
layout_error err-missing-image 3 "no-such-emblem.png"
layout_error err-wide-margins 3 "page width"
layout_error err-tall-margins 3 "page height"
layout_error err-wide-gap 3 "column-gap"
layout_error err-negative-gap 3 "column-gap"
layout_error err-zero-size 3 "text.size"
layout_error err-negative-size 3 "text.size"
layout_error err-zero-leading 3 "text.leading"
layout_error err-zero-heading 3 "headings"
layout_error err-zero-page 3 "page.width"
layout_error err-negative-page 3 "page.height"
# a text area (5 mm) lower than the title's line: an error in the layout file
layout_error err-tiny-area 3 ""
# unknown names and files on the command line
for lay in no-such-layout "$CASES/no-such-file.yaml"; do
  rm -f "$T/err.pdf"
  timeout 20 "$BIN" "$T/enhe.md" --layout "$lay" -o "$T/err.pdf" 2>"$T/err"; rc=$?
  check "--layout $lay: exit 1, no output, message names it (rc=$rc: $(head -c 200 "$T/err"))" \
    sh -c "[ $rc -eq 1 ] && [ ! -e '$T/err.pdf' ] && grep -qF -- '$lay' '$T/err'"
done
# a text area one line high (9 mm): finishes, and whatever it does, no page
# is left without text (no run of empty pages)
timeout 20 "$BIN" "$T/enhe.md" --layout "$CASES/one-line-area.yaml" -o "$T/one.pdf" --trace "$T/one.json" 2>"$T/one.err"; rc=$?
check "one-line-area: exit 0 or 1 within 20 s (got $rc)" [ $rc -le 1 ]
if [ $rc -eq 0 ]; then
  check "one-line-area: every page has text" lc pages-have-text "$T/one.json"
else
  check "one-line-area: fails with a diagnostic in the layout file" grep -q "^$CASES/one-line-area.yaml:[0-9]*:[0-9]*: error:" "$T/one.err"
fi

done_tests
