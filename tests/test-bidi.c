/* test-bidi.c - UAX #9 through bl_bidi_levels + bl_bidi_line_levels +
 * bl_bidi_reorder: Unicode's BidiCharacterTest.txt and BidiTest.txt
 * (Debian unicode-data), then unit cases. */
#include "harness.h"
#include "base.h"
#include "text-bidi.h"

#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>

#define UCD_DIR "/usr/share/unicode/"
#define MAX_CHARS 256

/* Characters removed by UAX #9 X9 (the test files mark their levels 'x'). */
static int removed_by_x9(uint32_t cp)
{
    switch (u_charDirection((UChar32)cp)) {
    case U_BOUNDARY_NEUTRAL:
    case U_LEFT_TO_RIGHT_EMBEDDING:
    case U_RIGHT_TO_LEFT_EMBEDDING:
    case U_LEFT_TO_RIGHT_OVERRIDE:
    case U_RIGHT_TO_LEFT_OVERRIDE:
    case U_POP_DIRECTIONAL_FORMAT:
        return 1;
    default:
        return 0;
    }
}

/* One test case through our pipeline: the whole text is one paragraph and one
 * line.  Fills lev[k] (level of character k, 0xFF when removed by X9) and
 * order[] (visual order of the characters that are not removed); returns the
 * number of entries in order, or -1. */
static int run_case(const uint32_t *cps, size_t ncp, int dir, uint8_t *para, uint8_t *lev,
                    size_t *order, size_t *norder)
{
    char s[4 * MAX_CHARS];
    size_t off[MAX_CHARS + 1], n = 0;
    s[0] = 0;
    for (size_t k = 0; k < ncp; k++) {
        off[k] = n;
        n += (size_t)bl_utf8_encode(cps[k], s + n);
    }
    off[ncp] = n;
    uint8_t levels[4 * MAX_CHARS], line[4 * MAX_CHARS];
    if (bl_bidi_levels(s, n, dir, levels, para))
        return -1;
    bl_bidi_line_levels(s, levels, 0, n, *para, line);
    for (size_t k = 0; k < ncp; k++) {
        /* every byte of a character carries its level */
        for (size_t b = off[k] + 1; b < off[k + 1]; b++)
            if (line[b] != line[off[k]])
                return -1;
        lev[k] = removed_by_x9(cps[k]) ? 0xFF : line[off[k]];
    }
    *norder = bl_bidi_reorder(lev, ncp, order);
    return 0;
}

/* Parses up to max space-separated numbers ("x" -> 0xFF) in base 10 or 16;
 * returns the count. */
static size_t parse_list(const char *p, const char *end, int hex, uint32_t *out, size_t max)
{
    size_t k = 0;
    while (p < end && k < max) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p >= end)
            break;
        if (*p == 'x') {
            out[k++] = 0xFF;
            p++;
            continue;
        }
        char *e;
        unsigned long v = strtoul(p, &e, hex ? 16 : 10);
        if (e == p)
            break;
        out[k++] = (uint32_t)v;
        p = e;
    }
    return k;
}

static void bidi_character_test(void)
{
    FILE *f = fopen(UCD_DIR "BidiCharacterTest.txt", "r");
    CHECK(f, "cannot open " UCD_DIR "BidiCharacterTest.txt (Debian package unicode-data)");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0, total = 0, pass = 0, lev_fail = 0, ord_fail = 0, x9_fail = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char *field[5];
        field[0] = line;
        int nf = 1;
        for (char *p = line; *p && nf < 5; p++)
            if (*p == ';') {
                *p = 0;
                field[nf++] = p + 1;
            }
        if (nf != 5)
            continue;
        uint32_t cps[MAX_CHARS], want_lev[MAX_CHARS], want_ord[MAX_CHARS];
        size_t ncp = parse_list(field[0], field[1] - 1, 1, cps, MAX_CHARS);
        int dir = atoi(field[1]);
        uint8_t want_para = (uint8_t)atoi(field[2]);
        size_t nlev = parse_list(field[3], field[4] - 1, 0, want_lev, MAX_CHARS);
        size_t nord = parse_list(field[4], field[4] + strlen(field[4]), 0, want_ord, MAX_CHARS);
        total++;

        uint8_t para, lev[MAX_CHARS];
        size_t order[MAX_CHARS], norder;
        int ok = nlev == ncp && !run_case(cps, ncp, dir, &para, lev, order, &norder)
                 && para == want_para;
        int lev_ok = ok, ord_ok = ok, x9_ok = ok;
        for (size_t k = 0; ok && k < ncp; k++) {
            if ((want_lev[k] == 0xFF) != (lev[k] == 0xFF))
                x9_ok = 0;
            else if (want_lev[k] != 0xFF && want_lev[k] != lev[k])
                lev_ok = 0;
        }
        if (norder != nord)
            ord_ok = 0;
        for (size_t k = 0; ord_ok && k < nord; k++)
            if (order[k] != want_ord[k])
                ord_ok = 0;
        if (lev_ok && ord_ok && x9_ok) {
            pass++;
            continue;
        }
        lev_fail += !lev_ok;
        ord_fail += !ord_ok;
        x9_fail += !x9_ok;
        if (lev_fail + ord_fail + x9_fail <= 5)
            fprintf(stderr, "BidiCharacterTest: fails: %s;%s (levels %s, order %s)\n", field[0],
                    field[1], lev_ok ? "ok" : "wrong", ord_ok ? "ok" : "wrong");
    }
    free(line);
    fclose(f);
    printf("BidiCharacterTest: %zu/%zu lines pass (%.2f%%); %zu wrong levels, %zu wrong order, "
           "%zu wrong X9 removal\n",
           pass, total, total ? 100.0 * (double)pass / (double)total : 0.0, lev_fail, ord_fail,
           x9_fail);
    CHECK(total > 90000, "BidiCharacterTest: only %zu test lines read", total);
    CHECK(pass == total, "BidiCharacterTest: %zu of %zu lines fail", total - pass, total);
}

/* BidiTest.txt lists classes, not characters: one representative each, none
 * of them a paired bracket (the file assumes there are none). */
static uint32_t class_char(const char *name, size_t len)
{
    static const struct {
        const char *name;
        uint32_t cp;
    } map[] = {
        { "L", 0x61 },     { "R", 0x5D0 },    { "AL", 0x627 },   { "EN", 0x31 },
        { "ES", 0x2B },    { "ET", 0x23 },    { "AN", 0x661 },   { "CS", 0x2C },
        { "NSM", 0x300 },  { "BN", 0xAD },    { "B", 0x2029 },   { "S", 0x09 },
        { "WS", 0x20 },    { "ON", 0x21 },    { "LRE", 0x202A }, { "RLE", 0x202B },
        { "PDF", 0x202C }, { "LRO", 0x202D }, { "RLO", 0x202E }, { "LRI", 0x2066 },
        { "RLI", 0x2067 }, { "FSI", 0x2068 }, { "PDI", 0x2069 },
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strlen(map[i].name) == len && !memcmp(map[i].name, name, len))
            return map[i].cp;
    return 0;
}

static void bidi_test(void)
{
    FILE *f = fopen(UCD_DIR "BidiTest.txt", "r");
    CHECK(f, "cannot open " UCD_DIR "BidiTest.txt (Debian package unicode-data)");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0, total = 0, pass = 0, shown = 0;
    uint32_t want_lev[MAX_CHARS], want_ord[MAX_CHARS];
    size_t nlev = 0, nord = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        char *end = line + len;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (!strncmp(line, "@Levels:", 8)) {
            nlev = parse_list(line + 8, end, 0, want_lev, MAX_CHARS);
            continue;
        }
        if (!strncmp(line, "@Reorder:", 9)) {
            nord = parse_list(line + 9, end, 0, want_ord, MAX_CHARS);
            continue;
        }
        char *semi = strchr(line, ';');
        if (line[0] == '@' || !semi)
            continue;
        uint32_t cps[MAX_CHARS];
        size_t ncp = 0;
        int bad = 0;
        for (char *p = line; p < semi;) {
            while (p < semi && (*p == ' ' || *p == '\t'))
                p++;
            char *q = p;
            while (q < semi && *q != ' ' && *q != '\t')
                q++;
            if (q == p)
                break;
            uint32_t cp = class_char(p, (size_t)(q - p));
            if (!cp || ncp == MAX_CHARS)
                bad = 1;
            else
                cps[ncp++] = cp;
            p = q;
        }
        unsigned bits = (unsigned)strtoul(semi + 1, NULL, 16);
        static const int dirs[3] = { BL_DIR_AUTO, BL_DIR_LTR, BL_DIR_RTL };
        for (int b = 0; b < 3; b++) {
            if (!(bits & (1u << b)))
                continue;
            total++;
            uint8_t para, lev[MAX_CHARS];
            size_t order[MAX_CHARS], norder;
            int ok = !bad && nlev == ncp && !run_case(cps, ncp, dirs[b], &para, lev, order, &norder)
                     && norder == nord;
            for (size_t k = 0; ok && k < ncp; k++)
                ok = want_lev[k] == lev[k];
            for (size_t k = 0; ok && k < nord; k++)
                ok = want_ord[k] == order[k];
            if (ok)
                pass++;
            else if (shown++ < 5)
                fprintf(stderr, "BidiTest: fails: %.*s (paragraph %s)\n", (int)(semi - line), line,
                        b == 0 ? "auto" : b == 1 ? "LTR" : "RTL");
        }
    }
    free(line);
    fclose(f);
    printf("BidiTest: %zu/%zu cases pass (%.2f%%)\n", pass, total,
           total ? 100.0 * (double)pass / (double)total : 0.0);
    CHECK(total > 700000, "BidiTest: only %zu cases read", total);
    CHECK(pass == total, "BidiTest: %zu of %zu cases fail", total - pass, total);
}

/* Levels of a UTF-8 string's characters, one digit each, after L1 on one line. */
static void char_levels(const char *s, int dir, char *out, uint8_t *para)
{
    size_t n = strlen(s);
    uint8_t lv[512], line[512];
    out[0] = 0;
    if (n > sizeof lv || bl_bidi_levels(s, n, dir, lv, para))
        return;
    bl_bidi_line_levels(s, lv, 0, n, *para, line);
    size_t k = 0;
    for (size_t i = 0; i < n; k++) {
        uint32_t cp;
        int l = bl_utf8_decode(s + i, n - i, &cp);
        out[k] = (char)('0' + line[i]);
        i += l ? (size_t)l : 1;
    }
    out[k] = 0;
}

static void unit_tests(void)
{
    char got[256];
    uint8_t para;

    /* Hebrew with a number and a Latin abbreviation in brackets: the brackets
     * take the direction of the preceding number (N0, EN counts as R), MOU is
     * an L run at level 2, the number EN at level 2 (I2). */
    char_levels("שלום 2024 (MOU) עולם", BL_DIR_AUTO, got, &para);
    CHECK(para == 1, "auto paragraph with Hebrew first: level %d", para);
    CHECK(!strcmp(got, "11111222211222111111"), "Hebrew (MOU) levels: %s", got);
    /* Forced LTR: now MOU matches the embedding direction, so the brackets
     * are L (N0 b) and only the Hebrew words and the number are raised. */
    char_levels("שלום 2024 (MOU) עולם", BL_DIR_LTR, got, &para);
    CHECK(para == 0 && !strcmp(got, "11111222200000001111"), "same text, LTR: %s", got);
    /* RTL paragraph, brackets holding only L after R: no established L
     * context, so the brackets take the embedding direction (N0 c2). */
    char_levels("ב (MOU) ג", BL_DIR_RTL, got, &para);
    CHECK(para == 1 && !strcmp(got, "111222111"), "(MOU) in RTL between Hebrew: %s", got);
    char_levels("ב (MOU) ג", BL_DIR_LTR, got, &para);
    CHECK(para == 0 && !strcmp(got, "100000001"), "(MOU) in LTR between Hebrew: %s", got);
    char_levels("abc", BL_DIR_RTL, got, &para);
    CHECK(para == 1 && !strcmp(got, "222"), "Latin in an RTL paragraph: %s", got);
    char_levels("123", BL_DIR_AUTO, got, &para);
    CHECK(para == 0 && !strcmp(got, "000"), "digits only, auto: %s", got);
    char_levels("\xD8\xA7\xD9\xA1\xD9\xA2 12", BL_DIR_AUTO, got, &para);
    /* W2: European digits after AL become AN. */
    CHECK(para == 1 && !strcmp(got, "122122"), "Arabic with Arabic-Indic and European digits: %s",
          got);
    /* Spaces must not become ON on the way to the rules: a space and an NSM
     * would then merge with the closing bracket after them (FriBidi's W1
     * joins runs of equal type) and the pair would be lost. */
    char_levels("aא(א \xCC\x80)", BL_DIR_LTR, got, &para);
    CHECK(!strcmp(got, "0111111"), "space and NSM before a closing bracket: %s", got);
    /* P1: each paragraph has its own direction (BL_DIR_AUTO); the reported
     * level is the first paragraph's, and a B gets its own paragraph's. */
    char_levels("abc\nאב", BL_DIR_AUTO, got, &para);
    CHECK(para == 0 && !strcmp(got, "000011"), "LTR paragraph, then RTL: %s", got);
    char_levels("אב\xE2\x80\xA9" "abc", BL_DIR_AUTO, got, &para);
    CHECK(para == 1 && !strcmp(got, "111000"), "RTL paragraph, then LTR: %s", got);
    /* Characters removed by X9 take the level of the character before them,
     * or at the start of a paragraph of the one after them, so that a ZWJ
     * never splits a run (src/text-shape.c itemizes by these levels). */
    {
        const char *s = "\xE2\x80\x8D" "אב" "\xE2\x80\x8D" "ג";
        uint8_t lv[16];
        size_t n = strlen(s), ones = 0;
        CHECK(!bl_bidi_levels(s, n, BL_DIR_LTR, lv, &para), "levels");
        for (size_t i = 0; i < n; i++)
            ones += lv[i] == 1;
        CHECK(ones == n, "ZWJ at the start of and inside a Hebrew word: %zu of %zu bytes at 1",
              ones, n);
    }
    CHECK(bl_bidi_levels("", 0, BL_DIR_RTL, (uint8_t[1]){ 9 }, &para) == 0 && para == 1,
          "empty RTL paragraph");
    CHECK(bl_bidi_levels("a", 1, 7, (uint8_t[1]){ 0 }, &para) == -1, "bad base direction");

    /* L1 is not applied by bl_bidi_levels (it depends on the line), and is by
     * bl_bidi_line_levels: a space between two Hebrew words in an LTR
     * paragraph is at level 1, but at the end of a line it is reset to 0. */
    {
        const char *s = "אב גד";
        uint8_t lv[16], line[16];
        CHECK(!bl_bidi_levels(s, strlen(s), BL_DIR_LTR, lv, &para), "levels");
        CHECK(lv[4] == 1, "space between Hebrew words: level %d before L1", lv[4]);
        bl_bidi_line_levels(s, lv, 0, 5, para, line);
        CHECK(line[4] == 0 && line[0] == 1 && line[3] == 1, "trailing space of line 1 (L1)");
        bl_bidi_line_levels(s, lv, 5, strlen(s), para, line);
        CHECK(line[0] == 1 && line[3] == 1, "second line keeps its levels");
        /* A tab (segment separator) and the spaces before it are reset. */
        s = "א  \tב";
        CHECK(!bl_bidi_levels(s, strlen(s), BL_DIR_LTR, lv, &para), "levels");
        CHECK(lv[2] == 1 && lv[3] == 1 && lv[4] == 1, "spaces and tab before L1: %d %d %d",
              lv[2], lv[3], lv[4]);
        bl_bidi_line_levels(s, lv, 0, strlen(s), para, line);
        CHECK(line[2] == 0 && line[3] == 0 && line[4] == 0 && line[5] == 1,
              "spaces and tab after L1: %d %d %d %d", line[2], line[3], line[4], line[5]);
        /* Trailing whitespace of the paragraph inside an embedding (RLE). */
        s = "\xE2\x80\xAB" "א ";
        CHECK(!bl_bidi_levels(s, strlen(s), BL_DIR_LTR, lv, &para), "levels");
        CHECK(lv[5] == 1, "paragraph-final space keeps its level before L1: %d", lv[5]);
        bl_bidi_line_levels(s, lv, 0, strlen(s), para, line);
        CHECK(line[5] == 0, "paragraph-final space after L1: %d", line[5]);
    }
    /* L1 classes (FriBidi's) against ICU's u_charDirection: in RLE ALEF c, a
     * line-final c is at level 1 or 2 unless L1 resets it. */
    {
        static const uint32_t extra[] = { 0xA0, 0x85, 0x2028, 0x2029, 0x200B, 0x200D, 0x2066,
                                          0x2069, 0x202C, 0x3000, 0x1680 };
        int wrong = 0;
        for (uint32_t k = 0; k < 128 + sizeof extra / sizeof *extra; k++) {
            uint32_t c = k < 128 ? k : extra[k - 128];
            char s[16] = "\xE2\x80\xAB\xD7\x90";
            size_t n = 5;
            n += (size_t)bl_utf8_encode(c, s + n);
            uint8_t lv[16], line[16];
            if (bl_bidi_levels(s, n, BL_DIR_LTR, lv, &para)) {
                wrong++;
                continue;
            }
            bl_bidi_line_levels(s, lv, 0, n, para, line);
            UCharDirection d = u_charDirection((UChar32)c);
            int reset = d == U_WHITE_SPACE_NEUTRAL || d == U_SEGMENT_SEPARATOR
                        || d == U_BLOCK_SEPARATOR || d == U_FIRST_STRONG_ISOLATE
                        || d == U_LEFT_TO_RIGHT_ISOLATE || d == U_RIGHT_TO_LEFT_ISOLATE
                        || d == U_POP_DIRECTIONAL_ISOLATE || removed_by_x9(c);
            if ((line[5] == 0) != reset) {
                wrong++;
                fprintf(stderr, "L1 class of U+%04X: level %d\n", (unsigned)c, line[5]);
            }
        }
        CHECK(!wrong, "%d characters with the wrong L1 class", wrong);
    }

    /* Reordering a mixed line: "Price: שלום 12 עולם." in an LTR paragraph. */
    {
        const char *s = "Price: שלום 12 עולם.";
        size_t n = strlen(s), nch = 0;
        uint8_t lv[64], line[64], cl[64];
        CHECK(!bl_bidi_levels(s, n, BL_DIR_LTR, lv, &para), "levels");
        bl_bidi_line_levels(s, lv, 0, n, para, line);
        for (size_t i = 0; i < n; nch++) {
            uint32_t cp;
            cl[nch] = line[i];
            i += (size_t)bl_utf8_decode(s + i, n - i, &cp);
        }
        size_t order[64];
        size_t m = bl_bidi_reorder(cl, nch, order);
        static const size_t want[] = { 0,  1,  2,  3,  4,  5,  6, 18, 17, 16, 15,
                                       14, 12, 13, 11, 10, 9,  8, 7,  19 };
        int ok = m == sizeof want / sizeof *want;
        for (size_t k = 0; ok && k < m; k++)
            ok = order[k] == want[k];
        CHECK(ok, "visual order of a mixed line");
    }
    /* L2 on explicit levels, and items removed by X9. */
    {
        static const uint8_t lv[] = { 0, 1, 1, 2, 2, 1, 0 };
        static const size_t want[] = { 0, 5, 3, 4, 2, 1, 6 };
        size_t order[8];
        size_t m = bl_bidi_reorder(lv, 7, order);
        CHECK(m == 7 && !memcmp(order, want, sizeof want), "L2 on levels 0 1 1 2 2 1 0");
        static const uint8_t lv2[] = { 1, 0xFF, 1, 1, 0xFF };
        m = bl_bidi_reorder(lv2, 5, order);
        CHECK(m == 3 && order[0] == 3 && order[1] == 2 && order[2] == 0,
              "L2 skips removed items");
        static const uint8_t lv3[] = { 2, 2, 0, 4 };
        m = bl_bidi_reorder(lv3, 4, order);
        CHECK(m == 4 && order[0] == 0 && order[1] == 1 && order[2] == 2 && order[3] == 3,
              "only even levels: no reversal");
        CHECK(bl_bidi_reorder(lv, 0, order) == 0, "empty line");
    }
}

int main(void)
{
    bidi_character_test();
    bidi_test();
    unit_tests();
    return bl_test_done();
}
