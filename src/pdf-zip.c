/* pdf-zip.c - deflating the PDF writer's content streams: pages as they
 * end (on a second thread when helper threads are allowed) and forms. */
#include "pdf-internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Streams are deflated here, not by libharu: a dictionary's filter is then
 * "none" (so libharu copies the bytes as they are and drops any /Filter
 * entry), and this writes /Filter instead. */
static HPDF_STATUS write_flate_filter(HPDF_Dict d, HPDF_Stream s)
{
    (void)d;
    return HPDF_Stream_WriteStr(s, "/Filter /FlateDecode\012");
}

/* Appends the bytes of the libharu memory stream raw to out; -1 when a
 * buffer cannot be read or out cannot grow. */
static int gather(HPDF_Stream raw, bl_buf *out)
{
    HPDF_UINT nbuf = HPDF_MemStream_GetBufCount(raw);
    for (HPDF_UINT i = 0; i < nbuf; i++) {
        HPDF_UINT len = 0;
        HPDF_BYTE *in = HPDF_MemStream_GetBufPtr(raw, i, &len);
        if (!in || bl_buf_append(out, in, len))
            return -1;
    }
    return 0;
}

/* A read-only libharu stream over bytes of our own ("blob"): libharu copies
 * a stream object's bytes into the file through the read function, and its
 * memory streams copy byte by byte (HPDF_MemCpy is a loop), which was 4.5%
 * of a 100-output batch.  Nothing may write to it: libharu refuses a write
 * to a stream without a write function (HPDF_INVALID_OPERATION). */
typedef struct blob {
    char *data;
    size_t len, pos;
} blob;

static HPDF_STATUS blob_read(HPDF_Stream s, HPDF_BYTE *ptr, HPDF_UINT *size)
{
    blob *b = s->attr;
    size_t want = *size, n = b->len - b->pos;
    if (n > want)
        n = want;
    if (n)
        memcpy(ptr, b->data + b->pos, n);
    b->pos += n;
    *size = (HPDF_UINT)n;
    return n < want ? HPDF_STREAM_EOF : HPDF_OK; /* as libharu's memory streams */
}

static HPDF_STATUS blob_seek(HPDF_Stream s, HPDF_INT pos, HPDF_WhenceMode mode)
{
    blob *b = s->attr;
    long long base = mode == HPDF_SEEK_CUR ? (long long)b->pos : mode == HPDF_SEEK_END ? (long long)b->len : 0;
    long long to = base + pos;
    if (to < 0 || (unsigned long long)to > b->len)
        return HPDF_SetError(s->error, HPDF_STREAM_EOF, 0);
    b->pos = (size_t)to;
    return HPDF_OK;
}

static HPDF_INT32 blob_tell(HPDF_Stream s)
{
    return (HPDF_INT32)((blob *)s->attr)->pos;
}

static HPDF_UINT32 blob_size(HPDF_Stream s)
{
    return (HPDF_UINT32)((blob *)s->attr)->len;
}

static void blob_free(HPDF_Stream s)
{
    blob *b = s->attr;
    if (b)
        free(b->data);
    free(b);
    s->attr = NULL;
}

HPDF_Stream bl_pdf_blob(HPDF_MMgr mm, bl_buf *src, int take)
{
    if (src->len > INT32_MAX)
        return NULL;
    blob *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    if (take) {
        b->data = src->data;
        b->len = src->len;
        src->data = NULL;
        src->len = src->cap = 0;
    } else if (src->len) {
        if (!(b->data = malloc(src->len))) {
            free(b);
            return NULL;
        }
        memcpy(b->data, src->data, src->len);
        b->len = src->len;
    }
    HPDF_Stream s = HPDF_GetMem(mm, sizeof *s);
    if (!s) {
        free(b->data);
        free(b);
        return NULL;
    }
    memset(s, 0, sizeof *s);
    s->sig_bytes = HPDF_STREAM_SIG_BYTES;
    s->type = HPDF_STREAM_UNKNOWN;
    s->mmgr = mm;
    s->error = mm->error;
    s->size = (HPDF_UINT)b->len;
    s->read_fn = blob_read;
    s->seek_fn = blob_seek;
    s->tell_fn = blob_tell;
    s->size_fn = blob_size;
    s->free_fn = blob_free;
    s->attr = b;
    return s;
}

/* A new blob of a copy of b's bytes, or NULL (reported). */
static HPDF_Stream stream_of(bl_pdf *p, bl_buf *b)
{
    HPDF_Stream packed = bl_pdf_blob(p->doc->mmgr, b, 0);
    if (!packed) {
        bl_pdf_hcheck(p, "storing a content stream");
        if (!p->failed)
            bl_pdf_fail(p, "out of memory");
        return NULL;
    }
    return packed;
}

/* The deflated form of the memory stream raw (not empty), in a new blob,
 * or NULL after an error.  what: "a page's content", for messages. */
HPDF_Stream bl_pdf_deflate_stream(bl_pdf *p, HPDF_Stream raw, int shared, const char *what)
{
    p->zraw.len = 0;
    if (gather(raw, &p->zraw)) {
        if (!bl_pdf_hcheck(p, "reading a content stream"))
            bl_pdf_fail(p, "reading %s failed (out of memory?)", what);
        return NULL;
    }
    if (shared ? bl_pdf_deflate_shared(p->zraw.data, p->zraw.len, &p->zbuf)
               : bl_pdf_deflate(p->zraw.data, p->zraw.len, &p->zbuf)) {
        bl_pdf_fail(p, "deflating %s failed (out of memory?)", what);
        return NULL;
    }
    return stream_of(p, &p->zbuf);
}

void bl_pdf_set_stream(HPDF_Dict dict, HPDF_Stream s, int deflated)
{
    HPDF_Stream_Free(dict->stream);
    dict->stream = s;
    dict->filter = HPDF_STREAM_FILTER_NONE;
    dict->write_fn = deflated ? write_flate_filter : NULL;
}

#define ZQ 4
typedef struct zjob {
    HPDF_Dict contents;        /* the page's content stream object */
    HPDF_PageAttr attr;
    bl_buf raw, out;
    int state;                 /* 0 waiting, 1 deflated, -1 failed */
} zjob;

struct zq {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    zjob job[ZQ];              /* a ring: job[(head + i) % ZQ], i < count, in page order */
    int head, count, stop;
    /* Other work for the thread once the pages are done (bl_pdf_pages_task):
     * the save's fonts, on a thread whose compressor is warm already. */
    void *(*task)(void *);
    void *task_arg;
    int task_state;            /* 0 none, 1 waiting, 2 running, 3 done */
};

static void *zq_main(void *arg)
{
    struct zq *q = arg;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        zjob *j = NULL;
        for (int i = 0; i < q->count && !j; i++)
            if (q->job[(q->head + i) % ZQ].state == 0)
                j = &q->job[(q->head + i) % ZQ];
        if (!j && q->task_state == 1) {
            q->task_state = 2;
            pthread_mutex_unlock(&q->lock);
            q->task(q->task_arg);
            pthread_mutex_lock(&q->lock);
            q->task_state = 3;
            pthread_cond_broadcast(&q->cond);
            continue;
        }
        if (!j) {
            if (q->stop)
                break;
            pthread_cond_wait(&q->cond, &q->lock);
            continue;
        }
        pthread_mutex_unlock(&q->lock);
        int ok = !bl_pdf_deflate(j->raw.data, j->raw.len, &j->out);
        pthread_mutex_lock(&q->lock);
        j->state = ok ? 1 : -1;
        pthread_cond_broadcast(&q->cond);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

/* Installs the oldest waiting page's deflated content, waiting for it. */
static int zq_install_oldest(bl_pdf *p)
{
    struct zq *q = p->zq;
    pthread_mutex_lock(&q->lock);
    zjob *j = &q->job[q->head];
    while (j->state == 0)
        pthread_cond_wait(&q->cond, &q->lock);
    pthread_mutex_unlock(&q->lock);
    int rc = 0;
    if (j->state < 0) {
        rc = bl_pdf_fail(p, "deflating a page's content failed (out of memory?)");
    } else {
        HPDF_Stream packed = stream_of(p, &j->out);
        if (!packed) {
            rc = -1;
        } else {
            int was = j->attr->stream == j->contents->stream;
            bl_pdf_set_stream(j->contents, packed, 1); /* frees the raw stream */
            if (was)
                j->attr->stream = packed;
        }
    }
    pthread_mutex_lock(&q->lock);
    q->head = (q->head + 1) % ZQ;
    q->count--;
    pthread_mutex_unlock(&q->lock);
    return rc;
}

/* Installs every waiting page (before the save). */
int bl_pdf_pages_drain(bl_pdf *p)
{
    int rc = 0;
    while (p->zq && p->zq->count)
        rc |= zq_install_oldest(p);
    return rc ? -1 : 0;
}

int bl_pdf_pages_start(bl_pdf *p)
{
    if (!p->async)
        return -1;
    if (!p->zq) {
        struct zq *q = calloc(1, sizeof *q);
        if (!q)
            return -1;
        pthread_mutex_init(&q->lock, NULL);
        pthread_cond_init(&q->cond, NULL);
        if (bl_thread_start(&q->thread, zq_main, q)) {
            pthread_mutex_destroy(&q->lock);
            pthread_cond_destroy(&q->cond);
            free(q);
            p->async = 0;
            return -1;
        }
        p->zq = q;
    }
    return 0;
}

/* Hands raw (the open page's content) to the deflating thread; 1 when it
 * took it, 0 when the page is to be deflated here, -1 after an error. */
static int zq_put(bl_pdf *p, HPDF_PageAttr a, HPDF_Stream raw)
{
    if (bl_pdf_pages_start(p))
        return 0;
    struct zq *q = p->zq;
    if (q->count == ZQ && zq_install_oldest(p))
        return -1;
    zjob *j = &q->job[(q->head + q->count) % ZQ]; /* not the worker's: its state is not 0 */
    j->raw.len = 0;
    if (gather(raw, &j->raw))
        return 0; /* deflated here instead */
    j->contents = a->contents;
    j->attr = a;
    pthread_mutex_lock(&q->lock);
    j->state = 0;
    q->count++;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    return 1;
}

int bl_pdf_pages_task(bl_pdf *p, void *(*fn)(void *), void *arg)
{
    struct zq *q = p->zq;
    if (!q)
        return -1;
    pthread_mutex_lock(&q->lock);
    int ok = !q->stop && (q->task_state == 0 || q->task_state == 3);
    if (ok) {
        q->task = fn;
        q->task_arg = arg;
        q->task_state = 1;
        pthread_cond_broadcast(&q->cond);
    }
    pthread_mutex_unlock(&q->lock);
    return ok ? 0 : -1;
}

void bl_pdf_pages_task_wait(bl_pdf *p)
{
    struct zq *q = p->zq;
    pthread_mutex_lock(&q->lock);
    while (q->task_state == 1 || q->task_state == 2)
        pthread_cond_wait(&q->cond, &q->lock);
    q->task_state = 0;
    pthread_mutex_unlock(&q->lock);
}

void bl_pdf_pages_stop(bl_pdf *p)
{
    struct zq *q = p->zq;
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    q->stop = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    pthread_join(q->thread, NULL);
    for (int i = 0; i < ZQ; i++) {
        bl_buf_free(&q->job[i].raw);
        bl_buf_free(&q->job[i].out);
    }
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
    free(q);
    p->zq = NULL;
}

/* Replaces the open page's content stream by its deflated form, in a blob:
 * left to itself, libharu keeps every page's raw content until the save and
 * deflates it only while writing. */
int bl_pdf_deflate_page(bl_pdf *p)
{
    HPDF_PageAttr a = page_attr(p);
    HPDF_Stream raw = a->stream;
    if (HPDF_Stream_Size(raw) == 0) {
        /* libharu writes an empty stream as zero bytes even when it is
         * marked /FlateDecode, which readers flag as broken. */
        a->contents->filter = HPDF_STREAM_FILTER_NONE;
        return 0;
    }
    if (!(a->contents->filter & HPDF_STREAM_FILTER_FLATE_DECODE) || raw->type != HPDF_STREAM_MEMORY)
        return 0; /* uncompressed output: libharu writes the stream as it is */
    int taken = zq_put(p, a, raw);
    if (taken)
        return taken < 0 ? -1 : 0;
    HPDF_Stream packed = bl_pdf_deflate_stream(p, raw, 0, "a page's content");
    if (!packed)
        return -1;
    bl_pdf_set_stream(a->contents, packed, 1); /* frees raw, which is contents->stream */
    a->stream = packed;
    return 0;
}

