/* text-font.h - font faces: FreeType + HarfBuzz, checked before use, loaded
 * once per process and shared.  Internal header. */
#ifndef BL_TEXT_FONT_H
#define BL_TEXT_FONT_H
#include <stddef.h>
#include <stdint.h>
#include <ft2build.h>
#include FT_FREETYPE_H
#include <hb.h>

/* One font file (face index 0), reference-counted: bl_face_keep/bl_face_drop. */
typedef struct bl_face {
    int refs;
    char *path;          /* as resolved on disk */
    char *label;         /* short name for traces: "fonts/NotoSerif-Regular.ttf" style */
    char *ps_name;       /* PostScript name, sanitised to [A-Za-z0-9-] */
    FT_Face ft;          /* own reference */
    hb_blob_t *blob;     /* the file's bytes */
    hb_face_t *hb_face;
    hb_font_t *hb_font;  /* scale = units_per_em (sizes scale at use) */
    unsigned upem;
    unsigned num_glyphs;
    /* Metrics in font units, for the PDF FontDescriptor and line spacing. */
    int ascender, descender, cap_height, x_height, line_gap;
    int bbox[4];         /* xMin yMin xMax yMax */
    double italic_angle;
    int is_fixed, is_serif, is_italic, is_bold;
    uint16_t fs_type;    /* OS/2 embedding permission bits */
    uint32_t *gcache;    /* nominal glyph + 1 of U+0000..U+07FF, 0 = not looked up (atomic) */
    hb_face_t *subset_face; /* pdf-font.c's source for hb-subset (made once, atomic) */
    uint8_t *gchecked;   /* bit per glyph: FreeType loaded it (bl_face_check_glyph; atomic) */
    /* For text-shape.c's word cache (atomic): a number no other face of this
     * process has, so cache keys never outlive their face; how many bytes of
     * text the face has shaped; the document it first shaped in (1 + the
     * count of bl_text_next_document calls then, 0 = none yet); and whether
     * words may be shaped apart (0 = not yet known, 1 = yes: no OpenType
     * lookup involves the space glyph, 2 = no). */
    unsigned serial;
    unsigned shaped;
    unsigned first_doc;
    int space_free;
} bl_face;

/* Opens and checks a font file; returns a face the caller holds one reference
 * to, or NULL with a reason in err (the file cannot be read, is not a font,
 * its tables are truncated or corrupt, or fsType forbids embedding). */
bl_face *bl_face_open(const char *path, char *err, size_t errlen);
bl_face *bl_face_keep(bl_face *f);
void bl_face_drop(bl_face *f);

/* Process-wide cache: the same path gives the same face.  Returns a borrowed
 * pointer valid until bl_face_cache_clear (thread-safe). */
bl_face *bl_face_cache_get(const char *path, char *err, size_t errlen);
void bl_face_cache_clear(void);

/* Last-resort fallback: a system font (found with fontconfig) that has cp
 * and that bl_face_open accepts, or NULL.  Answers are cached per process
 * (thread-safe); the face is borrowed from the face cache. */
bl_face *bl_face_system_fallback(uint32_t cp, const char *lang);
/* fontconfig is loaded (dynlib.h) by the first fallback, from this library
 * (tests change it; bl_face_cache_clear makes the next fallback load again).
 * If it cannot be loaded there is no fallback. */
extern const char *bl_fontconfig_library;
/* Why there is no fallback (fontconfig could not be loaded), or NULL. */
const char *bl_face_fallback_error(void);

/* Glyph for a code point, 0 if the face has none. */
unsigned bl_face_glyph(const bl_face *f, uint32_t cp);
/* 0 if FreeType loads glyph gid's outline, -1 if it is corrupt (thread-safe). */
int bl_face_check_glyph(bl_face *f, unsigned gid);

/* Horizontal advance of a glyph in font units. */
int bl_face_advance(const bl_face *f, unsigned gid);
#endif
