/*
 * Shows (catalog.h): scheduling one and cancelling one. A new show is checked against what it
 * refers to (a hall the caller may change, an active movie, a price for exactly the hall's seat
 * categories), then inserted in one transaction that first takes the hall's lock and checks
 * for an overlap: two owners scheduling overlapping shows at the same instant are serialised
 * and the second is refused. A cancellation is two steps, each committed on its own: the show
 * stops selling (one UPDATE), then the booking core refunds its confirmed bookings
 * (tix_booking_show_cancelled). A crash in between leaves a cancelled show with confirmed
 * bookings, which the next cancel call finishes before it answers "show_cancelled".
 */
#include "booking/booking.h"
#include "catalog/catalog_int.h"
#include "catalog/show_time.h"
#include "core/i18n.h"
#include "core/util.h"

#include <string.h>

#define MAX_PRICE 100000000 /* 10 lakh rupees in paise: far above any ticket */

static tix_rc bad_input(tix_catalog_refusal *why, const char *field, const char *reason)
{
    (void)tix_verr_value(&why->verr, field, reason);
    return TIX_EINVAL;
}

/* Loads what a new show refers to: the hall (the caller must be allowed to change it) and the
 * movie (active). */
static tix_rc load_refs(tix_catalog_ctx *c, const tix_show_input *in, tix_hall *h, tix_movie *m,
                        tix_catalog_refusal *why)
{
    tix_rc rc = tix_hall_get(c->db, c->a, in->hall_id, h);
    if (rc == TIX_OK && !tix_catalog_theatre_visible(c->who, h->theatre_status, h->owner_id)) {
        rc = TIX_ENOTFOUND; /* a hall of a theatre the caller may not see (onboarding) */
    }
    if (rc == TIX_ENOTFOUND) {
        return bad_input(why, "hall_id", "is not a hall");
    }
    rc = rc ? rc : tix_policy_can_modify(c->who, h->owner_id);
    rc = rc ? rc : tix_movie_get(c->db, c->a, in->movie_id, m);
    if (rc == TIX_ENOTFOUND || (rc == TIX_OK && strcmp(m->status, "active") != 0)) {
        return bad_input(why, "movie_id", rc ? N_("is not a movie") : N_("is not an active movie"));
    }
    return rc;
}

tix_rc tix_catalog_check_price(tix_catalog_ctx *c, const tix_price_input *p,
                               const tix_seat_row *seats, int nseats, tix_catalog_refusal *why)
{
    bool known = false;
    for (int i = 0; i < nseats && !known; i++) {
        known = strcmp(seats[i].category, p->category) == 0;
    }
    char *field = tix_arena_sprintf(c->a, "prices.%s", p->category);
    if (!p->is_integer) {
        (void)tix_verr_type(&why->verr, field, "integer");
        return TIX_EINVAL;
    }
    if (!known || p->amount < 0 || p->amount > MAX_PRICE) {
        return bad_input(why, field,
                         known ? N_("must be from 0 to 100000000 minor units")
                               : N_("is not a seat category of this hall"));
    }
    return TIX_OK;
}

/* Matches the prices against the hall's seat categories, in the order given: every category
 * priced, nothing extra. OUT: *out (arena) the prices. */
static tix_rc match_prices(tix_catalog_ctx *c, const tix_show_input *in, const tix_seat_row *seats,
                           int nseats, tix_show_price **out, tix_catalog_refusal *why)
{
    tix_show_price *list = tix_arena_calloc(c->a, sizeof(*list) * (size_t)(in->nprices + 1));
    for (int k = 0; k < in->nprices; k++) {
        const tix_price_input *p = &in->prices[k];
        tix_rc rc = tix_catalog_check_price(c, p, seats, nseats, why);
        if (rc != TIX_OK) {
            return rc;
        }
        list[k].category = tix_arena_strdup(c->a, p->category);
        list[k].amount = p->amount;
    }
    for (int i = 0; i < nseats; i++) {
        bool priced = false;
        for (int k = 0; k < in->nprices && !priced; k++) {
            priced = strcmp(in->prices[k].category, seats[i].category) == 0;
        }
        if (!priced) {
            return bad_input(why, tix_arena_sprintf(c->a, "prices.%s", seats[i].category),
                             "is missing: every seat category of the hall needs a price");
        }
    }
    *out = list;
    return TIX_OK;
}

/* In one transaction: lock the hall, check overlap, insert. */
static tix_rc insert_show(tix_catalog_ctx *c, const tix_show *s, const tix_show_price *prices,
                          int n, tix_catalog_refusal *why)
{
    bool overlap = false;
    tix_rc rc = tix_db_begin(c->db);
    rc = rc ? rc : tix_hall_lock(c->db, s->hall_id);
    rc = rc ? rc : tix_show_overlap(c->db, s->hall_id, s->starts_at, s->ends_at, &overlap);
    if (rc == TIX_OK && overlap) {
        why->why = "show_overlap";
        rc = TIX_ECONFLICT;
    }
    rc = rc ? rc : tix_show_insert(c->db, s, prices, n);
    rc = rc ? rc : tix_db_commit(c->db);
    if (rc != TIX_OK) {
        tix_db_rollback(c->db);
    }
    return tix_catalog_committed(rc);
}

tix_rc tix_catalog_show_create(tix_catalog_ctx *c, const tix_show_input *in, tix_show *out,
                               tix_catalog_refusal *why)
{
    memset(why, 0, sizeof(*why));
    tix_hall h;
    tix_movie m;
    tix_seat_row *seats = NULL;
    int nseats = 0;
    tix_show_price *prices = NULL;
    tix_rc rc = load_refs(c, in, &h, &m, why);
    rc = rc ? rc : tix_seat_list(c->db, c->a, h.id, &seats, &nseats);
    rc = rc ? rc : match_prices(c, in, seats, nseats, &prices, why);
    if (rc != TIX_OK) {
        return rc;
    }
    /* Only an approved theatre gets shows; approval is final (catalog.h), so this check
     * needs no lock. */
    if (h.theatre_status == NULL || strcmp(h.theatre_status, "approved") != 0) {
        why->why = "theatre_not_approved";
        return TIX_ECONFLICT;
    }
    char *id = tix_arena_alloc(c->a, TIX_ID_MAX);
    tix_id_new(id, "shw");
    *out = (tix_show){.id = id,
                      .movie_id = m.id,
                      .hall_id = h.id,
                      .theatre_id = h.theatre_id,
                      .owner_id = h.owner_id,
                      .currency = tix_arena_strdup(c->a, in->currency),
                      .starts_at = in->starts_at};
    out->ends_at = tix_show_end(in->starts_at, m.duration_minutes, c->cfg->show_buffer_s * 1000);
    out->created_at = tix_now_ms();
    return insert_show(c, out, prices, in->nprices, why);
}

tix_rc tix_catalog_show_cancel(tix_catalog_ctx *c, const char *id, tix_catalog_refusal *why)
{
    memset(why, 0, sizeof(*why));
    int64_t now = tix_now_ms();
    tix_show s;
    tix_rc rc = tix_show_get(c->db, c->a, id, &s);
    rc = rc ? rc : tix_policy_can_modify(c->who, s.owner_id);
    if (rc != TIX_OK) {
        return rc;
    }
    if (s.ends_at <= now) {
        why->why = "show_completed";
        return TIX_ECONFLICT;
    }
    rc = tix_catalog_committed(tix_show_cancel(c->db, id, now));
    bool already = rc == TIX_ECONFLICT;
    if (rc != TIX_OK && !already) {
        return rc;
    }
    /* The show no longer sells (committed above); now every confirmed booking is cancelled
     * with a full refund, also when it already was cancelled (finishing what a crash left). */
    tix_booking_ctx bc = {c->db, c->a, c->cfg, c->pay, NULL};
    rc = tix_booking_show_cancelled(&bc, id);
    if (rc == TIX_OK && already) {
        why->why = "show_cancelled";
        return TIX_ECONFLICT;
    }
    return rc;
}
