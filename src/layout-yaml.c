/* layout-yaml.c - the layout loader's YAML helpers (see layout-yaml.h):
 * error reporting at a file's line and column, "did you mean", mapping
 * iteration and the value readers. */
#include "layout-yaml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define known_fields bl_template_fields

/* ---- small helpers ---- */

int ly_ascii_caseeq(const char *a, const char *b)
{
    for (; *a && ly_lower((unsigned char)*a) == ly_lower((unsigned char)*b); a++)
        b++;
    return *a == 0 && *b == 0;
}

static int in_list(const char *s, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return i;
    return -1;
}

static void join_list(bl_buf *b, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        bl_buf_printf(b, "%s%s", i ? ", " : "", list[i]);
}

/* dir + "/" + rel (rel if absolute or dir is "."); caller owns. */
char *ly_path_join(const char *dir, const char *rel)
{
    while (rel[0] == '.' && rel[1] == '/')
        rel += 2;
    if (rel[0] == '/' || !dir || strcmp(dir, ".") == 0)
        return bl_strdup(rel);
    bl_buf b = {0};
    if (bl_buf_printf(&b, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", rel)) {
        bl_buf_free(&b);
        return NULL;
    }
    return b.data;
}

char *ly_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return bl_strdup(".");
    return bl_strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

/* Optimal string alignment distance, for "did you mean". */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 31 || lb > 31)
        return 99;
    int d[32][32];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}

/* A known key that k is a trivial misspelling of (case, '_' for '-', one or
 * two edits), or NULL. */
static const char *suggest(const char *k, const char *const *keys)
{
    char norm[32];
    size_t n = strlen(k);
    if (n >= sizeof norm)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        norm[i] = (char)(k[i] == '_' || k[i] == ' ' ? '-' : ly_lower((unsigned char)k[i]));
    const char *best = NULL;
    int bestd = n <= 4 ? 2 : 3, ties = 0;
    for (int i = 0; keys[i]; i++) {
        if (strcmp(norm, keys[i]) == 0)
            return keys[i];
        int dist = edit_distance(norm, keys[i]);
        if (dist < bestd) {
            best = keys[i];
            bestd = dist;
            ties = 0;
        } else if (dist == bestd) {
            ties++;
        }
    }
    return ties ? NULL : best;
}

/* ---- diagnostics ---- */

static void vreport(loader *ld, const bl_file *f, int line, int col, const char *fmt, va_list ap)
{
    ld->errors++;
    if (bl_diag_full(ld->d))
        return;
    char small[512], *msg = small;
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n >= (int)sizeof small && (msg = malloc((size_t)n + 1)) != NULL)
        vsnprintf(msg, (size_t)n + 1, fmt, aq);
    va_end(aq);
    if (!msg)
        msg = small; /* out of memory: the truncated text still helps */
    if (f)
        bl_diag_lc(ld->d, BL_ERROR, f, line, col, "%s", msg);
    else
        bl_diag_at(ld->d, BL_ERROR, NULL, 0, "%s", msg);
    if (msg != small)
        free(msg);
}

/* An error at a place (f == NULL: no place, "bulletin: error: ..."). */
void ly_err_at(loader *ld, srcpos pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(ld, pos.f, pos.line, pos.col, fmt, ap);
    va_end(ap);
}

srcpos ly_npos(const pctx *p, const yaml_node_t *n)
{
    srcpos pos = {p->f, 1, 1, p->depth};
    if (n) {
        pos.line = (int)n->start_mark.line + 1;
        pos.col = (int)n->start_mark.column + 1;
    }
    return pos;
}

/* An error at node n of the file p is applying. */
void ly_perr(pctx *p, const yaml_node_t *n, const char *fmt, ...)
{
    srcpos pos = ly_npos(p, n);
    va_list ap;
    va_start(ap, fmt);
    vreport(p->ld, pos.f, pos.line, pos.col, fmt, ap);
    va_end(ap);
}

int ly_stop(const pctx *p) { return bl_diag_full(p->ld->d); }

/* libyaml's own problem text and mark (0-based), plus its context as a note. */
void ly_yaml_problem(loader *ld, const bl_file *f, const yaml_parser_t *yp)
{
    if (yp->error == YAML_MEMORY_ERROR) {
        ly_err_at(ld, (srcpos){0}, "%s: out of memory while parsing", f->name);
        return;
    }
    const char *problem = yp->problem ? yp->problem : "invalid YAML";
    if (yp->error == YAML_READER_ERROR) {
        int line, col;
        bl_file_linecol(f, yp->problem_offset, &line, &col);
        ly_err_at(ld, (srcpos){f, line, col, 0}, "%s", problem);
        return;
    }
    ly_err_at(ld, (srcpos){f, (int)yp->problem_mark.line + 1, (int)yp->problem_mark.column + 1, 0},
           "%s", problem);
    if (yp->context && !bl_diag_full(ld->d))
        bl_diag_lc(ld->d, BL_NOTE, f, (int)yp->context_mark.line + 1,
                   (int)yp->context_mark.column + 1, "%s", yp->context);
}

/* libyaml's scanner does work proportional to the nesting depth for every
 * token, so "[[[[..." is quadratic.  A first pass over the events stops at
 * MAX_NESTING, long before that matters; it also reports syntax errors.
 * Returns 0, or -1 after an error. */
int ly_check_nesting(loader *ld, const bl_file *f, int depth)
{
    yaml_parser_t yp;
    yaml_event_t ev;
    int level = 0, rc = 0;
    if (!yaml_parser_initialize(&yp)) {
        ly_err_at(ld, (srcpos){0}, "out of memory");
        return -1;
    }
    yaml_parser_set_input_string(&yp, (const unsigned char *)f->text, f->len);
    yaml_parser_set_encoding(&yp, YAML_UTF8_ENCODING);
    for (;;) {
        if (!yaml_parser_parse(&yp, &ev)) {
            ly_yaml_problem(ld, f, &yp);
            rc = -1;
            break;
        }
        yaml_event_type_t t = ev.type;
        if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT) {
            if (++level > MAX_NESTING) {
                ly_err_at(ld, (srcpos){f, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1, depth},
                       "lists and mappings nest more than %d deep", MAX_NESTING);
                rc = -1;
            }
        } else if (t == YAML_MAPPING_END_EVENT || t == YAML_SEQUENCE_END_EVENT) {
            level--;
        }
        yaml_event_delete(&ev);
        if (rc || t == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&yp);
    return rc;
}

/* ---- YAML nodes ---- */

const char *ly_kind(const yaml_node_t *n)
{
    if (!n)
        return "nothing";
    return n->type == YAML_MAPPING_NODE ? "a mapping" : n->type == YAML_SEQUENCE_NODE ? "a list"
                                                                                      : "a value";
}

int ly_is_null(const yaml_node_t *n)
{
    if (!n)
        return 1;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

/* The text of a scalar, or NULL after an error naming what was expected. */
const char *ly_scalar(pctx *p, const yaml_node_t *n, const char *path, const char *what)
{
    if (!n || n->type != YAML_SCALAR_NODE) {
        ly_perr(p, n, "%s: expected %s, not %s", path, what, ly_kind(n));
        return NULL;
    }
    if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length) {
        ly_perr(p, n, "%s: contains a NUL character", path);
        return NULL;
    }
    return (const char *)n->data.scalar.value;
}

yaml_node_t *ly_node(pctx *p, int id) { return yaml_document_get_node(p->doc, id); }


int ly_map_begin(pctx *p, mapit *m, yaml_node_t *n, const char *const *keys, const char *section)
{
    memset(m, 0, sizeof *m);
    m->keys = keys;
    m->section = section;
    if (ly_is_null(n)) /* `text:` with everything under it commented out */
        return 0;
    if (n->type != YAML_MAPPING_NODE) {
        if (*section)
            ly_perr(p, n, "%s: expected a mapping (key: value), not %s", section, ly_kind(n));
        else
            ly_perr(p, n, "a layout file is a mapping of keys (key: value), not %s", ly_kind(n));
        return -1;
    }
    m->it = n->data.mapping.pairs.start;
    m->end = n->data.mapping.pairs.top;
    return 0;
}

int ly_map_next(pctx *p, mapit *m, yaml_node_t **k, yaml_node_t **v)
{
    while (m->it && m->it < m->end && !ly_stop(p)) {
        yaml_node_pair_t *pair = m->it++;
        *k = ly_node(p, pair->key);
        *v = ly_node(p, pair->value);
        if (!*k || (*k)->type != YAML_SCALAR_NODE) {
            ly_perr(p, *k, "expected a key name, not %s", ly_kind(*k));
            continue;
        }
        const char *name = (const char *)(*k)->data.scalar.value;
        int i = in_list(name, m->keys);
        if (i < 0) {
            const char *s = suggest(name, m->keys);
            bl_buf b = {0};
            if (s)
                bl_buf_printf(&b, "; did you mean '%s'?", s);
            else if (*m->section) {
                bl_buf_puts(&b, " (known: ");
                join_list(&b, m->keys);
                bl_buf_puts(&b, ")");
            }
            ly_perr(p, *k, "unknown key '%.60s'%s%s%s", name, *m->section ? " in " : "",
                 m->section, b.data ? b.data : "");
            bl_buf_free(&b);
            continue;
        }
        if (m->seen[i]) {
            ly_perr(p, *k, "duplicate key '%s' (first given on line %d)", name,
                 (int)m->seen[i]->start_mark.line + 1);
            continue;
        }
        m->seen[i] = *k;
        return i;
    }
    return -1;
}

/* ---- values ---- */

/* "10.5pt", "20mm", "2cm", "1in", "12" (points).  No exponents, no locale. */
static int parse_length(const char *s, double *out)
{
    int neg = 0, digits = 0;
    double v = 0, scale = 1;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    for (; *s >= '0' && *s <= '9'; s++, digits++)
        v = v * 10 + (*s - '0');
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++, digits++)
            v += (*s - '0') * (scale /= 10);
    if (!digits)
        return -1;
    while (*s == ' ')
        s++;
    double unit;
    if (!*s || ly_ascii_caseeq(s, "pt"))
        unit = 1;
    else if (ly_ascii_caseeq(s, "mm"))
        unit = MM;
    else if (ly_ascii_caseeq(s, "cm"))
        unit = 10 * MM;
    else if (ly_ascii_caseeq(s, "in"))
        unit = 72;
    else
        return -1;
    *out = (neg ? -v : v) * unit;
    return 0;
}

int ly_get_length(pctx *p, yaml_node_t *n, const char *path, int rule, double *dst, srcpos *pos)
{
    const char *s = ly_scalar(p, n, path, "a length");
    double v;
    if (!s)
        return -1;
    if (parse_length(s, &v)) {
        ly_perr(p, n, "%s: expected a length such as 10.5pt, 20mm, 2cm or 1in, not '%.40s'", path, s);
        return -1;
    }
    if (v > MAX_LENGTH_PT || v < -MAX_LENGTH_PT) {
        ly_perr(p, n, "%s: %.40s is too large (at most 200in)", path, s);
        return -1;
    }
    if (rule == POSITIVE && v <= 0) {
        ly_perr(p, n, "%s must be greater than zero (got %.40s)", path, s);
        return -1;
    }
    if (rule == NONNEG && v < 0) {
        ly_perr(p, n, "%s must not be negative (got %.40s)", path, s);
        return -1;
    }
    *dst = v;
    if (pos)
        *pos = ly_npos(p, n);
    return 0;
}

int ly_get_int(pctx *p, yaml_node_t *n, const char *path, int lo, int hi, int *dst)
{
    const char *s = ly_scalar(p, n, path, "a whole number");
    if (!s)
        return -1;
    const char *q = s;
    long v = 0;
    int neg = *q == '-';
    if (*q == '-' || *q == '+')
        q++;
    if (!*q)
        q = "x";
    for (; *q >= '0' && *q <= '9' && v <= 100000; q++)
        v = v * 10 + (*q - '0');
    if (neg)
        v = -v;
    if (*q || v < lo || v > hi) {
        if (hi == lo + 1)
            ly_perr(p, n, "%s must be %d or %d (got %.40s)", path, lo, hi, s);
        else
            ly_perr(p, n, "%s must be a whole number from %d to %d (got %.40s)", path, lo, hi, s);
        return -1;
    }
    *dst = (int)v;
    return 0;
}

int ly_get_bool(pctx *p, yaml_node_t *n, const char *path, int *dst)
{
    const char *s = ly_scalar(p, n, path, "true or false");
    if (!s)
        return -1;
    if (ly_ascii_caseeq(s, "true") || ly_ascii_caseeq(s, "yes"))
        *dst = 1;
    else if (ly_ascii_caseeq(s, "false") || ly_ascii_caseeq(s, "no"))
        *dst = 0;
    else {
        ly_perr(p, n, "%s must be true or false (got %.40s)", path, s);
        return -1;
    }
    return 0;
}

int ly_get_choice(pctx *p, yaml_node_t *n, const char *path, const char *const *names, int *dst)
{
    const char *s = ly_scalar(p, n, path, "a name");
    if (!s)
        return -1;
    int i = in_list(s, names);
    if (i < 0) {
        bl_buf b = {0};
        join_list(&b, names);
        ly_perr(p, n, "%s: unknown value '%.40s' (known: %s)", path, s, b.data ? b.data : "");
        bl_buf_free(&b);
        return -1;
    }
    *dst = i;
    return 0;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

void ly_get_color(pctx *p, yaml_node_t *n, const char *path, double rgb[3])
{
    if (ly_is_null(n)) {
        /* `text: #1a1a1a` unquoted: YAML reads a comment and an empty value. */
        ly_perr(p, n, "%s: expected a colour such as \"#1a1a1a\" (quote it: # starts a YAML comment)", path);
        return;
    }
    const char *s = ly_scalar(p, n, path, "a colour");
    if (!s)
        return;
    int ok = s[0] == '#' && strlen(s) == 7;
    for (int i = 1; ok && i < 7; i++)
        ok = hexval((unsigned char)s[i]) >= 0;
    if (!ok) {
        ly_perr(p, n, "%s: expected a colour such as \"#1a1a1a\", not '%.40s'", path, s);
        return;
    }
    for (int i = 0; i < 3; i++)
        rgb[i] = (hexval((unsigned char)s[1 + 2 * i]) * 16 + hexval((unsigned char)s[2 + 2 * i])) / 255.0;
}

/* Checks {field} names against known_fields.  Returns 0, or -1 with the
 * offending name (or "" for an unclosed brace) in bad. */
static int template_check(const char *t, char *bad, size_t badlen)
{
    for (const char *s = t; (s = strchr(s, '{')) != NULL;) {
        if (s[1] == '{') {
            s += 2;
            continue;
        }
        const char *close = strchr(s + 1, '}');
        if (!close) {
            snprintf(bad, badlen, "%s", "");
            return -1;
        }
        size_t n = (size_t)(close - s - 1);
        int known = 0;
        for (int i = 0; known_fields[i]; i++)
            known |= strlen(known_fields[i]) == n && !memcmp(known_fields[i], s + 1, n);
        if (!known) {
            snprintf(bad, badlen, "%.*s", (int)(n < 40 ? n : 40), s + 1);
            return -1;
        }
        s = close + 1;
    }
    return 0;
}

/* A template string, copied (caller owns); NULL after an error. */
char *ly_get_template(pctx *p, yaml_node_t *n, const char *path)
{
    const char *s = ly_scalar(p, n, path, "a text");
    if (!s)
        return NULL;
    char bad[48];
    if (template_check(s, bad, sizeof bad)) {
        bl_buf b = {0};
        join_list(&b, known_fields);
        if (*bad)
            ly_perr(p, n, "%s: unknown field '{%s}' (known: %s)", path, bad, b.data ? b.data : "");
        else
            ly_perr(p, n, "%s: '{' without a closing '}' (write '{{' for a literal brace)", path);
        bl_buf_free(&b);
        return NULL;
    }
    char *c = bl_strdup(s);
    if (!c)
        ly_perr(p, n, "out of memory");
    return c;
}

/* A font or image file: absolute, or relative to the layout's folder, then
 * to the data folder.  Only checks that it is a readable file (the text
 * engine and image loader validate the contents).  Returns an absolute path
 * (caller owns) or NULL after an error at n naming the path. */
char *ly_get_file(pctx *p, yaml_node_t *n, const char *path, const char *what)
{
    const char *rel = ly_is_null(n) ? NULL : ly_scalar(p, n, path, "a file path");
    if (!rel || !*rel) {
        if (rel || ly_is_null(n))
            ly_perr(p, n, "%s: expected a file path", path);
        return NULL;
    }
    const char *dd = bl_data_dir();
    const char *dirs[2] = {p->dir, rel[0] == '/' ? NULL : dd};
    for (int i = 0; i < 2; i++) {
        if (!dirs[i] || (i == 1 && strcmp(dirs[0], dirs[1]) == 0))
            continue;
        char *cand = ly_path_join(dirs[i], rel);
        struct stat st;
        if (!cand) {
            ly_perr(p, n, "out of memory");
            return NULL;
        }
        loader *ld = p->ld;
        int k = 0;
        while (k < ld->nfound && strcmp(ld->found[k].cand, cand))
            k++;
        if (k < ld->nfound) { /* looked up before in this load */
            free(cand);
            if (!ld->found[k].real)
                continue;
            char *abs = bl_strdup(ld->found[k].real);
            if (!abs)
                ly_perr(p, n, "out of memory");
            return abs;
        }
        int keep = ld->nfound < (int)(sizeof ld->found / sizeof *ld->found);
        if (stat(cand, &st) != 0) {
            if (keep) {
                ld->found[ld->nfound].cand = cand;
                ld->found[ld->nfound++].real = NULL;
            } else
                free(cand);
            continue;
        }
        if (!S_ISREG(st.st_mode))
            ly_perr(p, n, "%s file '%s' is not a regular file", what, rel);
        else if (access(cand, R_OK) != 0)
            ly_perr(p, n, "%s file '%s' cannot be read: %s", what, rel, strerror(errno));
        else {
            char *abs = realpath(cand, NULL), *copy = abs && keep ? bl_strdup(abs) : NULL;
            if (copy) {
                ld->found[ld->nfound].cand = cand;
                ld->found[ld->nfound++].real = copy;
            } else
                free(cand);
            if (!abs)
                ly_perr(p, n, "%s file '%s': %s", what, rel, strerror(errno));
            return abs;
        }
        free(cand);
        return NULL;
    }
    if (rel[0] == '/')
        ly_perr(p, n, "%s file '%s' not found", what, rel);
    else if (dd && strcmp(dd, p->dir) != 0)
        ly_perr(p, n, "%s file '%s' not found (looked in %s and %s)", what, rel, p->dir, dd);
    else
        ly_perr(p, n, "%s file '%s' not found (looked in %s)", what, rel, p->dir);
    return NULL;
}

void ly_found_free(loader *ld)
{
    for (int k = 0; k < ld->nfound; k++) {
        free(ld->found[k].cand);
        free(ld->found[k].real);
    }
    ld->nfound = 0;
}
