/* pdfread.h - test helper: what an uncompressed PDF of ours says about its
 * fonts, read from the file and not from the writer: each font resource's
 * encoding (Identity-H, or the cidchar and cidrange entries of an embedded
 * CMap with its codespace) and CIDToGIDMap, so that a content-stream reader
 * can cut strings into codes and turn codes into glyph ids.  Only what our
 * writer produces is understood (objects as "N 0 obj", streams as
 * "stream" CR LF data LF "endstream", no filters).  And what `mutool
 * trace` says each glyph is and where.  And, from any PDF (through qpdf),
 * the embedded font programs, to tell whether a glyph of the PDF draws a
 * given glyph of a source font: subset fonts may renumber their glyphs. */
#ifndef BL_PDFREAD_H
#define BL_PDFREAD_H
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hb.h>

#include "base.h"
#include "harness.h"
#include "testutil.h"

typedef struct pr_font {
    char name[16];   /* resource name, "F1" */
    char base[64];   /* the font's /BaseFont, "ABCDEF+NotoSerif-Regular" */
    int identity;    /* Identity-H: 2-byte codes */
    int ranges[4][3]; /* compact: codespace ranges (bytes, low, high) */
    int nranges;
    uint32_t *gid;   /* by code value (< 0x10000): 1 + glyph id, 0 = none */
} pr_font;

typedef struct pr_fonts {
    pr_font f[16];
    size_t n;
} pr_fonts;

/* How many times needle occurs in the len bytes at hay (NULs included). */
static inline size_t count_in(const char *hay, size_t len, const char *needle)
{
    size_t n = 0, k = strlen(needle);
    for (size_t i = 0; hay && k && i + k <= len; i++)
        n += !memcmp(hay + i, needle, k);
    return n;
}

/* The first needle in [hay, end), or NULL. */
static inline const char *find_bytes(const char *hay, const char *end, const char *needle)
{
    size_t k = strlen(needle);
    for (const char *q = hay; q && q + k <= end; q++)
        if (!memcmp(q, needle, k))
            return q;
    return NULL;
}

/* The text of object num ("num 0 obj" up to "endobj"), or NULL. */
static inline const char *pr_object(const bl_buf *pdf, unsigned num, size_t *len)
{
    char key[32];
    int k = snprintf(key, sizeof key, "\n%u 0 obj", num);
    const char *end = pdf->data + pdf->len;
    for (const char *q = pdf->data; q + k < end; q++) {
        if (memcmp(q, key, (size_t)k) || (q[k] != '\n' && q[k] != '\r'))
            continue;
        const char *e = q + k;
        while (e + 6 <= end && memcmp(e, "endobj", 6))
            e++;
        *len = (size_t)(e - (q + 1));
        return q + 1;
    }
    return NULL;
}

/* The number n in "KEY n 0 R" inside the object text, or 0. */
static inline unsigned pr_ref(const char *obj, size_t len, const char *key)
{
    size_t k = strlen(key);
    for (size_t i = 0; i + k < len; i++)
        if (!memcmp(obj + i, key, k)) {
            const char *p = obj + i + k;
            while (*p == ' ' || *p == '[')
                p++;
            char *after;
            unsigned long v = strtoul(p, &after, 10);
            return after != p && !strncmp(after, " 0 R", 4) ? (unsigned)v : 0;
        }
    return 0;
}

/* An object's stream data, or NULL. */
static inline const char *pr_stream(const char *obj, size_t len, size_t *dlen)
{
    for (size_t i = 0; i + 8 < len; i++)
        if (!memcmp(obj + i, "stream\r\n", 8)) {
            const char *s = obj + i + 8, *e = obj + len;
            while (e > s && memcmp(e - 10, "\nendstream", 10))
                e--;
            *dlen = e > s ? (size_t)(e - 10 - s) : 0;
            return s;
        }
    return NULL;
}

/* "<hex>" at *p: its value and byte count; advances *p. */
static inline int pr_hex(const char **p, const char *end, unsigned *v)
{
    const char *q = *p;
    while (q < end && *q != '<')
        q++;
    if (q >= end)
        return 0;
    char *after;
    *v = (unsigned)strtoul(q + 1, &after, 16);
    *p = after + 1;
    return (int)(after - (q + 1)) / 2;
}

/* Reads the fonts of the document's /Font resource dictionary. */
static inline void pr_load_fonts(const bl_buf *pdf, pr_fonts *fs)
{
    memset(fs, 0, sizeof *fs);
    unsigned dict = 0;
    for (size_t i = 0; i + 6 < pdf->len && !dict; i++)
        if (!memcmp(pdf->data + i, "/Font ", 6))
            dict = pr_ref(pdf->data + i, pdf->len - i, "/Font ");
    size_t dlen;
    const char *d = dict ? pr_object(pdf, dict, &dlen) : NULL;
    for (size_t i = 0; d && i < dlen && fs->n < 16; i++) {
        if (d[i] != '/' || d[i + 1] != 'F')
            continue;
        pr_font *f = &fs->f[fs->n];
        size_t k = 0;
        while (i + 1 + k < dlen && d[i + 1 + k] != ' ' && k + 1 < sizeof f->name) {
            f->name[k] = d[i + 1 + k];
            k++;
        }
        unsigned num = pr_ref(d + i, dlen - i, f->name);
        size_t tl, cl, el, ml;
        const char *t0 = num ? pr_object(pdf, num, &tl) : NULL;
        if (!t0)
            continue;
        f->gid = calloc(0x10000, sizeof *f->gid);
        for (size_t b = 0; b + 11 < tl; b++)
            if (!memcmp(t0 + b, "/BaseFont /", 11)) {
                size_t m = 0;
                while (b + 11 + m < tl && !strchr(" \r\n/<>[]", t0[b + 11 + m]) && m + 1 < sizeof f->base)
                    m++;
                memcpy(f->base, t0 + b + 11, m);
                f->base[m] = 0;
                break;
            }
        const char *cid = pr_object(pdf, pr_ref(t0, tl, "/DescendantFonts"), &cl);
        unsigned mapnum = cid ? pr_ref(cid, cl, "/CIDToGIDMap ") : 0;
        const char *map = mapnum ? pr_object(pdf, mapnum, &ml) : NULL;
        size_t mlen = 0;
        const unsigned char *m = map ? (const unsigned char *)pr_stream(map, ml, &mlen) : NULL;
        /* CID -> glyph id: the map's 2 bytes per CID, else the identity */
#define PR_GID(c) (m ? ((size_t)(c) * 2 + 1 < mlen ? (uint32_t)m[2 * (c)] << 8 | m[2 * (c) + 1] : 0) : (uint32_t)(c))
        unsigned encnum = pr_ref(t0, tl, "/Encoding ");
        const char *enc = encnum ? pr_object(pdf, encnum, &el) : NULL;
        if (!enc) {
            f->identity = 1;
            for (unsigned c = 0; c < 0x10000; c++)
                f->gid[c] = 1 + PR_GID(c);
        } else {
            size_t sl;
            const char *s = pr_stream(enc, el, &sl), *e = s ? s + sl : NULL;
            const char *cs = s ? strstr(s, "begincodespacerange") : NULL;
            for (const char *p = cs; p && p < e; ) {
                const char *stop = strstr(p, "endcodespacerange");
                unsigned lo, hi;
                int n = pr_hex(&p, stop, &lo);
                if (!n || !pr_hex(&p, stop, &hi) || f->nranges == 4)
                    break;
                f->ranges[f->nranges][0] = n;
                f->ranges[f->nranges][1] = (int)lo;
                f->ranges[f->nranges][2] = (int)hi;
                f->nranges++;
            }
            for (const char *p = s; p && (p = strstr(p, "begincidchar")) != NULL && p < e;) {
                const char *stop = strstr(p, "endcidchar");
                unsigned c;
                while (stop && pr_hex(&p, stop, &c)) {
                    char *after;
                    unsigned v = (unsigned)strtoul(p, &after, 10);
                    p = after;
                    if (c < 0x10000)
                        f->gid[c] = 1 + PR_GID(v);
                }
                p = stop;
            }
            for (const char *p = s; p && (p = strstr(p, "begincidrange")) != NULL && p < e;) {
                const char *stop = strstr(p, "endcidrange");
                unsigned lo, hi;
                while (stop && pr_hex(&p, stop, &lo) && pr_hex(&p, stop, &hi)) {
                    char *after;
                    unsigned v = (unsigned)strtoul(p, &after, 10);
                    p = after;
                    for (unsigned c = lo; c <= hi && c < 0x10000; c++)
                        f->gid[c] = 1 + PR_GID(v + (c - lo));
                }
                p = stop;
            }
        }
#undef PR_GID
        fs->n++;
    }
}

/* ---- what glyphs draw -------------------------------------------------- */

/* A glyph's outline as text (HarfBuzz's drawing of it, in font units), for
 * comparing two fonts' glyphs. */
static inline void pr_rec(void *b, const char *op, int n, const float *v)
{
    bl_buf_printf(b, "%s", op);
    for (int i = 0; i < n; i++)
        bl_buf_printf(b, " %g", (double)v[i]);
    bl_buf_puts(b, ";");
}
static inline void pr_move(hb_draw_funcs_t *df, void *b, hb_draw_state_t *st, float x, float y, void *u)
{
    (void)df, (void)st, (void)u;
    pr_rec(b, "M", 2, (float[]){x, y});
}
static inline void pr_line(hb_draw_funcs_t *df, void *b, hb_draw_state_t *st, float x, float y, void *u)
{
    (void)df, (void)st, (void)u;
    pr_rec(b, "L", 2, (float[]){x, y});
}
static inline void pr_quad(hb_draw_funcs_t *df, void *b, hb_draw_state_t *st, float cx, float cy, float x, float y,
                           void *u)
{
    (void)df, (void)st, (void)u;
    pr_rec(b, "Q", 4, (float[]){cx, cy, x, y});
}
static inline void pr_cubic(hb_draw_funcs_t *df, void *b, hb_draw_state_t *st, float c1x, float c1y, float c2x,
                            float c2y, float x, float y, void *u)
{
    (void)df, (void)st, (void)u;
    pr_rec(b, "C", 6, (float[]){c1x, c1y, c2x, c2y, x, y});
}
static inline void pr_close(hb_draw_funcs_t *df, void *b, hb_draw_state_t *st, void *u)
{
    (void)df, (void)st, (void)u;
    pr_rec(b, "Z", 0, NULL);
}
static inline void pr_outline(hb_font_t *font, unsigned gid, bl_buf *out)
{
    hb_draw_funcs_t *df = hb_draw_funcs_create();
    hb_draw_funcs_set_move_to_func(df, pr_move, NULL, NULL);
    hb_draw_funcs_set_line_to_func(df, pr_line, NULL, NULL);
    hb_draw_funcs_set_quadratic_to_func(df, pr_quad, NULL, NULL);
    hb_draw_funcs_set_cubic_to_func(df, pr_cubic, NULL, NULL);
    hb_draw_funcs_set_close_path_func(df, pr_close, NULL, NULL);
    out->len = 0;
    hb_font_get_glyph_shape(font, gid, df, out);
    bl_buf_append(out, "", 0);
    hb_draw_funcs_destroy(df);
}

/* Whether glyph ga of font a and glyph gb of font b draw the same: equal
 * outlines and advances (glyphs of both fonts' ranges). */
static inline int pr_same_glyph(hb_font_t *a, unsigned ga, hb_font_t *b, unsigned gb)
{
    if (!a || !b || ga >= hb_face_get_glyph_count(hb_font_get_face(a)) ||
        gb >= hb_face_get_glyph_count(hb_font_get_face(b)))
        return 0;
    bl_buf x = {0}, y = {0};
    pr_outline(a, ga, &x);
    pr_outline(b, gb, &y);
    int same = x.data && y.data && !strcmp(x.data, y.data) &&
               hb_font_get_glyph_h_advance(a, ga) == hb_font_get_glyph_h_advance(b, gb);
    bl_buf_free(&x);
    bl_buf_free(&y);
    return same;
}

/* The font programs (FontFile2) embedded in a PDF, by /BaseFont. */
typedef struct pr_programs {
    struct {
        char name[64];
        hb_font_t *font;
    } p[32];
    size_t n;
} pr_programs;

/* Reads the programs of the PDF at path (any PDF: qpdf decompresses it
 * into QDF first).  Returns how many. */
static inline size_t pr_programs_load(const char *path, pr_programs *pp)
{
    memset(pp, 0, sizeof *pp);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "qpdf --qdf --object-streams=disable '%s' - 2>/dev/null", path);
    bl_buf q = {0};
    int rc = bl_test_run(cmd, &q);
    if (rc != 0 && rc != 3) /* 3: warnings */
        q.len = 0;
    static const char key[] = "/Subtype /CIDFontType2";
    for (const char *c = q.data; c && pp->n < 32 && (c = find_bytes(c + 1, q.data + q.len, key)) != NULL;) {
        const char *o = c; /* the object around it: back to "N 0 obj" */
        while (o > q.data && memcmp(o, " 0 obj", 6))
            o--;
        while (o > q.data && o[-1] != '\n')
            o--;
        size_t ol, dl, fl, ll;
        const char *obj = pr_object(&q, (unsigned)strtoul(o, NULL, 10), &ol);
        const char *bf = obj ? find_bytes(obj, obj + ol, "/BaseFont /") : NULL;
        const char *desc = obj ? pr_object(&q, pr_ref(obj, ol, "/FontDescriptor "), &dl) : NULL;
        const char *file = desc ? pr_object(&q, pr_ref(desc, dl, "/FontFile2 "), &fl) : NULL;
        const char *st = file ? find_bytes(file, file + fl, "stream\n") : NULL;
        unsigned lref = file ? pr_ref(file, fl, "/Length ") : 0;
        const char *lo = lref ? pr_object(&q, lref, &ll) : NULL;
        const char *lv = lo ? strchr(lo, '\n') : NULL;
        if (file && !lref && (lv = find_bytes(file, file + fl, "/Length ")) != NULL)
            lv += 7;
        if (!bf || !st || !lv)
            continue;
        size_t len = strtoul(lv, NULL, 10), m = 0;
        st += 7;
        if (len > (size_t)(q.data + q.len - st))
            continue;
        bf += 11;
        while (!strchr(" \r\n/<>[]", bf[m]) && m + 1 < sizeof pp->p[0].name)
            m++;
        memcpy(pp->p[pp->n].name, bf, m);
        pp->p[pp->n].name[m] = 0;
        hb_blob_t *blob = hb_blob_create(st, (unsigned)len, HB_MEMORY_MODE_DUPLICATE, NULL, NULL);
        hb_face_t *face = hb_face_create(blob, 0);
        pp->p[pp->n++].font = hb_font_create(face);
        hb_face_destroy(face);
        hb_blob_destroy(blob);
    }
    bl_buf_free(&q);
    return pp->n;
}

/* The program of the font named name ("ABCDEF+NotoSerif-Regular"), or NULL. */
static inline hb_font_t *pr_program(const pr_programs *pp, const char *name)
{
    for (size_t i = 0; i < pp->n; i++)
        if (!strcmp(pp->p[i].name, name))
            return pp->p[i].font;
    return NULL;
}

static inline void pr_programs_free(pr_programs *pp)
{
    for (size_t i = 0; i < pp->n; i++)
        hb_font_destroy(pp->p[i].font);
    pp->n = 0;
}

/* Whether the glyph a PDF's font named name draws as glyph id gid (the
 * program's, as mutool and the CIDToGIDMap give it) is glyph src_gid of the
 * source font src. */
static inline int pr_draws(const pr_programs *pp, const char *name, unsigned gid, hb_font_t *src, unsigned src_gid)
{
    return pr_same_glyph(pr_program(pp, name), gid, src, src_gid);
}

static inline const pr_font *pr_font_named(const pr_fonts *fs, const char *name)
{
    for (size_t i = 0; i < fs->n; i++)
        if (!strcmp(fs->f[i].name, name))
            return &fs->f[i];
    return NULL;
}

/* The code at s[0, n) in font f (the shortest prefix in a codespace range,
 * PDF 32000-1 9.7.6.2): returns its length in bytes (0: none), sets *gid
 * (-1 when the code maps to nothing) and *space (the one-byte code 32,
 * which word spacing applies to). */
static inline size_t pr_decode(const pr_font *f, const unsigned char *s, size_t n, long *gid, int *space)
{
    *space = 0;
    for (int k = 1; k <= 2 && (size_t)k <= n; k++) {
        unsigned v = k == 1 ? s[0] : (unsigned)s[0] << 8 | s[1];
        int ok = f->identity ? k == 2 : 0;
        for (int r = 0; r < f->nranges && !ok; r++)
            ok = f->ranges[r][0] == k && (int)v >= f->ranges[r][1] && (int)v <= f->ranges[r][2];
        if (ok) {
            *gid = f->gid[v] ? (long)f->gid[v] - 1 : -1;
            *space = k == 1 && v == 32;
            return (size_t)k;
        }
    }
    return 0;
}

static inline void pr_free_fonts(pr_fonts *fs)
{
    for (size_t i = 0; i < fs->n; i++)
        free(fs->f[i].gid);
}

/* ---- content streams ------------------------------------------------------ */

/* One token of an uncompressed content stream (PDF 32000-1 7.2, 7.3). */
enum { PR_END, PR_STRING, PR_HEX, PR_OPEN, PR_CLOSE, PR_NAME, PR_NUMBER, PR_OP };
typedef struct pr_tok {
    int kind;
    unsigned char bytes[1024]; /* PR_STRING: its bytes, escapes undone (the first 1024) */
    size_t nbytes;
    int bad;                   /* PR_STRING: unbalanced, or a raw end of line inside */
    double num;                /* PR_NUMBER */
    const char *text;          /* PR_NAME (without '/') and PR_OP */
    size_t len;
} pr_tok;

/* The token at s[*pos, n), *pos moved past it; PR_END at the end.  Hex
 * strings are skipped (our writer writes none: a reader counts them). */
static inline int pr_next(const char *s, size_t n, size_t *pos, pr_tok *t)
{
    static const char delim[] = " \t\n\r/[]()<>";
    size_t i = *pos;
    while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
        i++;
    if (i >= n) {
        *pos = i;
        return t->kind = PR_END;
    }
    unsigned char c = (unsigned char)s[i];
    if (c == '(') {
        int depth = 1;
        t->nbytes = 0;
        t->bad = 0;
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
                t->bad = 1; /* raw ends of line are what the escapes avoid */
            if (t->nbytes < sizeof t->bytes)
                t->bytes[t->nbytes++] = e;
        }
        t->bad |= depth != 0;
        t->kind = PR_STRING;
    } else if (c == '<') {
        while (i < n && s[i] != '>')
            i++;
        i++;
        t->kind = PR_HEX;
    } else if (c == '[' || c == ']') {
        i++;
        t->kind = c == '[' ? PR_OPEN : PR_CLOSE;
    } else if (c == '-' || c == '.' || (c >= '0' && c <= '9')) {
        char *end;
        t->num = strtod(s + i, &end);
        i = (size_t)(end - s);
        t->kind = PR_NUMBER;
    } else {
        size_t b = c == '/' ? i + 1 : i;
        for (i = b; i < n && !strchr(delim, s[i]); i++)
            ;
        if (i == b && c != '/')
            i++;
        t->text = s + b;
        t->len = i - b;
        t->kind = c == '/' ? PR_NAME : PR_OP;
    }
    *pos = i;
    return t->kind;
}

/* Whether token t is the operator op. */
static inline int pr_is_op(const pr_tok *t, const char *op)
{
    return t->kind == PR_OP && t->len == strlen(op) && !memcmp(t->text, op, t->len);
}

/* ---- what other readers make of a PDF ---------------------------------- */

/* Whether the reader name is installed.  The tests need it (tools/setup.sh
 * installs it): one missing is a failure, not a skipped check. */
static inline int need_tool(const char *name)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", name);
    int ok = system(cmd) == 0;
    CHECK(ok, "%s is installed (tools/install-deps.sh installs it)", name);
    return ok;
}

/* The value of attribute name="..." in the tag starting at s (before end). */
static inline int attr(const char *s, const char *end, const char *name, char *val, size_t vlen)
{
    char key[32];
    snprintf(key, sizeof key, " %s=\"", name);
    const char *a = strstr(s, key);
    if (!a || a > end)
        return 0;
    a += strlen(key);
    const char *q = strchr(a, '"');
    if (!q || q > end || (size_t)(q - a) >= vlen)
        return 0;
    memcpy(val, a, (size_t)(q - a));
    val[q - a] = 0;
    return 1;
}

typedef struct traced {
    unsigned gid;
    double x, y;
    char uni[32];
    char font[64];  /* of the enclosing <span> */
    double rgb[3];  /* of the enclosing <fill_text> */
} traced;

/* Parses <g unicode="..." glyph="N" x="..." y="..."/> from mutool trace,
 * with the font and colour of the text they are in. */
static inline size_t parse_trace(const char *t, traced **out)
{
    size_t n = 0, cap = 0;
    *out = NULL;
    char font[64] = "";
    double rgb[3] = {0, 0, 0};
    for (const char *s = strchr(t, '<'); s; s = strchr(s + 1, '<')) {
        const char *end = strchr(s, '>');
        if (!end)
            break;
        char v[64];
        if (!strncmp(s, "<fill_text ", 11) && attr(s, end, "color", v, sizeof v)) {
            char *q = v;
            for (int k = 0; k < 3; k++)
                rgb[k] = strtod(q, &q);
        } else if (!strncmp(s, "<span ", 6) && !attr(s, end, "font", font, sizeof font))
            font[0] = 0;
        if (strncmp(s, "<g ", 3))
            continue;
        traced tr;
        memset(&tr, 0, sizeof tr);
        memcpy(tr.font, font, sizeof font);
        memcpy(tr.rgb, rgb, sizeof rgb);
        if (!attr(s, end, "glyph", v, sizeof v))
            continue;
        tr.gid = (unsigned)strtoul(v, NULL, 10);
        if (attr(s, end, "x", v, sizeof v))
            tr.x = strtod(v, NULL);
        if (attr(s, end, "y", v, sizeof v))
            tr.y = strtod(v, NULL);
        attr(s, end, "unicode", tr.uni, sizeof tr.uni);
        if (bl_grow(out, &cap, n + 1, sizeof **out))
            abort();
        (*out)[n++] = tr;
    }
    return n;
}

/* How far glyph i of a read-back list (x[], y[] of n glyphs, stride
 * apart) is from where it was drawn (wx, wy).  A space (is_space) with a
 * glyph on either side on its baseline is drawn where the pen puts it
 * (pdf.c moves its adjustment into the gap after it, which word spacing
 * then takes): it only has to lie between them. */
static inline double read_back_error(const double *x, const double *y, size_t stride, size_t n, size_t i, int is_space,
                              double wx, double wy)
{
#define AT(a, k) (*(const double *)((const char *)(a) + (k) * stride))
    if (is_space && i > 0 && i + 1 < n && AT(y, i - 1) == AT(y, i) && AT(y, i + 1) == AT(y, i) &&
        AT(x, i - 1) <= AT(x, i) + 0.003 && AT(x, i) <= AT(x, i + 1) + 0.003)
        return fabs(AT(y, i) - wy);
    return fmax(fabs(AT(x, i) - wx), fabs(AT(y, i) - wy));
#undef AT
}

static inline double traced_error(const traced *tr, size_t nt, size_t i, double wx, double wy)
{
    return read_back_error(&tr[0].x, &tr[0].y, sizeof *tr, nt, i, !strcmp(tr[i].uni, " "), wx, wy);
}

#endif
