#!/usr/bin/env python3
"""words.py EXTRACTED.txt SOURCE.txt...: every word of each source text (the
corpus files) occurs in the text pdftotext extracted, in logical order.
A word split by hyphenation at a line end counts when its two parts join."""
import re, sys, unicodedata

def words(text):
    out = []
    for w in re.split(r"[\s\u00a0\u202f]+", text):
        w = w.strip("\"'“”„«»()[]{}.,;:!?…·-–—/")
        if sum(ch.isalpha() for ch in w) >= 2:
            out.append(unicodedata.normalize("NFC", w))
    return out

ext = open(sys.argv[1], encoding="utf-8").read()
lines = [l.strip() for l in ext.splitlines()]
have = set(words(ext))
for a, b in zip(lines, lines[1:]):  # hyphenated at a line end
    if a and b:
        last, first = a.split()[-1], b.split()[0]
        for joined in (last.rstrip("-\u2010") + first, last + first):
            have.update(words(joined))
missing = []
for src in sys.argv[2:]:
    text = open(src, encoding="utf-8").read()
    for w in words(text):
        # punctuation glued inside words (e.g. "H.E.") is kept whole on both sides
        if w not in have and not any(part in have for part in [w.replace("'", "’")]):
            missing.append((src, w))
if missing:
    print(f"{len(missing)} source words missing from the PDF text, e.g.:", file=sys.stderr)
    for s, w in missing[:10]:
        print(f"  {s}: {w}", file=sys.stderr)
    sys.exit(1)
print(f"all words found ({len(have)} distinct extracted)")
