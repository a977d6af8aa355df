/* dynlib.h - libraries loaded at run time, when first needed.  Internal
 * header (not installed).
 *
 * Each shared library the program maps at start costs start-up time (0.3 ms
 * for fontconfig, libjpeg and hb-subset together on the benchmark machine),
 * and most runs never call these: fontconfig only for a character no layout
 * font has, libjpeg only for JPEG images, hb-subset only when the PDF is
 * saved.  A user declares a table of the functions it calls, named and typed
 * after the library's own declarations:
 *
 *   #define FC_FUNCTIONS(X) X(FcPatternCreate) X(FcPatternDestroy)
 *   static struct { FC_FUNCTIONS(BL_DL_FIELD) } fc;
 *   static const char *const fc_names[] = {FC_FUNCTIONS(BL_DL_NAME)};
 *   ... bl_dl_load("libfontconfig.so.1", fc_names, BL_DL_COUNT(fc_names), &fc, why, n)
 *
 * and calls fc.FcPatternCreate() once the load succeeded.  bl_dl_load is
 * the caller's to serialise; bl_dl_need (below) loads once, thread-safe. */
#ifndef BL_DYNLIB_H
#define BL_DYNLIB_H
#include <pthread.h>
#include <stddef.h>

#define BL_DL_STR_(x) #x
#define BL_DL_STR(x) BL_DL_STR_(x)
#define BL_DL_FIELD(f) __typeof__(&f) f;
#define BL_DL_NAME(f) BL_DL_STR(f),
#define BL_DL_COUNT(names) (sizeof(names) / sizeof *(names))
/* At file scope after the table and its names: bl_dl_load writes the table
 * by index, one function pointer per name. */
#define BL_DL_CHECK(table, names)                                                                  \
    _Static_assert(sizeof(table) == BL_DL_COUNT(names) * sizeof(void (*)(void)), "one function pointer per name")

/* Opens soname and stores the address of each of the n functions names[i]
 * in the i-th function pointer of table (a struct of n of them, in that
 * order).  Returns 0; -1 when the library cannot be loaded (why: dlerror's
 * message, which names it); -2 when it lacks a function (why: "SONAME has no
 * NAME").  After a failure table is partly filled, not to be used. */
int bl_dl_load(const char *soname, const char *const *names, size_t n, void *table, char *why, size_t whylen);

/* A library loaded once, by whichever thread first needs it:
 *
 *   const char *fc_library = "libfontconfig.so.1";   (tests may change it)
 *   static bl_dl_lib fc_lib = BL_DL_LIB(fc_library, fc_names, fc);
 *   if (bl_dl_need(&fc_lib)) ... fc_lib.why says why ... */
typedef struct bl_dl_lib {
    const char *const *soname; /* the variable that holds its name */
    const char *const *names;
    size_t n;
    void *table;
    pthread_mutex_t lock;
    int state;     /* atomic: 0 not loaded yet, 1 loaded, -1 cannot be */
    char why[300]; /* when it cannot be (set before state, kept until bl_dl_forget) */
} bl_dl_lib;
#define BL_DL_LIB(soname_var, names, table)                                                        \
    {&(soname_var), names, BL_DL_COUNT(names), &(table), PTHREAD_MUTEX_INITIALIZER, 0, ""}

/* Loads l unless that was done (or tried) before: 0, or -1 with the
 * reason in l->why. */
int bl_dl_need(bl_dl_lib *l);
/* Whether l is loaded, without loading it. */
int bl_dl_loaded(bl_dl_lib *l);
/* The reason l cannot be loaded, or NULL (not tried, or loaded). */
const char *bl_dl_error(bl_dl_lib *l);
/* Makes the next bl_dl_need load again (tests; the library stays mapped). */
void bl_dl_forget(bl_dl_lib *l);

#endif
