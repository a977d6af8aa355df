#!/usr/bin/env python3
"""golden.py TRACE.json: prints a layout trace as stable text for golden tests:
one line per laid-out line (page, language, kind, block, x, baseline, width
rounded to 0.01 pt, text).  Glyph-level checks live in pdfglyphs.py."""
import json, sys

for page in json.load(open(sys.argv[1], encoding="utf-8"))["pages"]:
    print(f"page {page['number']} {page['width']:.2f}x{page['height']:.2f}")
    for l in page["lines"]:
        print(f"  {l['lang']} {l['kind']} {l['block']} x={l['x']:.2f} y={l['baseline']:.2f} w={l['width']:.2f} |{l['text']}|")
