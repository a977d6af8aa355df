/* trace.c - JSON layout trace and a tee device. */
#include "trace.h"
#include "base.h"
#include "image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct bl_trace {
    bl_device dev;      /* first member: the device pointer is the trace pointer */
    bl_buf out;
    int pages, lines_on_page, runs_in_line, in_line, oom;
};

static void json_str(bl_buf *b, const char *s, size_t n)
{
    bl_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            char e[2] = {'\\', (char)ch};
            bl_buf_append(b, e, 2);
        } else if (ch < 0x20) {
            bl_buf_printf(b, "\\u%04x", ch);
        } else {
            bl_buf_append(b, s + i, 1);
        }
    }
    bl_buf_append(b, "\"", 1);
}

static void close_line(bl_trace *t)
{
    if (t->in_line)
        bl_buf_puts(&t->out, "]}");
    t->in_line = 0;
}

static int t_begin_page(bl_device *d, double w, double h)
{
    bl_trace *t = (bl_trace *)d;
    bl_buf_printf(&t->out, "%s\n{\"number\":%d,\"width\":%.2f,\"height\":%.2f,\"lines\":[",
                  t->pages ? "," : "", t->pages + 1, w, h);
    t->pages++;
    t->lines_on_page = 0;
    return 0;
}

static int t_line(bl_device *d, const bl_line_info *li)
{
    bl_trace *t = (bl_trace *)d;
    close_line(t);
    bl_buf_printf(&t->out, "%s\n {\"lang\":\"%s\",\"block\":%d,\"kind\":\"%s\",\"x\":%.3f,\"baseline\":%.3f,"
                           "\"width\":%.3f,\"extra\":%.4f,\"letter\":%.4f,\"text\":",
                  t->lines_on_page ? "," : "", li->lang, li->block, li->kind, li->x, li->baseline, li->width,
                  li->space_extra, li->letter_extra);
    json_str(&t->out, li->text, li->text_len);
    bl_buf_puts(&t->out, ",\"runs\":[");
    t->lines_on_page++;
    t->in_line = 1;
    t->runs_in_line = 0;
    return 0;
}

static int t_glyph_run(bl_device *d, const bl_glyph_run *r)
{
    bl_trace *t = (bl_trace *)d;
    if (!t->in_line) { /* a run outside any announced line */
        bl_line_info li = {r->lang, r->block, r->kind, r->n ? r->glyphs[0].x : 0, r->n ? r->glyphs[0].y : 0, 0,
                           r->text, r->text_len, 0, 0};
        t_line(d, &li);
    }
    bl_buf_printf(&t->out, "%s{\"font\":", t->runs_in_line ? "," : "");
    json_str(&t->out, r->face->label, strlen(r->face->label));
    bl_buf_printf(&t->out, ",\"size\":%.2f,\"rtl\":%s,\"text\":", r->size, r->rtl ? "true" : "false");
    json_str(&t->out, r->text, r->text_len);
    bl_buf_puts(&t->out, ",\"glyphs\":[");
    for (size_t i = 0; i < r->n; i++)
        bl_buf_printf(&t->out, "%s[%u,%.3f,%.3f]", i ? "," : "", r->glyphs[i].gid, r->glyphs[i].x, r->glyphs[i].y);
    bl_buf_puts(&t->out, "]}");
    t->runs_in_line++;
    return 0;
}

static int t_rule(bl_device *d, double x0, double y0, double x1, double y1, double w, const double rgb[3])
{
    (void)d, (void)x0, (void)y0, (void)x1, (void)y1, (void)w, (void)rgb;
    return 0;
}
static int t_rect(bl_device *d, double x, double y, double w, double h, const double rgb[3])
{
    (void)d, (void)x, (void)y, (void)w, (void)h, (void)rgb;
    return 0;
}
static int t_image(bl_device *d, const bl_image *img, double x, double y, double w, double h)
{
    (void)d, (void)img, (void)x, (void)y, (void)w, (void)h;
    return 0;
}
static int t_link(bl_device *d, double x, double y, double w, double h, const char *uri)
{
    (void)d, (void)x, (void)y, (void)w, (void)h, (void)uri;
    return 0;
}
static int t_end_page(bl_device *d)
{
    bl_trace *t = (bl_trace *)d;
    close_line(t);
    bl_buf_puts(&t->out, "]}");
    return 0;
}
static const char *t_error(bl_device *d)
{
    (void)d;
    return "out of memory";
}

bl_trace *bl_trace_new(void)
{
    bl_trace *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    /* No group_begin/group_end: the trace lists every glyph where it is
     * drawn, inside a group or not. */
    t->dev = (bl_device){.line = t_line, .begin_page = t_begin_page, .glyph_run = t_glyph_run, .rule = t_rule,
                         .rect = t_rect, .image = t_image, .link = t_link, .end_page = t_end_page,
                         .error = t_error};
    bl_buf_puts(&t->out, "{\"pages\":[");
    return t;
}

bl_device *bl_trace_device(bl_trace *t) { return &t->dev; }

int bl_trace_save(bl_trace *t, const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return -1;
    int ok = fwrite(t->out.data, 1, t->out.len, f) == t->out.len && fputs("\n]}\n", f) >= 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path)) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

void bl_trace_free(bl_trace *t)
{
    if (!t)
        return;
    bl_buf_free(&t->out);
    free(t);
}

/* ---- tee --------------------------------------------------------------------- */
static int e_line(bl_device *d, const bl_line_info *li)
{
    bl_tee *t = (bl_tee *)d;
    int r = t->a->line ? t->a->line(t->a, li) : 0;
    return r ? r : t->b->line ? t->b->line(t->b, li) : 0;
}
static int e_begin(bl_device *d, double w, double h)
{
    bl_tee *t = (bl_tee *)d;
    int r = t->a->begin_page(t->a, w, h);
    return r ? r : t->b->begin_page(t->b, w, h);
}
static int e_run(bl_device *d, const bl_glyph_run *g)
{
    bl_tee *t = (bl_tee *)d;
    int r = t->a->glyph_run(t->a, g);
    return r ? r : t->b->glyph_run(t->b, g);
}
static int e_rule(bl_device *d, double a, double b, double c, double e, double w, const double rgb[3])
{
    bl_tee *t = (bl_tee *)d;
    int r = t->a->rule(t->a, a, b, c, e, w, rgb);
    return r ? r : t->b->rule(t->b, a, b, c, e, w, rgb);
}
static int e_rect(bl_device *d, double x, double y, double w, double h, const double rgb[3])
{
    bl_tee *t = (bl_tee *)d;
    int r = t->a->rect(t->a, x, y, w, h, rgb);
    return r ? r : t->b->rect(t->b, x, y, w, h, rgb);
}
static int e_image(bl_device *d, const bl_image *img, double x, double y, double w, double h)
{
    bl_tee *t = (bl_tee *)d;
    int r = t->a->image(t->a, img, x, y, w, h);
    return r ? r : t->b->image(t->b, img, x, y, w, h);
}
static int e_link(bl_device *d, double x, double y, double w, double h, const char *uri)
{
    bl_tee *t = (bl_tee *)d;
    int r = t->a->link(t->a, x, y, w, h, uri);
    return r ? r : t->b->link(t->b, x, y, w, h, uri);
}
static int e_end(bl_device *d)
{
    bl_tee *t = (bl_tee *)d;
    int r = t->a->end_page(t->a);
    return r ? r : t->b->end_page(t->b);
}
/* Groups go to whichever device has them (the trace has none: it lists
 * every glyph where it is drawn, group or not). */
static int e_group_begin(bl_device *d)
{
    bl_tee *t = (bl_tee *)d;
    int r = t->a->group_begin ? t->a->group_begin(t->a) : 0;
    return r ? r : t->b->group_begin ? t->b->group_begin(t->b) : 0;
}
static int e_group_end(bl_device *d)
{
    bl_tee *t = (bl_tee *)d;
    int r = t->a->group_end ? t->a->group_end(t->a) : 0;
    return r ? r : t->b->group_end ? t->b->group_end(t->b) : 0;
}
static const char *e_error(bl_device *d)
{
    bl_tee *t = (bl_tee *)d;
    const char *e = t->a->error(t->a);
    return e && *e ? e : t->b->error(t->b);
}

static int e_ahead(bl_device *d, const bl_glyph_run *r)
{
    bl_tee *t = (bl_tee *)d;
    return (t->a->ahead ? t->a->ahead(t->a, r) : 0) || (t->b->ahead ? t->b->ahead(t->b, r) : 0) ? -1 : 0;
}

void bl_tee_init(bl_tee *t, bl_device *a, bl_device *b)
{
    t->dev = (bl_device){.line = e_line, .begin_page = e_begin, .glyph_run = e_run, .rule = e_rule,
                         .rect = e_rect, .image = e_image, .link = e_link, .end_page = e_end,
                         .group_begin = e_group_begin, .group_end = e_group_end, .error = e_error,
                         .ahead = a->ahead || b->ahead ? e_ahead : NULL};
    t->a = a;
    t->b = b;
}
