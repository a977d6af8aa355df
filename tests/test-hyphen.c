/* test-hyphen.c - hyphenation points through bl_hyphenator_get and
 * bl_hyphenate with Debian's hyphen-en-us, hyphen-fr and hyphen-nl. */
#include "harness.h"
#include "text-bidi.h"

#include <pthread.h>
#include <string.h>

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

int main(void)
{
    unit_tests();
    thread_test();
    bl_hyphen_shutdown();
    return bl_test_done();
}
