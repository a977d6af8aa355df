/* bulletin.h - the public C API of libbulletin: bilingual official bulletins
 * (YAML front matter + Markdown, one section per language) to PDF.
 *
 *   bulletin_options o;
 *   bulletin_options_init(&o);
 *   o.output = "out.pdf";
 *   int status = bulletin_render(sources, nsources, &o);   // 0 ok, 1 error
 *
 * Diagnostics go to o.diag_out (stderr by default) as
 * "file:line:col: error: message" with the source line and a caret. */
#ifndef BULLETIN_H
#define BULLETIN_H
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bulletin_options {
    const char *output;        /* PDF path (required); written atomically */
    const char *layout;        /* layout name or file; NULL: the source's own, else "parallel" */
    const char *lang;          /* keep only this language (single layout), or NULL */
    const char *trace;         /* write a JSON layout trace here, or NULL */
    int allow_unpaired;        /* pair what can be paired; a warning instead of an error */
    int quiet;                 /* no warnings */
    FILE *diag_out;            /* borrowed; stderr when NULL */
    int threads;               /* 1: all work on the calling thread; 0 (default): helper
                                  threads may take parts of it (a second core's worth);
                                  two of them stay for the process (ICU's loader, the
                                  column thread) until bulletin_shutdown */
    /* For callers that write many files: when set (and trace is not), the
     * finished PDF - complete and checked, in a temporary file tmp beside
     * output - is handed to publish(publish_ctx, tmp, output) instead of
     * being synced to disk and renamed to output by the render, so that
     * the caller can do that on a thread of its own (bulletin_publish).
     * publish returns 0 when it took the file; from then on the file is
     * the caller's to rename or remove. */
    int (*publish)(void *ctx, const char *tmp, const char *output);
    void *publish_ctx;
    /* For a program that exits right after the render: the finished
     * document's memory is left for the operating system to take back,
     * instead of being freed object by object (as compilers do at exit;
     * about 0.2 ms of a 10 ms run).  Leaks by design: not for long-lived
     * callers, and not under LeakSanitizer. */
    int leave_memory;
} bulletin_options;

void bulletin_options_init(bulletin_options *o);

/* Renders the sources (paths; "-" is standard input) into one PDF, each
 * bulletin starting on a new page.  Returns 0 on success, 1 when the input
 * or rendering failed (diagnostics printed; no output file is left). */
int bulletin_render(const char *const *sources, int nsources, const bulletin_options *o);

/* Syncs the handed-over file tmp to disk and renames it to output (see
 * bulletin_options.publish).  Returns 0, or -1 with the reason in why
 * (whylen bytes), tmp removed. */
int bulletin_publish(const char *tmp, const char *output, char *why, size_t whylen);

/* bulletin_publish for n handed-over files at once (a group commit): one
 * sync of the file system that holds them (syncfs) instead of one fsync
 * per file, then each file's own write-back state checked and the renames.
 * A file on another file system, every file when that sync fails, and every
 * file on a file system whose syncfs is not known to flush everything (only
 * ext4, XFS, Btrfs, F2FS and tmpfs are), is published on its own.
 * failed[i] is set to 0 or 1 and why + i * whylen holds its reason.
 * Returns the number that failed (their temporary files removed). */
int bulletin_publish_group(const char *const *tmp, const char *const *output, int n, int *failed, char *why,
                           size_t whylen);

/* The version string, e.g. "0.1.0". */
const char *bulletin_version(void);

/* Frees what the library keeps for the whole process: fonts, hyphenation
 * dictionaries, layouts, the calling thread's shaping caches and its cache
 * of PDF objects, and ends the helper threads that stay between renders
 * (their caches go with them).  Call once, after the last render, when no
 * other thread is rendering; a later render starts afresh. */
void bulletin_shutdown(void);

#ifdef __cplusplus
}
#endif
#endif
