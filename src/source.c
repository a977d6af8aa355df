/* source.c - reads a bulletin source: YAML front matter (libyaml) and a
 * CommonMark body (cmark) with one `::: LANG` fenced section per language.
 * Builds the document model of doc.h; every input problem is a diagnostic. */
#include "doc.h"

#include <cmark.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define SOURCE_MAX_BLOCKS 100000

/* ---- languages ------------------------------------------------------------ */

static const char *const known_langs[] = {
    "en", "fr", "nl", "de", "es", "it", "pt", "ca", "ro", "pl", "cs", "sk", "sl", "hr", "hu",
    "da", "sv", "nb", "nn", "no", "fi", "et", "lv", "lt", "ga", "mt", "el", "ru", "uk", "bg",
    "tr", "sq", "is", "lb", "eu", "gl", "cy", "af", "sw", "id", "ms", "vi",
    "he", "ar", "fa", "ur", "yi", NULL};
static const char *const rtl_langs[] = {"he", "ar", "fa", "ur", "yi", "ps", "sd", "ug", "dv", NULL};

static int primary_is(const char *tag, const char *const *list)
{
    size_t n = strcspn(tag, "-_");
    for (int i = 0; list[i]; i++)
        if (strlen(list[i]) == n && !strncmp(tag, list[i], n))
            return 1;
    return 0;
}

int bl_lang_is_rtl(const char *tag)
{
    if (strstr(tag, "-Hebr") || strstr(tag, "-Arab"))
        return 1;
    if (strstr(tag, "-Latn") || strstr(tag, "-Cyrl"))
        return 0;
    return primary_is(tag, rtl_langs);
}

int bl_lang_is_known(const char *tag)
{
    /* BCP 47 shape: 2-3 lowercase letters, then -subtags of 1-8 alphanumerics. */
    size_t i = 0, n = strlen(tag);
    if (n == 0 || n > 15)
        return 0;
    while (i < n && tag[i] >= 'a' && tag[i] <= 'z')
        i++;
    if (i < 2 || i > 3)
        return 0;
    while (i < n) {
        if (tag[i] != '-')
            return 0;
        size_t k = ++i;
        while (i < n && ((tag[i] >= 'a' && tag[i] <= 'z') || (tag[i] >= 'A' && tag[i] <= 'Z') ||
                         (tag[i] >= '0' && tag[i] <= '9')))
            i++;
        if (i - k < 1 || i - k > 8)
            return 0;
    }
    return primary_is(tag, known_langs);
}

/* ---- model helpers --------------------------------------------------------- */

const char *bl_text_get(const bl_text *t, int i)
{
    if (i >= 0 && i < BL_MAX_LANGS && t->per[i])
        return t->per[i];
    return t->all;
}

static void text_free(bl_text *t)
{
    free(t->all);
    for (int i = 0; i < BL_MAX_LANGS; i++)
        free(t->per[i]);
}

static void para_free(bl_para *p)
{
    free(p->text);
    for (size_t i = 0; i < p->nspans; i++)
        free(p->spans[i].href);
    free(p->spans);
}

void bl_bulletin_free(bl_bulletin *b)
{
    if (!b)
        return;
    for (int s = 0; s < BL_MAX_LANGS; s++) {
        bl_section *sec = &b->sections[s];
        for (size_t i = 0; i < sec->nblocks; i++) {
            for (size_t k = 0; k < sec->blocks[i].nparas; k++)
                para_free(&sec->blocks[i].paras[k]);
            free(sec->blocks[i].paras);
        }
        free(sec->blocks);
    }
    text_free(&b->reference);
    text_free(&b->classification);
    text_free(&b->issuer);
    text_free(&b->title);
    free(b->layout);
    bl_file_free(b->file);
    free(b);
}

/* ---- front matter ---------------------------------------------------------- */

typedef struct parser {
    bl_bulletin *b;
    bl_diag *d;
    const bl_file *f;
    size_t fm_off;      /* offset of the first front-matter line */
    int fm_line;        /* its line number */
    size_t lang_off[BL_MAX_LANGS];
    int errors0;        /* errors reported before this file */
    int oom;
} parser;

static size_t mark_off(parser *p, yaml_mark_t m)
{
    return bl_file_offset(p->f, p->fm_line + (int)m.line, (int)m.column + 1);
}

static void err_node(parser *p, yaml_node_t *n, const char *fmt, const char *arg)
{
    bl_diag_at(p->d, BL_ERROR, p->f, mark_off(p, n->start_mark), fmt, arg);
}

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int lang_index(const bl_bulletin *b, const char *tag)
{
    for (int i = 0; i < b->nlangs; i++)
        if (!strcmp(b->langs[i], tag))
            return i;
    return -1;
}

/* A field given as one string or as a map {lang: string}. */
static void read_text(parser *p, yaml_document_t *doc, yaml_node_t *n, const char *key, bl_text *t)
{
    t->src_off = mark_off(p, n->start_mark);
    if (n->type == YAML_SCALAR_NODE) {
        t->all = bl_strdup(scalar(n));
        if (!t->all)
            p->oom = 1;
        return;
    }
    if (n->type != YAML_MAPPING_NODE) {
        err_node(p, n, "'%s' must be a string or a map from language to string", key);
        return;
    }
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(doc, pr->value);
        const char *lang = scalar(k);
        int li = lang ? lang_index(p->b, lang) : -1;
        if (li < 0) {
            err_node(p, k, "'%s' is not one of the bulletin's languages", lang ? lang : "?");
            continue;
        }
        if (!scalar(v)) {
            err_node(p, v, "the value for '%s' must be a string", lang);
            continue;
        }
        free(t->per[li]);
        t->per[li] = bl_strdup(scalar(v));
        if (!t->per[li])
            p->oom = 1;
    }
}

static int parse_date(const char *s, int *y, int *m, int *dd)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    *y = atoi(s);
    *m = atoi(s + 5);
    *dd = atoi(s + 8);
    if (*m < 1 || *m > 12 || *dd < 1 || *dd > mdays[*m - 1])
        return -1;
    int leap = (*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0;
    if (*m == 2 && *dd == 29 && !leap)
        return -1;
    return 0;
}

/* libyaml's time grows with the square of flow nesting depth ("[[[[...");
 * a front matter has no business nesting deeper than a few levels. */
#define FM_MAX_NESTING 32

static int too_deep(parser *p, const char *text, size_t len)
{
    int depth = 0;
    char quote = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (quote) {
            if (ch == quote)
                quote = 0;
            else if (ch == '\\' && quote == '"' && i + 1 < len)
                i++;
        } else if (ch == '"' || ch == '\'') {
            quote = ch;
        } else if (ch == '#' && (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\n')) {
            while (i < len && text[i] != '\n')
                i++;
        } else if (ch == '[' || ch == '{') {
            if (++depth > FM_MAX_NESTING) {
                bl_diag_at(p->d, BL_ERROR, p->f, (size_t)(text - p->f->text) + i,
                           "front matter nested more than %d levels deep", FM_MAX_NESTING);
                return 1;
            }
        } else if ((ch == ']' || ch == '}') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

static void front_matter(parser *p, const char *text, size_t len)
{
    if (too_deep(p, text, len))
        return;
    yaml_parser_t yp;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&yp)) {
        p->oom = 1;
        return;
    }
    yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
    if (!yaml_parser_load(&yp, &doc)) {
        yaml_mark_t m = yp.problem ? yp.problem_mark : yp.context_mark;
        bl_diag_lc(p->d, BL_ERROR, p->f, p->fm_line + (int)m.line, (int)m.column + 1,
                   "YAML: %s%s%s", yp.problem ? yp.problem : "syntax error",
                   yp.context ? " " : "", yp.context ? yp.context : "");
        yaml_parser_delete(&yp);
        return;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    bl_bulletin *b = p->b;
    if (!root || root->type != YAML_MAPPING_NODE) {
        bl_diag_at(p->d, BL_ERROR, p->f, p->fm_off,
                   "front matter must be a map of fields (languages, date, title, ...)");
        goto done;
    }
    /* languages first: per-language maps refer to them. */
    yaml_node_t *langs = NULL, *langs_key = NULL;
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
        const char *k = scalar(yaml_document_get_node(&doc, pr->key));
        if (k && !strcmp(k, "languages")) {
            langs_key = yaml_document_get_node(&doc, pr->key);
            langs = yaml_document_get_node(&doc, pr->value);
        }
    }
    if (!langs) {
        bl_diag_at(p->d, BL_ERROR, p->f, p->fm_off, "missing required field 'languages' (e.g. languages: [en, he])");
    } else if (langs->type == YAML_SCALAR_NODE || langs->type == YAML_SEQUENCE_NODE) {
        yaml_node_item_t *it = NULL, *end = NULL;
        if (langs->type == YAML_SEQUENCE_NODE) {
            it = langs->data.sequence.items.start;
            end = langs->data.sequence.items.top;
        }
        for (int idx = 0;; idx++) {
            yaml_node_t *ln = langs;
            if (it) {
                if (it >= end)
                    break;
                ln = yaml_document_get_node(&doc, *it++);
            } else if (idx > 0) {
                break;
            }
            const char *tag = scalar(ln);
            if (!tag || !bl_lang_is_known(tag)) {
                err_node(p, ln, "unknown language '%s' (use a BCP 47 tag such as en, fr, nl, he, ar)",
                         tag ? tag : "?");
                continue;
            }
            if (lang_index(b, tag) >= 0) {
                err_node(p, ln, "language '%s' is listed twice", tag);
                continue;
            }
            if (b->nlangs == BL_MAX_LANGS) {
                err_node(p, ln, "too many languages (the limit is %s)", "8");
                break;
            }
            p->lang_off[b->nlangs] = mark_off(p, ln->start_mark);
            snprintf(b->langs[b->nlangs++], sizeof b->langs[0], "%s", tag);
        }
        if (b->nlangs == 0 && p->d->errors == p->errors0)
            err_node(p, langs_key, "'%s' must list at least one language", "languages");
    } else {
        err_node(p, langs, "'%s' must be a list of language tags", "languages");
    }

    int have_date = 0, have_title = 0;
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = yaml_document_get_node(&doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(&doc, pr->value);
        const char *k = scalar(kn);
        if (!k) {
            err_node(p, kn, "field names must be plain strings%s", "");
        } else if (!strcmp(k, "languages")) {
            continue;
        } else if (!strcmp(k, "layout")) {
            if (!scalar(v) || !*scalar(v)) {
                err_node(p, v, "'%s' must be a layout name or a file path", k);
            } else {
                free(b->layout);
                b->layout = bl_strdup(scalar(v));
                b->layout_off = mark_off(p, v->start_mark);
            }
        } else if (!strcmp(k, "date")) {
            have_date = 1;
            if (!scalar(v) || parse_date(scalar(v), &b->year, &b->month, &b->day))
                err_node(p, v, "'%s' must be a date written YYYY-MM-DD, e.g. 2021-11-24", k);
        } else if (!strcmp(k, "title")) {
            have_title = 1;
            read_text(p, &doc, v, k, &b->title);
        } else if (!strcmp(k, "issuer")) {
            read_text(p, &doc, v, k, &b->issuer);
        } else if (!strcmp(k, "reference")) {
            read_text(p, &doc, v, k, &b->reference);
        } else if (!strcmp(k, "classification")) {
            read_text(p, &doc, v, k, &b->classification);
        } else {
            bl_diag_at(p->d, BL_WARNING, p->f, mark_off(p, kn->start_mark),
                       "unknown field '%s' is ignored (known: languages, layout, date, reference, "
                       "classification, issuer, title)", k);
        }
    }
    if (!have_date)
        bl_diag_at(p->d, BL_ERROR, p->f, p->fm_off, "missing required field 'date' (e.g. date: 2021-11-24)");
    if (!have_title)
        bl_diag_at(p->d, BL_ERROR, p->f, p->fm_off, "missing required field 'title'");
    else
        for (int i = 0; i < b->nlangs; i++)
            if (!bl_text_get(&b->title, i) || !*bl_text_get(&b->title, i))
                bl_diag_at(p->d, BL_ERROR, p->f, b->title.src_off, "'title' has no text for language '%s'",
                           b->langs[i]);
done:
    yaml_document_delete(&doc);
    yaml_parser_delete(&yp);
}

/* ---- body: cmark tree to blocks -------------------------------------------- */

typedef struct body_ctx {
    parser *p;
    bl_section *sec;
    size_t *line_off;   /* file offset of each line of the section text (1-based index) */
    int nlines;
    size_t cap_blocks;
} body_ctx;

static size_t node_off(body_ctx *c, cmark_node *n)
{
    int line = cmark_node_get_start_line(n), col = cmark_node_get_start_column(n);
    if (line < 1 || line > c->nlines)
        return c->sec->src_off;
    return c->line_off[line] + (size_t)(col > 0 ? col - 1 : 0);
}

typedef struct para_build {
    bl_buf text;
    bl_span *spans;
    size_t nspans, cap;
    int oom;
} para_build;

static void add_text(para_build *pb, const char *s, size_t n, unsigned style, const char *href)
{
    if (!n)
        return;
    size_t start = pb->text.len;
    if (bl_buf_append(&pb->text, s, n)) {
        pb->oom = 1;
        return;
    }
    bl_span *last = pb->nspans ? &pb->spans[pb->nspans - 1] : NULL;
    if (last && last->end == start && last->style == style &&
        ((!href && !last->href) || (href && last->href && !strcmp(href, last->href)))) {
        last->end = pb->text.len;
        return;
    }
    if (bl_grow(&pb->spans, &pb->cap, pb->nspans + 1, sizeof *pb->spans)) {
        pb->oom = 1;
        return;
    }
    bl_span *sp = &pb->spans[pb->nspans++];
    sp->start = start;
    sp->end = pb->text.len;
    sp->style = style;
    sp->href = href ? bl_strdup(href) : NULL;
}

static void inlines(body_ctx *c, cmark_node *n, para_build *pb, unsigned style, const char *href)
{
    for (cmark_node *ch = cmark_node_first_child(n); ch; ch = cmark_node_next(ch)) {
        const char *lit = cmark_node_get_literal(ch);
        switch (cmark_node_get_type(ch)) {
        case CMARK_NODE_TEXT:
            add_text(pb, lit, strlen(lit), style, href);
            break;
        case CMARK_NODE_CODE:
            add_text(pb, lit, strlen(lit), style | BL_STYLE_CODE, href);
            break;
        case CMARK_NODE_SOFTBREAK:
            add_text(pb, " ", 1, style, href);
            break;
        case CMARK_NODE_LINEBREAK:
            add_text(pb, "\xE2\x80\xA8", 3, style, href); /* U+2028: a forced line break */
            break;
        case CMARK_NODE_EMPH:
            inlines(c, ch, pb, style | BL_STYLE_ITALIC, href);
            break;
        case CMARK_NODE_STRONG:
            inlines(c, ch, pb, style | BL_STYLE_BOLD, href);
            break;
        case CMARK_NODE_LINK:
            inlines(c, ch, pb, style | BL_STYLE_LINK, cmark_node_get_url(ch));
            break;
        case CMARK_NODE_IMAGE:
            bl_diag_at(c->p->d, BL_WARNING, c->p->f, node_off(c, ch),
                       "inline images are not supported; the image's description is printed instead");
            inlines(c, ch, pb, style, href);
            break;
        case CMARK_NODE_HTML_INLINE:
            bl_diag_at(c->p->d, BL_WARNING, c->p->f, node_off(c, ch), "raw HTML is ignored");
            break;
        default:
            inlines(c, ch, pb, style, href);
            break;
        }
    }
}

static bl_block *new_block(body_ctx *c, int kind, cmark_node *n)
{
    bl_section *s = c->sec;
    if (s->nblocks >= SOURCE_MAX_BLOCKS) {
        if (s->nblocks == SOURCE_MAX_BLOCKS)
            bl_diag_at(c->p->d, BL_ERROR, c->p->f, node_off(c, n), "too many blocks in one section (limit %d)",
                       SOURCE_MAX_BLOCKS);
        s->nblocks++;
        return NULL;
    }
    if (bl_grow(&s->blocks, &c->cap_blocks, s->nblocks + 1, sizeof *s->blocks)) {
        c->p->oom = 1;
        return NULL;
    }
    bl_block *b = &s->blocks[s->nblocks++];
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->src_off = node_off(c, n);
    return b;
}

static void add_para(body_ctx *c, bl_block *blk, cmark_node *n, int depth, const char *marker)
{
    para_build pb = {0};
    if (cmark_node_get_type(n) == CMARK_NODE_CODE_BLOCK) {
        const char *lit = cmark_node_get_literal(n);
        size_t len = strlen(lit);
        while (len && lit[len - 1] == '\n')
            len--;
        for (size_t i = 0; i < len;) {
            size_t e = i;
            while (e < len && lit[e] != '\n')
                e++;
            add_text(&pb, lit + i, e - i, BL_STYLE_CODE, NULL);
            if (e < len)
                add_text(&pb, "\xE2\x80\xA8", 3, BL_STYLE_CODE, NULL);
            i = e + 1;
        }
    } else {
        inlines(c, n, &pb, 0, NULL);
    }
    bl_para *grown = pb.oom ? NULL : realloc(blk->paras, (blk->nparas + 1) * sizeof *blk->paras);
    if (grown)
        blk->paras = grown;
    if (!grown) {
        c->p->oom = 1;
        bl_buf_free(&pb.text);
        for (size_t i = 0; i < pb.nspans; i++)
            free(pb.spans[i].href);
        free(pb.spans);
        return;
    }
    bl_para *pa = &blk->paras[blk->nparas++];
    memset(pa, 0, sizeof *pa);
    if (!pb.text.data)
        bl_buf_append(&pb.text, "", 0);
    pa->text = pb.text.data;
    pa->len = pb.text.len;
    pa->spans = pb.spans;
    pa->nspans = pb.nspans;
    pa->src_off = node_off(c, n);
    pa->depth = depth;
    if (marker)
        snprintf(pa->marker, sizeof pa->marker, "%s", marker);
}

static void container(body_ctx *c, bl_block *blk, cmark_node *n, int depth);

/* Each item's paragraphs, the first one carrying the item's marker. */
static void list_items(body_ctx *c, bl_block *blk, cmark_node *list, int depth)
{
    int ordered = cmark_node_get_list_type(list) == CMARK_ORDERED_LIST;
    int num = cmark_node_get_list_start(list);
    for (cmark_node *item = cmark_node_first_child(list); item && !c->p->oom; item = cmark_node_next(item), num++) {
        char mark[16];
        if (ordered)
            snprintf(mark, sizeof mark, "%d%c", num, cmark_node_get_list_delim(list) == CMARK_PAREN_DELIM ? ')' : '.');
        else
            snprintf(mark, sizeof mark, "%s", depth % 2 ? "\xE2\x80\x93" : "\xE2\x80\xA2");
        size_t before = blk->nparas;
        container(c, blk, item, depth + 1);
        if (blk->nparas == before) /* an empty item still shows its marker */
            add_para(c, blk, item, depth + 1, NULL);
        if (blk->nparas > before)
            snprintf(blk->paras[before].marker, sizeof blk->paras[0].marker, "%s", mark);
    }
}

/* Paragraph-like content inside a quote or list, flattened in reading order. */
static void container(body_ctx *c, bl_block *blk, cmark_node *n, int depth)
{
    for (cmark_node *ch = cmark_node_first_child(n); ch; ch = cmark_node_next(ch)) {
        switch (cmark_node_get_type(ch)) {
        case CMARK_NODE_PARAGRAPH:
        case CMARK_NODE_HEADING:
        case CMARK_NODE_CODE_BLOCK:
            add_para(c, blk, ch, depth, NULL);
            break;
        case CMARK_NODE_BLOCK_QUOTE:
            container(c, blk, ch, depth + 1);
            break;
        case CMARK_NODE_LIST:
            list_items(c, blk, ch, depth);
            break;
        case CMARK_NODE_THEMATIC_BREAK:
            break;
        default:
            bl_diag_at(c->p->d, BL_WARNING, c->p->f, node_off(c, ch), "raw HTML is ignored");
            break;
        }
    }
}

static void body_section(parser *p, bl_section *sec, size_t start, size_t end)
{
    const bl_file *f = p->f;
    body_ctx c = {.p = p, .sec = sec};
    /* Line offsets of the section's text, for cmark's line/column positions. */
    size_t cap = 0;
    c.nlines = 0;
    for (size_t i = start;;) {
        if (bl_grow(&c.line_off, &cap, (size_t)c.nlines + 2, sizeof *c.line_off)) {
            p->oom = 1;
            free(c.line_off);
            return;
        }
        c.line_off[++c.nlines] = i;
        while (i < end && f->text[i] != '\n')
            i++;
        if (i >= end)
            break;
        i++;
    }
    cmark_node *docn = cmark_parse_document(f->text + start, end - start, CMARK_OPT_SOURCEPOS);
    if (!docn) {
        p->oom = 1;
        free(c.line_off);
        return;
    }
    for (cmark_node *n = cmark_node_first_child(docn); n && !p->oom; n = cmark_node_next(n)) {
        bl_block *blk;
        switch (cmark_node_get_type(n)) {
        case CMARK_NODE_PARAGRAPH:
        case CMARK_NODE_CODE_BLOCK:
            if ((blk = new_block(&c, BL_BLOCK_PARA, n)))
                add_para(&c, blk, n, 0, NULL);
            break;
        case CMARK_NODE_HEADING:
            if ((blk = new_block(&c, BL_BLOCK_HEADING, n))) {
                blk->level = cmark_node_get_heading_level(n);
                add_para(&c, blk, n, 0, NULL);
            }
            break;
        case CMARK_NODE_BLOCK_QUOTE:
            if ((blk = new_block(&c, BL_BLOCK_QUOTE, n)))
                container(&c, blk, n, 0);
            break;
        case CMARK_NODE_LIST:
            if ((blk = new_block(&c, BL_BLOCK_LIST, n)))
                list_items(&c, blk, n, 0);
            break;
        case CMARK_NODE_THEMATIC_BREAK:
            new_block(&c, BL_BLOCK_RULE, n);
            break;
        default:
            bl_diag_at(p->d, BL_WARNING, f, node_off(&c, n), "raw HTML is ignored");
            break;
        }
    }
    cmark_node_free(docn);
    free(c.line_off);
}

/* ---- the whole file ------------------------------------------------------- */

/* Is the line at text[i..] exactly `s` followed by optional spaces and EOL? */
static int line_is(const char *t, size_t i, size_t n, const char *s, size_t *next)
{
    size_t k = strlen(s);
    if (i + k > n || strncmp(t + i, s, k))
        return 0;
    i += k;
    while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\r'))
        i++;
    if (i < n && t[i] != '\n')
        return 0;
    *next = i < n ? i + 1 : n;
    return 1;
}

static size_t line_end(const char *t, size_t i, size_t n)
{
    while (i < n && t[i] != '\n')
        i++;
    return i;
}

static int blank(const char *t, size_t a, size_t b)
{
    for (size_t i = a; i < b; i++)
        if (t[i] != ' ' && t[i] != '\t' && t[i] != '\r' && t[i] != '\n')
            return 0;
    return 1;
}

static void body(parser *p, size_t start)
{
    const bl_file *f = p->f;
    const char *t = f->text;
    size_t n = f->len;
    bl_bulletin *b = p->b;
    int seen[BL_MAX_LANGS] = {0};
    size_t sec_start[BL_MAX_LANGS], sec_end[BL_MAX_LANGS];
    int any_fence = 0;
    int cur = -2; /* -2 outside, -1 inside an unknown-language fence, >= 0 inside */
    size_t fence_off = 0, content_start = 0;
    size_t stray = (size_t)-1;
    for (size_t i = start; i < n;) {
        size_t e = line_end(t, i, n), next = e < n ? e + 1 : n, dummy;
        int is_close = line_is(t, i, n, ":::", &dummy);
        int is_open = !is_close && e - i > 3 && !strncmp(t + i, ":::", 3);
        if (is_open) {
            any_fence = 1;
            size_t a = i + 3, z = e;
            while (a < z && (t[a] == ' ' || t[a] == '\t'))
                a++;
            while (z > a && (t[z - 1] == ' ' || t[z - 1] == '\t' || t[z - 1] == '\r'))
                z--;
            if (a < z && t[a] == '{') /* Pandoc also allows ::: {lang=xx}; keep it simple: ::: xx */
                a++, z -= (t[z - 1] == '}');
            char tag[32];
            snprintf(tag, sizeof tag, "%.*s", (int)(z - a > 31 ? 31 : z - a), t + a);
            if (cur != -2) {
                bl_diag_at(p->d, BL_ERROR, f, i, "'::: %s' inside another section (close the section above "
                           "with ':::' first)", tag);
            } else if (!*tag || strchr(tag, ' ')) {
                bl_diag_at(p->d, BL_ERROR, f, i, "a section fence must name one language, e.g. '::: en'");
                cur = -1;
            } else {
                int li = lang_index(b, tag);
                if (li < 0) {
                    bl_diag_at(p->d, BL_ERROR, f, a, "section language '%s' is not listed in 'languages'", tag);
                    cur = -1;
                } else if (seen[li]) {
                    bl_diag_at(p->d, BL_ERROR, f, a, "a second section for language '%s'", tag);
                    cur = -1;
                } else {
                    cur = li;
                    seen[li] = 1;
                    b->sections[li].src_off = i;
                }
            }
            fence_off = i;
            content_start = next;
        } else if (is_close) {
            if (cur == -2) {
                bl_diag_at(p->d, BL_ERROR, f, i, "':::' closes no open section");
            } else {
                if (cur >= 0) {
                    sec_start[cur] = content_start;
                    sec_end[cur] = i;
                }
                cur = -2;
            }
        } else if (cur == -2 && !blank(t, i, e) && stray == (size_t)-1) {
            stray = i;
        }
        i = next;
    }
    if (cur != -2) {
        bl_diag_at(p->d, BL_ERROR, f, fence_off, "unclosed section: '%.*s' has no closing ':::'",
                   (int)(line_end(t, fence_off, n) - fence_off), t + fence_off);
        if (cur >= 0) {
            sec_start[cur] = content_start;
            sec_end[cur] = n;
        }
    }
    if (!any_fence) {
        if (b->nlangs == 1) {
            seen[0] = 1;
            sec_start[0] = start;
            sec_end[0] = n;
            b->sections[0].src_off = start;
        } else if (b->nlangs > 1) {
            bl_diag_at(p->d, BL_ERROR, f, start < n ? start : 0,
                       "a bulletin in %d languages needs one '::: LANG' section per language", b->nlangs);
            return;
        }
    } else if (stray != (size_t)-1) {
        bl_diag_at(p->d, BL_ERROR, f, stray, "text outside any '::: LANG' section");
    }
    for (int i = 0; i < b->nlangs; i++) {
        snprintf(b->sections[i].lang, sizeof b->sections[i].lang, "%s", b->langs[i]);
        b->sections[i].rtl = bl_lang_is_rtl(b->langs[i]);
        if (!seen[i])
            bl_diag_at(p->d, BL_ERROR, f, p->lang_off[i], "language '%s' has no '::: %s' section in the body",
                       b->langs[i], b->langs[i]);
    }
    if (p->d->errors)
        return;
    for (int i = 0; i < b->nlangs; i++)
        body_section(p, &b->sections[i], sec_start[i], sec_end[i]);
}

static void check_pairs(parser *p, const bl_source_opts *o)
{
    bl_bulletin *b = p->b;
    for (int i = 1; i < b->nlangs; i++) {
        bl_section *a = &b->sections[0], *s = &b->sections[i];
        if (a->nblocks == s->nblocks)
            continue;
        bl_severity sev = o && o->allow_unpaired ? BL_WARNING : BL_ERROR;
        bl_diag_at(p->d, sev, p->f, s->src_off,
                   "section '%s' has %zu blocks but section '%s' has %zu: blocks pair up by order%s",
                   s->lang, s->nblocks, a->lang, a->nblocks,
                   sev == BL_ERROR ? " (--allow-unpaired pairs what it can)" : "");
        bl_diag_at(p->d, BL_NOTE, p->f, a->src_off, "section '%s' starts here", a->lang);
    }
}

bl_bulletin *bl_source_parse(bl_file *file, const bl_source_opts *o, bl_diag *d)
{
    bl_bulletin *b = calloc(1, sizeof *b);
    if (!b) {
        bl_file_free(file);
        bl_diag_at(d, BL_ERROR, NULL, 0, "out of memory");
        return NULL;
    }
    b->file = file;
    int errors0 = d->errors;
    parser p = {.b = b, .d = d, .f = file, .errors0 = d->errors};
    size_t bad = bl_utf8_check(file->text, file->len);
    if (bad != (size_t)-1) {
        bl_diag_at(d, BL_ERROR, file, bad, "invalid UTF-8 (byte 0x%02x); the source must be UTF-8 text",
                   (unsigned char)file->text[bad]);
        goto fail;
    }
    if (memchr(file->text, 0, file->len)) {
        bl_diag_at(d, BL_ERROR, file, (size_t)((char *)memchr(file->text, 0, file->len) - file->text),
                   "NUL character in the source");
        goto fail;
    }
    size_t i = 0;
    if (file->len >= 3 && !memcmp(file->text, "\xEF\xBB\xBF", 3))
        i = 3; /* byte order mark */
    size_t next;
    if (!line_is(file->text, i, file->len, "---", &next)) {
        bl_diag_at(d, BL_ERROR, file, i, "a bulletin starts with YAML front matter: a line '---', the fields "
                   "(languages, date, title, ...), and a closing '---'");
        goto fail;
    }
    p.fm_off = next;
    p.fm_line = 2;
    size_t close = (size_t)-1, body_start = file->len;
    for (size_t k = next; k < file->len;) {
        size_t after;
        if (line_is(file->text, k, file->len, "---", &after) || line_is(file->text, k, file->len, "...", &after)) {
            close = k;
            body_start = after;
            break;
        }
        k = line_end(file->text, k, file->len);
        k += k < file->len;
    }
    if (close == (size_t)-1) {
        bl_diag_at(d, BL_ERROR, file, i, "the front matter opened here is not closed with a '---' line");
        goto fail;
    }
    front_matter(&p, file->text + next, close - next);
    if (p.oom)
        goto oom;
    if (d->errors > errors0)
        goto fail;
    body(&p, body_start);
    if (p.oom)
        goto oom;
    if (d->errors > errors0)
        goto fail;
    if (o && o->only_lang) {
        int li = lang_index(b, o->only_lang);
        if (li < 0) {
            bl_diag_at(d, BL_ERROR, file, p.lang_off[0], "--lang %s: the bulletin's languages do not include it",
                       o->only_lang);
            goto fail;
        }
        if (li != 0) { /* move that language to index 0, keep fields aligned */
            bl_section tmp = b->sections[0];
            b->sections[0] = b->sections[li];
            b->sections[li] = tmp;
            char tl[16];
            memcpy(tl, b->langs[0], 16);
            memcpy(b->langs[0], b->langs[li], 16);
            memcpy(b->langs[li], tl, 16);
            bl_text *fields[] = {&b->title, &b->issuer, &b->reference, &b->classification};
            for (int k = 0; k < 4; k++) {
                char *x = fields[k]->per[0];
                fields[k]->per[0] = fields[k]->per[li];
                fields[k]->per[li] = x;
            }
        }
        b->nlangs = 1; /* the other sections stay allocated and are freed with b */
    } else {
        check_pairs(&p, o);
    }
    if (d->errors > errors0)
        goto fail;
    return b;
oom:
    bl_diag_at(d, BL_ERROR, NULL, 0, "out of memory");
fail:
    bl_bulletin_free(b);
    return NULL;
}
