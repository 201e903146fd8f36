/*
 * Recommendations: the two models of reco.h. The similarity needs only counts, and the database
 * counts them (store/reco.h, GROUP BY): each movie's bookers |U(X)|, and for a page of
 * TIX_RECO_PAGE movies X every Y sharing a booker with |U(X) n U(Y)|. The job reads the pages in
 * turn, each into an arena of its own destroyed after it, and keeps each movie's best
 * neighbours: memory is one page's rows (at most TIX_RECO_PAGE x movies) and the kept pairs,
 * never the bookings. The seat scores are computed here from the sales in sale order. Scratch
 * space is malloc'd and freed before returning; results go to the caller's arena.
 */
#include "booking/reco.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- movies ---- */

/* A co-occurrence row with its cosine, while choosing the best. */
typedef struct neighbour {
    const tix_reco_together *row;
    double sim;
} neighbour;

/* By movie id, then similarity descending, then the other's id. */
static int cmp_near(const void *pa, const void *pb)
{
    const neighbour *a = pa;
    const neighbour *b = pb;
    int c = strcmp(a->row->movie_id, b->row->movie_id);
    if (c != 0) {
        return c;
    }
    if (a->sim != b->sim) {
        return a->sim < b->sim ? 1 : -1;
    }
    return strcmp(a->row->other_id, b->row->other_id);
}

tix_rc tix_reco_similarity(tix_arena *a, const tix_reco_together *rows, int n, int neighbours,
                           tix_reco_pair **pairs, int *npairs)
{
    neighbour *nears = malloc(sizeof(*nears) * (size_t)(n ? n : 1));
    if (nears == NULL) {
        return TIX_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        const tix_reco_together *r = &rows[i];
        nears[i] = (neighbour){r, r->together / sqrt((double)r->bookers * r->other_bookers)};
    }
    qsort(nears, (size_t)n, sizeof(*nears), cmp_near);
    int keep = neighbours < 0 ? 0 : neighbours;
    *pairs = tix_arena_calloc(a, sizeof(**pairs) * (size_t)(n ? n : 1));
    *npairs = 0;
    int rank = 0; /* of nears[i] among its movie's rows */
    for (int i = 0; i < n; i++) {
        rank =
            i > 0 && strcmp(nears[i].row->movie_id, nears[i - 1].row->movie_id) == 0 ? rank + 1 : 0;
        if (rank < keep) {
            tix_reco_pair *p = &(*pairs)[(*npairs)++];
            p->movie_id = tix_arena_strdup(a, nears[i].row->movie_id);
            p->other_id = tix_arena_strdup(a, nears[i].row->other_id);
            p->score_e6 = (int64_t)llround(nears[i].sim * 1e6);
            p->together = nears[i].row->together;
        }
    }
    free(nears);
    return TIX_OK;
}

static int cmp_pop(const void *pa, const void *pb)
{
    return strcmp(((const tix_reco_pop *)pa)->movie_id, ((const tix_reco_pop *)pb)->movie_id);
}

/* The movie model: *pop every booked movie with its bookers (ordered by id), *pairs each one's
 * best `neighbours`, read TIX_RECO_PAGE movies at a time in id order (so the pairs come out
 * ordered by movie, as tix_reco_similarity orders one page). */
static tix_rc movie_model(tix_db *db, tix_arena *a, int neighbours, tix_reco_pair **pairs,
                          int *npairs, tix_reco_pop **pop, int *npop)
{
    tix_rc rc = tix_reco_movie_bookers(db, a, pop, npop);
    if (rc != TIX_OK) {
        return rc;
    }
    qsort(*pop, (size_t)*npop, sizeof(**pop), cmp_pop); /* the database's order may be a locale's */
    int cap = 16;
    *pairs = tix_arena_calloc(a, sizeof(**pairs) * (size_t)cap);
    *npairs = 0;
    const char *ids[TIX_RECO_PAGE];
    for (int first = 0; first < *npop && rc == TIX_OK; first += TIX_RECO_PAGE) {
        int k = *npop - first < TIX_RECO_PAGE ? *npop - first : TIX_RECO_PAGE;
        for (int i = 0; i < k; i++) {
            ids[i] = (*pop)[first + i].movie_id;
        }
        tix_arena *page = tix_arena_create(0);
        tix_reco_together *rows = NULL;
        tix_reco_pair *got = NULL;
        int nrows = 0;
        int ngot = 0;
        rc = tix_reco_together_of(db, page, ids, k, &rows, &nrows);
        rc = rc ? rc : tix_reco_similarity(a, rows, nrows, neighbours, &got, &ngot);
        tix_arena_destroy(page);
        if (rc == TIX_OK && *npairs + ngot > cap) {
            while (*npairs + ngot > cap) {
                cap *= 2;
            }
            tix_reco_pair *grown = tix_arena_calloc(a, sizeof(**pairs) * (size_t)cap);
            memcpy(grown, *pairs, sizeof(**pairs) * (size_t)*npairs);
            *pairs = grown;
        }
        if (rc == TIX_OK && ngot > 0) {
            memcpy(*pairs + *npairs, got, sizeof(*got) * (size_t)ngot);
            *npairs += ngot;
        }
    }
    return rc;
}

/* ---- seats ---- */

typedef struct seat_acc {
    const char *hall_id;
    const char *seat_id;
    double sum; /* of v over the hall's shows */
} seat_acc;

static int cmp_acc(const void *pa, const void *pb)
{
    const seat_acc *a = pa;
    const seat_acc *b = pb;
    int c = strcmp(a->hall_id, b->hall_id);
    return c ? c : strcmp(a->seat_id, b->seat_id);
}

static seat_acc *find_acc(seat_acc *acc, int n, const char *hall_id, const char *seat_id)
{
    seat_acc key = {hall_id, seat_id, 0};
    return bsearch(&key, acc, (size_t)n, sizeof(*acc), cmp_acc);
}

/* The number of seats of hall_id in acc (sorted by hall), from its first index *first. */
static int hall_range(const seat_acc *acc, int n, const char *hall_id, int *first)
{
    int lo = 0;
    int hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (strcmp(acc[mid].hall_id, hall_id) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    int end = lo;
    while (end < n && strcmp(acc[end].hall_id, hall_id) == 0) {
        end++;
    }
    *first = lo;
    return end - lo;
}

/* One show's sales from sales[i] (ordered by sale), into the hall's accumulators acc[0..cap).
 * Returns the index past the show's last sale. */
static int add_show(const tix_reco_sale *sales, int nsales, int i, seat_acc *acc, int cap)
{
    const char *show = sales[i].show_id;
    int before = 0;
    while (i < nsales && strcmp(sales[i].show_id, show) == 0) { /* one booking at a time */
        int j = i;
        while (j < nsales && strcmp(sales[j].show_id, show) == 0 &&
               strcmp(sales[j].booking_id, sales[i].booking_id) == 0) {
            j++;
        }
        int k = j - i;
        double v = cap > 0 ? 1.0 - (before + (k - 1) / 2.0) / cap : 0;
        for (int s = i; s < j; s++) {
            seat_acc *hit = find_acc(acc, cap, sales[s].hall_id, sales[s].seat_id);
            if (hit != NULL) {
                hit->sum += v > 0 ? v : 0;
            }
        }
        before += k;
        i = j;
    }
    return i;
}

tix_rc tix_reco_seat_scores(tix_arena *a, const tix_reco_sale *sales, int nsales,
                            const tix_reco_seat *seats, int nseats, tix_reco_seat_score **out,
                            int *nout)
{
    seat_acc *acc = malloc(sizeof(*acc) * (size_t)(nseats ? nseats : 1));
    if (acc == NULL) {
        return TIX_ENOMEM;
    }
    for (int i = 0; i < nseats; i++) {
        acc[i] = (seat_acc){seats[i].hall_id, seats[i].seat_id, 0};
    }
    qsort(acc, (size_t)nseats, sizeof(*acc), cmp_acc);
    *out = tix_arena_calloc(a, sizeof(**out) * (size_t)(nseats ? nseats : 1));
    *nout = 0;
    int i = 0;
    while (i < nsales) { /* one hall at a time */
        const char *hall = sales[i].hall_id;
        int first = 0;
        int cap = hall_range(acc, nseats, hall, &first);
        int shows = 0;
        while (i < nsales && strcmp(sales[i].hall_id, hall) == 0) {
            i = add_show(sales, nsales, i, acc + first, cap);
            shows++;
        }
        for (int s = first; s < first + cap; s++) {
            double score = (acc[s].sum + TIX_RECO_SEAT_PRIOR * 0.5) / (shows + TIX_RECO_SEAT_PRIOR);
            (*out)[(*nout)++] = (tix_reco_seat_score){tix_arena_strdup(a, acc[s].seat_id),
                                                      tix_arena_strdup(a, hall),
                                                      (int64_t)llround(score * 1e6), shows};
        }
    }
    free(acc);
    return TIX_OK;
}

void tix_reco_seat_prefs_align(const tix_reco_seat_score *rows, int nrows, const char *const *ids,
                               int n, double *pref)
{
    for (int i = 0; i < n; i++) {
        pref[i] = 0.5;
        int lo = 0;
        int hi = nrows;
        while (lo < hi) {
            int mid = lo + (hi - lo) / 2;
            int c = strcmp(rows[mid].seat_id, ids[i]);
            if (c == 0) {
                double v = (double)rows[mid].score_e6 / 1e6;
                pref[i] = v < 0 ? 0 : v > 1 ? 1 : v;
                break;
            }
            if (c < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
    }
}

/* ---- ranking ---- */

static bool in_list(const char *const *list, int n, const char *id)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(list[i], id) == 0) {
            return true;
        }
    }
    return false;
}

typedef struct ranked {
    tix_reco_item item;
    int bookers;
} ranked;

static int cmp_ranked(const void *pa, const void *pb)
{
    const ranked *a = pa;
    const ranked *b = pb;
    if (a->item.popular != b->item.popular) {
        return a->item.popular ? 1 : -1;
    }
    if (!a->item.popular && a->item.score != b->item.score) {
        return a->item.score < b->item.score ? 1 : -1;
    }
    if (a->bookers != b->bookers) {
        return a->bookers < b->bookers ? 1 : -1;
    }
    return strcmp(a->item.movie_id, b->item.movie_id);
}

/* The reasons of candidate id: the rows of near naming it, best first, at most
 * TIX_RECO_REASONS; their scores summed into *score. */
static int reasons(tix_arena *a, const tix_reco_pair *near, int nnear, const char *id,
                   const char ***since, double *score)
{
    int *hits = tix_arena_calloc(a, sizeof(int) * (size_t)(nnear ? nnear : 1));
    int k = 0;
    *score = 0;
    for (int i = 0; i < nnear; i++) {
        if (strcmp(near[i].other_id, id) == 0 && near[i].score_e6 > 0) {
            hits[k++] = i;
            *score += (double)near[i].score_e6 / 1e6;
        }
    }
    for (int i = 1; i < k; i++) { /* insertion sort: score descending, then id */
        int h = hits[i];
        int j = i;
        while (j > 0 && (near[hits[j - 1]].score_e6 < near[h].score_e6 ||
                         (near[hits[j - 1]].score_e6 == near[h].score_e6 &&
                          strcmp(near[hits[j - 1]].movie_id, near[h].movie_id) > 0))) {
            hits[j] = hits[j - 1];
            j--;
        }
        hits[j] = h;
    }
    int m = k < TIX_RECO_REASONS ? k : TIX_RECO_REASONS;
    *since = tix_arena_calloc(a, sizeof(char *) * (size_t)(m ? m : 1));
    for (int i = 0; i < m; i++) {
        (*since)[i] = near[hits[i]].movie_id;
    }
    return m;
}

void tix_reco_rank(tix_arena *a, const tix_reco_inputs *in, int limit, tix_reco_item **items,
                   int *n)
{
    const char *const *mine = in->mine;
    int nmine = in->nmine;
    const tix_reco_pair *near = in->near;
    int nnear = in->nnear;
    const tix_reco_candidate *cands = in->cands;
    int ncands = in->ncands;
    ranked *r = tix_arena_calloc(a, sizeof(*r) * (size_t)(ncands ? ncands : 1));
    int k = 0;
    for (int i = 0; i < ncands; i++) {
        if (in_list(mine, nmine, cands[i].movie_id)) {
            continue;
        }
        ranked *x = &r[k++];
        x->item.movie_id = cands[i].movie_id;
        x->bookers = cands[i].bookers;
        x->item.nsince = reasons(a, near, nnear, cands[i].movie_id, &x->item.since, &x->item.score);
        if (x->item.nsince == 0) {
            x->item.popular = true;
            x->item.score = cands[i].bookers;
        }
    }
    qsort(r, (size_t)k, sizeof(*r), cmp_ranked);
    int m = k < limit ? k : (limit > 0 ? limit : 0);
    *items = tix_arena_calloc(a, sizeof(**items) * (size_t)(m ? m : 1));
    for (int i = 0; i < m; i++) {
        (*items)[i] = r[i].item;
    }
    *n = m;
}

/* ---- entry points ---- */

tix_rc tix_reco_refresh(tix_db *db, tix_arena *a, int neighbours, int64_t now,
                        tix_reco_refresh_counts *out)
{
    tix_reco_sale *sales = NULL;
    tix_reco_seat *seats = NULL;
    tix_reco_pair *pairs = NULL;
    tix_reco_pop *pop = NULL;
    tix_reco_seat_score *scores = NULL;
    int nsales = 0;
    int nseats = 0;
    int npairs = 0;
    int npop = 0;
    int nscores = 0;
    memset(out, 0, sizeof(*out));
    /* the reads need no transaction: a booking confirmed meanwhile is learned next run */
    tix_rc rc = movie_model(db, a, neighbours, &pairs, &npairs, &pop, &npop);
    rc = rc ? rc : tix_reco_sales_all(db, a, &sales, &nsales);
    rc = rc ? rc : tix_reco_sold_hall_seats(db, a, &seats, &nseats);
    rc = rc ? rc : tix_reco_seat_scores(a, sales, nsales, seats, nseats, &scores, &nscores);
    rc = rc ? rc : tix_db_begin(db);
    rc = rc ? rc : tix_reco_save_movies(db, pairs, npairs, pop, npop, now);
    rc = rc ? rc : tix_reco_save_seats(db, scores, nscores);
    rc = rc ? rc : tix_db_commit(db);
    if (rc != TIX_OK) {
        tix_db_rollback(db);
        return rc;
    }
    out->movies = npop;
    out->pairs = npairs;
    out->seats = nscores;
    for (int i = 0; i < nscores; i++) {
        out->halls += i == 0 || strcmp(scores[i].hall_id, scores[i - 1].hall_id) != 0;
    }
    return TIX_OK;
}

tix_rc tix_reco_for_user(tix_db *db, tix_arena *a, const char *user_id, const char *city_lower,
                         int64_t now, int64_t window_ms, int limit, tix_reco_answer *out)
{
    memset(out, 0, sizeof(*out));
    tix_reco_pair *near = NULL;
    tix_reco_candidate *cands = NULL;
    int nnear = 0;
    int ncands = 0;
    char *city = city_lower ? tix_arena_strdup(a, city_lower) : NULL;
    tix_rc rc = tix_reco_mine_list(db, a, user_id, &out->mine, &out->nmine);
    if (rc == TIX_OK && city == NULL) {
        rc = tix_reco_user_city(db, a, user_id, &city);
        rc = rc == TIX_ENOTFOUND ? TIX_OK : rc; /* no booking yet: every city */
    }
    out->city = city ? tix_arena_strdup(a, city) : NULL;
    for (char *p = city; p && *p; p++) {
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + ('a' - 'A') : *p);
    }
    rc = rc ? rc : tix_reco_neighbours(db, a, user_id, &near, &nnear);
    rc = rc ? rc : tix_reco_candidates(db, a, city, now, now + window_ms, &cands, &ncands);
    if (rc != TIX_OK) {
        return rc;
    }
    const char **mine = tix_arena_calloc(a, sizeof(char *) * (size_t)(out->nmine + 1));
    for (int i = 0; i < out->nmine; i++) {
        mine[i] = out->mine[i].movie_id;
    }
    tix_reco_inputs in = {mine, out->nmine, near, nnear, cands, ncands};
    tix_reco_rank(a, &in, limit, &out->items, &out->n);
    return TIX_OK;
}

const char *tix_reco_title(const tix_reco_answer *ans, const char *id)
{
    for (int i = 0; i < ans->nmine; i++) {
        if (strcmp(ans->mine[i].movie_id, id) == 0) {
            return ans->mine[i].title;
        }
    }
    return NULL;
}
