/* pdf-internal.h - what the PDF writer's files (pdf.c, pdf-zip.c) share:
 * the writer's state and its error reporting.  Internal header. */
#ifndef BL_PDF_INTERNAL_H
#define BL_PDF_INTERNAL_H
#include <stdint.h>

#include "base.h"
#include "image.h"
#include "pdf-font.h"
#include "pdf.h"

typedef struct pdf_page_ref {
    HPDF_Page page;
    double width, height;
} pdf_page_ref;

/* A glyph of the run being written: its code, its /W advance in points,
 * and whether its position is left to the pen (free: a space between two
 * glyphs of a segment, see dev_glyph_run). */
struct run_glyph {
    uint16_t code;
    uint8_t len, space; /* code bytes; BL_PDF_SPACE_CODE */
    uint8_t free;
    double adv;
};

typedef struct pdf_image_ref {
    bl_image *img;   /* own reference: keeps the pointer unique while cached */
    HPDF_Image xobj; /* owned by the document */
} pdf_image_ref;

/* A Form XObject made from a group, and what it was made from: the page
 * size (its /BBox) and the group's content, raw, at off in forms_raw. */
typedef struct pdf_form {
    uint64_t hash;   /* of the content */
    double width, height;
    size_t off, len;
    HPDF_Dict xobj;  /* owned by the document */
} pdf_form;

/* A set of page resources seen on a finished page: its key (what it
 * holds), the first page that had it, and once a second page has it too,
 * the indirect dictionary both share. */
typedef struct pdf_shared_res {
    char *key;
    HPDF_Page first;
    HPDF_Dict dict;
} pdf_shared_res;

/* The content-stream state that a form does not share with its page. */
typedef struct text_state {
    const bl_pdf_font *tf_font;
    double tf_size;
    double fill[3];
    int fill_set;
    double tc;
    int tc_set;
    double tw;
    int tw_set;
} text_state;

struct bl_pdf {
    bl_device dev;   /* first member: device methods cast back to bl_pdf */
    HPDF_Doc doc;
    int compress;
    int identity_h;  /* bl_pdf_info.identity_h */
    HPDF_Dict cmap;  /* the compact fonts' encoding (bl_pdf_compact_cmap), made with the first */
    int failed;      /* after a libharu failure the document is unusable */
    HPDF_STATUS hcode, hdetail; /* first failure reported to the handler */
    char err[512];
    bl_pdf_font **fonts;
    size_t nfonts, capfonts;
    bl_pdf_font *last_font;
    pdf_page_ref *pages;
    size_t npages, cappages;
    pdf_image_ref *images;
    size_t nimages, capimages;
    HPDF_Page page;  /* the open page, or NULL */
    /* One /Font resource dictionary for the whole document (an indirect
     * object, made with the first font): every font is in it under its
     * local_name, and the resources of each page that shows text point at
     * it, instead of a dictionary per page that lists the same fonts
     * again.  Extra entries are harmless to a page that uses fewer. */
    HPDF_Dict font_res;
    int page_fonts;  /* the open page's resources have /Font font_res */
    pdf_shared_res *shared; /* resource sets of finished pages */
    size_t nshared, capshared;
    bl_buf res_key;
    /* Content-stream state on the open page, to skip redundant operators. */
    const bl_pdf_font *tf_font;
    double tf_size;
    double fill[3];
    int fill_set;
    long long tl_x, tl_y; /* start of the current text line (Td), 0.001 pt, as written */
    /* The text position a reader has after the last TJ of the open text
     * object (pen_ok): on the line of tl_y, at pen_x points. */
    int pen_ok;
    double pen_x;
    /* Character spacing (Tc), points, as written (tc_set), or unknown.  Tc
     * is text state, part of the graphics state (PDF 32000-1 9.3.1): it
     * outlives ET and BT and is 0 where a page's content stream starts.
     * The q/Q in a page's content (libharu's around an image) never
     * enclose a Tc.  A form starts with whatever Tc the page has where it
     * is shown, so in a group Tc is unknown until written; the form's own
     * save and restore (Do) then give the page back the Tc it had. */
    double tc;
    int tc_set;
    /* Word spacing (Tw), points, the same way: a reader adds it after
     * every one-byte code 32 (BL_PDF_SPACE_CODE), that is every space. */
    double tw;
    int tw_set;
    bl_buf scratch;  /* one glyph run's operators */
    struct run_glyph *rg; /* one glyph run's codes and advances */
    size_t caprg;
    double *gaps;    /* one segment's gaps (Tc's, then Tw's), sorted */
    size_t capgaps;
    bl_buf zraw;     /* one page's (or form's) content, gathered from libharu's buffers */
    bl_buf zbuf;     /* and deflated */
    /* With helper threads allowed (bl_helpers), pages are deflated on a
     * second thread: it only deflates a copy of a page's bytes; this
     * thread installs the result in libharu's stream (libharu's memory
     * manager is not thread-safe), in page order, at a later end_page or at
     * the save.  At most ZQ pages wait. */
    int async;
    struct zq *zq;
    /* Glyphs announced ahead of drawing (bl_device.ahead, set by
     * bl_pdf_forecast), by face, and the font files made from them on the
     * deflating thread while the pages are drawn. */
    struct ahead_face *ahead;
    size_t nahead, capahead;
    struct ahead_job *ahead_job;
    /* The open group, or NULL: libharu's page operators and ours write to
     * the page's attr->stream, which points at the group's stream until
     * group_end (page_stream is the page's own meanwhile).  The page's
     * text state is kept in page_ts: the group's starts unknown. */
    HPDF_Stream group, page_stream;
    text_state page_ts;
    int group_fonts;      /* the group shows text */
    size_t *group_images; /* the images it shows (indices in images) */
    size_t ngroup_images, capgroup_images;
    /* Every form made so far, found by content through an open-addressing
     * index (nslots a power of two, 0 or 1 + index in forms). */
    pdf_form *forms;
    size_t nforms, capforms;
    uint32_t *slots;
    size_t nslots;
    bl_buf forms_raw; /* the forms' content, back to back */
};

/* The open page's libharu attributes (content stream, graphics mode). */
static inline HPDF_PageAttr page_attr(bl_pdf *p) { return (HPDF_PageAttr)p->page->attr; }

/* Records the first failure in p->err (later ones are dropped); returns -1. */
int bl_pdf_fail(bl_pdf *p, const char *fmt, ...) BL_PRINTF(2, 3);
/* -1 (and p->err) when libharu has reported a failure, else 0. */
int bl_pdf_hcheck(bl_pdf *p, const char *what);

/* ---- pdf-mem.c ------------------------------------------------------------ */

/* A new libharu document whose objects come through pdf-mem.c's cache
 * (HPDF_New's arguments). */
HPDF_Doc bl_pdf_new_doc(HPDF_Error_Handler on_error, void *ctx);
/* The cache itself (for tests); cached is 0 where it is plain malloc
 * (under AddressSanitizer). */
void *bl_pdf_mem_alloc(HPDF_UINT size);
void bl_pdf_mem_free(void *p);
extern const int bl_pdf_mem_cached;

/* ---- pdf-save.c ----------------------------------------------------------- */

/* The file-system sync bl_pdf_publish_group uses: syncfs (tests replace it). */
extern int (*bl_pdf_syncfs)(int fd);

/* Writes the finished document (fonts and page sizes in place) to path
 * through a temporary file: synced and renamed, or handed to publish
 * (bl_pdf_save_with).  Returns 0, or -1 with the reason in p->err. */
int bl_pdf_write_file(bl_pdf *p, const char *path, bl_pdf_publish_fn publish, void *ctx);

/* ---- pdf-zip.c: deflating content streams ------------------------------- */

/* The deflated form of the memory stream raw (not empty), in a new blob
 * (bl_pdf_blob), or NULL after an error (what: "a page's content", for
 * messages).  shared: through bl_pdf_deflate_shared. */
HPDF_Stream bl_pdf_deflate_stream(bl_pdf *p, HPDF_Stream raw, int shared, const char *what);
/* Deflates the open page's content, here or on the deflating thread. */
int bl_pdf_deflate_page(bl_pdf *p);
/* Installs every page the deflating thread still holds (before a save). */
int bl_pdf_pages_drain(bl_pdf *p);
/* Starts the page-deflating thread unless it runs: 0, or -1 when there is
 * none (no helpers, or it cannot start). */
int bl_pdf_pages_start(bl_pdf *p);
/* Runs fn(arg) on the page-deflating thread, after the pages it has: 0, or
 * -1 when there is no such thread (or it has a task).  bl_pdf_pages_task_wait
 * waits for fn to return. */
int bl_pdf_pages_task(bl_pdf *p, void *(*fn)(void *), void *arg);
void bl_pdf_pages_task_wait(bl_pdf *p);
/* Stops the deflating thread; pages it still holds are dropped. */
void bl_pdf_pages_stop(bl_pdf *p);
#endif
