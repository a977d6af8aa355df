#!/usr/bin/env python3
"""layout_checks.py MODE ...: the layout acceptance checks of issue 4, read
from a layout trace (`bulletin --trace`).  Each check mode exits 0 when the
check holds and 1 otherwise, printing the evidence (page, language, block,
kind, coordinates, text) to stderr; tests/cli-layout.sh counts them.

  pairs      TRACE --layout L --langs A,B   paired blocks that start on the
             same page start on the same baseline (within 0.01 pt)
  columns    TRACE --layout L --langs A,B   every line's [x, x+width] and every
             glyph origin lies inside its language's column (within 0.01 pt);
             the columns come from the layout file, not from the trace (the
             classification banner runs across the page: it is checked
             against the text area's width)
  breaks     TRACE --layout L --langs A,B   no page break leaves fewer than
             `orphans` lines of a paragraph before it or `widows` after it, and
             a paragraph shorter than orphans + widows is not split at all
  headings   TRACE --layout L --langs A,B   no heading (or title) is the last
             line of a column when the column's text goes on on a later page
  furniture  TRACE --layout L --langs A,B [--source SRC]   every page carries
             its footer "Page N of M" in the right language with the right N
             and M, pages from 2 on a header line (the issuer, with --source),
             and the reference line when the source has one
  longpair   TRACE SRC --langs A,B   the first block pair (one very long
             paragraph each) runs over at least three pages in both columns,
             in step: same first page, no page skipped, every continuation page
             starts both columns on the same top baseline, lines in reading
             order and together exactly the source paragraph
  justify    TRACE...   justification quality of the body paragraphs
             (left-to-right languages): prints the distribution of inter-word
             space ratios and the hyphenated lines; fails unless at least 95%
             of justified lines are within 0.8-1.5x and none is beyond 2x
  pages-have-text TRACE      no page of the trace is without text
  selftest TRACE SRC LONGTRACE LONGSRC   every check above fails on a trace
             doctored to break its rule (en+he parallel traces)
  make-long-pair CORPUS      writes tests/data/layout-cases/long-pair.md
  make-headings CORPUS       writes tests/data/layout-cases/headings.md

The layout files are read with a small reader for the YAML that layouts/*.yaml
use (block and flow mappings, flow sequences, quoted and plain scalars,
`extends`), so the expected geometry is computed independently of the
program's own loader.  Python standard library only."""
import json, os, re, struct, sys

TOL = 0.01
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MM = 72.0 / 25.4
RTL_LANGS = {"he", "ar", "fa", "ur", "yi"}
# The page-number templates the issue and layouts/base.yaml give.
PAGE_LABEL = {"en": "Page {page} of {pages}", "fr": "Page {page} sur {pages}",
              "he": "עמוד {page} מתוך {pages}", "ar": "صفحة {page} من {pages}"}
FURNITURE = {"header", "footer", "classification"}
HEAD = {"letterhead", "date", "reference", "title"}
HEADINGS = {"heading", "title"}
PARA_KINDS = {"paragraph", "quote", "list"}


# ---- a reader for the YAML subset of layout files and front matter ---------------

class YamlError(Exception):
    pass

def _strip_comment(s):
    out, q = [], None
    for i, ch in enumerate(s):
        if q:
            if ch == q and not (q == '"' and i and s[i - 1] == "\\"):
                q = None
        elif ch in "\"'":
            q = ch
        elif ch == "#" and (i == 0 or s[i - 1] in " \t"):
            break
        out.append(ch)
    return "".join(out).rstrip()

def _scalar(s):
    s = s.strip()
    if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        return json.loads(s)
    if len(s) >= 2 and s[0] == "'" and s[-1] == "'":
        return s[1:-1].replace("''", "'")
    if s in ("null", "~", ""):
        return None
    if s in ("true", "false"):
        return s == "true"
    return s

def _flow(s, i):
    """Parses a flow value at s[i:]; returns (value, next index)."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i < len(s) and s[i] in "[{":
        close = "]" if s[i] == "[" else "}"
        seq = s[i] == "["
        out = [] if seq else {}
        i += 1
        while True:
            while i < len(s) and s[i] in " ,":
                i += 1
            if i >= len(s):
                raise YamlError("unclosed flow collection: " + s)
            if s[i] == close:
                return out, i + 1
            if seq:
                v, i = _flow(s, i)
                out.append(v)
            else:
                k, i = _flow_key(s, i)
                v, i = _flow(s, i)
                out[k] = v
    if i < len(s) and s[i] in "\"'":
        q, j = s[i], i + 1
        while j < len(s) and not (s[j] == q and (q == "'" or s[j - 1] != "\\")):
            j += 1
        return _scalar(s[i:j + 1]), j + 1
    j = i
    while j < len(s) and s[j] not in ",]}":
        j += 1
    return _scalar(s[i:j]), j

def _flow_key(s, i):
    while s[i] == " ":
        i += 1
    if s[i] in "\"'":
        k, i = _flow(s, i)
    else:
        j = s.index(":", i)
        k, i = s[i:j].strip(), j
    while s[i] == " ":
        i += 1
    if s[i] != ":":
        raise YamlError("expected ':' in " + s)
    return k, i + 1

def _split_key(content):
    if content[0] in "\"'":
        k, i = _flow(content, 0)
        rest = content[i:].lstrip()
        if not rest.startswith(":"):
            raise YamlError("expected ':' after key: " + content)
        return k, rest[1:].strip()
    m = re.match(r"([^:]+?)\s*:(?:\s+|$)(.*)$", content)
    if not m:
        raise YamlError("not a 'key: value' line: " + content)
    return m.group(1), m.group(2).strip()

def _value(v, lines, i, indent):
    """A value that starts on a key line (v) or on the lines below it."""
    if v == "":
        if i < len(lines) and lines[i][0] > indent:
            return _block(lines, i, lines[i][0])
        if i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
            return _block(lines, i, indent)
        return None, i
    if v[0] in "[{":
        while v.count(v[0]) > v.count("]" if v[0] == "[" else "}"):  # a flow value over several lines
            if i >= len(lines):
                raise YamlError("unclosed flow collection: " + v)
            v += " " + lines[i][1]
            i += 1
        return _flow(v, 0)[0], i
    return _scalar(v), i

def _block(lines, i, indent):
    if lines[i][1].startswith("- "):
        out = []
        while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
            v, i = _value(lines[i][1][2:].strip(), lines, i + 1, indent)
            out.append(v)
        return out, i
    out = {}
    while i < len(lines) and lines[i][0] == indent:
        k, v = _split_key(lines[i][1])
        out[k], i = _value(v, lines, i + 1, indent)
    if i < len(lines) and lines[i][0] > indent:
        raise YamlError("unexpected indentation: " + lines[i][1])
    return out, i

def yaml_load(text):
    lines = []
    for raw in text.split("\n"):
        s = _strip_comment(raw)
        if s.strip() in ("", "---", "..."):
            continue
        lines.append((len(s) - len(s.lstrip(" ")), s.strip()))
    if not lines:
        return {}
    v, i = _block(lines, 0, lines[0][0])
    if i != len(lines):
        raise YamlError("cannot read line: " + lines[i][1])
    return v

def _merge(base, top):
    out = dict(base)
    for k, v in top.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out

def load_layout(name, relto=None, depth=0):
    """The layout `name` (built-in name or path) with its `extends` chain applied."""
    if depth > 8:
        raise YamlError("extends chain too deep")
    if "/" in name or name.endswith(".yaml"):
        path = os.path.join(relto, name) if relto and not os.path.isabs(name) else name
    else:
        path = os.path.join(REPO, "layouts", name + ".yaml")
    with open(path, encoding="utf-8") as f:
        own = yaml_load(f.read())
    parent = {}
    if own.get("extends"):
        parent = load_layout(own["extends"], os.path.dirname(path), depth + 1)
    for k in ("page", "margins"):  # shorthands: `page: A5`, `margins: 15mm`
        if isinstance(own.get(k), str):
            own[k] = {"size": own[k]} if k == "page" else {s: own[k] for s in ("top", "bottom", "inner", "outer")}
    return _merge(parent, {k: v for k, v in own.items() if k != "extends"})

def length(v):
    m = re.fullmatch(r"\s*(-?[0-9.]+)\s*(pt|mm|cm|in)?\s*", str(v))
    if not m:
        raise YamlError("not a length: %r" % (v,))
    return float(m.group(1)) * {"pt": 1, None: 1, "mm": MM, "cm": 10 * MM, "in": 72}[m.group(2)]

PAGE_SIZES = {"a4": (210 * MM, 297 * MM), "a5": (148 * MM, 210 * MM), "letter": (612, 792), "legal": (612, 1008)}

class Geometry:
    """Page and column boxes of a layout for a bulletin in languages `langs`."""
    def __init__(self, layout, langs):
        L = load_layout(layout)
        pg = L.get("page", {})
        w, h = PAGE_SIZES[str(pg.get("size", "A4")).lower()]
        if "width" in pg:
            w = length(pg["width"])
        if "height" in pg:
            h = length(pg["height"])
        if pg.get("orientation") == "landscape":
            w, h = max(w, h), min(w, h)
        self.page_w, self.page_h = w, h
        m = {k: length(v) for k, v in L.get("margins", {}).items()}
        gap = length(L.get("column-gap", "8mm"))
        self.arrangement = L.get("arrangement", "parallel")
        if len(langs) < 2 and self.arrangement == "parallel":
            self.arrangement = "single"
        if self.arrangement != "parallel" and int(L.get("columns", 1)) != 1:
            raise YamlError("columns: %s is not supported by these checks" % L.get("columns"))
        text = L.get("text", {}) or {}
        self.orphans = int(text.get("orphans", 2))
        self.widows = int(text.get("widows", 2))
        self.justified = text.get("align", "justify") == "justify"
        # Text area: inner margin on the left of every page (the layouts set
        # inner == outer; nothing here knows of mirrored margins).
        x0, x1 = m["inner"], w - m["outer"]
        self.text_x = (x0, x1)
        self.langs = langs
        self.col = {}
        if self.arrangement == "parallel":
            cw = (x1 - x0 - gap) / 2
            boxes = [(x0, x0 + cw), (x0 + cw + gap, x1)]
            # The first language on the left, unless it is right-to-left and
            # the second is not (an RTL column goes on the right); swap flips.
            left = 1 if langs[0] in RTL_LANGS and langs[1] not in RTL_LANGS else 0
            if L.get("swap") is True:
                left = 1 - left
            self.col[langs[left]] = boxes[0]
            self.col[langs[1 - left]] = boxes[1]
        else:
            for lg in langs:
                self.col[lg] = (x0, x1)

    def column_key(self, lang):
        """Lines that share a column: per language in parallel, else one column."""
        return lang if self.arrangement == "parallel" else "*"


# ---- the trace -----------------------------------------------------------------------

def load_trace(path):
    with open(path, encoding="utf-8") as f:
        pages = json.load(f)["pages"]
    for p in pages:
        for i, ln in enumerate(p["lines"]):
            ln["page"] = p["number"]
            ln["seq"] = i
    return pages

def is_body(ln):
    return ln["kind"] not in FURNITURE

def desc(ln):
    return "p%d %s block %d %s baseline %.3f x %.3f..%.3f '%s'" % (
        ln["page"], ln["lang"], ln["block"], ln["kind"], ln["baseline"], ln["x"], ln["x"] + ln["width"],
        ln["text"][:60])

def flow(pages, lang, kinds=None):
    """Body lines of one language in reading order: page, then top to bottom."""
    out = [ln for p in pages for ln in p["lines"]
           if ln["lang"] == lang and is_body(ln) and ln["kind"] != "marker" and (kinds is None or ln["kind"] in kinds)]
    out.sort(key=lambda ln: (ln["page"], -ln["baseline"], ln["seq"]))
    return out

def paragraphs(pages, lang, geo):
    """Paragraphs of one language as lists of lines (body kinds only).

    A paragraph block (kind "paragraph") is one paragraph: Markdown gives a
    paragraph a block of its own.  A quote or list block may hold several; the
    trace does not mark where one ends, so a new one is taken to start
    (approximation) after a gap larger than the block's line spacing on the
    same page, at a list marker, or after a line shorter than the block's
    full measure when the layout justifies (a justified paragraph's only
    short line is its last)."""
    lines = flow(pages, lang, PARA_KINDS)
    markers = {(ln["page"], ln["block"], round(ln["baseline"], 2)) for p in pages for ln in p["lines"]
               if ln["lang"] == lang and ln["kind"] == "marker"}
    runs = []
    for ln in lines:
        if runs and (runs[-1][-1]["block"], runs[-1][-1]["kind"]) == (ln["block"], ln["kind"]):
            runs[-1].append(ln)
        else:
            runs.append([ln])
    paras = []
    for run in runs:
        if run[0]["kind"] == "paragraph":
            paras.append(run)
            continue
        # the block's full measure: its most common line width (an overfull
        # line must not redefine it)
        widths = [round(ln["width"], 2) for ln in run]
        full = max(set(widths), key=lambda w: (widths.count(w), w))
        steps = [a["baseline"] - b["baseline"] for a, b in zip(run, run[1:]) if a["page"] == b["page"]]
        step = min([s for s in steps if s > 0] or [0])
        cur = [run[0]]
        for prev, ln in zip(run, run[1:]):
            new = (ln["page"], ln["block"], round(ln["baseline"], 2)) in markers
            if ln["page"] == prev["page"] and prev["baseline"] - ln["baseline"] > step + 0.5:
                new = True
            if geo.justified and prev["width"] < full - 0.5:
                new = True
            if new:
                paras.append(cur)
                cur = []
            cur.append(ln)
        paras.append(cur)
    return paras

def pieces(lines):
    """Splits lines (reading order) where a column or page break falls."""
    out = [[lines[0]]]
    for prev, ln in zip(lines, lines[1:]):
        if ln["page"] != prev["page"] or ln["baseline"] > prev["baseline"]:
            out.append([])
        out[-1].append(ln)
    return out


# ---- checks ---------------------------------------------------------------------------

def check_pairs(pages, geo, errors):
    if geo.arrangement != "parallel":
        print("pairs: not a parallel layout; nothing to pair")
        return
    a, b = geo.langs[:2]
    starts = {}
    for lg in (a, b):
        for ln in flow(pages, lg):
            k = -1 if ln["kind"] in HEAD else ln["block"]
            if k == -1 and ln["block"] != -1:
                continue
            starts.setdefault((lg, k), ln)
    blocks = sorted({k for (lg, k) in starts})
    compared = 0
    for k in blocks:
        la, lb = starts.get((a, k)), starts.get((b, k))
        if not la or not lb:
            errors.append("block %d has lines in only one language" % k)
            continue
        if la["page"] != lb["page"]:
            print("pairs: block %d starts on page %d (%s) and page %d (%s)" % (k, la["page"], a, lb["page"], b))
            continue
        compared += 1
        if abs(la["baseline"] - lb["baseline"]) > TOL:
            errors.append("block %d starts at different baselines: %s | %s" % (k, desc(la), desc(lb)))
    if not compared:
        errors.append("no block pair to compare")
    print("pairs: %d pairs compared" % compared)

def check_columns(pages, geo, errors):
    n = 0
    for p in pages:
        if abs(p["width"] - geo.page_w) > TOL or abs(p["height"] - geo.page_h) > TOL:
            errors.append("page %d is %.2f x %.2f pt, the layout says %.2f x %.2f"
                          % (p["number"], p["width"], p["height"], geo.page_w, geo.page_h))
        for ln in p["lines"]:
            if ln["lang"] not in geo.col:
                errors.append("line in unexpected language: " + desc(ln))
                continue
            l, r = geo.col[ln["lang"]]
            if ln["kind"] == "classification":  # one banner across the page, in the top and bottom margins
                l, r = geo.text_x
            n += 1
            if ln["x"] < l - TOL or ln["x"] + ln["width"] > r + TOL:
                errors.append("line outside its column [%.3f, %.3f]: %s" % (l, r, desc(ln)))
                continue
            for run in ln["runs"]:
                bad = [g for g in run["glyphs"] if g[1] < l - TOL or g[1] > r + TOL]
                if bad:
                    errors.append("glyph origin outside its column [%.3f, %.3f]: gid %d at x %.3f in %s"
                                  % (l, r, bad[0][0], bad[0][1], desc(ln)))
                    break
    print("columns: %d lines checked against %s" % (
        n, ", ".join("%s [%.3f, %.3f]" % (k, v[0], v[1]) for k, v in sorted(geo.col.items()))))

def check_breaks(pages, geo, errors):
    total = split = 0
    for lg in geo.langs:
        for para in paragraphs(pages, lg, geo):
            total += 1
            ps = pieces(para)
            if len(ps) == 1:
                continue
            split += 1
            sizes = [len(x) for x in ps]
            where = "%s block %d %s, %d lines as %s, first '%s'" % (
                lg, para[0]["block"], para[0]["kind"], len(para),
                "+".join("%d on p%d" % (len(x), x[0]["page"]) for x in ps), para[0]["text"][:40])
            if len(para) < geo.orphans + geo.widows:
                errors.append("a paragraph shorter than %d lines is split: %s" % (geo.orphans + geo.widows, where))
            elif sizes[0] < geo.orphans or sizes[-1] < geo.widows:
                errors.append("orphan or widow: %s" % where)
    print("breaks: %d paragraphs, %d split across columns or pages" % (total, split))

def check_headings(pages, geo, errors):
    cols = {}
    for p in pages:
        for ln in p["lines"]:
            if is_body(ln) and ln["kind"] != "marker":
                cols.setdefault(geo.column_key(ln["lang"]), {}).setdefault(p["number"], []).append(ln)
    heads = tops = 0
    for key, bypage in cols.items():
        last_page = max(bypage)
        for pn, lines in sorted(bypage.items()):
            heads += sum(1 for ln in lines if ln["kind"] == "heading")
            top = max(lines, key=lambda ln: (ln["baseline"], -ln["seq"]))
            if pn > 1 and top["kind"] == "heading":
                tops += 1
            bottom = min(lines, key=lambda ln: (ln["baseline"], -ln["seq"]))
            if bottom["kind"] in HEADINGS and pn < last_page:
                errors.append("column '%s' on page %d ends with a %s: %s" % (key, pn, bottom["kind"], desc(bottom)))
    print("headings: %d heading lines; %d columns begin with a heading on a page after the first" % (heads, tops))
    return tops

def source_front(src):
    with open(src, encoding="utf-8") as f:
        text = f.read()
    m = re.match(r"---\n(.*?)\n---\n(.*)$", text, re.S)
    return yaml_load(m.group(1)), m.group(2)

def per_lang(v, lg):
    return v.get(lg) if isinstance(v, dict) else v

def check_furniture(pages, geo, errors, src=None):
    front = source_front(src)[0] if src else {}
    npages = len(pages)
    for p in pages:
        n = p["number"]
        body_langs = {ln["lang"] for ln in p["lines"] if is_body(ln)}
        if not body_langs:
            errors.append("page %d has no text" % n)
        if geo.arrangement == "parallel":
            need = geo.langs[:2]
        elif geo.arrangement == "stacked":
            # "Page N of M" in each language: in the language(s) of the page's text
            need = [lg for lg in geo.langs if lg in body_langs] or geo.langs[:1]
        else:
            need = geo.langs[:1]
        for lg in need:
            mine = [ln for ln in p["lines"] if ln["lang"] == lg]
            feet = [ln["text"] for ln in mine if ln["kind"] == "footer"]
            want = PAGE_LABEL[lg].format(page=n, pages=npages)
            if want not in feet:
                errors.append("page %d: no %s footer '%s' (footer lines: %s)" % (n, lg, want, feet))
            ref = front.get("reference")
            if ref and str(ref) not in feet:
                errors.append("page %d: no %s footer with the reference '%s' (footer lines: %s)" % (n, lg, ref, feet))
            if n >= 2:
                heads = [ln["text"] for ln in mine if ln["kind"] == "header"]
                issuer = per_lang(front.get("issuer"), lg)
                if not heads or not all(h.strip() for h in heads):
                    errors.append("page %d: no %s header line" % (n, lg))
                elif issuer and issuer not in heads:
                    errors.append("page %d: %s header %s is not the issuer '%s'" % (n, lg, heads, issuer))
    print("furniture: %d pages checked" % npages)

def norm(s):
    return re.sub(r"\s+", "", s)

def check_longpair(pages, src, langs, errors):
    body = source_front(src)[1]
    sections = dict(re.findall(r"^::: (\w+)\n(.*?)^:::$", body, re.M | re.S))
    ymax = {}
    per = {}
    for lg in langs:
        paras = [x for x in re.split(r"\n\s*\n", sections[lg].strip()) if x.strip()]
        lines = [ln for ln in flow(pages, lg) if ln["block"] == 0]
        trace_order = sorted(lines, key=lambda ln: (ln["page"], ln["seq"]))
        if [ln["seq"] for ln in trace_order] != [ln["seq"] for ln in lines]:
            errors.append("%s: the pair's lines are not drawn top to bottom" % lg)
        if norm("".join(ln["text"] for ln in lines)) != norm(paras[0]):
            got = norm("".join(ln["text"] for ln in lines))
            want = norm(paras[0])
            i = next((i for i, (x, y) in enumerate(zip(got, want)) if x != y), min(len(got), len(want)))
            errors.append("%s: the lines of block 0 do not give back the source paragraph (first difference at "
                          "character %d: '%s' vs '%s'; %d vs %d characters)"
                          % (lg, i, got[i:i + 20], want[i:i + 20], len(got), len(want)))
        pgs = sorted({ln["page"] for ln in lines})
        per[lg] = pgs
        words = len(paras[0].split())
        print("longpair: %s, %d words, %d lines on pages %s" % (lg, words, len(lines), pgs))
        if not {1, 2, 3} <= set(pgs):
            errors.append("%s: the pair does not reach pages 1, 2 and 3 (pages %s)" % (lg, pgs))
        if pgs and pgs != list(range(pgs[0], pgs[-1] + 1)):
            errors.append("%s: the pair skips a page (pages %s)" % (lg, pgs))
        for pn in pgs:
            first = max((ln for ln in lines if ln["page"] == pn), key=lambda ln: ln["baseline"])
            ymax[(lg, pn)] = first
    a, b = langs
    if per[a] and per[b] and per[a][0] != per[b][0]:
        errors.append("the pair starts on page %d in %s and %d in %s" % (per[a][0], a, per[b][0], b))
    common = sorted(set(per[a]) & set(per[b]))
    for pn in common[1:]:
        la, lb = ymax[(a, pn)], ymax[(b, pn)]
        if abs(la["baseline"] - lb["baseline"]) > TOL:
            errors.append("page %d: the columns resume at different baselines: %s | %s" % (pn, desc(la), desc(lb)))
    # Both columns resume at the top of the text area: the same baseline on
    # every continuation page.
    tops = {round(ymax[(a, pn)]["baseline"], 2) for pn in common[1:]}
    if len(tops) > 1:
        errors.append("continuation pages start at different heights: %s" % sorted(tops))
    # While one column goes on, the other has gone on too (or has finished).
    for pn in range(min(common or [1]), max(per[a][-1:] + per[b][-1:] or [0])):
        for lg, other in ((a, b), (b, a)):
            if pn + 1 in per[lg] and pn in per[other] and pn + 1 not in per[other] and per[other][-1] > pn:
                errors.append("page %d: %s continues but %s does not" % (pn + 1, lg, other))


def check_pages_have_text(pages, errors):
    for p in pages:
        if not any(is_body(ln) for ln in p["lines"]):
            errors.append("page %d has no text" % p["number"])
    print("pages: %d, every one with text: %s" % (len(pages), "no" if errors else "yes"))

def selftest(trace, src, longtrace, longsrc):
    """Each check must fail on a trace doctored to break its rule (a check
    that cannot fail proves nothing)."""
    import copy
    geo = Geometry("parallel", ["en", "he"])
    base, long_base = load_trace(trace), load_trace(longtrace)
    failures = []

    def expect_fail(name, fn, pages, what):
        errs = []
        out = sys.stdout
        sys.stdout = open(os.devnull, "w")
        try:
            fn(pages, errs)
        finally:
            sys.stdout.close()
            sys.stdout = out
        errs = [e for e in errs if what in e]
        print("selftest %-34s %s" % (name, "caught: " + errs[0][:80] if errs else "NOT CAUGHT"))
        if not errs:
            failures.append(name)

    def body(pages, lang, page=None):
        return [ln for p in pages for ln in p["lines"] if ln["lang"] == lang and is_body(ln)
                and ln["block"] >= 0 and (page is None or ln["page"] == page)]

    pg = copy.deepcopy(base)
    next(ln for ln in body(pg, "he") if ln["block"] == 1)["baseline"] -= 1.0
    expect_fail("pairs: shifted block start", lambda p, e: check_pairs(p, geo, e), pg, "different baselines")
    pg = copy.deepcopy(base)
    body(pg, "en")[3]["runs"][0]["glyphs"][-1][1] += 300
    expect_fail("columns: glyph in the gutter", lambda p, e: check_columns(p, geo, e), pg, "glyph origin")
    pg = copy.deepcopy(base)
    ln = body(pg, "he")[5]
    ln["x"] -= 3
    ln["width"] += 3
    expect_fail("columns: line 3pt too wide", lambda p, e: check_columns(p, geo, e), pg, "line outside")
    # a split paragraph: the lines of its last piece but one go back to the
    # foot of the page before, leaving one line (a widow) after the break
    pg = copy.deepcopy(base)
    split = [pieces(x) for x in paragraphs(pg, "en", geo) if len(pieces(x)) >= 2]
    if not split:
        pg = copy.deepcopy(long_base)
        split = [pieces(x) for x in paragraphs(pg, "en", geo) if len(pieces(x)) >= 2]
    ps = split[0]
    for i, ln in enumerate(ps[-1][:-1]):
        ln.update(page=ps[-2][-1]["page"], baseline=ps[-2][-1]["baseline"] - 14 * (i + 1), seq=1000 + i)
    expect_fail("breaks: a widow", lambda p, e: check_breaks(p, geo, e), pg, "widow")
    pg = copy.deepcopy(base)
    last = min(body(pg, "en", 1), key=lambda ln: ln["baseline"])
    h = copy.deepcopy(last)
    h.update(kind="heading", block=last["block"] + 1, baseline=last["baseline"] - 14, seq=999)
    pg[0]["lines"].append(h)
    expect_fail("headings: heading at the foot", lambda p, e: check_headings(p, geo, e), pg, "ends with a heading")
    pg = copy.deepcopy(base)
    foot = next(ln for ln in pg[0]["lines"] if ln["lang"] == "he" and ln["kind"] == "footer")
    foot["text"] = foot["text"].replace("1", "3")
    expect_fail("furniture: wrong page number", lambda p, e: check_furniture(p, geo, e, src), pg, "footer '")
    pg = copy.deepcopy(base)
    pg[1]["lines"] = [ln for ln in pg[1]["lines"] if not (ln["kind"] == "header" and ln["lang"] == "en")]
    expect_fail("furniture: no header", lambda p, e: check_furniture(p, geo, e, src), pg, "header")
    pg = copy.deepcopy(long_base)
    ln = next(ln for ln in body(pg, "he", 2) if ln["block"] == 0)
    ln["baseline"] -= 14
    expect_fail("longpair: column resumes lower", lambda p, e: check_longpair(p, longsrc, ["en", "he"], e), pg,
                "resume at different")
    pg = copy.deepcopy(long_base)
    pg[2]["lines"].remove(next(ln for ln in pg[2]["lines"] if ln["lang"] == "en" and ln["block"] == 0))
    expect_fail("longpair: a lost line", lambda p, e: check_longpair(p, longsrc, ["en", "he"], e), pg, "give back")
    return failures


# ---- fonts: advances and cmap from the font file (for the justification measure) ----

class Font:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = d = f.read()
        n = struct.unpack(">H", d[4:6])[0]
        self.tables = {}
        for i in range(n):
            tag, _, off, ln = struct.unpack(">4sIII", d[12 + 16 * i:28 + 16 * i])
            self.tables[tag.decode("latin-1")] = (off, ln)
        self.upem = struct.unpack(">H", self._t("head")[18:20])[0]
        self.nhm = struct.unpack(">H", self._t("hhea")[34:36])[0]
        self.hmtx = self._t("hmtx")
        self._cmap = self._load_cmap()

    def _t(self, tag):
        off, ln = self.tables[tag]
        return self.data[off:off + ln]

    def advance(self, gid):
        i = min(gid, self.nhm - 1)
        return struct.unpack(">H", self.hmtx[4 * i:4 * i + 2])[0]

    def _load_cmap(self):
        t = self._t("cmap")
        n = struct.unpack(">H", t[2:4])[0]
        subs = {}
        for i in range(n):
            pid, eid, off = struct.unpack(">HHI", t[4 + 8 * i:12 + 8 * i])
            subs[(pid, eid)] = off
        for key in ((3, 10), (0, 4), (3, 1), (0, 3)):
            if key in subs:
                return t, subs[key]
        raise ValueError("no Unicode cmap")

    def gid(self, cp):
        t, off = self._cmap
        fmt = struct.unpack(">H", t[off:off + 2])[0]
        if fmt == 12:
            n = struct.unpack(">I", t[off + 12:off + 16])[0]
            for i in range(n):
                s, e, g = struct.unpack(">III", t[off + 16 + 12 * i:off + 28 + 12 * i])
                if s <= cp <= e:
                    return g + cp - s
            return 0
        if fmt == 4:
            seg2 = struct.unpack(">H", t[off + 6:off + 8])[0]
            ends = off + 14
            starts = ends + seg2 + 2
            deltas = starts + seg2
            ranges = deltas + seg2
            for i in range(seg2 // 2):
                e = struct.unpack(">H", t[ends + 2 * i:ends + 2 * i + 2])[0]
                if cp > e:
                    continue
                s = struct.unpack(">H", t[starts + 2 * i:starts + 2 * i + 2])[0]
                if cp < s:
                    return 0
                delta = struct.unpack(">h", t[deltas + 2 * i:deltas + 2 * i + 2])[0]
                ro = struct.unpack(">H", t[ranges + 2 * i:ranges + 2 * i + 2])[0]
                if ro == 0:
                    return (cp + delta) & 0xFFFF
                p = ranges + 2 * i + ro + 2 * (cp - s)
                g = struct.unpack(">H", t[p:p + 2])[0]
                return (g + delta) & 0xFFFF if g else 0
            return 0
        raise ValueError("cmap format %d" % fmt)

_fonts = {}
def font(label):
    if label not in _fonts:
        path = label if os.path.exists(label) else os.path.join(REPO, label)
        _fonts[label] = Font(path)
    return _fonts[label]

def line_glyphs(ln):
    """(x, gid, font label, size) of every glyph of the line, left to right."""
    gs = [(g[1], g[0], r["font"], r["size"]) for r in ln["runs"] for g in r["glyphs"]]
    gs.sort(key=lambda g: g[0])
    return gs

def space_ratios(ln):
    """Width of each U+0020 space (to the next glyph's origin) over its natural advance."""
    gs = line_glyphs(ln)
    out = []
    for (x, gid, lab, size), nxt in zip(gs, gs[1:]):
        f = font(lab)
        if gid == f.gid(0x20):
            out.append((nxt[0] - x) / (f.advance(gid) * size / f.upem))
    return out

def is_hyphenated(ln):
    gs = line_glyphs(ln)
    if not gs:
        return False
    x, gid, lab, size = gs[-1]
    f = font(lab)
    return gid in (f.gid(0x2D), f.gid(0x2010)) and not ln["text"].rstrip().endswith(("-", "\u2010"))

BINS = [(0, 0.8, "< 0.8"), (0.8, 1.0, "0.8-1.0"), (1.0, 1.2, "1.0-1.2"), (1.2, 1.5, "1.2-1.5"),
        (1.5, 2.0, "1.5-2.0"), (2.0, 1e9, "> 2.0")]

def check_justify(traces, errors):
    ratios, lasts, nospace, hyph, hyph_run, total_lines = [], [], 0, 0, 0, 0
    worst = []
    for path in traces:
        pages = load_trace(path)
        langs = sorted({ln["lang"] for p in pages for ln in p["lines"]})
        for lg in langs:
            if lg in RTL_LANGS:
                continue
            lines = flow(pages, lg, {"paragraph"})
            byblock = {}
            for ln in lines:
                byblock.setdefault(ln["block"], []).append(ln)
            for blk, bl in byblock.items():
                run = 0
                for i, ln in enumerate(bl):
                    total_lines += 1
                    h = is_hyphenated(ln)
                    hyph += h
                    run = run + 1 if h else 0
                    hyph_run = max(hyph_run, run)
                    r = space_ratios(ln)
                    if i == len(bl) - 1:  # the last line is set ragged, its spaces natural
                        lasts += r
                        continue
                    if not r:
                        nospace += 1
                        continue
                    if max(r) - min(r) > 0.01:
                        errors.append("unequal spaces in one justified line (%.3f..%.3f): %s"
                                      % (min(r), max(r), desc(ln)))
                    v = sum(r) / len(r)
                    ratios.append(v)
                    worst.append((v, os.path.basename(path), ln))
    n = len(ratios)
    print("justification: %d justified body lines (of %d paragraph lines), %d without a space"
          % (n, total_lines, nospace))
    print("  inter-word space / natural space width, per line:")
    for lo, hi, name in BINS:
        c = sum(1 for v in ratios if lo <= v < hi)
        print("  %-8s %4d  %5.1f%%  %s" % (name, c, 100.0 * c / n if n else 0, "#" * c))
    if n:
        s = sorted(ratios)
        print("  min %.3f  median %.3f  max %.3f" % (s[0], s[n // 2], s[-1]))
    print("  hyphenated lines: %d of %d, at most %d in a row" % (hyph, total_lines, hyph_run))
    if lasts:
        print("  last lines (ragged, natural spaces): mean ratio %.3f over %d spaces" % (sum(lasts) / len(lasts), len(lasts)))
        # the measure itself: an unjustified space must come out at 1.0
        if any(abs(v - 1) > 0.01 for v in lasts):
            errors.append("spaces of a ragged last line are not at their natural width (%.3f..%.3f): "
                          "the measurement or the last-line setting is off" % (min(lasts), max(lasts)))
    if not n:
        errors.append("no justified line measured")
        return
    ok = sum(1 for v in ratios if 0.8 <= v <= 1.5)
    print("  within 0.8-1.5x: %d of %d (%.1f%%)" % (ok, n, 100.0 * ok / n))
    worst.sort(key=lambda w: -abs(w[0] - 1))
    for v, name, ln in worst[:5]:
        print("  extreme: %.3f in %s: %s" % (v, name, desc(ln)))
    if ok < 0.95 * n:
        errors.append("only %d of %d justified lines (%.1f%%) have spaces within 0.8-1.5x" % (ok, n, 100.0 * ok / n))
    over = [w for w in worst if w[0] > 2.0]
    if over:
        errors.append("%d justified lines have spaces beyond 2x, e.g. %.3f: %s" % (len(over), over[0][0], desc(over[0][2])))


# ---- fixtures ---------------------------------------------------------------------------

def corpus_paras(corpus, lg):
    with open(os.path.join(corpus, "seed.%s.txt" % lg), encoding="utf-8") as f:
        text = f.read()
    paras = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return paras[0], paras[1:]

def labels(corpus, lg):
    with open(os.path.join(corpus, "labels.%s.txt" % lg), encoding="utf-8") as f:
        return f.read().split("\n")

def front(corpus, langs, title):
    out = ["---", "languages: [%s]" % ", ".join(langs), "date: 2021-11-24", "reference: MOD-2021-117", "issuer:"]
    out += ["  %s: %s" % (lg, json.dumps(labels(corpus, lg)[0], ensure_ascii=False)) for lg in langs]
    out += ["title:"] + ["  %s: %s" % (lg, json.dumps(title[lg], ensure_ascii=False)) for lg in langs]
    return out

def make_long_pair(corpus):
    """One paragraph pair of about 1,500 English words (the corpus paragraphs,
    repeated, as one paragraph; the Hebrew is the same paragraphs, so the two
    stay translations), then one ordinary pair after it."""
    langs = ["en", "he"]
    body = {lg: corpus_paras(corpus, lg)[1][:-1] for lg in langs}  # without the quotation
    reps = 1
    while sum(len(p.split()) for p in body["en"]) * reps < 1500:
        reps += 1
    title = {"en": "A paragraph pair over three pages", "he": "זוג פסקאות על פני שלושה עמודים"}
    out = front(corpus, langs, title) + ["---"]
    out.insert(1, "# Generated by: python3 tests/layout_checks.py make-long-pair ../shared/corpus")
    for lg in langs:
        out += ["", "::: " + lg, " ".join(body[lg] * reps), "", body[lg][1], ":::"]
    return "\n".join(out) + "\n"

def make_headings(corpus):
    """Thirty short sections, each a heading and one paragraph of one to
    three sentences of a corpus paragraph, so that headings fall at every
    height of a page, some at its foot, and the paragraphs after them have
    from one to about eight lines (short ones cannot be split)."""
    langs = ["en", "he"]
    name = {"en": "Section %d", "he": "סעיף %d"}
    title = {"en": "Headings keep with what follows", "he": "כותרות נשארות עם ההמשך"}
    body = {lg: corpus_paras(corpus, lg)[1][:-1] for lg in langs}
    out = front(corpus, langs, title) + ["---"]
    out.insert(1, "# Generated by: python3 tests/layout_checks.py make-headings ../shared/corpus")
    for lg in langs:
        out += ["", "::: " + lg]
        for s in range(1, 31):
            sentences = re.split(r"(?<=\.) ", body[lg][s % len(body[lg])])
            out += ["", "## " + name[lg] % s, "", " ".join(sentences[:1 + s % 3])]
        out += [":::"]
    return "\n".join(out) + "\n"


# ---- command line ----------------------------------------------------------------------

def opt(args, name, default=None):
    if name in args:
        i = args.index(name)
        v = args[i + 1]
        del args[i:i + 2]
        return v
    return default

def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    mode, args = argv[1], argv[2:]
    errors = []
    if mode == "make-long-pair":
        sys.stdout.write(make_long_pair(args[0]))
        return 0
    if mode == "make-headings":
        sys.stdout.write(make_headings(args[0]))
        return 0
    if mode == "justify":
        check_justify(args, errors)
    elif mode == "selftest":
        errors = ["check(s) not caught: " + ", ".join(f) for f in [selftest(*args)] if f]
    elif mode == "pages-have-text":
        check_pages_have_text(load_trace(args[0]), errors)
    else:
        layout = opt(args, "--layout", "parallel")
        langs = opt(args, "--langs", "en").split(",")
        src = opt(args, "--source")
        min_tops = int(opt(args, "--min-heading-tops", "0"))
        pages = load_trace(args[0])
        if mode == "longpair":
            check_longpair(pages, args[1], langs, errors)
        else:
            geo = Geometry(layout, langs)
            if mode == "pairs":
                check_pairs(pages, geo, errors)
            elif mode == "columns":
                check_columns(pages, geo, errors)
            elif mode == "breaks":
                check_breaks(pages, geo, errors)
            elif mode == "headings":
                if check_headings(pages, geo, errors) < min_tops:
                    errors.append("fewer than %d columns begin with a heading: the fixture does not test "
                                  "headings at a page's foot" % min_tops)
            elif mode == "furniture":
                check_furniture(pages, geo, errors, src)
            else:
                print("unknown mode " + mode, file=sys.stderr)
                return 2
    for e in errors[:12]:
        print("  " + e, file=sys.stderr)
    if len(errors) > 12:
        print("  ... and %d more" % (len(errors) - 12), file=sys.stderr)
    return 1 if errors else 0

if __name__ == "__main__":
    sys.exit(main(sys.argv))
