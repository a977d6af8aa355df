/* test-pdf-layout.c - the PDF writer's text state and page structure:
 * letter spacing written as Tc and word spacing as Tw (read back by a
 * content-stream reader of our own and by MuPDF), runs that go on from the
 * pen, page sizes, and groups made Form XObjects once per document.  Run
 * from the repository root. */
#include "pdftest.h"
#include "testutil.h"
#include "image.h"

/* A reader of our own for uncompressed content streams (PDF 32000-1 9.3,
 * 9.4): BT, Td, Tf, Tc, Tw and TJ, the text position kept in doubles.  Tc
 * and Tw are text state: they outlive ET and BT and start at 0 on every
 * page.  Fonts are taken by their first Tf on the page, in the order
 * faces[] lists them; strings are cut into codes and mapped to glyph ids
 * by the fonts of fs.  Appends each glyph to out; counts the Tc, Tw, Td
 * and TJ adjustments it read. */
typedef struct replay {
    drawn *g;
    size_t n, cap;
    size_t tc_ops, tw_ops, td_ops, adjustments, bad;
    double tcs[16]; /* the Tc values set, in order (the first 16) */
} replay;

/* Replays a page's text: each code's glyph (the embedded program's, from
 * pp, whose advances move the pen) and where it lands. */
static void replay_page(const char *s, size_t n, const pr_fonts *fs, const pr_programs *pp, replay *r)
{
    hb_font_t *prog = NULL;
    const pr_font *font = NULL;
    double size = 0, tc = 0, tw = 0, tlx = 0, tly = 0, x = 0, y = 0, num[2] = {0, 0};
    char name[16] = "";
    int in_array = 0;
    static pr_tok t;
    for (size_t i = 0; pr_next(s, n, &i, &t) != PR_END;) {
        if (t.kind == PR_STRING) {
            for (size_t k = 0, used; k < t.nbytes; k += used) {
                long gid = -1;
                int space = 0;
                used = font ? pr_decode(font, t.bytes + k, t.nbytes - k, &gid, &space) : 0;
                if (!used || gid < 0) {
                    r->bad++;
                    break;
                }
                if (bl_grow(&r->g, &r->cap, r->n + 1, sizeof *r->g))
                    abort();
                r->g[r->n++] = (drawn){(unsigned)gid, x, y, space, prog};
                double w = prog ? hb_font_get_glyph_h_advance(prog, (hb_codepoint_t)gid) * 1000.0 /
                                      hb_face_get_upem(hb_font_get_face(prog))
                                : 0;
                /* Tc after every glyph, marks and the last included; Tw
                 * after the one-byte code 32 */
                x += w * size / 1000 + tc + (space ? tw : 0);
            }
        } else if (t.kind == PR_OPEN || t.kind == PR_CLOSE) {
            in_array = t.kind == PR_OPEN;
        } else if (t.kind == PR_NAME) {
            snprintf(name, sizeof name, "%.*s", (int)t.len, t.text);
        } else if (t.kind == PR_NUMBER) {
            if (in_array) {
                x -= t.num / 1000 * size;
                r->adjustments++;
            }
            num[0] = num[1];
            num[1] = t.num;
        } else if (pr_is_op(&t, "BT")) {
            tlx = tly = x = y = 0;
        } else if (pr_is_op(&t, "Td")) {
            tlx += num[0];
            tly += num[1];
            x = tlx;
            y = tly;
            r->td_ops++;
        } else if (pr_is_op(&t, "Tc")) {
            tc = num[1];
            if (r->tc_ops < 16)
                r->tcs[r->tc_ops] = tc;
            r->tc_ops++;
        } else if (pr_is_op(&t, "Tw")) {
            tw = num[1];
            r->tw_ops++;
        } else if (pr_is_op(&t, "Tf")) {
            size = num[1];
            font = pr_font_named(fs, name);
            prog = font ? pr_program(pp, font->base) : NULL;
        }
    }
}

/* The uncompressed content streams of a file: those that begin with BT
 * ("stream", CR LF as libharu writes it, then the data, LF "endstream"). */
static size_t content_streams(const bl_buf *pdf, const char **start, size_t *len, size_t max)
{
    size_t k = 0;
    const char *end = pdf->data + pdf->len;
    for (const char *q = pdf->data; q + 10 < end && k < max; q++) {
        if (memcmp(q, "stream\r\nBT\n", 11))
            continue;
        const char *e = q + 8;
        while (e + 10 <= end && memcmp(e, "\nendstream", 10))
            e++;
        start[k] = q + 8;
        len[k++] = (size_t)(e - (q + 8));
        q = e;
    }
    return k;
}

/* Letter spacing is written as Tc, which a reader adds after every glyph
 * (zero-width marks and a TJ's last glyph too) and keeps across text
 * objects but not across pages; a run that goes on from where the last
 * one ended needs no Td.  Checked with our own reader of the content and
 * with mutool's. */
static void check_letter_spacing(bl_face *latin, bl_face *hebrew, const char *dir)
{
    const double L1 = 0.37, L2 = 0.25;
    bl_pdf_info plain = {.compress = 0};
    bl_pdf *pdf = bl_pdf_new(&plain);
    bl_device *dev = bl_pdf_device(pdf);
    /* Pointed and plain Hebrew, letter-spaced; then digits in another font
     * that start exactly where the letter spacing after the last Hebrew
     * glyph ends (so no Td), letter-spaced alike. */
    line he = shape(hebrew, "בְּרֵאשִׁית שָׁלוֹם עולם טוב", 1, "he", 60, 700, 16);
    justify(&he, L1, 2.1);
    const bl_glyph *last = &he.g[he.n - 1];
    double after = last->x + bl_face_advance(hebrew, last->gid) * 16.0 / hebrew->upem + L1;
    line digits = shape(latin, "2021", 0, "en", after, 700, 16);
    justify(&digits, L1, 0);
    /* After a rule (ET): an unspaced line (Tc must go back to 0), then a
     * letter-spaced one; on a new page the same line again. */
    line flat = shape(latin, "Tavern office AV", 0, "en", 60, 650, 14);
    line wide = shape(latin, "Letter spaced line of text", 0, "en", 60, 620, 14);
    justify(&wide, L2, 3.3);
    line *runs[] = {&he, &digits, &flat, &wide, &wide};
    CHECK(dev->begin_page(dev, PAGE_W, PAGE_H) == 0, "letter spacing page: %s", dev->error(dev));
    for (int i = 0; i < 5; i++) {
        if (i == 2)
            CHECK(dev->rule(dev, 60, 680, 500, 680, 0.5, NULL) == 0, "rule: %s", dev->error(dev));
        if (i == 4)
            CHECK(dev->end_page(dev) == 0 && dev->begin_page(dev, PAGE_W, PAGE_H) == 0, "page 2: %s",
                  dev->error(dev));
        CHECK(dev->glyph_run(dev, &runs[i]->run) == 0, "letter-spaced run %d: %s", i, dev->error(dev));
    }
    CHECK(dev->end_page(dev) == 0, "end_page");
    char path[600], cmd[800];
    snprintf(path, sizeof path, "%s/spaced.pdf", dir);
    CHECK(bl_pdf_save(pdf, path) == 0, "save: %s", bl_pdf_error(pdf));
    bl_pdf_free(pdf);

    drawn want[200];
    size_t nwant = 0;
    for (int i = 0; i < 5; i++)
        for (size_t k = 0; k < runs[i]->n && nwant < 200; k++)
            want[nwant++] = (drawn){runs[i]->g[k].gid, runs[i]->g[k].x, runs[i]->g[k].y, 0, runs[i]->run.face->hb_font};

    bl_buf data = {0}, out = {0};
    bl_test_read_file(path, &data);
    const char *cs[2];
    size_t cl[2];
    CHECK(content_streams(&data, cs, cl, 2) == 2, "two content streams found");
    replay r1 = {0}, r2 = {0};
    pr_fonts fs;
    pr_programs pp = {0};
    pr_load_fonts(&data, &fs);
    CHECK(fs.n == 2, "two fonts read back (%zu)", fs.n);
    CHECK(pr_programs_load(path, &pp) == 2, "two font programs read back (%zu)", pp.n);
    if (content_streams(&data, cs, cl, 2) == 2) {
        replay_page(cs[0], cl[0], &fs, &pp, &r1);
        replay_page(cs[1], cl[1], &fs, &pp, &r2);
    }
    pr_free_fonts(&fs);
    CHECK(r1.bad + r2.bad == 0, "every code maps to a glyph (%zu do not)", r1.bad + r2.bad);
    /* Word spacing (Tw) takes the justified spaces of the two spaced lines. */
    CHECK(r1.tw_ops >= 1 && r2.tw_ops >= 1, "Tw on both pages (%zu, %zu)", r1.tw_ops, r2.tw_ops);
    /* Tc on page 1: L1 for the Hebrew and the digits, 0 for the unspaced
     * line (after ET, Tc is still L1), L2; on page 2 L2 again. */
    CHECK(r1.tc_ops == 3 && fabs(r1.tcs[0] - L1) < 1e-4 && r1.tcs[1] == 0 && fabs(r1.tcs[2] - L2) < 1e-4,
          "page 1 sets Tc to L1, 0, L2 (%zu: %g %g %g)", r1.tc_ops, r1.tcs[0], r1.tcs[1], r1.tcs[2]);
    CHECK(r2.tc_ops == 1 && fabs(r2.tcs[0] - L2) < 1e-4, "page 2 sets Tc to L2 again (%zu: %g)", r2.tc_ops,
          r2.tcs[0]);
    /* One Td per baseline: the digits go on from the Hebrew. */
    CHECK(r1.td_ops == 3 && r2.td_ops == 1, "Td per baseline: %zu on page 1 (3), %zu on page 2 (1)", r1.td_ops,
          r2.td_ops);
    /* Without Tc, nearly every glyph of a spaced line needs an adjustment. */
    size_t nglyphs = r1.n + r2.n;
    printf("letter spacing: %zu glyphs, %zu TJ adjustments\n", nglyphs, r1.adjustments + r2.adjustments);
    CHECK(r1.adjustments + r2.adjustments < nglyphs / 2, "%zu adjustments for %zu glyphs",
          r1.adjustments + r2.adjustments, nglyphs);
    double maxerr = 0;
    size_t bad = 0;
    CHECK(r1.n + r2.n == nwant, "replayed %zu glyphs, drew %zu", r1.n + r2.n, nwant);
    for (size_t i = 0; i < nwant && i < r1.n + r2.n; i++) {
        const drawn *g = i < r1.n ? &r1.g[i] : &r2.g[i - r1.n];
        const drawn *base = i < r1.n ? r1.g : r2.g;
        size_t at = i < r1.n ? i : i - r1.n, nb = i < r1.n ? r1.n : r2.n;
        maxerr = fmax(maxerr, read_back_error(&base[0].x, &base[0].y, sizeof *base, nb, at, g->space, want[i].x,
                                              want[i].y));
        bad += !pr_same_glyph(g->font, g->gid, want[i].font, want[i].gid);
    }
    printf("letter spacing: max position error (content replayed): %.6f pt\n", maxerr);
    CHECK(bad == 0 && maxerr < 0.0015, "replayed content: %zu glyphs differ, max error %.6f pt", bad, maxerr);

    if (need_tool("mutool")) {
        snprintf(cmd, sizeof cmd, "mutool trace %s 2>/dev/null", path);
        CHECK(bl_test_run(cmd, &out) == 0, "mutool trace (letter spacing) runs");
        traced *tr;
        size_t nt = parse_trace(out.data, &tr);
        maxerr = 0;
        bad = 0;
        for (size_t i = 0; i < nt && i < nwant; i++) {
            maxerr = fmax(maxerr, traced_error(tr, nt, i, want[i].x, want[i].y));
            bad += !pr_draws(&pp, tr[i].font, tr[i].gid, want[i].font, want[i].gid);
        }
        printf("letter spacing: max position error (mutool trace): %.6f pt\n", maxerr);
        CHECK(nt == nwant && bad == 0 && maxerr < 0.003,
              "mutool: %zu of %zu glyphs, %zu differ, max error %.6f pt", nt, nwant, bad, maxerr);
        free(tr);
    }
    pr_programs_free(&pp);
    snprintf(cmd, sizeof cmd, "pdftotext -enc UTF-8 %s - 2>&1", path);
    CHECK(bl_test_run(cmd, &out) == 0, "pdftotext runs");
    const char *words[] = {"2021", "עולם", "טוב", "Tavern", "office", "Letter", "spaced"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        CHECK(strstr(out.data, words[i]) != NULL, "pdftotext finds '%s' in letter-spaced text", words[i]);
    free(r1.g);
    free(r2.g);
    bl_buf_free(&data);
    bl_buf_free(&out);
    free_line(&he);
    free_line(&digits);
    free_line(&flat);
    free_line(&wide);
}

/* Runs of spaces become one (pdfinfo aligns its columns). */
static void squeeze_spaces(char *s)
{
    char *o = s;
    for (const char *q = s; *q; q++)
        if (!(*q == ' ' && o > s && o[-1] == ' '))
            *o++ = *q;
    *o = 0;
}

/* Page sizes: one /MediaBox, on the page tree, when every page has the
 * same size; one per page when they differ, also when a page of another
 * size follows a save that had shared the box. */
static void check_page_sizes(bl_face *latin, const char *dir)
{
    char same[600], mixed[600], cmd[1400];
    snprintf(same, sizeof same, "%s/same-size.pdf", dir);
    snprintf(mixed, sizeof mixed, "%s/mixed-size.pdf", dir);
    bl_pdf *pdf = bl_pdf_new(NULL);
    bl_device *dev = bl_pdf_device(pdf);
    line word = shape(latin, "Size", 0, "en", 20, 100, 12);
    for (int i = 0; i < 2; i++)
        CHECK(dev->begin_page(dev, 300, 200) == 0 && dev->glyph_run(dev, &word.run) == 0 && dev->end_page(dev) == 0,
              "page %d: %s", i + 1, dev->error(dev));
    CHECK(bl_pdf_save(pdf, same) == 0, "save: %s", bl_pdf_error(pdf));
    CHECK(dev->begin_page(dev, 500, 400) == 0 && dev->glyph_run(dev, &word.run) == 0 && dev->end_page(dev) == 0,
          "page 3: %s", dev->error(dev));
    CHECK(bl_pdf_save(pdf, mixed) == 0, "save: %s", bl_pdf_error(pdf));
    bl_pdf_free(pdf);
    free_line(&word);

    bl_buf out = {0};
    const char *files[] = {same, mixed};
    const size_t boxes[] = {1, 3};
    for (int f = 0; f < 2; f++) {
        snprintf(cmd, sizeof cmd, "pdfinfo -f 1 -l 3 %s 2>&1", files[f]);
        CHECK(bl_test_run(cmd, &out) == 0, "pdfinfo runs");
        squeeze_spaces(out.data);
        CHECK(strstr(out.data, "Page 1 size: 300 x 200 pts") && strstr(out.data, "Page 2 size: 300 x 200 pts"),
              "pages 1 and 2 are 300 x 200:\n%s", out.data);
        CHECK(f == 0 || strstr(out.data, "Page 3 size: 500 x 400 pts"), "page 3 is 500 x 400:\n%s", out.data);
        if (need_tool("qpdf")) {
            snprintf(cmd, sizeof cmd, "qpdf --qdf --object-streams=disable %s - 2>/dev/null", files[f]);
            bl_test_run(cmd, &out);
            size_t nbox = count_in(out.data, out.len, "/MediaBox");
            CHECK(nbox == boxes[f], "%s: %zu /MediaBox entries, want %zu", files[f], nbox, boxes[f]);
            CHECK(count_in(out.data, out.len, "/ProcSet [") == 0, "no /ProcSet in the page resources");
        }
        int rc = bl_test_pdfcheck("", files[f], &out);
        CHECK(rc == 0, "pdfcheck %s rc=%d:\n%s", files[f], rc, out.data);
    }
    bl_buf_free(&out);
}

/* The group drawn on pages 1 to 3: a banner top and bottom, a rule and a
 * rectangle (in another colour than the text), as the layout's furniture. */
static int furniture_group(bl_device *dev, const line *top, const line *bottom)
{
    static const double grey[3] = {0.5, 0.5, 0.5}, green[3] = {0, 0.5, 0};
    return dev->group_begin(dev) || dev->glyph_run(dev, &top->run) || dev->glyph_run(dev, &bottom->run) ||
           dev->rule(dev, 40, 790, 555, 790, 0.5, grey) || dev->rect(dev, 40, 20, 20, 5, green) ||
           dev->group_end(dev);
}

/* Groups: one Form XObject per distinct content (equal groups on other
 * pages show the same form, a different one makes another), none for a
 * page without a group or for an empty group; the text inside a form is
 * where it was asked to be, in its own font, colour and letter spacing
 * whatever the page had before the Do, and the page's text right after
 * the Do has its own, whatever the form set.  Two saves, the second after
 * more pages and a new font. */
static void check_groups(bl_face *latin, bl_face *hebrew, bl_face *arabic, const char *dir)
{
    static const double blue[3] = {0, 0, 0.6}, red[3] = {0.7, 0, 0};
    char first[600], second[600], cmd[1400];
    snprintf(first, sizeof first, "%s/groups-1.pdf", dir);
    snprintf(second, sizeof second, "%s/groups-2.pdf", dir);
    bl_pdf *pdf = bl_pdf_new(NULL);
    bl_device *dev = bl_pdf_device(pdf);
    /* Before the group on page 1: letter-spaced blue Latin (a form that
     * relied on the page's font, colour or Tc would take these). */
    line body = shape(latin, "Body text before the banner", 0, "en", 60, 700, 12);
    justify(&body, 0.3, 1.5);
    memcpy(body.run.rgb, blue, sizeof blue);
    line top = shape(hebrew, "שמור לשימוש פנימי", 1, "he", 230, 810, 10);
    line bottom = shape(hebrew, "שמור לשימוש פנימי", 1, "he", 230, 30, 10);
    line other = shape(hebrew, "סודי ביותר", 1, "he", 250, 810, 10);
    line *banners[] = {&top, &bottom, &other};
    for (int i = 0; i < 3; i++)
        memcpy(banners[i]->run.rgb, red, sizeof red);
    /* Right after the group, in the group's last font, size and colour and
     * not letter-spaced: the page has body's state there, so this needs
     * its own Tf, colour and Tc. */
    line after = shape(hebrew, "אחרי הכותרת", 1, "he", 200, 650, 10);
    memcpy(after.run.rgb, red, sizeof red);
    line second_page = shape(latin, "Second page", 0, "en", 60, 700, 12);
    line arabic_line = shape(arabic, "السلام عليكم", 1, "ar", 100, 400, 14);

    drawn *want = NULL;
    size_t nwant = 0, capwant = 0;
    /* Page 1: body, the group, text after it.  Page 2: the same group on a
     * fresh page, then text.  Page 3: a group with another banner. */
    CHECK(dev->begin_page(dev, PAGE_W, PAGE_H) == 0 && dev->glyph_run(dev, &body.run) == 0 &&
              furniture_group(dev, &top, &bottom) == 0 && dev->glyph_run(dev, &after.run) == 0 &&
              dev->end_page(dev) == 0,
          "groups page 1: %s", dev->error(dev));
    want_run(&want, &nwant, &capwant, &body);
    want_run(&want, &nwant, &capwant, &top);
    want_run(&want, &nwant, &capwant, &bottom);
    size_t after_at = nwant;
    want_run(&want, &nwant, &capwant, &after);
    CHECK(dev->begin_page(dev, PAGE_W, PAGE_H) == 0 && furniture_group(dev, &top, &bottom) == 0 &&
              dev->glyph_run(dev, &second_page.run) == 0 && dev->end_page(dev) == 0,
          "groups page 2: %s", dev->error(dev));
    want_run(&want, &nwant, &capwant, &top);
    want_run(&want, &nwant, &capwant, &bottom);
    want_run(&want, &nwant, &capwant, &second_page);
    CHECK(dev->begin_page(dev, PAGE_W, PAGE_H) == 0 && furniture_group(dev, &other, &bottom) == 0 &&
              dev->end_page(dev) == 0,
          "groups page 3: %s", dev->error(dev));
    want_run(&want, &nwant, &capwant, &other);
    want_run(&want, &nwant, &capwant, &bottom);
    CHECK(bl_pdf_save(pdf, first) == 0, "save: %s", bl_pdf_error(pdf));
    /* Page 4: no group, a font first used after the save.  Pages 5 and 6:
     * a group with an image and a rule; page 6 also an empty group. */
    unsigned char px[2 * 2 * 3] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255};
    bl_image img = {.refs = 1, .width = 2, .height = 2, .components = 3, .pixels = px};
    CHECK(dev->begin_page(dev, PAGE_W, PAGE_H) == 0 && dev->glyph_run(dev, &arabic_line.run) == 0 &&
              dev->end_page(dev) == 0,
          "groups page 4: %s", dev->error(dev));
    want_run(&want, &nwant, &capwant, &arabic_line);
    for (int i = 0; i < 2; i++) {
        CHECK(dev->begin_page(dev, PAGE_W, PAGE_H) == 0 && dev->group_begin(dev) == 0 &&
                  dev->image(dev, &img, 100, 500, 40, 30) == 0 && dev->rule(dev, 100, 490, 140, 490, 1, NULL) == 0 &&
                  dev->group_end(dev) == 0,
              "groups page %d: %s", 5 + i, dev->error(dev));
        if (i == 1)
            CHECK(dev->group_begin(dev) == 0 && dev->group_end(dev) == 0, "empty group: %s", dev->error(dev));
        CHECK(dev->end_page(dev) == 0, "end_page %d: %s", 5 + i, dev->error(dev));
    }
    CHECK(bl_pdf_save(pdf, second) == 0, "second save: %s", bl_pdf_error(pdf));
    bl_pdf_free(pdf);
    CHECK(img.refs == 1, "the image's reference is given back (%d)", img.refs);

    bl_buf out = {0}, page = {0};
    const char *files[] = {first, second};
    for (int f = 0; f < 2; f++) {
        int rc = bl_test_pdfcheck("", files[f], &out);
        CHECK(rc == 0, "pdfcheck %s rc=%d:\n%s", files[f], rc, out.data);
    }
    if (need_tool("qpdf")) {
        /* The first save: two forms (pages 1 and 2 share one). */
        snprintf(cmd, sizeof cmd, "qpdf --qdf --object-streams=disable %s - 2>/dev/null", first);
        bl_test_run(cmd, &out);
        CHECK(count_in(out.data, out.len, "/Subtype /Form") == 2, "first save: %zu forms, want 2",
              count_in(out.data, out.len, "/Subtype /Form"));
        /* The second: three, each page's in its /XObject resources; none on
         * page 4, and the empty group on page 6 adds nothing. */
        snprintf(cmd, sizeof cmd, "qpdf --qdf --object-streams=disable %s - 2>/dev/null", second);
        bl_test_run(cmd, &out);
        CHECK(count_in(out.data, out.len, "/Subtype /Form") == 3, "second save: %zu forms, want 3",
              count_in(out.data, out.len, "/Subtype /Form"));
        unsigned form[7] = {0};
        for (int i = 1; i <= 6; i++) {
            qdf_page(&out, i, &page);
            unsigned o[2];
            size_t n = refs_to(&page, "/X1 ", o, 2);
            if (i == 4)
                CHECK(page.len > 1 && !strstr(page.data, "/XObject"), "page 4 has no /XObject resources:\n%s",
                      page.data);
            else {
                CHECK(n == 1 && refs_to(&page, "/X2 ", o + 1, 1) == 0, "page %d shows one form (%zu)", i, n);
                form[i] = n ? o[0] : 0;
            }
        }
        CHECK(form[1] && form[1] == form[2], "pages 1 and 2 show the same form (%u, %u)", form[1], form[2]);
        CHECK(form[3] && form[3] != form[1], "page 3's other banner is another form (%u)", form[3]);
        CHECK(form[5] && form[5] == form[6] && form[5] != form[1] && form[5] != form[3],
              "pages 5 and 6 show a third form (%u, %u)", form[5], form[6]);
        /* The image form names the image in its own resources. */
        unsigned im;
        CHECK(refs_to(&out, "/Im1 ", &im, 1) == 1, "the image is in one form's /XObject resources");
        /* Forms with text name the document's /Font dictionary, as pages do. */
        unsigned fonts[8];
        size_t nf = refs_to(&out, "/Font ", fonts, 8);
        int one = 1;
        for (size_t i = 1; i < nf && i < 8; i++)
            one = one && fonts[i] == fonts[0];
        CHECK(nf == 5 && one, "pages 1, 2 and 4 and the banner forms name one /Font dictionary (%zu entries)", nf);
    }
    /* The forms' content is deflated, like the pages'. */
    {
        bl_buf raw = {0};
        bl_test_read_file(second, &raw);
        size_t forms = 0, flate = 0;
        const char *end = raw.data + raw.len;
        for (const char *q = find_bytes(raw.data, end, "/Subtype /Form"); q; q = find_bytes(q + 1, end, "/Subtype /Form")) {
            const char *st = find_bytes(q, end, "stream"), *fl = find_bytes(q, end, "/FlateDecode");
            forms++;
            flate += st && fl && fl < st;
        }
        CHECK(forms == 3 && flate == 3, "%zu of %zu forms deflated", flate, forms);
        bl_buf_free(&raw);
    }

    /* Text on every page that shows a banner (pdftotext reads forms). */
    const char *words[7][2] = {{NULL, NULL},          {"פנימי", "אחרי"}, {"פנימי", "Second"}, {"ביותר", "פנימי"},
                               {"السلام", NULL}, {NULL, NULL},            {NULL, NULL}};
    for (int i = 1; i <= 4; i++) {
        snprintf(cmd, sizeof cmd, "pdftotext -f %d -l %d -enc UTF-8 %s - 2>&1", i, i, second);
        CHECK(bl_test_run(cmd, &out) == 0, "pdftotext runs");
        for (int k = 0; k < 2; k++)
            CHECK(!words[i][k] || strstr(out.data, words[i][k]), "page %d: pdftotext finds '%s':\n%s", i,
                  words[i][k], out.data);
    }

    /* Every glyph where it was asked to be (forms included), and in its
     * own font and colour: the banners red Hebrew on every page, the line
     * after the group red Hebrew too, after blue Latin. */
    if (need_tool("mutool")) {
        snprintf(cmd, sizeof cmd, "mutool trace %s 2>/dev/null", second);
        CHECK(bl_test_run(cmd, &out) == 0, "mutool trace runs");
        traced *tr;
        size_t nt = parse_trace(out.data, &tr);
        double maxerr = 0;
        size_t bad = 0;
        pr_programs gp = {0};
        pr_programs_load(second, &gp);
        for (size_t i = 0; i < nt && i < nwant; i++) {
            maxerr = fmax(maxerr, traced_error(tr, nt, i, want[i].x, want[i].y));
            bad += !pr_draws(&gp, tr[i].font, tr[i].gid, want[i].font, want[i].gid);
        }
        pr_programs_free(&gp);
        printf("groups: max position error (mutool trace): %.6f pt over %zu glyphs\n", maxerr, nt);
        CHECK(nt == nwant && bad == 0 && maxerr < 0.003, "mutool: %zu of %zu glyphs, %zu differ, max error %.6f pt",
              nt, nwant, bad, maxerr);
        /* page 1: body, top, bottom, after; page 2: top, bottom, ... */
        size_t spans[][2] = {{body.n, body.n + top.n + bottom.n + after.n},
                             {after_at + after.n, after_at + after.n + top.n + bottom.n},
                             {after_at + after.n + top.n + bottom.n + second_page.n,
                              after_at + after.n + top.n + bottom.n + second_page.n + other.n + bottom.n}};
        for (size_t s = 0; s < 3; s++)
            for (size_t i = spans[s][0]; i < spans[s][1] && i < nt; i++) {
                int ok = strstr(tr[i].font, "Hebrew") && fabs(tr[i].rgb[0] - red[0]) < 0.01 && tr[i].rgb[2] < 0.01;
                CHECK(ok, "glyph %zu: font %s colour %g %g %g, want red Hebrew", i, tr[i].font, tr[i].rgb[0],
                      tr[i].rgb[1], tr[i].rgb[2]);
                if (!ok)
                    break;
            }
        CHECK(nt > 0 && strstr(tr[0].font, "NotoSerif-") && fabs(tr[0].rgb[2] - blue[2]) < 0.01,
              "body text is blue Latin (%s)", nt ? tr[0].font : "");
        CHECK(count_in(out.data, out.len, "<fill_image") == 2, "the image is drawn on pages 5 and 6");
        free(tr);
    }
    free(want);
    bl_buf_free(&page);
    line *lines[] = {&body, &top, &bottom, &other, &after, &second_page, &arabic_line};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        free_line(lines[i]);

    /* Uncompressed: the form's content as written, Tf, colour and Tc of its
     * own; a page of another size makes another form (its /BBox). */
    {
        bl_pdf_info plain = {.compress = 0};
        pdf = bl_pdf_new(&plain);
        dev = bl_pdf_device(pdf);
        line t = shape(hebrew, "שמור", 1, "he", 100, 150, 10);
        memcpy(t.run.rgb, red, sizeof red);
        double sizes[3][2] = {{300, 200}, {300, 200}, {400, 200}};
        for (int i = 0; i < 3; i++)
            CHECK(dev->begin_page(dev, sizes[i][0], sizes[i][1]) == 0 && dev->group_begin(dev) == 0 &&
                      dev->glyph_run(dev, &t.run) == 0 && dev->group_end(dev) == 0 && dev->end_page(dev) == 0,
                  "uncompressed group page %d: %s", i + 1, dev->error(dev));
        char plainpath[600];
        snprintf(plainpath, sizeof plainpath, "%s/groups-plain.pdf", dir);
        CHECK(bl_pdf_save(pdf, plainpath) == 0, "save: %s", bl_pdf_error(pdf));
        bl_pdf_free(pdf);
        free_line(&t);
        bl_buf raw = {0};
        bl_test_read_file(plainpath, &raw);
        CHECK(count_in(raw.data, raw.len, "/Subtype /Form") == 2 && count_in(raw.data, raw.len, "/X1 Do") == 3,
              "uncompressed: 2 forms (two page sizes), shown 3 times");
        CHECK(count_in(raw.data, raw.len, "BT\n0.7 0 0 rg\n/F1 10 Tf\n100 150 Td 0 Tc[") == 2,
              "each form sets its colour, font and Tc (0) itself");
        bl_buf_free(&raw);
        int prc = bl_test_pdfcheck("", plainpath, &out);
        CHECK(prc == 0, "pdfcheck %s rc=%d:\n%s", plainpath, prc, out.data);
    }

    /* Misuse: an error with a message, the document still usable
     * (uncompressed, to count text objects below). */
    bl_pdf_info plain = {.compress = 0};
    pdf = bl_pdf_new(&plain);
    dev = bl_pdf_device(pdf);
    CHECK(dev->group_begin(dev) == -1 && strstr(dev->error(dev), "no page"), "group before a page: %s",
          dev->error(dev));
    CHECK(dev->begin_page(dev, 300, 200) == 0 && dev->group_begin(dev) == 0, "begin: %s", dev->error(dev));
    CHECK(dev->group_begin(dev) == -1 && strstr(dev->error(dev), "nest"), "nested group: %s", dev->error(dev));
    CHECK(dev->group_end(dev) == 0, "the open group ends: %s", dev->error(dev));
    CHECK(dev->group_end(dev) == -1 && strstr(dev->error(dev), "no group"), "group_end without a group: %s",
          dev->error(dev));
    /* A group dropped by end_page in the middle of its text: the page
     * goes on, with the group's drawing gone and valid content. */
    line kept = shape(latin, "Kept", 0, "en", 20, 150, 12), lost = shape(latin, "Lost", 0, "en", 20, 100, 12);
    CHECK(dev->glyph_run(dev, &kept.run) == 0 && dev->group_begin(dev) == 0 &&
              dev->rule(dev, 10, 10, 100, 10, 1, NULL) == 0 && dev->glyph_run(dev, &lost.run) == 0,
          "group: %s", dev->error(dev));
    CHECK(dev->end_page(dev) == -1 && strstr(dev->error(dev), "group"), "end_page with a group open: %s",
          dev->error(dev));
    CHECK(dev->end_page(dev) == 0, "the page ends after that: %s", dev->error(dev));
    char dropped[600];
    snprintf(dropped, sizeof dropped, "%s/group-dropped.pdf", dir);
    CHECK(bl_pdf_save(pdf, dropped) == 0, "save after a dropped group: %s", bl_pdf_error(pdf));
    int rc = bl_test_pdfcheck("", dropped, &out);
    CHECK(rc == 0, "pdfcheck %s rc=%d:\n%s", dropped, rc, out.data);
    bl_buf raw = {0};
    bl_test_read_file(dropped, &raw);
    size_t bt = count_in(raw.data, raw.len, "BT\n"), et = count_in(raw.data, raw.len, "ET\n");
    CHECK(bt == 1 && et == 1, "one text object, ended once (BT %zu, ET %zu)", bt, et);
    bl_buf_free(&raw);
    snprintf(cmd, sizeof cmd, "pdftotext -enc UTF-8 %s - 2>&1", dropped);
    bl_test_run(cmd, &out);
    CHECK(strstr(out.data, "Kept") && !strstr(out.data, "Lost"), "the dropped group's text is gone:\n%s", out.data);
    free_line(&kept);
    free_line(&lost);
    CHECK(dev->begin_page(dev, 300, 200) == 0 && dev->group_begin(dev) == 0 &&
              dev->rule(dev, 10, 10, 100, 10, 1, NULL) == 0,
          "a group left open: %s", dev->error(dev));
    bl_pdf_free(pdf); /* with the group open: nothing leaks (ASan) */
    bl_buf_free(&out);
}

int main(void)
{
    char dir[] = "/tmp/bl-test-pdf-layout-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    bl_face *latin = open_face("fonts/NotoSerif-Regular.ttf");
    bl_face *hebrew = open_face("fonts/NotoSerifHebrew-Regular.ttf");
    bl_face *arabic = open_face("fonts/NotoNaskhArabic-Regular.ttf");

    /* Letter spacing (Tc) and runs that go on from the pen. */
    check_letter_spacing(latin, hebrew, dir);
    /* Page sizes. */
    check_page_sizes(latin, dir);
    /* Groups as Form XObjects. */
    check_groups(latin, hebrew, arabic, dir);

    free(all);
    bl_face_drop(latin);
    bl_face_drop(hebrew);
    bl_face_drop(arabic);
    bl_test_cleanup(dir, bl_test_fail_count);
    return bl_test_done();
}
