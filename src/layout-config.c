/* layout-config.c - layout files (YAML, via libyaml's document API) into a
 * bl_layout; dates and page-label templates per language.  The schema is
 * documented at the top of layouts/base.yaml.
 *
 * Loading works on a private lstate: the public bl_layout plus, for every
 * value that a later check may blame, the place it was set (file, line, col
 * and how far up the `extends` chain).  A file first loads its parent, then
 * applies its own keys on top, so each recorded place is the most derived one
 * that set the value.  Checks that involve several values (margins against
 * the page, leading against size) run once, after the whole chain is applied,
 * and report at the most derived of the places involved.  Per-language
 * fields carry "set" bits so that values no layout in the chain set for a
 * language are taken from "*" only at the very end: a child that changes the
 * "*" fonts reaches every language that never chose its own. */
#include "layout-yaml.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <hb.h>
#include <yaml.h>

#define MAX_LAYOUT_BYTES (1u << 20)
#define MAX_LETTERHEAD 2              /* letterhead[3] is NULL-terminated */
#define MAX_FONTS (BL_MAX_STACK - 1)  /* stacks are NULL-terminated */

enum { T_BODY, T_TITLE, T_H1, T_H2, T_H3, T_SMALL, T_COUNT };
enum { M_TOP, M_BOTTOM, M_INNER, M_OUTER };

/* Per-language "set" bits. */
#define LS_FONT(r) (1u << (r))
#define LS_PAGE (1u << 5)
#define LS_HEADER (1u << 6)
#define LS_FOOTER (1u << 7)
#define LS_LETTERHEAD (1u << 8)
#define LS_NUMBER (1u << 9)
#define LS_SCALE (1u << 10)

typedef struct lstate {
    bl_layout *l;
    unsigned lset[BL_MAX_LANG_CFG];
    srcpos p_page, p_margin[4], p_header, p_footer, p_gap;
    srcpos p_size[T_COUNT], p_lead[T_COUNT];
} lstate;

/* ---- the layout state ---- */

static double *tsize(bl_layout *l, int t)
{
    return t == T_BODY ? &l->body_size : t == T_TITLE ? &l->title_size
         : t == T_SMALL ? &l->small_size : &l->heading_size[t - T_H1];
}

static double *tlead(bl_layout *l, int t)
{
    return t == T_BODY ? &l->body_leading : t == T_TITLE ? &l->title_leading
         : t == T_SMALL ? &l->small_leading : &l->heading_leading[t - T_H1];
}

static const char *const tname[T_COUNT] = {"text", "title", "headings[1]", "headings[2]",
                                           "headings[3]", "small"};

static void lang_clear(bl_lang_cfg *c)
{
    for (int r = 0; r < BL_ROLE_COUNT; r++)
        for (int k = 0; k < BL_MAX_STACK; k++) {
            free(c->fonts[r][k]);
            c->fonts[r][k] = NULL;
        }
    for (int k = 0; k < 3; k++) {
        free(c->letterhead[k]);
        c->letterhead[k] = NULL;
    }
    free(c->page_label);
    free(c->header);
    free(c->footer);
    free(c->number_label);
    c->page_label = c->header = c->footer = c->number_label = NULL;
}

bl_layout *bl_layout_keep(bl_layout *l)
{
    if (l)
        __atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
    return l;
}

void bl_layout_free(bl_layout *l)
{
    if (!l || __atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    for (int i = 0; i < l->nsrcs; i++)
        free(l->srcs[i].path);
    free(l->srcs);
    for (int i = 0; i < l->nlangs; i++)
        lang_clear(&l->langs[i]);
    free(l->name);
    free(l->path);
    free(l->letterhead_image);
    free(l);
}

static void lstate_free(lstate *s)
{
    if (s) {
        bl_layout_free(s->l);
        free(s);
    }
}

/* The built-in defaults, the same values as layouts/base.yaml, without fonts:
 * a layout that extends nothing must name its own. */
static lstate *lstate_defaults(void)
{
    lstate *s = calloc(1, sizeof *s);
    bl_layout *l = s ? calloc(1, sizeof *l) : NULL;
    if (!l) {
        free(s);
        return NULL;
    }
    s->l = l;
    l->refs = 1;
    l->arrangement = BL_ARR_PARALLEL;
    l->page_w = 210 * MM;
    l->page_h = 297 * MM;
    l->margin_top = 20 * MM;
    l->margin_bottom = 18 * MM;
    l->margin_inner = l->margin_outer = 18 * MM;
    l->header_h = l->footer_h = 8 * MM;
    l->columns = 1;
    l->column_gap = 8 * MM;
    l->body_size = 10.5;
    l->body_leading = 14;
    l->title_size = 16;
    l->title_leading = 20;
    l->heading_size[0] = 13;
    l->heading_leading[0] = 17;
    l->heading_size[1] = 11.5;
    l->heading_leading[1] = 15;
    l->heading_size[2] = 10.5;
    l->heading_leading[2] = 14;
    l->small_size = 8;
    l->small_leading = 10;
    l->block_space = 6;
    l->heading_space_before = 10;
    l->heading_space_after = 4;
    l->quote_indent = 20;
    l->list_indent = 16;
    l->align = BL_ALIGN_JUSTIFY;
    l->hyphenate = 1;
    l->hyphen_lmin = 2;
    l->hyphen_rmin = 3;
    l->widows = l->orphans = 2;
    static const double text[3] = {0x1a / 255.0, 0x1a / 255.0, 0x1a / 255.0};
    static const double accent[3] = {0x1f / 255.0, 0x3a / 255.0, 0x68 / 255.0};
    static const double rule[3] = {0x8a / 255.0, 0x8a / 255.0, 0x8a / 255.0};
    static const double banner[3] = {0xb0 / 255.0, 0, 0};
    memcpy(l->text_rgb, text, sizeof text);
    memcpy(l->accent_rgb, accent, sizeof accent);
    memcpy(l->rule_rgb, rule, sizeof rule);
    memcpy(l->banner_rgb, banner, sizeof banner);
    l->rule_width = 0.5;
    l->letterhead_image_h = 18 * MM;
    bl_lang_cfg *c = &l->langs[0];
    l->nlangs = 1;
    strcpy(c->lang, "*");
    c->page_label = bl_strdup("{page} / {pages}");
    c->header = bl_strdup("{issuer}");
    c->footer = bl_strdup("{reference}");
    c->letterhead[0] = bl_strdup("{issuer}");
    c->number_label = bl_strdup("No.");
    c->scale = 1.0;
    s->lset[0] = LS_PAGE | LS_HEADER | LS_FOOTER | LS_LETTERHEAD | LS_NUMBER | LS_SCALE;
    if (!c->page_label || !c->header || !c->footer || !c->letterhead[0] || !c->number_label) {
        lstate_free(s);
        return NULL;
    }
    return s;
}

/* ---- sections ---- */

static const char *const top_keys[] = {
    "extends", "arrangement", "page", "margins", "header-height", "footer-height", "columns",
    "column-gap", "swap", "text", "title", "headings", "small", "spacing", "indent", "colors",
    "rule-width", "letterhead", "languages", NULL,
};
enum {
    K_EXTENDS, K_ARRANGEMENT, K_PAGE, K_MARGINS, K_HEADER_H, K_FOOTER_H, K_COLUMNS,
    K_COLUMN_GAP, K_SWAP, K_TEXT, K_TITLE, K_HEADINGS, K_SMALL, K_SPACING, K_INDENT, K_COLORS,
    K_RULE_WIDTH, K_LETTERHEAD, K_LANGUAGES,
};

static const struct { const char *name; double w, h; } page_sizes[] = {
    {"A4", 210 * MM, 297 * MM},
    {"A5", 148 * MM, 210 * MM},
    {"Letter", 8.5 * 72, 11 * 72},
    {"Legal", 8.5 * 72, 14 * 72},
};

static int page_size(pctx *p, yaml_node_t *n, double *w, double *h)
{
    const char *s = ly_scalar(p, n, "page.size", "a page size");
    if (!s)
        return -1;
    for (size_t i = 0; i < sizeof page_sizes / sizeof page_sizes[0]; i++)
        if (ly_ascii_caseeq(s, page_sizes[i].name)) {
            *w = page_sizes[i].w;
            *h = page_sizes[i].h;
            return 0;
        }
    ly_perr(p, n, "page.size: unknown page size '%.40s' (known: A4, A5, Letter, Legal; or give width and height)", s);
    return -1;
}

static void parse_page(pctx *p, yaml_node_t *n)
{
    bl_layout *l = p->s->l;
    double w = l->page_w, h = l->page_h;
    int orient = -1, bad = 0;
    if (ly_is_null(n))
        return;
    if (n->type == YAML_SCALAR_NODE) {
        bad = page_size(p, n, &w, &h) != 0;
    } else {
        static const char *const keys[] = {"size", "width", "height", "orientation", NULL};
        static const char *const orients[] = {"portrait", "landscape", NULL};
        mapit m;
        yaml_node_t *k, *v, *size = NULL, *dim = NULL;
        int i;
        if (ly_map_begin(p, &m, n, keys, "page"))
            return;
        while ((i = ly_map_next(p, &m, &k, &v)) >= 0) {
            switch (i) {
            case 0: bad |= page_size(p, v, &w, &h) != 0; size = v; break;
            case 1: bad |= ly_get_length(p, v, "page.width", POSITIVE, &w, NULL) != 0; dim = v; break;
            case 2: bad |= ly_get_length(p, v, "page.height", POSITIVE, &h, NULL) != 0; dim = v; break;
            case 3: bad |= ly_get_choice(p, v, "page.orientation", orients, &orient) != 0; break;
            }
        }
        if (size && dim) {
            ly_perr(p, dim, "page: give either size or width and height, not both");
            bad = 1;
        }
    }
    if (bad)
        return;
    if ((orient == 0 && w > h) || (orient == 1 && w < h)) {
        double t = w;
        w = h;
        h = t;
    }
    l->page_w = w;
    l->page_h = h;
    p->s->p_page = ly_npos(p, n);
}

static void parse_margins(pctx *p, yaml_node_t *n)
{
    static const char *const keys[] = {"top", "bottom", "inner", "outer", NULL};
    bl_layout *l = p->s->l;
    double *dst[4] = {&l->margin_top, &l->margin_bottom, &l->margin_inner, &l->margin_outer};
    if (ly_is_null(n))
        return;
    if (n->type == YAML_SCALAR_NODE) { /* one length for all four */
        double v;
        if (ly_get_length(p, n, "margins", NONNEG, &v, NULL) == 0)
            for (int i = 0; i < 4; i++) {
                *dst[i] = v;
                p->s->p_margin[i] = ly_npos(p, n);
            }
        return;
    }
    mapit m;
    yaml_node_t *k, *v;
    int i;
    if (ly_map_begin(p, &m, n, keys, "margins"))
        return;
    while ((i = ly_map_next(p, &m, &k, &v)) >= 0) {
        char path[32];
        snprintf(path, sizeof path, "margins.%s", keys[i]);
        ly_get_length(p, v, path, NONNEG, dst[i], &p->s->p_margin[i]);
    }
}

/* size and leading of text style t (title, small, headings[i]). */
static void parse_sizes(pctx *p, yaml_node_t *n, int t)
{
    static const char *const keys[] = {"size", "leading", NULL};
    mapit m;
    yaml_node_t *k, *v;
    int i;
    char path[48];
    if (ly_map_begin(p, &m, n, keys, tname[t]))
        return;
    while ((i = ly_map_next(p, &m, &k, &v)) >= 0) {
        snprintf(path, sizeof path, "%s.%s", tname[t], keys[i]);
        if (i == 0)
            ly_get_length(p, v, path, POSITIVE, tsize(p->s->l, t), &p->s->p_size[t]);
        else
            ly_get_length(p, v, path, POSITIVE, tlead(p->s->l, t), &p->s->p_lead[t]);
    }
}

static void parse_text(pctx *p, yaml_node_t *n)
{
    static const char *const keys[] = {"size", "leading", "align", "hyphenate", "hyphen-min",
                                       "widows", "orphans", "features", NULL};
    static const char *const aligns[] = {"justify", "start", "center", "end", NULL};
    bl_layout *l = p->s->l;
    mapit m;
    yaml_node_t *k, *v;
    int i;
    if (ly_map_begin(p, &m, n, keys, "text"))
        return;
    while ((i = ly_map_next(p, &m, &k, &v)) >= 0) {
        switch (i) {
        case 0: ly_get_length(p, v, "text.size", POSITIVE, &l->body_size, &p->s->p_size[T_BODY]); break;
        case 1: ly_get_length(p, v, "text.leading", POSITIVE, &l->body_leading, &p->s->p_lead[T_BODY]); break;
        case 2: ly_get_choice(p, v, "text.align", aligns, &l->align); break;
        case 3: ly_get_bool(p, v, "text.hyphenate", &l->hyphenate); break;
        case 4:
            if (v->type == YAML_SEQUENCE_NODE &&
                v->data.sequence.items.top - v->data.sequence.items.start == 2) {
                int a, b;
                if (!ly_get_int(p, ly_node(p, v->data.sequence.items.start[0]), "text.hyphen-min", 1, 10, &a) &&
                    !ly_get_int(p, ly_node(p, v->data.sequence.items.start[1]), "text.hyphen-min", 1, 10, &b)) {
                    l->hyphen_lmin = a;
                    l->hyphen_rmin = b;
                }
            } else if (v->type == YAML_SCALAR_NODE) {
                int a;
                if (!ly_get_int(p, v, "text.hyphen-min", 1, 10, &a))
                    l->hyphen_lmin = l->hyphen_rmin = a;
            } else {
                ly_perr(p, v, "text.hyphen-min: expected two numbers (before and after the break) such as [2, 3]");
            }
            break;
        case 5: ly_get_int(p, v, "text.widows", 1, 10, &l->widows); break;
        case 6: ly_get_int(p, v, "text.orphans", 1, 10, &l->orphans); break;
        case 7: {
            /* Each item must parse as a HarfBuzz feature ("onum", "-liga", "ss01=1"). */
            const char *fs = v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : NULL;
            int ok = fs && strlen(fs) < sizeof l->features;
            for (const char *q = fs; ok && *q;) {
                size_t len = strcspn(q, ",");
                hb_feature_t f;
                while (len && (*q == ' ')) q++, len--;
                size_t tl = len;
                while (tl && q[tl - 1] == ' ') tl--;
                if (tl && !hb_feature_from_string(q, (int)tl, &f))
                    ok = 0;
                q += len + (q[len] == ',');
            }
            if (ok)
                snprintf(l->features, sizeof l->features, "%s", fs);
            else
                ly_perr(p, v, "text.features: expected OpenType features such as \"onum, smcp\"");
            break;
        }
        }
    }
}

static void parse_headings(pctx *p, yaml_node_t *n)
{
    if (ly_is_null(n))
        return;
    if (n->type != YAML_SEQUENCE_NODE) {
        ly_perr(p, n, "headings: expected a list of {size, leading} for levels 1, 2 and 3, not %s", ly_kind(n));
        return;
    }
    int level = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top && !ly_stop(p);
         it++, level++) {
        yaml_node_t *v = ly_node(p, *it);
        if (level == 3) {
            ly_perr(p, v, "headings: at most 3 levels (the third applies to levels 3 and deeper)");
            return;
        }
        if (!ly_is_null(v))
            parse_sizes(p, v, T_H1 + level);
    }
}

static void parse_lengths(pctx *p, yaml_node_t *n, const char *section, const char *const *keys,
                          double *const *dst)
{
    mapit m;
    yaml_node_t *k, *v;
    int i;
    if (ly_map_begin(p, &m, n, keys, section))
        return;
    while ((i = ly_map_next(p, &m, &k, &v)) >= 0) {
        char path[48];
        snprintf(path, sizeof path, "%s.%s", section, keys[i]);
        ly_get_length(p, v, path, NONNEG, dst[i], NULL);
    }
}

static void parse_colors(pctx *p, yaml_node_t *n)
{
    static const char *const keys[] = {"text", "accent", "rule", "banner", NULL};
    bl_layout *l = p->s->l;
    double *dst[4] = {l->text_rgb, l->accent_rgb, l->rule_rgb, l->banner_rgb};
    mapit m;
    yaml_node_t *k, *v;
    int i;
    if (ly_map_begin(p, &m, n, keys, "colors"))
        return;
    while ((i = ly_map_next(p, &m, &k, &v)) >= 0) {
        char path[32];
        snprintf(path, sizeof path, "colors.%s", keys[i]);
        ly_get_color(p, v, path, dst[i]);
    }
}

static void parse_letterhead(pctx *p, yaml_node_t *n)
{
    static const char *const keys[] = {"image", "height", NULL};
    bl_layout *l = p->s->l;
    mapit m;
    yaml_node_t *k, *v;
    int i;
    if (ly_map_begin(p, &m, n, keys, "letterhead"))
        return;
    while ((i = ly_map_next(p, &m, &k, &v)) >= 0) {
        if (i == 1) {
            ly_get_length(p, v, "letterhead.height", POSITIVE, &l->letterhead_image_h, NULL);
        } else if (ly_is_null(v)) { /* a child can drop its parent's image */
            free(l->letterhead_image);
            l->letterhead_image = NULL;
        } else {
            char *path = ly_get_file(p, v, "letterhead.image", "image");
            if (path) {
                free(l->letterhead_image);
                l->letterhead_image = path;
            }
        }
    }
}

static const char *const role_keys[] = {"regular", "bold", "italic", "sans", "sans-bold", NULL};

static void parse_fonts(pctx *p, yaml_node_t *n, int li, const char *lpath)
{
    bl_lang_cfg *c = &p->s->l->langs[li];
    mapit m;
    yaml_node_t *k, *v;
    int r;
    char section[48];
    snprintf(section, sizeof section, "%s.fonts", lpath);
    if (ly_map_begin(p, &m, n, role_keys, section))
        return;
    while ((r = ly_map_next(p, &m, &k, &v)) >= 0) {
        char path[64], *stack[BL_MAX_STACK] = {0};
        snprintf(path, sizeof path, "%s.%s", section, role_keys[r]);
        int nf = 0, bad = 0;
        if (v->type == YAML_SCALAR_NODE && !ly_is_null(v)) {
            bad = !(stack[nf++] = ly_get_file(p, v, path, "font"));
        } else if (v->type == YAML_SEQUENCE_NODE && v->data.sequence.items.top > v->data.sequence.items.start) {
            for (yaml_node_item_t *it = v->data.sequence.items.start;
                 it < v->data.sequence.items.top && !ly_stop(p); it++) {
                yaml_node_t *f = ly_node(p, *it);
                if (nf == MAX_FONTS) {
                    ly_perr(p, f, "%s: at most %d fonts in a stack", path, MAX_FONTS);
                    bad = 1;
                    break;
                }
                if (!(stack[nf++] = ly_get_file(p, f, path, "font")))
                    bad = 1;
            }
        } else {
            ly_perr(p, v, "%s: expected a list of font files, first choice first", path);
            bad = 1;
        }
        if (bad) {
            for (int j = 0; j < nf; j++)
                free(stack[j]);
            continue;
        }
        for (int j = 0; j < BL_MAX_STACK; j++) {
            free(c->fonts[r][j]);
            c->fonts[r][j] = stack[j];
        }
        p->s->lset[li] |= LS_FONT(r);
    }
}

static int lang_tag_ok(const char *t)
{
    size_t n = strlen(t), i = 0;
    if (strcmp(t, "*") == 0)
        return 1;
    if (n == 0 || n >= sizeof ((bl_lang_cfg *)0)->lang)
        return 0;
    while (i < n && ((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z')))
        i++;
    if (i < 2 || i > 8)
        return 0;
    while (i < n) {
        if (t[i] != '-' && t[i] != '_')
            return 0;
        size_t j = ++i;
        while (i < n && ((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
                         (t[i] >= '0' && t[i] <= '9')))
            i++;
        if (i == j || i - j > 8)
            return 0;
    }
    return 1;
}

static int tag_eq(const char *a, const char *b)
{
    for (;; a++, b++) {
        int x = *a == '_' ? '-' : ly_lower((unsigned char)*a);
        int y = *b == '_' ? '-' : ly_lower((unsigned char)*b);
        if (x != y)
            return 0;
        if (!x)
            return 1;
    }
}

static void parse_lang(pctx *p, yaml_node_t *n, int li, const char *lpath)
{
    static const char *const keys[] = {"fonts", "page", "header", "footer", "letterhead", "number", "scale", NULL};
    lstate *s = p->s;
    bl_lang_cfg *c = &s->l->langs[li];
    mapit m;
    yaml_node_t *k, *v;
    int i;
    if (ly_is_null(n)) /* `fr:` alone: the language exists, everything from "*" */
        return;
    if (ly_map_begin(p, &m, n, keys, lpath))
        return;
    while ((i = ly_map_next(p, &m, &k, &v)) >= 0) {
        char path[64];
        snprintf(path, sizeof path, "%s.%s", lpath, keys[i]);
        char *t = NULL;
        switch (i) {
        case 0: parse_fonts(p, v, li, lpath); break;
        case 6: {
            const char *sv = ly_scalar(p, v, path, "a number such as 1.15");
            char *end = NULL;
            double x = sv ? strtod(sv, &end) : 0;
            if (sv && (end == sv || *end || !(x >= 0.5 && x <= 2.0)))
                ly_perr(p, v, "%s: expected a number from 0.5 to 2, such as 1.15", path);
            else if (sv) {
                c->scale = x;
                s->lset[li] |= LS_SCALE;
            }
            break;
        }
        case 1: case 5:
            if ((t = ly_get_template(p, v, path)) != NULL) {
                char **dst = i == 1 ? &c->page_label : &c->number_label;
                free(*dst);
                *dst = t;
                s->lset[li] |= i == 1 ? LS_PAGE : LS_NUMBER;
            }
            break;
        case 2: case 3: /* null: no header (footer) line */
            if (ly_is_null(v) || (t = ly_get_template(p, v, path)) != NULL) {
                char **dst = i == 2 ? &c->header : &c->footer;
                free(*dst);
                *dst = t;
                s->lset[li] |= i == 2 ? LS_HEADER : LS_FOOTER;
            }
            break;
        case 4: {
            char *lines[MAX_LETTERHEAD + 1] = {0};
            int nl = 0, bad = 0;
            if (v->type == YAML_SCALAR_NODE && !ly_is_null(v)) {
                bad = !(lines[nl++] = ly_get_template(p, v, path));
            } else if (v->type == YAML_SEQUENCE_NODE) {
                for (yaml_node_item_t *it = v->data.sequence.items.start;
                     it < v->data.sequence.items.top && !ly_stop(p); it++) {
                    yaml_node_t *e = ly_node(p, *it);
                    if (nl == MAX_LETTERHEAD) {
                        ly_perr(p, e, "%s: at most %d lines", path, MAX_LETTERHEAD);
                        bad = 1;
                        break;
                    }
                    if (!(lines[nl++] = ly_get_template(p, e, path)))
                        bad = 1;
                }
            } else if (!ly_is_null(v)) {
                ly_perr(p, v, "%s: expected a list of lines, not %s", path, ly_kind(v));
                bad = 1;
            }
            if (bad) {
                for (int j = 0; j < nl; j++)
                    free(lines[j]);
                break;
            }
            for (int j = 0; j < 3; j++) {
                free(c->letterhead[j]);
                c->letterhead[j] = lines[j];
            }
            s->lset[li] |= LS_LETTERHEAD;
            break;
        }
        }
    }
}

static void parse_languages(pctx *p, yaml_node_t *n)
{
    bl_layout *l = p->s->l;
    if (ly_is_null(n))
        return;
    if (n->type != YAML_MAPPING_NODE) {
        ly_perr(p, n, "languages: expected a mapping from language tags (\"*\", en, he, ...), not %s", ly_kind(n));
        return;
    }
    yaml_node_t *seen[BL_MAX_LANG_CFG] = {0};
    for (yaml_node_pair_t *it = n->data.mapping.pairs.start; it < n->data.mapping.pairs.top && !ly_stop(p); it++) {
        yaml_node_t *k = ly_node(p, it->key), *v = ly_node(p, it->value);
        const char *tag = ly_scalar(p, k, "languages", "a language tag");
        if (!tag)
            continue;
        if (!lang_tag_ok(tag)) {
            ly_perr(p, k, "languages: '%.40s' is not a language tag (such as en, he, fr-CA or \"*\")", tag);
            continue;
        }
        int li = 0;
        while (li < l->nlangs && !tag_eq(l->langs[li].lang, tag))
            li++;
        if (li < BL_MAX_LANG_CFG && seen[li]) {
            ly_perr(p, k, "duplicate key '%s' (first given on line %d)", tag, (int)seen[li]->start_mark.line + 1);
            continue;
        }
        if (li == l->nlangs) {
            if (li == BL_MAX_LANG_CFG) {
                ly_perr(p, k, "languages: at most %d languages", BL_MAX_LANG_CFG);
                return;
            }
            snprintf(l->langs[li].lang, sizeof l->langs[li].lang, "%s", tag);
            l->nlangs++;
        }
        seen[li] = k;
        char lpath[40];
        snprintf(lpath, sizeof lpath, "languages.%s", tag);
        parse_lang(p, v, li, lpath);
    }
}

/* ---- files and extends ---- */

static int is_path(const char *s)
{
    size_t n = strlen(s);
    return strchr(s, '/') || (n > 5 && !strcmp(s + n - 5, ".yaml")) || (n > 4 && !strcmp(s + n - 4, ".yml"));
}

static int name_ok(const char *s)
{
    if (!*s || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return 0;
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "base, letter, ..." for messages: the built-in layouts, sorted.  Caller owns. */
static char *known_layouts(void)
{
    const char *dd = bl_data_dir();
    bl_buf b = {0};
    char *names[64];
    int n = 0;
    DIR *dir = NULL;
    if (dd) {
        char *ldir = ly_path_join(dd, "layouts");
        dir = ldir ? opendir(ldir) : NULL;
        free(ldir);
    }
    if (dir) {
        struct dirent *e;
        while ((e = readdir(dir)) != NULL && n < 64) {
            size_t len = strlen(e->d_name);
            if (len > 5 && !strcmp(e->d_name + len - 5, ".yaml") && e->d_name[0] != '.')
                if ((names[n] = bl_strndup(e->d_name, len - 5)) != NULL)
                    n++;
        }
        closedir(dir);
    }
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    for (int i = 0; i < n; i++) {
        bl_buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
        free(names[i]);
    }
    if (!n)
        bl_buf_puts(&b, dd ? "none installed" : "none: no data folder found");
    return b.data;
}

/* The file for a layout name (DATADIR/layouts/NAME.yaml) or a path relative
 * to dir.  Returns an owned path, or NULL when a name is not a built-in. */
static char *layout_file(const char *v, const char *dir)
{
    if (is_path(v))
        return ly_path_join(dir, v);
    const char *dd = bl_data_dir();
    if (!dd || !name_ok(v))
        return NULL;
    bl_buf b = {0};
    struct stat st;
    if (bl_buf_printf(&b, "%s/layouts/%s.yaml", dd, v) || stat(b.data, &st) != 0) {
        bl_buf_free(&b);
        return NULL;
    }
    return b.data;
}

static lstate *load_file(loader *ld, const char *path, int depth, pctx *from, yaml_node_t *at);

static void apply_root(pctx *p, yaml_node_t *root)
{
    lstate *s = p->s;
    bl_layout *l = s->l;
    mapit m;
    yaml_node_t *k, *v;
    int i;
    if (!root || ly_is_null(root) || ly_map_begin(p, &m, root, top_keys, ""))
        return;
    while ((i = ly_map_next(p, &m, &k, &v)) >= 0) {
        switch (i) {
        case K_EXTENDS: break; /* done first, in load_file */
        case K_ARRANGEMENT: {
            static const char *const arr[] = {"parallel", "stacked", "single", NULL};
            ly_get_choice(p, v, "arrangement", arr, &l->arrangement);
            break;
        }
        case K_PAGE: parse_page(p, v); break;
        case K_MARGINS: parse_margins(p, v); break;
        case K_HEADER_H: ly_get_length(p, v, "header-height", NONNEG, &l->header_h, &s->p_header); break;
        case K_FOOTER_H: ly_get_length(p, v, "footer-height", NONNEG, &l->footer_h, &s->p_footer); break;
        case K_COLUMNS: ly_get_int(p, v, "columns", 1, 2, &l->columns); break;
        case K_COLUMN_GAP: ly_get_length(p, v, "column-gap", NONNEG, &l->column_gap, &s->p_gap); break;
        case K_SWAP: ly_get_bool(p, v, "swap", &l->swap); break;
        case K_TEXT: parse_text(p, v); break;
        case K_TITLE: parse_sizes(p, v, T_TITLE); break;
        case K_HEADINGS: parse_headings(p, v); break;
        case K_SMALL: parse_sizes(p, v, T_SMALL); break;
        case K_SPACING: {
            static const char *const keys[] = {"block", "heading-before", "heading-after", NULL};
            double *const dst[] = {&l->block_space, &l->heading_space_before, &l->heading_space_after};
            parse_lengths(p, v, "spacing", keys, dst);
            break;
        }
        case K_INDENT: {
            static const char *const keys[] = {"quote", "list", NULL};
            double *const dst[] = {&l->quote_indent, &l->list_indent};
            parse_lengths(p, v, "indent", keys, dst);
            break;
        }
        case K_COLORS: parse_colors(p, v); break;
        case K_RULE_WIDTH: ly_get_length(p, v, "rule-width", NONNEG, &l->rule_width, NULL); break;
        case K_LETTERHEAD: parse_letterhead(p, v); break;
        case K_LANGUAGES: parse_languages(p, v); break;
        }
    }
}

/* Loads the parent named by `extends` (value node ext) for file p; NULL after
 * an error (reported here or inside the parent). */
static lstate *load_parent(pctx *p, yaml_node_t *ext)
{
    const char *v = ly_scalar(p, ext, "extends", "a layout name or path");
    if (!v)
        return NULL;
    char *file = layout_file(v, p->dir);
    if (!file) {
        char *known = known_layouts();
        ly_perr(p, ext, "unknown layout '%.60s' (known: %s)", v, known ? known : "?");
        free(known);
        return NULL;
    }
    lstate *s = load_file(p->ld, file, p->depth + 1, p, ext);
    free(file);
    return s;
}

/* Reads, parses and applies one layout file at `depth` of the extends chain
 * (from/at: the file and node that named it, for errors).  Returns an owned
 * state, possibly after errors in the file's values (ld->errors counts them);
 * NULL, with ld->broken set, when the file cannot be read or parsed. */
static lstate *load_file(loader *ld, const char *path, int depth, pctx *from, yaml_node_t *at)
{
    char why[256];
    srcpos where = from ? ly_npos(from, at) : (srcpos){0};
    char *real = realpath(path, NULL);
    ld->broken = 1; /* until the file has parsed */
    if (!real) {
        ly_err_at(ld, where, "cannot read layout '%s': %s", path, strerror(errno));
        return NULL;
    }
    for (int i = 0; i < depth; i++)
        if (strcmp(ld->chain[i], real) == 0) {
            bl_buf b = {0};
            for (int j = i; j < depth; j++)
                bl_buf_printf(&b, "%s -> ", ld->chain_name[j]);
            ly_err_at(ld, where, "extends cycle: %s%s", b.data ? b.data : "", ld->chain_name[i]);
            bl_buf_free(&b);
            free(real);
            return NULL;
        }
    if (depth > MAX_EXTENDS || ld->nfiles > MAX_EXTENDS) {
        ly_err_at(ld, where, "extends nests more than %d layouts deep", MAX_EXTENDS);
        free(real);
        return NULL;
    }
    /* Stat before reading: an edit in between then looks like a change
     * later (a reload), never like the old file (a stale layout). */
    ld->stat_ok[ld->nfiles] = stat(path, &ld->st[ld->nfiles]) == 0;
    bl_file *f = bl_file_read(path, MAX_LAYOUT_BYTES, why, sizeof why);
    if (!f) {
        ly_err_at(ld, where, "cannot read layout '%s': %s", path, why);
        free(real);
        return NULL;
    }
    ld->files[ld->nfiles++] = f;
    ld->chain[depth] = real;
    ld->chain_name[depth] = f->name;

    int errors0 = ld->errors;
    lstate *s = NULL;
    pctx p = {ld, f, NULL, depth, ly_dir_of(path), NULL};
    yaml_parser_t yp;
    yaml_document_t doc, doc2;
    int have_doc = 0, have_parser = 0;
    size_t bad = bl_utf8_check(f->text, f->len);
    if (!p.dir) {
        ly_err_at(ld, (srcpos){0}, "out of memory");
    } else if (bad != (size_t)-1) {
        int line, col;
        bl_file_linecol(f, bad, &line, &col);
        ly_err_at(ld, (srcpos){f, line, col, depth}, "invalid UTF-8");
    } else if (ly_check_nesting(ld, f, depth)) {
        /* reported */
    } else if (!(have_parser = yaml_parser_initialize(&yp))) {
        ly_err_at(ld, (srcpos){0}, "out of memory");
    } else {
        yaml_parser_set_input_string(&yp, (const unsigned char *)f->text, f->len);
        yaml_parser_set_encoding(&yp, YAML_UTF8_ENCODING);
        if (!yaml_parser_load(&yp, &doc)) {
            ly_yaml_problem(ld, f, &yp);
        } else {
            have_doc = 1;
            if (!yaml_parser_load(&yp, &doc2)) {
                ly_yaml_problem(ld, f, &yp);
            } else {
                yaml_node_t *r2 = yaml_document_get_root_node(&doc2);
                if (r2)
                    ly_err_at(ld, (srcpos){f, (int)r2->start_mark.line + 1, (int)r2->start_mark.column + 1, depth},
                           "a layout file holds one YAML document; remove the '---' and what follows");
                yaml_document_delete(&doc2);
            }
        }
    }
    if (have_doc && ld->errors == errors0) {
        ld->broken = 0;
        p.doc = &doc;
        yaml_node_t *root = yaml_document_get_root_node(&doc), *ext = NULL;
        if (root && root->type == YAML_MAPPING_NODE)
            for (yaml_node_pair_t *it = root->data.mapping.pairs.start; it < root->data.mapping.pairs.top; it++) {
                yaml_node_t *k = ly_node(&p, it->key);
                if (k && k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, "extends")) {
                    ext = ly_node(&p, it->value);
                    break;
                }
            }
        if (ext && !(s = load_parent(&p, ext)))
            ld->broken = 1;
        /* Without a parent (or when it could not be read) apply this file
         * to the defaults anyway, so that its own mistakes are reported too.
         * ld->broken stays set: checks across values would blame it wrongly. */
        if (!s && !(s = lstate_defaults())) {
            ly_err_at(ld, (srcpos){0}, "out of memory");
            ld->broken = 1;
        }
        if (s && !ly_stop(&p)) {
            p.s = s;
            apply_root(&p, root);
        }
    }
    if (have_doc)
        yaml_document_delete(&doc);
    if (have_parser)
        yaml_parser_delete(&yp);
    free(p.dir);
    free(real);
    ld->chain[depth] = NULL;
    return s;
}

/* ---- the final checks ---- */

/* The most derived of the places given (the first of equals); f == NULL if
 * all are defaults. */
static srcpos blame(int n, const srcpos *const *pos)
{
    srcpos best = {0};
    for (int i = 0; i < n; i++)
        if (pos[i]->f && (!best.f || pos[i]->depth < best.depth))
            best = *pos[i];
    return best;
}

static int copy_strs(char **dst, char *const *src, int n)
{
    for (int i = 0; i < n; i++) {
        free(dst[i]);
        dst[i] = NULL;
        if (src[i] && !(dst[i] = bl_strdup(src[i])))
            return -1;
    }
    return 0;
}

/* Gives every language what it did not set from "*", and "*" roles that were
 * never set the regular (sans-bold: the bold) stack. */
static int fill_langs(loader *ld, lstate *s)
{
    bl_layout *l = s->l;
    int star = 0;
    while (star < l->nlangs && strcmp(l->langs[star].lang, "*"))
        star++;
    bl_lang_cfg *st = &l->langs[star];
    if (star == l->nlangs || !(s->lset[star] & LS_FONT(BL_ROLE_REGULAR))) {
        ly_err_at(ld, (srcpos){ld->files[0], 1, 1, 0},
               "no fonts for languages.\"*\".fonts.regular (add `extends: base`, or name the fonts)");
        return -1;
    }
    for (int r = 0; r < BL_ROLE_COUNT; r++)
        if (!(s->lset[star] & LS_FONT(r))) {
            int from = r == BL_ROLE_SANS_BOLD ? BL_ROLE_BOLD : BL_ROLE_REGULAR;
            if (copy_strs(st->fonts[r], st->fonts[from], BL_MAX_STACK))
                goto oom;
        }
    for (int i = 0; i < l->nlangs; i++) {
        bl_lang_cfg *c = &l->langs[i];
        unsigned set = s->lset[i];
        if (i == star)
            continue;
        for (int r = 0; r < BL_ROLE_COUNT; r++)
            if (!(set & LS_FONT(r)) && copy_strs(c->fonts[r], st->fonts[r], BL_MAX_STACK))
                goto oom;
        if (!(set & LS_SCALE))
            c->scale = st->scale;
        if ((!(set & LS_PAGE) && copy_strs(&c->page_label, &st->page_label, 1)) ||
            (!(set & LS_HEADER) && copy_strs(&c->header, &st->header, 1)) ||
            (!(set & LS_FOOTER) && copy_strs(&c->footer, &st->footer, 1)) ||
            (!(set & LS_NUMBER) && copy_strs(&c->number_label, &st->number_label, 1)) ||
            (!(set & LS_LETTERHEAD) && copy_strs(c->letterhead, st->letterhead, 3)))
            goto oom;
    }
    return 0;
oom:
    ly_err_at(ld, (srcpos){0}, "out of memory");
    return -1;
}

/* Checks across values, then fills the languages.  Returns 0 or -1. */
static int finalize(loader *ld, lstate *s)
{
    bl_layout *l = s->l;
    int errors0 = ld->errors;
    double across = l->margin_inner + l->margin_outer;
    if (across >= l->page_w) {
        const srcpos *ps[] = {&s->p_margin[M_INNER], &s->p_margin[M_OUTER], &s->p_page};
        ly_err_at(ld, blame(3, ps), "margins.inner + margins.outer (%gmm) must be less than the page width (%gmm)",
               across / MM, l->page_w / MM);
    } else if ((l->arrangement == BL_ARR_PARALLEL || l->columns == 2) && l->column_gap >= l->page_w - across) {
        const srcpos *ps[] = {&s->p_gap, &s->p_margin[M_INNER], &s->p_margin[M_OUTER], &s->p_page};
        ly_err_at(ld, blame(4, ps), "column-gap (%gmm) leaves no room for two columns in a text width of %gmm",
               l->column_gap / MM, (l->page_w - across) / MM);
    }
    double down = l->margin_top + l->margin_bottom + l->header_h + l->footer_h;
    if (down >= l->page_h) {
        const srcpos *ps[] = {&s->p_margin[M_TOP], &s->p_margin[M_BOTTOM], &s->p_header, &s->p_footer,
                              &s->p_page};
        ly_err_at(ld, blame(5, ps),
               "margins.top + margins.bottom + header-height + footer-height (%gmm) must be less than the page height (%gmm)",
               down / MM, l->page_h / MM);
    } else {
        /* The text area must hold the tallest line, or pages could never fill. */
        double tallest = 0;
        for (int t = 0; t < T_COUNT; t++)
            if (*tlead(l, t) > tallest)
                tallest = *tlead(l, t);
        if (l->page_h - down < tallest) {
            const srcpos *ps[] = {&s->p_margin[M_TOP], &s->p_margin[M_BOTTOM], &s->p_header, &s->p_footer,
                                  &s->p_page};
            ly_err_at(ld, blame(5, ps),
                   "the text area is %.1fpt high (page height less margins, header and footer), less than the "
                   "tallest line (%.1fpt leading)", l->page_h - down, tallest);
        }
    }
    for (int t = 0; t < T_COUNT; t++) {
        double size = *tsize(l, t), lead = *tlead(l, t);
        if (lead < size * 0.8) {
            const srcpos *ps[] = {&s->p_lead[t], &s->p_size[t]};
            ly_err_at(ld, blame(2, ps), "%s.leading (%gpt) must be at least 0.8 times %s.size (%gpt)",
                   tname[t], lead, tname[t], size);
        }
    }
    if (fill_langs(ld, s))
        return -1;
    return ld->errors == errors0 ? 0 : -1;
}

/* ---- public ---- */

bl_layout *bl_layout_load(const char *name_or_path, bl_diag *d)
{
    bl_diag local;
    if (!d) {
        bl_diag_init(&local, stderr);
        d = &local;
    }
    loader ld = {0};
    ld.d = d;
    bl_layout *l = NULL;
    char *path = layout_file(name_or_path, ".");
    if (!path) {
        char *known = known_layouts();
        ly_err_at(&ld, (srcpos){0}, "unknown layout '%.60s' (known: %s)", name_or_path, known ? known : "?");
        free(known);
        return NULL;
    }
    lstate *s = load_file(&ld, path, 0, NULL, NULL);
    /* The checks across values still run after errors in single values (these
     * kept the parent's value), to report as much as possible at once. */
    if (s && !ld.broken && finalize(&ld, s) == 0 && ld.errors == 0) {
        l = s->l;
        s->l = NULL;
        l->name = bl_strdup(name_or_path);
        l->path = bl_strdup(path);
        l->srcs = calloc((size_t)ld.nfiles + 1, sizeof *l->srcs);
        for (int i = 0; l->srcs && i < ld.nfiles; i++) {
            const struct stat *st = &ld.st[i];
            struct bl_layout_src *src = &l->srcs[l->nsrcs];
            if (!ld.stat_ok[i] || !(src->path = bl_strdup(ld.files[i]->name))) {
                l->srcs_incomplete = 1; /* bl_layout_unchanged then always says changed */
                continue;
            }
            src->size = (long long)st->st_size;
            src->mtime_ns = (long long)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
            src->ino = (long long)st->st_ino;
            l->nsrcs++;
        }
        if (!l->name || !l->path || !l->srcs) {
            ly_err_at(&ld, (srcpos){0}, "out of memory");
            bl_layout_free(l);
            l = NULL;
        }
    }
    lstate_free(s);
    for (int i = 0; i < ld.nfiles; i++)
        bl_file_free(ld.files[i]);
    ly_found_free(&ld);
    free(path);
    return l;
}

int bl_layout_unchanged(const bl_layout *l)
{
    if (l->srcs_incomplete)
        return 0;
    for (int i = 0; i < l->nsrcs; i++) {
        struct stat st;
        const struct bl_layout_src *src = &l->srcs[i];
        if (stat(src->path, &st) || src->size != (long long)st.st_size || src->ino != (long long)st.st_ino ||
            src->mtime_ns != (long long)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec)
            return 0;
    }
    return l->nsrcs > 0;
}

const bl_lang_cfg *bl_layout_lang(const bl_layout *l, const char *lang)
{
    const bl_lang_cfg *star = NULL;
    char primary[16];
    size_t n = 0;
    if (lang)
        while (lang[n] && lang[n] != '-' && lang[n] != '_' && n < sizeof primary - 1) {
            primary[n] = lang[n];
            n++;
        }
    primary[n] = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < l->nlangs; i++) {
            const bl_lang_cfg *c = &l->langs[i];
            if (strcmp(c->lang, "*") == 0)
                star = c;
            else if (lang && tag_eq(c->lang, pass == 0 ? lang : primary))
                return c;
        }
    return star ? star : l->nlangs ? &l->langs[0] : NULL;
}
