/*
 * Bookings: created from a hold with the provider's order, confirmed by a captured payment,
 * cancelled with a refund. Money leaves only through refund(): a row in refunds first (in the
 * same transaction as the state change), then the provider call with the refund's own id as
 * idempotency key, so a retry can never refund twice.
 */
#include "booking/booking.h"
#include "booking/promo.h"
#include "booking/seat_events.h"
#include "core/currency.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "store/door.h"
#include "store/payments.h"
#include "store/show_changes.h"

#include <stdio.h>
#include <string.h>

/* ---- create ---- */

/* The hold's live seats with the prices its claims were given (a price change since does not
 * touch them; a claim older than migration 0014 has none and costs the current price). */
static tix_rc hold_seats(tix_booking_ctx *c, const tix_hold *h, const char *hall_id,
                         tix_booking_seat **seats, int *n, int64_t *amount)
{
    tix_map_seat *map = NULL;
    int nmap = 0;
    tix_rc rc = tix_seatmap_load(c->db, c->a, h->show_id, hall_id, tix_now_ms(), &map, &nmap);
    if (rc != TIX_OK) {
        return rc;
    }
    tix_booking_seat *list = tix_arena_calloc(c->a, sizeof(*list) * (size_t)(nmap ? nmap : 1));
    int k = 0;
    *amount = 0;
    for (int i = 0; i < nmap; i++) {
        if (map[i].claim == TIX_CLAIM_HELD && map[i].hold_id != NULL &&
            strcmp(map[i].hold_id, h->id) == 0) {
            int64_t price = map[i].claim_price >= 0 ? map[i].claim_price : map[i].price;
            list[k] =
                (tix_booking_seat){map[i].id, map[i].label, map[i].category, price, NULL, NULL};
            *amount += price;
            k++;
        }
    }
    *seats = list;
    *n = k;
    return TIX_OK;
}

static tix_rc check_hold(const tix_hold *h, const char *user_id, int64_t now, const char **why)
{
    if (strcmp(h->user_id, user_id) != 0) {
        return TIX_ENOTFOUND;
    }
    if (h->status == TIX_HOLD_BOOKED) {
        *why = "hold_already_booked";
        return TIX_ECONFLICT;
    }
    if (h->status != TIX_HOLD_ACTIVE || h->expires_at <= now) {
        *why = "hold_expired";
        return TIX_ECONFLICT;
    }
    return TIX_OK;
}

/* Inside the booking's transaction: claims the quoted code's use (store/promo.h). A refusal
 * (the last use went to someone else meanwhile) is TIX_EINVAL with *why its problem. */
static tix_rc claim_promo(tix_booking_ctx *c, const tix_promo_quote_result *q, const char *user_id,
                          int64_t now, const char **why)
{
    tix_promo_refusal refusal = TIX_PROMO_REFUSED_NONE;
    tix_rc rc = tix_promo_claim(c->db, q->promo.id, user_id, q->promo.max_uses_per_user, true, now,
                                &refusal);
    if (rc == TIX_ECONFLICT) {
        *why = tix_promo_problem_code(
            tix_promo_refusal_problem(c->db, c->a, q->promo.id, refusal, now));
        rc = TIX_EINVAL;
    }
    return rc;
}

/* What creating a booking reads before anything is written: the hold (the caller's, active),
 * its show (on sale), the hold's live seats with their amount, and the promo code's quote. */
typedef struct booking_draft {
    tix_hold hold;
    tix_show show;
    tix_booking_seat *seats;
    int n;
    int64_t amount;
    tix_promo_quote_result quote;
} booking_draft;

static tix_rc draft_booking(tix_booking_ctx *c, const char *hold_id, const char *user_id,
                            const char *promo_code, int64_t now, booking_draft *d, const char **why)
{
    memset(d, 0, sizeof(*d));
    tix_rc rc = tix_hold_get(c->db, c->a, hold_id, &d->hold);
    rc = rc ? rc : check_hold(&d->hold, user_id, now, why);
    rc = rc ? rc : tix_show_get(c->db, c->a, d->hold.show_id, &d->show);
    rc = rc ? rc : hold_seats(c, &d->hold, d->show.hall_id, &d->seats, &d->n, &d->amount);
    bool on_sale = !d->show.cancelled && d->show.starts_at > now;
    if (rc == TIX_OK && (d->n != d->hold.seat_count || !on_sale)) {
        *why = !on_sale ? "show_not_bookable" : "hold_expired";
        rc = TIX_ECONFLICT;
    }
    if (rc == TIX_OK && promo_code != NULL) {
        tix_promo_ask ask = {promo_code, user_id, &d->show, d->amount, c->pay->min_order_amount,
                             now};
        rc = tix_promo_quote(c->db, c->a, &ask, &d->quote);
        if (rc == TIX_EINVAL) {
            *why = tix_promo_problem_code(d->quote.problem);
        }
    }
    return rc;
}

/* In one transaction: the hold becomes booked, the booking is written, the code's use claimed
 * and the order recorded. */
static tix_rc write_booking(tix_booking_ctx *c, const booking_draft *d, const tix_booking *b,
                            int64_t now, const char **why)
{
    const char *promo_why = NULL;
    tix_rc rc = tix_db_begin(c->db);
    rc = rc ? rc : tix_hold_set_status(c->db, d->hold.id, TIX_HOLD_ACTIVE, TIX_HOLD_BOOKED, now);
    rc = rc ? rc : tix_booking_insert(c->db, b, d->seats, d->n);
    if (rc == TIX_OK && b->promo_code_id != NULL) {
        rc = claim_promo(c, &d->quote, b->user_id, now, &promo_why);
    }
    rc = rc ? rc : tix_booking_set_order(c->db, b->id, b->order_id);
    rc = rc ? rc : tix_db_commit(c->db);
    if (rc != TIX_OK) {
        tix_db_rollback(c->db);
        *why = promo_why != NULL ? promo_why : "hold_already_booked";
    }
    return rc;
}

/*
 * Razorpay charges KWD, BHD and OMR only in steps of 10 fils (core/currency.h); a show's prices
 * there are multiples of 10 (api/shows_api.c), but a percent discount need not be. So the
 * discount is moved to the nearest amount whose charge is a whole step: up (the buyer pays less)
 * unless that would go below the provider's minimum, then down. Other currencies and providers:
 * unchanged.
 */
static int64_t discount_in_steps(const tix_booking_ctx *c, const booking_draft *d, int64_t discount)
{
    const tix_currency *cur = tix_currency_find(d->show.currency);
    if (discount == 0 || cur == NULL || cur->razorpay_step <= 1 ||
        strcmp(c->pay->name, "razorpay") != 0) {
        return discount;
    }
    int64_t rem = (d->amount - discount) % cur->razorpay_step;
    if (rem == 0) {
        return discount;
    }
    int64_t floor = c->pay->min_order_amount > 0 ? c->pay->min_order_amount : 0;
    if (d->amount - (discount + rem) >= floor) {
        return discount + rem;
    }
    int64_t down = discount - (cur->razorpay_step - rem);
    return down > 0 ? down : 0;
}

tix_rc tix_booking_create(tix_booking_ctx *c, const char *hold_id, const char *user_id,
                          const char *promo_code, tix_booking *out, const char **why)
{
    booking_draft d;
    int64_t now = tix_now_ms();
    tix_rc rc = draft_booking(c, hold_id, user_id, promo_code, now, &d, why);
    if (rc != TIX_OK) {
        return rc;
    }
    int64_t discount = discount_in_steps(c, &d, d.quote.discount);
    char *id = tix_arena_alloc(c->a, TIX_ID_MAX);
    tix_id_new(id, "bkg");
    char order[TIX_PAY_ID_MAX];
    /* The order is created before anything is written, for the discounted amount: if the
     * provider is down, nothing changes and the hold stays as it was. */
    rc = c->pay->create_order(c->pay, d.amount - discount, d.show.currency, id, d.hold.show_id,
                              user_id, order);
    if (rc != TIX_OK) {
        return rc == TIX_EUNAVAIL ? TIX_EUNAVAIL : TIX_EUPSTREAM;
    }
    bool promo = promo_code != NULL;
    *out = (tix_booking){.id = id,
                         .user_id = (char *)user_id,
                         .show_id = d.hold.show_id,
                         .hold_id = d.hold.id,
                         .status = TIX_BK_PENDING_PAYMENT,
                         .amount = d.amount - discount,
                         .currency = d.show.currency,
                         .provider = (char *)c->pay->name,
                         .order_id = tix_arena_strdup(c->a, order),
                         .expires_at = d.hold.expires_at,
                         .created_at = now,
                         .show_starts_at = d.show.starts_at,
                         .amount_before_discount = d.amount,
                         .discount = discount,
                         .promo_code_id = promo ? d.quote.promo.id : NULL,
                         .promo_code = promo ? d.quote.promo.code : NULL,
                         .promo_held = promo};
    rc = write_booking(c, &d, out, now, why);
    if (rc == TIX_OK) {
        tix_metrics_add(TIX_M_BOOKINGS, tix_booking_status_name(out->status), 1);
        tix_bookings_changed(user_id);
    }
    return rc;
}

/* ---- money back ---- */

typedef struct pending_refund {
    char id[TIX_ID_MAX];
    char user_id[TIX_ID_MAX]; /* whose money: the refund_processed event goes to them */
    char booking_id[TIX_ID_MAX];
    char show_id[TIX_ID_MAX];
    char payment_id[TIX_PAY_ID_MAX];
    int64_t amount;
} pending_refund;

/* Records a pending refund of amount inside the caller's transaction. */
static tix_rc refund_record(tix_booking_ctx *c, const tix_booking *b, const char *payment_id,
                            int64_t amount, const char *reason, pending_refund *pr)
{
    tix_id_new(pr->id, "ref");
    snprintf(pr->user_id, sizeof(pr->user_id), "%s", b->user_id ? b->user_id : "");
    snprintf(pr->booking_id, sizeof(pr->booking_id), "%s", b->id);
    snprintf(pr->show_id, sizeof(pr->show_id), "%s", b->show_id);
    snprintf(pr->payment_id, sizeof(pr->payment_id), "%s", payment_id ? payment_id : "");
    pr->amount = amount;
    tix_refund r = {.id = pr->id,
                    .booking_id = b->id,
                    .payment_id = pr->payment_id,
                    .amount = amount,
                    .reason = (char *)reason,
                    .status = "pending"};
    return tix_refund_insert(c->db, &r, tix_now_ms());
}

/* After commit: asks the provider under the refund's first key (its id); a failure leaves the
 * refund failed for the retry job. */
static void refund_send(tix_booking_ctx *c, const pending_refund *pr)
{
    tix_rc prc = TIX_OK;
    if (tix_refund_send(c, pr->id, pr->id, pr->payment_id, pr->amount, &prc) == TIX_OK &&
        prc != TIX_OK) {
        tix_log_warn("refund %s failed at the provider (%s); it will be retried", pr->id,
                     tix_rc_name(prc));
    } else if (prc == TIX_OK && pr->user_id[0]) {
        tix_booking_event_notify(pr->user_id, "refund_processed", pr->booking_id, pr->show_id,
                                 "refunded", pr->id);
    }
}

/* ---- confirm ---- */

/* 32 hex characters of fresh randomness: the ticket code a QR carries. */
static void ticket_code(char out[33])
{
    unsigned char raw[16];
    tix_random_bytes(raw, sizeof(raw));
    tix_hex_encode(out, raw, sizeof(raw));
}

static tix_rc issue_tickets(tix_booking_ctx *c, const tix_booking *b, const tix_booking_seat *seats,
                            int n, int64_t now)
{
    tix_rc rc = TIX_OK;
    for (int i = 0; i < n && rc == TIX_OK; i++) {
        char code[33];
        ticket_code(code);
        rc = tix_ticket_insert(c->db, b->id, seats[i].seat_id, code, now);
    }
    return rc;
}

/* What a capture did to seats, announced after the commit. */
typedef struct seat_news {
    tix_seat_ids seats;
    const char *status;
    const char *booking; /* the status the booking moved into, for core/metrics.h; or NULL */
} seat_news;

/* The booking's seats as a list of ids (in the arena). */
static tix_seat_ids seat_id_list(tix_booking_ctx *c, const tix_booking_seat *seats, int n)
{
    const char **ids = tix_arena_calloc(c->a, sizeof(char *) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        ids[i] = seats[i].seat_id;
    }
    return (tix_seat_ids){ids, n};
}

/* Inside the transaction: decides and records the outcome of a capture. */
static tix_rc settle_payment(tix_booking_ctx *c, tix_booking *b, const char *payment_id,
                             const char *source, pending_refund *pr, bool *refund, seat_news *news)
{
    int64_t now = tix_now_ms();
    tix_show show;
    int sold = 0;
    tix_booking_seat *seats = NULL;
    int nseats = 0;
    tix_rc rc = tix_show_get(c->db, c->a, b->show_id, &show);
    rc = rc ? rc : tix_booking_seats(c->db, c->a, b->id, &seats, &nseats);
    /* An expired or failed booking gave its promo code use back: it sells only if it gets the
     * use again, within the code's limits; else the payment is refunded like one whose seats
     * went to someone else (the discounted price was the code's). */
    bool promo_ok = true;
    if (rc == TIX_OK && b->promo_code_id != NULL && !b->promo_held) {
        rc = tix_promo_reclaim(c->db, b->id, now);
        promo_ok = rc == TIX_OK;
        if (rc == TIX_ECONFLICT) {
            rc = tix_booking_note(c->db, b->id, b->status,
                                  "paid after its promo code use was given back and the code is"
                                  " used up",
                                  now);
        }
    }
    if (rc == TIX_OK && !show.cancelled && promo_ok) {
        rc = tix_claims_sell(c->db, b->show_id, b->hold_id, b->id, &sold);
    }
    tix_booking_event ev = sold == nseats && !show.cancelled ? TIX_EV_PAID : TIX_EV_PAID_SEATS_GONE;
    *news = (seat_news){seat_id_list(c, seats, nseats), "booked", NULL};
    if (rc == TIX_OK && ev == TIX_EV_PAID_SEATS_GONE) { /* undo a partial sale */
        news->status = "available";
        rc = tix_claims_release_booking_ids(c->db, c->a, b->show_id, b->id, &news->seats.ids,
                                            &news->seats.n);
    }
    tix_booking_status to;
    if (rc == TIX_OK && !tix_booking_next(b->status, ev, &to)) {
        return TIX_ECONFLICT;
    }
    /* The tickets before the transition: its last statement, the sales summary's upsert, locks
     * the show's one show_sales row until COMMIT, and every other confirmation of the show waits
     * on that lock, so nothing that can run before it holds it (bench/opening.sh PROFILE=1, with
     * the tickets after it: 43 ms per upsert, a confirmation's own work being a few ms). */
    if (rc == TIX_OK && to == TIX_BK_CONFIRMED) {
        rc = issue_tickets(c, b, seats, nseats, now);
    }
    char *reason = tix_arena_sprintf(c->a, "%s via %s", tix_booking_event_name(ev), source);
    rc = rc ? rc : tix_booking_transition(c->db, b->id, b->status, to, reason, payment_id, now);
    news->booking = rc == TIX_OK ? tix_booking_status_name(to) : NULL;
    if (rc == TIX_OK && to != TIX_BK_CONFIRMED) {
        rc =
            refund_record(c, b, payment_id, b->amount, "payment after the seats were released", pr);
        *refund = rc == TIX_OK;
    }
    return rc;
}

/* After the commit of a capture: the status the booking moved into and, when it sold, its
 * amount (core/metrics.h). */
static void count_settled(const tix_booking *b, const seat_news *news)
{
    if (news->booking == NULL) {
        return;
    }
    tix_metrics_add(TIX_M_BOOKINGS, news->booking, 1);
    if (strcmp(news->booking, "confirmed") == 0) {
        tix_metrics_add(TIX_M_REVENUE, b->currency, (uint64_t)(b->amount > 0 ? b->amount : 0));
    }
}

tix_rc tix_booking_paid(tix_booking_ctx *c, const char *booking_id, const char *payment_id,
                        const char *source)
{
    tix_booking b;
    memset(&b, 0, sizeof(b));
    pending_refund pr;
    bool refund = false;
    seat_news news = {{NULL, 0}, "booked", NULL};
    tix_rc rc = tix_db_begin(c->db);
    rc = rc ? rc : tix_booking_lock(c->db, booking_id);
    rc = rc ? rc : tix_booking_get(c->db, c->a, booking_id, &b);
    bool closed = b.status == TIX_BK_CONFIRMED || b.status == TIX_BK_CANCELLED_REFUNDED ||
                  b.status == TIX_BK_EXPIRED_REFUNDED;
    if (rc == TIX_OK && closed) {
        /* Already settled (checkout and webhook racing, or a replay). A second, different
         * payment for the same order would be a double charge: give it back, once. */
        bool other = b.payment_id != NULL && strcmp(b.payment_id, payment_id) != 0;
        bool done = false;
        rc = other ? tix_refund_exists_for_payment(c->db, payment_id, &done) : TIX_OK;
        if (rc == TIX_OK && other && !done) {
            rc = refund_record(c, &b, payment_id, b.amount, "second payment for a settled booking",
                               &pr);
            refund = rc == TIX_OK;
        }
    } else if (rc == TIX_OK) {
        rc = settle_payment(c, &b, payment_id, source, &pr, &refund, &news);
    }
    rc = rc ? rc : tix_db_commit(c->db);
    if (rc != TIX_OK) {
        tix_db_rollback(c->db);
        return rc;
    }
    tix_seats_changed(b.show_id, news.seats.ids, news.seats.n, news.status, 0);
    tix_bookings_changed(b.user_id);
    count_settled(&b, &news);
    if (!closed && strcmp(news.status, "booked") == 0) { /* settled now: confirmed */
        tix_booking_event_notify(b.user_id, "booking_confirmed", b.id, b.show_id, "confirmed",
                                 NULL);
    }
    if (refund) {
        refund_send(c, &pr);
    }
    return TIX_OK;
}

tix_rc tix_booking_wrong_amount(tix_booking_ctx *c, const char *booking_id, const char *payment_id,
                                int64_t amount, const char *source, bool *refunded)
{
    tix_booking b;
    memset(&b, 0, sizeof(b));
    pending_refund pr;
    bool done = false;
    *refunded = false;
    tix_rc rc = tix_db_begin(c->db);
    rc = rc ? rc : tix_booking_lock(c->db, booking_id);
    rc = rc ? rc : tix_booking_get(c->db, c->a, booking_id, &b);
    if (rc == TIX_OK && b.payment_id != NULL && strcmp(b.payment_id, payment_id) == 0) {
        tix_log_error("booking %s was paid by %s, now reported with amount %lld instead of %lld:"
                      " not refunded, check it by hand",
                      b.id, payment_id, (long long)amount, (long long)b.amount);
        rc = TIX_ECONFLICT;
    }
    rc = rc ? rc : tix_refund_exists_for_payment(c->db, payment_id, &done);
    if (rc == TIX_OK && !done) {
        char *why = tix_arena_sprintf(c->a, "payment %s of %lld (not %lld) via %s: refunded",
                                      payment_id, (long long)amount, (long long)b.amount, source);
        rc = refund_record(c, &b, payment_id, amount, "payment of the wrong amount", &pr);
        rc = rc ? rc : tix_booking_note(c->db, b.id, b.status, why, tix_now_ms());
        *refunded = rc == TIX_OK;
    }
    rc = rc ? rc : tix_db_commit(c->db);
    if (rc != TIX_OK) {
        tix_db_rollback(c->db);
        *refunded = false;
        return rc;
    }
    tix_log_error("razorpay payment %s of %lld for booking %s (amount %lld) via %s: %s", payment_id,
                  (long long)amount, b.id, (long long)b.amount, source,
                  *refunded ? "refunded" : "refunded before");
    if (*refunded) {
        tix_bookings_changed(b.user_id);
        refund_send(c, &pr);
    }
    return TIX_OK;
}

/* ---- cancel ---- */

/* After the commit of cancel_one: counts the status the booking moved into. */
static void count_cancel(const tix_booking *b, tix_booking_event ev)
{
    tix_booking_status to;
    if (tix_booking_next(b->status, ev, &to)) {
        tix_metrics_add(TIX_M_BOOKINGS, tix_booking_status_name(to), 1);
    }
}

/* Inside the transaction: ends a confirmed booking with ev and records its refund. */
static tix_rc cancel_one(tix_booking_ctx *c, const tix_booking *b, tix_booking_event ev,
                         const char *reason, pending_refund *pr, tix_seat_ids *freed)
{
    tix_booking_status to;
    if (!tix_booking_next(b->status, ev, &to)) {
        return TIX_ECONFLICT;
    }
    int64_t now = tix_now_ms();
    tix_rc rc = tix_booking_transition(c->db, b->id, b->status, to, reason, NULL, now);
    rc =
        rc ? rc
           : tix_claims_release_booking_ids(c->db, c->a, b->show_id, b->id, &freed->ids, &freed->n);
    rc = rc ? rc : tix_ticket_void(c->db, b->id);
    rc = rc ? rc : refund_record(c, b, b->payment_id, b->amount, reason, pr);
    return rc;
}

/* The free-cancel rule after a move (migration 0014): a booking whose show now starts more than
 * RESCHEDULE_FREE_CANCEL_MINUTES away from the start it was bought for may be cancelled with a
 * full refund until the new start. OUT: *free. */
static tix_rc moved_since_bought(tix_booking_ctx *c, const tix_booking *b, int64_t now, bool *free)
{
    int64_t bought = 0;
    bool moved = false;
    *free = false;
    if (b->show_starts_at <= now) {
        return TIX_OK;
    }
    tix_rc rc = tix_show_start_bought(c->db, b->show_id, b->created_at, &bought, &moved);
    int64_t diff =
        b->show_starts_at > bought ? b->show_starts_at - bought : bought - b->show_starts_at;
    *free = rc == TIX_OK && moved && diff > c->cfg->reschedule_free_cancel_s * 1000;
    return rc;
}

tix_rc tix_booking_cancel(tix_booking_ctx *c, const char *booking_id, const char **why)
{
    tix_booking b;
    pending_refund pr;
    int64_t now = tix_now_ms();
    tix_rc rc = tix_db_begin(c->db);
    rc = rc ? rc : tix_booking_lock(c->db, booking_id);
    rc = rc ? rc : tix_booking_get(c->db, c->a, booking_id, &b);
    if (rc == TIX_OK && b.status != TIX_BK_CONFIRMED) {
        *why = "booking_not_confirmed";
        rc = TIX_ECONFLICT;
    } else if (rc == TIX_OK && b.show_starts_at - now < c->cfg->cancel_full_refund_s * 1000) {
        bool free = false;
        rc = moved_since_bought(c, &b, now, &free);
        if (rc == TIX_OK && !free) {
            *why = "cancel_window_closed";
            rc = TIX_ECONFLICT;
        }
    }
    /* A ticket used at the door is not refunded. Read under the booking's lock, which a
     * check-in takes too (booking/door.c): a scan that committed first is seen here, one that
     * comes later waits for this transaction and then finds the tickets void. */
    const char *used_ticket = NULL;
    int64_t used_at = 0;
    tix_rc used = rc ? rc : tix_checkin_first_of_booking(c->db, c->a, b.id, &used_ticket, &used_at);
    if (rc == TIX_OK && used == TIX_OK) {
        *why = "already_checked_in";
        rc = TIX_ECONFLICT;
    } else if (rc == TIX_OK && used != TIX_ENOTFOUND) {
        rc = used;
    }
    tix_seat_ids freed = {NULL, 0};
    rc = rc ? rc : cancel_one(c, &b, TIX_EV_USER_CANCEL, "cancelled by the customer", &pr, &freed);
    rc = rc ? rc : tix_db_commit(c->db);
    if (rc != TIX_OK) {
        tix_db_rollback(c->db);
        return rc;
    }
    count_cancel(&b, TIX_EV_USER_CANCEL);
    tix_seats_changed(b.show_id, freed.ids, freed.n, "available", 0);
    tix_bookings_changed(b.user_id);
    tix_booking_event_notify(b.user_id, "booking_cancelled", b.id, b.show_id, "cancelled", NULL);
    refund_send(c, &pr);
    return TIX_OK;
}

tix_rc tix_booking_show_cancelled(tix_booking_ctx *c, const char *show_id)
{
    tix_booking *list = NULL;
    int n = 0;
    tix_rc rc = tix_booking_confirmed_of_show(c->db, c->a, show_id, &list, &n);
    for (int i = 0; i < n && rc == TIX_OK; i++) {
        pending_refund pr;
        tix_seat_ids freed = {NULL, 0};
        rc = tix_db_begin(c->db);
        rc = rc ? rc : tix_booking_lock(c->db, list[i].id);
        rc =
            rc ? rc : cancel_one(c, &list[i], TIX_EV_SHOW_CANCELLED, "show cancelled", &pr, &freed);
        rc = rc ? rc : tix_db_commit(c->db);
        if (rc != TIX_OK) {
            tix_db_rollback(c->db);
            return rc;
        }
        count_cancel(&list[i], TIX_EV_SHOW_CANCELLED);
        tix_seats_changed(show_id, freed.ids, freed.n, "available", 0);
        tix_bookings_changed(list[i].user_id);
        tix_booking_event_notify(list[i].user_id, "show_cancelled", list[i].id, show_id,
                                 "cancelled", NULL);
        refund_send(c, &pr);
    }
    return rc;
}
