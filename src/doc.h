/* doc.h - the document model: bulletins made of per-language sections made of
 * blocks (paragraph, heading, quote, list, rule), blocks made of paragraphs of
 * styled text.  Every piece keeps its source offset for diagnostics.
 * Produced by source.c, read by the layout engine.  Internal header. */
#ifndef BL_DOC_H
#define BL_DOC_H
#include <stddef.h>
#include "base.h"

#define BL_MAX_LANGS 8

enum { BL_BLOCK_PARA, BL_BLOCK_HEADING, BL_BLOCK_QUOTE, BL_BLOCK_LIST, BL_BLOCK_RULE };
/* Inline styles, combined as bits. */
enum { BL_STYLE_ITALIC = 1, BL_STYLE_BOLD = 2, BL_STYLE_LINK = 4, BL_STYLE_CODE = 8 };

/* A style run: text bytes [start, end) of the paragraph carry style (and href
 * when BL_STYLE_LINK; owned). */
typedef struct bl_span {
    size_t start, end;
    unsigned style;
    char *href;
} bl_span;

/* One paragraph of text: plain UTF-8 (soft breaks become spaces, hard breaks
 * U+2028 LINE SEPARATOR), style runs covering all of it in order. */
typedef struct bl_para {
    char *text;
    size_t len;
    bl_span *spans;
    size_t nspans;
    size_t src_off;      /* source offset of the paragraph's first character */
    int depth;           /* nesting (quote/list levels) below the block */
    char marker[16];     /* list item marker ("•", "3.") or "" */
} bl_para;

typedef struct bl_block {
    int kind;            /* BL_BLOCK_* */
    int level;           /* heading level 1-6 */
    bl_para *paras;      /* a paragraph/heading has one; quotes and lists several */
    size_t nparas;
    size_t src_off;
} bl_block;

typedef struct bl_section {
    char lang[16];       /* BCP 47 tag as written in front matter */
    int rtl;             /* the language's script is right-to-left */
    bl_block *blocks;
    size_t nblocks;
    size_t src_off;      /* the fence line, or the body start */
} bl_section;

/* A front-matter value that may be one string or a map per language. */
typedef struct bl_text {
    char *all;                 /* single string for every language, or NULL */
    char *per[BL_MAX_LANGS];   /* by language index (NULL if not given) */
    size_t src_off;
} bl_text;

typedef struct bl_bulletin {
    bl_file *file;             /* owned */
    char langs[BL_MAX_LANGS][16];
    int nlangs;
    char *layout;              /* NULL if not set */
    size_t layout_off;
    int year, month, day;      /* date (required) */
    bl_text reference, classification, issuer, title;
    bl_section sections[BL_MAX_LANGS]; /* same order as langs */
} bl_bulletin;

/* The text of a field for language index i: the per-language value, else the
 * single value, else NULL.  Borrowed. */
const char *bl_text_get(const bl_text *t, int i);
/* Frees everything (NULL allowed). */
void bl_bulletin_free(bl_bulletin *b);
/* 1 for right-to-left languages (he, ar, fa, ur, yi, ...), by primary subtag
 * or an explicit -Hebr/-Arab script subtag. */
int bl_lang_is_rtl(const char *tag);
/* 1 if the tag is a well-formed BCP 47 language tag of a language we know. */
int bl_lang_is_known(const char *tag);

typedef struct bl_source_opts {
    int allow_unpaired;        /* pair what can be paired, warn instead of error */
    const char *only_lang;     /* keep only this language (NULL = all) */
} bl_source_opts;

/* Parses one source file (which it takes ownership of, even on failure).
 * Problems are reported to d; returns NULL if any error was reported. */
bl_bulletin *bl_source_parse(bl_file *file, const bl_source_opts *o, bl_diag *d);
#endif
