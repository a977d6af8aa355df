/* layout-kp.c - Knuth-Plass total-fit line breaking (see layout-kp.h).
 *
 * Written from D. E. Knuth and M. F. Plass, "Breaking Paragraphs into Lines",
 * Software: Practice and Experience 11 (1981) 1119-1184 ("the paper"), with the
 * pass structure TeX uses (The TeXbook ch. 14: pretolerance pass without
 * hyphenation, tolerance pass, emergency-stretch pass).
 *
 * Deviations from the paper, and why:
 * - tolerance is an adjustment ratio, not a badness (the header says so);
 *   badness is 100|r|^3 capped at 10000, as in TeX.
 * - Active nodes are grouped by line number only up to "easy_line", the first
 *   line after which every line has the same width (paper section "line
 *   numbers"; TeX's easy_line).  Without that merge, paragraphs with a varying
 *   number of lines per position keep one node per reachable line count and
 *   the work grows quadratically.  We find easy_line by asking the width
 *   callback once for every possible line number (O(n) calls).
 * - Nodes kept apart by line number cost O(n^2 / line length) on long
 *   paragraphs, so their evaluations are counted against a budget
 *   (KP_BUDGET).  Past it, a paragraph whose widths vary up to a late line
 *   (say, a different width on every page) is broken again with all line
 *   numbers in one group: each line is still set to its own width and every
 *   line is feasible, but the result is no longer guaranteed optimal.
 * - A nonzero looseness needs exact line counts, so TeX keeps every line
 *   number apart.  We do the same within the budget; past it we switch to a
 *   Lagrangian search: each line gets a bonus lambda added to its demerits,
 *   with line numbers merged again (linear per pass), and lambda is bisected
 *   until the optimum has the wanted number of lines.  A solution found that
 *   way is the least-demerit one for its line count; counts off the convex
 *   hull of (lines, demerits) cannot be found, and then the nearest count
 *   towards the request is used.
 * - The last resort is not TeX's "artificial demerits" (which breaks wherever
 *   the last active node becomes overfull) but a pass in which every line is
 *   acceptable.  A line looser than the tolerance is ranked by its uncapped
 *   badness (kp_fallback_demerits), so that one word alone on a line no
 *   longer costs the same as a line slightly too loose; an overfull line
 *   (only the shortest overfull line from each active node, so the work stays
 *   linear) costs KP_OVERFULL_DEMERITS plus its overflow relative to the line
 *   width, more than any underfull line.  The optimum of that pass has as few
 *   and as small overfull lines as possible, which is what "least bad" means.
 */
#include "layout-kp.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define KP_INF_BAD 10000.0
/* One overfull line outweighs any underfull one: those stay below
 * (line_penalty + 10000)^2 * KP_FALLBACK_BAD / 10000, about 1e11. */
#define KP_OVERFULL_DEMERITS 1e12
/* Largest uncapped badness the fallback pass distinguishes (r = 46.4). */
#define KP_FALLBACK_BAD 1e7
/* Evaluations of nodes kept apart by line number allowed in one pass:
 * KP_BUDGET + 32 per item, a few milliseconds; exact looseness on paragraphs
 * of a few hundred words stays well inside it. */
#define KP_BUDGET 2000000.0
/* Largest per-line bonus of the Lagrangian looseness search: beyond any
 * ordinary line's demerits, below an overfull line's. */
#define KP_LAMBDA_MAX 1e10
/* Slack for rounding in the prefix sums when testing r >= -1 and r <= tolerance. */
#define KP_EPS 1e-9

enum { KP_TIGHT, KP_DECENT, KP_LOOSE, KP_VERY_LOOSE, KP_CLASSES };

void bl_kp_params_default(bl_kp_params *p)
{
    p->tolerance = 2.0;
    p->pretolerance = 1.0; /* TeX's plain \pretolerance=100 is r = 1.0 */
    p->line_penalty = 10.0;
    p->flagged_demerits = 3000.0;
    p->fitness_demerits = 100.0;
    p->last_line_hyphen_demerits = 5000.0;
    p->looseness = 0;
    p->emergency_stretch = 0.0;
}

/* A feasible break.  Every node of a pass lives in the pass's pool until the
 * pass ends; deactivated nodes stay reachable through prev. */
typedef struct kp_node kp_node;
struct kp_node {
    kp_node *prev; /* the break before this one on the best path to it */
    kp_node *next; /* next node in the active list */
    double total;  /* total demerits of that path */
    size_t pos;    /* index of the break item (SIZE_MAX for the paragraph start) */
    size_t after;  /* first item of the line that follows this break */
    size_t line;   /* lines before this break's next line, i.e. its number */
    size_t over;   /* overfull lines on the path (fallback pass only) */
    int fit;       /* fitness class of the line ending here */
    int flagged;   /* broke at a flagged penalty */
};

enum { KP_BLOCK_NODES = 1024 };
typedef struct kp_block {
    struct kp_block *next;
    size_t used;
    kp_node node[KP_BLOCK_NODES];
} kp_block;

typedef struct kp_state {
    const bl_kp_item *it;
    size_t n;
    bl_kp_params par;
    double *sw, *sy, *sz; /* width, stretch, shrink of items [0, i), i <= n */
    size_t *nd;           /* nd[i]: first item >= i that is not discardable, or n */
    double *lw;           /* width of line l, l < nlw */
    size_t nlw;
    size_t easy_lw;       /* lines >= easy_lw all have width lw[nlw-1] */
    size_t easy;          /* this pass: lines >= easy share one active group */
    double budget;        /* evaluations of nodes below easy left in this pass */
    kp_block *pool;
} kp_state;

enum {
    KP_GROUP_WIDTHS, /* lines from easy_lw on (same width) share one group */
    KP_GROUP_EXACT,  /* every line number apart (looseness, as TeX) */
    KP_GROUP_ALL     /* one group: linear, optimal only for constant widths */
};

typedef struct kp_pass {
    double threshold; /* largest ratio of a feasible line */
    double extra;     /* emergency stretch added to every line */
    int flagged_ok;   /* flagged penalties are legal breaks */
    int fallback;     /* last resort: every line is acceptable (see top) */
    int grouping;     /* which line numbers share an active group (KP_GROUP_*) */
    double bonus;     /* added to every line's demerits (looseness search) */
} kp_pass;

typedef struct kp_result {
    bl_kp_line *lines; /* malloc'd, count entries */
    size_t count, overfull;
    long looseness;    /* achieved lines minus optimal lines (exact passes) */
    double demerits;   /* total demerits, without the per-line bonus */
} kp_result;

static kp_node *kp_node_new(kp_state *s)
{
    kp_block *b = s->pool;
    if (!b || b->used == KP_BLOCK_NODES) {
        b = malloc(sizeof *b);
        if (!b)
            return NULL;
        b->next = s->pool;
        b->used = 0;
        s->pool = b;
    }
    return &b->node[b->used++];
}

static void kp_pool_free(kp_state *s)
{
    while (s->pool) {
        kp_block *b = s->pool;
        s->pool = b->next;
        free(b);
    }
}

static int kp_forced(const kp_state *s, size_t i)
{
    const bl_kp_item *x = &s->it[i];
    /* The last item ends the paragraph whatever it is (the header requires the
     * caller's finishing sequence; this keeps a bad list from losing items). */
    return i == s->n - 1 || (x->type == BL_KP_PENALTY && x->penalty <= -BL_KP_INFINITY);
}

static int kp_discardable(const bl_kp_item *x)
{
    return x->type == BL_KP_GLUE || x->type == BL_KP_PENALTY;
}

/* Legal breakpoints (the paper, section "The algorithm"): a penalty below
 * +infinity, or glue immediately after a box. */
static int kp_legal(const kp_state *s, size_t i, int flagged_ok)
{
    const bl_kp_item *x = &s->it[i];
    if (i == s->n - 1)
        return 1;
    if (x->type == BL_KP_GLUE)
        return i > 0 && !kp_discardable(&s->it[i - 1]);
    if (x->type == BL_KP_PENALTY)
        return x->penalty < BL_KP_INFINITY && (flagged_ok || !x->flagged);
    return 0;
}

/* End (exclusive) of a line broken at b: glue and penalties at the break are
 * not part of the line; only a last item that is a box stays in it. */
static size_t kp_end(const kp_state *s, size_t b)
{
    return b == s->n - 1 && !kp_discardable(&s->it[b]) ? s->n : b;
}

static double kp_line_width(const kp_state *s, size_t line)
{
    return s->lw[line < s->nlw ? line : s->nlw - 1];
}

static size_t kp_group(const kp_state *s, size_t line)
{
    return line < s->easy ? line : s->easy;
}

/* Adjustment ratio of a line of natural width w, stretch y and shrink z set to
 * width target: +-HUGE_VAL when it cannot be reached at all. */
static double kp_ratio(double w, double y, double z, double target)
{
    double slack = 1e-9 * (fabs(target) > 1.0 ? fabs(target) : 1.0);
    if (fabs(w - target) <= slack)
        return 0.0;
    if (w < target)
        return y > 0 ? (target - w) / y : HUGE_VAL;
    if (w > target)
        return z > 0 ? (target - w) / z : -HUGE_VAL;
    return -HUGE_VAL; /* NaN somewhere: treat as unusable */
}

static double kp_badness(double r)
{
    if (r < 0)
        r = -r;
    if (!(r < 5.0)) /* 100 * 5^3 > 10000; also catches infinity and NaN */
        return KP_INF_BAD;
    double b = 100.0 * r * r * r;
    return b < KP_INF_BAD ? b : KP_INF_BAD;
}

/* Fitness classes of the paper: tight r < -1/2, decent |r| <= 1/2, loose
 * 1/2 < r <= 1, very loose r > 1. */
static int kp_fitness(double r)
{
    if (r < -0.5)
        return KP_TIGHT;
    if (r <= 0.5)
        return KP_DECENT;
    if (r <= 1.0)
        return KP_LOOSE;
    return KP_VERY_LOOSE;
}

/* Demerits of a line looser than the tolerance in the fallback pass (before
 * penalties): the usual (l + b)^2 up to b = 10000, then growing linearly with
 * the uncapped badness 100 r^3.  A line with nothing to stretch (one word, or
 * glue-less text) stays at b = 10000: it is set flush like a last line, which
 * looks better than interword gaps beyond r = 4.64 (b = 10000). */
static double kp_fallback_demerits(double lp, double ratio)
{
    double b = KP_INF_BAD;
    if (ratio < HUGE_VAL)
        b = ratio < 46.4 ? 100.0 * ratio * ratio * ratio : KP_FALLBACK_BAD;
    double d = lp + (b < KP_INF_BAD ? b : KP_INF_BAD);
    d *= d;
    return b > KP_INF_BAD ? d * (b / KP_INF_BAD) : d;
}

/* Keeps totals comparable: NaN and overflow become the largest finite value,
 * so a candidate always compares below "none yet" (INFINITY). */
static double kp_clamp(double t)
{
    if (t != t || t > DBL_MAX)
        return DBL_MAX;
    if (t < -DBL_MAX)
        return -DBL_MAX;
    return t;
}

/* Best way found so far to reach the current break, per fitness class, from
 * the active nodes of one line-number group. */
typedef struct kp_cand {
    int have[KP_CLASSES];
    double total[KP_CLASSES];
    kp_node *from[KP_CLASSES];
    int over[KP_CLASSES];
    double min;
    int any;
} kp_cand;

static void kp_cand_reset(kp_cand *c)
{
    for (int i = 0; i < KP_CLASSES; i++)
        c->have[i] = 0;
    c->min = INFINITY;
    c->any = 0;
}

/* Turns the candidates into active nodes inserted at *link (which keeps the
 * list ordered by line group).  A class is kept only if it is within
 * fitness_demerits of the best: a worse one can never win later (the paper's
 * "D_c <= D + gamma" rule).  Returns 0, or -1 when out of memory. */
static int kp_insert(kp_state *s, kp_node ***link, const kp_cand *c, size_t b)
{
    double limit = c->min + fabs(s->par.fitness_demerits);
    const bl_kp_item *x = &s->it[b];
    for (int k = 0; k < KP_CLASSES; k++) {
        if (!c->have[k] || !(c->total[k] <= limit || c->total[k] == c->min))
            continue;
        kp_node *q = kp_node_new(s);
        if (!q)
            return -1;
        q->prev = c->from[k];
        q->total = c->total[k];
        q->pos = b;
        q->after = s->nd[b + 1];
        q->line = c->from[k]->line + 1;
        q->over = c->from[k]->over + (size_t)c->over[k];
        q->fit = k;
        q->flagged = x->type == BL_KP_PENALTY && x->flagged;
        q->next = **link;
        **link = q;
        *link = &q->next;
    }
    return 0;
}

/* Tries every active node as the start of a line ending at break b, records
 * the best new breaks and deactivates nodes that cannot reach past b.
 * Returns 0, 1 when the work budget ran out, -1 when out of memory. */
static int kp_try(kp_state *s, const kp_pass *ps, kp_node **active, size_t b)
{
    const bl_kp_item *x = &s->it[b];
    const bl_kp_params *p = &s->par;
    int is_pen = x->type == BL_KP_PENALTY;
    int last = b == s->n - 1;
    int forced = kp_forced(s, b);
    int flag = is_pen && x->flagged;
    double pen = is_pen && !forced ? x->penalty : 0.0;
    size_t e = kp_end(s, b);
    double ew = s->sw[e] + (is_pen ? x->width : 0.0), ey = s->sy[e], ez = s->sz[e];

    kp_cand c;
    kp_cand_reset(&c);
    size_t group = SIZE_MAX;
    kp_node **link = active, *r;
    while ((r = *link) != NULL) {
        size_t g = kp_group(s, r->line);
        if (g != group) {
            if (c.any) {
                if (kp_insert(s, &link, &c, b))
                    return -1;
                kp_cand_reset(&c);
            }
            group = g;
        }
        if (r->after > b) { /* b lies in the discardable run after r: no line */
            link = &r->next;
            continue;
        }
        if (r->line < s->easy && --s->budget < 0)
            return 1;
        size_t a = r->after;
        double target = kp_line_width(s, r->line);
        double w = ew - s->sw[a], y = ey - s->sy[a] + ps->extra, z = ez - s->sz[a];
        double ratio = kp_ratio(w, y, z, target);
        int over = !(ratio >= -1.0 - KP_EPS);
        int ok = !over && (ps->fallback || ratio <= ps->threshold + KP_EPS);
        if (ok || (over && ps->fallback)) {
            double d;
            int fit;
            if (over) {
                double scale = fabs(target) > 1e-9 ? fabs(target) : 1.0;
                d = KP_OVERFULL_DEMERITS * (1.0 + (w - target - z) / scale);
                fit = KP_TIGHT;
            } else if (ratio > ps->threshold + KP_EPS) { /* fallback only */
                d = kp_fallback_demerits(p->line_penalty, ratio);
                fit = KP_VERY_LOOSE;
            } else {
                d = p->line_penalty + kp_badness(ratio);
                d *= d;
                fit = kp_fitness(ratio);
            }
            if (pen > 0)
                d += pen * pen;
            else if (pen < 0)
                d -= pen * pen;
            if (last) {
                if (r->flagged)
                    d += p->last_line_hyphen_demerits;
            } else if (flag && r->flagged) {
                d += p->flagged_demerits;
            }
            if (abs(fit - r->fit) > 1)
                d += p->fitness_demerits;
            d += ps->bonus;
            double t = kp_clamp(r->total + d);
            if (!c.have[fit] || t < c.total[fit]) {
                c.have[fit] = 1;
                c.total[fit] = t;
                c.from[fit] = r;
                c.over[fit] = over;
            }
            if (t < c.min)
                c.min = t;
            c.any = 1;
        }
        /* No line from r can end after a forced break, and (widths being
         * nonnegative) every longer line from r is overfull too. */
        if (over || forced)
            *link = r->next;
        else
            link = &r->next;
    }
    if (c.any && kp_insert(s, &link, &c, b))
        return -1;
    return 0;
}

/* Adjustment ratio and overfullness of the line from break a to break q, with
 * the real stretch (emergency stretch only ever changes the choice). */
static double kp_final_ratio(const kp_state *s, const kp_node *a, const kp_node *q, int *over)
{
    const bl_kp_item *x = &s->it[q->pos];
    size_t e = kp_end(s, q->pos);
    double w = s->sw[e] - s->sw[a->after] + (x->type == BL_KP_PENALTY ? x->width : 0.0);
    double r = kp_ratio(w, s->sy[e] - s->sy[a->after], s->sz[e] - s->sz[a->after],
                        kp_line_width(s, a->line));
    *over = r < -1.0 - KP_EPS || r != r;
    if (*over || r < -1.0)
        return -1.0; /* glue cannot shrink further; the line sticks out */
    if (r == HUGE_VAL)
        return 0.0; /* nothing to stretch */
    return r;
}

/* One pass over the paragraph.  Returns 0 with *res filled, 1 when no
 * feasible set of breaks exists, 2 when the work budget ran out, -1 when out
 * of memory. */
static int kp_pass_run(kp_state *s, const kp_pass *ps, kp_result *res)
{
    int rc = -1;
    s->easy = ps->grouping == KP_GROUP_EXACT ? SIZE_MAX
              : ps->grouping == KP_GROUP_ALL ? 0 : s->easy_lw;
    s->budget = KP_BUDGET + 32.0 * (double)s->n;
    kp_node *active = kp_node_new(s);
    if (!active)
        goto out;
    active->prev = active->next = NULL;
    active->total = 0;
    active->pos = SIZE_MAX;
    active->after = 0; /* the first line keeps any leading glue, as in TeX */
    active->line = 0;
    active->over = 0;
    active->fit = KP_DECENT;
    active->flagged = 0;

    for (size_t b = 0; b < s->n; b++) {
        if (!kp_legal(s, b, ps->flagged_ok))
            continue;
        int t = kp_try(s, ps, &active, b);
        if (t) {
            rc = t < 0 ? -1 : 2;
            goto out;
        }
        if (!active) {
            rc = 1;
            goto out;
        }
    }
    /* The last item is a forced break, so only nodes at n-1 remain. */
    kp_node *best = NULL;
    for (kp_node *r = active; r; r = r->next)
        if (!best || r->total < best->total)
            best = r;
    res->looseness = 0;
    if (ps->grouping == KP_GROUP_EXACT && s->par.looseness != 0) {
        /* TeX's rule: the line count closest to optimal + looseness, without
         * overshooting it, fewest demerits among equals.  Never at the price
         * of more overfull lines than the optimum has. */
        size_t opt = best->line;
        long want = s->par.looseness, got = 0;
        kp_node *bet = best;
        for (kp_node *r = active; r; r = r->next) {
            if (r->over > best->over)
                continue;
            long diff = r->line >= opt ? (long)(r->line - opt) : -(long)(opt - r->line);
            if ((diff < got && want <= diff) || (diff > got && want >= diff)) {
                bet = r;
                got = diff;
            } else if (diff == got && r->total < bet->total) {
                bet = r;
            }
        }
        best = bet;
        res->looseness = got;
    }

    res->count = best->line;
    res->overfull = 0;
    res->demerits = best->total - ps->bonus * (double)best->line;
    res->lines = malloc(res->count * sizeof *res->lines);
    if (!res->lines)
        goto out;
    for (kp_node *q = best; q->prev; q = q->prev) {
        const kp_node *a = q->prev;
        const bl_kp_item *x = &s->it[q->pos];
        bl_kp_line *l = &res->lines[q->line - 1];
        int over;
        l->start = a->after;
        l->end = kp_end(s, q->pos);
        l->brk = q->pos;
        l->ratio = kp_final_ratio(s, a, q, &over);
        l->hyphenated = x->type == BL_KP_PENALTY && (x->flagged || x->width != 0);
        res->overfull += (size_t)over;
    }
    rc = 0;
out:
    kp_pool_free(s);
    return rc;
}

static void kp_sanitize(bl_kp_params *p)
{
    bl_kp_params d;
    bl_kp_params_default(&d);
    /* NaN would make every comparison false and silently disable pruning. */
    if (p->tolerance != p->tolerance)
        p->tolerance = d.tolerance;
    if (p->pretolerance != p->pretolerance)
        p->pretolerance = -1;
    if (p->line_penalty != p->line_penalty)
        p->line_penalty = d.line_penalty;
    if (p->flagged_demerits != p->flagged_demerits)
        p->flagged_demerits = d.flagged_demerits;
    if (p->fitness_demerits != p->fitness_demerits)
        p->fitness_demerits = d.fitness_demerits;
    if (p->last_line_hyphen_demerits != p->last_line_hyphen_demerits)
        p->last_line_hyphen_demerits = d.last_line_hyphen_demerits;
    if (!(p->emergency_stretch > 0))
        p->emergency_stretch = 0;
}

/* Prefix sums, next-nondiscardable table and line widths.  Returns 0 or -1. */
static int kp_setup(kp_state *s, bl_kp_width_fn width, void *ctx)
{
    size_t n = s->n;
    if (n >= SIZE_MAX / (3 * sizeof(double)) - 1)
        return -1;
    s->sw = malloc(3 * (n + 1) * sizeof(double));
    s->nd = malloc((n + 1) * sizeof(size_t));
    if (!s->sw || !s->nd)
        return -1;
    s->sy = s->sw + (n + 1);
    s->sz = s->sy + (n + 1);
    s->sw[0] = s->sy[0] = s->sz[0] = 0;
    size_t breaks = 0;
    for (size_t i = 0; i < n; i++) {
        const bl_kp_item *x = &s->it[i];
        /* Penalty widths count only when broken at; other types act as boxes.
         * Boxes may stretch and shrink too (letter spacing inside a word). */
        int flex = x->type != BL_KP_PENALTY;
        s->sw[i + 1] = s->sw[i] + (x->type == BL_KP_PENALTY ? 0.0 : x->width);
        s->sy[i + 1] = s->sy[i] + (flex ? x->stretch : 0.0);
        s->sz[i + 1] = s->sz[i] + (flex ? x->shrink : 0.0);
        breaks += (size_t)kp_legal(s, i, 1);
    }
    s->nd[n] = n;
    for (size_t i = n; i-- > 0;)
        s->nd[i] = kp_discardable(&s->it[i]) && !kp_forced(s, i) ? s->nd[i + 1] : i;

    /* Each line ends at a distinct legal break, so line numbers stay below
     * breaks; one extra entry keeps kp_line_width's clamp harmless. */
    s->nlw = breaks + 1;
    s->lw = malloc(s->nlw * sizeof(double));
    if (!s->lw)
        return -1;
    for (size_t l = 0; l < s->nlw; l++)
        s->lw[l] = width(ctx, l);
    size_t e = s->nlw - 1;
    while (e > 0 && s->lw[e - 1] == s->lw[s->nlw - 1])
        e--;
    s->easy_lw = e;
    return 0;
}

/* A pass with line numbers grouped by width, or all in one group when that
 * exceeds the budget.  ps->grouping tells which was used.  Returns like
 * kp_pass_run, never 2. */
static int kp_run_merged(kp_state *s, kp_pass *ps, kp_result *res)
{
    ps->grouping = KP_GROUP_WIDTHS;
    int rc = kp_pass_run(s, ps, res);
    if (rc == 2) {
        ps->grouping = KP_GROUP_ALL;
        rc = kp_pass_run(s, ps, res);
    }
    return rc;
}

/* Looseness by bisecting the per-line bonus (see top): returns like
 * kp_pass_run, with res->looseness the lines gained (or lost) over the
 * optimum, never past the request and never with more overfull lines. */
static int kp_loose_search(kp_state *s, const kp_pass *base, kp_result *res)
{
    kp_pass ps = *base;
    ps.bonus = 0;
    int rc = kp_run_merged(s, &ps, res);
    if (rc != 0)
        return rc;
    long want = s->par.looseness;
    size_t opt = res->count, over = res->overfull;
    double sign = want > 0 ? -1.0 : 1.0; /* a negative bonus favours more lines */
    double lo = -2.0, hi = log10(KP_LAMBDA_MAX); /* log10 of the bonus size */
    for (int i = 0; i < 48 && res->looseness != want; i++) {
        kp_result r = {0};
        double mid = (lo + hi) / 2;
        ps.bonus = sign * pow(10.0, mid);
        rc = kp_pass_run(s, &ps, &r);
        if (rc < 0)
            return rc;
        if (rc != 0) /* 1 cannot happen: the bonus does not change feasibility; */
            break;   /* 2 would need a budget the unbonused pass did not */
        long got = r.count >= opt ? (long)(r.count - opt) : -(long)(opt - r.count);
        if (r.overfull > over || (want > 0 ? got > want : got < want)) {
            hi = mid; /* overshot */
            free(r.lines);
            continue;
        }
        lo = mid;
        r.looseness = got;
        if (labs(got) > labs(res->looseness) ||
            (got == res->looseness && r.demerits < res->demerits)) {
            free(res->lines);
            *res = r;
        } else {
            free(r.lines);
        }
    }
    return 0;
}

/* One pass with looseness handled: exactly as TeX within the work budget,
 * by kp_loose_search beyond it.  Returns 0, 1 (nothing feasible) or -1. */
static int kp_solve(kp_state *s, const kp_pass *ps, kp_result *res)
{
    kp_pass p = *ps;
    if (s->par.looseness == 0)
        return kp_run_merged(s, &p, res);
    p.grouping = KP_GROUP_EXACT;
    int rc = kp_pass_run(s, &p, res);
    if (rc == 2)
        rc = kp_loose_search(s, ps, res);
    return rc;
}

size_t bl_kp_break(const bl_kp_item *items, size_t n, const bl_kp_params *p,
                   bl_kp_width_fn width, void *ctx, bl_kp_line **lines, size_t *overfull)
{
    if (overfull)
        *overfull = 0;
    if (!lines)
        return (size_t)-1;
    *lines = NULL;
    if (n == 0)
        return 0;
    if (!items || !width)
        return (size_t)-1;

    kp_state s = {0};
    s.it = items;
    s.n = n;
    if (p)
        s.par = *p;
    else
        bl_kp_params_default(&s.par);
    kp_sanitize(&s.par);

    size_t ret = (size_t)-1;
    kp_result best = {0}, cur = {0};
    int found = 0;
    if (kp_setup(&s, width, ctx))
        goto out;

    kp_pass passes[3];
    int np = 0;
    if (s.par.pretolerance >= 0)
        passes[np++] = (kp_pass){s.par.pretolerance, 0.0, 0, 0, KP_GROUP_WIDTHS, 0.0};
    passes[np++] = (kp_pass){s.par.tolerance, 0.0, 1, 0, KP_GROUP_WIDTHS, 0.0};
    if (s.par.emergency_stretch > 0)
        passes[np++] = (kp_pass){s.par.tolerance, s.par.emergency_stretch, 1, 0, KP_GROUP_WIDTHS, 0.0};
    for (int i = 0; i < np; i++) {
        int rc = kp_solve(&s, &passes[i], &cur);
        if (rc < 0)
            goto out;
        if (rc == 0) {
            /* A later pass accepts a superset of lines, so it can only get
             * closer to the requested looseness (TeX retries the same way). */
            free(best.lines);
            best = cur;
            cur.lines = NULL;
            found = 1;
            if (best.looseness == s.par.looseness)
                break;
        }
    }
    if (!found) {
        kp_pass last = {s.par.tolerance, s.par.emergency_stretch, 1, 1, KP_GROUP_WIDTHS, 0.0};
        if (kp_solve(&s, &last, &best) != 0)
            goto out; /* only out of memory: the fallback always finds lines */
    }
    *lines = best.lines;
    best.lines = NULL;
    if (overfull)
        *overfull = best.overfull;
    ret = best.count;
out:
    free(best.lines);
    free(cur.lines); /* a looseness search that ran out of memory */
    free(s.sw);
    free(s.nd);
    free(s.lw);
    return ret;
}
