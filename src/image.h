/* image.h - PNG and JPEG images decoded and validated by us (libpng,
 * libjpeg) before any backend sees them.  Internal header. */
#ifndef BL_IMAGE_H
#define BL_IMAGE_H
#include <stddef.h>
#include <stdint.h>

/* Decoded pixels: 8 bits per component, rows top to bottom, no padding. */
struct bl_image {
    int refs;
    char *path;
    unsigned width, height;
    int components;      /* 1 gray, 3 RGB */
    uint8_t *pixels;     /* width * height * components */
    uint8_t *alpha;      /* width * height, or NULL when opaque */
    double dpi_x, dpi_y; /* from the file (pHYs / JFIF), 0 if unknown */
};
typedef struct bl_image bl_image;

#define BL_IMAGE_MAX_SIDE 20000u
#define BL_IMAGE_MAX_PIXELS (64u * 1024u * 1024u)

/* Reads, checks and decodes a PNG or JPEG file (by content, not name).  Errors
 * (missing, unreadable, zero bytes, truncated, corrupt, wrong format, a side
 * above BL_IMAGE_MAX_SIDE or more than BL_IMAGE_MAX_PIXELS pixels) return NULL
 * with a reason in err.  The caller holds one reference (bl_image_drop). */
bl_image *bl_image_load(const char *path, char *err, size_t errlen);
bl_image *bl_image_keep(bl_image *img);
void bl_image_drop(bl_image *img);

/* libjpeg is loaded (dynlib.h) by the first JPEG, from this library (tests
 * change it, then call bl_image_forget_libraries to have it loaded again). */
extern const char *bl_jpeg_library;
void bl_image_forget_libraries(void);
#endif
