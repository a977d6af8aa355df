/* Minimal unit-test harness (one per test program).  Each CHECK counts as one
 * test; a failure prints file:line and the message.  main() ends with
 * `return bl_test_done();`, which prints "N passed, N failed" (tests/run.sh sums these). */
#ifndef BL_TEST_HARNESS_H
#define BL_TEST_HARNESS_H
#include <stdio.h>
#include <stdarg.h>

static int bl_test_pass_count, bl_test_fail_count;

static void bl_test_check(int ok, const char *file, int line, const char *fmt, ...)
{
    if (ok) { bl_test_pass_count++; return; }
    bl_test_fail_count++;
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
#define CHECK(cond, ...) bl_test_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

static int bl_test_done(void)
{
    printf("%d passed, %d failed\n", bl_test_pass_count, bl_test_fail_count);
    return bl_test_fail_count ? 1 : 0;
}
#endif
