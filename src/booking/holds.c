/*
 * Placing and releasing holds. A hold by seat ids is one transaction of two round trips: the
 * first sends BEGIN, the read of the show and the asked seats, the retirement of the user's
 * previous hold and the claim of the seats (one INSERT, the authority on who gets a seat); the
 * answers decide between 404/409/422 (rollback) and the second round trip, the hold row with
 * the COMMIT (on SQLite the read runs before BEGIN IMMEDIATE, outside the write lock). A
 * best-available hold picks from the seat map first, claims the same way and, if another buyer
 * wins a seat in between, picks again from the same map without the seats it lost (they are
 * taken: the claim said so), reading the hall again only when nothing fits what that map knows.
 *
 * An Idempotency-Key (c->idem) joins the transaction at no extra round trip: its claim is the
 * last statement of the first round trip (the unique key decides between concurrent duplicates:
 * the later one waits for the first to commit, then fails and is answered with the first's
 * answer) and its answer goes with the hold row and the COMMIT. So the key, its answer and the
 * hold commit together or not at all. A taken key is checked before anything the reads said.
 */
#include "booking/best.h"
#include "booking/booking.h"
#include "booking/reco.h"
#include "booking/seat_events.h"
#include "core/metrics.h"
#include "core/util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Races a best-available hold may lose before it gives up: at least the number of buyers
 * that can claim seats of one show at the same instant (every server's WORKERS together), since
 * each lost race is a claim another buyer committed. */
#define BEST_RETRIES 256
/* A hall set to "learned": the learned seat score's share of best-available's ranking
 * (best.h's pref_weight). Chosen, not tuned; bench/reco.py measures the outcome
 * (bench/results/2026-12-06-reco.txt), including a control where it loses to the rule. */
#define LEARNED_WEIGHT 0.7
/* A hold that met TIX_EBUSY runs again (after a short random pause) at most BUSY_RETRIES times,
 * and only while it has taken less than BUSY_BUDGET_MS since it started. The quick causes are
 * worth another run: this user's twin request got there first (milliseconds), or PostgreSQL
 * broke a deadlock between two replacing holds (the victim learns it after deadlock_timeout,
 * 1 s). A lock wait that ran out is not: the lock is another session's that has stayed open
 * for the whole wait (PostgreSQL's lock_timeout and SQLite's busy timeout, 5 s, store/db_pg.c
 * and store/db_sqlite.c), and waiting it out again and again held the handler thread for 13
 * waits, 65 s, before answering 503 all the same. The budget is below one lock wait, so such a
 * hold is answered (503 with Retry-After) after one; any hold after at most the budget and one
 * more run. */
#define BUSY_RETRIES   12
#define BUSY_BUDGET_MS 3000

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Free for this user: no live claim, or a claim of the hold this request replaces. */
static bool free_for(const tix_map_seat *s, const char *own_hold)
{
    if (s->blocked || s->price < 0) {
        return false;
    }
    return s->claim == TIX_CLAIM_FREE || (own_hold != NULL && s->claim == TIX_CLAIM_HELD &&
                                          s->hold_id != NULL && strcmp(s->hold_id, own_hold) == 0);
}

static tix_map_seat *find_seat(tix_map_seat *map, int n, const char *id)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(map[i].id, id) == 0) {
            return &map[i];
        }
    }
    return NULL;
}

static void add_to(tix_booking_ctx *c, const char ***list, int *n, const char *id)
{
    if (*list == NULL) {
        *list = tix_arena_calloc(c->a, sizeof(char *) * TIX_BEST_MAX * 2);
    }
    if (*n < TIX_BEST_MAX * 2) {
        (*list)[(*n)++] = tix_arena_strdup(c->a, id);
    }
}

static void add_problem(tix_booking_ctx *c, tix_hold_result *out, const char *id)
{
    add_to(c, &out->problem_ids, &out->nproblems, id);
}

/* Resolves explicit seat ids against the map. Fills out->seats (sorted by id). */
static tix_rc pick_by_ids(tix_booking_ctx *c, const tix_hold_request *req, tix_map_seat *map, int n,
                          const char *own_hold, tix_hold_result *out)
{
    const char **ids = tix_arena_calloc(c->a, sizeof(char *) * (size_t)req->nseat_ids);
    memcpy(ids, req->seat_ids, sizeof(char *) * (size_t)req->nseat_ids);
    qsort(ids, (size_t)req->nseat_ids, sizeof(char *), cmp_str);
    out->seats = tix_arena_calloc(c->a, sizeof(tix_map_seat *) * (size_t)req->nseat_ids);
    out->nseats = 0;
    for (int i = 0; i < req->nseat_ids; i++) {
        if (i > 0 && strcmp(ids[i], ids[i - 1]) == 0) {
            continue; /* duplicates count once */
        }
        tix_map_seat *s = find_seat(map, n, ids[i]);
        if (s == NULL) {
            add_problem(c, out, ids[i]);
        } else if (s->blocked || s->price < 0) {
            add_to(c, &out->blocked_ids, &out->nblocked, ids[i]);
        } else {
            out->seats[out->nseats++] = s;
        }
    }
    if (out->nproblems > 0 || out->nblocked > 0) {
        out->problem = out->nproblems > 0 ? TIX_HOLD_UNKNOWN_SEAT : TIX_HOLD_BLOCKED_SEAT;
        return TIX_EINVAL;
    }
    for (int i = 0; i < out->nseats; i++) {
        if (!free_for(out->seats[i], own_hold)) {
            add_problem(c, out, out->seats[i]->id);
        }
    }
    out->problem = out->nproblems ? TIX_HOLD_SEAT_UNAVAILABLE : TIX_HOLD_PROBLEM_NONE;
    return out->nproblems ? TIX_ECONFLICT : TIX_OK;
}

static int cmp_seat_id(const void *a, const void *b)
{
    return strcmp((*(tix_map_seat *const *)a)->id, (*(tix_map_seat *const *)b)->id);
}

/* Best available from the map (pref: NULL, or the learned score of each map seat). Fills
 * out->seats (sorted by id). */
static tix_rc pick_best(tix_booking_ctx *c, const tix_hold_request *req, tix_map_seat *map, int n,
                        const double *pref, const char *own_hold, tix_hold_result *out)
{
    tix_best_seat *seats = tix_arena_calloc(c->a, sizeof(*seats) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        seats[i].x = map[i].x;
        seats[i].y = map[i].y;
        seats[i].category = map[i].category;
        seats[i].available = free_for(&map[i], own_hold);
    }
    tix_best_request br = {.quantity = req->quantity,
                           .category = req->category,
                           .pref = pref,
                           .pref_weight = pref ? LEARNED_WEIGHT : 0};
    tix_best_default_focus(seats, n, &br.focus_x, &br.focus_y);
    int picks[TIX_BEST_MAX];
    tix_best_rule rule;
    tix_rc rc = n > 0 ? tix_best_pick(seats, n, &br, picks, &rule) : TIX_ECONFLICT;
    if (rc != TIX_OK) {
        out->problem = TIX_HOLD_NO_SEATS_AVAILABLE;
        return rc == TIX_EINVAL ? TIX_ECONFLICT : rc;
    }
    out->seats = tix_arena_calloc(c->a, sizeof(tix_map_seat *) * (size_t)req->quantity);
    for (int i = 0; i < req->quantity; i++) {
        out->seats[i] = &map[picks[i]];
    }
    out->nseats = req->quantity;
    qsort(out->seats, (size_t)out->nseats, sizeof(tix_map_seat *), cmp_seat_id);
    return TIX_OK;
}

/* After the commit: the new hold's seats are held, the replaced hold's other seats free. */
static void announce_hold(const char *show_id, const tix_hold *h, const char *const *ids, int n,
                          const tix_db_res *freed)
{
    const char *gone[TIX_BEST_MAX * 2];
    int ngone = 0;
    for (int i = 0; i < tix_db_res_rows(freed) && ngone < TIX_BEST_MAX * 2; i++) {
        const char *id = tix_db_res_text(freed, i, 0);
        bool kept = false;
        for (int k = 0; k < n && !kept; k++) {
            kept = strcmp(id, ids[k]) == 0;
        }
        if (!kept) {
            gone[ngone++] = id;
        }
    }
    tix_seats_changed(show_id, gone, ngone, "available", 0);
    tix_seats_changed(show_id, ids, n, "held", h->expires_at);
}

/* The statements of a hold's transaction, in order: [read (by seat ids only)], retire the
 * user's previous hold (2), claim the seats, [claim the Idempotency-Key]. All go to the
 * database in one round trip. */
enum { ST_READ, ST_RETIRE, ST_FREE, ST_CLAIM, ST_KEY, ST_COUNT };

typedef struct hold_tx {
    tix_db_stmt st[ST_COUNT];
    int n; /* statements in use: ST_KEY + 1 with a key, else ST_KEY */
    tix_claim_req q;
} hold_tx;

static void hold_tx_init(tix_booking_ctx *c, hold_tx *t, const char *show_id, const char *user_id,
                         const char **ids, int n, int64_t now)
{
    memset(t, 0, sizeof(*t));
    char *hold_id = tix_arena_alloc(c->a, TIX_ID_MAX);
    tix_id_new(hold_id, "hld");
    t->q = (tix_claim_req){show_id, user_id, hold_id, ids, n, now + c->cfg->hold_ttl_s * 1000, now};
    tix_hold_retire_stmts(c->a, show_id, user_id, now, &t->st[ST_RETIRE]);
    tix_claims_take_stmt(c->a, &t->q, &t->st[ST_CLAIM]);
    t->n = ST_KEY;
    if (c->idem != NULL) {
        tix_idem_claim_stmt(c->a, &c->idem->k, &t->st[ST_KEY]);
        t->n = ST_KEY + 1;
    }
}

/* Whether the first round trip found the Idempotency-Key taken (by an earlier request, or a
 * concurrent one that committed first): then the transaction is rolled back and nothing done. */
static bool key_taken(tix_booking_ctx *c, hold_tx *t)
{
    if (c->idem == NULL || !t->st[ST_KEY].ran || t->st[ST_KEY].rc != TIX_ECONFLICT) {
        return false;
    }
    tix_db_rollback(c->db);
    c->idem->state = TIX_IDEM_TX_TAKEN;
    return true;
}

/* The claims' prices, not the ones read before, become the held seats' (a price change may have
 * committed in between): the hold charges what its claims say. Returns their sum. */
static int64_t claimed_prices(const tix_claim_req *q, const int64_t *prices, tix_hold_result *out)
{
    int64_t sum = 0;
    for (int i = 0; i < out->nseats; i++) {
        for (int k = 0; k < q->n; k++) {
            if (strcmp(out->seats[i]->id, q->seat_ids[k]) == 0) {
                out->seats[i]->price = prices[k];
            }
        }
        sum += out->seats[i]->price;
    }
    return sum;
}

/* The claims are in (the transaction is open): all of them → the hold is recorded and the
 * transaction committed in one round trip, and the change announced; fewer → rolled back,
 * TIX_ECONFLICT naming the seats not got (TIX_EBUSY when it is this user's twin request that
 * holds them: run again, to replace that hold). */
static tix_rc finish(tix_booking_ctx *c, const tix_show *show, hold_tx *t, tix_hold_result *out)
{
    const tix_claim_req *q = &t->q;
    bool *got = tix_arena_calloc(c->a, sizeof(bool) * (size_t)q->n);
    int64_t *prices = tix_arena_calloc(c->a, sizeof(int64_t) * (size_t)q->n);
    int ngot = 0;
    tix_claims_taken(t->st[ST_CLAIM].res, q, got, prices, &ngot);
    if (ngot < q->n) {
        bool twin = false;
        tix_rc rc = tix_claims_held_by_user(c->db, c->a, q, &twin);
        tix_db_rollback(c->db);
        if (rc != TIX_OK || twin) {
            return rc != TIX_OK ? rc : TIX_EBUSY;
        }
        for (int i = 0; i < q->n; i++) {
            if (!got[i]) {
                add_problem(c, out, q->seat_ids[i]);
            }
        }
        out->problem = TIX_HOLD_SEAT_UNAVAILABLE;
        return TIX_ECONFLICT;
    }
    tix_hold *h = &out->hold;
    *h = (tix_hold){.id = (char *)q->hold_id,
                    .show_id = show->id,
                    .user_id = (char *)q->user_id,
                    .status = TIX_HOLD_ACTIVE,
                    .seat_count = q->n,
                    .currency = show->currency,
                    .expires_at = q->expires_at,
                    .created_at = q->now};
    h->amount = claimed_prices(q, prices, out);
    tix_db_stmt last[2]; /* the hold row, [the key's answer] */
    int nlast = 1;
    tix_hold_insert_stmt(c->a, h, &last[0]);
    if (c->idem != NULL) {
        int status = 0;
        const char *response = NULL;
        c->idem->answer(c->idem->arg, &status, &response);
        tix_idem_answer_stmt(c->a, &c->idem->k, status, response, &last[nlast++]);
    }
    tix_rc rc = tix_db_commit_after(c->db, last, nlast);
    tix_db_stmts_cleanup(last, nlast);
    if (rc == TIX_OK && c->idem != NULL) {
        c->idem->state = TIX_IDEM_TX_JOINED;
    }
    if (rc != TIX_OK) {
        /* The unique index "one active hold per user and show": the same user's concurrent
         * request committed first. Run again: this one then replaces that one. */
        return rc == TIX_ECONFLICT ? TIX_EBUSY : rc;
    }
    announce_hold(show->id, h, q->seat_ids, q->n, t->st[ST_FREE].res);
    return TIX_OK;
}

static bool bookable(const tix_show *show, int64_t now, tix_hold_result *out)
{
    if (show->cancelled || show->starts_at <= now) {
        out->problem = TIX_HOLD_SHOW_NOT_BOOKABLE;
        return false;
    }
    return true;
}

/* The distinct ids of req, sorted (the order claims are taken in). */
static const char **sorted_ids(tix_booking_ctx *c, const tix_hold_request *req, int *n)
{
    const char **ids = tix_arena_calloc(c->a, sizeof(char *) * (size_t)req->nseat_ids);
    memcpy(ids, req->seat_ids, sizeof(char *) * (size_t)req->nseat_ids);
    qsort(ids, (size_t)req->nseat_ids, sizeof(char *), cmp_str);
    int k = 0;
    for (int i = 0; i < req->nseat_ids; i++) {
        if (k == 0 || strcmp(ids[i], ids[k - 1]) != 0) {
            ids[k++] = ids[i];
        }
    }
    *n = k;
    return ids;
}

/* By seat ids, in one round trip and a second one for the commit: BEGIN, read the show and the
 * seats, retire the previous hold, claim; then the checks on what was read (which win over
 * whatever the writes met: they are all rolled back), then the hold row with the COMMIT. */
static tix_rc place_by_ids(tix_booking_ctx *c, const char *show_id, const char *user_id,
                           const tix_hold_request *req, tix_hold_result *out, int64_t now)
{
    int n = 0;
    const char **ids = sorted_ids(c, req, &n);
    hold_tx t;
    hold_tx_init(c, &t, show_id, user_id, ids, n, now);
    tix_hold_read_stmt(c->a, show_id, ids, n, &t.st[ST_READ]);
    tix_rc rc = tix_db_begin_reading(c->db, t.st, t.n, 1);
    if (key_taken(c, &t)) {
        tix_db_stmts_cleanup(t.st, ST_COUNT);
        return TIX_ECONFLICT;
    }
    tix_show show;
    tix_map_seat *map = NULL;
    int nmap = 0;
    tix_rc read = t.st[ST_READ].rc;
    read = read ? read : tix_hold_read_result(c->a, t.st[ST_READ].res, show_id, &show, &map, &nmap);
    read = read ? read : (bookable(&show, now, out) ? TIX_OK : TIX_ECONFLICT);
    read = read ? read : pick_by_ids(c, req, map, nmap, NULL, out); /* unknown or blocked */
    rc = read ? read : rc;
    if (rc == TIX_OK) {
        rc = finish(c, &show, &t, out);
    } else {
        tix_db_rollback(c->db);
    }
    tix_db_stmts_cleanup(t.st, ST_COUNT);
    return rc;
}

/* Claims the seats best available picked (out->seats) in one round trip, then finishes. */
static tix_rc claim_picked(tix_booking_ctx *c, const tix_show *show, const char *user_id,
                           tix_hold_result *out, int64_t now)
{
    const char **ids = tix_arena_calloc(c->a, sizeof(char *) * (size_t)out->nseats);
    for (int i = 0; i < out->nseats; i++) {
        ids[i] = out->seats[i]->id;
    }
    hold_tx t;
    hold_tx_init(c, &t, show->id, user_id, ids, out->nseats, now);
    tix_rc rc = tix_db_begin(c->db);
    rc = rc ? rc : tix_db_exec_many(c->db, &t.st[ST_RETIRE], t.n - ST_RETIRE);
    if (key_taken(c, &t)) {
        rc = TIX_ECONFLICT;
    } else if (rc == TIX_OK) {
        rc = finish(c, show, &t, out);
    } else {
        tix_db_rollback(c->db);
    }
    tix_db_stmts_cleanup(t.st, ST_COUNT);
    return rc;
}

/* A best-available claim lost a race for out->problem_ids: those seats are another hold's
 * now, so the next pick from this map leaves them out. */
static void mark_taken(tix_map_seat *map, int n, const tix_hold_result *out)
{
    for (int i = 0; i < out->nproblems; i++) {
        tix_map_seat *s = find_seat(map, n, out->problem_ids[i]);
        if (s != NULL) {
            s->claim = TIX_CLAIM_HELD;
            s->hold_id = NULL;
        }
    }
}

/* The whole hall's seat map, read now, and the user's active hold on the show if any (*own). */
static tix_rc read_map(tix_booking_ctx *c, const tix_show *show, const char *user_id, int64_t now,
                       tix_map_seat **map, int *n, const char **own)
{
    tix_hold old;
    *own = NULL;
    if (tix_hold_active_for(c->db, c->a, user_id, show->id, now, &old) == TIX_OK) {
        *own = old.id;
    }
    return tix_seatmap_load(c->db, c->a, show->id, show->hall_id, now, map, n);
}

/* A learned hall's scores (tix_reco_hall_prefs), ordered by seat id. */
typedef struct learned_scores {
    bool learned; /* the hall is set to "learned" */
    tix_reco_seat_score *rows;
    int n;
} learned_scores;

/* A learned hall's scores into *ls: one more read per hold (none for a geometric hall, none
 * per retry). */
static tix_rc load_learned(tix_booking_ctx *c, const tix_show *show, learned_scores *ls)
{
    *ls = (learned_scores){false, NULL, 0};
    if (!show->learned_seats) {
        return TIX_OK;
    }
    return tix_reco_hall_prefs(c->db, c->a, show->hall_id, &ls->learned, &ls->rows, &ls->n);
}

/* The learned score of each of the n map seats (arena), or NULL when the hall is not set to
 * "learned": ls's rows matched by seat id. */
static double *align_prefs(tix_booking_ctx *c, const learned_scores *ls, const tix_map_seat *map,
                           int n)
{
    if (!ls->learned || n < 1) {
        return NULL;
    }
    const char **ids = tix_arena_calloc(c->a, sizeof(char *) * (size_t)n);
    for (int i = 0; i < n; i++) {
        ids[i] = map[i].id;
    }
    double *pref = tix_arena_calloc(c->a, sizeof(double) * (size_t)n);
    tix_reco_seat_prefs_align(ls->rows, ls->n, ids, n, pref);
    return pref;
}

/* Whether a claim of picked seats lost a race: another buyer holds out->problem_ids. */
static bool lost_race(tix_rc rc, const tix_hold_result *out)
{
    return rc == TIX_ECONFLICT && out->problem == TIX_HOLD_SEAT_UNAVAILABLE;
}

/* Best available: pick from the map and claim. Every buyer who read the same map picked the
 * same block and one of them got it: the others pick again from their map without those seats
 * (no need to read the hall again), so a herd of buyers is served one block per round instead
 * of being refused after a few rounds. The hall is read again only when nothing fits what the
 * map knows (seats may have been freed meanwhile). */
static tix_rc place_best(tix_booking_ctx *c, const char *show_id, const char *user_id,
                         const tix_hold_request *req, tix_hold_result *out, int64_t now)
{
    tix_show show;
    tix_rc rc = tix_show_get(c->db, c->a, show_id, &show);
    if (rc != TIX_OK || !bookable(&show, now, out)) {
        return rc != TIX_OK ? rc : TIX_ECONFLICT;
    }
    learned_scores ls;
    rc = load_learned(c, &show, &ls);
    if (rc != TIX_OK) {
        return rc;
    }
    tix_map_seat *map = NULL;
    double *pref = NULL;
    int n = 0;
    const char *own = NULL;
    bool stale = false; /* the map has seats marked taken by lost races since it was read */
    int lost = 0;       /* races lost */
    while (lost < BEST_RETRIES) {
        if (map == NULL) {
            rc = read_map(c, &show, user_id, now, &map, &n, &own);
            stale = false;
            pref = rc == TIX_OK ? align_prefs(c, &ls, map, n) : NULL;
        }
        out->nproblems = 0;
        out->problem = TIX_HOLD_PROBLEM_NONE;
        rc = rc ? rc : pick_best(c, req, map, n, pref, own, out);
        if (rc == TIX_ECONFLICT && stale) {
            map = NULL; /* nothing fits what this map knows: read the hall again */
            continue;
        }
        rc = rc ? rc : claim_picked(c, &show, user_id, out, now);
        if (!lost_race(rc, out)) {
            return rc;
        }
        lost++;
        mark_taken(map, n, out);
        stale = true;
        now = tix_now_ms();
    }
    out->problem = TIX_HOLD_NO_SEATS_AVAILABLE;
    return TIX_ECONFLICT;
}

/* ticketd_holds_total{outcome} (core/metrics.h): placed (committed), conflict (seats taken or
 * none left), refused (bad or unknown seats, show not on sale), error (the database). */
static void count_hold(tix_rc rc)
{
    const char *outcome = rc == TIX_OK          ? "placed"
                          : rc == TIX_ECONFLICT ? "conflict"
                          : rc == TIX_EINVAL || rc == TIX_ENOTFOUND || rc == TIX_EFORBIDDEN
                              ? "refused"
                              : "error";
    tix_metrics_add(TIX_M_HOLDS, outcome, 1);
}

tix_rc tix_hold_place(tix_booking_ctx *c, const char *show_id, const char *user_id,
                      const tix_hold_request *req, tix_hold_result *out)
{
    memset(out, 0, sizeof(*out));
    int64_t started = tix_mono_ms();
    for (int busy = 0;; busy++) {
        int64_t now = tix_now_ms();
        out->nproblems = 0;
        out->nblocked = 0;
        out->problem = TIX_HOLD_PROBLEM_NONE;
        tix_rc rc = req->seat_ids ? place_by_ids(c, show_id, user_id, req, out, now)
                                  : place_best(c, show_id, user_id, req, out, now);
        if (rc != TIX_EBUSY || busy >= BUSY_RETRIES || tix_mono_ms() - started >= BUSY_BUDGET_MS) {
            count_hold(rc);
            return rc;
        }
        /* A deadlock PostgreSQL broke between two replacing holds, or this user's twin request
         * that got there first (not a lock wait that ran out: that took the budget). */
        struct timespec nap = {0, (long)(1 + randombytes_uniform(8)) * 1000000L};
        nanosleep(&nap, NULL);
    }
}

tix_rc tix_hold_release(tix_booking_ctx *c, const char *hold_id, const char *user_id)
{
    tix_hold h;
    tix_rc rc = tix_hold_get(c->db, c->a, hold_id, &h);
    if (rc == TIX_OK && strcmp(h.user_id, user_id) != 0) {
        rc = TIX_ENOTFOUND;
    }
    if (rc != TIX_OK) {
        return rc;
    }
    if (h.status == TIX_HOLD_BOOKED) {
        return TIX_ECONFLICT;
    }
    int64_t now = tix_now_ms();
    tix_seat_ids freed = {NULL, 0};
    rc = tix_db_begin(c->db);
    rc = rc ? rc : tix_claims_release_hold_ids(c->db, c->a, h.show_id, h.id, &freed.ids, &freed.n);
    if (rc == TIX_OK && h.status == TIX_HOLD_ACTIVE) {
        rc = tix_hold_set_status(c->db, h.id, TIX_HOLD_ACTIVE, TIX_HOLD_RELEASED, now);
    }
    rc = rc ? rc : tix_db_commit(c->db);
    if (rc != TIX_OK) {
        tix_db_rollback(c->db);
        return rc;
    }
    tix_metrics_add(TIX_M_HOLDS, "released", 1);
    tix_seats_changed(h.show_id, freed.ids, freed.n, "available", 0);
    return TIX_OK;
}
