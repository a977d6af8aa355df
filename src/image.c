/* image.c - PNG and JPEG files, recognised by content and decoded fully here
 * (libpng's simplified API, libjpeg), so that a backend only ever sees
 * checked 8-bit pixels.  Sizes are checked from the header before any pixel
 * memory is allocated. */
#include "image.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "base.h"
#include "dynlib.h"

#define IMAGE_MAX_BYTES (64u * 1024u * 1024u)

static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

static int check_size(unsigned w, unsigned h, char *err, size_t errlen)
{
    if (w == 0 || h == 0) {
        snprintf(err, errlen, "image has no pixels (%u x %u)", w, h);
        return -1;
    }
    if (w > BL_IMAGE_MAX_SIDE || h > BL_IMAGE_MAX_SIDE || (uint64_t)w * h > BL_IMAGE_MAX_PIXELS) {
        snprintf(err, errlen, "image too large (%u x %u); the limits are %u pixels a side and %u pixels in all", w,
                 h, BL_IMAGE_MAX_SIDE, BL_IMAGE_MAX_PIXELS);
        return -1;
    }
    return 0;
}

/* Splits interleaved colour+alpha (chans = components + 1) in place into
 * img->pixels and a new img->alpha.  The alpha plane is dropped when every
 * pixel is opaque. */
static int split_alpha(bl_image *img, uint8_t *buf, int comps)
{
    size_t n = (size_t)img->width * img->height;
    uint8_t *alpha = malloc(n);
    if (!alpha)
        return -1;
    int opaque = 1;
    size_t chans = (size_t)comps + 1;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *s = buf + i * chans;
        uint8_t *d = buf + i * (size_t)comps; /* d <= s: forward copy is safe */
        uint8_t a = s[comps];
        for (int c = 0; c < comps; c++)
            d[c] = s[c];
        alpha[i] = a;
        opaque &= a == 255;
    }
    uint8_t *shrunk = realloc(buf, n * (size_t)comps);
    img->pixels = shrunk ? shrunk : buf;
    if (opaque) {
        free(alpha);
        alpha = NULL;
    }
    img->alpha = alpha;
    img->components = comps;
    return 0;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Resolution from the pHYs chunk (before IDAT), when given per metre. */
static void png_dpi(bl_image *img, const unsigned char *d, size_t n)
{
    size_t off = 8;
    while (n - off >= 12) {
        uint32_t len = be32(d + off);
        const unsigned char *type = d + off + 4;
        if (len > n - off - 12 || !memcmp(type, "IDAT", 4) || !memcmp(type, "IEND", 4))
            return;
        if (!memcmp(type, "pHYs", 4) && len == 9) {
            const unsigned char *c = d + off + 8;
            if (c[8] == 1) { /* unit: metre */
                img->dpi_x = be32(c) * 0.0254;
                img->dpi_y = be32(c + 4) * 0.0254;
            }
            return;
        }
        off += 12 + (size_t)len;
    }
}

static int decode_png(bl_image *img, const unsigned char *d, size_t n, char *err, size_t errlen)
{
    if (n < sizeof png_sig) {
        snprintf(err, errlen, "truncated or corrupt PNG: the file is only %zu bytes long", n);
        return -1;
    }
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    /* The simplified API catches libpng's errors itself (no setjmp here)
     * and leaves a message in pi.message.  It stops after the image data:
     * a file cut inside its final IEND chunk still loads, complete. */
    if (!png_image_begin_read_from_memory(&pi, d, n)) {
        snprintf(err, errlen, "truncated or corrupt PNG: %s", pi.message);
        png_image_free(&pi);
        return -1;
    }
    if (check_size(pi.width, pi.height, err, errlen)) {
        png_image_free(&pi);
        return -1;
    }
    int color = (pi.format & PNG_FORMAT_FLAG_COLOR) != 0; /* palette images are colour */
    int alpha = (pi.format & PNG_FORMAT_FLAG_ALPHA) != 0; /* includes tRNS */
    pi.format = color ? (alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB) : (alpha ? PNG_FORMAT_GA : PNG_FORMAT_GRAY);
    size_t size = PNG_IMAGE_SIZE(pi);
    uint8_t *buf = malloc(size);
    if (!buf) {
        png_image_free(&pi);
        snprintf(err, errlen, "out of memory (%u x %u image)", pi.width, pi.height);
        return -1;
    }
    if (!png_image_finish_read(&pi, NULL, buf, 0, NULL)) {
        snprintf(err, errlen, "truncated or corrupt PNG: %s", pi.message);
        png_image_free(&pi);
        free(buf);
        return -1;
    }
    img->width = pi.width;
    img->height = pi.height;
    png_image_free(&pi);
    int comps = color ? 3 : 1;
    if (alpha) {
        if (split_alpha(img, buf, comps)) {
            free(buf);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    } else {
        img->pixels = buf;
        img->components = comps;
    }
    png_dpi(img, d, n);
    return 0;
}

/* ---- JPEG ----------------------------------------------------------- */

/* libjpeg is loaded by the first JPEG (dynlib.h), not at every start.  The
 * soname carries the ABI version the headers declare (62). */
#define JPEG_FUNCTIONS(X)                                                                          \
    X(jpeg_std_error) X(jpeg_CreateDecompress) X(jpeg_mem_src) X(jpeg_read_header)                 \
    X(jpeg_start_decompress) X(jpeg_read_scanlines) X(jpeg_finish_decompress) X(jpeg_destroy_decompress)
static struct {
    JPEG_FUNCTIONS(BL_DL_FIELD)
} jp;
static const char *const jp_names[] = {JPEG_FUNCTIONS(BL_DL_NAME)};
BL_DL_CHECK(jp, jp_names);
const char *bl_jpeg_library = "libjpeg.so." BL_DL_STR(JPEG_LIB_VERSION);
static bl_dl_lib jp_lib = BL_DL_LIB(bl_jpeg_library, jp_names, jp);

static int jpeg_library(char *err, size_t errlen)
{
    if (bl_dl_need(&jp_lib) == 0)
        return 0;
    snprintf(err, errlen, "cannot decode JPEG images: %s", jp_lib.why);
    return -1;
}

void bl_image_forget_libraries(void) { bl_dl_forget(&jp_lib); }

typedef struct jpeg_fail_mgr {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jpeg_fail_mgr;

/* Everything jpeg_decode_guarded touches lives here, in its caller's frame,
 * so that nothing it needs after a longjmp is an indeterminate local. */
typedef struct jpeg_job {
    struct jpeg_decompress_struct ci;
    jpeg_fail_mgr jerr;
    const unsigned char *data;
    size_t len;
    uint8_t *pixels;        /* malloc'd by the decoder; the caller frees on failure */
    unsigned width, height;
    int out_comps;          /* 1, 3, or 4 (CMYK, converted by the caller) */
    int adobe_inverted;     /* Adobe CMYK: values stored inverted */
    double dpi_x, dpi_y;
    char *err;
    size_t errlen;
    int err_set;            /* err already holds the message */
} jpeg_job;

static void jpeg_error_exit(j_common_ptr c)
{
    jpeg_fail_mgr *e = (jpeg_fail_mgr *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jump, 1);
}

/* libjpeg "warnings" include a truncated file (it then pads the image with
 * grey and carries on), so they are errors here; extraneous bytes between
 * markers are common in camera files and harmless. */
static void jpeg_emit(j_common_ptr c, int level)
{
    if (level >= 0 || c->err->msg_code == JWRN_EXTRANEOUS_DATA)
        return;
    jpeg_error_exit(c);
}

/* The only setjmp in the program: libjpeg's error_exit must not return, so
 * it jumps back to this boundary, which turns it into a return code. */
static int jpeg_decode_guarded(jpeg_job *j)
{
    if (setjmp(j->jerr.jump)) {
        jp.jpeg_destroy_decompress(&j->ci);
        return -1;
    }
    j->ci.err = jp.jpeg_std_error(&j->jerr.pub);
    j->jerr.pub.error_exit = jpeg_error_exit;
    j->jerr.pub.emit_message = jpeg_emit;
    jp.jpeg_CreateDecompress(&j->ci, JPEG_LIB_VERSION, sizeof j->ci);
    jp.jpeg_mem_src(&j->ci, j->data, (unsigned long)j->len);
    jp.jpeg_read_header(&j->ci, TRUE);
    j->width = j->ci.image_width;
    j->height = j->ci.image_height;
    if (check_size(j->width, j->height, j->err, j->errlen)) {
        j->err_set = 1;
        jp.jpeg_destroy_decompress(&j->ci);
        return -1;
    }
    switch (j->ci.jpeg_color_space) {
    case JCS_GRAYSCALE: j->ci.out_color_space = JCS_GRAYSCALE; break;
    case JCS_YCbCr:
    case JCS_RGB: j->ci.out_color_space = JCS_RGB; break;
    case JCS_CMYK:
    case JCS_YCCK: j->ci.out_color_space = JCS_CMYK; break;
    default:
        snprintf(j->err, j->errlen, "unsupported JPEG colour space (%d components)", j->ci.num_components);
        j->err_set = 1;
        jp.jpeg_destroy_decompress(&j->ci);
        return -1;
    }
    if (j->ci.saw_JFIF_marker && j->ci.X_density && j->ci.Y_density) {
        double f = j->ci.density_unit == 1 ? 1.0 : j->ci.density_unit == 2 ? 2.54 : 0.0;
        j->dpi_x = j->ci.X_density * f;
        j->dpi_y = j->ci.Y_density * f;
    }
    j->adobe_inverted = j->ci.saw_Adobe_marker;
    jp.jpeg_start_decompress(&j->ci);
    j->out_comps = j->ci.output_components;
    size_t stride = (size_t)j->width * (size_t)j->out_comps;
    j->pixels = malloc(stride * j->height);
    if (!j->pixels) {
        snprintf(j->err, j->errlen, "out of memory (%u x %u image)", j->width, j->height);
        j->err_set = 1;
        jp.jpeg_destroy_decompress(&j->ci);
        return -1;
    }
    while (j->ci.output_scanline < j->ci.output_height) {
        JSAMPROW row = j->pixels + (size_t)j->ci.output_scanline * stride;
        jp.jpeg_read_scanlines(&j->ci, &row, 1);
    }
    jp.jpeg_finish_decompress(&j->ci);
    jp.jpeg_destroy_decompress(&j->ci);
    return 0;
}

static int decode_jpeg(bl_image *img, const unsigned char *d, size_t n, char *err, size_t errlen)
{
    jpeg_job j;
    memset(&j, 0, sizeof j);
    j.data = d;
    j.len = n;
    j.err = err;
    j.errlen = errlen;
    if (jpeg_library(err, errlen))
        return -1;
    if (jpeg_decode_guarded(&j)) {
        free(j.pixels);
        if (!j.err_set)
            snprintf(err, errlen, "truncated or corrupt JPEG: %s", j.jerr.msg);
        return -1;
    }
    img->width = j.width;
    img->height = j.height;
    img->dpi_x = j.dpi_x;
    img->dpi_y = j.dpi_y;
    if (j.out_comps == 4) {
        /* CMYK -> RGB, naively (no colour management).  Adobe applications
         * write CMYK JPEGs inverted (APP14 marker). */
        size_t np = (size_t)j.width * j.height;
        for (size_t i = 0; i < np; i++) {
            const uint8_t *s = j.pixels + 4 * i;
            unsigned c = s[0], m = s[1], y = s[2], k = s[3];
            if (!j.adobe_inverted) {
                c = 255 - c;
                m = 255 - m;
                y = 255 - y;
                k = 255 - k;
            }
            uint8_t *o = j.pixels + 3 * i;
            o[0] = (uint8_t)((c * k + 127) / 255);
            o[1] = (uint8_t)((m * k + 127) / 255);
            o[2] = (uint8_t)((y * k + 127) / 255);
        }
        uint8_t *shrunk = realloc(j.pixels, np * 3);
        if (shrunk)
            j.pixels = shrunk;
        j.out_comps = 3;
    }
    if (j.out_comps != 1 && j.out_comps != 3) {
        free(j.pixels);
        snprintf(err, errlen, "unsupported JPEG (%d output components)", j.out_comps);
        return -1;
    }
    img->pixels = j.pixels;
    img->components = j.out_comps;
    return 0;
}

/* ---- files ---------------------------------------------------------- */

static const char *looks_like(const unsigned char *d, size_t n)
{
    if (n >= 6 && (!memcmp(d, "GIF87a", 6) || !memcmp(d, "GIF89a", 6)))
        return "a GIF image";
    if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4))
        return "a WebP image";
    if (n >= 4 && (!memcmp(d, "II*", 4) || !memcmp(d, "MM\0*", 4)))
        return "a TIFF image";
    if (n >= 2 && !memcmp(d, "BM", 2))
        return "a BMP image";
    if (n >= 5 && !memcmp(d, "%PDF-", 5))
        return "a PDF file";
    if (n >= 5 && (!memcmp(d, "<?xml", 5) || !memcmp(d, "<svg", 4)))
        return "an SVG or XML file";
    return NULL;
}

bl_image *bl_image_load(const char *path, char *err, size_t errlen)
{
    char why[256];
    bl_file *f = bl_file_read(path, IMAGE_MAX_BYTES, why, sizeof why);
    if (!f) {
        snprintf(err, errlen, "%s", why);
        return NULL;
    }
    const unsigned char *d = (const unsigned char *)f->text;
    size_t n = f->len;
    bl_image *img = NULL;
    if (n == 0) {
        snprintf(err, errlen, "empty file (zero bytes)");
        goto out;
    }
    img = calloc(1, sizeof *img);
    if (img)
        img->refs = 1;
    if (!img || !(img->path = bl_strdup(path))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    int rc;
    if (!memcmp(d, png_sig, n < sizeof png_sig ? n : sizeof png_sig))
        rc = decode_png(img, d, n, err, errlen);
    else if (n >= 2 && d[0] == 0xFF && d[1] == 0xD8)
        rc = decode_jpeg(img, d, n, err, errlen);
    else {
        const char *what = looks_like(d, n);
        if (what)
            snprintf(err, errlen, "not a PNG or JPEG image (it looks like %s)", what);
        else
            snprintf(err, errlen, "not a PNG or JPEG image");
        rc = -1;
    }
    if (rc == 0)
        goto out;
fail:
    bl_image_drop(img);
    img = NULL;
out:
    bl_file_free(f);
    return img;
}

bl_image *bl_image_keep(bl_image *img)
{
    if (img)
        __atomic_add_fetch(&img->refs, 1, __ATOMIC_RELAXED);
    return img;
}

void bl_image_drop(bl_image *img)
{
    if (!img || __atomic_sub_fetch(&img->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    free(img->path);
    free(img->pixels);
    free(img->alpha);
    free(img);
}
