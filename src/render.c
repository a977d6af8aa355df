/* render.c - the pipeline: source files -> document model -> layout -> PDF. */
#include "bulletin.h"
#include "doc.h"
#include "icu.h"
#include "layout.h"
#include "pdf.h"
#include "pdf-font.h"
#include "text-bidi.h"
#include "text.h"
#include "text-font.h"
#include "trace.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SOURCE_MAX_BYTES (16u * 1024 * 1024)

const char *bulletin_version(void) { return BL_VERSION; }

void bulletin_options_init(bulletin_options *o)
{
    memset(o, 0, sizeof *o);
}

int bulletin_publish(const char *tmp, const char *output, char *why, size_t whylen)
{
    return bl_pdf_publish(tmp, output, why, whylen);
}

int bulletin_publish_group(const char *const *tmp, const char *const *output, int n, int *failed, char *why,
                           size_t whylen)
{
    return bl_pdf_publish_group(tmp, output, n, failed, why, whylen);
}

static int is_path(const char *s)
{
    size_t n = strlen(s);
    return strchr(s, '/') || (n > 5 && !strcmp(s + n - 5, ".yaml")) || (n > 4 && !strcmp(s + n - 4, ".yml"));
}

/* The layout for one bulletin: --layout, else its own `layout:`, else the
 * default for its language count.  A relative path in a source resolves
 * against the source's folder. */
static bl_layout *layout_for(const bl_bulletin *b, const bulletin_options *o, bl_diag *d)
{
    const char *name = o->layout ? o->layout : b->layout ? b->layout : b->nlangs > 1 ? "parallel" : "single";
    if (o->lang && !o->layout)
        name = "single";
    char path[4096];
    if (!o->layout && b->layout && is_path(b->layout) && b->layout[0] != '/') {
        const char *slash = strrchr(b->file->name, '/');
        snprintf(path, sizeof path, "%.*s%s", slash ? (int)(slash - b->file->name + 1) : 0, b->file->name,
                 b->layout);
        name = path;
    }
    if (!is_path(name)) {
        const char *dir = bl_data_dir();
        char p[8200];
        struct stat st;
        snprintf(p, sizeof p, "%s/layouts/%s.yaml", dir ? dir : ".", name);
        if (!dir || stat(p, &st)) {
            if (!o->layout && b->layout)
                bl_diag_at(d, BL_ERROR, b->file, b->layout_off,
                           "unknown layout '%s' (built in: parallel, stacked, single, letter, mod; or a .yaml path)",
                           name);
            else
                bl_diag_at(d, BL_ERROR, NULL, 0,
                           "unknown layout '%s' (built in: parallel, stacked, single, letter, mod; or a .yaml path)",
                           name);
            return NULL;
        }
    }
    bl_layout *l = bl_layout_load(name, d);
    if (!l && !o->layout && b->layout)
        bl_diag_at(d, BL_NOTE, b->file, b->layout_off, "the layout is named here");
    return l;
}

/* Layouts are kept for the whole process (a packet of a hundred bulletins
 * usually shares one, and batch mode renders hundreds of outputs with it)
 * while their files are unchanged.  Shared read-only between threads. */
#define LAYOUT_CACHE 16
static pthread_mutex_t layout_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char *key;
    bl_layout *l;
} layout_cache[LAYOUT_CACHE];

static void layout_slot_clear(int k) /* layout_lock held */
{
    free(layout_cache[k].key);
    bl_layout_free(layout_cache[k].l);
    layout_cache[k].key = NULL;
    layout_cache[k].l = NULL;
}

/* A reference to the cached layout for key, or NULL. */
static bl_layout *cached_layout(const char *key)
{
    bl_layout *l = NULL;
    pthread_mutex_lock(&layout_lock);
    for (int k = 0; k < LAYOUT_CACHE && !l; k++)
        if (layout_cache[k].key && !strcmp(layout_cache[k].key, key)) {
            if (bl_layout_unchanged(layout_cache[k].l)) {
                l = bl_layout_keep(layout_cache[k].l);
            } else { /* edited since: forget it */
                layout_slot_clear(k);
            }
        }
    pthread_mutex_unlock(&layout_lock);
    return l;
}

static void cache_layout(const char *key, bl_layout *l)
{
    pthread_mutex_lock(&layout_lock);
    int k = 0;
    while (k < LAYOUT_CACHE && layout_cache[k].key && strcmp(layout_cache[k].key, key))
        k++;
    if (k < LAYOUT_CACHE && !layout_cache[k].key && (layout_cache[k].key = bl_strdup(key)))
        layout_cache[k].l = bl_layout_keep(l);
    pthread_mutex_unlock(&layout_lock);
}

/* The process's first render starts a warm-up (warm_start, below); the
 * faces it warms go with bulletin_shutdown, so a later render warms again. */
static int warmed;

void bulletin_shutdown(void)
{
    __atomic_store_n(&warmed, 0, __ATOMIC_RELEASE);
    pthread_mutex_lock(&layout_lock);
    for (int k = 0; k < LAYOUT_CACHE; k++)
        layout_slot_clear(k);
    pthread_mutex_unlock(&layout_lock);
    bl_pdf_font_cache_clear();
    bl_pdf_deflate_cache_clear();
    bl_pdf_mem_trim();
    bl_face_cache_clear();
    bl_layout_shutdown(); /* before the text engine: its thread holds shaping caches */
    bl_hyphen_shutdown();
    bl_text_shutdown();
    bl_icu_shutdown();
}

/* The first render of a process warms the layout's faces on a second
 * thread (HarfBuzz's first shaping with a face builds its lookup tables):
 * in reverse order, so that the faces shaped first, the first language's
 * body text, are reached last and the threads rarely do the same work. */
typedef struct warm_job {
    char *paths[64];
    const char *langs[64]; /* the language each is first for */
    int n;
} warm_job;

static void warm_face(const char *path, const char *lang, int for_save)
{
    char err[256];
    bl_face *f = bl_face_cache_get(path, err, sizeof err);
    if (f) {
        bl_text_warm(f, lang);
        if (for_save)
            bl_pdf_font_warm(f); /* and hb-subset's tables */
    }
}

static void *warm_main(void *arg)
{
    warm_job *w = arg;
    for (int i = w->n - 1; i >= 0; i--)
        warm_face(w->paths[i], w->langs[i], 1);
    return NULL;
}

/* Lists the layout's faces in w (on a process's first render, with helpers
 * allowed) and starts warming them; returns whether a thread started.  A
 * parallel layout of two languages gets no thread: its second column is set
 * on a helper thread (layout-page.c), which warms that language's faces as it
 * goes, and a third thread only slowed both columns down (0.4 ms). */
static int warm_start(const bl_layout *l, const bl_bulletin *b, warm_job *w, pthread_t *t)
{
    w->n = 0;
    if (!bl_helpers() || __atomic_exchange_n(&warmed, 1, __ATOMIC_ACQ_REL))
        return 0;
    /* Each role's first face, in the order text is likely to need them
     * (italics are rare: their face is left to the text that has some): a
     * stack's fallbacks open only if some character needs them (text.h). */
    static const int roles[] = {BL_ROLE_REGULAR, BL_ROLE_BOLD, BL_ROLE_SANS, BL_ROLE_SANS_BOLD};
    for (int i = 0; i < b->nlangs; i++) {
        const bl_lang_cfg *c = bl_layout_lang(l, b->langs[i]);
        for (size_t r = 0; c && r < sizeof roles / sizeof *roles; r++) {
            char *path = c->fonts[roles[r]][0];
            int dup = !path;
            for (int j = 0; j < w->n && !dup; j++)
                dup = !strcmp(w->paths[j], path);
            if (!dup && w->n < 64) {
                w->langs[w->n] = b->langs[i];
                w->paths[w->n++] = path;
            }
        }
    }
    if (l->arrangement == BL_ARR_PARALLEL && b->nlangs == 2)
        return 0;
    return w->n > 0 && bl_thread_start(t, warm_main, w) == 0;
}

static int render(const char *const *sources, int nsources, const bulletin_options *o);

static void preload_subset(void *arg)
{
    (void)arg;
    bl_pdf_subset_preload();
}

int bulletin_render(const char *const *sources, int nsources, const bulletin_options *o)
{
    int was = bl_helpers();
    bl_set_helpers(o->threads != 1);
    int rc = render(sources, nsources, o);
    bl_set_helpers(was);
    return rc;
}

static int render(const char *const *sources, int nsources, const bulletin_options *o)
{
    bl_diag d;
    bl_diag_init(&d, o->diag_out ? o->diag_out : stderr);
    d.quiet_warnings = o->quiet;
    if (!o->output) {
        bl_diag_at(&d, BL_ERROR, NULL, 0, "no output file given (-o OUT.pdf)");
        return 1;
    }
    bl_icu_preload();     /* first: its load is what the text engine waits for */
    bl_layout_prestart(); /* it waits for the first parallel bulletin */
    bl_bulletin **bs = calloc((size_t)nsources + 1, sizeof *bs);
    if (!bs)
        return 1;
    int failed = 0;
    for (int i = 0; i < nsources; i++) {
        char err[256];
        bl_file *f = bl_file_read(sources[i], SOURCE_MAX_BYTES, err, sizeof err);
        if (!f) {
            bl_diag_file(&d, BL_ERROR, sources[i], "%s", err);
            failed = 1;
            continue;
        }
        bl_source_opts so = {o->allow_unpaired, o->lang};
        bs[i] = bl_source_parse(f, &so, &d);
        if (!bs[i])
            failed = 1;
        /* Hyphenation dictionaries take milliseconds to load: start now, in
         * the background, while layouts and fonts are read and paragraphs
         * shaped (even if the layout turns out not to hyphenate). */
        for (int k = 0; bs[i] && k < bs[i]->nlangs; k++)
            bl_hyphen_prefetch(bs[i]->langs[k]);
        if (bl_diag_full(&d))
            break;
    }
    if (bl_helpers()) /* -j 1: nothing on another thread */
        bl_icu_after(preload_subset, NULL); /* after the dictionaries: hb-subset, for the save */
    bl_pdf *pdf = NULL;
    bl_trace *trace = NULL;
    if (failed)
        goto done;

    const bl_text *t0 = &bs[0]->title;
    bl_pdf_info info = {.title = bl_text_get(t0, 0), .author = bl_text_get(&bs[0]->issuer, 0),
                        .creator = "bulletin " BL_VERSION, .compress = 1};
    pdf = bl_pdf_new(&info);
    trace = o->trace ? bl_trace_new() : NULL;
    if (!pdf || (o->trace && !trace)) {
        bl_diag_at(&d, BL_ERROR, NULL, 0, "out of memory");
        failed = 1;
        goto done;
    }
    bl_tee tee;
    int page = 0;
    /* Bulletins are freed as soon as they are drawn, so memory grows with
     * pages, not with the sources. */
    for (int i = 0; i < nsources && !failed; i++) {
        char key[4200];
        snprintf(key, sizeof key, "%s|%s|%s|%s", o->layout ? o->layout : "", bs[i]->layout ? bs[i]->layout : "",
                 bs[i]->nlangs > 1 ? "m" : "1", o->lang ? "l" : "");
        /* A layout path relative to the source's folder (any path layout_for
         * resolves there, "custom.yaml" too) differs by source. */
        int relative = !o->layout && bs[i]->layout && is_path(bs[i]->layout) && bs[i]->layout[0] != '/';
        bl_layout *l = relative ? NULL : cached_layout(key);
        if (!l) {
            int warnings = d.warnings;
            l = layout_for(bs[i], o, &d);
            if (!l) {
                failed = 1;
                break;
            }
            if (!relative && d.warnings == warnings) /* warnings are given on every render */
                cache_layout(key, l);
        }
        warm_job warm;
        pthread_t warm_thread;
        int warming = warm_start(l, bs[i], &warm, &warm_thread); /* needs no ICU */
        /* While ICU loads, the faces the layout uses first (a warm-up
         * thread, if any, takes them from the other end). */
        for (int k = 0; k < warm.n && !bl_icu_done(); k++)
            warm_face(warm.paths[k], warm.langs[k], 0);
        char why[300];
        if (bl_icu_check(why, sizeof why)) { /* the text engine needs it from here on */
            bl_diag_at(&d, BL_ERROR, NULL, 0, "%s", why);
            if (warming)
                pthread_join(warm_thread, NULL);
            bl_layout_free(l);
            failed = 1;
            break;
        }
        /* The last bulletin's glyphs are the fonts' last: their files can
         * be made while its pages are drawn (pdf.h). */
        bl_pdf_forecast(pdf, i == nsources - 1);
        bl_device *dev = bl_pdf_device(pdf);
        if (trace) {
            bl_tee_init(&tee, dev, bl_trace_device(trace));
            dev = &tee.dev;
        }
        bl_layout_stats st = {0};
        bl_text_next_document();
        if (bl_layout_bulletin(bs[i], l, dev, &d, &st))
            failed = 1;
        else if (nsources > 1)
            bl_pdf_bookmark(pdf, page, bl_text_get(&bs[i]->title, 0));
        if (warming)
            pthread_join(warm_thread, NULL); /* it borrows the layout's paths */
        page += st.pages;
        bl_layout_free(l);
        bl_bulletin_free(bs[i]); /* the PDF and the trace keep copies of what they need */
        bs[i] = NULL;
    }
    if (!failed && bl_pdf_save_with(pdf, o->output, trace ? NULL : o->publish, o->publish_ctx)) {
        bl_diag_file(&d, BL_ERROR, o->output, "cannot write the PDF: %s", bl_pdf_error(pdf));
        failed = 1;
    }
    if (!failed && trace && bl_trace_save(trace, o->trace)) {
        bl_diag_file(&d, BL_ERROR, o->trace, "cannot write the trace");
        unlink(o->output);
        failed = 1;
    }
done:
    if (o->leave_memory && !failed) /* the process ends: the kernel takes it all back at once */
        return d.errors ? 1 : 0;
    bl_pdf_free(pdf);
    bl_trace_free(trace);
    for (int i = 0; i < nsources; i++)
        bl_bulletin_free(bs[i]);
    free(bs);
    return failed || d.errors ? 1 : 0;
}
