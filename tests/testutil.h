/* testutil.h - helpers shared by the test programs that run external tools. */
#ifndef BL_TESTUTIL_H
#define BL_TESTUTIL_H
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "base.h"

/* Runs a shell command; returns its exit status (-1 if it did not exit) and
 * its standard output in out (NUL-terminated). */
static inline int bl_test_run(const char *cmd, bl_buf *out)
{
    out->len = 0;
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char chunk[4096];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, p)) > 0)
        bl_buf_append(out, chunk, k);
    bl_buf_append(out, "", 0);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
/* The shared PDF checker (qpdf, poppler, mupdf), from the repository root. */
#define PDFCHECK "../shared/checks/pdfcheck.sh"

/* Runs PDFCHECK with args (e.g. "--no-text", or "") on path; returns its exit
 * status with its report in out, or -1 with the reason in out when the
 * script is not there (the tests run from the repository root). */
static inline int bl_test_pdfcheck(const char *args, const char *path, bl_buf *out)
{
    if (access(PDFCHECK, R_OK) != 0) {
        out->len = 0;
        bl_buf_printf(out, "%s not found (run from the repository root)", PDFCHECK);
        return -1;
    }
    bl_buf cmd = {0};
    int rc = bl_buf_printf(&cmd, "sh %s %s %s 2>&1", PDFCHECK, args, path) ? -1 : bl_test_run(cmd.data, out);
    bl_buf_free(&cmd);
    return rc;
}

/* The whole file at path in b, NUL-terminated (b->len does not count the
 * NUL); b->data stays NULL when the file cannot be read. */
static inline void bl_test_read_file(const char *path, bl_buf *b)
{
    b->len = 0;
    FILE *fp = fopen(path, "rb");
    char chunk[4096];
    size_t got;
    while (fp && (got = fread(chunk, 1, sizeof chunk, fp)) > 0)
        bl_buf_append(b, chunk, got);
    if (fp) {
        fclose(fp);
        bl_buf_append(b, "", 0);
    }
}

/* Writes n bytes of data to path; 0, or -1 on any failure. */
static inline int bl_test_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) || w != n ? -1 : 0;
}

/* Removes a test's scratch folder, unless a check failed or BL_TEST_KEEP is
 * set: then it stays for inspection.  Call just before bl_test_done(). */
static inline void bl_test_cleanup(const char *dir, int failed)
{
    if (failed || getenv("BL_TEST_KEEP")) {
        fprintf(stderr, "kept %s for inspection\n", dir);
        return;
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}
#endif
