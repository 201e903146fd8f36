/*
 * Best-available seat selection (pure: no I/O, no state between calls, nothing for the caller to
 * free). Given every seat of a hall with its grid position (see catalog/layout.h: x = column,
 * where aisles leave empty columns; y = row index from the screen) and whether it can be sold now,
 * tix_best_pick chooses `quantity` seats the way seats.io does: adjacent seats in one row that
 * leave no single orphan seat, closest to a focal point; then the same without the orphan rule;
 * then split over two adjacent rows. Seats are adjacent only when their x differ by exactly one
 * in the same row, so a block never spans an aisle. The seats array may be in any order and the
 * answer does not depend on that order: every tie is broken by position.
 *
 * A learned preference (booking/reco.h) may join the ranking: with req->pref, candidates of a
 * rule are ranked by a blend of the geometric distance and the mean preference of their seats.
 * It only reorders the candidates each rule found, so the rules and their order (no orphan
 * while a strict block exists) hold as they do without it.
 */
#ifndef TIX_BOOKING_BEST_H
#define TIX_BOOKING_BEST_H

#include "core/rc.h"

#include <stdbool.h>

#define TIX_BEST_MAX 10 /* most seats one request may ask for */

typedef struct tix_best_seat {
    int x, y;             /* grid position, both >= 0, unique within the array */
    const char *category; /* may be NULL: then it matches only a request for any category */
    bool available;       /* false = held, booked or blocked */
} tix_best_seat;

typedef struct tix_best_request {
    int quantity;            /* 1..TIX_BEST_MAX */
    const char *category;    /* only seats of this category, or NULL for any */
    double focus_x, focus_y; /* the best spot in grid units; see tix_best_default_focus */
    /* NULL, or one learned score in [0, 1] per seat (same index as seats; 1 = most wanted),
     * borrowed for the call; pref_weight in [0, 1] is its share of the ranking (see below). */
    const double *pref;
    double pref_weight;
} tix_best_request;

/* The rules in the order they are tried; the first that finds seats wins. */
typedef enum tix_best_rule {
    TIX_BEST_STRICT,          /* one adjacent block in one row, leaving no single orphan seat */
    TIX_BEST_ORPHANS_ALLOWED, /* one adjacent block in one row */
    TIX_BEST_SPLIT_ROWS,      /* ceil(q/2) adjacent in row y, floor(q/2) adjacent in row y +- 1 */
} tix_best_rule;

/*
 * Picks req->quantity available seats of req->category (any when NULL).
 *
 * Strict: a block of adjacent seats in one row such that, at neither end, exactly one available
 * seat (of any category) is left between the block and the next unavailable seat, aisle or row
 * end. Orphans allowed: the same without that condition. Split rows (quantity >= 2): a block of
 * ceil(q/2) seats in row y and one of floor(q/2) in row y-1 or y+1; for each first block the
 * second is the one whose horizontal centre is closest to the first's (ties: smaller x).
 *
 * Among the candidates of one rule the winner has the smallest d = dx^2 + (1.5 dy)^2, where
 * (dx, dy) runs from the focal point to the mean position of the candidate's seats; ties go to the
 * smaller y, then the smaller x, of the candidate's first seat in (y, x) order. With req->pref the
 * winner has the smallest (1 - w) d / D + w (1 - p), where w = req->pref_weight, p the mean
 * preference of the candidate's seats and D = (width / 2)^2 + (1.5 depth)^2 + 1 over all seats
 * (so both terms are about 0..1); same ties.
 *
 * Returns TIX_OK and fills picks[0..quantity-1] (indexes into seats, sorted by (y, x); picks must
 * hold at least quantity ints) and *rule with the rule that succeeded. Returns TIX_EINVAL when an
 * argument is NULL, nseats < 1, quantity is outside 1..TIX_BEST_MAX, the focus is not finite, a
 * preference or the weight is not a number in [0, 1], or a seat has a negative coordinate or shares
 * its position with another; TIX_ECONFLICT when no rule finds seats; TIX_ENOMEM when the scratch
 * copy (one small record per seat, freed before returning) cannot be allocated. On failure picks
 * and *rule are left untouched. Time O(n log n + n * w) for n seats and w seats in the widest row.
 */
TIX_MUSTCHECK tix_rc tix_best_pick(const tix_best_seat *seats, int nseats,
                                   const tix_best_request *req, int *picks, tix_best_rule *rule);

/*
 * The default focal point over all given seats, available or not: horizontally the middle of the
 * occupied columns, (min_x + max_x) / 2 (the centre of the widest row for a layout whose rows all
 * start at x = 0); vertically two-thirds of the way back, min_y + (max_y - min_y) * 2 / 3 (which
 * is max_y * 2 / 3 when the front row is y = 0). Gives (0, 0) when seats is NULL or nseats < 1.
 */
void tix_best_default_focus(const tix_best_seat *seats, int nseats, double *focus_x,
                            double *focus_y);

/* A static lower-case name for the rule ("strict", "orphans_allowed", "split_rows"); never NULL. */
const char *tix_best_rule_name(tix_best_rule rule);

#endif
