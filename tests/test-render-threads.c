/* test-render-threads.c - bulletin_render called from several threads at once,
 * with helper threads allowed: they share the ICU loader, the column thread
 * (one bulletin at a time; the others set their columns the usual way) and
 * the caches, and every output equals a one-thread (-j 1) render, byte for
 * byte.  Then bulletin_shutdown ends the helpers (LeakSanitizer checks the
 * rest under ASan). */
#include "harness.h"
#include "testutil.h"
#include "base.h"
#include "bulletin.h"

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

static bl_buf slurp(const char *path)
{
    bl_buf b = {0};
    FILE *f = fopen(path, "rb");
    char tmp[65536];
    size_t n;
    while (f && (n = fread(tmp, 1, sizeof tmp, f)) > 0)
        bl_buf_append(&b, tmp, n);
    if (f)
        fclose(f);
    return b;
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

int main(void)
{
    bl_set_data_dir(".");
    CHECK(mkdtemp(dir) != NULL, "scratch folder");
    bl_buf want[2];
    for (int s = 0; s < 2; s++) {
        char out[256];
        snprintf(out, sizeof out, "%s/one%d.pdf", dir, s);
        CHECK(render(sources[s], out, 1) == 0, "one-thread render of %s", sources[s]);
        want[s] = slurp(out);
        CHECK(want[s].len > 10000, "%s: %zu bytes", out, want[s].len);
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
            bl_buf got = slurp(out);
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
    bl_buf again = slurp(out);
    CHECK(again.len == want[0].len && !memcmp(again.data, want[0].data, again.len), "with the same bytes");
    bl_buf_free(&again);
    bulletin_shutdown();
    for (int s = 0; s < 2; s++)
        bl_buf_free(&want[s]);
    bl_test_cleanup(dir, bl_test_fail_count);
    return bl_test_done();
}
