/* pdf-font.h - private to the PDF backend (pdf.c, pdf-font.c): one embedded
 * font per bl_face and document, written through libharu's object layer as
 * Type0 with a CIDFontType2 descendant, addressed by glyph.
 *
 * Compact fonts (faces of at most BL_PDF_COMPACT_GLYPHS glyphs: every
 * Latin, Hebrew and Arabic face) give each (glyph, text) pair a code in
 * order of first use: one byte (00..DF) for the first 223, two bytes
 * (E000..FFFF) for the next 8,192.  The CID is the code's number: the
 * Type0 font's /Encoding is one embedded CMap per document that maps every
 * code of that codespace to the CID of the same number (PDF 32000-1
 * 9.7.5), and each font's CIDToGIDMap stream gives a CID's glyph.  One-byte
 * codes halve the text's bytes against Identity-H's two, and the one-byte
 * code 32 is reserved for the face's space glyph standing for U+0020, so
 * that word spacing (Tw) applies to it (PDF 32000-1 9.3.3): justified lines
 * need one Tw instead of an adjustment per space.  CIDs equal to codes keep
 * within the codespace what MuPDF 1.21 checks there (it gives a CID-keyed
 * ToUnicode the encoding's codespace).  A glyph with a second text simply
 * gets another code.
 *
 * Larger faces (CJK), and every face when bl_pdf_info.identity_h is set,
 * draw with Identity-H: codes are CIDs, which are the face's glyph ids,
 * except when one glyph stands for two different texts (a space used for
 * U+0020 and U+00A0, a ligature in two contexts): the second text gets an
 * alias CID >= num_glyphs, mapped back to the real glyph by a CIDToGIDMap
 * stream, so that ToUnicode can say what each occurrence means.
 *
 * The font file is subset at save time, when every used glyph is known
 * (hb-subset, hinting dropped).  A compact font's glyphs are renumbered
 * densely, since its CIDToGIDMap is written after the subset anyway; an
 * Identity-H font keeps the face's glyph ids, which its codes are. */
#ifndef BL_PDF_FONT_H
#define BL_PDF_FONT_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base.h"
#include "text-font.h"

/* libharu's public and object-layer headers compile cleanly with our warning
 * set today; keep them behind this one include so a future libharu that
 * does not can be silenced here. */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#endif
#include <hpdf.h>
#include <hpdf_objects.h>
#include <hpdf_pages.h>
#include <hpdf_doc.h>
#include <hpdf_streams.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

/* One (glyph, text) pair that has been drawn, and the code that draws it. */
typedef struct bl_pdf_code {
    uint32_t text_off, text_len; /* bytes in bl_pdf_font.texts */
    uint32_t next;               /* 1 + index of the next pair of the same glyph, 0 = none */
    uint16_t code;               /* character code, of len bytes */
    uint8_t len;
    uint16_t gid, cid;
    double width;                /* advance in PDF glyph units (1000/em), as written in /W */
} bl_pdf_code;

/* The one-byte code of the space glyph standing for U+0020 (compact
 * fonts only). */
#define BL_PDF_SPACE_CODE 0x20u
static inline int bl_pdf_code_is_space(const bl_pdf_code *c) { return c->len == 1 && c->code == BL_PDF_SPACE_CODE; }

/* Faces with at most this many glyphs get compact fonts: each glyph's
 * first pair always finds a code (223 + 8,192 of them). */
#define BL_PDF_COMPACT_GLYPHS 8192u

/* libdeflate level for every stream we deflate: 6 gives the packet's
 * streams 0.5% smaller than zlib's level 5 did, in a third of the time. */
#define BL_PDF_DEFLATE_LEVEL 6

typedef struct bl_pdf_font {
    bl_face *face;               /* own reference */
    unsigned index;              /* 0-based, order of first use in the document */
    HPDF_Dict type0, cidfont, descriptor, fontfile, tounicode, cidtogid;
    int compact;                 /* encoded by bl_pdf_compact_cmap, else Identity-H */
    unsigned space_gid;          /* the face's glyph for U+0020, or num_glyphs when none */
    uint32_t next_seq;           /* compact: order of the next new code */
    unsigned nglyphs;            /* glyphs that have a code */
    uint32_t *slot;              /* per glyph id: 1 + index of its first pair, 0 = unused */
    bl_pdf_code *codes;
    size_t ncodes, capcodes;
    bl_buf texts;                /* text of every pair, back to back */
    unsigned next_alias;         /* Identity-H: next free alias CID */
    size_t lost_aliases;         /* pairs that fell back to the glyph's first code */
    bl_buf w;                    /* "/W [...]", built by bl_pdf_font_prepare */
    bl_buf file, tu;             /* subset font file and ToUnicode CMap, deflated if asked */
    char tag[7];                 /* subset tag, set by bl_pdf_font_prepare */
    size_t file_len;             /* the font file's size before deflating (/Length1) */
    uint16_t *subset_gid;        /* compact: per glyph id, its id in the subset file (prepare) */
    int prepared;                /* file, tu, tag and w are ready: 1 plain, 2 deflated */
    /* Resource name in the document's one /Font dictionary, which every
     * page and form that shows text uses: "F1" for index 0, and so on (set
     * by pdf.c, the same in every save). */
    char local_name[16];
} bl_pdf_font;

/* Creates the font's PDF objects in doc (registered in its xref; libharu
 * frees them with the document) and returns a font the caller owns
 * (bl_pdf_font_free), or NULL with a reason in err.  The font is compact,
 * encoded by cmap (the document's bl_pdf_compact_cmap), unless cmap is
 * NULL or the face has more than BL_PDF_COMPACT_GLYPHS glyphs. */
bl_pdf_font *bl_pdf_font_new(HPDF_Doc doc, bl_face *face, unsigned index, HPDF_Dict cmap, char *err,
                             size_t errlen);

/* The encoding CMap every compact font of a document shares (a stream
 * registered in doc, deflated when compress): each code of the codespace
 * (pdf-font.h) to the CID of the same number.  NULL with a reason in err. */
#define BL_PDF_CMAP_NAME "Bulletin-Compact-H"
HPDF_Dict bl_pdf_compact_cmap(HPDF_Doc doc, int compress, char *err, size_t errlen);

/* The pair (gid, text) for a drawn glyph: returns its entry (borrowed, valid
 * until the next call), or NULL when out of memory.  gid must be below
 * face->num_glyphs. */
const bl_pdf_code *bl_pdf_font_code_slow(bl_pdf_font *f, unsigned gid, const char *text, size_t len);
static inline const bl_pdf_code *bl_pdf_font_code(bl_pdf_font *f, unsigned gid, const char *text,
                                                  size_t len)
{
    /* Fast path: the glyph's first pair has this text (nearly always). */
    uint32_t s = f->slot[gid];
    if (s) {
        const bl_pdf_code *c = &f->codes[s - 1];
        if (c->text_len == len && (len == 0 || !memcmp(f->texts.data + c->text_off, text, len)))
            return c;
    }
    return bl_pdf_font_code_slow(f, gid, text, len);
}

/* Work ahead of a save, in two steps.  bl_pdf_font_ahead_key: the key
 * under which bl_pdf_font_prepare will look up face's font file once its
 * glyphs are those of f so far (NULL: none) and the nbits glyphs bits marks
 * (a bit per glyph id); *n counts it; NULL when out of memory.  Made where f
 * is not being drawn on.  bl_pdf_font_file_ahead, on any thread: makes that
 * file into the process-wide cache of font files, unless it is there.
 * Nothing depends on it: a failure (0 or -1) leaves the work to the save. */
uint32_t *bl_pdf_font_ahead_key(bl_face *face, int compact, int z, const bl_pdf_font *f, const unsigned char *bits,
                                size_t nbits, size_t *n);
int bl_pdf_font_file_ahead(bl_face *face, const uint32_t *key, size_t nkey);
/* How many font files hb-subset has made in this process, and how many of
 * them ahead (*ahead, unless NULL): for tests. */
unsigned long bl_pdf_font_files_made(unsigned long *ahead);

/* The part of finishing that touches no libharu object: subsets the font
 * file, builds /W and ToUnicode, and deflates them when compress is set.
 * Fonts of one document may be prepared on different threads at once.
 * Returns 0, or -1 with err. */
int bl_pdf_font_prepare(bl_pdf_font *f, int compress, char *err, size_t errlen);

/* Writes /W, ToUnicode, the CIDToGIDMap and the subset names into the
 * font's objects, preparing the font first unless bl_pdf_font_prepare just
 * did (with the same compress).  May be called again after more
 * glyphs were drawn (each call rewrites everything).  compress: deflate the
 * font file, ToUnicode and CIDToGIDMap.  Returns 0, or -1 with err. */
int bl_pdf_font_finish(bl_pdf_font *f, HPDF_Doc doc, int compress, char *err, size_t errlen);

void bl_pdf_font_free(bl_pdf_font *f);

/* Subsets face to its .notdef and throws the result away: hb-subset
 * reads and checks the face's tables on its first use, which a thread can
 * do ahead of the save that needs them. */
void bl_pdf_font_warm(bl_face *face);

/* hb-subset is loaded (dynlib.h) at the first subset, or ahead of that by
 * bl_pdf_subset_preload (any thread; failures are reported by the subset).
 * Tests change the library and call bl_pdf_subset_forget to load again. */
void bl_pdf_subset_preload(void);
void bl_pdf_subset_forget(void);
extern const char *bl_subset_library;

/* Deflates in[0, len) into out (replacing its contents) at
 * BL_PDF_DEFLATE_LEVEL.  Thread-safe.  Returns 0 or -1. */
int bl_pdf_deflate(const void *in, size_t len, bl_buf *out);

/* bl_pdf_deflate for streams that recur from document to document: the
 * result is kept process-wide by content (small inputs only), and the same
 * input later gets a copy. */
int bl_pdf_deflate_shared(const void *in, size_t len, bl_buf *out);
/* Frees what bl_pdf_deflate_shared keeps. */
void bl_pdf_deflate_cache_clear(void);
/* A read-only libharu stream of src's bytes (taken over when take: src is
 * then empty; copied otherwise), or NULL when out of memory (pdf-zip.c). */
HPDF_Stream bl_pdf_blob(HPDF_MMgr mm, bl_buf *src, int take);
/* dict's stream becomes s, with /Filter /FlateDecode when its bytes are
 * deflated already; the old stream is freed (pdf-zip.c). */
void bl_pdf_set_stream(HPDF_Dict dict, HPDF_Stream s, int deflated);

/* Frees the process-wide cache of subset font files (bl_pdf_font_prepare
 * reuses a file made earlier for the same face and glyph set). */
void bl_pdf_font_cache_clear(void);

/* Describes a libharu status code in words ("out of memory", ...). */
const char *bl_pdf_hpdf_status_name(HPDF_STATUS code);

/* Writes v rounded to dec (0..4) decimals, trailing zeros dropped, no
 * exponent ("12.5", "-0.25", "600"); returns the end.  Room: 24 bytes.
 * bl_pdf_round gives the value a reader parses back from that text. */
char *bl_pdf_fmt(char *p, double v, int dec);
double bl_pdf_round(double v, int dec);
/* Writes n / 10^dec the same way (n is already scaled; |n| < 9e15). */
char *bl_pdf_fmt_fixed(char *p, long long n, int dec);
#endif
