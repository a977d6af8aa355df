/* pdftest.h - what the PDF writer's test programs (test-pdf.c,
 * test-pdf-layout.c) share: shaping a line with HarfBuzz into a glyph run,
 * drawing it while keeping a list of what was drawn, justifying it the way
 * the layout does, and small readers of files and of qpdf's QDF text. */
#ifndef BL_PDFTEST_H
#define BL_PDFTEST_H
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hb.h>

#include "base.h"
#include "harness.h"
#include "pdf.h"
#include "pdfread.h"
#include "testutil.h"
#include "text-font.h"

#define PAGE_W 595.0
#define PAGE_H 842.0

/* Everything drawn, in drawing order, to compare with mutool trace. */
typedef struct drawn {
    unsigned gid;
    double x, y;
    int space;       /* read back as the one-byte code 32 (replay_page) */
    hb_font_t *font; /* the source font's (the face's), borrowed */
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

static inline size_t cluster_end(const hb_glyph_info_t *info, unsigned n, unsigned cluster, size_t textlen)
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
static inline line shape(bl_face *face, const char *text, int rtl, const char *lang, double x, double y, double size)
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

static inline int draw(bl_device *dev, const bl_glyph_run *run)
{
    int rc = dev->glyph_run(dev, run);
    if (rc == 0)
        for (size_t i = 0; i < run->n; i++) {
            if (bl_grow(&all, &capall, nall + 1, sizeof *all))
                abort();
            all[nall++] = (drawn){run->glyphs[i].gid, run->glyphs[i].x, run->glyphs[i].y, 0, run->face->hb_font};
        }
    return rc;
}


static inline long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) ? -1 : (long)st.st_size;
}

static inline int count_temps(const char *dir)
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

static inline bl_face *open_face(const char *path)
{
    char err[256];
    bl_face *f = bl_face_open(path, err, sizeof err);
    CHECK(f != NULL, "open %s: %s", path, err);
    if (!f)
        exit(bl_test_done());
    return f;
}

static inline void free_line(line *L)
{
    free(L->g);
    free(L->cluster);
}


/* The objects that "KEY N 0 R" refers to in the NUL-terminated buffer b
 * (qpdf's QDF text, NULs inside), in order: returns how many there are,
 * the first max in objs. */
static inline size_t refs_to(const bl_buf *b, const char *key, unsigned *objs, size_t max)
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
static inline void justify(line *L, double letter, double space)
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


/* The object of page n (its "%% Page n" comment to endobj) in qpdf's QDF
 * text, NUL-terminated in page (empty when there is none), followed by
 * its /Resources dictionary when that is an object of its own (pages with
 * the same resources share one). */
static inline void qdf_page(const bl_buf *qdf, int n, bl_buf *page)
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
static inline void want_run(drawn **w, size_t *n, size_t *cap, const line *L)
{
    for (size_t i = 0; i < L->n; i++) {
        if (bl_grow(w, cap, *n + 1, sizeof **w))
            abort();
        (*w)[(*n)++] = (drawn){L->g[i].gid, L->g[i].x, L->g[i].y, 0, L->run.face->hb_font};
    }
}

#endif
