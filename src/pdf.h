/* pdf.h - the PDF backend: a bl_device that writes PDF through libharu, with
 * shaped glyph runs drawn through our own Type0 fonts (CIDFontType2
 * descendants addressed by glyph, one-byte codes through an embedded CMap
 * or Identity-H, subset with hb-subset at save time, /W widths, ToUnicode:
 * see pdf-font.h).  Internal header. */
#ifndef BL_PDF_H
#define BL_PDF_H
#include "draw.h"

typedef struct bl_pdf bl_pdf;

typedef struct bl_pdf_info {
    const char *title, *author, *subject, *keywords, *creator;
    int compress;          /* deflate content and font streams (default 1) */
    int identity_h;        /* every font Identity-H (2-byte codes), not only those of
                              more than BL_PDF_COMPACT_GLYPHS glyphs: for tests */
} bl_pdf_info;

/* New PDF writer; returns an owned object (bl_pdf_free) or NULL. */
bl_pdf *bl_pdf_new(const bl_pdf_info *info);
/* The drawing interface of this writer (borrowed, lives as long as pdf). */
bl_device *bl_pdf_device(bl_pdf *pdf);
/* Whether the writer asks to be told the glyph runs of what is drawn next
 * ahead (bl_device.ahead): on for the last bulletin before a save, so that
 * its fonts' files are made on the deflating thread while the pages are
 * drawn.  Only with helper threads; the output is the same either way.
 * Glyphs announced before, without the closing ahead(NULL), are dropped. */
void bl_pdf_forecast(bl_pdf *pdf, int on);
/* Adds an outline (bookmark) entry pointing at the top of page index page (0-based). */
int bl_pdf_bookmark(bl_pdf *pdf, int page, const char *title_utf8);
/* Finishes fonts (subset, widths, ToUnicode) and writes the file to path:
 * first to a temporary file beside it, renamed at the end, so a failure never
 * leaves a partial PDF.  Returns 0, or -1 with the reason in bl_pdf_error. */
int bl_pdf_save(bl_pdf *pdf, const char *path);
/* The same, but the last step is left to publish(ctx, tmp, path) when it
 * is not NULL: instead of syncing the complete, checked temporary file tmp
 * and renaming it to path, the writer hands it over (a caller that writes
 * many files does that on a thread of its own, see bl_pdf_publish).
 * publish returns 0 when it took the file, else -1 (the writer then
 * removes it and fails). */
typedef int (*bl_pdf_publish_fn)(void *ctx, const char *tmp, const char *path);
int bl_pdf_save_with(bl_pdf *pdf, const char *path, bl_pdf_publish_fn publish, void *ctx);
/* Syncs tmp and renames it to path; on failure removes tmp and returns -1
 * with the reason in why. */
int bl_pdf_publish(const char *tmp, const char *path, char *why, size_t whylen);
/* bl_pdf_publish for n files at once (a group commit): one syncfs() of the
 * file system that holds the first, instead of a fsync per file, then each
 * file's own write-back state checked and the renames.  A file on another
 * file system, every file when that sync fails, and every file on a file
 * system not known to flush everything on syncfs (FUSE, network), goes
 * through bl_pdf_publish.  failed[i] is set to 0 or 1, and
 * why + i * whylen holds the reason.  Returns the number that failed. */
int bl_pdf_publish_group(const char *const *tmp, const char *const *path, int n, int *failed, char *why,
                         size_t whylen);
const char *bl_pdf_error(bl_pdf *pdf);
/* Frees the calling thread's cache of libharu objects (pdf-mem.c). */
void bl_pdf_mem_trim(void);
void bl_pdf_free(bl_pdf *pdf);
#endif
