/* text-bidi.c - UAX #9 embedding levels and reordering (on ICU's character
 * properties), UAX #14 line-break opportunities (ICU line break iterator over UTF-8),
 * and hyphenation points (libhyphen).  Offsets in and out are UTF-8 bytes. */
#include "text-bidi.h"
#include "icu.h"
#include "base.h"
#include "text-hyphcache.h"

#include <hyphen.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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
 * ICU 72's ubidi fails 30 lines of BidiCharacterTest.txt (15.0), all from the
 * Unicode 8.0 clarifications: overrides applied to isolates and to paired
 * brackets, NSMs after paired brackets, and the BD16 bracket-stack limit.  It
 * also reports every level as the paragraph level for unidirectional text,
 * and applies L1 to the whole paragraph.  Debian 12's FriBidi 1.0.8 passes
 * both conformance files but reads freed memory on deeply nested embeddings
 * (fixed upstream in 1.0.11, not in Debian 12), disagrees with ICU and with
 * this code on about 0.4% of random strings (isolates, bracket pairs), and
 * carries Unicode 10 data.  So the rules are implemented here, on ICU's
 * character properties (Bidi_Class, Bidi_Paired_Bracket and its
 * type).  Everything works on code points; levels are copied to every byte
 * at the end.  Characters removed by X9 are skipped when the rules look at
 * neighbours and get the level of the character before them (so a ZWJ inside
 * an Arabic word stays in the word's run). */

enum {
    BC_L = U_LEFT_TO_RIGHT, BC_R = U_RIGHT_TO_LEFT, BC_EN = U_EUROPEAN_NUMBER,
    BC_ES = U_EUROPEAN_NUMBER_SEPARATOR, BC_ET = U_EUROPEAN_NUMBER_TERMINATOR,
    BC_AN = U_ARABIC_NUMBER, BC_CS = U_COMMON_NUMBER_SEPARATOR, BC_B = U_BLOCK_SEPARATOR,
    BC_S = U_SEGMENT_SEPARATOR, BC_WS = U_WHITE_SPACE_NEUTRAL, BC_ON = U_OTHER_NEUTRAL,
    BC_LRE = U_LEFT_TO_RIGHT_EMBEDDING, BC_LRO = U_LEFT_TO_RIGHT_OVERRIDE,
    BC_AL = U_RIGHT_TO_LEFT_ARABIC, BC_RLE = U_RIGHT_TO_LEFT_EMBEDDING,
    BC_RLO = U_RIGHT_TO_LEFT_OVERRIDE, BC_PDF = U_POP_DIRECTIONAL_FORMAT,
    BC_NSM = U_DIR_NON_SPACING_MARK, BC_BN = U_BOUNDARY_NEUTRAL,
    BC_FSI = U_FIRST_STRONG_ISOLATE, BC_LRI = U_LEFT_TO_RIGHT_ISOLATE,
    BC_RLI = U_RIGHT_TO_LEFT_ISOLATE, BC_PDI = U_POP_DIRECTIONAL_ISOLATE,
};
#define BIT(t) (1u << (t))
#define MAX_DEPTH 125   /* BD2 */
#define MAX_BRACKETS 63 /* BD16 */

static int is_removed(unsigned t) /* X9 */
{
    return (BIT(t) & (BIT(BC_LRE) | BIT(BC_RLE) | BIT(BC_LRO) | BIT(BC_RLO) | BIT(BC_PDF)
                      | BIT(BC_BN))) != 0;
}
static int is_isolate_initiator(unsigned t)
{
    return t == BC_LRI || t == BC_RLI || t == BC_FSI;
}
static int is_ni(unsigned t) /* the neutrals and isolates of N1 */
{
    return (BIT(t) & (BIT(BC_B) | BIT(BC_S) | BIT(BC_WS) | BIT(BC_ON) | BIT(BC_LRI) | BIT(BC_RLI)
                      | BIT(BC_FSI) | BIT(BC_PDI))) != 0;
}
/* Strong direction for N0 and N1 (EN and AN count as R), or BC_ON. */
static unsigned strong_dir(unsigned t)
{
    return t == BC_L ? BC_L : t == BC_R || t == BC_EN || t == BC_AN ? BC_R : BC_ON;
}

struct uba {
    uint32_t *cp;
    int32_t *match; /* BD9: initiator -> its matching PDI, PDI -> its initiator, or -1 */
    int32_t *seq;   /* the current isolating run sequence (indexes) */
    int32_t *pair;  /* per sequence position: position of the closing bracket, or -1 */
    uint8_t *otype; /* Bidi_Class */
    uint8_t *type;  /* the type as the rules rewrite it */
    uint8_t *nsm;   /* 1 when the type was NSM before W1 (for N0) */
    uint8_t *level; /* embedding level from X1-X8 (level runs are made of these) */
    uint8_t *out;   /* resolved level (I1-I2) */
};

/* P2-P3 on [from, to): 1 for R or AL first, 0 for L, -1 when none (text
 * between an isolate initiator and its matching PDI is skipped). */
static int first_strong(const struct uba *u, int32_t from, int32_t to)
{
    for (int32_t i = from; i < to; i++) {
        unsigned t = u->otype[i];
        if (t == BC_L)
            return 0;
        if (t == BC_R || t == BC_AL)
            return 1;
        if (is_isolate_initiator(t)) {
            if (u->match[i] < 0)
                return -1;
            i = u->match[i];
        }
    }
    return -1;
}

/* X1-X8 for the paragraph [ps, pe). */
static void explicit_levels(struct uba *u, int32_t ps, int32_t pe, uint8_t para)
{
    struct {
        uint8_t level, override, isolate;
    } stack[MAX_DEPTH + 2];
    int sp = 0;
    stack[0].level = para;
    stack[0].override = BC_ON;
    stack[0].isolate = 0;
    int overflow_isolates = 0, overflow_embeddings = 0, valid_isolates = 0;
    for (int32_t i = ps; i < pe; i++) {
        unsigned t = u->otype[i];
        unsigned top = stack[sp].level;
        u->level[i] = (uint8_t)top;
        switch (t) {
        case BC_RLE:
        case BC_LRE:
        case BC_RLO:
        case BC_LRO: { /* X2-X5 */
            unsigned next = t == BC_RLE || t == BC_RLO ? (top + 1) | 1 : (top + 2) & ~1u;
            if (next <= MAX_DEPTH && !overflow_isolates && !overflow_embeddings) {
                sp++;
                stack[sp].level = (uint8_t)next;
                stack[sp].override = t == BC_RLO ? BC_R : t == BC_LRO ? BC_L : BC_ON;
                stack[sp].isolate = 0;
            } else if (!overflow_isolates) {
                overflow_embeddings++;
            }
            break;
        }
        case BC_RLI:
        case BC_LRI:
        case BC_FSI: { /* X5a-X5c */
            if (t == BC_FSI) {
                int32_t end = u->match[i] >= 0 ? u->match[i] : pe;
                t = first_strong(u, i + 1, end) == 1 ? BC_RLI : BC_LRI;
            }
            u->type[i] = (uint8_t)(stack[sp].override != BC_ON ? stack[sp].override : t);
            unsigned next = t == BC_RLI ? (top + 1) | 1 : (top + 2) & ~1u;
            if (next <= MAX_DEPTH && !overflow_isolates && !overflow_embeddings) {
                valid_isolates++;
                sp++;
                stack[sp].level = (uint8_t)next;
                stack[sp].override = BC_ON;
                stack[sp].isolate = 1;
            } else {
                overflow_isolates++;
            }
            break;
        }
        case BC_PDI: /* X6a */
            if (overflow_isolates) {
                overflow_isolates--;
            } else if (valid_isolates) {
                overflow_embeddings = 0;
                while (!stack[sp].isolate)
                    sp--;
                sp--;
                valid_isolates--;
            }
            u->level[i] = stack[sp].level;
            if (stack[sp].override != BC_ON)
                u->type[i] = stack[sp].override;
            break;
        case BC_PDF: /* X7 (a PDF inside an overflowed isolate does nothing) */
            if (overflow_isolates)
                break;
            if (overflow_embeddings)
                overflow_embeddings--;
            else if (!stack[sp].isolate && sp > 0)
                sp--;
            break;
        case BC_B: /* X8 */
            u->level[i] = para;
            break;
        case BC_BN:
            break;
        default: /* X6 */
            if (stack[sp].override != BC_ON)
                u->type[i] = stack[sp].override;
            break;
        }
    }
}

/* Appends to seq the level run (BD7, X9-removed characters skipped) that
 * starts at i; returns the index just past its last character. */
static int32_t take_run(struct uba *u, int32_t i, int32_t pe, int32_t *m)
{
    uint8_t lvl = u->level[i];
    int32_t end = i;
    for (; i < pe; i++) {
        if (is_removed(u->otype[i]))
            continue;
        if (u->level[i] != lvl)
            break;
        if (m)
            u->seq[(*m)++] = i;
        end = i + 1;
    }
    return end;
}

static uint32_t canonical_bracket(uint32_t c)
{
    /* BD16 matches canonical equivalents: U+2329/U+232A decompose to U+3008/U+3009. */
    return c == 0x2329 ? 0x3008 : c == 0x232A ? 0x3009 : c;
}

/* N0 on the sequence seq[0, m) of embedding direction e. */
static void resolve_brackets(struct uba *u, int32_t m, unsigned e, unsigned sos)
{
    struct {
        int32_t pos;
        uint32_t closer;
    } opener[MAX_BRACKETS];
    int nopen = 0, any = 0;
    for (int32_t k = 0; k < m; k++)
        u->pair[k] = -1;
    for (int32_t k = 0; k < m; k++) { /* BD16 */
        int32_t i = u->seq[k];
        if (u->type[i] != BC_ON)
            continue;
        int bpt = bl_icu()->u_getIntPropertyValue((UChar32)u->cp[i], UCHAR_BIDI_PAIRED_BRACKET_TYPE);
        if (bpt == U_BPT_OPEN) {
            if (nopen == MAX_BRACKETS)
                return; /* stack full: no pairs at all in this sequence */
            opener[nopen].pos = k;
            opener[nopen].closer =
                canonical_bracket((uint32_t)bl_icu()->u_getBidiPairedBracket((UChar32)u->cp[i]));
            nopen++;
        } else if (bpt == U_BPT_CLOSE) {
            uint32_t c = canonical_bracket(u->cp[i]);
            for (int s = nopen - 1; s >= 0; s--)
                if (opener[s].closer == c) {
                    u->pair[opener[s].pos] = k;
                    nopen = s;
                    any = 1;
                    break;
                }
        }
    }
    if (!any)
        return;
    unsigned opp = e == BC_L ? BC_R : BC_L;
    for (int32_t k = 0; k < m; k++) { /* pairs in order of their opening bracket */
        int32_t c = u->pair[k];
        if (c < 0)
            continue;
        int found_e = 0, found_opp = 0;
        for (int32_t j = k + 1; j < c && !found_e; j++) {
            unsigned d = strong_dir(u->type[u->seq[j]]);
            found_e = d == e;
            found_opp |= d == opp;
        }
        unsigned set;
        if (found_e) {
            set = e; /* N0 b */
        } else if (found_opp) { /* N0 c: look for context before the pair */
            unsigned ctx = sos;
            for (int32_t j = k - 1; j >= 0; j--) {
                unsigned d = strong_dir(u->type[u->seq[j]]);
                if (d != BC_ON) {
                    ctx = d;
                    break;
                }
            }
            set = ctx == opp ? opp : e;
        } else {
            continue; /* N0 d */
        }
        /* Both brackets, and the NSMs that followed them before W1. */
        int32_t ends[2] = { k, c };
        for (int b = 0; b < 2; b++) {
            u->type[u->seq[ends[b]]] = (uint8_t)set;
            for (int32_t j = ends[b] + 1; j < m && u->nsm[u->seq[j]]; j++)
                u->type[u->seq[j]] = (uint8_t)set;
        }
    }
}

/* W1-I2 on one isolating run sequence seq[0, m) (BD13, X10). */
static void resolve_sequence(struct uba *u, int32_t m, int32_t ps, int32_t pe, uint8_t para)
{
    int32_t *seq = u->seq;
    uint8_t *type = u->type;
    unsigned lvl = u->level[seq[0]];
    /* X10: sos and eos from the higher of the adjacent levels. */
    int32_t p = seq[0] - 1;
    while (p >= ps && is_removed(u->otype[p]))
        p--;
    unsigned before = p >= ps ? u->level[p] : para;
    int32_t last = seq[m - 1];
    unsigned after = para;
    if (!is_isolate_initiator(u->otype[last])) {
        int32_t q = last + 1;
        while (q < pe && is_removed(u->otype[q]))
            q++;
        if (q < pe)
            after = u->level[q];
    }
    unsigned sos = ((before > lvl ? before : lvl) & 1) ? BC_R : BC_L;
    unsigned eos = ((after > lvl ? after : lvl) & 1) ? BC_R : BC_L;
    unsigned e = (lvl & 1) ? BC_R : BC_L;

    /* W1 (and remember the NSMs for N0) */
    unsigned prev = sos;
    for (int32_t k = 0; k < m; k++) {
        int32_t i = seq[k];
        unsigned t = type[i];
        u->nsm[i] = t == BC_NSM;
        if (t == BC_NSM)
            type[i] = (uint8_t)(t = prev);
        prev = is_isolate_initiator(t) || t == BC_PDI ? BC_ON : t;
    }
    /* W2, W3 */
    unsigned strong = sos;
    for (int32_t k = 0; k < m; k++) {
        int32_t i = seq[k];
        unsigned t = type[i];
        if (t == BC_L || t == BC_R || t == BC_AL)
            strong = t;
        else if (t == BC_EN && strong == BC_AL)
            type[i] = BC_AN;
        if (t == BC_AL)
            type[i] = BC_R;
    }
    /* W4 */
    for (int32_t k = 1; k + 1 < m; k++) {
        unsigned t = type[seq[k]], a = type[seq[k - 1]], b = type[seq[k + 1]];
        if (t == BC_ES && a == BC_EN && b == BC_EN)
            type[seq[k]] = BC_EN;
        else if (t == BC_CS && a == b && (a == BC_EN || a == BC_AN))
            type[seq[k]] = (uint8_t)a;
    }
    /* W5 */
    for (int32_t k = 0; k < m;) {
        if (type[seq[k]] != BC_ET) {
            k++;
            continue;
        }
        int32_t j = k;
        while (j < m && type[seq[j]] == BC_ET)
            j++;
        if ((k > 0 && type[seq[k - 1]] == BC_EN) || (j < m && type[seq[j]] == BC_EN))
            for (; k < j; k++)
                type[seq[k]] = BC_EN;
        k = j;
    }
    /* W6, W7 */
    strong = sos;
    for (int32_t k = 0; k < m; k++) {
        int32_t i = seq[k];
        unsigned t = type[i];
        if (t == BC_ES || t == BC_ET || t == BC_CS)
            type[i] = BC_ON;
        else if (t == BC_L || t == BC_R)
            strong = t;
        else if (t == BC_EN && strong == BC_L)
            type[i] = BC_L;
    }
    resolve_brackets(u, m, e, sos); /* N0 */
    /* N1, N2 */
    for (int32_t k = 0; k < m;) {
        if (!is_ni(type[seq[k]])) {
            k++;
            continue;
        }
        int32_t j = k;
        while (j < m && is_ni(type[seq[j]]))
            j++;
        unsigned a = k > 0 ? strong_dir(type[seq[k - 1]]) : sos;
        unsigned b = j < m ? strong_dir(type[seq[j]]) : eos;
        unsigned set = a == b ? a : e;
        for (; k < j; k++)
            type[seq[k]] = (uint8_t)set;
    }
    /* I1, I2 */
    for (int32_t k = 0; k < m; k++) {
        int32_t i = seq[k];
        unsigned t = type[i];
        if (!(lvl & 1))
            u->out[i] = (uint8_t)(lvl + (t == BC_R ? 1 : t == BC_AN || t == BC_EN ? 2 : 0));
        else
            u->out[i] = (uint8_t)(lvl + (t == BC_L || t == BC_EN || t == BC_AN));
    }
}

/* One paragraph [ps, pe) (P1: a B ends it).  Returns its level. */
static uint8_t resolve_paragraph(struct uba *u, int32_t ps, int32_t pe, int base)
{
    /* BD9, with seq as the stack of open isolate initiators */
    int32_t nopen = 0;
    for (int32_t i = ps; i < pe; i++) {
        unsigned t = u->otype[i];
        u->match[i] = -1;
        if (is_isolate_initiator(t)) {
            u->seq[nopen++] = i;
        } else if (t == BC_PDI && nopen) {
            int32_t j = u->seq[--nopen];
            u->match[j] = i;
            u->match[i] = j;
        }
    }
    uint8_t para = base == BL_DIR_RTL ? 1 : 0;
    if (base == BL_DIR_AUTO) /* P2, P3 */
        para = first_strong(u, ps, pe) == 1;
    explicit_levels(u, ps, pe, para);

    /* X10: each level run that does not continue an isolate (start with a
     * matched PDI) starts an isolating run sequence, which goes on at the
     * matching PDI whenever a run ends with an isolate initiator. */
    for (int32_t i = ps; i < pe;) {
        if (is_removed(u->otype[i])) {
            i++;
            continue;
        }
        if (u->otype[i] == BC_PDI && u->match[i] >= 0) {
            i = take_run(u, i, pe, NULL);
            continue;
        }
        int32_t m = 0;
        int32_t next = take_run(u, i, pe, &m);
        for (;;) {
            int32_t last = u->seq[m - 1];
            if (!is_isolate_initiator(u->otype[last]) || u->match[last] < 0)
                break;
            take_run(u, u->match[last], pe, &m);
        }
        resolve_sequence(u, m, ps, pe, para);
        i = next;
    }
    /* Removed characters take the level of the character before them. */
    uint8_t prev = para;
    int32_t first = -1;
    for (int32_t i = ps; i < pe; i++) {
        if (!is_removed(u->otype[i])) {
            prev = u->out[i];
            if (first < 0)
                first = i;
        } else {
            u->out[i] = prev;
        }
    }
    for (int32_t i = ps; first > ps && i < first; i++)
        u->out[i] = u->out[first];
    return para;
}

int bl_bidi_levels(const char *s, size_t n, int base, uint8_t *levels, uint8_t *para_level)
{
    if (!levels || !para_level || (n && !s) || base < BL_DIR_LTR || base > BL_DIR_AUTO)
        return -1;
    /* Work arrays for up to n characters (4 words and 5 bytes each), on
     * the stack for short paragraphs. */
    enum { SMALL = 256, PER = 4 * sizeof(int32_t) + 5 };
    if (n > INT32_MAX / 2 || n > SIZE_MAX / PER)
        return -1;
    if (base != BL_DIR_RTL) {
        /* The common left-to-right paragraph: with no R, AL or AN and no
         * explicit formatting character, every character resolves to level
         * 0 (W7 makes European digits L after sos L; neutrals between L are
         * L; P2-P3 find L or nothing).  ASCII never has them; curly quotes,
         * dashes and accented letters are looked up. */
        size_t i = 0;
        while (i < n) {
            if (!((unsigned char)s[i] & 0x80)) {
                i++;
                continue;
            }
            uint32_t cp;
            size_t l = next_char(s, n, i, &cp);
            unsigned t = (unsigned)bl_icu()->u_charDirection((UChar32)cp);
            if (t == BC_R || t == BC_AL || t == BC_AN || t == BC_LRE || t == BC_RLE || t == BC_LRO ||
                t == BC_RLO || t == BC_PDF || t == BC_LRI || t == BC_RLI || t == BC_FSI || t == BC_PDI)
                break;
            i += l;
        }
        if (i == n) {
            memset(levels, 0, n);
            *para_level = 0;
            return 0;
        }
    }
    uint32_t small[SMALL * PER / sizeof(uint32_t) + 1]; /* aligned for the words */
    unsigned char *mem = n <= SMALL ? (unsigned char *)small : malloc(n * PER);
    if (!mem)
        return -1;
    struct uba u;
    u.cp = (uint32_t *)(void *)mem;
    u.match = (int32_t *)(void *)(mem + n * sizeof(uint32_t));
    u.seq = u.match + n;
    u.pair = u.seq + n;
    u.otype = (uint8_t *)(u.pair + n);
    u.type = u.otype + n;
    u.nsm = u.type + n;
    u.level = u.nsm + n;
    u.out = u.level + n;

    int32_t nch = 0;
    unsigned seen = 0;
    for (size_t i = 0; i < n; nch++) {
        uint32_t cp;
        i += next_char(s, n, i, &cp);
        unsigned t = (unsigned)bl_icu()->u_charDirection((UChar32)cp);
        if (t > BC_PDI)
            t = BC_ON;
        u.cp[nch] = cp;
        u.otype[nch] = u.type[nch] = (uint8_t)t;
        seen |= BIT(t);
    }

    const unsigned numbers_or_explicit = BIT(BC_EN) | BIT(BC_AN) | BIT(BC_LRE) | BIT(BC_RLE)
                                         | BIT(BC_LRO) | BIT(BC_RLO) | BIT(BC_PDF)
                                         | BIT(BC_LRI) | BIT(BC_RLI) | BIT(BC_FSI) | BIT(BC_PDI);
    const unsigned rtl = BIT(BC_R) | BIT(BC_AL);
    uint8_t para;
    if (base != BL_DIR_RTL && !(seen & (rtl | (numbers_or_explicit & ~BIT(BC_EN))))) {
        /* No R, AL, AN or explicit formatting: everything resolves to L
         * (EN by W7, neutrals by N1) at level 0. */
        memset(u.out, 0, (size_t)nch);
        para = 0;
    } else if (base != BL_DIR_LTR && !(seen & (BIT(BC_L) | numbers_or_explicit))
               && (base == BL_DIR_RTL || ((seen & rtl) && !(seen & BIT(BC_B))))) {
        /* Only R, AL and neutrals in an RTL paragraph: all level 1.  (With
         * auto direction a second paragraph, after a B, might have no strong
         * character and be LTR.) */
        memset(u.out, 1, (size_t)nch);
        para = 1;
    } else {
        para = 0xFF;
        for (int32_t ps = 0; ps < nch;) { /* P1 */
            int32_t pe = ps;
            while (pe < nch && u.otype[pe] != BC_B)
                pe++;
            if (pe < nch)
                pe++;
            uint8_t p = resolve_paragraph(&u, ps, pe, base);
            if (para == 0xFF)
                para = p;
            ps = pe;
        }
        if (para == 0xFF)
            para = base == BL_DIR_RTL;
    }
    *para_level = para;
    int32_t k = 0;
    for (size_t i = 0; i < n; k++) {
        uint32_t cp;
        size_t len = next_char(s, n, i, &cp);
        memset(levels + i, u.out[k], len);
        i += len;
    }
    if (mem != (unsigned char *)small)
        free(mem);
    return 0;
}

/* ---- UAX #9 L1 ---- */

enum { L1_KEEP, L1_SPACE, L1_SEP };

/* L1 resets separators (S, B) and the whitespace before them and at the end
 * of the line.  "Whitespace" is WS plus the isolate formatting characters
 * (FSI, LRI, RLI, PDI); UAX #9 section 5.2 (retaining BN and explicit
 * formatting characters) adds BN and LRE/RLE/LRO/RLO/PDF to those sequences. */
static int l1_class(uint32_t cp)
{
    switch (bl_icu()->u_charDirection((UChar32)cp)) {
    case U_SEGMENT_SEPARATOR:
    case U_BLOCK_SEPARATOR:
        return L1_SEP;
    case U_WHITE_SPACE_NEUTRAL:
    case U_FIRST_STRONG_ISOLATE:
    case U_LEFT_TO_RIGHT_ISOLATE:
    case U_RIGHT_TO_LEFT_ISOLATE:
    case U_POP_DIRECTIONAL_ISOLATE:
    case U_BOUNDARY_NEUTRAL:
    case U_LEFT_TO_RIGHT_EMBEDDING:
    case U_RIGHT_TO_LEFT_EMBEDDING:
    case U_LEFT_TO_RIGHT_OVERRIDE:
    case U_RIGHT_TO_LEFT_OVERRIDE:
    case U_POP_DIRECTIONAL_FORMAT:
        return L1_SPACE;
    default:
        return L1_KEEP;
    }
}

/* The same classes for ASCII, which is most of what a line holds (from
 * UnicodeData.txt: 0009, 000B, 001F are S; 000A, 000D, 001C-001E are B;
 * 000C and 0020 are WS; the other controls are BN). */
#define K L1_KEEP
#define W L1_SPACE
#define P L1_SEP
static const uint8_t l1_ascii[128] = {
    W, W, W, W, W, W, W, W, W, P, P, P, W, P, W, W, /* 00-0F */
    W, W, W, W, W, W, W, W, W, W, W, W, P, P, P, P, /* 10-1F */
    W, K, K, K, K, K, K, K, K, K, K, K, K, K, K, K, /* 20-2F */
    K, K, K, K, K, K, K, K, K, K, K, K, K, K, K, K,
    K, K, K, K, K, K, K, K, K, K, K, K, K, K, K, K,
    K, K, K, K, K, K, K, K, K, K, K, K, K, K, K, K,
    K, K, K, K, K, K, K, K, K, K, K, K, K, K, K, K,
    K, K, K, K, K, K, K, K, K, K, K, K, K, K, K, W, /* 70-7F */
};
#undef K
#undef W
#undef P

void bl_bidi_line_levels(const char *s, const uint8_t *levels, size_t start, size_t end,
                         uint8_t para_level, uint8_t *line_levels)
{
    if (end <= start)
        return;
    size_t n = end - start;
    memcpy(line_levels, levels + start, n);
    size_t run = SIZE_MAX; /* start of the current whitespace sequence */
    for (size_t i = start; i < end;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = 1;
        int cls;
        if (c < 0x80) {
            cls = l1_ascii[c];
        } else {
            uint32_t cp;
            len = next_char(s, end, i, &cp);
            cls = l1_class(cp);
        }
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
        bl_icu()->uloc_forLanguageTag(tag, loc, (int32_t)sizeof loc, NULL, &st);
        if (U_FAILURE(st) || st == U_STRING_NOT_TERMINATED_WARNING)
            loc[0] = 0;
        st = U_ZERO_ERROR;
    }
    UBreakIterator *bi = bl_icu()->ubrk_open(UBRK_LINE, loc, NULL, 0, &st);
    if (U_FAILURE(st)) {
        bl_icu()->ubrk_close(bi);
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
        bi = bl_icu()->ubrk_clone(bp->proto, &st);
        if (U_FAILURE(st)) {
            bl_icu()->ubrk_close(bi);
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
    bl_icu()->ubrk_close(bi);
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
    bl_icu()->utext_openUTF8(&ut, s, (int64_t)n, &st);
    bl_icu()->ubrk_setUText(bi, &ut, &st);
    int ret = -1;
    if (U_SUCCESS(st)) {
        bl_icu()->ubrk_first(bi);
        for (int32_t b; (b = bl_icu()->ubrk_next(bi)) != UBRK_DONE && (size_t)b < n;)
            out[b] = bl_icu()->ubrk_getRuleStatus(bi) >= UBRK_LINE_HARD ? BL_BRK_MANDATORY
                                                              : BL_BRK_ALLOWED;
        ret = 0;
    }
    bl_icu()->utext_close(&ut);
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
    HyphenDict *dict;    /* NULL: the file did not load */
    int how;             /* BL_HC_HIT: rebuilt from the cache, an arena that
                            bl_hyphcache_free frees (never hnj_hyphen_free) */
    int latin1;          /* dictionary in ISO 8859-1 (Debian's Dutch one) */
    int loading;         /* a thread is loading it (hyph_lock; hyph_cond when done) */
    char *path;          /* resolved path: hyph_en.dic and hyph_en_US.dic share */
    bl_hyphenator *next;
};

/* Process-wide, as the header promises: loaded dictionaries, and what each
 * language tag asked so far resolved to (NULL = none, so the file system is
 * probed once per tag, not once per paragraph).  The lock guards the lists
 * only: a dictionary loads, and a tag is resolved, without it, so that one
 * language never waits for another's dictionary (the two columns of a
 * French/Dutch bulletin); whoever asks for the same one meanwhile waits on
 * hyph_cond. */
#define HYPH_TAGS 32
static pthread_mutex_t hyph_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hyph_cond = PTHREAD_COND_INITIALIZER;
static bl_hyphenator *hyph_loaded;
static struct {
    char tag[24];
    const bl_hyphenator *h;
    int resolving; /* a thread is resolving it */
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

void (*bl_hyphen_load_hook)(const char *path);

/* Loads (or finds, or waits for another thread loading) the dictionary in
 * file name, through the compiled dictionary cache (text-hyphcache.c);
 * called without hyph_lock. */
static const bl_hyphenator *hyph_load(const char *name)
{
    char path[sizeof HYPH_DIR + 64];
    snprintf(path, sizeof path, "%s/%s", HYPH_DIR, name);
    char *real = realpath(path, NULL);
    if (!real)
        return NULL;
    pthread_mutex_lock(&hyph_lock);
    bl_hyphenator *h;
    for (;;) {
        for (h = hyph_loaded; h && strcmp(h->path, real); h = h->next)
            ;
        if (!h || !h->loading)
            break;
        pthread_cond_wait(&hyph_cond, &hyph_lock);
    }
    if (h) {
        pthread_mutex_unlock(&hyph_lock);
        free(real);
        return h->dict ? h : NULL;
    }
    if (!(h = calloc(1, sizeof *h))) {
        pthread_mutex_unlock(&hyph_lock);
        free(real);
        return NULL;
    }
    h->path = real;
    h->loading = 1;
    h->next = hyph_loaded;
    hyph_loaded = h;
    pthread_mutex_unlock(&hyph_lock);

    if (bl_hyphen_load_hook)
        bl_hyphen_load_hook(real);
    int how = BL_HC_FAILED;
    HyphenDict *d = bl_hyphcache_load(real, &how); /* milliseconds: unlocked */

    pthread_mutex_lock(&hyph_lock);
    h->dict = d;
    h->how = how;
    h->latin1 = d && !d->utf8 && (!strncmp(d->cset, "ISO8859-1", 9) || !strncmp(d->cset, "ISO-8859-1", 10));
    h->loading = 0;
    pthread_cond_broadcast(&hyph_cond);
    pthread_mutex_unlock(&hyph_lock);
    return d ? h : NULL;
}

/* Tries hyph_ll_CC.dic, hyph_ll.dic, then the likely region's hyph_ll_RR.dic
 * ("en" -> en_Latn_US -> hyph_en_US.dic). */
/* Hebrew and Arabic-script languages are never hyphenated (iw and ji are the
 * withdrawn codes for he and yi).  ll: a primary language subtag of n bytes. */
static int never_hyphenated(const char *ll, size_t n)
{
    static const char *const never[] = {"he", "iw", "ar", "fa", "ur", "yi", "ji"};
    for (size_t i = 0; i < sizeof never / sizeof *never; i++)
        if (n == 2 && !strncmp(ll, never[i], 2))
            return 1;
    return 0;
}

static const bl_hyphenator *hyph_resolve(const char *tag)
{
    char loc[ULOC_FULLNAME_CAPACITY], ll[ULOC_LANG_CAPACITY], cc[ULOC_COUNTRY_CAPACITY];
    char likely[ULOC_FULLNAME_CAPACITY], rr[ULOC_COUNTRY_CAPACITY];
    UErrorCode st = U_ZERO_ERROR;
    bl_icu()->uloc_forLanguageTag(tag, loc, (int32_t)sizeof loc, NULL, &st);
    bl_icu()->uloc_getLanguage(loc, ll, (int32_t)sizeof ll, &st);
    bl_icu()->uloc_getCountry(loc, cc, (int32_t)sizeof cc, &st);
    if (U_FAILURE(st) || st == U_STRING_NOT_TERMINATED_WARNING || !is_lower_ascii(ll, 2, 3))
        return NULL;
    if (never_hyphenated(ll, strlen(ll)))
        return NULL;
    if (!is_region(cc))
        cc[0] = 0;

    char name[64];
    const bl_hyphenator *h = NULL;
    if (cc[0]) {
        snprintf(name, sizeof name, "hyph_%s_%s.dic", ll, cc);
        h = hyph_load(name);
    }
    if (!h) {
        snprintf(name, sizeof name, "hyph_%s.dic", ll);
        h = hyph_load(name);
    }
    if (h)
        return h;
    /* Only now the likely region: ICU loads its likely-subtags data for
     * that (0.13 ms), which "en" and "fr" (hyph_en.dic, hyph_fr.dic) need not. */
    rr[0] = 0;
    bl_icu()->uloc_addLikelySubtags(loc, likely, (int32_t)sizeof likely, &st);
    if (U_SUCCESS(st) && st != U_STRING_NOT_TERMINATED_WARNING)
        bl_icu()->uloc_getCountry(likely, rr, (int32_t)sizeof rr, &st);
    if (U_FAILURE(st) || st == U_STRING_NOT_TERMINATED_WARNING || !is_region(rr))
        rr[0] = 0;
    if (rr[0] && strcmp(rr, cc)) {
        snprintf(name, sizeof name, "hyph_%s_%s.dic", ll, rr);
        h = hyph_load(name);
    }
    return h;
}

const bl_hyphenator *bl_hyphenator_get(const char *lang)
{
    /* Hebrew and Arabic need no dictionary, nor the lists' lock. */
    if (!lang || !*lang || never_hyphenated(lang, strcspn(lang, "-_")))
        return NULL;
    size_t len = strlen(lang), i = 0;
    long slot = -1;
    pthread_mutex_lock(&hyph_lock);
    if (len < sizeof hyph_tags[0].tag) {
        for (;;) {
            for (i = 0; i < hyph_ntags && strcmp(hyph_tags[i].tag, lang); i++)
                ;
            if (i == hyph_ntags || !hyph_tags[i].resolving)
                break;
            pthread_cond_wait(&hyph_cond, &hyph_lock);
        }
        if (i < hyph_ntags) {
            const bl_hyphenator *h = hyph_tags[i].h;
            pthread_mutex_unlock(&hyph_lock);
            return h;
        }
        if (hyph_ntags < HYPH_TAGS) { /* resolved by this thread; others asking wait */
            slot = (long)hyph_ntags++;
            memcpy(hyph_tags[slot].tag, lang, len + 1);
            hyph_tags[slot].h = NULL;
            hyph_tags[slot].resolving = 1;
        }
    }
    pthread_mutex_unlock(&hyph_lock);
    const bl_hyphenator *h = hyph_resolve(lang);
    if (slot >= 0) {
        pthread_mutex_lock(&hyph_lock);
        hyph_tags[slot].h = h;
        hyph_tags[slot].resolving = 0;
        pthread_cond_broadcast(&hyph_cond);
        pthread_mutex_unlock(&hyph_lock);
    }
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
        if (!len || bl_icu()->u_isdigit((UChar32)cp))
            return 0;
        cp = (uint32_t)bl_icu()->u_tolower((UChar32)cp);
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

/* Loading a dictionary takes milliseconds (libhyphen builds its automaton
 * from the text patterns; about 1 ms from a cache entry); a background thread
 * lets that overlap with reading fonts and shaping.  At most a few prefetches
 * run at a time. */
#define HYPH_PREFETCH 4
static pthread_mutex_t prefetch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t prefetch_thread[HYPH_PREFETCH];
static char *prefetch_tag[HYPH_PREFETCH];
static int prefetch_queued[HYPH_PREFETCH]; /* on ICU's loader thread, not a thread of its own */
static int nprefetch;

static void prefetch_run(void *tag)
{
    if (bl_icu_check(NULL, 0) == 0) /* the language tag is read with ICU's help */
        bl_hyphenator_get(tag);
}

static void *prefetch_main(void *tag)
{
    prefetch_run(tag);
    return NULL;
}

void bl_hyphen_prefetch(const char *lang)
{
    if (!bl_helpers() || never_hyphenated(lang, strcspn(lang, "-_"))) /* no thread for those */
        return;
    pthread_mutex_lock(&prefetch_lock);
    for (int i = 0; i < nprefetch; i++)
        if (!strcmp(prefetch_tag[i], lang)) {
            pthread_mutex_unlock(&prefetch_lock);
            return;
        }
    int k = nprefetch;
    if (k < HYPH_PREFETCH && (prefetch_tag[k] = bl_strdup(lang))) {
        /* While ICU loads, after it on its thread (a new thread would wait
         * for that load to start at all); else on a thread of its own. */
        prefetch_queued[k] = bl_icu_after(prefetch_run, prefetch_tag[k]) == 0;
        if (prefetch_queued[k] || bl_thread_start(&prefetch_thread[k], prefetch_main, prefetch_tag[k]) == 0)
            nprefetch++;
        else
            free(prefetch_tag[k]); /* no thread: it loads on first use instead */
    }
    pthread_mutex_unlock(&prefetch_lock);
}

static unsigned hyph_generation;

unsigned bl_hyphen_generation(void) { return __atomic_load_n(&hyph_generation, __ATOMIC_ACQUIRE); }

void bl_hyphen_wait(void)
{
    pthread_mutex_lock(&prefetch_lock);
    bl_icu_drain();
    for (int i = 0; i < nprefetch; i++) {
        if (!prefetch_queued[i])
            pthread_join(prefetch_thread[i], NULL);
        free(prefetch_tag[i]);
    }
    nprefetch = 0;
    pthread_mutex_unlock(&prefetch_lock);
}

void bl_hyphen_shutdown(void)
{
    __atomic_add_fetch(&hyph_generation, 1, __ATOMIC_ACQ_REL);
    bl_hyphen_wait();
    pthread_mutex_lock(&hyph_lock);
    for (int busy = 1; busy;) { /* a load or a resolution under way elsewhere */
        busy = 0;
        for (bl_hyphenator *h = hyph_loaded; h && !busy; h = h->next)
            busy = h->loading;
        for (size_t i = 0; i < hyph_ntags && !busy; i++)
            busy = hyph_tags[i].resolving;
        if (busy)
            pthread_cond_wait(&hyph_cond, &hyph_lock);
    }
    while (hyph_loaded) {
        bl_hyphenator *h = hyph_loaded;
        hyph_loaded = h->next;
        bl_hyphcache_free(h->dict, h->how);
        free(h->path);
        free(h);
    }
    hyph_ntags = 0;
    pthread_mutex_unlock(&hyph_lock);
}
