#!/usr/bin/env python3
"""words.py EXTRACTED.txt SOURCE.txt...: every word of each source text (the
corpus files) occurs in the text pdftotext extracted, in logical order.

A word here is a maximal run of letters (with their marks) of one script, of
two letters or more: poppler's text extraction splits mixed runs such as
"ה-MENA" or "אל-לטיף" at the hyphen or the script change and may move the
neutral characters around them, but each letter run must come out whole and
in logical order (a reversed Hebrew word does not match).  A word hyphenated
at a line end counts when a line-final and a line-initial fragment join to it."""
import re, sys, unicodedata

# --unpointed: check only source words without combining marks (Arabic
# tashkil, Hebrew niqqud).  poppler splits a pointed word at its marks (it
# prints "وستم ّكن" for "وستمكّن") whatever order the glyphs are drawn in, so
# only unpointed text can be compared through pdftotext; the ToUnicode test in
# pdfglyphs.py checks pointed text exactly.
UNPOINTED = "--unpointed" in sys.argv
if UNPOINTED:
    sys.argv.remove("--unpointed")

def pointed(w):
    return any(unicodedata.category(c).startswith("M") for c in w)

def script(ch):
    o = ord(ch)
    if 0x0590 <= o <= 0x05FF or 0xFB1D <= o <= 0xFB4F:
        return "hebr"
    if 0x0600 <= o <= 0x06FF or 0x0750 <= o <= 0x077F or 0xFB50 <= o <= 0xFEFF:
        return "arab"
    return "latn"

def words(text):
    out, cur, sc = [], "", None
    for ch in unicodedata.normalize("NFC", text):
        cat = unicodedata.category(ch)
        if cat.startswith("L") or (cat.startswith("M") and cur):
            s = script(ch) if cat.startswith("L") else sc
            if cur and s != sc:
                out.append(cur)
                cur = ""
            cur += ch
            sc = s
        else:
            if cur:
                out.append(cur)
            cur, sc = "", None
    if cur:
        out.append(cur)
    return [w for w in out if sum(c.isalpha() for c in w) >= 2]

# pdftotext wraps right-to-left text in U+202B ... U+202C; they are not text.
ext = re.sub("[\u200e\u200f\u202a-\u202e\u2066-\u2069]", "", open(sys.argv[1], encoding="utf-8").read())
lines = [l for l in ext.splitlines() if words(l)]
have = set(words(ext))
ends = {words(l)[-1] for l in lines}
starts = {words(l)[0] for l in lines}
missing = []
nwords = 0
for src in sys.argv[2:]:
    for w in words(open(src, encoding="utf-8").read()):
        if UNPOINTED and pointed(w):
            continue
        nwords += 1
        if w in have or any(w[:k] in ends and w[k:] in starts for k in range(2, len(w) - 1)):
            continue
        missing.append((src, w))
if missing:
    print(f"{len(missing)} of {nwords} source words missing from the PDF text, e.g.:", file=sys.stderr)
    for s, w in missing[:10]:
        print(f"  {s}: {w}", file=sys.stderr)
    sys.exit(1)
print(f"all {nwords} source words found")
