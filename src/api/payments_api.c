/*
 * Payments over HTTP: Razorpay's webhook, and the admin's refund list, refund retry and
 * reconciliation. The webhook's rules: the signature is checked over the raw body before
 * anything is parsed or written; the event is recorded (durably, keyed by its event id) before
 * it is applied, and answered 2xx only once both are done; an event already applied is
 * answered 200 without applying it again. Every rule about bookings lives in booking/payments.h.
 */
#include "api/handlers.h"
#include "api/views.h"
#include "app.h"
#include "booking/payments.h"
#include "core/log.h"
#include "core/util.h"

#include <ctype.h>
#include <string.h>

static tix_booking_ctx ctx_of(tix_req *r, tix_db *db)
{
    return (tix_booking_ctx){db, r->arena, &r->app->cfg, r->app->pay, NULL};
}

/* ---- webhook ---- */

/* The delivery's event id: X-Razorpay-Event-Id when it is sane, else one derived from the
 * body (a redelivery has the same body), so de-duplication never depends on the header. */
static const char *event_id_of(tix_req *r)
{
    const char *h = tix_req_header(r, "X-Razorpay-Event-Id");
    size_t n = h != NULL ? strlen(h) : 0;
    bool ok = n > 0 && n < TIX_RZP_EVENT_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        ok = isgraph((unsigned char)h[i]) != 0;
    }
    if (ok) {
        return h;
    }
    char hex[TIX_SHA256_HEX];
    tix_sha256_hex(hex, r->body, r->body_len);
    return tix_arena_sprintf(r->arena, "body:%s", hex);
}

/* Applies the recorded event and marks it done; answers. */
static void apply_and_answer(tix_req *r, tix_db *db, const tix_rzp_event *ev, const char *id)
{
    tix_booking_ctx c = ctx_of(r, db);
    const char *outcome = NULL;
    tix_rc rc = tix_payments_apply_event(&c, ev, &outcome);
    rc = rc ? rc : tix_webhook_finish(db, id, outcome, tix_now_ms());
    if (rc != TIX_OK) {
        /* Not applied (or not marked): a non-2xx makes Razorpay deliver it again, and applying
         * it again is harmless. */
        tix_log_warn("razorpay event %s (%s) not applied: %s", id, ev->type, tix_rc_name(rc));
        tix_reply_rc(r, rc == TIX_EDB ? TIX_EUNAVAIL : rc);
        return;
    }
    tix_log_info("razorpay event %s (%s): %s", id, ev->type, outcome);
    tix_reply_json(r, 200,
                   json_pack("{s:s,s:s,s:s,s:s}", "status", "processed", "event_id", id, "event",
                             ev->type, "outcome", outcome));
}

void tix_api_razorpay_webhook(tix_req *r)
{
    tix_pay_provider *p = r->app->pay;
    const char *sig = tix_req_header(r, "X-Razorpay-Signature");
    if (p->verify_webhook == NULL) {
        tix_reply_error(r, 404, "not_found", "Razorpay is not configured on this server", NULL);
        return;
    }
    if (sig == NULL || r->body == NULL || !p->verify_webhook(p, r->body, r->body_len, sig)) {
        tix_reply_error(r, 400, "invalid_signature", "X-Razorpay-Signature does not match the body",
                        NULL);
        return;
    }
    tix_rzp_event ev;
    if (tix_rzp_parse_event(r->body, r->body_len, &ev) != TIX_OK) {
        tix_reply_error(r, 400, "malformed_json", "the body is not a Razorpay event", NULL);
        return;
    }
    const char *id = event_id_of(r);
    tix_db *db = tix_req_db(r);
    bool processed = false;
    if (db == NULL) {
        return;
    }
    tix_rc rc = tix_webhook_record(db, id, p->name, ev.type, r->body, tix_now_ms(), &processed);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc == TIX_EDB ? TIX_EUNAVAIL : rc);
        return;
    }
    if (processed) {
        tix_reply_json(
            r, 200,
            json_pack("{s:s,s:s,s:s}", "status", "duplicate", "event_id", id, "event", ev.type));
        return;
    }
    apply_and_answer(r, db, &ev, id);
}

/* ---- admin: refunds ---- */

static json_t *refund_view(const tix_refund_row *f)
{
    return json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:s?,s:i,s:s,s:o,s:o}", "id", f->r.id,
                     "booking_id", f->r.booking_id, "payment_id", f->r.payment_id, "amount",
                     (json_int_t)f->r.amount, "currency", f->currency, "reason", f->r.reason,
                     "status", f->r.status, "provider_refund_id", f->r.provider_refund_id,
                     "attempts", f->attempts, "idempotency_key", f->idem_key, "created_at",
                     tix_view_time(f->created_at), "updated_at", tix_view_time(f->updated_at));
}

/* refund_view with attempt_log, every idempotency key it went out with (GET one, retry). A
 * database failure leaves the log out rather than failing the answer. */
static json_t *refund_view_full(tix_req *r, tix_db *db, const tix_refund_row *f)
{
    json_t *j = refund_view(f);
    tix_refund_attempt *list = NULL;
    int n = 0;
    if (tix_refund_attempts(db, r->arena, f->r.id, &list, &n) != TIX_OK) {
        return j;
    }
    json_t *log = json_array();
    for (int i = 0; i < n; i++) {
        const tix_refund_attempt *t = &list[i];
        json_array_append_new(log, json_pack("{s:i,s:s,s:s,s:s?,s:i,s:s?,s:o,s:o}", "n", t->n,
                                             "idempotency_key", t->idem_key, "status", t->status,
                                             "provider_refund_id", t->provider_refund_id, "calls",
                                             t->calls, "detail", t->detail, "created_at",
                                             tix_view_time(t->created_at), "updated_at",
                                             tix_view_time(t->updated_at)));
    }
    json_object_set_new(j, "attempt_log", log);
    return j;
}

void tix_api_admin_refund_list(tix_req *r)
{
    int limit = 0;
    const char *cursor = NULL;
    const char *status = tix_req_query(r, "status");
    if (status != NULL && strcmp(status, "pending") != 0 && strcmp(status, "processed") != 0 &&
        strcmp(status, "failed") != 0) {
        tix_reply_error(r, 400, "invalid_parameter", "status must be pending, processed or failed",
                        json_pack("{s:s}", "parameter", "status"));
        return;
    }
    tix_db *db = tix_req_page(r, &limit, &cursor) ? tix_req_db(r) : NULL;
    tix_refund_row *items = NULL;
    int n = 0;
    if (db == NULL) {
        return;
    }
    tix_rc rc = tix_refund_page(db, r->arena, status, cursor, limit, &items, &n);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < n && i < limit; i++) {
        json_array_append_new(list, refund_view(&items[i]));
    }
    tix_reply_page(r, list, n > limit ? items[limit - 1].r.id : NULL);
}

void tix_api_admin_refund_get(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    tix_refund_row f;
    if (db == NULL) {
        return;
    }
    tix_rc rc = tix_refund_get(db, r->arena, tix_req_param(r, "id"), &f);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    tix_reply_json(r, 200, refund_view_full(r, db, &f));
}

void tix_api_admin_refund_retry(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_booking_ctx c = ctx_of(r, db);
    tix_refund_row f;
    memset(&f, 0, sizeof(f));
    tix_rc rc = tix_payments_refund_retry(&c, tix_req_param(r, "id"), &f);
    /* f is filled whenever the refund was read; a database failure may leave it empty. */
    json_t *details =
        f.r.id != NULL ? json_pack("{s:o}", "refund", refund_view_full(r, db, &f)) : NULL;
    if (rc == TIX_ECONFLICT) {
        tix_reply_error(r, 409, "refund_processed", "this refund has already been processed",
                        details);
    } else if (details != NULL && (rc == TIX_EUNAVAIL || rc == TIX_EUPSTREAM)) {
        tix_reply_header(r, "Retry-After", "5");
        tix_reply_error(r, 503, tix_rc_name(rc),
                        "the payment provider did not take the refund; it stays failed", details);
    } else if (rc != TIX_OK) {
        json_decref(details);
        tix_reply_rc(r, rc);
    } else {
        json_decref(details);
        tix_reply_json(r, 200, refund_view_full(r, db, &f));
    }
}

/* ---- admin: reconciliation ---- */

void tix_api_admin_reconcile(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_booking_ctx c = ctx_of(r, db);
    tix_reconcile_result res;
    tix_rc rc = tix_payments_reconcile(&c, tix_now_ms(), &res);
    json_t *body = json_pack("{s:i,s:i,s:i,s:i}", "checked", res.checked, "confirmed",
                             res.confirmed, "refunded", res.refunded, "errors", res.errors);
    if (rc == TIX_EUNAVAIL || rc == TIX_EUPSTREAM) {
        tix_reply_header(r, "Retry-After", "5");
        tix_reply_error(r, 503, tix_rc_name(rc),
                        "the payment provider could not be reached; the run stopped", body);
        return;
    }
    if (rc != TIX_OK) {
        json_decref(body);
        tix_reply_rc(r, rc);
        return;
    }
    tix_reply_json(r, 200, body);
}
