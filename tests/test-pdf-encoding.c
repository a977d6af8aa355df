/* test-pdf-encoding.c - the two ways the PDF writer encodes glyphs
 * (pdf-font.h): compact fonts (one-byte codes through an embedded CMap,
 * the space at code 32 so that word spacing, Tw, takes justified spaces)
 * and Identity-H (2-byte codes, aliases for a glyph with a second text),
 * read back by our own reader (pdfread.h), MuPDF, poppler and qpdf.
 * Run from the repository root. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base.h"
#include "harness.h"
#include "pdf.h"
#include "pdf-font.h"
#include "pdfread.h"
#include "text-font.h"
#include "testutil.h"


/* A line of Latin text set by hand: each character its nominal glyph
 * (U+00A0 the space's, as a shaper draws it with fonts that have none),
 * spaces (U+0020) widened by extra, letter spacing between other
 * characters (not next to a space), the way the layout justifies. */
typedef struct hline {
    bl_glyph g[128];
    bl_glyph_run run;
} hline;

static void set_line(hline *L, bl_face *face, const char *text, double x, double y, double size, double extra,
                     double letter)
{
    memset(L, 0, sizeof *L);
    size_t n = 0, len = strlen(text);
    for (size_t i = 0; i < len && n < 128;) {
        uint32_t cp;
        int l = bl_utf8_decode(text + i, len - i, &cp);
        if (l <= 0)
            break;
        int sp = cp == ' ', next_sp = i + (size_t)l < len && text[i + (size_t)l] == ' ';
        L->g[n] = (bl_glyph){bl_face_glyph(face, cp == 0xA0 ? ' ' : cp), x, y, 0, (uint32_t)i, (uint32_t)l};
        double adv = bl_face_advance(face, L->g[n].gid) * size / face->upem;
        adv += sp ? extra : (next_sp || i + (size_t)l == len) ? 0 : letter;
        L->g[n].advance = adv;
        x += adv;
        i += (size_t)l;
        n++;
    }
    L->run = (bl_glyph_run){.face = face, .size = size, .lang = "en", .text = text, .text_len = len,
                            .glyphs = L->g, .n = n, .block = 1, .kind = "paragraph"};
}

typedef struct doc {
    char path[600];
    bl_buf data;        /* the file */
    traced *tr;         /* mutool trace */
    size_t nt;
    bl_glyph drawn[512];
    hb_font_t *font[512]; /* each drawn glyph's source font */
    size_t ndrawn;
    pr_programs pp;       /* the embedded font programs */
} doc;

/* One page: a justified, letter-spaced line; the same space glyph for
 * U+00A0 (first) and U+0020; a Hebrew line (a font without aliases).
 * Written uncompressed, then read back. */
static void render(doc *d, const char *dir, const char *name, int identity_h, bl_face *latin, bl_face *hebrew)
{
    bl_pdf_info info = {.compress = 0, .identity_h = identity_h};
    bl_pdf *pdf = bl_pdf_new(&info);
    bl_device *dev = bl_pdf_device(pdf);
    static hline lines[3];
    set_line(&lines[0], latin, "No\xC2\xA0" "1 of the notes", 72, 700, 12, 0, 0);
    set_line(&lines[1], latin, "Justified words set with extra space and letter spacing", 72, 680, 10.5, 1.37,
             0.21);
    set_line(&lines[2], hebrew, "\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D \xD7\xA2\xD7\x95\xD7\x9C\xD7\x9D", 72, 650, 14,
             0.8, 0);
    lines[2].run.rtl = 1;
    lines[2].run.lang = "he";
    CHECK(dev->begin_page(dev, 595, 842) == 0, "%s: begin_page", name);
    d->ndrawn = 0;
    for (int i = 0; i < 3; i++) {
        CHECK(dev->glyph_run(dev, &lines[i].run) == 0, "%s: line %d: %s", name, i, dev->error(dev));
        for (size_t k = 0; k < lines[i].run.n; k++) {
            d->font[d->ndrawn] = lines[i].run.face->hb_font;
            d->drawn[d->ndrawn++] = lines[i].g[k];
        }
    }
    CHECK(dev->end_page(dev) == 0, "%s: end_page", name);
    snprintf(d->path, sizeof d->path, "%s/%s.pdf", dir, name);
    CHECK(bl_pdf_save(pdf, d->path) == 0, "%s: save: %s", name, bl_pdf_error(pdf));
    bl_pdf_free(pdf);
    d->data.len = 0;
    char err[256];
    bl_file *f = bl_file_read(d->path, 16u << 20, err, sizeof err);
    CHECK(f != NULL, "%s: read back: %s", name, f ? "" : err);
    if (f)
        bl_buf_append(&d->data, f->text, f->len);
    bl_buf_append(&d->data, "", 0);
    bl_file_free(f);
    bl_buf out = {0};
    char cmd[800];
    int rc = bl_test_pdfcheck("", d->path, &out);
    CHECK(rc == 0, "%s: pdfcheck rc=%d:\n%s", name, rc, out.data);
    snprintf(cmd, sizeof cmd, "mutool trace %s 2>/dev/null", d->path);
    CHECK(bl_test_run(cmd, &out) == 0, "%s: mutool trace runs", name);
    d->nt = parse_trace(out.data, &d->tr);
    bl_buf_free(&out);
    CHECK(pr_programs_load(d->path, &d->pp) == 2, "%s: two font programs read back (%zu)", name, d->pp.n);
}

/* The page's content stream ("stream" CR LF "BT" ... LF "endstream"). */
static const char *content(const doc *d, size_t *len)
{
    const char *s = find_bytes(d->data.data, d->data.data + d->data.len, "stream\r\nBT\n");
    const char *e = s ? find_bytes(s, d->data.data + d->data.len, "\nendstream") : NULL;
    *len = e ? (size_t)(e - (s + 8)) : 0;
    return e ? s + 8 : NULL;
}

/* Glyph ids and positions as MuPDF reads them: every glyph within
 * 0.003 pt, spaces too when strict_spaces, else spaces between their
 * neighbours. */
static void check_positions(const doc *d, const char *name, int strict_spaces)
{
    CHECK(d->nt == d->ndrawn, "%s: mutool traces %zu glyphs, %zu drawn", name, d->nt, d->ndrawn);
    double worst = 0, worst_space = 0;
    size_t bad = 0;
    for (size_t i = 0; i < d->nt && i < d->ndrawn; i++) {
        double e = strict_spaces ? fmax(fabs(d->tr[i].x - d->drawn[i].x), fabs(d->tr[i].y - d->drawn[i].y))
                                 : traced_error(d->tr, d->nt, i, d->drawn[i].x, d->drawn[i].y);
        worst = fmax(worst, e);
        if (!strcmp(d->tr[i].uni, " "))
            worst_space = fmax(worst_space, fabs(d->tr[i].x - d->drawn[i].x));
        bad += !pr_draws(&d->pp, d->tr[i].font, d->tr[i].gid, d->font[i], d->drawn[i].gid);
    }
    printf("%s: largest position error %.5f pt, of a space %.5f pt\n", name, worst, worst_space);
    CHECK(bad == 0 && worst < 0.003, "%s: %zu glyphs differ from those drawn, largest position error %.5f pt", name,
          bad, worst);
    if (!strict_spaces) /* they do move (or this check checks nothing) */
        CHECK(worst_space > 0.1, "%s: the letter-spaced line's spaces are left to the pen (%.5f pt)", name,
              worst_space);
}

/* A compact font's codes run out: thousands of texts for one glyph (each
 * a new alias) must not take the codes that glyphs not drawn yet need.
 * Every glyph then still gets a code of its own, all codes differ, each
 * is in the codespace, and the aliases past the limit fall back to their
 * glyph's first code (counted in lost_aliases). */
static void check_code_limits(bl_face *face)
{
    HPDF_Doc hd = HPDF_New(NULL, NULL);
    char err[256] = "";
    HPDF_Dict cmap = hd ? bl_pdf_compact_cmap(hd, 0, err, sizeof err) : NULL;
    bl_pdf_font *f = cmap ? bl_pdf_font_new(hd, face, 0, cmap, err, sizeof err) : NULL;
    CHECK(f && f->compact, "code limits: a compact font (%s)", err);
    if (!f) {
        HPDF_Free(hd);
        return;
    }
    unsigned a = bl_face_glyph(face, 'a');
    int ok = 1;
    for (unsigned i = 0; i < 9000 && ok; i++) {
        char t[16];
        int n = snprintf(t, sizeof t, "a%u", i);
        ok = bl_pdf_font_code(f, a, t, (size_t)n) != NULL;
    }
    for (unsigned g = 0; g < face->num_glyphs && ok; g++)
        ok = bl_pdf_font_code(f, g, "x", 1) != NULL;
    CHECK(ok, "code limits: every pair gets a code");
    unsigned char *seen = calloc(0x10000, 1);
    size_t dup = 0, bad = 0, glyphs = 0;
    for (size_t i = 0; seen && i < f->ncodes; i++) {
        const bl_pdf_code *c = &f->codes[i];
        dup += seen[c->code]++ != 0;
        bad += c->len == 1 ? c->code >= 0xE0 : c->code < 0xE000;
        glyphs += f->slot[c->gid] == i + 1;
    }
    CHECK(dup == 0 && bad == 0, "code limits: %zu codes, %zu twice, %zu outside the codespace", f->ncodes, dup, bad);
    CHECK(glyphs == face->num_glyphs, "code limits: each of the %u glyphs has a code of its own (%zu)",
          face->num_glyphs, glyphs);
    CHECK(f->lost_aliases > 0 && f->ncodes <= 0xDF + 0x2000, "code limits: %zu aliases fall back to the first code",
          f->lost_aliases);
    free(seen);
    bl_pdf_font_free(f);
    HPDF_Free(hd);
}

/* Every glyph of the PDF at path, as MuPDF traces it, draws want[i] of
 * src (its outline and advance), and the file passes pdfcheck. */
static void check_drawn(const char *path, const unsigned *want, size_t nwant, hb_font_t *src, const char *what)
{
    char cmd[800];
    bl_buf out = {0};
    snprintf(cmd, sizeof cmd, "mutool trace %s 2>/dev/null", path);
    CHECK(bl_test_run(cmd, &out) == 0, "%s: mutool trace runs", what);
    traced *tr;
    size_t nt = parse_trace(out.data, &tr), bad = 0;
    pr_programs pp = {0};
    CHECK(pr_programs_load(path, &pp) == 1, "%s: one font program (%zu)", what, pp.n);
    for (size_t i = 0; i < nt && i < nwant; i++)
        bad += !pr_draws(&pp, tr[i].font, tr[i].gid, src, want[i]);
    CHECK(nt == nwant && bad == 0, "%s: %zu of %zu glyphs traced, %zu draw another glyph", what, nt, nwant, bad);
    int rc = bl_test_pdfcheck("", path, &out);
    CHECK(rc == 0, "%s: pdfcheck rc=%d:\n%s", what, rc, out.data);
    pr_programs_free(&pp);
    free(tr);
    bl_buf_free(&out);
}

/* One page of text in one font, added to a document and saved to path. */
static void page_of(bl_pdf *pdf, bl_face *face, const char *text, unsigned *want, size_t *nw, const char *path)
{
    static hline L;
    bl_device *dev = bl_pdf_device(pdf);
    set_line(&L, face, text, 72, 700, 12, 0, 0);
    CHECK(dev->begin_page(dev, 595, 842) == 0 && dev->glyph_run(dev, &L.run) == 0 && dev->end_page(dev) == 0,
          "a page of '%s': %s", text, dev->error(dev));
    for (size_t k = 0; k < L.run.n; k++)
        want[(*nw)++] = L.g[k].gid;
    CHECK(bl_pdf_save(pdf, path) == 0, "save %s: %s", path, bl_pdf_error(pdf));
}

/* A compact font's glyphs are renumbered at each save: a second save after
 * glyphs with lower ids were drawn moves the first ones, and the codes
 * drawn before must follow.  And a document that asks for compression
 * with any true value (2) shares no cached font file between Identity-H
 * (glyph ids kept) and compact fonts (renumbered). */
static void check_resave(const char *dir, bl_face *latin)
{
    char p1[700], p2[700];
    unsigned want[64];
    size_t nw = 0;
    snprintf(p1, sizeof p1, "%s/resave-1.pdf", dir);
    snprintf(p2, sizeof p2, "%s/resave-2.pdf", dir);
    bl_pdf_info info = {.compress = 1};
    bl_pdf *pdf = bl_pdf_new(&info);
    page_of(pdf, latin, "xyz", want, &nw, p1);
    check_drawn(p1, want, nw, latin->hb_font, "first save");
    page_of(pdf, latin, "ABCabc", want, &nw, p2);
    check_drawn(p2, want, nw, latin->hb_font, "second save, with glyphs of lower ids");
    bl_pdf_free(pdf);
    for (int identity = 1; identity >= 0; identity--) {
        char p[700];
        unsigned w[8];
        size_t n = 0;
        snprintf(p, sizeof p, "%s/compress2-%d.pdf", dir, identity);
        bl_pdf_info i2 = {.compress = 2, .identity_h = identity};
        pdf = bl_pdf_new(&i2);
        page_of(pdf, latin, "Hello", w, &n, p);
        bl_pdf_free(pdf);
        check_drawn(p, w, n, latin->hb_font, identity ? "compress 2, Identity-H" : "compress 2, compact after it");
    }
}

int main(void)
{
    char dir[] = "/tmp/bl-test-pdf-enc-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char err[256];
    bl_face *latin = bl_face_open("fonts/NotoSerif-Regular.ttf", err, sizeof err);
    bl_face *hebrew = bl_face_open("fonts/NotoSerifHebrew-Regular.ttf", err, sizeof err);
    CHECK(latin && hebrew, "fonts open: %s", err);
    if (!latin || !hebrew)
        return bl_test_done();
    unsigned sp = bl_face_glyph(latin, ' ');
    check_code_limits(latin);
    check_resave(dir, latin);

    /* ---- compact fonts (the default) ---- */
    doc c = {0};
    render(&c, dir, "compact", 0, latin, hebrew);
    size_t clen;
    const char *cs = content(&c, &clen);
    CHECK(cs != NULL, "compact: content stream found");
    /* One Tw per line with justified spaces; no adjustment before or after
     * a space in the letter-spaced line (Tc takes the letters, Tw the
     * spaces); the spaces are the one-byte code 32. */
    CHECK(count_in(cs, clen, " Tw") == 1, "compact: one Tw (%zu)", count_in(cs, clen, " Tw"));
    CHECK(count_in(cs, clen, " Tc") == 2, "compact: Tc set and set back (%zu)", count_in(cs, clen, " Tc"));
    const char *j = find_bytes(cs, cs + clen, " Tw[(");
    j = j ? j + 5 : NULL;
    const char *je = j ? find_bytes(j, cs + clen, ")]TJ") : NULL;
    CHECK(j && je && count_in(j, (size_t)(je - j), " ") == 8 && count_in(j, (size_t)(je - j), ")") == 0,
          "compact: the justified line is one string, its 8 spaces byte 32 (%.*s)", j && je ? (int)(je - j) : 0,
          j ? j : "");
    pr_fonts fs;
    pr_load_fonts(&c.data, &fs);
    CHECK(fs.n == 2 && !fs.f[0].identity && !fs.f[1].identity, "compact: two fonts with embedded CMaps");
    if (fs.n == 2) {
        long gid = -1;
        int is_space = 0;
        const unsigned char code32[] = {32};
        CHECK(pr_decode(&fs.f[0], code32, 1, &gid, &is_space) == 1 && gid >= 0 && is_space &&
                  pr_draws(&c.pp, fs.f[0].base, (unsigned)gid, latin->hb_font, sp),
              "compact: code 32 is the space glyph (the program's %ld)", gid);
        const unsigned char high[] = {0xE0, 0x00};
        CHECK(pr_decode(&fs.f[0], high, 2, &gid, &is_space) == 2 && gid == 0,
              "compact: E000 is a two-byte code, unused here (.notdef: %ld)", gid);
    }
    pr_free_fonts(&fs);
    /* U+00A0 was drawn first with the space glyph: it has a code of its own,
     * and U+0020 still has 32. */
    const char *cend = c.data.data + c.data.len;
    CHECK(find_bytes(c.data.data, cend, "<20> <0020>") && find_bytes(c.data.data, cend, "> <00A0>"),
          "compact: ToUnicode gives U+0020 for code 20 and U+00A0 for another");
    check_positions(&c, "compact", 0);

    /* ---- Identity-H ---- */
    doc h = {0};
    render(&h, dir, "identity", 1, latin, hebrew);
    size_t hlen;
    const char *hs = content(&h, &hlen);
    CHECK(hs && count_in(hs, hlen, " Tw") == 0, "identity: no Tw (there is no one-byte code 32)");
    /* The space glyph's first text (U+00A0) has its glyph id for code, the
     * second (U+0020) the first alias code, past the font's glyphs. */
    char want[64], want2[64];
    snprintf(want, sizeof want, "<%04X> <00A0>", sp);
    snprintf(want2, sizeof want2, "<%04X> <0020>", latin->num_glyphs);
    const char *hend = h.data.data + h.data.len;
    CHECK(find_bytes(h.data.data, hend, want) && find_bytes(h.data.data, hend, want2),
          "identity: ToUnicode maps %s and %s", want, want2);
    CHECK(count_in(h.data.data, h.data.len, "/Encoding /Identity-H") == 2, "identity: both fonts Identity-H");
    CHECK(count_in(h.data.data, h.data.len, "/CIDToGIDMap /Identity") == 1,
          "identity: the font without aliases maps CIDs by /Identity, the other by a stream");
    pr_load_fonts(&h.data, &fs);
    if (fs.n == 2) {
        long gid = -1;
        int is_space = 0;
        const unsigned char two[] = {(unsigned char)(sp >> 8), (unsigned char)sp};
        CHECK(fs.f[0].identity && pr_decode(&fs.f[0], two, 2, &gid, &is_space) == 2 && gid == (long)sp &&
                  !is_space,
              "identity: 2-byte codes are glyph ids");
    }
    pr_free_fonts(&fs);
    check_positions(&h, "identity", 1);

    /* Both read back as the same text; the compact page is smaller. */
    bl_buf t1 = {0}, t2 = {0};
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "pdftotext -enc UTF-8 %s - 2>&1", c.path);
    CHECK(bl_test_run(cmd, &t1) == 0, "pdftotext (compact)");
    snprintf(cmd, sizeof cmd, "pdftotext -enc UTF-8 %s - 2>&1", h.path);
    CHECK(bl_test_run(cmd, &t2) == 0, "pdftotext (identity)");
    CHECK(t1.data && t2.data && !strcmp(t1.data, t2.data) && strstr(t1.data, "Justified words set with extra"),
          "the same text from both:\n%s---\n%s", t1.data ? t1.data : "", t2.data ? t2.data : "");
    printf("content stream: compact %zu bytes, identity %zu bytes\n", clen, hlen);
    CHECK(clen < hlen * 3 / 4, "compact content %zu bytes < 3/4 of Identity-H's %zu", clen, hlen);

    bl_buf_free(&t1);
    bl_buf_free(&t2);
    bl_buf_free(&c.data);
    bl_buf_free(&h.data);
    free(c.tr);
    free(h.tr);
    pr_programs_free(&c.pp);
    pr_programs_free(&h.pp);
    bl_face_drop(latin);
    bl_face_drop(hebrew);
    bl_test_cleanup(dir, bl_test_fail_count);
    return bl_test_done();
}
