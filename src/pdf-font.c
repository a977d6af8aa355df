/* pdf-font.c - embedded fonts of the PDF backend: Type0 fonts with
 * CIDFontType2 descendants and an embedded encoding CMap, built on
 * libharu's object layer (libharu's own TrueType support re-encodes text
 * through its encoders and cannot draw shaped glyph ids).  Subset with
 * hb-subset at save time; /W, the encoding and ToUnicode CMaps and a
 * CIDToGIDMap stream (compact fonts, and Identity-H ones with aliases).
 * See pdf-font.h. */
#include "pdf-font.h"
#include "dynlib.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <hb-subset.h>
#include <libdeflate.h>

/* CIDs are 2 bytes (PDF 32000-1 9.7.4.2, the CIDToGIDMap). */
#define MAX_CID 0xFFFFu
/* A ToUnicode destination string is at most 512 bytes (PDF 32000-1 9.10.3,
 * CMap limits): 256 UTF-16 code units. */
#define MAX_UNITS 256
/* Entries per bfchar / bfrange block (the CMap format's own limit). */
#define CMAP_BLOCK 100

static const double pow10d[] = {1.0, 10.0, 100.0, 1000.0, 10000.0};
static const long long pow10i[] = {1, 10, 100, 1000, 10000};

static long long round_scaled(double v, int dec)
{
    double s = v * pow10d[dec];
    /* NaN, infinities and absurd values print as 0; callers validate input. */
    if (!(s > -9e15 && s < 9e15))
        return 0;
    return (long long)(s < 0 ? s - 0.5 : s + 0.5);
}

double bl_pdf_round(double v, int dec) { return (double)round_scaled(v, dec) / pow10d[dec]; }

char *bl_pdf_fmt(char *p, double v, int dec) { return bl_pdf_fmt_fixed(p, round_scaled(v, dec), dec); }

char *bl_pdf_fmt_fixed(char *p, long long n, int dec)
{
    if (n < 0) {
        *p++ = '-';
        n = -n;
    }
    unsigned long long ip = (unsigned long long)(n / pow10i[dec]);
    unsigned fp = (unsigned)(n % pow10i[dec]);
    char tmp[24];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip);
    while (k)
        *p++ = tmp[--k];
    if (fp && dec > 0) { /* dec 0 never has a fraction */
        char d[4];
        for (int i = dec - 1; i >= 0; i--) {
            d[i] = (char)('0' + fp % 10);
            fp /= 10;
        }
        int len = dec;
        while (d[len - 1] == '0')
            len--;
        *p++ = '.';
        memcpy(p, d, (size_t)len);
        p += len;
    }
    return p;
}

const char *bl_pdf_hpdf_status_name(HPDF_STATUS code)
{
    switch (code) {
    case HPDF_FAILD_TO_ALLOC_MEM: return "out of memory";
    case HPDF_FILE_IO_ERROR: return "file write error";
    case HPDF_FILE_OPEN_ERROR: return "cannot open the file for writing";
    case HPDF_ZLIB_ERROR: return "zlib compression failed";
    case HPDF_XREF_COUNT_ERR: return "too many PDF objects";
    case HPDF_DICT_COUNT_ERR: return "too many entries in a PDF dictionary";
    case HPDF_ARRAY_COUNT_ERR: return "too many entries in a PDF array";
    case HPDF_PAGE_INVALID_SIZE: return "invalid page size";
    case HPDF_PAGE_OUT_OF_RANGE: return "value out of range";
    case HPDF_PAGE_INVALID_GMODE: return "operator not allowed here (graphics mode)";
    case HPDF_PAGE_CANNOT_RESTORE_GSTATE: return "unbalanced graphics state";
    case HPDF_EXCEED_GSTATE_LIMIT: return "graphics states nested too deeply";
    case HPDF_INVALID_IMAGE: return "invalid image";
    case HPDF_INVALID_COLOR_SPACE: return "invalid colour space";
    case HPDF_INVALID_PARAMETER: return "invalid parameter";
    case HPDF_INVALID_OBJECT: return "invalid PDF object";
    case HPDF_INVALID_DOCUMENT: return "invalid document";
    case HPDF_INVALID_PAGE: return "invalid page";
    case HPDF_INVALID_DESTINATION: return "invalid destination";
    case HPDF_INVALID_OUTLINE: return "invalid outline";
    case HPDF_INVALID_URI: return "invalid URI";
    case HPDF_BINARY_LENGTH_ERR: return "string too long";
    case HPDF_STRING_OUT_OF_RANGE: return "string too long";
    case HPDF_NAME_OUT_OF_RANGE: return "name too long";
    case HPDF_REAL_OUT_OF_RANGE: return "number out of range";
    case HPDF_INVALID_OPERATION: return "invalid operation";
    default: return "libharu failure";
    }
}

/* Status of an object-layer call: those set the document's error but never
 * call the error handler, so every result is checked here. */
static int hfail(HPDF_Doc doc, HPDF_STATUS st, const char *what, char *err, size_t errlen)
{
    HPDF_STATUS code = HPDF_GetError(doc);
    if (!code)
        code = st;
    snprintf(err, errlen, "%s: %s (libharu error 0x%04X, detail %u)", what, bl_pdf_hpdf_status_name(code),
             (unsigned)code, (unsigned)HPDF_GetErrorDetail(doc));
    return -1;
}

/* libharu calls this while writing the CIDFont dictionary: /W is written
 * here as text because it can exceed libharu's array size limit and is
 * faster to build as one string. */
static HPDF_STATUS write_w(HPDF_Dict d, HPDF_Stream s)
{
    const bl_pdf_font *f = d->attr;
    if (!f || !f->w.len)
        return HPDF_OK;
    return HPDF_Stream_Write(s, (const HPDF_BYTE *)f->w.data, (HPDF_UINT)f->w.len);
}

/* A dictionary registered in the xref (an indirect object), or NULL; on
 * failure libharu has already freed it. */
static HPDF_Dict new_indirect(HPDF_MMgr mm, HPDF_Xref xref)
{
    HPDF_Dict d = HPDF_Dict_New(mm);
    if (d && HPDF_Xref_Add(xref, d) != HPDF_OK)
        return NULL;
    return d;
}

static long scale1000(const bl_face *face, double v) { return lround(v * 1000.0 / face->upem); }

bl_pdf_font *bl_pdf_font_new(HPDF_Doc doc, bl_face *face, unsigned index, HPDF_Dict cmap, char *err,
                             size_t errlen)
{
    if (!face || face->num_glyphs == 0 || face->num_glyphs > MAX_CID + 1 || !face->upem) {
        snprintf(err, errlen, "unusable font face");
        return NULL;
    }
    bl_pdf_font *f = calloc(1, sizeof *f);
    if (f)
        f->slot = calloc(face->num_glyphs, sizeof *f->slot);
    if (!f || !f->slot) {
        free(f);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->face = bl_face_keep(face);
    f->index = index;
    f->next_alias = face->num_glyphs;
    f->compact = cmap && face->num_glyphs <= BL_PDF_COMPACT_GLYPHS;
    hb_codepoint_t sp = 0;
    f->space_gid = hb_font_get_nominal_glyph(face->hb_font, 0x20, &sp) && sp ? sp : face->num_glyphs;

    HPDF_MMgr mm = doc->mmgr;
    HPDF_Xref xref = doc->xref;
    HPDF_STATUS st = HPDF_OK;
    if (!(f->type0 = new_indirect(mm, xref)) || !(f->cidfont = new_indirect(mm, xref)) ||
        !(f->descriptor = new_indirect(mm, xref)))
        goto fail;
    f->fontfile = HPDF_DictStream_New(mm, xref);
    f->tounicode = HPDF_DictStream_New(mm, xref);
    if (!f->fontfile || !f->tounicode)
        goto fail;

    /* Names get their subset tag at finish time; placeholders until then. */
    const char *ps = face->ps_name && face->ps_name[0] ? face->ps_name : "Font";
    st |= HPDF_Dict_AddName(f->type0, "Type", "Font");
    st |= HPDF_Dict_AddName(f->type0, "Subtype", "Type0");
    st |= HPDF_Dict_AddName(f->type0, "BaseFont", ps);
    if (f->compact)
        st |= HPDF_Dict_Add(f->type0, "Encoding", cmap);
    else
        st |= HPDF_Dict_AddName(f->type0, "Encoding", "Identity-H");
    HPDF_Array desc = HPDF_Array_New(mm);
    if (!desc)
        goto fail;
    st |= HPDF_Dict_Add(f->type0, "DescendantFonts", desc);
    st |= HPDF_Array_Add(desc, f->cidfont);
    st |= HPDF_Dict_Add(f->type0, "ToUnicode", f->tounicode);

    st |= HPDF_Dict_AddName(f->cidfont, "Type", "Font");
    st |= HPDF_Dict_AddName(f->cidfont, "Subtype", "CIDFontType2");
    st |= HPDF_Dict_AddName(f->cidfont, "BaseFont", ps);
    HPDF_Dict csi = HPDF_Dict_New(mm);
    if (!csi)
        goto fail;
    st |= HPDF_Dict_Add(f->cidfont, "CIDSystemInfo", csi);
    st |= HPDF_Dict_Add(csi, "Registry", HPDF_String_New(mm, "Adobe", NULL));
    st |= HPDF_Dict_Add(csi, "Ordering", HPDF_String_New(mm, "Identity", NULL));
    st |= HPDF_Dict_AddNumber(csi, "Supplement", 0);
    st |= HPDF_Dict_Add(f->cidfont, "FontDescriptor", f->descriptor);
    st |= HPDF_Dict_AddName(f->cidfont, "CIDToGIDMap", "Identity");

    f->cidfont->write_fn = write_w;
    f->cidfont->attr = f;

    /* Flags (PDF 32000-1 9.8.2): Symbolic (bit 3), because the font's
     * glyphs go beyond the standard Latin set and are addressed by CID, as
     * most CIDFontType2 writers do; plus FixedPitch, Serif, Italic. */
    int flags = 4 | (face->is_fixed ? 1 : 0) | (face->is_serif ? 2 : 0) | (face->is_italic ? 64 : 0);
    st |= HPDF_Dict_AddName(f->descriptor, "Type", "FontDescriptor");
    st |= HPDF_Dict_AddName(f->descriptor, "FontName", ps);
    st |= HPDF_Dict_AddNumber(f->descriptor, "Flags", flags);
    HPDF_Array bbox = HPDF_Array_New(mm);
    if (!bbox)
        goto fail;
    st |= HPDF_Dict_Add(f->descriptor, "FontBBox", bbox);
    for (int i = 0; i < 4; i++)
        st |= HPDF_Array_AddNumber(bbox, (HPDF_INT32)scale1000(face, face->bbox[i]));
    st |= HPDF_Dict_AddReal(f->descriptor, "ItalicAngle", (HPDF_REAL)face->italic_angle);
    st |= HPDF_Dict_AddNumber(f->descriptor, "Ascent", (HPDF_INT32)scale1000(face, face->ascender));
    st |= HPDF_Dict_AddNumber(f->descriptor, "Descent", (HPDF_INT32)scale1000(face, face->descender));
    st |= HPDF_Dict_AddNumber(f->descriptor, "CapHeight", (HPDF_INT32)scale1000(face, face->cap_height));
    st |= HPDF_Dict_AddNumber(f->descriptor, "XHeight", (HPDF_INT32)scale1000(face, face->x_height));
    /* No font format stores a stem width; these are the usual estimates. */
    st |= HPDF_Dict_AddNumber(f->descriptor, "StemV", face->is_bold ? 120 : 80);
    st |= HPDF_Dict_Add(f->descriptor, "FontFile2", f->fontfile);
    if (st != HPDF_OK || HPDF_GetError(doc))
        goto fail;
    return f;

fail:
    hfail(doc, st, "cannot create the PDF font objects", err, errlen);
    if (f->cidfont) { /* stays in the document: must not call back into freed memory */
        f->cidfont->write_fn = NULL;
        f->cidfont->attr = NULL;
    }
    bl_pdf_font_free(f);
    return NULL;
}

void bl_pdf_font_free(bl_pdf_font *f)
{
    if (!f)
        return;
    /* The PDF objects belong to the document; only unhook our writer. */
    bl_face_drop(f->face);
    free(f->slot);
    free(f->codes);
    bl_buf_free(&f->texts);
    bl_buf_free(&f->w);
    bl_buf_free(&f->file);
    bl_buf_free(&f->tu);
    free(f->subset_gid);
    free(f);
}

/* Codes of a compact font: 00..DF but the space's 20, then E000..FFFF
 * (pdf-font.h). */
#define ONE_BYTE_CODES 0xDFu
#define COMPACT_CODES (ONE_BYTE_CODES + 0x2000u)

/* The k-th one-byte code given out (k < ONE_BYTE_CODES): those a literal
 * string must escape (LF, CR, parentheses, backslash: two bytes each in
 * the content) come last, since the first codes go to the most frequent
 * glyphs; 20 is never given out (the space's). */
static unsigned one_byte_code(unsigned k)
{
    static const unsigned char late[] = {0x0A, 0x0D, 0x28, 0x29, 0x5C};
    static const unsigned char skip[] = {0x0A, 0x0D, 0x20, 0x28, 0x29, 0x5C}; /* ascending */
    const unsigned early = ONE_BYTE_CODES - sizeof late;
    if (k >= early)
        return late[k - early];
    unsigned c = k; /* the k-th code that is not skipped */
    for (size_t i = 0; i < sizeof skip; i++)
        c += skip[i] <= c;
    return c;
}

static int is_space_pair(const bl_pdf_font *f, unsigned gid, const char *text, size_t len)
{
    return f->compact && gid == f->space_gid && len == 1 && text[0] == ' ';
}

/* Whether a new alias (gid, text) - a glyph's second text - can get a
 * code: in a compact font only while codes remain for every glyph not
 * drawn yet (each glyph's first pair always finds one: there are more
 * codes than BL_PDF_COMPACT_GLYPHS); in Identity-H while CIDs remain. */
static int code_left(const bl_pdf_font *f, unsigned gid, const char *text, size_t len)
{
    if (!f->compact)
        return f->next_alias <= MAX_CID;
    return is_space_pair(f, gid, text, len) || COMPACT_CODES - f->next_seq > f->face->num_glyphs - f->nglyphs;
}

/* A new pair (gid, text), which code_left allows: a compact font's next
 * code (the CID is the code), or in Identity-H the CID cid; NULL when out
 * of memory. */
static bl_pdf_code *add_code(bl_pdf_font *f, unsigned gid, unsigned cid, const char *text, size_t len)
{
    unsigned code = cid, clen = 2;
    if (f->compact) {
        if (is_space_pair(f, gid, text, len)) {
            code = BL_PDF_SPACE_CODE;
        } else {
            if (f->next_seq >= COMPACT_CODES) /* cannot happen: code_left keeps codes for first pairs */
                return NULL;
            code = f->next_seq < ONE_BYTE_CODES ? one_byte_code(f->next_seq) : 0xE000u + (f->next_seq - ONE_BYTE_CODES);
            f->next_seq++;
        }
        clen = code < 0x100u ? 1 : 2;
        cid = code;
    }
    if (f->ncodes >= UINT32_MAX - 1 || (uint64_t)f->texts.len + len > UINT32_MAX)
        return NULL;
    if (bl_grow(&f->codes, &f->capcodes, f->ncodes + 1, sizeof *f->codes))
        return NULL;
    size_t off = f->texts.len;
    if (len && bl_buf_append(&f->texts, text, len))
        return NULL;
    bl_pdf_code *c = &f->codes[f->ncodes++];
    c->text_off = (uint32_t)off;
    c->text_len = (uint32_t)len;
    c->next = 0;
    c->gid = (uint16_t)gid;
    c->cid = (uint16_t)cid;
    c->code = (uint16_t)code;
    c->len = (uint8_t)clen;
    /* Rounded to 3 decimals: exactly the number written into /W, so that
     * text positioning reproduces what a reader computes. */
    c->width = bl_pdf_round(bl_face_advance(f->face, gid) * 1000.0 / f->face->upem, 3);
    return c;
}

const bl_pdf_code *bl_pdf_font_code_slow(bl_pdf_font *f, unsigned gid, const char *text, size_t len)
{
    uint32_t s = f->slot[gid];
    if (!s) {
        bl_pdf_code *c = add_code(f, gid, gid, text, len);
        if (c) {
            f->slot[gid] = (uint32_t)f->ncodes;
            f->nglyphs++;
        }
        return c;
    }
    uint32_t last = s;
    for (uint32_t i = s; i; i = f->codes[i - 1].next) {
        const bl_pdf_code *c = &f->codes[i - 1];
        if (c->text_len == len && (len == 0 || !memcmp(f->texts.data + c->text_off, text, len)))
            return c;
        last = i;
    }
    if (!code_left(f, gid, text, len)) {
        /* All codes taken: draw the glyph with its first code (right on
         * the page, only its extracted text is that of the first use). */
        f->lost_aliases++;
        return &f->codes[s - 1];
    }
    bl_pdf_code *c = add_code(f, gid, f->next_alias, text, len);
    if (!c)
        return NULL;
    if (!f->compact)
        f->next_alias++;
    f->codes[last - 1].next = (uint32_t)f->ncodes;
    return c;
}

static int by_cid(const void *x, const void *y)
{
    unsigned a = (*(const bl_pdf_code *const *)x)->cid, b = (*(const bl_pdf_code *const *)y)->cid;
    return (a > b) - (a < b);
}

/* "/W [...]" in CID order, consecutive CIDs in one array. */
static int build_w(bl_pdf_font *f)
{
    const bl_pdf_code **by = malloc((f->ncodes ? f->ncodes : 1) * sizeof *by);
    if (!by)
        return -1;
    for (size_t i = 0; i < f->ncodes; i++)
        by[i] = &f->codes[i];
    qsort(by, f->ncodes, sizeof *by, by_cid);
    int bad = 0;
    char num[32];
    long prev = -2;
    f->w.len = 0;
    bad |= bl_buf_puts(&f->w, "/W [");
    for (size_t i = 0; i < f->ncodes; i++) {
        const bl_pdf_code *c = by[i];
        if ((long)c->cid != prev + 1) {
            if (prev >= 0)
                bad |= bl_buf_puts(&f->w, "]");
            bad |= bl_buf_printf(&f->w, "%u [", (unsigned)c->cid);
        } else
            bad |= bl_buf_puts(&f->w, " ");
        bad |= bl_buf_append(&f->w, num, (size_t)(bl_pdf_fmt(num, c->width, 3) - num));
        prev = c->cid;
    }
    if (prev >= 0)
        bad |= bl_buf_puts(&f->w, "]");
    bad |= bl_buf_puts(&f->w, "]\012");
    free(by);
    return bad ? -1 : 0;
}

/* UTF-8 -> UTF-16 code units, at most MAX_UNITS, never a split pair.
 * Invalid bytes are skipped (they cannot come from validated input). */
static unsigned to_utf16(const char *s, size_t n, uint16_t *out)
{
    unsigned k = 0;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        int l = bl_utf8_decode(s + i, n - i, &cp);
        if (l == 0) {
            i++;
            continue;
        }
        i += (size_t)l;
        if (cp >= 0x10000) {
            if (k + 2 > MAX_UNITS)
                break;
            cp -= 0x10000;
            out[k++] = (uint16_t)(0xD800 + (cp >> 10));
            out[k++] = (uint16_t)(0xDC00 + (cp & 0x3FF));
        } else {
            if (k + 1 > MAX_UNITS)
                break;
            out[k++] = (uint16_t)cp;
        }
    }
    return k;
}

typedef struct tu_item {
    uint16_t code;
    uint8_t len;  /* of the code, bytes */
    uint16_t n;   /* UTF-16 units */
    uint32_t off; /* into the unit pool; the CID in the encoding CMap */
} tu_item;

/* v as 2 * len hex digits. */
static void put_hex(bl_buf *b, int *bad, unsigned v, int len)
{
    static const char hx[] = "0123456789ABCDEF";
    char t[8];
    for (int i = 0; i < 2 * len; i++)
        t[i] = hx[(v >> (4 * (2 * len - 1 - i))) & 15];
    *bad |= bl_buf_append(b, t, (size_t)(2 * len));
}

static void put_code_hex(bl_buf *b, int *bad, const tu_item *it)
{
    *bad |= bl_buf_puts(b, "<");
    put_hex(b, bad, it->code, it->len);
    *bad |= bl_buf_puts(b, ">");
}

static void flush_block(bl_buf *out, bl_buf *blk, int *count, const char *kind, int *bad)
{
    if (!*count)
        return;
    *bad |= bl_buf_printf(out, "%d begin%s\n", *count, kind);
    *bad |= bl_buf_append(out, blk->data, blk->len);
    *bad |= bl_buf_printf(out, "end%s\n", kind);
    blk->len = 0;
    *count = 0;
}

/* The codespace ranges (pdf-font.h), the same in the encoding and
 * ToUnicode CMaps. */
static const char compact_codespace[] = "2 begincodespacerange\n<00> <DF>\n<E000> <FFFF>\nendcodespacerange\n";
static const char identity_codespace[] = "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n";

/* Consecutive codes a and b may share a range entry when only their last
 * byte differs (PDF 32000-1 9.7.6.2 and 9.10.3). */
static int same_range(const tu_item *a, const tu_item *b)
{
    return a->len == b->len && (a->code >> 8) == (b->code >> 8);
}

static int by_code(const void *x, const void *y)
{
    unsigned a = ((const tu_item *)x)->code, b = ((const tu_item *)y)->code;
    return (a > b) - (a < b);
}

static const char cmap_head[] = "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n";
static const char cmap_tail[] = "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n";

/* The ToUnicode CMap (PDF 32000-1 9.10.3), by code.  Codes without text
 * get no entry: extra glyphs of a cluster add nothing to extracted text. */
static int build_tounicode(const bl_pdf_font *f, bl_buf *out)
{
    int bad = 0;
    size_t n = 0;
    tu_item *items = malloc((f->ncodes ? f->ncodes : 1) * sizeof *items);
    bl_buf pool = {0}; /* uint16_t units */
    bl_buf chars = {0}, ranges = {0};
    if (!items)
        return -1;
    uint16_t units[MAX_UNITS];
    for (size_t i = 0; i < f->ncodes; i++) {
        const bl_pdf_code *c = &f->codes[i];
        if (!c->text_len)
            continue;
        unsigned k = to_utf16(f->texts.data + c->text_off, c->text_len, units);
        if (!k)
            continue;
        if (pool.len / 2 > UINT32_MAX - MAX_UNITS)
            bad = 1;
        items[n] = (tu_item){c->code, c->len, (uint16_t)k, (uint32_t)(pool.len / 2)};
        bad |= bl_buf_append(&pool, units, k * sizeof units[0]);
        n++;
    }
    qsort(items, n, sizeof *items, by_code);
    bad |= bl_buf_puts(out, cmap_head);
    bad |= bl_buf_puts(out, "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
                            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n");
    bad |= bl_buf_puts(out, f->compact ? compact_codespace : identity_codespace);
    int nchars = 0, nranges = 0;
    const uint16_t *u = (const uint16_t *)pool.data;
    for (size_t i = 0; i < n && !bad;) {
        /* A bfrange covers consecutive codes mapping to consecutive single
         * BMP characters; source and destination may differ only in their
         * last byte. */
        size_t j = i + 1;
        if (items[i].n == 1 && (u[items[i].off] < 0xD800 || u[items[i].off] > 0xDFFF)) {
            unsigned c0 = items[i].code, u0 = u[items[i].off];
            while (j < n && items[j].n == 1 && items[j].code == c0 + (j - i) && u[items[j].off] == u0 + (j - i) &&
                   same_range(&items[i], &items[j]) && (u[items[j].off] >> 8) == (u0 >> 8) &&
                   (u0 + (j - i) < 0xD800 || u0 + (j - i) > 0xDFFF))
                j++;
        }
        if (j - i >= 2) {
            put_code_hex(&ranges, &bad, &items[i]);
            bad |= bl_buf_puts(&ranges, " ");
            put_code_hex(&ranges, &bad, &items[j - 1]);
            bad |= bl_buf_puts(&ranges, " <");
            put_hex(&ranges, &bad, u[items[i].off], 2);
            bad |= bl_buf_puts(&ranges, ">\n");
            if (++nranges == CMAP_BLOCK)
                flush_block(out, &ranges, &nranges, "bfrange", &bad);
            i = j;
        } else {
            put_code_hex(&chars, &bad, &items[i]);
            bad |= bl_buf_puts(&chars, " <");
            for (unsigned k = 0; k < items[i].n; k++)
                put_hex(&chars, &bad, u[items[i].off + k], 2);
            bad |= bl_buf_puts(&chars, ">\n");
            if (++nchars == CMAP_BLOCK)
                flush_block(out, &chars, &nchars, "bfchar", &bad);
            i++;
        }
    }
    flush_block(out, &chars, &nchars, "bfchar", &bad);
    flush_block(out, &ranges, &nranges, "bfrange", &bad);
    bad |= bl_buf_puts(out, cmap_tail);
    free(items);
    bl_buf_free(&pool);
    bl_buf_free(&chars);
    bl_buf_free(&ranges);
    return bad ? -1 : 0;
}

/* Tables a CIDFontType2 font program needs (PDF 32000-1 9.9, table 126:
 * head hhea loca maxp cvt prep glyf hmtx fpgm; cmap only for simple
 * TrueType fonts).  Everything else (layout, names, cmap, post, OS/2) is
 * dropped, and cvt, fpgm and prep go with the hinting (SUBSET_FLAGS). */
static int keep_table(hb_tag_t t)
{
    static const hb_tag_t keep[] = {
        HB_TAG('g', 'l', 'y', 'f'), HB_TAG('l', 'o', 'c', 'a'), HB_TAG('h', 'e', 'a', 'd'),
        HB_TAG('h', 'h', 'e', 'a'), HB_TAG('h', 'm', 't', 'x'), HB_TAG('m', 'a', 'x', 'p'),
        HB_TAG('c', 'v', 't', ' '), HB_TAG('f', 'p', 'g', 'm'), HB_TAG('p', 'r', 'e', 'p'),
    };
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        if (keep[i] == t)
            return 1;
    return 0;
}

static hb_blob_t *kept_table(hb_face_t *proxy, hb_tag_t tag, void *face)
{
    (void)proxy;
    return keep_table(tag) ? hb_face_reference_table(face, tag) : hb_blob_get_empty();
}

/* The face hb-subset reads: the font with only the tables we keep.  Told
 * to drop the others instead, hb-subset still builds the whole cmap's
 * code point map and the layout tables' accelerators for every subset
 * (a third of its time, measured).  One per face, made on first use
 * (threads may race: the loser's copy is destroyed). */
static hb_face_t *subset_source(bl_face *face)
{
    hb_face_t *src = __atomic_load_n(&face->subset_face, __ATOMIC_ACQUIRE);
    if (src)
        return src;
    src = hb_face_create_for_tables(kept_table, hb_face_reference(face->hb_face), (hb_destroy_func_t)hb_face_destroy);
    if (src == hb_face_get_empty())
        return NULL;
    hb_face_set_upem(src, hb_face_get_upem(face->hb_face));
    hb_face_set_glyph_count(src, hb_face_get_glyph_count(face->hb_face));
    hb_face_make_immutable(src);
    hb_face_t *none = NULL;
    if (!__atomic_compare_exchange_n(&face->subset_face, &none, src, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        hb_face_destroy(src);
        return none;
    }
    return src;
}

/* No hinting: pages are viewed scaled, and the TrueType programs (fpgm,
 * prep, cvt, glyph instructions) were over half of the compressed font
 * files (the Noto fpgm alone is 3.6 KB in every font).
 * Identity-H fonts retain glyph ids: their codes are glyph ids, in content
 * streams written page by page before subsetting.  Compact fonts, whose
 * codes reach glyphs through a CIDToGIDMap stream written after the
 * subset, have theirs renumbered densely: retained, a body font using a
 * glyph near id 2,000 (Noto's quotation marks) carried 13 KB of empty loca
 * and hmtx entries, which hb-subset wrote and Flate then read, 0.2 ms per
 * such font (measured on the English + Hebrew sample: its eight fonts
 * 0.5 ms less CPU, the file 0.6 KB smaller, -0.2 ms of wall time). */
#define SUBSET_FLAGS (HB_SUBSET_FLAGS_NO_HINTING | HB_SUBSET_FLAGS_NOTDEF_OUTLINE)
#define SUBSET_FLAGS_RETAINED (SUBSET_FLAGS | HB_SUBSET_FLAGS_RETAIN_GIDS)

/* hb-subset is loaded when first needed (dynlib.h), or ahead of that by
 * bl_pdf_subset_preload on ICU's loader thread: not at every start. */
#define SUBSET_FUNCTIONS(X)                                                                        \
    X(hb_subset_input_create_or_fail) X(hb_subset_input_glyph_set) X(hb_subset_input_set_flags)    \
    X(hb_subset_or_fail) X(hb_subset_input_destroy) X(hb_subset_plan_create_or_fail)                \
    X(hb_subset_plan_old_to_new_glyph_mapping) X(hb_subset_plan_execute_or_fail) X(hb_subset_plan_destroy)
static struct {
    SUBSET_FUNCTIONS(BL_DL_FIELD)
} hbs;
static const char *const hbs_names[] = {SUBSET_FUNCTIONS(BL_DL_NAME)};
BL_DL_CHECK(hbs, hbs_names);
const char *bl_subset_library = "libharfbuzz-subset.so.0";
static bl_dl_lib hbs_lib = BL_DL_LIB(bl_subset_library, hbs_names, hbs);

static int subset_library(char *err, size_t errlen)
{
    if (bl_dl_need(&hbs_lib) == 0)
        return 0;
    if (err)
        snprintf(err, errlen, "cannot subset fonts: %s", hbs_lib.why);
    return -1;
}

void bl_pdf_subset_preload(void) { subset_library(NULL, 0); }

void bl_pdf_subset_forget(void) { bl_dl_forget(&hbs_lib); }

void bl_pdf_font_warm(bl_face *face)
{
    if (subset_library(NULL, 0))
        return;
    hb_face_t *src = subset_source(face);
    hb_subset_input_t *in = src ? hbs.hb_subset_input_create_or_fail() : NULL;
    if (!in)
        return;
    hb_set_add(hbs.hb_subset_input_glyph_set(in), 0);
    hbs.hb_subset_input_set_flags(in, SUBSET_FLAGS);
    hb_face_destroy(hbs.hb_subset_or_fail(src, in));
    hbs.hb_subset_input_destroy(in);
}

/* The subset font file of face's glyphs gids (file_key's, sorted; caller
 * destroys), or NULL.  A compact font's glyphs are renumbered, each one's
 * new id put in sub[] (ngids of them); else sub is not used.  The outline
 * of each glyph slot[] marks (of every glyph, if slot is NULL) is checked. */
static hb_blob_t *subset(bl_face *face, int compact, const uint32_t *slot, const uint32_t *gids, size_t ngids,
                         uint16_t *sub, char *err, size_t errlen)
{
    if (subset_library(err, errlen))
        return NULL;
    hb_subset_input_t *in = hbs.hb_subset_input_create_or_fail();
    if (!in) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    hb_set_t *glyphs = hbs.hb_subset_input_glyph_set(in);
    for (size_t i = 0; i < ngids; i++) {
        unsigned g = gids[i];
        /* Opening the face checked the glyph tables' structure; the
         * outlines that go into the PDF are loaded here, one by one. */
        if ((!slot || slot[g]) && bl_face_check_glyph(face, g)) {
            snprintf(err, errlen, "corrupt font file (glyph %u does not load)", g);
            hbs.hb_subset_input_destroy(in);
            return NULL;
        }
        hb_set_add(glyphs, g);
    }
    hbs.hb_subset_input_set_flags(in, compact ? SUBSET_FLAGS : SUBSET_FLAGS_RETAINED);
    hb_face_t *src = subset_source(face), *out = NULL;
    if (src && compact) {
        /* The plan says where each glyph goes: in order of old id, after
         * .notdef, with the components of composite glyphs added. */
        hb_subset_plan_t *plan = hbs.hb_subset_plan_create_or_fail(src, in);
        const hb_map_t *map = plan ? hbs.hb_subset_plan_old_to_new_glyph_mapping(plan) : NULL;
        int ok = map != NULL;
        for (size_t i = 0; ok && i < ngids; i++) {
            hb_codepoint_t to = hb_map_get(map, gids[i]);
            ok = to < face->num_glyphs; /* not HB_MAP_VALUE_INVALID; < 2^16 (compact) */
            sub[i] = (uint16_t)to;
        }
        out = ok ? hbs.hb_subset_plan_execute_or_fail(plan) : NULL;
        if (plan)
            hbs.hb_subset_plan_destroy(plan);
    } else if (src) {
        out = hbs.hb_subset_or_fail(src, in);
    }
    hbs.hb_subset_input_destroy(in);
    hb_blob_t *blob = out ? hb_face_reference_blob(out) : NULL;
    hb_face_destroy(out);
    if (!blob || hb_blob_get_length(blob) < 12) {
        hb_blob_destroy(blob);
        snprintf(err, errlen, "cannot subset font %s (hb-subset failed)", face->label);
        return NULL;
    }
    return blob;
}

/* Six capital letters from the font and its glyph set (PDF 32000-1 9.6.4):
 * the same document always gets the same names. */
static void subset_tag(const bl_pdf_font *f, char tag[7])
{
    uint64_t h = 0xcbf29ce484222325ull;
#define MIX(v) (h = (h ^ (uint64_t)(v)) * 0x100000001b3ull)
    MIX(f->index);
    for (const char *s = f->face->ps_name; s && *s; s++)
        MIX((unsigned char)*s);
    for (unsigned g = 0; g < f->face->num_glyphs; g++)
        if (f->slot[g])
            MIX(g), MIX(g >> 8);
#undef MIX
    for (int i = 0; i < 6; i++) {
        tag[i] = (char)('A' + h % 26);
        h /= 26;
    }
    tag[6] = 0;
}

/* Sets the stream's bytes: b's (taken over), deflated already when z (by
 * bl_pdf_font_prepare, possibly on another thread).  A read-only blob
 * replaces the dictionary's memory stream (a second save puts new bytes). */
static HPDF_STATUS put_stream(HPDF_Dict d, bl_buf *b, int z)
{
    HPDF_Stream s = bl_pdf_blob(d->mmgr, b, 1);
    if (!s)
        return HPDF_FAILD_TO_ALLOC_MEM;
    bl_pdf_set_stream(d, s, z);
    return HPDF_OK;
}

/* libdeflate compresses whole buffers, which is all we ever have, about
 * three times as fast as zlib and a little smaller (measured on the
 * 200-page packet's streams: level 6, 418 KB in 12.7 ms; zlib's level 5,
 * 420 KB in 37.6 ms).  A compressor is some hundreds of KB of tables and is
 * not shared between threads: each thread keeps one, freed when it ends (or
 * by bl_pdf_deflate_cache_clear, for the thread that calls it). */
static pthread_key_t zc_key;
static int zc_key_ok;
static pthread_once_t zc_once = PTHREAD_ONCE_INIT;

static void zc_free(void *c) { libdeflate_free_compressor(c); }

static void zc_make_key(void) { zc_key_ok = pthread_key_create(&zc_key, zc_free) == 0; }

/* The compressor the calling thread keeps, or NULL. */
static struct libdeflate_compressor *kept_compressor(void)
{
    pthread_once(&zc_once, zc_make_key);
    return zc_key_ok ? pthread_getspecific(zc_key) : NULL;
}

/* The calling thread's compressor, or NULL (out of memory); *own: the caller
 * frees it (no thread-specific slot to keep it in). */
static struct libdeflate_compressor *compressor(int *own)
{
    struct libdeflate_compressor *c = kept_compressor();
    *own = 0;
    if (c)
        return c;
    c = libdeflate_alloc_compressor(BL_PDF_DEFLATE_LEVEL);
    if (c && (!zc_key_ok || pthread_setspecific(zc_key, c)))
        *own = 1;
    return c;
}

static void compressor_drop(void)
{
    struct libdeflate_compressor *c = kept_compressor();
    if (c) {
        pthread_setspecific(zc_key, NULL);
        libdeflate_free_compressor(c);
    }
}

int bl_pdf_deflate(const void *in, size_t len, bl_buf *out)
{
    if (len > UINT32_MAX / 2)
        return -1;
    int own;
    struct libdeflate_compressor *c = compressor(&own);
    if (!c)
        return -1;
    size_t bound = libdeflate_zlib_compress_bound(c, len);
    int ok = !bl_grow(&out->data, &out->cap, bound + 1, 1);
    if (ok) {
        out->len = libdeflate_zlib_compress(c, in, len, out->data, bound);
        ok = out->len > 0; /* 0: did not fit, which the bound rules out */
    }
    if (own)
        libdeflate_free_compressor(c);
    return ok ? 0 : -1;
}

/* A process-wide cache of byte strings found by their bytes (key), with a
 * number kept beside each (aux); the least recently used entries go when
 * it is full, in entries or in bytes.  Two serve the PDF writer: subset
 * font files and deflated streams that recur from document to document. */
typedef struct kept {
    uint64_t hash;
    char *key, *val;   /* one allocation: the key, then the value; NULL: empty */
    size_t klen, vlen, aux;
    unsigned long used;
} kept;

typedef struct keeper {
    pthread_mutex_t lock;
    kept *tab;
    int n;
    size_t budget, bytes; /* value bytes allowed, kept */
    unsigned long clock;
} keeper;

static void kept_clear(keeper *k, kept *e)
{
    k->bytes -= e->vlen;
    free(e->key);
    memset(e, 0, sizeof *e);
}

static void keeper_clear(keeper *k)
{
    pthread_mutex_lock(&k->lock);
    for (int i = 0; i < k->n; i++)
        if (k->tab[i].key)
            kept_clear(k, &k->tab[i]);
    pthread_mutex_unlock(&k->lock);
}

/* The value kept for key, copied into out (replacing its contents), and
 * its aux: 1, or 0 when there is none (or no memory to copy it). */
static int keeper_get(keeper *k, const void *key, size_t klen, bl_buf *out, size_t *aux)
{
    uint64_t h = bl_hash(key, klen);
    int found = 0;
    pthread_mutex_lock(&k->lock);
    for (int i = 0; i < k->n && !found; i++) {
        kept *e = &k->tab[i];
        if (e->key && e->hash == h && e->klen == klen && !memcmp(e->key, key, klen)) {
            out->len = 0;
            found = !bl_buf_append(out, e->val, e->vlen);
            *aux = e->aux;
            e->used = ++k->clock;
        }
    }
    pthread_mutex_unlock(&k->lock);
    return found;
}

/* Keeps a copy of val for key (a quarter of the budget at most). */
static void keeper_put(keeper *k, const void *key, size_t klen, const void *val, size_t vlen, size_t aux)
{
    char *copy = vlen <= k->budget / 4 ? malloc(klen + vlen + 1) : NULL;
    if (!copy)
        return;
    memcpy(copy, key, klen);
    memcpy(copy + klen, val, vlen);
    pthread_mutex_lock(&k->lock);
    kept *slot = &k->tab[0];
    for (int i = 0; i < k->n; i++) /* an empty slot, else the least recently used */
        if (!k->tab[i].key || (slot->key && k->tab[i].used < slot->used))
            slot = &k->tab[i];
    if (slot->key)
        kept_clear(k, slot);
    while (k->bytes + vlen > k->budget) { /* room for it */
        kept *old = NULL;
        for (int i = 0; i < k->n; i++)
            if (k->tab[i].key && (!old || k->tab[i].used < old->used))
                old = &k->tab[i];
        if (!old)
            break;
        kept_clear(k, old);
    }
    *slot = (kept){bl_hash(key, klen), copy, copy + klen, klen, vlen, aux, ++k->clock};
    k->bytes += vlen;
    pthread_mutex_unlock(&k->lock);
}

/* Deflated streams by content: the small streams that recur from document
 * to document - the furniture fonts' ToUnicode and CIDToGIDMap, the
 * encoding CMap, the page furniture's forms - are deflated once per
 * process, not once per output (in a batch of 100 outputs their zlib
 * set-up and work were a third of the instructions each output adds to a
 * packet's). */
#define ZMEMO_MAX_INPUT (64u << 10)
static kept zmemo_tab[64];
static keeper zmemo = {PTHREAD_MUTEX_INITIALIZER, zmemo_tab, 64, 4u << 20, 0, 0};

void bl_pdf_deflate_cache_clear(void)
{
    keeper_clear(&zmemo);
    compressor_drop();
}

int bl_pdf_deflate_shared(const void *in, size_t len, bl_buf *out)
{
    size_t unused;
    if (len == 0 || len > ZMEMO_MAX_INPUT)
        return bl_pdf_deflate(in, len, out);
    if (keeper_get(&zmemo, in, len, out, &unused))
        return 0;
    if (bl_pdf_deflate(in, len, out))
        return -1;
    keeper_put(&zmemo, in, len, out->data, out->len, 0);
    return 0;
}

/* Deflates b in place (through the process-wide memo when shared). */
static int deflate_buf(bl_buf *b, int shared)
{
    bl_buf z = {0};
    if (shared ? bl_pdf_deflate_shared(b->data, b->len, &z) : bl_pdf_deflate(b->data, b->len, &z)) {
        bl_buf_free(&z);
        return -1;
    }
    bl_buf_free(b);
    *b = z;
    return 0;
}

/* Font files already made in this process, by face and glyph set: batch
 * mode writes the same furniture fonts (the classification banner's bold
 * sans, the page labels' digits) into output after output, and a subset
 * file depends on nothing else.  The key is the face's serial, whether the
 * file is deflated and whether its glyphs are renumbered (compact fonts),
 * then the glyph ids (file_key); a renumbered file's entry holds each key
 * glyph's new id (2 bytes, native order) after the file's bytes.  aux is
 * the file's size before deflating (/Length1). */
static kept file_tab[32];
static keeper files = {PTHREAD_MUTEX_INITIALIZER, file_tab, 32, 8u << 20, 0, 0};

void bl_pdf_font_cache_clear(void) { keeper_clear(&files); }

/* The file cache's key for a glyph set of face: the face's serial, z and
 * whether glyphs are renumbered (compact), then the glyph set (glyph 0
 * included, sorted) from key[2] on: the glyphs slot marks (unless NULL) and
 * those bits marks (unless NULL), at most most of them besides glyph 0; n
 * counts all of it.  NULL when out of memory. */
static uint32_t *glyph_key(const bl_face *face, int compact, int z, const uint32_t *slot, const unsigned char *bits,
                           size_t most, size_t *n)
{
    uint32_t *k = malloc((most + 3) * sizeof *k);
    if (!k)
        return NULL;
    size_t m = 0;
    k[m++] = face->serial;
    k[m++] = (z ? 1u : 0u) | (compact ? 2u : 0u); /* compact: renumbered glyphs */
    k[m++] = 0;
    for (unsigned gid = 1; gid < face->num_glyphs && m <= most + 2; gid++)
        if ((slot && slot[gid]) || (bits && (bits[gid / 8] >> (gid % 8) & 1)))
            k[m++] = gid;
    *n = m;
    return k;
}

static uint32_t *file_key(const bl_pdf_font *f, int z, size_t *n)
{
    return glyph_key(f->face, f->compact, z, f->slot, NULL, f->ncodes, n);
}

uint32_t *bl_pdf_font_ahead_key(bl_face *face, int compact, int z, const bl_pdf_font *f, const unsigned char *bits,
                                size_t nbits, size_t *n)
{
    return glyph_key(face, compact, z, f ? f->slot : NULL, bits, nbits + (f ? f->nglyphs : 0), n);
}

static unsigned long files_made, files_ahead; /* atomic */

unsigned long bl_pdf_font_files_made(unsigned long *ahead)
{
    if (ahead)
        *ahead = __atomic_load_n(&files_ahead, __ATOMIC_RELAXED);
    return __atomic_load_n(&files_made, __ATOMIC_RELAXED);
}

/* Makes the font file for key (file_key's) with hb-subset, deflated when z,
 * into out (its bytes; *len: its size before deflating) and the file cache;
 * a compact font's new glyph ids go to sub[] (nkey - 2 of them).  slot: as
 * subset's (NULL: work ahead, counted apart). */
static int make_file(bl_face *face, int compact, int z, const uint32_t *slot, const uint32_t *key, size_t nkey,
                     bl_buf *out, size_t *len, uint16_t *sub, char *err, size_t errlen)
{
    __atomic_add_fetch(&files_made, 1, __ATOMIC_RELAXED);
    if (!slot) /* bl_pdf_font_file_ahead's */
        __atomic_add_fetch(&files_ahead, 1, __ATOMIC_RELAXED);
    size_t ngl = nkey - 2, nsub = compact ? ngl * 2 : 0;
    out->len = 0;
    hb_blob_t *blob = subset(face, compact, slot, key + 2, ngl, sub, err, errlen);
    if (!blob)
        return -1;
    unsigned blen = 0;
    const char *bdata = hb_blob_get_data(blob, &blen);
    int bad = bl_buf_append(out, bdata, blen);
    hb_blob_destroy(blob);
    *len = blen;
    if (!bad && z)
        bad = deflate_buf(out, 0); /* kept here, not in the deflate memo */
    if (!bad && !bl_buf_append(out, sub, nsub)) {
        keeper_put(&files, key, nkey * sizeof *key, out->data, out->len, *len);
        out->len -= nsub;
    }
    if (bad)
        snprintf(err, errlen, "out of memory");
    return bad ? -1 : 0;
}

int bl_pdf_font_file_ahead(bl_face *face, const uint32_t *key, size_t nkey)
{
    bl_buf have = {0};
    size_t len;
    int rc = 0;
    if (nkey < 3 || keeper_get(&files, key, nkey * sizeof *key, &have, &len)) {
        bl_buf_free(&have);
        return 0;
    }
    int z = key[1] & 1, compact = (key[1] & 2) != 0; /* glyph_key's flags */
    uint16_t *sub = compact ? malloc((nkey - 2) * sizeof *sub) : NULL;
    char err[300];
    if ((compact && !sub) || make_file(face, compact, z, NULL, key, nkey, &have, &len, sub, err, sizeof err))
        rc = -1;
    free(sub);
    bl_buf_free(&have);
    return rc;
}

int bl_pdf_font_prepare(bl_pdf_font *f, int compress, char *err, size_t errlen)
{
    bl_buf_free(&f->file);
    bl_buf_free(&f->tu);
    f->prepared = 0;
    subset_tag(f, f->tag);
    size_t nkey = 0;
    uint32_t *key = file_key(f, compress, &nkey);
    if (!key) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* A compact font's renumbering: one new id per glyph of the key, kept
     * after the file's bytes in the cache entry. */
    size_t ngl = nkey - 2, nsub = f->compact ? ngl * 2 : 0;
    uint16_t *sub = f->compact ? malloc(ngl * sizeof *sub) : NULL;
    int bad = f->compact && !sub;
    if (!bad && keeper_get(&files, key, nkey * sizeof *key, &f->file, &f->file_len) && f->file.len >= nsub) {
        f->file.len -= nsub;
        if (nsub)
            memcpy(sub, f->file.data + f->file.len, nsub);
    } else if (!bad && make_file(f->face, f->compact, compress, f->slot, key, nkey, &f->file, &f->file_len, sub, err,
                                 errlen)) {
        free(sub);
        free(key);
        return -1;
    }
    if (!bad && f->compact) {
        free(f->subset_gid);
        if ((f->subset_gid = calloc(f->face->num_glyphs, sizeof *f->subset_gid)))
            for (size_t i = 0; i < ngl; i++)
                f->subset_gid[key[2 + i]] = sub[i];
        bad = !f->subset_gid;
    }
    free(sub);
    free(key);
    bad = bad || build_w(f) || build_tounicode(f, &f->tu);
    if (!bad && compress)
        bad = deflate_buf(&f->tu, 1);
    if (bad) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    f->prepared = compress ? 2 : 1;
    return 0;
}

int bl_pdf_font_finish(bl_pdf_font *f, HPDF_Doc doc, int compress, char *err, size_t errlen)
{
    HPDF_STATUS st = HPDF_OK;
    if (f->prepared != (compress ? 2 : 1) && bl_pdf_font_prepare(f, compress, err, errlen))
        return -1;
    f->prepared = 0; /* used up: a later save prepares again */
    st |= put_stream(f->fontfile, &f->file, compress);
    st |= HPDF_Dict_AddNumber(f->fontfile, "Length1", (HPDF_INT32)f->file_len);
    st |= put_stream(f->tounicode, &f->tu, compress);
    char name[80];
    bl_buf_free(&f->file);
    bl_buf_free(&f->tu);

    snprintf(name, sizeof name, "%s+%s", f->tag, f->face->ps_name && f->face->ps_name[0] ? f->face->ps_name : "Font");
    st |= HPDF_Dict_AddName(f->type0, "BaseFont", name);
    st |= HPDF_Dict_AddName(f->cidfont, "BaseFont", name);
    st |= HPDF_Dict_AddName(f->descriptor, "FontName", name);

    if (f->compact || f->next_alias > f->face->num_glyphs) {
        /* Codes as CIDs, or aliases: CID -> GID through a stream, 2 bytes
         * per CID (PDF 32000-1 9.7.4.2).  Unused CIDs map to 0: the zeros
         * compress to almost nothing, where an identity ramp would not. */
        size_t ncid = f->next_alias;
        if (f->compact) {
            ncid = 1;
            for (size_t i = 0; i < f->ncodes; i++)
                if (f->codes[i].cid >= ncid)
                    ncid = f->codes[i].cid + 1u;
        }
        unsigned char *map = calloc(ncid, 2);
        if (!map) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < f->ncodes; i++) {
            const bl_pdf_code *c = &f->codes[i];
            unsigned gid = f->compact ? f->subset_gid[c->gid] : c->gid;
            map[2 * c->cid] = (unsigned char)(gid >> 8);
            map[2 * c->cid + 1] = (unsigned char)gid;
        }
        if (!f->cidtogid) {
            f->cidtogid = HPDF_DictStream_New(doc->mmgr, doc->xref);
            if (!f->cidtogid) {
                free(map);
                return hfail(doc, HPDF_FAILD_TO_ALLOC_MEM, "cannot create the CIDToGIDMap", err, errlen);
            }
            st |= HPDF_Dict_Add(f->cidfont, "CIDToGIDMap", f->cidtogid);
        }
        bl_buf mb = {(char *)map, ncid * 2, ncid * 2};
        if (compress && deflate_buf(&mb, 1)) {
            bl_buf_free(&mb);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        st |= put_stream(f->cidtogid, &mb, compress);
        bl_buf_free(&mb);
    }
    if (st != HPDF_OK || HPDF_GetError(doc))
        return hfail(doc, st, "cannot write the PDF font objects", err, errlen);
    return 0;
}

HPDF_Dict bl_pdf_compact_cmap(HPDF_Doc doc, int compress, char *err, size_t errlen)
{
    /* Every code of the codespace to the CID of the same number: one CMap
     * serves every compact font, whatever codes it gives out.  Ranges
     * vary in their last byte only, as Adobe's own CMaps do. */
    bl_buf t = {0};
    int bad = bl_buf_puts(&t, cmap_head);
    bad |= bl_buf_puts(&t, "/CIDSystemInfo 3 dict dup begin\n/Registry (Adobe) def\n/Ordering (Identity) def\n"
                           "/Supplement 0 def\nend def\n/CMapName /" BL_PDF_CMAP_NAME " def\n/CMapType 1 def\n"
                           "/WMode 0 def\n");
    bad |= bl_buf_puts(&t, compact_codespace);
    bad |= bl_buf_puts(&t, "33 begincidrange\n<00> <DF> 0\n");
    for (unsigned hi = 0xE0; hi <= 0xFF; hi++)
        bad |= bl_buf_printf(&t, "<%02X00> <%02XFF> %u\n", hi, hi, hi << 8);
    bad |= bl_buf_puts(&t, "endcidrange\n");
    bad |= bl_buf_puts(&t, cmap_tail);
    if (!bad && compress)
        bad = deflate_buf(&t, 1);
    if (bad) {
        bl_buf_free(&t);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* The dictionary (PDF 32000-1 9.7.5.3): its CIDSystemInfo is the
     * CIDFonts', as PDF/A requires. */
    HPDF_STATUS st = HPDF_OK;
    HPDF_Dict d = HPDF_DictStream_New(doc->mmgr, doc->xref);
    HPDF_Dict csi = d ? HPDF_Dict_New(doc->mmgr) : NULL;
    if (csi) {
        st |= HPDF_Dict_AddName(d, "Type", "CMap");
        st |= HPDF_Dict_AddName(d, "CMapName", BL_PDF_CMAP_NAME);
        st |= HPDF_Dict_Add(d, "CIDSystemInfo", csi);
        st |= HPDF_Dict_Add(csi, "Registry", HPDF_String_New(doc->mmgr, "Adobe", NULL));
        st |= HPDF_Dict_Add(csi, "Ordering", HPDF_String_New(doc->mmgr, "Identity", NULL));
        st |= HPDF_Dict_AddNumber(csi, "Supplement", 0);
        st |= HPDF_Dict_AddNumber(d, "WMode", 0);
        st |= put_stream(d, &t, compress);
    }
    bl_buf_free(&t);
    if (!csi || st != HPDF_OK || HPDF_GetError(doc)) {
        hfail(doc, csi ? st : HPDF_FAILD_TO_ALLOC_MEM, "cannot create the encoding CMap", err, errlen);
        return NULL;
    }
    return d;
}
