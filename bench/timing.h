/* timing.h - what the benchmark's programs (runner.c, floor.c) share:
 * clocks in milliseconds and the median of a set of timings. */
#ifndef BL_BENCH_TIMING_H
#define BL_BENCH_TIMING_H
#include <stdlib.h>
#include <time.h>

static inline double clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static inline double now_ms(void) { return clock_ms(CLOCK_MONOTONIC); }

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts t (n > 0). */
static inline double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}
#endif
