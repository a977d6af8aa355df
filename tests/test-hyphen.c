/* test-hyphen.c - hyphenation points through bl_hyphenator_get and
 * bl_hyphenate with Debian's hyphen-en-us, hyphen-fr and hyphen-nl, and the
 * compiled-dictionary cache (text-hyphcache.c): dictionaries rebuilt from
 * entries equal libhyphen's, field by field and word by word; damaged,
 * hostile and stale entries are rejected and rewritten. */
#include "harness.h"
#include "testutil.h"
#include "text-bidi.h"
#include "text-hyphcache.h"

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <hyphen.h>
#include <pthread.h>
#include <time.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The points of word as byte offsets, "2,5,9" ("-" for an error). */
static const char *points(const bl_hyphenator *h, const char *word, int lmin, int rmin)
{
    static char buf[256];
    size_t n = strlen(word), len = 0;
    uint8_t out[256];
    buf[0] = 0;
    int r = bl_hyphenate(h, word, n, lmin, rmin, out);
    if (r < 0)
        return "-";
    int count = 0;
    for (size_t i = 0; i <= n; i++)
        if (out[i]) {
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%zu", len ? "," : "", i);
            count++;
        }
    return count == r ? buf : "count mismatch";
}

static void unit_tests(void)
{
    const bl_hyphenator *en = bl_hyphenator_get("en");
    const bl_hyphenator *fr = bl_hyphenator_get("fr");
    const bl_hyphenator *nl = bl_hyphenator_get("nl");
    CHECK(en && fr && nl, "dictionaries for en, fr, nl (hyphen-en-us, hyphen-fr, hyphen-nl)");
    const char *got;

    /* es-tab-lish-ments */
    got = points(en, "establishments", 2, 2);
    CHECK(!strcmp(got, "2,5,9"), "establishments: %s", got);
    got = points(en, "Establishments", 2, 2);
    CHECK(!strcmp(got, "2,5,9"), "capitalised: %s", got);
    got = points(en, "ESTABLISHMENTS", 2, 2);
    CHECK(!strcmp(got, "2,5,9"), "upper case: %s", got);
    /* lmin/rmin count characters; the dictionary's own minimums (en: 2, 3)
     * apply too. */
    got = points(en, "establishments", 3, 2);
    CHECK(!strcmp(got, "5,9"), "lmin 3: %s", got);
    got = points(en, "establishments", 2, 6);
    CHECK(!strcmp(got, "2,5"), "rmin 6: %s", got);
    got = points(en, "hyphenation", 1, 1);
    CHECK(!strcmp(got, "2,6"), "hy-phen-ation (dictionary rmin 3 still applies): %s", got);

    /* co-opé-ra-tion: offsets are bytes, é takes two. */
    got = points(fr, "coopération", 2, 2);
    CHECK(!strcmp(got, "2,6,8"), "coopération: %s", got);
    got = points(fr, "COOPÉRATION", 2, 2);
    CHECK(!strcmp(got, "2,6,8"), "COOPÉRATION: %s", got);
    /* U+0130 lowers to one byte: the points still index the original. */
    got = points(en, "\xC4\xB0nternational", 2, 2);
    CHECK(!strcmp(got, "3,6,8"), "capital I with dot above: %s", got);
    /* Debian's Dutch dictionary is ISO 8859-1. */
    got = points(nl, "ziekenhuisopname", 2, 2);
    CHECK(!strcmp(got, "3,6,10,12,14"), "ziekenhuisopname: %s", got);
    got = points(nl, "idee\xC3\xABn", 2, 2);
    CHECK(!strcmp(got, "4"), "idee\xC3\xABn: %s", got);
    got = points(nl, "zie\xD0\xBA" "enhuis", 2, 2);
    CHECK(!strcmp(got, ""), "letter outside Latin-1 in a Latin-1 dictionary: %s", got);

    /* Never Hebrew or Arabic-script languages; none without a dictionary. */
    static const char *const never[] = { "he", "he-IL", "iw", "ar", "ar-EG", "fa", "ur", "yi" };
    for (size_t i = 0; i < sizeof never / sizeof *never; i++)
        CHECK(!bl_hyphenator_get(never[i]), "no hyphenation for %s", never[i]);
    CHECK(!bl_hyphenator_get("xx") && !bl_hyphenator_get("") && !bl_hyphenator_get(NULL),
          "no dictionary, no hyphenator");
    got = points(bl_hyphenator_get("he"), "\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D", 2, 2);
    CHECK(!strcmp(got, ""), "Hebrew word: no points (%s)", got);

    /* Region and case variants share one dictionary. */
    CHECK(bl_hyphenator_get("en-US") == en && bl_hyphenator_get("EN-us") == en
              && bl_hyphenator_get("en-GB") == en,
          "en-US, EN-us and en-GB use hyph_en_US.dic");
    CHECK(bl_hyphenator_get("fr-CA") == fr && bl_hyphenator_get("fr-FR") == fr, "fr variants");

    /* Words that get no points. */
    got = points(en, "covid19", 2, 2);
    CHECK(!strcmp(got, ""), "word with digits: %s", got);
    char longword[128];
    memset(longword, 'a', 101);
    longword[101] = 0;
    got = points(en, longword, 2, 2);
    CHECK(!strcmp(got, ""), "101-byte word: %s", got);
    got = points(en, "a", 2, 2);
    CHECK(!strcmp(got, ""), "one letter: %s", got);
    got = points(en, "\xC3", 2, 2);
    CHECK(!strcmp(got, ""), "invalid UTF-8: %s", got);
    uint8_t out[4];
    CHECK(bl_hyphenate(en, "ab", 2, 2, 2, NULL) == -1, "NULL out");
    CHECK(bl_hyphenate(en, NULL, 2, 2, 2, out) == -1, "NULL word");
    CHECK(bl_hyphenate(en, "", 0, 2, 2, out) == 0 && out[0] == 0, "empty word");
}

/* Dictionaries load lazily: let threads race for the first load. */
struct job {
    const char *lang, *word, *want;
    int bad;
};

static void *worker(void *arg)
{
    struct job *j = arg;
    for (int r = 0; r < 200; r++) {
        const char *got = NULL;
        const bl_hyphenator *h = bl_hyphenator_get(j->lang);
        size_t n = strlen(j->word);
        uint8_t out[64];
        char buf[64];
        size_t len = 0;
        if (h && bl_hyphenate(h, j->word, n, 2, 2, out) >= 0) {
            for (size_t i = 0; i <= n; i++)
                if (out[i])
                    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%zu", len ? "," : "",
                                            i);
            buf[len] = 0;
            got = buf;
        }
        if (!got || strcmp(got, j->want))
            j->bad++;
    }
    return NULL;
}

/* One language's dictionary loads while another's is still loading: the
 * English load is held in the load hook until the French one is done.
 * (30 s waits only keep a regression from hanging the test.) */
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cond = PTHREAD_COND_INITIALIZER;
static int en_held, en_released, fr_done;

static void hold_english(const char *path)
{
    if (!strstr(path, "hyph_en"))
        return;
    pthread_mutex_lock(&hold_lock);
    en_held = 1;
    pthread_cond_broadcast(&hold_cond);
    while (!en_released)
        pthread_cond_wait(&hold_cond, &hold_lock);
    pthread_mutex_unlock(&hold_lock);
}

static void *get_lang(void *lang)
{
    const bl_hyphenator *h = bl_hyphenator_get(lang);
    if (!strcmp(lang, "fr")) {
        pthread_mutex_lock(&hold_lock);
        fr_done = 1;
        pthread_cond_broadcast(&hold_cond);
        pthread_mutex_unlock(&hold_lock);
    }
    return (void *)h;
}

static int wait_for(int *flag)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    pthread_mutex_lock(&hold_lock);
    int rc = 0;
    while (!*flag && rc == 0)
        rc = pthread_cond_timedwait(&hold_cond, &hold_lock, &until);
    int ok = *flag;
    pthread_mutex_unlock(&hold_lock);
    return ok;
}

static void independent_loads(void)
{
    bl_hyphen_shutdown(); /* nothing loaded */
    bl_hyphen_load_hook = hold_english;
    static char tag_en[] = "en", tag_us[] = "en-US", tag_fr[] = "fr";
    pthread_t en, en_us, fr;
    int a = pthread_create(&en, NULL, get_lang, tag_en) == 0;
    CHECK(a && wait_for(&en_held), "the English load started (and is held)");
    int b = pthread_create(&en_us, NULL, get_lang, tag_us) == 0;
    int c = pthread_create(&fr, NULL, get_lang, tag_fr) == 0;
    CHECK(c && wait_for(&fr_done), "French loaded while English was still loading");
    pthread_mutex_lock(&hold_lock);
    en_released = 1;
    pthread_cond_broadcast(&hold_cond);
    pthread_mutex_unlock(&hold_lock);
    void *h_en = NULL, *h_us = NULL, *h_fr = NULL;
    if (a)
        pthread_join(en, &h_en);
    if (b)
        pthread_join(en_us, &h_us);
    if (c)
        pthread_join(fr, &h_fr);
    bl_hyphen_load_hook = NULL;
    CHECK(h_en && h_en == h_us, "en and en-US got the one English dictionary, loaded once (%p, %p)", h_en, h_us);
    CHECK(h_fr && h_fr != h_en, "fr got its own");
    uint8_t out[32];
    CHECK(h_en && bl_hyphenate(h_en, "establishments", 14, 2, 2, out) == 3 && out[2] && out[5] && out[9],
          "the English dictionary works after the held load");
}

static void thread_test(void)
{
    bl_hyphen_shutdown(); /* start again from nothing loaded */
    struct job jobs[6] = {
        { "en", "establishments", "2,5,9", 0 }, { "fr", "coopération", "2,6,8", 0 },
        { "en-US", "establishments", "2,5,9", 0 }, { "fr-BE", "coopération", "2,6,8", 0 },
        { "nl", "ziekenhuisopname", "3,6,10,12,14", 0 }, { "nl-NL", "ziekenhuisopname", "3,6,10,12,14", 0 },
    };
    pthread_t th[6];
    int started = 0;
    for (int t = 0; t < 6; t++)
        started += pthread_create(&th[t], NULL, worker, &jobs[t]) == 0;
    CHECK(started == 6, "started %d of 6 threads", started);
    int bad = 0;
    for (int t = 0; t < started; t++) {
        pthread_join(th[t], NULL);
        bad += jobs[t].bad;
    }
    CHECK(bad == 0, "%d wrong results from concurrent calls", bad);
    CHECK(bl_hyphenator_get("en") == bl_hyphenator_get("en-US"), "one dictionary per file");
}

/* ---- The compiled-dictionary cache ---- */

static char cache_dir[512];

/* Words to hyphenate, NUL-separated in one buffer, lowered (ASCII). */
typedef struct wordlist {
    bl_buf text;
    size_t *off, n, cap;
} wordlist;

static void add_word(wordlist *w, const char *s, size_t n)
{
    while (n && (*s == '\'' || *s == '-')) /* no leading or trailing ' and - */
        s++, n--;
    while (n && (s[n - 1] == '\'' || s[n - 1] == '-'))
        n--;
    if (n < 2 || n > 100 || bl_grow(&w->off, &w->cap, w->n + 1, sizeof *w->off))
        return;
    char low[101];
    for (size_t i = 0; i < n; i++)
        low[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32) : s[i];
    size_t at = w->text.len;
    if (bl_buf_append(&w->text, low, n) == 0 && bl_buf_append(&w->text, "", 1) == 0)
        w->off[w->n++] = at;
}

static const char *word_at(const wordlist *w, size_t i) { return w->text.data + w->off[i]; }

/* Every word of a text: runs of ASCII letters, bytes of multi-byte UTF-8
 * characters, apostrophes and hyphens. */
static void add_text(wordlist *w, const char *t, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t a = i;
        while (i < len
               && ((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z')
                   || (unsigned char)t[i] >= 0x80 || t[i] == '\'' || t[i] == '-'))
            i++;
        if (i > a)
            add_word(w, t + a, i - a);
        else
            i++;
    }
}

static void add_file(wordlist *w, const char *path)
{
    char err[200];
    bl_file *f = bl_file_read(path, 64u << 20, err, sizeof err);
    if (f) {
        add_text(w, f->text, f->len);
        bl_file_free(f);
    }
}

/* Words made of a dictionary's own patterns (digits and dots removed), each
 * alone and joined to the one before: thousands of words that walk deep into
 * the automaton, whatever word lists are installed. */
static void add_patterns(wordlist *w, const char *dic)
{
    char err[200];
    bl_file *f = bl_file_read(dic, 16u << 20, err, sizeof err);
    if (!f)
        return;
    char prev[64] = "", cur[64];
    const char *line = strchr(f->text, '\n'); /* the first line names the charset */
    while (line && *++line) {
        size_t n = 0;
        const char *c = line;
        if (*c >= 'A' && *c <= 'Z') /* LEFTHYPHENMIN, NOHYPHEN, NEXTLEVEL... */
            c = "";
        for (; *c && *c != '\n' && *c != '/' && *c != ' ' && n < 40; c++)
            if ((*c < '0' || *c > '9') && *c != '.' && *c != '%')
                cur[n++] = *c;
        cur[n] = 0;
        if (n) {
            add_word(w, cur, n);
            char both[128];
            int k = snprintf(both, sizeof both, "%s%s", prev, cur);
            add_word(w, both, (size_t)k);
            memcpy(prev, cur, n + 1);
        }
        line = strchr(line, '\n');
    }
    bl_file_free(f);
}

/* The test's own words: compounds, apostrophes, dashes and a few languages. */
static const char *const own_words[] = {
    "establishments", "hyphenation", "well-known", "rock'n'roll", "self-establishment",
    "anti\xE2\x80\x93war", "o\xE2\x80\x99" "clock", "aujourd'hui", "coop\xC3\xA9ration",
    "porte-monnaie", "ziekenhuisopname", "idee\xC3\xABn", "extraordinarily",
    "incomprehensibilities", "l'\xC3\xA9tablissement", "d\xC3\xA9veloppement",
    "characteristically", "internationalization", "counterrevolutionary", "x-ray",
    "electroencephalography", "misunderstanding", "photosynthesis", "responsibilities",
};

static void build_words(wordlist *w)
{
    for (size_t i = 0; i < sizeof own_words / sizeof *own_words; i++)
        add_word(w, own_words[i], strlen(own_words[i]));
    add_file(w, "/usr/share/dict/words"); /* when a word list is installed */
    glob_t g;
    if (glob("samples/*.md", 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++)
            add_file(w, g.gl_pathv[i]);
        globfree(&g);
    }
    if (glob("/usr/share/hyphen/hyph_*.dic", 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            struct stat st;
            if (lstat(g.gl_pathv[i], &st) == 0 && S_ISREG(st.st_mode)) /* not the links */
                add_patterns(w, g.gl_pathv[i]);
        }
        globfree(&g);
    }
}

static void free_rep(char **rep, int *pos, int *cut, int n)
{
    if (rep)
        for (int k = 0; k < n; k++)
            free(rep[k]);
    free(rep);
    free(pos);
    free(cut);
}

/* Hyphenates every step-th word with a and b (hnj_hyphen_hyphenate3, as
 * bl_hyphenate calls it); returns how many came out different: points,
 * replacements, positions or cuts.  The first difference goes to first. */
static size_t differ(HyphenDict *a, HyphenDict *b, const wordlist *w, size_t step,
                     const char **first)
{
    size_t bad = 0;
    for (size_t i = 0; i < w->n; i += step) {
        const char *word = word_at(w, i);
        int n = (int)strlen(word);
        char ha[128], hb[128];
        memset(ha, 'x', sizeof ha);
        memset(hb, 'x', sizeof hb);
        char **ra = NULL, **rb = NULL;
        int *pa = NULL, *pb = NULL, *ca = NULL, *cb = NULL;
        int ea = hnj_hyphen_hyphenate3(a, word, n, ha, NULL, &ra, &pa, &ca, 2, 2, 0, 0);
        int eb = hnj_hyphen_hyphenate3(b, word, n, hb, NULL, &rb, &pb, &cb, 2, 2, 0, 0);
        int same = ea == eb && !memcmp(ha, hb, sizeof ha) && !ra == !rb && !pa == !pb
                   && !ca == !cb;
        for (int k = 0; same && ra && pa && ca && k < n; k++)
            same = !ra[k] == !rb[k] && (!ra[k] || !strcmp(ra[k], rb[k])) && pa[k] == pb[k]
                   && ca[k] == cb[k];
        if (!same && !bad++ && first)
            *first = word;
        free_rep(ra, pa, ca, n);
        free_rep(rb, pb, cb, n);
    }
    return bad;
}

/* Whether two dictionary chains are equal in every field libhyphen has
 * (replindex and replcut where it sets them: states with a pattern); the
 * first difference goes to why. */
static int dict_same(const HyphenDict *a, const HyphenDict *b, char *why, size_t wn)
{
    int lv = 0;
    for (; a && b; a = a->nextlevel, b = b->nextlevel, lv++) {
        if (a->lhmin != b->lhmin || a->rhmin != b->rhmin || a->clhmin != b->clhmin
            || a->crhmin != b->crhmin || a->utf8 != b->utf8 || memcmp(a->cset, b->cset, MAX_NAME)
            || a->num_states != b->num_states || a->nohyphenl != b->nohyphenl
            || !a->nohyphen != !b->nohyphen) {
            snprintf(why, wn, "level %d: options, charset or counts", lv);
            return 0;
        }
        for (size_t k = 0, at = 0; a->nohyphen && k <= (size_t)a->nohyphenl; k++) {
            if (strcmp(a->nohyphen + at, b->nohyphen + at)) {
                snprintf(why, wn, "level %d: NOHYPHEN string %zu", lv, k);
                return 0;
            }
            at += strlen(a->nohyphen + at) + 1;
        }
        /* The same automaton, whatever the states' numbers (the cache keeps
         * them in breadth-first order): both walked from the root at once,
         * state for state, then each fallback where the other's leads. */
        int n = a->num_states, *map = malloc((size_t)n * sizeof *map), *queue = malloc((size_t)n * sizeof *queue);
        char *hit = calloc((size_t)n, 1); /* b's states mapped onto: each once */
        int ok = map && queue && hit, head = 0, tail = 1;
        for (int i = 0; ok && i < n; i++)
            map[i] = -1;
        if (ok)
            map[0] = queue[0] = 0, hit[0] = 1;
        while (ok && head < tail) {
            int ia = queue[head++], ib = map[ia];
            const HyphenState *x = &a->states[ia], *y = &b->states[ib];
            ok = !x->match == !y->match && (!x->match || !strcmp(x->match, y->match))
                 && !x->repl == !y->repl && (!x->repl || !strcmp(x->repl, y->repl))
                 && (!x->match || (x->replindex == y->replindex && x->replcut == y->replcut))
                 && x->num_trans == y->num_trans;
            for (int j = 0; ok && j < x->num_trans; j++) {
                int ta = x->trans[j].new_state, tb = y->trans[j].new_state;
                ok = x->trans[j].ch == y->trans[j].ch && ta > 0 && ta < n && tb > 0 && tb < n && map[ta] < 0
                     && !hit[tb] && tail < n;
                if (ok)
                    map[ta] = tb, hit[tb] = 1, queue[tail++] = ta;
            }
            if (!ok)
                snprintf(why, wn, "level %d: state %d", lv, ia);
        }
        if (ok && tail != n) {
            ok = 0;
            snprintf(why, wn, "level %d: %d states reached of %d", lv, tail, n);
        }
        for (int i = 0; ok && i < n; i++) {
            int fa = a->states[i].fallback_state, fb = b->states[map[i]].fallback_state;
            ok = fa < 0 ? fb == fa : fa < n && map[fa] == fb;
            if (!ok)
                snprintf(why, wn, "level %d: state %d falls back elsewhere", lv, i);
        }
        free(map);
        free(queue);
        free(hit);
        if (!ok)
            return 0;
    }
    if (a || b) {
        snprintf(why, wn, "%d levels in one, more in the other", lv);
        return 0;
    }
    return 1;
}

static const char *how_name(int how)
{
    static const char *const names[] = { "failed", "hit", "written", "uncached" };
    return how >= 0 && how < 4 ? names[how] : "?";
}

/* Loads path through the cache, and checks how and that the result equals
 * fresh in every field.  Returns the dictionary (free with bl_hyphcache_free). */
static HyphenDict *load_as(const char *path, int want, const HyphenDict *fresh,
                           const char *what, int *how_out)
{
    int how = -1;
    HyphenDict *d = bl_hyphcache_load(path, &how);
    char why[128] = "";
    CHECK(d && how == want, "%s: loaded %s, want %s", what, how_name(how), how_name(want));
    if (d && fresh)
        CHECK(dict_same(fresh, d, why, sizeof why), "%s: differs from libhyphen's (%s)", what,
              why);
    if (how_out)
        *how_out = how;
    return d;
}

static int write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    char err[200];
    bl_file *f = bl_file_read(path, 64u << 20, err, sizeof err);
    if (!f)
        return NULL;
    unsigned char *p = malloc(f->len ? f->len : 1);
    if (p)
        memcpy(p, f->text, f->len);
    *n = f->len;
    bl_file_free(f);
    return p;
}

/* Files in folder d that are not finished entries (temporary files). */
static int stray_files(const char *d)
{
    DIR *dp = opendir(d);
    int stray = 0;
    struct dirent *e;
    while (dp && (e = readdir(dp))) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] != '.' && (n < 6 || strcmp(e->d_name + n - 6, ".cache")))
            stray++;
    }
    if (dp)
        closedir(dp);
    return stray;
}

static uint64_t rng = 0x2545F4914F6CDD1Du;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static bl_hyphcache_key key_for(const char *path)
{
    struct stat st;
    bl_hyphcache_key k = { path, 0, 0, 0 };
    if (stat(path, &st) == 0) {
        k.size = (uint64_t)st.st_size;
        k.mtime_sec = (int64_t)st.st_mtim.tv_sec;
        k.mtime_nsec = (int64_t)st.st_mtim.tv_nsec;
    }
    return k;
}

/* Where the cache goes, from the environment. */
static char *saved_env(const char *name)
{
    const char *v = getenv(name);
    return v ? bl_strdup(v) : NULL;
}
static void restore_env(const char *name, char *v)
{
    if (v)
        setenv(name, v, 1);
    else
        unsetenv(name);
    free(v);
}

static void env_tests(const char *scratch)
{
    char d[600], want[600];
    char *home = saved_env("HOME"), *xdg = saved_env("XDG_CACHE_HOME");
    unsetenv("XDG_CACHE_HOME");
    setenv("BULLETIN_CACHE_DIR", "/some/where", 1);
    CHECK(bl_hyphcache_dir(d, sizeof d) && !strcmp(d, "/some/where"), "BULLETIN_CACHE_DIR: %s", d);
    setenv("BULLETIN_CACHE_DIR", "", 1);
    CHECK(!bl_hyphcache_dir(d, sizeof d) && !*d, "BULLETIN_CACHE_DIR=\"\" turns caching off");
    unsetenv("BULLETIN_CACHE_DIR");
    setenv("XDG_CACHE_HOME", "/xdg/cache", 1);
    setenv("HOME", "/home/someone", 1);
    CHECK(bl_hyphcache_dir(d, sizeof d) && !strcmp(d, "/xdg/cache/bulletin"), "XDG: %s", d);
    setenv("XDG_CACHE_HOME", "relative", 1); /* the XDG spec: ignored */
    CHECK(bl_hyphcache_dir(d, sizeof d) && !strcmp(d, "/home/someone/.cache/bulletin"),
          "HOME: %s", d);
    unsetenv("XDG_CACHE_HOME");
    unsetenv("HOME");
    CHECK(!bl_hyphcache_dir(d, sizeof d), "no HOME: no cache");

    const char *en = "/usr/share/hyphen/hyph_en_US.dic";
    HyphenDict *fresh = hnj_hyphen_load(en);
    CHECK(fresh != NULL, "libhyphen loads %s", en);
    HyphenDict *x = load_as(en, BL_HC_UNCACHED, fresh, "no HOME", NULL);
    bl_hyphcache_free(x, BL_HC_UNCACHED);

    /* A missing home: nothing is created, everything works. */
    snprintf(d, sizeof d, "%s/no-home", scratch);
    setenv("HOME", d, 1);
    x = load_as(en, BL_HC_UNCACHED, fresh, "missing HOME", NULL);
    bl_hyphcache_free(x, BL_HC_UNCACHED);
    struct stat st;
    CHECK(stat(d, &st) != 0, "a missing HOME is not created");

    /* An existing home gets .cache/bulletin, mode 0700, and an entry. */
    snprintf(d, sizeof d, "%s/home", scratch);
    mkdir(d, 0755);
    setenv("HOME", d, 1);
    x = load_as(en, BL_HC_WRITTEN, fresh, "HOME", NULL);
    bl_hyphcache_free(x, BL_HC_WRITTEN);
    snprintf(want, sizeof want, "%s/home/.cache/bulletin", scratch);
    CHECK(stat(want, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700,
          "%s made, mode 0700 (%o)", want, (unsigned)st.st_mode & 0777);
    x = load_as(en, BL_HC_HIT, fresh, "HOME, again", NULL);
    bl_hyphcache_free(x, BL_HC_HIT);

    /* XDG_CACHE_HOME is made if missing (its parent exists). */
    snprintf(d, sizeof d, "%s/xdg", scratch);
    setenv("XDG_CACHE_HOME", d, 1);
    x = load_as(en, BL_HC_WRITTEN, fresh, "XDG_CACHE_HOME", NULL);
    bl_hyphcache_free(x, BL_HC_WRITTEN);
    snprintf(want, sizeof want, "%s/xdg/bulletin", scratch);
    CHECK(stat(want, &st) == 0 && S_ISDIR(st.st_mode), "%s made", want);
    unsetenv("XDG_CACHE_HOME");

    /* A folder that cannot be made (a file is in the way), or caching off. */
    snprintf(d, sizeof d, "%s/file", scratch);
    write_bytes(d, "x", 1);
    snprintf(d, sizeof d, "%s/file/sub", scratch);
    setenv("BULLETIN_CACHE_DIR", d, 1);
    x = load_as(en, BL_HC_UNCACHED, fresh, "unwritable BULLETIN_CACHE_DIR", NULL);
    bl_hyphcache_free(x, BL_HC_UNCACHED);
    setenv("BULLETIN_CACHE_DIR", "", 1);
    x = load_as(en, BL_HC_UNCACHED, fresh, "BULLETIN_CACHE_DIR=\"\"", NULL);
    bl_hyphcache_free(x, BL_HC_UNCACHED);
    /* and a BULLETIN_CACHE_DIR several levels down is made whole */
    snprintf(d, sizeof d, "%s/deep/er/cache", scratch);
    setenv("BULLETIN_CACHE_DIR", d, 1);
    x = load_as(en, BL_HC_WRITTEN, fresh, "nested BULLETIN_CACHE_DIR", NULL);
    bl_hyphcache_free(x, BL_HC_WRITTEN);
    int how;
    x = bl_hyphcache_load("/nonexistent/hyph_xx.dic", &how);
    CHECK(!x && how == BL_HC_FAILED, "a missing .dic: %s", how_name(how));
    hnj_hyphen_free(fresh);
    setenv("BULLETIN_CACHE_DIR", cache_dir, 1);
    restore_env("HOME", home);
    restore_env("XDG_CACHE_HOME", xdg);
}

/* Each installed dictionary (and the test's own): written, then read back
 * equal in every field and for every word. */
static void roundtrip(const char *path, const wordlist *w, int compound)
{
    HyphenDict *fresh = hnj_hyphen_load(path);
    CHECK(fresh != NULL, "libhyphen loads %s", path);
    if (!fresh)
        return;
    char what[600];
    snprintf(what, sizeof what, "%s, first load", path);
    int how;
    HyphenDict *a = load_as(path, BL_HC_WRITTEN, fresh, what, &how);
    snprintf(what, sizeof what, "%s, from the cache", path);
    HyphenDict *b = load_as(path, BL_HC_HIT, fresh, what, NULL);
    if (compound) /* NEXTLEVEL: the levels of the file, not libhyphen's default first level */
        CHECK(b && b->nextlevel && b->nextlevel->num_states > 1 && !b->nextlevel->nextlevel,
              "%s: two levels", path);
    const char *first = "";
    size_t bad = b ? differ(fresh, b, w, 1, &first) : 1;
    CHECK(bad == 0, "%s: %zu of %zu words hyphenate differently from the cache (first: %s)",
          path, bad, w->n, first);
    bl_hyphcache_free(a, how);
    bl_hyphcache_free(b, BL_HC_HIT);
    hnj_hyphen_free(fresh);
}

/* A dictionary of the test's own with every option and two explicit levels. */
static void write_own_dic(const char *path, int patterns, const char *extra)
{
    bl_buf b = { 0 };
    bl_buf_puts(&b, "UTF-8\nLEFTHYPHENMIN 2\nRIGHTHYPHENMIN 3\nCOMPOUNDLEFTHYPHENMIN 4\n"
                    "COMPOUNDRIGHTHYPHENMIN 5\nNOHYPHEN -,',\xE2\x80\x99\n1-1\n1'1\n"
                    "1\xE2\x80\x99" "1\nNEXTLEVEL\nLEFTHYPHENMIN 1\nNOHYPHEN ab\n");
    char err[200];
    bl_file *f = bl_file_read("/usr/share/hyphen/hyph_en_US.dic", 1u << 20, err, sizeof err);
    int lines = 0;
    for (const char *l = f ? strchr(f->text, '\n') : NULL; l && *++l && lines < patterns;
         l = strchr(l, '\n'), lines++) {
        const char *e = strchr(l, '\n');
        if (*l >= 'A' && *l <= 'Z')
            continue;
        bl_buf_append(&b, l, e ? (size_t)(e - l) + 1 : strlen(l));
    }
    bl_file_free(f);
    if (extra)
        bl_buf_puts(&b, extra);
    write_bytes(path, b.data, b.len);
    bl_buf_free(&b);
}

/* Damaged entries: every one rejected; the checks behind the checksum are
 * exercised by resealing.  Dictionaries that still decode are hyphenated (the
 * sanitizer build checks that libhyphen stays in bounds; the test ending
 * shows that it never hangs). */
static void damage_tests(const char *path, int exhaustive)
{
    wordlist words = { 0 }, *w = &words;
    for (size_t i = 0; i < sizeof own_words / sizeof *own_words; i++)
        add_word(w, own_words[i], strlen(own_words[i]));
    add_patterns(w, path);
    size_t step = exhaustive ? 1 : 53;
    bl_hyphcache_key key = key_for(path);
    HyphenDict *fresh = hnj_hyphen_load(path);
    size_t n = 0;
    unsigned char *good = fresh ? bl_hyphcache_encode(fresh, &key, &n) : NULL;
    CHECK(good != NULL, "%s encodes", path);
    if (!good) {
        if (fresh)
            hnj_hyphen_free(fresh);
        bl_buf_free(&w->text);
        free(w->off);
        return;
    }
    HyphenDict *d = bl_hyphcache_decode(good, n, &key);
    char why[128] = "";
    CHECK(d && dict_same(fresh, d, why, sizeof why), "%s decodes to the same (%s)", path, why);
    bl_hyphcache_free(d, BL_HC_HIT);
    unsigned char *buf = malloc(n + 1);

    /* Truncated at every length near the start, then every 1009 bytes, and
     * the last 16; and one byte too long. */
    size_t tries = 0, taken = 0;
    for (size_t len = 0; len < n; len += len < 700 || len + 16 >= n ? 1 : 1009) {
        tries++;
        if ((d = bl_hyphcache_decode(good, len, &key))) {
            taken++;
            bl_hyphcache_free(d, BL_HC_HIT);
        }
    }
    memcpy(buf, good, n);
    buf[n] = 0;
    d = bl_hyphcache_decode(buf, n + 1, &key);
    CHECK(taken == 0 && !d, "%s: %zu of %zu truncated entries taken", path, taken, tries);
    bl_hyphcache_free(d, BL_HC_HIT);

    /* Random bit flips, checksum left alone: all rejected. */
    taken = 0;
    for (int r = 0; r < 2000; r++) {
        memcpy(buf, good, n);
        buf[next_rand() % n] ^= (unsigned char)(1u << (next_rand() % 8));
        if ((d = bl_hyphcache_decode(buf, n, &key))) {
            taken++;
            bl_hyphcache_free(d, BL_HC_HIT);
        }
    }
    CHECK(taken == 0, "%s: %zu of 2000 entries with a flipped bit taken", path, taken);

    /* The same, resealed, and for a small entry every byte set to six values:
     * the consistency checks alone.  A few changes make another consistent
     * dictionary (a different digit in a match string), which is fine. */
    size_t rejected = 0, accepted = 0, total = 0;
    size_t rounds = exhaustive ? n * 6 : 400;
    for (size_t r = 0; r < rounds; r++) {
        memcpy(buf, good, n);
        size_t at = exhaustive ? r / 6 : (size_t)(next_rand() % n);
        static const int vals[6] = { 0x00, 0xFF, 0x80, 0x7F, -1, -2 };
        int v = exhaustive ? vals[r % 6] : (int)(next_rand() % 256);
        buf[at] = v == -1 ? (unsigned char)(buf[at] + 1) : v == -2 ? (unsigned char)(buf[at] ^ 1)
                                                                  : (unsigned char)v;
        bl_hyphcache_reseal(buf, n);
        total++;
        if (!(d = bl_hyphcache_decode(buf, n, &key))) {
            rejected++;
            continue;
        }
        accepted++;
        differ(fresh, d, w, step, NULL);
        bl_hyphcache_free(d, BL_HC_HIT);
    }
    CHECK(rejected > 0 && rejected + accepted == total,
          "%s: resealed changes: %zu rejected, %zu taken and hyphenated", path, rejected,
          accepted);
    printf("%s: %zu resealed changes, %zu rejected by the consistency checks\n", path, total,
           rejected);

    /* The key: another file, size or time. */
    bl_hyphcache_key k2 = key;
    k2.path = "/usr/share/hyphen/hyph_other.dic";
    int wrong = 0;
    wrong += !!(d = bl_hyphcache_decode(good, n, &k2));
    bl_hyphcache_free(d, BL_HC_HIT);
    k2 = key;
    k2.size++;
    wrong += !!(d = bl_hyphcache_decode(good, n, &k2));
    bl_hyphcache_free(d, BL_HC_HIT);
    k2 = key;
    k2.mtime_sec++;
    wrong += !!(d = bl_hyphcache_decode(good, n, &k2));
    bl_hyphcache_free(d, BL_HC_HIT);
    k2 = key;
    k2.mtime_nsec++;
    wrong += !!(d = bl_hyphcache_decode(good, n, &k2));
    bl_hyphcache_free(d, BL_HC_HIT);
    CHECK(wrong == 0, "%s: %d entries for another path, size or time taken", path, wrong);

    /* Format version, byte order and struct sizes (bytes 8-31). */
    wrong = 0;
    for (size_t at = 8; at < 32; at++) {
        memcpy(buf, good, n);
        buf[at] ^= 0x40;
        bl_hyphcache_reseal(buf, n);
        wrong += !!(d = bl_hyphcache_decode(buf, n, &key));
        bl_hyphcache_free(d, BL_HC_HIT);
    }
    CHECK(wrong == 0, "%s: %d entries with another version or layout taken", path, wrong);
    free(buf);
    free(good);
    hnj_hyphen_free(fresh);
    bl_buf_free(&w->text);
    free(w->off);
}

/* A copy of entry good (n bytes, level 0 of it edited by edit) resealed
 * and decoded: want 0 rejected, 1 taken.  The entry's states come in
 * breadth-first order, so these edits reach the decoder's tree check (an
 * edited dictionary goes through the encoder, which renumbers trees and
 * writes anything else as it is). */
typedef struct lv0 {
    unsigned char *states, *to; /* 12-byte states; the transitions' u32 targets */
    uint32_t nstates, ntrans;
} lv0;

static void expect_edited(const unsigned char *good, size_t n, const bl_hyphcache_key *key, int want,
                          void (*edit)(lv0 *), const char *what)
{
    unsigned char *buf = malloc(n);
    if (!buf)
        return;
    memcpy(buf, good, n);
    uint32_t plen, ns, nt;
    memcpy(&plen, buf + 28, 4);
    unsigned char *rec = buf + 72 + plen + 1 + 4; /* header, path, levels; then level 0's record */
    memcpy(&ns, rec + 36, 4);
    memcpy(&nt, rec + 40, 4);
    lv0 L = {rec + 48, rec + 48 + (size_t)ns * 12, ns, nt};
    edit(&L);
    bl_hyphcache_reseal(buf, n);
    HyphenDict *d = bl_hyphcache_decode(buf, n, key);
    CHECK(!!d == want, "%s: %s", what, d ? "taken" : "rejected");
    bl_hyphcache_free(d, BL_HC_HIT);
    free(buf);
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static uint16_t ntrans_of(const lv0 *L, uint32_t i)
{
    uint16_t v;
    memcpy(&v, L->states + 12 * (size_t)i + 8, 2);
    return v;
}
static void set_ntrans(lv0 *L, uint32_t i, uint16_t v) { memcpy(L->states + 12 * (size_t)i + 8, &v, 2); }

static void edit_nothing(lv0 *L) { (void)L; }
static void edit_back_to_parent(lv0 *L) { put32(L->to + 4, 1); } /* the root's second child is state 1 again */
static void edit_to_itself(lv0 *L)
{
    /* the first transition of the first state after the root with one */
    uint32_t t = ntrans_of(L, 0);
    for (uint32_t i = 1; i < L->nstates; i++) {
        if (ntrans_of(L, i)) {
            put32(L->to + 4 * t, i);
            return;
        }
        t += ntrans_of(L, i);
    }
}
static void edit_skip_child(lv0 *L) { put32(L->to + 4, get32(L->to + 4) + 1); } /* 1, 3, 3, ... */
static void edit_swap(lv0 *L) /* 2, 1, 3, ...: each reached once, out of order */
{
    uint32_t a = get32(L->to), b = get32(L->to + 4);
    put32(L->to, b);
    put32(L->to + 4, a);
}
static void edit_orphan(lv0 *L) /* the root's children moved to state 1: it has no parent */
{
    set_ntrans(L, 1, (uint16_t)(ntrans_of(L, 1) + ntrans_of(L, 0)));
    set_ntrans(L, 0, 0);
}
static void tree_edits(const char *path)
{
    bl_hyphcache_key key = key_for(path);
    HyphenDict *dict = hnj_hyphen_load(path);
    size_t n = 0;
    unsigned char *good = dict ? bl_hyphcache_encode(dict, &key, &n) : NULL;
    CHECK(good != NULL, "%s: encoded", path);
    if (good) {
        lv0 probe;
        uint32_t plen;
        memcpy(&plen, good + 28, 4);
        const unsigned char *rec = good + 72 + plen + 1 + 4;
        memcpy(&probe.nstates, rec + 36, 4);
        memcpy(&probe.ntrans, rec + 40, 4);
        probe.to = (unsigned char *)(uintptr_t)(rec + 48 + (size_t)probe.nstates * 12);
        int bfs = probe.nstates > 3;
        for (uint32_t j = 0; bfs && j < probe.ntrans; j++)
            bfs = get32(probe.to + 4 * j) == j + 1;
        CHECK(bfs, "%s: level 0's states in breadth-first order (targets 1, 2, 3, ...)", path);
        expect_edited(good, n, &key, 1, edit_nothing, "resealed unchanged");
        expect_edited(good, n, &key, 0, edit_back_to_parent, "a transition to a state already reached");
        expect_edited(good, n, &key, 0, edit_to_itself, "a transition from a state to itself");
        expect_edited(good, n, &key, 0, edit_skip_child, "a child skipped");
        expect_edited(good, n, &key, 0, edit_swap, "two children out of order");
        expect_edited(good, n, &key, 0, edit_orphan, "a state with no parent before its children");
    }
    free(good);
    if (dict)
        hnj_hyphen_free(dict);
}

/* Encodes dict with one field changed (by the caller) and checks that the
 * entry is rejected (want 0) or taken (want 1). */
static void expect_decode(const HyphenDict *dict, const bl_hyphcache_key *key, int want,
                          const char *what)
{
    size_t n;
    unsigned char *buf = bl_hyphcache_encode(dict, key, &n);
    HyphenDict *d = buf ? bl_hyphcache_decode(buf, n, key) : NULL;
    CHECK(buf && !!d == want, "%s: %s", what, !buf ? "not encoded" : d ? "taken" : "rejected");
    bl_hyphcache_free(d, BL_HC_HIT);
    free(buf);
}

/* The state that state s reaches on ch, or -1. */
static int child(const HyphenDict *d, int s, char ch)
{
    for (int j = 0; j < d->states[s].num_trans; j++)
        if (d->states[s].trans[j].ch == ch)
            return d->states[s].trans[j].new_state;
    return -1;
}

/* Hostile entries made by changing one field of a real dictionary: indices
 * out of range, a transition graph that is not a tree, fallback cycles (a
 * hang in libhyphen), match strings longer than their state allows (writes
 * before libhyphen's buffer), empty NOHYPHEN strings (another hang). */
static void hostile_tests(void)
{
    const char *en = "/usr/share/hyphen/hyph_en_US.dic";
    bl_hyphcache_key key = key_for(en);
    HyphenDict *top = hnj_hyphen_load(en);
    if (!top || !top->nextlevel || !top->nohyphen) {
        CHECK(0, "%s: two levels, NOHYPHEN in the first", en);
        return;
    }
    HyphenDict *d = top->nextlevel;
    expect_decode(top, &key, 1, "unchanged");
    int dot = child(d, 0, '.'), dota = dot > 0 ? child(d, dot, 'a') : -1;
    int a = child(d, 0, 'a'), ab = a > 0 ? child(d, a, 'b') : -1, b = child(d, 0, 'b');
    int abx = ab > 0 && d->states[ab].num_trans ? d->states[ab].trans[0].new_state : -1;
    CHECK(dota > 0 && ab > 0 && b > 0 && abx > 0, "states '.a', 'ab', 'b' and a child of 'ab'");
    if (dota <= 0 || ab <= 0 || b <= 0 || abx <= 0) {
        hnj_hyphen_free(top);
        return;
    }
    HyphenTrans *t = &d->states[a].trans[0];
    int keep = t->new_state;
    t->new_state = d->num_states;
    expect_decode(top, &key, 0, "transition to state num_states");
    t->new_state = -1;
    expect_decode(top, &key, 0, "transition to state -1");
    t->new_state = 0;
    expect_decode(top, &key, 0, "transition back to the root");
    t->new_state = b; /* 'b' gets a second parent, the old child none */
    expect_decode(top, &key, 0, "a state with two parents");
    t->new_state = keep;

    HyphenState *s = &d->states[ab];
    keep = s->fallback_state;
    s->fallback_state = d->num_states;
    expect_decode(top, &key, 0, "fallback num_states");
    s->fallback_state = -1;
    expect_decode(top, &key, 0, "fallback -1 below the root");
    s->fallback_state = -7;
    expect_decode(top, &key, 0, "fallback -7");
    s->fallback_state = ab;
    expect_decode(top, &key, 0, "fallback to itself");
    s->fallback_state = abx;
    expect_decode(top, &key, 0, "fallback to a deeper state");
    s->fallback_state = a; /* shallower: taken */
    expect_decode(top, &key, 1, "fallback to a shallower state");
    s->fallback_state = keep;
    d->states[0].fallback_state = 0;
    expect_decode(top, &key, 0, "the root falling back to itself");
    d->states[0].fallback_state = -1;

    char *m = s->match, longm[] = "1234", okm[] = "123", bad[] = "1a2";
    s->match = longm; /* depth 2, not after '.': at most 3 digits */
    expect_decode(top, &key, 0, "a match longer than its depth + 1");
    s->match = okm;
    expect_decode(top, &key, 1, "a match of depth + 1");
    s->match = bad;
    expect_decode(top, &key, 0, "a match with a letter");
    s->match = m;
    m = d->states[dota].match;
    d->states[dota].match = okm; /* '.a' starts the word: at most 2 digits */
    expect_decode(top, &key, 0, "a match of depth + 1 for a state starting with '.'");
    d->states[dota].match = m;

    char *r = s->repl, rb[] = "b=b";
    s->repl = rb;
    size_t n;
    unsigned char *buf = bl_hyphcache_encode(top, &key, &n);
    CHECK(!buf, "replacement patterns are not cached");
    free(buf);
    s->repl = r;

    char c0 = top->nohyphen[0];
    top->nohyphen[0] = 0;
    expect_decode(top, &key, 0, "an empty NOHYPHEN string");
    top->nohyphen[0] = c0;
    top->utf8 = 0;
    expect_decode(top, &key, 0, "utf8 0 with charset UTF-8");
    top->utf8 = 1;
    char cset[MAX_NAME];
    memcpy(cset, top->cset, MAX_NAME);
    memset(top->cset, 'A', MAX_NAME);
    expect_decode(top, &key, 0, "a charset name without its NUL");
    memcpy(top->cset, cset, MAX_NAME);
    expect_decode(top, &key, 1, "all restored");
    hnj_hyphen_free(top);
}

/* Files at the entry's name that are not entries: each is replaced (or, a
 * folder, left) and the dictionary equals libhyphen's. */
static void file_tests(const char *path)
{
    char entry[1024];
    bl_hyphcache_entry(cache_dir, path, entry, sizeof entry);
    HyphenDict *fresh = hnj_hyphen_load(path);
    size_t n;
    unsigned char *good = read_bytes(entry, &n);
    CHECK(good && n > 1000, "%s exists", entry);
    if (!good || !fresh) {
        free(good);
        if (fresh)
            hnj_hyphen_free(fresh);
        return;
    }
    unsigned char junk[5000];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)next_rand();
    struct { const char *what; const void *p; size_t n; } cases[] = {
        { "an entry cut in half", good, n / 2 },
        { "an empty file", "", 0 },
        { "random bytes", junk, sizeof junk },
        { "the header alone", good, 72 },
    };
    HyphenDict *x;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        unlink(entry);
        write_bytes(entry, cases[i].p, cases[i].n);
        x = load_as(path, BL_HC_WRITTEN, fresh, cases[i].what, NULL);
        bl_hyphcache_free(x, BL_HC_WRITTEN);
        x = load_as(path, BL_HC_HIT, fresh, cases[i].what, NULL);
        bl_hyphcache_free(x, BL_HC_HIT);
    }
    /* A FIFO must not block the open; /dev/zero must not be read forever. */
    unlink(entry);
    CHECK(mkfifo(entry, 0600) == 0, "mkfifo");
    x = load_as(path, BL_HC_WRITTEN, fresh, "a FIFO at the entry's name", NULL);
    bl_hyphcache_free(x, BL_HC_WRITTEN);
    unlink(entry);
    CHECK(symlink("/dev/zero", entry) == 0, "symlink");
    x = load_as(path, BL_HC_WRITTEN, fresh, "a link to /dev/zero", NULL);
    bl_hyphcache_free(x, BL_HC_WRITTEN);
    unlink(entry);
    char inside[1100];
    mkdir(entry, 0700);
    snprintf(inside, sizeof inside, "%s/x", entry);
    write_bytes(inside, "x", 1);
    x = load_as(path, BL_HC_UNCACHED, fresh, "a folder at the entry's name", NULL);
    bl_hyphcache_free(x, BL_HC_UNCACHED);
    unlink(inside);
    rmdir(entry);
    /* A hostile entry with a valid checksum: rejected, rewritten. */
    bl_hyphcache_key key = key_for(path);
    HyphenDict *lv = fresh->nextlevel ? fresh->nextlevel : fresh;
    int keep = lv->states[lv->num_states - 1].fallback_state;
    lv->states[lv->num_states - 1].fallback_state = lv->num_states + 5;
    unsigned char *bad = bl_hyphcache_encode(fresh, &key, &n);
    lv->states[lv->num_states - 1].fallback_state = keep;
    CHECK(bad && write_bytes(entry, bad, n), "hostile entry written");
    free(bad);
    x = load_as(path, BL_HC_WRITTEN, fresh, "an entry with a fallback out of range", NULL);
    bl_hyphcache_free(x, BL_HC_WRITTEN);
    x = load_as(path, BL_HC_HIT, fresh, "the rewritten entry", NULL);
    bl_hyphcache_free(x, BL_HC_HIT);
    CHECK(stray_files(cache_dir) == 0, "no temporary files left in %s", cache_dir);
    free(good);
    hnj_hyphen_free(fresh);
}

/* A changed .dic file (a copy: /usr/share is not ours) makes its entry stale. */
static void stale_tests(const char *scratch)
{
    char dics[600], copy[700];
    snprintf(dics, sizeof dics, "%s/dics", scratch);
    mkdir(dics, 0700);
    snprintf(copy, sizeof copy, "%s/hyph_en_US.dic", dics);
    size_t n;
    unsigned char *text = read_bytes("/usr/share/hyphen/hyph_en_US.dic", &n);
    CHECK(text && write_bytes(copy, text, n), "copy of hyph_en_US.dic");
    if (!text)
        return;
    HyphenDict *fresh = hnj_hyphen_load(copy), *x;
    x = load_as(copy, BL_HC_WRITTEN, fresh, "copy, first load", NULL);
    bl_hyphcache_free(x, BL_HC_WRITTEN);
    x = load_as(copy, BL_HC_HIT, fresh, "copy, second load", NULL);
    bl_hyphcache_free(x, BL_HC_HIT);

    /* Another size: a pattern more. */
    FILE *f = fopen(copy, "ab");
    if (f) {
        fputs("zz1zz\n", f);
        fclose(f);
    }
    HyphenDict *grown = hnj_hyphen_load(copy);
    CHECK(grown && grown->nextlevel->num_states > fresh->nextlevel->num_states,
          "the new pattern adds states");
    x = load_as(copy, BL_HC_WRITTEN, grown, "copy with a pattern more", NULL);
    bl_hyphcache_free(x, BL_HC_WRITTEN);
    x = load_as(copy, BL_HC_HIT, grown, "copy with a pattern more, again", NULL);
    bl_hyphcache_free(x, BL_HC_HIT);

    /* The same size, another time: ".a2ch4" becomes ".a3ch4". */
    struct stat st;
    stat(copy, &st);
    char *p = strstr((char *)text, ".a2ch4");
    CHECK(p != NULL, ".a2ch4 in hyph_en_US.dic");
    if (p) {
        p[2] = '3';
        write_bytes(copy, text, n);
        FILE *g = fopen(copy, "ab");
        if (g) {
            fputs("zz1zz\n", g);
            fclose(g);
        }
        struct timespec ts[2] = { st.st_atim, st.st_mtim };
        ts[1].tv_sec += 1;
        utimensat(AT_FDCWD, copy, ts, 0);
        struct stat st2;
        stat(copy, &st2);
        CHECK(st2.st_size == st.st_size, "same size");
        HyphenDict *edited = hnj_hyphen_load(copy);
        char why[128];
        CHECK(edited && !dict_same(grown, edited, why, sizeof why), "the edit changes the dictionary");
        x = load_as(copy, BL_HC_WRITTEN, edited, "copy edited in place", NULL);
        bl_hyphcache_free(x, BL_HC_WRITTEN);
        x = load_as(copy, BL_HC_HIT, edited, "copy edited in place, again", NULL);
        bl_hyphcache_free(x, BL_HC_HIT);
        if (edited)
            hnj_hyphen_free(edited);
    }
    /* One entry per .dic file: rewritten in place, nothing left over. */
    char entry[1024];
    bl_hyphcache_entry(cache_dir, copy, entry, sizeof entry);
    CHECK(stat(entry, &st) == 0, "entry %s", entry);
    CHECK(stray_files(cache_dir) == 0, "no temporary files left in %s", cache_dir);
    free(text);
    if (grown)
        hnj_hyphen_free(grown);
    hnj_hyphen_free(fresh);
}

/* Threads that all find no entry write it at once: each gets a whole
 * dictionary, and the entry that stays is valid. */
struct loader {
    const char *path;
    HyphenDict *d;
    int how;
};
static void *load_thread(void *arg)
{
    struct loader *l = arg;
    l->d = bl_hyphcache_load(l->path, &l->how);
    return NULL;
}

static void concurrent_tests(const char *scratch)
{
    char d[600];
    snprintf(d, sizeof d, "%s/concurrent", scratch);
    setenv("BULLETIN_CACHE_DIR", d, 1);
    const char *fr = "/usr/share/hyphen/hyph_fr.dic";
    HyphenDict *fresh = hnj_hyphen_load(fr);
    struct loader l[6];
    pthread_t th[6];
    int started = 0;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 6; i++) {
            l[i] = (struct loader){ fr, NULL, -1 };
            if (pthread_create(&th[i], NULL, load_thread, &l[i]) == 0)
                started++;
        }
        int good = 0;
        for (int i = 0; i < 6; i++) {
            pthread_join(th[i], NULL);
            char why[128];
            good += l[i].d && dict_same(fresh, l[i].d, why, sizeof why)
                    && (round == 0 || l[i].how == BL_HC_HIT);
            bl_hyphcache_free(l[i].d, l[i].how);
        }
        CHECK(good == 6, "round %d: %d of 6 threads got the dictionary%s", round, good,
              round ? " from the cache" : "");
    }
    CHECK(started == 12, "threads started");
    CHECK(stray_files(d) == 0, "no temporary files left in %s", d);
    hnj_hyphen_free(fresh);
    setenv("BULLETIN_CACHE_DIR", cache_dir, 1);
}

/* bl_hyphenate's points for every word, with the cache on and off. */
static void points_all(const char *lang, const wordlist *w, bl_buf *out)
{
    const bl_hyphenator *h = bl_hyphenator_get(lang);
    for (size_t i = 0; i < w->n; i++) {
        const char *word = word_at(w, i);
        size_t n = strlen(word);
        uint8_t pts[128];
        int r = bl_hyphenate(h, word, n, 2, 2, pts);
        bl_buf_printf(out, "%d:", r);
        for (size_t k = 0; r > 0 && k <= n; k++)
            if (pts[k])
                bl_buf_printf(out, "%zu,", k);
    }
}

static void production_tests(const wordlist *w)
{
    static const char *const langs[] = { "en", "fr", "nl" };
    for (size_t i = 0; i < 3; i++) {
        bl_buf on = { 0 }, off = { 0 };
        bl_hyphen_shutdown();
        setenv("BULLETIN_CACHE_DIR", cache_dir, 1); /* entries exist by now */
        points_all(langs[i], w, &on);
        bl_hyphen_shutdown();
        setenv("BULLETIN_CACHE_DIR", "", 1);
        points_all(langs[i], w, &off);
        CHECK(on.len > 0 && on.len == off.len && !memcmp(on.data, off.data, on.len),
              "%s: bl_hyphenate gives the same points with and without the cache", langs[i]);
        bl_buf_free(&on);
        bl_buf_free(&off);
    }
    bl_hyphen_shutdown();
    setenv("BULLETIN_CACHE_DIR", cache_dir, 1);
}

static void cache_tests(const char *scratch)
{
    wordlist w = { 0 };
    build_words(&w);
    CHECK(w.n > 20000, "word list: %zu words", w.n);
    printf("word list: %zu words\n", w.n);

    /* A scratch cache folder of its own, every installed dictionary once
     * (hyph_fr.dic has NEXTLEVEL: two levels of patterns). */
    snprintf(cache_dir, sizeof cache_dir, "%s/cache2", scratch);
    setenv("BULLETIN_CACHE_DIR", cache_dir, 1);
    glob_t g;
    int dics = 0;
    if (glob("/usr/share/hyphen/hyph_*.dic", 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            struct stat st;
            if (lstat(g.gl_pathv[i], &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            char err[200];
            bl_file *f = bl_file_read(g.gl_pathv[i], 16u << 20, err, sizeof err);
            int compound = f && strstr(f->text, "\nNEXTLEVEL");
            bl_file_free(f);
            roundtrip(g.gl_pathv[i], &w, compound);
            dics++;
        }
        globfree(&g);
    }
    CHECK(dics >= 3, "%d installed dictionaries", dics);

    char own[700];
    snprintf(own, sizeof own, "%s/hyph_own.dic", scratch);
    write_own_dic(own, 400, NULL);
    roundtrip(own, &w, 1);
    snprintf(own, sizeof own, "%s/hyph_repl.dic", scratch);
    write_own_dic(own, 400, "f1f/ff=f,1,2\n");
    HyphenDict *fresh = hnj_hyphen_load(own);
    HyphenDict *x = load_as(own, BL_HC_UNCACHED, fresh, "a dictionary with a replacement", NULL);
    bl_hyphcache_free(x, BL_HC_UNCACHED);
    char entry[1024];
    struct stat st;
    bl_hyphcache_entry(cache_dir, own, entry, sizeof entry);
    CHECK(stat(entry, &st) != 0, "no entry for a dictionary with replacements");
    if (fresh)
        hnj_hyphen_free(fresh);

    snprintf(own, sizeof own, "%s/hyph_tiny.dic", scratch);
    write_own_dic(own, 12, NULL);
    damage_tests(own, 1);
    damage_tests("/usr/share/hyphen/hyph_en_US.dic", 0);
    hostile_tests();
    tree_edits("/usr/share/hyphen/hyph_en_US.dic");
    file_tests("/usr/share/hyphen/hyph_en_US.dic");
    stale_tests(scratch);
    concurrent_tests(scratch);
    env_tests(scratch);
    production_tests(&w);
    bl_buf_free(&w.text);
    free(w.off);
}

int main(void)
{
    /* Never the real cache: a scratch folder for this program. */
    char dir[] = "/tmp/bl-test-hyphen-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(cache_dir, sizeof cache_dir, "%s/cache", dir);
    setenv("BULLETIN_CACHE_DIR", cache_dir, 1);
    /* A cache entry that got past the checks with a fallback cycle would
     * hang libhyphen: let that fail the test (SIGALRM) rather than hang it. */
    alarm(600);
    unit_tests();   /* loads with libhyphen and writes entries */
    thread_test();  /* after bl_hyphen_shutdown: the same from the entries */
    independent_loads();
    bl_hyphen_shutdown();
    cache_tests(dir);
    bl_hyphen_shutdown();
    bl_test_cleanup(dir, bl_test_fail_count);
    return bl_test_done();
}
