#!/usr/bin/env python3
"""pixels.py TRACE.json FILE.pdf TMPDIR: one rendered line of Hebrew with
niqqud and one of Arabic with tashkil look like hb-view's drawing of the same
text with the same font and size.

For each of he and ar: the longest glyph run of the language's first
paragraph line is cut out of the page rendered by pdftoppm (288 dpi, gray),
hb-view draws the run's text (PDF, rendered the same way), both are reduced
to their ink (gray < 128) cropped to its bounding box, and every ink pixel of
each image must have ink within one pixel in the other (99.5% or more, both
ways), with bounding boxes equal within 2 pixels."""
import json, subprocess, sys, os

DPI = 288
K = DPI / 72.0

def pgm(path):
    data = open(path, "rb").read()
    parts, i = [], 0
    while len(parts) < 4:  # P5 w h maxval
        while data[i:i + 1].isspace():
            i += 1
        j = i
        while not data[j:j + 1].isspace():
            j += 1
        parts.append(data[i:j])
        i = j
    w, h = int(parts[1]), int(parts[2])
    px = data[i + 1:]
    return w, h, px

def ink(img):
    w, h, px = img
    pts = {(x, y) for y in range(h) for x in range(w) if px[y * w + x] < 128}
    if not pts:
        return set(), (0, 0)
    x0 = min(p[0] for p in pts); y0 = min(p[1] for p in pts)
    x1 = max(p[0] for p in pts); y1 = max(p[1] for p in pts)
    return {(x - x0, y - y0) for x, y in pts}, (x1 - x0 + 1, y1 - y0 + 1)

def covered(a, b):
    if not a:
        return 0.0
    hit = sum(1 for (x, y) in a if any((x + dx, y + dy) in b for dx in (-1, 0, 1) for dy in (-1, 0, 1)))
    return hit / len(a)

def main():
    trace, pdf, tmp = sys.argv[1:4]
    pages = json.load(open(trace, encoding="utf-8"))["pages"]
    failures = 0
    for lang in ("he", "ar"):
        found = None
        for page in pages:
            for line in page["lines"]:
                if line["lang"] == lang and line["kind"] == "paragraph":
                    run = max(line["runs"], key=lambda r: len(r["glyphs"]))
                    found = (page, line, run)
                    break
            if found:
                break
        if not found:
            print(f"{lang}: no paragraph line", file=sys.stderr)
            failures += 1
            continue
        page, line, run = found
        size = run["size"]
        xs = [g[0 + 1] for g in run["glyphs"]]
        x0, x1 = min(xs) - size, max(xs) + 2 * size
        top, bottom = line["baseline"] + 1.0 * size, line["baseline"] - 0.45 * size
        ours = os.path.join(tmp, f"ours-{lang}")
        subprocess.run(["pdftoppm", "-r", str(DPI), "-gray", "-f", str(page["number"]), "-l", str(page["number"]),
                        "-x", str(int(x0 * K)), "-y", str(int((page["height"] - top) * K)),
                        "-W", str(int((x1 - x0) * K)), "-H", str(int((top - bottom) * K)), "-singlefile",
                        pdf, ours], check=True)
        ref = os.path.join(tmp, f"hbview-{lang}")
        subprocess.run(["hb-view", run["font"], run["text"], "--font-size=%g" % size, "--margin=%g" % size,
                        "--direction=" + ("rtl" if run["rtl"] else "ltr"), "--language=" + lang,
                        "--cluster-level=1", "-O", "pdf", "-o", ref + ".pdf"], check=True)
        subprocess.run(["pdftoppm", "-r", str(DPI), "-gray", "-singlefile", ref + ".pdf", ref], check=True)
        a, sa = ink(pgm(ours + ".pgm"))
        b, sb = ink(pgm(ref + ".pgm"))
        ab, ba = covered(a, b), covered(b, a)
        ok = abs(sa[0] - sb[0]) <= 2 and abs(sa[1] - sb[1]) <= 2 and ab >= 0.995 and ba >= 0.995
        print(f"{lang}: {len(run['glyphs'])} glyphs, ink {len(a)} vs {len(b)} px, box {sa} vs {sb}, "
              f"match {ab:.4f}/{ba:.4f} {'ok' if ok else 'DIFFERENT'}")
        failures += not ok
    sys.exit(1 if failures else 0)

main()
