/* test-pdf.c - the PDF writer: shaped Hebrew (niqqud), Arabic (shadda) and
 * English lines drawn through the device, saved, then read back with
 * external tools: pdfcheck.sh, pdffonts, mutool trace (glyph ids and
 * positions within 0.01 pt), pdftotext (logical-order text).  Run from the
 * repository root. */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hb.h>
#include <zlib.h>

#include "base.h"
#include "harness.h"
#include "pdftest.h"
#include "testutil.h"
#include "image.h"
#include "pdf.h"
#include "pdf-font.h"
#include "pdf-internal.h"


static unsigned be16(const unsigned char *p) { return (unsigned)p[0] << 8 | p[1]; }

/* Glyph programs left in a glyf table (TrueType spec, 'glyf': a simple
 * glyph's instructionLength follows its endPtsOfContours; a composite's
 * last component has WE_HAVE_INSTRUCTIONS, 0x100).  -1 when malformed. */
static long glyph_instructions(hb_face_t *face)
{
    hb_blob_t *gb = hb_face_reference_table(face, HB_TAG('g', 'l', 'y', 'f'));
    hb_blob_t *lb = hb_face_reference_table(face, HB_TAG('l', 'o', 'c', 'a'));
    hb_blob_t *hb = hb_face_reference_table(face, HB_TAG('h', 'e', 'a', 'd'));
    unsigned gl, ll, hl;
    const unsigned char *g = (const unsigned char *)hb_blob_get_data(gb, &gl);
    const unsigned char *l = (const unsigned char *)hb_blob_get_data(lb, &ll);
    const unsigned char *h = (const unsigned char *)hb_blob_get_data(hb, &hl);
    long total = -1;
    unsigned n = hb_face_get_glyph_count(face);
    if (hl >= 54) {
        int lng = be16(h + 50) == 1;
        total = 0;
        for (unsigned i = 0; i < n && total >= 0; i++) {
            if ((lng ? 4 : 2) * (size_t)(i + 2) > ll) {
                total = -1;
                break;
            }
            size_t a = lng ? ((size_t)be16(l + 4 * i) << 16 | be16(l + 4 * i + 2)) : 2 * (size_t)be16(l + 2 * i);
            size_t b = lng ? ((size_t)be16(l + 4 * i + 4) << 16 | be16(l + 4 * i + 6))
                           : 2 * (size_t)be16(l + 2 * i + 2);
            if (a == b)
                continue;
            if (b < a + 10 || b > gl) {
                total = -1;
                break;
            }
            const unsigned char *p = g + a;
            int nc = (int16_t)be16(p);
            if (nc >= 0) {
                size_t at = 10 + 2 * (size_t)nc;
                total = at + 2 <= b - a ? total + (long)be16(p + at) : -1;
                continue;
            }
            size_t at = 10;
            unsigned flags;
            do { /* flags, glyph index, arguments, then an optional transform */
                if (at + 4 > b - a) {
                    total = -1;
                    break;
                }
                flags = be16(p + at);
                at += 4 + ((flags & 1) ? 4 : 2) + ((flags & 8) ? 2 : (flags & 0x40) ? 4 : (flags & 0x80) ? 8 : 0);
            } while (flags & 0x20);
            if (total >= 0 && (flags & 0x100))
                total += 1;
        }
    }
    hb_blob_destroy(gb);
    hb_blob_destroy(lb);
    hb_blob_destroy(hb);
    return total;
}

/* The bytes of a libharu stream (caller frees), *len of them. */
static char *stream_bytes(HPDF_Stream s, HPDF_UINT *len)
{
    *len = (HPDF_UINT)HPDF_Stream_Size(s);
    char *data = malloc(*len ? *len : 1);
    HPDF_Stream_Seek(s, 0, HPDF_SEEK_SET);
    if (data && HPDF_Stream_Read(s, (HPDF_BYTE *)data, len) != HPDF_OK) {
        free(data);
        return NULL;
    }
    return data;
}

/* The embedded font program, straight from the FontFile2 stream: only the
 * tables a CIDFontType2 needs, no hinting, and every glyph drawn has the
 * original's outline and advance.  An Identity-H font keeps the original
 * glyph ids (its codes are glyph ids); a compact one (compact) has its
 * glyphs renumbered densely, each code reaching its glyph through the
 * CIDToGIDMap stream. */
static void check_font_program(bl_face *face, const unsigned *gids, size_t n, int compact)
{
    char err[256];
    HPDF_Doc doc = HPDF_New(NULL, NULL);
    HPDF_Dict cmap = doc && compact ? bl_pdf_compact_cmap(doc, 0, err, sizeof err) : NULL;
    bl_pdf_font *f = doc && (cmap || !compact) ? bl_pdf_font_new(doc, face, 0, cmap, err, sizeof err) : NULL;
    CHECK(f != NULL && f->compact == compact, "bl_pdf_font_new: %s", doc ? err : "no document");
    if (!f) {
        HPDF_Free(doc);
        return;
    }
    unsigned at[16]; /* each glyph's id in the program */
    CHECK(n <= 16, "check_font_program takes at most 16 glyphs (%zu)", n);
    if (n > 16)
        n = 16;
    for (size_t i = 0; i < n; i++) {
        const bl_pdf_code *c = bl_pdf_font_code(f, gids[i], "x", 1);
        CHECK(c != NULL, "code for glyph %u", gids[i]);
        at[i] = c ? c->cid : 0;
    }
    CHECK(bl_pdf_font_finish(f, doc, 0, err, sizeof err) == 0, "finish: %s", err);
    HPDF_UINT mlen = 0;
    char *map = f->cidtogid ? stream_bytes(f->cidtogid->stream, &mlen) : NULL;
    CHECK(!compact == !map, "%s: a CIDToGIDMap stream only for the compact font", face->label);
    for (size_t i = 0; i < n; i++)
        at[i] = !compact ? gids[i]
                : 2 * (size_t)at[i] + 1 < mlen ? (unsigned)(unsigned char)map[2 * at[i]] << 8 |
                                                      (unsigned char)map[2 * at[i] + 1]
                                                : 0xFFFF;
    free(map);
    HPDF_UINT len = 0;
    char *data = stream_bytes(f->fontfile->stream, &len);
    CHECK(data != NULL, "read the font file back");
    printf("%s: %s font program for %zu glyphs: %u bytes\n", face->label, compact ? "compact" : "Identity-H", n,
           (unsigned)len);

    hb_blob_t *blob = hb_blob_create(data, len, HB_MEMORY_MODE_READONLY, NULL, NULL);
    hb_face_t *sub = hb_face_create(blob, 0);
    hb_font_t *sf = hb_font_create(sub);
    hb_tag_t tags[32];
    unsigned nt = 32;
    hb_face_get_table_tags(sub, 0, &nt, tags);
    char got[200] = "";
    for (unsigned i = 0; i < nt; i++) {
        char t[5];
        hb_tag_to_string(tags[i], t);
        t[4] = 0;
        strcat(got, i ? " " : "");
        strcat(got, t);
    }
    /* hb-subset writes its tables in tag order. */
    CHECK(!strcmp(got, "glyf head hhea hmtx loca maxp"), "tables: %s", got);
    CHECK(glyph_instructions(sub) == 0, "no glyph programs left (%ld)", glyph_instructions(sub));
    CHECK(glyph_instructions(face->hb_face) > 0, "%s has glyph programs (the check sees them)", face->label);
    bl_buf a = {0}, b = {0};
    size_t same = 0;
    unsigned most = 0;
    for (size_t i = 0; i < n; i++) {
        pr_outline(face->hb_font, gids[i], &a);
        pr_outline(sf, at[i], &b);
        int ok = at[i] < hb_face_get_glyph_count(sub) && !strcmp(a.data, b.data) &&
                 hb_font_get_glyph_h_advance(face->hb_font, gids[i]) == hb_font_get_glyph_h_advance(sf, at[i]);
        CHECK(ok, "%s glyph %u (the program's %u): outline and advance as in the original", face->label, gids[i],
              at[i]);
        same += ok && (gids[i] == 0 || a.len > 1); /* an outline, not two empty ones */
        most = at[i] > most ? at[i] : most;
    }
    CHECK(same + 1 >= n, "%zu of %zu glyphs have equal, non-empty outlines", same, n);
    /* Renumbered: .notdef, the glyphs and their components (é's e and
     * acute), nothing in between; else up to the highest id drawn. */
    unsigned count = hb_face_get_glyph_count(sub);
    if (compact)
        CHECK(count >= n && count <= 2 * n && most < count, "%s: %u glyphs in the compact program for %zu",
              face->label, count, n);
    else
        CHECK(count == most + 1, "%s: %u glyphs in the Identity-H program, the highest drawn %u", face->label, count,
              most);
    bl_buf_free(&a);
    bl_buf_free(&b);
    hb_font_destroy(sf);
    hb_face_destroy(sub);
    hb_blob_destroy(blob);
    free(data);
    bl_pdf_font_free(f);
    HPDF_Free(doc);
}

/* What an uncompressed content stream's text operators say, read with a
 * small tokenizer of our own (PDF 32000-1 7.2, 7.3.4): the glyph ids of
 * every string in drawing order (its codes cut and mapped by the fonts of
 * fs, as Tf selects them), the TJ adjustments and the operators. */
typedef struct content_stats {
    long codes[512];
    size_t ncodes;
    size_t nadj, nonint_adj, hex, tm, td, bt;
    double min_adj_pt; /* smallest |adjustment| in points */
    int bad;           /* a string that does not decode */
} content_stats;

static void read_content(const char *s, size_t n, const pr_fonts *fs, content_stats *st)
{
    memset(st, 0, sizeof *st);
    st->min_adj_pt = 1e9;
    double size = 0, num[2] = {0, 0};
    int in_array = 0;
    const pr_font *font = NULL;
    char name[16] = "";
    static pr_tok t;
    for (size_t i = 0; pr_next(s, n, &i, &t) != PR_END;) {
        if (t.kind == PR_STRING) {
            if (t.bad || !font)
                st->bad = 1;
            for (size_t k = 0, used; font && k < t.nbytes && st->ncodes < 512; k += used) {
                int space;
                used = pr_decode(font, t.bytes + k, t.nbytes - k, &st->codes[st->ncodes++], &space);
                if (!used) {
                    st->bad = 1;
                    break;
                }
            }
        } else if (t.kind == PR_HEX) {
            st->hex++;
        } else if (t.kind == PR_OPEN || t.kind == PR_CLOSE) {
            in_array = t.kind == PR_OPEN;
        } else if (t.kind == PR_NAME) {
            snprintf(name, sizeof name, "%.*s", (int)t.len, t.text);
        } else if (t.kind == PR_NUMBER) {
            double v = t.num;
            if (in_array) {
                st->nadj++;
                if (v != floor(v))
                    st->nonint_adj++;
                if (fabs(v) * size / 1000 < st->min_adj_pt)
                    st->min_adj_pt = fabs(v) * size / 1000;
            }
            num[0] = num[1];
            num[1] = v;
        } else if (pr_is_op(&t, "Tf")) {
            size = num[1];
            font = pr_font_named(fs, name);
        } else if (pr_is_op(&t, "Tm")) {
            st->tm++;
        } else if (pr_is_op(&t, "Td")) {
            st->td++;
        } else if (pr_is_op(&t, "BT")) {
            st->bt++;
        }
    }
}

static void check_fmt(double v, int dec, const char *want)
{
    char buf[32];
    *bl_pdf_fmt(buf, v, dec) = 0;
    CHECK(!strcmp(buf, want), "bl_pdf_fmt(%.17g, %d) = '%s', want '%s'", v, dec, buf, want);
    CHECK(bl_pdf_round(v, dec) == strtod(buf, NULL), "bl_pdf_round(%.17g, %d) equals the text", v, dec);
}

/* pdf-mem.c's cache for libharu's objects: chunks big enough for what was
 * asked, kept when freed (malloc cannot hand them out meanwhile) and given
 * back to the next request of their class. */
static void check_mem_cache(void)
{
    static const unsigned sizes[] = {0, 1, 23, 24, 25, 100, 503, 504, 505, 5000, 100000};
    void *p[sizeof sizes / sizeof sizes[0]];
    int fits = 1, distinct = 1;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        p[i] = bl_pdf_mem_alloc(sizes[i]);
        fits &= p[i] && (uintptr_t)p[i] % 16 == 0 && malloc_usable_size(p[i]) >= sizes[i];
        if (p[i])
            memset(p[i], 0xA5, sizes[i]);
        for (size_t j = 0; j < i; j++)
            distinct &= p[i] != p[j];
    }
    CHECK(fits && distinct, "mem cache: every size gets its own chunk, big enough, aligned");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        bl_pdf_mem_free(p[i]);
    bl_pdf_mem_free(NULL);
    void *a[30], *m[30], *b[30];
    int of40 = 0; /* malloc may hand out a bigger chunk, which then goes to its own class */
    for (int i = 0; i < 30; i++) {
        a[i] = bl_pdf_mem_alloc(40);
        of40 += malloc_usable_size(a[i]) == 40;
    }
    for (int i = 0; i < 30; i++)
        bl_pdf_mem_free(a[i]);
    for (int i = 0; i < 30; i++)
        m[i] = malloc(40);
    for (int i = 0; i < 30; i++)
        b[i] = bl_pdf_mem_alloc(33); /* the class of 40 (a 48-byte chunk) */
    int in_malloc = 0, back = 0;
    for (int i = 0; i < 30; i++)
        for (int j = 0; j < 30; j++) {
            in_malloc += m[i] == a[j];
            back += b[i] == a[j];
        }
    if (bl_pdf_mem_cached)
        CHECK(in_malloc == 0 && back == of40 && of40 >= 20,
              "mem cache: freed chunks are kept (%d handed out by malloc) and reused (%d of %d)", in_malloc, back, of40);
    else
        CHECK(!bl_pdf_mem_cached, "mem cache: plain malloc under AddressSanitizer");
    for (int i = 0; i < 30; i++) {
        free(m[i]);
        bl_pdf_mem_free(b[i]);
    }
    bl_pdf_mem_trim();
}

/* bl_pdf_publish_group's sync, counted; failing on request. */
static int sync_calls, sync_fails;
static int (*real_syncfs)(int fd);
static int counted_syncfs(int fd)
{
    sync_calls++;
    if (sync_fails) {
        errno = EIO;
        return -1;
    }
    return real_syncfs(fd);
}

/* Whether dir's file system is one the group sync trusts (pdf-save.c). */
static int trusted_fs(const char *dir)
{
    struct statfs sf;
    if (statfs(dir, &sf))
        return 0;
    unsigned long t = (unsigned long)sf.f_type;
    return t == 0xEF53UL || t == 0x58465342UL || t == 0x9123683EUL || t == 0xF2F52010UL || t == 0x01021994UL;
}

/* Writes "file I" to path. */
static int put_file(const char *path, int i)
{
    FILE *fp = fopen(path, "w");
    return fp && fprintf(fp, "file %d", i) > 0 && !fclose(fp);
}

/* Whether path holds "file I" and tmp is gone. */
static int published(const char *path, const char *tmp, int i)
{
    char got[32] = {0}, want[32];
    FILE *fp = fopen(path, "r");
    size_t n = fp ? fread(got, 1, sizeof got - 1, fp) : 0;
    if (fp)
        fclose(fp);
    snprintf(want, sizeof want, "file %d", i);
    return n && !strcmp(got, want) && access(tmp, F_OK) != 0;
}

/* Font files made ahead (bl_device.ahead, pdf.c): a forecast that comes
 * true leaves the save nothing to subset, and any forecast - none, part of
 * what is drawn, more than is drawn - gives the bytes of a document drawn
 * without one. */
static int ahead_mode; /* 0 compact, deflated; 1 Identity-H; 2 not deflated */

static int ahead_doc(const char *path, bl_face *latin, bl_face *hebrew, int forecast, int announce, int extra,
                     unsigned long *made)
{
    bl_pdf_font_cache_clear();
    unsigned long before = bl_pdf_font_files_made(NULL);
    bl_pdf_info info = {.title = "Ahead", .compress = ahead_mode != 2, .identity_h = ahead_mode == 1};
    bl_pdf *pdf = bl_pdf_new(&info);
    bl_device *dev = bl_pdf_device(pdf);
    bl_pdf_forecast(pdf, forecast);
    line a = shape(latin, "Forecast fonts", 0, "en", 72, 700, 12);
    line b = shape(hebrew, "תחזית גופנים", 1, "he", 300, 680, 12);
    line c = shape(latin, "XQZ", 0, "en", 72, 660, 12);
    int ok = forecast == (dev->ahead != NULL);
    if (dev->ahead && announce == 4) { /* a run announced, the announcement never closed */
        ok &= dev->ahead(dev, &c.run) == 0;
        bl_pdf_forecast(pdf, 1);
        announce = 2;
    }
    if (dev->ahead && announce) {
        ok &= dev->ahead(dev, &a.run) == 0;
        if (announce > 1)
            ok &= dev->ahead(dev, &b.run) == 0;
        if (announce > 2) /* announced, never drawn */
            ok &= dev->ahead(dev, &c.run) == 0;
        ok &= dev->ahead(dev, NULL) == 0;
    }
    ok &= dev->begin_page(dev, PAGE_W, PAGE_H) == 0 && dev->glyph_run(dev, &a.run) == 0 &&
          dev->glyph_run(dev, &b.run) == 0;
    if (extra) /* drawn, never announced */
        ok &= dev->glyph_run(dev, &c.run) == 0;
    ok &= dev->end_page(dev) == 0 && bl_pdf_save(pdf, path) == 0;
    *made = bl_pdf_font_files_made(NULL) - before;
    bl_pdf_free(pdf);
    free_line(&a);
    free_line(&b);
    free_line(&c);
    return ok;
}

static void check_ahead(const char *dir, bl_face *latin, bl_face *hebrew)
{
    int was = bl_helpers();
    bl_set_helpers(1);
    for (ahead_mode = 0; ahead_mode < 3; ahead_mode++) {
        printf("font files ahead, %s\n", (const char *[]){"compact fonts", "Identity-H", "not deflated"}[ahead_mode]);
        char p0[600], p1[600];
        snprintf(p0, sizeof p0, "%s/ahead-none.pdf", dir);
        unsigned long made;
        CHECK(ahead_doc(p0, latin, hebrew, 0, 0, 0, &made), "no forecast: drawn and saved");
        CHECK(made == 2, "no forecast: the save makes both font files (%lu)", made);
        bl_buf want = {0}, got = {0};
        bl_test_read_file(p0, &want);
        static const struct {
            int announce, extra;
            unsigned long made;
            const char *what;
        } cases[] = {
            {2, 0, 2, "both runs announced: made ahead, the save finds them"},
            {0, 0, 2, "nothing announced: the save makes them"},
            {1, 0, 2, "only the Latin run announced: the Hebrew font at the save"},
            {3, 0, 3, "a run announced but not drawn: Latin's file ahead misses and is made again"},
            {4, 0, 2, "an announcement left open: dropped by the next bl_pdf_forecast"},
        };
        for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
            snprintf(p1, sizeof p1, "%s/ahead-%zu.pdf", dir, k);
            CHECK(ahead_doc(p1, latin, hebrew, 1, cases[k].announce, cases[k].extra, &made), "%s: saved", cases[k].what);
            CHECK(made == cases[k].made, "%s: %lu font files made (want %lu)", cases[k].what, made, cases[k].made);
            got.len = 0;
            bl_test_read_file(p1, &got);
            CHECK(got.len == want.len && !memcmp(got.data, want.data, want.len), "%s: the same bytes as without a forecast",
                  cases[k].what);
        }
        /* Drawn but not announced: the Latin file made ahead misses. */
        snprintf(p0, sizeof p0, "%s/ahead-extra-none.pdf", dir);
        CHECK(ahead_doc(p0, latin, hebrew, 0, 0, 1, &made) && made == 2, "extra run, no forecast (%lu files)", made);
        snprintf(p1, sizeof p1, "%s/ahead-extra.pdf", dir);
        CHECK(ahead_doc(p1, latin, hebrew, 1, 2, 1, &made) && made == 3, "extra run drawn unannounced: 3 files (%lu)", made);
        want.len = got.len = 0;
        bl_test_read_file(p0, &want);
        bl_test_read_file(p1, &got);
        CHECK(want.len && got.len == want.len && !memcmp(got.data, want.data, want.len),
              "extra run drawn unannounced: the same bytes as without a forecast");
        bl_buf_free(&want);
        bl_buf_free(&got);
    }
    /* No helper threads: no forecast is asked for. */
    bl_set_helpers(0);
    bl_pdf *pdf = bl_pdf_new(NULL);
    bl_pdf_forecast(pdf, 1);
    CHECK(bl_pdf_device(pdf)->ahead == NULL, "without helper threads the writer asks for no forecast");
    bl_pdf_free(pdf);
    bl_set_helpers(was);
}

int main(void)
{
    /* The number writer: fixed decimals, no exponent, no "-0". */
    check_fmt(0, 3, "0");
    check_fmt(-0.0004, 3, "0");
    check_fmt(12.5, 3, "12.5");
    check_fmt(-0.25, 2, "-0.25");
    check_fmt(600, 3, "600");
    check_fmt(0.001, 3, "0.001");
    check_fmt(-1234567.891, 3, "-1234567.891");
    check_fmt(99.9996, 3, "100");
    check_fmt(0.105, 2, "0.11");
    check_fmt(1e-9, 2, "0");
    check_fmt(7, 0, "7");

    /* Deflating: tables sized to the input, and the process-wide memo for
     * streams that recur (bl_pdf_deflate_shared) - a hit gives the bytes a
     * fresh deflate gives, and they inflate back to the input. */
    {
        static char in[3000];
        for (size_t i = 0; i < sizeof in; i++)
            in[i] = (char)("<0041> <0061>\n"[i % 14] + (i / 700));
        bl_buf a = {0}, b = {0}, c = {0};
        int ok = !bl_pdf_deflate(in, sizeof in, &a) && !bl_pdf_deflate_shared(in, sizeof in, &b) &&
                 !bl_pdf_deflate_shared(in, sizeof in, &c);
        CHECK(ok && a.len == b.len && b.len == c.len && !memcmp(a.data, b.data, a.len) && !memcmp(b.data, c.data, b.len),
              "memo miss and hit give a fresh deflate's bytes (%zu, %zu, %zu)", a.len, b.len, c.len);
        char back[4000];
        uLongf blen = sizeof back;
        CHECK(ok && uncompress((Bytef *)back, &blen, (const Bytef *)c.data, (uLong)c.len) == Z_OK &&
                  blen == sizeof in && !memcmp(back, in, sizeof in) && c.len < sizeof in / 4,
              "a memo hit inflates back to the input (%zu bytes from %zu)", c.len, sizeof in);
        bl_pdf_deflate_cache_clear();
        bl_buf_free(&a);
        bl_buf_free(&b);
        bl_buf_free(&c);
    }

    char dir[] = "/tmp/bl-test-pdf-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[512], path2[512], cmd[1200];
    snprintf(path, sizeof path, "%s/three.pdf", dir);
    snprintf(path2, sizeof path2, "%s/again.pdf", dir);

    check_mem_cache();

    /* Publishing a group (batch mode's group commit): one sync (on a file
     * system that flushes everything on syncfs), then each file renamed; a
     * target that cannot be replaced (a folder) fails alone, with the
     * reason, and its temporary file is removed; a temporary file that is
     * gone fails alone too. */
    real_syncfs = bl_pdf_syncfs;
    bl_pdf_syncfs = counted_syncfs;
    {
        char tmp[4][600], out[4][600], why[4][300];
        const char *tp[4], *op[4];
        int failed[4] = {9, 9, 9, 9};
        for (int i = 0; i < 4; i++) {
            snprintf(tmp[i], sizeof tmp[i], "%s/g%d.pdf.tmp.x", dir, i);
            snprintf(out[i], sizeof out[i], "%s/g%d.pdf", dir, i);
            tp[i] = tmp[i];
            op[i] = out[i];
            if (i != 3)
                CHECK(put_file(tmp[i], i), "group: write %s", tmp[i]);
        }
        char inner[700];
        snprintf(inner, sizeof inner, "%s/inner", out[1]);
        CHECK(!mkdir(out[1], 0777) && !mkdir(inner, 0777), "group: a folder in the way of g1.pdf");
        sync_calls = 0;
        int bad = bl_pdf_publish_group(tp, op, 4, failed, why[0], sizeof why[0]);
        CHECK(sync_calls == trusted_fs(dir), "group: %d file-system sync(s) for the group (%s)", sync_calls,
              trusted_fs(dir) ? "ext4, XFS, Btrfs, F2FS or tmpfs" : "another file system: one by one");
        CHECK(bad == 2 && !failed[0] && failed[1] && !failed[2] && failed[3], "group: g1 and g3 fail (%d: %d %d %d %d)",
              bad, failed[0], failed[1], failed[2], failed[3]);
        CHECK(strstr(why[1], "cannot rename the temporary file into place") != NULL, "group: g1's reason: %s", why[1]);
        CHECK(strstr(why[3], "No such file") != NULL, "group: g3's reason: %s", why[3]);
        for (int i = 0; i < 3; i += 2)
            CHECK(published(out[i], tmp[i], i), "group: g%d in place", i);
        struct stat st;
        CHECK(access(tmp[1], F_OK) != 0 && !stat(out[1], &st) && S_ISDIR(st.st_mode),
              "group: g1's temporary file removed, the folder left alone");
        rmdir(inner);
        rmdir(out[1]);
        unlink(out[0]);
        unlink(out[2]);

        /* The sync fails: every file goes on its own (fsync, rename). */
        for (int i = 0; i < 3; i++)
            CHECK(put_file(tmp[i], i), "group, failing sync: write %s", tmp[i]);
        sync_calls = 0;
        sync_fails = 1;
        bad = bl_pdf_publish_group(tp, op, 3, failed, why[0], sizeof why[0]);
        sync_fails = 0;
        CHECK(bad == 0 && sync_calls == trusted_fs(dir) && published(out[0], tmp[0], 0) && published(out[1], tmp[1], 1) &&
                  published(out[2], tmp[2], 2),
              "group, failing sync: all three published one by one (%d failed, %d syncs)", bad, sync_calls);
        for (int i = 0; i < 3; i++)
            unlink(out[i]);

        /* A file on another file system (/dev/shm, when it is one) is
         * published on its own; the others still go together. */
        struct stat shm, here;
        if (!stat("/dev/shm", &shm) && !stat(dir, &here) && shm.st_dev != here.st_dev && !access("/dev/shm", W_OK)) {
            snprintf(tmp[1], sizeof tmp[1], "/dev/shm/bl-test-g1-%d.pdf.tmp.x", (int)getpid());
            snprintf(out[1], sizeof out[1], "/dev/shm/bl-test-g1-%d.pdf", (int)getpid());
            for (int i = 0; i < 3; i++)
                CHECK(put_file(tmp[i], i), "group, two file systems: write %s", tmp[i]);
            sync_calls = 0;
            bad = bl_pdf_publish_group(tp, op, 3, failed, why[0], sizeof why[0]);
            CHECK(bad == 0 && sync_calls == trusted_fs(dir) && published(out[0], tmp[0], 0) &&
                      published(out[1], tmp[1], 1) && published(out[2], tmp[2], 2),
                  "group, two file systems: all three published (%d failed: %s %s %s)", bad, why[0], why[1], why[2]);
            for (int i = 0; i < 3; i++)
                unlink(out[i]);
        } else {
            printf("group, two file systems: /dev/shm is not a second writable file system here\n");
        }
    }
    bl_pdf_syncfs = real_syncfs;

    bl_face *latin = open_face("fonts/NotoSerif-Regular.ttf");
    bl_face *hebrew = open_face("fonts/NotoSerifHebrew-Regular.ttf");
    bl_face *arabic = open_face("fonts/NotoNaskhArabic-Regular.ttf");
    check_ahead(dir, latin, hebrew);

    /* The font programs: no hinting, only the needed tables, same outlines
     * (composite glyphs such as é keep their components). */
    {
        unsigned lg[] = {0,
                         bl_face_glyph(latin, ' '),
                         bl_face_glyph(latin, 'A'),
                         bl_face_glyph(latin, 0xE9),
                         bl_face_glyph(latin, 0x1EA0),
                         bl_face_glyph(latin, 'g'),
                         latin->num_glyphs - 1};
        unsigned hg[] = {bl_face_glyph(hebrew, 0x05D1), bl_face_glyph(hebrew, 0x05BC), bl_face_glyph(hebrew, 0xFB31)};
        for (int compact = 0; compact < 2; compact++) {
            check_font_program(latin, lg, sizeof lg / sizeof lg[0], compact);
            check_font_program(hebrew, hg, sizeof hg / sizeof hg[0], compact);
        }
    }

    bl_pdf_info info = {.title = "Bulletin — בדיקה",
                        .author = "Test",
                        .subject = "Résumé · notes (draft) \\ 1",
                        .creator = "test-pdf",
                        .compress = 1};
    bl_pdf *pdf = bl_pdf_new(&info);
    CHECK(pdf != NULL, "bl_pdf_new");
    bl_device *dev = bl_pdf_device(pdf);

    /* Misuse is an error with a message, not a crash. */
    line early = shape(latin, "x", 0, "en", 72, 72, 12);
    CHECK(dev->glyph_run(dev, &early.run) == -1, "glyph_run before begin_page fails");
    CHECK(strstr(dev->error(dev), "no page") != NULL, "message: %s", dev->error(dev));
    CHECK(dev->begin_page(dev, 1, 100000) == -1, "absurd page size fails");
    CHECK(strstr(bl_pdf_error(pdf), "page size") != NULL, "message: %s", bl_pdf_error(pdf));
    free_line(&early);

    CHECK(dev->begin_page(dev, PAGE_W, PAGE_H) == 0, "begin_page: %s", dev->error(dev));

    /* Three shaped lines: English (kerning, ligature), Hebrew with niqqud,
     * Arabic with shadda; then unpointed Hebrew/Arabic for extraction. */
    const char *en = "Hello, World! AV office Tavern fjord";
    const char *he_pointed = "בְּרֵאשִׁית בָּרָא אֱלֹהִים";
    const char *ar_pointed = "مُحَمَّدٌ رَسُولُ ٱللَّهِ";
    const char *he_plain = "שלום עולם";
    const char *ar_plain = "السلام عليكم";
    line lines[5] = {
        shape(latin, en, 0, "en", 72, 760, 18),
        shape(hebrew, he_pointed, 1, "he", 72, 720, 20),
        shape(arabic, ar_pointed, 1, "ar", 72, 670, 22),
        shape(hebrew, he_plain, 1, "he", 72, 620, 16),
        shape(arabic, ar_plain, 1, "ar", 72, 580, 16),
    };
    double colors[5][3] = {{0, 0, 0}, {0.1, 0.2, 0.6}, {0.5, 0, 0}, {0, 0, 0}, {0, 0, 0}};
    for (int i = 0; i < 5; i++) {
        memcpy(lines[i].run.rgb, colors[i], sizeof colors[i]);
        CHECK(draw(dev, &lines[i].run) == 0, "line %d: %s", i, dev->error(dev));
    }

    /* The same space glyph for U+0020 and U+00A0 (and once with no text of
     * its own): three codes, one glyph. */
    const char *nb = "a b\xC2\xA0" "c";
    unsigned sp = bl_face_glyph(latin, ' ');
    bl_glyph nbg[6] = {
        {bl_face_glyph(latin, 'a'), 72, 540, 0, 0, 1},   {sp, 80, 540, 0, 1, 1},
        {bl_face_glyph(latin, 'b'), 85, 540, 0, 2, 1},   {sp, 93, 540, 0, 3, 2},
        {bl_face_glyph(latin, 'c'), 98, 540, 0, 5, 1},   {sp, 110, 540, 0, 0, 0},
    };
    bl_glyph_run nbrun = {.face = latin, .size = 12, .text = nb, .text_len = strlen(nb), .glyphs = nbg, .n = 6,
                          .lang = "en", .block = -1, .kind = "test"};
    CHECK(draw(dev, &nbrun) == 0, "nbsp run: %s", dev->error(dev));

    /* A long justified line: 400 glyphs, irregular extra space, to show
     * that rounding does not accumulate. */
    const char *longtext = "The quick brown fox jumps over the lazy dog. ";
    size_t ln = 400;
    bl_glyph *lg = calloc(ln, sizeof *lg);
    double pen = 36;
    for (size_t i = 0; i < ln; i++) {
        char ch = longtext[i % strlen(longtext)];
        lg[i].gid = bl_face_glyph(latin, (uint32_t)ch);
        lg[i].x = pen;
        lg[i].y = 500 - (double)(i / 80) * 14;
        lg[i].text_start = (uint32_t)(i % strlen(longtext));
        lg[i].text_len = 1;
        pen += bl_face_advance(latin, lg[i].gid) * 9.5 / latin->upem + (ch == ' ' ? 1.2345678 : 0.0137) +
               (double)(i % 7) * 0.001234;
        if (i % 80 == 79)
            pen = 36;
    }
    bl_glyph_run lrun = {.face = latin, .size = 9.5, .text = longtext, .text_len = strlen(longtext), .glyphs = lg,
                         .n = ln, .lang = "en", .block = 1, .kind = "paragraph"};
    CHECK(draw(dev, &lrun) == 0, "long run: %s", dev->error(dev));

    /* More glyphs of one font than one-byte codes: codes are given out
     * in order of first use, so the last one-byte codes (those a literal
     * string must escape: ( ) \\ CR LF) and two-byte codes (E000 on, with
     * those bytes second too: E00A ... E05C) are all drawn. */
    enum { NESC = 340 };
    unsigned esc_gids[NESC];
    bl_glyph escg[NESC];
    double escx = 20;
    for (size_t i = 0; i < NESC; i++) { /* 100 thousandths of 11 pt apart, 40 to a line */
        esc_gids[i] = 1000 + (unsigned)i;
        if (i % 40 == 0)
            escx = 20;
        escg[i] = (bl_glyph){esc_gids[i], escx, 180 - 3.0 * (double)(i / 40), 0, 0, 0};
        escx += bl_face_advance(latin, esc_gids[i]) * 11.0 / latin->upem + 1.1;
    }
    bl_glyph_run escrun = {.face = latin, .size = 11, .glyphs = escg, .n = NESC, .lang = "en", .block = -1,
                           .kind = "test"};
    CHECK(draw(dev, &escrun) == 0, "run of escaped codes: %s", dev->error(dev));

    /* Bad input to a run: an error, and the page stays usable. */
    bl_glyph bad = {latin->num_glyphs + 5, 10, 10, 0, 0, 0};
    bl_glyph_run badrun = {.face = latin, .size = 10, .glyphs = &bad, .n = 1};
    CHECK(dev->glyph_run(dev, &badrun) == -1, "out-of-range glyph id fails");
    CHECK(strstr(dev->error(dev), "glyph id") != NULL, "message: %s", dev->error(dev));
    bl_glyph badt = {sp, 10, 10, 0, 5, 50};
    bl_glyph_run badtrun = {.face = latin, .size = 10, .text = "ab", .text_len = 2, .glyphs = &badt, .n = 1};
    CHECK(dev->glyph_run(dev, &badtrun) == -1, "text range outside the run fails");

    double grey[3] = {0.5, 0.5, 0.5};
    CHECK(dev->rule(dev, 72, 300, 523, 300, 0.5, grey) == 0, "rule: %s", dev->error(dev));
    CHECK(dev->rect(dev, 72, 250, 100, 30, grey) == 0, "rect: %s", dev->error(dev));
    CHECK(dev->link(dev, 72, 250, 100, 30, "https://example.org/ä b") == 0, "link: %s", dev->error(dev));
    /* Text after graphics: the fill colour must be set again. */
    line after = shape(latin, "After", 0, "en", 200, 260, 12);
    memcpy(after.run.rgb, black, sizeof black);
    CHECK(draw(dev, &after.run) == 0, "text after graphics: %s", dev->error(dev));
    CHECK(dev->end_page(dev) == 0, "end_page: %s", dev->error(dev));

    /* Page 2 uses the same fonts: they must stay one font each. */
    CHECK(dev->begin_page(dev, PAGE_W, PAGE_H) == 0, "page 2: %s", dev->error(dev));
    line p2 = shape(hebrew, he_plain, 1, "he", 300, 700, 12);
    CHECK(draw(dev, &p2.run) == 0, "page 2 text: %s", dev->error(dev));
    /* 120 runs in one text object, each placed by Td relative to the one
     * before: the line starts must not drift (single-precision readers add
     * up every Td). */
    line tall = shape(latin, "Lines", 0, "en", 0, 0, 7.3);
    for (int i = 0; i < 120; i++) {
        double dx = (i % 2 ? 301.2345 : 40.0007) + 0.0371 * i, dy = 820.123 - 6.4321 * (i / 2);
        bl_glyph tg[16];
        for (size_t k = 0; k < tall.n && k < 16; k++) {
            tg[k] = tall.g[k];
            tg[k].x += dx;
            tg[k].y += dy;
        }
        bl_glyph_run tr = tall.run;
        tr.glyphs = tg;
        tr.n = tall.n < 16 ? tall.n : 16;
        CHECK(draw(dev, &tr) == 0, "tall page line %d: %s", i, dev->error(dev));
    }
    free_line(&tall);
    CHECK(dev->end_page(dev) == 0, "end_page 2");

    /* An empty page and a page with only a rule: nothing to deflate, and
     * something that is not text. */
    CHECK(dev->begin_page(dev, PAGE_W, PAGE_H) == 0 && dev->end_page(dev) == 0, "empty page 3");
    CHECK(dev->begin_page(dev, PAGE_W, PAGE_H) == 0 && dev->rule(dev, 72, 72, 500, 72, 1, NULL) == 0 &&
              dev->end_page(dev) == 0,
          "page 4 with a rule only: %s", dev->error(dev));

    CHECK(bl_pdf_bookmark(pdf, 0, "First — ראשון 😀") == 0, "bookmark: %s", bl_pdf_error(pdf));
    CHECK(bl_pdf_bookmark(pdf, 1, "Second") == 0, "bookmark 2: %s", bl_pdf_error(pdf));
    CHECK(bl_pdf_bookmark(pdf, 1, "Café · Noël (draft)") == 0, "bookmark 3: %s", bl_pdf_error(pdf));
    CHECK(bl_pdf_bookmark(pdf, 7, "Nowhere") == -1, "bookmark to a missing page fails");

    CHECK(bl_pdf_save(pdf, path) == 0, "save: %s", bl_pdf_error(pdf));
    CHECK(count_temps(dir) == 0, "no temporary file left");
    long size = file_size(path);
    printf("three-line page PDF: %ld bytes\n", size);
    CHECK(size > 0 && size < 60 * 1024, "file size %ld < 60 KB", size);
    /* Saving again rewrites the same fonts (idempotent finish). */
    CHECK(bl_pdf_save(pdf, path2) == 0, "second save: %s", bl_pdf_error(pdf));
    CHECK(file_size(path2) == size, "second save has the same size (%ld vs %ld)", file_size(path2), size);
    {
        /* The second save's fonts come from the cache of subset files: the
         * same bytes, each code still reaching its glyph. */
        bl_buf b1 = {0}, b2 = {0};
        bl_test_read_file(path, &b1);
        bl_test_read_file(path2, &b2);
        CHECK(b1.len == b2.len && b1.len && !memcmp(b1.data, b2.data, b1.len), "the second save's bytes are the first's");
        bl_buf_free(&b1);
        bl_buf_free(&b2);
    }

    /* Failure: a directory that does not exist; a directory in the way. */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no/such/dir/x.pdf", dir);
    CHECK(bl_pdf_save(pdf, missing) == -1, "save into a missing directory fails");
    CHECK(strstr(bl_pdf_error(pdf), "x.pdf") != NULL, "message names the file: %s", bl_pdf_error(pdf));
    CHECK(file_size(missing) == -1, "no file created");
    char blocked[600];
    snprintf(blocked, sizeof blocked, "%s/blocked", dir);
    mkdir(blocked, 0755);
    snprintf(cmd, sizeof cmd, "%s/inner", blocked);
    mkdir(cmd, 0755); /* rename() over a non-empty directory fails */
    CHECK(bl_pdf_save(pdf, blocked) == -1, "save over a directory fails");
    CHECK(count_temps(dir) == 0, "no temporary file left after a failed save");
    printf("failed save message: %s\n", bl_pdf_error(pdf));
    /* Still usable after those failures. */
    CHECK(bl_pdf_save(pdf, path2) == 0, "save after failures: %s", bl_pdf_error(pdf));

    bl_buf out = {0};
    /* 1. The shared structural checks. */
    int rc = bl_test_pdfcheck("", path, &out);
    CHECK(rc == 0, "pdfcheck rc=%d:\n%s", rc, out.data);

    /* 2. pdffonts: three fonts, CID TrueType, our own encoding, embedded,
     * subset, ToUnicode. */
    snprintf(cmd, sizeof cmd, "pdffonts %s 2>&1", path);
    CHECK(bl_test_run(cmd, &out) == 0, "pdffonts runs");
    int nfonts = 0, good = 0;
    for (char *s = out.data, *nl; s && *s; s = nl ? nl + 1 : NULL) {
        nl = strchr(s, '\n');
        if (nl)
            *nl = 0;
        if (strstr(s, "CID TrueType")) {
            nfonts++;
            /* pdffonts calls an embedded encoding CMap "Custom" */
            if (strstr(s, "Custom") && strstr(s, "yes yes yes"))
                good++;
            if (!strchr(s, '+'))
                good = -100;
        }
    }
    CHECK(nfonts == 3 && good == 3, "pdffonts: %d fonts, %d with emb/sub/uni", nfonts, good);

    /* 3. Glyph ids and positions, as MuPDF reads them. */
    if (need_tool("mutool")) {
        snprintf(cmd, sizeof cmd, "mutool trace %s 2>/dev/null", path);
        CHECK(bl_test_run(cmd, &out) == 0, "mutool trace runs");
        traced *tr;
        size_t nt = parse_trace(out.data, &tr);
        CHECK(nt == nall, "traced %zu glyphs, drew %zu", nt, nall);
        double maxerr = 0;
        size_t bad_gid = 0;
        pr_programs pp = {0};
        CHECK(pr_programs_load(path, &pp) == 3, "three font programs read back (%zu)", pp.n);
        for (size_t i = 0; i < nt && i < nall; i++) {
            /* mutool 1.21 reports user space (the page transform is on
             * the enclosing <fill_text>). */
            maxerr = fmax(maxerr, traced_error(tr, nt, i, all[i].x, all[i].y));
            if (!pr_draws(&pp, tr[i].font, tr[i].gid, all[i].font, all[i].gid))
                bad_gid++;
        }
        printf("max position error (mutool trace): %.6f pt over %zu glyphs\n", maxerr, nt);
        /* The readers' tolerance is 0.01 pt; the writer aims at a third of
         * that (TJ rounding within 0.001 pt, MuPDF's float arithmetic). */
        CHECK(maxerr < 0.003, "max position error %.6f pt", maxerr);
        CHECK(bad_gid == 0, "%zu glyphs differ from those drawn", bad_gid);
        /* The nbsp run: glyph ids equal, texts differ.  Find it by position. */
        const traced *nbt = NULL;
        for (size_t i = 0; i + 5 < nt; i++)
            if (fabs(tr[i].x - 72) < 0.01 && fabs(tr[i].y - 540) < 0.01) {
                nbt = &tr[i];
                break;
            }
        CHECK(nbt != NULL, "nbsp run found in the trace");
        if (nbt) {
            CHECK(nbt[1].gid == nbt[3].gid && nbt[3].gid == nbt[5].gid &&
                      pr_draws(&pp, nbt[1].font, nbt[1].gid, latin->hb_font, sp),
                  "space glyph drawn for all three");
            CHECK(!strcmp(nbt[1].uni, " "), "U+0020 maps to a space (got '%s')", nbt[1].uni);
            /* mutool prints U+00A0 as a character reference or raw UTF-8 */
            CHECK(!strcmp(nbt[3].uni, "\xC2\xA0") || !strcasecmp(nbt[3].uni, "&#xa0;") ||
                      !strcasecmp(nbt[3].uni, "&#160;"),
                  "U+00A0 maps to no-break space (got '%s')", nbt[3].uni);
        }
        pr_programs_free(&pp);
        free(tr);
    }

    /* 4. The encodings, ToUnicode and CIDToGIDMaps, read by qpdf (the
     * Identity-H side: test-pdf-encoding.c). */
    if (need_tool("qpdf")) {
        snprintf(cmd, sizeof cmd, "qpdf --qdf --object-streams=disable %s - 2>/dev/null", path);
        bl_test_run(cmd, &out);
        unsigned fo[4];
        CHECK(count_in(out.data, out.len, "/Type /CMap") == 1 && refs_to(&out, "/Encoding ", fo, 4) == 3 &&
                  fo[0] == fo[1] && fo[1] == fo[2],
              "the fonts share one embedded encoding CMap");
        CHECK(refs_to(&out, "/CIDToGIDMap ", fo, 4) == 3, "each font maps its CIDs (codes) to glyphs by a stream");
        CHECK(strstr(out.data, "<20> <0020>") != NULL, "ToUnicode maps the one-byte code 20 to U+0020");
        CHECK(strstr(out.data, "> <00A0>") != NULL, "ToUnicode maps another code to U+00A0");
        /* (Two-byte codes: the 340-glyph run's ids read back through
         * mutool above, and its codes decoded from the uncompressed content
         * below.) */
        /* One /Font dictionary for the document, named by the resources of
         * the two pages that show text (not by the empty page or the one
         * with a rule), which they share. */
        size_t nfo = refs_to(&out, "/Font ", fo, 4);
        bl_buf pg1 = {0}, pg2 = {0};
        unsigned r1 = 0, r2 = 0;
        qdf_page(&out, 1, &pg1);
        qdf_page(&out, 2, &pg2);
        CHECK(nfo == 1 && refs_to(&pg1, "/Resources ", &r1, 1) == 1 && refs_to(&pg2, "/Resources ", &r2, 1) == 1 &&
                  r1 == r2,
              "%zu /Font resource entries (want 1, in the resources pages 1 and 2 share: %u, %u)", nfo, r1, r2);
        bl_buf_free(&pg1);
        bl_buf_free(&pg2);
        CHECK(refs_to(&out, "/F1 ", fo, 4) == 1 && refs_to(&out, "/F2 ", fo, 4) == 1 &&
                  refs_to(&out, "/F3 ", fo, 4) == 1 && refs_to(&out, "/F4 ", fo, 4) == 0,
              "the three fonts are listed once each");
    }

    /* 5. Text in logical order. */
    snprintf(cmd, sizeof cmd, "pdftotext -enc UTF-8 %s - 2>&1", path);
    CHECK(bl_test_run(cmd, &out) == 0, "pdftotext runs");
    const char *words[] = {"Hello,", "World!", "office", "Tavern", "fjord", "שלום", "עולם", "السلام", "عليكم",
                           "quick brown fox"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        CHECK(strstr(out.data, words[i]) != NULL, "pdftotext finds '%s'", words[i]);
    CHECK(strstr(out.data, "\xEF\xBF\xBD") == NULL, "no U+FFFD in extracted text");

    /* 6. Info and outline strings. */
    snprintf(cmd, sizeof cmd, "pdfinfo %s 2>&1", path);
    bl_test_run(cmd, &out);
    CHECK(strstr(out.data, "Bulletin — בדיקה") != NULL, "UTF-8 title round-trips:\n%s", out.data);
    CHECK(strstr(out.data, "Producer:        bulletin") != NULL, "producer is bulletin");
    CHECK(strstr(out.data, "CreationDate") == NULL, "no creation date");
    CHECK(strstr(out.data, "Résumé · notes (draft) \\ 1") != NULL, "Latin-1 subject round-trips:\n%s", out.data);
    if (need_tool("mutool")) {
        snprintf(cmd, sizeof cmd, "mutool show %s outline 2>&1", path);
        bl_test_run(cmd, &out);
        CHECK(strstr(out.data, "First — ראשון 😀") != NULL, "outline title with a non-BMP character:\n%s",
              out.data);
        CHECK(strstr(out.data, "\"Second\"\t#page=2") && strstr(out.data, "\"Café · Noël (draft)\"\t#page=2"),
              "outline titles in PDFDocEncoding, pointing at page 2:\n%s", out.data);
    }
    /* Titles that PDFDocEncoding can spell are literal strings, the rest
     * UTF-16; destinations are arrays inside the items. */
    {
        bl_buf raw = {0};
        bl_test_read_file(path, &raw);
        CHECK(count_in(raw.data, raw.len, "/Title (Second)") == 1 &&
                  count_in(raw.data, raw.len, "/Title (Caf\\351 \\267 No") == 1 &&
                  count_in(raw.data, raw.len, "/Title <FEFF0046") == 1, /* "First ..." */
              "outline titles: two literal strings, one UTF-16");
        CHECK(count_in(raw.data, raw.len, "/Dest [") == 3, "three direct destinations");
        bl_buf_free(&raw);
    }

    /* 7. Uncompressed output is still valid, and larger. */
    bl_pdf_info plain = {.compress = 0};
    bl_pdf *p2pdf = bl_pdf_new(&plain);
    bl_device *d2 = bl_pdf_device(p2pdf);
    CHECK(d2->begin_page(d2, 300, 200) == 0, "uncompressed page");
    line u = shape(latin, "Plain text", 0, "en", 20.0004, 100, 14);
    CHECK(d2->glyph_run(d2, &u.run) == 0, "uncompressed run: %s", d2->error(d2));
    line kern = shape(latin, "AV To", 0, "en", 20, 150, 14);
    for (size_t i = 0; i < kern.n; i++) /* sub-allowance jitter: integers still do */
        kern.g[i].x += 0.0004 * (double)(i % 3);
    CHECK(d2->glyph_run(d2, &kern.run) == 0, "kerned run: %s", d2->error(d2));
    CHECK(d2->glyph_run(d2, &escrun) == 0, "escaped codes, uncompressed: %s", d2->error(d2));
    CHECK(d2->end_page(d2) == 0, "uncompressed end_page");
    char path3[600];
    snprintf(path3, sizeof path3, "%s/plain.pdf", dir);
    CHECK(bl_pdf_save(p2pdf, path3) == 0, "uncompressed save: %s", bl_pdf_error(p2pdf));
    int rc3 = bl_test_pdfcheck("", path3, &out);
    CHECK(rc3 == 0, "pdfcheck (uncompressed) rc=%d:\n%s", rc3, out.data);
    /* The content stream as written ("stream", an end of line, the data, LF
     * "endstream"): literal strings that give back every glyph id, Td and
     * no Tm, and TJ adjustments only where they move a glyph by more than
     * the rounding allowance, as integers here (hb-shape's positions at
     * 14 pt are whole thousandths of the font size). */
    {
        bl_buf pdfdata = {0};
        bl_test_read_file(path3, &pdfdata);
        const char *cs = NULL, *ce = NULL;
        for (size_t i = 0; i + 11 < pdfdata.len && !cs; i++)
            if (!memcmp(pdfdata.data + i, "stream\nBT\n", 10) || !memcmp(pdfdata.data + i, "stream\r\nBT\n", 11))
                cs = pdfdata.data + i + (pdfdata.data[i + 6] == '\r' ? 8 : 7);
        for (const char *q = cs; q && q + 10 <= pdfdata.data + pdfdata.len && !ce; q++)
            if (!memcmp(q, "\nendstream", 10))
                ce = q;
        CHECK(cs && ce, "uncompressed content stream found");
        if (cs && ce) {
            content_stats st;
            pr_fonts fs;
            pr_programs pp = {0};
            pr_load_fonts(&pdfdata, &fs);
            read_content(cs, (size_t)(ce - cs), &fs, &st);
            pr_free_fonts(&fs);
            CHECK(pr_programs_load(path3, &pp) == 1, "one font program (%zu)", pp.n);
            size_t want_n = u.n + kern.n + NESC;
            int same = st.ncodes == want_n && pp.n == 1;
            for (size_t i = 0; same && i < want_n; i++) {
                unsigned gid = i < u.n ? u.g[i].gid : i < u.n + kern.n ? kern.g[i - u.n].gid : esc_gids[i - u.n - kern.n];
                same = st.codes[i] >= 0 && pr_same_glyph(pp.p[0].font, (unsigned)st.codes[i], latin->hb_font, gid);
            }
            pr_programs_free(&pp);
            CHECK(!st.bad && same, "literal strings decode to the glyphs drawn (%zu codes, %zu drawn)", st.ncodes,
                  want_n);
            /* the escapes and the two-byte codes were written (and read) */
            const char *esc[] = {"\\(", "\\)", "\\\\", "\\r", "\\n", "\xE0\\(", "\xE0\\n", "\xE0\\\\"};
            for (size_t k = 0; k < sizeof esc / sizeof esc[0]; k++)
                CHECK(count_in(cs, (size_t)(ce - cs), esc[k]) > 0, "the content has \"%s\"", esc[k]);
            CHECK(st.hex == 0, "no hex strings (%zu)", st.hex);
            CHECK(st.tm == 0 && st.td >= 3 && st.bt == 1, "one text object, Td only (Tm %zu, Td %zu, BT %zu)", st.tm,
                  st.td, st.bt);
            CHECK(st.nadj >= 1, "the kerned pair has an adjustment");
            CHECK(st.min_adj_pt > 0.001, "no adjustment below the rounding allowance (smallest %.5f pt)",
                  st.min_adj_pt);
            CHECK(st.nonint_adj == 0, "%zu of %zu adjustments are not integers", st.nonint_adj, st.nadj);
        }
        bl_buf_free(&pdfdata);
    }
    if (need_tool("mutool")) {
        snprintf(cmd, sizeof cmd, "mutool trace %s 2>/dev/null", path3);
        CHECK(bl_test_run(cmd, &out) == 0, "mutool trace (uncompressed) runs");
        traced *tr;
        size_t nt = parse_trace(out.data, &tr);
        size_t want_n = u.n + kern.n + NESC;
        double maxerr = 0;
        pr_programs pp = {0};
        pr_programs_load(path3, &pp);
        for (size_t i = 0; i < nt && i < want_n; i++) {
            const bl_glyph *gl = i < u.n ? &u.g[i] : i < u.n + kern.n ? &kern.g[i - u.n] : &escg[i - u.n - kern.n];
            maxerr = fmax(maxerr, traced_error(tr, nt, i, gl->x, gl->y));
            CHECK(pr_draws(&pp, tr[i].font, tr[i].gid, latin->hb_font, gl->gid),
                  "uncompressed glyph %zu: the PDF's %u draws glyph %u", i, tr[i].gid, gl->gid);
        }
        pr_programs_free(&pp);
        CHECK(nt == want_n && maxerr < 0.003, "uncompressed: %zu glyphs traced of %zu, max error %.5f pt", nt, want_n,
              maxerr);
        free(tr);
    }
    free_line(&u);
    free_line(&kern);
    bl_pdf_free(p2pdf);

    /* 8. Letter spacing, page sizes and groups: test-pdf-layout.c. */

    /* 9. A document without pages is an error. */
    bl_pdf *empty = bl_pdf_new(NULL);
    CHECK(bl_pdf_save(empty, path3) == -1 && strstr(bl_pdf_error(empty), "no pages"), "empty document: %s",
          bl_pdf_error(empty));
    bl_pdf_free(empty);

    bl_buf_free(&out);
    for (int i = 0; i < 5; i++)
        free_line(&lines[i]);
    free_line(&after);
    free_line(&p2);
    free(lg);
    free(all);
    bl_pdf_free(pdf);
    bl_face_drop(latin);
    bl_face_drop(hebrew);
    bl_face_drop(arabic);
    bl_test_cleanup(dir, bl_test_fail_count);
    return bl_test_done();
}
