/* text-hyphcache.c - compiled hyphenation dictionaries cached on disk (see
 * text-hyphcache.h).
 *
 * An entry is a header, the .dic file's path and a payload, in native byte
 * order (the tag 0x01020304 turns away an entry from another byte order):
 *
 *   header, 72 bytes: "BLHYPHC\n", u32 format version, u32 byte-order tag,
 *     u32 sizeof HyphenDict, u32 sizeof HyphenState, u32 sizeof HyphenTrans,
 *     u32 path length, u64 .dic size, i64 .dic mtime seconds, i64 its
 *     nanoseconds, u64 payload length, u64 payload checksum
 *   the path and a NUL
 *   payload: u32 number of levels (the nextlevel chain, first to last), then
 *     for each level
 *     a record, 48 bytes: i8 lhmin, rhmin, clhmin, crhmin, u8 utf8, 3 zero
 *       bytes, cset[20], i32 nohyphenl, u32 nohyphen bytes (0: NULL), u32
 *       states, u32 transitions, u32 match string bytes
 *     the states, 12 bytes each: u32 match (0: NULL, else 1 + its offset in
 *       the match strings), i32 fallback_state, u16 num_trans, i8 replindex,
 *       i8 replcut; state k's transitions follow state k-1's; the states are
 *       renumbered in breadth-first order from the root, each state's
 *       children the next states in turn (libhyphen numbers them in the
 *       order it builds them, which is not that)
 *     the transitions: every new_state (u32), then every ch (one byte)
 *     the match strings, NUL-terminated, in the order of their states
 *     nohyphen: nohyphenl + 1 NUL-terminated strings
 *
 * Decoding trusts nothing.  Debian 12's libhyphen (2.8.8) follows a
 * dictionary's fields without checks, so a rebuilt dictionary must keep the
 * invariants its loader guarantees, or hyphenating would read or write out
 * of bounds or never return:
 *   - the transitions form a tree rooted at state 0 (one parent per other
 *     state, every state reached), so each state has a depth: checked in one
 *     pass, since the states come in breadth-first order;
 *   - state 0 falls back to -1 and every other state to a shallower one: the
 *     fallback loop of hnj_hyphen_hyph_ ends;
 *   - a match string is digits, at most depth + 1 long, at most depth if the
 *     state's string starts with '.': the matcher writes hyphens[i + 1 -
 *     strlen(match) .. i], and a state of depth d is only reached after d
 *     characters, after exactly d only from the start of the word, which
 *     libhyphen prefixes with '.';
 *   - nohyphen strings are not empty (strstr with "" never advances).
 * Replacement patterns (non-standard hyphenation, "Schiff-fahrt") are not
 * cached: 2.8.8 indexes its arrays with their replindex and replcut and with
 * positions derived from them without bounds, and no check on the entry
 * alone could keep that in bounds.  Such dictionaries (none of Debian's
 * hyphen-en-us, -fr, -nl) load through libhyphen each time. */
#define _DEFAULT_SOURCE /* madvise (MADV_POPULATE_WRITE, Linux) */
#include "text-hyphcache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HC_MAGIC "BLHYPHC\n"
#define HC_VERSION 2               /* 2: states in breadth-first order */
#define HC_ORDER 0x01020304u
#define HC_HEADER 72
#define HC_LEVEL 48
#define HC_STATE 12
#define HC_TRANS 5
#define HC_MAX_LEVELS 4           /* libhyphen makes two */
#define HC_MAX_PATH 4096
#define HC_MAX_FILE (16u << 20)   /* en_US is 320 KB */

static uint16_t rd16(const unsigned char *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
static uint32_t rd32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
static uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
static void wr16(unsigned char *p, uint16_t v) { memcpy(p, &v, sizeof v); }
static void wr32(unsigned char *p, uint32_t v) { memcpy(p, &v, sizeof v); }
static void wr64(unsigned char *p, uint64_t v) { memcpy(p, &v, sizeof v); }

/* Eight bytes a step, each step a bijection of the running value (multiply by
 * an odd constant, xor-shift), so an entry that differs in one word always
 * sums differently.  Not cryptographic: it catches damage, and the checks in
 * decode catch the rest. */
static uint64_t checksum(const unsigned char *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15u ^ (uint64_t)n, w;
    size_t i = 0;
    for (; n - i >= 8; i += 8) {
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDu;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, p + i, n - i);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53u;
    return h ^ (h >> 29);
}

/* FNV-1a, for entry names. */
static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xCBF29CE484222325u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001B3u;
    return h;
}

/* ---- Encoding ---- */

/* Bytes of nohyphen: nohyphenl + 1 strings, as hnj_hyphen_hyphenate3 reads them. */
static size_t nohyphen_bytes(const HyphenDict *d)
{
    size_t len = 0;
    for (int k = 0; k <= d->nohyphenl; k++)
        len += strlen(d->nohyphen + len) + 1;
    return len;
}

unsigned char *bl_hyphcache_encode(const HyphenDict *dict, const bl_hyphcache_key *key,
                                   size_t *n)
{
    const HyphenDict *lv[HC_MAX_LEVELS];
    size_t nlv = 0;
    for (const HyphenDict *d = dict; d; d = d->nextlevel) {
        if (nlv == HC_MAX_LEVELS)
            return NULL;
        lv[nlv++] = d;
    }
    size_t plen = key && key->path ? strlen(key->path) : HC_MAX_PATH + 1;
    if (!nlv || plen > HC_MAX_PATH)
        return NULL;

    /* Sizes first: one allocation. */
    size_t total = HC_HEADER + plen + 1 + 4, trans[HC_MAX_LEVELS], strs[HC_MAX_LEVELS],
           nohy[HC_MAX_LEVELS];
    for (size_t k = 0; k < nlv; k++) {
        const HyphenDict *d = lv[k];
        if (d->num_states < 1 || d->nohyphenl < 0)
            return NULL;
        trans[k] = strs[k] = 0;
        for (int i = 0; i < d->num_states; i++) {
            const HyphenState *s = &d->states[i];
            if (s->repl || s->num_trans < 0 || s->num_trans > UINT16_MAX)
                return NULL; /* replacement patterns are not cached (see top) */
            trans[k] += (size_t)s->num_trans;
            if (s->match)
                strs[k] += strlen(s->match) + 1;
        }
        nohy[k] = d->nohyphen ? nohyphen_bytes(d) : 0;
        if (trans[k] > UINT32_MAX || strs[k] > UINT32_MAX || nohy[k] > UINT32_MAX)
            return NULL;
        total += HC_LEVEL + (size_t)d->num_states * HC_STATE + trans[k] * HC_TRANS + strs[k]
                 + nohy[k];
    }
    /* States are written in breadth-first order, each one's children
     * numbered one after the other (decode checks the tree in one pass):
     * order[] lists the old ids by new id, renum[] maps old to new. */
    int most = 0;
    for (size_t k = 0; k < nlv; k++)
        if (lv[k]->num_states > most)
            most = lv[k]->num_states;
    uint32_t *order = malloc((size_t)most * sizeof *order), *renum = malloc((size_t)most * sizeof *renum);
    unsigned char *buf = order && renum ? calloc(1, total) : NULL;
    if (!buf) {
        free(order);
        free(renum);
        return NULL;
    }

    unsigned char *p = buf + HC_HEADER + plen + 1;
    wr32(p, (uint32_t)nlv);
    p += 4;
    for (size_t k = 0; k < nlv; k++) {
        const HyphenDict *d = lv[k];
        p[0] = (unsigned char)d->lhmin;
        p[1] = (unsigned char)d->rhmin;
        p[2] = (unsigned char)d->clhmin;
        p[3] = (unsigned char)d->crhmin;
        p[4] = (unsigned char)d->utf8;
        memcpy(p + 8, d->cset, MAX_NAME);
        wr32(p + 28, (uint32_t)d->nohyphenl);
        wr32(p + 32, (uint32_t)nohy[k]);
        wr32(p + 36, (uint32_t)d->num_states);
        wr32(p + 40, (uint32_t)trans[k]);
        wr32(p + 44, (uint32_t)strs[k]);
        unsigned char *st = p + HC_LEVEL, *tst = st + (size_t)d->num_states * HC_STATE,
                      *tch = tst + trans[k] * 4, *str = tch + trans[k], *nh = str + strs[k];
        size_t t = 0, so = 0, tail = 1, ns = (size_t)d->num_states;
        for (size_t i = 0; i < ns; i++)
            renum[i] = UINT32_MAX;
        order[0] = renum[0] = 0;
        int tree = 1;
        for (size_t head = 0; head < tail && tree; head++) {
            const HyphenState *s = &d->states[order[head]];
            for (int j = 0; j < s->num_trans && tree; j++) {
                int to = s->trans[j].new_state;
                tree = to > 0 && to < d->num_states && renum[to] == UINT32_MAX && tail < ns;
                if (tree)
                    renum[to] = (uint32_t)tail, order[tail++] = (uint32_t)to;
            }
        }
        /* Not a tree (which decode refuses): written as it is. */
        for (size_t i = 0; (!tree || tail != ns) && i < ns; i++)
            order[i] = renum[i] = (uint32_t)i;
        for (size_t i = 0; i < ns; i++, st += HC_STATE) {
            const HyphenState *s = &d->states[order[i]];
            int fb = s->fallback_state;
            if (s->match) {
                size_t len = strlen(s->match) + 1;
                memcpy(str + so, s->match, len);
                wr32(st, (uint32_t)(so + 1));
                so += len;
            }
            wr32(st + 4, fb >= 0 && fb < d->num_states ? renum[fb] : (uint32_t)fb);
            wr16(st + 8, (uint16_t)s->num_trans);
            if (s->match) { /* libhyphen sets these only for states with a pattern */
                st[10] = (unsigned char)s->replindex;
                st[11] = (unsigned char)s->replcut;
            }
            for (int j = 0; j < s->num_trans; j++, t++) {
                int to = s->trans[j].new_state;
                wr32(tst + 4 * t, to >= 0 && to < d->num_states ? renum[to] : (uint32_t)to);
                tch[t] = (unsigned char)s->trans[j].ch;
            }
        }
        if (nohy[k])
            memcpy(nh, d->nohyphen, nohy[k]);
        p = nh + nohy[k];
    }

    memcpy(buf, HC_MAGIC, 8);
    wr32(buf + 8, HC_VERSION);
    wr32(buf + 12, HC_ORDER);
    wr32(buf + 16, (uint32_t)sizeof(HyphenDict));
    wr32(buf + 20, (uint32_t)sizeof(HyphenState));
    wr32(buf + 24, (uint32_t)sizeof(HyphenTrans));
    wr32(buf + 28, (uint32_t)plen);
    wr64(buf + 32, key->size);
    wr64(buf + 40, (uint64_t)key->mtime_sec);
    wr64(buf + 48, (uint64_t)key->mtime_nsec);
    memcpy(buf + HC_HEADER, key->path, plen);
    size_t off = HC_HEADER + plen + 1;
    wr64(buf + 56, (uint64_t)(total - off));
    wr64(buf + 64, checksum(buf + off, total - off));
    free(order);
    free(renum);
    *n = total;
    return buf;
}

int bl_hyphcache_reseal(unsigned char *buf, size_t n)
{
    if (!buf || n < HC_HEADER)
        return 0;
    size_t off = HC_HEADER + (size_t)rd32(buf + 28) + 1;
    if (off > n)
        return 0;
    wr64(buf + 64, checksum(buf + off, n - off));
    return 1;
}

/* ---- Decoding ---- */

/* One level's place in the payload (counts already checked against its size). */
typedef struct level {
    const unsigned char *rec;
    size_t states, trans, strs, nohy;
} level;

#define DEPTH_MASK 0x7FFFFFFFu
#define DEPTH_DOT 0x80000000u /* the state's string starts with '.' */

/* Fills dictionary d from level L into states st, transitions tr and the
 * string area blob, checking everything (see the top of the file).  depth has
 * room for L->states items.  Returns 0 on any inconsistency. */
static int decode_level(HyphenDict *d, const level *L, HyphenState *st, HyphenTrans *tr,
                        char *blob, uint32_t *depth)
{
    const unsigned char *r = L->rec;
    memset(d, 0, sizeof *d);
    d->lhmin = (char)r[0];
    d->rhmin = (char)r[1];
    d->clhmin = (char)r[2];
    d->crhmin = (char)r[3];
    if (r[4] > 1 || r[5] || r[6] || r[7])
        return 0;
    d->utf8 = r[4];
    memcpy(d->cset, r + 8, MAX_NAME);
    if (!memchr(d->cset, 0, MAX_NAME) || d->utf8 != !strcmp(d->cset, "UTF-8"))
        return 0;
    d->num_states = (int)L->states; /* < 2^31: the file is at most 16 MB */
    d->states = st;

    const unsigned char *sp = r + HC_LEVEL, *tsp = sp + L->states * HC_STATE,
                        *tcp = tsp + L->trans * 4, *strs = tcp + L->trans, *nhp = strs + L->strs;

    /* Match strings: digits, each right after the one before. */
    memcpy(blob, strs, L->strs);
    size_t next = 0, t = 0;
    for (size_t i = 0; i < L->states; i++) {
        const unsigned char *e = sp + i * HC_STATE;
        HyphenState *s = &st[i];
        uint32_t m = rd32(e);
        s->match = NULL;
        if (m) {
            if (m - 1 != next)
                return 0;
            s->match = blob + next;
            while (next < L->strs && blob[next] >= '0' && blob[next] <= '9')
                next++;
            if (next == L->strs || blob[next]) /* no NUL, or not a digit */
                return 0;
            next++;
        }
        s->repl = NULL;
        s->fallback_state = (int32_t)rd32(e + 4);
        size_t nt = rd16(e + 8);
        s->replindex = (signed char)e[10];
        s->replcut = (signed char)e[11];
        if (nt > L->trans - t)
            return 0;
        s->num_trans = (int)nt;
        s->trans = nt ? tr + t : NULL;
        t += nt;
    }
    if (t != L->trans || next != L->strs)
        return 0;
    for (size_t j = 0; j < L->trans; j++) {
        uint32_t to = rd32(tsp + 4 * j);
        if (to == 0 || to >= L->states) /* nothing leads back to the root */
            return 0;
        tr[j].new_state = (int)to;
        tr[j].ch = (char)tcp[j];
    }

    /* The tree, in breadth-first order (as encode writes it): each state's
     * children are the next states in turn, so every state has one parent,
     * numbered before it, and the root reaches them all. */
    depth[0] = 0;
    size_t child = 1;
    for (size_t u = 0; u < L->states; u++) {
        if (u >= child)
            return 0; /* no parent */
        const HyphenTrans *tu = st[u].trans;
        for (int j = 0; j < st[u].num_trans; j++, child++) {
            if ((size_t)tu[j].new_state != child)
                return 0;
            uint32_t dot = u ? depth[u] & DEPTH_DOT : tu[j].ch == '.' ? DEPTH_DOT : 0;
            depth[child] = ((depth[u] & DEPTH_MASK) + 1) | dot;
        }
    }
    if (child != L->states) /* implied: a state no transition reached failed u < child */
        return 0;

    /* Fallbacks go shallower; matches fit their depth. */
    if (st[0].fallback_state != -1)
        return 0;
    for (size_t i = 0; i < L->states; i++) {
        uint32_t dep = depth[i] & DEPTH_MASK;
        int fb = st[i].fallback_state;
        if (i && (fb < 0 || (size_t)fb >= L->states || (depth[fb] & DEPTH_MASK) >= dep))
            return 0;
        if (st[i].match && strlen(st[i].match) > dep + !(depth[i] & DEPTH_DOT))
            return 0;
    }

    /* nohyphen: nohyphenl + 1 non-empty strings, exactly filling its bytes. */
    int32_t nhl = (int32_t)rd32(r + 28);
    if (!L->nohy)
        return nhl == 0; /* nohyphen NULL */
    char *nh = blob + L->strs;
    memcpy(nh, nhp, L->nohy);
    if (nhl < 0 || (size_t)nhl >= L->nohy)
        return 0;
    size_t pos = 0;
    for (int32_t k = 0; k <= nhl; k++) {
        const char *z = memchr(nh + pos, 0, L->nohy - pos);
        if (!z || z == nh + pos)
            return 0;
        pos = (size_t)(z - nh) + 1;
    }
    if (pos != L->nohy)
        return 0;
    d->nohyphen = nh;
    d->nohyphenl = nhl;
    return 1;
}

static size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

/* Faults in the whole pages of a fresh block in one call: the arena of an
 * English dictionary is ~190 pages, each of which would otherwise fault on
 * its first write (measured with the entry mapped: 301 -> 76 page faults for a process
 * that loads the English dictionary, decode 0.80 -> 0.74 ms).  Only a hint: kernels
 * before 5.14 refuse it and the pages fault in as they are written. */
static void populate(void *p, size_t n)
{
#ifdef MADV_POPULATE_WRITE
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), a = ((uintptr_t)p + page - 1) / page * page,
              b = ((uintptr_t)p + n) / page * page;
    if (b > a)
        madvise((void *)a, b - a, MADV_POPULATE_WRITE);
#else
    (void)p, (void)n;
#endif
}

HyphenDict *bl_hyphcache_decode(const unsigned char *buf, size_t n, const bl_hyphcache_key *key)
{
    if (!buf || !key || !key->path || n < HC_HEADER || n > HC_MAX_FILE)
        return NULL;
    size_t plen = strlen(key->path);
    if (memcmp(buf, HC_MAGIC, 8) || rd32(buf + 8) != HC_VERSION || rd32(buf + 12) != HC_ORDER
        || rd32(buf + 16) != sizeof(HyphenDict) || rd32(buf + 20) != sizeof(HyphenState)
        || rd32(buf + 24) != sizeof(HyphenTrans) || rd32(buf + 28) != plen
        || n - HC_HEADER < plen + 1 || memcmp(buf + HC_HEADER, key->path, plen)
        || buf[HC_HEADER + plen] || rd64(buf + 32) != key->size
        || rd64(buf + 40) != (uint64_t)key->mtime_sec || rd64(buf + 48) != (uint64_t)key->mtime_nsec)
        return NULL;
    size_t off = HC_HEADER + plen + 1, len = n - off;
    const unsigned char *p = buf + off;
    if (rd64(buf + 56) != len || rd64(buf + 64) != checksum(p, len) || len < 4)
        return NULL;

    /* Where each level is, and that its counts fit the bytes that are left
     * (each count is at most one per byte: no overflow below). */
    level lv[HC_MAX_LEVELS];
    size_t nlv = rd32(p), pos = 4, states = 0, trans = 0, bytes = 0, most = 0;
    if (nlv < 1 || nlv > HC_MAX_LEVELS)
        return NULL;
    for (size_t k = 0; k < nlv; k++) {
        if (len - pos < HC_LEVEL)
            return NULL;
        level *L = &lv[k];
        L->rec = p + pos;
        L->nohy = rd32(L->rec + 32);
        L->states = rd32(L->rec + 36);
        L->trans = rd32(L->rec + 40);
        L->strs = rd32(L->rec + 44);
        size_t rest = len - pos - HC_LEVEL;
        if (L->states < 1 || L->states > rest / HC_STATE)
            return NULL;
        rest -= L->states * HC_STATE;
        if (L->trans > rest / HC_TRANS)
            return NULL;
        rest -= L->trans * HC_TRANS;
        if (L->strs > rest || L->nohy > rest - L->strs)
            return NULL;
        rest -= L->strs + L->nohy;
        pos = len - rest;
        states += L->states;
        trans += L->trans;
        bytes += L->strs + L->nohy;
        if (L->states > most)
            most = L->states;
    }
    if (pos != len)
        return NULL;

    /* One arena: the dictionaries, then all states, transitions, strings. */
    size_t o_st = align_up(nlv * sizeof(HyphenDict), alignof(HyphenState));
    size_t o_tr = align_up(o_st + states * sizeof(HyphenState), alignof(HyphenTrans));
    size_t o_str = o_tr + trans * sizeof(HyphenTrans);
    unsigned char *arena = malloc(o_str + bytes);
    uint32_t *scratch = malloc(most * sizeof *scratch); /* depths */
    if (!arena || !scratch)
        goto bad;
    populate(arena, o_str + bytes);
    populate(scratch, most * sizeof *scratch);
    HyphenDict *d = (HyphenDict *)(void *)arena;
    HyphenState *st = (HyphenState *)(void *)(arena + o_st);
    HyphenTrans *tr = (HyphenTrans *)(void *)(arena + o_tr);
    char *blob = (char *)arena + o_str;
    for (size_t k = 0; k < nlv; k++) {
        if (!decode_level(&d[k], &lv[k], st, tr, blob, scratch))
            goto bad;
        st += lv[k].states;
        tr += lv[k].trans;
        blob += lv[k].strs + lv[k].nohy;
        d[k].nextlevel = k + 1 < nlv ? &d[k + 1] : NULL;
    }
    free(scratch);
    return d;
bad:
    free(scratch);
    free(arena);
    return NULL;
}

void bl_hyphcache_free(HyphenDict *dict, int how)
{
    if (!dict)
        return;
    if (how == BL_HC_HIT)
        free(dict); /* the arena starts with the first dictionary */
    else
        hnj_hyphen_free(dict);
}

/* ---- Files ---- */

/* The folder, and how much of its name must exist already: missing folders
 * below that are created (all of BULLETIN_CACHE_DIR; $XDG_CACHE_HOME and
 * bulletin in it; .cache/bulletin in $HOME, never $HOME itself). */
static int cache_dir(char *buf, size_t n, size_t *keep)
{
    const char *env = getenv("BULLETIN_CACHE_DIR"), *base;
    int len;
    *keep = 0;
    buf[0] = 0;
    if (env) {
        if (!*env)
            return 0;
        len = snprintf(buf, n, "%s", env);
    } else if ((base = getenv("XDG_CACHE_HOME")) && base[0] == '/') {
        len = snprintf(buf, n, "%s/bulletin", base);
        *keep = (size_t)(strrchr(base, '/') - base);
    } else if ((base = getenv("HOME")) && *base) {
        len = snprintf(buf, n, "%s/.cache/bulletin", base);
        *keep = strlen(base);
    } else {
        return 0;
    }
    if (len < 0 || (size_t)len >= n) {
        buf[0] = 0;
        return 0;
    }
    return 1;
}

int bl_hyphcache_dir(char *buf, size_t n)
{
    size_t keep;
    if (!buf || !n)
        return 0;
    return cache_dir(buf, n, &keep);
}

int bl_hyphcache_entry(const char *dir, const char *path, char *buf, size_t n)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char name[64];
    size_t k = 0;
    for (; base[k] && k < 40; k++) { /* file-name-safe characters of the basename */
        char c = base[k];
        name[k] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                          || c == '_' || c == '-' || c == '.' ? c : '_';
    }
    name[k] = 0;
    int len = snprintf(buf, n, "%s/%s-%016llx.v%d.cache", dir, name,
                       (unsigned long long)name_hash(path), HC_VERSION);
    return len >= 0 && (size_t)len < n;
}

/* The entry, if it is a regular file (never a FIFO or device: O_NONBLOCK
 * keeps open() from waiting on a FIFO) and not too big, mapped read-only:
 * its pages are the page cache's, so reading a 320 KB entry costs a few page
 * faults instead of a copy into fresh memory.  Entries are replaced by
 * rename, never rewritten in place, so a mapping keeps the entry it was made
 * of; only a file truncated in place by someone else while mapped (in the
 * user's own cache folder, mode 0700) would fault, as a truncated font file
 * would (hb_blob_create_from_file maps fonts too).  Unmap with munmap. */
static const unsigned char *map_entry(const char *file, size_t *n)
{
    int fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    void *p = MAP_FAILED;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= HC_HEADER && st.st_size <= (off_t)HC_MAX_FILE)
        p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return NULL;
    *n = (size_t)st.st_size;
    return p;
}

/* Writes the entry atomically: a temporary file in the same folder, renamed
 * over the old entry, so that another process (or thread) reads either the
 * old entry or the new one, never part of one. */
static int write_entry(const char *dir, size_t keep, const char *file,
                       const unsigned char *buf, size_t n)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        if (errno != ENOENT)
            return 0;
        char path[HC_MAX_PATH + 64];
        snprintf(path, sizeof path, "%s", dir);
        for (char *c = path + keep + 1; c < path + strlen(dir); c++) {
            if (*c != '/' || c[-1] == '/')
                continue;
            *c = 0;
            int bad = mkdir(path, 0700) != 0 && errno != EEXIST;
            *c = '/';
            if (bad)
                return 0;
        }
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return 0;
    }
    char tmp[HC_MAX_PATH + 256];
    int len = snprintf(tmp, sizeof tmp, "%s.XXXXXX", file);
    if (len < 0 || (size_t)len >= sizeof tmp)
        return 0;
    int fd = mkstemp(tmp);
    if (fd < 0)
        return 0;
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, buf + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    if (close(fd) != 0 || done != n || rename(tmp, file) != 0) {
        unlink(tmp);
        return 0;
    }
    return 1;
}

static int key_of(const char *path, struct stat *st, bl_hyphcache_key *key)
{
    if (stat(path, st) != 0 || !S_ISREG(st->st_mode))
        return 0;
    key->path = path;
    key->size = (uint64_t)st->st_size;
    key->mtime_sec = (int64_t)st->st_mtim.tv_sec;
    key->mtime_nsec = (int64_t)st->st_mtim.tv_nsec;
    return 1;
}

HyphenDict *bl_hyphcache_load(const char *path, int *how)
{
    char dir[HC_MAX_PATH + 64], file[HC_MAX_PATH + 192];
    struct stat st;
    bl_hyphcache_key key;
    size_t keep;
    int on = key_of(path, &st, &key) && strlen(path) <= HC_MAX_PATH
             && cache_dir(dir, sizeof dir, &keep)
                     && bl_hyphcache_entry(dir, path, file, sizeof file);
    if (on) {
        size_t n;
        const unsigned char *buf = map_entry(file, &n);
        HyphenDict *d = buf ? bl_hyphcache_decode(buf, n, &key) : NULL;
        if (buf)
            munmap((void *)(uintptr_t)buf, n);
        if (d) {
            *how = BL_HC_HIT;
            return d;
        }
    }

    HyphenDict *dict = hnj_hyphen_load(path);
    if (!dict) {
        *how = BL_HC_FAILED;
        return NULL;
    }
    *how = BL_HC_UNCACHED;
    /* Only if the file did not change while libhyphen read it, and only what
     * decodes: the entry must pass the same checks as one read back. */
    struct stat again;
    bl_hyphcache_key now;
    if (on && key_of(path, &again, &now) && now.size == key.size
        && now.mtime_sec == key.mtime_sec && now.mtime_nsec == key.mtime_nsec) {
        size_t n;
        unsigned char *buf = bl_hyphcache_encode(dict, &key, &n);
        HyphenDict *check = buf ? bl_hyphcache_decode(buf, n, &key) : NULL;
        if (check && write_entry(dir, keep, file, buf, n))
            *how = BL_HC_WRITTEN;
        free(check);
        free(buf);
    }
    return dict;
}
