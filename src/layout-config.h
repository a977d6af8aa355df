/* layout-config.h - layout files (layouts/NAME.yaml): page geometry,
 * typography, fonts per language, letterhead, header and footer templates.
 * Parsed with libyaml; a layout may `extends:` another and override keys.
 * Internal header. */
#ifndef BL_LAYOUT_CONFIG_H
#define BL_LAYOUT_CONFIG_H
#include <stddef.h>
#include "base.h"

enum { BL_ARR_PARALLEL, BL_ARR_STACKED, BL_ARR_SINGLE };
enum { BL_ALIGN_JUSTIFY, BL_ALIGN_START, BL_ALIGN_CENTER, BL_ALIGN_END };
/* Font roles: what a font stack is used for. */
enum { BL_ROLE_REGULAR, BL_ROLE_BOLD, BL_ROLE_ITALIC, BL_ROLE_SANS, BL_ROLE_SANS_BOLD, BL_ROLE_COUNT };

#define BL_MAX_STACK 6
#define BL_MAX_LANG_CFG 16

/* Fonts and strings for one language tag ("*" = every language not listed). */
typedef struct bl_lang_cfg {
    char lang[16];
    char *fonts[BL_ROLE_COUNT][BL_MAX_STACK]; /* absolute paths, NULL-terminated stacks */
    char *page_label;    /* template for the page number, e.g. "Page {page} of {pages}" */
    char *header;        /* header line template, e.g. "{issuer}" (may be NULL) */
    char *footer;        /* footer line template, e.g. "{reference} · {date}" (may be NULL) */
    char *letterhead[3]; /* letterhead lines under the emblem, templates; NULL-terminated */
    char *number_label;  /* word for "No." e.g. "No.", "מס'" */
    double scale;        /* this language's type sizes and leadings are multiplied by it
                            (Arabic Naskh looks smaller than Latin at the same size) */
} bl_lang_cfg;

typedef struct bl_layout {
    char *name;               /* layout name or file path as given */
    char *path;               /* file it was read from */
    int arrangement;          /* BL_ARR_* */
    double page_w, page_h;    /* points */
    double margin_top, margin_bottom, margin_inner, margin_outer; /* points */
    double header_h, footer_h;   /* bands inside the margins (points) */
    int columns;              /* per language section in stacked/single (1 or 2) */
    double column_gap;        /* points */
    int swap;                 /* parallel: swap the two languages' sides */
    /* Typography, points. */
    double body_size, body_leading;
    double title_size, title_leading;
    double heading_size[3], heading_leading[3];   /* levels 1, 2, 3+ */
    double small_size, small_leading;             /* header, footer, letterhead lines */
    double block_space;       /* vertical space between blocks */
    double heading_space_before, heading_space_after;
    double quote_indent, list_indent;
    int align;                /* BL_ALIGN_* for body paragraphs */
    int hyphenate;            /* 1: hyphenate where a dictionary exists */
    int hyphen_lmin, hyphen_rmin;
    int widows, orphans;      /* minimum lines at top / bottom of a page */
    char features[96];        /* OpenType features for body text, HarfBuzz syntax, comma-separated
                                 ("onum, smcp"); kerning and standard ligatures are on anyway */
    double text_rgb[3], accent_rgb[3], rule_rgb[3], banner_rgb[3];
    double rule_width;
    char *letterhead_image;   /* absolute path or NULL */
    double letterhead_image_h;/* points */
    bl_lang_cfg langs[BL_MAX_LANG_CFG];
    int nlangs;
    /* The files it was read from (itself and what it extends), as they were
     * then: bl_layout_unchanged tells whether a cached copy is still good.
     * Font and image paths are resolved when the layout loads and are not
     * watched: a font file added next to a cached layout later is not seen. */
    struct bl_layout_src {
        char *path;
        long long size, mtime_ns, ino;
    } *srcs;
    int nsrcs;
    int srcs_incomplete;      /* a file could not be recorded: never "unchanged" */
    int refs;                 /* bl_layout_keep / bl_layout_free (atomic) */
} bl_layout;

/* Loads a layout by name (looked up as DATADIR/layouts/NAME.yaml) or by path
 * (anything containing '/' or ending in .yaml).  Relative font and image paths
 * in a layout file resolve against that file's folder, then DATADIR.  Problems
 * are diagnostics "file:line:col: error: ..." in d (unknown keys, wrong types,
 * non-positive sizes, margins wider than the page, missing font or image files,
 * unknown `extends`, extends cycles).  Returns an owned layout (bl_layout_free)
 * or NULL after reporting at least one error. */
bl_layout *bl_layout_load(const char *name_or_path, bl_diag *d);
/* Layouts are reference-counted so that threads may share one read-only:
 * bl_layout_keep adds a reference, bl_layout_free drops one. */
bl_layout *bl_layout_keep(bl_layout *l);
void bl_layout_free(bl_layout *l);
/* 1 when every file the layout was read from still has the size, time and
 * inode it had then. */
int bl_layout_unchanged(const bl_layout *l);

/* The config for a language: exact tag, then primary subtag, then "*".
 * Borrowed; never NULL for a layout returned by bl_layout_load. */
const bl_lang_cfg *bl_layout_lang(const bl_layout *l, const char *lang);

/* Writes a date the way language lang writes it ("24 November 2021",
 * "24 בנובמבר 2021", "24 novembre 2021", "24 نوفمبر 2021", Dutch
 * "24 november 2021"; unknown languages fall back to ISO "2021-11-24").
 * Returns 0 or -1 (invalid date). */
int bl_format_date(const char *lang, int year, int month, int day, char *out, size_t outlen);

/* The fields a template may name (NULL-terminated): issuer, title, date,
 * reference, classification, page, pages, lang. */
extern const char *const bl_template_fields[];

/* Expands {field} in tmpl with get(ctx, field) (NULL = leave empty).  "{{" is
 * a literal brace.  Appends to out.  Returns 0, or -1 for an unknown field
 * (name written to bad_field, 32 bytes) or out of memory. */
int bl_expand_template(const char *tmpl, const char *(*get)(void *ctx, const char *field),
                       void *ctx, bl_buf *out, char *bad_field);
#endif
