/* icu.c - ICU, loaded at run time (see icu.h). */
#include "icu.h"
#include "base.h"
#include "dynlib.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uvernum.h>

/* The library the headers belong to: its soname carries ICU's major
 * version, as the function names do. */
#define ICU_LIBRARY "libicuuc.so." U_ICU_VERSION_SHORT

static bl_icu_api table;
const bl_icu_api *bl_icu_table;
static pthread_mutex_t icu_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t icu_cond = PTHREAD_COND_INITIALIZER;
static pthread_t loader;
/* Under icu_lock: */
static int started;    /* a load has begun (on the loader thread or inline) */
static int loaded;     /* it has ended (failed says how) */
static int joinable;   /* the loader thread is still to be joined */
static int queue_done; /* the loader thread has run its queue and takes no more */
#define AFTER_MAX 8
static struct {
    void (*fn)(void *);
    void *arg;
} after[AFTER_MAX];
static int nafter;
static int failed; /* written by the load before loaded is set; read under icu_lock */
static char failure[300];
static const char *library = ICU_LIBRARY;

static const char *const icu_names[] = {BL_ICU_FUNCTIONS(BL_DL_NAME)};
BL_DL_CHECK(bl_icu_api, icu_names);

static void load(void)
{
    char why[sizeof failure - 20];
    int rc = bl_dl_load(library, icu_names, BL_DL_COUNT(icu_names), &table, why, sizeof why);
    if (rc) {
        snprintf(failure, sizeof failure, "cannot %s ICU: %s", rc == -1 ? "load" : "use", why);
        failed = 1;
        return;
    }
    __atomic_store_n(&bl_icu_table, &table, __ATOMIC_RELEASE);
}

static void *loader_main(void *arg)
{
    (void)arg;
    load();
    pthread_mutex_lock(&icu_lock);
    loaded = 1;
    pthread_cond_broadcast(&icu_cond);
    for (int i = 0; i < nafter; i++) {
        pthread_mutex_unlock(&icu_lock);
        after[i].fn(after[i].arg);
        pthread_mutex_lock(&icu_lock);
    }
    queue_done = 1;
    pthread_cond_broadcast(&icu_cond);
    pthread_mutex_unlock(&icu_lock);
    return NULL;
}

void bl_icu_preload(void)
{
    if (!bl_helpers() || __atomic_load_n(&bl_icu_table, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&icu_lock);
    if (!started && bl_thread_start(&loader, loader_main, NULL) == 0)
        started = joinable = 1; /* if no thread starts, the first use loads ICU */
    pthread_mutex_unlock(&icu_lock);
}

int bl_icu_after(void (*fn)(void *), void *arg)
{
    pthread_mutex_lock(&icu_lock);
    int queued = joinable && !queue_done && nafter < AFTER_MAX;
    if (queued) {
        after[nafter].fn = fn;
        after[nafter++].arg = arg;
    }
    pthread_mutex_unlock(&icu_lock);
    return queued ? 0 : -1;
}

void bl_icu_drain(void)
{
    pthread_mutex_lock(&icu_lock);
    while (joinable && !queue_done)
        pthread_cond_wait(&icu_cond, &icu_lock);
    pthread_mutex_unlock(&icu_lock);
}

int bl_icu_check(char *why, size_t whylen)
{
    if (__atomic_load_n(&bl_icu_table, __ATOMIC_ACQUIRE))
        return 0;
    pthread_mutex_lock(&icu_lock);
    if (!started) {
        started = 1;
        load(); /* others wait on the lock meanwhile */
        loaded = 1;
    }
    while (!loaded)
        pthread_cond_wait(&icu_cond, &icu_lock);
    int f = failed;
    if (f && why && whylen)
        snprintf(why, whylen, "%s", failure);
    pthread_mutex_unlock(&icu_lock);
    return f ? -1 : 0;
}

int bl_icu_done(void)
{
    if (__atomic_load_n(&bl_icu_table, __ATOMIC_ACQUIRE))
        return 1;
    pthread_mutex_lock(&icu_lock);
    int done = loaded || !started;
    pthread_mutex_unlock(&icu_lock);
    return done;
}

const bl_icu_api *bl_icu_wait(void)
{
    char why[sizeof failure];
    if (bl_icu_check(why, sizeof why)) {
        fprintf(stderr, "bulletin: %s\n", why);
        abort();
    }
    return &table;
}

void bl_icu_shutdown(void)
{
    pthread_mutex_lock(&icu_lock);
    int join = joinable;
    pthread_mutex_unlock(&icu_lock);
    if (join) {
        pthread_join(loader, NULL); /* after its queue: queue_done is set */
        pthread_mutex_lock(&icu_lock);
        joinable = 0;
        pthread_mutex_unlock(&icu_lock);
    }
}

void bl_icu_use_library(const char *soname)
{
    bl_icu_shutdown();
    pthread_mutex_lock(&icu_lock);
    library = soname ? soname : ICU_LIBRARY;
    started = loaded = queue_done = nafter = failed = 0;
    failure[0] = 0;
    __atomic_store_n(&bl_icu_table, NULL, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&icu_lock);
}
