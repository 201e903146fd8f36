/* SQL for claims, holds, bookings, tickets, refunds and idempotency keys; see booking.h. The seat
 * map and a hold's read of its show and seats are seatmap.c. */
#include "store/booking.h"

#include "core/util.h"
#include "store/outbox.h"
#include "store/promo.h"
#include "store/reports.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDEM_TTL_MS (24LL * 3600 * 1000)

/* ---- claims ---- */

void tix_claims_take_stmt(tix_arena *a, const tix_claim_req *q, tix_db_stmt *st)
{
    int n = q->n;
    assert(n >= 1 && n <= TIX_DB_MAX_PARAMS - 5);
    tix_dbv *p = tix_arena_calloc(a, sizeof(tix_dbv) * (size_t)(5 + n));
    p[0] = TIX_DB_TEXT(q->show_id);
    p[1] = TIX_DB_TEXT(q->user_id);
    p[2] = TIX_DB_TEXT(q->hold_id);
    p[3] = TIX_DB_INT(q->expires_at);
    p[4] = TIX_DB_INT(q->now);
    char *values = tix_arena_strdup(a, "");
    for (int i = 0; i < n; i++) {
        p[5 + i] = TIX_DB_TEXT(q->seat_ids[i]);
        values = tix_arena_sprintf(a,
                                   "%s%s($1, $%d, $2, $3, NULL, $4, $5, (SELECT p.amount FROM"
                                   " seats s JOIN show_prices p ON p.category = s.category"
                                   " WHERE p.show_id = $1 AND s.id = $%d))",
                                   values, i ? ", " : "", 6 + i, 6 + i);
    }
    /* One statement, seats in sorted order (no deadlocks between overlapping holds). A live
     * claim is left alone; an expired one is taken over. Each claim records the seat's price as
     * this statement reads it, and RETURNING lists what we got at which price: that is what the
     * hold says and what its booking charges, whatever the show's prices become meanwhile. */
    *st = (tix_db_stmt){
        .sql = tix_arena_sprintf(
            a,
            "INSERT INTO seat_claims (show_id, seat_id, user_id, hold_id, booking_id, expires_at,"
            " created_at, price) VALUES %s ON CONFLICT (show_id, seat_id) DO UPDATE SET"
            " user_id = excluded.user_id, hold_id = excluded.hold_id, booking_id = NULL,"
            " expires_at = excluded.expires_at, created_at = excluded.created_at,"
            " price = excluded.price"
            " WHERE seat_claims.expires_at IS NOT NULL AND seat_claims.expires_at <= $5"
            " RETURNING seat_id, price",
            values),
        .params = p,
        .n = 5 + n};
}

void tix_claims_taken(const tix_db_res *res, const tix_claim_req *q, bool *claimed, int64_t *prices,
                      int *nclaimed)
{
    *nclaimed = 0;
    for (int i = 0; i < q->n; i++) {
        claimed[i] = false;
        prices[i] = 0;
        for (int r = 0; r < tix_db_res_rows(res); r++) {
            if (strcmp(tix_db_res_text(res, r, 0), q->seat_ids[i]) == 0) {
                claimed[i] = true;
                prices[i] = tix_db_res_int(res, r, 1);
                (*nclaimed)++;
                break;
            }
        }
    }
}

tix_rc tix_claims_held_by_user(tix_db *db, tix_arena *a, const tix_claim_req *q, bool *held)
{
    if (q->n < 1 || q->n > TIX_DB_MAX_PARAMS - 4) {
        return TIX_EINVAL;
    }
    tix_dbv p[TIX_DB_MAX_PARAMS];
    p[0] = TIX_DB_TEXT(q->show_id);
    p[1] = TIX_DB_TEXT(q->user_id);
    p[2] = TIX_DB_TEXT(q->hold_id);
    p[3] = TIX_DB_INT(q->now);
    char *in = tix_arena_strdup(a, "");
    for (int i = 0; i < q->n; i++) {
        p[4 + i] = TIX_DB_TEXT(q->seat_ids[i]);
        in = tix_arena_sprintf(a, "%s%s$%d", in, i ? ", " : "", 5 + i);
    }
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(
        db,
        tix_arena_sprintf(a,
                          "SELECT 1 FROM seat_claims c JOIN holds h ON h.id = c.hold_id"
                          " WHERE c.show_id = $1 AND c.seat_id IN (%s) AND c.expires_at > $4"
                          " AND h.user_id = $2 AND h.status = 'active' AND h.id <> $3 LIMIT 1",
                          in),
        p, 4 + q->n, &res);
    *held = rc == TIX_OK && tix_db_res_rows(res) > 0;
    tix_db_res_destroy(res);
    return rc;
}

/* A hold's claims are found by hold id alone (seat_claims_hold; a hold id names one show): with
 * "show_id = $1 AND hold_id = $2" PostgreSQL may AND in a scan of the show's whole primary-key
 * range, every claim the show ever had (tix_hold_retire_stmts says the same). show_id is kept in
 * the signatures below for the callers' sake and unused. */
tix_rc tix_claims_release_hold(tix_db *db, const char *show_id, const char *hold_id)
{
    (void)show_id;
    tix_dbv p[] = {TIX_DB_TEXT(hold_id)};
    return tix_db_exec(db, "DELETE FROM seat_claims WHERE hold_id = $1 AND expires_at IS NOT NULL",
                       p, 1, NULL);
}

/* Runs a DELETE ... RETURNING seat_id and lists the seats (arena). */
static tix_rc release_listing(tix_db *db, tix_arena *a, const char *sql, const tix_dbv *p, int np,
                              const char ***ids, int *n)
{
    *ids = NULL;
    *n = 0;
    return TIX_DB_LIST(db, a, sql, p, np, &tix_db_text_rows, ids, n);
}

tix_rc tix_claims_release_hold_ids(tix_db *db, tix_arena *a, const char *show_id,
                                   const char *hold_id, const char ***ids, int *n)
{
    (void)show_id;
    tix_dbv p[] = {TIX_DB_TEXT(hold_id)};
    return release_listing(db, a,
                           "DELETE FROM seat_claims WHERE hold_id = $1"
                           " AND expires_at IS NOT NULL RETURNING seat_id",
                           p, 1, ids, n);
}

tix_rc tix_claims_release_booking_ids(tix_db *db, tix_arena *a, const char *show_id,
                                      const char *booking_id, const char ***ids, int *n)
{
    tix_dbv p[] = {TIX_DB_TEXT(show_id), TIX_DB_TEXT(booking_id)};
    return release_listing(db, a,
                           "DELETE FROM seat_claims WHERE show_id = $1 AND booking_id = $2"
                           " RETURNING seat_id",
                           p, 2, ids, n);
}

tix_rc tix_claims_sell(tix_db *db, const char *show_id, const char *hold_id, const char *booking_id,
                       int *n)
{
    (void)show_id;
    tix_dbv p[] = {TIX_DB_TEXT(hold_id), TIX_DB_TEXT(booking_id)};
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(
        db, "UPDATE seat_claims SET expires_at = NULL, booking_id = $2 WHERE hold_id = $1", p, 2,
        &res);
    *n = rc == TIX_OK ? (int)tix_db_res_changes(res) : 0;
    tix_db_res_destroy(res);
    return rc;
}

tix_rc tix_claims_release_booking(tix_db *db, const char *show_id, const char *booking_id)
{
    tix_dbv p[] = {TIX_DB_TEXT(show_id), TIX_DB_TEXT(booking_id)};
    return tix_db_exec(db, "DELETE FROM seat_claims WHERE show_id = $1 AND booking_id = $2", p, 2,
                       NULL);
}

tix_rc tix_claims_extend(tix_db *db, const char *show_id, const char *hold_id, int64_t expires_at)
{
    (void)show_id;
    tix_dbv p[] = {TIX_DB_TEXT(hold_id), TIX_DB_INT(expires_at)};
    return tix_db_exec(db,
                       "UPDATE seat_claims SET expires_at = $2 WHERE hold_id = $1"
                       " AND expires_at IS NOT NULL",
                       p, 2, NULL);
}

/* ---- holds ---- */

#define HOLD_COLS                                                                                  \
    "id, show_id, user_id, status, seat_count, amount, currency, expires_at, created_at"

/* false when the row's status is none of tix_hold_status (the table's CHECK forbids it). */
static bool read_hold(tix_arena *a, const tix_db_res *res, tix_hold *h)
{
    h->id = tix_db_res_dup(a, res, 0, 0);
    h->show_id = tix_db_res_dup(a, res, 0, 1);
    h->user_id = tix_db_res_dup(a, res, 0, 2);
    h->seat_count = (int)tix_db_res_int(res, 0, 4);
    h->amount = tix_db_res_int(res, 0, 5);
    h->currency = tix_db_res_dup(a, res, 0, 6);
    h->expires_at = tix_db_res_int(res, 0, 7);
    h->created_at = tix_db_res_int(res, 0, 8);
    return tix_hold_status_parse(tix_db_res_text(res, 0, 3), &h->status);
}

#define HOLD_INSERT                                                                                \
    "INSERT INTO holds (id, show_id, user_id, status, seat_count, amount, currency, expires_at,"   \
    " created_at, updated_at) VALUES ($1, $2, $3, 'active', $4, $5, $6, $7, $8, $8)"

void tix_hold_insert_stmt(tix_arena *a, const tix_hold *h, tix_db_stmt *st)
{
    tix_dbv p[] = {TIX_DB_TEXT(h->id),        TIX_DB_TEXT(h->show_id),  TIX_DB_TEXT(h->user_id),
                   TIX_DB_INT(h->seat_count), TIX_DB_INT(h->amount),    TIX_DB_TEXT(h->currency),
                   TIX_DB_INT(h->expires_at), TIX_DB_INT(h->created_at)};
    tix_dbv *copy = tix_arena_alloc(a, sizeof(p));
    memcpy(copy, p, sizeof(p));
    *st = (tix_db_stmt){.sql = HOLD_INSERT, .params = copy, .n = 8};
}

tix_rc tix_hold_insert(tix_db *db, const tix_hold *h)
{
    tix_dbv p[] = {TIX_DB_TEXT(h->id),        TIX_DB_TEXT(h->show_id),  TIX_DB_TEXT(h->user_id),
                   TIX_DB_INT(h->seat_count), TIX_DB_INT(h->amount),    TIX_DB_TEXT(h->currency),
                   TIX_DB_INT(h->expires_at), TIX_DB_INT(h->created_at)};
    return tix_db_exec(db, HOLD_INSERT, p, 8, NULL);
}

void tix_hold_retire_stmts(tix_arena *a, const char *show_id, const char *user_id, int64_t now,
                           tix_db_stmt st[2])
{
    tix_dbv *p = tix_arena_calloc(a, sizeof(tix_dbv) * 3);
    p[0] = TIX_DB_TEXT(show_id);
    p[1] = TIX_DB_TEXT(user_id);
    p[2] = TIX_DB_INT(now);
    st[0] = (tix_db_stmt){.sql = "UPDATE holds SET status = 'replaced', updated_at = $3"
                                 " WHERE user_id = $2 AND show_id = $1 AND status = 'active'",
                          .params = p,
                          .n = 3};
    /* The holds this transaction just replaced: 'replaced' at exactly `now` (a twin request's
     * replaced hold of the same millisecond has no claims left by the time this runs). Claims
     * are found by hold id alone (seat_claims_hold): with "show_id = $1" as well PostgreSQL may
     * AND in a scan of the show's whole primary-key range, every claim the show ever had. */
    st[1] = (tix_db_stmt){.sql = "DELETE FROM seat_claims WHERE expires_at IS NOT NULL"
                                 " AND hold_id IN (SELECT id FROM holds WHERE user_id = $2"
                                 " AND show_id = $1 AND status = 'replaced' AND updated_at = $3)"
                                 " RETURNING seat_id",
                          .params = p,
                          .n = 3};
}

static tix_rc one_hold(tix_db *db, tix_arena *a, const char *sql, const tix_dbv *p, int n,
                       tix_hold *out)
{
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db, sql, p, n, &res);
    if (rc == TIX_OK && tix_db_res_rows(res) == 0) {
        rc = TIX_ENOTFOUND;
    }
    if (rc == TIX_OK && !read_hold(a, res, out)) {
        rc = TIX_EDB;
    }
    tix_db_res_destroy(res);
    return rc;
}

tix_rc tix_hold_get(tix_db *db, tix_arena *a, const char *id, tix_hold *out)
{
    tix_dbv p = TIX_DB_TEXT(id);
    return one_hold(db, a, "SELECT " HOLD_COLS " FROM holds WHERE id = $1", &p, 1, out);
}

tix_rc tix_hold_active_for(tix_db *db, tix_arena *a, const char *user_id, const char *show_id,
                           int64_t now, tix_hold *out)
{
    tix_dbv p[] = {TIX_DB_TEXT(user_id), TIX_DB_TEXT(show_id), TIX_DB_INT(now)};
    return one_hold(db, a,
                    "SELECT " HOLD_COLS " FROM holds WHERE user_id = $1 AND show_id = $2"
                    " AND status = 'active' AND expires_at > $3 ORDER BY id DESC LIMIT 1",
                    p, 3, out);
}

tix_rc tix_hold_set_status(tix_db *db, const char *id, tix_hold_status from, tix_hold_status to,
                           int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_TEXT(tix_hold_status_name(from)),
                   TIX_DB_TEXT(tix_hold_status_name(to)), TIX_DB_INT(now)};
    return tix_db_exec_one(db,
                           "UPDATE holds SET status = $3, updated_at = $4 WHERE id = $1"
                           " AND status = $2",
                           p, 4, TIX_ECONFLICT);
}

/* ---- bookings ---- */

#define BOOKING_SELECT                                                                             \
    "SELECT b.id, b.user_id, b.show_id, b.hold_id, b.status, b.amount, b.currency, b.provider,"    \
    " b.order_id, b.payment_id, b.expires_at, b.created_at, b.confirmed_at, b.cancelled_at,"       \
    " t.owner_id, s.starts_at, b.amount_before_discount, b.discount, b.promo_code_id, pc.code,"    \
    " b.promo_held FROM bookings b JOIN shows s ON s.id = b.show_id"                               \
    " JOIN theatres t ON t.id = s.theatre_id LEFT JOIN promo_codes pc ON pc.id = b.promo_code_id"

#define B(field) TIX_DB_COL(tix_booking, field)
static const tix_db_col booking_cols[] = {B(id),
                                          B(user_id),
                                          B(show_id),
                                          B(hold_id),
                                          TIX_DB_COL_NONE,
                                          B(amount),
                                          B(currency),
                                          B(provider),
                                          B(order_id),
                                          B(payment_id),
                                          B(expires_at),
                                          B(created_at),
                                          B(confirmed_at),
                                          B(cancelled_at),
                                          B(theatre_owner_id),
                                          B(show_starts_at),
                                          B(amount_before_discount),
                                          B(discount),
                                          B(promo_code_id),
                                          B(promo_code),
                                          B(promo_held)};
#undef B

/* Column 4, the status text, parsed (an unknown one reads as failed). */
static void read_booking_status(tix_arena *a, const tix_db_res *res, int row, void *item)
{
    (void)a;
    tix_booking *b = item;
    if (!tix_booking_status_parse(tix_db_res_text(res, row, 4), &b->status)) {
        b->status = TIX_BK_FAILED;
    }
}
static const tix_db_map booking_map = TIX_DB_MAP(tix_booking, booking_cols, read_booking_status);

tix_rc tix_booking_insert(tix_db *db, const tix_booking *b, const tix_booking_seat *seats, int n)
{
    tix_dbv p[] = {TIX_DB_TEXT(b->id),
                   TIX_DB_TEXT(b->user_id),
                   TIX_DB_TEXT(b->show_id),
                   TIX_DB_TEXT(b->hold_id),
                   TIX_DB_INT(b->amount),
                   TIX_DB_TEXT(b->currency),
                   TIX_DB_TEXT(b->provider),
                   TIX_DB_INT(b->expires_at),
                   TIX_DB_INT(b->created_at),
                   TIX_DB_INT(b->amount_before_discount),
                   TIX_DB_INT(b->discount),
                   TIX_DB_TEXT(b->promo_code_id),
                   TIX_DB_INT(b->promo_code_id != NULL)};
    tix_rc rc = tix_db_exec(db,
                            "INSERT INTO bookings (id, user_id, show_id, hold_id, status, amount,"
                            " currency, provider, expires_at, created_at, updated_at,"
                            " amount_before_discount, discount, promo_code_id, promo_held) VALUES"
                            " ($1, $2, $3, $4, 'pending_payment', $5, $6, $7, $8, $9, $9, $10, $11,"
                            " $12, $13)",
                            p, 13, NULL);
    for (int i = 0; i < n && rc == TIX_OK; i++) {
        tix_dbv sp[] = {TIX_DB_TEXT(b->id), TIX_DB_TEXT(seats[i].seat_id),
                        TIX_DB_TEXT(seats[i].label), TIX_DB_TEXT(seats[i].category),
                        TIX_DB_INT(seats[i].price)};
        rc = tix_db_exec(db,
                         "INSERT INTO booking_seats (booking_id, seat_id, label, category, price)"
                         " VALUES ($1, $2, $3, $4, $5)",
                         sp, 5, NULL);
    }
    if (rc == TIX_OK) {
        tix_dbv ep[] = {TIX_DB_TEXT(b->id), TIX_DB_INT(b->created_at)};
        char id[TIX_ID_MAX];
        tix_id_new(id, "bev");
        tix_dbv full[] = {TIX_DB_TEXT(id), ep[0], ep[1]};
        rc = tix_db_exec(db,
                         "INSERT INTO booking_events (id, booking_id, from_status, to_status,"
                         " reason, created_at) VALUES ($1, $2, NULL, 'pending_payment',"
                         " 'created from hold', $3)",
                         full, 3, NULL);
    }
    return rc;
}

static tix_rc one_booking(tix_db *db, tix_arena *a, const char *where, const char *arg,
                          tix_booking *out)
{
    tix_dbv p = TIX_DB_TEXT(arg);
    return TIX_DB_GET(db, a, tix_arena_sprintf(a, BOOKING_SELECT " WHERE %s", where), &p, 1,
                      &booking_map, out);
}

tix_rc tix_booking_get(tix_db *db, tix_arena *a, const char *id, tix_booking *out)
{
    return one_booking(db, a, "b.id = $1", id, out);
}

tix_rc tix_booking_by_order(tix_db *db, tix_arena *a, const char *order_id, tix_booking *out)
{
    return one_booking(db, a, "b.order_id = $1", order_id, out);
}

static const tix_db_col booking_seat_cols[] = {
    TIX_DB_COL(tix_booking_seat, seat_id),     TIX_DB_COL(tix_booking_seat, label),
    TIX_DB_COL(tix_booking_seat, category),    TIX_DB_COL(tix_booking_seat, price),
    TIX_DB_COL(tix_booking_seat, ticket_code), TIX_DB_COL(tix_booking_seat, ticket_id)};
static const tix_db_map booking_seat_map = TIX_DB_MAP(tix_booking_seat, booking_seat_cols, NULL);

tix_rc tix_booking_seats(tix_db *db, tix_arena *a, const char *booking_id, tix_booking_seat **items,
                         int *n)
{
    tix_dbv p = TIX_DB_TEXT(booking_id);
    return TIX_DB_LIST(db, a,
                       "SELECT bs.seat_id, bs.label, bs.category, bs.price, t.code, t.id"
                       " FROM booking_seats bs LEFT JOIN tickets t ON t.booking_id ="
                       " bs.booking_id AND t.seat_id = bs.seat_id AND t.status = 'valid'"
                       " WHERE bs.booking_id = $1 ORDER BY bs.label",
                       &p, 1, &booking_seat_map, items, n);
}

static const tix_db_col ticket_cols[] = {
    TIX_DB_COL(tix_ticket_row, id),         TIX_DB_COL(tix_ticket_row, booking_id),
    TIX_DB_COL(tix_ticket_row, code),       TIX_DB_COL(tix_ticket_row, status),
    TIX_DB_COL(tix_ticket_row, seat_label), TIX_DB_COL(tix_ticket_row, user_id),
    TIX_DB_COL(tix_ticket_row, show_id),    TIX_DB_COL(tix_ticket_row, starts_at),
    TIX_DB_COL(tix_ticket_row, theatre_id), TIX_DB_COL(tix_ticket_row, theatre_owner_id)};
static const tix_db_map ticket_map = TIX_DB_MAP(tix_ticket_row, ticket_cols, NULL);

tix_rc tix_ticket_get(tix_db *db, tix_arena *a, const char *id, tix_ticket_row *out)
{
    tix_dbv p = TIX_DB_TEXT(id);
    return TIX_DB_GET(
        db, a,
        "SELECT t.id, t.booking_id, t.code, t.status, bs.label, b.user_id, b.show_id,"
        " s.starts_at, th.id, th.owner_id FROM tickets t"
        " JOIN bookings b ON b.id = t.booking_id"
        " JOIN booking_seats bs ON bs.booking_id = t.booking_id AND bs.seat_id = t.seat_id"
        " JOIN shows s ON s.id = b.show_id JOIN theatres th ON th.id = s.theatre_id"
        " WHERE t.id = $1",
        &p, 1, &ticket_map, out);
}

static const tix_db_col show_print_cols[] = {TIX_DB_COL(tix_show_print, film),
                                             TIX_DB_COL(tix_show_print, theatre),
                                             TIX_DB_COL(tix_show_print, city),
                                             TIX_DB_COL(tix_show_print, hall),
                                             TIX_DB_COL(tix_show_print, utc_offset_minutes),
                                             TIX_DB_COL(tix_show_print, starts_at)};
static const tix_db_map show_print_map = TIX_DB_MAP(tix_show_print, show_print_cols, NULL);

tix_rc tix_show_print_get(tix_db *db, tix_arena *a, const char *show_id, tix_show_print *out)
{
    tix_dbv p = TIX_DB_TEXT(show_id);
    return TIX_DB_GET(db, a,
                      "SELECT m.title, th.name, th.city, h.name, th.utc_offset_minutes, s.starts_at"
                      " FROM shows s JOIN movies m ON m.id = s.movie_id"
                      " JOIN halls h ON h.id = s.hall_id JOIN theatres th ON th.id = s.theatre_id"
                      " WHERE s.id = $1",
                      &p, 1, &show_print_map, out);
}

tix_rc tix_booking_set_order(tix_db *db, const char *id, const char *order_id)
{
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_TEXT(order_id)};
    return tix_db_exec_one(db, "UPDATE bookings SET order_id = $2 WHERE id = $1", p, 2,
                           TIX_ENOTFOUND);
}

tix_rc tix_booking_lock(tix_db *db, const char *id)
{
    tix_dbv p = TIX_DB_TEXT(id);
    return tix_db_exec_one(db, "UPDATE bookings SET updated_at = updated_at WHERE id = $1", &p, 1,
                           TIX_ENOTFOUND);
}

/* The message a person must get when a booking enters status `to` (API.md "Mail"), NULL for
 * none. A cancellation because the show was cancelled (reason "show cancelled", written by
 * tix_booking_show_cancelled) says so. */
static const char *mail_kind(tix_booking_status to, const char *reason)
{
    switch (to) {
    case TIX_BK_CONFIRMED:
        return TIX_MAIL_BOOKING_CONFIRMED;
    case TIX_BK_CANCELLED_REFUNDED:
        return reason != NULL && strcmp(reason, "show cancelled") == 0 ? TIX_MAIL_SHOW_CANCELLED
                                                                       : TIX_MAIL_BOOKING_CANCELLED;
    case TIX_BK_EXPIRED_REFUNDED:
        return TIX_MAIL_BOOKING_REFUNDED;
    default:
        return NULL;
    }
}

/* The statuses of a paid booking: the ones whose gross the sales report counts (reports.h). */
static bool paid_status(tix_booking_status s)
{
    return s == TIX_BK_CONFIRMED || s == TIX_BK_CANCELLED_REFUNDED || s == TIX_BK_EXPIRED_REFUNDED;
}

tix_rc tix_booking_transition(tix_db *db, const char *id, tix_booking_status from,
                              tix_booking_status to, const char *reason, const char *payment_id,
                              int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(id),
                   TIX_DB_TEXT(tix_booking_status_name(from)),
                   TIX_DB_TEXT(tix_booking_status_name(to)),
                   TIX_DB_TEXT(payment_id),
                   TIX_DB_INT(now),
                   TIX_DB_INT(to == TIX_BK_CONFIRMED),
                   TIX_DB_INT(to == TIX_BK_CANCELLED_REFUNDED)};
    tix_rc rc = tix_db_exec_one(
        db,
        "UPDATE bookings SET status = $3, payment_id = COALESCE($4, payment_id), updated_at = $5,"
        " confirmed_at = CASE WHEN $6 = 1 THEN $5 ELSE confirmed_at END,"
        " cancelled_at = CASE WHEN $7 = 1 THEN $5 ELSE cancelled_at END"
        " WHERE id = $1 AND status = $2",
        p, 7, TIX_ECONFLICT);
    if (rc == TIX_OK) {
        char eid[TIX_ID_MAX];
        tix_id_new(eid, "bev");
        tix_dbv ep[] = {TIX_DB_TEXT(eid), p[0], p[1], p[2], TIX_DB_TEXT(reason), p[4]};
        rc = tix_db_exec(db,
                         "INSERT INTO booking_events (id, booking_id, from_status, to_status,"
                         " reason, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                         ep, 6, NULL);
    }
    bool unsold = to == TIX_BK_EXPIRED || to == TIX_BK_FAILED || to == TIX_BK_CANCELLED_REFUNDED ||
                  to == TIX_BK_EXPIRED_REFUNDED;
    if (rc == TIX_OK && unsold) { /* its promo code use goes back with the change, once */
        rc = tix_promo_release_booking(db, id, now, NULL);
    }
    const char *mail = mail_kind(to, reason);
    if (rc == TIX_OK && mail != NULL) { /* the mail commits or rolls back with the change */
        rc = tix_outbox_booking(db, id, mail, now);
    }
    /* The sales summary moves with the change, in its transaction, as this function's last
     * statement: its upsert locks the show's show_sales row until commit, and every paid change
     * of the show's bookings waits on that lock, so it comes after everything else here. */
    if (rc == TIX_OK) {
        rc = tix_show_sales_booking(db, id, (int)paid_status(to) - (int)paid_status(from),
                                    (to == TIX_BK_CONFIRMED) - (from == TIX_BK_CONFIRMED));
    }
    return rc;
}

tix_rc tix_booking_note(tix_db *db, const char *id, tix_booking_status status, const char *reason,
                        int64_t now)
{
    char eid[TIX_ID_MAX];
    tix_id_new(eid, "bev");
    const char *st = tix_booking_status_name(status);
    tix_dbv p[] = {TIX_DB_TEXT(eid), TIX_DB_TEXT(id), TIX_DB_TEXT(st), TIX_DB_TEXT(reason),
                   TIX_DB_INT(now)};
    return tix_db_exec(db,
                       "INSERT INTO booking_events (id, booking_id, from_status, to_status,"
                       " reason, created_at) VALUES ($1, $2, $3, $3, $4, $5)",
                       p, 5, NULL);
}

tix_rc tix_booking_list(tix_db *db, tix_arena *a, const tix_booking_filter *f, tix_booking **items,
                        int *n)
{
    tix_dbv p[] = {TIX_DB_TEXT(f->user_id), TIX_DB_TEXT(f->show_id), TIX_DB_TEXT(f->theatre_id),
                   TIX_DB_TEXT(f->before), TIX_DB_INT(f->limit + 1)};
    return TIX_DB_LIST(db, a,
                       BOOKING_SELECT " WHERE (CAST($1 AS TEXT) IS NULL OR b.user_id = $1)"
                                      " AND (CAST($2 AS TEXT) IS NULL OR b.show_id = $2)"
                                      " AND (CAST($3 AS TEXT) IS NULL OR s.theatre_id = $3)"
                                      " AND (CAST($4 AS TEXT) IS NULL OR b.id < $4)"
                                      " ORDER BY b.id DESC LIMIT $5",
                       p, 5, &booking_map, items, n);
}

tix_rc tix_booking_confirmed_of_show(tix_db *db, tix_arena *a, const char *show_id,
                                     tix_booking **items, int *n)
{
    tix_dbv p = TIX_DB_TEXT(show_id);
    return TIX_DB_LIST(db, a, BOOKING_SELECT " WHERE b.show_id = $1 AND b.status = 'confirmed'", &p,
                       1, &booking_map, items, n);
}

tix_rc tix_ticket_insert(tix_db *db, const char *booking_id, const char *seat_id, const char *code,
                         int64_t now)
{
    char id[TIX_ID_MAX];
    tix_id_new(id, "tkt");
    tix_dbv p[] = {TIX_DB_TEXT(id), TIX_DB_TEXT(booking_id), TIX_DB_TEXT(seat_id),
                   TIX_DB_TEXT(code), TIX_DB_INT(now)};
    return tix_db_exec(db,
                       "INSERT INTO tickets (id, booking_id, seat_id, code, status, created_at)"
                       " VALUES ($1, $2, $3, $4, 'valid', $5)",
                       p, 5, NULL);
}

tix_rc tix_ticket_void(tix_db *db, const char *booking_id)
{
    tix_dbv p = TIX_DB_TEXT(booking_id);
    return tix_db_exec(db, "UPDATE tickets SET status = 'void' WHERE booking_id = $1", &p, 1, NULL);
}

/* ---- refunds ---- */

tix_rc tix_refund_insert(tix_db *db, const tix_refund *r, int64_t now)
{
    tix_dbv p[] = {TIX_DB_TEXT(r->id),
                   TIX_DB_TEXT(r->booking_id),
                   TIX_DB_TEXT(r->payment_id),
                   TIX_DB_INT(r->amount),
                   TIX_DB_TEXT(r->reason),
                   TIX_DB_TEXT(r->status),
                   TIX_DB_TEXT(r->provider_refund_id),
                   TIX_DB_INT(now)};
    tix_rc rc =
        tix_db_exec(db,
                    "INSERT INTO refunds (id, booking_id, payment_id, amount, reason, status,"
                    " provider_refund_id, idem_key, created_at, updated_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $1, $8, $8)",
                    p, 8, NULL);
    tix_dbv ap[] = {p[0], p[7]};
    return rc ? rc
              : tix_db_exec(db,
                            "INSERT INTO refund_attempts (idem_key, refund_id, n, status,"
                            " created_at, updated_at) VALUES ($1, $1, 1, 'pending', $2, $2)",
                            ap, 2, NULL);
}

tix_rc tix_refund_exists_for_payment(tix_db *db, const char *payment_id, bool *exists)
{
    tix_dbv p = TIX_DB_TEXT(payment_id);
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db, "SELECT 1 FROM refunds WHERE payment_id = $1 LIMIT 1", &p, 1, &res);
    if (rc == TIX_OK) {
        *exists = tix_db_res_rows(res) > 0;
    }
    tix_db_res_destroy(res);
    return rc;
}

static const tix_db_col refund_cols[] = {TIX_DB_COL(tix_refund, id),
                                         TIX_DB_COL(tix_refund, booking_id),
                                         TIX_DB_COL(tix_refund, payment_id),
                                         TIX_DB_COL(tix_refund, amount),
                                         TIX_DB_COL(tix_refund, reason),
                                         TIX_DB_COL(tix_refund, status),
                                         TIX_DB_COL(tix_refund, provider_refund_id)};
static const tix_db_map refund_map = TIX_DB_MAP(tix_refund, refund_cols, NULL);

tix_rc tix_refund_list(tix_db *db, tix_arena *a, const char *booking_id, tix_refund **items, int *n)
{
    tix_dbv p = TIX_DB_TEXT(booking_id);
    return TIX_DB_LIST(db, a,
                       "SELECT id, booking_id, payment_id, amount, reason, status,"
                       " provider_refund_id FROM refunds WHERE booking_id = $1 ORDER BY id",
                       &p, 1, &refund_map, items, n);
}

static const tix_db_col sales_cols[] = {TIX_DB_COL(tix_sales_line, category),
                                        TIX_DB_COL(tix_sales_line, seats),
                                        TIX_DB_COL(tix_sales_line, revenue)};
static const tix_db_map sales_map = TIX_DB_MAP(tix_sales_line, sales_cols, NULL);

tix_rc tix_show_sales(tix_db *db, tix_arena *a, const char *show_id, tix_sales_line **items, int *n)
{
    tix_dbv p = TIX_DB_TEXT(show_id);
    return TIX_DB_LIST(db, a,
                       "SELECT bs.category, COUNT(*), SUM(bs.price) FROM booking_seats bs"
                       " JOIN bookings b ON b.id = bs.booking_id WHERE b.show_id = $1"
                       " AND b.status = 'confirmed' GROUP BY bs.category"
                       " ORDER BY bs.category",
                       &p, 1, &sales_map, items, n);
}

/* ---- idempotency keys ---- */

/* The instant before which an unanswered claim of k is abandoned (0: never). */
static int64_t lease_cut(const tix_idem_key *k)
{
    return k->lease_ms > 0 ? k->now - k->lease_ms : 0;
}

/* Inserts the key with (status, response), or takes over a key older than the TTL or a claim
 * older than the lease; when the key is there and live, *seen says what it holds
 * (TIX_ECONFLICT). */
static tix_rc idem_put(tix_db *db, tix_arena *a, const tix_idem_key *k, int status,
                       const char *response, tix_idem_seen *seen)
{
    tix_dbv p[] = {TIX_DB_TEXT(k->user_id),
                   TIX_DB_TEXT(k->key),
                   TIX_DB_TEXT(k->hash),
                   TIX_DB_INT(k->now),
                   TIX_DB_INT(k->now - IDEM_TTL_MS),
                   TIX_DB_INT(status),
                   TIX_DB_TEXT(response),
                   TIX_DB_INT(lease_cut(k))};
    /* A key older than 24 h is forgotten, an abandoned claim too: the new request takes it. */
    tix_rc rc =
        tix_db_exec_one(db,
                        "INSERT INTO idempotency_keys (user_id, idem_key, request_hash,"
                        " status, response, created_at) VALUES ($1, $2, $3, $6, $7, $4)"
                        " ON CONFLICT (user_id, idem_key) DO UPDATE SET request_hash ="
                        " excluded.request_hash, status = excluded.status, response ="
                        " excluded.response, created_at = excluded.created_at"
                        " WHERE idempotency_keys.created_at < $5 OR (idempotency_keys.status"
                        " = 0 AND idempotency_keys.created_at < $8)",
                        p, 8, TIX_ECONFLICT);
    if (rc != TIX_ECONFLICT) {
        return rc;
    }
    rc = tix_idem_lookup(db, a, k, seen);
    return rc == TIX_OK ? TIX_ECONFLICT : rc == TIX_ENOTFOUND ? TIX_EBUSY : rc;
}

tix_rc tix_idem_begin(tix_db *db, tix_arena *a, const tix_idem_key *k, tix_idem_seen *seen)
{
    return idem_put(db, a, k, 0, NULL, seen);
}

tix_rc tix_idem_store(tix_db *db, tix_arena *a, const tix_idem_key *k, int status,
                      const char *response, tix_idem_seen *seen)
{
    return idem_put(db, a, k, status, response, seen);
}

tix_rc tix_idem_lookup(tix_db *db, tix_arena *a, const tix_idem_key *k, tix_idem_seen *seen)
{
    tix_dbv p[] = {TIX_DB_TEXT(k->user_id), TIX_DB_TEXT(k->key), TIX_DB_INT(k->now - IDEM_TTL_MS),
                   TIX_DB_INT(lease_cut(k))};
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db,
                            "SELECT status, response, request_hash,"
                            " CASE WHEN created_at < $3 OR (status = 0 AND created_at < $4)"
                            " THEN 1 ELSE 0 END"
                            " FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2",
                            p, 4, &res);
    bool expired = false;
    if (rc == TIX_OK && tix_db_res_rows(res) == 1) {
        seen->status = (int)tix_db_res_int(res, 0, 0);
        seen->response = tix_db_res_dup(a, res, 0, 1);
        seen->stored_hash = tix_db_res_dup(a, res, 0, 2);
        expired = tix_db_res_int(res, 0, 3) != 0;
    } else if (rc == TIX_OK) {
        rc = TIX_ENOTFOUND;
    }
    tix_db_res_destroy(res);
    if (rc == TIX_OK && expired) {
        /* Older than the TTL, or a claim older than the lease: forgotten (unless another
         * request took it over meanwhile). */
        rc = tix_db_exec(db,
                         "DELETE FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2"
                         " AND (created_at < $3 OR (status = 0 AND created_at < $4))",
                         p, 4, NULL);
        rc = rc == TIX_OK ? TIX_ENOTFOUND : rc;
    }
    return rc;
}

void tix_idem_claim_stmt(tix_arena *a, const tix_idem_key *k, tix_db_stmt *st)
{
    tix_dbv p[] = {TIX_DB_TEXT(k->user_id), TIX_DB_TEXT(k->key), TIX_DB_TEXT(k->hash),
                   TIX_DB_INT(k->now)};
    tix_dbv *copy = tix_arena_alloc(a, sizeof(p));
    memcpy(copy, p, sizeof(p));
    *st = (tix_db_stmt){.sql = "INSERT INTO idempotency_keys (user_id, idem_key, request_hash,"
                               " status, response, created_at) VALUES ($1, $2, $3, 0, NULL, $4)",
                        .params = copy,
                        .n = 4};
}

void tix_idem_answer_stmt(tix_arena *a, const tix_idem_key *k, int status, const char *response,
                          tix_db_stmt *st)
{
    tix_dbv p[] = {TIX_DB_TEXT(k->user_id), TIX_DB_TEXT(k->key), TIX_DB_INT(status),
                   TIX_DB_TEXT(response)};
    tix_dbv *copy = tix_arena_alloc(a, sizeof(p));
    memcpy(copy, p, sizeof(p));
    *st = (tix_db_stmt){.sql = "UPDATE idempotency_keys SET status = $3, response = $4"
                               " WHERE user_id = $1 AND idem_key = $2",
                        .params = copy,
                        .n = 4};
}

tix_rc tix_idem_finish(tix_db *db, const tix_idem_key *k, int status, const char *response)
{
    tix_dbv p[] = {TIX_DB_TEXT(k->user_id), TIX_DB_TEXT(k->key), TIX_DB_INT(status),
                   TIX_DB_TEXT(response), TIX_DB_INT(k->now)};
    return tix_db_exec(db,
                       "UPDATE idempotency_keys SET status = $3, response = $4"
                       " WHERE user_id = $1 AND idem_key = $2 AND status = 0 AND created_at = $5",
                       p, 5, NULL);
}

tix_rc tix_idem_forget(tix_db *db, const tix_idem_key *k)
{
    tix_dbv p[] = {TIX_DB_TEXT(k->user_id), TIX_DB_TEXT(k->key), TIX_DB_INT(k->now)};
    return tix_db_exec(db,
                       "DELETE FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2"
                       " AND status = 0 AND created_at = $3",
                       p, 3, NULL);
}
