/* draw.h - the drawing interface between the layout engine and a backend.
 * Two backends implement it: the PDF writer (pdf-*.c, libharu) and the JSON
 * layout trace (trace.c), which a tee (trace.c) can drive together.  Coordinates are PDF points, origin at the bottom
 * left of the page.  Internal header. */
#ifndef BL_DRAW_H
#define BL_DRAW_H
#include <stddef.h>
#include <stdint.h>
#include "text-font.h"

/* One positioned glyph.  x, y: absolute position of the glyph origin on the
 * page (HarfBuzz offsets already applied).  text/text_len: the characters this
 * glyph stands for in the run's text (a byte range of bl_glyph_run.text), used
 * for ToUnicode; text_len 0 means "no text of its own" (the extra glyphs of a
 * cluster whose text is carried by another glyph). */
typedef struct bl_glyph {
    unsigned gid;
    double x, y;
    double advance;       /* as drawn (justification included), points */
    uint32_t text_start, text_len;
} bl_glyph;

/* A run of glyphs in visual order (left to right), one face, one size. */
typedef struct bl_glyph_run {
    bl_face *face;        /* borrowed */
    double size;          /* points */
    double rgb[3];        /* 0..1 */
    int rtl;              /* the run's text is right-to-left */
    const char *lang;     /* BCP 47 */
    const char *text;     /* logical-order UTF-8 text of the run */
    size_t text_len;
    const bl_glyph *glyphs;
    size_t n;
    /* For the trace: where the text came from. */
    int block;            /* pair index, -1 for page furniture */
    const char *kind;     /* "paragraph", "heading", "header", ... */
} bl_glyph_run;

typedef struct bl_image bl_image; /* image.h */

/* A line of text as the layout engine set it (for the trace; a PDF backend
 * may ignore it).  The glyph runs of the line follow this call. */
typedef struct bl_line_info {
    const char *lang;
    int block;            /* pair index; -1 for page furniture (header, footer, title block) */
    const char *kind;     /* "paragraph", "heading", "quote", "list", "title", "header", "footer", ... */
    double x, baseline, width;
    const char *text;     /* logical-order text of the line */
    size_t text_len;
    double space_extra;   /* justification: width added to each stretchable space */
    double letter_extra;  /* justification: width added after each cluster (letter spacing) */
} bl_line_info;

typedef struct bl_device bl_device;
struct bl_device {
    /* Optional (may be NULL): announces a line before its glyph runs. */
    int (*line)(bl_device *d, const bl_line_info *info);
    /* Each returns 0, or -1 after recording an error message in the device. */
    int (*begin_page)(bl_device *d, double width, double height);
    int (*glyph_run)(bl_device *d, const bl_glyph_run *run);
    /* A straight line from (x0,y0) to (x1,y1). */
    int (*rule)(bl_device *d, double x0, double y0, double x1, double y1,
                double width, const double rgb[3]);
    /* A filled rectangle. */
    int (*rect)(bl_device *d, double x, double y, double w, double h, const double rgb[3]);
    /* An image scaled into the box (x, y lower-left, w, h). */
    int (*image)(bl_device *d, const bl_image *img, double x, double y, double w, double h);
    /* A URI link annotation over the box. */
    int (*link)(bl_device *d, double x, double y, double w, double h, const char *uri);
    int (*end_page)(bl_device *d);
    /* Optional (both NULL, or both set): a group brackets drawing that is
     * likely to recur, byte for byte, on other pages (page furniture: the
     * classification banners, the header, the rules).  Between group_begin
     * and group_end the usual calls draw as they would without the group,
     * at the same positions and in the same order; a device may keep the
     * group's drawing once and show it again wherever the same group
     * recurs (the PDF writer makes it a Form XObject), or ignore the
     * brackets.  Correctness never rests on the caller's guess: a device
     * that shares must compare what was drawn, not trust that it repeats.
     * Groups do not nest and do not span pages (end_page with a group
     * open is an error); a link inside a group belongs to the page.  The
     * caller checks for NULL: a device without them is drawn on as ever.
     * Each returns 0, or -1 after recording an error message. */
    int (*group_begin)(bl_device *d);
    int (*group_end)(bl_device *d);
    /* Message of the last failure (borrowed), or "". */
    const char *(*error)(bl_device *d);
    /* Optional: the glyph runs about to be drawn, announced ahead, then
     * ahead(d, NULL) when all of them have been; the same runs then come
     * to glyph_run.  bl_layout_bulletin does this for a device that sets
     * it, so that work depending on which glyphs each face draws can start
     * early (the PDF writer subsets its fonts on a helper thread while the
     * pages are drawn).  Nothing is drawn by it.  Returns 0, or -1 after
     * recording an error message. */
    int (*ahead)(bl_device *d, const bl_glyph_run *run);
};
#endif
