/* layout-kp.h - Knuth-Plass total-fit paragraph breaking over boxes, glue and
 * penalties ("Breaking Paragraphs into Lines", Knuth & Plass 1981).  Pure
 * computation: knows nothing about text, fonts or PDF.  Internal header. */
#ifndef BL_LAYOUT_KP_H
#define BL_LAYOUT_KP_H
#include <stddef.h>

enum { BL_KP_BOX, BL_KP_GLUE, BL_KP_PENALTY };
#define BL_KP_INFINITY 10000.0 /* penalty >= this: no break; <= -this: forced break */

typedef struct bl_kp_item {
    int type;               /* BL_KP_BOX, BL_KP_GLUE, BL_KP_PENALTY */
    double width;           /* natural width (penalty: width added if broken here, e.g. a hyphen) */
    double stretch, shrink; /* glue; a box may have some too (letter spacing) */
    double penalty;         /* penalty only */
    int flagged;            /* penalty only: a hyphen break (consecutive ones cost demerits) */
} bl_kp_item;

typedef struct bl_kp_params {
    double tolerance;            /* max adjustment ratio accepted (e.g. 2.0); first pass uses pretolerance */
    double pretolerance;         /* first pass without hyphen breaks allowed; < 0 skips that pass */
    double line_penalty;         /* added to badness per line (10) */
    double flagged_demerits;     /* two flagged breaks in a row (3000) */
    double fitness_demerits;     /* adjacent lines of very different fitness classes (100) */
    double last_line_hyphen_demerits; /* the penultimate line ending with a hyphen (5000) */
    int looseness;               /* 0 = optimal; +n/-n lines if feasible */
    double emergency_stretch;    /* extra stretch per line in the final, emergency pass (0 = none) */
} bl_kp_params;
void bl_kp_params_default(bl_kp_params *p);

typedef struct bl_kp_line {
    size_t start, end;   /* items [start, end) make the line: start skips discardable items
                            after the previous break; end is the break item index (not included) */
    size_t brk;          /* index of the chosen break item (glue or penalty); n-1 for the last */
    double ratio;        /* adjustment ratio: > 0 stretch, < 0 shrink; glue width = w + r*stretch (or shrink) */
    int hyphenated;      /* broke at a flagged penalty */
} bl_kp_line;

/* Line widths: width of line number i (0-based).  Called many times. */
typedef double (*bl_kp_width_fn)(void *ctx, size_t line);

/* Breaks items[0..n) into lines.  The item list must end with the usual
 * finishing sequence (penalty +inf, glue with large stretch for ragged last
 * line, penalty -inf) supplied by the caller.  Always succeeds for valid input:
 * when no feasible solution exists within tolerance, a final emergency pass
 * accepts overfull lines (*overfull is set to the count, may be NULL).
 * Returns the number of lines and a malloc'd array in *lines (caller frees),
 * or (size_t)-1 when out of memory.  Time is O(n * active nodes), linear in
 * practice; memory O(n). */
size_t bl_kp_break(const bl_kp_item *items, size_t n, const bl_kp_params *p,
                   bl_kp_width_fn width, void *ctx, bl_kp_line **lines, size_t *overfull);
#endif
