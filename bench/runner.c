/* runner.c - times a command: bench/runner [-w WARMUP] [-n RUNS] -- CMD ARG...
 *
 * Runs CMD WARMUP times untimed, then RUNS times, each as a fresh process
 * (fork + exec, so start-up and dynamic linking are counted, as a user sees
 * them), and prints one line:
 *
 *     MEDIAN_MS MIN_MS MAX_MS PEAK_RSS_KB CPU_MS
 *
 * CMD's standard output goes to /dev/null (its standard error is kept).
 * Wall time is CLOCK_MONOTONIC from fork to wait4; the peak RSS is the
 * largest ru_maxrss the kernel reports for the timed runs (it covers every
 * thread of the process); CPU_MS is the median user + system time, which
 * other load on the machine disturbs less than the wall time.  Exits 1, naming the status, if any run fails. */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE /* wait4 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

#define MAX_RUNS 1000

/* Runs argv once; returns 0 and the time and peak RSS, or -1. */
static int run_once(char **argv, double *ms, long *rss_kb, double *cpu_ms)
{
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        perror("runner: fork");
        return -1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 1);
        execvp(argv[0], argv);
        fprintf(stderr, "runner: cannot run %s\n", argv[0]);
        _exit(127);
    }
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) != pid) {
        perror("runner: wait4");
        return -1;
    }
    *ms = now_ms() - t0;
    *rss_kb = ru.ru_maxrss;
    *cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    if (!WIFEXITED(st) || WEXITSTATUS(st)) {
        if (WIFEXITED(st))
            fprintf(stderr, "runner: %s exited with status %d\n", argv[0], WEXITSTATUS(st));
        else
            fprintf(stderr, "runner: %s was killed by signal %d\n", argv[0], WTERMSIG(st));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int warm = 1, runs = 5, i = 1;
    for (; i < argc && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "-w") && i + 1 < argc)
            warm = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-n") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else
            break;
    }
    if (i + 1 >= argc || strcmp(argv[i], "--") || warm < 0 || runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "usage: runner [-w WARMUP] [-n RUNS(1-%d)] -- CMD ARG...\n", MAX_RUNS);
        return 2;
    }
    char **cmd = argv + i + 1;
    double t[MAX_RUNS], cpu[MAX_RUNS], ms, c;
    long rss, peak = 0;
    for (int k = 0; k < warm; k++)
        if (run_once(cmd, &ms, &rss, &c))
            return 1;
    for (int k = 0; k < runs; k++) {
        if (run_once(cmd, &t[k], &rss, &cpu[k]))
            return 1;
        if (rss > peak)
            peak = rss;
    }
    double med = median(t, runs), cmed = median(cpu, runs);
    printf("%.3f %.3f %.3f %ld %.3f\n", med, t[0], t[runs - 1], peak, cmed);
    return 0;
}
