/*
 * Recommendations: the two models of reco.h. The similarity is computed from a compressed
 * table of the bookings in both directions (users -> movies and movies -> users, as index
 * arrays over the sorted distinct ids): for each movie X, walking its users' movies counts
 * |U(X) n U(Y)| for every Y in one scratch array, so time is the sum over users of (movies
 * they booked)^2 and memory linear in the bookings, never movies^2. The scratch is malloc'd
 * and freed before returning; results go to the caller's arena.
 */
#include "booking/reco.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- movies ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted distinct copy of the strings (pointers into the caller's rows). OUT: *n. */
static const char **distinct(tix_arena *a, const char **v, int n, int *nout)
{
    const char **d = tix_arena_calloc(a, sizeof(*d) * (size_t)(n ? n : 1));
    memcpy(d, v, sizeof(*d) * (size_t)n);
    qsort(d, (size_t)n, sizeof(*d), cmp_str);
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (k == 0 || strcmp(d[k - 1], d[i]) != 0) {
            d[k++] = d[i];
        }
    }
    *nout = k;
    return d;
}

static int index_of(const char **sorted, int n, const char *s)
{
    const char **hit = bsearch(&s, sorted, (size_t)n, sizeof(*sorted), cmp_str);
    return hit ? (int)(hit - sorted) : -1;
}

typedef struct edge {
    int from, to;
} edge;

static int cmp_edge(const void *pa, const void *pb)
{
    const edge *a = pa;
    const edge *b = pb;
    return a->from != b->from ? (a->from > b->from) - (a->from < b->from)
                              : (a->to > b->to) - (a->to < b->to);
}

/* Compressed adjacency: the targets of `from` are to[start[from] .. start[from + 1]). */
typedef struct csr {
    int *start; /* nfrom + 1 */
    int *to;    /* nedges */
} csr;

/* Builds the adjacency of the (distinct, sorted) edges. malloc'd: free start and to. */
static tix_rc csr_build(const edge *e, int ne, int nfrom, csr *out)
{
    out->start = calloc((size_t)nfrom + 1, sizeof(int));
    out->to = malloc(sizeof(int) * (size_t)(ne ? ne : 1));
    if (out->start == NULL || out->to == NULL) {
        return TIX_ENOMEM;
    }
    for (int i = 0; i < ne; i++) {
        out->start[e[i].from + 1]++;
        out->to[i] = e[i].to;
    }
    for (int i = 0; i < nfrom; i++) {
        out->start[i + 1] += out->start[i];
    }
    return TIX_OK;
}

/* A neighbour of one movie while choosing the best. */
typedef struct neighbour {
    int other;
    int together;
    double sim;
} neighbour;

static int cmp_near(const void *pa, const void *pb)
{
    const neighbour *a = pa;
    const neighbour *b = pb;
    if (a->sim != b->sim) {
        return a->sim < b->sim ? 1 : -1;
    }
    return (a->other > b->other) - (a->other < b->other); /* ids are sorted: smaller id first */
}

typedef struct sim_scratch {
    edge *um;         /* (user, movie) */
    edge *mu;         /* (movie, user) */
    csr users;        /* user -> movies */
    csr movies;       /* movie -> users */
    int *together;    /* per movie Y: |U(X) n U(Y)| for the X at hand */
    int *touched;     /* the Y with together > 0 */
    neighbour *nears; /* the touched Y of the X at hand */
} sim_scratch;

static void sim_free(sim_scratch *s)
{
    free(s->um);
    free(s->mu);
    free(s->users.start);
    free(s->users.to);
    free(s->movies.start);
    free(s->movies.to);
    free(s->together);
    free(s->touched);
    free(s->nears);
}

/* Stores movie x's best `keep` neighbours from s->nears[0..k) into pairs. */
static void keep_best(tix_arena *a, const char **mids, int x, neighbour *nears, int k, int keep,
                      tix_reco_pair *pairs, int *npairs)
{
    qsort(nears, (size_t)k, sizeof(*nears), cmp_near);
    for (int i = 0; i < k && i < keep; i++) {
        tix_reco_pair *p = &pairs[(*npairs)++];
        p->movie_id = tix_arena_strdup(a, mids[x]);
        p->other_id = tix_arena_strdup(a, mids[nears[i].other]);
        p->score_e6 = (int64_t)llround(nears[i].sim * 1e6);
        p->together = nears[i].together;
    }
}

/* Fills s->um (distinct (user, movie) edges), s->mu (the same reversed) and both adjacencies
 * from the booked rows, with uids/mids the sorted distinct ids (nu, nm of them). */
static tix_rc load_edges(sim_scratch *s, const char **uv, const char **mv, int n, const char **uids,
                         int nu, const char **mids, int nm)
{
    for (int i = 0; i < n; i++) {
        s->um[i] = (edge){index_of(uids, nu, uv[i]), index_of(mids, nm, mv[i])};
    }
    qsort(s->um, (size_t)n, sizeof(edge), cmp_edge);
    int ne = 0;
    for (int i = 0; i < n; i++) {
        if (ne == 0 || cmp_edge(&s->um[ne - 1], &s->um[i]) != 0) {
            s->um[ne++] = s->um[i];
        }
    }
    for (int i = 0; i < ne; i++) {
        s->mu[i] = (edge){s->um[i].to, s->um[i].from};
    }
    qsort(s->mu, (size_t)ne, sizeof(edge), cmp_edge);
    tix_rc rc = csr_build(s->um, ne, nu, &s->users);
    return rc ? rc : csr_build(s->mu, ne, nm, &s->movies);
}

/* Movie x's neighbours into s->nears: every y sharing a user, with |U(x) n U(y)| and the
 * cosine. Returns how many. s->together is all zero before and after. */
static int neighbours_of(sim_scratch *s, int x)
{
    int k = 0;
    for (int i = s->movies.start[x]; i < s->movies.start[x + 1]; i++) {
        int u = s->movies.to[i];
        for (int j = s->users.start[u]; j < s->users.start[u + 1]; j++) {
            int y = s->users.to[j];
            if (y != x && s->together[y]++ == 0) {
                s->touched[k++] = y;
            }
        }
    }
    int ux = s->movies.start[x + 1] - s->movies.start[x];
    for (int i = 0; i < k; i++) {
        int y = s->touched[i];
        int uy = s->movies.start[y + 1] - s->movies.start[y];
        s->nears[i] = (neighbour){y, s->together[y], s->together[y] / sqrt((double)ux * uy)};
        s->together[y] = 0;
    }
    return k;
}

static tix_rc sim_alloc(sim_scratch *s, int n, int nm)
{
    memset(s, 0, sizeof(*s));
    s->um = malloc(sizeof(edge) * (size_t)(n ? n : 1));
    s->mu = malloc(sizeof(edge) * (size_t)(n ? n : 1));
    s->together = calloc((size_t)(nm ? nm : 1), sizeof(int));
    s->touched = malloc(sizeof(int) * (size_t)(nm ? nm : 1));
    s->nears = malloc(sizeof(neighbour) * (size_t)(nm ? nm : 1));
    return s->um && s->mu && s->together && s->touched && s->nears ? TIX_OK : TIX_ENOMEM;
}

tix_rc tix_reco_similarity(tix_arena *a, const tix_reco_booked *booked, int n, int neighbours,
                           tix_reco_pair **pairs, int *npairs, tix_reco_pop **pop, int *npop)
{
    const char **uv = tix_arena_calloc(a, sizeof(char *) * (size_t)(n ? n : 1));
    const char **mv = tix_arena_calloc(a, sizeof(char *) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        uv[i] = booked[i].user_id;
        mv[i] = booked[i].movie_id;
    }
    int nu = 0;
    int nm = 0;
    const char **uids = distinct(a, uv, n, &nu);
    const char **mids = distinct(a, mv, n, &nm);
    sim_scratch s;
    tix_rc rc = sim_alloc(&s, n, nm);
    rc = rc ? rc : load_edges(&s, uv, mv, n, uids, nu, mids, nm);
    int keep = neighbours < 0 ? 0 : neighbours;
    *pairs = tix_arena_calloc(a, sizeof(**pairs) * (size_t)(nm * (keep < nm ? keep : nm) + 1));
    *npairs = 0;
    *pop = tix_arena_calloc(a, sizeof(**pop) * (size_t)(nm ? nm : 1));
    *npop = 0;
    for (int x = 0; x < nm && rc == TIX_OK; x++) {
        int ux = s.movies.start[x + 1] - s.movies.start[x];
        (*pop)[(*npop)++] = (tix_reco_pop){tix_arena_strdup(a, mids[x]), ux};
        keep_best(a, mids, x, s.nears, neighbours_of(&s, x), keep, *pairs, npairs);
    }
    sim_free(&s);
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
    tix_reco_booked *booked = NULL;
    tix_reco_sale *sales = NULL;
    tix_reco_seat *seats = NULL;
    tix_reco_pair *pairs = NULL;
    tix_reco_pop *pop = NULL;
    tix_reco_seat_score *scores = NULL;
    int nbooked = 0;
    int nsales = 0;
    int nseats = 0;
    int npairs = 0;
    int npop = 0;
    int nscores = 0;
    memset(out, 0, sizeof(*out));
    /* the reads need no transaction: a booking confirmed meanwhile is learned next run */
    tix_rc rc = tix_reco_booked_all(db, a, &booked, &nbooked);
    rc = rc ? rc : tix_reco_sales_all(db, a, &sales, &nsales);
    rc = rc ? rc : tix_reco_sold_hall_seats(db, a, &seats, &nseats);
    rc =
        rc ? rc : tix_reco_similarity(a, booked, nbooked, neighbours, &pairs, &npairs, &pop, &npop);
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
