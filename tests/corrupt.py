#!/usr/bin/env python3
"""corrupt.py MODE ARGS: makes broken fonts and images for the error tests.
  restricted-font FILE.ttf   set OS/2 fsType to 0x0002 (restricted licence embedding)
  table-past-end FILE.ttf    make the last table directory entry reach past the end of the file
  bad-outlines FILE.ttf      every glyph claims 32767 contours (tables stay well formed)
  png DIR                    from DIR/good.png and DIR/good.jpg make zero.png, truncated.png,
                             text.png, huge.png (a valid header claiming 100000 x 100000) and
                             truncated.jpg"""
import struct, sys, zlib

def tables(data):
    n = struct.unpack(">H", data[4:6])[0]
    for i in range(n):
        e = 12 + 16 * i
        tag, _, off, ln = struct.unpack(">4sIII", data[e:e + 16])
        yield i, e, tag, off, ln

mode = sys.argv[1]
if mode == "restricted-font":
    path = sys.argv[2]
    data = bytearray(open(path, "rb").read())
    for _, _, tag, off, _ in tables(data):
        if tag == b"OS/2":
            data[off + 8:off + 10] = struct.pack(">H", 0x0002)
    open(path, "wb").write(data)
elif mode == "table-past-end":
    path = sys.argv[2]
    data = bytearray(open(path, "rb").read())
    last = list(tables(data))[-1]
    _, e, _, off, _ = last
    data[e + 12:e + 16] = struct.pack(">I", len(data) - off + 4096)
    open(path, "wb").write(data)
elif mode == "bad-outlines":
    path = sys.argv[2]
    data = bytearray(open(path, "rb").read())
    t = {tag: (off, ln) for _, _, tag, off, ln in tables(data)}
    head, (lo, _), (go, _) = t[b"head"][0], t[b"loca"], t[b"glyf"]
    glyphs = struct.unpack(">H", data[t[b"maxp"][0] + 4:t[b"maxp"][0] + 6])[0]
    longloca = struct.unpack(">h", data[head + 50:head + 52])[0]
    at = lambda g: struct.unpack(">I", data[lo + 4 * g:lo + 4 * g + 4])[0] if longloca else 2 * struct.unpack(">H", data[lo + 2 * g:lo + 2 * g + 2])[0]
    for g in range(glyphs):
        if at(g + 1) - at(g) >= 10:
            data[go + at(g):go + at(g) + 2] = struct.pack(">h", 32767)
    open(path, "wb").write(data)
elif mode == "png":
    d = sys.argv[2]
    good = open(d + "/good.png", "rb").read()
    open(d + "/zero.png", "wb").close()
    open(d + "/truncated.png", "wb").write(good[:len(good) // 2])
    open(d + "/text.png", "w").write("this is not an image\n")
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    chunk = lambda t, b: struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xFFFFFFFF)
    open(d + "/huge.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
                                      chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    jpg = open(d + "/good.jpg", "rb").read()
    open(d + "/truncated.jpg", "wb").write(jpg[:len(jpg) // 2])
else:
    sys.exit("unknown mode " + mode)
