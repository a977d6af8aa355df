/* icu.h - ICU, loaded at run time.  Internal header (not installed).
 *
 * Mapping ICU and its C++ runtime takes about 1.5 ms at process start on the
 * benchmark machine, an eighth of a whole one-bulletin run, and ICU is not
 * needed until paragraphs are shaped.  So the program does not link it:
 * bl_icu_preload starts loading it (dlopen) on a helper thread as soon as the
 * process starts, and the text engine reaches the functions through the table
 * bl_icu() returns, which waits for that load if it is still under way (or
 * loads it there and then, when no helper thread was started).
 *
 * The table's fields are named and typed after ICU's own declarations
 * (__typeof__), with ICU's version renaming (u_charDirection is
 * u_charDirection_72 in ICU 72), so a call reads icu->u_charDirection(c) and
 * a prototype change in ICU is a compile error. */
#ifndef BL_ICU_H
#define BL_ICU_H
#include "dynlib.h"
#include <stddef.h>
#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/uloc.h>
#include <unicode/uscript.h>
#include <unicode/utext.h>

#define BL_ICU_FUNCTIONS(X)                                                                       \
    X(u_charDirection) X(u_charType) X(u_getBidiPairedBracket) X(u_getIntPropertyValue)         \
    X(u_isdigit) X(u_tolower) X(ubrk_open) X(ubrk_clone) X(ubrk_close) X(ubrk_first)            \
    X(ubrk_next) X(ubrk_getRuleStatus) X(ubrk_setUText) X(uloc_forLanguageTag)                  \
    X(uloc_getLanguage) X(uloc_getCountry) X(uloc_addLikelySubtags) X(uscript_getScript)         \
    X(uscript_getShortName) X(utext_openUTF8) X(utext_close)

typedef struct bl_icu_api {
    BL_ICU_FUNCTIONS(BL_DL_FIELD)
} bl_icu_api;

/* Starts loading ICU on a helper thread, if bl_helpers() allows one and no
 * load has started; otherwise does nothing (the first use loads it). */
void bl_icu_preload(void);

/* Runs fn(arg) on the loader thread once ICU is loaded (or has failed to
 * load) and returns 0; or returns -1 when no loader thread is running, or it
 * has finished.  For work that needs ICU and would otherwise start a thread
 * of its own: a thread started while dlopen runs waits for it (glibc's
 * loader lock), so such work would hold up its caller. */
int bl_icu_after(void (*fn)(void *), void *arg);
/* Waits until the loader thread has run all that bl_icu_after gave it. */
void bl_icu_drain(void);

/* Waits for the loader thread to end (bulletin_shutdown). */
void bl_icu_shutdown(void);

/* For tests: forgets any load, so that the next one starts afresh, from
 * soname (NULL: the ICU of the headers, libicuuc.so.NN).  Only while no
 * other thread uses ICU. */
void bl_icu_use_library(const char *soname);

/* Waits for ICU (loading it now if nothing has started to) and returns 0, or
 * -1 with the reason in why (the library is missing or lacks a function).
 * Callers that can report an error call this before the text engine runs. */
int bl_icu_check(char *why, size_t whylen);

/* Whether a load has ended (successfully or not): bl_icu_check would not
 * wait.  For callers with other work to do meanwhile. */
int bl_icu_done(void);

/* The table, once loaded.  The text engine's functions are reached only
 * after a successful bl_icu_check (bulletin_render's order) or in tests, so a
 * failed load here is a broken installation: bl_icu_wait prints the reason
 * and aborts. */
extern const bl_icu_api *bl_icu_table; /* atomic */
const bl_icu_api *bl_icu_wait(void);
static inline const bl_icu_api *bl_icu(void)
{
    const bl_icu_api *t = __atomic_load_n(&bl_icu_table, __ATOMIC_ACQUIRE);
    return t ? t : bl_icu_wait();
}

#endif
