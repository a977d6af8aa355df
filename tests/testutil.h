/* testutil.h - helpers shared by the test programs that run external tools. */
#ifndef BL_TESTUTIL_H
#define BL_TESTUTIL_H
#include <stdio.h>
#include <sys/wait.h>
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
#endif
