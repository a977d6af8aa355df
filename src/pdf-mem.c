/* pdf-mem.c - a cache in front of malloc for libharu's objects.
 *
 * A document is some 1,400 small libharu objects (numbers, names, arrays,
 * dictionaries, their lists) per output, each malloc'd, all freed together
 * when the document is.  glibc's per-thread cache holds seven chunks of a
 * size, so in batch mode nearly every one of those calls took malloc's
 * locked slow paths.  Here a thread keeps the chunks libharu frees, by
 * size class, up to MEM_CACHE bytes, and the next document takes them back.
 * Nothing is carved out of malloc's chunks: a chunk's size class is read
 * from malloc itself (malloc_usable_size), each chunk stays a malloc chunk,
 * and what the cache does not hold goes back to malloc, so memory freed by a
 * document still serves any size (a slab allocator tried first kept
 * libharu's objects apart from the rest: +3.4 KB a page at 2,000 pages).
 * The cache goes with its thread (or bl_pdf_mem_trim).
 *
 * Under AddressSanitizer libharu keeps plain malloc, so that each chunk's
 * life stays checked. */
#include "pdf-internal.h"

#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define BL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BL_ASAN 1
#endif
#endif

#ifdef BL_ASAN
const int bl_pdf_mem_cached = 0;
void *bl_pdf_mem_alloc(HPDF_UINT size) { return malloc(size ? size : 1); }
void bl_pdf_mem_free(void *p) { free(p); }
void bl_pdf_mem_trim(void) {}
HPDF_Doc bl_pdf_new_doc(HPDF_Error_Handler on_error, void *ctx)
{
    return HPDF_New(on_error, ctx);
}
#else
const int bl_pdf_mem_cached = 1;

/* Class c is malloc's chunk of 16 * c bytes, which holds 16 * c - 8 (glibc
 * on 64 bits); classes 2..32 hold 24 to 504 bytes. */
#define MEM_CLASSES 32
#define MEM_CACHE (1u << 20)

typedef struct mem_cache {
    void *head[MEM_CLASSES + 1];
    size_t bytes;
    int registered;
} mem_cache;

static _Thread_local mem_cache tc;
static pthread_key_t exit_key;
static int key_ok;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void drain(mem_cache *m)
{
    for (int c = 0; c <= MEM_CLASSES; c++)
        while (m->head[c]) {
            void *p = m->head[c];
            m->head[c] = *(void **)p;
            free(p);
        }
    m->bytes = 0;
}

/* The thread ends: its cache goes, and stays shut (a later free on it, from
 * another key's destructor, goes to malloc, as the cache is full). */
static void on_exit_thread(void *arg)
{
    mem_cache *m = arg;
    drain(m);
    m->bytes = MEM_CACHE;
}

static void make_key(void) { key_ok = pthread_key_create(&exit_key, on_exit_thread) == 0; }

void *bl_pdf_mem_alloc(HPDF_UINT size)
{
    size_t c = ((size_t)size + 8 + 15) / 16;
    if (c < 2)
        c = 2;
    if (c > MEM_CLASSES)
        return malloc(size);
    void *p = tc.head[c];
    if (p) {
        tc.head[c] = *(void **)p;
        tc.bytes -= 16 * c;
        return p;
    }
    return malloc(16 * c - 8);
}

void bl_pdf_mem_free(void *p)
{
    if (!p)
        return;
    size_t u = malloc_usable_size(p) + 8, c = u / 16;
    if (u % 16 || c < 2 || c > MEM_CLASSES || tc.bytes + u > MEM_CACHE) {
        free(p);
        return;
    }
    if (!tc.registered) { /* the cache is freed when the thread ends */
        pthread_once(&key_once, make_key);
        if (!key_ok || pthread_setspecific(exit_key, &tc)) {
            free(p);
            return;
        }
        tc.registered = 1;
    }
    *(void **)p = tc.head[c];
    tc.head[c] = p;
    tc.bytes += u;
}

void bl_pdf_mem_trim(void) { drain(&tc); }

HPDF_Doc bl_pdf_new_doc(HPDF_Error_Handler on_error, void *ctx)
{
    return HPDF_NewEx(on_error, bl_pdf_mem_alloc, bl_pdf_mem_free, 0, ctx);
}
#endif
