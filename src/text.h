/* text.h - the text engine: a paragraph of styled UTF-8 text is itemized
 * (bidi levels for the whole paragraph, then runs by level, script, font and
 * style), shaped with HarfBuzz in logical order with the paragraph as context,
 * and given line-break and hyphenation opportunities.  After the layout engine
 * chooses the lines, bl_text_line() reorders one line (UAX #9 L1-L2) into
 * positioned glyph runs, reshaping only runs that a break cut unsafely.
 * Internal header. */
#ifndef BL_TEXT_H
#define BL_TEXT_H
#include <stddef.h>
#include <stdint.h>
#include "base.h"
#include "doc.h"
#include "draw.h"
#include "text-font.h"

/* A fallback stack: a character takes the first face that has it.  A face
 * named by path opens on first use (bl_fontset_face), so a stack's fallbacks
 * and the roles a text never uses cost nothing: opening a face reads and
 * checks its tables (~0.1 ms), and an en+he bulletin needs 8 of the 11 faces
 * its layout names. */
typedef struct bl_fontset {
    bl_face *faces[8];   /* borrowed from the face cache; NULL until opened */
    int n;
    const char *paths[8]; /* the files of faces not yet opened (NULL: faces[k] is given) */
} bl_fontset;

/* Face k (< fs->n) of the stack, from the face cache, opened on first use
 * (thread-safe).  NULL, with err filled, if the file cannot be used. */
bl_face *bl_fontset_face(const bl_fontset *fs, int k, char *err, size_t errlen);

/* How a paragraph is set: the font stacks for each inline style. */
typedef struct bl_text_style {
    const bl_fontset *regular, *bold, *italic, *bold_italic; /* bold_italic may be NULL */
    double size;          /* points */
    double rgb[3], link_rgb[3];
    int hyphenate, lmin, rmin;
    int tracking;         /* letter spacing may justify (never for cursive scripts) */
    const hb_feature_t *features; /* extra OpenType features for HarfBuzz, or NULL */
    unsigned nfeatures;
    struct bl_seen *seen; /* code points already warned about (per bulletin); may be NULL */
} bl_text_style;

/* A set of code points (per bulletin): each missing character warns once. */
typedef struct bl_seen {
    uint32_t *cps;
    size_t n, cap;
} bl_seen;

typedef struct bl_run {
    size_t start, end;    /* text bytes */
    uint8_t level;
    bl_face *face;
    unsigned style;
    const char *href;     /* borrowed from the paragraph's spans */
    size_t g0, ng;        /* glyphs [g0, g0+ng) of bl_shaped.glyphs, in LOGICAL order */
} bl_run;

typedef struct bl_sglyph {
    unsigned gid;
    uint32_t cluster;     /* byte offset of the cluster's first character */
    float adv, dx, dy;    /* points */
    uint8_t unsafe;       /* HB_GLYPH_FLAG_UNSAFE_TO_BREAK */
} bl_sglyph;

/* A shaped paragraph.  Owned by the caller (bl_shaped_free). */
typedef struct bl_shaped {
    const char *text;     /* borrowed paragraph text */
    size_t len;
    const char *lang;
    uint8_t para_level;
    uint8_t *levels;      /* per byte */
    uint8_t *brk;         /* per byte + 1: BL_BRK_* before byte i */
    uint8_t *hyph;        /* per byte + 1: 1 if a hyphen may go before byte i */
    uint8_t *space;       /* per byte: 1 for the bytes of a stretchable space */
    float *adv_at;        /* per byte: advance of the glyphs whose cluster starts here */
    uint8_t *cstart;      /* per byte: 1 if a glyph cluster starts here */
    bl_run *runs;
    size_t nruns;
    bl_sglyph *glyphs;
    size_t nglyphs;
    const bl_text_style *style;
    float hyphen_adv;     /* width of a hyphen in the paragraph's main face */
    int missing;          /* characters no font had */
    int hyphenated;       /* bl_text_hyphenate has filled hyph[] */
    size_t src_off;       /* source offset of the paragraph, for diagnostics */
} bl_shaped;

/* The script of cp (a hb_script_t) and its general category (an ICU
 * UCharCategory), from HarfBuzz's Unicode data (ICU's, test-shape checks). */
int bl_text_script(uint32_t cp);
int bl_text_category(uint32_t cp);

/* Shapes a paragraph.  base: BL_DIR_LTR/RTL/AUTO.  Characters that no face
 * of the stack covers are drawn as .notdef; each distinct one is reported once
 * as a warning at src_off (via d, file f) unless st->seen already lists it.
 * Returns NULL on out-of-memory (reported). */
bl_shaped *bl_text_shape(const char *text, size_t len, const bl_span *spans, size_t nspans,
                         const char *lang, int base, const bl_text_style *st,
                         bl_diag *d, const bl_file *f, size_t src_off);
void bl_shaped_free(bl_shaped *s);
/* Frees the calling thread's shaping buffer (at exit, for leak checkers). */
void bl_text_shutdown(void);
/* The per-thread word cache (text-shape.c): 0 off, 1 on (the default: a face
 * uses it once it has shaped some text), 2 on for every face at once (tests).
 * Process-wide; stats are the calling thread's lookups. */
void bl_text_word_cache(int mode);
/* A new document (a bulletin) starts: faces that earlier documents used
 * take the word cache from now on (text-shape.c). */
void bl_text_next_document(void);
/* Shapes one letter with face: HarfBuzz builds the face's GSUB and GPOS
 * accelerators on first use (~0.5 ms for a large font), which a thread
 * can do ahead of the shaping that needs them. */
void bl_text_warm(bl_face *face, const char *lang);
void bl_text_word_cache_stats(unsigned long *hits, unsigned long *misses);

/* Fills s->hyph with the paragraph's hyphenation points (if its style
 * hyphenates and the language has a dictionary).  Separate from shaping
 * because most paragraphs never need it (Knuth-Plass tries without hyphens
 * first) and loading a dictionary takes milliseconds. */
void bl_text_hyphenate(bl_shaped *s);

/* Width in points of text bytes [a, b) as shaped in the paragraph (a and b
 * cluster boundaries). */
double bl_shaped_width(const bl_shaped *s, size_t a, size_t b);

/* Grapheme cluster boundaries (UAX #29) inside text bytes (a, b) of s:
 * writes up to max offsets into out and returns how many.  For breaking a
 * word that is wider than its column.  Returns 0 on failure. */
size_t bl_text_graphemes(const bl_shaped *s, size_t a, size_t b, size_t *out, size_t max);

/* One set line: glyph runs in visual order with absolute positions.  runs,
 * glyphs, links and flags share one allocation (bl_line_out_free). */
typedef struct bl_line_out {
    bl_glyph_run *runs;
    size_t nruns;
    bl_glyph *glyphs;     /* storage for all runs */
    size_t nglyphs;
    char *text;           /* storage for run texts (hyphen etc.) */
    double width;         /* width as set (natural until bl_line_out_adjust) */
    struct { double x, w; const char *href; size_t run; } *links;
    size_t nlinks;
    uint8_t *flags;       /* per glyph (same index as glyphs): BL_GF_* */
    size_t nspaces;       /* stretchable spaces on the line */
    size_t ngaps;         /* places where letter spacing may go */
} bl_line_out;

enum {
    BL_GF_SPACE = 1, /* a stretchable space: justification widens it */
    BL_GF_GAP = 2    /* the last glyph of a cluster, followed by another on the line */
};

/* Sets text bytes [a, b) of s as one line at its natural width: glyph runs in
 * visual order (UAX #9 L1-L2), the visual left edge at x_left, on baseline.
 * hyphen: append a hyphen.  Returns 0 or -1 (out of memory).  out must be
 * zeroed or previously freed. */
int bl_text_line(const bl_shaped *s, size_t a, size_t b, int hyphen, double x_left, double baseline,
                 bl_line_out *out);
/* Justifies a set line: every stretchable space gets space_extra more width
 * and every gap letter_extra (both may be negative), then everything moves
 * right by dx.  Updates positions, links and width. */
void bl_line_out_adjust(bl_line_out *o, double space_extra, double letter_extra, double dx);
/* Number of cluster starts in text bytes [a, b) of s (letter-spacing capacity). */
size_t bl_shaped_clusters(const bl_shaped *s, size_t a, size_t b);
void bl_line_out_free(bl_line_out *o);
#endif
