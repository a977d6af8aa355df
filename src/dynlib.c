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
