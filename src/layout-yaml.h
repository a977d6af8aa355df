/* layout-yaml.h - what the layout loader (layout-config.c) shares with its
 * YAML helpers (layout-yaml.c): where values come from, error reporting at
 * a file's line and column, iterating mappings with "did you mean", and
 * reading lengths, numbers, choices, colours, templates and file paths.
 * Internal header. */
#ifndef BL_LAYOUT_YAML_H
#define BL_LAYOUT_YAML_H
#include <sys/stat.h>
#include <yaml.h>

#include "layout-config.h"

#define MM (72.0 / 25.4)
#define MAX_EXTENDS 8                 /* nested `extends` levels */
#define MAX_LENGTH_PT 14400.0         /* 200in, the largest page Acrobat opens */
#define MAX_NESTING 32                /* the schema needs 5 */

/* Where a value was set.  f == NULL: a built-in default. */
typedef struct srcpos {
    const bl_file *f;
    int line, col;
    int depth; /* 0 = the file the user named, 1 = its parent, ... */
} srcpos;

typedef struct loader {
    bl_diag *d;
    int errors;                          /* errors this load reported */
    int broken;                          /* a file of the chain could not be read or parsed */
    bl_file *files[MAX_EXTENDS + 1];     /* every file read; positions point into them */
    struct stat st[MAX_EXTENDS + 1];     /* each file as it was just before it was read */
    int stat_ok[MAX_EXTENDS + 1];
    int nfiles;
    char *chain[MAX_EXTENDS + 1];        /* real paths of the files being loaded */
    const char *chain_name[MAX_EXTENDS + 1];
    /* Font and image files already looked up in this load: a candidate path
     * and its real path, or NULL where nothing was there (the default
     * layouts name the same ten fonts 35 times, each lookup 8 system calls). */
    struct ly_found {
        char *cand, *real;
    } found[48];
    int nfound;
} loader;

/* One file being applied. */
typedef struct pctx {
    loader *ld;
    const bl_file *f;
    yaml_document_t *doc;
    int depth;
    char *dir; /* folder of f, for relative paths */
    struct lstate *s;
} pctx;

/* ly_map_begin and ly_map_next iterate a mapping's pairs whose keys are in
 * keys[]: ly_map_next returns the key's index and sets *k and *v, or -1 at
 * the end (or once diagnostics are full).  Unknown, duplicate and
 * non-scalar keys are reported and skipped. */
typedef struct mapit {
    yaml_node_pair_t *it, *end;
    const char *const *keys;
    const char *section; /* "" at the top level */
    yaml_node_t *seen[24];
} mapit;

static inline int ly_lower(int c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }
int ly_ascii_caseeq(const char *a, const char *b);
/* dir + "/" + rel (rel if absolute or dir is "."); caller owns. */
char *ly_path_join(const char *dir, const char *rel);
/* The folder of path ("." when it has none); caller owns. */
char *ly_dir_of(const char *path);

/* An error at a place (f == NULL: no place, "bulletin: error: ..."). */
void ly_err_at(loader *ld, srcpos pos, const char *fmt, ...) BL_PRINTF(3, 4);
/* An error at node n of the file p is applying. */
void ly_perr(pctx *p, const yaml_node_t *n, const char *fmt, ...) BL_PRINTF(3, 4);
srcpos ly_npos(const pctx *p, const yaml_node_t *n);
/* Diagnostics are full: stop. */
int ly_stop(const pctx *p);
/* libyaml's own problem text and mark, plus its context as a note. */
void ly_yaml_problem(loader *ld, const bl_file *f, const yaml_parser_t *yp);
/* A first pass over the file's events that stops at MAX_NESTING (libyaml's
 * scanner is quadratic in the nesting depth) and reports syntax errors.
 * Returns 0, or -1 after an error. */
int ly_check_nesting(loader *ld, const bl_file *f, int depth);

/* "a mapping", "a list", "a value" or "nothing", for messages (static). */
const char *ly_kind(const yaml_node_t *n);
int ly_is_null(const yaml_node_t *n);
/* The text of a scalar (borrowed from p->doc), or NULL after an error
 * naming what was expected. */
const char *ly_scalar(pctx *p, const yaml_node_t *n, const char *path, const char *what);
/* Node id of p->doc (borrowed), or NULL. */
yaml_node_t *ly_node(pctx *p, int id);
int ly_map_begin(pctx *p, mapit *m, yaml_node_t *n, const char *const *keys, const char *section);
int ly_map_next(pctx *p, mapit *m, yaml_node_t **k, yaml_node_t **v);

/* The value readers: 0, or -1 after an error at n naming path.  Lengths
 * take units (pt, mm, cm, in) and must be POSITIVE or NONNEG (rule); pos,
 * when not NULL, gets where the value was set. */
enum { POSITIVE, NONNEG };
int ly_get_length(pctx *p, yaml_node_t *n, const char *path, int rule, double *dst, srcpos *pos);
int ly_get_int(pctx *p, yaml_node_t *n, const char *path, int lo, int hi, int *dst);
int ly_get_bool(pctx *p, yaml_node_t *n, const char *path, int *dst);
int ly_get_choice(pctx *p, yaml_node_t *n, const char *path, const char *const *names, int *dst);
/* "#rrggbb" into rgb (0..1); an error leaves rgb as it was. */
void ly_get_color(pctx *p, yaml_node_t *n, const char *path, double rgb[3]);
/* A template string with known {field} names, copied (caller owns); NULL
 * after an error. */
char *ly_get_template(pctx *p, yaml_node_t *n, const char *path);
/* A font or image file: absolute, or relative to the layout's folder, then
 * to the data folder; an absolute path (caller owns), or NULL after an
 * error naming it. */
char *ly_get_file(pctx *p, yaml_node_t *n, const char *path, const char *what);
/* Frees what ly_get_file remembered in ld. */
void ly_found_free(loader *ld);
#endif
