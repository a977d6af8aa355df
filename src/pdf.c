/* pdf.c - the PDF writer: a bl_device on libharu.  Pages, rules, rectangles,
 * images, links, outlines and metadata go through libharu's page API; glyph
 * runs are written as raw text operators (Td, Tc, Tw and TJ) into the page's
 * content stream, in our own fonts (pdf-font.c).  A group (draw.h) is
 * recorded into a stream of its own and becomes a Form XObject, shown on
 * the page with Do, made once for every distinct group in the document.
 * Each page's content stream is deflated when the page ends (pdf-zip.c),
 * so that only compressed pages wait for the save.  libharu's failures
 * reach us through an error handler that only records them: nothing jumps.
 * The writer's state is in pdf-internal.h; the file is written by
 * pdf-save.c. */
#include "pdf-internal.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "image.h"
#include "pdf-font.h"

/* Positions and font sizes are written to 0.001 pt. */
#define POS_DEC 3
#define SIZE_DEC 3
/* How far a TJ adjustment's rounding may leave a glyph from its requested
 * position, in points.  The read-back checks allow 0.01 pt; single-precision
 * readers (MuPDF) add their own error of up to ~0.001 pt along a line. */
#define ADJ_BUDGET 0.001
#define ADJ_MAX_DEC 3
/* Character spacing (Tc) is written to 0.0001 pt: it is added after every
 * glyph, so its rounding adds up along a line until a TJ adjustment takes
 * it back (0.001 pt leaves most words needing one; more decimals cost more
 * than the few adjustments they save). */
#define TC_DEC 4
/* A new Tc ("0.0435 Tc") costs about as much as two TJ adjustments: it
 * must save at least that many. */
#define TC_MIN_GAIN 2
/* Sane bounds for what the layout hands us (PDF user space). */
#define MAX_COORD 1e6
#define MIN_FONT_SIZE 0.01
#define MAX_FONT_SIZE 10000.0
/* A group's stream grows by this many bytes at a time (a page's
 * furniture is about 2 KB). */
#define GROUP_CHUNK 4096


int bl_pdf_fail(bl_pdf *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof p->err, fmt, ap);
    va_end(ap);
    return -1;
}

/* libharu's error handler: record, return (libharu then unwinds by return
 * codes).  Never longjmp out of libharu. */
static void on_hpdf_error(HPDF_STATUS code, HPDF_STATUS detail, void *user)
{
    bl_pdf *p = user;
    if (!p->hcode) {
        p->hcode = code;
        p->hdetail = detail;
    }
}

/* After libharu calls: public functions report through the handler, the
 * object layer only through the document's error state.  Either way the
 * document is then poisoned (libharu's streams skip writes once an error is
 * set), so the failure is sticky. */
int bl_pdf_hcheck(bl_pdf *p, const char *what)
{
    HPDF_STATUS code = p->hcode, detail = p->hdetail;
    if (!code) {
        code = HPDF_GetError(p->doc);
        detail = HPDF_GetErrorDetail(p->doc);
    }
    if (!code)
        return 0;
    p->failed = 1;
    return bl_pdf_fail(p, "%s: %s (libharu error 0x%04X, detail %u)", what, bl_pdf_hpdf_status_name(code),
                (unsigned)code, (unsigned)detail);
}

static int usable(bl_pdf *p, const char *what, int need_page)
{
    if (p->failed)
        return -1; /* keep the first message */
    if (need_page && !p->page)
        return bl_pdf_fail(p, "%s: no page is open (begin_page first)", what);
    return 0;
}


static int end_text(bl_pdf *p)
{
    if (page_attr(p)->gmode == HPDF_GMODE_TEXT_OBJECT) {
        HPDF_Page_EndText(p->page);
        return bl_pdf_hcheck(p, "ending a text object");
    }
    return 0;
}

static double clamp01(double v) { return v > 0 ? (v < 1 ? v : 1) : 0; }

static const double black[3] = {0, 0, 0};

/* Colours and paths are written here, not through libharu's operators,
 * each of which clears a 512-byte buffer byte by byte first (HPDF_MemSet:
 * 1% of a batch).  Outside a text object, as libharu's would be. */
#define COLOR_DEC 3
#define PATH_DEC 3

static void put_ops(bl_pdf *p, const char *ops, size_t n)
{
    HPDF_Stream_Write(page_attr(p)->stream, (const HPDF_BYTE *)ops, (HPDF_UINT)n);
}

static char *put_str(char *o, const char *s)
{
    size_t n = strlen(s);
    memcpy(o, s, n);
    return o + n;
}

/* Writes n numbers (dec decimals), each followed by a space, then op;
 * returns the end. */
static char *put_nums(char *o, const double *v, int n, int dec, const char *op)
{
    for (int i = 0; i < n; i++) {
        o = bl_pdf_fmt(o, v[i], dec);
        *o++ = ' ';
    }
    return put_str(o, op);
}

static void set_fill(bl_pdf *p, const double rgb[3])
{
    if (!rgb)
        rgb = black;
    double c[3] = {clamp01(rgb[0]), clamp01(rgb[1]), clamp01(rgb[2])};
    if (p->fill_set && c[0] == p->fill[0] && c[1] == p->fill[1] && c[2] == p->fill[2])
        return;
    char buf[64];
    put_ops(p, buf, (size_t)(put_nums(buf, c, 3, COLOR_DEC, "rg\n") - buf));
    memcpy(p->fill, c, sizeof c);
    p->fill_set = 1;
}

static int finite_all(const double *v, int n, double bound)
{
    for (int i = 0; i < n; i++)
        if (!(fabs(v[i]) <= bound))
            return 0;
    return 1;
}

/* The page's content-stream state (fill colour, font, Tc) is kept aside
 * while a group is recorded: a form is shown in whatever state the page
 * has where its Do is, on any page, so the group writes its own from
 * nothing known; and Do saves and restores the graphics state around
 * the form (PDF 32000-1 8.10.1), so that after it the page has the state
 * it had before, which page_ts gives back.  Only the text object does
 * not survive: Do is not allowed inside one, so the page's is ended
 * first, and the group's at its end. */
static void save_text_state(const bl_pdf *p, text_state *t)
{
    *t = (text_state){p->tf_font, p->tf_size, {p->fill[0], p->fill[1], p->fill[2]}, p->fill_set, p->tc, p->tc_set,
                      p->tw, p->tw_set};
}

/* Where nothing has been written: no font, no fill colour, Tc and Tw 0
 * (known: at a page's start, where the content stream begins in the
 * default state) or unknown (in a group: see save_text_state). */
static void reset_text_state(bl_pdf *p, int known)
{
    p->tf_font = NULL;
    p->fill_set = 0;
    p->tc = p->tw = 0;
    p->tc_set = p->tw_set = known;
}

static void restore_text_state(bl_pdf *p, const text_state *t)
{
    p->tf_font = t->tf_font;
    p->tf_size = t->tf_size;
    memcpy(p->fill, t->fill, sizeof p->fill);
    p->fill_set = t->fill_set;
    p->tc = t->tc;
    p->tc_set = t->tc_set;
    p->tw = t->tw;
    p->tw_set = t->tw_set;
}

/* Closes the open group: the page writes to its own stream again, in the
 * state it had, outside a text object (group_begin ended the page's; a
 * group's own that is still open, when end_page drops it, goes with it).
 * Returns the group's stream (the caller frees it). */
static HPDF_Stream close_group(bl_pdf *p)
{
    HPDF_Stream g = p->group;
    page_attr(p)->stream = p->page_stream;
    page_attr(p)->gmode = HPDF_GMODE_PAGE_DESCRIPTION;
    p->group = p->page_stream = NULL;
    restore_text_state(p, &p->page_ts);
    return g;
}

/* ---- pages ---------------------------------------------------------- */

static int dev_begin_page(bl_device *d, double width, double height)
{
    bl_pdf *p = (bl_pdf *)d;
    if (usable(p, "begin_page", 0))
        return -1;
    if (p->page)
        return bl_pdf_fail(p, "begin_page: the previous page was not ended");
    /* libharu's limits for a page side (and Acrobat's): 3 to 14400 pt. */
    if (!(width >= 3 && width <= 14400 && height >= 3 && height <= 14400))
        return bl_pdf_fail(p, "page size %g x %g pt is outside 3..14400 pt", width, height);
    if (bl_grow(&p->pages, &p->cappages, p->npages + 1, sizeof *p->pages))
        return bl_pdf_fail(p, "out of memory");
    HPDF_Page page = HPDF_AddPage(p->doc);
    if (page) {
        HPDF_Page_SetWidth(page, (HPDF_REAL)width);
        HPDF_Page_SetHeight(page, (HPDF_REAL)height);
        /* libharu gives every page's resources a /ProcSet, which PDF 1.4
         * made obsolete (PDF 32000-1 14.2): readers ignore it. */
        HPDF_Dict res = HPDF_Dict_GetItem(page, "Resources", HPDF_OCLASS_DICT);
        if (res)
            HPDF_Dict_RemoveElement(res, "ProcSet");
    }
    if (bl_pdf_hcheck(p, "adding a page"))
        return -1;
    p->pages[p->npages++] = (pdf_page_ref){page, width, height};
    p->page = page;
    p->page_fonts = 0;
    reset_text_state(p, 1);
    return 0;
}

/* Pages whose resources hold the same things (the document's fonts, the
 * same forms and images under the same names) share one indirect
 * resource dictionary: a packet's pages come in a few such sets, and a
 * page then says "/Resources 9 0 R" instead of listing them again.  Done
 * when a page is finished: libharu's drawing calls add to the open page's
 * own dictionary.  A page whose set no other page has keeps its own; a
 * dictionary with anything else than /Font and /XObject too. */
static int share_resources(bl_pdf *p)
{
    HPDF_Dict res = HPDF_Dict_GetItem(p->page, "Resources", HPDF_OCLASS_DICT);
    if (!res)
        return 0;
    bl_buf *k = &p->res_key;
    k->len = 0;
    int bad = 0;
    for (HPDF_UINT i = 0; i < res->list->count; i++) {
        const HPDF_DictElement e = HPDF_List_ItemAt(res->list, i);
        const HPDF_Obj_Header *v = e->value;
        if (!strcmp(e->key, "Font") && v->obj_class == HPDF_OCLASS_PROXY && ((HPDF_Proxy)e->value)->obj == p->font_res) {
            bad |= bl_buf_puts(k, "F;");
        } else if (!strcmp(e->key, "XObject") && (v->obj_class & HPDF_OCLASS_ANY) == HPDF_OCLASS_DICT) {
            HPDF_Dict xo = e->value;
            for (HPDF_UINT j = 0; j < xo->list->count; j++) {
                const HPDF_DictElement x = HPDF_List_ItemAt(xo->list, j);
                const HPDF_Obj_Header *xv = x->value;
                if (xv->obj_class != HPDF_OCLASS_PROXY)
                    return 0;
                const HPDF_Obj_Header *target = ((HPDF_Proxy)x->value)->obj;
                bad |= bl_buf_printf(k, "%s=%u;", x->key, (unsigned)(target->obj_id & 0x00FFFFFF));
            }
        } else {
            return 0;
        }
    }
    if (bad || bl_buf_append(k, "", 1))
        return bl_pdf_fail(p, "out of memory");
    pdf_shared_res *s = NULL;
    for (size_t i = 0; i < p->nshared && !s; i++)
        if (!strcmp(p->shared[i].key, k->data))
            s = &p->shared[i];
    if (!s) { /* the first page with this set keeps its own, for now */
        if (bl_grow(&p->shared, &p->capshared, p->nshared + 1, sizeof *p->shared))
            return bl_pdf_fail(p, "out of memory");
        char *key = malloc(k->len);
        if (!key)
            return bl_pdf_fail(p, "out of memory");
        memcpy(key, k->data, k->len);
        p->shared[p->nshared++] = (pdf_shared_res){key, p->page, NULL};
        return 0;
    }
    if (!s->dict) { /* a second page: the set becomes an indirect dictionary */
        HPDF_Dict d = HPDF_Dict_New(p->doc->mmgr);
        if (d && HPDF_Xref_Add(p->doc->xref, d) == HPDF_OK) {
            HPDF_STATUS st = HPDF_OK;
            for (HPDF_UINT i = 0; i < res->list->count && st == HPDF_OK; i++) {
                const HPDF_DictElement e = HPDF_List_ItemAt(res->list, i);
                if (!strcmp(e->key, "Font")) {
                    st = HPDF_Dict_Add(d, "Font", p->font_res);
                } else {
                    HPDF_Dict xo = e->value, copy = HPDF_Dict_New(p->doc->mmgr);
                    st = copy ? HPDF_Dict_Add(d, "XObject", copy) : HPDF_FAILD_TO_ALLOC_MEM;
                    for (HPDF_UINT j = 0; j < xo->list->count && st == HPDF_OK; j++) {
                        const HPDF_DictElement x = HPDF_List_ItemAt(xo->list, j);
                        st = HPDF_Dict_Add(copy, x->key, ((HPDF_Proxy)x->value)->obj);
                    }
                }
            }
            HPDF_PageAttr fa = (HPDF_PageAttr)s->first->attr;
            if (st == HPDF_OK && HPDF_Dict_Add(s->first, "Resources", d) == HPDF_OK) {
                fa->fonts = fa->xobjects = NULL;
                s->dict = d;
            }
        }
        if (bl_pdf_hcheck(p, "sharing page resources"))
            return -1;
        if (!s->dict)
            return bl_pdf_fail(p, "out of memory");
    }
    /* The page's own dictionary goes (libharu frees it); so do the
     * page's pointers into it, which nothing uses after end_page. */
    HPDF_PageAttr a = page_attr(p);
    a->fonts = a->xobjects = NULL;
    HPDF_Dict_Add(p->page, "Resources", s->dict);
    return bl_pdf_hcheck(p, "sharing page resources");
}

static int dev_end_page(bl_device *d)
{
    bl_pdf *p = (bl_pdf *)d;
    if (usable(p, "end_page", 1))
        return -1;
    if (p->group) { /* the group is dropped: the page goes on without it */
        HPDF_Stream_Free(close_group(p));
        return bl_pdf_fail(p, "end_page: a group is open (group_end first)");
    }
    if (end_text(p) || bl_pdf_deflate_page(p) || share_resources(p))
        return -1;
    p->page = NULL;
    return 0;
}

/* ---- glyph runs ----------------------------------------------------- */

/* Whether face's font in p is compact (pdf-font.h): else Identity-H. */
static int compact_for(const bl_pdf *p, const bl_face *face)
{
    return !p->identity_h && face->num_glyphs <= BL_PDF_COMPACT_GLYPHS;
}

static bl_pdf_font *font_for(bl_pdf *p, bl_face *face)
{
    if (p->last_font && p->last_font->face == face)
        return p->last_font;
    for (size_t i = 0; i < p->nfonts; i++)
        if (p->fonts[i]->face == face)
            return p->last_font = p->fonts[i];
    if (bl_grow(&p->fonts, &p->capfonts, p->nfonts + 1, sizeof *p->fonts)) {
        bl_pdf_fail(p, "out of memory");
        return NULL;
    }
    char why[300];
    if (!p->font_res) {
        HPDF_Dict res = HPDF_Dict_New(p->doc->mmgr);
        /* HPDF_Xref_Add frees the object when it fails. */
        if (res && HPDF_Xref_Add(p->doc->xref, res) == HPDF_OK)
            p->font_res = res;
        else if (!HPDF_GetError(p->doc))
            HPDF_SetError(&p->doc->error, HPDF_FAILD_TO_ALLOC_MEM, 0);
        if (bl_pdf_hcheck(p, "making the font resources"))
            return NULL;
    }
    int compact = compact_for(p, face);
    if (compact && !p->cmap && !(p->cmap = bl_pdf_compact_cmap(p->doc, p->compress, why, sizeof why))) {
        bl_pdf_fail(p, "font %s: %s", face->label, why);
        p->failed = p->hcode || HPDF_GetError(p->doc);
        return NULL;
    }
    bl_pdf_font *f = bl_pdf_font_new(p->doc, face, (unsigned)p->nfonts, compact ? p->cmap : NULL, why, sizeof why);
    if (!f) {
        bl_pdf_fail(p, "font %s: %s", face->label, why);
        p->failed = p->hcode || HPDF_GetError(p->doc);
        return NULL;
    }
    p->fonts[p->nfonts++] = f;
    snprintf(f->local_name, sizeof f->local_name, "F%zu", p->nfonts);
    if (HPDF_Dict_Add(p->font_res, f->local_name, f->type0) != HPDF_OK && !HPDF_GetError(p->doc))
        HPDF_SetError(&p->doc->error, HPDF_FAILD_TO_ALLOC_MEM, 0);
    if (bl_pdf_hcheck(p, "adding a font to the resources"))
        return NULL;
    return p->last_font = f;
}

/* Text is about to be shown: the open page's resources (or the open
 * group's form's) must name the document's /Font dictionary. */
static int use_fonts(bl_pdf *p)
{
    if (p->group)
        p->group_fonts = 1;
    if (p->group || p->page_fonts)
        return 0;
    HPDF_Dict res = HPDF_Dict_GetItem(p->page, "Resources", HPDF_OCLASS_DICT);
    if (!res || HPDF_Dict_Add(res, "Font", p->font_res) != HPDF_OK) {
        if (!HPDF_GetError(p->doc))
            HPDF_SetError(&p->doc->error, HPDF_FAILD_TO_ALLOC_MEM, 0);
    }
    if (bl_pdf_hcheck(p, "adding the fonts to the page"))
        return -1;
    p->page_fonts = 1;
    return 0;
}

static const char hexdig[] = "0123456789ABCDEF";

/* A 1- or 2-byte code as part of a literal string (PDF 32000-1 7.3.4.2):
 * backslash and parentheses escaped, and CR and LF too, since an unescaped
 * end of line inside a string reads back as LF. */
static char *put_code(char *o, unsigned code, int len)
{
    for (int shift = 8 * (len - 1); shift >= 0; shift -= 8) {
        char c = (char)(code >> shift & 0xFF);
        switch (c) {
        case '(': case ')': case '\\': *o++ = '\\'; *o++ = c; break;
        case '\r': *o++ = '\\'; *o++ = 'r'; break;
        case '\n': *o++ = '\\'; *o++ = 'n'; break;
        default: *o++ = c;
        }
    }
    return o;
}

static const double pow10d[] = {1, 10, 100, 1000};

/* The TJ adjustment, in thousandths of text space (PDF 32000-1 9.4.4), that
 * takes the pen (points, where the previous glyph's /W width and the
 * character spacing left it) to x: n / 10^dec.  None (0) when the pen is
 * within ADJ_BUDGET of x already (a line's first adjustment is otherwise
 * nearly always the rounding of its Td, e.g. "0.04"); else the shortest
 * number (integer, then 1, 2, 3 decimals) that lands within the budget. */
static int adjust_for(double pen, double x, double k, long long *n, int *dec)
{
    double want = pen - x;
    if (fabs(want) <= ADJ_BUDGET)
        return 0;
    for (int d = 0;; d++) {
        *n = llround(want / k * pow10d[d]);
        *dec = d;
        if (fabs((double)*n / pow10d[d] * k - want) <= ADJ_BUDGET || d == ADJ_MAX_DEC)
            break;
    }
    return *n != 0;
}

/* Writes the adjustment to x inside a TJ string (")n(").  The pen follows
 * the number as written, so a glyph's rounding error is corrected at the
 * next glyph and never adds up. */
static char *put_adjust(char *o, double *pen, double x, double k)
{
    long long n;
    int d;
    if (!adjust_for(*pen, x, k, &n, &d))
        return o;
    *o++ = ')';
    o = bl_pdf_fmt_fixed(o, n, d);
    *o++ = '(';
    *pen -= (double)n / pow10d[d] * k;
    return o;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* How many gaps a character spacing of t leaves (nearly) without a TJ
 * adjustment: those within ADJ_BUDGET / 2 of it. */
static size_t tc_fits(const double *gap, size_t n, double t)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += fabs(gap[i] - t) <= ADJ_BUDGET / 2;
    return c;
}

/* The character spacing (Tc) for one segment, given its n gaps: the
 * distance from where each glyph's /W advance ends to where the next glyph
 * starts.  Justified lines letter-space every cluster by the same amount,
 * and Tc adds exactly that after every glyph, so that TJ adjustments are
 * left for the exceptions (spaces, marks, kerning).  The candidate is the
 * mean of the largest set of gaps that lie within ADJ_BUDGET of each other;
 * it replaces the spacing in force (cur) only when it fits TC_MIN_GAIN more
 * gaps than cur does, and 0 is taken instead when 0 fits as many.  Returns
 * the spacing as written (rounded to TC_DEC decimals).  Sorts gap. */
static double segment_tc(double *gap, size_t n, double cur)
{
    if (n == 0)
        return cur;
    /* Most segments keep the spacing in force (0 in unjustified text): no
     * other value could win by TC_MIN_GAIN. */
    size_t fits_cur = tc_fits(gap, n, cur);
    if (fits_cur + TC_MIN_GAIN > n)
        return cur;
    if (n <= 96) { /* a line's worth: insertion sort beats qsort's calls */
        for (size_t i = 1; i < n; i++) {
            double v = gap[i];
            size_t j = i;
            for (; j > 0 && gap[j - 1] > v; j--)
                gap[j] = gap[j - 1];
            gap[j] = v;
        }
    } else {
        qsort(gap, n, sizeof *gap, cmp_double);
    }
    size_t best = 0, at = 0;
    for (size_t a = 0, b = 0; a < n; a++) {
        while (b < n && gap[b] - gap[a] <= ADJ_BUDGET)
            b++;
        if (b - a > best) {
            best = b - a;
            at = a;
        }
    }
    if (best < fits_cur + TC_MIN_GAIN)
        return cur;
    if (tc_fits(gap, n, 0) >= best)
        return 0;
    double sum = 0;
    for (size_t i = at; i < at + best; i++)
        sum += gap[i];
    return bl_pdf_round(sum / (double)best, TC_DEC);
}

/* Points to thousandths, for |v| <= MAX_COORD; half away from zero, as
 * llround, without its call (two per glyph). */
static long long milli(double v)
{
    double s = v * 1000.0;
    return (long long)(s < 0 ? s - 0.5 : s + 0.5);
}

/* Each glyph lands at its requested (x, y) within ADJ_BUDGET.  Per segment
 * of glyphs on one baseline: "dx dy Td" from the previous line start (the
 * text object keeps one line matrix across runs, so this is short and
 * exact), unless the segment starts where the previous TJ left the pen on
 * the same baseline (a font change inside a line); "x Tc" when the
 * segment's letter spacing differs from the one in force; then one TJ of
 * literal strings whose adjustments correct the pen from where the font's
 * own advance (the /W width, which is what a reader uses) plus Tc leaves
 * it to where the next glyph is.  A reader adds Tc after every glyph,
 * zero-width marks and a TJ's last glyph included (PDF 32000-1 9.3.2,
 * 9.4.4), and so does the pen here. */
static int dev_glyph_run(bl_device *d, const bl_glyph_run *run)
{
    bl_pdf *p = (bl_pdf *)d;
    if (usable(p, "glyph_run", 1))
        return -1;
    if (!run || !run->face)
        return bl_pdf_fail(p, "glyph_run: no font face");
    if (run->n == 0)
        return 0;
    if (!run->glyphs)
        return bl_pdf_fail(p, "glyph_run: no glyphs");
    if (!(run->size >= MIN_FONT_SIZE && run->size <= MAX_FONT_SIZE))
        return bl_pdf_fail(p, "glyph_run: font size %g pt is outside %g..%g", run->size, MIN_FONT_SIZE, MAX_FONT_SIZE);
    if (run->n > SIZE_MAX / 160 - 8)
        return bl_pdf_fail(p, "glyph_run: too many glyphs");
    const unsigned nglyphs = run->face->num_glyphs;
    const bl_glyph *g = run->glyphs;
    for (size_t i = 0; i < run->n; i++) {
        const bl_glyph *gl = &g[i];
        if (!(fabs(gl->x) <= MAX_COORD && fabs(gl->y) <= MAX_COORD))
            return bl_pdf_fail(p, "glyph_run: glyph %zu has an invalid position (%g, %g)", i, gl->x, gl->y);
        if (gl->gid >= nglyphs)
            return bl_pdf_fail(p, "glyph_run: glyph id %u is not in font %s (%u glyphs)", gl->gid, run->face->label,
                        nglyphs);
        if (gl->text_len && (!run->text || gl->text_start > run->text_len ||
                             gl->text_len > run->text_len - gl->text_start))
            return bl_pdf_fail(p, "glyph_run: glyph %zu's text (%u+%u) is outside the run's text (%zu bytes)", i,
                        (unsigned)gl->text_start, (unsigned)gl->text_len, run->text_len);
    }
    bl_pdf_font *font = font_for(p, run->face);
    if (!font)
        return -1;

    if (page_attr(p)->gmode != HPDF_GMODE_TEXT_OBJECT) {
        HPDF_Page_BeginText(p->page);
        p->tl_x = p->tl_y = 0; /* BT: the line matrix is the identity */
        p->pen_ok = 0;
    }
    set_fill(p, run->rgb);
    if (bl_pdf_hcheck(p, "starting a text object"))
        return -1;

    /* Worst case per glyph: a new Td line (~50 bytes), a Tc and a Tw
     * (~28 each), a TJ adjustment (~24) and the escaped code (6). */
    bl_buf *b = &p->scratch;
    b->len = 0;
    if (bl_grow(&b->data, &b->cap, run->n * 160 + 256, 1) || bl_grow(&p->rg, &p->caprg, run->n, sizeof *p->rg) ||
        bl_grow(&p->gaps, &p->capgaps, 2 * run->n, sizeof *p->gaps))
        return bl_pdf_fail(p, "out of memory");
    char *o = b->data;

    double size = bl_pdf_round(run->size, SIZE_DEC);
    if (p->tf_font != font || p->tf_size != size) {
        if (use_fonts(p))
            return -1;
        *o++ = '/';
        o = put_str(o, font->local_name);
        *o++ = ' ';
        o = bl_pdf_fmt(o, size, SIZE_DEC);
        o = put_str(o, " Tf\n");
    }

    const double k = size / 1000.0; /* one glyph-space unit in points */
    struct run_glyph *rg = p->rg;
    for (size_t i = 0; i < run->n; i++) {
        const bl_glyph *gl = &g[i];
        const char *text = gl->text_len ? run->text + gl->text_start : NULL;
        const bl_pdf_code *c = bl_pdf_font_code(font, gl->gid, text, gl->text_len);
        if (!c)
            return bl_pdf_fail(p, "out of memory");
        rg[i] = (struct run_glyph){c->code, (uint8_t)c->len, (uint8_t)bl_pdf_code_is_space(c), 0, c->width * k};
    }

    long long lx = p->tl_x, ly = p->tl_y;
    int pen_ok = p->pen_ok, tc_set = p->tc_set, tw_set = p->tw_set;
    double pen = p->pen_x, tc = p->tc_set ? p->tc : 0, tw = p->tw_set ? p->tw : 0;
    size_t i = 0;
    while (i < run->n) {
        long long xm = milli(g[i].x), ym = milli(g[i].y);
        size_t end = i + 1;
        while (end < run->n && milli(g[end].y) == ym)
            end++;
        /* On the baseline of the last TJ the pen can go on from where that
         * left it: with no Td at all when it is where this segment starts
         * (a font change inside a line), else with a leading adjustment
         * when that is shorter than "dx 0 Td" (the line start then stays
         * where the last Td put it). */
        long long an = 0;
        int ad = 0, lead = 0, td = 1;
        if (pen_ok && ym == ly) {
            lead = adjust_for(pen, g[i].x, k, &an, &ad);
            char na[32], nt[32];
            td = lead && bl_pdf_fmt_fixed(na, an, ad) - na >= bl_pdf_fmt_fixed(nt, xm - lx, POS_DEC) - nt + 5;
        }
        if (td) {
            lead = 0;
            o = bl_pdf_fmt_fixed(o, xm - lx, POS_DEC);
            *o++ = ' ';
            o = bl_pdf_fmt_fixed(o, ym - ly, POS_DEC);
            o = put_str(o, " Td");
            lx = xm;
            ly = ym;
            pen = (double)xm / 1000.0;
        }
        /* A space between two glyphs of the segment is left where the pen
         * puts it: the adjustment that would place it (the letter spacing
         * a justified line gives every glyph but the one before a space)
         * goes into the gap after it instead, which Tw can then take for
         * every space of the line.  The space glyph draws nothing; the
         * glyph after it lands exactly. */
        for (size_t j = i + 1; j + 1 < end; j++) /* (the first and the last are never free) */
            rg[j].free = rg[j].space && !rg[j - 1].free;
        /* Tc from the gaps between glyphs that are not spaces (nor before a
         * free space), Tw from those after spaces, given that Tc. */
        double *tcg = p->gaps, *twg = p->gaps + run->n;
        size_t ntc = 0, ntw = 0;
        int spaces = 0;
        for (size_t j = i; j < end; j++)
            spaces |= rg[j].space;
        for (size_t j = i; j + 1 < end; j++)
            if (!rg[j].space && !rg[j + 1].free)
                tcg[ntc++] = g[j + 1].x - g[j].x - rg[j].adv;
        double t = segment_tc(tcg, ntc, tc);
        for (size_t j = i; j + 1 < end; j++)
            if (rg[j].space)
                twg[ntw++] = rg[j].free ? g[j + 1].x - g[j - 1].x - rg[j - 1].adv - rg[j].adv - 2 * t
                                        : g[j + 1].x - g[j].x - rg[j].adv - t;
        double w = segment_tc(twg, ntw, tw);
        if (t != tc || !tc_set) { /* unknown in a form until written, even 0 */
            if (o > b->data && o[-1] != '\n') /* the stream so far ends a line */
                *o++ = ' ';
            o = bl_pdf_fmt(o, t, TC_DEC);
            o = put_str(o, " Tc");
            tc = t;
            tc_set = 1;
        }
        if ((ntw && w != tw) || (spaces && !tw_set)) { /* as Tc in a form */
            if (o > b->data && o[-1] != '\n')
                *o++ = ' ';
            o = bl_pdf_fmt(o, w, TC_DEC);
            o = put_str(o, " Tw");
            tw = w;
            tw_set = 1;
        }
        *o++ = '[';
        if (lead) {
            o = bl_pdf_fmt_fixed(o, an, ad);
            pen -= (double)an / pow10d[ad] * k;
        }
        *o++ = '(';
        for (size_t j = i; j < end; j++) {
            if (j != i && !rg[j].free)
                o = put_adjust(o, &pen, g[j].x, k);
            o = put_code(o, rg[j].code, rg[j].len);
            pen += rg[j].adv + tc + (rg[j].space ? tw : 0);
        }
        o = put_str(o, ")]TJ\n");
        pen_ok = 1;
        i = end;
    }
    b->len = (size_t)(o - b->data);
    HPDF_Stream_Write(page_attr(p)->stream, (const HPDF_BYTE *)b->data, (HPDF_UINT)b->len);
    if (bl_pdf_hcheck(p, "writing a glyph run"))
        return -1;
    /* Only now: an error above returns before anything reached the page. */
    p->tf_font = font;
    p->tf_size = size;
    p->tl_x = lx;
    p->tl_y = ly;
    p->pen_ok = pen_ok;
    p->pen_x = pen;
    p->tc = tc;
    p->tc_set = tc_set;
    p->tw = tw;
    p->tw_set = tw_set;
    return 0;
}

/* ---- graphics ------------------------------------------------------- */

static int dev_rule(bl_device *d, double x0, double y0, double x1, double y1, double width, const double rgb[3])
{
    bl_pdf *p = (bl_pdf *)d;
    if (usable(p, "rule", 1))
        return -1;
    double v[5] = {x0, y0, x1, y1, width};
    if (!finite_all(v, 5, MAX_COORD) || width < 0)
        return bl_pdf_fail(p, "rule: invalid coordinates or width");
    if (end_text(p))
        return -1;
    if (!rgb)
        rgb = black;
    const double c[3] = {clamp01(rgb[0]), clamp01(rgb[1]), clamp01(rgb[2])};
    char buf[256];
    char *o = put_nums(buf, c, 3, COLOR_DEC, "RG\n");
    o = put_nums(o, &width, 1, PATH_DEC, "w\n");
    o = put_nums(o, v, 2, PATH_DEC, "m\n");
    o = put_nums(o, v + 2, 2, PATH_DEC, "l\nS\n");
    put_ops(p, buf, (size_t)(o - buf));
    return bl_pdf_hcheck(p, "drawing a rule");
}

static int dev_rect(bl_device *d, double x, double y, double w, double h, const double rgb[3])
{
    bl_pdf *p = (bl_pdf *)d;
    if (usable(p, "rect", 1))
        return -1;
    double v[4] = {x, y, w, h};
    if (!finite_all(v, 4, MAX_COORD))
        return bl_pdf_fail(p, "rect: invalid coordinates");
    if (end_text(p))
        return -1;
    set_fill(p, rgb);
    char buf[128];
    put_ops(p, buf, (size_t)(put_nums(buf, v, 4, PATH_DEC, "re\nf\n") - buf));
    return bl_pdf_hcheck(p, "drawing a rectangle");
}

/* Our decoded pixels go to libharu raw: its own PNG/JPEG loaders abort the
 * process on malformed files.  One XObject per bl_image and document;
 * *index: its place in p->images. */
static HPDF_Image image_xobject(bl_pdf *p, const bl_image *img, size_t *index)
{
    for (size_t i = 0; i < p->nimages; i++)
        if (p->images[i].img == img) {
            *index = i;
            return p->images[i].xobj;
        }
    if (bl_grow(&p->images, &p->capimages, p->nimages + 1, sizeof *p->images)) {
        bl_pdf_fail(p, "out of memory");
        return NULL;
    }
    HPDF_Image x = HPDF_LoadRawImageFromMem(p->doc, img->pixels, img->width, img->height,
                                            img->components == 1 ? HPDF_CS_DEVICE_GRAY : HPDF_CS_DEVICE_RGB, 8);
    if (x && img->alpha) {
        HPDF_Image mask = HPDF_LoadRawImageFromMem(p->doc, img->alpha, img->width, img->height,
                                                   HPDF_CS_DEVICE_GRAY, 8);
        if (mask && HPDF_Image_AddSMask(x, mask) != HPDF_OK && !p->hcode)
            p->hcode = HPDF_INVALID_IMAGE;
    }
    if (!x && !p->hcode)
        p->hcode = HPDF_INVALID_IMAGE;
    if (bl_pdf_hcheck(p, "embedding an image"))
        return NULL;
    /* The cache holds a reference so that the address cannot be reused by
     * another image while the entry exists. */
    *index = p->nimages;
    p->images[p->nimages++] = (pdf_image_ref){bl_image_keep((bl_image *)img), x};
    return x;
}

/* An image in a group, written as libharu's HPDF_Page_DrawImage would
 * write it on a page, but under a name of its own in every form, "Im"
 * and 1 + its index (libharu's page names depend on the page), which the
 * form's /XObject resources will give. */
static int group_image(bl_pdf *p, size_t index, double x, double y, double w, double h)
{
    size_t k = 0;
    while (k < p->ngroup_images && p->group_images[k] != index)
        k++;
    if (k == p->ngroup_images) {
        if (bl_grow(&p->group_images, &p->capgroup_images, k + 1, sizeof *p->group_images))
            return bl_pdf_fail(p, "out of memory");
        p->group_images[p->ngroup_images++] = index;
    }
    char buf[160], *o = buf;
    o = put_str(o, "q\n");
    o = bl_pdf_fmt(o, w, POS_DEC);
    o = put_str(o, " 0 0 ");
    o = bl_pdf_fmt(o, h, POS_DEC);
    *o++ = ' ';
    o = bl_pdf_fmt(o, x, POS_DEC);
    *o++ = ' ';
    o = bl_pdf_fmt(o, y, POS_DEC);
    o += sprintf(o, " cm\n/Im%zu Do\nQ\n", index + 1);
    HPDF_Stream_Write(page_attr(p)->stream, (const HPDF_BYTE *)buf, (HPDF_UINT)(o - buf));
    return bl_pdf_hcheck(p, "drawing an image");
}

static int dev_image(bl_device *d, const bl_image *img, double x, double y, double w, double h)
{
    bl_pdf *p = (bl_pdf *)d;
    if (usable(p, "image", 1))
        return -1;
    if (!img || !img->pixels || !img->width || !img->height || (img->components != 1 && img->components != 3))
        return bl_pdf_fail(p, "image: not a decoded image");
    double v[4] = {x, y, w, h};
    if (!finite_all(v, 4, MAX_COORD))
        return bl_pdf_fail(p, "image: invalid box");
    if (end_text(p))
        return -1;
    size_t index;
    HPDF_Image xobj = image_xobject(p, img, &index);
    if (!xobj)
        return -1;
    if (p->group)
        return group_image(p, index, x, y, w, h);
    HPDF_Page_DrawImage(p->page, xobj, (HPDF_REAL)x, (HPDF_REAL)y, (HPDF_REAL)w, (HPDF_REAL)h);
    return bl_pdf_hcheck(p, "drawing an image");
}

/* URIs are ASCII (RFC 3986): percent-encode everything else, and spaces. */
static char *uri_ascii(const char *uri)
{
    size_t n = strlen(uri);
    char *out = malloc(3 * n + 1);
    if (!out)
        return NULL;
    char *o = out;
    for (const unsigned char *s = (const unsigned char *)uri; *s; s++) {
        if (*s <= 0x20 || *s >= 0x7F) {
            *o++ = '%';
            *o++ = hexdig[*s >> 4];
            *o++ = hexdig[*s & 15];
        } else
            *o++ = (char)*s;
    }
    *o = 0;
    return out;
}

static int dev_link(bl_device *d, double x, double y, double w, double h, const char *uri)
{
    bl_pdf *p = (bl_pdf *)d;
    if (usable(p, "link", 1))
        return -1;
    double v[4] = {x, y, w, h};
    if (!finite_all(v, 4, MAX_COORD))
        return bl_pdf_fail(p, "link: invalid box");
    if (!uri || !*uri)
        return bl_pdf_fail(p, "link: empty URI");
    if (strlen(uri) > 8000)
        return bl_pdf_fail(p, "link: URI longer than 8000 bytes");
    char *a = uri_ascii(uri);
    if (!a)
        return bl_pdf_fail(p, "out of memory");
    HPDF_Rect r = {(HPDF_REAL)fmin(x, x + w), (HPDF_REAL)fmin(y, y + h), (HPDF_REAL)fmax(x, x + w),
                   (HPDF_REAL)fmax(y, y + h)};
    HPDF_Annotation an = HPDF_Page_CreateURILinkAnnot(p->page, r, a);
    free(a);
    if (an)
        HPDF_LinkAnnot_SetBorderStyle(an, 0, 0, 0);
    return bl_pdf_hcheck(p, "adding a link");
}

/* ---- groups: Form XObjects ----------------------------------------- */

static int dev_group_begin(bl_device *d)
{
    bl_pdf *p = (bl_pdf *)d;
    if (usable(p, "group_begin", 1))
        return -1;
    if (p->group)
        return bl_pdf_fail(p, "group_begin: a group is open already (groups do not nest)");
    if (end_text(p))
        return -1;
    HPDF_Stream g = HPDF_MemStream_New(p->doc->mmgr, GROUP_CHUNK);
    if (!g) {
        if (!bl_pdf_hcheck(p, "starting a group"))
            bl_pdf_fail(p, "out of memory");
        return -1;
    }
    HPDF_PageAttr a = page_attr(p);
    p->page_stream = a->stream;
    a->stream = p->group = g;
    save_text_state(p, &p->page_ts);
    reset_text_state(p, 0);
    p->group_fonts = 0;
    p->ngroup_images = 0;
    return 0;
}

/* Room in the form index for one more form (at most half full); -1 when
 * out of memory. */
static int grow_form_index(bl_pdf *p)
{
    if (2 * (p->nforms + 1) <= p->nslots)
        return 0;
    size_t n = p->nslots ? 2 * p->nslots : 64;
    uint32_t *slots = p->nforms < UINT32_MAX / 4 ? calloc(n, sizeof *slots) : NULL;
    if (!slots)
        return -1;
    for (size_t i = 0; i < p->nforms; i++) {
        size_t k = (size_t)p->forms[i].hash & (n - 1);
        while (slots[k])
            k = (k + 1) & (n - 1);
        slots[k] = (uint32_t)(i + 1);
    }
    free(p->slots);
    p->slots = slots;
    p->nslots = n;
    return 0;
}

/* The form made from this content on a page of this size, or NULL; *slot:
 * where a new one goes in the index. */
static const pdf_form *find_form(const bl_pdf *p, uint64_t hash, const char *raw, size_t len, double width,
                                 double height, size_t *slot)
{
    size_t mask = p->nslots - 1;
    for (size_t k = (size_t)hash & mask;; k = (k + 1) & mask) {
        if (!p->slots[k]) {
            *slot = k;
            return NULL;
        }
        const pdf_form *f = &p->forms[p->slots[k] - 1];
        if (f->hash == hash && f->len == len && f->width == width && f->height == height &&
            !memcmp(p->forms_raw.data + f->off, raw, len))
            return f;
    }
}

/* A new Form XObject with the group's content g (which it takes): /BBox
 * the page, /Resources the document's fonts and the group's images, the
 * content deflated like a page's.  NULL after an error (g freed). */
static HPDF_Dict make_form(bl_pdf *p, HPDF_Stream g, double width, double height)
{
    HPDF_MMgr mm = p->doc->mmgr;
    HPDF_Dict x = HPDF_DictStream_New(mm, p->doc->xref);
    HPDF_STATUS st = x ? HPDF_OK : HPDF_FAILD_TO_ALLOC_MEM;
    HPDF_Dict res = x ? HPDF_Dict_New(mm) : NULL;
    if (x) {
        /* what HPDF_Page_ExecuteXObject accepts, as for libharu's images */
        x->header.obj_class |= HPDF_OSUBCLASS_XOBJECT;
        st |= HPDF_Dict_AddName(x, "Type", "XObject");
        st |= HPDF_Dict_AddName(x, "Subtype", "Form");
        HPDF_Box box = {0, 0, (HPDF_REAL)width, (HPDF_REAL)height};
        st |= HPDF_Dict_Add(x, "BBox", HPDF_Box_Array_New(mm, box));
        st |= HPDF_Dict_Add(x, "Resources", res);
    }
    if (st == HPDF_OK && p->group_fonts)
        st |= HPDF_Dict_Add(res, "Font", p->font_res);
    if (st == HPDF_OK && p->ngroup_images) {
        HPDF_Dict xo = HPDF_Dict_New(mm);
        st |= HPDF_Dict_Add(res, "XObject", xo);
        for (size_t i = 0; i < p->ngroup_images && st == HPDF_OK; i++) {
            char name[32];
            snprintf(name, sizeof name, "Im%zu", p->group_images[i] + 1);
            st |= HPDF_Dict_Add(xo, name, p->images[p->group_images[i]].xobj);
        }
    }
    if (st != HPDF_OK && !HPDF_GetError(p->doc))
        HPDF_SetError(&p->doc->error, HPDF_FAILD_TO_ALLOC_MEM, 0);
    if (bl_pdf_hcheck(p, "making a form")) {
        HPDF_Stream_Free(g);
        return NULL;
    }
    if (p->compress) {
        HPDF_Stream packed = bl_pdf_deflate_stream(p, g, 1, "a form's content");
        HPDF_Stream_Free(g);
        if (!packed)
            return NULL;
        bl_pdf_set_stream(x, packed, 1);
    } else {
        HPDF_Stream_Free(x->stream);
        x->stream = g;
    }
    return x;
}

/* The group's content becomes a form, or is found to be one made before
 * (same bytes, same page size: the bytes say everything, since fonts and
 * images have the same names in every form), which the page then shows. */
static int dev_group_end(bl_device *d)
{
    bl_pdf *p = (bl_pdf *)d;
    if (usable(p, "group_end", 1))
        return -1;
    if (!p->group)
        return bl_pdf_fail(p, "group_end: no group is open");
    if (end_text(p))
        return -1;
    HPDF_Stream g = close_group(p);
    size_t len = HPDF_Stream_Size(g);
    if (len == 0) { /* nothing drawn (links are the page's) */
        HPDF_Stream_Free(g);
        return 0;
    }
    /* The content, contiguous, at the end of forms_raw: kept there if it
     * makes a new form. */
    bl_buf *raw = &p->forms_raw;
    size_t off = raw->len;
    HPDF_UINT nbuf = HPDF_MemStream_GetBufCount(g);
    for (HPDF_UINT i = 0; i < nbuf; i++) {
        HPDF_UINT n = 0;
        HPDF_BYTE *chunk = HPDF_MemStream_GetBufPtr(g, i, &n);
        if (!chunk || bl_buf_append(raw, chunk, n)) {
            raw->len = off;
            HPDF_Stream_Free(g);
            return bl_pdf_hcheck(p, "reading a group") ? -1 : bl_pdf_fail(p, "out of memory");
        }
    }
    const pdf_page_ref *pr = &p->pages[p->npages - 1];
    uint64_t hash = bl_hash(raw->data + off, len);
    size_t slot;
    if (grow_form_index(p) || bl_grow(&p->forms, &p->capforms, p->nforms + 1, sizeof *p->forms)) {
        raw->len = off;
        HPDF_Stream_Free(g);
        return bl_pdf_fail(p, "out of memory");
    }
    const pdf_form *f = find_form(p, hash, raw->data + off, len, pr->width, pr->height, &slot);
    HPDF_Dict xobj;
    if (f) {
        raw->len = off;
        HPDF_Stream_Free(g);
        xobj = f->xobj;
    } else {
        if (!(xobj = make_form(p, g, pr->width, pr->height))) {
            raw->len = off;
            return -1;
        }
        p->forms[p->nforms++] = (pdf_form){hash, pr->width, pr->height, off, len, xobj};
        p->slots[slot] = (uint32_t)p->nforms;
    }
    /* "/Xn Do", the form registered in the page's /XObject resources. */
    HPDF_Page_ExecuteXObject(p->page, (HPDF_XObject)xobj);
    return bl_pdf_hcheck(p, "showing a form");
}

static const char *dev_error(bl_device *d) { return ((bl_pdf *)d)->err; }

/* ---- metadata ------------------------------------------------------- */

/* A PDF text string in UTF-16BE with a byte-order mark (PDF 32000-1
 * 7.9.2.2), as a libharu binary object (written <FEFF...>).  libharu's own
 * UTF-8 encoder stops at the BMP.  Invalid UTF-8 becomes U+FFFD. */
static HPDF_Binary text_string(bl_pdf *p, const char *s)
{
    size_t n = strlen(s);
    /* libharu strings stop at 65535 bytes. */
    size_t max_units = 32000;
    unsigned char *buf = malloc(2 + 4 * (n < max_units ? n : max_units) + 4);
    if (!buf)
        return NULL;
    size_t len = 0, units = 0;
    buf[len++] = 0xFE;
    buf[len++] = 0xFF;
    for (size_t i = 0; i < n && units + 2 <= max_units;) {
        uint32_t cp;
        int l = bl_utf8_decode(s + i, n - i, &cp);
        if (l == 0) {
            cp = 0xFFFD;
            l = 1;
        }
        i += (size_t)l;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            uint32_t hi = 0xD800 + (cp >> 10), lo = 0xDC00 + (cp & 0x3FF);
            buf[len++] = (unsigned char)(hi >> 8);
            buf[len++] = (unsigned char)hi;
            buf[len++] = (unsigned char)(lo >> 8);
            buf[len++] = (unsigned char)lo;
            units += 2;
        } else {
            buf[len++] = (unsigned char)(cp >> 8);
            buf[len++] = (unsigned char)cp;
            units++;
        }
    }
    HPDF_Binary bin = HPDF_Binary_New(p->doc->mmgr, buf, (HPDF_UINT)len);
    free(buf);
    return bin;
}

/* A PDF text string as short as it can be: a literal string (libharu
 * escapes it) when every character is one that PDFDocEncoding codes as
 * Latin-1 does, U+0020..U+007E and U+00A1..U+00FF but U+00AD (PDF 32000-1
 * 7.9.2.2, D.2), else UTF-16BE (text_string).  Returns a new libharu
 * object for a dictionary to take, or NULL when out of memory. */
static void *text_value(bl_pdf *p, const char *s)
{
    size_t n = strlen(s);
    if (n < 60000) { /* libharu's string limit is 65535 bytes */
        char *latin = malloc(n + 1);
        if (!latin)
            return NULL;
        size_t k = 0;
        int ok = 1;
        for (size_t i = 0; i < n && ok;) {
            uint32_t cp;
            int l = bl_utf8_decode(s + i, n - i, &cp);
            ok = l > 0 && ((cp >= 0x20 && cp < 0x7F) || (cp >= 0xA1 && cp <= 0xFF && cp != 0xAD));
            latin[k++] = (char)cp;
            i += (size_t)l;
        }
        latin[k] = 0;
        HPDF_String str = ok ? HPDF_String_New(p->doc->mmgr, latin, NULL) : NULL;
        free(latin);
        if (ok)
            return str;
    }
    return text_string(p, s);
}

static void set_info(bl_pdf *p, const char *key, const char *value)
{
    if (!value)
        return;
    /* The Info dictionary exists: the Producer was set first. */
    void *v = text_value(p, value);
    if (!v || !p->doc->info || HPDF_Dict_Add(p->doc->info, key, v) != HPDF_OK)
        HPDF_SetError(&p->doc->error, HPDF_FAILD_TO_ALLOC_MEM, 0);
}

int bl_pdf_bookmark(bl_pdf *pdf, int page, const char *title_utf8)
{
    bl_pdf *p = pdf;
    if (usable(p, "bookmark", 0))
        return -1;
    if (page < 0 || (size_t)page >= p->npages)
        return bl_pdf_fail(p, "bookmark: page %d does not exist (%zu pages so far)", page + 1, p->npages);
    if (!title_utf8)
        title_utf8 = "";
    pdf_page_ref *pr = &p->pages[page];
    HPDF_Outline ol = HPDF_CreateOutline(p->doc, NULL, "", NULL);
    /* The destination is a direct array in the item, not an object of its
     * own (libharu's destinations are indirect). */
    HPDF_Array dst = ol ? HPDF_Array_New(p->doc->mmgr) : NULL;
    if (ol && dst) {
        HPDF_STATUS st = HPDF_OK;
        /* libharu marks items /Type /Outlines, which only the root is. */
        HPDF_Dict_RemoveElement(ol, "Type");
        void *title = text_value(p, title_utf8);
        st |= title ? HPDF_Dict_Add(ol, "Title", title) : HPDF_FAILD_TO_ALLOC_MEM;
        /* [page /XYZ 0 top null]: the top of the page at the reader's zoom
         * (libharu's SetXYZ cannot write a null zoom). */
        st |= HPDF_Array_Add(dst, pr->page);
        st |= HPDF_Array_AddName(dst, "XYZ");
        st |= HPDF_Array_AddNumber(dst, 0);
        st |= HPDF_Array_AddReal(dst, (HPDF_REAL)pr->height);
        st |= HPDF_Array_Add(dst, HPDF_Null_New(p->doc->mmgr));
        st |= HPDF_Dict_Add(ol, "Dest", dst);
        if (st != HPDF_OK && !HPDF_GetError(p->doc))
            HPDF_SetError(&p->doc->error, st, 0);
    } else if (ol && !HPDF_GetError(p->doc))
        HPDF_SetError(&p->doc->error, HPDF_FAILD_TO_ALLOC_MEM, 0);
    return bl_pdf_hcheck(p, "adding a bookmark");
}

/* ---- font files ahead of the save --------------------------------------
 *
 * A bulletin's fonts are most of a small document's save (hb-subset, glyph
 * checks, deflate: ~1 ms on two threads for the sample's eight).  Told the
 * glyph runs before they are drawn (bl_device.ahead), the writer makes each
 * face's font file for its final glyph set on the deflating thread while
 * the pages are drawn, into pdf-font.c's cache of font files, where the
 * save then finds them.  The set is the font's glyphs so far (earlier
 * bulletins of the document) and the announced ones, and the fonts of
 * earlier bulletins that this one does not draw are made as they are:
 * exactly what the save will look up, as long as nothing else is drawn
 * before it (else it only misses and makes the file itself). */
typedef struct ahead_face {
    bl_face *face;
    unsigned char *bits; /* per glyph id */
    size_t n;            /* bits set */
} ahead_face;

typedef struct ahead_item {
    bl_face *face; /* own reference */
    uint32_t *key;
    size_t nkey;
} ahead_item;

typedef struct ahead_job {
    int queued; /* on the deflating thread */
    size_t n, next; /* next: atomic */
    ahead_item item[];
} ahead_job;

static void ahead_forget(bl_pdf *p)
{
    for (size_t i = 0; i < p->nahead; i++)
        free(p->ahead[i].bits);
    free(p->ahead);
    p->ahead = NULL;
    p->nahead = p->capahead = 0;
}

/* Takes the job's files one at a time, largest first, on any thread. */
static void *ahead_work(void *arg)
{
    ahead_job *j = arg;
    for (size_t k; (k = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED)) < j->n;)
        bl_pdf_font_file_ahead(j->item[k].face, j->item[k].key, j->item[k].nkey);
    return NULL;
}

/* Ends a job: this thread takes what is left (drop: leaves it), then
 * waits for the deflating thread's part. */
static void ahead_finish(bl_pdf *p, int drop)
{
    ahead_job *j = p->ahead_job;
    if (!j)
        return;
    if (drop)
        __atomic_store_n(&j->next, j->n, __ATOMIC_RELAXED);
    ahead_work(j);
    if (j->queued)
        bl_pdf_pages_task_wait(p);
    for (size_t k = 0; k < j->n; k++) {
        bl_face_drop(j->item[k].face);
        free(j->item[k].key);
    }
    free(j);
    p->ahead_job = NULL;
}

/* Adds the job's item for face: its font's glyphs so far (f, if it has a
 * font yet) and those announced (a, if any). */
static void ahead_item_add(bl_pdf *p, ahead_job *j, bl_face *face, const bl_pdf_font *f, const ahead_face *a)
{
    size_t m;
    uint32_t *key = bl_pdf_font_ahead_key(face, compact_for(p, face), p->compress, f, a ? a->bits : NULL,
                                          a ? a->n : 0, &m);
    if (!key)
        return;
    size_t at = j->n++; /* largest first */
    for (; at > 0 && j->item[at - 1].nkey < m; at--)
        j->item[at] = j->item[at - 1];
    j->item[at] = (ahead_item){bl_face_keep(face), key, m};
}

static void ahead_start(bl_pdf *p)
{
    /* Every font the save will write: those announced, and those of
     * earlier bulletins that this one does not draw, as they are. */
    ahead_job *j = p->ahead_job || !p->nahead ? NULL
                 : calloc(1, sizeof *j + (p->nahead + p->nfonts) * sizeof *j->item);
    for (size_t i = 0; j && i < p->nahead; i++) {
        const ahead_face *a = &p->ahead[i];
        bl_pdf_font *f = NULL;
        for (size_t k = 0; k < p->nfonts && !f; k++)
            if (p->fonts[k]->face == a->face)
                f = p->fonts[k];
        ahead_item_add(p, j, a->face, f, a);
    }
    for (size_t k = 0; j && k < p->nfonts; k++) {
        int announced = 0;
        for (size_t i = 0; i < p->nahead && !announced; i++)
            announced = p->ahead[i].face == p->fonts[k]->face;
        if (!announced)
            ahead_item_add(p, j, p->fonts[k]->face, p->fonts[k], NULL);
    }
    ahead_forget(p);
    if (!j)
        return;
    p->ahead_job = j;
    j->queued = bl_pdf_pages_start(p) == 0 && bl_pdf_pages_task(p, ahead_work, j) == 0;
    if (!j->queued)
        ahead_finish(p, 1); /* no thread to hand it to: the save does the work */
}

static int dev_ahead(bl_device *d, const bl_glyph_run *run)
{
    bl_pdf *p = (bl_pdf *)d;
    if (!run) {
        ahead_start(p);
        return 0;
    }
    if (!run->face || !run->glyphs || !run->n) /* glyph_run says what is wrong */
        return 0;
    ahead_face *a = NULL;
    for (size_t i = 0; i < p->nahead && !a; i++)
        if (p->ahead[i].face == run->face)
            a = &p->ahead[i];
    if (!a) {
        unsigned char *bits = calloc(run->face->num_glyphs / 8 + 1, 1);
        if (!bits || bl_grow(&p->ahead, &p->capahead, p->nahead + 1, sizeof *p->ahead)) {
            free(bits);
            return 0; /* only a forecast */
        }
        a = &p->ahead[p->nahead++];
        *a = (ahead_face){run->face, bits, 0};
    }
    for (size_t i = 0; i < run->n; i++) {
        unsigned g = run->glyphs[i].gid;
        if (g < run->face->num_glyphs && !(a->bits[g / 8] >> (g % 8) & 1)) {
            a->bits[g / 8] |= (unsigned char)(1u << (g % 8));
            a->n++;
        }
    }
    return 0;
}

void bl_pdf_forecast(bl_pdf *pdf, int on)
{
    ahead_forget(pdf); /* what an announcement that never ended left */
    pdf->dev.ahead = on && pdf->async ? dev_ahead : NULL;
}

/* ---- lifecycle ------------------------------------------------------ */

bl_pdf *bl_pdf_new(const bl_pdf_info *info)
{
    bl_pdf *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->dev.begin_page = dev_begin_page;
    p->dev.glyph_run = dev_glyph_run;
    p->dev.rule = dev_rule;
    p->dev.rect = dev_rect;
    p->dev.image = dev_image;
    p->dev.link = dev_link;
    p->dev.end_page = dev_end_page;
    p->dev.group_begin = dev_group_begin;
    p->dev.group_end = dev_group_end;
    p->dev.error = dev_error;
    p->compress = info ? !!info->compress : 1;
    p->identity_h = info ? info->identity_h : 0;
    p->async = bl_helpers();
    p->doc = bl_pdf_new_doc(on_hpdf_error, p);
    if (!p->doc) {
        free(p);
        return NULL;
    }
    /* 1.4: soft masks (image alpha) need it; libharu defaults to 1.3. */
    p->doc->pdf_version = HPDF_VER_14;
    if (p->compress)
        HPDF_SetCompressionMode(p->doc, HPDF_COMP_ALL);
    HPDF_SetInfoAttr(p->doc, HPDF_INFO_PRODUCER, "bulletin");
    if (info) {
        set_info(p, "Title", info->title);
        set_info(p, "Author", info->author);
        set_info(p, "Subject", info->subject);
        set_info(p, "Keywords", info->keywords);
        set_info(p, "Creator", info->creator);
    }
    if (bl_pdf_hcheck(p, "creating the document")) {
        bl_pdf_free(p);
        return NULL;
    }
    return p;
}

bl_device *bl_pdf_device(bl_pdf *pdf) { return &pdf->dev; }

const char *bl_pdf_error(bl_pdf *pdf) { return pdf ? pdf->err : "no PDF writer"; }

void bl_pdf_free(bl_pdf *pdf)
{
    if (!pdf)
        return;
    ahead_finish(pdf, 1);
    ahead_forget(pdf);
    bl_pdf_pages_stop(pdf); /* pages still waiting are dropped with the document */
    /* An open group's stream is no document object's. */
    if (pdf->group)
        HPDF_Stream_Free(close_group(pdf));
    /* The document first: the fonts' dictionaries point at the fonts. */
    if (pdf->doc)
        HPDF_Free(pdf->doc);
    for (size_t i = 0; i < pdf->nfonts; i++)
        bl_pdf_font_free(pdf->fonts[i]);
    free(pdf->fonts);
    for (size_t i = 0; i < pdf->nimages; i++)
        bl_image_drop(pdf->images[i].img);
    free(pdf->images);
    free(pdf->pages);
    free(pdf->group_images);
    free(pdf->forms);
    free(pdf->slots);
    bl_buf_free(&pdf->forms_raw);
    free(pdf->rg);
    free(pdf->gaps);
    for (size_t i = 0; i < pdf->nshared; i++)
        free(pdf->shared[i].key);
    free(pdf->shared);
    bl_buf_free(&pdf->res_key);
    bl_buf_free(&pdf->scratch);
    bl_buf_free(&pdf->zraw);
    bl_buf_free(&pdf->zbuf);
    free(pdf);
}

/* When every page has the size of the first, /MediaBox is written once, on
 * the root of the page tree, and the pages inherit it (PDF 32000-1 7.7.3.4;
 * all our pages are the root's kids); else every page has its own.  Done
 * at each save, since pages may have been added after the last one, and
 * only then: libharu's lookup of inherited entries
 * (HPDF_Page_GetInheritableItem) only ever searches the page itself. */
static int place_media_boxes(bl_pdf *p)
{
    int shared = 1;
    for (size_t i = 1; i < p->npages; i++)
        if (p->pages[i].width != p->pages[0].width || p->pages[i].height != p->pages[0].height)
            shared = 0;
    HPDF_STATUS st = HPDF_OK;
    for (size_t i = 0; i < p->npages && st == HPDF_OK; i++) {
        const pdf_page_ref *pr = &p->pages[i];
        int own = HPDF_Dict_GetItem(pr->page, "MediaBox", HPDF_OCLASS_ARRAY) != NULL;
        if (shared && own)
            st = HPDF_Dict_RemoveElement(pr->page, "MediaBox");
        else if (!shared && !own) {
            HPDF_Box box = {0, 0, (HPDF_REAL)pr->width, (HPDF_REAL)pr->height};
            st = HPDF_Dict_Add(pr->page, "MediaBox", HPDF_Box_Array_New(p->doc->mmgr, box));
        }
    }
    HPDF_Pages root = p->doc->root_pages;
    if (st == HPDF_OK && shared) {
        HPDF_Box box = {0, 0, (HPDF_REAL)p->pages[0].width, (HPDF_REAL)p->pages[0].height};
        st = HPDF_Dict_Add(root, "MediaBox", HPDF_Box_Array_New(p->doc->mmgr, box));
    } else if (st == HPDF_OK && HPDF_Dict_GetItem(root, "MediaBox", HPDF_OCLASS_ARRAY))
        st = HPDF_Dict_RemoveElement(root, "MediaBox");
    if (st != HPDF_OK && !HPDF_GetError(p->doc))
        HPDF_SetError(&p->doc->error, st, 0);
    return bl_pdf_hcheck(p, "writing the page sizes");
}

/* Subsetting and deflating the fonts is most of a small document's save:
 * this thread and a second one take the fonts one at a time, those with the
 * most glyphs first (a fixed split, every other font, left one thread
 * finishing alone for 0.3 ms).  Failures are left for bl_pdf_font_finish,
 * which then prepares the font again and reports. */
typedef struct prep_job {
    bl_pdf *p;
    size_t *order;
    size_t n;
    size_t next; /* atomic */
} prep_job;

static void *prepare_some(void *arg)
{
    prep_job *j = arg;
    for (size_t k; (k = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED)) < j->n;) {
        char why[300];
        bl_pdf_font_prepare(j->p->fonts[j->order[k]], j->p->compress, why, sizeof why);
    }
    return NULL;
}

static void prepare_fonts(bl_pdf *p)
{
    if (p->nfonts < 2 || !bl_helpers())
        return; /* bl_pdf_font_finish prepares each font */
    prep_job j = {p, malloc(p->nfonts * sizeof *j.order), p->nfonts, 0};
    if (!j.order)
        return;
    for (size_t i = 0; i < j.n; i++) { /* by glyph count, most first; ties in font order */
        size_t k = i;
        for (; k > 0 && p->fonts[j.order[k - 1]]->nglyphs < p->fonts[i]->nglyphs; k--)
            j.order[k] = j.order[k - 1];
        j.order[k] = i;
    }
    /* The second worker: the page-deflating thread, idle now and with its
     * compressor warm, else a new thread. */
    pthread_t t;
    int queued = bl_pdf_pages_task(p, prepare_some, &j) == 0;
    int threaded = !queued && bl_thread_start(&t, prepare_some, &j) == 0;
    prepare_some(&j);
    if (queued)
        bl_pdf_pages_task_wait(p);
    if (threaded)
        pthread_join(t, NULL);
    free(j.order);
}

int bl_pdf_save(bl_pdf *pdf, const char *path) { return bl_pdf_save_with(pdf, path, NULL, NULL); }

int bl_pdf_save_with(bl_pdf *pdf, const char *path, bl_pdf_publish_fn publish, void *ctx)
{
    bl_pdf *p = pdf;
    if (usable(p, "save", 0))
        return -1;
    if (!path || !*path)
        return bl_pdf_fail(p, "save: no output file name");
    if (p->page && dev_end_page(&p->dev))
        return -1;
    if (p->npages == 0)
        return bl_pdf_fail(p, "%s: the document has no pages", path);
    ahead_finish(p, 0); /* its files are in the cache for prepare_fonts */
    if (bl_pdf_pages_drain(p))
        return -1;
    prepare_fonts(p);
    for (size_t i = 0; i < p->nfonts; i++) {
        char why[300];
        if (bl_pdf_font_finish(p->fonts[i], p->doc, p->compress, why, sizeof why)) {
            p->failed = p->hcode || HPDF_GetError(p->doc);
            return bl_pdf_fail(p, "font %s: %s", p->fonts[i]->face->label, why);
        }
    }
    if (place_media_boxes(p))
        return -1;
    return bl_pdf_write_file(p, path, publish, ctx);
}
