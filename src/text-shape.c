/* text-shape.c - itemize, shape, find break opportunities; set lines. */
#include "text.h"
#include "text-bidi.h"
#include "icu.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <hb-ot.h>

#define PARA_MAX_BYTES (1u << 22) /* 4 MiB of text in one paragraph */

static unsigned style_at(const bl_span *spans, size_t nspans, size_t i, const char **href)
{
    /* spans are sorted and cover the text; binary search */
    size_t lo = 0, hi = nspans;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (spans[mid].end <= i)
            lo = mid + 1;
        else if (spans[mid].start > i)
            hi = mid;
        else {
            *href = spans[mid].href;
            return spans[mid].style;
        }
    }
    *href = NULL;
    return 0;
}

bl_face *bl_fontset_face(const bl_fontset *fs, int k, char *err, size_t errlen)
{
    bl_face *f = __atomic_load_n(&fs->faces[k], __ATOMIC_ACQUIRE);
    if (f)
        return f;
    if (!fs->paths[k]) {
        snprintf(err, errlen, "no font");
        return NULL;
    }
    /* The set is a cache of what its paths name: filling it in is not a change
     * its const users can see (two threads would store the same face). */
    f = bl_face_cache_get(fs->paths[k], err, errlen);
    if (f)
        __atomic_store_n((bl_face **)&fs->faces[k], f, __ATOMIC_RELEASE);
    return f;
}

/* Face k of fs, or NULL after reporting why it cannot be opened. */
static bl_face *stack_face(const bl_fontset *fs, int k, bl_diag *d)
{
    char err[300];
    bl_face *f = bl_fontset_face(fs, k, err, sizeof err);
    if (!f && d)
        bl_diag_file(d, BL_ERROR, fs->paths[k] ? fs->paths[k] : "font", "%s", err);
    return f;
}

static const bl_fontset *set_for(const bl_text_style *st, unsigned style)
{
    if ((style & BL_STYLE_BOLD) && (style & BL_STYLE_ITALIC) && st->bold_italic)
        return st->bold_italic;
    if ((style & BL_STYLE_BOLD) && st->bold)
        return st->bold;
    if ((style & BL_STYLE_ITALIC) && st->italic)
        return st->italic;
    return st->regular;
}

/* Scripts and general categories come from HarfBuzz's own Unicode data,
 * which is at hand without ICU (one library call less per character, no
 * short-name lookup per run) and agrees with ICU 72's on every code point
 * (test-shape checks):
 * scripts as HarfBuzz's tags (hb_script_t, -1 for none), categories as ICU's
 * UCharCategory.  U+0000..U+07FF (Latin, Greek, Cyrillic, Hebrew, Arabic)
 * are read once per process into tables: itemizing a packet asked 400,000
 * times. */
static const int8_t hb_to_icu_category[] = {
    [HB_UNICODE_GENERAL_CATEGORY_CONTROL] = U_CONTROL_CHAR,
    [HB_UNICODE_GENERAL_CATEGORY_FORMAT] = U_FORMAT_CHAR,
    [HB_UNICODE_GENERAL_CATEGORY_UNASSIGNED] = U_UNASSIGNED,
    [HB_UNICODE_GENERAL_CATEGORY_PRIVATE_USE] = U_PRIVATE_USE_CHAR,
    [HB_UNICODE_GENERAL_CATEGORY_SURROGATE] = U_SURROGATE,
    [HB_UNICODE_GENERAL_CATEGORY_LOWERCASE_LETTER] = U_LOWERCASE_LETTER,
    [HB_UNICODE_GENERAL_CATEGORY_MODIFIER_LETTER] = U_MODIFIER_LETTER,
    [HB_UNICODE_GENERAL_CATEGORY_OTHER_LETTER] = U_OTHER_LETTER,
    [HB_UNICODE_GENERAL_CATEGORY_TITLECASE_LETTER] = U_TITLECASE_LETTER,
    [HB_UNICODE_GENERAL_CATEGORY_UPPERCASE_LETTER] = U_UPPERCASE_LETTER,
    [HB_UNICODE_GENERAL_CATEGORY_SPACING_MARK] = U_COMBINING_SPACING_MARK,
    [HB_UNICODE_GENERAL_CATEGORY_ENCLOSING_MARK] = U_ENCLOSING_MARK,
    [HB_UNICODE_GENERAL_CATEGORY_NON_SPACING_MARK] = U_NON_SPACING_MARK,
    [HB_UNICODE_GENERAL_CATEGORY_DECIMAL_NUMBER] = U_DECIMAL_DIGIT_NUMBER,
    [HB_UNICODE_GENERAL_CATEGORY_LETTER_NUMBER] = U_LETTER_NUMBER,
    [HB_UNICODE_GENERAL_CATEGORY_OTHER_NUMBER] = U_OTHER_NUMBER,
    [HB_UNICODE_GENERAL_CATEGORY_CONNECT_PUNCTUATION] = U_CONNECTOR_PUNCTUATION,
    [HB_UNICODE_GENERAL_CATEGORY_DASH_PUNCTUATION] = U_DASH_PUNCTUATION,
    [HB_UNICODE_GENERAL_CATEGORY_CLOSE_PUNCTUATION] = U_END_PUNCTUATION,
    [HB_UNICODE_GENERAL_CATEGORY_FINAL_PUNCTUATION] = U_FINAL_PUNCTUATION,
    [HB_UNICODE_GENERAL_CATEGORY_INITIAL_PUNCTUATION] = U_INITIAL_PUNCTUATION,
    [HB_UNICODE_GENERAL_CATEGORY_OTHER_PUNCTUATION] = U_OTHER_PUNCTUATION,
    [HB_UNICODE_GENERAL_CATEGORY_OPEN_PUNCTUATION] = U_START_PUNCTUATION,
    [HB_UNICODE_GENERAL_CATEGORY_CURRENCY_SYMBOL] = U_CURRENCY_SYMBOL,
    [HB_UNICODE_GENERAL_CATEGORY_MODIFIER_SYMBOL] = U_MODIFIER_SYMBOL,
    [HB_UNICODE_GENERAL_CATEGORY_MATH_SYMBOL] = U_MATH_SYMBOL,
    [HB_UNICODE_GENERAL_CATEGORY_OTHER_SYMBOL] = U_OTHER_SYMBOL,
    [HB_UNICODE_GENERAL_CATEGORY_LINE_SEPARATOR] = U_LINE_SEPARATOR,
    [HB_UNICODE_GENERAL_CATEGORY_PARAGRAPH_SEPARATOR] = U_PARAGRAPH_SEPARATOR,
    [HB_UNICODE_GENERAL_CATEGORY_SPACE_SEPARATOR] = U_SPACE_SEPARATOR,
};
#define CP_TABLE 0x800
static int32_t cp_script[CP_TABLE]; /* hb_script_t */
static int8_t cp_type[CP_TABLE];    /* UCharCategory */
static pthread_once_t cp_once = PTHREAD_ONCE_INIT;
static int cp_ready; /* atomic: the tables are filled */

static int hb_category(uint32_t cp)
{
    unsigned c = hb_unicode_general_category(hb_unicode_funcs_get_default(), cp);
    return c < sizeof hb_to_icu_category ? hb_to_icu_category[c] : U_UNASSIGNED;
}

static void cp_tables_init(void)
{
    hb_unicode_funcs_t *u = hb_unicode_funcs_get_default();
    for (uint32_t c = 0; c < CP_TABLE; c++) {
        cp_script[c] = (int32_t)hb_unicode_script(u, c);
        cp_type[c] = (int8_t)hb_category(c);
    }
    __atomic_store_n(&cp_ready, 1, __ATOMIC_RELEASE);
}

static void cp_tables(void)
{
    if (!__atomic_load_n(&cp_ready, __ATOMIC_ACQUIRE))
        pthread_once(&cp_once, cp_tables_init);
}

int bl_text_script(uint32_t cp)
{
    if (cp < CP_TABLE) {
        cp_tables();
        return cp_script[cp];
    }
    return (int)hb_unicode_script(hb_unicode_funcs_get_default(), cp);
}

int bl_text_category(uint32_t cp)
{
    if (cp < CP_TABLE) {
        cp_tables();
        return cp_type[cp];
    }
    return hb_category(cp);
}

/* Characters that belong with the character before them for font choice
 * (marks stay with their base's font; joiners and selectors too). */
static int sticks_to_previous(uint32_t cp)
{
    if (cp < 0x300) /* no mark, joiner or selector below the combining diacritics */
        return 0;
    int t = bl_text_category(cp);
    return t == U_NON_SPACING_MARK || t == U_ENCLOSING_MARK || t == U_COMBINING_SPACING_MARK ||
           cp == 0x200D || cp == 0x200C || (cp >= 0xFE00 && cp <= 0xFE0F) ||
           (cp >= 0xE0100 && cp <= 0xE01EF);
}

static int seen_has(bl_seen *s, uint32_t cp)
{
    if (!s)
        return 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->cps[i] == cp)
            return 1;
    if (!bl_grow(&s->cps, &s->cap, s->n + 1, sizeof *s->cps))
        s->cps[s->n++] = cp;
    return 0;
}

void bl_shaped_free(bl_shaped *s)
{
    if (!s)
        return;
    free(s->levels);
    free(s->brk);
    free(s->hyph);
    free(s->space);
    free(s->adv_at);
    free(s->cstart);
    free(s->runs);
    free(s->glyphs);
    free(s);
}

/* ---- per-thread shaping state: a HarfBuzz buffer and a word cache ---- */

/* Word cache.  HarfBuzz's cost is per glyph and running text repeats its
 * words ("the", "of", a minister's name), so a run is shaped as pieces, each
 * a word with the spaces after it, and a piece is looked up here first.  That
 * gives exactly the glyphs of shaping the run whole only when nothing ties a
 * word to its neighbours across a space, so the cache is used only when:
 * the face has no GSUB or GPOS lookup that involves the space glyph and no
 * legacy kern or AAT tables (space_free, checked once per face), every
 * feature is global, and the piece lies between spaces, the paragraph's ends
 * or characters of other runs that neither join nor attach (piece_alone).
 * Anything else is shaped in context, as a whole.  Browsers
 * do the same (a per-font word cache with the same space test).
 * Entries keep positions in font units; a full cache starts over. */
#define WC_SLOTS 8192          /* power of two */
#define WC_MAX_ENTRIES 6000
#define WC_ARENA (1u << 20)    /* bytes of text and glyphs per thread */
_Static_assert(WC_MAX_ENTRIES < 65536, "slots hold 16-bit indices");
#define WC_MAX_PIECE 48        /* longer pieces are shaped directly */
/* When the cache is tried for a face: from the second document on that the
 * process sets with it, or once it has shaped this many bytes of text.  A
 * two-page bulletin, alone in its process, is set faster without it (its
 * words rarely recur: shaping them one by one cost 0.14 ms more than whole
 * runs), and a packet's faces take it from its second bulletin on. */
#define WC_FACE_WARMUP 16384

typedef struct wc_glyph {
    uint32_t gid;
    int32_t adv, dx, dy;       /* font units */
    uint16_t cluster;          /* byte offset in the piece */
    uint8_t unsafe;
} wc_glyph;

typedef struct wc_entry {
    uint64_t hash;
    unsigned face;             /* bl_face.serial */
    hb_language_t lang;        /* interned by HarfBuzz */
    int script;                /* hb_script_t, -1 for none */
    uint32_t feat;             /* hash of the features */
    uint16_t len, ng;
    uint8_t rtl;
    uint32_t off;              /* into the arena: ng glyphs, then len text bytes */
} wc_entry;

/* Hyphenation points of words, cached the same way (libhyphen's automaton
 * walk costs ~5,000 instructions a word, and a packet repeats its words). */
#define HC_SLOTS 4096          /* power of two */
#define HC_MAX_ENTRIES 3000
#define HC_ARENA (1u << 18)
_Static_assert(HC_MAX_ENTRIES < 65536, "slots hold 16-bit indices");

typedef struct hc_entry {
    uint64_t hash;
    const bl_hyphenator *h;
    int8_t lmin, rmin;
    uint8_t len;
    int8_t ret;                /* bl_hyphenate's result */
    uint32_t off;              /* into hc_arena: len word bytes, then len + 1 points */
} hc_entry;

typedef struct shape_state {
    hb_buffer_t *buf;
    /* Open addressing over WC_SLOTS slots, each 0 (empty) or 1 + an index
     * into ent: 16 KB to clear and touch instead of 384 KB of entries
     * (their first touch was 5% of one bulletin's layout, in page faults). */
    uint16_t *slot;            /* NULL: no cache on this thread (cache_block) */
    wc_entry *ent;             /* WC_MAX_ENTRIES, filled in order */
    unsigned char *arena;
    size_t used, entries;
    unsigned long hits, misses;
    uint16_t *hc_slot;         /* HC_SLOTS, as slot, or NULL */
    hc_entry *hc_ent;          /* HC_MAX_ENTRIES */
    unsigned char *hc_arena;
    size_t hc_used, hc_entries;
    unsigned hc_generation;    /* bl_hyphen_generation of the entries */
} shape_state;

static int wc_mode = 1;        /* bl_text_word_cache */
static unsigned wc_document = 1; /* atomic: 1 + bl_text_next_document calls */

void bl_text_next_document(void) { __atomic_add_fetch(&wc_document, 1, __ATOMIC_RELAXED); }

void bl_text_word_cache(int mode) { __atomic_store_n(&wc_mode, mode, __ATOMIC_RELAXED); }

static pthread_key_t state_key;
static pthread_once_t state_once = PTHREAD_ONCE_INIT;

/* A cache's memory in one block (freed with the slots): nslot 16-bit
 * slots, zeroed, then entbytes of entries and arena bytes of arena, each
 * untouched until used.  The slots, or NULL when out of memory. */
static uint16_t *cache_block(size_t nslot, size_t entbytes, size_t arena, void **ent, unsigned char **ar)
{
    size_t o_ent = (nslot * sizeof(uint16_t) + 15) & ~(size_t)15;
    size_t o_ar = o_ent + ((entbytes + 15) & ~(size_t)15);
    unsigned char *b = malloc(o_ar + arena);
    if (!b)
        return NULL;
    memset(b, 0, nslot * sizeof(uint16_t));
    *ent = b + o_ent;
    *ar = b + o_ar;
    return (uint16_t *)(void *)b;
}

static void state_destroy(shape_state *t)
{
    if (!t)
        return;
    hb_buffer_destroy(t->buf);
    free(t->slot); /* with ent and arena (cache_block) */
    free(t->hc_slot);
    free(t);
}

/* States of threads that ended, caches and all, for the next thread (a
 * library caller that renders on short-lived threads would otherwise start
 * with empty caches every time). */
#define STATE_POOL 8
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static shape_state *pool[STATE_POOL];
static int npool;

static void state_free(void *p)
{
    shape_state *t = p;
    if (!t)
        return;
    pthread_mutex_lock(&pool_lock);
    if (npool < STATE_POOL) {
        pool[npool++] = t;
        t = NULL;
    }
    pthread_mutex_unlock(&pool_lock);
    state_destroy(t);
}
static void state_key_make(void)
{
    pthread_key_create(&state_key, state_free);
    /* BULLETIN_WORD_CACHE=0 turns the cache off (for comparisons). */
    const char *e = getenv("BULLETIN_WORD_CACHE");
    if (e && (e[0] == '0' || e[0] == '1' || e[0] == '2') && !e[1])
        wc_mode = e[0] - '0';
}

/* One state per thread, made on first use, freed when the thread ends or by
 * bl_text_shutdown for the main thread.  Creating a buffer per run was a
 * measurable share of the time. */
static shape_state *shaping_state(void)
{
    pthread_once(&state_once, state_key_make);
    shape_state *t = pthread_getspecific(state_key);
    if (t)
        return t;
    pthread_mutex_lock(&pool_lock);
    t = npool ? pool[--npool] : NULL;
    pthread_mutex_unlock(&pool_lock);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t)
            return NULL;
        t->buf = hb_buffer_create();
    }
    if (!hb_buffer_allocation_successful(t->buf) || pthread_setspecific(state_key, t)) {
        state_destroy(t);
        return NULL;
    }
    return t;
}

void bl_text_shutdown(void)
{
    pthread_once(&state_once, state_key_make);
    state_destroy(pthread_getspecific(state_key));
    pthread_setspecific(state_key, NULL);
    pthread_mutex_lock(&pool_lock);
    while (npool)
        state_destroy(pool[--npool]);
    pthread_mutex_unlock(&pool_lock);
}

void bl_text_warm(bl_face *face, const char *lang)
{
    shape_state *t = shaping_state();
    if (!t || !face)
        return;
    /* A letter of the language's script, with its language: the shaping
     * plan made now is the one its text will use (HarfBuzz keeps plans by
     * face, direction, script and language). */
    const char *letter = "a";
    if (lang && bl_lang_is_rtl(lang))
        letter = !strncmp(lang, "he", 2) || !strncmp(lang, "iw", 2) || !strncmp(lang, "yi", 2) || strstr(lang, "-Hebr")
                     ? "\xd7\x90"  /* alef */
                     : "\xd8\xa7"; /* alef (Arabic script) */
    hb_buffer_add_utf8(t->buf, letter, -1, 0, -1);
    if (lang)
        hb_buffer_set_language(t->buf, hb_language_from_string(lang, -1));
    hb_buffer_guess_segment_properties(t->buf);
    hb_shape(face->hb_font, t->buf, NULL, 0);
    hb_buffer_reset(t->buf);
}

void bl_text_word_cache_stats(unsigned long *hits, unsigned long *misses)
{
    pthread_once(&state_once, state_key_make);
    shape_state *t = pthread_getspecific(state_key);
    *hits = t ? t->hits : 0;
    *misses = t ? t->misses : 0;
}

/* 1 when no lookup of the face's GSUB or GPOS involves its space glyph and
 * HarfBuzz will not kern with a legacy kern table or shape with AAT tables.
 * Limit (shared with browsers' word caches): hb_ot_layout_lookup_collect_glyphs
 * does not report glyphs of class 0 in class-based rules (PairPos format 2,
 * context format 2), so a font whose such rule matched "any glyph, space
 * included" across a word boundary would pass; the Noto fonts have none. */
static int space_free(const bl_face *f)
{
    hb_codepoint_t sp;
    if (!hb_font_get_nominal_glyph(f->hb_font, ' ', &sp))
        return 0;
    hb_blob_t *t;
    static const hb_tag_t legacy[] = {HB_TAG('m', 'o', 'r', 'x'), HB_TAG('m', 'o', 'r', 't'),
                                      HB_TAG('k', 'e', 'r', 'x'), HB_TAG('k', 'e', 'r', 'n')};
    for (size_t i = 0; i < sizeof legacy / sizeof legacy[0]; i++) {
        t = hb_face_reference_table(f->hb_face, legacy[i]);
        unsigned n = hb_blob_get_length(t);
        hb_blob_destroy(t);
        if (n && (i < 3 || !hb_ot_layout_has_positioning(f->hb_face)))
            return 0;
    }
    hb_set_t *set[4];
    int ok = 1;
    for (int i = 0; i < 4; i++)
        ok &= hb_set_allocation_successful(set[i] = hb_set_create());
    static const hb_tag_t tables[] = {HB_OT_TAG_GSUB, HB_OT_TAG_GPOS};
    for (int ti = 0; ti < 2 && ok; ti++) {
        unsigned n = hb_ot_layout_table_get_lookup_count(f->hb_face, tables[ti]);
        for (unsigned l = 0; l < n && ok; l++) {
            for (int i = 0; i < 4; i++)
                hb_set_clear(set[i]);
            hb_ot_layout_lookup_collect_glyphs(f->hb_face, tables[ti], l, set[0], set[1], set[2], set[3]);
            for (int i = 0; i < 4 && ok; i++)
                ok = hb_set_allocation_successful(set[i]) && !hb_set_has(set[i], sp);
        }
    }
    for (int i = 0; i < 4; i++)
        hb_set_destroy(set[i]);
    return ok;
}

/* Whether the word cache may serve this face and style. */
static int cache_usable(bl_face *face, const bl_text_style *st, size_t bytes)
{
    int mode = __atomic_load_n(&wc_mode, __ATOMIC_RELAXED);
    if (!mode)
        return 0;
    for (unsigned i = 0; i < st->nfeatures; i++)
        if (st->features[i].start != HB_FEATURE_GLOBAL_START || st->features[i].end != HB_FEATURE_GLOBAL_END)
            return 0;
    int known = __atomic_load_n(&face->space_free, __ATOMIC_RELAXED);
    if (!known) {
        /* The test costs up to half a millisecond for a large font: only
         * faces that shape much text pay it (threads may race: same answer). */
        unsigned doc = __atomic_load_n(&wc_document, __ATOMIC_RELAXED), first = 0;
        /* first: the document that first used the face, unless this one is */
        int earlier = !__atomic_compare_exchange_n(&face->first_doc, &first, doc, 0, __ATOMIC_RELAXED,
                                                   __ATOMIC_RELAXED) && first != doc;
        if (mode == 1 && !earlier &&
            __atomic_add_fetch(&face->shaped, (unsigned)bytes, __ATOMIC_RELAXED) < WC_FACE_WARMUP)
            return 0;
        known = space_free(face) ? 1 : 2;
        __atomic_store_n(&face->space_free, known, __ATOMIC_RELAXED);
    }
    return known == 1;
}

static uint32_t features_hash(const bl_text_style *st)
{
    uint32_t h = 2166136261u;
    for (unsigned i = 0; i < st->nfeatures; i++) {
        h = (h ^ st->features[i].tag) * 16777619u;
        h = (h ^ st->features[i].value) * 16777619u;
    }
    return h;
}

/* HarfBuzz's script for a script of bl_text_script (-1: unknown). */
static hb_script_t hb_script_of(int script) { return script >= 0 ? (hb_script_t)script : HB_SCRIPT_UNKNOWN; }

static void hb_setup(hb_buffer_t *buf, int rtl, int script, const char *lang)
{
    hb_buffer_set_direction(buf, rtl ? HB_DIRECTION_RTL : HB_DIRECTION_LTR);
    hb_script_t hs = hb_script_of(script);
    if (hs != HB_SCRIPT_UNKNOWN && hs != HB_SCRIPT_COMMON && hs != HB_SCRIPT_INHERITED)
        hb_buffer_set_script(buf, hs);
    hb_buffer_set_language(buf, hb_language_from_string(lang, -1));
    /* Marks keep their own clusters unless HarfBuzz reorders them. */
    hb_buffer_set_cluster_level(buf, HB_BUFFER_CLUSTER_LEVEL_MONOTONE_CHARACTERS);
    hb_buffer_guess_segment_properties(buf);
}

/* Shapes text[a, b) in context (the whole text) and appends the glyphs in
 * logical order to *g.  Returns the count or -1. */
static long shape_direct(shape_state *t, const char *text, size_t len, size_t a, size_t b, int rtl, int script,
                         const char *lang, bl_face *face, const bl_text_style *st, bl_sglyph **g, size_t *ng,
                         size_t *cap)
{
    hb_buffer_t *buf = t->buf;
    hb_buffer_add_utf8(buf, text, (int)len, (unsigned)a, (int)(b - a));
    hb_setup(buf, rtl, script, lang);
    hb_shape(face->hb_font, buf, st->features, st->nfeatures);
    if (!hb_buffer_allocation_successful(buf)) {
        hb_buffer_reset(buf);
        return -1;
    }
    unsigned n;
    hb_glyph_info_t *info = hb_buffer_get_glyph_infos(buf, &n);
    hb_glyph_position_t *pos = hb_buffer_get_glyph_positions(buf, &n);
    if (bl_grow(g, cap, *ng + n, sizeof **g)) {
        hb_buffer_reset(buf);
        return -1;
    }
    double k = st->size / face->upem;
    for (unsigned i = 0; i < n; i++) {
        unsigned src = rtl ? n - 1 - i : i; /* store logical order */
        bl_sglyph *o = &(*g)[*ng + i];
        o->gid = info[src].codepoint;
        o->cluster = info[src].cluster;
        o->adv = (float)(pos[src].x_advance * k);
        o->dx = (float)(pos[src].x_offset * k);
        o->dy = (float)(pos[src].y_offset * k);
        o->unsafe = (hb_glyph_info_get_glyph_flags(&info[src]) & HB_GLYPH_FLAG_UNSAFE_TO_BREAK) ? 1 : 0;
    }
    *ng += n;
    hb_buffer_reset(buf);
    return (long)n;
}

/* The cached glyphs of the piece text[a, b), shaping and storing it on a
 * miss; NULL when out of memory or the piece does not fit the cache.  hl
 * and feat: lang as HarfBuzz's language and features_hash(st), once per run. */
static const wc_entry *piece_glyphs(shape_state *t, const char *text, size_t a, size_t b, int rtl, int script,
                                    const char *lang, hb_language_t hl, uint32_t feat, bl_face *face,
                                    const bl_text_style *st)
{
    if (!t->slot) {
        void *ent;
        if (!(t->slot = cache_block(WC_SLOTS, WC_MAX_ENTRIES * sizeof *t->ent, WC_ARENA, &ent, &t->arena)))
            return NULL;
        t->ent = ent;
    }
    const size_t len = b - a;
    uint64_t h = 0xcbf29ce484222325ull;
#define MIX(v) (h = (h ^ (uint64_t)(v)) * 0x100000001b3ull)
    for (size_t i = a; i < b; i++)
        MIX((unsigned char)text[i]);
    MIX(face->serial);
    MIX(script);
    MIX(rtl);
    MIX(feat);
    MIX((uintptr_t)hl);
#undef MIX
    h |= 1; /* never 0 */
    size_t i = (size_t)h & (WC_SLOTS - 1);
    for (; t->slot[i]; i = (i + 1) & (WC_SLOTS - 1)) {
        const wc_entry *e = &t->ent[t->slot[i] - 1];
        if (e->hash == h && e->face == face->serial && e->len == len && e->rtl == rtl && e->script == script &&
            e->lang == hl && e->feat == feat &&
            !memcmp(t->arena + e->off + (size_t)e->ng * sizeof(wc_glyph), text + a, len)) {
            t->hits++;
            return e;
        }
    }
    t->misses++;
    /* Miss: shape the piece on its own (a space or the paragraph's edge on
     * both sides: no context to give). */
    hb_buffer_t *buf = t->buf;
    hb_buffer_add_utf8(buf, text + a, (int)len, 0, (int)len);
    hb_setup(buf, rtl, script, lang);
    hb_shape(face->hb_font, buf, st->features, st->nfeatures);
    if (!hb_buffer_allocation_successful(buf)) {
        hb_buffer_reset(buf);
        return NULL;
    }
    unsigned n;
    hb_glyph_info_t *info = hb_buffer_get_glyph_infos(buf, &n);
    hb_glyph_position_t *pos = hb_buffer_get_glyph_positions(buf, &n);
    size_t need = (size_t)n * sizeof(wc_glyph) + len + 8;
    if (n > UINT16_MAX || need > WC_ARENA / 4) {
        hb_buffer_reset(buf);
        return NULL;
    }
    if (t->entries >= WC_MAX_ENTRIES || t->used + need > WC_ARENA) { /* full: start over */
        memset(t->slot, 0, WC_SLOTS * sizeof *t->slot);
        t->used = t->entries = 0;
        i = (size_t)h & (WC_SLOTS - 1);
    }
    size_t off = (t->used + 7) & ~(size_t)7;
    wc_glyph *wg = (wc_glyph *)(void *)(t->arena + off);
    for (unsigned k = 0; k < n; k++) {
        unsigned src = rtl ? n - 1 - k : k; /* logical order */
        wg[k].gid = info[src].codepoint;
        wg[k].cluster = (uint16_t)info[src].cluster;
        wg[k].adv = pos[src].x_advance;
        wg[k].dx = pos[src].x_offset;
        wg[k].dy = pos[src].y_offset;
        wg[k].unsafe = (hb_glyph_info_get_glyph_flags(&info[src]) & HB_GLYPH_FLAG_UNSAFE_TO_BREAK) ? 1 : 0;
    }
    memcpy(t->arena + off + (size_t)n * sizeof(wc_glyph), text + a, len);
    hb_buffer_reset(buf);
    t->used = off + (size_t)n * sizeof(wc_glyph) + len;
    wc_entry *e = &t->ent[t->entries++];
    *e = (wc_entry){h, face->serial, hl, script, feat, (uint16_t)len, (uint16_t)n, (uint8_t)rtl, (uint32_t)off};
    t->slot[i] = (uint16_t)t->entries;
    return e;
}

static uint32_t cp_at(const char *text, size_t len, size_t i)
{
    uint32_t cp = 0;
    if ((unsigned char)text[i] < 0x80)
        return (unsigned char)text[i];
    bl_utf8_decode(text + i, len - i, &cp);
    return cp;
}

/* A character next to a piece from another run that cannot change how the
 * piece shapes: it neither joins (UAX #9's Joining_Type U) nor attaches. */
static int inert_neighbour(uint32_t cp)
{
    return !sticks_to_previous(cp) &&
           bl_icu()->u_getIntPropertyValue((UChar32)cp, UCHAR_JOINING_TYPE) == U_JT_NON_JOINING;
}

/* Whether the piece text[p, q) of the range [a, b) shapes on its own as it
 * does in context: each side is a space, the paragraph's end, or (at the
 * range's ends) an inert character of the neighbouring run; it does not
 * start with a mark or joiner, nor is one after it.  With the script left to
 * HarfBuzz's guess, only a whole range qualifies (the guess is the range's). */
static int piece_alone(const char *text, size_t len, size_t a, size_t b, size_t p, size_t q, int script)
{
    if (q - p > WC_MAX_PIECE || (script < 0 && (p != a || q != b)))
        return 0;
    if (p > 0 && text[p - 1] != ' ') {
        if (p != a)
            return 0;
        size_t k = p - 1;
        while (k > 0 && ((unsigned char)text[k] & 0xC0) == 0x80)
            k--;
        if (!inert_neighbour(cp_at(text, len, k)))
            return 0;
    }
    if (q < len && text[q - 1] != ' ' && (q != b || !inert_neighbour(cp_at(text, len, q))))
        return 0;
    return !sticks_to_previous(cp_at(text, len, p)) && !(q < len && sticks_to_previous(cp_at(text, len, q)));
}

/* Shapes text[a, b) (with the paragraph as context) into glyphs in logical
 * order appended to *g, through the word cache where it applies.  Returns
 * the count or -1. */
static long shape_range(const char *text, size_t len, size_t a, size_t b, int rtl, int script,
                        const char *lang, bl_face *face, const bl_text_style *st, bl_sglyph **g, size_t *ng,
                        size_t *cap)
{
    shape_state *t = shaping_state();
    if (!t)
        return -1;
    /* A right-to-left script in a left-to-right run: HarfBuzz keeps the
     * buffer left-to-right only when it holds digits and no letters
     * (hb_ensure_native_direction), a property of the whole run that a
     * word alone need not share. */
    int rtl_script = hb_script_get_horizontal_direction(hb_script_of(script)) == HB_DIRECTION_RTL;
    if ((!rtl && rtl_script) || !cache_usable(face, st, b - a))
        return shape_direct(t, text, len, a, b, rtl, script, lang, face, st, g, ng, cap);
    const size_t ng0 = *ng;
    /* About a glyph per byte: one allocation instead of doubling word by word. */
    if (bl_grow(g, cap, *ng + (b - a) + 8, sizeof **g))
        return -1;
    const double k = st->size / face->upem;
    const hb_language_t hl = hb_language_from_string(lang, -1);
    const uint32_t feat = features_hash(st);
    size_t pending = SIZE_MAX; /* start of text not yet shaped that the cache cannot serve */
    for (size_t p = a; p < b;) {
        size_t q = p;
        while (q < b && text[q] != ' ')
            q++;
        while (q < b && text[q] == ' ')
            q++;
        const wc_entry *e = NULL;
        if (piece_alone(text, len, a, b, p, q, script))
            e = piece_glyphs(t, text, p, q, rtl, script, lang, hl, feat, face, st);
        if (!e) {
            if (pending == SIZE_MAX)
                pending = p;
            p = q;
            continue;
        }
        if (pending != SIZE_MAX) {
            if (shape_direct(t, text, len, pending, p, rtl, script, lang, face, st, g, ng, cap) < 0)
                return -1;
            pending = SIZE_MAX;
        }
        if (bl_grow(g, cap, *ng + e->ng, sizeof **g))
            return -1;
        const wc_glyph *wg = (const wc_glyph *)(const void *)(t->arena + e->off);
        for (unsigned i = 0; i < e->ng; i++) {
            bl_sglyph *o = &(*g)[*ng + i];
            o->gid = wg[i].gid;
            o->cluster = (uint32_t)p + wg[i].cluster;
            o->adv = (float)(wg[i].adv * k);
            o->dx = (float)(wg[i].dx * k);
            o->dy = (float)(wg[i].dy * k);
            o->unsafe = wg[i].unsafe;
        }
        *ng += e->ng;
        p = q;
    }
    if (pending != SIZE_MAX && shape_direct(t, text, len, pending, b, rtl, script, lang, face, st, g, ng, cap) < 0)
        return -1;
    return (long)(*ng - ng0);
}

/* bl_hyphenate through the calling thread's cache.  Keys hold the
 * hyphenator's address, valid until bl_hyphen_shutdown (the cache starts
 * over when bl_hyphen_generation changes). */
static int hyphenate_cached(const bl_hyphenator *h, const char *w, size_t n, int lmin, int rmin, uint8_t *pts)
{
    shape_state *t = __atomic_load_n(&wc_mode, __ATOMIC_RELAXED) ? shaping_state() : NULL;
    if (t && !t->hc_slot) {
        void *ent;
        if ((t->hc_slot = cache_block(HC_SLOTS, HC_MAX_ENTRIES * sizeof *t->hc_ent, HC_ARENA, &ent, &t->hc_arena)))
            t->hc_ent = ent;
    }
    if (!t || !t->hc_slot || n > 127 || lmin < 0 || lmin > 127 || rmin < 0 || rmin > 127)
        return bl_hyphenate(h, w, n, lmin, rmin, pts);
    unsigned gen = bl_hyphen_generation();
    if (gen != t->hc_generation) { /* dictionaries were freed: addresses may be reused */
        memset(t->hc_slot, 0, HC_SLOTS * sizeof *t->hc_slot);
        t->hc_used = t->hc_entries = 0;
        t->hc_generation = gen;
    }
    uint64_t hash = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        hash = (hash ^ (unsigned char)w[i]) * 0x100000001b3ull;
    hash = ((hash ^ (uintptr_t)h) * 0x100000001b3ull ^ (uint64_t)(lmin * 131 + rmin)) | 1;
    size_t i = (size_t)hash & (HC_SLOTS - 1);
    for (; t->hc_slot[i]; i = (i + 1) & (HC_SLOTS - 1)) {
        const hc_entry *e = &t->hc_ent[t->hc_slot[i] - 1];
        if (e->hash == hash && e->h == h && e->len == n && e->lmin == lmin && e->rmin == rmin &&
            !memcmp(t->hc_arena + e->off, w, n)) {
            memcpy(pts, t->hc_arena + e->off + n, n + 1);
            return e->ret;
        }
    }
    int ret = bl_hyphenate(h, w, n, lmin, rmin, pts);
    if (ret < 0 || ret > 127) /* errors are not kept (pts may be unset) */
        return ret;
    if (t->hc_entries >= HC_MAX_ENTRIES || t->hc_used + 2 * n + 1 > HC_ARENA) { /* full: start over */
        memset(t->hc_slot, 0, HC_SLOTS * sizeof *t->hc_slot);
        t->hc_used = t->hc_entries = 0;
        i = (size_t)hash & (HC_SLOTS - 1);
    }
    memcpy(t->hc_arena + t->hc_used, w, n);
    memcpy(t->hc_arena + t->hc_used + n, pts, n + 1);
    t->hc_ent[t->hc_entries++] =
        (hc_entry){hash, h, (int8_t)lmin, (int8_t)rmin, (uint8_t)n, (int8_t)ret, (uint32_t)t->hc_used};
    t->hc_slot[i] = (uint16_t)t->hc_entries;
    t->hc_used += 2 * n + 1;
    return ret;
}

void bl_text_hyphenate(bl_shaped *s)
{
    const bl_text_style *st = s->style;
    if (s->hyphenated)
        return;
    s->hyphenated = 1;
    const bl_hyphenator *h = st->hyphenate ? bl_hyphenator_get(s->lang) : NULL;

    if (!h)
        return;
    uint8_t pts[128];
    size_t i = 0;
    while (i < s->len) {
        /* a word: letters (and marks) only */
        size_t a = i;
        while (i < s->len) {
            uint32_t cp;
            int l = bl_utf8_decode(s->text + i, s->len - i, &cp);
            int t = l > 0 ? bl_text_category(cp) : -1;
            /* u_isalpha: the letter categories */
            if (!(t == U_UPPERCASE_LETTER || t == U_LOWERCASE_LETTER || t == U_TITLECASE_LETTER ||
                  t == U_MODIFIER_LETTER || t == U_OTHER_LETTER || t == U_NON_SPACING_MARK))
                break;
            i += (size_t)l;
        }
        if (i - a >= 5 && i - a < sizeof pts - 1 &&
            hyphenate_cached(h, s->text + a, i - a, st->lmin, st->rmin, pts) > 0)
            for (size_t k = 1; k < i - a; k++)
                if (pts[k] && s->brk[a + k] == BL_BRK_NONE)
                    s->hyph[a + k] = 1;
        if (i == a) {
            uint32_t cp;
            int l = bl_utf8_decode(s->text + i, s->len - i, &cp);
            i += l > 0 ? (size_t)l : 1;
        }
    }
}

bl_shaped *bl_text_shape(const char *text, size_t len, const bl_span *spans, size_t nspans,
                         const char *lang, int base, const bl_text_style *st,
                         bl_diag *d, const bl_file *f, size_t src_off)
{
    if (len > PARA_MAX_BYTES) {
        bl_diag_at(d, BL_ERROR, f, src_off, "paragraph too long (%zu bytes; the limit is %u)", len,
                   PARA_MAX_BYTES);
        return NULL;
    }
    bl_face *main_face = stack_face(st->regular, 0, d);
    if (!main_face)
        return NULL;
    bl_shaped *s = calloc(1, sizeof *s);
    int *script = NULL;
    bl_face **face = NULL;
    if (!s)
        goto oom;
    s->text = text;
    s->len = len;
    s->lang = lang;
    s->src_off = src_off;
    s->style = st;
    s->levels = malloc(len + 1);
    s->brk = calloc(len + 1, 1);
    s->hyph = calloc(len + 1, 1);
    s->space = calloc(len + 1, 1);
    s->adv_at = calloc(len + 1, sizeof *s->adv_at);
    s->cstart = calloc(len + 1, 1);
    script = malloc((len + 1) * sizeof *script);
    face = malloc((len + 1) * sizeof *face);
    if (!s->levels || !s->brk || !s->hyph || !s->space || !s->adv_at || !s->cstart || !script || !face)
        goto oom;
    if (bl_bidi_levels(text, len, base, s->levels, &s->para_level) ||
        bl_line_breaks(text, len, lang, s->brk))
        goto oom;

    /* Per character: script (Common/Inherited resolved from neighbours) and face. */
    int last_script = -1;
    bl_face *last_face = NULL;
    uint32_t miss[32];
    size_t nmiss = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int l = bl_utf8_decode(text + i, len - i, &cp);
        if (l <= 0)
            l = 1, cp = 0xFFFD;
        int sc = bl_text_script(cp);
        if (sc == (int)HB_SCRIPT_COMMON || sc == (int)HB_SCRIPT_INHERITED || sc < 0)
            sc = last_script;
        else
            last_script = sc;
        const char *href;
        const bl_fontset *fs = set_for(st, style_at(spans, nspans, i, &href));
        bl_face *fc = NULL;
        if (last_face && sticks_to_previous(cp) && (bl_face_glyph(last_face, cp) || cp == 0x200D || cp == 0x200C ||
                                                     (cp >= 0xFE00 && cp <= 0xFE0F) || cp >= 0xE0100)) {
            fc = last_face; /* a mark stays with its base's font when that font has it */
        } else if (cp == 0x2028 || cp == '\n' || cp == '\t') {
            if (!(fc = last_face ? last_face : stack_face(fs, 0, d)))
                goto failed;
        } else {
            for (int k = 0; k < fs->n && !fc; k++) {
                bl_face *fk = stack_face(fs, k, d);
                if (!fk)
                    goto failed;
                if (bl_face_glyph(fk, cp))
                    fc = fk;
            }
            if (!fc)
                fc = bl_face_system_fallback(cp, lang);
            if (!fc) {
                fc = fs->faces[0]; /* opened by the loop */
                s->missing++;
                int dup = 0;
                for (size_t k = 0; k < nmiss; k++)
                    dup |= miss[k] == cp;
                if (!dup && !seen_has(st->seen, cp) && nmiss < sizeof miss / sizeof *miss)
                    miss[nmiss++] = cp;
            }
        }
        last_face = fc;
        if (cp == ' ' && s->brk[i + (size_t)l] != BL_BRK_NONE)
            s->space[i] = 1;
        for (int k = 0; k < l; k++) {
            script[i + (size_t)k] = sc;
            face[i + (size_t)k] = fc;
        }
        i += (size_t)l;
    }
    if (nmiss && d) { /* one warning per paragraph, each character once per bulletin */
        bl_buf list = {0};
        for (size_t k = 0; k < nmiss; k++)
            bl_buf_printf(&list, "%sU+%04X", k ? ", " : "", (unsigned)miss[k]);
        const char *nofc = bl_face_fallback_error();
        bl_diag_at(d, BL_WARNING, f, src_off, "no font has %s; drawn as empty boxes%s%s%s",
                   list.data ? list.data : "?", nofc ? " (no system fonts to fall back on: " : "",
                   nofc ? nofc : "", nofc ? ")" : "");
        bl_buf_free(&list);
    }
    /* Leading Common characters take the first real script. */
    int first = -1;
    for (size_t i = 0; i < len && first < 0; i++)
        first = script[i];
    for (size_t i = 0; i < len && script[i] < 0; i++)
        script[i] = first;

    /* Runs: maximal ranges of one level, script, face and style. */
    size_t cap_runs = 0, cap_g = 0;
    for (size_t i = 0; i < len;) {
        const char *href;
        unsigned style = style_at(spans, nspans, i, &href);
        size_t j = i + 1;
        while (j < len) {
            if (((unsigned char)text[j] & 0xC0) == 0x80) { j++; continue; }
            const char *h2;
            unsigned st2 = style_at(spans, nspans, j, &h2);
            if (s->levels[j] != s->levels[i] || script[j] != script[i] || face[j] != face[i] ||
                st2 != style || h2 != href)
                break;
            j++;
        }
        if (bl_grow(&s->runs, &cap_runs, s->nruns + 1, sizeof *s->runs))
            goto oom;
        bl_run *r = &s->runs[s->nruns++];
        r->start = i;
        r->end = j;
        r->level = s->levels[i];
        r->face = face[i];
        r->style = style;
        r->href = href;
        r->g0 = s->nglyphs;
        long n = shape_range(text, len, i, j, r->level & 1, script[i], lang, r->face, st,
                             &s->glyphs, &s->nglyphs, &cap_g);
        if (n < 0)
            goto oom;
        r->ng = (size_t)n;
        i = j;
    }
    for (size_t g = 0; g < s->nglyphs; g++) {
        s->adv_at[s->glyphs[g].cluster] += s->glyphs[g].adv;
        s->cstart[s->glyphs[g].cluster] = 1;
    }
    s->hyphen_adv = (float)(bl_face_advance(main_face, bl_face_glyph(main_face, '-')) * st->size / main_face->upem);
    free(script);
    free(face);
    return s;
oom:
    bl_diag_at(d, BL_ERROR, NULL, 0, "out of memory while shaping a paragraph");
failed: /* reported */
    free(script);
    free(face);
    bl_shaped_free(s);
    return NULL;
}

size_t bl_shaped_clusters(const bl_shaped *s, size_t a, size_t b)
{
    size_t n = 0;
    for (size_t i = a; i < b; i++)
        n += s->cstart[i];
    return n;
}

double bl_shaped_width(const bl_shaped *s, size_t a, size_t b)
{
    double w = 0;
    for (size_t i = a; i < b; i++)
        w += s->adv_at[i];
    return w;
}

size_t bl_text_graphemes(const bl_shaped *s, size_t a, size_t b, size_t *out, size_t max)
{
    UErrorCode ue = U_ZERO_ERROR;
    UText *ut = bl_icu()->utext_openUTF8(NULL, s->text + a, (int64_t)(b - a), &ue);
    UBreakIterator *bi = bl_icu()->ubrk_open(UBRK_CHARACTER, s->lang, NULL, 0, &ue);
    size_t n = 0;
    if (U_SUCCESS(ue))
        bl_icu()->ubrk_setUText(bi, ut, &ue);
    if (U_SUCCESS(ue))
        for (int32_t p = bl_icu()->ubrk_first(bi); p != UBRK_DONE && n < max; p = bl_icu()->ubrk_next(bi))
            if (p > 0 && (size_t)p < b - a)
                out[n++] = a + (size_t)p;
    bl_icu()->ubrk_close(bi);
    bl_icu()->utext_close(ut);
    return U_SUCCESS(ue) ? n : 0;
}

#define GF_WS 0x80 /* internal: the glyph's character is white space */

/* May the run's paragraph glyphs be cut before byte q (a cluster start)? */
static int safe_at(const bl_shaped *s, const bl_run *run, size_t q)
{
    const bl_sglyph *rg = s->glyphs + run->g0;
    for (size_t g = 0; g < run->ng; g++)
        if (rg[g].cluster == q)
            return !rg[g].unsafe;
    return 0;
}

static int is_space_char(const char *p, size_t n)
{
    uint32_t cp;
    int l = bl_utf8_decode(p, n, &cp);
    return l > 0 && (cp == ' ' || cp == 0xA0 || cp == 0x202F || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x3000 ||
                     cp == '\t');
}

/* ---- setting one line ---------------------------------------------------- */

typedef struct piece {
    size_t a, b;          /* text bytes */
    uint8_t level;
    const bl_run *run;
    bl_sglyph *g;         /* logical order */
    size_t ng;
    int own;              /* g is malloc'd (reshaped) */
    int hyphen;
} piece;

void bl_line_out_free(bl_line_out *o)
{
    free(o->runs); /* with glyphs, links and flags (bl_text_line) */
    free(o->text);
    memset(o, 0, sizeof *o);
}

/* Text for each glyph of one cluster [ca, cb) with glyphs g[0..k) in logical
 * order: one character each where the nominal glyphs match in order,
 * otherwise the whole cluster on the first glyph (so that reading the glyphs
 * in logical order always gives the source text). */
static void cluster_text(const bl_sglyph *g, size_t k, const char *text, size_t ca, size_t cb,
                         bl_face *face, size_t base, bl_glyph *out)
{
    if (k > 1) {
        size_t i = ca, gi = 0;
        while (i < cb && gi < k) {
            uint32_t cp;
            int l = bl_utf8_decode(text + i, cb - i, &cp);
            if (l <= 0 || bl_face_glyph(face, cp) != g[gi].gid)
                break;
            out[gi].text_start = (uint32_t)(i - base);
            out[gi].text_len = (uint32_t)l;
            i += (size_t)l;
            gi++;
        }
        if (i == cb && gi == k)
            return;
    }
    out[0].text_start = (uint32_t)(ca - base);
    out[0].text_len = (uint32_t)(cb - ca);
    for (size_t j = 1; j < k; j++)
        out[j].text_start = (uint32_t)(cb - base), out[j].text_len = 0;
}

void bl_line_out_adjust(bl_line_out *o, double space_extra, double letter_extra, double dx)
{
    /* Runs and their glyphs are in visual order: shift each glyph by what the
     * spaces and gaps to its left added. */
    double shift = dx;
    for (size_t r = 0; r < o->nruns; r++) {
        bl_glyph_run *run = &o->runs[r];
        bl_glyph *g = (bl_glyph *)run->glyphs;
        size_t base = (size_t)(g - o->glyphs);
        double start = shift;
        for (size_t i = 0; i < run->n; i++) {
            uint8_t f = o->flags[base + i];
            double add = ((f & BL_GF_SPACE) ? space_extra : 0) + ((f & BL_GF_GAP) ? letter_extra : 0);
            g[i].x += shift;
            g[i].advance += add;
            shift += add;
        }
        for (size_t k = 0; k < o->nlinks; k++) /* a link covers its run */
            if (o->links[k].run == r) {
                o->links[k].x += start;
                o->links[k].w += shift - start;
            }
    }
    o->width += shift - dx;
}

static size_t align16(size_t n) { return (n + 15) & ~(size_t)15; }

int bl_text_line(const bl_shaped *s, size_t a, size_t b, int hyphen, double x_left, double baseline,
                 bl_line_out *out)
{
    memset(out, 0, sizeof *out);
    if (b <= a)
        return 0;
    uint8_t stack_lv[512];
    uint8_t *lv = b - a <= sizeof stack_lv ? stack_lv : malloc(b - a);
    piece *pc = NULL;
    size_t npc = 0, cap_pc = 0;
    uint8_t *plv = NULL;
    size_t *order = NULL;
    uint32_t *gcl = NULL; /* cluster of each output glyph */
    int rc = -1;
    if (!lv)
        return -1;
    bl_bidi_line_levels(s->text, s->levels, a, b, s->para_level, lv);

    /* Pieces: runs cut by the line and by L1's level changes. */
    for (size_t r = 0; r < s->nruns; r++) {
        const bl_run *run = &s->runs[r];
        if (run->end <= a || run->start >= b)
            continue;
        size_t pa = run->start > a ? run->start : a, pe = run->end < b ? run->end : b;
        while (pa < pe) {
            size_t q = pa + 1;
            while (q < pe && lv[q - a] == lv[pa - a])
                q++;
            if (bl_grow(&pc, &cap_pc, npc + 1, sizeof *pc))
                goto done;
            piece *p = &pc[npc++];
            memset(p, 0, sizeof *p);
            p->a = pa;
            p->b = q;
            p->level = lv[pa - a];
            p->run = run;
            pa = q;
        }
    }
    if (npc && hyphen)
        pc[npc - 1].hyphen = 1;
    /* Glyphs of each piece: the paragraph's, unless a cut is unsafe. */
    for (size_t i = 0; i < npc; i++) {
        piece *p = &pc[i];
        const bl_run *run = p->run;
        const bl_sglyph *rg = s->glyphs + run->g0;
        /* Glyphs are in logical order, clusters non-decreasing: the first
         * glyph at or after p->a by bisection (lines of a long run would
         * otherwise scan it from its start each time). */
        size_t g0 = 0, g1 = run->ng;
        while (g0 < g1) {
            size_t mid = g0 + (g1 - g0) / 2;
            if (rg[mid].cluster < p->a)
                g0 = mid + 1;
            else
                g1 = mid;
        }
        g1 = g0;
        while (g1 < run->ng && rg[g1].cluster < p->b)
            g1++;
        /* A cut inside a cluster (a ligature such as "fi" broken by a hyphen)
         * or where HarfBuzz says breaking is unsafe needs reshaping. */
        int bad_start = p->a > run->start && (!s->cstart[p->a] || (g0 < run->ng && rg[g0].unsafe));
        int bad_end = p->hyphen || (p->b < run->end && (!s->cstart[p->b] || (g1 < run->ng && rg[g1].unsafe)));
        if (!bad_start && !bad_end) {
            p->g = (bl_sglyph *)(rg + g0);
            p->ng = g1 - g0;
            continue;
        }
        /* Reshape only the words a cut touches: the piece's head up to the
         * first safe word start, its tail from the last one; the middle keeps
         * the paragraph's glyphs. */
        size_t head = p->a, tail = p->b, mg0 = g0, mg1 = g0;
        if (bad_start) {
            head = p->b;
            for (size_t q = p->a + 1; q < p->b; q++)
                if (s->text[q - 1] == ' ' && s->cstart[q] && safe_at(s, run, q)) {
                    head = q;
                    break;
                }
        }
        if (bad_end) {
            tail = head;
            for (size_t q = p->b - 1; q > head; q--)
                if (s->text[q - 1] == ' ' && s->cstart[q] && safe_at(s, run, q)) {
                    tail = q;
                    break;
                }
        }
        if (head < tail) {
            while (mg0 < g1 && rg[mg0].cluster < head)
                mg0++;
            mg1 = mg0;
            while (mg1 < g1 && rg[mg1].cluster < tail)
                mg1++;
        } else {
            head = tail = p->a; /* one word: reshape all of it */
        }
        size_t ng = 0, cap = 0;
        p->own = 1; /* p->g is ours from here on (freed below, also on failure) */
        p->g = NULL;
        if (head > p->a && shape_range(s->text, s->len, p->a, head, run->level & 1, -1, s->lang, run->face, s->style,
                                       &p->g, &ng, &cap) < 0)
            goto done;
        if (mg1 > mg0) {
            if (bl_grow(&p->g, &cap, ng + (mg1 - mg0), sizeof *p->g))
                goto done;
            memcpy(p->g + ng, rg + mg0, (mg1 - mg0) * sizeof *p->g);
            ng += mg1 - mg0;
        }
        size_t t0 = head > tail ? head : tail;
        if (t0 < p->b || p->hyphen) {
            size_t before = ng;
            const char *src = s->text;
            size_t srclen = s->len, sa = t0, sb = p->b;
            char *tmp = NULL;
            if (p->hyphen) { /* the tail's text plus a hyphen, shaped on its own */
                tmp = malloc(p->b - t0 + 2);
                if (!tmp)
                    goto done;
                memcpy(tmp, s->text + t0, p->b - t0);
                tmp[p->b - t0] = '-';
                src = tmp;
                srclen = p->b - t0 + 1;
                sa = 0;
                sb = srclen;
            }
            long n = shape_range(src, srclen, sa, sb, run->level & 1, -1, s->lang, run->face, s->style, &p->g, &ng,
                                 &cap);
            free(tmp);
            if (n < 0)
                goto done;
            if (p->hyphen) /* map clusters back to paragraph offsets; the hyphen gets b */
                for (size_t k = before; k < ng; k++)
                    p->g[k].cluster = p->g[k].cluster >= p->b - t0 ? (uint32_t)p->b : p->g[k].cluster + (uint32_t)t0;
        }
        p->ng = ng;
    }
    /* Visual order of the pieces (UAX #9 L2). */
    size_t total = 0;
    for (size_t i = 0; i < npc; i++)
        total += pc[i].ng;
    /* One block for the line (runs, glyphs, links, flags: freed with runs)
     * and one for the scratch arrays: a line had eight allocations, and
     * malloc was 10% of a two-thread batch. */
    size_t o_glyphs = align16((npc + 1) * sizeof *out->runs);
    size_t o_links = o_glyphs + align16((total + 1) * sizeof *out->glyphs);
    size_t o_flags = o_links + align16((npc + 1) * sizeof *out->links);
    char *blk = malloc(o_flags + total + 1);
    size_t o_order = align16((total + 1) * sizeof *gcl);
    size_t o_plv = o_order + (npc + 1) * sizeof *order;
    char *scratch = blk ? malloc(o_plv + npc + 1) : NULL;
    if (!scratch) {
        free(blk);
        goto done;
    }
    /* Runs and links zeroed; every glyph and flag is written below. */
    memset(blk, 0, o_glyphs);
    memset(blk + o_links, 0, o_flags - o_links);
    out->runs = (bl_glyph_run *)blk;
    out->glyphs = (bl_glyph *)(blk + o_glyphs);
    out->links = (void *)(blk + o_links);
    out->flags = (uint8_t *)(blk + o_flags);
    gcl = (uint32_t *)scratch;
    order = (size_t *)(scratch + o_order);
    plv = (uint8_t *)(scratch + o_plv);
    for (size_t i = 0; i < npc; i++)
        plv[i] = pc[i].level;
    size_t nord = bl_bidi_reorder(plv, npc, order);
    double x = x_left;
    for (size_t oi = 0; oi < nord; oi++) {
        piece *p = &pc[order[oi]];
        int rtl = p->level & 1;
        bl_glyph *og = out->glyphs + out->nglyphs;
        /* text of each glyph, by clusters in logical order */
        size_t k = 0;
        while (k < p->ng) {
            size_t e = k + 1;
            while (e < p->ng && p->g[e].cluster == p->g[k].cluster)
                e++;
            size_t ca = p->g[k].cluster, cb = e < p->ng ? p->g[e].cluster : p->b;
            if (ca >= p->b) /* the hyphen: no text of its own */
                for (size_t j = k; j < e; j++)
                    og[j].text_start = (uint32_t)(p->b - p->a), og[j].text_len = 0;
            else
                cluster_text(p->g + k, e - k, s->text, ca, cb, p->run->face, p->a, og + k);
            k = e;
        }
        /* positions, visual order */
        double x0 = x;
        bl_glyph tmpg;
        for (size_t v = 0; v < p->ng; v++) {
            size_t li = rtl ? p->ng - 1 - v : v;
            const bl_sglyph *sg = &p->g[li];
            double adv = sg->adv;
            uint8_t *fl = &out->flags[out->nglyphs + li];
            *fl = sg->cluster < s->len && s->space[sg->cluster] ? BL_GF_SPACE : 0;
            if (sg->cluster < s->len && is_space_char(s->text + sg->cluster, s->len - sg->cluster))
                *fl |= GF_WS;
            gcl[out->nglyphs + li] = sg->cluster;
            og[li].gid = sg->gid;
            og[li].x = x + sg->dx;
            og[li].y = baseline + sg->dy;
            og[li].advance = adv;
            x += adv;
        }
        if (rtl) { /* stored in logical order above; runs are visual order */
            uint8_t *fl = out->flags + out->nglyphs;
            for (size_t i2 = 0, j2 = p->ng ? p->ng - 1 : 0; i2 < j2; i2++, j2--) {
                tmpg = og[i2];
                og[i2] = og[j2];
                og[j2] = tmpg;
                uint8_t tf = fl[i2];
                fl[i2] = fl[j2];
                fl[j2] = tf;
                uint32_t tc = gcl[out->nglyphs + i2];
                gcl[out->nglyphs + i2] = gcl[out->nglyphs + j2];
                gcl[out->nglyphs + j2] = tc;
            }
        }
        bl_glyph_run *gr = &out->runs[out->nruns++];
        gr->face = p->run->face;
        gr->size = s->style->size;
        int link = (p->run->style & BL_STYLE_LINK) != 0;
        memcpy(gr->rgb, link ? s->style->link_rgb : s->style->rgb, sizeof gr->rgb);
        gr->rtl = rtl;
        gr->lang = s->lang;
        gr->text = s->text + p->a;
        gr->text_len = p->b - p->a;
        gr->glyphs = og;
        gr->n = p->ng;
        gr->block = -1;
        gr->kind = "paragraph";
        out->nglyphs += p->ng;
        if (link && p->run->href) {
            out->links[out->nlinks].x = x0;
            out->links[out->nlinks].w = x - x0;
            out->links[out->nlinks].href = p->run->href;
            out->links[out->nlinks].run = out->nruns - 1;
            out->nlinks++;
        }
    }
    out->width = x - x_left;
    /* Letter spacing goes between clusters (visual order, across runs), but
     * not next to a space: the gap between words stays the spaces' own. */
    for (size_t i = 0; s->style->tracking && i + 1 < out->nglyphs; i++)
        if (gcl[i] != gcl[i + 1] && !(out->flags[i] & GF_WS) && !(out->flags[i + 1] & GF_WS))
            out->flags[i] |= BL_GF_GAP;
    for (size_t i = 0; i < out->nglyphs; i++) {
        out->flags[i] &= (uint8_t)~GF_WS;
        out->nspaces += (out->flags[i] & BL_GF_SPACE) != 0;
        out->ngaps += (out->flags[i] & BL_GF_GAP) != 0;
    }
    rc = 0;
done:
    for (size_t i = 0; i < npc; i++)
        if (pc[i].own)
            free(pc[i].g);
    free(pc);
    free(gcl); /* the scratch block */
    if (lv != stack_lv)
        free(lv);
    if (rc)
        bl_line_out_free(out);
    return rc;
}
