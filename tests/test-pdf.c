/* test-pdf.c - the PDF writer: shaped Hebrew (niqqud), Arabic (shadda) and
 * English lines drawn through the device, saved, then read back with
 * external tools: pdfcheck.sh, pdffonts, mutool trace (glyph ids and
 * positions within 0.01 pt), pdftotext (logical-order text).  Run from the
 * repository root. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hb.h>

#include "base.h"
#include "harness.h"
#include "pdfread.h"
#include "testutil.h"
#include "image.h"
#include "pdf.h"
#include "pdf-font.h"

#define PDFCHECK "../shared/checks/pdfcheck.sh"
#define PAGE_W 595.0
#define PAGE_H 842.0

/* Everything drawn, in drawing order, to compare with mutool trace. */
typedef struct drawn {
    unsigned gid;
    double x, y;
    int space; /* read back as the one-byte code 32 (replay_page) */
} drawn;
static drawn *all;
static size_t nall, capall;

/* A shaped line: glyphs with absolute positions and per-glyph text. */
typedef struct line {
    bl_glyph *g;
    unsigned *cluster; /* HarfBuzz's cluster of each glyph */
    size_t n;
    bl_glyph_run run;
} line;

static size_t cluster_end(const hb_glyph_info_t *info, unsigned n, unsigned cluster, size_t textlen)
{
    size_t end = textlen;
    for (unsigned i = 0; i < n; i++)
        if (info[i].cluster > cluster && info[i].cluster < end)
            end = info[i].cluster;
    return end;
}

/* Shapes text (direction from rtl) at baseline y starting at x.  Per-glyph
 * text: a single-glyph cluster carries the cluster's text; in a multi-glyph
 * cluster each glyph gets the character whose nominal glyph it is, or, when
 * some character has none (ligature, contextual form), the first glyph in
 * logical order carries the whole cluster and the others none. */
static line shape(bl_face *face, const char *text, int rtl, const char *lang, double x, double y, double size)
{
    line L;
    memset(&L, 0, sizeof L);
    hb_buffer_t *buf = hb_buffer_create();
    hb_buffer_add_utf8(buf, text, -1, 0, -1);
    hb_buffer_set_direction(buf, rtl ? HB_DIRECTION_RTL : HB_DIRECTION_LTR);
    hb_buffer_set_language(buf, hb_language_from_string(lang, -1));
    hb_buffer_set_cluster_level(buf, HB_BUFFER_CLUSTER_LEVEL_MONOTONE_CHARACTERS);
    hb_buffer_guess_segment_properties(buf);
    hb_shape(face->hb_font, buf, NULL, 0);
    CHECK(hb_buffer_allocation_successful(buf), "hb buffer allocation");
    unsigned n;
    hb_glyph_info_t *info = hb_buffer_get_glyph_infos(buf, &n);
    hb_glyph_position_t *pos = hb_buffer_get_glyph_positions(buf, &n);
    size_t textlen = strlen(text);
    L.g = calloc(n ? n : 1, sizeof *L.g);
    L.cluster = calloc(n ? n : 1, sizeof *L.cluster);
    L.n = n;
    double sc = size / face->upem, pen = x;
    for (unsigned i = 0; i < n; i++) {
        bl_glyph *g = &L.g[i];
        g->gid = info[i].codepoint;
        L.cluster[i] = info[i].cluster;
        g->x = pen + pos[i].x_offset * sc;
        g->y = y + pos[i].y_offset * sc;
        g->advance = pos[i].x_advance * sc;
        pen += pos[i].x_advance * sc;
    }
    /* Per-glyph text, cluster by cluster. */
    for (unsigned i = 0; i < n;) {
        unsigned j = i;
        while (j < n && info[j].cluster == info[i].cluster)
            j++;
        size_t cs = info[i].cluster, ce = cluster_end(info, n, info[i].cluster, textlen);
        if (j - i == 1) {
            L.g[i].text_start = (uint32_t)cs;
            L.g[i].text_len = (uint32_t)(ce - cs);
        } else {
            int all_found = 1;
            for (size_t k = cs; k < ce;) {
                uint32_t cp;
                int l = bl_utf8_decode(text + k, ce - k, &cp);
                if (!l)
                    break;
                unsigned nom = bl_face_glyph(face, cp), m;
                for (m = i; m < j; m++)
                    if (L.g[m].gid == nom && L.g[m].text_len == 0)
                        break;
                if (m < j) {
                    L.g[m].text_start = (uint32_t)k;
                    L.g[m].text_len = (uint32_t)l;
                } else
                    all_found = 0;
                k += (size_t)l;
            }
            if (!all_found) {
                for (unsigned m = i; m < j; m++)
                    L.g[m].text_start = L.g[m].text_len = 0;
                unsigned first = rtl ? j - 1 : i;
                L.g[first].text_start = (uint32_t)cs;
                L.g[first].text_len = (uint32_t)(ce - cs);
            }
        }
        i = j;
    }
    hb_buffer_destroy(buf);
    L.run.face = face;
    L.run.size = size;
    L.run.rtl = rtl;
    L.run.lang = lang;
    L.run.text = text;
    L.run.text_len = textlen;
    L.run.glyphs = L.g;
    L.run.n = L.n;
    L.run.block = 0;
    L.run.kind = "paragraph";
    return L;
}

static int draw(bl_device *dev, const bl_glyph_run *run)
{
    int rc = dev->glyph_run(dev, run);
    if (rc == 0)
        for (size_t i = 0; i < run->n; i++) {
            if (bl_grow(&all, &capall, nall + 1, sizeof *all))
                abort();
            all[nall++] = (drawn){run->glyphs[i].gid, run->glyphs[i].x, run->glyphs[i].y, 0};
        }
    return rc;
}


static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) ? -1 : (long)st.st_size;
}

static int count_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp."))
            n++;
    closedir(d);
    return n;
}

static const double black[3] = {0, 0, 0};

/* An outline as text, for comparing two fonts' drawings of a glyph. */
static void rec(void *b, const char *op, int n, const float *v)
{
    bl_buf_printf(b, "%s", op);
    for (int i = 0; i < n; i++)
        bl_buf_printf(b, " %g", (double)v[i]);
    bl_buf_puts(b, ";");
}
static void d_move(hb_draw_funcs_t *df, void *b, hb_draw_state_t *st, float x, float y, void *u)
{
    (void)df, (void)st, (void)u;
    rec(b, "M", 2, (float[]){x, y});
}
static void d_line(hb_draw_funcs_t *df, void *b, hb_draw_state_t *st, float x, float y, void *u)
{
    (void)df, (void)st, (void)u;
    rec(b, "L", 2, (float[]){x, y});
}
static void d_quad(hb_draw_funcs_t *df, void *b, hb_draw_state_t *st, float cx, float cy, float x, float y, void *u)
{
    (void)df, (void)st, (void)u;
    rec(b, "Q", 4, (float[]){cx, cy, x, y});
}
static void d_cubic(hb_draw_funcs_t *df, void *b, hb_draw_state_t *st, float c1x, float c1y, float c2x, float c2y,
                    float x, float y, void *u)
{
    (void)df, (void)st, (void)u;
    rec(b, "C", 6, (float[]){c1x, c1y, c2x, c2y, x, y});
}
static void d_close(hb_draw_funcs_t *df, void *b, hb_draw_state_t *st, void *u)
{
    (void)df, (void)st, (void)u;
    rec(b, "Z", 0, NULL);
}

static void outline(hb_font_t *font, unsigned gid, bl_buf *out)
{
    hb_draw_funcs_t *df = hb_draw_funcs_create();
    hb_draw_funcs_set_move_to_func(df, d_move, NULL, NULL);
    hb_draw_funcs_set_line_to_func(df, d_line, NULL, NULL);
    hb_draw_funcs_set_quadratic_to_func(df, d_quad, NULL, NULL);
    hb_draw_funcs_set_cubic_to_func(df, d_cubic, NULL, NULL);
    hb_draw_funcs_set_close_path_func(df, d_close, NULL, NULL);
    out->len = 0;
    hb_font_get_glyph_shape(font, gid, df, out);
    bl_buf_append(out, "", 0);
    hb_draw_funcs_destroy(df);
}

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

/* The embedded font program, straight from the FontFile2 stream: only the
 * tables a CIDFontType2 needs, no hinting, and every glyph drawn has the
 * original's outline and advance at its original id (codes are glyph ids). */
static void check_font_program(bl_face *face, const unsigned *gids, size_t n)
{
    char err[256];
    HPDF_Doc doc = HPDF_New(NULL, NULL);
    bl_pdf_font *f = doc ? bl_pdf_font_new(doc, face, 0, NULL, err, sizeof err) : NULL;
    CHECK(f != NULL, "bl_pdf_font_new: %s", doc ? err : "no document");
    if (!f) {
        HPDF_Free(doc);
        return;
    }
    for (size_t i = 0; i < n; i++)
        CHECK(bl_pdf_font_code(f, gids[i], "x", 1) != NULL, "code for glyph %u", gids[i]);
    CHECK(bl_pdf_font_finish(f, doc, 0, err, sizeof err) == 0, "finish: %s", err);
    HPDF_Stream s = f->fontfile->stream;
    HPDF_UINT len = (HPDF_UINT)HPDF_Stream_Size(s);
    char *data = malloc(len ? len : 1);
    HPDF_Stream_Seek(s, 0, HPDF_SEEK_SET);
    CHECK(data && HPDF_Stream_Read(s, (HPDF_BYTE *)data, &len) == HPDF_OK, "read the font file back");
    printf("%s: font program for %zu glyphs: %u bytes\n", face->label, n, (unsigned)len);

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
    for (size_t i = 0; i < n; i++) {
        outline(face->hb_font, gids[i], &a);
        outline(sf, gids[i], &b);
        int ok = !strcmp(a.data, b.data) &&
                 hb_font_get_glyph_h_advance(face->hb_font, gids[i]) == hb_font_get_glyph_h_advance(sf, gids[i]);
        CHECK(ok, "%s glyph %u: outline and advance as in the original", face->label, gids[i]);
        same += ok && (gids[i] == 0 || a.len > 1); /* an outline, not two empty ones */
    }
    CHECK(same + 1 >= n, "%zu of %zu glyphs have equal, non-empty outlines", same, n);
    bl_buf_free(&a);
    bl_buf_free(&b);
    hb_font_destroy(sf);
    hb_face_destroy(sub);
    hb_blob_destroy(blob);
    free(data);
    bl_pdf_font_free(f);
    HPDF_Free(doc);
}

static bl_face *open_face(const char *path)
{
    char err[256];
    bl_face *f = bl_face_open(path, err, sizeof err);
    CHECK(f != NULL, "open %s: %s", path, err);
    if (!f)
        exit(bl_test_done());
    return f;
}

static void free_line(line *L)
{
    free(L->g);
    free(L->cluster);
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
    unsigned char bytes[1024];
    const pr_font *font = NULL;
    char name[16] = "";
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            i++;
        } else if (c == '(') {
            size_t nb = 0;
            int depth = 1;
            for (i++; i < n && depth;) {
                unsigned char e = (unsigned char)s[i++];
                if (e == '\\' && i < n) {
                    e = (unsigned char)s[i++];
                    e = e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e;
                } else if (e == '(')
                    depth++;
                else if (e == ')' && --depth == 0)
                    break;
                else if (e == '\r' || e == '\n')
                    st->bad = 1; /* raw ends of line are what the escapes avoid */
                if (nb < sizeof bytes)
                    bytes[nb++] = e;
            }
            if (depth || !font)
                st->bad = 1;
            for (size_t k = 0, used; font && k < nb && st->ncodes < 512; k += used) {
                int space;
                used = pr_decode(font, bytes + k, nb - k, &st->codes[st->ncodes++], &space);
                if (!used) {
                    st->bad = 1;
                    break;
                }
            }
        } else if (c == '<') {
            st->hex++;
            while (i < n && s[i] != '>')
                i++;
            i++;
        } else if (c == '[' || c == ']') {
            in_array = c == '[';
            i++;
        } else if (c == '/') {
            size_t b = ++i;
            for (; i < n && !strchr(" \n\r/[]()<>", s[i]); i++)
                ;
            snprintf(name, sizeof name, "%.*s", (int)(i - b), s + b);
        } else if (c == '-' || c == '.' || (c >= '0' && c <= '9')) {
            char *end;
            double v = strtod(s + i, &end);
            i = (size_t)(end - s);
            if (in_array) {
                st->nadj++;
                if (v != floor(v))
                    st->nonint_adj++;
                if (fabs(v) * size / 1000 < st->min_adj_pt)
                    st->min_adj_pt = fabs(v) * size / 1000;
            }
            num[0] = num[1];
            num[1] = v;
        } else {
            size_t b = i;
            while (i < n && !strchr(" \n\r/[]()<>", s[i]))
                i++;
            if (i == b)
                i++;
            if (i - b == 2 && !memcmp(s + b, "Tf", 2)) {
                size = num[1];
                font = pr_font_named(fs, name);
            } else if (i - b == 2 && !memcmp(s + b, "Tm", 2))
                st->tm++;
            else if (i - b == 2 && !memcmp(s + b, "Td", 2))
                st->td++;
            else if (i - b == 2 && !memcmp(s + b, "BT", 2))
                st->bt++;
        }
    }
}

/* The whole file in b (NUL-terminated; data NULL when unreadable). */
static void slurp(const char *path, bl_buf *b)
{
    b->len = 0;
    FILE *fp = fopen(path, "rb");
    char chunk[4096];
    size_t got;
    while (fp && (got = fread(chunk, 1, sizeof chunk, fp)) > 0)
        bl_buf_append(b, chunk, got);
    if (fp) {
        fclose(fp);
        bl_buf_append(b, "", 0);
    }
}

/* How many times needle occurs in the len bytes at hay (NULs included). */
static size_t count_in(const char *hay, size_t len, const char *needle)
{
    size_t n = 0, k = strlen(needle);
    for (size_t i = 0; hay && k && i + k <= len; i++)
        n += !memcmp(hay + i, needle, k);
    return n;
}

/* The first needle in [hay, end), or NULL. */
static const char *find_bytes(const char *hay, const char *end, const char *needle)
{
    size_t k = strlen(needle);
    for (const char *q = hay; q && q + k <= end; q++)
        if (!memcmp(q, needle, k))
            return q;
    return NULL;
}

/* The objects that "KEY N 0 R" refers to in the NUL-terminated buffer b
 * (qpdf's QDF text, NULs inside), in order: returns how many there are,
 * the first max in objs. */
static size_t refs_to(const bl_buf *b, const char *key, unsigned *objs, size_t max)
{
    size_t n = 0, k = strlen(key);
    const char *end = b->data + b->len;
    for (const char *q = find_bytes(b->data, end, key); q; q = find_bytes(q + 1, end, key)) {
        char *after;
        unsigned long v = strtoul(q + k, &after, 10);
        if (after == q + k || strncmp(after, " 0 R", 4))
            continue;
        if (n < max)
            objs[n] = (unsigned)v;
        n++;
    }
    return n;
}

/* Justifies a shaped line the way the layout engine does
 * (bl_line_out_adjust): letter after the last glyph of every cluster that
 * another cluster follows, except next to a space; space after a space. */
static void justify(line *L, double letter, double space)
{
    double shift = 0;
    for (size_t i = 0; i < L->n; i++) {
        bl_glyph *g = &L->g[i];
        g->x += shift;
        if (i + 1 == L->n || L->cluster[i + 1] == L->cluster[i])
            continue;
        int sp = g->text_len == 1 && L->run.text[g->text_start] == ' ';
        const bl_glyph *next = &L->g[i + 1];
        int next_sp = next->text_len == 1 && L->run.text[next->text_start] == ' ';
        double add = sp ? space : next_sp ? 0 : letter;
        g->advance += add;
        shift += add;
    }
}

/* A reader of our own for uncompressed content streams (PDF 32000-1 9.3,
 * 9.4): BT, Td, Tf, Tc, Tw and TJ, the text position kept in doubles.  Tc
 * and Tw are text state: they outlive ET and BT and start at 0 on every
 * page.  Fonts are taken by their first Tf on the page, in the order
 * faces[] lists them; strings are cut into codes and mapped to glyph ids
 * by the fonts of fs.  Appends each glyph to out; counts the Tc, Tw, Td
 * and TJ adjustments it read. */
typedef struct replay {
    drawn *g;
    size_t n, cap;
    size_t tc_ops, tw_ops, td_ops, adjustments, bad;
    double tcs[16]; /* the Tc values set, in order (the first 16) */
} replay;

static void replay_page(const char *s, size_t n, bl_face *const *faces, size_t nfaces, const pr_fonts *fs,
                        replay *r)
{
    char names[8][16];
    size_t nnames = 0;
    bl_face *face = NULL;
    const pr_font *font = NULL;
    double size = 0, tc = 0, tw = 0, tlx = 0, tly = 0, x = 0, y = 0, num[2] = {0, 0};
    char name[16] = "";
    int in_array = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\n' || c == '\r') {
            i++;
        } else if (c == '(') {
            unsigned char bytes[512];
            size_t nb = 0;
            for (i++; i < n && s[i] != ')'; i++) {
                unsigned char e = (unsigned char)s[i];
                if (e == '\\' && i + 1 < n) {
                    e = (unsigned char)s[++i];
                    e = e == 'n' ? '\n' : e == 'r' ? '\r' : e;
                }
                if (nb < sizeof bytes)
                    bytes[nb++] = e;
            }
            i++;
            for (size_t k = 0, used; k < nb; k += used) {
                long gid = -1;
                int space = 0;
                used = font ? pr_decode(font, bytes + k, nb - k, &gid, &space) : 0;
                if (!used || gid < 0) {
                    r->bad++;
                    break;
                }
                if (bl_grow(&r->g, &r->cap, r->n + 1, sizeof *r->g))
                    abort();
                r->g[r->n++] = (drawn){(unsigned)gid, x, y, space};
                double w = face ? bl_face_advance(face, (unsigned)gid) * 1000.0 / face->upem : 0;
                /* Tc after every glyph, marks and the last included; Tw
                 * after the one-byte code 32 */
                x += w * size / 1000 + tc + (space ? tw : 0);
            }
        } else if (c == '[' || c == ']') {
            in_array = c == '[';
            i++;
        } else if (c == '/') {
            size_t b = ++i;
            while (i < n && !strchr(" \n\r/[]()", s[i]))
                i++;
            snprintf(name, sizeof name, "%.*s", (int)(i - b), s + b);
        } else if (c == '-' || c == '.' || (c >= '0' && c <= '9')) {
            char *end;
            double v = strtod(s + i, &end);
            i = (size_t)(end - s);
            if (in_array) {
                x -= v / 1000 * size;
                r->adjustments++;
            }
            num[0] = num[1];
            num[1] = v;
        } else {
            size_t b = i;
            while (i < n && !strchr(" \n\r/[]()", s[i]))
                i++;
            if (i == b)
                i++;
            size_t len = i - b;
            if (len == 2 && !memcmp(s + b, "BT", 2)) {
                tlx = tly = x = y = 0;
            } else if (len == 2 && !memcmp(s + b, "Td", 2)) {
                tlx += num[0];
                tly += num[1];
                x = tlx;
                y = tly;
                r->td_ops++;
            } else if (len == 2 && !memcmp(s + b, "Tc", 2)) {
                tc = num[1];
                if (r->tc_ops < 16)
                    r->tcs[r->tc_ops] = tc;
                r->tc_ops++;
            } else if (len == 2 && !memcmp(s + b, "Tw", 2)) {
                tw = num[1];
                r->tw_ops++;
            } else if (len == 2 && !memcmp(s + b, "Tf", 2)) {
                size = num[1];
                size_t k = 0;
                while (k < nnames && strcmp(names[k], name))
                    k++;
                if (k == nnames && nnames < 8)
                    snprintf(names[nnames++], sizeof names[0], "%s", name);
                face = k < nfaces ? faces[k] : NULL;
                font = pr_font_named(fs, name);
            }
        }
    }
}

/* The uncompressed content streams of a file: those that begin with BT
 * ("stream", CR LF as libharu writes it, then the data, LF "endstream"). */
static size_t content_streams(const bl_buf *pdf, const char **start, size_t *len, size_t max)
{
    size_t k = 0;
    const char *end = pdf->data + pdf->len;
    for (const char *q = pdf->data; q + 10 < end && k < max; q++) {
        if (memcmp(q, "stream\r\nBT\n", 11))
            continue;
        const char *e = q + 8;
        while (e + 10 <= end && memcmp(e, "\nendstream", 10))
            e++;
        start[k] = q + 8;
        len[k++] = (size_t)(e - (q + 8));
        q = e;
    }
    return k;
}

/* Letter spacing is written as Tc, which a reader adds after every glyph
 * (zero-width marks and a TJ's last glyph too) and keeps across text
 * objects but not across pages; a run that goes on from where the last
 * one ended needs no Td.  Checked with our own reader of the content and
 * with mutool's. */
static void check_letter_spacing(bl_face *latin, bl_face *hebrew, const char *dir)
{
    const double L1 = 0.37, L2 = 0.25;
    bl_pdf_info plain = {.compress = 0};
    bl_pdf *pdf = bl_pdf_new(&plain);
    bl_device *dev = bl_pdf_device(pdf);
    /* Pointed and plain Hebrew, letter-spaced; then digits in another font
     * that start exactly where the letter spacing after the last Hebrew
     * glyph ends (so no Td), letter-spaced alike. */
    line he = shape(hebrew, "בְּרֵאשִׁית שָׁלוֹם עולם טוב", 1, "he", 60, 700, 16);
    justify(&he, L1, 2.1);
    const bl_glyph *last = &he.g[he.n - 1];
    double after = last->x + bl_face_advance(hebrew, last->gid) * 16.0 / hebrew->upem + L1;
    line digits = shape(latin, "2021", 0, "en", after, 700, 16);
    justify(&digits, L1, 0);
    /* After a rule (ET): an unspaced line (Tc must go back to 0), then a
     * letter-spaced one; on a new page the same line again. */
    line flat = shape(latin, "Tavern office AV", 0, "en", 60, 650, 14);
    line wide = shape(latin, "Letter spaced line of text", 0, "en", 60, 620, 14);
    justify(&wide, L2, 3.3);
    line *runs[] = {&he, &digits, &flat, &wide, &wide};
    CHECK(dev->begin_page(dev, PAGE_W, PAGE_H) == 0, "letter spacing page: %s", dev->error(dev));
    for (int i = 0; i < 5; i++) {
        if (i == 2)
            CHECK(dev->rule(dev, 60, 680, 500, 680, 0.5, NULL) == 0, "rule: %s", dev->error(dev));
        if (i == 4)
            CHECK(dev->end_page(dev) == 0 && dev->begin_page(dev, PAGE_W, PAGE_H) == 0, "page 2: %s",
                  dev->error(dev));
        CHECK(dev->glyph_run(dev, &runs[i]->run) == 0, "letter-spaced run %d: %s", i, dev->error(dev));
    }
    CHECK(dev->end_page(dev) == 0, "end_page");
    char path[600], cmd[800];
    snprintf(path, sizeof path, "%s/spaced.pdf", dir);
    CHECK(bl_pdf_save(pdf, path) == 0, "save: %s", bl_pdf_error(pdf));
    bl_pdf_free(pdf);

    drawn want[200];
    size_t nwant = 0;
    for (int i = 0; i < 5; i++)
        for (size_t k = 0; k < runs[i]->n && nwant < 200; k++)
            want[nwant++] = (drawn){runs[i]->g[k].gid, runs[i]->g[k].x, runs[i]->g[k].y, 0};

    bl_buf data = {0}, out = {0};
    slurp(path, &data);
    const char *cs[2];
    size_t cl[2];
    CHECK(content_streams(&data, cs, cl, 2) == 2, "two content streams found");
    replay r1 = {0}, r2 = {0};
    bl_face *faces1[] = {hebrew, latin}, *faces2[] = {latin};
    pr_fonts fs;
    pr_load_fonts(&data, &fs);
    CHECK(fs.n == 2, "two fonts read back (%zu)", fs.n);
    if (content_streams(&data, cs, cl, 2) == 2) {
        replay_page(cs[0], cl[0], faces1, 2, &fs, &r1);
        replay_page(cs[1], cl[1], faces2, 1, &fs, &r2);
    }
    pr_free_fonts(&fs);
    CHECK(r1.bad + r2.bad == 0, "every code maps to a glyph (%zu do not)", r1.bad + r2.bad);
    /* Word spacing (Tw) takes the justified spaces of the two spaced lines. */
    CHECK(r1.tw_ops >= 1 && r2.tw_ops >= 1, "Tw on both pages (%zu, %zu)", r1.tw_ops, r2.tw_ops);
    /* Tc on page 1: L1 for the Hebrew and the digits, 0 for the unspaced
     * line (after ET, Tc is still L1), L2; on page 2 L2 again. */
    CHECK(r1.tc_ops == 3 && fabs(r1.tcs[0] - L1) < 1e-4 && r1.tcs[1] == 0 && fabs(r1.tcs[2] - L2) < 1e-4,
          "page 1 sets Tc to L1, 0, L2 (%zu: %g %g %g)", r1.tc_ops, r1.tcs[0], r1.tcs[1], r1.tcs[2]);
    CHECK(r2.tc_ops == 1 && fabs(r2.tcs[0] - L2) < 1e-4, "page 2 sets Tc to L2 again (%zu: %g)", r2.tc_ops,
          r2.tcs[0]);
    /* One Td per baseline: the digits go on from the Hebrew. */
    CHECK(r1.td_ops == 3 && r2.td_ops == 1, "Td per baseline: %zu on page 1 (3), %zu on page 2 (1)", r1.td_ops,
          r2.td_ops);
    /* Without Tc, nearly every glyph of a spaced line needs an adjustment. */
    size_t nglyphs = r1.n + r2.n;
    printf("letter spacing: %zu glyphs, %zu TJ adjustments\n", nglyphs, r1.adjustments + r2.adjustments);
    CHECK(r1.adjustments + r2.adjustments < nglyphs / 2, "%zu adjustments for %zu glyphs",
          r1.adjustments + r2.adjustments, nglyphs);
    double maxerr = 0;
    size_t bad = 0;
    CHECK(r1.n + r2.n == nwant, "replayed %zu glyphs, drew %zu", r1.n + r2.n, nwant);
    for (size_t i = 0; i < nwant && i < r1.n + r2.n; i++) {
        const drawn *g = i < r1.n ? &r1.g[i] : &r2.g[i - r1.n];
        const drawn *base = i < r1.n ? r1.g : r2.g;
        size_t at = i < r1.n ? i : i - r1.n, nb = i < r1.n ? r1.n : r2.n;
        maxerr = fmax(maxerr, read_back_error(&base[0].x, &base[0].y, sizeof *base, nb, at, g->space, want[i].x,
                                              want[i].y));
        bad += g->gid != want[i].gid;
    }
    printf("letter spacing: max position error (content replayed): %.6f pt\n", maxerr);
    CHECK(bad == 0 && maxerr < 0.0015, "replayed content: %zu glyph ids differ, max error %.6f pt", bad, maxerr);

    if (has_tool("mutool")) {
        snprintf(cmd, sizeof cmd, "mutool trace %s 2>/dev/null", path);
        CHECK(bl_test_run(cmd, &out) == 0, "mutool trace (letter spacing) runs");
        traced *tr;
        size_t nt = parse_trace(out.data, &tr);
        maxerr = 0;
        bad = 0;
        for (size_t i = 0; i < nt && i < nwant; i++) {
            maxerr = fmax(maxerr, traced_error(tr, nt, i, want[i].x, want[i].y));
            bad += tr[i].gid != want[i].gid;
        }
        printf("letter spacing: max position error (mutool trace): %.6f pt\n", maxerr);
        CHECK(nt == nwant && bad == 0 && maxerr < 0.003,
              "mutool: %zu of %zu glyphs, %zu ids differ, max error %.6f pt", nt, nwant, bad, maxerr);
        free(tr);
    }
    snprintf(cmd, sizeof cmd, "pdftotext -enc UTF-8 %s - 2>&1", path);
    CHECK(bl_test_run(cmd, &out) == 0, "pdftotext runs");
    const char *words[] = {"2021", "עולם", "טוב", "Tavern", "office", "Letter", "spaced"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        CHECK(strstr(out.data, words[i]) != NULL, "pdftotext finds '%s' in letter-spaced text", words[i]);
    free(r1.g);
    free(r2.g);
    bl_buf_free(&data);
    bl_buf_free(&out);
    free_line(&he);
    free_line(&digits);
    free_line(&flat);
    free_line(&wide);
}

/* Runs of spaces become one (pdfinfo aligns its columns). */
static void squeeze_spaces(char *s)
{
    char *o = s;
    for (const char *q = s; *q; q++)
        if (!(*q == ' ' && o > s && o[-1] == ' '))
            *o++ = *q;
    *o = 0;
}

/* Page sizes: one /MediaBox, on the page tree, when every page has the
 * same size; one per page when they differ, also when a page of another
 * size follows a save that had shared the box. */
static void check_page_sizes(bl_face *latin, const char *dir)
{
    char same[600], mixed[600], cmd[1400];
    snprintf(same, sizeof same, "%s/same-size.pdf", dir);
    snprintf(mixed, sizeof mixed, "%s/mixed-size.pdf", dir);
    bl_pdf *pdf = bl_pdf_new(NULL);
    bl_device *dev = bl_pdf_device(pdf);
    line word = shape(latin, "Size", 0, "en", 20, 100, 12);
    for (int i = 0; i < 2; i++)
        CHECK(dev->begin_page(dev, 300, 200) == 0 && dev->glyph_run(dev, &word.run) == 0 && dev->end_page(dev) == 0,
              "page %d: %s", i + 1, dev->error(dev));
    CHECK(bl_pdf_save(pdf, same) == 0, "save: %s", bl_pdf_error(pdf));
    CHECK(dev->begin_page(dev, 500, 400) == 0 && dev->glyph_run(dev, &word.run) == 0 && dev->end_page(dev) == 0,
          "page 3: %s", dev->error(dev));
    CHECK(bl_pdf_save(pdf, mixed) == 0, "save: %s", bl_pdf_error(pdf));
    bl_pdf_free(pdf);
    free_line(&word);

    bl_buf out = {0};
    const char *files[] = {same, mixed};
    const size_t boxes[] = {1, 3};
    for (int f = 0; f < 2; f++) {
        snprintf(cmd, sizeof cmd, "pdfinfo -f 1 -l 3 %s 2>&1", files[f]);
        CHECK(bl_test_run(cmd, &out) == 0, "pdfinfo runs");
        squeeze_spaces(out.data);
        CHECK(strstr(out.data, "Page 1 size: 300 x 200 pts") && strstr(out.data, "Page 2 size: 300 x 200 pts"),
              "pages 1 and 2 are 300 x 200:\n%s", out.data);
        CHECK(f == 0 || strstr(out.data, "Page 3 size: 500 x 400 pts"), "page 3 is 500 x 400:\n%s", out.data);
        if (has_tool("qpdf")) {
            snprintf(cmd, sizeof cmd, "qpdf --qdf --object-streams=disable %s - 2>/dev/null", files[f]);
            bl_test_run(cmd, &out);
            size_t nbox = count_in(out.data, out.len, "/MediaBox");
            CHECK(nbox == boxes[f], "%s: %zu /MediaBox entries, want %zu", files[f], nbox, boxes[f]);
            CHECK(count_in(out.data, out.len, "/ProcSet [") == 0, "no /ProcSet in the page resources");
        }
        if (access(PDFCHECK, R_OK) == 0) {
            snprintf(cmd, sizeof cmd, "sh %s %s 2>&1", PDFCHECK, files[f]);
            int rc = bl_test_run(cmd, &out);
            CHECK(rc == 0, "pdfcheck %s rc=%d:\n%s", files[f], rc, out.data);
        }
    }
    bl_buf_free(&out);
}

/* The object of page n (its "%% Page n" comment to endobj) in qpdf's QDF
 * text, NUL-terminated in page (empty when there is none), followed by
 * its /Resources dictionary when that is an object of its own (pages with
 * the same resources share one). */
static void qdf_page(const bl_buf *qdf, int n, bl_buf *page)
{
    char key[32];
    snprintf(key, sizeof key, "%%%% Page %d\n", n);
    page->len = 0;
    const char *end = qdf->data + qdf->len;
    const char *s = find_bytes(qdf->data, end, key);
    const char *e = s ? find_bytes(s, end, "endobj") : NULL;
    if (e) {
        bl_buf_append(page, s, (size_t)(e - s));
        bl_buf_append(page, "", 0);
        unsigned res;
        if (refs_to(page, "/Resources ", &res, 1) == 1) {
            snprintf(key, sizeof key, "\n%u 0 obj\n", res);
            const char *r = find_bytes(qdf->data, end, key);
            const char *re = r ? find_bytes(r, end, "endobj") : NULL;
            if (re)
                bl_buf_append(page, r, (size_t)(re - r));
        }
    }
    bl_buf_append(page, "", 0);
}

/* Appends a run's glyphs to the list of what was drawn. */
static void want_run(drawn **w, size_t *n, size_t *cap, const line *L)
{
    for (size_t i = 0; i < L->n; i++) {
        if (bl_grow(w, cap, *n + 1, sizeof **w))
            abort();
        (*w)[(*n)++] = (drawn){L->g[i].gid, L->g[i].x, L->g[i].y, 0};
    }
}

/* The group drawn on pages 1 to 3: a banner top and bottom, a rule and a
 * rectangle (in another colour than the text), as the layout's furniture. */
static int furniture_group(bl_device *dev, const line *top, const line *bottom)
{
    static const double grey[3] = {0.5, 0.5, 0.5}, green[3] = {0, 0.5, 0};
    return dev->group_begin(dev) || dev->glyph_run(dev, &top->run) || dev->glyph_run(dev, &bottom->run) ||
           dev->rule(dev, 40, 790, 555, 790, 0.5, grey) || dev->rect(dev, 40, 20, 20, 5, green) ||
           dev->group_end(dev);
}

/* Groups: one Form XObject per distinct content (equal groups on other
 * pages show the same form, a different one makes another), none for a
 * page without a group or for an empty group; the text inside a form is
 * where it was asked to be, in its own font, colour and letter spacing
 * whatever the page had before the Do, and the page's text right after
 * the Do has its own, whatever the form set.  Two saves, the second after
 * more pages and a new font. */
static void check_groups(bl_face *latin, bl_face *hebrew, bl_face *arabic, const char *dir)
{
    static const double blue[3] = {0, 0, 0.6}, red[3] = {0.7, 0, 0};
    char first[600], second[600], cmd[1400];
    snprintf(first, sizeof first, "%s/groups-1.pdf", dir);
    snprintf(second, sizeof second, "%s/groups-2.pdf", dir);
    bl_pdf *pdf = bl_pdf_new(NULL);
    bl_device *dev = bl_pdf_device(pdf);
    /* Before the group on page 1: letter-spaced blue Latin (a form that
     * relied on the page's font, colour or Tc would take these). */
    line body = shape(latin, "Body text before the banner", 0, "en", 60, 700, 12);
    justify(&body, 0.3, 1.5);
    memcpy(body.run.rgb, blue, sizeof blue);
    line top = shape(hebrew, "שמור לשימוש פנימי", 1, "he", 230, 810, 10);
    line bottom = shape(hebrew, "שמור לשימוש פנימי", 1, "he", 230, 30, 10);
    line other = shape(hebrew, "סודי ביותר", 1, "he", 250, 810, 10);
    line *banners[] = {&top, &bottom, &other};
    for (int i = 0; i < 3; i++)
        memcpy(banners[i]->run.rgb, red, sizeof red);
    /* Right after the group, in the group's last font, size and colour and
     * not letter-spaced: the page has body's state there, so this needs
     * its own Tf, colour and Tc. */
    line after = shape(hebrew, "אחרי הכותרת", 1, "he", 200, 650, 10);
    memcpy(after.run.rgb, red, sizeof red);
    line second_page = shape(latin, "Second page", 0, "en", 60, 700, 12);
    line arabic_line = shape(arabic, "السلام عليكم", 1, "ar", 100, 400, 14);

    drawn *want = NULL;
    size_t nwant = 0, capwant = 0;
    /* Page 1: body, the group, text after it.  Page 2: the same group on a
     * fresh page, then text.  Page 3: a group with another banner. */
    CHECK(dev->begin_page(dev, PAGE_W, PAGE_H) == 0 && dev->glyph_run(dev, &body.run) == 0 &&
              furniture_group(dev, &top, &bottom) == 0 && dev->glyph_run(dev, &after.run) == 0 &&
              dev->end_page(dev) == 0,
          "groups page 1: %s", dev->error(dev));
    want_run(&want, &nwant, &capwant, &body);
    want_run(&want, &nwant, &capwant, &top);
    want_run(&want, &nwant, &capwant, &bottom);
    size_t after_at = nwant;
    want_run(&want, &nwant, &capwant, &after);
    CHECK(dev->begin_page(dev, PAGE_W, PAGE_H) == 0 && furniture_group(dev, &top, &bottom) == 0 &&
              dev->glyph_run(dev, &second_page.run) == 0 && dev->end_page(dev) == 0,
          "groups page 2: %s", dev->error(dev));
    want_run(&want, &nwant, &capwant, &top);
    want_run(&want, &nwant, &capwant, &bottom);
    want_run(&want, &nwant, &capwant, &second_page);
    CHECK(dev->begin_page(dev, PAGE_W, PAGE_H) == 0 && furniture_group(dev, &other, &bottom) == 0 &&
              dev->end_page(dev) == 0,
          "groups page 3: %s", dev->error(dev));
    want_run(&want, &nwant, &capwant, &other);
    want_run(&want, &nwant, &capwant, &bottom);
    CHECK(bl_pdf_save(pdf, first) == 0, "save: %s", bl_pdf_error(pdf));
    /* Page 4: no group, a font first used after the save.  Pages 5 and 6:
     * a group with an image and a rule; page 6 also an empty group. */
    unsigned char px[2 * 2 * 3] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255};
    bl_image img = {.refs = 1, .width = 2, .height = 2, .components = 3, .pixels = px};
    CHECK(dev->begin_page(dev, PAGE_W, PAGE_H) == 0 && dev->glyph_run(dev, &arabic_line.run) == 0 &&
              dev->end_page(dev) == 0,
          "groups page 4: %s", dev->error(dev));
    want_run(&want, &nwant, &capwant, &arabic_line);
    for (int i = 0; i < 2; i++) {
        CHECK(dev->begin_page(dev, PAGE_W, PAGE_H) == 0 && dev->group_begin(dev) == 0 &&
                  dev->image(dev, &img, 100, 500, 40, 30) == 0 && dev->rule(dev, 100, 490, 140, 490, 1, NULL) == 0 &&
                  dev->group_end(dev) == 0,
              "groups page %d: %s", 5 + i, dev->error(dev));
        if (i == 1)
            CHECK(dev->group_begin(dev) == 0 && dev->group_end(dev) == 0, "empty group: %s", dev->error(dev));
        CHECK(dev->end_page(dev) == 0, "end_page %d: %s", 5 + i, dev->error(dev));
    }
    CHECK(bl_pdf_save(pdf, second) == 0, "second save: %s", bl_pdf_error(pdf));
    bl_pdf_free(pdf);
    CHECK(img.refs == 1, "the image's reference is given back (%d)", img.refs);

    bl_buf out = {0}, page = {0};
    const char *files[] = {first, second};
    for (int f = 0; f < 2; f++)
        if (access(PDFCHECK, R_OK) == 0) {
            snprintf(cmd, sizeof cmd, "sh %s %s 2>&1", PDFCHECK, files[f]);
            int rc = bl_test_run(cmd, &out);
            CHECK(rc == 0, "pdfcheck %s rc=%d:\n%s", files[f], rc, out.data);
        }
    if (has_tool("qpdf")) {
        /* The first save: two forms (pages 1 and 2 share one). */
        snprintf(cmd, sizeof cmd, "qpdf --qdf --object-streams=disable %s - 2>/dev/null", first);
        bl_test_run(cmd, &out);
        CHECK(count_in(out.data, out.len, "/Subtype /Form") == 2, "first save: %zu forms, want 2",
              count_in(out.data, out.len, "/Subtype /Form"));
        /* The second: three, each page's in its /XObject resources; none on
         * page 4, and the empty group on page 6 adds nothing. */
        snprintf(cmd, sizeof cmd, "qpdf --qdf --object-streams=disable %s - 2>/dev/null", second);
        bl_test_run(cmd, &out);
        CHECK(count_in(out.data, out.len, "/Subtype /Form") == 3, "second save: %zu forms, want 3",
              count_in(out.data, out.len, "/Subtype /Form"));
        unsigned form[7] = {0};
        for (int i = 1; i <= 6; i++) {
            qdf_page(&out, i, &page);
            unsigned o[2];
            size_t n = refs_to(&page, "/X1 ", o, 2);
            if (i == 4)
                CHECK(page.len > 1 && !strstr(page.data, "/XObject"), "page 4 has no /XObject resources:\n%s",
                      page.data);
            else {
                CHECK(n == 1 && refs_to(&page, "/X2 ", o + 1, 1) == 0, "page %d shows one form (%zu)", i, n);
                form[i] = n ? o[0] : 0;
            }
        }
        CHECK(form[1] && form[1] == form[2], "pages 1 and 2 show the same form (%u, %u)", form[1], form[2]);
        CHECK(form[3] && form[3] != form[1], "page 3's other banner is another form (%u)", form[3]);
        CHECK(form[5] && form[5] == form[6] && form[5] != form[1] && form[5] != form[3],
              "pages 5 and 6 show a third form (%u, %u)", form[5], form[6]);
        /* The image form names the image in its own resources. */
        unsigned im;
        CHECK(refs_to(&out, "/Im1 ", &im, 1) == 1, "the image is in one form's /XObject resources");
        /* Forms with text name the document's /Font dictionary, as pages do. */
        unsigned fonts[8];
        size_t nf = refs_to(&out, "/Font ", fonts, 8);
        int one = 1;
        for (size_t i = 1; i < nf && i < 8; i++)
            one = one && fonts[i] == fonts[0];
        CHECK(nf == 5 && one, "pages 1, 2 and 4 and the banner forms name one /Font dictionary (%zu entries)", nf);
    }
    /* The forms' content is deflated, like the pages'. */
    {
        bl_buf raw = {0};
        slurp(second, &raw);
        size_t forms = 0, flate = 0;
        const char *end = raw.data + raw.len;
        for (const char *q = find_bytes(raw.data, end, "/Subtype /Form"); q; q = find_bytes(q + 1, end, "/Subtype /Form")) {
            const char *st = find_bytes(q, end, "stream"), *fl = find_bytes(q, end, "/FlateDecode");
            forms++;
            flate += st && fl && fl < st;
        }
        CHECK(forms == 3 && flate == 3, "%zu of %zu forms deflated", flate, forms);
        bl_buf_free(&raw);
    }

    /* Text on every page that shows a banner (pdftotext reads forms). */
    const char *words[7][2] = {{NULL, NULL},          {"פנימי", "אחרי"}, {"פנימי", "Second"}, {"ביותר", "פנימי"},
                               {"السلام", NULL}, {NULL, NULL},            {NULL, NULL}};
    for (int i = 1; i <= 4; i++) {
        snprintf(cmd, sizeof cmd, "pdftotext -f %d -l %d -enc UTF-8 %s - 2>&1", i, i, second);
        CHECK(bl_test_run(cmd, &out) == 0, "pdftotext runs");
        for (int k = 0; k < 2; k++)
            CHECK(!words[i][k] || strstr(out.data, words[i][k]), "page %d: pdftotext finds '%s':\n%s", i,
                  words[i][k], out.data);
    }

    /* Every glyph where it was asked to be (forms included), and in its
     * own font and colour: the banners red Hebrew on every page, the line
     * after the group red Hebrew too, after blue Latin. */
    if (has_tool("mutool")) {
        snprintf(cmd, sizeof cmd, "mutool trace %s 2>/dev/null", second);
        CHECK(bl_test_run(cmd, &out) == 0, "mutool trace runs");
        traced *tr;
        size_t nt = parse_trace(out.data, &tr);
        double maxerr = 0;
        size_t bad = 0;
        for (size_t i = 0; i < nt && i < nwant; i++) {
            maxerr = fmax(maxerr, traced_error(tr, nt, i, want[i].x, want[i].y));
            bad += tr[i].gid != want[i].gid;
        }
        printf("groups: max position error (mutool trace): %.6f pt over %zu glyphs\n", maxerr, nt);
        CHECK(nt == nwant && bad == 0 && maxerr < 0.003, "mutool: %zu of %zu glyphs, %zu ids differ, max error %.6f pt",
              nt, nwant, bad, maxerr);
        /* page 1: body, top, bottom, after; page 2: top, bottom, ... */
        size_t spans[][2] = {{body.n, body.n + top.n + bottom.n + after.n},
                             {after_at + after.n, after_at + after.n + top.n + bottom.n},
                             {after_at + after.n + top.n + bottom.n + second_page.n,
                              after_at + after.n + top.n + bottom.n + second_page.n + other.n + bottom.n}};
        for (size_t s = 0; s < 3; s++)
            for (size_t i = spans[s][0]; i < spans[s][1] && i < nt; i++) {
                int ok = strstr(tr[i].font, "Hebrew") && fabs(tr[i].rgb[0] - red[0]) < 0.01 && tr[i].rgb[2] < 0.01;
                CHECK(ok, "glyph %zu: font %s colour %g %g %g, want red Hebrew", i, tr[i].font, tr[i].rgb[0],
                      tr[i].rgb[1], tr[i].rgb[2]);
                if (!ok)
                    break;
            }
        CHECK(nt > 0 && strstr(tr[0].font, "NotoSerif-") && fabs(tr[0].rgb[2] - blue[2]) < 0.01,
              "body text is blue Latin (%s)", nt ? tr[0].font : "");
        CHECK(count_in(out.data, out.len, "<fill_image") == 2, "the image is drawn on pages 5 and 6");
        free(tr);
    }
    free(want);
    bl_buf_free(&page);
    line *lines[] = {&body, &top, &bottom, &other, &after, &second_page, &arabic_line};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        free_line(lines[i]);

    /* Uncompressed: the form's content as written, Tf, colour and Tc of its
     * own; a page of another size makes another form (its /BBox). */
    {
        bl_pdf_info plain = {.compress = 0};
        pdf = bl_pdf_new(&plain);
        dev = bl_pdf_device(pdf);
        line t = shape(hebrew, "שמור", 1, "he", 100, 150, 10);
        memcpy(t.run.rgb, red, sizeof red);
        double sizes[3][2] = {{300, 200}, {300, 200}, {400, 200}};
        for (int i = 0; i < 3; i++)
            CHECK(dev->begin_page(dev, sizes[i][0], sizes[i][1]) == 0 && dev->group_begin(dev) == 0 &&
                      dev->glyph_run(dev, &t.run) == 0 && dev->group_end(dev) == 0 && dev->end_page(dev) == 0,
                  "uncompressed group page %d: %s", i + 1, dev->error(dev));
        char plainpath[600];
        snprintf(plainpath, sizeof plainpath, "%s/groups-plain.pdf", dir);
        CHECK(bl_pdf_save(pdf, plainpath) == 0, "save: %s", bl_pdf_error(pdf));
        bl_pdf_free(pdf);
        free_line(&t);
        bl_buf raw = {0};
        slurp(plainpath, &raw);
        CHECK(count_in(raw.data, raw.len, "/Subtype /Form") == 2 && count_in(raw.data, raw.len, "/X1 Do") == 3,
              "uncompressed: 2 forms (two page sizes), shown 3 times");
        CHECK(count_in(raw.data, raw.len, "BT\n0.7 0 0 rg\n/F1 10 Tf\n100 150 Td 0 Tc[") == 2,
              "each form sets its colour, font and Tc (0) itself");
        bl_buf_free(&raw);
        if (access(PDFCHECK, R_OK) == 0) {
            snprintf(cmd, sizeof cmd, "sh %s %s 2>&1", PDFCHECK, plainpath);
            int rc = bl_test_run(cmd, &out);
            CHECK(rc == 0, "pdfcheck %s rc=%d:\n%s", plainpath, rc, out.data);
        }
    }

    /* Misuse: an error with a message, the document still usable
     * (uncompressed, to count text objects below). */
    bl_pdf_info plain = {.compress = 0};
    pdf = bl_pdf_new(&plain);
    dev = bl_pdf_device(pdf);
    CHECK(dev->group_begin(dev) == -1 && strstr(dev->error(dev), "no page"), "group before a page: %s",
          dev->error(dev));
    CHECK(dev->begin_page(dev, 300, 200) == 0 && dev->group_begin(dev) == 0, "begin: %s", dev->error(dev));
    CHECK(dev->group_begin(dev) == -1 && strstr(dev->error(dev), "nest"), "nested group: %s", dev->error(dev));
    CHECK(dev->group_end(dev) == 0, "the open group ends: %s", dev->error(dev));
    CHECK(dev->group_end(dev) == -1 && strstr(dev->error(dev), "no group"), "group_end without a group: %s",
          dev->error(dev));
    /* A group dropped by end_page in the middle of its text: the page
     * goes on, with the group's drawing gone and valid content. */
    line kept = shape(latin, "Kept", 0, "en", 20, 150, 12), lost = shape(latin, "Lost", 0, "en", 20, 100, 12);
    CHECK(dev->glyph_run(dev, &kept.run) == 0 && dev->group_begin(dev) == 0 &&
              dev->rule(dev, 10, 10, 100, 10, 1, NULL) == 0 && dev->glyph_run(dev, &lost.run) == 0,
          "group: %s", dev->error(dev));
    CHECK(dev->end_page(dev) == -1 && strstr(dev->error(dev), "group"), "end_page with a group open: %s",
          dev->error(dev));
    CHECK(dev->end_page(dev) == 0, "the page ends after that: %s", dev->error(dev));
    char dropped[600];
    snprintf(dropped, sizeof dropped, "%s/group-dropped.pdf", dir);
    CHECK(bl_pdf_save(pdf, dropped) == 0, "save after a dropped group: %s", bl_pdf_error(pdf));
    if (access(PDFCHECK, R_OK) == 0) {
        snprintf(cmd, sizeof cmd, "sh %s %s 2>&1", PDFCHECK, dropped);
        int rc = bl_test_run(cmd, &out);
        CHECK(rc == 0, "pdfcheck %s rc=%d:\n%s", dropped, rc, out.data);
    }
    bl_buf raw = {0};
    slurp(dropped, &raw);
    size_t bt = count_in(raw.data, raw.len, "BT\n"), et = count_in(raw.data, raw.len, "ET\n");
    CHECK(bt == 1 && et == 1, "one text object, ended once (BT %zu, ET %zu)", bt, et);
    bl_buf_free(&raw);
    snprintf(cmd, sizeof cmd, "pdftotext -enc UTF-8 %s - 2>&1", dropped);
    bl_test_run(cmd, &out);
    CHECK(strstr(out.data, "Kept") && !strstr(out.data, "Lost"), "the dropped group's text is gone:\n%s", out.data);
    free_line(&kept);
    free_line(&lost);
    CHECK(dev->begin_page(dev, 300, 200) == 0 && dev->group_begin(dev) == 0 &&
              dev->rule(dev, 10, 10, 100, 10, 1, NULL) == 0,
          "a group left open: %s", dev->error(dev));
    bl_pdf_free(pdf); /* with the group open: nothing leaks (ASan) */
    bl_buf_free(&out);
}

static void check_fmt(double v, int dec, const char *want)
{
    char buf[32];
    *bl_pdf_fmt(buf, v, dec) = 0;
    CHECK(!strcmp(buf, want), "bl_pdf_fmt(%.17g, %d) = '%s', want '%s'", v, dec, buf, want);
    CHECK(bl_pdf_round(v, dec) == strtod(buf, NULL), "bl_pdf_round(%.17g, %d) equals the text", v, dec);
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

    bl_face *latin = open_face("fonts/NotoSerif-Regular.ttf");
    bl_face *hebrew = open_face("fonts/NotoSerifHebrew-Regular.ttf");
    bl_face *arabic = open_face("fonts/NotoNaskhArabic-Regular.ttf");

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
        check_font_program(latin, lg, sizeof lg / sizeof lg[0]);
        unsigned hg[] = {bl_face_glyph(hebrew, 0x05D1), bl_face_glyph(hebrew, 0x05BC), bl_face_glyph(hebrew, 0xFB31)};
        check_font_program(hebrew, hg, sizeof hg / sizeof hg[0]);
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
    if (access(PDFCHECK, R_OK) == 0) {
        snprintf(cmd, sizeof cmd, "sh %s %s 2>&1", PDFCHECK, path);
        int rc = bl_test_run(cmd, &out);
        CHECK(rc == 0, "pdfcheck rc=%d:\n%s", rc, out.data);
    } else
        CHECK(0, "%s not found (run from the repository root)", PDFCHECK);

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
    if (has_tool("mutool")) {
        snprintf(cmd, sizeof cmd, "mutool trace %s 2>/dev/null", path);
        CHECK(bl_test_run(cmd, &out) == 0, "mutool trace runs");
        traced *tr;
        size_t nt = parse_trace(out.data, &tr);
        CHECK(nt == nall, "traced %zu glyphs, drew %zu", nt, nall);
        double maxerr = 0;
        size_t bad_gid = 0;
        for (size_t i = 0; i < nt && i < nall; i++) {
            /* mutool 1.21 reports user space (the page transform is on
             * the enclosing <fill_text>). */
            maxerr = fmax(maxerr, traced_error(tr, nt, i, all[i].x, all[i].y));
            if (tr[i].gid != all[i].gid)
                bad_gid++;
        }
        printf("max position error (mutool trace): %.6f pt over %zu glyphs\n", maxerr, nt);
        /* The readers' tolerance is 0.01 pt; the writer aims at a third of
         * that (TJ rounding within 0.001 pt, MuPDF's float arithmetic). */
        CHECK(maxerr < 0.003, "max position error %.6f pt", maxerr);
        CHECK(bad_gid == 0, "%zu glyph ids differ", bad_gid);
        /* The nbsp run: glyph ids equal, texts differ.  Find it by position. */
        const traced *nbt = NULL;
        for (size_t i = 0; i + 5 < nt; i++)
            if (fabs(tr[i].x - 72) < 0.01 && fabs(tr[i].y - 540) < 0.01) {
                nbt = &tr[i];
                break;
            }
        CHECK(nbt != NULL, "nbsp run found in the trace");
        if (nbt) {
            CHECK(nbt[1].gid == sp && nbt[3].gid == sp && nbt[5].gid == sp, "space glyph drawn for all three");
            CHECK(!strcmp(nbt[1].uni, " "), "U+0020 maps to a space (got '%s')", nbt[1].uni);
            /* mutool prints U+00A0 as a character reference or raw UTF-8 */
            CHECK(!strcmp(nbt[3].uni, "\xC2\xA0") || !strcasecmp(nbt[3].uni, "&#xa0;") ||
                      !strcasecmp(nbt[3].uni, "&#160;"),
                  "U+00A0 maps to no-break space (got '%s')", nbt[3].uni);
        }
        free(tr);
    } else
        printf("SKIP mutool trace: mutool not installed\n");

    /* 4. The encodings, ToUnicode and CIDToGIDMaps, read by qpdf (the
     * Identity-H side: test-pdf-encoding.c). */
    if (has_tool("qpdf")) {
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
    if (has_tool("mutool")) {
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
        slurp(path, &raw);
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
    if (access(PDFCHECK, R_OK) == 0) {
        snprintf(cmd, sizeof cmd, "sh %s %s 2>&1", PDFCHECK, path3);
        int rc = bl_test_run(cmd, &out);
        CHECK(rc == 0, "pdfcheck (uncompressed) rc=%d:\n%s", rc, out.data);
    }
    /* The content stream as written ("stream", an end of line, the data, LF
     * "endstream"): literal strings that give back every glyph id, Td and
     * no Tm, and TJ adjustments only where they move a glyph by more than
     * the rounding allowance, as integers here (hb-shape's positions at
     * 14 pt are whole thousandths of the font size). */
    {
        FILE *fp = fopen(path3, "rb");
        bl_buf pdfdata = {0};
        char chunk[4096];
        size_t got;
        while (fp && (got = fread(chunk, 1, sizeof chunk, fp)) > 0)
            bl_buf_append(&pdfdata, chunk, got);
        if (fp)
            fclose(fp);
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
            pr_load_fonts(&pdfdata, &fs);
            read_content(cs, (size_t)(ce - cs), &fs, &st);
            pr_free_fonts(&fs);
            size_t want_n = u.n + kern.n + NESC;
            int same = st.ncodes == want_n;
            for (size_t i = 0; same && i < want_n; i++) {
                unsigned gid = i < u.n ? u.g[i].gid : i < u.n + kern.n ? kern.g[i - u.n].gid : esc_gids[i - u.n - kern.n];
                same = st.codes[i] == gid;
            }
            CHECK(!st.bad && same, "literal strings decode to the glyph ids drawn (%zu codes, %zu drawn)", st.ncodes,
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
    if (has_tool("mutool")) {
        snprintf(cmd, sizeof cmd, "mutool trace %s 2>/dev/null", path3);
        CHECK(bl_test_run(cmd, &out) == 0, "mutool trace (uncompressed) runs");
        traced *tr;
        size_t nt = parse_trace(out.data, &tr);
        size_t want_n = u.n + kern.n + NESC;
        double maxerr = 0;
        for (size_t i = 0; i < nt && i < want_n; i++) {
            const bl_glyph *gl = i < u.n ? &u.g[i] : i < u.n + kern.n ? &kern.g[i - u.n] : &escg[i - u.n - kern.n];
            maxerr = fmax(maxerr, traced_error(tr, nt, i, gl->x, gl->y));
            CHECK(tr[i].gid == gl->gid, "uncompressed glyph %zu: id %u, drew %u", i, tr[i].gid, gl->gid);
        }
        CHECK(nt == want_n && maxerr < 0.003, "uncompressed: %zu glyphs traced of %zu, max error %.5f pt", nt, want_n,
              maxerr);
        free(tr);
    }
    free_line(&u);
    free_line(&kern);
    bl_pdf_free(p2pdf);

    /* 8. Letter spacing (Tc) and runs that go on from the pen. */
    check_letter_spacing(latin, hebrew, dir);

    /* 9. Page sizes. */
    check_page_sizes(latin, dir);

    /* 10. Groups as Form XObjects. */
    check_groups(latin, hebrew, arabic, dir);

    /* 11. A document without pages is an error. */
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
