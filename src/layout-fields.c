/* layout-fields.c - what fills a layout's templates: dates written the way
 * each language writes them, and {field} expansion. */
#include "layout-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const bl_template_fields[] = {
    "issuer", "title", "date", "reference", "classification", "page", "pages", "lang", NULL,
};

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

static int known(const char *name)
{
    for (int i = 0; bl_template_fields[i]; i++)
        if (strcmp(name, bl_template_fields[i]) == 0)
            return 1;
    return 0;
}

/* Month names as the corpus writes them.  Arabic: the names used in Egypt and
 * in Israeli Arabic (نوفمبر), not the Levantine تشرين الثاني. */
static const char *const months[][12] = {
    {"January", "February", "March", "April", "May", "June", "July", "August", "September",
     "October", "November", "December"},
    {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
     "octobre", "novembre", "décembre"},
    {"ינואר", "פברואר", "מרץ", "אפריל", "מאי", "יוני", "יולי", "אוגוסט", "ספטמבר", "אוקטובר",
     "נובמבר", "דצמבר"},
    {"يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو", "يوليو", "أغسطس", "سبتمبر", "أكتوبر",
     "نوفمبر", "ديسمبر"},
    {"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
     "oktober", "november", "december"},
};

int bl_format_date(const char *lang, int year, int month, int day, char *out, size_t outlen)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (outlen)
        out[0] = 0;
    if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1)
        return -1;
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > mdays[month - 1] + (month == 2 && leap))
        return -1;
    char primary[9];
    size_t n = 0;
    while (lang && lang[n] && lang[n] != '-' && lang[n] != '_' && n < sizeof primary - 1) {
        primary[n] = (char)lower((unsigned char)lang[n]);
        n++;
    }
    primary[n] = 0;
    int r;
    if (!strcmp(primary, "en"))
        r = snprintf(out, outlen, "%d %s %d", day, months[0][month - 1], year);
    else if (!strcmp(primary, "fr"))
        r = day == 1 ? snprintf(out, outlen, "1er %s %d", months[1][month - 1], year)
                     : snprintf(out, outlen, "%d %s %d", day, months[1][month - 1], year);
    else if (!strcmp(primary, "he") || !strcmp(primary, "iw")) /* "in November": ב + month */
        r = snprintf(out, outlen, "%d ב%s %d", day, months[2][month - 1], year);
    else if (!strcmp(primary, "ar"))
        r = snprintf(out, outlen, "%d %s %d", day, months[3][month - 1], year);
    else if (!strcmp(primary, "nl"))
        r = snprintf(out, outlen, "%d %s %d", day, months[4][month - 1], year);
    else
        r = snprintf(out, outlen, "%04d-%02d-%02d", year, month, day);
    if (r < 0 || (size_t)r >= outlen) { /* no room: nothing half-written */
        if (outlen)
            out[0] = 0;
        return -1;
    }
    return 0;
}

static void set_bad(char *bad, const char *name, size_t n)
{
    if (bad)
        snprintf(bad, 32, "%.*s", (int)(n < 31 ? n : 31), name);
}

int bl_expand_template(const char *tmpl, const char *(*get)(void *ctx, const char *field),
                       void *ctx, bl_buf *out, char *bad_field)
{
    size_t start = out->len;
    const char *s = tmpl;
    set_bad(bad_field, "", 0);
    while (*s) {
        const char *brace = strchr(s, '{');
        size_t lit = brace ? (size_t)(brace - s) : strlen(s);
        if (lit && bl_buf_append(out, s, lit))
            goto fail;
        if (!brace)
            break;
        if (brace[1] == '{') {
            if (bl_buf_append(out, "{", 1))
                goto fail;
            s = brace + 2;
            continue;
        }
        const char *close = strchr(brace + 1, '}');
        size_t n = close ? (size_t)(close - brace - 1) : strlen(brace + 1);
        char name[32];
        if (!close || n >= sizeof name) { /* unclosed, or longer than any field */
            set_bad(bad_field, brace + 1, n);
            goto fail;
        }
        memcpy(name, brace + 1, n);
        name[n] = 0;
        const char *v = get ? get(ctx, name) : NULL;
        if (v) {
            if (bl_buf_puts(out, v))
                goto fail;
        } else if (!known(name)) {
            set_bad(bad_field, name, n);
            goto fail;
        }
        s = close + 1;
    }
    if (bl_buf_append(out, "", 0) == 0) /* data is a string even when empty */
        return 0;
fail:
    if (out->data) {
        out->len = start;
        out->data[start] = 0;
    }
    return -1;
}
