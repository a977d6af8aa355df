/* dynlib.c - libraries loaded at run time (see dynlib.h). */
#include "dynlib.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef void (*any_fn)(void);
_Static_assert(sizeof(any_fn) == sizeof(void *), "function and object pointers differ in size");

int bl_dl_load(const char *soname, const char *const *names, size_t n, void *table, char *why, size_t whylen)
{
    void *h = dlopen(soname, RTLD_LAZY | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(why, whylen, "%s", e ? e : soname);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        void *p = dlsym(h, names[i]);
        if (!p) {
            snprintf(why, whylen, "%s has no %s", soname, names[i]);
            return -2; /* the library stays loaded: dlclose could run its destructors */
        }
        /* dlsym's object pointer goes into a function pointer by its bytes,
         * as POSIX allows (ISO C has no conversion between the two). */
        memcpy((char *)table + i * sizeof(any_fn), &p, sizeof p);
    }
    return 0;
}

int bl_dl_need(bl_dl_lib *l)
{
    int st = __atomic_load_n(&l->state, __ATOMIC_ACQUIRE);
    if (st)
        return st > 0 ? 0 : -1;
    pthread_mutex_lock(&l->lock);
    st = l->state;
    if (!st) {
        st = bl_dl_load(*l->soname, l->names, l->n, l->table, l->why, sizeof l->why) ? -1 : 1;
        __atomic_store_n(&l->state, st, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&l->lock);
    return st > 0 ? 0 : -1;
}

int bl_dl_loaded(bl_dl_lib *l) { return __atomic_load_n(&l->state, __ATOMIC_ACQUIRE) > 0; }

const char *bl_dl_error(bl_dl_lib *l) { return __atomic_load_n(&l->state, __ATOMIC_ACQUIRE) < 0 ? l->why : NULL; }

void bl_dl_forget(bl_dl_lib *l)
{
    pthread_mutex_lock(&l->lock);
    __atomic_store_n(&l->state, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&l->lock);
}
