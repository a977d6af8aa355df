/* test-shape.c - the text engine (text-shape.c): shaping against hb-shape,
 * font fallback, missing-glyph warnings, and setting lines with
 * bl_text_line (visual order, glyph-to-text mapping, hyphens, reshaping at
 * ligature cuts) and bl_line_out_adjust (justification).
 * Fonts are opened relative to the repository root (the tests' cwd). */
#include "harness.h"
#include "base.h"
#include "text.h"
#include "text-bidi.h"

#include <math.h>
#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <stdlib.h>
#include <string.h>

#define SERIF "fonts/NotoSerif-Regular.ttf"
#define SERIF_HE "fonts/NotoSerifHebrew-Regular.ttf"
#define NASKH "fonts/NotoNaskhArabic-Regular.ttf"

/* ---- helpers ---------------------------------------------------------------- */

static bl_face *face(const char *path)
{
    char err[256];
    bl_face *f = bl_face_cache_get(path, err, sizeof err);
    if (!f) {
        fprintf(stderr, "%s: %s (run from the repository root)\n", path, err);
        exit(2);
    }
    return f;
}

static bl_fontset stack2(bl_face *a, bl_face *b)
{
    bl_fontset fs = {.faces = {a, b}, .n = b ? 2 : 1};
    return fs;
}

/* A body style as layout-page.c's load_fonts sets one up: every role on the
 * same stack here, 10 pt. */
static bl_text_style style_of(const bl_fontset *fs, int tracking, bl_seen *seen)
{
    bl_text_style st;
    memset(&st, 0, sizeof st);
    st.regular = st.bold = st.italic = fs;
    st.bold_italic = NULL;
    st.size = 10;
    st.link_rgb[2] = 1;
    st.hyphenate = 0;
    st.lmin = 2;
    st.rmin = 3;
    st.tracking = tracking;
    st.seen = seen;
    return st;
}

/* Diagnostics of the text engine go to a memory stream; src_off 0 of a file
 * named t.md holding the paragraph, so locations read "t.md:1:1". */
typedef struct diagcap {
    char *text;
    size_t len;
    FILE *fp;
    bl_diag d;
    bl_file *f;
} diagcap;

static void cap_open(diagcap *c, const char *para)
{
    memset(c, 0, sizeof *c);
    c->fp = open_memstream(&c->text, &c->len);
    if (!c->fp)
        exit(2);
    bl_diag_init(&c->d, c->fp);
    c->f = bl_file_from_memory("t.md", para, strlen(para));
}

static void cap_close(diagcap *c)
{
    fclose(c->fp);
    bl_file_free(c->f);
}

static bl_shaped *shape(const char *text, const char *lang, int dir, const bl_text_style *st, diagcap *c)
{
    return bl_text_shape(text, strlen(text), NULL, 0, lang, dir, st, c ? &c->d : NULL, c ? c->f : NULL, 0);
}

/* Glyph ids of a set line in visual order, "[a,b,...]" (static buffer). */
static const char *line_gids(const bl_line_out *o)
{
    static char buf[1024];
    size_t n = 0;
    buf[n++] = '[';
    for (size_t r = 0; r < o->nruns; r++)
        for (size_t k = 0; k < o->runs[r].n && n < sizeof buf - 16; k++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%u", n > 1 ? "," : "", o->runs[r].glyphs[k].gid);
    snprintf(buf + n, sizeof buf - n, "]");
    return buf;
}

/* Glyph ids of a shaped paragraph, each run's glyphs in visual order and the
 * runs in logical order (equals hb-shape's output for a one-run text). */
static const char *shaped_gids(const bl_shaped *s)
{
    static char buf[1024];
    size_t n = 0;
    buf[n++] = '[';
    for (size_t r = 0; r < s->nruns; r++) {
        const bl_run *run = &s->runs[r];
        for (size_t k = 0; k < run->ng && n < sizeof buf - 16; k++) {
            size_t i = run->level & 1 ? run->g0 + run->ng - 1 - k : run->g0 + k;
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%u", n > 1 ? "," : "", s->glyphs[i].gid);
        }
    }
    snprintf(buf + n, sizeof buf - n, "]");
    return buf;
}

/* Reading a run's glyphs in logical order and concatenating the text each
 * stands for gives the run's text (ToUnicode, copy-paste, search). */
static int run_text_ok(const bl_glyph_run *r)
{
    bl_buf b = {0};
    int ok = 1;
    for (size_t k = 0; k < r->n && ok; k++) {
        const bl_glyph *g = &r->glyphs[r->rtl ? r->n - 1 - k : k];
        if ((size_t)g->text_start + g->text_len > r->text_len)
            ok = 0;
        else if (g->text_len)
            bl_buf_append(&b, r->text + g->text_start, g->text_len);
    }
    ok = ok && b.len == r->text_len && (!b.len || !memcmp(b.data, r->text, b.len));
    bl_buf_free(&b);
    return ok;
}

static int all_runs_text_ok(const bl_line_out *o)
{
    for (size_t r = 0; r < o->nruns; r++)
        if (!run_text_ok(&o->runs[r]))
            return 0;
    return 1;
}

/* The text of one glyph (static buffer). */
static const char *glyph_text(const bl_glyph_run *r, const bl_glyph *g)
{
    static char buf[64];
    snprintf(buf, sizeof buf, "%.*s", (int)g->text_len, r->text + g->text_start);
    return buf;
}

/* Positions are continuous: each glyph's origin is where the previous one's
 * advance ended.  Only for glyphs without HarfBuzz offsets (checked against
 * hb-shape: Latin text without marks). */
static int continuous(const bl_line_out *o, double x0)
{
    double x = x0;
    for (size_t r = 0; r < o->nruns; r++)
        for (size_t k = 0; k < o->runs[r].n; k++) {
            const bl_glyph *g = &o->runs[r].glyphs[k];
            if (fabs(g->x - x) > 1e-3)
                return 0;
            x += g->advance;
        }
    return fabs(x - x0 - o->width) < 1e-3;
}

/* The advances add up to the width and every glyph sits within 1 pt of its
 * pen position (kerning in right-to-left text comes as offsets). */
static int advances_add_up(const bl_line_out *o, double x0)
{
    double x = x0;
    for (size_t r = 0; r < o->nruns; r++)
        for (size_t k = 0; k < o->runs[r].n; k++) {
            const bl_glyph *g = &o->runs[r].glyphs[k];
            if (fabs(g->x - x) > 1)
                return 0;
            x += g->advance;
        }
    return fabs(x - x0 - o->width) < 1e-3;
}

/* Every glyph of the line (visual order) at hb-shape's position: advances
 * and x/y offsets (dy may be NULL: all 0) in font units of a face with upem
 * units, scaled to size; baseline at y 0. */
static int positions_are(const bl_line_out *o, double x0, const int *adv, const int *dx, const int *dy, size_t n,
                         double size, unsigned upem)
{
    double k = size / upem, pen = x0;
    size_t i = 0;
    for (size_t r = 0; r < o->nruns; r++)
        for (size_t g = 0; g < o->runs[r].n; g++, i++) {
            const bl_glyph *gl = &o->runs[r].glyphs[g];
            if (i >= n || fabs(gl->x - (pen + dx[i] * k)) > 1e-3 || fabs(gl->advance - adv[i] * k) > 1e-3 ||
                fabs(gl->y - (dy ? dy[i] * k : 0)) > 1e-3)
                return 0;
            pen += adv[i] * k;
        }
    return i == n;
}

/* text's first line is line. */
static int first_line_is(const char *text, const char *line)
{
    size_t n = strlen(line);
    return text && !strncmp(text, line, n) && text[n] == '\n';
}

static int near(double a, double b) { return fabs(a - b) < 1e-3; }

/* ---- shaping cases, HarfBuzz style ------------------------------------------- */

/* font;language;paragraph direction;text;expected glyph ids in visual order.
 * Each expectation is the output of
 *   hb-shape --cluster-level=1 --no-positions --no-clusters --no-glyph-names \
 *            --language=LANG --direction=DIR FONT TEXT
 * (HarfBuzz 6.0.0, Debian 12; fonts/ from fonts-noto-core 20201225-1) with '|'
 * written as ','.  Each text is one bidi level in one font, so our output
 * must be identical. */
static const char *const shape_cases[] = {
    /* Latin ligatures: f_f_i (2132), fi (2134), f_f (2131) */
    SERIF ";en;ltr;office;[82,2132,70,72]",
    SERIF ";en;ltr;fine;[2134,81,72]",
    SERIF ";en;ltr;off;[82,2131]",
    SERIF ";en;ltr;AVA To;[36,57,36,3,55,82]",
    /* French spacing: U+00A0 (98) before ':', U+202F (1829) in a number and inside guillemets */
    SERIF ";fr;ltr;Prix\u00A0: 10\u202F\u20AC;[51,85,76,91,98,29,3,20,19,1829,539]",
    SERIF ";fr;ltr;\u00ABOui\u202F\u00BB;[109,50,88,76,1829,125]",
    /* Hebrew, and niqqud: shin + shin dot + qamats, vav + holam; marks in
     * HarfBuzz's order whichever order the points are typed in */
    SERIF_HE ";he;rtl;\u05E9\u05DC\u05D5\u05DD;[23,124,55,96]",
    SERIF_HE ";he;rtl;\u05E9\u05C1\u05B8\u05DC\u05D5\u05B9\u05DD;[23,46,124,55,79,100,96]",
    SERIF_HE ";he;rtl;\u05E9\u05B8\u05C1\u05DC\u05D5\u05B9\u05DD;[23,46,124,55,79,100,96]",
    /* Arabic joining: beh isolated (35); final (36), medial (37), initial (38) */
    NASKH ";ar;rtl;\u0628;[35]",
    NASKH ";ar;rtl;\u0628\u0628\u0628;[36,37,38]",
    /* lam-alef: the rlig forms (6, 450), not isolated lam (445) and alef (3) */
    NASKH ";ar;rtl;\u0644\u0627;[6,450]",
    NASKH ";ar;rtl;\u0633\u0644\u0627\u0645;[482,1565,448,250]",
    /* shadda + fatha: one composed mark glyph (1418), either typing order */
    NASKH ";ar;rtl;\u0628\u0651\u064E;[1418,35]",
    NASKH ";ar;rtl;\u0628\u064E\u0651;[1418,35]",
    /* a parenthesis alone in a right-to-left paragraph is mirrored: '(' draws ')' (12) */
    SERIF ";he;rtl;(;[12]",
    SERIF ";he;rtl;);[11]",
};

static void test_shape_table(void)
{
    for (size_t i = 0; i < sizeof shape_cases / sizeof *shape_cases; i++) {
        char c[512];
        snprintf(c, sizeof c, "%s", shape_cases[i]);
        char *f[5];
        char *p = c;
        int nf = 0;
        for (; nf < 4; nf++) {
            f[nf] = p;
            p = strchr(p, ';');
            if (!p)
                break;
            *p++ = 0;
        }
        f[4] = p;
        if (nf != 4 || !p) {
            CHECK(0, "malformed case %s", shape_cases[i]);
            continue;
        }
        bl_fontset fs = stack2(face(f[0]), NULL);
        bl_text_style st = style_of(&fs, 0, NULL);
        int dir = !strcmp(f[2], "rtl") ? BL_DIR_RTL : BL_DIR_LTR;
        bl_shaped *s = shape(f[3], f[1], dir, &st, NULL);
        CHECK(s != NULL, "case %zu shapes", i);
        if (!s)
            continue;
        CHECK(s->nruns == 1 && !strcmp(shaped_gids(s), f[4]), "%s: shaped %s (%zu runs)", shape_cases[i],
              shaped_gids(s), s->nruns);
        bl_line_out o;
        CHECK(bl_text_line(s, 0, s->len, 0, 0, 0, &o) == 0, "case %zu: line", i);
        CHECK(!strcmp(line_gids(&o), f[4]), "%s: set line %s", shape_cases[i], line_gids(&o));
        CHECK(all_runs_text_ok(&o), "%s: glyph texts give the run text", shape_cases[i]);
        CHECK(s->missing == 0, "%s: nothing missing", shape_cases[i]);
        bl_line_out_free(&o);
        bl_shaped_free(s);
    }
}

/* Kerning: advances are HarfBuzz's (hb-shape --cluster-level=1 --language=en
 * fonts/NotoSerif-Regular.ttf "AVA To" gives
 * [A=0+625|V=1+595|A=2+705|space=3+260|T=4+563|o=5+577]; unkerned A is 705,
 * T 613), scaled to points. */
static void test_kerning(void)
{
    bl_face *serif = face(SERIF);
    bl_fontset fs = stack2(serif, NULL);
    bl_text_style st = style_of(&fs, 0, NULL);
    static const int units[] = {625, 595, 705, 260, 563, 577};
    bl_shaped *s = shape("AVA To", "en", BL_DIR_LTR, &st, NULL);
    CHECK(s && s->nglyphs == 6, "AVA To: 6 glyphs");
    if (!s)
        return;
    double k = st.size / serif->upem, x = 0;
    for (size_t i = 0; i < 6 && i < s->nglyphs; i++) {
        CHECK(near(s->glyphs[i].adv, units[i] * k) && s->glyphs[i].dx == 0 && s->glyphs[i].dy == 0,
              "AVA To glyph %zu: advance %.4f, want %.4f", i, s->glyphs[i].adv, units[i] * k);
    }
    CHECK(near(bl_shaped_width(s, 0, 2), (625 + 595) * k), "kerned width of AV %.4f", bl_shaped_width(s, 0, 2));
    bl_line_out o;
    if (bl_text_line(s, 0, s->len, 0, 100, 50, &o) == 0) {
        for (size_t i = 0; i < o.nglyphs; i++) {
            CHECK(near(o.glyphs[i].x, 100 + x) && near(o.glyphs[i].y, 50), "AVA To: glyph %zu at x %.4f, want %.4f",
                  i, o.glyphs[i].x, 100 + x);
            x += units[i] * k;
        }
        CHECK(near(o.width, x), "AVA To: line width %.4f, want %.4f", o.width, x);
        bl_line_out_free(&o);
    }
    bl_shaped_free(s);
}

/* ---- itemization: bidi, fallback, marks ------------------------------------------ */

static void test_arabic_digits(void)
{
    /* "سنة 2021 هنا": the digits are a run of their own at level 2, set left
     * to right between the two Arabic words.  Pieces from hb-shape:
     * " هنا" rtl [4,489,512,1364], "2021" ltr [1230,1228,1230,1229],
     * "سنة " rtl [1364,533,489,250]. */
    bl_fontset fs = stack2(face(NASKH), face(SERIF));
    bl_text_style st = style_of(&fs, 0, NULL);
    const char *t = "\u0633\u0646\u0629 2021 \u0647\u0646\u0627";
    bl_shaped *s = shape(t, "ar", BL_DIR_RTL, &st, NULL);
    if (!s) {
        CHECK(0, "Arabic with digits shapes");
        return;
    }
    CHECK(s->para_level == 1, "Arabic paragraph level 1");
    CHECK(s->nruns == 3 && s->runs[0].level == 1 && s->runs[1].level == 2 && s->runs[2].level == 1 &&
              s->runs[1].start == 7 && s->runs[1].end == 11,
          "runs split by level: %zu runs", s->nruns);
    bl_line_out o;
    if (bl_text_line(s, 0, s->len, 0, 0, 0, &o) == 0) {
        CHECK(!strcmp(line_gids(&o), "[4,489,512,1364,1230,1228,1230,1229,1364,533,489,250]"),
              "Arabic + digits, visual order: %s", line_gids(&o));
        CHECK(o.nruns == 3 && o.runs[1].rtl == 0 && o.runs[1].text_len == 4 && !memcmp(o.runs[1].text, "2021", 4) &&
                  o.runs[0].rtl && o.runs[2].rtl,
              "the digit run is in the middle, left to right");
        CHECK(all_runs_text_ok(&o), "Arabic + digits: glyph texts");
        CHECK(advances_add_up(&o, 0), "Arabic + digits: advances add up to the width");
        bl_line_out_free(&o);
    }
    bl_shaped_free(s);
}

static void test_mirroring(void)
{
    /* "מזכר (MOU) נחתם" in a right-to-left paragraph: the brackets resolve to
     * the paragraph's direction (UAX #9 N0) and HarfBuzz mirrors them, so the
     * logical '(' draws the ')' glyph (hb-shape --direction=rtl
     * fonts/NotoSerif-Regular.ttf "(" gives [12]).  Pieces: " נחתם" rtl
     * [23,107,44,67,106], ')' [11], "MOU" ltr [48,50,56], '(' [12],
     * "מזכר " rtl [106,86,52,147,61]. */
    bl_face *he = face(SERIF_HE), *serif = face(SERIF);
    bl_fontset fs = stack2(he, serif);
    bl_text_style st = style_of(&fs, 0, NULL);
    bl_shaped *s = shape("\u05DE\u05D6\u05DB\u05E8 (MOU) \u05E0\u05D7\u05EA\u05DD", "he", BL_DIR_RTL, &st, NULL);
    if (!s) {
        CHECK(0, "(MOU) shapes");
        return;
    }
    bl_line_out o;
    if (bl_text_line(s, 0, s->len, 0, 0, 0, &o) == 0) {
        CHECK(!strcmp(line_gids(&o), "[23,107,44,67,106,11,48,50,56,12,106,86,52,147,61]"), "(MOU) in Hebrew: %s",
              line_gids(&o));
        int found = 0;
        for (size_t r = 0; r < o.nruns; r++)
            for (size_t k = 0; k < o.runs[r].n; k++)
                if (!strcmp(glyph_text(&o.runs[r], &o.runs[r].glyphs[k]), "(")) {
                    found++;
                    CHECK(o.runs[r].rtl && o.runs[r].glyphs[k].gid == bl_face_glyph(serif, ')'),
                          "logical '(' is drawn with the ')' glyph in the RTL context (gid %u)", o.runs[r].glyphs[k].gid);
                    CHECK(o.runs[r].face == serif, "the bracket comes from Noto Serif (Hebrew has none)");
                }
        CHECK(found == 1, "one glyph stands for '(' (%d)", found);
        CHECK(all_runs_text_ok(&o), "(MOU): glyph texts");
        bl_line_out_free(&o);
    }
    bl_shaped_free(s);

    /* In a left-to-right paragraph the same brackets are not mirrored. */
    s = shape("MOU (\u05DE\u05D6\u05DB\u05E8) x", "en", BL_DIR_LTR, &st, NULL);
    if (s && bl_text_line(s, 0, s->len, 0, 0, 0, &o) == 0) {
        for (size_t r = 0; r < o.nruns; r++)
            for (size_t k = 0; k < o.runs[r].n; k++)
                if (!strcmp(glyph_text(&o.runs[r], &o.runs[r].glyphs[k]), "("))
                    CHECK(o.runs[r].glyphs[k].gid == bl_face_glyph(serif, '('), "'(' in LTR draws '('");
        bl_line_out_free(&o);
    }
    bl_shaped_free(s);
}

static const bl_run *run_at(const bl_shaped *s, size_t byte)
{
    for (size_t r = 0; r < s->nruns; r++)
        if (s->runs[r].start <= byte && byte < s->runs[r].end)
            return &s->runs[r];
    return NULL;
}

static void test_fallback(void)
{
    bl_face *he = face(SERIF_HE), *serif = face(SERIF);
    bl_fontset fs = stack2(he, serif);
    bl_text_style st = style_of(&fs, 0, NULL);

    /* A Latin word in Hebrew text takes the second face of the stack. */
    bl_shaped *s = shape("\u05E9\u05DC\u05D5\u05DD world", "he", BL_DIR_RTL, &st, NULL);
    if (s) {
        const bl_run *h = run_at(s, 0), *w = run_at(s, 9);
        CHECK(h && h->face == he && w && w->face == serif && w->start == 9 && w->end == 14,
              "Latin word in Hebrew: Noto Serif for 'world'");
        CHECK(s->missing == 0, "nothing missing");
        bl_shaped_free(s);
    }

    /* A combining mark stays with its base's face: e + U+0301 in Noto Serif
     * (composed to é, hb-shape --language=fr: [70,68,73,171]). */
    s = shape("\u05E9\u05DC\u05D5\u05DD cafe\u0301", "he", BL_DIR_RTL, &st, NULL);
    if (s) {
        const bl_run *w = run_at(s, 9);
        CHECK(w && w->face == serif && w->start == 9 && w->end == s->len, "cafe + U+0301: one Noto Serif run");
        if (w) {
            char got[128] = "";
            size_t n = 0;
            for (size_t k = 0; k < w->ng; k++)
                n += (size_t)snprintf(got + n, sizeof got - n, "%s%u", k ? "," : "", s->glyphs[w->g0 + k].gid);
            CHECK(!strcmp(got, "70,68,73,171"), "cafe + U+0301: glyphs %s", got);
        }
        bl_shaped_free(s);
    }

    /* A mark that the base's face lacks (Hebrew qamats on a Latin e) takes the
     * first face of the stack that has it, rather than drawing .notdef ... */
    diagcap c;
    cap_open(&c, "e\u05B8");
    s = shape("e\u05B8", "en", BL_DIR_LTR, &st, &c);
    cap_close(&c);
    if (s) {
        CHECK(s->nruns == 2 && s->runs[0].face == serif && s->runs[1].face != serif &&
                  bl_face_glyph(s->runs[1].face, 0x05B8),
              "U+05B8 after 'e' takes a face that has it");
        /* ... and then no .notdef may be drawn without a warning. */
        int notdef = 0;
        for (size_t g = 0; g < s->nglyphs; g++)
            notdef += s->glyphs[g].gid == 0;
        CHECK(!notdef || (s->missing > 0 && c.d.warnings == 1),
              "e + U+05B8: %d .notdef glyph(s) drawn, missing %d, warnings %d (%s)", notdef, s->missing,
              c.d.warnings, c.text ? c.text : "");
        bl_shaped_free(s);
    }
    free(c.text);
}

static void test_missing(void)
{
    /* U+0378..U+037F partly unassigned: no font anywhere has U+0378, U+0379, U+0380. */
    bl_fontset fs = stack2(face(SERIF), NULL);
    bl_seen seen = {0};
    bl_text_style st = style_of(&fs, 0, &seen);
    diagcap c;
    const char *t1 = "a\u0378b\u0379 \u0378";
    cap_open(&c, t1);
    bl_shaped *s = shape(t1, "en", BL_DIR_LTR, &st, &c);
    CHECK(s && s->missing == 3, "three missing characters counted (%d)", s ? s->missing : -1);
    CHECK(c.d.warnings == 1, "one warning per paragraph (%d)", c.d.warnings);
    bl_shaped_free(s);
    /* the same characters again with the same bl_seen: no new warning */
    s = shape(t1, "en", BL_DIR_LTR, &st, &c);
    CHECK(s && s->missing == 3 && c.d.warnings == 1, "already seen: no second warning (%d)", c.d.warnings);
    bl_shaped_free(s);
    /* one new and one seen: only the new one is named */
    s = shape("\u0378\u0380", "en", BL_DIR_LTR, &st, &c);
    CHECK(s && c.d.warnings == 2, "a new character warns (%d)", c.d.warnings);
    bl_shaped_free(s);
    cap_close(&c);
    CHECK(first_line_is(c.text, "t.md:1:1: warning: no font has U+0378, U+0379; drawn as empty boxes"),
          "warning text: %s", c.text);
    CHECK(c.text && strstr(c.text, "\nt.md:1:1: warning: no font has U+0380; drawn as empty boxes\n"),
          "second warning names only U+0380: %s", c.text);
    free(c.text);
    free(seen.cps);

    /* Without a bl_seen (st->seen may be NULL): each distinct character is
     * still named once in the paragraph's warning. */
    st.seen = NULL;
    cap_open(&c, t1);
    s = shape(t1, "en", BL_DIR_LTR, &st, &c);
    cap_close(&c);
    CHECK(c.d.warnings == 1 && first_line_is(c.text, "t.md:1:1: warning: no font has U+0378, U+0379; drawn as empty boxes"),
          "no bl_seen: each character named once: %s", c.text);
    CHECK(s && s->nglyphs == 6 && s->glyphs[1].gid == 0, "missing characters are .notdef glyphs");
    bl_shaped_free(s);
    free(c.text);
}

/* ---- setting lines ---------------------------------------------------------------- */

static void test_line_mixed(void)
{
    /* "שלום world עולם", RTL paragraph.  Visual order from the left: "עולם"
     * [23,55,124,10], " " [106], "world" ltr [90,82,85,79,71], "שלום "
     * [106,23,124,55,96] (hb-shape pieces, see the table's command). */
    bl_face *he = face(SERIF_HE), *serif = face(SERIF);
    bl_fontset fs = stack2(he, serif);
    bl_text_style st = style_of(&fs, 0, NULL);
    const char *t = "\u05E9\u05DC\u05D5\u05DD world \u05E2\u05D5\u05DC\u05DD";
    bl_shaped *s = shape(t, "he", BL_DIR_RTL, &st, NULL);
    if (!s) {
        CHECK(0, "mixed line shapes");
        return;
    }
    bl_line_out o;
    CHECK(bl_text_line(s, 0, s->len, 0, 20, 0, &o) == 0, "mixed line is set");
    CHECK(!strcmp(line_gids(&o), "[23,55,124,10,106,90,82,85,79,71,106,23,124,55,96]"), "mixed line visual: %s",
          line_gids(&o));
    CHECK(o.nruns >= 3, "at least three runs (%zu)", o.nruns);
    /* runs read right to left give the logical text */
    bl_buf logical = {0};
    for (size_t r = o.nruns; r-- > 0;)
        bl_buf_append(&logical, o.runs[r].text, o.runs[r].text_len);
    CHECK(logical.len == s->len && !memcmp(logical.data, t, s->len), "runs right to left = the text");
    bl_buf_free(&logical);
    for (size_t r = 0; r < o.nruns; r++) {
        const bl_glyph_run *run = &o.runs[r];
        int latin = run->text_len == 5 && !memcmp(run->text, "world", 5);
        CHECK(run->rtl == !latin && run->face == (latin ? serif : he), "run %zu: direction and face", r);
        CHECK(run_text_ok(run), "run %zu: glyph texts in logical order give '%.*s'", r, (int)run->text_len,
              run->text);
    }
    /* The Hebrew run at the left is reversed: final mem first, ayin last. */
    const bl_glyph_run *r0 = &o.runs[0];
    CHECK(r0->rtl && r0->n == 4 && r0->glyphs[0].gid == bl_face_glyph(he, 0x05DD) &&
              r0->glyphs[3].gid == bl_face_glyph(he, 0x05E2),
          "leftmost run: ם … ע");
    CHECK(r0->n == 4 && !strcmp(glyph_text(r0, &r0->glyphs[0]), "\u05DD") &&
              !strcmp(glyph_text(r0, &r0->glyphs[3]), "\u05E2"),
          "leftmost run: glyph texts map to their letters");
    /* hb-shape (as above, without --no-positions) for the pieces: "עולם"
     * [23+582|55@-40,0+463|124@-20,0+306|10+534], " " [106+260], "world"
     * [90+862|82+577|85+471|79+310|71+614], "שלום " [106+260|23+582|124+326|55+503|96+727] */
    static const int adv[15] = {582, 463, 306, 534, 260, 862, 577, 471, 310, 614, 260, 582, 326, 503, 727};
    static const int dx[15] = {0, -40, -20};
    CHECK(he->upem == serif->upem && positions_are(&o, 20, adv, dx, NULL, 15, st.size, he->upem),
          "mixed line: every glyph at hb-shape's position from x 20");
    CHECK(advances_add_up(&o, 20), "mixed line: advances add up to the width");
    CHECK(near(o.width, bl_shaped_width(s, 0, s->len)), "mixed line width %.3f = shaped width %.3f", o.width,
          bl_shaped_width(s, 0, s->len));
    CHECK(o.nspaces == 2 && o.ngaps == 0, "two stretchable spaces, no gaps without tracking (%zu, %zu)", o.nspaces,
          o.ngaps);
    bl_line_out_free(&o);
    bl_shaped_free(s);

    /* Niqqud typed in non-canonical order: the glyph texts still rebuild the
     * word, and the marks sit where hb-shape puts them:
     * [23+582|46@-85,0+0|124+326|55+503|79@178,0+0|100@544,0+0|96+727] */
    s = shape("\u05E9\u05B8\u05C1\u05DC\u05D5\u05B9\u05DD", "he", BL_DIR_RTL, &st, NULL);
    if (s && bl_text_line(s, 0, s->len, 0, 0, 0, &o) == 0) {
        static const int nadv[7] = {582, 0, 326, 503, 0, 0, 727}, ndx[7] = {0, -85, 0, 0, 178, 544, 0};
        CHECK(!strcmp(line_gids(&o), "[23,46,124,55,79,100,96]") && all_runs_text_ok(&o),
              "niqqud line: %s, glyph texts", line_gids(&o));
        CHECK(positions_are(&o, 0, nadv, ndx, NULL, 7, st.size, he->upem), "niqqud line: mark positions");
        bl_line_out_free(&o);
    }
    bl_shaped_free(s);

    /* Arabic shadda + fatha: the mark glyph above the beh, raised:
     * [1418@299,26+0|35+772] */
    bl_face *naskh = face(NASKH);
    bl_fontset afs = stack2(naskh, NULL);
    bl_text_style ast = style_of(&afs, 0, NULL);
    s = shape("\u0628\u064E\u0651", "ar", BL_DIR_RTL, &ast, NULL);
    if (s && bl_text_line(s, 0, s->len, 0, 0, 0, &o) == 0) {
        static const int aadv[2] = {0, 772}, adx[2] = {299, 0}, ady[2] = {26, 0};
        CHECK(positions_are(&o, 0, aadv, adx, ady, 2, ast.size, naskh->upem) && all_runs_text_ok(&o),
              "shadda + fatha: positions and texts");
        bl_line_out_free(&o);
    }
    bl_shaped_free(s);
}

static void test_line_hyphen(void)
{
    /* "information": a hyphen after "infor" is a glyph with no text at the
     * end of the line; "infor-" as hb-shape shapes it: [76,81,73,82,85,16]. */
    bl_face *serif = face(SERIF);
    bl_fontset fs = stack2(serif, NULL);
    bl_text_style st = style_of(&fs, 0, NULL);
    st.hyphenate = 1;
    bl_shaped *s = shape("information", "en", BL_DIR_LTR, &st, NULL);
    if (!s) {
        CHECK(0, "information shapes");
        return;
    }
    CHECK(s->hyph[5] == 0, "no hyphenation points before bl_text_hyphenate (they load lazily)");
    bl_text_hyphenate(s);
    CHECK(s->hyph[5] == 1, "in-for-ma-tion: a hyphenation point after 'infor'");
    bl_line_out o;
    CHECK(bl_text_line(s, 0, 5, 1, 0, 0, &o) == 0, "hyphenated line is set");
    CHECK(!strcmp(line_gids(&o), "[76,81,73,82,85,16]"), "infor-: %s", line_gids(&o));
    const bl_glyph_run *last = &o.runs[o.nruns - 1];
    const bl_glyph *hy = &last->glyphs[last->n - 1];
    CHECK(hy->gid == bl_face_glyph(serif, '-') && hy->text_len == 0, "the hyphen glyph has no text (%u, %u)",
          hy->gid, hy->text_len);
    CHECK(last->text_len == 5 && !memcmp(last->text, "infor", 5) && all_runs_text_ok(&o), "run text 'infor'");
    CHECK(near(hy->advance, s->hyphen_adv) && near(o.width, bl_shaped_width(s, 0, 5) + s->hyphen_adv),
          "width adds the hyphen: %.3f", o.width);
    CHECK(continuous(&o, 0), "hyphenated line: continuous");
    bl_line_out_free(&o);
    bl_shaped_free(s);
}

static void test_line_ligature_cut(void)
{
    /* "office" is o + f_f_i + c + e; a break inside the ligature reshapes
     * both halves: "of-" [82,73,16] and "fice" [2134,70,72]; without a
     * hyphen, "off" [82,2131] and "ice" [76,70,72]. */
    bl_fontset fs = stack2(face(SERIF), NULL);
    bl_text_style st = style_of(&fs, 0, NULL);
    bl_shaped *s = shape("office", "en", BL_DIR_LTR, &st, NULL);
    if (!s) {
        CHECK(0, "office shapes");
        return;
    }
    CHECK(!s->cstart[2] && !s->cstart[3], "bytes 2 and 3 are inside the f_f_i cluster");
    static const struct { size_t cut; int hyphen; const char *a, *b; } cuts[] = {
        {2, 1, "[82,73,16]", "[2134,70,72]"},
        {3, 0, "[82,2131]", "[76,70,72]"},
    };
    for (size_t i = 0; i < 2; i++) {
        bl_line_out o1, o2;
        if (bl_text_line(s, 0, cuts[i].cut, cuts[i].hyphen, 0, 0, &o1) ||
            bl_text_line(s, cuts[i].cut, s->len, 0, 0, 0, &o2)) {
            CHECK(0, "cut %zu: lines set", cuts[i].cut);
            continue;
        }
        CHECK(!strcmp(line_gids(&o1), cuts[i].a) && !strcmp(line_gids(&o2), cuts[i].b), "cut at %zu: %s + %s",
              cuts[i].cut, line_gids(&o1), line_gids(&o2));
        /* no letter lost: the glyph texts of both lines give "office" */
        bl_buf all = {0};
        for (size_t k = 0; k < o1.nglyphs; k++)
            bl_buf_append(&all, o1.runs[0].text + o1.glyphs[k].text_start, o1.glyphs[k].text_len);
        for (size_t k = 0; k < o2.nglyphs; k++)
            bl_buf_append(&all, o2.runs[0].text + o2.glyphs[k].text_start, o2.glyphs[k].text_len);
        CHECK(all.data && !strcmp(all.data, "office"), "cut at %zu: glyph texts '%s'", cuts[i].cut,
              all.data ? all.data : "");
        CHECK(continuous(&o1, 0) && continuous(&o2, 0), "cut at %zu: continuous", cuts[i].cut);
        bl_buf_free(&all);
        bl_line_out_free(&o1);
        bl_line_out_free(&o2);
    }
    bl_shaped_free(s);
}

static void test_justify(void)
{
    bl_face *serif = face(SERIF);
    bl_fontset fs = stack2(serif, NULL);
    /* "aa [bb](https://x) cc", tracking on: gaps after the first letter of each
     * word (never beside a space). */
    static const bl_span spans[] = {{0, 3, 0, NULL}, {3, 5, BL_STYLE_LINK, (char *)"https://x"}, {5, 8, 0, NULL}};
    bl_text_style st = style_of(&fs, 1, NULL);
    bl_shaped *s = bl_text_shape("aa bb cc", 8, spans, 3, "en", BL_DIR_LTR, &st, NULL, NULL, 0);
    if (!s) {
        CHECK(0, "aa bb cc shapes");
        return;
    }
    bl_line_out o;
    CHECK(bl_text_line(s, 0, 8, 0, 0, 0, &o) == 0 && o.nglyphs == 8, "aa bb cc is set");
    static const uint8_t flags[8] = {BL_GF_GAP, 0, BL_GF_SPACE, BL_GF_GAP, 0, BL_GF_SPACE, BL_GF_GAP, 0};
    int fl_ok = o.nglyphs == 8;
    for (size_t i = 0; fl_ok && i < 8; i++)
        fl_ok = o.flags[i] == flags[i];
    CHECK(fl_ok && o.nspaces == 2 && o.ngaps == 3, "flags: gap, -, space, gap, -, space, gap, - (%zu spaces, %zu gaps)",
          o.nspaces, o.ngaps);
    CHECK(o.nlinks == 1 && o.links[0].href && !strcmp(o.links[0].href, "https://x"), "one link");
    double x0[8], a0[8], w0 = o.width, lx = o.nlinks ? o.links[0].x : 0, lw = o.nlinks ? o.links[0].w : 0;
    for (size_t i = 0; i < 8 && i < o.nglyphs; i++)
        x0[i] = o.glyphs[i].x, a0[i] = o.glyphs[i].advance;
    CHECK(o.nlinks && near(lx, x0[3]) && near(lw, a0[3] + a0[4]), "the link box covers 'bb'");
    bl_line_out_adjust(&o, 2.0, 0.5, 10.0);
    /* shift = dx + 2 per space and 0.5 per gap to the glyph's left */
    static const double shift[8] = {10, 10.5, 10.5, 12.5, 13, 13, 15, 15.5};
    static const double grow[8] = {0.5, 0, 2, 0.5, 0, 2, 0.5, 0};
    for (size_t i = 0; i < 8 && i < o.nglyphs; i++)
        CHECK(near(o.glyphs[i].x - x0[i], shift[i]) && near(o.glyphs[i].advance - a0[i], grow[i]),
              "justified glyph %zu moved %.3f (want %.3f), grew %.3f (want %.3f)", i, o.glyphs[i].x - x0[i], shift[i],
              o.glyphs[i].advance - a0[i], grow[i]);
    CHECK(near(o.width, w0 + 2 * 2 + 3 * 0.5), "width %.3f = %.3f + 5.5", o.width, w0);
    CHECK(continuous(&o, 10), "justified: advances add up to the width");
    CHECK(o.nlinks && near(o.links[0].x, lx + 12.5) && near(o.links[0].w, lw + 0.5), "link moved with 'bb' (%.3f, %.3f)",
          o.nlinks ? o.links[0].x - lx : 0, o.nlinks ? o.links[0].w - lw : 0);
    bl_line_out_free(&o);
    bl_shaped_free(s);

    /* tracking off: no gaps, only spaces stretch */
    st.tracking = 0;
    s = shape("aa bb cc", "en", BL_DIR_LTR, &st, NULL);
    if (s && bl_text_line(s, 0, 8, 0, 0, 0, &o) == 0) {
        w0 = o.width;
        CHECK(o.ngaps == 0 && o.nspaces == 2, "no tracking: no gaps");
        bl_line_out_adjust(&o, 2.0, 0.5, 0);
        CHECK(near(o.width, w0 + 4) && continuous(&o, 0), "no tracking: width grows by the spaces only");
        bl_line_out_free(&o);
    }
    bl_shaped_free(s);

    /* a right-to-left line: the space between the words stretches */
    bl_face *he = face(SERIF_HE);
    bl_fontset hfs = stack2(he, serif);
    bl_text_style hst = style_of(&hfs, 0, NULL);
    s = shape("\u05E9\u05DC\u05D5\u05DD \u05E2\u05D5\u05DC\u05DD", "he", BL_DIR_RTL, &hst, NULL);
    if (s && bl_text_line(s, 0, s->len, 0, 0, 0, &o) == 0) {
        w0 = o.width;
        CHECK(o.nspaces == 1 && o.ngaps == 0, "Hebrew line: one space");
        bl_line_out_adjust(&o, 3.0, 1.0, 0);
        CHECK(near(o.width, w0 + 3) && advances_add_up(&o, 0), "Hebrew line: width grows by 3");
        /* the space is the glyph in the middle: everything left of it stays */
        CHECK(o.nglyphs == 9 && near(o.glyphs[3].x + o.glyphs[3].advance, o.glyphs[4].x) &&
                  near(o.glyphs[8].x + o.glyphs[8].advance, w0 + 3),
              "Hebrew line: right edge moved by 3");
        bl_line_out_free(&o);
    }
    bl_shaped_free(s);
}

/* The word cache (text-shape.c) must give exactly the glyphs of shaping
 * each run whole: every paragraph of the samples and the pointed fixture,
 * shaped with the cache off and on, glyph for glyph (id, cluster, advance,
 * offsets, unsafe-to-break flag), and the cache must really have served. */
static int same_shaping(const bl_shaped *x, const bl_shaped *y)
{
    if (x->nglyphs != y->nglyphs || x->nruns != y->nruns)
        return 0;
    for (size_t i = 0; i < x->nglyphs; i++) {
        const bl_sglyph *a = &x->glyphs[i], *b = &y->glyphs[i];
        if (a->gid != b->gid || a->cluster != b->cluster || a->adv != b->adv || a->dx != b->dx ||
            a->dy != b->dy || a->unsafe != b->unsafe)
            return 0;
    }
    return 1;
}

static void test_word_cache(void)
{
    static const char *const files[] = {"samples/mod-2021-11-24.en-he.md", "samples/mod-2021-11-24.fr-ar.md",
                                        "tests/data/src/pointed.md"};
    bl_fontset latin = stack2(face(SERIF), NULL), he = stack2(face(SERIF_HE), face(SERIF)),
               ar = stack2(face(NASKH), face(SERIF));
    size_t paras = 0, differ = 0, hyph_points = 0;
    unsigned long hits0, misses0, hits, misses;
    bl_text_word_cache_stats(&hits0, &misses0);
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        FILE *fp = fopen(files[f], "rb");
        CHECK(fp != NULL, "%s opens", files[f]);
        if (!fp)
            continue;
        char line[8192], para[16384], lang[16] = "en";
        size_t n = 0;
        for (int eof = 0; !eof;) {
            eof = !fgets(line, sizeof line, fp);
            if (!eof && !strncmp(line, "::: ", 4)) {
                snprintf(lang, sizeof lang, "%.*s", (int)strcspn(line + 4, " \r\n"), line + 4);
                continue;
            }
            if (!eof && line[0] != '\n' && line[0] != '-' && n + strlen(line) < sizeof para) {
                memcpy(para + n, line, strlen(line));
                n += strlen(line);
                if (para[n - 1] == '\n')
                    para[n - 1] = ' ';
                continue;
            }
            while (n && para[n - 1] == ' ')
                n--;
            if (n) {
                int rtl = !strcmp(lang, "he") || !strcmp(lang, "ar");
                bl_text_style st = style_of(!strcmp(lang, "he") ? &he : !strcmp(lang, "ar") ? &ar : &latin, 1, NULL);
                st.hyphenate = !rtl; /* and the hyphenation cache beside it */
                bl_text_word_cache(0);
                bl_shaped *x = bl_text_shape(para, n, NULL, 0, lang, rtl ? BL_DIR_RTL : BL_DIR_LTR, &st, NULL, NULL, 0);
                if (x)
                    bl_text_hyphenate(x);
                bl_text_word_cache(2);
                bl_shaped *y = bl_text_shape(para, n, NULL, 0, lang, rtl ? BL_DIR_RTL : BL_DIR_LTR, &st, NULL, NULL, 0);
                bl_shaped *z = bl_text_shape(para, n, NULL, 0, lang, rtl ? BL_DIR_RTL : BL_DIR_LTR, &st, NULL, NULL, 0);
                if (y && z) {
                    bl_text_hyphenate(y);
                    bl_text_hyphenate(z); /* every word from the cache */
                }
                paras++;
                if (!x || !y || !z || !same_shaping(x, y) || !same_shaping(x, z) || memcmp(x->hyph, y->hyph, n) ||
                    memcmp(x->hyph, z->hyph, n)) {
                    differ++;
                    fprintf(stderr, "word cache differs (%s, %s): %.60s\n", files[f], lang, para);
                }
                if (x && !rtl)
                    for (size_t k = 0; k < n; k++)
                        hyph_points += x->hyph[k];
                bl_shaped_free(x);
                bl_shaped_free(y);
                bl_shaped_free(z);
            }
            n = 0;
        }
        fclose(fp);
    }
    /* Crafted: left-to-right isolates of Arabic-script neutrals and digits in
     * Arabic (HarfBuzz keeps such a run left-to-right only because of its
     * digits, which a word alone may lack), marks after spaces, joiners. */
    static const char *const crafted[] = {
        "\xd9\x86\xd8\xb5 \xe2\x81\xa6 \xe2\x80\x94 \xcc\x81 1\xe2\x81\x84" "2\xe2\x81\xa9 \xd9\x86\xd8\xb5",
        "\xd9\x86\xd8\xb5 \xe2\x81\xa6 \xe2\x80\x94 1 \xe2\x81\xa9 \xd9\x86\xd8\xb5",
        "\xd9\x86\xd8\xb5 \xe2\x81\xa6 \xe2\x80\x94 \xe2\x80\x94 \xcc\x81 1\xe2\x81\x84" "2 \xe2\x81\xa9 \xd9\x86\xd8\xb5",
        "\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a \xe2\x80\x8d\xd8\xa8 \xd8\xa8\xe2\x80\x8d \xd9\x8b\xd8\xa8 12 \xd8\xa8",
    };
    bl_fontset serif_first = stack2(face(SERIF), face(NASKH)); /* neutrals and digits from Serif */
    for (size_t i = 0; i < sizeof crafted / sizeof crafted[0]; i++) {
        bl_text_style st = style_of(i % 2 ? &ar : &serif_first, 0, NULL);
        size_t n = strlen(crafted[i]);
        for (int pass = 0; pass < 2; pass++) { /* the second pass through a warm cache */
            bl_text_word_cache(0);
            bl_shaped *x = bl_text_shape(crafted[i], n, NULL, 0, "ar", BL_DIR_RTL, &st, NULL, NULL, 0);
            bl_text_word_cache(2);
            bl_shaped *y = bl_text_shape(crafted[i], n, NULL, 0, "ar", BL_DIR_RTL, &st, NULL, NULL, 0);
            paras++;
            if (!x || !y || !same_shaping(x, y)) {
                differ++;
                fprintf(stderr, "word cache differs (crafted %zu, pass %d)\n", i, pass);
            }
            bl_shaped_free(x);
            bl_shaped_free(y);
        }
    }
    bl_text_word_cache_stats(&hits, &misses);
    bl_text_word_cache(1);
    CHECK(paras >= 30, "the samples give %zu paragraphs", paras);
    CHECK(differ == 0, "%zu of %zu paragraphs shape or hyphenate differently through the caches", differ, paras);
    CHECK(hyph_points > 100, "the English and French paragraphs have %zu hyphenation points", hyph_points);
    CHECK(hits - hits0 > 300 && misses - misses0 > 100, "the cache served (%lu hits, %lu misses)", hits - hits0,
          misses - misses0);
}

/* Seeded random paragraphs over an alphabet chosen to stress the word
 * cache's conditions (scripts of both directions, digits, marks after
 * spaces, joiners, isolates, punctuation from the fallback face), in both
 * base directions and both stacks: the cache on and off must agree glyph
 * for glyph.  (A one-off fuzzer of this kind found the right-to-left-script
 * case piece_alone alone did not cover.) */
/* When the cache is tried (mode 1): not in a face's first document while it
 * has shaped less than 16 KB there, and from its second document on. */
static void test_word_cache_policy(void)
{
    char err[256];
    bl_face *fresh = bl_face_open(SERIF, err, sizeof err); /* no other test's uses */
    CHECK(fresh != NULL, "a fresh face: %s", err);
    if (!fresh)
        return;
    bl_fontset fs = stack2(fresh, NULL);
    bl_text_style st = style_of(&fs, 1, NULL);
    static const char text[] = "The agreement provides a solid framework that formalizes defense relations "
                               "between the countries and establishes a foundation for the agreement.";
    size_t n = sizeof text - 1;
    bl_text_word_cache(1);
    bl_text_next_document();
    unsigned long h0, m0, h1, m1, h2, m2;
    bl_text_word_cache_stats(&h0, &m0);
    bl_shaped *a = bl_text_shape(text, n, NULL, 0, "en", BL_DIR_LTR, &st, NULL, NULL, 0);
    bl_shaped *b = bl_text_shape(text, n, NULL, 0, "en", BL_DIR_LTR, &st, NULL, NULL, 0);
    bl_text_word_cache_stats(&h1, &m1);
    CHECK(h1 + m1 == h0 + m0, "first document: the cache is not tried (%lu lookups)", h1 + m1 - h0 - m0);
    bl_text_next_document();
    bl_shaped *c = bl_text_shape(text, n, NULL, 0, "en", BL_DIR_LTR, &st, NULL, NULL, 0);
    bl_shaped *d = bl_text_shape(text, n, NULL, 0, "en", BL_DIR_LTR, &st, NULL, NULL, 0);
    bl_text_word_cache_stats(&h2, &m2);
    CHECK(m2 > m1 && h2 > h1, "second document: words looked up (%lu misses, %lu hits)", m2 - m1, h2 - h1);
    CHECK(a && b && c && d && same_shaping(a, c) && same_shaping(a, d) && same_shaping(a, b),
          "the same glyphs either way");
    bl_shaped_free(a);
    bl_shaped_free(b);
    bl_shaped_free(c);
    bl_shaped_free(d);
    bl_face_drop(fresh);
}

static void test_word_cache_random(void)
{
    static const char *const atoms[] = {
        "a", "b", "fi", "The", "\xc3\xa9", "\xd7\x90", "\xd7\xa9\xd7\x9c", "\xd7\x91\xd6\xbc",
        "\xd8\xa8", "\xd8\xb9\xd8\xb1", "\xd9\x84\xd8\xa7", "\xd9\x8e", "\xd9\x91", "\xcc\x81", "1", "23",
        "\xd9\xa3", ".", ",", "(", ")", "\xe2\x80\x94", "\xe2\x80\x8d", "\xe2\x80\x8c", "\xe2\x81\xa6",
        "\xe2\x81\xa7", "\xe2\x81\xa9", " ", " ", " ", "  ", "-", "\xd9\x80",
    };
    const size_t natoms = sizeof atoms / sizeof atoms[0];
    bl_fontset ar = stack2(face(NASKH), face(SERIF)), he = stack2(face(SERIF_HE), face(SERIF)),
               serif_first = stack2(face(SERIF), face(NASKH));
    const bl_fontset *stacks[] = {&ar, &he, &serif_first};
    uint32_t seed = 12345;
    size_t paras = 0, differ = 0;
    for (int round = 0; round < 1500; round++) {
        char text[400];
        size_t n = 0;
        seed = seed * 1103515245u + 12345u;
        int len = 3 + (int)(seed >> 16) % 24;
        for (int k = 0; k < len; k++) {
            seed = seed * 1103515245u + 12345u;
            const char *a = atoms[(seed >> 16) % natoms];
            size_t al = strlen(a);
            if (n + al >= sizeof text)
                break;
            memcpy(text + n, a, al);
            n += al;
        }
        bl_text_style st = style_of(stacks[round % 3], round % 2, NULL);
        int dir = round % 4 == 3 ? BL_DIR_AUTO : (round / 3) % 2 ? BL_DIR_RTL : BL_DIR_LTR;
        const char *lang = round % 3 == 1 ? "he" : "ar";
        bl_text_word_cache(0);
        bl_shaped *x = bl_text_shape(text, n, NULL, 0, lang, dir, &st, NULL, NULL, 0);
        bl_text_word_cache(2);
        bl_shaped *y = bl_text_shape(text, n, NULL, 0, lang, dir, &st, NULL, NULL, 0);
        paras++;
        if (!x || !y || !same_shaping(x, y)) {
            if (differ++ < 5)
                fprintf(stderr, "word cache differs (random %d): %.*s\n", round, (int)n, text);
        }
        bl_shaped_free(x);
        bl_shaped_free(y);
    }
    bl_text_word_cache(1);
    CHECK(differ == 0, "%zu of %zu random paragraphs shape differently through the word cache", differ, paras);
}

/* The text engine's scripts and categories (HarfBuzz's Unicode data) are
 * ICU's, for every code point. */
static void test_unicode_data(void)
{
    long scripts = 0, cats = 0;
    for (UChar32 c = 0; c <= 0x10FFFF; c++) {
        UErrorCode ue = U_ZERO_ERROR;
        UScriptCode sc = uscript_getScript(c, &ue);
        hb_script_t want = U_SUCCESS(ue) ? hb_script_from_string(uscript_getShortName(sc), -1) : HB_SCRIPT_INVALID;
        if ((hb_script_t)bl_text_script((uint32_t)c) != want && scripts++ < 5)
            CHECK(0, "U+%04X: script %d, ICU's %s", (unsigned)c, bl_text_script((uint32_t)c), uscript_getShortName(sc));
        if (bl_text_category((uint32_t)c) != u_charType(c) && cats++ < 5)
            CHECK(0, "U+%04X: category %d, ICU's %d", (unsigned)c, bl_text_category((uint32_t)c), u_charType(c));
    }
    CHECK(scripts == 0 && cats == 0, "scripts and categories as ICU's for all 1,114,112 code points (%ld, %ld differ)",
          scripts, cats);
    CHECK((hb_script_t)bl_text_script(0x5D0) == HB_SCRIPT_HEBREW && bl_text_category(0x301) == U_NON_SPACING_MARK &&
              (hb_script_t)bl_text_script('a') == HB_SCRIPT_LATIN && bl_text_category('A') == U_UPPERCASE_LETTER,
          "alef is Hebrew, U+0301 a mark, a Latin, A upper case");
}

int main(void)
{
    test_unicode_data();
    test_shape_table();
    test_kerning();
    test_arabic_digits();
    test_mirroring();
    test_fallback();
    test_missing();
    test_line_mixed();
    test_line_hyphen();
    test_line_ligature_cut();
    test_justify();
    test_word_cache();
    test_word_cache_policy();
    test_word_cache_random();
    bl_face_cache_clear();
    bl_hyphen_shutdown();
    return bl_test_done();
}
