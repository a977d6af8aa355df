/* text-bidi.h - Unicode Bidirectional Algorithm (UAX #9) on UTF-8 text, and
 * UAX #14 line-break opportunities and hyphenation.  Built on ICU (ubidi,
 * ubrk with UText over UTF-8) and libhyphen.  Internal header. */
#ifndef BL_TEXT_BIDI_H
#define BL_TEXT_BIDI_H
#include <stddef.h>
#include <stdint.h>

enum { BL_DIR_LTR = 0, BL_DIR_RTL = 1, BL_DIR_AUTO = 2 };

/* Resolves embedding levels for one paragraph of UTF-8 text (s, n bytes; must
 * be valid UTF-8).  base is BL_DIR_LTR, BL_DIR_RTL or BL_DIR_AUTO (rules P2-P3).
 * levels receives n bytes: every byte of a character gets that character's
 * level (rules up to I2, including bracket pairs N0 and isolates).  Rule L1 is
 * NOT applied here (it depends on the line).  *para_level receives the
 * paragraph level.  Returns 0, or -1 on failure (out of memory, ICU error). */
int bl_bidi_levels(const char *s, size_t n, int base, uint8_t *levels, uint8_t *para_level);

/* UAX #9 rule L1 for one line s[start, end) of a paragraph whose resolved
 * levels (from bl_bidi_levels) are in levels[]: resets segment separators,
 * paragraph separators, and whitespace/isolate runs before them and at the end
 * of the line to para_level.  Writes line_levels[0 .. end-start) (per byte). */
void bl_bidi_line_levels(const char *s, const uint8_t *levels, size_t start, size_t end,
                         uint8_t para_level, uint8_t *line_levels);

/* UAX #9 rule L2: given the levels of n items in logical order (items may be
 * characters or runs), writes into order[] the logical indices in visual order
 * (left to right).  Items whose level is 0xFF are left out (for characters
 * removed by rule X9); returns the number of indices written. */
size_t bl_bidi_reorder(const uint8_t *levels, size_t n, size_t *order);

/* Line-break opportunities (UAX #14, ICU line break iterator, locale from the
 * BCP 47 tag lang, may be NULL).  For n bytes of UTF-8, out[i] tells whether a
 * line may break BEFORE byte i: BL_BRK_NONE, BL_BRK_ALLOWED, or BL_BRK_MANDATORY
 * (after a hard line break such as U+000A or U+2028).  out[0] is always
 * BL_BRK_NONE; out has n + 1 entries, out[n] is the end of text (BL_BRK_MANDATORY).
 * Returns 0 or -1. */
enum { BL_BRK_NONE = 0, BL_BRK_ALLOWED = 1, BL_BRK_MANDATORY = 2 };
int bl_line_breaks(const char *s, size_t n, const char *lang, uint8_t *out);

/* Hyphenation with libhyphen and Debian's hyphen-* dictionaries
 * (/usr/share/hyphen/hyph_LL_CC.dic or hyph_LL.dic).  One dictionary per
 * language is loaded on first use and shared by the process (thread-safe).
 * Returns NULL for languages without a dictionary, and always for Hebrew and
 * Arabic (he, ar, fa, ur, yi): they are never hyphenated.  Borrowed pointer,
 * valid until bl_hyphen_shutdown. */
typedef struct bl_hyphenator bl_hyphenator;
const bl_hyphenator *bl_hyphenator_get(const char *lang);
/* For tests: called (when set) by the thread about to load the dictionary
 * file path, outside every lock: one language's load never holds up
 * another's. */
extern void (*bl_hyphen_load_hook)(const char *path);
/* Hyphenation points of one word (UTF-8, no spaces) with at least lmin
 * characters before and rmin after each point.  out gets n + 1 bytes: out[i]
 * is 1 when a hyphen may be inserted before byte i.  Words with digits,
 * or longer than 100 bytes, get no points.  Returns the number of points, or -1. */
int bl_hyphenate(const bl_hyphenator *h, const char *word, size_t n, int lmin, int rmin,
                 uint8_t *out);
/* Starts loading lang's dictionary in a background thread (if it has one), so
 * that a later bl_hyphenator_get finds it ready.  Optional. */
void bl_hyphen_prefetch(const char *lang);
/* Waits for prefetches and frees every loaded dictionary (call at process
 * exit; for leak checkers). */
void bl_hyphen_shutdown(void);
/* Waits for the background loads bl_hyphen_prefetch started (one may be
 * writing a cache file); frees nothing. */
void bl_hyphen_wait(void);
/* Changes with every bl_hyphen_shutdown: caches keyed by a hyphenator's
 * address compare it (a later hyphenator may reuse the address). */
unsigned bl_hyphen_generation(void);
#endif
