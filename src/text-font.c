/* text-font.c - font faces: read, checked, shared. */
#include "text-font.h"
#include "dynlib.h"
#include "base.h"

#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include FT_TRUETYPE_TABLES_H
#include FT_TRUETYPE_TAGS_H
#include <fontconfig/fontconfig.h>
#include <hb-ot.h>

#define BL_GCACHE 0x800
#define FONT_MAX_BYTES (64u * 1024 * 1024)

static pthread_mutex_t ft_lock = PTHREAD_MUTEX_INITIALIZER;
static FT_Library ft_lib; /* FreeType's library object is shared; guarded by ft_lock */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint16_t be16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* FreeType and libharu accept fonts whose table directory points past the end
 * of the file; HarfBuzz sanitises but silently drops bad tables.  So check the
 * sfnt structure ourselves: every table inside the file, the tables a PDF
 * CIDFontType2 needs present, head magic right. */
static int check_sfnt(const unsigned char *d, size_t n, char *err, size_t errlen)
{
    if (n < 12) {
        snprintf(err, errlen, "%s", n ? "truncated font file" : "empty file (zero bytes)");
        return -1;
    }
    uint32_t ver = be32(d);
    if (ver == 0x774F4646 || ver == 0x774F4632) { /* wOFF, wOF2 */
        snprintf(err, errlen, "WOFF fonts are not supported; use a TrueType (.ttf) file");
        return -1;
    }
    if (ver == 0x4F54544F) { /* OTTO */
        snprintf(err, errlen, "CFF-flavoured OpenType is not supported yet; use a TrueType (.ttf) file");
        return -1;
    }
    if (ver != 0x00010000 && ver != 0x74727565) {
        snprintf(err, errlen, "not a TrueType font file");
        return -1;
    }
    unsigned ntables = be16(d + 4);
    if (ntables == 0 || 12 + (size_t)ntables * 16 > n) {
        snprintf(err, errlen, "truncated font file (table directory)");
        return -1;
    }
    static const char *need[] = {"head", "hhea", "hmtx", "maxp", "cmap", "loca", "glyf"};
    int found[7] = {0};
    for (unsigned i = 0; i < ntables; i++) {
        const unsigned char *e = d + 12 + i * 16;
        uint32_t off = be32(e + 8), len = be32(e + 12);
        if ((uint64_t)off + len > n) {
            snprintf(err, errlen, "truncated or corrupt font file (table '%.4s' ends past the end of the file)",
                     (const char *)e);
            return -1;
        }
        for (int k = 0; k < 7; k++)
            if (!memcmp(e, need[k], 4))
                found[k] = 1;
        if (!memcmp(e, "head", 4) && (len < 54 || be32(d + off + 12) != 0x5F0F3CF5)) {
            snprintf(err, errlen, "corrupt font file (bad 'head' table)");
            return -1;
        }
    }
    for (int k = 0; k < 7; k++)
        if (!found[k]) {
            snprintf(err, errlen, "font file lacks the required '%s' table", need[k]);
            return -1;
        }
    return 0;
}

static int find_table(const unsigned char *d, size_t n, const char *tag, uint32_t *off, uint32_t *len)
{
    unsigned ntables = be16(d + 4);
    for (unsigned i = 0; i < ntables && 12 + (size_t)(i + 1) * 16 <= n; i++) {
        const unsigned char *e = d + 12 + i * 16;
        if (!memcmp(e, tag, 4)) {
            *off = be32(e + 8);
            *len = be32(e + 12);
            return 1;
        }
    }
    return 0;
}

/* loca: long enough for every glyph, offsets never decreasing and inside
 * glyf; each glyph's header inside its slot; hhea/hmtx consistent with maxp.
 * check_sfnt has already checked that every table lies inside the file. */
static int check_glyphs(const unsigned char *d, size_t n, char *err, size_t errlen)
{
    uint32_t ho, hl, mo, ml, lo, ll, go, gl, hho, hhl, xo, xl;
    if (!find_table(d, n, "head", &ho, &hl) || !find_table(d, n, "maxp", &mo, &ml) || ml < 6 ||
        !find_table(d, n, "loca", &lo, &ll) || !find_table(d, n, "glyf", &go, &gl) ||
        !find_table(d, n, "hhea", &hho, &hhl) || hhl < 36 || !find_table(d, n, "hmtx", &xo, &xl)) {
        snprintf(err, errlen, "corrupt font file (missing or short head, maxp, hhea, hmtx, loca or glyf)");
        return -1;
    }
    unsigned glyphs = be16(d + mo + 4), metrics = be16(d + hho + 34);
    int longloca = be16(d + ho + 50) != 0;
    size_t need = (size_t)(glyphs + 1) * (longloca ? 4 : 2);
    if (glyphs == 0 || ll < need) {
        snprintf(err, errlen, "corrupt font file ('loca' has room for fewer than %u glyphs)", glyphs);
        return -1;
    }
    if (metrics == 0 || metrics > glyphs || xl < (size_t)metrics * 4 + (size_t)(glyphs - metrics) * 2) {
        snprintf(err, errlen, "corrupt font file ('hmtx' does not match 'hhea' and 'maxp')");
        return -1;
    }
    uint32_t prev = 0;
    for (unsigned g = 0; g <= glyphs; g++) {
        uint32_t o = longloca ? be32(d + lo + 4 * g) : 2u * be16(d + lo + 2 * g);
        if (o < prev || o > gl) {
            snprintf(err, errlen, "corrupt font file (glyph %u: 'loca' offset %u outside 'glyf')", g, o);
            return -1;
        }
        if (g > 0 && o > prev && o - prev < 10) { /* a glyph's header is 10 bytes */
            snprintf(err, errlen, "corrupt font file (glyph %u is truncated)", g - 1);
            return -1;
        }
        prev = o;
    }
    return 0;
}

static char *make_ps_name(FT_Face ft, const char *path)
{
    const char *src = FT_Get_Postscript_Name(ft);
    if (!src) {
        const char *slash = strrchr(path, '/');
        src = slash ? slash + 1 : path;
    }
    size_t n = strlen(src);
    if (n > 60)
        n = 60;
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')
            out[k++] = c;
    }
    out[k] = 0;
    return out;
}

static char *make_label(const char *path)
{
    /* DATADIR/fonts/X.ttf -> "fonts/X.ttf": stable across install locations;
     * a system font keeps its full path. */
    const char *dir = bl_data_dir();
    size_t n = dir ? strlen(dir) : 0;
    if (dir && !strncmp(path, dir, n) && !strncmp(path + n, "/fonts/", 7))
        return bl_strdup(path + n + 1);
    return bl_strdup(path);
}

bl_face *bl_face_open(const char *path, char *err, size_t errlen)
{
    /* Mapped, not read: a face touches only the tables it uses (a subset
     * needs a few glyphs of a 600 KB font). */
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > (off_t)FONT_MAX_BYTES) {
        snprintf(err, errlen, "%s", S_ISREG(st.st_mode) ? "font file larger than 64 MiB" : "not a regular file");
        return NULL;
    }
    hb_blob_t *blob = st.st_size ? hb_blob_create_from_file_or_fail(path) : hb_blob_get_empty();
    if (!blob) {
        snprintf(err, errlen, "cannot read the file");
        return NULL;
    }
    unsigned blen = 0;
    const unsigned char *data = (const unsigned char *)hb_blob_get_data(blob, &blen);
    size_t len = blen;
    if (check_sfnt(data, len, err, errlen)) {
        hb_blob_destroy(blob);
        return NULL;
    }
    bl_face *f = calloc(1, sizeof *f);
    if (!f) {
        hb_blob_destroy(blob);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->refs = 1;
    static unsigned next_serial;
    f->serial = __atomic_add_fetch(&next_serial, 1, __ATOMIC_RELAXED);
    f->path = bl_strdup(path);
    f->label = make_label(path);
    f->blob = blob;

    pthread_mutex_lock(&ft_lock);
    FT_Error fe = ft_lib ? 0 : FT_Init_FreeType(&ft_lib);
    if (!fe)
        fe = FT_New_Memory_Face(ft_lib, data, (FT_Long)len, 0, &f->ft);
    pthread_mutex_unlock(&ft_lock);
    if (fe || !f->ft) {
        snprintf(err, errlen, "FreeType cannot open the font (error %d)", fe);
        f->ft = NULL;
        bl_face_drop(f);
        return NULL;
    }
    FT_Face ft = f->ft;
    TT_OS2 *os2 = FT_Get_Sfnt_Table(ft, FT_SFNT_OS2);
    TT_Postscript *post = FT_Get_Sfnt_Table(ft, FT_SFNT_POST);
    if (!FT_IS_SFNT(ft) || ft->units_per_EM < 16 || ft->units_per_EM > 16384 || ft->num_glyphs < 2) {
        snprintf(err, errlen, "corrupt font file (units per em %u, %ld glyphs)",
                 (unsigned)ft->units_per_EM, (long)ft->num_glyphs);
        bl_face_drop(f);
        return NULL;
    }
    if (os2 && os2->version != 0xFFFF) {
        f->fs_type = os2->fsType;
        /* OS/2 fsType: bit 1 = restricted licence embedding; bit 9 = bitmap only. */
        if ((f->fs_type & 0x000F) == 0x0002 || (f->fs_type & 0x0200)) {
            snprintf(err, errlen, "the font's licence forbids embedding it in documents (OS/2 fsType 0x%04x)",
                     f->fs_type);
            bl_face_drop(f);
            return NULL;
        }
    }
    /* The glyph tables must hang together: FreeType accepts corrupt loca/glyf
     * at open time, libharu and hb-subset copy whatever is there.  Loading
     * every glyph would be thorough but costs milliseconds per font; this
     * structural check is linear in the glyph count and cheap. */
    if (check_glyphs(data, len, err, errlen)) {
        bl_face_drop(f);
        return NULL;
    }
    f->gcache = calloc(BL_GCACHE, sizeof *f->gcache); /* NULL only means no cache */
    f->gchecked = calloc(((size_t)ft->num_glyphs + 7) / 8, 1); /* NULL: every check loads */
    f->hb_face = hb_face_create(f->blob, 0);
    f->hb_font = hb_font_create(f->hb_face);
    f->upem = ft->units_per_EM;
    hb_font_set_scale(f->hb_font, (int)f->upem, (int)f->upem);
    f->num_glyphs = (unsigned)ft->num_glyphs;
    if (hb_face_get_glyph_count(f->hb_face) != f->num_glyphs) {
        snprintf(err, errlen, "corrupt font file (glyph count mismatch)");
        bl_face_drop(f);
        return NULL;
    }
    f->ascender = ft->ascender;
    f->descender = ft->descender;
    f->line_gap = ft->height - ft->ascender + ft->descender;
    f->bbox[0] = (int)ft->bbox.xMin;
    f->bbox[1] = (int)ft->bbox.yMin;
    f->bbox[2] = (int)ft->bbox.xMax;
    f->bbox[3] = (int)ft->bbox.yMax;
    f->cap_height = os2 && os2->version >= 2 && os2->sCapHeight ? os2->sCapHeight : (int)(f->ascender * 0.7);
    f->x_height = os2 && os2->version >= 2 && os2->sxHeight ? os2->sxHeight : (int)(f->ascender * 0.5);
    f->italic_angle = post ? post->italicAngle / 65536.0 : 0;
    f->is_fixed = FT_IS_FIXED_WIDTH(ft) ? 1 : 0;
    f->is_italic = (ft->style_flags & FT_STYLE_FLAG_ITALIC) ? 1 : 0;
    f->is_bold = (ft->style_flags & FT_STYLE_FLAG_BOLD) ? 1 : 0;
    f->is_serif = os2 && os2->panose[0] == 2 && os2->panose[1] >= 2 && os2->panose[1] <= 10;
    if (!f->is_serif && f->label && strstr(f->label, "Serif"))
        f->is_serif = 1;
    f->ps_name = make_ps_name(ft, path);
    if (!f->path || !f->label || !f->ps_name) {
        snprintf(err, errlen, "out of memory");
        bl_face_drop(f);
        return NULL;
    }
    return f;
}

bl_face *bl_face_keep(bl_face *f)
{
    if (f)
        __atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
    return f;
}

void bl_face_drop(bl_face *f)
{
    if (!f || __atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    hb_font_destroy(f->hb_font);
    hb_face_destroy(f->subset_face);
    hb_face_destroy(f->hb_face);
    if (f->ft) {
        pthread_mutex_lock(&ft_lock);
        FT_Done_Face(f->ft);
        pthread_mutex_unlock(&ft_lock);
    }
    hb_blob_destroy(f->blob);
    free(f->path);
    free(f->label);
    free(f->ps_name);
    free(f->gcache);
    free(f->gchecked);
    free(f);
}

unsigned bl_face_glyph(const bl_face *f, uint32_t cp)
{
    /* Latin, Greek, Cyrillic, Hebrew and Arabic letters are looked up for
     * every character of every paragraph: remember them.  Entries are
     * written atomically, so threads sharing a face may race harmlessly. */
    if (cp < BL_GCACHE && f->gcache) {
        uint32_t v = __atomic_load_n(&f->gcache[cp], __ATOMIC_RELAXED);
        if (v)
            return v - 1;
        hb_codepoint_t g = 0;
        if (!hb_font_get_nominal_glyph(f->hb_font, cp, &g))
            g = 0;
        __atomic_store_n(&f->gcache[cp], (uint32_t)g + 1, __ATOMIC_RELAXED);
        return g;
    }
    hb_codepoint_t g = 0;
    return hb_font_get_nominal_glyph(f->hb_font, cp, &g) ? g : 0;
}

int bl_face_check_glyph(bl_face *f, unsigned gid)
{
    /* Every PDF that uses a glyph checks it: a process that writes many
     * (batch mode, the library) loads each glyph once. */
    uint8_t bit = (uint8_t)(1u << (gid & 7));
    if (f->gchecked && gid < f->num_glyphs && (__atomic_load_n(&f->gchecked[gid >> 3], __ATOMIC_RELAXED) & bit))
        return 0;
    pthread_mutex_lock(&ft_lock); /* FT_Face is not thread-safe; faces are shared */
    FT_Error e = FT_Load_Glyph(f->ft, gid, FT_LOAD_NO_SCALE | FT_LOAD_NO_HINTING | FT_LOAD_NO_BITMAP);
    pthread_mutex_unlock(&ft_lock);
    if (!e && f->gchecked && gid < f->num_glyphs)
        __atomic_or_fetch(&f->gchecked[gid >> 3], bit, __ATOMIC_RELAXED);
    return e ? -1 : 0;
}

int bl_face_advance(const bl_face *f, unsigned gid)
{
    return hb_font_get_glyph_h_advance(f->hb_font, gid);
}

/* System fallback answers per code point (see bl_face_system_fallback). */
typedef struct fallback {
    uint32_t cp;
    bl_face *face; /* NULL: no system font has it */
} fallback;
static pthread_mutex_t fc_lock = PTHREAD_MUTEX_INITIALIZER;
static fallback *fc_cache;
static size_t fc_n, fc_cap;

/* fontconfig is loaded by the first fallback (dynlib.h): most runs never
 * need it, and mapping it and expat cost 0.15 ms of every start. */
#define FC_FUNCTIONS(X)                                                                            \
    X(FcCharSetAddChar) X(FcCharSetCreate) X(FcCharSetDestroy) X(FcCharSetHasChar)                \
    X(FcConfigSubstitute) X(FcDefaultSubstitute) X(FcFini) X(FcFontSetDestroy) X(FcFontSort)       \
    X(FcPatternAddBool) X(FcPatternAddCharSet) X(FcPatternAddString) X(FcPatternCreate)           \
    X(FcPatternDestroy) X(FcPatternGetCharSet) X(FcPatternGetString)
static struct {
    FC_FUNCTIONS(BL_DL_FIELD)
} fc;
static const char *const fc_names[] = {FC_FUNCTIONS(BL_DL_NAME)};
BL_DL_CHECK(fc, fc_names);
const char *bl_fontconfig_library = "libfontconfig.so.1";
static bl_dl_lib fc_lib = BL_DL_LIB(bl_fontconfig_library, fc_names, fc); /* if it cannot be loaded: no fallback */

/* The cache: faces live until bl_face_cache_clear. */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static bl_face **cache;
static size_t cache_n, cache_cap;

/* The cached face for path, or NULL (cache_lock held). */
static bl_face *cached_locked(const char *path)
{
    for (size_t i = 0; i < cache_n; i++)
        if (!strcmp(cache[i]->path, path))
            return cache[i];
    return NULL;
}

bl_face *bl_face_cache_get(const char *path, char *err, size_t errlen)
{
    pthread_mutex_lock(&cache_lock);
    bl_face *known = cached_locked(path);
    pthread_mutex_unlock(&cache_lock);
    if (known)
        return known;
    /* Opened unlocked: threads opening different faces do not wait for
     * each other; two opening the same one keep the first. */
    bl_face *f = bl_face_open(path, err, errlen);
    if (!f)
        return NULL;
    pthread_mutex_lock(&cache_lock);
    bl_face *first = cached_locked(path);
    if (first) {
        pthread_mutex_unlock(&cache_lock);
        bl_face_drop(f);
        return first;
    }
    if (bl_grow(&cache, &cache_cap, cache_n + 1, sizeof *cache)) {
        pthread_mutex_unlock(&cache_lock);
        bl_face_drop(f);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    cache[cache_n++] = f;
    pthread_mutex_unlock(&cache_lock);
    return f;
}

void bl_face_cache_clear(void)
{
    pthread_mutex_lock(&fc_lock);
    if (bl_dl_loaded(&fc_lib))
        fc.FcFini(); /* fontconfig's configuration, loaded by the first fallback */
    bl_dl_forget(&fc_lib);
    free(fc_cache);
    fc_cache = NULL;
    fc_n = fc_cap = 0;
    pthread_mutex_unlock(&fc_lock);
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < cache_n; i++)
        bl_face_drop(cache[i]);
    free(cache);
    cache = NULL;
    cache_n = cache_cap = 0;
    pthread_mutex_unlock(&cache_lock);
    pthread_mutex_lock(&ft_lock);
    if (ft_lib)
        FT_Done_FreeType(ft_lib);
    ft_lib = NULL;
    pthread_mutex_unlock(&ft_lock);
}

/* ---- fontconfig fallback ----------------------------------------------------- */


const char *bl_face_fallback_error(void) { return bl_dl_error(&fc_lib); } /* stays until bl_face_cache_clear */

bl_face *bl_face_system_fallback(uint32_t cp, const char *lang)
{
    pthread_mutex_lock(&fc_lock);
    for (size_t i = 0; i < fc_n; i++)
        if (fc_cache[i].cp == cp) {
            bl_face *f = fc_cache[i].face;
            pthread_mutex_unlock(&fc_lock);
            return f;
        }
    bl_face *found = NULL;
    if (bl_dl_need(&fc_lib)) { /* no system fonts to fall back on: the character is missing */
        pthread_mutex_unlock(&fc_lock);
        return NULL;
    }
    FcPattern *pat = fc.FcPatternCreate();
    FcCharSet *cs = fc.FcCharSetCreate();
    if (pat && cs && fc.FcCharSetAddChar(cs, cp)) {
        fc.FcPatternAddCharSet(pat, FC_CHARSET, cs);
        fc.FcPatternAddBool(pat, FC_SCALABLE, FcTrue);
        if (lang)
            fc.FcPatternAddString(pat, FC_LANG, (const FcChar8 *)lang);
        fc.FcConfigSubstitute(NULL, pat, FcMatchPattern);
        fc.FcDefaultSubstitute(pat);
        FcResult r;
        FcFontSet *set = fc.FcFontSort(NULL, pat, FcFalse, NULL, &r);
        /* The first few candidates that really have the character and that we
         * can embed (TrueType outlines; bl_face_open checks the file). */
        for (int i = 0; set && i < set->nfont && i < 8 && !found; i++) {
            FcCharSet *fcs;
            FcChar8 *file;
            if (fc.FcPatternGetCharSet(set->fonts[i], FC_CHARSET, 0, &fcs) != FcResultMatch || !fc.FcCharSetHasChar(fcs, cp) ||
                fc.FcPatternGetString(set->fonts[i], FC_FILE, 0, &file) != FcResultMatch)
                continue;
            char err[200];
            bl_face *f = bl_face_cache_get((const char *)file, err, sizeof err);
            if (f && bl_face_glyph(f, cp))
                found = f;
        }
        if (set)
            fc.FcFontSetDestroy(set);
    }
    if (cs)
        fc.FcCharSetDestroy(cs);
    if (pat)
        fc.FcPatternDestroy(pat);
    if (!bl_grow(&fc_cache, &fc_cap, fc_n + 1, sizeof *fc_cache))
        fc_cache[fc_n++] = (fallback){cp, found};
    pthread_mutex_unlock(&fc_lock);
    return found;
}
