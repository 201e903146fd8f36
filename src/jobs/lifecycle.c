/*
 * The lifecycle jobs (see jobs.h). Each reads what is due with one query, then changes it
 * through the same paths the requests use (the booking state machine, the claims, the refund
 * and reconcile functions of booking/payments.h), one transaction per item, so a run that stops
 * half way leaves nothing half done and the next run picks up the rest.
 *
 * There is no job for movies: "upcoming" and "released" are not stored, every read derives them
 * from release_date and today's date, so they are never stale and there is nothing to keep.
 */
#include "booking/booking.h"
#include "booking/payments.h"
#include "booking/reco.h"
#include "booking/seat_events.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "jobs/jobs.h"
#include "store/jobs_store.h"
#include "store/outbox.h"

#include <assert.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPIRE_BATCH 500 /* bookings, and holds, looked at per run */
/* hold_expiring goes out this long (at least) before a hold's expiry; see hold_notices. */
#define HOLD_EXPIRING_LEAD_MS (60LL * 1000)
/* An active hold is retired this long after its expiry, not at once: a user placing a new
 * hold or releasing the old one right at expiry then never races the job for that row. The
 * hold's seats count as free from the expiry on anyway (store/booking.h). */
#define HOLD_GRACE_MS (60LL * 1000)

#define REFUND_BATCH        100
#define REFUND_RETRY_MS     (5LL * 60 * 1000)   /* a failed refund waits this, doubling... */
#define REFUND_RETRY_MAX_MS (6LL * 3600 * 1000) /* ...up to this, between provider calls */
#define REFUND_STUCK_MS     (10LL * 60 * 1000)  /* pending without a provider id this long */
#define REFUND_MAX_ATTEMPTS 20 /* then it stays failed, for an admin (POST .../retry) */

#define IDEM_KEEP_MS     (24LL * 3600 * 1000) /* as long as a key is honoured */
#define TOKENS_KEEP_MS   (7LL * 86400 * 1000)
#define JOB_RUNS_KEEP_MS (30LL * 86400 * 1000)

/* ---- counts ---- */

void tix_job_count_add(tix_job_counts *c, const char *name, int64_t v)
{
    for (int i = 0; i < c->n; i++) {
        if (strcmp(c->name[i], name) == 0) {
            c->value[i] += v;
            return;
        }
    }
    assert(c->n < TIX_JOB_COUNTS_MAX);
    if (c->n < TIX_JOB_COUNTS_MAX) {
        c->name[c->n] = name;
        c->value[c->n] = v;
        c->n++;
    }
}

int64_t tix_job_count_get(const tix_job_counts *c, const char *name)
{
    for (int i = 0; i < c->n; i++) {
        if (strcmp(c->name[i], name) == 0) {
            return c->value[i];
        }
    }
    return 0;
}

void tix_job_counts_json(const tix_job_counts *c, char *out, size_t cap)
{
    assert(cap > 0);
    int w = snprintf(out, cap, "{");
    size_t len = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < c->n && len < cap; i++) {
        w = snprintf(out + len, cap - len, "%s\"%s\":%" PRId64, i ? "," : "", c->name[i],
                     c->value[i]);
        len += w > 0 ? (size_t)w : 0;
    }
    if (len < cap) {
        snprintf(out + len, cap - len, "}");
    }
}

static bool stopping(const tix_job_ctx *c)
{
    return c->stop != NULL && atomic_load(c->stop);
}

/* ---- shows ---- */

tix_rc tix_job_shows(tix_job_ctx *c, tix_job_counts *out)
{
    int64_t running = 0;
    int64_t completed = 0;
    tix_rc rc = tix_jobs_shows_advance(c->db, c->now, &running, &completed);
    tix_job_count_add(out, "running", running);
    tix_job_count_add(out, "completed", completed);
    if (running + completed > 0) {
        tix_catalog_changed(); /* cached listings and shows carry the stored status */
    }
    return rc;
}

/* ---- expire ---- */

/* One unpaid booking past its payment window → expired, through the state machine, under the
 * booking's row lock (a payment arriving at the same moment is applied before or after, and
 * the state machine lets a late capture still confirm an expired booking). Its hold's claims
 * stay: they already count as free for everyone else, and they are what lets a late payment
 * still get these seats when nobody took them meanwhile (API.md: late payment).
 * OUT: *done whether this run expired it. */
static tix_rc expire_booking(tix_job_ctx *c, const char *id, bool *done)
{
    tix_booking b;
    tix_booking_status to = TIX_BK_EXPIRED;
    bool due = false;
    tix_rc rc = tix_db_begin(c->db);
    rc = rc ? rc : tix_booking_lock(c->db, id);
    rc = rc ? rc : tix_booking_get(c->db, c->a, id, &b);
    if (rc == TIX_OK) {
        due = b.status == TIX_BK_PENDING_PAYMENT && b.expires_at <= c->now &&
              tix_booking_next(b.status, TIX_EV_HOLD_EXPIRED, &to);
    }
    if (due) {
        rc = tix_booking_transition(c->db, id, b.status, to, "hold expired (job)", NULL, c->now);
    }
    rc = rc ? rc : tix_db_commit(c->db);
    if (rc != TIX_OK) {
        tix_db_rollback(c->db);
    }
    *done = rc == TIX_OK && due;
    if (*done) {
        tix_metrics_add(TIX_M_BOOKINGS, tix_booking_status_name(to), 1);
        tix_bookings_changed(b.user_id); /* their cached GET /bookings (seat_events.h) */
        /* the buyer's sockets (http/ws.h): the hold behind the unpaid booking ran out */
        tix_booking_event_notify(b.user_id, "hold_expired", b.id, b.show_id, "expired", NULL);
    }
    return rc;
}

/* One active hold, never booked, expired more than the grace ago → released, with its claims
 * (only those still its own: a seat another hold took over carries that hold's id). */
static tix_rc retire_hold(tix_job_ctx *c, const tix_jobs_hold *h, bool *done)
{
    tix_seat_ids freed = {NULL, 0};
    tix_rc rc = tix_db_begin(c->db);
    rc = rc ? rc : tix_jobs_hold_retire(c->db, h->id, c->now - HOLD_GRACE_MS, c->now);
    rc =
        rc ? rc : tix_claims_release_hold_ids(c->db, c->a, h->show_id, h->id, &freed.ids, &freed.n);
    rc = rc ? rc : tix_db_commit(c->db);
    if (rc != TIX_OK) {
        tix_db_rollback(c->db);
    }
    *done = rc == TIX_OK;
    if (*done) { /* live streams hear of the seats (free since the expiry: seat_events.h) */
        tix_seats_changed(h->show_id, freed.ids, freed.n, "available", 0);
    }
    return rc == TIX_ECONFLICT ? TIX_OK : rc; /* booked or released meanwhile: nothing to do */
}

/* One notice on the user's channel (seat_events.h): {"hold_id","show_id","expires_at"}. */
static void hold_notice(const char *name, const tix_jobs_hold_notice *h)
{
    char t[TIX_RFC3339_MAX];
    tix_rfc3339(t, h->expires_at);
    json_t *j =
        json_pack("{s:s,s:s,s:s}", "hold_id", h->id, "show_id", h->show_id, "expires_at", t);
    char *data = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    tix_user_event(h->user_id, name, data);
    free(data);
}

/*
 * The user channel's hold notices (API.md "Real time for people"), before the holds are retired:
 *   hold_expiring  once per hold, in its last minute: an active hold, or the hold behind a
 *                  booking still pending_payment (the booking pays by the hold's expiry). The
 *                  run that first finds expires_at within HOLD_EXPIRING_LEAD_MS plus one
 *                  JOB_INTERVAL_EXPIRE of now sends it, so with the job on time it arrives
 *                  between 60 s and 60 s + the interval before the expiry, never later. A hold
 *                  placed with less than that left (HOLD_TTL under a minute) gets it from the
 *                  first run after it was placed; one that lapsed before any run saw it gets
 *                  only hold_expired.
 *   hold_expired   once per hold that ran out unbooked (still active at its expiry), at the
 *                  first run after the expiry; an unpaid booking's lapse is expire_booking's.
 * Exactly once with any number of servers: the rows are claimed by the UPDATE that selects
 * them (jobs_store.h, migration 0025), and only the run that claimed a hold publishes. At most
 * once: a server that dies between the claim and the publish loses those notices (the seats'
 * own events on the show channel and the hold's expires_at still tell the client).
 */
static tix_rc hold_notices(tix_job_ctx *c, tix_job_counts *out)
{
    tix_jobs_hold_notice *items = NULL;
    int n = 0;
    tix_rc rc = tix_jobs_holds_expiring_claim(
        c->db, c->a, c->now, c->now + HOLD_EXPIRING_LEAD_MS + c->cfg->job_expire_ms, EXPIRE_BATCH,
        &items, &n);
    for (int i = 0; i < n; i++) {
        hold_notice("hold_expiring", &items[i]);
    }
    tix_job_count_add(out, "holds_expiring", rc == TIX_OK ? n : 0);
    if (rc == TIX_OK) {
        rc = tix_jobs_holds_expired_claim(c->db, c->a, c->now, EXPIRE_BATCH, &items, &n);
        for (int i = 0; rc == TIX_OK && i < n; i++) {
            hold_notice("hold_expired", &items[i]);
        }
        tix_job_count_add(out, "holds_expired", rc == TIX_OK ? n : 0);
    }
    return rc;
}

/* Counts one item's outcome; TIX_OK to go on with the next item, else the code to stop on
 * (the database is gone: the other items would fail the same way). */
static tix_rc tally(tix_job_counts *out, const char *done_name, bool done, tix_rc rc)
{
    tix_job_count_add(out, done_name, done);
    if (rc != TIX_OK) {
        tix_job_count_add(out, "errors", 1);
    }
    return rc == TIX_EUNAVAIL ? rc : TIX_OK;
}

tix_rc tix_job_expire(tix_job_ctx *c, tix_job_counts *out)
{
    char **ids = NULL;
    tix_jobs_hold *holds = NULL;
    int n = 0;
    int nholds = 0;
    tix_job_count_add(out, "bookings_expired", 0);
    tix_job_count_add(out, "holds_released", 0);
    tix_job_count_add(out, "errors", 0);
    tix_rc rc = hold_notices(c, out);
    if (rc != TIX_OK) {
        tix_log_warn("expire job: hold notices: %s", tix_rc_name(rc));
        tix_job_count_add(out, "errors", 1);
        if (rc != TIX_EUNAVAIL) {
            rc = TIX_OK; /* the expiries below matter more than the notices */
        }
    }
    rc = rc ? rc : tix_jobs_bookings_due(c->db, c->a, c->now, EXPIRE_BATCH, &ids, &n);
    for (int i = 0; i < n && rc == TIX_OK && !stopping(c); i++) {
        bool done = false;
        tix_rc one = expire_booking(c, ids[i], &done);
        if (one != TIX_OK) {
            tix_log_warn("expire job: booking %s: %s", ids[i], tix_rc_name(one));
        }
        rc = tally(out, "bookings_expired", done, one);
    }
    rc =
        rc ? rc
           : tix_jobs_holds_due(c->db, c->a, c->now - HOLD_GRACE_MS, EXPIRE_BATCH, &holds, &nholds);
    for (int i = 0; i < nholds && rc == TIX_OK && !stopping(c); i++) {
        bool done = false;
        tix_rc one = retire_hold(c, &holds[i], &done);
        if (one != TIX_OK) {
            tix_log_warn("expire job: hold %s: %s", holds[i].id, tix_rc_name(one));
        }
        rc = tally(out, "holds_released", done, one);
    }
    return rc;
}

/* ---- refunds ---- */

/* Whether a refund tried `attempts` times, last at updated_at, is due again at now: the wait
 * doubles with every attempt, from REFUND_RETRY_MS up to REFUND_RETRY_MAX_MS. */
static bool refund_due(const tix_jobs_refund *r, int64_t now)
{
    int64_t wait = REFUND_RETRY_MS;
    for (int i = 1; i < r->attempts && wait < REFUND_RETRY_MAX_MS; i++) {
        wait *= 2;
    }
    return r->updated_at <= now - (wait < REFUND_RETRY_MAX_MS ? wait : REFUND_RETRY_MAX_MS);
}

/* Sends one refund again through tix_payments_refund_retry and counts the outcome. Returns
 * TIX_OK to go on, or the code to stop on (the provider or the database is unreachable). */
static tix_rc retry_refund(tix_job_ctx *c, const tix_jobs_refund *r, tix_job_counts *out)
{
    tix_booking_ctx bc = {c->db, c->a, c->cfg, c->pay, NULL};
    tix_refund_row row;
    memset(&row, 0, sizeof(row));
    tix_job_count_add(out, "retried", 1);
    tix_rc rc = tix_payments_refund_retry(&bc, r->id, &row);
    if (rc == TIX_OK) {
        bool processed = row.r.status != NULL && strcmp(row.r.status, "processed") == 0;
        tix_job_count_add(out, processed ? "processed" : "pending", 1);
        return TIX_OK;
    }
    if (rc == TIX_ECONFLICT || rc == TIX_ENOTFOUND) {
        return TIX_OK; /* processed meanwhile (a webhook, an admin): nothing to send */
    }
    tix_job_count_add(out, "failed", 1);
    tix_log_warn("refunds job: refund %s: %s", r->id, tix_rc_name(rc));
    return rc == TIX_EUNAVAIL ? rc : TIX_OK;
}

tix_rc tix_job_refunds(tix_job_ctx *c, tix_job_counts *out)
{
    tix_jobs_refund *list = NULL;
    int n = 0;
    tix_job_count_add(out, "retried", 0);
    tix_job_count_add(out, "processed", 0);
    tix_job_count_add(out, "pending", 0);
    tix_job_count_add(out, "failed", 0);
    tix_rc rc =
        tix_jobs_refunds_due(c->db, c->a, c->now - REFUND_RETRY_MS, c->now - REFUND_STUCK_MS,
                             REFUND_MAX_ATTEMPTS, REFUND_BATCH, &list, &n);
    for (int i = 0; i < n && rc == TIX_OK && !stopping(c); i++) {
        if (refund_due(&list[i], c->now)) {
            rc = retry_refund(c, &list[i], out);
        }
    }
    return rc;
}

/* ---- reconcile ---- */

tix_rc tix_job_reconcile(tix_job_ctx *c, tix_job_counts *out)
{
    tix_booking_ctx bc = {c->db, c->a, c->cfg, c->pay, NULL};
    tix_reconcile_result res;
    memset(&res, 0, sizeof(res));
    tix_rc rc = tix_payments_reconcile(&bc, c->now, &res);
    tix_job_count_add(out, "checked", res.checked);
    tix_job_count_add(out, "confirmed", res.confirmed);
    tix_job_count_add(out, "refunded", res.refunded);
    tix_job_count_add(out, "errors", res.errors);
    return rc;
}

/* ---- refund poll ---- */

/* Refunds pending at the provider past REFUND_POLL_AGE: their state is fetched and applied as
 * the lost refund.processed / refund.failed webhook would have been (a failed one is then
 * sent again as a new attempt by the refunds job). At most REFUND_POLL_BATCH provider calls
 * per run, for the provider's rate limits. */
tix_rc tix_job_refund_poll(tix_job_ctx *c, tix_job_counts *out)
{
    tix_booking_ctx bc = {c->db, c->a, c->cfg, c->pay, NULL};
    tix_refund_poll_result res;
    memset(&res, 0, sizeof(res));
    tix_rc rc = tix_payments_refund_poll(&bc, c->now, c->cfg->refund_poll_age_ms,
                                         (int)c->cfg->refund_poll_batch, &res);
    tix_job_count_add(out, "checked", res.checked);
    tix_job_count_add(out, "processed", res.processed);
    tix_job_count_add(out, "failed", res.failed);
    tix_job_count_add(out, "pending", res.pending);
    tix_job_count_add(out, "errors", res.errors);
    return rc;
}

/* ---- purge ---- */

tix_rc tix_job_purge(tix_job_ctx *c, tix_job_counts *out)
{
    int64_t keys = 0;
    int64_t tokens = 0;
    int64_t runs = 0;
    tix_rc rc = tix_jobs_purge(c->db, c->now - IDEM_KEEP_MS, c->now - TOKENS_KEEP_MS,
                               c->now - JOB_RUNS_KEEP_MS, &keys, &tokens, &runs);
    int64_t mails = 0;
    int64_t resets = 0;
    rc = rc ? rc
            : tix_outbox_purge(c->db, c->now - c->cfg->mail_retention_ms, c->now, &mails, &resets);
    tix_job_count_add(out, "idempotency_keys", keys);
    tix_job_count_add(out, "refresh_tokens", tokens);
    tix_job_count_add(out, "job_runs", runs);
    tix_job_count_add(out, "mail_outbox", mails);
    tix_job_count_add(out, "password_resets", resets);
    return rc;
}

/* ---- reco ---- */

/* Learns both recommendation models again from every confirmed booking (booking/reco.h): the
 * co-occurrence counted by the database a page of movies at a time, the seats' sales read in
 * sale order, the tables replaced in one transaction. */
tix_rc tix_job_reco(tix_job_ctx *c, tix_job_counts *out)
{
    tix_reco_refresh_counts n;
    tix_rc rc = tix_reco_refresh(c->db, c->a, (int)c->cfg->reco_neighbours, c->now, &n);
    tix_job_count_add(out, "movies", n.movies);
    tix_job_count_add(out, "pairs", n.pairs);
    tix_job_count_add(out, "halls", n.halls);
    tix_job_count_add(out, "seats", n.seats);
    return rc;
}
