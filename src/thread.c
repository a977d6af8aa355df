/* thread.c - starting helper threads (bl_thread_start, see base.h). */
#define _GNU_SOURCE /* sched_getcpu, CPU_* and pthread_attr_setaffinity_np (Linux) */
#include "base.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

typedef struct start {
    void *(*fn)(void *);
    void *arg;
    cpu_set_t cpus; /* the creator's processors, which the helper takes back */
} start;

static void *trampoline(void *p)
{
    start s = *(start *)p;
    free(p);
    /* If this fails the helper stays off the creator's processor: slower
     * at worst, never wrong. */
    sched_setaffinity(0, sizeof s.cpus, &s.cpus);
    return s.fn(s.arg);
}

int bl_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    start *s = malloc(sizeof *s);
    int cpu = sched_getcpu();
    if (s && cpu >= 0 && cpu < CPU_SETSIZE && !sched_getaffinity(0, sizeof s->cpus, &s->cpus) &&
        CPU_ISSET(cpu, &s->cpus) && CPU_COUNT(&s->cpus) > 1) {
        s->fn = fn;
        s->arg = arg;
        cpu_set_t others = s->cpus;
        CPU_CLR(cpu, &others);
        pthread_attr_t attr;
        if (!pthread_attr_init(&attr)) {
            int rc = pthread_attr_setaffinity_np(&attr, sizeof others, &others) ? -1
                     : pthread_create(t, &attr, trampoline, s);
            pthread_attr_destroy(&attr);
            if (rc == 0)
                return 0;
        }
    }
    free(s);
    return pthread_create(t, NULL, fn, arg) ? -1 : 0;
}
