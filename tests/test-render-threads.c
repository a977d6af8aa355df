/* test-render-threads.c - the layout sets a parallel bulletin's two columns
 * on two threads when helpers are allowed (and says so), with the same trace
 * as on one thread; bulletin_render called from several threads at once,
 * with helper threads allowed: they share the ICU loader, the column thread
 * (one bulletin at a time; the others set their columns the usual way) and
 * the caches, and every output equals a one-thread (-j 1) render, byte for
 * byte.  Then bulletin_shutdown ends the helpers (LeakSanitizer checks the
 * rest under ASan). */
#include "harness.h"
#include "testutil.h"
#include "base.h"
#include "bulletin.h"
#include "doc.h"
#include "icu.h"
#include "layout-config.h"
#include "layout.h"
#include "pdf-font.h"
#include "trace.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 4
#define NRUNS 3

static char dir[] = "/tmp/bl-threads-XXXXXX";
static const char *sources[2] = {"samples/mod-2021-11-24.en-he.md", "samples/mod-2021-11-24.fr-ar.md"};

static int render(const char *src, const char *out, int threads)
{
    bulletin_options o;
    bulletin_options_init(&o);
    o.output = out;
    o.threads = threads;
    o.quiet = 1;
    return bulletin_render(&src, 1, &o);
}

typedef struct job {
    int id;
    int failures;
} job;

static void *worker(void *arg)
{
    job *j = arg;
    for (int r = 0; r < NRUNS; r++) {
        char out[256];
        snprintf(out, sizeof out, "%s/t%d-%d.pdf", dir, j->id, r);
        if (render(sources[(j->id + r) % 2], out, 0))
            j->failures++;
    }
    return NULL;
}

/* Lays out source with layout "parallel" into a trace saved at out, helpers
 * on or off; returns the stats (columns_at_once -1 on failure). */
static bl_layout_stats lay_out(const char *source, const char *out, int helpers)
{
    bl_layout_stats st = {0};
    st.columns_at_once = -1;
    char err[256];
    bl_diag d;
    bl_diag_init(&d, stderr);
    bl_file *f = bl_file_read(source, 1 << 20, err, sizeof err);
    bl_source_opts so = {0, NULL};
    bl_bulletin *b = f ? bl_source_parse(f, &so, &d) : NULL;
    bl_layout *l = bl_layout_load("parallel", &d);
    bl_trace *t = bl_trace_new();
    int was = bl_helpers();
    bl_set_helpers(helpers);
    if (b && l && t && bl_layout_bulletin(b, l, bl_trace_device(t), &d, &st) == 0 && bl_trace_save(t, out) == 0)
        ;
    else
        st.columns_at_once = -1;
    bl_set_helpers(was);
    bl_trace_free(t);
    bl_layout_free(l);
    bl_bulletin_free(b);
    return st;
}

static void columns(void)
{
    CHECK(bl_icu_check(NULL, 0) == 0, "ICU");
    for (int s = 0; s < 2; s++) {
        char one[256], two[256];
        snprintf(one, sizeof one, "%s/cols%d-1.json", dir, s);
        snprintf(two, sizeof two, "%s/cols%d-2.json", dir, s);
        bl_layout_stats a = lay_out(sources[s], one, 0), b = lay_out(sources[s], two, 1);
        CHECK(a.columns_at_once == 0, "%s, one thread: columns one after the other (%d)", sources[s],
              a.columns_at_once);
        CHECK(b.columns_at_once == 1, "%s, helpers: columns at once (%d)", sources[s], b.columns_at_once);
        CHECK(a.lines == b.lines && a.lines > 50 && a.hyphenated == b.hyphenated && a.pages == b.pages,
              "the same lines (%d, %d), hyphens and pages", a.lines, b.lines);
        bl_buf x = {0}, y = {0};
        bl_test_read_file(one, &x);
        bl_test_read_file(two, &y);
        CHECK(x.len > 1000 && x.len == y.len && !memcmp(x.data, y.data, x.len), "the same trace (%zu, %zu bytes)",
              x.len, y.len);
        bl_buf_free(&x);
        bl_buf_free(&y);
    }
}

int main(void)
{
    bl_set_data_dir(".");
    CHECK(mkdtemp(dir) != NULL, "scratch folder");
    columns();
    bl_buf want[2];
    for (int s = 0; s < 2; s++) {
        char out[256];
        snprintf(out, sizeof out, "%s/one%d.pdf", dir, s);
        CHECK(render(sources[s], out, 1) == 0, "one-thread render of %s", sources[s]);
        want[s] = (bl_buf){0};
        bl_test_read_file(out, &want[s]);
        CHECK(want[s].len > 10000, "%s: %zu bytes", out, want[s].len);
    }
    /* With helpers, the last bulletin's glyph runs are announced before its
     * pages are drawn (draw.h: ahead), and every font file is made then, on
     * the page-deflating thread: the save makes none. */
    for (int s = 0; s < 2; s++) {
        char out[256];
        snprintf(out, sizeof out, "%s/ahead%d.pdf", dir, s);
        bl_pdf_font_cache_clear();
        unsigned long a0, m0 = bl_pdf_font_files_made(&a0);
        CHECK(render(sources[s], out, 0) == 0, "render of %s with helpers", sources[s]);
        unsigned long a1, m1 = bl_pdf_font_files_made(&a1);
        CHECK(m1 - m0 >= 6 && a1 - a0 == m1 - m0, "%s: %lu font files made, %lu of them ahead", sources[s], m1 - m0,
              a1 - a0);
        bl_buf got = {0};
        bl_test_read_file(out, &got);
        CHECK(got.len == want[s].len && !memcmp(got.data, want[s].data, got.len),
              "%s: the one-thread render's bytes", sources[s]);
        bl_buf_free(&got);
    }
    /* Three bulletins in one PDF: only the last is announced, and its
     * fonts' files cover the glyphs the first two drew as well. */
    {
        const char *three[3] = {sources[0], sources[1], sources[0]};
        char out[256], one[256];
        snprintf(out, sizeof out, "%s/ahead3.pdf", dir);
        snprintf(one, sizeof one, "%s/one3.pdf", dir);
        bulletin_options o;
        bulletin_options_init(&o);
        o.output = one;
        o.threads = 1;
        o.quiet = 1;
        CHECK(bulletin_render(three, 3, &o) == 0, "three bulletins, one thread");
        bl_pdf_font_cache_clear();
        unsigned long a0, m0 = bl_pdf_font_files_made(&a0);
        o.output = out;
        o.threads = 0;
        CHECK(bulletin_render(three, 3, &o) == 0, "three bulletins with helpers");
        unsigned long a1, m1 = bl_pdf_font_files_made(&a1);
        CHECK(m1 - m0 >= 10 && a1 - a0 == m1 - m0, "three bulletins: %lu font files made, %lu of them ahead", m1 - m0,
              a1 - a0);
        bl_buf x = {0}, y = {0};
        bl_test_read_file(one, &x);
        bl_test_read_file(out, &y);
        CHECK(x.len > 10000 && x.len == y.len && !memcmp(x.data, y.data, x.len), "three bulletins: the same bytes");
        bl_buf_free(&x);
        bl_buf_free(&y);
    }
    pthread_t t[NTHREADS];
    job jobs[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        jobs[i] = (job){i, 0};
        CHECK(pthread_create(&t[i], NULL, worker, &jobs[i]) == 0, "thread %d", i);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK(jobs[i].failures == 0, "thread %d: %d renders failed", i, jobs[i].failures);
        for (int r = 0; r < NRUNS; r++) {
            char out[256];
            snprintf(out, sizeof out, "%s/t%d-%d.pdf", dir, i, r);
            bl_buf got = {0};
            bl_test_read_file(out, &got);
            const bl_buf *w = &want[(i + r) % 2];
            CHECK(got.len == w->len && got.len && !memcmp(got.data, w->data, got.len),
                  "thread %d run %d: the same bytes as a one-thread render (%zu vs %zu)", i, r, got.len, w->len);
            bl_buf_free(&got);
        }
    }
    bulletin_shutdown();
    /* and the helpers start again after a shutdown */
    char out[256];
    snprintf(out, sizeof out, "%s/again.pdf", dir);
    CHECK(render(sources[0], out, 0) == 0, "a render after bulletin_shutdown");
    bl_buf again = {0};
    bl_test_read_file(out, &again);
    CHECK(again.len == want[0].len && !memcmp(again.data, want[0].data, again.len), "with the same bytes");
    bl_buf_free(&again);
    bulletin_shutdown();
    for (int s = 0; s < 2; s++)
        bl_buf_free(&want[s]);
    bl_test_cleanup(dir, bl_test_fail_count);
    return bl_test_done();
}
