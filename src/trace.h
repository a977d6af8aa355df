/* trace.h - the layout trace: a bl_device that writes what was laid out as
 * JSON (pages, lines, glyph runs with positions), for tests and people.
 * Internal header. */
#ifndef BL_TRACE_H
#define BL_TRACE_H
#include "draw.h"

typedef struct bl_trace bl_trace;
/* Returns an owned trace device (bl_trace_free) or NULL. */
bl_trace *bl_trace_new(void);
bl_device *bl_trace_device(bl_trace *t);
/* Writes the JSON document to path (temporary file + rename).  0 or -1. */
int bl_trace_save(bl_trace *t, const char *path);
void bl_trace_free(bl_trace *t);

/* A device that forwards every call to two devices (PDF and trace); it
 * announces ahead (draw.h) when one of them asks, as they do at init. */
typedef struct bl_tee {
    bl_device dev;
    bl_device *a, *b;
} bl_tee;
void bl_tee_init(bl_tee *t, bl_device *a, bl_device *b);
#endif
