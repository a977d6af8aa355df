/* base.h - shared helpers for every stage: growable buffers, UTF-8, source
 * files and diagnostics.  Internal header (not installed). */
#ifndef BL_BASE_H
#define BL_BASE_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__GNUC__)
#define BL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define BL_PRINTF(a, b)
#endif

/* Growable byte buffer.  Zero-initialise; bl_buf_free releases.  data is always
 * NUL-terminated after a successful append.  Appends return 0, or -1 when out
 * of memory (the buffer is then left unchanged). */
typedef struct bl_buf {
    char *data;
    size_t len, cap;
} bl_buf;
int bl_buf_append(bl_buf *b, const void *p, size_t n);
int bl_buf_puts(bl_buf *b, const char *s);
int bl_buf_printf(bl_buf *b, const char *fmt, ...) BL_PRINTF(2, 3);
void bl_buf_free(bl_buf *b);

/* Grows *p (an array of elem-sized items with capacity *cap) to hold at least
 * need items.  Returns 0 or -1 (out of memory, or size overflow; *p unchanged). */
int bl_grow(void *p, size_t *cap, size_t need, size_t elem);

/* Returns a malloc'd copy (caller owns) or NULL. */
char *bl_strdup(const char *s);
char *bl_strndup(const char *s, size_t n);

/* Whether the calling thread may start helper threads for the work it is
 * doing (warm-ups, shaping the second language, subsetting fonts, loading
 * hyphenation dictionaries in the background).  Per thread, on by default;
 * bulletin_render sets it from bulletin_options.threads. */
int bl_helpers(void);
void bl_set_helpers(int on);

/* Starts a helper thread as pthread_create(t, NULL, fn, arg) does, returning
 * 0 or -1.  Where it can, the thread starts on another processor than the
 * caller's and then takes back the caller's full set: a new thread woken on
 * the caller's own processor often runs first, and the caller, the critical
 * path, then waited up to 2.4 ms (one run in seven, on the benchmark machine)
 * for the scheduler to move one of the two. */
int bl_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/* UTF-8.  bl_utf8_decode reads one code point at s[0..n), stores it in *cp and
 * returns its length (1-4), or 0 for an invalid or truncated sequence
 * (overlong forms, surrogates and values above U+10FFFF are invalid).
 * One- and two-byte sequences (ASCII, Latin, Hebrew, Arabic) are decoded
 * inline (2.5 million calls in a 200-page packet); bl_utf8_decode_long does
 * the rest. */
int bl_utf8_decode_long(const char *s, size_t n, uint32_t *cp);
static inline int bl_utf8_decode(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n && u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    if (n >= 2 && u[0] >= 0xC2 && u[0] <= 0xDF && (u[1] & 0xC0) == 0x80) {
        *cp = (uint32_t)(u[0] & 0x1F) << 6 | (u[1] & 0x3F);
        return 2;
    }
    return bl_utf8_decode_long(s, n, cp);
}
/* FNV-1a, 64 bits, of n bytes. */
uint64_t bl_hash(const void *data, size_t n);

/* Writes cp as UTF-8 into out (4 bytes room); returns the length. */
int bl_utf8_encode(uint32_t cp, char *out);
/* Returns the byte offset of the first invalid sequence, or (size_t)-1. */
size_t bl_utf8_check(const char *s, size_t n);

/* A source file held in memory: name as given by the user, text NUL-terminated. */
typedef struct bl_file {
    char *name;
    char *text;
    size_t len;
} bl_file;
/* Reads path ("-" = standard input, named "<stdin>") into a new bl_file that the
 * caller owns (bl_file_free).  max_size bounds the size.  On failure returns
 * NULL and writes a reason into err (errlen bytes). */
bl_file *bl_file_read(const char *path, size_t max_size, char *err, size_t errlen);
bl_file *bl_file_from_memory(const char *name, const char *text, size_t len);
void bl_file_free(bl_file *f);
/* 1-based line and column (columns count code points) of byte offset off. */
void bl_file_linecol(const bl_file *f, size_t off, int *line, int *col);
/* Byte offset of 1-based line/col (col counts code points); clamps to the text. */
size_t bl_file_offset(const bl_file *f, int line, int col);

/* Diagnostics, GCC style: "file:line:col: error: message", then the source
 * line and a caret.  Errors and warnings are counted; after max_errors errors
 * bl_diag_full() is true and callers should stop. */
typedef enum { BL_NOTE, BL_WARNING, BL_ERROR } bl_severity;
typedef struct bl_diag {
    FILE *out;          /* borrowed; stderr by default (bl_diag_init) */
    int errors, warnings, max_errors;
    int quiet_warnings; /* suppress warnings (still counted) */
    int mute;           /* suppress everything (still counted) */
    int muted;          /* messages suppressed by mute, notes included */
} bl_diag;
void bl_diag_init(bl_diag *d, FILE *out);
/* At byte offset off of file f (f may be NULL: then "bulletin: error: ..."). */
void bl_diag_at(bl_diag *d, bl_severity sev, const bl_file *f, size_t off,
                const char *fmt, ...) BL_PRINTF(5, 6);
/* At 1-based line/col of f. */
void bl_diag_lc(bl_diag *d, bl_severity sev, const bl_file *f, int line, int col,
                const char *fmt, ...) BL_PRINTF(6, 7);
/* About a whole file that is not source text (font, image): "name: error: ...". */
void bl_diag_file(bl_diag *d, bl_severity sev, const char *name,
                  const char *fmt, ...) BL_PRINTF(4, 5);
int bl_diag_full(const bl_diag *d);

/* Where installed data lives: fonts/ and layouts/ are looked up next to the
 * executable's ../share/bulletin, then BL_DATADIR, then the source tree that
 * built the binary (for build/bulletin).  Never the current directory.
 * Returns a borrowed, process-lifetime string, or NULL when none exists. */
const char *bl_data_dir(void);
/* Sets the directory explicitly (library users, tests).  Copies path. */
void bl_set_data_dir(const char *path);

#endif
