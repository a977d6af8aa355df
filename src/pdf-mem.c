/* pdf-mem.c - the allocator behind libharu's objects.
 *
 * A document is some 1,400 small libharu objects (numbers, names, arrays,
 * dictionaries and their lists) per output, each malloc'd and freed one by
 * one; glibc's per-size caches hold only seven chunks, so most of those calls
 * took its slow paths (malloc and free were 10% of a two-thread batch).
 * Here sizes up to 512 bytes come in 32 classes of 16 bytes from 64 KB
 * slabs, and a freed chunk goes to its class's list on the freeing thread.
 * A document is only ever used by one thread at a time, so the lists need
 * no lock; a thread that ends leaves its lists in a shared depot, where the
 * next thread to run out takes them.  Slabs are kept for the process (they
 * stay reachable from a global list).  Larger requests go to malloc.
 *
 * Under AddressSanitizer libharu keeps malloc, so that its object handling
 * stays checked chunk by chunk. */
#include "pdf-internal.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define BL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BL_ASAN 1
#endif
#endif

#ifdef BL_ASAN
const int bl_pdf_mem_pooled = 0;
void *bl_pdf_mem_alloc(HPDF_UINT size) { return malloc(size ? size : 1); }
void bl_pdf_mem_free(void *p) { free(p); }
HPDF_Doc bl_pdf_new_doc(HPDF_Error_Handler on_error, void *ctx)
{
    return HPDF_New(on_error, ctx);
}
#else
const int bl_pdf_mem_pooled = 1;

#define MEM_GRAIN 16
#define MEM_CLASSES 32 /* up to 512 bytes */
#define MEM_SLAB (64u << 10)

typedef struct mem_hdr { /* before every chunk: 16 bytes keep chunks aligned */
    uint64_t cls;        /* 0: from malloc */
    uint64_t pad;
} mem_hdr;

typedef struct mem_slab {
    struct mem_slab *next;
    uint64_t pad;
} mem_slab;

typedef struct mem_local {
    void *free[MEM_CLASSES + 1];
    char *bump, *end;
    int registered;
} mem_local;

static _Thread_local mem_local tl;
static pthread_mutex_t depot_lock = PTHREAD_MUTEX_INITIALIZER;
static void *depot[MEM_CLASSES + 1];
static mem_slab *slabs;
static pthread_key_t exit_key;
static int key_ok;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

/* A thread ends: its free chunks go to the depot. */
static void leave(void *arg)
{
    mem_local *l = arg;
    pthread_mutex_lock(&depot_lock);
    for (int c = 1; c <= MEM_CLASSES; c++)
        while (l->free[c]) {
            void *p = l->free[c];
            l->free[c] = *(void **)p;
            *(void **)p = depot[c];
            depot[c] = p;
        }
    pthread_mutex_unlock(&depot_lock);
}

static void make_key(void)
{
    key_ok = pthread_key_create(&exit_key, leave) == 0;
}

static void *from_malloc(size_t size)
{
    mem_hdr *h = malloc(sizeof *h + size);
    if (!h)
        return NULL;
    h->cls = 0;
    return h + 1;
}

void *bl_pdf_mem_alloc(HPDF_UINT size)
{
    size_t c = ((size_t)size + MEM_GRAIN - 1) / MEM_GRAIN;
    if (c > MEM_CLASSES)
        return from_malloc(size);
    if (!c)
        c = 1;
    void *p = tl.free[c];
    if (p) {
        tl.free[c] = *(void **)p;
        return p;
    }
    if (!tl.registered) {
        tl.registered = 1;
        pthread_once(&exit_once, make_key);
        if (key_ok)
            pthread_setspecific(exit_key, &tl);
    }
    if (__atomic_load_n(&depot[c], __ATOMIC_RELAXED)) { /* unlocked peek; checked again below */
        pthread_mutex_lock(&depot_lock);
        p = depot[c];
        depot[c] = NULL;
        pthread_mutex_unlock(&depot_lock);
        if (p) {
            tl.free[c] = *(void **)p;
            return p;
        }
    }
    size_t need = sizeof(mem_hdr) + c * MEM_GRAIN;
    if ((size_t)(tl.end - tl.bump) < need) {
        mem_slab *s = malloc(MEM_SLAB);
        if (!s)
            return from_malloc(size);
        pthread_mutex_lock(&depot_lock);
        s->next = slabs;
        slabs = s;
        pthread_mutex_unlock(&depot_lock);
        tl.bump = (char *)(s + 1);
        tl.end = (char *)s + MEM_SLAB;
    }
    mem_hdr *h = (mem_hdr *)tl.bump;
    tl.bump += need;
    h->cls = c;
    return h + 1;
}

void bl_pdf_mem_free(void *p)
{
    if (!p)
        return;
    mem_hdr *h = (mem_hdr *)p - 1;
    if (!h->cls) {
        free(h);
        return;
    }
    *(void **)p = tl.free[h->cls];
    tl.free[h->cls] = p;
}

HPDF_Doc bl_pdf_new_doc(HPDF_Error_Handler on_error, void *ctx)
{
    return HPDF_NewEx(on_error, bl_pdf_mem_alloc, bl_pdf_mem_free, 0, ctx);
}
#endif
