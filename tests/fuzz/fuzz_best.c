/*
 * Best-available (booking/best.c) over random seat maps: the bytes give a quantity, a
 * category filter and up to 400 seats (x, y, category, available), as a hall's seats arrive
 * from the database. Checks what best.h promises: on TIX_OK the picks are distinct, available,
 * of the category asked, sorted by (y, x), and for the one-row rules adjacent in one row; the
 * answer does not depend on the seats' order (the same map reversed gives the same seats).
 * Half the inputs also carry a learned preference per seat (booking/reco.h) and a weight: the
 * rule that wins must be the one that wins without it (the preference only reorders a rule's
 * candidates, so it never trades a strict block for one that leaves an orphan), and a strict
 * pick must leave no single free seat beside it.
 */
#include "booking/best.h"
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

static const char *const cats[] = {"premium", "standard", "recliner", NULL};

static int cmp_pos(const tix_best_seat *s, int a, int b)
{
    if (s[a].y != s[b].y) {
        return s[a].y < s[b].y ? -1 : 1;
    }
    return s[a].x < s[b].x ? -1 : s[a].x > s[b].x;
}

/* The seat at (x, y), or -1. */
static int seat_at(const tix_best_seat *s, int n, int x, int y)
{
    for (int i = 0; i < n; i++) {
        if (s[i].x == x && s[i].y == y) {
            return i;
        }
    }
    return -1;
}

/* A strict pick (one block in one row) leaves no lone free seat at either end: the seat beyond
 * each end, when free, has a free seat beyond it too. */
static void check_no_orphan(const tix_best_seat *s, int n, const int *picks, int q)
{
    int y = s[picks[0]].y;
    int ends[2][2] = {{s[picks[0]].x - 1, -1}, {s[picks[q - 1]].x + 1, +1}};
    for (int e = 0; e < 2; e++) {
        int x = ends[e][0];
        int next = seat_at(s, n, x, y);
        if (x < 0 || next < 0 || !s[next].available) {
            continue;
        }
        int beyond = seat_at(s, n, x + ends[e][1], y);
        if (beyond < 0 || !s[beyond].available || x + ends[e][1] < 0) {
            abort(); /* a single free seat left beside the block */
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) {
        return 0;
    }
    tix_best_request req = {.quantity = 1 + data[0] % (TIX_BEST_MAX + 1), /* 11 is refused */
                            .category = cats[data[1] % 4]};
    bool use_focus = data[2] & 1;
    bool use_pref = data[2] & 2;
    double weight = (double)(data[2] >> 2) / 63.0;
    data += 3, size -= 3;
    int n = (int)(size / 3);
    n = n > 400 ? 400 : n;
    if (n < 1) {
        return 0;
    }
    tix_best_seat *seats = calloc((size_t)n, sizeof(*seats));
    tix_best_seat *rev = calloc((size_t)n, sizeof(*rev));
    double *pref = calloc((size_t)n, sizeof(*pref));
    double *rpref = calloc((size_t)n, sizeof(*rpref));
    for (int i = 0; i < n; i++) {
        pref[i] = (double)(uint8_t)(data[3 * i] ^ data[3 * i + 1]) / 255.0;
        rpref[n - 1 - i] = pref[i];
        seats[i].x = data[3 * i] % 40;
        seats[i].y = data[3 * i + 1] % 12;
        seats[i].category = cats[data[3 * i + 2] % 4];
        seats[i].available = (data[3 * i + 2] & 0x80) == 0;
    }
    if (use_focus) {
        req.focus_x = (double)(data[0] % 48) - 4;
        req.focus_y = (double)(data[1] % 16) - 2;
    } else {
        tix_best_default_focus(seats, n, &req.focus_x, &req.focus_y);
    }
    int picks[TIX_BEST_MAX], picks2[TIX_BEST_MAX];
    tix_best_rule rule = TIX_BEST_STRICT, rule2 = TIX_BEST_STRICT;
    tix_best_rule plain_rule = TIX_BEST_STRICT;
    tix_rc plain = use_pref ? tix_best_pick(seats, n, &req, picks, &plain_rule) : TIX_OK;
    if (use_pref) {
        req.pref = pref;
        req.pref_weight = weight;
    }
    tix_rc rc = tix_best_pick(seats, n, &req, picks, &rule);
    if (use_pref && (rc != plain || (rc == TIX_OK && rule != plain_rule))) {
        abort(); /* the preference changed which rule won */
    }
    if (rc == TIX_OK && rule == TIX_BEST_STRICT) {
        check_no_orphan(seats, n, picks, req.quantity);
    }
    if (rc == TIX_OK) {
        (void)tix_best_rule_name(rule);
        for (int i = 0; i < req.quantity; i++) {
            const tix_best_seat *s = &seats[picks[i]];
            if (picks[i] < 0 || picks[i] >= n || !s->available ||
                (req.category != NULL &&
                 (s->category == NULL || strcmp(s->category, req.category) != 0))) {
                abort();
            }
            if (i > 0 && cmp_pos(seats, picks[i - 1], picks[i]) >= 0) {
                abort(); /* sorted by (y, x), hence distinct */
            }
            if (i > 0 && rule != TIX_BEST_SPLIT_ROWS &&
                (s->y != seats[picks[i - 1]].y || s->x != seats[picks[i - 1]].x + 1)) {
                abort();
            }
        }
        for (int i = 0; i < n; i++) {
            rev[i] = seats[n - 1 - i];
        }
        req.pref = use_pref ? rpref : NULL;
        if (tix_best_pick(rev, n, &req, picks2, &rule2) != TIX_OK || rule2 != rule) {
            abort();
        }
        for (int i = 0; i < req.quantity; i++) {
            if (rev[picks2[i]].x != seats[picks[i]].x || rev[picks2[i]].y != seats[picks[i]].y) {
                abort();
            }
        }
    } else if (rc != TIX_EINVAL && rc != TIX_ECONFLICT) {
        abort();
    }
    free(seats);
    free(rev);
    free(pref);
    free(rpref);
    return 0;
}
