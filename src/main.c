/* main.c - the bulletin command. */
#include "bulletin.h"
#include "base.h"
#include "icu.h"
#include "text-bidi.h"
#include "text-font.h"
#include "text.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h> /* mallopt (glibc) */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_JOBS 256

static const char usage[] =
    "usage: bulletin [OPTIONS] SOURCE... -o OUT.pdf\n"
    "       bulletin [OPTIONS] [-j N] --outdir DIR SOURCE...\n"
    "Renders bilingual bulletins (YAML front matter + Markdown, one '::: LANG'\n"
    "section per language) to one PDF; each bulletin starts on a new page.\n"
    "SOURCE '-' reads standard input.\n"
    "\n"
    "  -o, --output FILE     the PDF to write (written whole or not at all)\n"
    "      --outdir DIR      batch mode: one PDF per source, DIR/NAME.pdf for\n"
    "                        SOURCE .../NAME.md (DIR is created if missing)\n"
    "  -j, --jobs N          batch mode: render N sources at a time (default:\n"
    "                        the number of processors); with -o, -j 1 keeps all\n"
    "                        work on one thread (default: helper threads)\n"
    "  -l, --layout NAME|FILE  parallel (default for 2+ languages), stacked,\n"
    "                        single, letter, mod, or a layout .yaml file\n"
    "      --lang TAG        only this language (implies --layout single)\n"
    "      --allow-unpaired  sections with different block counts: pair what\n"
    "                        can be paired, warn instead of failing\n"
    "      --trace FILE      also write the layout as JSON (not with --outdir)\n"
    "  -q, --quiet           no warnings\n"
    "  -h, --help            this help\n"
    "  -V, --version         the version\n"
    "\n"
    "Exit status: 0 success, 1 input or rendering error (in batch mode: any\n"
    "source failed; the others are still written), 2 usage error.\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "bulletin: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'bulletin --help'.\n");
    return 2;
}

/* ---- batch mode: one PDF per source, N worker threads ---------------------
 *
 * Each job is one bulletin_render() call with its own options and its own
 * diagnostics stream; what it shares with the other jobs is process-wide and
 * locked where it is mutable (the face cache, the line-break iterator pools,
 * the hyphenation dictionaries).  bl_data_dir() caches its answer without a
 * lock, so main() asks once before any thread starts.
 *
 * Diagnostics are collected per job (open_memstream) and printed in source
 * order as soon as every earlier job has finished, so that two jobs' messages
 * never interleave and the output does not depend on scheduling.
 *
 * A finished PDF is handed over (bulletin_options.publish) to one more
 * thread, which syncs it to disk and renames it into place, so that the
 * workers never wait for the disk: fsync, and the flush that a rename over
 * an existing file causes on ext4, were a fifth of -j 2's wall time
 * (measured on 100 outputs).  It publishes files in groups of up to GROUP
 * with one sync of the file system for the group (bulletin_publish_group):
 * a fsync per file still cost 14% of -j 2's wall time and 900 context
 * switches per 100 outputs.  A file waits at most GROUP_WAIT_MS for others,
 * and not at all once every source has been rendered.  A job is done, and
 * its diagnostics printed, once it has been rendered and its file
 * published. */
#define GROUP 16
#define GROUP_WAIT_MS 50
typedef struct batch batch;

typedef struct job {
    batch *b;
    const char *source;
    char *output;     /* DIR/NAME.pdf, owned */
    char *diag;       /* collected diagnostics, owned (malloc'd by open_memstream) */
    size_t diag_len;
    int status;       /* bulletin_render's: 0 ok, 1 failed */
    int rendered, done;
    char *tmp;        /* handed over, waiting to be published (owned) */
    struct timespec queued_at; /* when (CLOCK_MONOTONIC) */
    int published;    /* 1 ok, -1 failed (why) */
    char why[300];
    struct job *next; /* in the publishing queue */
} job;

struct batch {
    job *jobs;
    int njobs;
    const bulletin_options *base;
    pthread_mutex_t lock; /* guards everything below and every job's flags */
    int next;             /* the next job to start */
    int printed;          /* jobs [0, printed) have had their diagnostics printed */
    int publishing;       /* the publishing thread runs */
    pthread_cond_t wake;  /* for it: a file was queued, every source rendered, or stop */
    job *queue, *last;
    int queued;           /* files in the queue */
    int unrendered;       /* sources not yet rendered */
    int stop;
};

/* bulletin_options.publish: queues the file (called on a worker). */
static int hand_over(void *ctx, const char *tmp, const char *output)
{
    (void)output;
    job *j = ctx;
    char *t = strdup(tmp);
    if (!t)
        return -1;
    pthread_mutex_lock(&j->b->lock);
    j->tmp = t;
    clock_gettime(CLOCK_MONOTONIC, &j->queued_at);
    j->b->queued++;
    j->next = NULL;
    if (j->b->last)
        j->b->last->next = j;
    else
        j->b->queue = j;
    j->b->last = j;
    pthread_cond_signal(&j->b->wake);
    pthread_mutex_unlock(&j->b->lock);
    return 0;
}

static void flush_finished_locked(batch *b);

/* With b->lock held: the job is done once rendered and, if it handed its
 * file over, published; a failed publish becomes its error. */
static void finish_locked(batch *b, job *j)
{
    if (!j->rendered || j->done || (j->tmp && !j->published))
        return;
    if (j->published < 0) {
        char msg[1024];
        int n = snprintf(msg, sizeof msg, "%s: error: cannot write the PDF: %s: %s\n", j->output, j->output, j->why);
        char *d = n > 0 ? realloc(j->diag, j->diag_len + (size_t)n + 1) : NULL;
        if (d) {
            memcpy(d + j->diag_len, msg, (size_t)n + 1);
            j->diag = d;
            j->diag_len += (size_t)n;
        } else {
            fputs(msg, stderr);
        }
        j->status = 1;
    }
    j->done = 1;
    flush_finished_locked(b);
}

static void *publisher(void *arg)
{
    batch *b = arg;
    char why[GROUP][sizeof ((job *)0)->why];
    pthread_mutex_lock(&b->lock);
    for (;;) {
        if (!b->queue) {
            if (b->stop)
                break;
            pthread_cond_wait(&b->wake, &b->lock);
            continue;
        }
        if (b->queued < GROUP && b->unrendered > 0 && !b->stop) {
            struct timespec until = b->queue->queued_at;
            until.tv_nsec += GROUP_WAIT_MS * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            if (pthread_cond_timedwait(&b->wake, &b->lock, &until) != ETIMEDOUT)
                continue; /* look again: more files, or the last render done */
        }
        job *grp[GROUP];
        const char *tmp[GROUP], *out[GROUP];
        int failed[GROUP], n = 0;
        while (b->queue && n < GROUP) {
            job *j = b->queue;
            b->queue = j->next;
            tmp[n] = j->tmp;
            out[n] = j->output;
            grp[n++] = j;
        }
        if (!b->queue)
            b->last = NULL;
        b->queued -= n;
        pthread_mutex_unlock(&b->lock);
        bulletin_publish_group(tmp, out, n, failed, why[0], sizeof why[0]);
        pthread_mutex_lock(&b->lock);
        for (int i = 0; i < n; i++) {
            grp[i]->published = failed[i] ? -1 : 1;
            memcpy(grp[i]->why, why[i], sizeof why[i]);
            finish_locked(b, grp[i]);
        }
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

static void run_job(const batch *b, job *j)
{
    bulletin_options o = *b->base;
    o.output = j->output;
    FILE *mem = open_memstream(&j->diag, &j->diag_len);
    o.diag_out = mem ? mem : stderr; /* no memory for a buffer: print directly */
    o.threads = 1; /* the -j workers keep the processors busy already */
    if (b->publishing) {
        o.publish = hand_over;
        o.publish_ctx = j;
    }
    j->status = bulletin_render(&j->source, 1, &o);
    if (mem && fclose(mem)) {
        free(j->diag);
        j->diag = NULL;
        j->diag_len = 0;
    }
}

/* Prints the diagnostics of every finished job whose predecessors have all
 * been printed; called with b->lock held. */
static void flush_finished_locked(batch *b)
{
    while (b->printed < b->njobs && b->jobs[b->printed].done) {
        job *j = &b->jobs[b->printed++];
        if (j->diag_len)
            fwrite(j->diag, 1, j->diag_len, stderr);
        free(j->diag);
        j->diag = NULL;
    }
    fflush(stderr);
}

static void *worker(void *arg)
{
    batch *b = arg;
    for (;;) {
        pthread_mutex_lock(&b->lock);
        int i = b->next < b->njobs ? b->next++ : -1;
        pthread_mutex_unlock(&b->lock);
        if (i < 0)
            return NULL;
        run_job(b, &b->jobs[i]);
        pthread_mutex_lock(&b->lock);
        b->jobs[i].rendered = 1;
        if (--b->unrendered == 0)
            pthread_cond_signal(&b->wake); /* publish what waits, now */
        finish_locked(b, &b->jobs[i]);
        pthread_mutex_unlock(&b->lock);
    }
}

/* DIR/NAME.pdf for SOURCE .../NAME.ext (the last extension is dropped;
 * "x.en-he.md" gives "x.en-he.pdf").  Returns a malloc'd path or NULL. */
static char *output_path(const char *dir, const char *source)
{
    const char *base = strrchr(source, '/');
    base = base ? base + 1 : source;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    char *p = malloc(dl + 1 + n + sizeof ".pdf");
    if (p)
        sprintf(p, "%.*s/%.*s.pdf", (int)dl, dir, (int)n, base);
    return p;
}

static int parse_jobs(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > MAX_JOBS)
        return -1;
    *out = (int)v;
    return 0;
}

static int default_jobs(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_JOBS ? MAX_JOBS : (int)n;
}

/* Returns the exit status: 0 all written, 1 any source failed. */
static int run_batch(const char *const *src, int nsrc, const char *outdir, int njobs,
                     const bulletin_options *o)
{
    struct stat st;
    if (mkdir(outdir, 0777) && (errno != EEXIST || stat(outdir, &st) || !S_ISDIR(st.st_mode))) {
        fprintf(stderr, "%s: error: cannot create the output folder: %s\n", outdir,
                strerror(errno == EEXIST ? ENOTDIR : errno));
        return 1;
    }
    batch b = {.jobs = calloc((size_t)nsrc, sizeof *b.jobs), .njobs = nsrc, .base = o, .unrendered = nsrc};
    if (!b.jobs) {
        fprintf(stderr, "bulletin: error: out of memory\n");
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < nsrc; i++) {
        b.jobs[i].b = &b;
        b.jobs[i].source = src[i];
        if (!(b.jobs[i].output = output_path(outdir, src[i]))) {
            fprintf(stderr, "bulletin: error: out of memory\n");
            rc = 1;
            goto done;
        }
    }
    pthread_mutex_init(&b.lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* queued_at's clock */
    pthread_cond_init(&b.wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_t pub;
    b.publishing = bl_thread_start(&pub, publisher, &b) == 0; /* else each render publishes */
    if (njobs > nsrc)
        njobs = nsrc;
    pthread_t tid[MAX_JOBS];
    int started = 0;
    /* The calling thread is one of the workers. */
    for (int t = 1; t < njobs; t++) {
        if (bl_thread_start(&tid[started], worker, &b))
            break; /* fewer threads still finish every job */
        started++;
    }
    worker(&b);
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    if (b.publishing) { /* it publishes what is queued, then stops */
        pthread_mutex_lock(&b.lock);
        b.stop = 1;
        pthread_cond_signal(&b.wake);
        pthread_mutex_unlock(&b.lock);
        pthread_join(pub, NULL);
    }
    pthread_cond_destroy(&b.wake);
    pthread_mutex_destroy(&b.lock);
    for (int i = 0; i < nsrc; i++)
        if (b.jobs[i].status)
            rc = 1;
done:
    for (int i = 0; i < nsrc; i++) {
        free(b.jobs[i].output);
        free(b.jobs[i].diag);
        free(b.jobs[i].tmp);
    }
    free(b.jobs);
    return rc;
}

/* Two sources that would write the same DIR/NAME.pdf are a usage error.
 * Returns the second of two such sources, or NULL; *oom is set when there was
 * no memory to check. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *duplicate_output(const char *const *src, int nsrc, int *oom)
{
    char **names = calloc((size_t)nsrc, sizeof *names);
    const char *dup = NULL;
    *oom = !names;
    for (int i = 0; names && i < nsrc; i++)
        if (!(names[i] = output_path(".", src[i])))
            *oom = 1;
    if (!*oom) {
        qsort(names, (size_t)nsrc, sizeof *names, cmp_str);
        for (int i = 1; i < nsrc && !dup; i++)
            if (!strcmp(names[i - 1], names[i])) {
                /* report a source as the user wrote it */
                for (int k = nsrc - 1; k >= 0 && !dup; k--) {
                    char *p = output_path(".", src[k]);
                    if (p && !strcmp(p, names[i]))
                        dup = src[k];
                    free(p);
                }
            }
    }
    for (int i = 0; names && i < nsrc; i++)
        free(names[i]);
    free(names);
    return dup;
}

int main(int argc, char **argv)
{
    /* A run is short and its large blocks (a dictionary's cache entry, the
     * compressors, page buffers) are freed and allocated again: kept in the
     * heap, their pages are reused instead of being mapped, faulted in and
     * unmapped each time (which also interrupts the other processor to flush
     * its TLB).  Measured: 30 fewer page faults and -0.25 ms of CPU per
     * bulletin; peak memory of 2,000 pages 37.6 -> 37.8 MB. */
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    bulletin_options o;
    bulletin_options_init(&o);
    const char **src = calloc((size_t)argc + 1, sizeof *src);
    const char *outdir = NULL, *jobs_arg = NULL;
    int nsrc = 0, rc, njobs = 0;
    if (!src)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **val = NULL;
        if (!strcmp(a, "-o") || !strcmp(a, "--output"))
            val = &o.output;
        else if (!strcmp(a, "--outdir"))
            val = &outdir;
        else if (!strcmp(a, "-j") || !strcmp(a, "--jobs"))
            val = &jobs_arg;
        else if (!strcmp(a, "-l") || !strcmp(a, "--layout"))
            val = &o.layout;
        else if (!strcmp(a, "--lang"))
            val = &o.lang;
        else if (!strcmp(a, "--trace"))
            val = &o.trace;
        else if (!strcmp(a, "--allow-unpaired")) {
            o.allow_unpaired = 1;
            continue;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o.quiet = 1;
            continue;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            free(src);
            return 0;
        } else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            printf("bulletin %s\n", bulletin_version());
            free(src);
            return 0;
        } else if (a[0] == '-' && a[1]) {
            free(src);
            return usage_error("unknown option '%s'", a);
        } else {
            src[nsrc++] = a;
            continue;
        }
        if (i + 1 >= argc) {
            free(src);
            return usage_error("option '%s' needs a value", a);
        }
        *val = argv[++i];
    }
    const char *why = NULL, *what = "%s";
    if (!nsrc)
        why = "no source file given";
    else if (jobs_arg && parse_jobs(jobs_arg, &njobs))
        why = jobs_arg, what = "-j needs a number of jobs from 1 to 256, not '%s'";
    else if (outdir && o.output)
        why = "-o and --outdir exclude each other (--outdir writes one PDF per source)";
    else if (outdir && o.trace)
        why = "--trace cannot be used with --outdir";
    else if (!outdir && !o.output)
        why = "no output file given (-o OUT.pdf)";
    else if (outdir && !*outdir)
        why = "--outdir needs a folder name";
    if (!why && outdir) {
        for (int i = 0; i < nsrc && !why; i++)
            if (!strcmp(src[i], "-"))
                why = "standard input ('-') has no name to write under --outdir; use -o";
        int oom = 0;
        const char *dup = why ? NULL : duplicate_output(src, nsrc, &oom);
        if (oom) {
            free(src);
            fprintf(stderr, "bulletin: error: out of memory\n");
            return 1;
        }
        if (dup)
            why = dup, what = "two sources would write the same file under --outdir ('%s')";
    }
    if (why) {
        free(src);
        return usage_error(what, why);
    }
    if (njobs != 1)
        bl_icu_preload(); /* while sources and layouts are read (-j 1: no other thread) */
    if (outdir) {
        bl_data_dir(); /* caches its answer unlocked: ask before threads start */
        rc = run_batch(src, nsrc, outdir, njobs ? njobs : default_jobs(), &o);
    } else {
        o.threads = njobs == 1; /* -j 1: one thread; else helpers may take a second core */
#if !defined(__SANITIZE_ADDRESS__) && !defined(BL_FREE_AT_EXIT)
        o.leave_memory = 1; /* main returns right after */
#endif
        rc = bulletin_render(src, nsrc, &o);
    }
    free(src);
#if defined(__SANITIZE_ADDRESS__) || defined(BL_FREE_AT_EXIT)
    bulletin_shutdown(); /* LeakSanitizer checks that everything is freed (or -DBL_FREE_AT_EXIT) */
#else
    /* The process ends here: the kernel takes back fonts, dictionaries and
     * caches faster than freeing them one by one (0.5 ms of a 12 ms run).
     * Background loads are waited for: one may be writing a cache file. */
    bl_hyphen_wait();
#endif
    return rc;
}
