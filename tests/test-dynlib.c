/* test-dynlib.c - libraries loaded at run time.  ICU (src/icu.c): a load
 * that fails says why, and bulletin_render then fails cleanly with no output
 * file; the loader thread runs queued work after the load.  fontconfig
 * (system font fallback) and hb-subset (dynlib.h): without them there is no
 * fallback, and saving fails with the reason; then they load again.
 * (libjpeg: test-image.c.)  And bl_thread_start's threads get their argument
 * and end up on all of their creator's processors. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_EQUAL (Linux) */
#include "harness.h"
#include "testutil.h"
#include "base.h"
#include "bulletin.h"
#include "icu.h"
#include "pdf-font.h"
#include "text-font.h"
#include "text-bidi.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unicode/uvernum.h>

static const char source[] = "---\nlanguages: [en, he]\ntitle: {en: Title, he: כותרת}\ndate: 2021-11-24\n---\n"
                             "::: en\nHello, world.\n:::\n::: he\nשלום עולם.\n:::\n";

/* Renders text (a source) to dir/out.pdf; returns bulletin_render's status,
 * with its diagnostics in diag. */
static int render_text(const char *dir, const char *text, char *diag, size_t n)
{
    char src[256], out[256];
    snprintf(src, sizeof src, "%s/in.md", dir);
    snprintf(out, sizeof out, "%s/out.pdf", dir);
    bl_test_write_file(src, text, strlen(text));
    unlink(out);
    bulletin_options o;
    bulletin_options_init(&o);
    o.output = out;
    FILE *f = tmpfile();
    o.diag_out = f;
    const char *srcs[] = {src};
    int rc = bulletin_render(srcs, 1, &o);
    diag[0] = 0;
    if (f) {
        rewind(f);
        size_t got = fread(diag, 1, n - 1, f);
        diag[got] = 0;
        fclose(f);
    }
    return rc;
}

static int render(const char *dir, char *diag, size_t n) { return render_text(dir, source, diag, n); }

static int exists(const char *dir, const char *name)
{
    char p[256];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

static void failed_loads(const char *dir)
{
    char why[400] = "";
    bl_hyphen_wait(); /* no prefetch of an earlier render still uses ICU */
    bl_icu_use_library("libbulletin-test-no-such-icu.so.1");
    CHECK(bl_icu_check(why, sizeof why) == -1, "a missing library fails");
    CHECK(strstr(why, "cannot load ICU: ") == why && strstr(why, "libbulletin-test-no-such-icu.so.1"),
          "and says which: '%s'", why);

    /* A library that loads but is not ICU: the first missing function is named. */
    bl_hyphen_wait(); /* no prefetch of an earlier render still uses ICU */
    bl_icu_use_library("libz.so.1");
    CHECK(bl_icu_check(why, sizeof why) == -1, "a library without ICU's functions fails");
    CHECK(!strcmp(why, "cannot use ICU: libz.so.1 has no u_charDirection_" U_ICU_VERSION_SHORT), "why: '%s'", why);

    /* Through bulletin_render, with the load started in the background. */
    bl_hyphen_wait(); /* no prefetch of an earlier render still uses ICU */
    bl_icu_use_library("libbulletin-test-no-such-icu.so.1");
    char diag[1000];
    int rc = render(dir, diag, sizeof diag);
    CHECK(rc == 1, "render without ICU fails: %d", rc);
    CHECK(strstr(diag, "error: cannot load ICU: ") != NULL, "with the reason: '%s'", diag);
    CHECK(!exists(dir, "out.pdf"), "and writes no PDF");
}

static int saw_table; /* what queued work found when it ran */
static void queued(void *arg)
{
    saw_table = bl_icu_table != NULL && *(int *)arg == 42;
}

static void good_loads(const char *dir)
{
    bl_hyphen_wait(); /* no prefetch of an earlier render still uses ICU */
    bl_icu_use_library(NULL);
    char why[400] = "";
    CHECK(bl_icu_check(why, sizeof why) == 0, "ICU loads: '%s'", why);
    const bl_icu_api *icu = bl_icu();
    CHECK(icu->u_charDirection(0x05D0) == U_RIGHT_TO_LEFT && icu->u_charDirection('a') == U_LEFT_TO_RIGHT &&
              icu->u_charDirection(0x0627) == U_RIGHT_TO_LEFT_ARABIC,
          "its functions answer");
    CHECK(bl_icu_after(queued, &(int){0}) == -1, "no loader thread: nothing is queued");

    /* In the background, with work queued behind the load. */
    bl_hyphen_wait(); /* no prefetch of an earlier render still uses ICU */
    bl_icu_use_library(NULL);
    int answer = 42;
    bl_icu_preload();
    CHECK(bl_icu_after(queued, &answer) == 0, "work queued behind the load");
    bl_icu_drain();
    CHECK(saw_table, "ran after the load, with its argument");
    CHECK(bl_icu_after(queued, &answer) == -1, "nothing is queued once the queue is done");
    CHECK(bl_icu() != NULL && bl_icu_check(NULL, 0) == 0, "the table is ready");

    /* No helper threads: no loader thread, the first use loads. */
    bl_hyphen_wait(); /* no prefetch of an earlier render still uses ICU */
    bl_icu_use_library(NULL);
    bl_set_helpers(0);
    bl_icu_preload();
    CHECK(bl_icu_after(queued, &answer) == -1, "without helpers no loader thread starts");
    CHECK(__atomic_load_n(&bl_icu_table, __ATOMIC_ACQUIRE) == NULL, "and nothing is loaded yet");
    CHECK(bl_icu()->u_charDirection('1') == U_EUROPEAN_NUMBER, "the first use loads ICU");
    bl_set_helpers(1);

    /* A render after a failed one works: each load starts afresh. */
    bl_hyphen_wait(); /* no prefetch of an earlier render still uses ICU */
    bl_icu_use_library(NULL);
    char diag[1000];
    int rc = render(dir, diag, sizeof diag);
    CHECK(rc == 0 && exists(dir, "out.pdf"), "render with ICU: %d '%s'", rc, diag);
}

static cpu_set_t creator;
static void *thread_fn(void *arg)
{
    cpu_set_t mine;
    int *v = arg;
    v[1] = sched_getaffinity(0, sizeof mine, &mine) == 0 && CPU_EQUAL(&mine, &creator);
    v[2] = v[0] * 2;
    return v;
}

static void threads(void)
{
    CHECK(sched_getaffinity(0, sizeof creator, &creator) == 0, "the creator's processors");
    for (int i = 0; i < 8; i++) {
        int v[3] = {21 + i, 0, 0};
        pthread_t t;
        void *ret = NULL;
        CHECK(bl_thread_start(&t, thread_fn, v) == 0, "thread %d starts", i);
        CHECK(pthread_join(t, &ret) == 0 && ret == v, "thread %d returns its value", i);
        CHECK(v[2] == 2 * (21 + i), "thread %d got its argument", i);
        CHECK(v[1], "thread %d runs on all of its creator's processors (%d of them)", i, CPU_COUNT(&creator));
    }
}

static void late_libraries(const char *dir)
{
    /* fontconfig: Devanagari KA is in no layout font; Debian's
     * fonts-noto-core (tools/install-deps.sh) has it. */
    bl_fontconfig_library = "libbulletin-test-no-such-fontconfig.so.1";
    bl_face_cache_clear();
    CHECK(bl_face_system_fallback(0x0915, "hi") == NULL, "no fontconfig: no fallback");
    /* and the warning for a missing character says why */
    char diag[2000];
    int rc = render_text(dir, "---\nlanguages: [en]\ndate: 2021-11-24\ntitle: T\n---\nKa: \xE0\xA4\x95.\n", diag,
                         sizeof diag);
    CHECK(rc == 0 && strstr(diag, "warning: no font has U+0915; drawn as empty boxes (no system fonts to fall back "
                                  "on: libbulletin-test-no-such-fontconfig.so.1: "),
          "no fontconfig: the warning says why: %d '%s'", rc, diag);
    bl_fontconfig_library = "libfontconfig.so.1";
    bl_face_cache_clear();
    bl_face *f = bl_face_system_fallback(0x0915, "hi");
    CHECK(f && bl_face_glyph(f, 0x0915), "with fontconfig, a system font has U+0915");
    bl_face_cache_clear();

    /* hb-subset: the save fails and says why, and writes nothing. */
    const char *real = bl_subset_library;
    bl_subset_library = "libbulletin-test-no-such-subset.so.0";
    bl_pdf_subset_forget();
    rc = render(dir, diag, sizeof diag);
    CHECK(rc == 1 && strstr(diag, "cannot subset fonts: ") && strstr(diag, "libbulletin-test-no-such-subset.so.0"),
          "no hb-subset: %d '%s'", rc, diag);
    CHECK(!exists(dir, "out.pdf"), "and no PDF");
    bl_subset_library = real;
    bl_pdf_subset_forget();
    rc = render(dir, diag, sizeof diag);
    CHECK(rc == 0 && exists(dir, "out.pdf"), "hb-subset again: %d '%s'", rc, diag);
}

int main(void)
{
    bl_set_data_dir(".");
    char dir[] = "/tmp/bl-icu-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "scratch folder");
    threads();
    failed_loads(dir);
    good_loads(dir);
    late_libraries(dir);
    bulletin_shutdown();
    bl_test_cleanup(dir, bl_test_fail_count);
    return bl_test_done();
}
