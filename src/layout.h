/* layout.h - the layout engine: sets a bulletin's paragraphs (Knuth-Plass),
 * arranges the languages (parallel columns kept in step, stacked, single),
 * paginates with widow/orphan control, and draws pages with their furniture
 * (letterhead, title block, header, footer "Page N of M", classification)
 * through a bl_device.  Internal header. */
#ifndef BL_LAYOUT_H
#define BL_LAYOUT_H
#include "doc.h"
#include "draw.h"
#include "layout-config.h"

typedef struct bl_layout_stats {
    int pages;
    int lines, hyphenated, overfull;
    int columns_at_once; /* a parallel bulletin's columns were set on two threads */
} bl_layout_stats;

/* Lays out bulletin b with layout l and draws it on dev (pages are appended).
 * Missing glyphs, overfull lines: warnings in d.  Returns 0, or -1 after
 * reporting an error (fonts that fail to load, device failures, a page that
 * cannot hold a single line). */
int bl_layout_bulletin(const bl_bulletin *b, const bl_layout *l, bl_device *dev, bl_diag *d,
                       bl_layout_stats *stats);

/* Starts the thread that sets second columns ahead of need (a thread that
 * starts while the other processor is busy can wait there for milliseconds
 * before it first runs); nothing without helpers (bl_helpers). */
void bl_layout_prestart(void);
/* Ends it (bulletin_shutdown). */
void bl_layout_shutdown(void);
#endif
