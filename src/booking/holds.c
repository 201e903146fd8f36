/*
 * Placing and releasing holds. A hold by seat ids is checked against the seat map first (to
 * answer 422 for unknown or blocked seats and 409 early for taken ones), then claimed in one
 * statement inside a transaction; the statement is the authority, the map only a fast path.
 * A best-available hold picks from the map and, if another buyer wins a seat in between,
 * picks again from the same map without the seats it lost (they are taken: the claim said so),
 * reading the hall again only when nothing fits what that map knows.
 */
#include "booking/best.h"
#include "booking/booking.h"
#include "booking/seat_events.h"
#include "core/util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Races a best-available hold may lose before it gives up: at least the number of buyers
 * that can claim seats of one show at the same instant (every server's WORKERS together), since
 * each lost race is a claim another buyer committed. */
#define BEST_RETRIES 256
#define BUSY_RETRIES 12

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
    return s->claim == 0 || (own_hold != NULL && s->claim == 1 && s->hold_id != NULL &&
                             strcmp(s->hold_id, own_hold) == 0);
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
        out->problem = out->nproblems > 0 ? "unknown_seat" : "blocked_seat";
        return TIX_EINVAL;
    }
    for (int i = 0; i < out->nseats; i++) {
        if (!free_for(out->seats[i], own_hold)) {
            add_problem(c, out, out->seats[i]->id);
        }
    }
    out->problem = out->nproblems ? "seat_unavailable" : NULL;
    return out->nproblems ? TIX_ECONFLICT : TIX_OK;
}

static int cmp_seat_id(const void *a, const void *b)
{
    return strcmp((*(tix_map_seat *const *)a)->id, (*(tix_map_seat *const *)b)->id);
}

/* Best available from the map. Fills out->seats (sorted by id). */
static tix_rc pick_best(tix_booking_ctx *c, const tix_hold_request *req, tix_map_seat *map, int n,
                        const char *own_hold, tix_hold_result *out)
{
    tix_best_seat *seats = tix_arena_calloc(c->a, sizeof(*seats) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        seats[i].x = map[i].x;
        seats[i].y = map[i].y;
        seats[i].category = map[i].category;
        seats[i].available = free_for(&map[i], own_hold);
    }
    tix_best_request br = {.quantity = req->quantity, .category = req->category};
    tix_best_default_focus(seats, n, &br.focus_x, &br.focus_y);
    int picks[TIX_BEST_MAX];
    tix_best_rule rule;
    tix_rc rc = n > 0 ? tix_best_pick(seats, n, &br, picks, &rule) : TIX_ECONFLICT;
    if (rc != TIX_OK) {
        out->problem = "no_seats_available";
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

/* In one transaction: retire the user's previous hold on the show, claim the seats, record the
 * hold. TIX_ECONFLICT (with the seats that were taken) rolls everything back. */
/* Inside the transaction: the user's previous 'active' hold on the show (expired or not: the
 * unique index allows one) gives its seats back and becomes 'replaced'. */
static tix_rc retire_previous(tix_booking_ctx *c, const char *show_id, const char *user_id,
                              int64_t now, tix_seat_ids *freed)
{
    tix_hold old;
    tix_rc rc = tix_hold_active_for(c->db, c->a, user_id, show_id, 0, &old);
    if (rc == TIX_ENOTFOUND) {
        return TIX_OK;
    }
    rc =
        rc ? rc : tix_claims_release_hold_ids(c->db, c->a, show_id, old.id, &freed->ids, &freed->n);
    rc = rc ? rc : tix_hold_set_status(c->db, old.id, "active", "replaced", now);
    return rc == TIX_ECONFLICT ? TIX_EBUSY : rc; /* replaced meanwhile by a twin request */
}

/* After the commit: the new hold's seats are held, the replaced hold's other seats free. */
static void announce_hold(const tix_show *show, const tix_hold *h, const char **ids, int n,
                          const tix_seat_ids *freed)
{
    const char *gone[TIX_BEST_MAX * 2];
    int ngone = 0;
    for (int i = 0; i < freed->n && ngone < TIX_BEST_MAX * 2; i++) {
        bool kept = false;
        for (int k = 0; k < n && !kept; k++) {
            kept = strcmp(freed->ids[i], ids[k]) == 0;
        }
        if (!kept) {
            gone[ngone++] = freed->ids[i];
        }
    }
    tix_seats_changed(show->id, gone, ngone, "available", 0);
    tix_seats_changed(show->id, ids, n, "held", h->expires_at);
}

static tix_rc claim(tix_booking_ctx *c, const tix_show *show, const char *user_id,
                    tix_hold_result *out, int64_t now)
{
    tix_seat_ids freed = {NULL, 0};
    tix_hold *h = &out->hold;
    const char **ids = tix_arena_calloc(c->a, sizeof(char *) * (size_t)out->nseats);
    bool *got = tix_arena_calloc(c->a, sizeof(bool) * (size_t)out->nseats);
    int ngot = 0;
    for (int i = 0; i < out->nseats; i++) {
        ids[i] = out->seats[i]->id;
        h->amount += out->seats[i]->price;
    }
    tix_rc rc = tix_db_begin(c->db);
    rc = rc ? rc : retire_previous(c, show->id, user_id, now, &freed);
    rc = rc ? rc
            : tix_claims_take(
                  c->db, c->a,
                  &(tix_claim_req){show->id, user_id, h->id, ids, out->nseats, h->expires_at, now},
                  got, &ngot);
    if (rc == TIX_OK && ngot < out->nseats) {
        for (int i = 0; i < out->nseats; i++) {
            if (!got[i]) {
                add_problem(c, out, ids[i]);
            }
        }
        out->problem = "seat_unavailable";
        rc = TIX_ECONFLICT;
    }
    if (rc == TIX_OK) {
        rc = tix_hold_insert(c->db, h);
        /* The unique index "one active hold per user and show": the same user's concurrent
         * request committed first. Run again: this one then replaces that one. */
        rc = rc == TIX_ECONFLICT ? TIX_EBUSY : rc;
    }
    rc = rc ? rc : tix_db_commit(c->db);
    if (rc != TIX_OK) {
        tix_db_rollback(c->db);
        return rc;
    }
    announce_hold(show, h, ids, out->nseats, &freed);
    return TIX_OK;
}

/* The show, checked to be on sale. */
static tix_rc load_show(tix_booking_ctx *c, const char *show_id, tix_show *show,
                        tix_hold_result *out, int64_t now)
{
    tix_rc rc = tix_show_get(c->db, c->a, show_id, show);
    if (rc == TIX_OK && (show->cancelled || show->starts_at <= now)) {
        out->problem = "show_not_bookable";
        return TIX_ECONFLICT;
    }
    return rc;
}

/* A best-available claim lost a race for out->problem_ids: those seats are another hold's
 * now, so the next pick from this map leaves them out. */
static void mark_taken(tix_map_seat *map, int n, const tix_hold_result *out)
{
    for (int i = 0; i < out->nproblems; i++) {
        tix_map_seat *s = find_seat(map, n, out->problem_ids[i]);
        if (s != NULL) {
            s->claim = 1;
            s->hold_id = NULL;
        }
    }
}

/* The seats the request picks from, read now, and the user's active hold on the show if any
 * (*own). By seat ids only those seats are read; best available needs the whole hall. */
static tix_rc read_map(tix_booking_ctx *c, const tix_show *show, const char *user_id,
                       const tix_hold_request *req, int64_t now, tix_map_seat **map, int *n,
                       const char **own)
{
    tix_hold old;
    *own = NULL;
    if (tix_hold_active_for(c->db, c->a, user_id, show->id, now, &old) == TIX_OK) {
        *own = old.id;
    }
    tix_seat_query q = {show->id, show->hall_id, now, req->seat_ids, req->nseat_ids};
    return req->seat_ids ? tix_seatmap_load_ids(c->db, c->a, &q, map, n)
                         : tix_seatmap_load(c->db, c->a, show->id, show->hall_id, now, map, n);
}

/* The seats asked for by id, or the best available block, from map. */
static tix_rc pick(tix_booking_ctx *c, const tix_hold_request *req, tix_map_seat *map, int n,
                   const char *own, tix_hold_result *out)
{
    return req->seat_ids ? pick_by_ids(c, req, map, n, own, out)
                         : pick_best(c, req, map, n, own, out);
}

/* The hold that claim inserts for out's seats: a new id, expiring HOLD_TTL from now. */
static void new_hold(tix_booking_ctx *c, const tix_show *show, const char *user_id, int64_t now,
                     tix_hold_result *out)
{
    char *id = tix_arena_alloc(c->a, TIX_ID_MAX);
    tix_id_new(id, "hld");
    out->hold = (tix_hold){.id = id,
                           .show_id = show->id,
                           .user_id = (char *)user_id,
                           .status = "active",
                           .seat_count = out->nseats,
                           .currency = show->currency,
                           .expires_at = now + c->cfg->hold_ttl_s * 1000,
                           .created_at = now};
}

tix_rc tix_hold_place(tix_booking_ctx *c, const char *show_id, const char *user_id,
                      const tix_hold_request *req, tix_hold_result *out)
{
    memset(out, 0, sizeof(*out));
    tix_show show;
    int64_t now = tix_now_ms();
    tix_rc rc = load_show(c, show_id, &show, out, now);
    int lost = 0;       /* best-available races lost */
    int busy = 0;       /* transactions that must simply run again */
    bool stale = false; /* the map has seats marked taken by lost races since it was read */
    tix_map_seat *map = NULL;
    int n = 0;
    const char *own = NULL;
    while (rc == TIX_OK && lost < BEST_RETRIES) {
        if (map == NULL) {
            rc = read_map(c, &show, user_id, req, now, &map, &n, &own);
            stale = false;
        }
        out->nproblems = 0;
        out->nblocked = 0;
        rc = rc ? rc : pick(c, req, map, n, own, out);
        if (rc == TIX_ECONFLICT && stale) {
            map = NULL; /* nothing fits what this map knows: read the hall again, seats may
                           have been freed meanwhile */
            rc = TIX_OK;
            continue;
        }
        if (rc != TIX_OK) {
            return rc;
        }
        new_hold(c, &show, user_id, now, out);
        rc = claim(c, &show, user_id, out, now);
        if (rc == TIX_EBUSY && ++busy <= BUSY_RETRIES) {
            /* A deadlock PostgreSQL broke between two replacing holds, or this user's twin
             * request that got there first: run again after a short random pause. */
            struct timespec nap = {0, (long)(1 + randombytes_uniform(8)) * 1000000L};
            nanosleep(&nap, NULL);
            map = NULL;
            rc = TIX_OK;
        } else if (rc == TIX_ECONFLICT && req->seat_ids == NULL) {
            /* Best available lost a race: every buyer who read the same map picked the same
             * block and one of them got it. Pick again from this map without those seats
             * (no need to read the hall again), so a herd of buyers is served one block per
             * round instead of being refused after a few rounds. */
            lost++;
            mark_taken(map, n, out);
            stale = true;
            rc = TIX_OK;
        } else {
            return rc;
        }
        now = tix_now_ms();
    }
    if (rc == TIX_OK) {
        out->problem = "no_seats_available";
        rc = TIX_ECONFLICT;
    }
    return rc;
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
    if (strcmp(h.status, "booked") == 0) {
        return TIX_ECONFLICT;
    }
    int64_t now = tix_now_ms();
    tix_seat_ids freed = {NULL, 0};
    rc = tix_db_begin(c->db);
    rc = rc ? rc : tix_claims_release_hold_ids(c->db, c->a, h.show_id, h.id, &freed.ids, &freed.n);
    if (rc == TIX_OK && strcmp(h.status, "active") == 0) {
        rc = tix_hold_set_status(c->db, h.id, "active", "released", now);
    }
    rc = rc ? rc : tix_db_commit(c->db);
    if (rc != TIX_OK) {
        tix_db_rollback(c->db);
        return rc;
    }
    tix_seats_changed(h.show_id, freed.ids, freed.n, "available", 0);
    return TIX_OK;
}
