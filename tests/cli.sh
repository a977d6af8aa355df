#!/bin/sh
# Command-line tests: tests/cli.sh BULLETIN_BINARY.  Renders real sources,
# checks the PDFs with ../shared/checks/pdfcheck.sh, poppler and mutool, and
# checks every error path's diagnostic, exit status and that no file is left.
set -u
BIN=$1
. tests/lib.sh

# ---- the sample bulletin, English + Hebrew, parallel -------------------------
corpus en he > "$T/enhe.md"
"$BIN" "$T/enhe.md" -o "$T/enhe.pdf" --trace "$T/enhe.json" 2>"$T/err"; rc=$?
check "en+he renders (rc=$rc: $(head -c 300 "$T/err"))" [ $rc -eq 0 ]
check "en+he: no warnings" [ ! -s "$T/err" ]
check "en+he: pdfcheck passes" sh "$PDFCHECK" "$T/enhe.pdf" >"$T/pc" 2>&1 || cat "$T/pc" >&2
pdftotext -enc UTF-8 "$T/enhe.pdf" "$T/enhe.txt" 2>/dev/null
check "en+he: words of both languages extract in logical order" \
  python3 tests/words.py "$T/enhe.txt" ../shared/corpus/seed.en.txt ../shared/corpus/seed.he.txt
check "en+he: trace glyphs equal the PDF's glyphs" python3 tests/pdfglyphs.py trace-vs-pdf "$T/enhe.json" "$T/enhe.pdf"
check "en+he: every glyph run maps back to its source text through ToUnicode" \
  python3 tests/pdfglyphs.py tounicode "$T/enhe.json" "$T/enhe.pdf"
size=$(wc -c < "$T/enhe.pdf")
check "en+he: the two-page bulletin is under 60 KB ($size bytes)" [ "$size" -lt 61440 ]
check "en+he: fonts are subset" sh -c "pdffonts '$T/enhe.pdf' | awk 'NR>2 && \$(NF-3)!=\"yes\"{exit 1}'"

# ---- Arabic: joined letters, glyph IDs equal hb-shape -------------------------
corpus fr ar > "$T/frar.md"
"$BIN" "$T/frar.md" -o "$T/frar.pdf" --trace "$T/frar.json" 2>"$T/err"; rc=$?
check "fr+ar renders (rc=$rc: $(head -c 300 "$T/err"))" [ $rc -eq 0 ]
check "fr+ar: pdfcheck passes" sh "$PDFCHECK" "$T/frar.pdf" >"$T/pc" 2>&1 || cat "$T/pc" >&2
pdftotext -enc UTF-8 "$T/frar.pdf" "$T/frar.txt" 2>/dev/null
check "fr+ar: words of both languages extract in logical order" \
  python3 tests/words.py --unpointed "$T/frar.txt" ../shared/corpus/seed.fr.txt ../shared/corpus/seed.ar.txt
check "fr+ar: an Arabic line's glyphs in the PDF equal hb-shape's" \
  python3 tests/pdfglyphs.py hbshape "$T/frar.json" "$T/frar.pdf" ar
check "fr+ar: trace glyphs equal the PDF's glyphs" python3 tests/pdfglyphs.py trace-vs-pdf "$T/frar.json" "$T/frar.pdf"
check "fr+ar: ToUnicode gives back the source text" python3 tests/pdfglyphs.py tounicode "$T/frar.json" "$T/frar.pdf"

check "en+he: every glyph is hb-shape's (glyph and position)" python3 tests/pdfglyphs.py hbshape-all "$T/enhe.json" "$T/enhe.pdf"
check "fr+ar: every glyph is hb-shape's (glyph and position)" python3 tests/pdfglyphs.py hbshape-all "$T/frar.json" "$T/frar.pdf"
check "en+he: every /W width is its mapped glyph's advance" python3 tests/pdfglyphs.py widths - "$T/enhe.pdf"
check "fr+ar: every /W width is its mapped glyph's advance" python3 tests/pdfglyphs.py widths - "$T/frar.pdf"

# ---- pointed Hebrew (niqqud) and Arabic (tashkil) --------------------------------
"$BIN" tests/data/src/pointed.md --layout tests/data/src/ragged.yaml -o "$T/pointed.pdf" --trace "$T/pointed.json" 2>"$T/err"; rc=$?
check "pointed text renders (rc=$rc: $(head -c 300 "$T/err"))" [ $rc -eq 0 ]
check "pointed: pdfcheck passes" sh "$PDFCHECK" "$T/pointed.pdf" >/dev/null 2>&1
check "pointed: every glyph equals hb-shape's" python3 tests/pdfglyphs.py hbshape-all "$T/pointed.json" "$T/pointed.pdf"
check "pointed: ToUnicode gives back niqqud and tashkil in logical order" \
  python3 tests/pdfglyphs.py tounicode "$T/pointed.json" "$T/pointed.pdf"
check "pointed: a rendered line of each script looks like hb-view's" \
  python3 tests/pixels.py "$T/pointed.json" "$T/pointed.pdf" "$T"

# ---- several sources, standard input, layouts -------------------------------
corpus en fr > "$T/enfr.md"
"$BIN" "$T/enhe.md" - -o "$T/two.pdf" <"$T/enfr.md" 2>"$T/err"; rc=$?
check "two sources (one from stdin) render" [ $rc -eq 0 ]
p1=$(pdfinfo "$T/enhe.pdf" 2>/dev/null | awk '/^Pages:/{print $2}')
p2=$(pdfinfo "$T/two.pdf" 2>/dev/null | awk '/^Pages:/{print $2}')
check "two sources: more pages than one ($p1 < $p2)" [ "${p1:-0}" -lt "${p2:-0}" ]
for lay in stacked single letter; do
  "$BIN" "$T/enhe.md" --layout $lay -o "$T/$lay.pdf" 2>"$T/err"; rc=$?
  check "layout $lay renders (rc=$rc: $(head -c 200 "$T/err"))" [ $rc -eq 0 ]
  check "layout $lay: pdfcheck" sh "$PDFCHECK" "$T/$lay.pdf" >/dev/null 2>&1
done
"$BIN" "$T/enhe.md" --lang he -o "$T/he.pdf" 2>"$T/err"; rc=$?
check "--lang he renders" [ $rc -eq 0 ]
check "--lang he: no English body text" sh -c "! pdftotext '$T/he.pdf' - | grep -q 'groundbreaking'"

# ---- page furniture: once per document, as Form XObjects ----------------------
# Three bulletins made to differ in every paragraph but not in their furniture
# (bench/gen.sh): the classification banners, headers, footers and rules are
# groups (one per furniture box after its page label), made into forms once
# for the whole packet: four (two boxes; first page, later pages), each page
# showing two, page k of every bulletin the same two; the page labels stay on
# the pages.  The text of every page extracts with its banners, label and
# header, and every glyph (those in forms too) is in the font the trace says,
# the body text right after the furniture included.
sh bench/gen.sh "$T/enhe.md" 3 "$T/pk" >/dev/null
"$BIN" "$T"/pk/*.md -o "$T/pk.pdf" --trace "$T/pk.json" 2>"$T/err"; rc=$?
check "packet of 3 renders (rc=$rc: $(head -c 300 "$T/err"))" [ $rc -eq 0 ]
check "packet: pdfcheck passes" sh "$PDFCHECK" "$T/pk.pdf" >"$T/pc" 2>&1 || cat "$T/pc" >&2
# Pages are deflated on a second thread by default, here with -j 1: six pages
# (more than the four that may wait) give the same bytes either way.
"$BIN" -j 1 "$T"/pk/*.md -o "$T/pk1.pdf" 2>/dev/null
check "packet: -j 1 (pages deflated on this thread) gives the same bytes" cmp -s "$T/pk.pdf" "$T/pk1.pdf"
# The two columns of a parallel bulletin are set at once on two threads
# (layout-page.c); with -j 1 on one.  Same bytes, same trace, same messages in
# the same order, also when there are messages (then the columns are set
# again one after the other): characters no font has (private use), one in
# both languages (it is reported once, in the first), and an overlong word.
printf -- '---\nlanguages: [en, he]\ndate: 2021-11-24\ntitle: {en: T, he: ש}\n---\n::: en\nA sign \364\217\277\274 here.\n\nPneumonoultramicroscopicsilicovolcanoconiosispneumonoultramicroscopicsilicovolcanoconiosis ends it.\n:::\n::: he\nסימן \364\217\277\274 כאן, וגם \364\217\277\275.\n\nשלום.\n:::\n' > "$T/cols-warn.md"
printf 'extends: parallel\nswap: true\n' > "$T/cols-swap.yaml"
n=0
for args in "$T/enhe.md" "$T/cols-warn.md" "$T/frar.md" "--layout $T/cols-swap.yaml $T/enhe.md" "--layout $T/cols-swap.yaml $T/cols-warn.md"; do
  n=$((n + 1))
  # shellcheck disable=SC2086
  "$BIN" -j 1 $args -o "$T/cols$n.1.pdf" --trace "$T/cols$n.1.json" 2>"$T/cols$n.1.err"; rc1=$?
  # shellcheck disable=SC2086
  "$BIN" $args -o "$T/cols$n.2.pdf" --trace "$T/cols$n.2.json" 2>"$T/cols$n.2.err"; rc2=$?
  check "columns at once ($args): renders (rc $rc1, $rc2)" sh -c "[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ]"
  check "columns at once ($args): the same bytes as -j 1" cmp -s "$T/cols$n.1.pdf" "$T/cols$n.2.pdf"
  check "columns at once ($args): the same trace" cmp -s "$T/cols$n.1.json" "$T/cols$n.2.json"
  check "columns at once ($args): the same messages" cmp -s "$T/cols$n.1.err" "$T/cols$n.2.err"
done
check "columns at once: the messages were there to compare" \
  sh -c "[ \$(grep -c 'no font has U+10FFFC' '$T/cols2.2.err') -eq 1 ] && grep -q 'cols-warn.md:12:1: warning: no font has U+10FFFD;' '$T/cols2.2.err' \\
         && grep -q 'cols-warn.md:9:1: warning: .* is wider than its column' '$T/cols2.2.err'"
check "packet: one bookmark per bulletin, at its first page (1, 3, 5)" \
  sh -c "[ \"\$(mutool show '$T/pk.pdf' outline | sed -n 's/.*#page=\\([0-9]*\\).*/\\1/p' | tr '\\n' ' ')\" = '1 3 5 ' ]"
check "packet: trace glyphs equal the PDF's glyphs" python3 tests/pdfglyphs.py trace-vs-pdf "$T/pk.json" "$T/pk.pdf"
check "packet: every /W width is its mapped glyph's advance" python3 tests/pdfglyphs.py widths - "$T/pk.pdf"
check "packet: ToUnicode gives back the source text (forms included)" \
  python3 tests/pdfglyphs.py tounicode "$T/pk.json" "$T/pk.pdf"
cat > "$T/forms.py" <<'EOF'
import json, re, subprocess, sys
pdf, trace, nb = sys.argv[1], sys.argv[2], int(sys.argv[3])
q = json.loads(subprocess.run(["qpdf", "--json", "--json-key=qpdf", "--json-stream-data=none", pdf],
                              capture_output=True, text=True, check=True).stdout)["qpdf"][1]
obj = lambda ref: q["obj:" + ref].get("value", q["obj:" + ref].get("stream", {}).get("dict"))
kids = obj(obj("1 0 R")["/Pages"])["/Kids"]
forms = {k[4:] for k, v in q.items() if k.startswith("obj:") and (v.get("stream") or {}).get("dict", {}).get("/Subtype") == "/Form"}
errors = []
if len(forms) != 4:
    errors.append(f"{len(forms)} forms, want 4")
per = len(kids) // nb
shown = []
for i, ref in enumerate(kids):
    res = obj(ref)["/Resources"]
    if isinstance(res, str):  # pages with the same resources share one dictionary
        res = obj(res)
    xo = res.get("/XObject", {}) if isinstance(res, dict) else {}
    refs = sorted(xo.values())
    if len(refs) != 2 or not set(refs) <= forms:
        errors.append(f"page {i+1}: shows {refs}, want two of the forms")
    shown.append(refs)
for i in range(per, len(kids)):
    if shown[i] != shown[i - per]:
        errors.append(f"page {i+1} shows {shown[i]}, page {i+1-per} {shown[i-per]}")
if per > 1 and set(shown[0]) & set(shown[1]):
    errors.append("the first page shows a later page's form (they differ by the header)")
# every glyph in the font the trace says (subset tag aside)
out = subprocess.run(["mutool", "trace", pdf], capture_output=True, text=True, check=True).stdout
# (a ligature's second character is a <g> without a glyph)
fonts = [re.findall(r'<span font="[A-Z]{6}\+([^"]+)"|<g [^>]*glyph="\d', p) for p in re.findall(r'<page .*?</page>', out, re.S)]
t = json.load(open(trace, encoding="utf-8"))["pages"]
for i, (tp, seq) in enumerate(zip(t, fonts)):
    got, cur = [], None
    for f in seq:
        if f:
            cur = f
        else:
            got.append(cur)
    want = [r["font"].rsplit("/", 1)[-1].rsplit(".", 1)[0] for l in tp["lines"] for r in l["runs"] for _ in r["glyphs"]]
    if got != want:
        k = next((k for k, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        errors.append(f"page {i+1}: glyph {k} in {got[k:k+1]}, trace says {want[k:k+1]} ({len(got)} vs {len(want)} glyphs)")
for e in errors[:10]:
    print(e, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
check "packet: four forms in all, two on every page, page k of each bulletin the same; fonts as traced" \
  python3 "$T/forms.py" "$T/pk.pdf" "$T/pk.json" 3
np=$(pdfinfo "$T/pk.pdf" 2>/dev/null | awk '/^Pages:/{print $2}')
per=$((${np:-0} / 3)) i=1 textok=1
while [ "$i" -le "${np:-0}" ]; do
  pdftotext -f "$i" -l "$i" -enc UTF-8 "$T/pk.pdf" "$T/page.txt" 2>/dev/null
  k=$(( (i - 1) % per + 1 ))
  [ "$(grep -o UNCLASSIFIED "$T/page.txt" | wc -l)" -eq 2 ] || { textok=0; echo "page $i: not two banners" >&2; }
  grep -q "Page $k of $per" "$T/page.txt" || { textok=0; echo "page $i: no label 'Page $k of $per'" >&2; }
  [ "$k" -eq 1 ] || grep -q "MINISTRY OF DEFENSE" "$T/page.txt" || { textok=0; echo "page $i: no header" >&2; }
  i=$((i + 1))
done
check "packet: every page extracts two banners, its label and (after the first) the header" \
  [ "${np:-0}" -ge 6 ] && [ "$textok" -eq 1 ]

# ---- more than 223 glyphs of one font: two-byte codes, read back -----------
# (Latin, Latin-1 and Extended-A, Greek and Cyrillic letters, 354 of them, in
# Noto Serif: the first 223 get one-byte codes, the rest two-byte codes)
python3 -c "
cs = [chr(c) for c in list(range(0x41, 0x5B)) + list(range(0x61, 0x7B)) + list(range(0xC0, 0x17F)) +
      list(range(0x391, 0x3AA)) + list(range(0x3B1, 0x3CA)) + list(range(0x410, 0x450))]
cs = [c for c in cs if c.isalpha()]
print('---\\nlanguages: [en]\\ndate: 2021-11-24\\ntitle: Letters\\n---')
print(' '.join(''.join(cs[i:i + 8]) for i in range(0, len(cs), 8)))
" > "$T/many.md"
"$BIN" "$T/many.md" -o "$T/many.pdf" --trace "$T/many.json" 2>"$T/err"; rc=$?
check "354 letters: renders (rc=$rc: $(head -c 300 "$T/err"))" [ $rc -eq 0 ]
check "354 letters: pdfcheck passes" sh "$PDFCHECK" "$T/many.pdf" >"$T/pc" 2>&1 || cat "$T/pc" >&2
check "354 letters: over 223 glyphs of the body font" python3 -c "
import json, sys
g = {x[0] for p in json.load(open('$T/many.json', encoding='utf-8'))['pages'] for l in p['lines'] for r in l['runs']
     if r['font'].endswith('NotoSerif-Regular.ttf') for x in r['glyphs']}
sys.exit(0 if len(g) > 223 else 1)"
check "354 letters: trace glyphs equal the PDF's glyphs" python3 tests/pdfglyphs.py trace-vs-pdf "$T/many.json" "$T/many.pdf"
check "354 letters: ToUnicode gives back the text" python3 tests/pdfglyphs.py tounicode "$T/many.json" "$T/many.pdf"
check "354 letters: pdftotext finds the Greek and Cyrillic words" \
  sh -c "pdftotext -enc UTF-8 '$T/many.pdf' - | grep -q 'ΘΙΚΛΜΝΞΟ ΠΡΣΤΥΦΧΨ' && pdftotext -enc UTF-8 '$T/many.pdf' - | grep -q 'жзийклмн опрстуфх'"

# ---- justified lines that nothing can stretch stay aligned to their side -----
# One long Arabic word a line (no spaces; Arabic is never letter-spaced): the
# lines cannot fill the column, and right-to-left they end at its right edge.
W=$(printf '\330\247\331\204\330\247\330\263\330\252\330\261\330\247\330\252\331\212\330\254\331\212\330\247\330\252\331\207\330\247\331\204\330\247\330\263\330\252\330\261\330\247\330\252\331\212\330\254\331\212\330\247\330\252\331\207\330\247')
printf -- '---\nlanguages: [fr, ar]\ndate: 2021-11-24\ntitle: {fr: T, ar: T}\n---\n::: fr\nUn mot.\n:::\n::: ar\n%s %s %s\n:::\n' "$W" "$W" "$W" > "$T/longar.md"
"$BIN" "$T/longar.md" -o "$T/longar.pdf" --trace "$T/longar.json" 2>"$T/err"; rc=$?
check "long Arabic words: renders (rc=$rc)" [ $rc -eq 0 ]
check "long Arabic words: each line ends at the column's right edge" python3 -c "
import json, sys
ls = [l for p in json.load(open('$T/longar.json', encoding='utf-8'))['pages'] for l in p['lines']
      if l['lang'] == 'ar' and l['kind'] == 'paragraph']
edge = [l['x'] + l['width'] for l in json.load(open('$T/longar.json', encoding='utf-8'))['pages'][0]['lines'] if l['lang'] == 'ar' and l['kind'] == 'title']
bad = [(round(l['x'], 2), round(l['width'], 2)) for l in ls if abs(l['x'] + l['width'] - edge[0]) > 0.01]
print(len(ls), 'lines, title ends at', edge, file=sys.stderr)
sys.exit(1 if len(ls) < 3 or bad else 0)"

# ---- a write that fails part way: an error, no file, no temporary file -------
# (a file size limit of 4 KB; the PDF is about 36 KB)
mkdir -p "$T/fz"
(ulimit -f 8; trap '' XFSZ; "$BIN" samples/mod-2021-11-24.en-he.md -o "$T/fz/x.pdf") 2>"$T/err"; rc=$?
check "short write: exit 1 (got $rc)" [ $rc -eq 1 ]
check "short write: the reason, with the file's name" \
  grep -q "fz/x.pdf: error: cannot write the PDF: .*cannot write: File too large" "$T/err"
check "short write: nothing left behind" [ -z "$(ls -A "$T/fz")" ]
# The same while libharu is still serialising: an 80-bulletin packet is more
# than the writer's 256 KB buffer, so the write that fails (at 100 KB) is
# made part way through, and libharu goes on writing after it.
i=0; srcs=""
while [ $i -lt 80 ]; do srcs="$srcs samples/mod-2021-11-24.en-he.md"; i=$((i + 1)); done
"$BIN" $srcs -o "$T/big.pdf" 2>/dev/null
big=$(wc -c < "$T/big.pdf")
check "short write, part way: the packet is over the 256 KB buffer ($big bytes)" [ "$big" -gt 270000 ]
(ulimit -f 100; trap '' XFSZ; "$BIN" $srcs -o "$T/fz/big.pdf") 2>"$T/err"; rc=$?
check "short write, part way: exit 1 (got $rc)" [ $rc -eq 1 ]
check "short write, part way: the reason" grep -q "fz/big.pdf: error: cannot write the PDF: .*cannot write: File too large" "$T/err"
check "short write, part way: nothing left behind" [ -z "$(ls -A "$T/fz")" ]

# ---- emoji: warns once, still renders ---------------------------------------
printf -- '---\nlanguages: [en]\ndate: 2021-11-24\ntitle: Test\n---\nA rocket \360\237\232\200 here and \360\237\232\200 there.\n' > "$T/emoji.md"
"$BIN" "$T/emoji.md" -o "$T/emoji.pdf" 2>"$T/err"; rc=$?
check "emoji: renders" [ $rc -eq 0 ]
check "emoji: one warning naming U+1F680 and the line" \
  sh -c "[ \$(grep -c 'warning: no font has U+1F680' '$T/err') -eq 1 ] && grep -q 'emoji.md:6:1: warning' '$T/err'"

# Both languages: the warnings come
# in source order and a character warns once per bulletin.
printf -- '---\nlanguages: [en, he]\ndate: 2021-11-24\ntitle: {en: T, he: T}\n---\n::: en\nA rocket \360\237\232\200 here.\n\nSecond \360\237\232\201 para.\n:::\n::: he\nטיל \360\237\232\202 כאן.\n\nשני \360\237\232\200 \360\237\232\203.\n:::\n' > "$T/emoji2.md"
"$BIN" "$T/emoji2.md" -o "$T/emoji2.pdf" 2>"$T/err"; rc=$?
check "emoji in two languages: renders" [ $rc -eq 0 ]
check "emoji in two languages: four warnings in source order, U+1F680 once" \
  sh -c "[ \"\$(grep -o 'emoji2.md:[0-9]*:1: warning: no font has U+[0-9A-F]*' '$T/err' | tr '\n' ' ')\" = 'emoji2.md:7:1: warning: no font has U+1F680 emoji2.md:9:1: warning: no font has U+1F681 emoji2.md:12:1: warning: no font has U+1F682 emoji2.md:14:1: warning: no font has U+1F683 ' ]"

# ---- fontconfig finds a system font for a script no layout font covers ----------
printf -- '---\nlanguages: [en]\ndate: 2021-11-24\ntitle: Fallback\n---\nHindi: नमस्ते दुनिया; Greek: Καλημέρα.\n' > "$T/fallback.md"
"$BIN" "$T/fallback.md" -o "$T/fallback.pdf" --trace "$T/fallback.json" 2>"$T/err"; rc=$?
check "system font fallback: renders without warnings" sh -c "[ $rc -eq 0 ] && [ ! -s '$T/err' ]"
check "system font fallback: a Devanagari font is embedded" sh -c "pdffonts '$T/fallback.pdf' | grep -q Devanagari"
check "system font fallback: ToUnicode gives back the text" python3 tests/pdfglyphs.py tounicode "$T/fallback.json" "$T/fallback.pdf"

# ---- a word wider than its column: broken between letters, with a warning ------
W=$(python3 -c "print('Pneumonoultramicroscopicsilicovolcanoconiosis' * 3)")
printf -- "---\nlanguages: [en, he]\ndate: 2021-11-24\ntitle: {en: Long, he: ארוך}\n---\n::: en\nThe word $W is long.\n:::\n::: he\nמילה ארוכה.\n:::\n" > "$T/longword.md"
"$BIN" "$T/longword.md" -o "$T/longword.pdf" --trace "$T/longword.json" 2>"$T/err"; rc=$?
check "long word: renders" [ $rc -eq 0 ]
check "long word: warns at its line" grep -q "longword.md:7:1: warning: 'Pneumono.*' is wider than its column" "$T/err"
check "long word: no line wider than its column" python3 -c "
import json, sys
t = json.load(open('$T/longword.json'))
col = (595.28 - 2 * 51.02 - 22.68) / 2   # layouts/base.yaml: 18 mm margins, 8 mm gap
bad = [l for p in t['pages'] for l in p['lines'] if l['kind'] == 'paragraph' and l['width'] > col + 0.01]
sys.exit(1 if bad or not any('Pneumono' in l['text'] for p in t['pages'] for l in p['lines']) else 0)"

# ---- diagnostics: file:line:col, exit 1, no output ---------------------------
# expect NAME EXPECTED-STDERR-SUBSTRING (source on stdin)
expect() {
  name=$1 want=$2
  cat > "$T/$name.md"
  rm -f "$T/$name.pdf"
  "$BIN" "$T/$name.md" -o "$T/$name.pdf" 2>"$T/$name.err"; rc=$?
  check "$name: exit 1 (got $rc)" [ $rc -eq 1 ]
  check "$name: no output file" [ ! -e "$T/$name.pdf" ]
  check "$name: no temporary file left" sh -c "! ls '$T' | grep -q '$name.pdf.'"
  if grep -qF -- "$want" "$T/$name.err"; then ok; else bad "$name: stderr lacks '$want': $(head -c 400 "$T/$name.err")"; fi
}
FM='---\nlanguages: [en, he]\ndate: 2021-11-24\ntitle: {en: T, he: ש}\n---\n'
BODY='::: en\nHello.\n:::\n\n::: he\nשלום.\n:::\n'
printf -- "---\nlanguages: [en, he]\ntitle: X\n---\n$BODY" | expect no-date "no-date.md:2:1: error: missing required field 'date'"
printf -- "---\ndate: 2021-11-24\ntitle: X\n---\nHello\n" | expect no-langs "no-langs.md:2:1: error: missing required field 'languages'"
printf -- "---\nlanguages: [en, he]\ndate: 2021-11-24\n---\n$BODY" | expect no-title "no-title.md:2:1: error: missing required field 'title'"
printf -- "---\nlanguages: [en, xx]\ndate: 2021-11-24\ntitle: X\n---\n" | expect unknown-lang "unknown-lang.md:2:17: error: unknown language 'xx'"
printf -- "$FM::: en\nHello.\n:::\n" | expect missing-section "missing-section.md:2:17: error: language 'he' has no '::: he' section"
printf -- "$FM$BODY\n::: fr\nBonjour.\n:::\n" | expect extra-section "extra-section.md:14:5: error: section language 'fr' is not listed"
printf -- "$FM::: en\nHello.\n\n::: he\nשלום.\n:::\n" | expect unclosed "error: '::: he' inside another section"
printf -- "$FM::: en\nHello.\n:::\n::: he\nשלום.\n" | expect unclosed-end "unclosed-end.md:9:1: error: unclosed section: '::: he' has no closing ':::'"
printf -- "$FM::: en\nHel\377lo.\n:::\n" | expect bad-utf8 "bad-utf8.md:7:4: error: invalid UTF-8"
printf -- "---\nlanguages: [en, he\ndate: 2021-11-24\n---\n" | expect yaml-error "yaml-error.md:3:5: error: YAML:"
printf -- "---\nlanguages: [en]\ndate: 2021-13-45\ntitle: X\n---\nHi\n" | expect bad-date "bad-date.md:3:7: error: 'date' must be a date"
printf -- "$FM::: en\nOne.\n\nTwo.\n:::\n\n::: he\nאחת.\n:::\n" | expect unpaired "unpaired.md:12:1: error: section 'he' has 1 blocks but section 'en' has 2"
printf -- "---\nlanguages: [en]\ndate: 2021-11-24\ntitle: X\nlayout: nosuch\n---\nHi\n" | expect bad-layout "bad-layout.md:5:9: error: unknown layout 'nosuch'"
printf -- "no front matter\n" | expect no-fm "no-fm.md:1:1: error: a bulletin starts with YAML front matter"
printf -- "---\nlanguages: [en]\ndate: 2021-11-24\n" | expect open-fm "open-fm.md:1:1: error: the front matter opened here is not closed"
: > "$T/empty.md"; expect empty "empty.md:1:1: error: a bulletin starts with YAML front matter" < "$T/empty.md"
check "diagnostic shows the source line and a caret" sh -c "grep -q '^ date: 2021-13-45' '$T/bad-date.err' && grep -q '^       ^' '$T/bad-date.err'"
# --allow-unpaired lets a count mismatch through with a warning
"$BIN" "$T/unpaired.md" --allow-unpaired -o "$T/unpaired.pdf" 2>"$T/err"; rc=$?
check "--allow-unpaired renders" [ $rc -eq 0 ]
check "--allow-unpaired warns" grep -q "warning: section 'he' has 1 blocks" "$T/err"
# an unwritable output leaves nothing and exits 1
"$BIN" "$T/enhe.md" -o "$T/nodir/out.pdf" 2>"$T/err"; rc=$?
check "unwritable output: exit 1" [ $rc -eq 1 ]
check "unwritable output: message names the file" grep -q "nodir/out.pdf: error:" "$T/err"

# ---- corrupt fonts and images: an error naming the file, exit 1, no output ------
printf -- '---\nlanguages: [en]\ndate: 2021-11-24\ntitle: Fonts\n---\nHello.\n' > "$T/plain.md"
head -c 20000 fonts/NotoSerif-Regular.ttf > "$T/truncated.ttf"
: > "$T/zero.ttf"
echo "this is a text file, not a font" > "$T/text.ttf"
cp fonts/NotoSerifHebrew-Regular.ttf "$T/restricted.ttf"
python3 tests/corrupt.py restricted-font "$T/restricted.ttf"
cp fonts/NotoSerifHebrew-Regular.ttf "$T/badtable.ttf"; python3 tests/corrupt.py table-past-end "$T/badtable.ttf"
# bad_layout NAME LAYOUT-YAML WANT: rendering with that layout fails with WANT
# on stderr, exit status 1, and no output or temporary file left.
bad_layout() {
  f="$T/bad-$(echo "$1" | tr ' /' '__').yaml"
  printf '%b' "$2" > "$f"
  rm -f "$T/bad.pdf"
  "$BIN" "$T/plain.md" --layout "$f" -o "$T/bad.pdf" 2>"$T/err"; rc=$?
  check "$1: exit 1 (got $rc)" [ $rc -eq 1 ]
  check "$1: no output, no temporary" sh -c "[ ! -e '$T/bad.pdf' ] && ! ls '$T' | grep -q 'bad.pdf.'"
  if grep -qF -- "$3" "$T/err"; then ok; else bad "$1: want '$3', got: $(head -c 300 "$T/err")"; fi
}
font_layout() { printf 'extends: single\nlanguages:\n  "*":\n    fonts:\n      regular: [%s]\n' "$T/$1"; }
badfont() { bad_layout "font $1" "$(font_layout "$1")" "$T/$1: error: $2"; }
badfont truncated.ttf "truncated or corrupt font file"
badfont zero.ttf "empty file (zero bytes)"
badfont text.ttf "not a TrueType font file"
badfont restricted.ttf "the font's licence forbids embedding"
badfont badtable.ttf "truncated or corrupt font file (table"
# A stack's fallbacks open when a character first needs them (text.h): a
# broken fallback is an error for text that needs it, and unread otherwise.
printf 'extends: single\nlanguages:\n  "*":\n    fonts:\n      regular: [fonts/NotoSerif-Regular.ttf, %s]\n' \
  "$T/truncated.ttf" > "$T/fallback.yaml"
rm -f "$T/fb.pdf"
"$BIN" "$T/plain.md" --layout "$T/fallback.yaml" -o "$T/fb.pdf" 2>"$T/err"; rc=$?
check "an unneeded broken fallback font is never read (rc=$rc: $(head -c 200 "$T/err"))" [ $rc -eq 0 ]
check "unneeded fallback: no diagnostics" [ ! -s "$T/err" ]
check "unneeded fallback: pdfcheck passes" sh "$PDFCHECK" "$T/fb.pdf" >/dev/null 2>&1
printf -- '---\nlanguages: [en]\ndate: 2021-11-24\ntitle: Fonts\n---\nHello \327\251\327\234\327\225\327\235.\n' > "$T/needs-fallback.md"
rm -f "$T/fb.pdf"
"$BIN" "$T/needs-fallback.md" --layout "$T/fallback.yaml" -o "$T/fb.pdf" 2>"$T/err"; rc=$?
check "a needed broken fallback font: exit 1 (got $rc)" [ $rc -eq 1 ]
check "a needed broken fallback font: the error names it" grep -q "$T/truncated.ttf: error: truncated or corrupt font file" "$T/err"
check "a needed broken fallback font: no output, no temporary" sh -c "[ ! -e '$T/fb.pdf' ] && ! ls '$T' | grep -q 'fb.pdf.'"
check "a needed broken fallback font: reported once" [ "$(grep -c 'truncated.ttf: error' "$T/err")" -eq 1 ]
cp fonts/NotoSerif-Regular.ttf "$T/outlines.ttf"; python3 tests/corrupt.py bad-outlines "$T/outlines.ttf"
bad_layout "font with corrupt outlines" "$(font_layout outlines.ttf)" "font $T/outlines.ttf: corrupt font file (glyph"
pdftoppm -r 20 -png -singlefile "$T/enhe.pdf" "$T/good"
pdftoppm -r 20 -jpeg -singlefile "$T/enhe.pdf" "$T/good"
python3 tests/corrupt.py png "$T"
badimage() { bad_layout "image $1" "extends: single\nletterhead: {image: $T/$1, height: 15mm}\n" "$T/$1: error: $2"; }
badimage zero.png "empty file (zero bytes)"
badimage truncated.png "truncated or corrupt PNG"
badimage text.png "not a PNG or JPEG image"
badimage huge.png "image too large"
badimage truncated.jpg "truncated or corrupt JPEG"
printf 'extends: single\nletterhead: {image: %s, height: 15mm}\n' "$T/good.png" > "$T/img-good.yaml"
"$BIN" "$T/plain.md" --layout "$T/img-good.yaml" -o "$T/img.pdf" 2>"$T/err"; rc=$?
check "a valid letterhead PNG renders (rc=$rc: $(head -c 200 "$T/err"))" [ $rc -eq 0 ]
check "letterhead PDF passes pdfcheck" sh "$PDFCHECK" "$T/img.pdf" >/dev/null 2>&1

# ---- make install: the installed program finds its fonts and layouts ----------
if [ "$BIN" = build/bulletin ]; then
  make -s install DESTDIR="$T/inst" PREFIX=/opt/bl >/dev/null 2>&1; rc=$?
  check "make install DESTDIR=... PREFIX=... works" [ $rc -eq 0 ]
  check "installed: program, library, header, fonts, layouts" sh -c "[ -x '$T/inst/opt/bl/bin/bulletin' ] && [ -f '$T/inst/opt/bl/lib/libbulletin.a' ] && [ -f '$T/inst/opt/bl/include/bulletin.h' ] && [ -f '$T/inst/opt/bl/share/bulletin/fonts/NotoSerif-Regular.ttf' ] && [ -f '$T/inst/opt/bl/share/bulletin/layouts/parallel.yaml' ]"
  # run from an unrelated folder: data is found next to the executable, not through the cwd
  (cd "$T" && "$T/inst/opt/bl/bin/bulletin" "$T/enhe.md" --layout stacked -o "$T/installed.pdf" 2>"$T/err"); rc=$?
  check "installed program renders from another folder (rc=$rc: $(head -c 200 "$T/err"))" [ $rc -eq 0 ]
  # change the installed stacked layout to A5: the output must follow the installed copy
  printf 'extends: base\narrangement: stacked\npage: A5\n' > "$T/inst/opt/bl/share/bulletin/layouts/stacked.yaml"
  (cd "$T" && "$T/inst/opt/bl/bin/bulletin" "$T/enhe.md" --layout stacked -o "$T/installed-a5.pdf" 2>"$T/err")
  check "installed program reads the installed layouts" sh -c "pdfinfo '$T/installed-a5.pdf' | grep -q 'Page size: *419.5'"
fi

# ---- the compiled hyphenation cache ---------------------------------------------
# The same PDF whether the English dictionary comes from its cache entry or
# from libhyphen (no entry, caching off, a damaged entry, which is replaced);
# processes that start together with no entry all succeed.
SRC=samples/mod-2021-11-24.en-he.md C="$T/hcache"
BULLETIN_CACHE_DIR="$C" "$BIN" "$SRC" -o "$T/hc1.pdf" 2>"$T/err"; rc=$?
e=$(ls "$C"/hyph_en_US.dic-*.cache 2>/dev/null | head -n 1)
check "cache: the first run writes the en_US entry (rc=$rc, entry '$e')" sh -c "[ $rc -eq 0 ] && [ -s '$e' ]"
id1=$(stat -c '%i %s' "$e" 2>/dev/null)
BULLETIN_CACHE_DIR="$C" "$BIN" "$SRC" -o "$T/hc2.pdf" 2>"$T/err"; rc=$?
check "cache: a run from the entry gives the same PDF" sh -c "[ $rc -eq 0 ] && cmp -s '$T/hc1.pdf' '$T/hc2.pdf'"
check "cache: a valid entry is not rewritten" [ "$id1" = "$(stat -c '%i %s' "$e" 2>/dev/null)" ]
BULLETIN_CACHE_DIR= "$BIN" "$SRC" -o "$T/hc3.pdf" 2>"$T/err"; rc=$?
check "cache: caching off gives the same PDF" sh -c "[ $rc -eq 0 ] && cmp -s '$T/hc1.pdf' '$T/hc3.pdf'"
head -c 5000 "$e" > "$T/part" && cat "$T/part" > "$e"
BULLETIN_CACHE_DIR="$C" "$BIN" "$SRC" -o "$T/hc4.pdf" 2>"$T/err"; rc=$?
check "cache: a truncated entry: the same PDF, no warning" sh -c "[ $rc -eq 0 ] && [ ! -s '$T/err' ] && cmp -s '$T/hc1.pdf' '$T/hc4.pdf'"
check "cache: the truncated entry is rewritten whole" [ "$(wc -c < "$e")" = "${id1#* }" ]
head -c 400000 /dev/urandom > "$e"
BULLETIN_CACHE_DIR="$C" "$BIN" "$SRC" -o "$T/hc5.pdf" 2>"$T/err"; rc=$?
check "cache: random bytes for an entry: the same PDF" sh -c "[ $rc -eq 0 ] && cmp -s '$T/hc1.pdf' '$T/hc5.pdf'"
pids=
for i in 1 2 3 4; do
  BULLETIN_CACHE_DIR="$T/hcache2" "$BIN" "$SRC" -o "$T/hcp$i.pdf" 2>"$T/errp$i" & pids="$pids $!"
done
okp=0
for p in $pids; do wait "$p" && okp=$((okp + 1)); done
check "cache: 4 processes writing one entry at once all succeed ($okp)" [ $okp -eq 4 ]
check "cache: ... with the same PDF" sh -c "for i in 1 2 3 4; do cmp -s '$T/hc1.pdf' '$T/hcp'\$i.pdf || exit 1; done"
check "cache: ... and nothing but entries left" sh -c "[ -z \"\$(ls '$T/hcache2' | grep -v '\\.cache\$')\" ] && [ -n \"\$(ls '$T/hcache2')\" ]"

# ---- usage ---------------------------------------------------------------------
"$BIN" --help >"$T/out" 2>&1; rc=$?
check "--help exits 0 and prints usage" sh -c "[ $rc -eq 0 ] && grep -q '^usage: bulletin' '$T/out'"
"$BIN" --version >"$T/out" 2>&1; rc=$?
check "--version exits 0" sh -c "[ $rc -eq 0 ] && grep -q '^bulletin [0-9]' '$T/out'"
"$BIN" --bogus x.md -o y.pdf >/dev/null 2>"$T/err"; rc=$?
check "unknown option exits 2" sh -c "[ $rc -eq 2 ] && grep -q \"unknown option '--bogus'\" '$T/err'"
"$BIN" "$T/enhe.md" >/dev/null 2>"$T/err"; rc=$?
check "missing -o exits 2" [ $rc -eq 2 ]
"$BIN" "$T/does-not-exist.md" -o "$T/x.pdf" 2>"$T/err"; rc=$?
check "missing source: exit 1, names the file" sh -c "[ $rc -eq 1 ] && grep -q 'does-not-exist.md: error: cannot open' '$T/err' && [ ! -e '$T/x.pdf' ]"

done_tests
