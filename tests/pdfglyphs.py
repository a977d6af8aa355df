#!/usr/bin/env python3
"""pdfglyphs.py MODE TRACE.json FILE.pdf [LANG]

Reads glyphs back from a PDF and compares them with the layout trace:
  trace-vs-pdf  every glyph the trace lists is in the PDF, the same glyph at
                the same position within 0.01 pt (positions from `mutool trace`); a
                space between two glyphs of a line only has to lie between
                them (the writer leaves it where the pen is: see free_space)
  tounicode     every glyph run's codes, mapped through the font's ToUnicode
                CMap (and reversed for right-to-left runs), give the run's
                source text in logical order (codes from the content streams,
                and from the Form XObjects they show where they show them)
  hbshape       the glyphs of LANG's first paragraph line in the PDF are
                what `hb-shape` gives for that line's text, font and direction
  widths        every CID's /W width is the advance of the glyph its
                CIDToGIDMap names in the embedded font program (hmtx), within
                half a unit (TRACE.json is not read)
  hbshape-all   every glyph of every run in the PDF is hb-shape's glyph, at
                hb-shape's position (advances and offsets; justification adds the
                line's "extra" to stretched spaces and its "letter" between
                clusters that are not white space) within 0.01 pt
The PDF is decompressed with `qpdf --qdf`; nothing here trusts our own writer.
Glyph IDs in the PDF are those of its embedded subset fonts, which may be
renumbered: a PDF glyph equals a glyph of the source font when their outlines
and advances are the same (read from both fonts' glyf and hmtx tables)."""
import json, re, struct, subprocess, sys, tempfile, os

TOL = 0.01

def trace_pages(path):
    return json.load(open(path, encoding="utf-8"))["pages"]

def trace_runs(page):
    for line in page["lines"]:
        for run in line["runs"]:
            yield line, run

def mutool_glyphs(pdf):
    """Per page: list of (gid, x, y, unicode, font) in drawing order; gid
    is the embedded font's, font its name ("ABCDEF+NotoSerif-Regular")."""
    out = subprocess.run(["mutool", "trace", pdf], capture_output=True, text=True, check=True).stdout
    pages = []
    for m in re.finditer(r'<page number="(\d+)".*?</page>', out, re.S):
        gl = []
        for span in re.finditer(r'<span font="([^"]*)"(.*?)</span>', m.group(0), re.S):
            gl += [(int(g), float(x), float(y), u, span.group(1)) for u, g, x, y in
                   re.findall(r'<g unicode="([^"]*)" glyph="(\d+)" x="([-\d.e]+)" y="([-\d.e]+)"', span.group(2))]
        pages.append(gl)
    return pages

def sfnt_tables(data):
    n = struct.unpack(">H", data[4:6])[0]
    return {data[12 + 16 * i:16 + 16 * i].decode("latin-1"): struct.unpack(">II", data[20 + 16 * i:28 + 16 * i])
            for i in range(n)}

def advances(data):
    """Per glyph ID of the TrueType font data: its advance (hmtx), and the
    font's units per em."""
    t = sfnt_tables(data)
    tab = lambda tag: data[t[tag][0]:t[tag][0] + t[tag][1]]
    n = struct.unpack(">H", tab("maxp")[4:6])[0]
    nh = struct.unpack(">H", tab("hhea")[34:36])[0]
    hmtx = tab("hmtx")
    adv = [struct.unpack(">H", hmtx[4 * min(g, nh - 1):4 * min(g, nh - 1) + 2])[0] for g in range(n)]
    return adv, struct.unpack(">H", tab("head")[18:20])[0]

def glyph_sigs(data):
    """Per glyph ID of the TrueType font data: what it draws, in a form that
    subsetting keeps - its advance and outline (a simple glyph's contour ends,
    on-curve bits and coordinates; a composite's components by their own
    signatures, offsets and transforms), without instructions or flags that
    only hint or encode."""
    t = sfnt_tables(data)
    tab = lambda tag: data[t[tag][0]:t[tag][0] + t[tag][1]] if tag in t else b""
    n = struct.unpack(">H", tab("maxp")[4:6])[0]
    long_loca = struct.unpack(">h", tab("head")[50:52])[0] == 1
    loca = tab("loca")
    offs = (struct.unpack(f">{n + 1}I", loca[:4 * (n + 1)]) if long_loca
            else [2 * v for v in struct.unpack(f">{n + 1}H", loca[:2 * (n + 1)])])
    glyf = tab("glyf")
    advs = advances(data)[0]
    adv = lambda g: advs[g]
    memo = {}

    def sig(g):
        if g in memo:
            return memo[g]
        memo[g] = None  # a component cycle reads as None
        d = glyf[offs[g]:offs[g + 1]] if g < n else b""
        if len(d) < 10:
            r = ("empty", adv(g) if g < n else None)
        elif struct.unpack(">h", d[:2])[0] >= 0:
            nc = struct.unpack(">h", d[:2])[0]
            ends = struct.unpack(f">{nc}H", d[10:10 + 2 * nc])
            npts = ends[-1] + 1 if nc else 0
            p = 10 + 2 * nc
            p += 2 + struct.unpack(">H", d[p:p + 2])[0]  # instructions
            flags = []
            while len(flags) < npts:
                f = d[p]
                p += 1
                k = 1
                if f & 8:
                    k += d[p]
                    p += 1
                flags += [f] * k
            coords = []
            for short, same in ((2, 16), (4, 32)):
                v, vals = 0, []
                for f in flags[:npts]:
                    if f & short:
                        v += d[p] if f & same else -d[p]
                        p += 1
                    elif not f & same:
                        v += struct.unpack(">h", d[p:p + 2])[0]
                        p += 2
                    vals.append(v)
                coords.append(tuple(vals))
            r = ("simple", adv(g), ends, tuple(f & 1 for f in flags[:npts]), coords[0], coords[1])
        else:
            comps, p, more = [], 10, True
            while more:
                f, c = struct.unpack(">HH", d[p:p + 4])
                p += 4
                if f & 1:
                    a = struct.unpack(">hh", d[p:p + 4]) if f & 2 else struct.unpack(">HH", d[p:p + 4])
                    p += 4
                else:
                    a = struct.unpack(">bb", d[p:p + 2]) if f & 2 else struct.unpack(">BB", d[p:p + 2])
                    p += 2
                k = 1 if f & 8 else 2 if f & 0x40 else 4 if f & 0x80 else 0
                tr = struct.unpack(f">{k}h", d[p:p + 2 * k])
                p += 2 * k
                comps.append((sig(c), a, f & 2, f & 4, tr))
                more = f & 0x20
            r = ("composite", adv(g), tuple(comps))
        memo[g] = r
        return r
    return [sig(g) for g in range(n)]

class SourceGlyphs:
    """Which glyphs of a source font a glyph of the PDF's embedded fonts can
    be: those that draw the same (glyph_sigs)."""
    def __init__(self, pdf):
        data, objs = qdf(pdf)
        self.embedded = {}  # font name -> signatures
        for obj in objs.values():
            head = obj.split("\nstream\n")[0]
            m = re.search(r"/BaseFont\s*/([^\s/<>\[\]]+)", head)
            fd = re.search(r"/FontDescriptor\s+(\d+) 0 R", head)
            if not re.search(r"/Subtype\s*/CIDFontType2", head) or not m or not fd:
                continue
            ff = re.search(r"/FontFile2\s+(\d+) 0 R", objs[int(fd.group(1))])
            self.embedded[m.group(1)] = glyph_sigs(stream_bytes(objs, objs[int(ff.group(1))]))
        self.sources = {}  # font path -> {signature: [gid]}

    def same(self, font, pdf_gid, source, gid):
        """Whether glyph pdf_gid of embedded font draws glyph gid of the font
        file source."""
        if source not in self.sources:
            by = {}
            for g, sg in enumerate(glyph_sigs(open(source, "rb").read())):
                by.setdefault(sg, []).append(g)
            self.sources[source] = by
        emb = self.embedded.get(font)
        return emb is not None and pdf_gid < len(emb) and gid in self.sources[source].get(emb[pdf_gid], [])

def check_widths(pdf, errors):
    """/W against the programs: a width that is not the advance of the glyph
    the CIDToGIDMap names means the map (or /W) points at another glyph."""
    data, objs = qdf(pdf)
    fonts = checked = bad = 0
    for obj in objs.values():
        head = obj.split("\nstream\n")[0]
        if not re.search(r"/Subtype\s*/CIDFontType2", head):
            continue
        fonts += 1
        name = re.search(r"/BaseFont\s*/(\S+)", head).group(1)
        fd = objs[int(re.search(r"/FontDescriptor\s+(\d+) 0 R", head).group(1))]
        prog = stream_bytes(objs, objs[int(re.search(r"/FontFile2\s+(\d+) 0 R", fd).group(1))])
        adv, upem = advances(prog)
        m = re.search(r"/CIDToGIDMap\s+(\d+) 0 R", head)
        cmap = stream_bytes(objs, objs[int(m.group(1))]) if m else None
        gid = lambda c: (cmap[2 * c] << 8 | cmap[2 * c + 1] if 2 * c + 1 < len(cmap) else 0) if cmap else c
        w = re.search(r"/W\s*\[(.*?)\]\s*(/|>>)", head, re.S)
        toks = re.findall(r"\[|\]|-?[\d.]+", w.group(1)) if w else []
        widths, i = {}, 0
        while i < len(toks):  # c [w w ...]  or  c_first c_last w
            c = int(toks[i])
            if toks[i + 1] == "[":
                j = i + 2
                while toks[j] != "]":
                    widths[c + j - i - 2] = float(toks[j])
                    j += 1
                i = j + 1
            else:
                for k in range(c, int(toks[i + 1]) + 1):
                    widths[k] = float(toks[i + 2])
                i += 3
        for c, wd in widths.items():
            g = gid(c)
            checked += 1
            if g >= len(adv) or abs(adv[g] * 1000.0 / upem - wd) > 0.5:
                bad += 1
                errors.append(f"{name}: CID {c} has /W {wd}, its glyph {g} advances "
                              f"{adv[g] * 1000.0 / upem if g < len(adv) else None}")
    if not fonts or not checked:
        errors.append("no CIDFontType2 font or no /W width found")
    print(f"{checked - bad} of {checked} widths of {fonts} fonts match their glyphs' advances")

def stream_bytes(objs, obj):
    """A stream object's data (qdf: uncompressed, /Length direct or not)."""
    m = re.search(r"/Length\s+(\d+)( 0 R)?", obj)
    n = int(objs[int(m.group(1))].strip()) if m.group(2) else int(m.group(1))
    i = obj.index("stream\n") + 7
    return obj[i:i + n].encode("latin-1")

def free_space(gl, i):
    """Whether glyph i of a page's (gid, x, y, unicode) list is a U+0020
    space with a glyph on either side on its baseline: the writer draws it
    where the pen puts it (pdf.c moves its adjustment into the gap after
    it, which word spacing then takes), so it must only lie between them."""
    return (gl[i][3] == " " and 0 < i < len(gl) - 1 and gl[i - 1][2] == gl[i][2] == gl[i + 1][2]
            and gl[i - 1][1] - TOL <= gl[i][1] <= gl[i + 1][1] + TOL)

def qdf(pdf):
    tmp = tempfile.NamedTemporaryFile(suffix=".pdf", delete=False).name
    # no content normalisation: qpdf would rewrite some hex strings as literal ones
    subprocess.run(["qpdf", "--qdf", "--normalize-content=n", "--object-streams=disable", pdf, tmp], check=True)
    data = open(tmp, "rb").read().decode("latin-1")
    os.unlink(tmp)
    objs = {}
    for m in re.finditer(r"(?m)^(\d+) 0 obj\n(.*?)\nendobj", data, re.S):
        objs[int(m.group(1))] = m.group(2)
    return data, objs

def stream(obj):
    m = re.search(r"stream\n(.*?)\n?endstream", obj, re.S)
    return m.group(1) if m else ""

def resolve(objs, s):
    m = re.match(r"\s*(\d+) 0 R", s)
    return objs[int(m.group(1))] if m else s

def tounicode_map(cmap):
    """code (int) -> str"""
    mp = {}
    def u16(h):
        b = bytes.fromhex(h)
        return b.decode("utf-16-be")
    for blk in re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.S):
        for c, u in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]*)>", blk):
            mp[int(c, 16)] = u16(u)
    for blk in re.findall(r"beginbfrange(.*?)endbfrange", cmap, re.S):
        for a, b, rest in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(\[[^\]]*\]|<[0-9A-Fa-f]*>)", blk):
            a, b = int(a, 16), int(b, 16)
            if rest.startswith("["):
                for k, u in enumerate(re.findall(r"<([0-9A-Fa-f]*)>", rest)):
                    mp[a + k] = u16(u)
            else:
                base = bytes.fromhex(rest[1:-1])
                for k in range(b - a + 1):
                    v = bytearray(base)
                    v[-1] += k
                    mp[a + k] = bytes(v).decode("utf-16-be")
    return mp

def codespace(cmap):
    """[(nbytes, low, high)] of a CMap's codespace ranges."""
    return [(len(a) // 2, int(a, 16), int(b, 16)) for blk in
            re.findall(r"begincodespacerange(.*?)endcodespacerange", cmap, re.S)
            for a, b in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", blk)]

def split_codes(b, ranges):
    """The codes of string b under the codespace ranges (PDF 32000-1 9.7.6.2:
    the shortest prefix that lies in a range of its length)."""
    out, i = [], 0
    while i < len(b):
        for k in (1, 2, 3, 4):
            v = int.from_bytes(b[i:i + k], "big")
            if i + k <= len(b) and any(n == k and lo <= v <= hi for n, lo, hi in ranges):
                out.append(v)
                i += k
                break
        else:
            raise ValueError(f"bytes {b[i:i + 4].hex()} are no code of the font's codespace {ranges}")
    return out

def pdf_codes(pdf):
    """Per page: list of (font object number, code) in drawing order, with
    what Form XObjects the page shows (Do) in their place, and the fonts'
    ToUnicode maps by object number.  Strings (literal or hex) are cut into
    codes by the font's encoding: 2 bytes for Identity-H, else the
    codespace of its embedded CMap."""
    data, objs = qdf(pdf)
    maps, spaces = {}, {}

    def resources(obj):
        """The text of a page's or form's resource dictionary."""
        head = obj.split("\nstream\n")[0]
        res = re.search(r"/Resources\s+(\d+ 0 R|<<)", head)
        return resolve(objs, res.group(1)) if res and res.group(1) != "<<" else head

    def named(resd, key):
        """name -> object number in the resource dictionary's KEY entry."""
        m = re.search(key + r"\s+(\d+ 0 R|<<(.*?)>>)", resd, re.S)
        if not m:
            return {}
        d = resolve(objs, m.group(1)) if m.group(1).endswith("R") else m.group(2)
        return {name: int(num) for name, num in re.findall(r"/(\S+)\s+(\d+) 0 R", d)}

    def show(content, resd, codes, depth):
        fonts, xobjects = named(resd, "/Font"), named(resd, "/XObject")
        for num in fonts.values():
            if num not in maps:
                tu = re.search(r"/ToUnicode\s+(\d+) 0 R", objs[num])
                maps[num] = tounicode_map(stream(objs[int(tu.group(1))])) if tu else {}
                enc = re.search(r"/Encoding\s+(/Identity-H|(\d+) 0 R)", objs[num])
                spaces[num] = codespace(stream(objs[int(enc.group(2))])) if enc and enc.group(2) else [(2, 0, 0xFFFF)]
        cur, operands, array = None, [], None
        for kind, val in content_tokens(content):
            if kind == "[":
                array = []
            elif kind == "]":
                operands.append(array or [])
                array = None
            elif array is not None:
                array.append(val)
            elif kind != "op":
                operands.append(val)
            else:
                if val == "Tf" and len(operands) >= 2:
                    cur = fonts.get(operands[-2])
                if val == "Do" and operands and operands[-1] in xobjects and depth < 8:
                    form = objs[xobjects[operands[-1]]]
                    if re.search(r"/Subtype\s*/Form", form.split("\nstream\n")[0]):
                        show(stream(form), resources(form), codes, depth + 1)
                shown = []
                if val == "TJ" and operands and isinstance(operands[-1], list):
                    shown = operands[-1]
                elif val in ("Tj", "'", '"') and operands:
                    shown = operands[-1:]
                for b in shown:
                    if isinstance(b, bytes):
                        codes.extend((cur, c) for c in split_codes(b, spaces.get(cur, [(2, 0, 0xFFFF)])))
                operands = []

    pages = []
    # QDF marks every page object with a "%% Page N" comment.
    for m in re.finditer(r"%% Page (\d+)\n%%[^\n]*\n(\d+) 0 obj\n(.*?)\nendobj", data, re.S):
        page = m.group(3)
        contents = re.search(r"/Contents\s+(\d+) 0 R", page)
        codes = []
        show(stream(objs[int(contents.group(1))]) if contents else "", resources(page), codes, 0)
        pages.append((codes, maps))
    return pages

def content_tokens(s):
    """Tokens of a content stream decoded as latin-1 (PDF 32000-1 7.2, 7.3):
    ("str", bytes) for literal and hex strings, ("name", text), ("num", value),
    ("[", None), ("]", None), ("op", text).  Dictionaries (inline images'
    and marked content's) are skipped."""
    i, n = 0, len(s)
    delim = "()<>[]{}/%"
    while i < n:
        c = s[i]
        if c in " \t\r\n\f\0":
            i += 1
        elif c == "%":
            while i < n and s[i] not in "\r\n":
                i += 1
        elif c == "(":
            out, depth, i = bytearray(), 1, i + 1
            while i < n:
                c = s[i]
                i += 1
                if c == "\\":
                    e = s[i] if i < n else ""
                    i += 1
                    if e in "nrtbf":
                        out.append(ord({"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}[e]))
                    elif e in "01234567" and e:
                        j = i - 1
                        while i < n and i - j < 3 and s[i] in "01234567":
                            i += 1
                        out.append(int(s[j:i], 8) & 0xFF)
                    elif e == "\r":  # a backslash before an end of line continues the string
                        if i < n and s[i] == "\n":
                            i += 1
                    elif e != "\n":
                        out.extend(e.encode("latin-1"))
                    continue
                if c == "(":
                    depth += 1
                elif c == ")":
                    depth -= 1
                    if depth == 0:
                        break
                elif c == "\r":  # an unescaped end of line reads as LF
                    if i < n and s[i] == "\n":
                        i += 1
                    c = "\n"
                out.extend(c.encode("latin-1"))
            yield "str", bytes(out)
        elif s.startswith("<<", i) or s.startswith(">>", i):
            i += 2
        elif c == "<":
            j = s.index(">", i)
            h = re.sub(r"\s", "", s[i + 1:j])
            yield "str", bytes.fromhex(h + "0" * (len(h) % 2))
            i = j + 1
        elif c in "[]":
            yield c, None
            i += 1
        elif c in "{}":
            i += 1
        else:
            j = i + 1
            while j < n and s[j] not in delim and s[j] not in " \t\r\n\f\0":
                j += 1
            tok = s[i:j]
            i = j
            if tok.startswith("/"):
                yield "name", tok[1:]
            elif re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)", tok):
                yield "num", float(tok)
            else:
                yield "op", tok
                if tok == "ID":  # inline image data up to EI
                    m = re.compile(r"\sEI(?=\s|$)").search(s, i)
                    i = m.end() if m else n

def hb_batch(font, rtl, lang, texts):
    """hb-shape every text (one per line) -> list of [(gid, cluster, dx, dy, adv)] in font units."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(texts) + "\n")
        name = f.name
    out = subprocess.run(["hb-shape", font, "--text-file=" + name, "--direction=" + ("rtl" if rtl else "ltr"),
                          "--language=" + lang, "--cluster-level=1", "--no-glyph-names"],
                         capture_output=True, text=True, check=True).stdout.strip().splitlines()
    os.unlink(name)
    res = []
    for line in out:
        gl = []
        for g in line.strip().strip("[]").split("|"):
            m = re.match(r"(\d+)=(\d+)(?:@(-?\d+),(-?\d+))?\+(-?\d+)", g)
            gid, cl, dx, dy, adv = m.groups()
            gl.append((int(gid), int(cl), int(dx or 0), int(dy or 0), int(adv)))
        res.append(gl)
    return res

def upem(font):
    """unitsPerEm of the font file (head table)."""
    return advances(open(font, "rb").read())[1]

def hbshape_all(tp, pdf, errors):
    mp = mutool_glyphs(pdf)
    sg = SourceGlyphs(pdf)
    jobs = {}  # (font, rtl, lang) -> texts
    items = []
    for pi, page in enumerate(tp):
        k = 0
        for line, run in trace_runs(page):
            n = len(run["glyphs"])
            key = (run["font"], run["rtl"], line["lang"])
            for t in (run["text"], run["text"] + "-"):
                jobs.setdefault(key, {}).setdefault(t, None)
            items.append((pi, k, n, line, run, key))
            k += n
    for key, texts in jobs.items():
        order = list(texts)
        for t, r in zip(order, hb_batch(key[0], key[1], key[2], order)):
            texts[t] = r
    units = {}
    checked = worst = 0
    for pi, k, n, line, run, key in items:
        got = mp[pi][k:k + n]
        want = jobs[key][run["text"]]
        text = run["text"]  # hb-shape numbers clusters by character
        if len(want) != n:
            want = jobs[key][run["text"] + "-"]  # a hyphenated line end
        if len(want) != len(got) or not all(sg.same(g[4], g[0], run["font"], w[0]) for g, w in zip(got, want)):
            errors.append(f"page {pi+1} {line['lang']} {run['text']!r}: glyphs {[g[0] for g in got]} (PDF's) do not draw hb-shape's {[g[0] for g in want]}")
            continue
        font = run["font"]
        if font not in units:
            units[font] = upem(font)
        sc = run["size"] / units[font]
        pen = got[0][1] - want[0][2] * sc
        base = got[0][2] - want[0][3] * sc
        for i, ((gid, cl, dx, dy, adv), (_, px, py, _, _)) in enumerate(zip(want, got)):
            ex, ey = pen + dx * sc, base + dy * sc
            d = max(abs(ex - px), abs(ey - py))
            if free_space(mp[pi], k + i):
                d = abs(ey - py)
            worst = max(worst, d)
            checked += 1
            if d > TOL:
                errors.append(f"page {pi+1} {line['lang']} {run['text'][:30]!r}: glyph {gid} at ({px:.3f},{py:.3f}), hb-shape ({ex:.3f},{ey:.3f})")
                break
            pen += adv * sc
            # Letter spacing (the line's "letter") goes between clusters, but not
            # next to white space (the gap between words is the spaces' own).
            ws = lambda c: c < len(text) and text[c] in " \u00a0\u202f\u2009\t"
            if line.get("letter") and i + 1 < n and want[i + 1][1] != cl and not ws(cl) and not ws(want[i + 1][1]):
                pen += line["letter"]
            # Justification widens the spaces that are break opportunities by
            # the line's "extra"; which spaces those are (UAX #14) is read off
            # the next glyph: it must then sit exactly one extra further on.
            if line["extra"] and cl < len(text) and text[cl] == " " and i + 1 < n:
                nx = got[i + 1][1] - want[i + 1][2] * sc
                if abs(nx - (pen + line["extra"])) < abs(nx - pen):
                    pen += line["extra"]
    print(f"{checked} glyphs draw hb-shape's, largest position difference {worst:.4f} pt")

def main():
    mode, tpath, pdf = sys.argv[1:4]
    tp = trace_pages(tpath) if mode != "widths" else []
    errors = []
    if mode == "trace-vs-pdf":
        mp = mutool_glyphs(pdf)
        sg = SourceGlyphs(pdf)
        if len(mp) != len(tp):
            errors.append(f"trace has {len(tp)} pages, PDF {len(mp)}")
        n = 0
        worst = 0.0
        for pi, (page, pg) in enumerate(zip(tp, mp)):
            tg = [(*g, run["font"]) for _, run in trace_runs(page) for g in run["glyphs"]]
            if len(tg) != len(pg):
                errors.append(f"page {pi+1}: trace has {len(tg)} glyphs, PDF {len(pg)}")
                continue
            for j, ((gid, x, y, font), (pgid, px, py, _, pfont)) in enumerate(zip(tg, pg)):
                n += 1
                d = abs(y - py) if free_space(pg, j) else max(abs(x - px), abs(y - py))
                worst = max(worst, d)
                if not sg.same(pfont, pgid, font, gid) or d > TOL:
                    errors.append(f"page {pi+1}: trace glyph {gid} of {font} at ({x},{y}) vs PDF {pgid} of {pfont} at ({px},{py})")
        print(f"{n} glyphs compared, largest position difference {worst:.4f} pt")
    elif mode == "tounicode":
        pc = pdf_codes(pdf)
        runs = 0
        for pi, (page, (codes, fonts)) in enumerate(zip(tp, pc)):
            k = 0
            for line, run in trace_runs(page):
                n = len(run["glyphs"])
                seg = codes[k:k + n]
                k += n
                runs += 1
                text = "".join(fonts.get(f, {}).get(c, "") for f, c in seg)
                if run["rtl"]:
                    # glyphs are drawn left to right; each glyph's text is in logical order
                    text = "".join(fonts.get(f, {}).get(c, "") for f, c in reversed(seg))
                if text != run["text"]:
                    errors.append(f"page {pi+1} {line['lang']} {line['kind']}: ToUnicode gives {text!r}, source {run['text']!r}")
            if k != len(codes):
                errors.append(f"page {pi+1}: {len(codes)} codes in the PDF, {k} glyphs in the trace")
        print(f"{runs} runs checked")
    elif mode == "hbshape":
        lang = sys.argv[4]
        mp = mutool_glyphs(pdf)
        sg = SourceGlyphs(pdf)
        done = False
        for pi, page in enumerate(tp):
            k = 0
            for line, run in trace_runs(page):
                n = len(run["glyphs"])
                if not done and line["lang"] == lang and line["kind"] == "paragraph" and run["rtl"] and n > 20:
                    out = subprocess.run(["hb-shape", run["font"], run["text"], "--direction=rtl",
                                          f"--language={lang}", "--cluster-level=1", "--no-glyph-names",
                                          "--no-positions", "--no-clusters"],
                                         capture_output=True, text=True, check=True).stdout.strip()
                    want = [int(x) for x in out.strip("[]").split("|")]
                    got = mp[pi][k:k + n]
                    print(f"{lang} run of {n} glyphs: hb-shape {len(want)} glyphs")
                    if len(want) != len(got) or not all(sg.same(g[4], g[0], run["font"], w) for g, w in zip(got, want)):
                        errors.append(f"glyphs differ:\n PDF      {[g[0] for g in got]}\n hb-shape {want}")
                    done = True
                k += n
        if not done:
            errors.append(f"no {lang} paragraph run found")
    elif mode == "hbshape-all":
        hbshape_all(tp, pdf, errors)
    elif mode == "widths":
        check_widths(pdf, errors)
    for e in errors[:15]:
        print(e, file=sys.stderr)
    sys.exit(1 if errors else 0)

main()
