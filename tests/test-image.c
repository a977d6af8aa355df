/* test-image.c - PNG/JPEG loading: valid files of every colour type
 * (written here with libpng/libjpeg), broken ones with the exact reason,
 * and a PDF with images that passes pdfcheck.  Run from the repository root. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include "base.h"
#include "harness.h"
#include "testutil.h"
#include "image.h"
#include "pdf.h"


static char dir[] = "/tmp/bl-test-image-XXXXXX";

static const char *fixture(const char *name)
{
    static char path[8][600];
    static int k;
    k = (k + 1) % 8;
    snprintf(path[k], sizeof path[k], "%s/%s", dir, name);
    return path[k];
}

/* A PNG through libpng's simplified writer.  colormap may be NULL. */
static int write_png(const char *path, unsigned w, unsigned h, png_uint_32 format, const void *pixels,
                     const void *colormap, unsigned entries)
{
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = w;
    pi.height = h;
    pi.format = format;
    pi.colormap_entries = entries;
    int ok = png_image_write_to_file(&pi, path, 0, pixels, 0, colormap);
    if (!ok)
        fprintf(stderr, "png write %s: %s\n", path, pi.message);
    png_image_free(&pi);
    return ok ? 0 : -1;
}

/* A JPEG through libjpeg (its default error handler exits: fine in a test). */
static int write_jpeg(const char *path, unsigned w, unsigned h, int comps, J_COLOR_SPACE cs, const uint8_t *pixels,
                      int dpi)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = w;
    c.image_height = h;
    c.input_components = comps;
    c.in_color_space = cs;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    if (dpi) {
        c.density_unit = 1;
        c.X_density = c.Y_density = (UINT16)dpi;
    }
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)c.next_scanline * w * (unsigned)comps);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return fclose(f);
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Appends a PNG chunk with a correct CRC. */
static void chunk(bl_buf *b, const char *type, const void *data, uint32_t len)
{
    unsigned char hdr[8];
    put32(hdr, len);
    memcpy(hdr + 4, type, 4);
    bl_buf_append(b, hdr, 8);
    if (len)
        bl_buf_append(b, data, len);
    uLong crc = crc32(0, (const Bytef *)type, 4);
    if (len)
        crc = crc32(crc, data, len);
    unsigned char c[4];
    put32(c, (uint32_t)crc);
    bl_buf_append(b, c, 4);
}

/* A well-formed PNG header claiming w x h, with a token IDAT: enough for
 * the header to be read, never enough pixels. */
static bl_buf fake_png(uint32_t w, uint32_t h)
{
    bl_buf b = {0};
    bl_buf_append(&b, "\x89PNG\r\n\x1a\n", 8);
    unsigned char ihdr[13];
    put32(ihdr, w);
    put32(ihdr + 4, h);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 2;  /* RGB */
    ihdr[10] = ihdr[11] = ihdr[12] = 0;
    chunk(&b, "IHDR", ihdr, 13);
    unsigned char idat[] = {0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01};
    chunk(&b, "IDAT", idat, sizeof idat);
    chunk(&b, "IEND", NULL, 0);
    return b;
}

/* Inserts a pHYs chunk (dots per metre) after IHDR. */
static bl_buf with_phys(const bl_buf *png, uint32_t ppm)
{
    bl_buf b = {0};
    bl_buf_append(&b, png->data, 33); /* signature + IHDR */
    unsigned char phys[9];
    put32(phys, ppm);
    put32(phys + 4, ppm);
    phys[8] = 1;
    chunk(&b, "pHYs", phys, 9);
    bl_buf_append(&b, png->data + 33, png->len - 33);
    return b;
}

static bl_image *load(const char *name, char *err, size_t errlen)
{
    err[0] = 0;
    return bl_image_load(fixture(name), err, errlen);
}

/* Loads a file that must fail; checks the reason starts with want. */
static void expect_error(const char *name, const char *want)
{
    char err[300];
    bl_image *img = load(name, err, sizeof err);
    CHECK(img == NULL, "%s: loads but should fail", name);
    CHECK(strncmp(err, want, strlen(want)) == 0, "%s: error '%s', want '%s...'", name, err, want);
    bl_image_drop(img);
}

/* Occurrences of s in binary data. */
static int count_in(const bl_buf *b, const char *s)
{
    size_t n = strlen(s);
    int k = 0;
    for (size_t i = 0; i + n <= b->len; i++)
        if (!memcmp(b->data + i, s, n))
            k++;
    return k;
}


int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char err[300];
    enum { W = 40, H = 30 };

    /* ---- fixtures ---- */
    uint8_t rgb[W * H * 3], rgba[W * H * 4], gray[W * H], idx[W * H], cmyk[W * H * 4];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int i = y * W + x;
            rgb[3 * i] = (uint8_t)(x * 6);
            rgb[3 * i + 1] = (uint8_t)(y * 8);
            rgb[3 * i + 2] = 128;
            memcpy(rgba + 4 * i, rgb + 3 * i, 3);
            rgba[4 * i + 3] = (uint8_t)(x < W / 2 ? 255 : 64);
            gray[i] = (uint8_t)((x + y) * 3);
            idx[i] = (uint8_t)((x / 10) % 4);
            /* Photoshop-style inverted CMYK: pure cyan everywhere */
            cmyk[4 * i] = 0;
            cmyk[4 * i + 1] = cmyk[4 * i + 2] = cmyk[4 * i + 3] = 255;
        }
    uint8_t pal[4 * 3] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255};
    uint8_t pala[4 * 4] = {255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 0, 255, 255, 255, 255};
    uint8_t opaque[W * H * 4];
    for (int i = 0; i < W * H; i++) {
        memcpy(opaque + 4 * i, rgb + 3 * i, 3);
        opaque[4 * i + 3] = 255;
    }
    CHECK(write_png(fixture("rgb.png"), W, H, PNG_FORMAT_RGB, rgb, NULL, 0) == 0, "write rgb.png");
    CHECK(write_png(fixture("rgba.png"), W, H, PNG_FORMAT_RGBA, rgba, NULL, 0) == 0, "write rgba.png");
    CHECK(write_png(fixture("opaque-rgba.png"), W, H, PNG_FORMAT_RGBA, opaque, NULL, 0) == 0, "write opaque");
    CHECK(write_png(fixture("gray.png"), W, H, PNG_FORMAT_GRAY, gray, NULL, 0) == 0, "write gray.png");
    uint8_t ga[W * H * 2];
    for (int i = 0; i < W * H; i++) {
        ga[2 * i] = gray[i];
        ga[2 * i + 1] = (uint8_t)(i % 2 ? 0 : 200);
    }
    CHECK(write_png(fixture("gray-alpha.png"), W, H, PNG_FORMAT_GA, ga, NULL, 0) == 0, "write gray-alpha.png");
    CHECK(write_png(fixture("palette.png"), W, H, PNG_FORMAT_RGB_COLORMAP, idx, pal, 4) == 0, "write palette.png");
    CHECK(write_png(fixture("palette-trns.png"), W, H, PNG_FORMAT_RGBA_COLORMAP, idx, pala, 4) == 0,
          "write palette-trns.png");
    CHECK(write_jpeg(fixture("rgb.jpg"), W, H, 3, JCS_RGB, rgb, 300) == 0, "write rgb.jpg");
    CHECK(write_jpeg(fixture("gray.jpg"), W, H, 1, JCS_GRAYSCALE, gray, 0) == 0, "write gray.jpg");
    CHECK(write_jpeg(fixture("cmyk.jpg"), W, H, 4, JCS_CMYK, cmyk, 0) == 0, "write cmyk.jpg");

    bl_buf png = {0}, jpg = {0};
    bl_test_read_file(fixture("rgb.png"), &png);
    bl_test_read_file(fixture("rgb.jpg"), &jpg);
    CHECK(png.len > 100 && jpg.len > 100, "fixtures written (%zu, %zu bytes)", png.len, jpg.len);
    bl_buf phys = with_phys(&png, 11811); /* 300 dpi */
    bl_test_write_file(fixture("phys.png"), phys.data, phys.len);

    /* ---- valid files ---- */
    bl_image *img = load("rgb.png", err, sizeof err);
    CHECK(img && img->width == W && img->height == H && img->components == 3 && !img->alpha, "rgb.png: %s", err);
    if (img)
        CHECK(!memcmp(img->pixels, rgb, sizeof rgb), "rgb.png pixels round-trip");
    bl_image_drop(img);

    img = load("rgba.png", err, sizeof err);
    CHECK(img && img->components == 3 && img->alpha, "rgba.png has alpha: %s", err);
    if (img && img->alpha) {
        CHECK(img->alpha[0] == 255 && img->alpha[W - 1] == 64, "alpha values (%u, %u)", img->alpha[0],
              img->alpha[W - 1]);
        CHECK(!memcmp(img->pixels, rgb, sizeof rgb), "rgba.png colour round-trips (not premultiplied)");
    }
    bl_image_drop(img);

    img = load("opaque-rgba.png", err, sizeof err);
    CHECK(img && img->components == 3 && !img->alpha, "fully opaque alpha is dropped: %s", err);
    bl_image_drop(img);

    img = load("gray.png", err, sizeof err);
    CHECK(img && img->components == 1 && !img->alpha && img->pixels[W + 1] == gray[W + 1], "gray.png: %s", err);
    bl_image_drop(img);

    img = load("gray-alpha.png", err, sizeof err);
    CHECK(img && img->components == 1 && img->alpha, "gray-alpha.png: gray + alpha: %s", err);
    if (img && img->alpha)
        CHECK(img->alpha[0] == 200 && img->alpha[1] == 0 && img->pixels[0] == gray[0] && img->pixels[2] == gray[2],
              "gray-alpha values");
    bl_image_drop(img);

    img = load("palette.png", err, sizeof err);
    CHECK(img && img->components == 3 && !img->alpha, "palette.png -> RGB: %s", err);
    if (img)
        CHECK(img->pixels[0] == 255 && img->pixels[1] == 0 && img->pixels[3 * 15 + 1] == 255,
              "palette colours expanded");
    bl_image_drop(img);

    img = load("palette-trns.png", err, sizeof err);
    CHECK(img && img->components == 3 && img->alpha, "palette with tRNS -> RGB + alpha: %s", err);
    if (img && img->alpha)
        CHECK(img->alpha[15] == 128 && img->alpha[25] == 0, "palette alpha (%u, %u)", img->alpha[15],
              img->alpha[25]);
    bl_image_drop(img);

    img = load("phys.png", err, sizeof err);
    CHECK(img && fabs(img->dpi_x - 300) < 0.1 && fabs(img->dpi_y - 300) < 0.1, "pHYs -> %g dpi: %s",
          img ? img->dpi_x : 0, err);
    bl_image_drop(img);

    img = load("rgb.jpg", err, sizeof err);
    CHECK(img && img->width == W && img->height == H && img->components == 3 && !img->alpha, "rgb.jpg: %s", err);
    if (img) {
        CHECK(img->dpi_x == 300 && img->dpi_y == 300, "JFIF density %g", img->dpi_x);
        int maxd = 0;
        for (size_t i = 0; i < sizeof rgb; i++) {
            int dd = abs((int)img->pixels[i] - (int)rgb[i]);
            if (dd > maxd)
                maxd = dd;
        }
        CHECK(maxd < 40, "rgb.jpg close to the original (max diff %d)", maxd);
    }
    bl_image_drop(img);

    img = load("gray.jpg", err, sizeof err);
    CHECK(img && img->components == 1 && img->dpi_x == 0, "gray.jpg: %s", err);
    bl_image_drop(img);

    img = load("cmyk.jpg", err, sizeof err);
    CHECK(img && img->components == 3, "cmyk.jpg converted to RGB: %s", err);
    if (img)
        CHECK(img->pixels[0] < 30 && img->pixels[1] > 225 && img->pixels[2] > 225, "cyan (%u %u %u)",
              img->pixels[0], img->pixels[1], img->pixels[2]);
    bl_image_drop(img);

    /* keep/drop */
    img = load("rgb.png", err, sizeof err);
    CHECK(bl_image_keep(img) == img && img->refs == 2, "keep");
    bl_image_drop(img);
    CHECK(img->refs == 1, "drop");
    bl_image_drop(img);
    bl_image_drop(NULL);

    /* ---- broken files: each with its reason ---- */
    bl_test_write_file(fixture("empty.png"), "", 0);
    expect_error("empty.png", "empty file (zero bytes)");
    expect_error("missing.png", "cannot open");
    bl_test_write_file(fixture("text.png"), "hello, I am not a picture\n", 26);
    expect_error("text.png", "not a PNG or JPEG image");
    bl_test_write_file(fixture("anim.gif"), "GIF89a\x01\x00\x01\x00", 10);
    expect_error("anim.gif", "not a PNG or JPEG image (it looks like a GIF image)");

    size_t cuts[] = {1, 4, 7, 8, 12, 20, 33, 40, png.len / 2, png.len - 20, png.len - 13};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "cut%zu.png", cuts[i]);
        bl_test_write_file(fixture(name), png.data, cuts[i]);
        expect_error(name, "truncated or corrupt PNG: ");
    }
    bl_buf bad = {0};
    bl_test_read_file(fixture("rgb.png"), &bad);
    bad.data[bad.len - 20] ^= 0x55; /* inside the last IDAT: CRC mismatch */
    bl_test_write_file(fixture("crc.png"), bad.data, bad.len);
    expect_error("crc.png", "truncated or corrupt PNG: ");
    bl_buf_free(&bad);

    bl_test_write_file(fixture("cut.jpg"), jpg.data, jpg.len / 2);
    expect_error("cut.jpg", "truncated or corrupt JPEG: ");
    bl_test_write_file(fixture("cut2.jpg"), jpg.data, 3);
    expect_error("cut2.jpg", "truncated or corrupt JPEG: ");
    bl_test_write_file(fixture("cut3.jpg"), jpg.data, 100);
    expect_error("cut3.jpg", "truncated or corrupt JPEG: ");

    bl_buf huge = fake_png(100000, 100000);
    bl_test_write_file(fixture("huge.png"), huge.data, huge.len);
    expect_error("huge.png", "image too large (100000 x 100000)");
    bl_buf_free(&huge);
    huge = fake_png(20001, 1);
    bl_test_write_file(fixture("wide.png"), huge.data, huge.len);
    expect_error("wide.png", "image too large (20001 x 1)");
    bl_buf_free(&huge);
    huge = fake_png(10000, 10000); /* 100 Mpixels, sides within limits */
    bl_test_write_file(fixture("many.png"), huge.data, huge.len);
    expect_error("many.png", "image too large (10000 x 10000)");
    bl_buf_free(&huge);
    /* A JPEG header claiming 30000 x 30000: patch SOF0 of a real file. */
    bl_buf big = {0};
    bl_test_read_file(fixture("rgb.jpg"), &big);
    for (size_t i = 0; i + 9 < big.len; i++)
        if ((unsigned char)big.data[i] == 0xFF && (unsigned char)big.data[i + 1] == 0xC0) {
            big.data[i + 5] = (char)(30000 >> 8);
            big.data[i + 6] = (char)(30000 & 0xFF);
            big.data[i + 7] = (char)(30000 >> 8);
            big.data[i + 8] = (char)(30000 & 0xFF);
            break;
        }
    bl_test_write_file(fixture("huge.jpg"), big.data, big.len);
    expect_error("huge.jpg", "image too large (30000 x 30000)");
    bl_buf_free(&big);

    /* ---- hostile bytes: every outcome is an image or a reason ---- */
    {
        size_t tried = 0, sane = 0;
        const bl_buf *src[2] = {&png, &jpg};
        for (int s = 0; s < 2; s++) {
            bl_buf m = {0};
            bl_buf_append(&m, src[s]->data, src[s]->len);
            size_t step = src[s]->len > 400 ? 5 : 1;
            for (size_t i = 0; i < m.len; i += step)
                for (int v = 0; v < 3; v++) {
                    static const unsigned char x[3] = {0xFF, 0x01, 0x80};
                    char save = m.data[i];
                    m.data[i] = (char)(v == 0 ? 0xFF : (unsigned char)save ^ x[v]);
                    size_t len = v == 2 ? i + 1 : m.len; /* also: cut right after the change */
                    bl_test_write_file(fixture("mut.bin"), m.data, len);
                    bl_image *r = load("mut.bin", err, sizeof err);
                    tried++;
                    if (r ? r->width && r->height && r->pixels && (r->components == 1 || r->components == 3)
                          : err[0] != 0)
                        sane++;
                    bl_image_drop(r);
                    m.data[i] = save;
                }
            bl_buf_free(&m);
        }
        CHECK(sane == tried, "mutated files: %zu of %zu handled sanely", sane, tried);
    }

    /* ---- into a PDF ---- */
    bl_pdf *pdf = bl_pdf_new(NULL);
    bl_device *dev = bl_pdf_device(pdf);
    bl_image *a = load("rgba.png", err, sizeof err), *g = load("gray.jpg", err, sizeof err);
    bl_image *pl = load("palette-trns.png", err, sizeof err);
    bl_image *gaimg = load("gray-alpha.png", err, sizeof err);
    CHECK(a && g && pl && gaimg, "load for the PDF");
    CHECK(dev->begin_page(dev, 300, 300) == 0, "page");
    double red[3] = {1, 0, 0};
    CHECK(dev->rect(dev, 0, 0, 300, 300, red) == 0, "background");
    CHECK(dev->image(dev, a, 10, 10, 80, 60) == 0, "image 1: %s", dev->error(dev));
    CHECK(dev->image(dev, a, 100, 10, 40, 30) == 0, "same image again: %s", dev->error(dev));
    CHECK(dev->image(dev, g, 10, 100, 80, 60) == 0, "gray image: %s", dev->error(dev));
    CHECK(dev->image(dev, pl, 100, 100, 80, 60) == 0, "palette image: %s", dev->error(dev));
    CHECK(dev->image(dev, gaimg, 200, 200, 80, 60) == 0, "gray+alpha image: %s", dev->error(dev));
    CHECK(dev->end_page(dev) == 0, "end_page");
    bl_image_drop(gaimg);
    /* The cache holds its own reference: dropping ours is safe. */
    bl_image_drop(a);
    bl_image_drop(g);
    bl_image_drop(pl);
    CHECK(dev->begin_page(dev, 300, 300) == 0, "page 2");
    CHECK(dev->end_page(dev) == 0, "end_page 2");
    const char *out = fixture("images.pdf");
    CHECK(bl_pdf_save(pdf, out) == 0, "save: %s", bl_pdf_error(pdf));
    bl_pdf_free(pdf);

    bl_buf o = {0};
    char cmd[1200];
    int rc = bl_test_pdfcheck("--no-text", out, &o);
    CHECK(rc == 0, "pdfcheck rc=%d:\n%s", rc, o.data);
    /* Once each: rgba (image + soft mask), gray, palette (+ mask), gray
     * with alpha (+ mask). */
    bl_buf pdfdata = {0};
    bl_test_read_file(out, &pdfdata);
    int nimg = count_in(&pdfdata, "/Subtype /Image");
    CHECK(nimg == 7, "%d image XObjects embedded, want 7 (cached per document)", nimg);
    CHECK(count_in(&pdfdata, "/SMask ") == 3, "three soft masks");
    bl_buf_free(&pdfdata);
    snprintf(cmd, sizeof cmd, "mutool trace %s 2>/dev/null | grep -c '<fill_image'", out);
    bl_test_run(cmd, &o);
    CHECK(atoi(o.data) == 5, "5 image draws traced (got %s)", o.data);

    /* libjpeg is loaded by the first JPEG (image.c): a library that cannot be
     * loaded, or is not libjpeg, is an error naming it; then it loads again. */
    {
        const char *real = bl_jpeg_library;
        bl_jpeg_library = "libbulletin-test-no-such-jpeg.so.62";
        bl_image_forget_libraries();
        bl_image *jimg = load("rgb.jpg", err, sizeof err);
        CHECK(!jimg && strstr(err, "cannot decode JPEG images: ") == err &&
                  strstr(err, "libbulletin-test-no-such-jpeg.so.62"),
              "no libjpeg: '%s'", err);
        bl_image_drop(jimg);
        bl_jpeg_library = "libz.so.1";
        bl_image_forget_libraries();
        jimg = load("rgb.jpg", err, sizeof err);
        CHECK(!jimg && !strcmp(err, "cannot decode JPEG images: libz.so.1 has no jpeg_std_error"),
              "not libjpeg: '%s'", err);
        bl_image_drop(jimg);
        bl_jpeg_library = real;
        bl_image_forget_libraries();
        jimg = load("rgb.jpg", err, sizeof err);
        CHECK(jimg && jimg->width == W && jimg->height == H, "libjpeg again: %s", jimg ? "ok" : err);
        bl_image_drop(jimg);
    }
    bl_buf_free(&o);
    bl_buf_free(&png);
    bl_buf_free(&jpg);
    bl_buf_free(&phys);
    bl_test_cleanup(dir, bl_test_fail_count);
    return bl_test_done();
}
