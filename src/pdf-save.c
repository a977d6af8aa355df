/* pdf-save.c - putting the finished document into its file: serialised by
 * libharu into memory, written to a temporary file beside the target,
 * synced and renamed into place (or handed over to the caller's publish),
 * so that a failure never leaves a partial PDF. */
#include "pdf-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Creates "PATH.tmp.XXXXXX" exclusively.  Not mkstemp: that makes the file
 * 0600, and the PDF should get the usual 0666 & ~umask, which open()
 * applies.  Returns its descriptor and the name in tmp, or -1 with errno
 * set. */
static int make_temp(const char *path, char *tmp, size_t tmplen)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t r = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 32) ^
                 (uint64_t)(uintptr_t)tmp;
    for (int attempt = 0; attempt < 100; attempt++) {
        char suffix[7];
        for (int i = 0; i < 6; i++) {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            suffix[i] = abc[r % (sizeof abc - 1)];
        }
        suffix[6] = 0;
        if ((size_t)snprintf(tmp, tmplen, "%s.tmp.%s", path, suffix) >= tmplen) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0)
            return fd;
        if (errno != EEXIST)
            return -1;
    }
    return -1;
}

/* fsync, where the file system can (EINVAL, EROFS: it cannot, nothing to wait for). */
static int sync_fd(int fd)
{
    return fsync(fd) && errno != EINVAL && errno != EROFS ? -1 : 0;
}

/* Writes the document, as libharu serialised it into its memory stream,
 * to fd: every write checked (a full disk shows here, where libharu's own
 * file writer ignores fclose), then fsync when sync, so that the rename
 * never publishes data still in flight.  One writev per 64 of libharu's
 * 4 KB buffers instead of a write per buffer through stdio. */
static int write_out(HPDF_Stream s, int fd, int sync, char *why, size_t whylen)
{
    HPDF_UINT nbuf = HPDF_MemStream_GetBufCount(s);
    struct iovec iov[64];
    for (HPDF_UINT i = 0; i < nbuf;) {
        int n = 0;
        for (; i < nbuf && n < 64; i++) {
            HPDF_UINT len = 0;
            HPDF_BYTE *b = HPDF_MemStream_GetBufPtr(s, i, &len);
            if (!b) {
                snprintf(why, whylen, "cannot read the serialised document");
                return -1;
            }
            if (len)
                iov[n++] = (struct iovec){b, len};
        }
        struct iovec *v = iov;
        while (n > 0) {
            ssize_t w = writev(fd, v, n);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                snprintf(why, whylen, "cannot write: %s", w < 0 ? strerror(errno) : "no progress (disk full?)");
                return -1;
            }
            while (n > 0 && (size_t)w >= v->iov_len) {
                w -= (ssize_t)v->iov_len;
                v++;
                n--;
            }
            if (n > 0) {
                v->iov_base = (char *)v->iov_base + w;
                v->iov_len -= (size_t)w;
            }
        }
    }
    if (sync && sync_fd(fd)) {
        snprintf(why, whylen, "cannot sync the file: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int bl_pdf_publish(const char *tmp, const char *path, char *why, size_t whylen)
{
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || sync_fd(fd)) {
        snprintf(why, whylen, "cannot sync the file: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    if (rename(tmp, path)) {
        snprintf(why, whylen, "cannot rename the temporary file into place: %s", strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int bl_pdf_write_file(bl_pdf *p, const char *path, bl_pdf_publish_fn publish, void *ctx)
{
    size_t tmplen = strlen(path) + 16;
    char *tmp = malloc(tmplen);
    if (!tmp)
        return bl_pdf_fail(p, "out of memory");
    int fd = make_temp(path, tmp, tmplen);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return bl_pdf_fail(p, "%s: cannot create a file there: %s", path, strerror(e));
    }
    /* Serialised into libharu's memory stream, then written here (freed
     * right after: a second save serialises again). */
    HPDF_SaveToStream(p->doc);
    char why[sizeof p->err + 64];
    int bad = 1;
    if (p->hcode || HPDF_GetError(p->doc) || !p->doc->stream) {
        bl_pdf_hcheck(p, "writing the PDF");
        snprintf(why, sizeof why, "%s", p->err[0] ? p->err : "libharu failure");
        close(fd);
    } else if (write_out(p->doc->stream, fd, !publish, why, sizeof why)) {
        close(fd);
    } else if (close(fd)) {
        snprintf(why, sizeof why, "cannot write: %s", strerror(errno));
    } else if (publish && publish(ctx, tmp, path))
        snprintf(why, sizeof why, "cannot hand the file over (out of memory?)");
    else if (!publish && rename(tmp, path))
        snprintf(why, sizeof why, "cannot rename the temporary file into place: %s", strerror(errno));
    else
        bad = 0;
    if (p->doc->stream)
        HPDF_MemStream_FreeData(p->doc->stream);
    if (bad) {
        unlink(tmp);
        free(tmp);
        return bl_pdf_fail(p, "%s: %s", path, why);
    }
    free(tmp);
    return 0;
}
