/*
 * Changing a show (catalog.h, tix_catalog_show_change; PATCH /shows/{id}): its start and/or its
 * prices, for the owner of the hall's theatre or an admin.
 *
 * Checked first, outside any transaction: the show exists and the caller may change it, it is
 * neither cancelled nor started nor over, and every new price names a seat category of the hall
 * and is in range (the same check as a new show's, tix_catalog_check_price; a PATCH may name a
 * subset of the categories, the others keep their price).
 *
 * Then one transaction, the same shape as a new show's (shows.c): take the hall's lock, read
 * the show again (a cancel or another change may have committed meanwhile), check the new
 * interval for overlap with every other non-cancelled show of the hall, write. Two moves of two
 * shows into one slot take the same lock, so the second sees the first and is refused
 * ("show_overlap"): exactly one wins, on SQLite (the write lock) and PostgreSQL (the hall's row
 * lock) alike. The end moves with the start (same length: running time and cleaning buffer as
 * stored when the show was made). In the same transaction: the new prices (show_prices; a live
 * hold and a booking keep theirs, recorded on their claims and in booking_seats), a
 * show_changes row (migration 0014: the free-cancel rule reads it back, so it survives
 * restarts), and, for a real move, a show_rescheduled outbox row per confirmed booking: a
 * rollback takes the mails with it, a commit makes both durable.
 *
 * After the commit: the catalogue version is bumped (every cached listing and seat map, on every
 * server) and a "show" event goes on the bus (the show's version: its cached seat map; its SSE
 * streams hear of it), and each user with a confirmed or unpaid booking or a live hold of a moved
 * show gets one show_rescheduled event on their own channel (WebSockets on every server, through
 * the bus; read in the move's transaction, so it names the same bookings as the mails). No mail
 * and no event for a price-only change.
 */
#include "booking/seat_events.h"
#include "catalog/catalog_int.h"
#include "core/util.h"
#include "store/show_changes.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* The rules that refuse any change of show s at now (why in why->why). */
static tix_rc changeable(const tix_show *s, int64_t now, tix_catalog_refusal *why)
{
    if (s->cancelled) {
        why->why = "show_is_cancelled";
    } else if (s->ends_at <= now) {
        why->why = "show_is_completed";
    } else if (s->starts_at <= now) {
        why->why = "show_started";
    }
    return why->why ? TIX_ECONFLICT : TIX_OK;
}

/* The users to tell of a move (read in its transaction, told after the commit). */
typedef struct audience {
    char **user_ids; /* c->a */
    int n;
} audience;

/* Inside the transaction, under the hall's lock: the change of *s (read again) to `to`.
 * OUT: *who, for a real move, the users its show_rescheduled event goes to. */
static tix_rc write_change(tix_catalog_ctx *c, const tix_show_change_input *in, tix_show *s,
                           tix_show_change *ch, tix_catalog_refusal *why, audience *who)
{
    int64_t now = ch->changed_at;
    tix_rc rc = tix_show_get(c->db, c->a, s->id, s);
    rc = rc ? rc : changeable(s, now, why);
    if (rc != TIX_OK) {
        return rc;
    }
    int64_t len = s->ends_at - s->starts_at;
    ch->previous_starts_at = s->starts_at;
    ch->previous_ends_at = s->ends_at;
    ch->new_starts_at = in->has_starts_at ? in->starts_at : s->starts_at;
    ch->new_ends_at = ch->new_starts_at + len;
    bool moved = ch->new_starts_at != ch->previous_starts_at;
    if (moved) {
        bool overlap = false;
        rc = tix_show_overlap_other(c->db, s->hall_id, s->id, ch->new_starts_at, ch->new_ends_at,
                                    &overlap);
        if (rc == TIX_OK && overlap) {
            why->why = "show_overlap";
            rc = TIX_ECONFLICT;
        }
        rc = rc ? rc : tix_show_move(c->db, s->id, ch->new_starts_at, ch->new_ends_at, now);
    }
    for (int i = 0; i < in->nprices && rc == TIX_OK; i++) {
        rc = tix_show_price_set(c->db, s->id, in->prices[i].category, in->prices[i].amount);
        if (rc == TIX_ENOTFOUND) { /* a category of the hall the show has no row for */
            (void)tix_verr_value(&why->verr,
                                 tix_arena_sprintf(c->a, "prices.%s", in->prices[i].category),
                                 "is not a seat category of this show");
            rc = TIX_EINVAL;
        }
    }
    rc = rc ? rc : tix_show_change_insert(c->db, ch);
    if (rc == TIX_OK && moved) {
        rc = tix_outbox_show_rescheduled(c->db, s->id, ch->id, ch->previous_starts_at,
                                         c->cfg->reschedule_free_cancel_s / 60, now);
        rc = rc ? rc : tix_show_move_audience(c->db, c->a, s->id, now, &who->user_ids, &who->n);
    }
    return rc;
}

/* After the commit of a move: show_rescheduled on the user channel of each user in *who
 * (seat_events.h), once per user whatever they have of the show, with
 * {"show_id","previous_starts_at","starts_at","ends_at"}. */
static void tell_move(const tix_show_change *ch, const audience *who)
{
    char prev[TIX_RFC3339_MAX];
    char starts[TIX_RFC3339_MAX];
    char ends[TIX_RFC3339_MAX];
    tix_rfc3339(prev, ch->previous_starts_at);
    tix_rfc3339(starts, ch->new_starts_at);
    tix_rfc3339(ends, ch->new_ends_at);
    json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "show_id", ch->show_id, "previous_starts_at", prev,
                          "starts_at", starts, "ends_at", ends);
    char *data = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    for (int i = 0; data != NULL && i < who->n; i++) {
        tix_user_event(who->user_ids[i], "show_rescheduled", data);
    }
    free(data);
}

tix_rc tix_catalog_show_change(tix_catalog_ctx *c, const char *id, const tix_show_change_input *in,
                               tix_show *out, tix_catalog_refusal *why)
{
    memset(why, 0, sizeof(*why));
    int64_t now = tix_now_ms();
    tix_rc rc = tix_show_get(c->db, c->a, id, out);
    rc = rc ? rc : tix_policy_can_modify(c->who, out->owner_id);
    rc = rc ? rc : changeable(out, now, why);
    tix_seat_row *seats = NULL;
    int nseats = 0;
    if (rc == TIX_OK && in->nprices > 0) {
        rc = tix_seat_list(c->db, c->a, out->hall_id, &seats, &nseats);
    }
    for (int i = 0; i < in->nprices && rc == TIX_OK; i++) {
        rc = tix_catalog_check_price(c, &in->prices[i], seats, nseats, why);
    }
    if (rc != TIX_OK) {
        return rc;
    }
    char *change_id = tix_arena_alloc(c->a, TIX_ID_MAX);
    tix_id_new(change_id, "shc");
    tix_show_change ch = {.id = change_id,
                          .show_id = out->id,
                          .changed_by = c->who && c->who->authenticated ? c->who->user_id : NULL,
                          .prices_changed = in->nprices > 0,
                          .changed_at = now};
    rc = tix_db_begin(c->db);
    rc = rc ? rc : tix_hall_lock(c->db, out->hall_id);
    audience who = {NULL, 0};
    rc = rc ? rc : write_change(c, in, out, &ch, why, &who);
    rc = rc ? rc : tix_db_commit(c->db);
    if (rc != TIX_OK) {
        tix_db_rollback(c->db);
        return rc;
    }
    out->starts_at = ch.new_starts_at;
    out->ends_at = ch.new_ends_at;
    (void)tix_catalog_committed(rc);
    tix_show_changed(out->id, out->starts_at, out->ends_at, ch.prices_changed);
    tell_move(&ch, &who);
    return TIX_OK;
}
