#!/bin/sh
# Batch-mode tests: tests/cli-batch.sh BULLETIN_BINARY.  `bulletin -j N --outdir
# DIR SOURCE...` writes DIR/NAME.pdf per source with N threads: the outputs equal
# one-at-a-time renders, a failing source reports its own diagnostics (in source
# order, whatever the scheduling), leaves no file and makes the exit status 1
# while the others are still written; misuse is a usage error (exit 2).
set -u
BIN=$1
. tests/lib.sh
pages() { pdfinfo "$1" 2>/dev/null | awk '/^Pages:/{print $2}'; }
no_temp() { ! ls -A "$1" | grep -q '\.tmp'; }

mkdir -p "$T/src"
corpus en he > "$T/src/enhe.md"
corpus fr ar > "$T/src/frar.md"
corpus en fr > "$T/src/x.en-fr.md"
cp "$T/src/enhe.md" "$T/src/plain"   # no extension
FM='---\nlanguages: [en, he]\ndate: 2021-11-24\ntitle: {en: T, he: ש}\n---\n'
printf -- "---\ndate: 2021-11-24\ntitle: X\n---\nHello\n" > "$T/src/bad1.md"
printf -- "$FM::: en\nHello.\n:::\n" > "$T/src/bad2.md"
printf -- '---\nlanguages: [en]\ndate: 2021-11-24\ntitle: Test\n---\nA rocket \360\237\232\200 here.\n' > "$T/src/emoji.md"
# slow.md takes far longer than a source that fails while parsing, and warns on line 6
{ printf -- '---\nlanguages: [en]\ndate: 2021-11-24\ntitle: Slow\n---\nA rocket \360\237\232\200 here.\n\n'
  for i in 1 2 3 4 5 6 7 8 9 10; do tail -n +2 ../shared/corpus/seed.en.txt; echo; done; } > "$T/src/slow.md"

# ---- three sources, two threads ----------------------------------------------
"$BIN" -j 2 --outdir "$T/out" "$T/src/enhe.md" "$T/src/frar.md" "$T/src/x.en-fr.md" "$T/src/plain" 2>"$T/err"; rc=$?
check "-j 2: renders (rc=$rc: $(head -c 300 "$T/err"))" [ $rc -eq 0 ]
# (not an empty stderr: LeakSanitizer lists the suppression that libhyphen's
# French dictionary needs, see text-bidi.c)
check "-j 2: no diagnostics" sh -c "! grep -qE 'error|warning' '$T/err'"
check "-j 2: --outdir is created" [ -d "$T/out" ]
check "-j 2: one PDF per source, named after it" \
  sh -c "[ \"\$(ls '$T/out' | tr '\n' ' ')\" = 'enhe.pdf frar.pdf plain.pdf x.en-fr.pdf ' ]"
for n in enhe frar x.en-fr; do
  check "-j 2: $n.pdf passes pdfcheck" sh "$PDFCHECK" "$T/out/$n.pdf" >"$T/pc" 2>&1 || cat "$T/pc" >&2
  "$BIN" "$T/src/$n.md" -o "$T/$n.single.pdf" 2>/dev/null
  check "-j 2: $n.pdf has the pages of a one-source render" [ "$(pages "$T/out/$n.pdf")" = "$(pages "$T/$n.single.pdf")" ]
  pdftotext -enc UTF-8 "$T/out/$n.pdf" "$T/$n.batch.txt" 2>/dev/null
  pdftotext -enc UTF-8 "$T/$n.single.pdf" "$T/$n.single.txt" 2>/dev/null
  check "-j 2: $n.pdf has the text of a one-source render" cmp -s "$T/$n.batch.txt" "$T/$n.single.txt"
  check "-j 2: $n.pdf is byte for byte the one-source render" cmp -s "$T/out/$n.pdf" "$T/$n.single.pdf"
done
check "-j 2: no temporary files left" no_temp "$T/out"

# ---- a layout named relative to each source's folder is that folder's --------
mkdir -p "$T/rel/a" "$T/rel/b"
printf 'extends: parallel\npage: {size: A4}\n' > "$T/rel/a/custom.yaml"
printf 'extends: parallel\npage: {size: A5}\n' > "$T/rel/b/custom.yaml"
for d in a b; do
  sed 's/^languages:/layout: custom.yaml\nlanguages:/' "$T/src/enhe.md" > "$T/rel/$d/doc$d.md"
done
"$BIN" -j 1 --outdir "$T/rel/out" "$T/rel/a/doca.md" "$T/rel/b/docb.md" 2>/dev/null
check "-j 1: each source's own custom.yaml (A4, then A5)" \
  sh -c "pdfinfo '$T/rel/out/doca.pdf' | grep -q 'Page size: *595' && pdfinfo '$T/rel/out/docb.pdf' | grep -q 'Page size: *419'"

# ---- reproducible bytes: the same source three times in one batch (the later
# ones reuse the process's cached layout and subset font files) ----------------
mkdir -p "$T/same"
for n in a b c; do cp "$T/src/enhe.md" "$T/same/$n.md"; done
"$BIN" -j 2 --outdir "$T/same/out" "$T/same/a.md" "$T/same/b.md" "$T/same/c.md" 2>/dev/null
"$BIN" "$T/src/enhe.md" -o "$T/same/single.pdf" 2>/dev/null
for n in a b c; do
  check "-j 2: $n.pdf is byte for byte the one-source render" cmp -s "$T/same/out/$n.pdf" "$T/same/single.pdf"
done

# ---- more files than one publishing group (16 per sync): 20 sources, one of
# them blocked by a folder; every other file is the one-source render --------
mkdir -p "$T/many/src"
i=0
while [ $i -lt 20 ]; do
  if [ $((i % 2)) -eq 0 ]; then cp "$T/src/enhe.md" "$T/many/src/m$i.md"; else cp "$T/src/frar.md" "$T/many/src/m$i.md"; fi
  i=$((i + 1))
done
mkdir -p "$T/many/out/m13.pdf/inner"
"$BIN" -j 2 --outdir "$T/many/out" $(i=0; while [ $i -lt 20 ]; do printf '%s ' "$T/many/src/m$i.md"; i=$((i + 1)); done) \
  2>"$T/err"; rc=$?
check "20 sources, one blocked: exit 1 (got $rc)" [ $rc -eq 1 ]
check "20 sources, one blocked: only m13 reported" \
  sh -c "[ \$(grep -c 'error:' '$T/err') -eq 1 ] && grep -q 'm13.pdf: error: cannot write the PDF: .*cannot rename' '$T/err'"
same=0
i=0
while [ $i -lt 20 ]; do
  if [ $i -ne 13 ]; then
    if [ $((i % 2)) -eq 0 ]; then ref="$T/enhe.single.pdf"; else ref="$T/frar.single.pdf"; fi
    cmp -s "$T/many/out/m$i.pdf" "$ref" && same=$((same + 1))
  fi
  i=$((i + 1))
done
check "20 sources, one blocked: the 19 others are the one-source renders ($same)" [ $same -eq 19 ]
check "20 sources, one blocked: no temporary file left, the folder untouched" \
  sh -c "no_temp() { ! ls -A \"\$1\" | grep -q '\\.tmp'; }; no_temp '$T/many/out' && [ -d '$T/many/out/m13.pdf/inner' ]"

# more sources than threads, default -j, -j 1; a trailing slash on DIR
for j in "-j 1" "" "-j 3"; do
  rm -rf "$T/o"
  "$BIN" $j --outdir "$T/o/" "$T/src/enhe.md" "$T/src/frar.md" "$T/src/x.en-fr.md" "$T/src/plain" 2>"$T/err"; rc=$?
  check "'${j:-no -j}': renders all four (rc=$rc)" sh -c "[ $rc -eq 0 ] && [ \$(ls '$T/o' | grep -c '\.pdf$') -eq 4 ]"
  check "'${j:-no -j}': same pages as -j 2" [ "$(pages "$T/o/frar.pdf")" = "$(pages "$T/out/frar.pdf")" ]
done

# ---- failures: diagnostics per source, in order; the others still written ----
rm -rf "$T/f"
"$BIN" -j 2 --outdir "$T/f" "$T/src/bad1.md" "$T/src/enhe.md" "$T/src/bad2.md" "$T/src/frar.md" \
  "$T/src/missing.md" 2>"$T/err"; rc=$?
check "failing sources: exit 1 (got $rc)" [ $rc -eq 1 ]
check "failing sources: the good ones are written" sh -c "[ -s '$T/f/enhe.pdf' ] && [ -s '$T/f/frar.pdf' ]"
check "failing sources: no PDF for a failed one" \
  sh -c "[ ! -e '$T/f/bad1.pdf' ] && [ ! -e '$T/f/bad2.pdf' ] && [ ! -e '$T/f/missing.pdf' ]"
check "failing sources: no temporary files left" no_temp "$T/f"
check "failing sources: each reports file:line:col" \
  sh -c "grep -q 'bad1.md:2:1: error: missing required field .languages.' '$T/err' &&
         grep -q \"bad2.md:2:17: error: language 'he' has no '::: he' section\" '$T/err'"
check "failing sources: a missing file is named" grep -q "missing.md: error: cannot open" "$T/err"
check "failing sources: diagnostics come in source order" \
  sh -c "grep -n 'error:' '$T/err' | sed -n 's/.*src\/\([a-z0-9]*\)\.md.*/\1/p' | tr '\n' ' ' | grep -qx 'bad1 bad2 missing '"
check "failing sources: one source's lines are not split by another's" \
  sh -c "awk '/bad1.md:2:1: error/ { getline a; getline b; exit !(a ~ /^ date: 2021-11-24/ && b ~ /^ \\^/) }' '$T/err'"
# A file that cannot be put in place (a folder in the way of frar.pdf): the
# publishing thread reports it in the source's turn, removes the temporary
# file, and the exit status is 1.
rm -rf "$T/blk"; mkdir -p "$T/blk/frar.pdf/inner"
"$BIN" -j 2 --outdir "$T/blk" "$T/src/enhe.md" "$T/src/frar.md" "$T/src/bad1.md" 2>"$T/err"; rc=$?
check "blocked output: exit 1 (got $rc)" [ $rc -eq 1 ]
check "blocked output: named, with the reason" \
  grep -q "blk/frar.pdf: error: cannot write the PDF: .*cannot rename the temporary file into place" "$T/err"
check "blocked output: in source order (frar before bad1)" \
  sh -c "grep 'error:' '$T/err' | sed -n 's/.*\/\(frar\|bad1\).*/\1/p' | tr '\n' ' ' | grep -qx 'frar bad1 '"
check "blocked output: the others are written, no temporary file left" \
  sh -c "[ -s '$T/blk/enhe.pdf' ] && [ -d '$T/blk/frar.pdf/inner' ] && ! ls -A '$T/blk' | grep -q '\.tmp'"
# Diagnostics follow the sources' order, not the order the jobs finish in: slow.md
# (first) still renders when bad1 and bad2 have long failed on the other thread.
"$BIN" -j 2 --outdir "$T/s" "$T/src/slow.md" "$T/src/bad1.md" "$T/src/bad2.md" 2>"$T/err"; rc=$?
check "slow source first: exit 1" [ $rc -eq 1 ]
check "slow source first: its warning comes before the later sources' errors" \
  sh -c "grep -E 'warning:|error:' '$T/err' | sed -n 's/.*src\/\([a-z0-9]*\)\.md.*/\1/p' | tr '\n' ' ' | grep -qx 'slow bad1 bad2 '"
"$BIN" -j 1 --outdir "$T/s1" "$T/src/slow.md" "$T/src/bad1.md" "$T/src/bad2.md" 2>"$T/err1"
check "-j 1 and -j 2 print the same diagnostics" cmp -s "$T/err" "$T/err1"

# warnings: once per source, -q silences them
"$BIN" -j 2 --outdir "$T/w" "$T/src/emoji.md" "$T/src/enhe.md" 2>"$T/err"; rc=$?
check "warning: exit 0" [ $rc -eq 0 ]
check "warning: printed once with its location" \
  sh -c "[ \$(grep -c 'warning: no font has U+1F680' '$T/err') -eq 1 ] && grep -q 'emoji.md:6:1: warning' '$T/err'"
"$BIN" -q -j 2 --outdir "$T/w" "$T/src/emoji.md" "$T/src/enhe.md" 2>"$T/err"; rc=$?
check "-q: no warnings in batch mode" sh -c "[ $rc -eq 0 ] && ! grep -q 'warning' '$T/err'"

# an --outdir that is a file
: > "$T/afile"
"$BIN" --outdir "$T/afile" "$T/src/enhe.md" 2>"$T/err"; rc=$?
check "--outdir is a file: exit 1, names it" sh -c "[ $rc -eq 1 ] && grep -q 'afile: error: cannot create the output folder' '$T/err'"

# ---- usage errors: exit 2, nothing written -------------------------------------
usage() { # description, expected stderr substring, args...
  d=$1 want=$2; shift 2
  rm -rf "$T/u"
  "$BIN" "$@" >/dev/null 2>"$T/err"; rc=$?
  check "$d: exit 2 (got $rc)" [ $rc -eq 2 ]
  check "$d: nothing written" [ ! -e "$T/u" ]
  if grep -qF -- "$want" "$T/err"; then ok; else bad "$d: stderr lacks '$want': $(head -c 300 "$T/err")"; fi
}
# -j with -o: threads for the one PDF; -j 1 (one thread) gives the same bytes
"$BIN" -j 1 "$T/src/enhe.md" -o "$T/j1.pdf" 2>/dev/null; rc1=$?
"$BIN" -j 2 "$T/src/enhe.md" -o "$T/j2.pdf" 2>/dev/null; rc2=$?
check "-j 1 and -j 2 with -o render the same bytes" sh -c "[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && cmp -s '$T/j1.pdf' '$T/j2.pdf'"
usage "-o with --outdir" "-o and --outdir exclude each other" --outdir "$T/u" -o "$T/u.pdf" "$T/src/enhe.md"
usage "--trace with --outdir" "--trace cannot be used with --outdir" --outdir "$T/u" --trace "$T/u.json" "$T/src/enhe.md"
usage "-j 0" "-j needs a number of jobs from 1 to 256, not '0'" -j 0 --outdir "$T/u" "$T/src/enhe.md"
usage "-j abc" "not 'abc'" -j abc --outdir "$T/u" "$T/src/enhe.md"
usage "-j without a value" "option '-j' needs a value" --outdir "$T/u" "$T/src/enhe.md" -j
usage "standard input with --outdir" "standard input ('-') has no name" --outdir "$T/u" - <"$T/src/enhe.md"
usage "two sources, one name" "two sources would write the same file under --outdir" \
  --outdir "$T/u" "$T/src/enhe.md" "$T/src/../src/enhe.md"
usage "--outdir without sources" "no source file given" --outdir "$T/u"
check "--help documents --outdir and -j" sh -c "'$BIN' --help | grep -q -- '--outdir DIR' && '$BIN' --help | grep -q -- '-j, --jobs N'"

done_tests
