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
 * and calls fc.FcPatternCreate() once the load succeeded.  Loading is the
 * caller's to serialise (once, under its own lock). */
#ifndef BL_DYNLIB_H
#define BL_DYNLIB_H
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

#endif
