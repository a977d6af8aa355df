/* layout-page.c - paragraphs to lines, lines to pages, pages to a device. */
#include "layout.h"
#include "image.h"
#include "layout-kp.h"
#include "text-bidi.h"
#include "text.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Letter spacing limits for justification, in em per cluster. */
#define BL_TRACK_MAX 0.04
#define BL_TRACK_MIN 0.005

/* Text styles of a language. */
enum { K_BODY, K_TITLE, K_HEAD1, K_HEAD2, K_HEAD3, K_SMALL, K_SMALL_BOLD, K_BANNER, K_COUNT };

typedef struct langctx {
    const char *lang;
    int rtl;
    int index;                 /* language index in the bulletin */
    const bl_lang_cfg *cfg;
    bl_fontset fs[BL_ROLE_COUNT];
    bl_text_style st[K_COUNT];
    double leading[K_COUNT];
    hb_feature_t features[8];  /* the layout's text.features, for body text */
    unsigned nfeatures;
    double scale;              /* the layout's size factor for this language */
    bl_shaped ***pre;          /* pre[block][para]: shaped before any line is broken */
    size_t npre;
} langctx;

/* A line set from a paragraph, not yet placed on a page. */
typedef struct lline {
    bl_shaped *sh;             /* NULL for a rule or a pure space */
    size_t a, b;
    int hyphen;
    int last;                  /* the paragraph's last line (set ragged) */
    double space_w;            /* natural width of a space in the paragraph's main face */
    double indent;             /* from the column's start side */
    double avail;              /* available width (column - indent) */
    int align;
    double height, space_before;
    int para_id, line_in_para, nlines_para;
    int block;
    const char *kind;
    langctx *lc;
    bl_shaped *marker;         /* list marker, first line of an item */
    int rule;                  /* 1: a horizontal rule across the column; 2: quote bar */
    int keep_with_next;
} lline;

typedef struct group {
    lline *v;
    size_t n, cap;
} group;

typedef struct placed {
    lline *ln;
    int col;
    double top;                /* y of the line's top edge */
} placed;

typedef struct furn_entry {
    const struct langctx *lc;
    int kind;
    bl_shaped *s;              /* borrowed from ctx.shaped */
} furn_entry;

typedef struct ctx {
    const bl_bulletin *b;
    const bl_layout *l;
    bl_device *dev;
    bl_diag *d;
    langctx lc[BL_MAX_LANGS];
    int nlc;
    int ncols;
    double col_x[2], col_w;
    langctx *col_lang[2];      /* parallel: the language of each column */
    bl_shaped **shaped;
    size_t nshaped, cap_shaped;
    bl_seen seen;
    char **strs;               /* texts that shaped paragraphs borrow (furniture, templates) */
    furn_entry *furn;          /* shaped furniture texts, reused page after page */
    size_t nfurn, cap_furn;
    size_t nstrs, cap_strs;
    int para_counter;
    bl_layout_stats *stats;
    bl_image *letterhead;
    int oom;
    /* pagination */
    placed *pl;
    size_t npl, cap_pl;
    size_t *page_start;        /* index into pl where each page begins */
    size_t npages, cap_pages;
    char date[BL_MAX_LANGS][64];
    /* The quote bar being drawn in each column: the lines of a quote that
     * follow each other there share one rule, drawn when the run ends
     * (a packet has thousands of quote lines). */
    struct {
        int on;
        double x, top, bottom;
    } bar[2];
    /* Lines set by the announcing pass of draw(), in drawing order, for the
     * drawing pass to take instead of setting them again. */
    struct set_memo *memo;
    size_t nmemo, cap_memo, memo_next;
    int recording;             /* the announcing pass: keep what is set */
} ctx;

typedef struct set_memo {
    const bl_shaped *s;
    size_t a, b;
    int hyphen;
    double x, se, le;
    bl_line_out lo;
} set_memo;

static double top_y(const ctx *c, int page)
{
    const bl_layout *l = c->l;
    (void)page;
    return l->page_h - l->margin_top - l->header_h;
}
static double bottom_y(const ctx *c) { return c->l->margin_bottom + c->l->footer_h; }

/* ---- fonts ------------------------------------------------------------------ */

static int cursive(const char *lang)
{
    static const char *const arabic[] = {"ar", "fa", "ur", "ps", "sd", "ug", "ks", "ckb", NULL};
    if (strstr(lang, "-Arab") || strstr(lang, "-Syrc"))
        return 1;
    size_t n = strcspn(lang, "-_");
    for (int i = 0; arabic[i]; i++)
        if (strlen(arabic[i]) == n && !strncmp(lang, arabic[i], n))
            return 1;
    return 0;
}

static int load_fonts(ctx *c)
{
    const bl_layout *l = c->l;
    for (int i = 0; i < c->nlc; i++) {
        langctx *lc = &c->lc[i];
        for (const char *q = l->features; *q && lc->nfeatures < 8;) { /* checked when the layout loaded */
            size_t len = strcspn(q, ",");
            while (len && *q == ' ')
                q++, len--;
            if (len && hb_feature_from_string(q, (int)len, &lc->features[lc->nfeatures]))
                lc->nfeatures++;
            q += len + (q[len] == ',');
        }
        for (int r = 0; r < BL_ROLE_COUNT; r++) {
            bl_fontset *fs = &lc->fs[r];
            /* Opened when the text first needs them (bl_fontset_face); the
             * layout's loader has checked that the files exist. */
            for (int k = 0; k < BL_MAX_STACK && lc->cfg->fonts[r][k] && fs->n < 8; k++)
                fs->paths[fs->n++] = lc->cfg->fonts[r][k];
            if (!fs->n && r != BL_ROLE_REGULAR)
                *fs = lc->fs[r == BL_ROLE_SANS_BOLD ? BL_ROLE_SANS : BL_ROLE_REGULAR];
            if (!fs->n) {
                bl_diag_at(c->d, BL_ERROR, NULL, 0, "layout '%s' names no font for language '%s'",
                           l->name, lc->lang);
                return -1;
            }
        }
        double sizes[K_COUNT] = {l->body_size, l->title_size, l->heading_size[0], l->heading_size[1],
                                 l->heading_size[2], l->small_size, l->small_size, l->small_size};
        double leads[K_COUNT] = {l->body_leading, l->title_leading, l->heading_leading[0],
                                 l->heading_leading[1], l->heading_leading[2], l->small_leading,
                                 l->small_leading, l->small_leading};
        double scale = lc->scale = lc->cfg->scale > 0 ? lc->cfg->scale : 1.0;
        for (int k = 0; k < K_COUNT; k++) {
            bl_text_style *st = &lc->st[k];
            int heading = k >= K_TITLE && k <= K_HEAD3;
            int small = k >= K_SMALL;
            st->regular = &lc->fs[small ? (k != K_SMALL ? BL_ROLE_SANS_BOLD : BL_ROLE_SANS)
                                        : heading ? BL_ROLE_BOLD : BL_ROLE_REGULAR];
            st->bold = &lc->fs[small ? BL_ROLE_SANS_BOLD : BL_ROLE_BOLD];
            st->italic = &lc->fs[small ? BL_ROLE_SANS : BL_ROLE_ITALIC];
            st->bold_italic = NULL;
            st->size = sizes[k] * scale;
            memcpy(st->rgb, k == K_BANNER ? l->banner_rgb : heading || k == K_SMALL_BOLD ? l->accent_rgb : l->text_rgb,
                   sizeof st->rgb);
            memcpy(st->link_rgb, l->accent_rgb, sizeof st->link_rgb);
            st->hyphenate = k == K_BODY && l->hyphenate;
            /* Letter spacing would break the joins of a cursive script. */
            st->tracking = k == K_BODY && !cursive(lc->lang);
            if (k == K_BODY) {
                st->features = lc->features;
                st->nfeatures = lc->nfeatures;
            }
            st->lmin = l->hyphen_lmin;
            st->rmin = l->hyphen_rmin;
            st->seen = &c->seen;
            lc->leading[k] = leads[k] * scale;
        }
    }
    return 0;
}

/* ---- setting paragraphs ----------------------------------------------------- */

static bl_shaped *shape(ctx *c, langctx *lc, int kind, const char *text, size_t len, const bl_span *spans,
                        size_t nspans, size_t src_off)
{
    bl_shaped *s = bl_text_shape(text, len, spans, nspans, lc->lang, lc->rtl ? BL_DIR_RTL : BL_DIR_LTR,
                                 &lc->st[kind], c->d, c->b->file, src_off);
    if (!s) /* reported by the text engine (too long, out of memory) */
        return NULL;
    if (bl_grow(&c->shaped, &c->cap_shaped, c->nshaped + 1, sizeof *c->shaped)) {
        bl_shaped_free(s);
        c->oom = 1;
        return NULL;
    }
    c->shaped[c->nshaped++] = s;
    return s;
}

static lline *push(ctx *c, group *g)
{
    if (bl_grow(&g->v, &g->cap, g->n + 1, sizeof *g->v)) {
        c->oom = 1;
        return NULL;
    }
    lline *ln = &g->v[g->n++];
    memset(ln, 0, sizeof *ln);
    ln->block = -1;
    ln->para_id = -1;
    return ln;
}

typedef struct kpctx {
    double w;
} kpctx;
static double kp_width(void *p, size_t line) { (void)line; return ((kpctx *)p)->w; }

/* A word wider than the column: boxes for each grapheme cluster with a
 * costly break between them, so it is broken, never drawn into the margin. */
static int long_word(ctx *c, const bl_shaped *s, size_t a, size_t b, bl_kp_item **it, size_t **pos, size_t *n,
                     size_t *cap, size_t *cap_pos)
{
    size_t cuts[512];
    size_t nc = bl_text_graphemes(s, a, b, cuts, sizeof cuts / sizeof *cuts);
    if (c->d)
        bl_diag_at(c->d, BL_WARNING, c->b->file, s->src_off,
                   "'%.*s' is wider than its column; it is broken between letters", (int)(b - a > 40 ? 40 : b - a),
                   s->text + a);
    size_t prev = a;
    for (size_t k = 0; k <= nc; k++) {
        size_t e = k < nc ? cuts[k] : b;
        if (bl_grow(it, cap, *n + 2, sizeof **it) || bl_grow(pos, cap_pos, *n + 2, sizeof **pos))
            return -1;
        if (k > 0) {
            (*it)[*n] = (bl_kp_item){BL_KP_PENALTY, 0, 0, 0, 900, 0};
            (*pos)[(*n)++] = prev;
        }
        (*it)[*n] = (bl_kp_item){BL_KP_BOX, bl_shaped_width(s, prev, e), 0, 0, 0, 0};
        (*pos)[(*n)++] = prev;
        prev = e;
    }
    return 0;
}

/* Breaks a shaped paragraph into lines of width w (Knuth-Plass) and appends
 * them to g. */
static int set_lines(ctx *c, group *g, bl_shaped *s, langctx *lc, int kind, double w, double indent,
                     int align, int block, const char *kname, double space_before, bl_shaped *marker)
{
    const bl_text_style *st = s->style;
    bl_face *mf = st->regular->faces[0];
    double space_w = bl_face_advance(mf, bl_face_glyph(mf, ' ')) * st->size / mf->upem;
    /* Spaces stretch to 1.5x and shrink to 0.8x their width; where a script
     * allows it, letter spacing adds up to 0.03 em (and takes 0.005 em) per
     * cluster, so narrow columns need not open rivers of white. */
    double stretch = space_w * 0.5, shrink = space_w * 0.2;
    double lstretch = st->tracking ? st->size * BL_TRACK_MAX : 0, lshrink = st->tracking ? st->size * BL_TRACK_MIN : 0;
    if (align != BL_ALIGN_JUSTIFY) /* ragged lines are never squeezed */
        shrink = lshrink = 0;
    bl_kp_item *it = NULL;
    size_t *pos = NULL, n = 0, cap = 0, cap_pos = 0;
    double box = 0;
    int rc = -1;
#define ITEM(t, wd, st_, sh_, pen, fl, at)                                                          \
    do {                                                                                          \
        if (bl_grow(&it, &cap, n + 1, sizeof *it) || bl_grow(&pos, &cap_pos, n + 1, sizeof *pos)) \
            goto out;                                                                             \
        it[n] = (bl_kp_item){t, wd, st_, sh_, pen, fl};                                           \
        pos[n++] = (at);                                                                          \
    } while (0)
#define FLUSH(at)                                                  \
    do {                                                           \
        if (box > w && long_word(c, s, box_at, (at), &it, &pos, &n, &cap, &cap_pos)) \
            goto out;                                              \
        else if (box > w)                                          \
            box = 0;                                               \
        if ((at) > box_at) {                                       \
            size_t ncl_ = bl_shaped_clusters(s, box_at, (at));     \
            ncl_ -= ncl_ > 0; /* gaps inside the box only */       \
            ITEM(BL_KP_BOX, box, lstretch * ncl_, lshrink * ncl_, 0, 0, box_at); \
            box = 0;                                               \
        }                                                          \
        box_at = (at);                                             \
    } while (0)
    /* TeX's two passes, with the dictionary only when needed: first without
     * hyphenation within the pretolerance; only a paragraph that cannot be set
     * that way gets its hyphenation points (loading the dictionary) and the
     * full breaker (tolerance, then emergency stretch). */
    int use_hyph = 0;
    bl_kp_line *lines = NULL;
    size_t overfull = 0, nl = 0;
    /* Room for a paragraph's items at once (about two per word; a hyphenated
     * pass adds some), instead of doubling from eight. */
    if (bl_grow(&it, &cap, s->len / 2 + 16, sizeof *it) || bl_grow(&pos, &cap_pos, s->len / 2 + 16, sizeof *pos))
        goto out;
    for (int attempt = 0; attempt < 2; attempt++) {
    n = 0;
    box = 0;
    size_t box_at = 0;
    for (size_t i = 0; i < s->len; i++) {
        if (((unsigned char)s->text[i] & 0xC0) == 0x80)
            continue;
        if (i > 0 && s->brk[i] == BL_BRK_MANDATORY) {
            FLUSH(i);
            ITEM(BL_KP_PENALTY, 0, 0, 0, BL_KP_INFINITY, 0, i);
            ITEM(BL_KP_GLUE, 0, w, 0, 0, 0, i);
            ITEM(BL_KP_PENALTY, 0, 0, 0, -BL_KP_INFINITY, 0, i);
        } else if (s->space[i]) {
            FLUSH(i);
            ITEM(BL_KP_GLUE, s->adv_at[i], stretch, shrink, 0, 0, i);
            box_at = i + 1;
            continue;
        } else if (i > 0 && s->brk[i] == BL_BRK_ALLOWED && !s->space[i - 1]) {
            FLUSH(i);
            ITEM(BL_KP_PENALTY, 0, 0, 0, 0, 0, i);
        } else if (use_hyph && s->hyph[i]) {
            FLUSH(i);
            ITEM(BL_KP_PENALTY, s->hyphen_adv, 0, 0, 50, 1, i);
        }
        if (!(s->text[i] == '\xE2' && i + 2 < s->len && s->text[i + 1] == '\x80' && s->text[i + 2] == '\xA8'))
            box += s->adv_at[i];
    }
    FLUSH(s->len);
    ITEM(BL_KP_PENALTY, 0, 0, 0, BL_KP_INFINITY, 0, s->len);
    ITEM(BL_KP_GLUE, 0, w, 0, 0, 0, s->len);
    ITEM(BL_KP_PENALTY, 0, 0, 0, -BL_KP_INFINITY, 0, s->len);
    bl_kp_params p;
    bl_kp_params_default(&p);
    p.tolerance = use_hyph || !st->hyphenate ? 2.0 : 1.0;
    p.pretolerance = use_hyph || !st->hyphenate ? 1.0 : -1;
    p.emergency_stretch = use_hyph || !st->hyphenate ? w * 0.1 : 0;
    kpctx kc = {w};
    nl = bl_kp_break(it, n, &p, kp_width, &kc, &lines, &overfull);
    if (nl == (size_t)-1)
        goto out;
    if (use_hyph || !st->hyphenate)
        break;
    int fits = overfull == 0;
    for (size_t k = 0; k < nl && fits; k++)
        fits = lines[k].ratio <= 1.0 + 1e-9 && lines[k].ratio >= -1.0 - 1e-9;
    if (fits)
        break;
    free(lines);
    lines = NULL;
    overfull = 0;
    bl_text_hyphenate(s);
    use_hyph = 1;
    }
    if (overfull && c->d)
        bl_diag_at(c->d, BL_WARNING, c->b->file, s->src_off, "%zu overfull line(s) in this paragraph", overfull);
    int pid = c->para_counter++;
    for (size_t k = 0; k < nl; k++) {
        bl_kp_line *kl = &lines[k];
        size_t a = kl->start < n ? pos[kl->start] : s->len;
        size_t bb = pos[kl->brk];
        while (bb > a && s->space[bb - 1])
            bb--;
        /* skip a forced break's separator character itself */
        if (bb >= a + 3 && !memcmp(s->text + bb - 3, "\xE2\x80\xA8", 3))
            bb -= 3;
        lline *ln = push(c, g);
        if (!ln)
            goto out2;
        ln->sh = s;
        ln->a = a;
        ln->b = bb;
        ln->hyphen = kl->hyphenated && it[kl->brk].type == BL_KP_PENALTY && it[kl->brk].width > 0;
        ln->last = k + 1 == nl || it[kl->brk].penalty <= -BL_KP_INFINITY;
        ln->space_w = space_w;
        ln->indent = indent;
        ln->avail = w;
        ln->align = align;
        ln->lc = lc;
        ln->height = lc->leading[kind];
        ln->space_before = k == 0 ? space_before : 0;
        ln->para_id = pid;
        ln->line_in_para = (int)k;
        ln->nlines_para = (int)nl;
        ln->block = block;
        ln->kind = kname;
        ln->marker = k == 0 ? marker : NULL;
        if (c->stats) {
            c->stats->lines++;
            c->stats->hyphenated += ln->hyphen;
        }
    }
    if (c->stats)
        c->stats->overfull += (int)overfull;
    rc = 0;
out2:
    free(lines);
out:
    if (rc && !c->oom)
        c->oom = 1;
    free(it);
    free(pos);
    return rc;
#undef ITEM
#undef FLUSH
}

static int set_para(ctx *c, group *g, langctx *lc, int kind, const bl_para *pa, double w, double indent,
                    int align, int block, const char *kname, double space_before, bl_shaped *pre)
{
    bl_shaped *marker = NULL;
    if (pa->marker[0]) {
        marker = shape(c, lc, kind, pa->marker, strlen(pa->marker), NULL, 0, pa->src_off);
        if (!marker)
            return -1;
    }
    if (pa->len == 0) { /* an empty paragraph keeps one empty line */
        lline *ln = push(c, g);
        if (!ln)
            return -1;
        ln->lc = lc;
        ln->height = lc->leading[kind];
        ln->space_before = space_before;
        ln->block = block;
        ln->kind = kname;
        ln->nlines_para = 1;
        ln->para_id = c->para_counter++;
        return 0;
    }
    bl_shaped *s = pre ? pre : shape(c, lc, kind, pa->text, pa->len, pa->spans, pa->nspans, pa->src_off);
    if (!s)
        return -1;
    return set_lines(c, g, s, lc, kind, w, indent, align, block, kname, space_before, marker);
}

/* A copy of text that lives as long as the layout (shaped text borrows it). */
static char *keep_str(ctx *c, const char *text)
{
    char *t = bl_strdup(text);
    if (!t || bl_grow(&c->strs, &c->cap_strs, c->nstrs + 1, sizeof *c->strs)) {
        free(t);
        c->oom = 1;
        return NULL;
    }
    return c->strs[c->nstrs++] = t;
}

static int set_plain(ctx *c, group *g, langctx *lc, int kind, const char *text0, double w, int align,
                     const char *kname, double space_before)
{
    bl_para pa = {0};
    char *text = keep_str(c, text0);
    if (!text)
        return -1;
    pa.text = text;
    pa.len = strlen(text);
    return set_para(c, g, lc, kind, &pa, w, 0, align, -1, kname, space_before, NULL);
}

/* ---- templates ---------------------------------------------------------------- */

typedef struct fields {
    ctx *c;
    langctx *lc;
    char page[16], pages[16];
} fields;

static const char *field(void *p, const char *name)
{
    fields *f = p;
    const bl_bulletin *b = f->c->b;
    int i = f->lc->index;
    if (!strcmp(name, "issuer")) return bl_text_get(&b->issuer, i);
    if (!strcmp(name, "title")) return bl_text_get(&b->title, i);
    if (!strcmp(name, "reference")) return bl_text_get(&b->reference, i);
    if (!strcmp(name, "classification")) return bl_text_get(&b->classification, i);
    if (!strcmp(name, "date")) return f->c->date[i];
    if (!strcmp(name, "page")) return f->page;
    if (!strcmp(name, "pages")) return f->pages;
    if (!strcmp(name, "lang")) return f->lc->lang;
    return NULL;
}

static char *expand(ctx *c, langctx *lc, const char *tmpl, int page, int pages)
{
    if (!tmpl)
        return NULL;
    fields f = {c, lc, "", ""};
    snprintf(f.page, sizeof f.page, "%d", page);
    snprintf(f.pages, sizeof f.pages, "%d", pages);
    bl_buf out = {0};
    char bad[32] = "";
    if (bl_expand_template(tmpl, field, &f, &out, bad)) {
        if (bad[0])
            bl_diag_at(c->d, BL_ERROR, NULL, 0, "layout '%s': unknown field {%s} in '%s'", c->l->name, bad, tmpl);
        else
            c->oom = 1;
        bl_buf_free(&out);
        return NULL;
    }
    if (!out.data)
        bl_buf_append(&out, "", 0);
    return out.data;
}

/* ---- building the flow ------------------------------------------------------------ */

static const char *kind_name(int kind)
{
    switch (kind) {
    case BL_BLOCK_HEADING: return "heading";
    case BL_BLOCK_QUOTE: return "quote";
    case BL_BLOCK_LIST: return "list";
    case BL_BLOCK_RULE: return "rule";
    default: return "paragraph";
    }
}

static int build_head(ctx *c, group *g, langctx *lc, double w)
{
    const bl_layout *l = c->l;
    for (int k = 0; k < 3 && lc->cfg->letterhead[k]; k++) {
        char *t = expand(c, lc, lc->cfg->letterhead[k], 1, 1);
        if (!t)
            return -1;
        int r = *t ? set_plain(c, g, lc, K_SMALL_BOLD, t, w, BL_ALIGN_START, "letterhead", 0) : 0;
        free(t);
        if (r)
            return -1;
    }
    /* date, then "No. reference" */
    if (set_plain(c, g, lc, K_SMALL, c->date[lc->index], w, BL_ALIGN_START, "date", l->small_leading * 0.5))
        return -1;
    const char *ref = bl_text_get(&c->b->reference, lc->index);
    if (ref && *ref) {
        bl_buf t = {0};
        /* LRI ... PDI keeps "MOD-2021-117" in one piece inside right-to-left text (UAX #9 isolates). */
        bl_buf_printf(&t, "%s \xE2\x81\xA6%s\xE2\x81\xA9", lc->cfg->number_label ? lc->cfg->number_label : "No.", ref);
        int r = t.data ? set_plain(c, g, lc, K_SMALL, t.data, w, BL_ALIGN_START, "reference", 0) : -1;
        bl_buf_free(&t);
        if (r)
            return -1;
    }
    const char *title = bl_text_get(&c->b->title, lc->index);
    if (set_plain(c, g, lc, K_TITLE, title ? title : "", w, BL_ALIGN_START, "title", l->block_space))
        return -1;
    lline *ln = push(c, g);
    if (!ln)
        return -1;
    ln->rule = 1;
    ln->lc = lc;
    ln->kind = "rule";
    ln->height = l->block_space * 2;
    return 0;
}

static int para_kind(const bl_block *blk)
{
    if (blk->kind != BL_BLOCK_HEADING)
        return K_BODY;
    return blk->level <= 1 ? K_HEAD1 : blk->level == 2 ? K_HEAD2 : K_HEAD3;
}

/* Shapes every paragraph of a section before any line is broken: shaping
 * needs no hyphenation dictionary, so the dictionaries prefetched in the
 * background have time to load before the first paragraph needs them. */
static int preshape(ctx *c, langctx *lc, const bl_section *sec)
{
    lc->pre = calloc(sec->nblocks + 1, sizeof *lc->pre);
    if (!lc->pre) {
        c->oom = 1;
        return -1;
    }
    lc->npre = sec->nblocks;
    for (size_t bi = 0; bi < sec->nblocks; bi++) {
        const bl_block *blk = &sec->blocks[bi];
        if (blk->kind == BL_BLOCK_RULE || !blk->nparas)
            continue;
        if (!(lc->pre[bi] = calloc(blk->nparas, sizeof **lc->pre))) {
            c->oom = 1;
            return -1;
        }
        for (size_t k = 0; k < blk->nparas; k++) {
            const bl_para *pa = &blk->paras[k];
            if (pa->len && !(lc->pre[bi][k] = shape(c, lc, para_kind(blk), pa->text, pa->len, pa->spans,
                                                     pa->nspans, pa->src_off)))
                return -1;
        }
    }
    return 0;
}

static int build_block(ctx *c, group *g, langctx *lc, const bl_block *blk, int bi, double w)
{
    const bl_layout *l = c->l;
    const char *kn = kind_name(blk->kind);
    if (blk->kind == BL_BLOCK_RULE) {
        lline *ln = push(c, g);
        if (!ln)
            return -1;
        ln->rule = 1;
        ln->lc = lc;
        ln->block = bi;
        ln->kind = kn;
        ln->height = l->body_leading;
        return 0;
    }
    for (size_t k = 0; k < blk->nparas; k++) {
        const bl_para *pa = &blk->paras[k];
        int kind = para_kind(blk);
        double indent = 0;
        int depth = pa->depth < 0 ? 0 : pa->depth;
        if (blk->kind == BL_BLOCK_QUOTE)
            indent = l->quote_indent * (1 + depth);
        else if (blk->kind == BL_BLOCK_LIST)
            indent = l->list_indent * (depth > 0 ? depth : 1);
        /* a heading takes its own space before it (the block space is already there) */
        double before = k == 0 ? (blk->kind == BL_BLOCK_HEADING ? fmax(0, l->heading_space_before - l->block_space) : 0)
                               : l->block_space * 0.5;
        int align = blk->kind == BL_BLOCK_HEADING ? BL_ALIGN_START : l->align;
        size_t first = g->n;
        bl_shaped *pre = lc->pre && (size_t)bi < lc->npre && lc->pre[bi] ? lc->pre[bi][k] : NULL;
        if (set_para(c, g, lc, kind, pa, w - indent, indent, align, bi, kn, before, pre))
            return -1;
        if (blk->kind == BL_BLOCK_HEADING)
            for (size_t i = first; i < g->n; i++)
                g->v[i].keep_with_next = 1;
        if (blk->kind == BL_BLOCK_QUOTE)
            for (size_t i = first; i < g->n; i++)
                g->v[i].rule = 2;
    }
    return 0;
}

/* Shapes the paragraphs of every language laid out (see preshape). */
static int preshape_all(ctx *c)
{
    for (int i = 0; i < c->b->nlangs && (c->l->arrangement != BL_ARR_SINGLE || i == 0); i++)
        if (preshape(c, &c->lc[i], &c->b->sections[i]))
            return -1;
    return 0;
}

/* Parallel arrangement: the lines of column col (its language's head and
 * blocks) into groups[col], groups[2 + col], groups[4 + col], ... */
static int build_column(ctx *c, group *groups, int col)
{
    langctx *lc = c->col_lang[col];
    const bl_section *sec = &c->b->sections[lc->index];
    if (build_head(c, &groups[col], lc, c->col_w))
        return -1;
    for (size_t k = 0; k < sec->nblocks; k++)
        if (build_block(c, &groups[(k + 1) * 2 + (size_t)col], lc, &sec->blocks[k], (int)k, c->col_w))
            return -1;
    return 0;
}

/* The two columns of a parallel bulletin are set at once, the second on a
 * helper thread with a context of its own, then merged into c as if set
 * one after the other: the output is the same byte for byte.  Only a
 * quiet attempt is kept: diagnostics are counted, not printed, and if either
 * side had any (missing glyphs, overfull lines, errors) the attempt is
 * undone and the caller sets both columns again the usual way, so that
 * messages come once and in the usual order.  Returns 1 when the columns
 * are set, 0 to set them the usual way. */
typedef struct column_job {
    ctx cx; /* a copy of the layout's context, with lists, counters and diagnostics of its own */
    group *groups;
    bl_diag diag;
    bl_layout_stats stats;
    int rc;
    int finished; /* col_lock */
} column_job;

/* One column thread per process, started by the first parallel bulletin and
 * kept until bulletin_shutdown: a packet's bulletins reuse its per-thread
 * word and hyphenation caches (a thread per bulletin started cold each time
 * and cost 0.5 ms of CPU per bulletin).  It takes one job at a time; a
 * bulletin that finds it busy (another render on another thread) sets its
 * columns the usual way. */
static pthread_mutex_t col_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t col_cond = PTHREAD_COND_INITIALIZER;
static pthread_t col_thread;
static int col_started, col_busy, col_stop;
static column_job *col_job;

static void *column_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&col_lock);
    for (;;) {
        while (!col_job && !col_stop)
            pthread_cond_wait(&col_cond, &col_lock);
        if (!col_job)
            break;
        column_job *j = col_job;
        col_job = NULL;
        pthread_mutex_unlock(&col_lock);
        langctx *lc = j->cx.col_lang[1];
        j->rc = preshape(&j->cx, lc, &j->cx.b->sections[lc->index]) || build_column(&j->cx, j->groups, 1) ? -1 : 0;
        pthread_mutex_lock(&col_lock);
        j->finished = 1;
        pthread_cond_broadcast(&col_cond);
    }
    pthread_mutex_unlock(&col_lock);
    return NULL;
}

/* Whether the column thread runs, starting it if need be (col_lock held). */
static int column_thread_locked(void)
{
    if (!col_started && !col_stop)
        col_started = bl_thread_start(&col_thread, column_main, NULL) == 0;
    return col_started && !col_stop;
}

void bl_layout_prestart(void)
{
    if (!bl_helpers())
        return;
    pthread_mutex_lock(&col_lock);
    column_thread_locked();
    pthread_mutex_unlock(&col_lock);
}

/* Hands j to the column thread (starting it if need be); -1 if it is busy or
 * cannot start. */
static int column_submit(column_job *j)
{
    pthread_mutex_lock(&col_lock);
    int ok = !col_busy && column_thread_locked();
    if (ok) {
        col_busy = 1;
        col_job = j;
        pthread_cond_broadcast(&col_cond);
    }
    pthread_mutex_unlock(&col_lock);
    return ok ? 0 : -1;
}

static void column_wait(column_job *j)
{
    pthread_mutex_lock(&col_lock);
    while (!j->finished)
        pthread_cond_wait(&col_cond, &col_lock);
    col_busy = 0;
    pthread_mutex_unlock(&col_lock);
}

void bl_layout_shutdown(void)
{
    pthread_mutex_lock(&col_lock);
    int started = col_started;
    col_stop = 1;
    pthread_cond_broadcast(&col_cond);
    pthread_mutex_unlock(&col_lock);
    if (started)
        pthread_join(col_thread, NULL);
    pthread_mutex_lock(&col_lock);
    col_started = col_stop = 0;
    pthread_mutex_unlock(&col_lock);
}

/* Frees what preshape kept for lc. */
static void unset_lang(langctx *lc)
{
    for (size_t bi = 0; lc->pre && bi < lc->npre; bi++)
        free(lc->pre[bi]);
    free(lc->pre);
    lc->pre = NULL;
    lc->npre = 0;
}

/* Frees c's shaped paragraphs and kept strings from the given counts on. */
static void drop_lists_from(ctx *c, size_t nshaped, size_t nstrs)
{
    for (size_t i = nshaped; i < c->nshaped; i++)
        bl_shaped_free(c->shaped[i]);
    for (size_t i = nstrs; i < c->nstrs; i++)
        free(c->strs[i]);
    c->nshaped = nshaped;
    c->nstrs = nstrs;
}

/* Where lc's text styles note the code points already warned about. */
static void point_seen(langctx *lc, bl_seen *seen)
{
    for (int k = 0; k < K_COUNT; k++)
        if (lc->st[k].seen)
            lc->st[k].seen = seen;
}

static int build_columns_at_once(ctx *c, group *groups, size_t ngroups)
{
    langctx *other = c->col_lang[1];
    column_job *j = calloc(1, sizeof *j);
    if (!j)
        return 0;
    j->cx = *c;
    j->cx.shaped = NULL;
    j->cx.nshaped = j->cx.cap_shaped = 0;
    j->cx.strs = NULL;
    j->cx.nstrs = j->cx.cap_strs = 0;
    memset(&j->cx.seen, 0, sizeof j->cx.seen);
    j->cx.para_counter = 0;
    j->cx.stats = c->stats ? &j->stats : NULL;
    j->cx.oom = 0;
    bl_diag_init(&j->diag, NULL);
    j->diag.mute = 1;
    j->cx.d = &j->diag;
    j->groups = groups;
    point_seen(other, &j->cx.seen);
    if (column_submit(j)) {
        point_seen(other, &c->seen);
        free(j);
        return 0;
    }
    /* This thread sets the first column, muted too. */
    bl_diag *d = c->d, mine = *d;
    mine.mute = 1;
    mine.muted = 0;
    c->d = &mine;
    bl_layout_stats before = c->stats ? *c->stats : (bl_layout_stats){0};
    size_t nshaped = c->nshaped, nstrs = c->nstrs, nseen = c->seen.n;
    int pc = c->para_counter;
    langctx *first = c->col_lang[0];
    int rc = preshape(c, first, &c->b->sections[first->index]) || build_column(c, groups, 0) ? -1 : 0;
    column_wait(j);
    c->d = d;
    point_seen(other, &c->seen);

    int quiet = rc == 0 && j->rc == 0 && !c->oom && !j->cx.oom && !mine.muted && !j->diag.muted && !j->cx.seen.n;
    int merged = quiet && !bl_grow(&c->shaped, &c->cap_shaped, c->nshaped + j->cx.nshaped, sizeof *c->shaped) &&
                 !bl_grow(&c->strs, &c->cap_strs, c->nstrs + j->cx.nstrs, sizeof *c->strs);
    if (merged) {
        memcpy(c->shaped + c->nshaped, j->cx.shaped, j->cx.nshaped * sizeof *c->shaped);
        c->nshaped += j->cx.nshaped;
        memcpy(c->strs + c->nstrs, j->cx.strs, j->cx.nstrs * sizeof *c->strs);
        c->nstrs += j->cx.nstrs;
        /* The second column's paragraphs are numbered after the first's. */
        for (size_t g = 0; g < ngroups; g++)
            for (size_t i = 0; i < groups[g * 2 + 1].n; i++)
                if (groups[g * 2 + 1].v[i].para_id >= 0)
                    groups[g * 2 + 1].v[i].para_id += c->para_counter;
        c->para_counter += j->cx.para_counter;
        if (c->stats) {
            c->stats->lines += j->stats.lines;
            c->stats->hyphenated += j->stats.hyphenated;
            c->stats->overfull += j->stats.overfull;
        }
    } else {
        drop_lists_from(&j->cx, 0, 0);
        drop_lists_from(c, nshaped, nstrs);
        c->seen.n = nseen;
        c->para_counter = pc;
        c->oom = 0;
        if (c->stats)
            *c->stats = before;
        for (size_t g = 0; g < ngroups * 2; g++) {
            free(groups[g].v);
            memset(&groups[g], 0, sizeof groups[g]);
        }
        unset_lang(first);
        unset_lang(other);
    }
    free(j->cx.shaped);
    free(j->cx.strs);
    free(j->cx.seen.cps);
    free(j);
    return merged;
}

/* ---- pagination ------------------------------------------------------------------- */

static int new_page(ctx *c)
{
    if (c->npages >= 10000) {
        bl_diag_at(c->d, BL_ERROR, c->b->file, 0, "the bulletin needs more than 10000 pages; stopping");
        return -1;
    }
    if (bl_grow(&c->page_start, &c->cap_pages, c->npages + 1, sizeof *c->page_start)) {
        c->oom = 1;
        return -1;
    }
    c->page_start[c->npages++] = c->npl;
    return 0;
}

static int place(ctx *c, lline *ln, int col, double top)
{
    if (bl_grow(&c->pl, &c->cap_pl, c->npl + 1, sizeof *c->pl)) {
        c->oom = 1;
        return -1;
    }
    c->pl[c->npl++] = (placed){ln, col, top};
    return 0;
}

/* How many lines of g from i fit in height avail (at the top of a page,
 * space before the first line is dropped); widows and orphans respected. */
static size_t fit(const ctx *c, const group *g, size_t i, double avail, int at_top, double *used)
{
    double h = 0;
    size_t k = i;
    while (k < g->n) {
        double sb = (k == i && at_top) ? 0 : g->v[k].space_before;
        if (h + sb + g->v[k].height > avail + 1e-6)
            break;
        h += sb + g->v[k].height;
        k++;
    }
    if (k < g->n && k > i) {
        const lline *nx = &g->v[k];
        int before = nx->line_in_para, after = nx->nlines_para - nx->line_in_para;
        if (before > 0 && (before < c->l->orphans || after < c->l->widows)) {
            size_t para_start = k - (size_t)before;
            size_t cut = para_start;
            if (nx->nlines_para >= c->l->orphans + c->l->widows && after < c->l->widows &&
                nx->nlines_para - c->l->widows >= c->l->orphans)
                cut = para_start + (size_t)(nx->nlines_para - c->l->widows);
            if (cut < i)
                cut = i;
            k = cut;
            h = 0;
            for (size_t j = i; j < k; j++)
                h += (j == i && at_top ? 0 : g->v[j].space_before) + g->v[j].height;
        }
    }
    /* A page should not end in a hyphen (TeX's \brokenpenalty): give the line
     * to the next page when the paragraph keeps its orphans. */
    if (k > i + 1 && k < g->n && g->v[k - 1].hyphen && g->v[k].para_id == g->v[k - 1].para_id &&
        g->v[k - 1].line_in_para >= c->l->orphans && g->v[k].nlines_para - g->v[k - 1].line_in_para >= c->l->widows) {
        k--;
        h -= g->v[k].height + g->v[k].space_before;
    }
    /* a heading never ends a column */
    while (k > i && k < g->n && g->v[k - 1].keep_with_next) {
        k--;
        h -= g->v[k].height + (k == i && at_top ? 0 : g->v[k].space_before);
    }
    *used = h;
    return k - i;
}

static double group_height(const group *g, size_t i, int at_top)
{
    double h = 0;
    for (size_t k = i; k < g->n; k++)
        h += (k == i && at_top ? 0 : g->v[k].space_before) + g->v[k].height;
    return h;
}

/* Places groups[k][col] for every k; columns of one k start at the same height. */
static int paginate(ctx *c, group *groups, size_t ngroups, int ncols)
{
    double y = top_y(c, 0);
    int page_empty = 1;
    if (c->letterhead)
        y -= c->l->letterhead_image_h + c->l->block_space;
    if (new_page(c))
        return -1;
    for (size_t k = 0; k < ngroups; k++) {
        group *gs = &groups[k * (size_t)ncols];
        size_t idx[2] = {0, 0};
        /* a heading keeps with the first lines of what follows it */
        int heading = 0;
        for (int col = 0; col < ncols; col++)
            if (gs[col].n && gs[col].v[0].keep_with_next)
                heading = 1;
        if (heading && !page_empty && k + 1 < ngroups) {
            double need = 0;
            for (int col = 0; col < ncols; col++) {
                group *nx = &groups[(k + 1) * (size_t)ncols + (size_t)col];
                double h = group_height(&gs[col], 0, 0) + c->l->heading_space_after;
                /* what must follow the heading on the same page: the first
                 * paragraph's orphans, or all of it if it may not be split */
                size_t keep = (size_t)c->l->orphans;
                if (nx->n && nx->v[0].nlines_para < c->l->orphans + c->l->widows)
                    keep = (size_t)nx->v[0].nlines_para;
                for (size_t j = 0; j < nx->n && j < keep; j++)
                    h += nx->v[j].height + nx->v[j].space_before;
                if (h > need)
                    need = h;
            }
            if (y - need < bottom_y(c)) {
                if (new_page(c))
                    return -1;
                y = top_y(c, (int)c->npages - 1);
                page_empty = 1;
            }
        }
        for (;;) {
            /* A rule never starts a page: it belongs to what is above it. */
            for (int col = 0; col < ncols && page_empty; col++)
                while (idx[col] < gs[col].n && gs[col].v[idx[col]].rule == 1)
                    idx[col]++;
            double avail = y - bottom_y(c), maxh = 0;
            size_t take[2] = {0, 0};
            int done = 1, none = 1;
            for (int col = 0; col < ncols; col++) {
                double used;
                take[col] = fit(c, &gs[col], idx[col], avail, page_empty, &used);
                if (take[col])
                    none = 0;
                if (idx[col] + take[col] < gs[col].n)
                    done = 0;
                if (used > maxh)
                    maxh = used;
            }
            if (!done && none && page_empty) {
                /* Nothing fits even on an empty page: force one line per column. */
                for (int col = 0; col < ncols; col++)
                    if (idx[col] < gs[col].n) {
                        if (gs[col].v[idx[col]].height > top_y(c, 1) - bottom_y(c)) {
                            bl_diag_at(c->d, BL_ERROR, c->b->file, 0,
                                       "a line (%.1f pt) is taller than the page's text area (%.1f pt)",
                                       gs[col].v[idx[col]].height, top_y(c, 1) - bottom_y(c));
                            return -1;
                        }
                        take[col] = 1;
                        if (gs[col].v[idx[col]].height > maxh)
                            maxh = gs[col].v[idx[col]].height;
                    }
                done = 1;
                for (int col = 0; col < ncols; col++)
                    if (idx[col] + take[col] < gs[col].n)
                        done = 0;
            }
            for (int col = 0; col < ncols; col++) {
                double yy = y;
                for (size_t j = 0; j < take[col]; j++) {
                    lline *ln = &gs[col].v[idx[col] + j];
                    if (!(j == 0 && page_empty))
                        yy -= ln->space_before;
                    if (place(c, ln, col, yy))
                        return -1;
                    yy -= ln->height;
                }
                idx[col] += take[col];
            }
            if (!none)
                page_empty = 0;
            if (done) {
                y -= maxh;
                break;
            }
            if (new_page(c))
                return -1;
            y = top_y(c, (int)c->npages - 1);
            page_empty = 1;
        }
        if (!page_empty) /* a heading is followed by its own, smaller space */
            y -= heading ? c->l->heading_space_after : c->l->block_space;
    }
    return 0;
}

/* ---- drawing ------------------------------------------------------------------------ */

/* How a line of natural width nat is brought to width w (total = w - nat):
 * spaces first, within 0.8x-1.5x of their width; then letter spacing, within
 * its limits; what is still missing goes to the spaces.  Sets the extra width
 * per space and per gap. */
static void justify_extras(double total, size_t nsp, size_t ngaps, double space_w, double size, int tracking,
                           double *se, double *le)
{
    *se = *le = 0;
    if (total > 0) {
        if (nsp) /* a little below 1.5x, so letter spacing takes over before the limit */
            *se = fmin(total / (double)nsp, space_w * 0.45);
        double rem = total - *se * (double)nsp;
        if (tracking && ngaps && rem > 0)
            *le = fmin(rem / (double)ngaps, size * BL_TRACK_MAX);
        rem -= *le * (double)ngaps;
        if (rem > 1e-9) {
            if (nsp)
                *se += rem / (double)nsp;
            else if (tracking && ngaps)
                *le += rem / (double)ngaps;
        }
    } else if (total < 0) {
        if (nsp)
            *se = fmax(total / (double)nsp, -space_w * 0.19);
        double rem = total - *se * (double)nsp;
        if (tracking && ngaps && rem < 0)
            *le = fmax(rem / (double)ngaps, -size * BL_TRACK_MIN);
        rem -= *le * (double)ngaps;
        if (rem < -1e-9 && nsp)
            *se += rem / (double)nsp;
    }
    /* Round numbers, so that the PDF says them in few digits (character
     * and word spacing, Tc and Tw, on nearly every justified line): letter
     * spacing to 0.01 pt, and the spaces, which take up the difference,
     * to 0.001 pt.  The line then ends within 0.0005 pt per space of the
     * box's edge. */
    if (nsp && *le != 0) {
        double l2 = round(*le * 100.0) / 100.0;
        *se += (*le - l2) * (double)ngaps / (double)nsp;
        *le = l2;
    }
    if (nsp)
        *se = round(*se * 1000.0) / 1000.0;
}

/* Sets text bytes [a, b) of s as one line in the box [bx, bx + bw): justified
 * to the box when justify is set (and shrunk into it whenever it is too
 * long), else aligned by align and the paragraph direction; draws it. */
static int draw_set_line(ctx *c, const bl_shaped *s, size_t a, size_t b, int hyphen, double bx, double bw,
                         int align, int justify, double space_w, double baseline, int block, const char *kind,
                         const char *lang)
{
    bl_line_out lo;
    double se = 0, le = 0, x;
    set_memo *m = c->memo_next < c->nmemo ? &c->memo[c->memo_next] : NULL;
    if (m && m->s == s && m->a == a && m->b == b && m->hyphen == hyphen) { /* the announcing pass set it */
        c->memo_next++;
        lo = m->lo;
        m->lo = (bl_line_out){0};
        x = m->x, se = m->se, le = m->le;
    } else {
        if (bl_text_line(s, a, b, hyphen, 0, baseline, &lo)) {
            c->oom = 1;
            return -1;
        }
        double total = bw - lo.width;
        if (justify || total < 0)
            justify_extras(total, lo.nspaces, lo.ngaps, space_w, s->style->size, s->style->tracking, &se, &le);
        double w = lo.width + se * (double)lo.nspaces + le * (double)lo.ngaps;
        int rtl = s->para_level & 1;
        /* A justified line that fills the box (within justify_extras's
         * rounding) starts at its left edge, a round number; one that
         * nothing could stretch or shrink enough (one long word, no letter
         * spacing in Arabic) is aligned like any other. */
        if (justify && fabs(w - bw) < 0.01)
            x = bx;
        else if (align == BL_ALIGN_CENTER)
            x = bx + (bw - w) / 2;
        else if ((align == BL_ALIGN_END) != (rtl != 0))
            x = bx + bw - w;
        else
            x = bx;
        bl_line_out_adjust(&lo, se, le, x);
    }
    int rc = 0;
    if (c->dev->line) {
        bl_line_info li = {lang, block, kind, x, baseline, lo.width, s->text + a, b - a, se, le};
        rc = c->dev->line(c->dev, &li);
    }
    for (size_t r = 0; r < lo.nruns && !rc; r++) {
        lo.runs[r].block = block;
        lo.runs[r].kind = kind;
        rc = c->dev->glyph_run(c->dev, &lo.runs[r]);
    }
    for (size_t k = 0; k < lo.nlinks && !rc && c->dev->link; k++)
        rc = c->dev->link(c->dev, lo.links[k].x, baseline - s->style->size * 0.25, lo.links[k].w,
                          s->style->size * 1.1, lo.links[k].href);
    if (!rc && c->recording) {
        if (!bl_grow(&c->memo, &c->cap_memo, c->nmemo + 1, sizeof *c->memo)) {
            c->memo[c->nmemo++] = (set_memo){s, a, b, hyphen, x, se, le, lo};
            return 0;
        }
        c->oom = 1;
        rc = -1;
    }
    bl_line_out_free(&lo);
    return rc;
}

/* One line of furniture text in a box [x, x+w), aligned by its language. */
static int furniture(ctx *c, langctx *lc, int kind, const char *text, double x, double w, int align,
                     double baseline, const char *kname)
{
    if (!text || !*text)
        return 0;
    /* The same header, footer or banner text recurs on every page: shape it once. */
    bl_shaped *s = NULL;
    for (size_t i = 0; i < c->nfurn && !s; i++)
        if (c->furn[i].lc == lc && c->furn[i].kind == kind && !strcmp(c->furn[i].s->text, text))
            s = c->furn[i].s;
    if (!s) {
        if (!(text = keep_str(c, text)) || !(s = shape(c, lc, kind, text, strlen(text), NULL, 0, 0)))
            return -1;
        if (!bl_grow(&c->furn, &c->cap_furn, c->nfurn + 1, sizeof *c->furn))
            c->furn[c->nfurn++] = (furn_entry){lc, kind, s};
    }
    return draw_set_line(c, s, 0, s->len, 0, x, w, align, 0, 0, baseline, -1, kname, lc->lang);
}

static void col_box(const ctx *c, int col, double *x, double *w)
{
    *x = c->col_x[col];
    *w = c->col_w;
}

static int draw_page_furniture(ctx *c, int page, int pages)
{
    const bl_layout *l = c->l;
    int rc = 0;
    double fy = l->margin_bottom + l->footer_h * 0.35;
    /* Furniture boxes: the two columns in parallel; in stacked with two or
     * more languages, two half-width boxes (the left-to-right language on the
     * left) so every page carries both languages' header and footer. */
    int nbox = c->ncols;
    langctx *blang[2] = {c->col_lang[0], c->col_lang[1]};
    double bx[2] = {c->col_x[0], c->col_x[1]}, bw = c->col_w;
    if (c->ncols == 1 && l->arrangement == BL_ARR_STACKED && c->nlc >= 2) {
        nbox = 2;
        bw = (c->col_w - l->column_gap) / 2;
        bx[1] = c->col_x[0] + bw + l->column_gap;
        int left = c->lc[0].rtl && !c->lc[1].rtl ? 1 : 0;
        blang[0] = &c->lc[left];
        blang[1] = &c->lc[1 - left];
    }
    /* All but the page label recurs from page to page (the header from
     * page 2 on): each box's furniture after its label is a group, the
     * last box's through the rules, for a device that draws a recurring
     * group once (the PDF writer: a Form XObject per distinct content).
     * A footer with {page} stays out, before the group; anything else that
     * varies only costs a form of its own, since the device compares what
     * was drawn.  Drawing order and positions are the same either way. */
    bl_device *dev = c->dev;
    int grouped = dev->group_begin && dev->group_end;
    for (int col = 0; col < nbox && !rc; col++) {
        langctx *lc = blang[col];
        double x = bx[col], w = bw;
        int other = nbox == 2 ? blang[1 - col]->index : lc->index;
        char *label = expand(c, lc, lc->cfg->page_label ? lc->cfg->page_label : "{page} / {pages}", page, pages);
        char *foot = expand(c, lc, lc->cfg->footer, page, pages);
        if (!label || (lc->cfg->footer && !foot)) {
            free(label);
            free(foot);
            return -1;
        }
        int foot_varies = foot && strstr(lc->cfg->footer, "{page}");
        rc = furniture(c, lc, K_SMALL, label, x, w, BL_ALIGN_END, fy, "footer");
        if (!rc && foot_varies)
            rc = furniture(c, lc, K_SMALL, foot, x, w, BL_ALIGN_START, fy, "footer");
        if (!rc && grouped)
            rc = dev->group_begin(dev);
        if (!rc && foot && !foot_varies)
            rc = furniture(c, lc, K_SMALL, foot, x, w, BL_ALIGN_START, fy, "footer");
        free(label);
        free(foot);
        if (!rc && page > 1 && lc->cfg->header) {
            char *h = expand(c, lc, lc->cfg->header, page, pages);
            double hy = l->page_h - l->margin_top - l->small_size;
            rc = h ? furniture(c, lc, K_SMALL, h, x, w, BL_ALIGN_START, hy, "header") : -1;
            free(h);
        }
        /* The classification, top and bottom: once across the page when every
         * language says the same, else each column its own. */
        const char *cls = bl_text_get(&c->b->classification, lc->index);
        const char *ocls = bl_text_get(&c->b->classification, other);
        int same = nbox == 2 && cls && ocls && !strcmp(cls, ocls);
        if (!rc && cls && *cls && !(same && col == 1)) {
            double ty = l->page_h - l->margin_top * 0.55, by = l->margin_bottom * 0.45;
            double cx = same ? l->margin_inner : x, cw = same ? l->page_w - l->margin_inner - l->margin_outer : w;
            rc = furniture(c, lc, K_BANNER, cls, cx, cw, BL_ALIGN_CENTER, ty, "classification");
            if (!rc)
                rc = furniture(c, lc, K_BANNER, cls, cx, cw, BL_ALIGN_CENTER, by, "classification");
        }
        if (!rc && grouped && col + 1 < nbox)
            rc = dev->group_end(dev);
    }
    if (rc)
        return rc;
    /* header rule on later pages, footer rule on every page */
    double x0 = l->margin_inner, x1 = l->page_w - l->margin_outer;
    if (page > 1)
        rc = c->dev->rule(c->dev, x0, l->page_h - l->margin_top - l->header_h * 0.6, x1,
                          l->page_h - l->margin_top - l->header_h * 0.6, l->rule_width, l->rule_rgb);
    if (!rc)
        rc = c->dev->rule(c->dev, x0, l->margin_bottom + l->footer_h * 0.8, x1, l->margin_bottom + l->footer_h * 0.8,
                          l->rule_width, l->rule_rgb);
    if (!rc && grouped)
        rc = dev->group_end(dev);
    return rc;
}

static int flush_bar(ctx *c, int col)
{
    if (!c->bar[col].on)
        return 0;
    c->bar[col].on = 0;
    return c->dev->rule(c->dev, c->bar[col].x, c->bar[col].top, c->bar[col].x, c->bar[col].bottom, 1.2,
                        c->l->accent_rgb);
}

/* A line's stretch of quote bar, from top down by height at x: joins the
 * column's open bar when it goes on from where that ends. */
static int quote_bar(ctx *c, int col, double x, double top, double height)
{
    if (col < 0 || col > 1)
        return c->dev->rule(c->dev, x, top, x, top - height, 1.2, c->l->accent_rgb);
    if (c->bar[col].on && (c->bar[col].x != x || fabs(c->bar[col].bottom - top) > 1e-9) && flush_bar(c, col))
        return -1;
    if (!c->bar[col].on) {
        c->bar[col].on = 1;
        c->bar[col].x = x;
        c->bar[col].top = top;
    }
    c->bar[col].bottom = top - height;
    return 0;
}

static int draw_line(ctx *c, const placed *p)
{
    const lline *ln = p->ln;
    const bl_layout *l = c->l;
    double cx, cw;
    col_box(c, p->col, &cx, &cw);
    int rtl = ln->lc->rtl;
    if (ln->rule == 1) {
        double y = p->top - ln->height / 2;
        return c->dev->rule(c->dev, cx, y, cx + cw, y, l->rule_width, l->rule_rgb);
    }
    if (!ln->sh)
        return 0;
    double size = ln->sh->style->size;
    /* The baseline's place in the line box is the layout's, unscaled: paired
     * blocks in languages of different scale start on one baseline. */
    double baseline = p->top - (ln->height / ln->lc->scale / 2 + size / ln->lc->scale * 0.35);
    /* the box the line lives in, the indent on the column's start side */
    double bx = rtl ? cx : cx + ln->indent, bw = ln->avail;
    if (ln->rule == 2) { /* quote bar on the start side */
        double qx = rtl ? cx + cw - l->quote_indent * 0.4 : cx + l->quote_indent * 0.4;
        if (quote_bar(c, p->col, qx, p->top, ln->height))
            return -1;
    }
    if (ln->marker) {
        double mw = bl_shaped_width(ln->marker, 0, ln->marker->len);
        double gap = size * 0.4;
        double mx = rtl ? bx + bw + gap : bx - gap - mw;
        if (draw_set_line(c, ln->marker, 0, ln->marker->len, 0, mx, mw, BL_ALIGN_START, 0, 0, baseline, ln->block,
                          "marker", ln->lc->lang))
            return -1;
    }
    int justify = ln->align == BL_ALIGN_JUSTIFY && !ln->last;
    return draw_set_line(c, ln->sh, ln->a, ln->b, ln->hyphen, bx, bw, ln->align, justify, ln->space_w, baseline,
                         ln->block, ln->kind, ln->lc->lang);
}

/* The announcing pass's device: glyph runs go to the real device's ahead,
 * everything else is dropped. */
typedef struct announcer {
    bl_device dev;
    bl_device *to;
} announcer;

static int an_page(bl_device *d, double w, double h) { (void)d, (void)w, (void)h; return 0; }
static int an_run(bl_device *d, const bl_glyph_run *r) { return ((announcer *)d)->to->ahead(((announcer *)d)->to, r); }
static int an_rule(bl_device *d, double x0, double y0, double x1, double y1, double w, const double rgb[3])
{
    (void)d, (void)x0, (void)y0, (void)x1, (void)y1, (void)w, (void)rgb;
    return 0;
}
static int an_rect(bl_device *d, double x, double y, double w, double h, const double rgb[3])
{
    (void)d, (void)x, (void)y, (void)w, (void)h, (void)rgb;
    return 0;
}
static int an_image(bl_device *d, const bl_image *img, double x, double y, double w, double h)
{
    (void)d, (void)img, (void)x, (void)y, (void)w, (void)h;
    return 0;
}
static int an_link(bl_device *d, double x, double y, double w, double h, const char *uri)
{
    (void)d, (void)x, (void)y, (void)w, (void)h, (void)uri;
    return 0;
}
static int an_end(bl_device *d) { (void)d; return 0; }
static const char *an_error(bl_device *d)
{
    bl_device *to = ((announcer *)d)->to;
    return to->error ? to->error(to) : "";
}

static int draw_pages(ctx *c);

static void drop_memo(ctx *c)
{
    for (size_t i = 0; i < c->nmemo; i++)
        bl_line_out_free(&c->memo[i].lo);
    free(c->memo);
    c->memo = NULL;
    c->nmemo = c->cap_memo = c->memo_next = 0;
}

/* A device with ahead (draw.h) is told every glyph run before the drawing
 * starts: the pages are drawn once onto an announcer, which keeps each line
 * it sets, and then again onto the device with those lines.  Only for a
 * short bulletin: what it gains is a fixed part of a save (the fonts, ~0.5
 * ms), and what it costs grows with the pages (the kept lines: a 64-page
 * bulletin took 11 MB more and 8 ms longer). */
#define AHEAD_MAX_PAGES 4
static int draw(ctx *c)
{
    bl_device *dev = c->dev;
    if (dev->ahead && c->npages <= AHEAD_MAX_PAGES) {
        announcer an = {{.begin_page = an_page, .glyph_run = an_run, .rule = an_rule, .rect = an_rect,
                         .image = an_image, .link = an_link, .end_page = an_end, .error = an_error},
                        dev};
        c->dev = &an.dev;
        c->recording = 1;
        int rc = draw_pages(c);
        c->dev = dev;
        c->recording = 0;
        if (rc || dev->ahead(dev, NULL)) {
            drop_memo(c);
            return -1;
        }
        memset(c->bar, 0, sizeof c->bar);
    }
    int rc = draw_pages(c);
    drop_memo(c);
    return rc;
}

static int draw_pages(ctx *c)
{
    const bl_layout *l = c->l;
    int pages = (int)c->npages;
    for (int p = 0; p < pages; p++) {
        if (c->dev->begin_page(c->dev, l->page_w, l->page_h))
            return -1;
        if (draw_page_furniture(c, p + 1, pages))
            return -1;
        if (p == 0 && c->letterhead) {
            double h = l->letterhead_image_h;
            double w = h * c->letterhead->width / c->letterhead->height;
            if (c->dev->image(c->dev, c->letterhead, (l->page_w - w) / 2, top_y(c, 0) - h, w, h))
                return -1;
        }
        if (c->ncols == 2 && c->l->arrangement == BL_ARR_PARALLEL) {
            double gx = c->col_x[0] + c->col_w + c->l->column_gap / 2;
            if (c->dev->rule(c->dev, gx, bottom_y(c) + l->small_size, gx, top_y(c, p) - l->small_size,
                             l->rule_width * 0.6, l->rule_rgb))
                return -1;
        }
        size_t e = p + 1 < pages ? c->page_start[p + 1] : c->npl;
        for (size_t i = c->page_start[p]; i < e; i++)
            if (draw_line(c, &c->pl[i]))
                return -1;
        if (flush_bar(c, 0) || flush_bar(c, 1) || c->dev->end_page(c->dev))
            return -1;
        if (c->stats && !c->recording)
            c->stats->pages++;
    }
    return 0;
}

/* ---- entry point ------------------------------------------------------------------------ */

int bl_layout_bulletin(const bl_bulletin *b, const bl_layout *l, bl_device *dev, bl_diag *d,
                       bl_layout_stats *stats)
{
    ctx *c = calloc(1, sizeof *c);
    if (!c) {
        bl_diag_at(d, BL_ERROR, NULL, 0, "out of memory");
        return -1;
    }
    c->b = b;
    c->l = l;
    c->dev = dev;
    c->d = d;
    c->stats = stats;
    c->nlc = b->nlangs;
    int rc = -1;
    group *groups = NULL;
    size_t ngroups = 0;
    for (int i = 0; i < b->nlangs; i++) {
        langctx *lc = &c->lc[i];
        lc->lang = b->langs[i];
        lc->rtl = bl_lang_is_rtl(lc->lang);
        lc->index = i;
        lc->cfg = bl_layout_lang(l, lc->lang);
        if (bl_format_date(lc->lang, b->year, b->month, b->day, c->date[i], sizeof c->date[i]))
            snprintf(c->date[i], sizeof c->date[i], "%04d-%02d-%02d", b->year, b->month, b->day);
    }
    if (load_fonts(c))
        goto done;
    if (l->letterhead_image) {
        char err[256];
        c->letterhead = bl_image_load(l->letterhead_image, err, sizeof err);
        if (!c->letterhead) {
            bl_diag_file(d, BL_ERROR, l->letterhead_image, "%s", err);
            goto done;
        }
    }
    double text_x = l->margin_inner, text_w = l->page_w - l->margin_inner - l->margin_outer;
    int parallel = l->arrangement == BL_ARR_PARALLEL && b->nlangs >= 2;
    if (parallel) {
        c->ncols = 2;
        c->col_w = (text_w - l->column_gap) / 2;
        /* Which language on which side: an RTL language's column on the right
         * (the start side of its text); otherwise the first language left.
         * The layout's swap flips it (the Moniteur belge swaps sides yearly). */
        int left = 0, right = 1;
        if (c->lc[0].rtl && !c->lc[1].rtl)
            left = 1, right = 0;
        if (l->swap) {
            int t = left;
            left = right;
            right = t;
        }
        c->col_lang[0] = &c->lc[left];
        c->col_lang[1] = &c->lc[right];
        c->col_x[0] = text_x;
        c->col_x[1] = text_x + c->col_w + l->column_gap;
        size_t nb = b->sections[0].nblocks;
        for (int i = 1; i < 2; i++)
            if (b->sections[i].nblocks > nb)
                nb = b->sections[i].nblocks;
        ngroups = nb + 1;
        groups = calloc(ngroups * 2, sizeof *groups);
        if (!groups)
            goto oom;
        int built = b->nlangs == 2 && bl_helpers() ? build_columns_at_once(c, groups, ngroups) : 0;
        if (stats)
            stats->columns_at_once = built;
        if (!built) {
            if (preshape_all(c))
                goto preshape_failed;
            for (int col = 0; col < 2; col++)
                if (build_column(c, groups, col))
                    goto fail;
        }
    } else {
        if (preshape_all(c))
            goto preshape_failed;
        c->ncols = 1;
        c->col_w = text_w;
        c->col_x[0] = text_x;
        c->col_lang[0] = &c->lc[0];
        int nl = l->arrangement == BL_ARR_SINGLE ? 1 : b->nlangs;
        for (int i = 0; i < nl; i++)
            ngroups += 1 + b->sections[i].nblocks;
        groups = calloc(ngroups + 1, sizeof *groups);
        if (!groups)
            goto oom;
        size_t gi = 0;
        for (int i = 0; i < nl; i++) {
            langctx *lc = &c->lc[i];
            if (build_head(c, &groups[gi++], lc, c->col_w))
                goto fail;
            for (size_t k = 0; k < b->sections[i].nblocks; k++)
                if (build_block(c, &groups[gi++], lc, &b->sections[i].blocks[k], (int)k, c->col_w))
                    goto fail;
        }
    }
    if (c->oom)
        goto oom;
    if (paginate(c, groups, ngroups, c->ncols) || draw(c)) {
        if (c->oom)
            goto oom;
        if (d->errors == 0)
            bl_diag_at(d, BL_ERROR, NULL, 0, "rendering failed: %s", dev->error ? dev->error(dev) : "?");
        goto fail;
    }
    rc = 0;
    goto done;
preshape_failed:
    if (!c->oom)
        goto fail;
oom:
    bl_diag_at(d, BL_ERROR, NULL, 0, "out of memory");
fail:
done:
    if (groups)
        for (size_t i = 0; i < ngroups * (size_t)(c->ncols ? c->ncols : 1); i++)
            free(groups[i].v);
    free(groups);
    drop_lists_from(c, 0, 0);
    free(c->shaped);
    free(c->strs);
    for (int i = 0; i < c->nlc; i++)
        unset_lang(&c->lc[i]);
    free(c->furn);
    free(c->seen.cps);
    free(c->pl);
    free(c->page_start);
    bl_image_drop(c->letterhead);
    free(c);
    return rc;
}
