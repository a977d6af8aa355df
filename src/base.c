/* base.c - buffers, UTF-8, source files, diagnostics, data directory. */
#include "base.h"

#include <errno.h>
#include <pthread.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int bl_grow(void *p, size_t *cap, size_t need, size_t elem)
{
    void **pp = p;
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 8;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return -1;
        n *= 2;
    }
    if (n > SIZE_MAX / elem)
        return -1;
    void *q = realloc(*pp, n * elem);
    if (!q)
        return -1;
    *pp = q;
    *cap = n;
    return 0;
}

int bl_buf_append(bl_buf *b, const void *p, size_t n)
{
    if (n > SIZE_MAX - b->len - 1 || bl_grow(&b->data, &b->cap, b->len + n + 1, 1))
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

int bl_buf_puts(bl_buf *b, const char *s) { return bl_buf_append(b, s, strlen(s)); }

int bl_buf_printf(bl_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof tmp)
        return bl_buf_append(b, tmp, (size_t)n);
    if (bl_grow(&b->data, &b->cap, b->len + (size_t)n + 1, 1))
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void bl_buf_free(bl_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *bl_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

char *bl_strdup(const char *s) { return s ? bl_strndup(s, strlen(s)) : NULL; }

uint64_t bl_hash(const void *data, size_t n)
{
    const unsigned char *s = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}

int bl_utf8_decode_long(const char *str, size_t n, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    if (!n)
        return 0;
    unsigned c = s[0];
    int len;
    uint32_t v, min;
    if (c < 0x80) { *cp = c; return 1; }
    else if (c >= 0xC2 && c <= 0xDF) { len = 2; v = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; v = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    if ((size_t)len > n)
        return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

int bl_utf8_encode(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t bl_utf8_check(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if ((unsigned char)s[i] < 0x80) { i++; continue; }
        uint32_t cp;
        int l = bl_utf8_decode(s + i, n - i, &cp);
        if (!l)
            return i;
        i += (size_t)l;
    }
    return (size_t)-1;
}

bl_file *bl_file_from_memory(const char *name, const char *text, size_t len)
{
    bl_file *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->name = bl_strdup(name);
    f->text = bl_strndup(text, len);
    f->len = len;
    if (!f->name || !f->text) {
        bl_file_free(f);
        return NULL;
    }
    return f;
}

bl_file *bl_file_read(const char *path, size_t max_size, char *err, size_t errlen)
{
    int is_stdin = strcmp(path, "-") == 0;
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return NULL;
    }
    bl_buf b = {0};
    char chunk[65536];
    size_t n;
    int bad = 0;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) {
        if (b.len + n > max_size) {
            snprintf(err, errlen, "file is larger than the limit of %zu bytes", max_size);
            bad = 1;
            break;
        }
        if (bl_buf_append(&b, chunk, n)) {
            snprintf(err, errlen, "out of memory");
            bad = 1;
            break;
        }
    }
    if (!bad && ferror(fp)) {
        snprintf(err, errlen, "read error: %s", strerror(errno));
        bad = 1;
    }
    if (!is_stdin)
        fclose(fp);
    if (bad) {
        bl_buf_free(&b);
        return NULL;
    }
    bl_file *f = calloc(1, sizeof *f);
    if (!f || bl_buf_append(&b, "", 0)) {
        free(f);
        bl_buf_free(&b);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->name = bl_strdup(is_stdin ? "<stdin>" : path);
    f->text = b.data;
    f->len = b.len;
    return f;
}

void bl_file_free(bl_file *f)
{
    if (!f)
        return;
    free(f->name);
    free(f->text);
    free(f);
}

/* A UTF-8 byte order mark is not a column. */
static size_t bom(const bl_file *f)
{
    return f->len >= 3 && !memcmp(f->text, "\xEF\xBB\xBF", 3) ? 3 : 0;
}

void bl_file_linecol(const bl_file *f, size_t off, int *line, int *col)
{
    int l = 1, c = 1;
    if (off > f->len)
        off = f->len;
    for (size_t i = off >= bom(f) ? bom(f) : 0; i < off; i++) {
        unsigned char ch = (unsigned char)f->text[i];
        if (ch == '\n') { l++; c = 1; }
        else if ((ch & 0xC0) != 0x80) c++;
    }
    *line = l;
    *col = c;
}

size_t bl_file_offset(const bl_file *f, int line, int col)
{
    size_t i = bom(f);
    for (int l = 1; l < line && i < f->len; i++)
        if (f->text[i] == '\n')
            l++;
    for (int c = 1; c < col && i < f->len && f->text[i] != '\n'; c++) {
        i++;
        while (i < f->len && ((unsigned char)f->text[i] & 0xC0) == 0x80)
            i++;
    }
    return i;
}

void bl_diag_init(bl_diag *d, FILE *out)
{
    memset(d, 0, sizeof *d);
    d->out = out ? out : stderr;
    d->max_errors = 20;
}

int bl_diag_full(const bl_diag *d) { return d->errors >= d->max_errors; }

static const char *sev_name(bl_severity s)
{
    return s == BL_ERROR ? "error" : s == BL_WARNING ? "warning" : "note";
}

static int count(bl_diag *d, bl_severity sev)
{
    if (sev == BL_ERROR)
        d->errors++;
    else if (sev == BL_WARNING)
        d->warnings++;
    if (d->mute) {
        d->muted++;
        return 1;
    }
    return sev == BL_WARNING && d->quiet_warnings;
}

static void vdiag_lc(bl_diag *d, bl_severity sev, const bl_file *f, int line, int col,
                     const char *fmt, va_list ap)
{
    if (count(d, sev))
        return;
    if (!f) {
        fprintf(d->out, "bulletin: %s: ", sev_name(sev));
        vfprintf(d->out, fmt, ap);
        fputc('\n', d->out);
        return;
    }
    fprintf(d->out, "%s:%d:%d: %s: ", f->name, line, col, sev_name(sev));
    vfprintf(d->out, fmt, ap);
    fputc('\n', d->out);
    /* The source line, then a caret under the column (tabs kept so it lines up). */
    size_t start = bl_file_offset(f, line, 1), end = start;
    while (end < f->len && f->text[end] != '\n' && f->text[end] != '\r')
        end++;
    if (bl_utf8_check(f->text + start, end - start) != (size_t)-1)
        return; /* never echo invalid UTF-8 to a terminal */
    fprintf(d->out, " %.*s\n ", (int)(end - start), f->text + start);
    size_t i = start;
    for (int c = 1; c < col && i < end; c++) {
        fputc(f->text[i] == '\t' ? '\t' : ' ', d->out);
        i++;
        while (i < end && ((unsigned char)f->text[i] & 0xC0) == 0x80)
            i++;
    }
    fputs("^\n", d->out);
}

void bl_diag_lc(bl_diag *d, bl_severity sev, const bl_file *f, int line, int col,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdiag_lc(d, sev, f, line, col, fmt, ap);
    va_end(ap);
}

void bl_diag_at(bl_diag *d, bl_severity sev, const bl_file *f, size_t off, const char *fmt, ...)
{
    int line = 0, col = 0;
    if (f)
        bl_file_linecol(f, off, &line, &col);
    va_list ap;
    va_start(ap, fmt);
    vdiag_lc(d, sev, f, line, col, fmt, ap);
    va_end(ap);
}

void bl_diag_file(bl_diag *d, bl_severity sev, const char *name, const char *fmt, ...)
{
    if (count(d, sev))
        return;
    fprintf(d->out, "%s: %s: ", name, sev_name(sev));
    va_list ap;
    va_start(ap, fmt);
    vfprintf(d->out, fmt, ap);
    va_end(ap);
    fputc('\n', d->out);
}

/* Process-wide configuration, set once before any rendering starts. */
static char *data_dir_override;
static char *data_dir_found;

void bl_set_data_dir(const char *path)
{
    free(data_dir_override);
    data_dir_override = bl_strdup(path);
}

static int has_fonts(const char *dir)
{
    char p[PATH_MAX + 64];
    struct stat st;
    snprintf(p, sizeof p, "%s/fonts", dir);
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void find_data_dir(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            char cand[PATH_MAX + 32];
            /* installed: PREFIX/bin/bulletin -> PREFIX/share/bulletin */
            snprintf(cand, sizeof cand, "%s/../share/bulletin", exe);
            if (has_fonts(cand)) {
                data_dir_found = realpath(cand, NULL);
                return;
            }
            /* build tree: build/bulletin, build/asan/bulletin, build/tests/x */
            for (int up = 1; up <= 3; up++) {
                snprintf(cand, sizeof cand, "%s", exe);
                for (int k = 0; k < up; k++)
                    strncat(cand, "/..", sizeof cand - strlen(cand) - 1);
                if (has_fonts(cand) && strstr(exe, "/build")) {
                    data_dir_found = realpath(cand, NULL);
                    return;
                }
            }
        }
    }
    if (has_fonts(BL_DATADIR))
        data_dir_found = bl_strdup(BL_DATADIR);
}

/* Found once per process (pthread_once: batch jobs call this concurrently). */
static pthread_once_t data_dir_once = PTHREAD_ONCE_INIT;

const char *bl_data_dir(void)
{
    if (data_dir_override)
        return data_dir_override;
    pthread_once(&data_dir_once, find_data_dir);
    return data_dir_found;
}

static _Thread_local int no_helpers;

int bl_helpers(void) { return !no_helpers; }
void bl_set_helpers(int on) { no_helpers = !on; }
