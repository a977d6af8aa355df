/* main.c - the bulletin command. */
#include "bulletin.h"
#include "base.h"
#include "text-bidi.h"
#include "text-font.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: bulletin [OPTIONS] SOURCE... -o OUT.pdf\n"
    "Renders bilingual bulletins (YAML front matter + Markdown, one '::: LANG'\n"
    "section per language) to one PDF; each bulletin starts on a new page.\n"
    "SOURCE '-' reads standard input.\n"
    "\n"
    "  -o, --output FILE     the PDF to write (written whole or not at all)\n"
    "  -l, --layout NAME|FILE  parallel (default for 2+ languages), stacked,\n"
    "                        single, letter, mod, or a layout .yaml file\n"
    "      --lang TAG        only this language (implies --layout single)\n"
    "      --allow-unpaired  sections with different block counts: pair what\n"
    "                        can be paired, warn instead of failing\n"
    "      --trace FILE      also write the layout as JSON\n"
    "  -q, --quiet           no warnings\n"
    "  -h, --help            this help\n"
    "  -V, --version         the version\n"
    "\n"
    "Exit status: 0 success, 1 input or rendering error, 2 usage error.\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "bulletin: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'bulletin --help'.\n");
    return 2;
}

int main(int argc, char **argv)
{
    bulletin_options o;
    bulletin_options_init(&o);
    const char **src = calloc((size_t)argc + 1, sizeof *src);
    int nsrc = 0, rc;
    if (!src)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **val = NULL;
        if (!strcmp(a, "-o") || !strcmp(a, "--output"))
            val = &o.output;
        else if (!strcmp(a, "-l") || !strcmp(a, "--layout"))
            val = &o.layout;
        else if (!strcmp(a, "--lang"))
            val = &o.lang;
        else if (!strcmp(a, "--trace"))
            val = &o.trace;
        else if (!strcmp(a, "--allow-unpaired")) {
            o.allow_unpaired = 1;
            continue;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o.quiet = 1;
            continue;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            free(src);
            return 0;
        } else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            printf("bulletin %s\n", bulletin_version());
            free(src);
            return 0;
        } else if (a[0] == '-' && a[1]) {
            free(src);
            return usage_error("unknown option '%s'", a);
        } else {
            src[nsrc++] = a;
            continue;
        }
        if (i + 1 >= argc) {
            free(src);
            return usage_error("option '%s' needs a value", a);
        }
        *val = argv[++i];
    }
    if (!nsrc) {
        free(src);
        return usage_error("%s", "no source file given");
    }
    if (!o.output) {
        free(src);
        return usage_error("%s", "no output file given (-o OUT.pdf)");
    }
    rc = bulletin_render(src, nsrc, &o);
    free(src);
    bl_face_cache_clear();
    bl_hyphen_shutdown();
    return rc;
}
