/* text-bidi.c - UAX #9 embedding levels (FriBidi) and reordering, UAX #14
 * line-break opportunities (ICU line break iterator over UTF-8), and
 * hyphenation points (libhyphen).  Offsets in and out are UTF-8 bytes. */
#include "text-bidi.h"
#include "base.h"

#include <fribidi.h>
#include <hyphen.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/uloc.h>
#include <unicode/utext.h>

/* Decodes the character at s[i] (i < n).  Invalid UTF-8 must not happen (the
 * callers promise valid text), but if it does each bad byte reads as U+FFFD
 * so that every pass over the text steps through the same characters. */
static size_t next_char(const char *s, size_t n, size_t i, uint32_t *cp)
{
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len = bl_utf8_decode(s + i, n - i, cp);
    if (!len) {
        *cp = 0xFFFD;
        return 1;
    }
    return (size_t)len;
}

/* ---- Embedding levels (UAX #9 P1-P3, X1-X10, W1-W7, N0-N2, I1-I2) ----
 *
 * ICU 72's ubidi fails 30 lines of BidiCharacterTest.txt (15.0), all from
 * the Unicode 8.0 clarifications (overrides of isolates and paired brackets,
 * NSMs after brackets, the BD16 stack limit); FriBidi 1.0.8 passes every
 * line, so the rules are FriBidi's (fribidi_get_par_embedding_levels_ex).
 * Around it this file does three things FriBidi does otherwise:
 *
 * - P1.  FriBidi takes its input as one paragraph and stops applying X1-X8
 *   at the first B, so the text is cut after each B here, and each B gets
 *   its paragraph's level (X8; as the last character of its paragraph it
 *   resolves to the embedding direction, so N1 never raises it).
 * - L1.  FriBidi applies L1 as if the paragraph were one line, but the
 *   levels here come before L1.  FriBidi tells WS and S from ON in L1 only,
 *   so they are passed as ON and keep their resolved levels, and B is not
 *   passed at all.  What is left is isolate formatting characters at the
 *   very end of a paragraph (nothing but X9-removed characters after them):
 *   they come back at the paragraph level, where L1 puts them on any line.
 * - X9.  Removed characters (BN, LRE, RLE, LRO, RLO, PDF) get the level of
 *   the character before them, and those at the start of a paragraph the
 *   level of the first character after them, so that a ZWJ inside an Arabic
 *   word stays in the word's run (src/text-shape.c itemizes by level).
 *
 * FriBidi's character data is Unicode 10.0 (fribidi_unicode_version), older
 * than ICU's.  Code points unassigned in 10.0 get FriBidi's defaults: R in
 * U+0590-05FF, U+07C0-08FF, U+FB1D-FB4F and U+10800-10FFF; AL in
 * U+0600-07BF, U+FB50-FDCF, U+FDF0-FDFF and U+FE70-FEFF; BN for the
 * noncharacters, U+2060-206F and U+E0000-E0FFF; L everywhere else.  So newer
 * characters can be misclassified: emoji since Unicode 11 (U+1F972,
 * U+1FAE0) and U+20C0 SOM SIGN are strong L, not ON or ET (a paragraph that
 * starts with one is LTR under BL_DIR_AUTO); the Arabic letters of U+0870-
 * U+08C7 and Hanifi Rohingya (U+10D00) are R, not AL; Indic Siyaq Numbers
 * (U+1EC70) are L. */

/* Levels for the paragraph of nch characters (types, brackets; no B) from
 * FriBidi, then the X9-removed characters' levels as above.  Returns the
 * paragraph level, or -1 when FriBidi fails (out of memory). */
static int paragraph_levels(const FriBidiCharType *otype, const FriBidiCharType *type,
                            const FriBidiBracketType *bracket, FriBidiStrIndex nch, int base,
                            FriBidiLevel *lev)
{
    FriBidiParType dir = base == BL_DIR_LTR ? FRIBIDI_PAR_LTR
                         : base == BL_DIR_RTL ? FRIBIDI_PAR_RTL
                                              : FRIBIDI_PAR_ON; /* P2, P3 */
    if (nch && !fribidi_get_par_embedding_levels_ex(type, bracket, nch, &dir, lev))
        return -1;
    FriBidiLevel para = FRIBIDI_DIR_TO_LEVEL(dir), prev = para;
    FriBidiStrIndex first = -1;
    for (FriBidiStrIndex i = 0; i < nch; i++) {
        if (FRIBIDI_IS_EXPLICIT_OR_BN(otype[i])) {
            lev[i] = prev;
        } else {
            prev = lev[i];
            if (first < 0)
                first = i;
        }
    }
    for (FriBidiStrIndex i = 0; i < first; i++)
        lev[i] = lev[first];
    return para;
}

int bl_bidi_levels(const char *s, size_t n, int base, uint8_t *levels, uint8_t *para_level)
{
    if (!levels || !para_level || (n && !s) || base < BL_DIR_LTR || base > BL_DIR_AUTO)
        return -1;
    /* Per character: its class, the class passed to FriBidi, its bracket
     * type and its level; on the stack for short paragraphs. */
    enum { SMALL = 512, PER = 2 * sizeof(FriBidiCharType) + sizeof(FriBidiBracketType) + 1 };
    if (n > INT_MAX || n > SIZE_MAX / PER)
        return -1;
    if (base != BL_DIR_RTL) {
        /* The common English paragraph: ASCII has no R, AL, AN or explicit
         * formatting characters (see the fast path below). */
        size_t i = 0;
        while (i < n && !((unsigned char)s[i] & 0x80))
            i++;
        if (i == n) {
            memset(levels, 0, n);
            *para_level = 0;
            return 0;
        }
    }
    FriBidiCharType small_otype[SMALL], small_type[SMALL];
    FriBidiBracketType small_bracket[SMALL];
    FriBidiLevel small_lev[SMALL];
    FriBidiCharType *otype = small_otype, *type = small_type;
    FriBidiBracketType *bracket = small_bracket;
    FriBidiLevel *lev = small_lev;
    void *mem = NULL;
    if (n > SMALL) { /* n bytes hold at most n characters */
        if (!(mem = malloc(n * PER)))
            return -1;
        otype = mem;
        type = otype + n;
        bracket = type + n;
        lev = (FriBidiLevel *)(bracket + n);
    }

    FriBidiStrIndex nch = 0;
    FriBidiCharType seen = 0;
    for (size_t i = 0; i < n; nch++) {
        uint32_t cp;
        i += next_char(s, n, i, &cp);
        FriBidiCharType t = fribidi_get_bidi_type(cp);
        otype[nch] = t;
        bracket[nch] = t == FRIBIDI_TYPE_ON ? fribidi_get_bracket(cp) : FRIBIDI_NO_BRACKET;
        type[nch] = t == FRIBIDI_TYPE_WS   ? FRIBIDI_TYPE_WS & ~FRIBIDI_MASK_WS
                    : t == FRIBIDI_TYPE_SS ? FRIBIDI_TYPE_SS & ~FRIBIDI_MASK_SEPARATOR
                                           : t;
        seen |= t;
    }

    int ret = 0, para = -1;
    if (base != BL_DIR_RTL
        && !(seen & (FRIBIDI_MASK_RTL | FRIBIDI_MASK_ARABIC | FRIBIDI_MASK_EXPLICIT
                     | FRIBIDI_MASK_ISOLATE))) {
        /* No R, AL, AN or explicit formatting: everything resolves to L (EN
         * by W7, neutrals by N1) at level 0. */
        memset(lev, 0, (size_t)nch);
        para = 0;
    } else {
        for (FriBidiStrIndex ps = 0; ps < nch;) { /* P1 */
            FriBidiStrIndex pe = ps;
            while (pe < nch && otype[pe] != FRIBIDI_TYPE_BS)
                pe++;
            int p = paragraph_levels(otype + ps, type + ps, bracket + ps, pe - ps, base, lev + ps);
            if (p < 0) {
                ret = -1;
                break;
            }
            if (pe < nch)
                lev[pe++] = (FriBidiLevel)p;
            if (para < 0)
                para = p;
            ps = pe;
        }
    }
    if (ret == 0) {
        *para_level = (uint8_t)(para >= 0 ? para : base == BL_DIR_RTL);
        FriBidiStrIndex k = 0;
        for (size_t i = 0; i < n; k++) {
            uint32_t cp;
            size_t len = next_char(s, n, i, &cp);
            memset(levels + i, lev[k], len);
            i += len;
        }
    }
    free(mem);
    return ret;
}

/* ---- UAX #9 L1 ---- */

/* L1 resets separators (S, B) and the whitespace before them and at the end
 * of the line.  "Whitespace" is WS plus the isolate formatting characters
 * (FSI, LRI, RLI, PDI); UAX #9 section 5.2 (retaining BN and explicit
 * formatting characters) adds BN and LRE/RLE/LRO/RLO/PDF to those sequences.
 * The classes are FriBidi's, like the levels'. */
enum { L1_KEEP, L1_SPACE, L1_SEP };

static int l1_class(uint32_t cp)
{
    FriBidiCharType t = fribidi_get_bidi_type(cp);
    if (FRIBIDI_IS_SEPARATOR(t))
        return L1_SEP;
    if (FRIBIDI_IS_EXPLICIT_OR_BN_OR_WS(t) || FRIBIDI_IS_ISOLATE(t))
        return L1_SPACE;
    return L1_KEEP;
}

void bl_bidi_line_levels(const char *s, const uint8_t *levels, size_t start, size_t end,
                         uint8_t para_level, uint8_t *line_levels)
{
    if (end <= start)
        return;
    size_t n = end - start;
    memcpy(line_levels, levels + start, n);
    size_t run = SIZE_MAX; /* start of the current whitespace sequence */
    for (size_t i = start; i < end;) {
        uint32_t cp;
        size_t len = next_char(s, end, i, &cp);
        int cls = l1_class(cp);
        if (cls == L1_SPACE) {
            if (run == SIZE_MAX)
                run = i;
        } else if (cls == L1_SEP) {
            size_t from = run == SIZE_MAX ? i : run;
            memset(line_levels + (from - start), para_level, i + len - from);
            run = SIZE_MAX;
        } else {
            run = SIZE_MAX;
        }
        i += len;
    }
    if (run != SIZE_MAX)
        memset(line_levels + (run - start), para_level, end - run);
}

/* ---- UAX #9 L2 ---- */

size_t bl_bidi_reorder(const uint8_t *levels, size_t n, size_t *order)
{
    size_t m = 0;
    unsigned highest = 0, lowest_odd = 0xFF;
    for (size_t i = 0; i < n; i++) {
        unsigned l = levels[i];
        if (l == 0xFF)
            continue;
        order[m++] = i;
        if (l > highest)
            highest = l;
        if ((l & 1) && l < lowest_odd)
            lowest_odd = l;
    }
    /* L2: from the highest level down to the lowest odd level, reverse every
     * maximal sequence at that level or higher.  Without an odd level each
     * reversal at an even level would be undone at the odd level below it. */
    for (unsigned lvl = highest; lowest_odd != 0xFF && lvl >= lowest_odd; lvl--) {
        size_t k = 0;
        while (k < m) {
            if (levels[order[k]] < lvl) {
                k++;
                continue;
            }
            size_t j = k;
            while (j < m && levels[order[j]] >= lvl)
                j++;
            for (size_t a = k, b = j - 1; a < b; a++, b--) {
                size_t t = order[a];
                order[a] = order[b];
                order[b] = t;
            }
            k = j;
        }
    }
    return m;
}

/* ---- Line-break opportunities (UAX #14) ---- */

/* ubrk_open costs a resource-bundle lookup and rule loading, far more than
 * finding the breaks of a paragraph.  So each locale (keyed by the BCP 47 tag
 * as given) keeps a prototype, opened once, and a few idle clones that calls
 * borrow and give back.  A prototype is never iterated, and cloning only
 * reads it, so it needs no lock once published.  Iterators live until the
 * process exits (still reachable, not leaks). */
#define BRK_LOCALES 16
#define BRK_IDLE 8
#define BRK_TAG 32
struct brk_pool {
    char tag[BRK_TAG];
    UBreakIterator *proto;
    UBreakIterator *idle[BRK_IDLE];
    int nidle;
};
static struct brk_pool brk_pools[BRK_LOCALES];
static int brk_npools;
static pthread_mutex_t brk_lock = PTHREAD_MUTEX_INITIALIZER;

static UBreakIterator *brk_open(const char *tag)
{
    char loc[ULOC_FULLNAME_CAPACITY] = "";
    UErrorCode st = U_ZERO_ERROR;
    if (tag && *tag) {
        uloc_forLanguageTag(tag, loc, (int32_t)sizeof loc, NULL, &st);
        if (U_FAILURE(st) || st == U_STRING_NOT_TERMINATED_WARNING)
            loc[0] = 0;
        st = U_ZERO_ERROR;
    }
    UBreakIterator *bi = ubrk_open(UBRK_LINE, loc, NULL, 0, &st);
    if (U_FAILURE(st)) {
        ubrk_close(bi);
        return NULL;
    }
    return bi;
}

/* Returns an iterator the caller uses alone; *pool is where to give it back
 * (-1: not pooled, close it). */
static UBreakIterator *brk_acquire(const char *tag, int *pool)
{
    if (!tag)
        tag = "";
    *pool = -1;
    if (strlen(tag) >= BRK_TAG)
        return brk_open(tag);
    pthread_mutex_lock(&brk_lock);
    int p = 0;
    while (p < brk_npools && strcmp(brk_pools[p].tag, tag))
        p++;
    if (p == brk_npools) {
        UBreakIterator *proto = brk_npools < BRK_LOCALES ? brk_open(tag) : NULL;
        if (!proto) {
            pthread_mutex_unlock(&brk_lock);
            return brk_open(tag);
        }
        strcpy(brk_pools[p].tag, tag);
        brk_pools[p].proto = proto;
        brk_npools++;
    }
    struct brk_pool *bp = &brk_pools[p];
    UBreakIterator *bi = bp->nidle ? bp->idle[--bp->nidle] : NULL;
    pthread_mutex_unlock(&brk_lock);
    *pool = p;
    if (!bi) {
        UErrorCode st = U_ZERO_ERROR;
        bi = ubrk_clone(bp->proto, &st);
        if (U_FAILURE(st)) {
            ubrk_close(bi);
            bi = NULL;
        }
    }
    return bi;
}

static void brk_release(UBreakIterator *bi, int pool)
{
    if (pool >= 0) {
        pthread_mutex_lock(&brk_lock);
        struct brk_pool *bp = &brk_pools[pool];
        if (bp->nidle < BRK_IDLE) {
            bp->idle[bp->nidle++] = bi;
            bi = NULL;
        }
        pthread_mutex_unlock(&brk_lock);
    }
    ubrk_close(bi);
}

int bl_line_breaks(const char *s, size_t n, const char *lang, uint8_t *out)
{
    if (!out || (n && !s) || n > INT32_MAX)
        return -1;
    memset(out, BL_BRK_NONE, n + 1);
    /* LB3: always break at the end of text (for empty text that is out[0]). */
    out[n] = BL_BRK_MANDATORY;
    if (n == 0)
        return 0;
    int pool;
    UBreakIterator *bi = brk_acquire(lang, &pool);
    if (!bi)
        return -1;
    /* UText over UTF-8 makes the iterator's indexes byte offsets. */
    UText ut = UTEXT_INITIALIZER;
    UErrorCode st = U_ZERO_ERROR;
    utext_openUTF8(&ut, s, (int64_t)n, &st);
    ubrk_setUText(bi, &ut, &st);
    int ret = -1;
    if (U_SUCCESS(st)) {
        ubrk_first(bi);
        for (int32_t b; (b = ubrk_next(bi)) != UBRK_DONE && (size_t)b < n;)
            out[b] = ubrk_getRuleStatus(bi) >= UBRK_LINE_HARD ? BL_BRK_MANDATORY
                                                              : BL_BRK_ALLOWED;
        ret = 0;
    }
    utext_close(&ut);
    brk_release(bi, pool);
    return ret;
}

/* ---- Hyphenation ---- */

/* libhyphen 2.8.8 (Debian 12) loses the older of two identical patterns in a
 * dictionary (fixed upstream in 2.8.9, commit 5c67123 "free existing
 * match/repl on duplicate pattern key"); hyph_fr.dic repeats 16, so every
 * sanitizer build that hyphenates French reports 130 leaked bytes.  Tell
 * LeakSanitizer.  libhyphen has no frame pointers, so the stacks LSan sees
 * end at its allocator and the suppression has to cover all memory libhyphen
 * allocates (bl_hyphenate frees what it is handed).  Weak, so that a program
 * with its own suppressions wins (it should then list this one too). */
#if defined(__SANITIZE_ADDRESS__)
#define BL_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BL_LSAN 1
#endif
#endif
#ifdef BL_LSAN
const char *__lsan_default_suppressions(void) __attribute__((weak));
const char *__lsan_default_suppressions(void)
{
    return "leak:hnj_malloc\n";
}
#endif

#define HYPH_DIR "/usr/share/hyphen"
#define HYPH_MAX_WORD 100

struct bl_hyphenator {
    HyphenDict *dict;
    int latin1;          /* dictionary in ISO 8859-1 (Debian's Dutch one) */
    char *path;          /* resolved path: hyph_en.dic and hyph_en_US.dic share */
    bl_hyphenator *next;
};

/* Process-wide, as the header promises: loaded dictionaries, and what each
 * language tag asked so far resolved to (NULL = none, so the file system is
 * probed once per tag, not once per paragraph). */
#define HYPH_TAGS 32
static pthread_mutex_t hyph_lock = PTHREAD_MUTEX_INITIALIZER;
static bl_hyphenator *hyph_loaded;
static struct {
    char tag[24];
    const bl_hyphenator *h;
} hyph_tags[HYPH_TAGS];
static size_t hyph_ntags;

static int is_lower_ascii(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return 0;
    for (; *s; s++)
        if (*s < 'a' || *s > 'z')
            return 0;
    return 1;
}

static int is_region(const char *s)
{
    size_t n = strlen(s);
    if (n == 2)
        return s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z';
    return n == 3 && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0'
           && s[2] <= '9';
}

/* Loads (or finds) the dictionary in file name; called with hyph_lock held. */
static const bl_hyphenator *hyph_load_locked(const char *name)
{
    char path[sizeof HYPH_DIR + 64];
    snprintf(path, sizeof path, "%s/%s", HYPH_DIR, name);
    char *real = realpath(path, NULL);
    if (!real)
        return NULL;
    for (bl_hyphenator *h = hyph_loaded; h; h = h->next)
        if (!strcmp(h->path, real)) {
            free(real);
            return h;
        }
    bl_hyphenator *h = calloc(1, sizeof *h);
    if (!h || !(h->dict = hnj_hyphen_load(real))) {
        free(h);
        free(real);
        return NULL;
    }
    h->path = real;
    h->latin1 = !h->dict->utf8 && (!strncmp(h->dict->cset, "ISO8859-1", 9)
                                   || !strncmp(h->dict->cset, "ISO-8859-1", 10));
    h->next = hyph_loaded;
    hyph_loaded = h;
    return h;
}

/* Tries hyph_ll_CC.dic, hyph_ll.dic, then the likely region's hyph_ll_RR.dic
 * ("en" -> en_Latn_US -> hyph_en_US.dic). */
static const bl_hyphenator *hyph_resolve_locked(const char *tag)
{
    char loc[ULOC_FULLNAME_CAPACITY], ll[ULOC_LANG_CAPACITY], cc[ULOC_COUNTRY_CAPACITY];
    char likely[ULOC_FULLNAME_CAPACITY], rr[ULOC_COUNTRY_CAPACITY];
    UErrorCode st = U_ZERO_ERROR;
    uloc_forLanguageTag(tag, loc, (int32_t)sizeof loc, NULL, &st);
    uloc_getLanguage(loc, ll, (int32_t)sizeof ll, &st);
    uloc_getCountry(loc, cc, (int32_t)sizeof cc, &st);
    if (U_FAILURE(st) || st == U_STRING_NOT_TERMINATED_WARNING || !is_lower_ascii(ll, 2, 3))
        return NULL;
    /* Hebrew and Arabic-script languages are never hyphenated (iw and ji are
     * the withdrawn codes for he and yi). */
    static const char *const never[] = { "he", "iw", "ar", "fa", "ur", "yi", "ji" };
    for (size_t i = 0; i < sizeof never / sizeof *never; i++)
        if (!strcmp(ll, never[i]))
            return NULL;
    if (!is_region(cc))
        cc[0] = 0;
    rr[0] = 0;
    uloc_addLikelySubtags(loc, likely, (int32_t)sizeof likely, &st);
    if (U_SUCCESS(st) && st != U_STRING_NOT_TERMINATED_WARNING)
        uloc_getCountry(likely, rr, (int32_t)sizeof rr, &st);
    if (U_FAILURE(st) || st == U_STRING_NOT_TERMINATED_WARNING || !is_region(rr))
        rr[0] = 0;

    char name[64];
    const bl_hyphenator *h = NULL;
    if (cc[0]) {
        snprintf(name, sizeof name, "hyph_%s_%s.dic", ll, cc);
        h = hyph_load_locked(name);
    }
    if (!h) {
        snprintf(name, sizeof name, "hyph_%s.dic", ll);
        h = hyph_load_locked(name);
    }
    if (!h && rr[0] && strcmp(rr, cc)) {
        snprintf(name, sizeof name, "hyph_%s_%s.dic", ll, rr);
        h = hyph_load_locked(name);
    }
    return h;
}

const bl_hyphenator *bl_hyphenator_get(const char *lang)
{
    if (!lang || !*lang)
        return NULL;
    size_t len = strlen(lang);
    pthread_mutex_lock(&hyph_lock);
    const bl_hyphenator *h = NULL;
    size_t i = 0;
    if (len < sizeof hyph_tags[0].tag) {
        while (i < hyph_ntags && strcmp(hyph_tags[i].tag, lang))
            i++;
        if (i < hyph_ntags) {
            h = hyph_tags[i].h;
            pthread_mutex_unlock(&hyph_lock);
            return h;
        }
    }
    h = hyph_resolve_locked(lang);
    if (len < sizeof hyph_tags[0].tag && hyph_ntags < HYPH_TAGS) {
        memcpy(hyph_tags[hyph_ntags].tag, lang, len + 1);
        hyph_tags[hyph_ntags].h = h;
        hyph_ntags++;
    }
    pthread_mutex_unlock(&hyph_lock);
    return h;
}

int bl_hyphenate(const bl_hyphenator *h, const char *word, size_t n, int lmin, int rmin,
                 uint8_t *out)
{
    if (!out || (n && !word))
        return -1;
    memset(out, 0, n + 1);
    if (!h || n == 0 || n > HYPH_MAX_WORD)
        return 0;

    /* The patterns are lower case, so the word is lowered into buf.  Simple
     * case mapping is one code point to one, so libhyphen's character
     * positions still index the original characters even where the byte
     * length changes (U+0130 to i): off[] maps them back to bytes of word. */
    char buf[4 * HYPH_MAX_WORD + 1];
    size_t off[HYPH_MAX_WORD + 1];
    size_t nch = 0, blen = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int len = bl_utf8_decode(word + i, n - i, &cp);
        if (!len || u_isdigit((UChar32)cp))
            return 0;
        cp = (uint32_t)u_tolower((UChar32)cp);
        if (h->dict->utf8) {
            blen += (size_t)bl_utf8_encode(cp, buf + blen);
        } else if (cp < 0x80 || (h->latin1 && cp < 0x100)) {
            buf[blen++] = (char)cp; /* one byte per character */
        } else {
            return 0; /* not in the dictionary's character set */
        }
        off[nch++] = i;
        i += (size_t)len;
    }
    buf[blen] = 0; /* libhyphen runs strstr() on the word (NOHYPHEN) */
    off[nch] = n;

    /* libhyphen's buffer is word_size + 5; with a UTF-8 dictionary the result
     * is indexed by character (hnj_hyphen_norm), otherwise by byte, and in
     * both cases hyphens[k] odd means "after character k". */
    char hyphens[sizeof buf + 5];
    char **rep = NULL;
    int *pos = NULL, *cut = NULL;
    /* hnj_hyphen_hyphenate3 raises lmin/rmin to the dictionary's
     * LEFTHYPHENMIN/RIGHTHYPHENMIN, which is still "at least lmin". */
    int count = 0;
    if (hnj_hyphen_hyphenate3(h->dict, buf, (int)blen, hyphens, NULL, &rep, &pos, &cut, lmin,
                              rmin, 0, 0))
        count = -1;
    size_t lm = lmin > 1 ? (size_t)lmin : 1, rm = rmin > 1 ? (size_t)rmin : 1;
    for (size_t k = 0; count >= 0 && k + 1 < nch; k++) {
        /* Points with a replacement (German "Schiff-fahrt") change the
         * spelling, which a plain break point cannot express. */
        if (!(hyphens[k] & 1) || (rep && rep[k]))
            continue;
        if (k + 1 < lm || nch - (k + 1) < rm)
            continue;
        out[off[k + 1]] = 1;
        count++;
    }
    if (rep) {
        for (size_t k = 0; k < blen; k++)
            free(rep[k]);
        free(rep);
    }
    free(pos);
    free(cut);
    return count;
}

void bl_hyphen_shutdown(void)
{
    pthread_mutex_lock(&hyph_lock);
    while (hyph_loaded) {
        bl_hyphenator *h = hyph_loaded;
        hyph_loaded = h->next;
        hnj_hyphen_free(h->dict);
        free(h->path);
        free(h);
    }
    hyph_ntags = 0;
    pthread_mutex_unlock(&hyph_lock);
}
