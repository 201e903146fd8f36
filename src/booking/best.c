/*
 * Best-available seat selection; see best.h. The seats are copied into a scratch array of slots
 * sorted by (y, x), so a row is a contiguous range and two seats are adjacent exactly when
 * consecutive slots have the same y and x one apart (slot.link). Each slot also knows how many
 * adjacent seats from it onwards are usable for this request (slot.okrun), so a block of k seats
 * starting at slot i is possible exactly when okrun >= k. Candidates are visited in (y, x)
 * order and compared by score, then by position, so the result never depends on the order of
 * the input array. The scratch array is the only allocation and is freed before returning.
 */
#include "booking/best.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define VERTICAL_WEIGHT 1.5

/* One seat in (y, x) order. */
typedef struct slot {
    int x, y;
    int idx;   /* index in the caller's array */
    int okrun; /* usable seats from here on, each adjacent to the one before (0 if unusable) */
    bool ok;   /* available and of the requested category */
    bool free; /* available, whatever the category */
    bool link; /* the next slot is in the same row at x + 1 */
} slot;

/* A candidate: block a (alen slots from slot a) and, for a split, block b (blen slots). */
typedef struct cand {
    bool found;
    double score;
    int y, x; /* position of the first seat in (y, x) order, for tie-breaking */
    int a, alen;
    int b, blen;
} cand;

static tix_rc check_args(const tix_best_seat *seats, int nseats, const tix_best_request *req,
                         const int *picks, const tix_best_rule *rule)
{
    if (seats == NULL || nseats < 1 || req == NULL || picks == NULL || rule == NULL) {
        return TIX_EINVAL;
    }
    if (req->quantity < 1 || req->quantity > TIX_BEST_MAX) {
        return TIX_EINVAL;
    }
    if (!isfinite(req->focus_x) || !isfinite(req->focus_y)) {
        return TIX_EINVAL;
    }
    if (req->pref != NULL) {
        if (!(req->pref_weight >= 0 && req->pref_weight <= 1)) { /* false for NaN too */
            return TIX_EINVAL;
        }
        for (int i = 0; i < nseats; i++) {
            if (!(req->pref[i] >= 0 && req->pref[i] <= 1)) {
                return TIX_EINVAL;
            }
        }
    }
    for (int i = 0; i < nseats; i++) {
        if (seats[i].x < 0 || seats[i].y < 0) {
            return TIX_EINVAL;
        }
    }
    return TIX_OK;
}

static int cmp_int(int a, int b)
{
    return (a > b) - (a < b);
}

static int cmp_slot(const void *pa, const void *pb)
{
    const slot *a = pa;
    const slot *b = pb;
    int c = cmp_int(a->y, b->y);
    return c != 0 ? c : cmp_int(a->x, b->x);
}

static bool category_matches(const char *want, const char *have)
{
    return want == NULL || (have != NULL && strcmp(want, have) == 0);
}

/* Fills s[0..n-1] from the seats, sorted, with link and okrun. Returns TIX_EINVAL when two
 * seats share a position. */
static tix_rc load_slots(const tix_best_seat *seats, int n, const char *category, slot *s)
{
    for (int i = 0; i < n; i++) {
        s[i] = (slot){.x = seats[i].x, .y = seats[i].y, .idx = i, .free = seats[i].available};
        s[i].ok = s[i].free && category_matches(category, seats[i].category);
    }
    qsort(s, (size_t)n, sizeof s[0], cmp_slot);
    for (int i = n - 1; i >= 0; i--) {
        if (i + 1 < n && s[i + 1].y == s[i].y && s[i + 1].x == s[i].x) {
            return TIX_EINVAL;
        }
        s[i].link = i + 1 < n && s[i + 1].y == s[i].y && s[i + 1].x - s[i].x == 1;
        if (s[i].ok) {
            s[i].okrun = s[i].link ? 1 + s[i + 1].okrun : 1;
        }
    }
    return TIX_OK;
}

/* Whether taking a block that starts at slot first leaves one free seat alone before it. */
static bool orphan_before(const slot *s, int first)
{
    if (first == 0 || !s[first - 1].link || !s[first - 1].free) {
        return false;
    }
    int p = first - 1;
    return p == 0 || !s[p - 1].link || !s[p - 1].free;
}

/* Whether taking a block that ends at slot last leaves one free seat alone after it. */
static bool orphan_after(const slot *s, int last)
{
    if (!s[last].link || !s[last + 1].free) {
        return false;
    }
    int q = last + 1;
    return !s[q].link || !s[q + 1].free;
}

/* The mean preference of the len seats from slot first. */
static double pref_sum(const slot *s, const double *pref, int first, int len)
{
    double sum = 0;
    for (int i = 0; i < len; i++) {
        sum += pref[s[first + i].idx];
    }
    return sum;
}

/* Scores c (blocks a and b already set) against the focus (and the preference, with dnorm the
 * distance scale D of best.h) and sets its tie-break position. */
static void score_cand(const slot *s, const tix_best_request *req, double dnorm, cand *c)
{
    double n = (double)(c->alen + c->blen);
    double sx = c->alen * (s[c->a].x + (c->alen - 1) / 2.0);
    double sy = (double)c->alen * s[c->a].y;
    int first = c->a;
    if (c->blen > 0) {
        sx += c->blen * (s[c->b].x + (c->blen - 1) / 2.0);
        sy += (double)c->blen * s[c->b].y;
        first = s[c->b].y < s[c->a].y ? c->b : c->a;
    }
    double dx = sx / n - req->focus_x;
    double dy = (sy / n - req->focus_y) * VERTICAL_WEIGHT;
    c->score = dx * dx + dy * dy;
    if (req->pref != NULL) {
        double p = pref_sum(s, req->pref, c->a, c->alen);
        p += c->blen > 0 ? pref_sum(s, req->pref, c->b, c->blen) : 0;
        double w = req->pref_weight;
        c->score = (1 - w) * c->score / dnorm + w * (1 - p / n);
    }
    c->y = s[first].y;
    c->x = s[first].x;
    c->found = true;
}

/* Keeps c in *best when it beats it: smaller score, then smaller y, then smaller x. */
static void keep_better(cand *best, const cand *c)
{
    bool better =
        !best->found || c->score < best->score ||
        (c->score == best->score && (c->y < best->y || (c->y == best->y && c->x < best->x)));
    if (better) {
        *best = *c;
    }
}

/* The best single block of req->quantity seats, leaving no orphan when strict. */
static void find_block(const slot *s, int n, const tix_best_request *req, double dnorm, bool strict,
                       cand *best)
{
    int q = req->quantity;
    for (int i = 0; i < n; i++) {
        if (s[i].okrun < q) {
            continue;
        }
        if (strict && (orphan_before(s, i) || orphan_after(s, i + q - 1))) {
            continue;
        }
        cand c = {.a = i, .alen = q};
        score_cand(s, req, dnorm, &c);
        keep_better(best, &c);
    }
}

/* The first slot of row y, or -1 when the row has no seat. */
static int row_start(const slot *s, int n, int y)
{
    int lo = 0;
    int hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (s[mid].y < y) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < n && s[lo].y == y ? lo : -1;
}

/* In the row starting at slot j, the start of the block of k usable seats whose centre is
 * closest to cx (ties: the smaller x), or -1 when the row has no such block. */
static int closest_block(const slot *s, int n, int j, int k, double cx)
{
    int best = -1;
    double best_d = 0;
    for (int y = s[j].y; j < n && s[j].y == y; j++) {
        if (s[j].okrun < k) {
            continue;
        }
        double c = s[j].x + (k - 1) / 2.0;
        double d = fabs(c - cx);
        if (best >= 0 && c > cx && d >= best_d) {
            break; /* centres only grow from here */
        }
        if (best < 0 || d < best_d) {
            best = j;
            best_d = d;
        }
    }
    return best;
}

/* The best split: ceil(q/2) seats from slot i's row, floor(q/2) in the row in front or behind. */
static void find_split(const slot *s, int n, const tix_best_request *req, double dnorm, cand *best)
{
    int ka = (req->quantity + 1) / 2;
    int kb = req->quantity / 2;
    if (kb == 0) {
        return;
    }
    for (int i = 0; i < n; i++) {
        if (s[i].okrun < ka) {
            continue;
        }
        double cx = s[i].x + (ka - 1) / 2.0;
        for (int dir = -1; dir <= 1; dir += 2) {
            if ((dir < 0 && s[i].y == 0) || (dir > 0 && s[i].y == INT_MAX)) {
                continue;
            }
            int j = row_start(s, n, s[i].y + dir);
            j = j < 0 ? -1 : closest_block(s, n, j, kb, cx);
            if (j < 0) {
                continue;
            }
            cand c = {.a = i, .alen = ka, .b = j, .blen = kb};
            score_cand(s, req, dnorm, &c);
            keep_better(best, &c);
        }
    }
}

/* Writes the caller's indexes of the candidate's seats, in (y, x) order. */
static void write_picks(const slot *s, const cand *c, int *picks)
{
    int first = c->a;
    int nfirst = c->alen;
    int second = c->b;
    int nsecond = c->blen;
    if (c->blen > 0 && s[c->b].y < s[c->a].y) {
        first = c->b;
        nfirst = c->blen;
        second = c->a;
        nsecond = c->alen;
    }
    int k = 0;
    for (int i = 0; i < nfirst; i++) {
        picks[k++] = s[first + i].idx;
    }
    for (int i = 0; i < nsecond; i++) {
        picks[k++] = s[second + i].idx;
    }
}

/* D of best.h: (width / 2)^2 + (1.5 depth)^2 + 1 over the sorted slots. */
static double distance_scale(const slot *s, int n)
{
    int min_x = INT_MAX;
    int max_x = INT_MIN;
    for (int i = 0; i < n; i++) {
        min_x = s[i].x < min_x ? s[i].x : min_x;
        max_x = s[i].x > max_x ? s[i].x : max_x;
    }
    double hw = ((double)max_x - min_x) / 2.0;
    double depth = ((double)s[n - 1].y - s[0].y) * VERTICAL_WEIGHT;
    return hw * hw + depth * depth + 1;
}

tix_rc tix_best_pick(const tix_best_seat *seats, int nseats, const tix_best_request *req,
                     int *picks, tix_best_rule *rule)
{
    tix_rc rc = check_args(seats, nseats, req, picks, rule);
    if (rc != TIX_OK) {
        return rc;
    }
    slot *s = malloc((size_t)nseats * sizeof *s);
    if (s == NULL) {
        return TIX_ENOMEM;
    }
    rc = load_slots(seats, nseats, req->category, s);
    if (rc != TIX_OK) {
        goto cleanup;
    }
    cand best = {.found = false};
    tix_best_rule used = TIX_BEST_STRICT;
    double dnorm = distance_scale(s, nseats);
    find_block(s, nseats, req, dnorm, true, &best);
    if (!best.found) {
        used = TIX_BEST_ORPHANS_ALLOWED;
        find_block(s, nseats, req, dnorm, false, &best);
    }
    if (!best.found) {
        used = TIX_BEST_SPLIT_ROWS;
        find_split(s, nseats, req, dnorm, &best);
    }
    if (!best.found) {
        rc = TIX_ECONFLICT;
        goto cleanup;
    }
    assert(best.alen + best.blen == req->quantity);
    write_picks(s, &best, picks);
    *rule = used;
cleanup:
    free(s);
    return rc;
}

void tix_best_default_focus(const tix_best_seat *seats, int nseats, double *focus_x,
                            double *focus_y)
{
    if (seats == NULL || nseats < 1) {
        *focus_x = 0;
        *focus_y = 0;
        return;
    }
    int min_x = INT_MAX;
    int max_x = INT_MIN;
    int min_y = INT_MAX;
    int max_y = INT_MIN;
    for (int i = 0; i < nseats; i++) {
        min_x = seats[i].x < min_x ? seats[i].x : min_x;
        max_x = seats[i].x > max_x ? seats[i].x : max_x;
        min_y = seats[i].y < min_y ? seats[i].y : min_y;
        max_y = seats[i].y > max_y ? seats[i].y : max_y;
    }
    *focus_x = ((double)min_x + (double)max_x) / 2.0;
    *focus_y = min_y + ((double)max_y - (double)min_y) * 2.0 / 3.0;
}

const char *tix_best_rule_name(tix_best_rule rule)
{
    switch (rule) {
    case TIX_BEST_STRICT:
        return "strict";
    case TIX_BEST_ORPHANS_ALLOWED:
        return "orphans_allowed";
    case TIX_BEST_SPLIT_ROWS:
        return "split_rows";
    }
    return "unknown";
}
