/* test-source.c - the source parser (source.c): the document model built from
 * front matter and a CommonMark body, every diagnostic's exact text and
 * position, and hostile inputs under a time limit. */
#include "harness.h"
#include "base.h"
#include "doc.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------------- */

/* Diagnostics of the last parse() (owned here, replaced by the next call). */
static char *diag_text;
static int diag_errors, diag_warnings;

static bl_bulletin *parse_n(const char *src, size_t len, const bl_source_opts *o)
{
    free(diag_text);
    diag_text = NULL;
    size_t dlen = 0;
    FILE *fp = open_memstream(&diag_text, &dlen);
    if (!fp) {
        perror("open_memstream");
        exit(2);
    }
    bl_diag d;
    bl_diag_init(&d, fp);
    bl_file *f = bl_file_from_memory("t.md", src, len);
    bl_bulletin *b = f ? bl_source_parse(f, o, &d) : NULL;
    fclose(fp);
    diag_errors = d.errors;
    diag_warnings = d.warnings;
    return b;
}

static bl_bulletin *parse(const char *src) { return parse_n(src, strlen(src), NULL); }

/* 1 if text has line exactly (a whole line). */
static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && !memcmp(p, line, n))
            return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* The first line of the diagnostics, in a static buffer. */
static const char *first_line(void)
{
    static char buf[512];
    const char *t = diag_text ? diag_text : "";
    size_t n = strcspn(t, "\n");
    snprintf(buf, sizeof buf, "%.*s", (int)(n < sizeof buf - 1 ? n : sizeof buf - 1), t);
    return buf;
}

/* The source must fail with exactly this first diagnostic line. */
static void expect_error(const char *what, const char *src, const char *line)
{
    bl_bulletin *b = parse(src);
    CHECK(!b, "%s: parse must fail", what);
    CHECK(diag_errors >= 1, "%s: an error is counted (%d)", what, diag_errors);
    CHECK(!strcmp(first_line(), line), "%s:\n  want %s\n  got  %s", what, line, first_line());
    bl_bulletin_free(b);
}

/* The source must fail and report line somewhere (not necessarily first). */
static void expect_diag_line(const char *what, const char *src, const char *line)
{
    bl_bulletin *b = parse(src);
    CHECK(!b, "%s: parse must fail", what);
    CHECK(has_line(diag_text, line), "%s: want the line\n  %s\n  got:\n%s", what, line, diag_text);
    bl_bulletin_free(b);
}

static void linecol(const bl_bulletin *b, size_t off, int *l, int *c) { bl_file_linecol(b->file, off, l, c); }

static int at(const bl_bulletin *b, size_t off, int line, int col)
{
    int l, c;
    linecol(b, off, &l, &c);
    return l == line && c == col;
}

static const char *lc_str(const bl_bulletin *b, size_t off)
{
    static char buf[32];
    int l, c;
    linecol(b, off, &l, &c);
    snprintf(buf, sizeof buf, "%d:%d", l, c);
    return buf;
}

static int str_eq(const char *a, const char *b) { return a && b && !strcmp(a, b); }

static int span_is(const bl_para *p, size_t i, size_t start, size_t end, unsigned style, const char *href)
{
    if (i >= p->nspans)
        return 0;
    const bl_span *s = &p->spans[i];
    return s->start == start && s->end == end && s->style == style &&
           (href ? str_eq(s->href, href) : s->href == NULL);
}

/* Spans cover the text in order, without gaps or overlaps. */
static int spans_cover(const bl_para *p)
{
    size_t pos = 0;
    for (size_t i = 0; i < p->nspans; i++) {
        if (p->spans[i].start != pos || p->spans[i].end <= p->spans[i].start)
            return 0;
        pos = p->spans[i].end;
    }
    return pos == p->len;
}

/* ---- the document model ------------------------------------------------------- */

/* Line numbers below are the source lines of MODEL (1-based). */
static const char MODEL[] =
    "---\n"                                                   /* 1 */
    "languages: [en, he]\n"                                   /* 2 */
    "date: 2021-11-24\n"                                      /* 3 */
    "reference: MOD-2021-117\n"                               /* 4 */
    "classification: UNCLASSIFIED\n"                          /* 5 */
    "issuer:\n"                                               /* 6 */
    "  en: Ministry of Defense\n"                             /* 7 */
    "  he: משרד הביטחון\n"                                    /* 8 */
    "title:\n"                                                /* 9 */
    "  en: Defense Minister signs MOU\n"                      /* 10 */
    "  he: שר הביטחון חותם על מזכר\n"                         /* 11 */
    "---\n"                                                   /* 12 */
    "\n"                                                      /* 13 */
    "::: en\n"                                                /* 14 */
    "# Heading one\n"                                         /* 15 */
    "\n"                                                      /* 16 */
    "Some *emph* and **strong** and [a link](https://example.com/x) text.\n" /* 17 */
    "\n"                                                      /* 18 */
    "Line one  \n"                                            /* 19 */
    "line two\n"                                              /* 20 */
    "soft\n"                                                  /* 21 */
    "\n"                                                      /* 22 */
    "> Quote para one.\n"                                     /* 23 */
    ">\n"                                                     /* 24 */
    "> Quote *para* two.\n"                                   /* 25 */
    "\n"                                                      /* 26 */
    "- item a\n"                                              /* 27 */
    "- item b\n"                                              /* 28 */
    "  - nested c\n"                                          /* 29 */
    "\n"                                                      /* 30 */
    "3. three\n"                                              /* 31 */
    "4. four\n"                                               /* 32 */
    "\n"                                                      /* 33 */
    "7) seven\n"                                              /* 34 */
    "\n"                                                      /* 35 */
    "***\n"                                                   /* 36 */
    "\n"                                                      /* 37 */
    "Use `x = 1` now.\n"                                      /* 38 */
    "\n"                                                      /* 39 */
    "    code line 1\n"                                       /* 40 */
    "    code line 2\n"                                       /* 41 */
    ":::\n"                                                   /* 42 */
    "\n"                                                      /* 43 */
    "::: he\n"                                                /* 44 */
    "## כותרת\n"                                              /* 45 */
    "\n"                                                      /* 46 */
    "טקסט *נטוי* ו**מודגש**.\n"                               /* 47 */
    "\n"                                                      /* 48 */
    "שורה  \n"                                                /* 49 */
    "שנייה\n"                                                 /* 50 */
    "\n"                                                      /* 51 */
    "> ציטוט.\n"                                              /* 52 */
    "\n"                                                      /* 53 */
    "- א\n"                                                   /* 54 */
    "- ב\n"                                                   /* 55 */
    "\n"                                                      /* 56 */
    "1. אחת\n"                                                /* 57 */
    "\n"                                                      /* 58 */
    "2) שתיים\n"                                              /* 59 */
    "\n"                                                      /* 60 */
    "---\n"                                                   /* 61 */
    "\n"                                                      /* 62 */
    "`קוד`\n"                                                 /* 63 */
    "\n"                                                      /* 64 */
    "```\n"                                                   /* 65 */
    "קוד\n"                                                   /* 66 */
    "שני\n"                                                   /* 67 */
    "```\n"                                                   /* 68 */
    ":::\n";                                                  /* 69 */

#define LS "\xE2\x80\xA8" /* U+2028 LINE SEPARATOR: a hard line break */

/* Everything MODEL must give; label says which variant of it (LF, CRLF, BOM). */
static void check_model(const bl_bulletin *b, const char *label)
{
    CHECK(b, "%s: parses (%s)", label, diag_text);
    if (!b)
        return;
    CHECK(diag_errors == 0 && diag_warnings == 0, "%s: no diagnostics: %s", label, diag_text);
    CHECK(b->nlangs == 2 && !strcmp(b->langs[0], "en") && !strcmp(b->langs[1], "he"), "%s: languages en, he",
          label);
    CHECK(b->year == 2021 && b->month == 11 && b->day == 24, "%s: date %d-%d-%d", label, b->year, b->month,
          b->day);
    CHECK(b->layout == NULL, "%s: no layout", label);
    CHECK(str_eq(b->reference.all, "MOD-2021-117") && !b->reference.per[0] && !b->reference.per[1],
          "%s: reference is one string", label);
    CHECK(str_eq(bl_text_get(&b->reference, 1), "MOD-2021-117"), "%s: one string serves every language", label);
    CHECK(str_eq(b->classification.all, "UNCLASSIFIED"), "%s: classification", label);
    CHECK(!b->issuer.all && str_eq(b->issuer.per[0], "Ministry of Defense") &&
              str_eq(b->issuer.per[1], "משרד הביטחון"),
          "%s: issuer per language", label);
    CHECK(str_eq(bl_text_get(&b->title, 0), "Defense Minister signs MOU") &&
              str_eq(bl_text_get(&b->title, 1), "שר הביטחון חותם על מזכר"),
          "%s: title per language", label);
    CHECK(at(b, b->title.src_off, 10, 3), "%s: title's source is its map (10:3), got %s", label,
          lc_str(b, b->title.src_off));

    const bl_section *en = &b->sections[0], *he = &b->sections[1];
    CHECK(!strcmp(en->lang, "en") && !en->rtl && !strcmp(he->lang, "he") && he->rtl, "%s: sections en (ltr), he (rtl)",
          label);
    CHECK(at(b, en->src_off, 14, 1) && at(b, he->src_off, 44, 1), "%s: sections start at their fences (%s)", label,
          lc_str(b, en->src_off));
    CHECK(en->nblocks == 10 && he->nblocks == 10, "%s: 10 blocks each (%zu, %zu)", label, en->nblocks, he->nblocks);
    if (en->nblocks != 10 || he->nblocks != 10)
        return;
    static const int kinds[10] = {BL_BLOCK_HEADING, BL_BLOCK_PARA, BL_BLOCK_PARA, BL_BLOCK_QUOTE, BL_BLOCK_LIST,
                                  BL_BLOCK_LIST,    BL_BLOCK_LIST, BL_BLOCK_RULE, BL_BLOCK_PARA,  BL_BLOCK_PARA};
    static const int en_lines[10] = {15, 17, 19, 23, 27, 31, 34, 36, 38, 40};
    static const int he_lines[10] = {45, 47, 49, 52, 54, 57, 59, 61, 63, 65};
    for (int i = 0; i < 10; i++) {
        CHECK(en->blocks[i].kind == kinds[i] && he->blocks[i].kind == kinds[i], "%s: block %d kind %d/%d, want %d",
              label, i, en->blocks[i].kind, he->blocks[i].kind, kinds[i]);
        int l, c;
        linecol(b, en->blocks[i].src_off, &l, &c);
        CHECK(l == en_lines[i] && (c == 1 || i == 9), "%s: en block %d at %d:%d, want %d:1", label, i, l, c,
              en_lines[i]);
        linecol(b, he->blocks[i].src_off, &l, &c);
        CHECK(l == he_lines[i] && c == 1, "%s: he block %d at %d:%d, want %d:1", label, i, l, c, he_lines[i]);
        for (size_t k = 0; k < en->blocks[i].nparas; k++)
            CHECK(spans_cover(&en->blocks[i].paras[k]), "%s: en block %d para %zu: spans cover the text", label, i, k);
        for (size_t k = 0; k < he->blocks[i].nparas; k++)
            CHECK(spans_cover(&he->blocks[i].paras[k]), "%s: he block %d para %zu: spans cover the text", label, i, k);
    }

    /* Headings */
    const bl_block *bk = &en->blocks[0];
    CHECK(bk->level == 1 && bk->nparas == 1 && str_eq(bk->paras[0].text, "Heading one") && bk->paras[0].len == 11,
          "%s: '# Heading one' is level 1", label);
    CHECK(at(b, bk->paras[0].src_off, 15, 1), "%s: heading paragraph at 15:1 (%s)", label,
          lc_str(b, bk->paras[0].src_off));
    bk = &he->blocks[0];
    CHECK(bk->level == 2 && bk->nparas == 1 && str_eq(bk->paras[0].text, "כותרת"), "%s: '## כותרת' is level 2",
          label);

    /* Inline styles: "Some emph and strong and a link text." */
    const bl_para *p = &en->blocks[1].paras[0];
    CHECK(str_eq(p->text, "Some emph and strong and a link text.") && p->len == 37, "%s: inline text '%s'", label,
          p->text);
    CHECK(p->nspans == 7, "%s: 7 spans (%zu)", label, p->nspans);
    CHECK(span_is(p, 0, 0, 5, 0, NULL), "%s: 'Some ' plain", label);
    CHECK(span_is(p, 1, 5, 9, BL_STYLE_ITALIC, NULL), "%s: 'emph' italic", label);
    CHECK(span_is(p, 2, 9, 14, 0, NULL), "%s: ' and ' plain", label);
    CHECK(span_is(p, 3, 14, 20, BL_STYLE_BOLD, NULL), "%s: 'strong' bold", label);
    CHECK(span_is(p, 4, 20, 25, 0, NULL), "%s: ' and ' plain", label);
    CHECK(span_is(p, 5, 25, 31, BL_STYLE_LINK, "https://example.com/x"), "%s: 'a link' link with href", label);
    CHECK(span_is(p, 6, 31, 37, 0, NULL), "%s: ' text.' plain", label);
    CHECK(p->depth == 0 && p->marker[0] == 0, "%s: a top-level paragraph has depth 0 and no marker", label);
    /* Hebrew: offsets are bytes. "טקסט " = 9 bytes, "נטוי" 8, " ו" 3, "מודגש" 10, "." 1 */
    p = &he->blocks[1].paras[0];
    CHECK(str_eq(p->text, "טקסט נטוי ומודגש."), "%s: Hebrew inline text", label);
    CHECK(p->nspans == 5 && span_is(p, 0, 0, 9, 0, NULL) && span_is(p, 1, 9, 17, BL_STYLE_ITALIC, NULL) &&
              span_is(p, 2, 17, 20, 0, NULL) && span_is(p, 3, 20, 30, BL_STYLE_BOLD, NULL) &&
              span_is(p, 4, 30, 31, 0, NULL),
          "%s: Hebrew spans (byte offsets)", label);

    /* Hard break = U+2028, soft break = space */
    p = &en->blocks[2].paras[0];
    CHECK(str_eq(p->text, "Line one" LS "line two soft"), "%s: hard and soft breaks: '%s'", label, p->text);
    CHECK(p->nspans == 1 && span_is(p, 0, 0, p->len, 0, NULL), "%s: one plain span", label);
    p = &he->blocks[2].paras[0];
    CHECK(str_eq(p->text, "שורה" LS "שנייה"), "%s: Hebrew hard break", label);

    /* Block quote: two paragraphs, each at its own line, after "> " */
    bk = &en->blocks[3];
    CHECK(bk->nparas == 2, "%s: quote has 2 paragraphs (%zu)", label, bk->nparas);
    if (bk->nparas == 2) {
        CHECK(str_eq(bk->paras[0].text, "Quote para one.") && str_eq(bk->paras[1].text, "Quote para two."),
              "%s: quote texts", label);
        CHECK(bk->paras[1].nspans == 3 && span_is(&bk->paras[1], 1, 6, 10, BL_STYLE_ITALIC, NULL),
              "%s: emphasis inside a quote", label);
        CHECK(at(b, bk->paras[0].src_off, 23, 3) && at(b, bk->paras[1].src_off, 25, 3),
              "%s: quote paragraphs at 23:3 and 25:3 (%s)", label, lc_str(b, bk->paras[1].src_off));
        CHECK(bk->paras[0].depth == bk->paras[1].depth && !bk->paras[0].marker[0], "%s: quote paragraphs: same depth, no marker",
              label);
    }

    /* Bullet list with a nested list: markers and depth */
    bk = &en->blocks[4];
    CHECK(bk->nparas == 3, "%s: bullet list flattens to 3 paragraphs (%zu)", label, bk->nparas);
    if (bk->nparas == 3) {
        CHECK(str_eq(bk->paras[0].text, "item a") && str_eq(bk->paras[1].text, "item b") &&
                  str_eq(bk->paras[2].text, "nested c"),
              "%s: list item texts", label);
        CHECK(!strcmp(bk->paras[0].marker, "•") && !strcmp(bk->paras[1].marker, "•"), "%s: bullet markers '%s'",
              label, bk->paras[0].marker);
        CHECK(bk->paras[2].marker[0] != 0 && strcmp(bk->paras[2].marker, "1.") != 0,
              "%s: the nested item has a bullet marker ('%s')", label, bk->paras[2].marker);
        CHECK(bk->paras[0].depth >= 1 && bk->paras[1].depth == bk->paras[0].depth &&
                  bk->paras[2].depth == bk->paras[0].depth + 1,
              "%s: nested list one level deeper (%d, %d, %d)", label, bk->paras[0].depth, bk->paras[1].depth,
              bk->paras[2].depth);
        CHECK(at(b, bk->paras[0].src_off, 27, 3) && at(b, bk->paras[2].src_off, 29, 5),
              "%s: list paragraphs at 27:3 and 29:5 (%s)", label, lc_str(b, bk->paras[2].src_off));
    }
    /* Ordered lists keep their start number and delimiter */
    bk = &en->blocks[5];
    CHECK(bk->nparas == 2 && !strcmp(bk->paras[0].marker, "3.") && !strcmp(bk->paras[1].marker, "4.") &&
              str_eq(bk->paras[1].text, "four"),
          "%s: ordered list from 3: markers 3. 4.", label);
    bk = &en->blocks[6];
    CHECK(bk->nparas == 1 && !strcmp(bk->paras[0].marker, "7)"), "%s: '7)' list marker '%s'", label,
          bk->nparas ? bk->paras[0].marker : "");
    CHECK(he->blocks[4].nparas == 2 && !strcmp(he->blocks[4].paras[1].marker, "•") &&
              str_eq(he->blocks[4].paras[1].text, "ב"),
          "%s: Hebrew bullet list", label);
    CHECK(he->blocks[5].nparas == 1 && !strcmp(he->blocks[5].paras[0].marker, "1."), "%s: '1.' marker", label);
    CHECK(he->blocks[6].nparas == 1 && !strcmp(he->blocks[6].paras[0].marker, "2)") &&
              str_eq(he->blocks[6].paras[0].text, "שתיים"),
          "%s: '2)' marker", label);

    /* Thematic breaks ('***' and '---' inside a section) */
    CHECK(en->blocks[7].nparas == 0 && he->blocks[7].nparas == 0, "%s: rules have no text", label);

    /* Code span and code blocks */
    p = &en->blocks[8].paras[0];
    CHECK(str_eq(p->text, "Use x = 1 now.") && p->nspans == 3 && span_is(p, 1, 4, 9, BL_STYLE_CODE, NULL),
          "%s: code span 'x = 1' [4,9) is CODE", label);
    p = &he->blocks[8].paras[0];
    CHECK(str_eq(p->text, "קוד") && p->nspans == 1 && span_is(p, 0, 0, 6, BL_STYLE_CODE, NULL),
          "%s: Hebrew code span", label);
    p = &en->blocks[9].paras[0];
    CHECK(en->blocks[9].nparas == 1 && str_eq(p->text, "code line 1" LS "code line 2"),
          "%s: indented code block, lines joined by U+2028: '%s'", label, p->text);
    CHECK(p->nspans == 1 && span_is(p, 0, 0, p->len, BL_STYLE_CODE, NULL), "%s: code block is one CODE span", label);
    p = &he->blocks[9].paras[0];
    CHECK(str_eq(p->text, "קוד" LS "שני"), "%s: fenced code block: '%s'", label, p->text);
}

static char *replace_lf_crlf(const char *s)
{
    size_t n = strlen(s), k = 0;
    char *o = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            o[k++] = '\r';
        o[k++] = s[i];
    }
    o[k] = 0;
    return o;
}

static void test_model(void)
{
    bl_bulletin *b = parse(MODEL);
    check_model(b, "LF");
    bl_bulletin_free(b);

    /* A byte order mark changes nothing (columns on line 1 do not count it). */
    size_t n = strlen(MODEL);
    char *bom = malloc(n + 4);
    memcpy(bom, "\xEF\xBB\xBF", 3);
    memcpy(bom + 3, MODEL, n + 1);
    b = parse(bom);
    check_model(b, "BOM");
    bl_bulletin_free(b);
    free(bom);

    /* CRLF line endings (Windows editors): the same model, no '\r' in any text. */
    char *crlf = replace_lf_crlf(MODEL);
    b = parse(crlf);
    check_model(b, "CRLF");
    int cr = 0;
    for (int s = 0; b && s < b->nlangs; s++)
        for (size_t i = 0; i < b->sections[s].nblocks; i++)
            for (size_t k = 0; k < b->sections[s].blocks[i].nparas; k++)
                cr += strchr(b->sections[s].blocks[i].paras[k].text, '\r') != NULL;
    CHECK(b && !strchr(b->title.per[0], '\r') && !strchr(b->reference.all, '\r'), "CRLF: no '\\r' in fields");
    CHECK(cr == 0, "CRLF: %d paragraphs contain '\\r'", cr);
    bl_bulletin_free(b);
    free(crlf);
}

/* A single-language source needs no fences; `languages` may be a scalar. */
static void test_single(void)
{
    const char *src = "---\n"
                      "languages: fr\n"
                      "date: 2021-11-24\n"
                      "title: Communiqué\n"
                      "---\n"
                      "Premier paragraphe,\n"
                      "suite.\n"
                      "\n"
                      "Deuxième.\n";
    bl_bulletin *b = parse(src);
    CHECK(b && diag_errors == 0, "single language without fences parses: %s", diag_text);
    if (b) {
        CHECK(b->nlangs == 1 && !strcmp(b->langs[0], "fr") && !strcmp(b->sections[0].lang, "fr") &&
                  !b->sections[0].rtl,
              "single: language fr");
        CHECK(str_eq(b->title.all, "Communiqué") && str_eq(bl_text_get(&b->title, 0), "Communiqué"), "single: title");
        CHECK(b->sections[0].nblocks == 2, "single: 2 blocks (%zu)", b->sections[0].nblocks);
        if (b->sections[0].nblocks == 2) {
            CHECK(str_eq(b->sections[0].blocks[0].paras[0].text, "Premier paragraphe, suite."), "single: soft break");
            CHECK(at(b, b->sections[0].blocks[0].src_off, 6, 1) && at(b, b->sections[0].blocks[1].src_off, 9, 1),
                  "single: blocks at 6:1 and 9:1 (%s)", lc_str(b, b->sections[0].blocks[1].src_off));
        }
        CHECK(at(b, b->sections[0].src_off, 6, 1), "single: section starts with the body (%s)",
              lc_str(b, b->sections[0].src_off));
    }
    bl_bulletin_free(b);

    /* Empty body: a bulletin with a title only. */
    b = parse("---\nlanguages: [he]\ndate: 2021-11-24\ntitle: כותרת\n---\n");
    CHECK(b && b->sections[0].nblocks == 0 && b->sections[0].rtl, "single: empty body parses: %s", diag_text);
    bl_bulletin_free(b);

    /* Unknown fields warn, the bulletin still parses. */
    b = parse("---\nlanguages: [en]\ndate: 2021-11-24\ntitle: T\nauthor: X\n---\nText.\n");
    CHECK(b && diag_warnings == 1 &&
              !strcmp(first_line(), "t.md:5:1: warning: unknown field 'author' is ignored (known: languages, "
                                    "layout, date, reference, classification, issuer, title)"),
          "unknown field warns: %s", first_line());
    bl_bulletin_free(b);
}

/* Front matter for the paired tests below: en has 3 blocks, he 2.  */
static const char UNPAIRED[] = "---\n"                   /* 1 */
                               "languages: [en, he]\n"   /* 2 */
                               "date: 2020-02-29\n"      /* 3 */
                               "classification:\n"       /* 4 */
                               "  en: RESTRICTED\n"      /* 5 */
                               "  he: שמור\n"            /* 6 */
                               "title:\n"                /* 7 */
                               "  en: Title\n"           /* 8 */
                               "  he: כותרת\n"           /* 9 */
                               "---\n"                   /* 10 */
                               "::: en\n"                /* 11 */
                               "A.\n"                    /* 12 */
                               "\n"                      /* 13 */
                               "B.\n"                    /* 14 */
                               "\n"                      /* 15 */
                               "C.\n"                    /* 16 */
                               ":::\n"                   /* 17 */
                               "::: he\n"                /* 18 */
                               "א.\n"                    /* 19 */
                               "\n"                      /* 20 */
                               "ב.\n"                    /* 21 */
                               ":::\n";                  /* 22 */

static void test_pairs_and_lang(void)
{
    /* Block counts differ: an error at the second section and a note at the first. */
    bl_bulletin *b = parse(UNPAIRED);
    CHECK(!b && diag_errors == 1, "block count mismatch is an error (%d)", diag_errors);
    CHECK(has_line(diag_text, "t.md:18:1: error: section 'he' has 2 blocks but section 'en' has 3: blocks pair up "
                              "by order (--allow-unpaired pairs what it can)"),
          "mismatch error text: %s", diag_text);
    CHECK(has_line(diag_text, "t.md:11:1: note: section 'en' starts here"), "mismatch note: %s", diag_text);
    bl_bulletin_free(b);

    bl_source_opts o = {.allow_unpaired = 1};
    b = parse_n(UNPAIRED, strlen(UNPAIRED), &o);
    CHECK(b && diag_errors == 0 && diag_warnings == 1, "allow_unpaired: a warning, not an error (%d, %d)",
          diag_errors, diag_warnings);
    CHECK(has_line(diag_text, "t.md:18:1: warning: section 'he' has 2 blocks but section 'en' has 3: blocks pair "
                              "up by order"),
          "allow_unpaired warning text: %s", diag_text);
    CHECK(has_line(diag_text, "t.md:11:1: note: section 'en' starts here"), "allow_unpaired note");
    CHECK(b && b->sections[0].nblocks == 3 && b->sections[1].nblocks == 2, "allow_unpaired keeps every block");
    CHECK(b && b->year == 2020 && b->month == 2 && b->day == 29, "2020-02-29 is a valid date (leap year)");
    bl_bulletin_free(b);

    /* --lang he: the language moves to index 0 and every field follows it;
     * one language means no pairing check. */
    o = (bl_source_opts){.only_lang = "he"};
    b = parse_n(UNPAIRED, strlen(UNPAIRED), &o);
    CHECK(b && diag_errors == 0 && diag_warnings == 0, "--lang he: parses without diagnostics: %s", diag_text);
    if (b) {
        CHECK(b->nlangs == 1 && !strcmp(b->langs[0], "he"), "--lang he: langs[0] = he, nlangs 1");
        CHECK(!strcmp(b->sections[0].lang, "he") && b->sections[0].rtl && b->sections[0].nblocks == 2 &&
                  str_eq(b->sections[0].blocks[0].paras[0].text, "א."),
              "--lang he: section 0 is the Hebrew one");
        CHECK(str_eq(bl_text_get(&b->title, 0), "כותרת"), "--lang he: title follows");
        CHECK(str_eq(bl_text_get(&b->classification, 0), "שמור"), "--lang he: per-language classification follows");
        CHECK(at(b, b->sections[0].src_off, 18, 1), "--lang he: section source stays at 18:1");
    }
    bl_bulletin_free(b);
    o = (bl_source_opts){.only_lang = "en"};
    b = parse_n(UNPAIRED, strlen(UNPAIRED), &o);
    CHECK(b && b->nlangs == 1 && !strcmp(b->langs[0], "en") && b->sections[0].nblocks == 3 &&
              str_eq(bl_text_get(&b->classification, 0), "RESTRICTED") && str_eq(bl_text_get(&b->title, 0), "Title"),
          "--lang en: the first language stays");
    bl_bulletin_free(b);
    o = (bl_source_opts){.only_lang = "fr"};
    b = parse_n(UNPAIRED, strlen(UNPAIRED), &o);
    CHECK(!b && !strcmp(first_line(), "t.md:2:13: error: --lang fr: the bulletin's languages do not include it"),
          "--lang fr: %s", first_line());
    bl_bulletin_free(b);
}

/* ---- diagnostics ------------------------------------------------------------- */

#define FM_EN_HE "---\nlanguages: [en, he]\ndate: 2021-11-24\ntitle: T\n---\n" /* body starts at line 6 */

static void test_errors(void)
{
    expect_error("no front matter", "Hello\n",
                 "t.md:1:1: error: a bulletin starts with YAML front matter: a line '---', the fields (languages, "
                 "date, title, ...), and a closing '---'");
    expect_error("empty file", "",
                 "t.md:1:1: error: a bulletin starts with YAML front matter: a line '---', the fields (languages, "
                 "date, title, ...), and a closing '---'");
    /* the caret under the first character; a BOM is not a column */
    expect_error("BOM, no front matter", "\xEF\xBB\xBFHello\n",
                 "t.md:1:1: error: a bulletin starts with YAML front matter: a line '---', the fields (languages, "
                 "date, title, ...), and a closing '---'");
    expect_error("unclosed front matter", "---\nlanguages: [en]\ndate: 2021-11-24\n",
                 "t.md:1:1: error: the front matter opened here is not closed with a '---' line");

    /* YAML errors carry libyaml's position, moved to the file's line (the
     * front matter starts on line 2); columns are 1-based. */
    expect_error("YAML: ':' in a plain scalar", "---\nlanguages: [en]\ntitle: a: b\n---\n",
                 "t.md:3:9: error: YAML: mapping values are not allowed in this context");
    expect_error("YAML: unclosed flow sequence", "---\nlanguages: [en, he\ndate: 2021-11-24\n---\n",
                 "t.md:3:5: error: YAML: did not find expected ',' or ']' while parsing a flow sequence");
    expect_error("YAML: tab indentation", "---\nlanguages: [en]\ntitle:\n\ten: x\n---\n",
                 "t.md:4:1: error: YAML: found character that cannot start any token while scanning for the next "
                 "token");

    expect_error("front matter not a map", "---\n- a\n- b\n---\n",
                 "t.md:2:1: error: front matter must be a map of fields (languages, date, title, ...)");
    expect_error("missing languages", "---\ndate: 2021-11-24\ntitle: T\n---\nText.\n",
                 "t.md:2:1: error: missing required field 'languages' (e.g. languages: [en, he])");
    expect_error("missing date", "---\nlanguages: [en]\ntitle: T\n---\nText.\n",
                 "t.md:2:1: error: missing required field 'date' (e.g. date: 2021-11-24)");
    expect_error("missing title", "---\nlanguages: [en]\ndate: 2021-11-24\n---\nText.\n",
                 "t.md:2:1: error: missing required field 'title'");
    expect_error("empty languages", "---\nlanguages: []\ndate: 2021-11-24\ntitle: T\n---\n",
                 "t.md:2:1: error: 'languages' must list at least one language");
    expect_error("unknown language", "---\nlanguages: [en, xx]\ndate: 2021-11-24\ntitle: T\n---\n",
                 "t.md:2:17: error: unknown language 'xx' (use a BCP 47 tag such as en, fr, nl, he, ar)");
    /* the source line and the caret under the column */
    CHECK(strstr(diag_text, "\n languages: [en, xx]\n                 ^\n") != NULL, "caret under 'xx': %s",
          diag_text);
    /* CRLF: same position, and the echoed line carries no '\r' */
    expect_error("unknown language, CRLF", "---\r\nlanguages: [en, xx]\r\ndate: 2021-11-24\r\ntitle: T\r\n---\r\n",
                 "t.md:2:17: error: unknown language 'xx' (use a BCP 47 tag such as en, fr, nl, he, ar)");
    CHECK(!strchr(diag_text, '\r'), "CRLF: no '\\r' echoed: %s", diag_text);
    expect_error("duplicate language", "---\nlanguages: [en, en]\ndate: 2021-11-24\ntitle: T\n---\n",
                 "t.md:2:17: error: language 'en' is listed twice");
    expect_error("per-language key not in languages",
                 "---\nlanguages: [en, he]\ndate: 2021-11-24\ntitle:\n  en: A\n  fr: B\n---\n",
                 "t.md:6:3: error: 'fr' is not one of the bulletin's languages");
    CHECK(has_line(diag_text, "t.md:5:3: error: 'title' has no text for language 'he'"),
          "a title missing for one language: %s", diag_text);
    /* columns count code points (libyaml's and ours): 'fr' is the 20th character */
    expect_error("key position after Hebrew", "---\nlanguages: [he]\ndate: 2021-11-24\ntitle: {he: כותרת, fr: x}\n---\n",
                 "t.md:4:20: error: 'fr' is not one of the bulletin's languages");
    CHECK(strstr(diag_text, "\n title: {he: כותרת, fr: x}\n                    ^\n") != NULL,
          "caret counts code points: %s", diag_text);
    expect_error("invalid date", "---\nlanguages: [en]\ndate: 2021-02-29\ntitle: T\n---\n",
                 "t.md:3:7: error: 'date' must be a date written YYYY-MM-DD, e.g. 2021-11-24");
    expect_error("invalid month", "---\nlanguages: [en]\ndate: 2021-13-01\ntitle: T\n---\n",
                 "t.md:3:7: error: 'date' must be a date written YYYY-MM-DD, e.g. 2021-11-24");
    expect_error("date with one-digit fields", "---\nlanguages: [en]\ndate: 2021-1-5\ntitle: T\n---\n",
                 "t.md:3:7: error: 'date' must be a date written YYYY-MM-DD, e.g. 2021-11-24");
    expect_error("1900-02-29 (not a leap year)", "---\nlanguages: [en]\ndate: 1900-02-29\ntitle: T\n---\n",
                 "t.md:3:7: error: 'date' must be a date written YYYY-MM-DD, e.g. 2021-11-24");
    expect_error("title given as a list", "---\nlanguages: [en]\ndate: 2021-11-24\ntitle: [a, b]\n---\n",
                 "t.md:4:8: error: 'title' must be a string or a map from language to string");

    /* ---- the body ---- */
    expect_error("language without section", FM_EN_HE "::: en\nA.\n:::\n",
                 "t.md:2:17: error: language 'he' has no '::: he' section in the body");
    expect_diag_line("section for an unknown language", FM_EN_HE "::: en\nA.\n:::\n::: fr\nB.\n:::\n",
                     "t.md:9:5: error: section language 'fr' is not listed in 'languages'");
    expect_error("duplicate section", FM_EN_HE "::: en\nA.\n:::\n::: en\nB.\n:::\n::: he\nC.\n:::\n",
                 "t.md:9:5: error: a second section for language 'en'");
    expect_error("nested fence", FM_EN_HE "::: en\nA.\n::: he\nB.\n:::\n:::\n",
                 "t.md:8:1: error: '::: he' inside another section (close the section above with ':::' first)");
    expect_error("unclosed fence", FM_EN_HE "::: en\nA.\n:::\n::: he\nB.\n",
                 "t.md:9:1: error: unclosed section: '::: he' has no closing ':::'");
    expect_error("':::' closing nothing", FM_EN_HE "::: en\nA.\n:::\n:::\n::: he\nB.\n:::\n",
                 "t.md:9:1: error: ':::' closes no open section");
    expect_error("text outside sections", FM_EN_HE "::: en\nA.\n:::\nstray text\n::: he\nB.\n:::\n",
                 "t.md:9:1: error: text outside any '::: LANG' section");
    expect_error("text before the first section", FM_EN_HE "\nIntro.\n::: en\nA.\n:::\n::: he\nB.\n:::\n",
                 "t.md:7:1: error: text outside any '::: LANG' section");
    expect_error("two languages, no fences", FM_EN_HE "Just text.\n",
                 "t.md:6:1: error: a bulletin in 2 languages needs one '::: LANG' section per language");
    expect_error("fence without a language", FM_EN_HE "::: en x\nA.\n:::\n",
                 "t.md:6:1: error: a section fence must name one language, e.g. '::: en'");

    /* Encoding */
    expect_error("invalid UTF-8", "---\nlanguages: [en]\ndate: 2021-11-24\ntitle: café \xC3(x\n---\n",
                 "t.md:4:13: error: invalid UTF-8 (byte 0xc3); the source must be UTF-8 text");
    CHECK(strstr(diag_text, "\xC3(") == NULL, "invalid UTF-8 is never echoed: %s", diag_text);
    expect_error("invalid UTF-8 (0xFF in the body)", "---\nlanguages: [en]\ndate: 2021-11-24\ntitle: T\n---\nשלום \xFF\n",
                 "t.md:6:6: error: invalid UTF-8 (byte 0xff); the source must be UTF-8 text");
    expect_error("UTF-8 surrogate", "---\nlanguages: [en]\ndate: 2021-11-24\ntitle: T\n---\nab\xED\xA0\x80\n",
                 "t.md:6:3: error: invalid UTF-8 (byte 0xed); the source must be UTF-8 text");
    static const char nul[] = "---\nlanguages: [en]\ndate: 2021-11-24\ntitle: T\n---\nab\0cd\n";
    bl_bulletin *b = parse_n(nul, sizeof nul - 1, NULL);
    CHECK(!b && !strcmp(first_line(), "t.md:6:3: error: NUL character in the source"), "NUL byte: %s", first_line());
    bl_bulletin_free(b);

    /* A diag that already counted errors (an earlier source of the same run):
     * an empty language list must still fail (bl_source_parse returns NULL
     * whenever the bulletin is unusable). */
    free(diag_text);
    diag_text = NULL;
    size_t dlen = 0;
    FILE *fp = open_memstream(&diag_text, &dlen);
    bl_diag d;
    bl_diag_init(&d, fp);
    d.errors = 1;
    static const char nolang[] = "---\nlanguages: []\ndate: 2021-11-24\ntitle: T\n---\n";
    b = bl_source_parse(bl_file_from_memory("t.md", nolang, sizeof nolang - 1), NULL, &d);
    fclose(fp);
    CHECK(!b && d.errors == 2, "empty 'languages' after an earlier file's error: must fail (errors %d, %s)",
          d.errors, b ? "got a bulletin" : "NULL");
    CHECK(has_line(diag_text, "t.md:2:1: error: 'languages' must list at least one language"),
          "empty 'languages' after an earlier error: reported: %s", diag_text);
    bl_bulletin_free(b);
}

/* ---- hostile inputs -------------------------------------------------------------- */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Runs fn in a child process killed after limit seconds; returns the child's
 * exit status (0 = fn returned 1), -SIGNAL when killed, and the time taken. */
static int run_limited(int (*fn)(void), unsigned limit, double *secs)
{
    double t0 = now();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(limit);
        _exit(fn() ? 0 : 3);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1000;
    *secs = now() - t0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

static char *make_buf(size_t cap) { return calloc(cap, 1); }

static int deep_yaml(void)
{
    size_t depth = 100000;
    char *s = make_buf(2 * depth + 200);
    size_t n = (size_t)sprintf(s, "---\ndate: 2021-11-24\ntitle: T\nlanguages: ");
    memset(s + n, '[', depth);
    n += depth;
    memset(s + n, ']', depth);
    n += depth;
    n += (size_t)sprintf(s + n, "\n---\nText.\n");
    bl_bulletin *b = parse_n(s, n, NULL);
    int ok = !b && diag_errors >= 1;
    bl_bulletin_free(b);
    free(s);
    return ok;
}

static void test_hostile(void)
{
    /* 10,000 nested block quotes: one quote block, the text at the bottom. */
    size_t depth = 10000;
    char *s = make_buf(2 * depth + 200);
    size_t n = (size_t)sprintf(s, "---\nlanguages: [en]\ndate: 2021-11-24\ntitle: T\n---\n");
    for (size_t i = 0; i < depth; i++)
        memcpy(s + n + 2 * i, "> ", 2);
    n += 2 * depth;
    n += (size_t)sprintf(s + n, "deep\n");
    double t0 = now();
    bl_bulletin *b = parse_n(s, n, NULL);
    CHECK(now() - t0 < 5, "10,000 nested quotes: %.1f s", now() - t0);
    if (b) {
        const bl_section *sec = &b->sections[0];
        CHECK(sec->nblocks == 1 && sec->blocks[0].kind == BL_BLOCK_QUOTE && sec->blocks[0].nparas == 1 &&
                  str_eq(sec->blocks[0].paras[0].text, "deep") && sec->blocks[0].paras[0].depth > 0,
              "10,000 nested quotes: one quote block with the text");
    } else {
        CHECK(diag_errors == 1 && strstr(first_line(), ": error: "), "10,000 nested quotes: a clear error: %s",
              first_line());
    }
    bl_bulletin_free(b);
    free(s);

    /* A 1 MB paragraph on one line */
    size_t words = 200000;
    s = make_buf(5 * words + 200);
    n = (size_t)sprintf(s, "---\nlanguages: [en]\ndate: 2021-11-24\ntitle: T\n---\n");
    for (size_t i = 0; i < words; i++)
        memcpy(s + n + 5 * i, "abcd ", 5);
    n += 5 * words;
    n += (size_t)sprintf(s + n, "end.\n");
    t0 = now();
    b = parse_n(s, n, NULL);
    CHECK(b && b->sections[0].nblocks == 1 && b->sections[0].blocks[0].paras[0].len == 5 * words + 4,
          "1 MB paragraph: one paragraph of %zu bytes", 5 * words + 4);
    CHECK(now() - t0 < 5, "1 MB paragraph: %.1f s", now() - t0);
    bl_bulletin_free(b);
    free(s);

    /* 5,000 list items, bullet and ordered */
    size_t items = 5000;
    s = make_buf(items * 20 + 400);
    n = (size_t)sprintf(s, "---\nlanguages: [en]\ndate: 2021-11-24\ntitle: T\n---\n");
    for (size_t i = 0; i < items; i++)
        n += (size_t)sprintf(s + n, "- item %zu\n", i);
    n += (size_t)sprintf(s + n, "\n***\n\n");
    for (size_t i = 0; i < items; i++)
        n += (size_t)sprintf(s + n, "%zu. n\n", i + 1);
    t0 = now();
    b = parse_n(s, n, NULL);
    CHECK(b && b->sections[0].nblocks == 3, "5,000 items: two lists and a rule (%s)", diag_text);
    if (b && b->sections[0].nblocks == 3) {
        const bl_block *l1 = &b->sections[0].blocks[0], *l2 = &b->sections[0].blocks[2];
        CHECK(l1->nparas == items && str_eq(l1->paras[items - 1].text, "item 4999") &&
                  !strcmp(l1->paras[items - 1].marker, "•"),
              "5,000 bullet items (%zu)", l1->nparas);
        CHECK(l2->nparas == items && !strcmp(l2->paras[items - 1].marker, "5000."), "5,000 numbered items: last '%s'",
              l2->nparas ? l2->paras[l2->nparas - 1].marker : "");
    }
    CHECK(now() - t0 < 5, "5,000 items: %.1f s", now() - t0);
    bl_bulletin_free(b);
    free(s);

    /* A fence line of 10,000 characters: an unknown language (the message
     * shows a bounded prefix of it), and a valid fence followed by 10,000 spaces. */
    size_t len = 10000;
    s = make_buf(len + 400);
    n = (size_t)sprintf(s, "---\nlanguages: [en]\ndate: 2021-11-24\ntitle: T\n---\n::: ");
    memset(s + n, 'x', len);
    n += len;
    n += (size_t)sprintf(s + n, "\nA.\n:::\n");
    b = parse_n(s, n, NULL);
    CHECK(!b && !strncmp(first_line(), "t.md:6:5: error: section language 'xxxx", 38) &&
              strlen(first_line()) < 200,
          "10,000-character fence: a bounded error: %.80s", first_line());
    bl_bulletin_free(b);
    n = (size_t)sprintf(s, "---\nlanguages: [en]\ndate: 2021-11-24\ntitle: T\n---\n::: en");
    memset(s + n, ' ', len);
    n += len;
    n += (size_t)sprintf(s + n, "\nA.\n:::\n");
    b = parse_n(s, n, NULL);
    CHECK(b && b->sections[0].nblocks == 1, "'::: en' + 10,000 spaces is a valid fence: %s", first_line());
    bl_bulletin_free(b);
    free(s);

    /* YAML flow sequences 1,000 deep: rejected (not a language), quickly, in process. */
    depth = 1000;
    s = make_buf(2 * depth + 200);
    n = (size_t)sprintf(s, "---\ndate: 2021-11-24\ntitle: T\nlanguages: ");
    memset(s + n, '[', depth);
    n += depth;
    memset(s + n, ']', depth);
    n += depth;
    n += (size_t)sprintf(s + n, "\n---\nText.\n");
    b = parse_n(s, n, NULL);
    CHECK(!b && diag_errors >= 1, "YAML 1,000 deep: rejected");
    bl_bulletin_free(b);
    free(s);

    /* 100,000 deep: in a child process with a time limit, as it may hang. */
    double secs = 0;
    int st = run_limited(deep_yaml, 10, &secs);
    CHECK(st == 0, "YAML 100,000 deep: child status %d (%s)", st,
          st == -SIGALRM ? "killed after 10 s" : st == 3 ? "no error reported" : "crashed");
    CHECK(st == 0 && secs < 3, "YAML 100,000 deep: must take at most a few seconds, took %.1f s", secs);
}

int main(void)
{
    test_model();
    test_single();
    test_pairs_and_lang();
    test_errors();
    test_hostile();
    free(diag_text);
    return bl_test_done();
}
