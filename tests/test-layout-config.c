/* test-layout-config.c - layout files, extends, diagnostics, dates, templates.
 * Run from the repository root (tests/run.sh does): layouts and fonts are
 * found through bl_set_data_dir("."), fixtures under tests/data/layouts. */
#include "harness.h"
#include "testutil.h"
#include "bulletin.h"
#include "layout-config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MM (72.0 / 25.4)
#define FIX "tests/data/layouts/"

static int near(double a, double b) { return fabs(a - b) < 0.01; }

static int ends_with(const char *s, const char *tail)
{
    size_t n = s ? strlen(s) : 0, m = strlen(tail);
    return s && n >= m && strcmp(s + n - m, tail) == 0;
}

/* Loads name with diagnostics captured into *text (caller frees). */
static bl_layout *load_capture(const char *name, char **text, int *errors, int max_errors)
{
    size_t len = 0;
    FILE *fp = open_memstream(text, &len);
    bl_diag d;
    bl_diag_init(&d, fp);
    if (max_errors)
        d.max_errors = max_errors;
    bl_layout *l = bl_layout_load(name, &d);
    fclose(fp);
    *errors = d.errors;
    return l;
}

/* The load fails with exactly one error, and exactly this output. */
static void expect_error(const char *name, const char *want)
{
    char *got = NULL;
    int errors;
    bl_layout *l = load_capture(name, &got, &errors, 0);
    CHECK(l == NULL, "%s: loaded despite an error", name);
    CHECK(errors == 1, "%s: %d errors, want 1", name, errors);
    CHECK(got && strcmp(got, want) == 0, "%s: diagnostics\n--- got:\n%s--- want:\n%s", name, got, want);
    bl_layout_free(l);
    free(got);
}

static bl_layout *load_ok(const char *name)
{
    char *got = NULL;
    int errors;
    bl_layout *l = load_capture(name, &got, &errors, 0);
    CHECK(l != NULL && errors == 0 && got && !*got, "%s: failed to load:\n%s", name, got);
    free(got);
    return l;
}

/* Every language has a non-empty, absolute stack for every role, and the
 * strings the layout engine needs. */
static void check_complete(const bl_layout *l)
{
    for (int i = 0; i < l->nlangs; i++) {
        const bl_lang_cfg *c = &l->langs[i];
        for (int r = 0; r < BL_ROLE_COUNT; r++)
            CHECK(c->fonts[r][0] && c->fonts[r][0][0] == '/', "%s [%s] role %d: no absolute font",
                  l->name, c->lang, r);
        CHECK(c->page_label && c->number_label, "%s [%s]: labels missing", l->name, c->lang);
    }
}

static void test_builtins(void)
{
    static const char *const names[] = {"base", "parallel", "stacked", "single", "letter", "mod"};
    static const int arr[] = {BL_ARR_PARALLEL, BL_ARR_PARALLEL, BL_ARR_STACKED, BL_ARR_SINGLE,
                              BL_ARR_PARALLEL, BL_ARR_PARALLEL};
    for (int i = 0; i < 6; i++) {
        bl_layout *l = load_ok(names[i]);
        if (!l)
            continue;
        CHECK(strcmp(l->name, names[i]) == 0, "name %s", l->name);
        CHECK(ends_with(l->path, "layouts/") || ends_with(l->path, ".yaml"), "path %s", l->path);
        CHECK(l->arrangement == arr[i], "%s: arrangement %d", names[i], l->arrangement);
        CHECK(l->nlangs == 6, "%s: %d languages", names[i], l->nlangs);
        CHECK(l->columns == 1, "%s: columns %d", names[i], l->columns);
        check_complete(l);
        const bl_lang_cfg *he = bl_layout_lang(l, "he");
        CHECK(ends_with(he->fonts[BL_ROLE_REGULAR][0], "/fonts/NotoSerifHebrew-Regular.ttf"),
              "%s: he regular %s", names[i], he->fonts[BL_ROLE_REGULAR][0]);
        CHECK(ends_with(he->fonts[BL_ROLE_REGULAR][1], "/fonts/NotoSerif-Regular.ttf") &&
                  !he->fonts[BL_ROLE_REGULAR][2],
              "%s: he regular fallback", names[i]);
        CHECK(strcmp(he->page_label, "עמוד {page} מתוך {pages}") == 0, "%s: he page %s", names[i],
              he->page_label);
        if (strcmp(names[i], "letter") == 0) {
            CHECK(near(l->page_w, 612) && near(l->page_h, 792), "Letter %g x %g", l->page_w, l->page_h);
            CHECK(near(l->margin_top, 54) && near(l->margin_inner, 50.4), "inch margins");
        } else {
            CHECK(near(l->page_w, 595.28) && near(l->page_h, 841.89), "%s: A4 %g x %g", names[i],
                  l->page_w, l->page_h);
            CHECK(near(l->margin_top, 20 * MM) && near(l->margin_top, 56.69), "%s: top %g", names[i],
                  l->margin_top);
            CHECK(near(l->margin_inner, 18 * MM) && near(l->margin_outer, 51.02), "%s: sides", names[i]);
        }
        bl_layout_free(l);
    }

    bl_layout *l = load_ok("base");
    if (!l)
        return;
    CHECK(near(l->body_size, 10.5) && near(l->body_leading, 14), "body %g/%g", l->body_size, l->body_leading);
    CHECK(near(l->title_size, 16) && near(l->small_size, 8), "title/small");
    CHECK(near(l->heading_size[0], 13) && near(l->heading_size[2], 10.5), "headings");
    CHECK(near(l->header_h, 8 * MM) && near(l->column_gap, 8 * MM), "bands");
    CHECK(l->align == BL_ALIGN_JUSTIFY && l->hyphenate && l->hyphen_lmin == 2 && l->hyphen_rmin == 3,
          "text options");
    CHECK(l->widows == 2 && l->orphans == 2 && !l->swap, "widows/orphans/swap");
    CHECK(near(l->accent_rgb[0], 0x1f / 255.0) && near(l->accent_rgb[2], 0x68 / 255.0), "accent");
    CHECK(near(l->banner_rgb[0], 0xb0 / 255.0) && near(l->rule_width, 0.5), "banner, rule");
    CHECK(!l->letterhead_image && near(l->letterhead_image_h, 18 * MM), "letterhead");
    const bl_lang_cfg *star = bl_layout_lang(l, "*"), *en = bl_layout_lang(l, "en");
    const bl_lang_cfg *fr = bl_layout_lang(l, "fr"), *ar = bl_layout_lang(l, "ar");
    const bl_lang_cfg *nl = bl_layout_lang(l, "nl");
    CHECK(strcmp(star->lang, "*") == 0 && strcmp(star->page_label, "{page} / {pages}") == 0, "*");
    CHECK(strcmp(en->page_label, "Page {page} of {pages}") == 0 && strcmp(en->number_label, "No.") == 0, "en");
    CHECK(strcmp(fr->page_label, "Page {page} sur {pages}") == 0 && strcmp(fr->number_label, "N°") == 0, "fr");
    CHECK(strcmp(nl->page_label, "Pagina {page} van {pages}") == 0 && strcmp(nl->number_label, "Nr.") == 0, "nl");
    CHECK(strcmp(ar->page_label, "صفحة {page} من {pages}") == 0 && strcmp(ar->number_label, "رقم") == 0, "ar");
    CHECK(strcmp(bl_layout_lang(l, "he")->number_label, "מס'") == 0, "he number");
    CHECK(strcmp(en->header, "{issuer}") == 0 && strcmp(en->footer, "{reference}") == 0, "header/footer");
    CHECK(strcmp(en->letterhead[0], "{issuer}") == 0 && !en->letterhead[1], "letterhead template");
    /* fr, en, nl inherit the "*" fonts; ar has its own. */
    CHECK(strcmp(fr->fonts[BL_ROLE_ITALIC][0], star->fonts[BL_ROLE_ITALIC][0]) == 0 &&
              ends_with(fr->fonts[BL_ROLE_ITALIC][0], "/NotoSerif-Italic.ttf"), "fr italic");
    CHECK(ends_with(ar->fonts[BL_ROLE_REGULAR][0], "/NotoNaskhArabic-Regular.ttf") &&
              ends_with(ar->fonts[BL_ROLE_SANS][1], "/NotoSans-Regular.ttf"), "ar stacks");
    CHECK(ends_with(bl_layout_lang(l, "he")->fonts[BL_ROLE_SANS_BOLD][0], "/NotoSansHebrew-Bold.ttf"), "he sans-bold");
    /* Lookup: exact tag, then primary subtag (any case, - or _), then "*". */
    CHECK(bl_layout_lang(l, "he-IL") == bl_layout_lang(l, "he"), "he-IL");
    CHECK(bl_layout_lang(l, "FR_ca") == fr, "FR_ca");
    CHECK(bl_layout_lang(l, "de-AT") == star && bl_layout_lang(l, NULL) == star &&
              bl_layout_lang(l, "") == star, "fallback to *");
    bl_layout_free(l);

    l = load_ok("mod");
    if (l) {
        const bl_lang_cfg *c = bl_layout_lang(l, "he");
        CHECK(strcmp(c->letterhead[0], "מדינת ישראל · משרד הביטחון") == 0 &&
                  strcmp(c->letterhead[1], "לשכת דובר משרד הביטחון") == 0 && !c->letterhead[2], "mod he");
        c = bl_layout_lang(l, "en");
        CHECK(strcmp(c->letterhead[0], "STATE OF ISRAEL · MINISTRY OF DEFENSE") == 0 &&
                  strcmp(c->letterhead[1], "Spokesperson's Office") == 0, "mod en");
        c = bl_layout_lang(l, "fr");
        CHECK(strcmp(c->letterhead[0], "ÉTAT D'ISRAËL · MINISTÈRE DE LA DÉFENSE") == 0, "mod fr");
        c = bl_layout_lang(l, "ar");
        CHECK(strcmp(c->letterhead[1], "مكتب الناطق الرسمي") == 0, "mod ar");
        CHECK(strcmp(bl_layout_lang(l, "nl")->letterhead[0], "STATE OF ISRAEL · MINISTRY OF DEFENSE") == 0,
              "mod nl from *");
        CHECK(strcmp(bl_layout_lang(l, "he")->page_label, "עמוד {page} מתוך {pages}") == 0, "mod keeps he page");
        bl_layout_free(l);
    }
}

static void test_extends(void)
{
    bl_layout *l = load_ok(FIX "child.yaml");
    if (l) {
        CHECK(strcmp(l->name, FIX "child.yaml") == 0 && strcmp(l->path, FIX "child.yaml") == 0, "name/path");
        CHECK(l->arrangement == BL_ARR_PARALLEL, "from parallel");
        CHECK(near(l->page_w, 210 * MM) && near(l->page_h, 148 * MM), "A5 landscape %g x %g", l->page_w, l->page_h);
        CHECK(near(l->margin_top, 15 * MM) && near(l->margin_bottom, 18 * MM) && near(l->margin_inner, 18 * MM),
              "margins merged key by key");
        CHECK(near(l->body_size, 9) && near(l->body_leading, 12), "text override");
        CHECK(near(l->heading_size[0], 14) && near(l->heading_leading[0], 18) && near(l->heading_size[1], 11.5),
              "headings: first level replaced, others kept");
        CHECK(near(l->accent_rgb[0], 1) && near(l->accent_rgb[1], 128 / 255.0) && near(l->accent_rgb[2], 0) &&
                  near(l->text_rgb[0], 0x1a / 255.0), "colours");
        CHECK(l->nlangs == 7, "nlangs %d", l->nlangs);
        check_complete(l);
        const bl_lang_cfg *he = bl_layout_lang(l, "he"), *en = bl_layout_lang(l, "en");
        const bl_lang_cfg *de = bl_layout_lang(l, "de");
        CHECK(strcmp(he->page_label, "{page}/{pages} עמ'") == 0, "he page overridden: %s", he->page_label);
        CHECK(ends_with(he->fonts[BL_ROLE_REGULAR][0], "/fonts/NotoSerifHebrew-Regular.ttf") &&
                  ends_with(he->fonts[BL_ROLE_SANS][0], "/fonts/NotoSansHebrew-Regular.ttf") &&
                  strcmp(he->number_label, "מס'") == 0, "he keeps the parent's fonts and number");
        /* "*".fonts.sans changed in the child, with a path relative to the
         * child's folder: it reaches en (which never set sans), not he. */
        CHECK(ends_with(en->fonts[BL_ROLE_SANS][0], "/fonts/NotoSans-Bold.ttf") && !en->fonts[BL_ROLE_SANS][1],
              "en sans from the child's *: %s", en->fonts[BL_ROLE_SANS][0]);
        CHECK(en->fonts[BL_ROLE_SANS][0][0] == '/' && !strstr(en->fonts[BL_ROLE_SANS][0], ".."), "absolute path");
        CHECK(ends_with(en->fonts[BL_ROLE_REGULAR][0], "/fonts/NotoSerif-Regular.ttf"), "en regular kept");
        CHECK(de != bl_layout_lang(l, "*") && strcmp(de->lang, "de") == 0 && strcmp(de->number_label, "Nr.") == 0 &&
                  strcmp(de->page_label, "{page} / {pages}") == 0 &&
                  ends_with(de->fonts[BL_ROLE_BOLD][0], "/fonts/NotoSerif-Bold.ttf"), "new language de");
        bl_layout_free(l);
    }

    l = load_ok(FIX "grandchild.yaml");
    if (l) {
        const bl_lang_cfg *he = bl_layout_lang(l, "he");
        CHECK(l->swap == 1 && near(l->body_size, 9) && near(l->page_h, 148 * MM), "grandchild over child");
        CHECK(he->header == NULL && strcmp(he->footer, "{reference}") == 0, "header: null drops the header");
        CHECK(strcmp(he->page_label, "{page}/{pages} עמ'") == 0, "he page from child");
        CHECK(strcmp(bl_layout_lang(l, "en")->header, "{issuer}") == 0, "en header kept");
        bl_layout_free(l);
    }
}

static void test_short_forms(void)
{
    bl_layout *l = load_ok(FIX "shorthand.yaml");
    if (l) {
        CHECK(l->arrangement == BL_ARR_STACKED && l->columns == 2 && l->swap == 1, "stacked, 2 columns, swap");
        CHECK(near(l->page_w, 14 * 72) && near(l->page_h, 8.5 * 72), "Legal landscape %g x %g", l->page_w, l->page_h);
        CHECK(near(l->margin_top, 72) && near(l->margin_bottom, 72) && near(l->margin_inner, 72) &&
                  near(l->margin_outer, 72), "margins: 1in");
        CHECK(near(l->body_size, 10.5), "empty text section keeps the parent's");
        CHECK(near(l->heading_size[0], 13) && near(l->heading_size[1], 12) && near(l->heading_leading[1], 15) &&
                  near(l->heading_size[2], 10.5), "skipped heading level");
        CHECK(near(l->block_space, 0) && near(l->heading_space_before, 10) && near(l->list_indent, 10 * MM) &&
                  near(l->quote_indent, 20) && near(l->rule_width, 0), "spacing, indent, rule");
        CHECK(ends_with(l->letterhead_image, "/fonts/OFL.txt") && l->letterhead_image[0] == '/' &&
                  near(l->letterhead_image_h, 36), "letterhead image %s", l->letterhead_image);
        const bl_lang_cfg *ar = bl_layout_lang(l, "ar"), *fr = bl_layout_lang(l, "fr");
        CHECK(ends_with(ar->fonts[BL_ROLE_REGULAR][0], "/NotoNaskhArabic-Bold.ttf") && !ar->fonts[BL_ROLE_REGULAR][1],
              "one-path stack");
        CHECK(ends_with(ar->fonts[BL_ROLE_BOLD][0], "/NotoNaskhArabic-Bold.ttf") &&
                  ends_with(ar->fonts[BL_ROLE_BOLD][1], "/NotoSerif-Bold.ttf"), "other roles kept");
        CHECK(strcmp(ar->letterhead[0], "{issuer}: {title}") == 0 && !ar->letterhead[1], "one-line letterhead");
        CHECK(strcmp(ar->footer, "{reference} · {date}") == 0, "footer");
        CHECK(strcmp(fr->page_label, "Page {page} sur {pages}") == 0, "`fr:` alone keeps fr");
        bl_layout_free(l);
    }
    l = load_ok(FIX "custom-page.yaml");
    if (l) {
        CHECK(l->arrangement == BL_ARR_SINGLE, "single");
        CHECK(near(l->page_w, 100 * MM) && near(l->page_h, 432), "custom page %g x %g", l->page_w, l->page_h);
        CHECK(near(l->margin_top, 5 * MM) && near(l->margin_bottom, 5 * MM) && near(l->margin_inner, 7.2) &&
                  near(l->margin_outer, 10), "mixed units");
        CHECK(l->header_h == 0 && l->footer_h == 0, "zero bands allowed");
        CHECK(l->align == BL_ALIGN_CENTER && !l->hyphenate && l->hyphen_lmin == 1 && l->hyphen_rmin == 4 &&
                  l->widows == 1 && l->orphans == 3, "text options");
        CHECK(near(l->text_rgb[0], 1) && near(l->text_rgb[2], 1) && near(l->rule_rgb[1], 0), "colours");
        CHECK(!l->letterhead_image, "no image");
        bl_layout_free(l);
    }
}

/* The values built into the loader are base.yaml's. */
static void test_defaults_match_base(void)
{
    bl_layout *a = load_ok("base"), *b = load_ok(FIX "standalone.yaml");
    if (!a || !b) {
        bl_layout_free(a);
        bl_layout_free(b);
        return;
    }
#define SAME(f) CHECK(a->f == b->f, "default " #f ": base.yaml %g, built in %g", (double)a->f, (double)b->f)
    SAME(arrangement); SAME(page_w); SAME(page_h); SAME(margin_top); SAME(margin_bottom);
    SAME(margin_inner); SAME(margin_outer); SAME(header_h); SAME(footer_h); SAME(columns);
    SAME(column_gap); SAME(swap); SAME(body_size); SAME(body_leading); SAME(title_size);
    SAME(title_leading); SAME(small_size); SAME(small_leading); SAME(block_space);
    SAME(heading_space_before); SAME(heading_space_after); SAME(quote_indent); SAME(list_indent);
    SAME(align); SAME(hyphenate); SAME(hyphen_lmin); SAME(hyphen_rmin); SAME(widows); SAME(orphans);
    SAME(rule_width); SAME(letterhead_image_h);
    for (int i = 0; i < 3; i++) {
        SAME(heading_size[i]); SAME(heading_leading[i]); SAME(text_rgb[i]); SAME(accent_rgb[i]);
        SAME(rule_rgb[i]); SAME(banner_rgb[i]);
    }
#undef SAME
    const bl_lang_cfg *x = bl_layout_lang(a, "*"), *y = bl_layout_lang(b, "*");
    CHECK(b->nlangs == 1 && y == &b->langs[0], "one language");
    CHECK(!strcmp(x->page_label, y->page_label) && !strcmp(x->header, y->header) &&
              !strcmp(x->footer, y->footer) && !strcmp(x->number_label, y->number_label) &&
              !strcmp(x->letterhead[0], y->letterhead[0]) && !y->letterhead[1], "default strings");
    for (int r = 0; r < BL_ROLE_COUNT; r++)
        CHECK(!strcmp(y->fonts[r][0], x->fonts[BL_ROLE_REGULAR][0]) && !y->fonts[r][1],
              "role %d falls back to regular", r);
    bl_layout_free(a);
    bl_layout_free(b);
}

/* Per-language scale (inherited from "*", set per language) and OpenType features. */
static void test_scale_and_features(void)
{
    bl_layout *l = load_ok(FIX "scale.yaml");
    if (l) {
        CHECK(near(bl_layout_lang(l, "he")->scale, 1.1), "he scale set by the child");
        CHECK(near(bl_layout_lang(l, "ar")->scale, 1.12), "ar scale kept from base");
        CHECK(near(bl_layout_lang(l, "en")->scale, 1.0), "en scale from \"*\"");
        CHECK(near(bl_layout_lang(l, "xx")->scale, 1.0), "unlisted language: scale from \"*\"");
        bl_layout_free(l);
    }
    expect_error(FIX "scale-bad.yaml",
                 FIX "scale-bad.yaml:3:15: error: languages.ar.scale: expected a number from 0.5 to 2, such as 1.15\n"
                     "   ar: {scale: 3}\n"
                     "               ^\n");
    l = load_ok(FIX "features.yaml");
    if (l) {
        CHECK(strcmp(l->features, "onum, smcp") == 0, "features kept as written: %s", l->features);
        bl_layout_free(l);
    }
    expect_error(FIX "features-bad.yaml",
                 FIX "features-bad.yaml:2:18: error: text.features: expected OpenType features such as \"onum, smcp\"\n"
                     " text: {features: \"on@m\"}\n"
                     "                  ^\n");
}

static void test_errors(void)
{
    expect_error(FIX "syntax.yaml",
                 FIX "syntax.yaml:4:12: error: mapping values are not allowed in this context\n"
                     "     leading: 14pt\n"
                     "            ^\n");
    expect_error(FIX "unknown-key.yaml",
                 FIX "unknown-key.yaml:2:1: error: unknown key 'margin'; did you mean 'margins'?\n"
                     " margin: {top: 10mm}\n"
                     " ^\n");
    expect_error(FIX "negative-size.yaml",
                 FIX "negative-size.yaml:2:14: error: text.size must be greater than zero (got -3pt)\n"
                     " text: {size: -3pt, leading: 12pt}\n"
                     "              ^\n");
    expect_error(FIX "zero-size.yaml",
                 FIX "zero-size.yaml:3:9: error: title.size must be greater than zero (got 0)\n"
                     "   size: 0\n"
                     "         ^\n");
    expect_error(FIX "wide-margins.yaml",
                 FIX "wide-margins.yaml:3:18: error: margins.inner + margins.outer (150mm) must be less "
                     "than the page width (148mm)\n"
                     " margins: {inner: 80mm, outer: 70mm}\n"
                     "                  ^\n");
    expect_error(FIX "tall-margins.yaml",
                 FIX "tall-margins.yaml:3:16: error: margins.top + margins.bottom + header-height + "
                     "footer-height (216mm) must be less than the page height (210mm)\n"
                     " margins: {top: 100mm, bottom: 100mm}\n"
                     "                ^\n");
    expect_error(FIX "missing-font.yaml",
                 FIX "missing-font.yaml:5:52: error: font file 'fonts/NoSuchFont.ttf' not found (looked in "
                     "tests/data/layouts and .)\n"
                     "       regular: [fonts/NotoSerifHebrew-Regular.ttf, fonts/NoSuchFont.ttf]\n"
                     "                                                    ^\n");
    expect_error(FIX "missing-image.yaml",
                 FIX "missing-image.yaml:3:10: error: image file 'emblem.png' not found (looked in "
                     "tests/data/layouts and .)\n"
                     "   image: emblem.png\n"
                     "          ^\n");
    expect_error(FIX "unknown-extends.yaml",
                 FIX "unknown-extends.yaml:1:10: error: unknown layout 'nosuch' (known: base, letter, mod, "
                     "parallel, single, stacked)\n"
                     " extends: nosuch\n"
                     "          ^\n");
    expect_error(FIX "cycle-a.yaml",
                 FIX "cycle-b.yaml:1:10: error: extends cycle: " FIX "cycle-a.yaml -> " FIX "cycle-b.yaml -> "
                     FIX "cycle-a.yaml\n"
                     " extends: ./cycle-a.yaml\n"
                     "          ^\n");
    expect_error(FIX "self.yaml",
                 FIX "self.yaml:1:10: error: extends cycle: " FIX "self.yaml -> " FIX "self.yaml\n"
                     " extends: self.yaml\n"
                     "          ^\n");
    expect_error(FIX "columns.yaml",
                 FIX "columns.yaml:2:10: error: columns must be 1 or 2 (got 3)\n"
                     " columns: 3\n"
                     "          ^\n");
    expect_error(FIX "small-leading.yaml",
                 FIX "small-leading.yaml:2:15: error: small.leading (10pt) must be at least 0.8 times "
                     "small.size (14pt)\n"
                     " small: {size: 14pt}\n"
                     "               ^\n");
    expect_error(FIX "no-fonts.yaml",
                 FIX "no-fonts.yaml:1:1: error: no fonts for languages.\"*\".fonts.regular (add `extends: "
                     "base`, or name the fonts)\n"
                     " text: {size: 12pt}\n"
                     " ^\n");
    expect_error(FIX "two-docs.yaml",
                 FIX "two-docs.yaml:3:1: error: a layout file holds one YAML document; remove the '---' "
                     "and what follows\n"
                     " text: {}\n"
                     " ^\n");
    expect_error(FIX "deep.yaml",
                 FIX "deep.yaml:2:38: error: lists and mappings nest more than 32 deep\n"
                     " text: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n"
                     "                                      ^\n");
    expect_error(FIX "bad-template.yaml",
                 FIX "bad-template.yaml:4:13: error: languages.en.header: unknown field '{state}' (known: "
                     "issuer, title, date, reference, classification, page, pages, lang)\n"
                     "     header: \"{state} of things\"\n"
                     "             ^\n");
    /* An error in a parent is reported where it is (here in the parent). */
    expect_error(FIX "extends-broken.yaml",
                 FIX "columns.yaml:2:10: error: columns must be 1 or 2 (got 3)\n"
                     " columns: 3\n"
                     "          ^\n");
    /* Names that are not built-ins, and paths that do not exist. */
    expect_error("foo",
                 "bulletin: error: unknown layout 'foo' (known: base, letter, mod, parallel, single, stacked)\n");
    expect_error("../base", "bulletin: error: cannot read layout '../base': No such file or directory\n");
    expect_error(FIX "absent.yaml",
                 "bulletin: error: cannot read layout '" FIX "absent.yaml': No such file or directory\n");

    /* Several errors in one file, in order, then the checks across values. */
    char *got = NULL;
    int errors;
    bl_layout *l = load_capture(FIX "many-errors.yaml", &got, &errors, 0);
    CHECK(!l && errors == 7, "many-errors: %d errors", errors);
    static const char *const want[] = {
        "many-errors.yaml:2:14: error: arrangement: unknown value 'sideways' (known: parallel, stacked, single)\n",
        "many-errors.yaml:6:10: error: text.align: unknown value 'left' (known: justify, start, center, end)\n",
        "many-errors.yaml:8:8: error: colors.text: expected a colour such as \"#1a1a1a\" (quote it: # starts a "
        "YAML comment)\n",
        "many-errors.yaml:9:9: error: colors.rule: expected a colour such as \"#1a1a1a\", not '#12345'\n",
        "many-errors.yaml:12:13: error: languages.en.header: unknown field '{state}'",
        "many-errors.yaml:13:13: error: languages.en.footer: '{' without a closing '}' (write '{{' for a "
        "literal brace)\n",
        "many-errors.yaml:5:12: error: text.leading (7pt) must be at least 0.8 times text.size (10pt)\n",
    };
    const char *at = got;
    for (int i = 0; i < 7; i++) {
        const char *hit = at ? strstr(at, want[i]) : NULL;
        CHECK(hit != NULL, "many-errors: missing or out of order: %s", want[i]);
        if (hit)
            at = hit + 1;
    }
    free(got);
    /* ... and the report stops once the diagnostics are full. */
    l = load_capture(FIX "many-errors.yaml", &got, &errors, 3);
    int lines = 0;
    for (const char *s = got; s && (s = strstr(s, ": error: ")) != NULL; s++)
        lines++;
    CHECK(!l && errors == 3 && lines == 3, "max_errors 3: %d errors, %d printed", errors, lines);
    free(got);
}

static void test_dates(void)
{
    char buf[64];
    static const struct { const char *lang; int y, m, d; const char *want; } cases[] = {
        {"en", 2021, 11, 24, "24 November 2021"},
        {"en-GB", 2021, 1, 1, "1 January 2021"},
        {"fr", 2021, 11, 24, "24 novembre 2021"},
        {"fr", 2021, 11, 1, "1er novembre 2021"},
        {"fr-CA", 2022, 8, 15, "15 août 2022"},
        {"fr", 2022, 2, 2, "2 février 2022"},
        {"he", 2021, 11, 24, "24 בנובמבר 2021"},
        {"he-IL", 2021, 3, 1, "1 במרץ 2021"},
        {"ar", 2021, 11, 24, "24 نوفمبر 2021"},
        {"ar", 2021, 8, 5, "5 أغسطس 2021"},
        {"nl", 2021, 11, 24, "24 november 2021"},
        {"nl", 2021, 3, 9, "9 maart 2021"},
        {"de", 2021, 11, 24, "2021-11-24"},
        {NULL, 2021, 2, 3, "2021-02-03"},
        {"en", 2024, 2, 29, "29 February 2024"},
        {"en", 2000, 2, 29, "29 February 2000"},
        {"en", 2021, 12, 31, "31 December 2021"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = bl_format_date(cases[i].lang, cases[i].y, cases[i].m, cases[i].d, buf, sizeof buf);
        CHECK(rc == 0 && strcmp(buf, cases[i].want) == 0, "date %s: got '%s', want '%s'",
              cases[i].lang ? cases[i].lang : "NULL", buf, cases[i].want);
    }
    static const int bad[][3] = {{2023, 2, 29}, {1900, 2, 29}, {2021, 4, 31}, {2021, 13, 1},
                                 {2021, 0, 10}, {2021, 1, 0}, {2021, 1, 32}, {0, 1, 1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strcpy(buf, "x");
        int rc = bl_format_date("en", bad[i][0], bad[i][1], bad[i][2], buf, sizeof buf);
        CHECK(rc == -1 && buf[0] == 0, "invalid date %d-%d-%d accepted", bad[i][0], bad[i][1], bad[i][2]);
    }
    CHECK(bl_format_date("en", 2021, 11, 24, buf, 10) == -1 && buf[0] == 0, "short buffer");
}

static const char *fields(void *ctx, const char *f)
{
    (void)ctx;
    if (!strcmp(f, "page")) return "3";
    if (!strcmp(f, "pages")) return "12";
    if (!strcmp(f, "issuer")) return "Ministry";
    if (!strcmp(f, "office")) return "Spokesperson"; /* not in the known set, but supplied */
    return NULL;
}

static void test_templates(void)
{
    bl_buf b = {0};
    char bad[32];
    CHECK(bl_expand_template("Page {page} of {pages}", fields, NULL, &b, bad) == 0 &&
              strcmp(b.data, "Page 3 of 12") == 0, "page label: %s", b.data);
    bl_buf_free(&b);
    CHECK(bl_expand_template("עמוד {page} מתוך {pages}", fields, NULL, &b, bad) == 0 &&
              strcmp(b.data, "עמוד 3 מתוך 12") == 0, "he page label");
    bl_buf_free(&b);
    CHECK(bl_expand_template("{{x} {issuer}}", fields, NULL, &b, bad) == 0 && strcmp(b.data, "{x} Ministry}") == 0,
          "literal braces: %s", b.data);
    bl_buf_free(&b);
    CHECK(bl_expand_template("[{title}|{date}]", fields, NULL, &b, bad) == 0 && strcmp(b.data, "[|]") == 0,
          "known fields without value are empty: %s", b.data);
    bl_buf_free(&b);
    CHECK(bl_expand_template("", fields, NULL, &b, bad) == 0 && b.data && b.len == 0, "empty template");
    bl_buf_free(&b);
    CHECK(bl_expand_template("{office}", fields, NULL, &b, bad) == 0 && strcmp(b.data, "Spokesperson") == 0,
          "field supplied by the callback");
    bl_buf_free(&b);
    bl_buf_puts(&b, "keep:");
    CHECK(bl_expand_template("a {state} b", fields, NULL, &b, bad) == -1 && strcmp(bad, "state") == 0 &&
              strcmp(b.data, "keep:") == 0 && b.len == 5, "unknown field: bad='%s' out='%s'", bad, b.data);
    CHECK(bl_expand_template("a {page", fields, NULL, &b, bad) == -1 && strcmp(bad, "page") == 0 &&
              strcmp(b.data, "keep:") == 0, "unclosed brace");
    CHECK(bl_expand_template("{pages}", NULL, NULL, &b, bad) == 0 && strcmp(b.data, "keep:") == 0, "NULL getter");
    bl_buf_free(&b);
}

/* A layout's source files are remembered, and a render after an edit uses
 * the edited layout although the process keeps layouts between renders. */
static double media_width(const char *pdf)
{
    char err[256];
    bl_file *f = bl_file_read(pdf, 1u << 24, err, sizeof err);
    const char *m = NULL;
    for (size_t i = 0; f && i + 10 < f->len && !m; i++)
        if (!memcmp(f->text + i, "/MediaBox", 9))
            m = f->text + i + 9;
    double x0, y0, x1, y1;
    double w = m && sscanf(m, " [ %lf %lf %lf %lf", &x0, &y0, &x1, &y1) == 4 ? x1 - x0 : -1;
    bl_file_free(f);
    return w;
}

static void write_text(const char *path, const char *text)
{
    CHECK(bl_test_write_file(path, text, strlen(text)) == 0, "write %s", path);
}

static void test_cache(void)
{
    bl_layout *l = load_ok(FIX "grandchild.yaml");
    if (l) {
        CHECK(l->nsrcs == 4 && ends_with(l->srcs[0].path, "grandchild.yaml") && ends_with(l->srcs[1].path, "child.yaml"),
              "sources of grandchild.yaml: %d", l->nsrcs);
        CHECK(bl_layout_unchanged(l), "unchanged right after loading");
        bl_layout_free(l);
    }
    char dir[] = "/tmp/bl-layout-cache-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "scratch folder");
    char lay[200], src[200], out1[200], out2[200];
    snprintf(lay, sizeof lay, "%s/t.yaml", dir);
    snprintf(src, sizeof src, "%s/b.md", dir);
    snprintf(out1, sizeof out1, "%s/1.pdf", dir);
    snprintf(out2, sizeof out2, "%s/2.pdf", dir);
    write_text(lay, "extends: parallel\npage: {size: A4}\n");
    write_text(src, "---\nlanguages: [en, fr]\ntitle: {en: Cache, fr: Cache}\ndate: 2021-11-24\n---\n::: en\nHello.\n:::\n::: fr\nBonjour.\n:::\n");
    bulletin_options o;
    bulletin_options_init(&o);
    o.layout = lay;
    o.output = out1;
    const char *srcs[] = {src};
    CHECK(bulletin_render(srcs, 1, &o) == 0, "first render");
    l = bl_layout_load(lay, NULL);
    CHECK(l && bl_layout_unchanged(l), "the layout file is unchanged");
    write_text(lay, "extends: parallel\npage: {size: A4, orientation: landscape}\n");
    CHECK(l && !bl_layout_unchanged(l), "an edit is seen");
    bl_layout_free(l);
    o.output = out2;
    CHECK(bulletin_render(srcs, 1, &o) == 0, "second render");
    double w1 = media_width(out1), w2 = media_width(out2);
    CHECK(near(w1, 210 * MM) && near(w2, 297 * MM), "A4 portrait, then landscape after the edit: %g, %g", w1, w2);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "clean up");
}

/* The same relative font path named many times resolves the same way each
 * time (ly_get_file remembers lookups within a load): to the layout's own
 * folder where the file is there, else to the data folder. */
static void test_font_lookups(void)
{
    char dir[] = "/tmp/bl-layout-fonts-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "scratch folder");
    char lay[200], fonts[200], copy[200], cmd[600];
    snprintf(fonts, sizeof fonts, "%s/fonts", dir);
    snprintf(copy, sizeof copy, "%s/fonts/NotoSerif-Regular.ttf", dir);
    snprintf(lay, sizeof lay, "%s/t.yaml", dir);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp fonts/NotoSerif-Regular.ttf '%s'", fonts, copy);
    CHECK(system(cmd) == 0, "a local copy of a font");
    write_text(lay, "extends: parallel\nlanguages:\n"
                    "  \"*\": {fonts: {regular: [fonts/NotoSerif-Regular.ttf], italic: [fonts/NotoSerif-Regular.ttf],\n"
                    "         bold: [fonts/NotoSerif-Bold.ttf], sans: [fonts/NotoSerif-Bold.ttf, fonts/NotoSerif-Regular.ttf]}}\n"
                    "  en: {fonts: {sans-bold: [fonts/NotoSerif-Bold.ttf, fonts/NotoSerif-Regular.ttf]}}\n");
    bl_layout *l = load_ok(lay);
    char *local = realpath(copy, NULL), *shared = realpath("fonts/NotoSerif-Bold.ttf", NULL);
    if (l && local && shared) {
        const bl_lang_cfg *en = bl_layout_lang(l, "en");
        CHECK(en && !strcmp(en->fonts[BL_ROLE_REGULAR][0], local) && !strcmp(en->fonts[BL_ROLE_ITALIC][0], local),
              "regular and italic: the layout's copy, both times (%s)", en ? en->fonts[BL_ROLE_REGULAR][0] : "-");
        CHECK(en && !strcmp(en->fonts[BL_ROLE_BOLD][0], shared) && !strcmp(en->fonts[BL_ROLE_SANS][0], shared) &&
                  !strcmp(en->fonts[BL_ROLE_SANS_BOLD][0], shared),
              "bold: not in the layout's folder, so the data folder's, each time (%s)",
              en ? en->fonts[BL_ROLE_BOLD][0] : "-");
        CHECK(en && !strcmp(en->fonts[BL_ROLE_SANS][1], local) && !strcmp(en->fonts[BL_ROLE_SANS_BOLD][1], local),
              "second choices too");
    }
    bl_layout_free(l);
    /* A later load looks again: the copy is gone, the data folder's is used. */
    CHECK(unlink(copy) == 0, "remove the copy");
    l = load_ok(lay);
    char *data_regular = realpath("fonts/NotoSerif-Regular.ttf", NULL);
    const bl_lang_cfg *en = l ? bl_layout_lang(l, "en") : NULL;
    CHECK(en && data_regular && !strcmp(en->fonts[BL_ROLE_REGULAR][0], data_regular),
          "after the copy is removed: %s", en ? en->fonts[BL_ROLE_REGULAR][0] : "-");
    bl_layout_free(l);
    free(local);
    free(shared);
    free(data_regular);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "clean up");
}

int main(void)
{
    bl_set_data_dir(".");
    test_builtins();
    test_extends();
    test_short_forms();
    test_defaults_match_base();
    test_errors();
    test_scale_and_features();
    test_dates();
    test_templates();
    test_cache();
    test_font_lookups();
    bulletin_shutdown();
    bl_set_data_dir(NULL);
    return bl_test_done();
}
