/* floor.c - what the libraries alone need for a bulletin's text:
 *
 *     bench/floor [-w WARMUP] [-n RUNS] [-p PAGES] [-c BYTES] LATIN.ttf HEBREW.ttf SOURCE...
 *
 * Each run, timed in-process: open the two fonts with HarfBuzz, read the
 * sources, shape all of their text (front-matter values and body lines;
 * Hebrew runs with HEBREW.ttf right to left, everything else with LATIN.ttf),
 * write a PDF-like content stream from the glyphs (a Tm per line of 55
 * glyphs, four hex digits per glyph, a TJ adjustment after each space, as a
 * justified page has), and deflate it page by page with libdeflate at
 * level 6, as bulletin does (BL_PDF_DEFLATE_LEVEL).  With -c BYTES the content is cut or continued (the glyphs
 * again) to exactly BYTES, so that the deflate floor is for as much content as
 * the real output holds; -p PAGES splits it into that many streams.
 *
 * Nothing is shaped twice, hyphenated, broken into lines or embedded: this is
 * a floor, not a competitor.  Prints one line:
 *
 *     MEDIAN_MS MIN_MS MAX_MS SHAPE_MS DEFLATE_MS GLYPHS NATURAL_BYTES CONTENT_BYTES DEFLATED_BYTES CPU_MS
 *
 * (SHAPE_MS and DEFLATE_MS are the medians of the two parts; CPU_MS the
 * median process CPU time of a run, which other load disturbs less.) */
#define _XOPEN_SOURCE 700
#include <hb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libdeflate.h>

#include "timing.h"

#define MAX_RUNS 1000
#define LINE_GLYPHS 55

typedef struct {
    unsigned gid;
    int space;
} glyph;

typedef struct {
    glyph *g;
    size_t n, cap;
} glyphs;

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) {
        fputs("floor: out of memory\n", stderr);
        exit(1);
    }
    return p;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *s = xrealloc(NULL, cap);
    for (size_t got; (got = fread(s + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap)
            s = xrealloc(s, cap *= 2);
    }
    fclose(f);
    *len = n;
    return s;
}

static int is_hebrew(uint32_t c) { return (c >= 0x0590 && c <= 0x05FF) || (c >= 0xFB1D && c <= 0xFB4F); }
static int is_strong_latin(uint32_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= 0xC0 && c < 0x590 && c != 0xD7 && c != 0xF7);
}

/* Decodes one UTF-8 sequence (input is trusted: the sources are generated). */
static size_t utf8(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80 || n < 2) {
        *cp = s[0];
        return 1;
    }
    if (s[0] < 0xE0) {
        *cp = (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
        return 2;
    }
    if (s[0] < 0xF0 || n < 4) {
        *cp = n < 3 ? 0xFFFD : (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
        return n < 3 ? n : 3;
    }
    *cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 | (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
    return 4;
}

typedef struct {
    hb_font_t *latin, *hebrew;
    hb_buffer_t *buf;
    glyphs *out;
} shaper;

static void shape_run(shaper *sh, const char *text, size_t len, size_t start, size_t n, int heb)
{
    hb_buffer_clear_contents(sh->buf);
    hb_buffer_add_utf8(sh->buf, text, (int)len, (unsigned)start, (int)n);
    hb_buffer_set_direction(sh->buf, heb ? HB_DIRECTION_RTL : HB_DIRECTION_LTR);
    hb_buffer_set_script(sh->buf, heb ? HB_SCRIPT_HEBREW : HB_SCRIPT_LATIN);
    hb_buffer_set_language(sh->buf, hb_language_from_string(heb ? "he" : "en", -1));
    hb_shape(heb ? sh->hebrew : sh->latin, sh->buf, NULL, 0);
    unsigned ng;
    hb_glyph_info_t *info = hb_buffer_get_glyph_infos(sh->buf, &ng);
    glyphs *o = sh->out;
    if (o->n + ng > o->cap) {
        o->cap = (o->n + ng) * 2;
        o->g = xrealloc(o->g, o->cap * sizeof *o->g);
    }
    for (unsigned i = 0; i < ng; i++)
        o->g[o->n++] = (glyph){info[i].codepoint, text[info[i].cluster] == ' '};
}

/* Itemizes one line into Hebrew and other runs (neutrals join the run they
 * are in) and shapes each. */
static void shape_line(shaper *sh, const char *s, size_t n)
{
    size_t start = 0;
    int heb = -1;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        size_t l = utf8((const unsigned char *)s + i, n - i, &c);
        int h = is_hebrew(c) ? 1 : is_strong_latin(c) ? 0 : -1;
        if (h >= 0 && heb >= 0 && h != heb) {
            shape_run(sh, s, n, start, i - start, heb);
            start = i;
        }
        if (h >= 0)
            heb = h;
        i += l;
    }
    if (n > start)
        shape_run(sh, s, n, start, n - start, heb > 0);
}

/* Shapes a bulletin source: front-matter values and every body line that is
 * not a fence. */
static void shape_source(shaper *sh, const char *s, size_t n)
{
    int fm = 0;
    for (size_t i = 0; i < n;) {
        const char *e = memchr(s + i, '\n', n - i);
        size_t len = e ? (size_t)(e - (s + i)) : n - i;
        const char *l = s + i;
        i += len + 1;
        if (len == 3 && !memcmp(l, "---", 3) && fm < 2) {
            fm++;
            continue;
        }
        if (!len || (len >= 3 && !memcmp(l, ":::", 3)))
            continue;
        if (fm == 1) {
            const char *c = memchr(l, ':', len);
            if (!c || (size_t)(c - l) + 2 >= len)
                continue;
            size_t off = (size_t)(c - l) + 2;
            l += off, len -= off;
            if (len >= 2 && (l[0] == '"' || l[0] == '[')) /* strip quotes or brackets */
                l++, len -= 2;
        } else if (len >= 2 && l[0] == '>' && l[1] == ' ') {
            l += 2, len -= 2;
        }
        if (len)
            shape_line(sh, l, len);
    }
}

typedef struct {
    char *data;
    size_t len, cap;
} buffer;

static void put(buffer *b, const char *s, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->data = xrealloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

/* Deflates one page's stream; returns the compressed size.  One compressor
 * for the process, as bulletin keeps one per thread. */
static size_t deflate_page(const buffer *page, buffer *out)
{
    static struct libdeflate_compressor *c;
    if (!c && !(c = libdeflate_alloc_compressor(6)))
        return 0;
    size_t bound = libdeflate_zlib_compress_bound(c, page->len);
    if (out->cap < bound)
        out->data = xrealloc(out->data, out->cap = bound);
    return libdeflate_zlib_compress(c, page->data, page->len, out->data, bound);
}

/* Writes content from the glyphs until `want` bytes (0: one pass over them),
 * deflating every `per_page` bytes.  Returns the deflated total. */
static size_t content(const glyphs *g, size_t want, size_t per_page, size_t *natural, size_t *made)
{
    static const char hex[] = "0123456789abcdef";
    buffer page = {0}, z = {0};
    size_t zt = 0, total = 0, k = 0, line = 0, y = 0;
    char tmp[64];
    *natural = 0;
    if (!g->n)
        return 0;
    put(&page, "BT\n/F1 10 Tf\n", 13);
    for (size_t i = 0;; i++) {
        if (i == g->n) {
            if (!*natural)
                *natural = total + page.len;
            if (!want)
                break;
            i = 0;
        }
        if (want && total + page.len >= want)
            break;
        if (k % LINE_GLYPHS == 0) {
            if (k)
                put(&page, ">]TJ\n", 5);
            int n = snprintf(tmp, sizeof tmp, "1 0 0 1 %.3f %.3f Tm\n[<", 51.024 + (double)(line % 2) * 270.5,
                             790.0 - (double)(y++ % 60) * 12.5);
            put(&page, tmp, (size_t)n);
            line++;
        }
        char h[4] = {hex[(g->g[i].gid >> 12) & 15], hex[(g->g[i].gid >> 8) & 15], hex[(g->g[i].gid >> 4) & 15],
                     hex[g->g[i].gid & 15]};
        put(&page, h, 4);
        if (g->g[i].space) {
            int n = snprintf(tmp, sizeof tmp, ">-%u.%u<", (unsigned)(40 + (i * 7) % 90), (unsigned)(i % 10));
            put(&page, tmp, (size_t)n);
        }
        k++;
        if (page.len >= per_page) {
            put(&page, ">]TJ\nET\n", 8);
            zt += deflate_page(&page, &z);
            total += page.len;
            page.len = 0;
            k = 0;
            put(&page, "BT\n/F1 10 Tf\n", 13);
        }
    }
    put(&page, ">]TJ\nET\n", 8);
    if (want && total + page.len > want && want > total)
        page.len = want - total; /* cut to exactly `want` */
    zt += deflate_page(&page, &z);
    total += page.len;
    *made = total;
    free(page.data);
    free(z.data);
    return zt;
}

static hb_font_t *open_font(const char *path)
{
    hb_blob_t *b = hb_blob_create_from_file_or_fail(path);
    if (!b) {
        fprintf(stderr, "floor: cannot read %s\n", path);
        exit(1);
    }
    hb_face_t *face = hb_face_create(b, 0);
    hb_font_t *f = hb_font_create(face);
    hb_face_destroy(face);
    hb_blob_destroy(b);
    return f;
}

int main(int argc, char **argv)
{
    int warm = 1, runs = 5, pages = 1, i = 1;
    size_t want = 0;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (!strcmp(argv[i], "-w"))
            warm = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-n"))
            runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-p"))
            pages = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-c"))
            want = (size_t)strtoull(argv[i + 1], NULL, 10);
        else
            break;
    }
    if (argc - i < 3 || warm < 0 || runs < 1 || runs > MAX_RUNS || pages < 1) {
        fprintf(stderr, "usage: floor [-w WARMUP] [-n RUNS] [-p PAGES] [-c BYTES] LATIN.ttf HEBREW.ttf SOURCE...\n");
        return 2;
    }
    const char *latin = argv[i], *hebrew = argv[i + 1];
    char **src = argv + i + 2;
    int nsrc = argc - i - 2;
    double tt[MAX_RUNS], ts[MAX_RUNS], tz[MAX_RUNS], tc[MAX_RUNS];
    size_t nglyphs = 0, natural = 0, made = 0, zbytes = 0;
    for (int r = -warm; r < runs; r++) {
        double t0 = now_ms(), c0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
        glyphs g = {0};
        shaper sh = {open_font(latin), open_font(hebrew), hb_buffer_create(), &g};
        for (int k = 0; k < nsrc; k++) {
            size_t len;
            char *s = read_file(src[k], &len);
            if (!s) {
                fprintf(stderr, "floor: cannot read %s\n", src[k]);
                return 1;
            }
            shape_source(&sh, s, len);
            free(s);
        }
        double t1 = now_ms();
        size_t per_page = want ? (want + (size_t)pages - 1) / (size_t)pages : 16000;
        zbytes = content(&g, want, per_page, &natural, &made);
        double t2 = now_ms();
        nglyphs = g.n;
        hb_buffer_destroy(sh.buf);
        hb_font_destroy(sh.latin);
        hb_font_destroy(sh.hebrew);
        free(g.g);
        if (r >= 0) {
            tt[r] = now_ms() - t0;
            ts[r] = t1 - t0;
            tz[r] = t2 - t1;
            tc[r] = clock_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
        }
    }
    double t_min = 1e300, t_max = 0;
    for (int r = 0; r < runs; r++) {
        t_min = tt[r] < t_min ? tt[r] : t_min;
        t_max = tt[r] > t_max ? tt[r] : t_max;
    }
    double med = median(tt, runs), ms = median(ts, runs), mz = median(tz, runs), mc = median(tc, runs);
    printf("%.3f %.3f %.3f %.3f %.3f %zu %zu %zu %zu %.3f\n", med, t_min, t_max, ms, mz, nglyphs, natural, made, zbytes,
           mc);
    return 0;
}
