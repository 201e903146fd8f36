/*
 * Seats and booking over HTTP: the seat map, holds, bookings, confirmation, cancellation and
 * the test provider's pay endpoint. Shape checks here; every rule in booking/.
 */
#include "api/catalog_views.h"
#include "api/fx_api.h"
#include "api/handlers.h"
#include "api/views.h"
#include "app.h"
#include "auth/policy.h"
#include "booking/booking.h"
#include "booking/early.h"
#include "catalog/show_time.h"
#include "core/i18n.h"
#include "core/metrics.h"
#include "core/util.h"
#include "http/aside.h"
#include "http/ratelimit.h"
#include "store/door.h"

#include <stdlib.h>
#include <string.h>

static tix_booking_ctx ctx_of(tix_req *r, tix_db *db)
{
    return (tix_booking_ctx){db, r->arena, &r->app->cfg, r->app->pay, NULL};
}

static const char *const claim_names[] = {"available", "held", "booked"};

/* The name the seat map's claims view (booking/early.h) is kept under beside its cached answer
 * (http/aside.h): "<prefix>:{show:ID}:claims". */
#define CLAIMS_VIEW "claims"

const char *tix_api_seat_status(const tix_map_seat *s)
{
    if (s->blocked || s->price < 0) {
        return "blocked";
    }
    return claim_names[(unsigned)s->claim <= TIX_CLAIM_SOLD ? s->claim : TIX_CLAIM_FREE];
}

/* The next instant this map stops being true by the clock alone: a hold's expiry, the
 * show's start or end (the cache keeps it no longer: http/cached.h). */
static int64_t seat_map_until(const tix_show *show, const tix_map_seat *seats, int n, int64_t now)
{
    int64_t until = show->starts_at > now ? show->starts_at
                    : show->ends_at > now ? show->ends_at
                                          : 0;
    for (int i = 0; i < n; i++) {
        if (seats[i].claim_expires > now && (until == 0 || seats[i].claim_expires < until)) {
            until = seats[i].claim_expires;
        }
    }
    return until;
}

/*
 * ?display_currency=XYZ: the "display" member, the show's prices per category converted with
 * the admin's rates (api/fx_api.h). NULL after answering (bad code, missing or stale rate).
 * Such an answer is never cached (r->cache_until = now): it depends on the rates, which the
 * show's cache version does not follow; a seat map without the parameter is built and cached
 * exactly as before.
 */
static json_t *display_prices(tix_req *r, tix_db *db, const tix_show *show,
                              const tix_map_seat *seats, int n, const char *code, int64_t now)
{
    r->cache_until = now;
    tix_fx_conv c;
    if (!tix_fx_open(r, db, show->currency, code, "display_currency", &c)) {
        return NULL;
    }
    json_t *prices = json_object();
    for (int i = 0; i < n; i++) {
        if (seats[i].price < 0 || seats[i].category == NULL ||
            json_object_get(prices, seats[i].category) != NULL) {
            continue;
        }
        int64_t v = tix_fx_convert(&c, seats[i].price);
        if (v < 0) {
            json_decref(prices);
            json_decref(c.rates);
            tix_reply_rc(r, TIX_EDB);
            return NULL;
        }
        json_object_set_new(prices, seats[i].category, json_integer(v));
    }
    return json_pack("{s:s,s:o,s:o}", "currency", c.to->code, "prices", prices, "rates", c.rates);
}

/* The show and its seats, read from db. */
static tix_rc seat_map_read(tix_req *r, tix_db *db, int64_t now, tix_show *show,
                            tix_map_seat **seats, int *n)
{
    tix_rc rc = tix_show_get(db, r->arena, tix_req_param(r, "id"), show);
    return rc ? rc : tix_seatmap_load(db, r->arena, show->id, show->hall_id, now, seats, n);
}

/* Read from a replica when one is current enough (http/req.h: tix_req_db_read): the map only
 * shows; a hold decides on the primary. */
void tix_api_seat_map(tix_req *r)
{
    tix_db *db = tix_req_db_read(r);
    tix_show show;
    tix_map_seat *seats = NULL;
    int n = 0;
    int64_t now = tix_now_ms();
    if (db == NULL) {
        return;
    }
    tix_rc rc = seat_map_read(r, db, now, &show, &seats, &n);
    if (tix_req_db_read_again(r, rc, &db)) {
        rc = seat_map_read(r, db, now, &show, &seats, &n);
    } else if (db == NULL) {
        return;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    const char *code = tix_req_query(r, "display_currency");
    json_t *display = NULL;
    if (code != NULL && (display = display_prices(r, db, &show, seats, n, code, now)) == NULL) {
        return;
    }
    int counts[4] = {0, 0, 0, 0};
    json_t *list = json_array();
    for (int i = 0; i < n; i++) {
        const char *st = tix_api_seat_status(&seats[i]);
        counts[strcmp(st, "blocked") == 0 ? 3 : (int)seats[i].claim]++;
        json_array_append_new(
            list, json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:s,s:I,s:s}", "id", seats[i].id, "label",
                            seats[i].label, "row", seats[i].row, "number", seats[i].number, "x",
                            seats[i].x, "y", seats[i].y, "category", seats[i].category, "price",
                            (json_int_t)(seats[i].price < 0 ? 0 : seats[i].price), "status", st));
    }
    tix_show_status ss = tix_show_status_at(show.cancelled, show.starts_at, show.ends_at, now);
    if (display == NULL) {
        r->cache_until = seat_map_until(&show, seats, n, now);
        /* Who claims what, for holds refused early (tix_api_hold_now), when it could refuse
         * any (booking/early.h): a show off sale or without claims costs no view (with Redis,
         * no SET per build). */
        size_t len = 0;
        const char *view = tix_early_useful(&show, seats, n, now)
                               ? tix_early_view(r->arena, &show, seats, n, &len)
                               : NULL;
        if (view != NULL) {
            tix_aside_put(r, show.id, CLAIMS_VIEW, view, len, r->cache_until);
        }
    }
    json_t *body = json_pack("{s:s,s:s,s:s,s:{s:i,s:i,s:i,s:i},s:o}", "show_id", show.id, "status",
                             tix_show_status_name(ss), "currency", show.currency, "counts",
                             "available", counts[0], "held", counts[1], "booked", counts[2],
                             "blocked", counts[3], "seats", list);
    if (display != NULL) {
        json_object_set_new(body, "display", display);
    }
    tix_reply_json(r, 200, body);
}

/* ---- holds ---- */

static json_t *held_seats(const tix_hold_result *h)
{
    json_t *list = json_array();
    for (int i = 0; i < h->nseats; i++) {
        const tix_map_seat *s = h->seats[i];
        json_array_append_new(list,
                              json_pack("{s:s,s:s,s:s,s:I}", "id", s->id, "label", s->label,
                                        "category", s->category, "price", (json_int_t)s->price));
    }
    return list;
}

static json_t *id_list(const char **ids, int n)
{
    json_t *list = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(list, json_string(ids[i]));
    }
    return list;
}

/* Checks {seat_ids} or {quantity, category?} into req (pointing into body); false with *e
 * saying what is wrong, nothing answered. */
static bool check_hold_request(tix_req *r, json_t *body, tix_hold_request *req, tix_verr *e)
{
    int max = r->app->cfg.max_seats_per_hold;
    json_t *ids = json_object_get(body, "seat_ids");
    int64_t q = 0;
    bool has_q = false;
    memset(req, 0, sizeof(*req));
    if (!tix_v_int(body, "quantity", false, 1, max, &q, &has_q, e) ||
        !tix_v_string(body, "category", false, 1, 32, &req->category, e)) {
        return false;
    }
    if ((ids == NULL || json_is_null(ids)) == !has_q) {
        tix_v_fail(e, "seat_ids", "is required unless quantity is sent (not both)");
        return false;
    }
    req->quantity = (int)q;
    if (has_q) {
        return true;
    }
    if (!json_is_array(ids)) {
        (void)tix_verr_type(e, "seat_ids", "array of strings");
        return false;
    }
    size_t n = json_array_size(ids);
    if (n == 0 || n > (size_t)max) {
        tix_v_fail(e, "seat_ids",
                   n ? "asks for more seats than one hold may take" : "must not be empty");
        return false;
    }
    const char **list = tix_arena_calloc(r->arena, sizeof(char *) * n);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(ids, i);
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            tix_utf8_len(json_string_value(v)) > 96) { /* characters, as documented */
            *e = (tix_verr){TIX_VERR_TYPE, "seat_ids", "must hold seat id strings",
                            "array of strings"};
            return false;
        }
        if (strlen(json_string_value(v)) !=
            json_string_length(v)) { /* U+0000: 422, as for any field */
            tix_v_fail(e, "seat_ids", "must not contain NUL characters");
            return false;
        }
        list[i] = json_string_value(v);
    }
    req->seat_ids = list;
    req->nseat_ids = (int)n;
    return true;
}

/* Reads {seat_ids} or {quantity, category?}; answers and returns false on a bad body. */
static bool read_hold_request(tix_req *r, json_t *body, tix_hold_request *req)
{
    tix_verr e;
    if (!check_hold_request(r, body, req, &e)) {
        tix_reply_verr(r, &e);
        return false;
    }
    return true;
}

static void reply_hold_problem(tix_req *r, tix_rc rc, const tix_hold_result *h)
{
    json_t *ids = id_list(h->problem_ids, h->nproblems);
    if (rc == TIX_EINVAL) {
        bool unknown = h->nproblems > 0;
        json_t *details = json_object();
        if (unknown) {
            json_object_set(details, "unknown", ids);
        }
        if (h->nblocked > 0) {
            json_object_set_new(details, "blocked", id_list(h->blocked_ids, h->nblocked));
        }
        json_decref(ids);
        tix_reply_error(r, 422, unknown ? "unknown_seat" : "blocked_seat",
                        unknown ? N_("some seats do not exist in this show's hall")
                                : N_("some seats are blocked and never sold"),
                        details);
    } else if (rc == TIX_ECONFLICT) {
        const char *code = "seat_unavailable";
        const char *msg = N_("some seats are not available");
        if (h->problem == TIX_HOLD_SHOW_NOT_BOOKABLE) {
            code = "show_not_bookable";
            msg = N_("the show is not on sale (cancelled or already started)");
        } else if (h->problem == TIX_HOLD_NO_SEATS_AVAILABLE) {
            code = "no_seats_available";
            msg = N_("no seats fit that request");
        }
        tix_reply_error(r, 409, code, msg, json_pack("{s:o}", "unavailable", ids));
    } else {
        json_decref(ids);
        tix_reply_rc(r, rc);
    }
}

static json_t *hold_view(const tix_hold_result *h)
{
    return json_pack("{s:s,s:s,s:o,s:I,s:s,s:o}", "hold_id", h->hold.id, "show_id", h->hold.show_id,
                     "seats", held_seats(h), "amount", (json_int_t)h->hold.amount, "currency",
                     h->hold.currency, "expires_at", tix_view_time(h->hold.expires_at));
}

typedef struct hold_answer_arg {
    tix_req *r;
    const tix_hold_result *h;
} hold_answer_arg;

/* The 201 the hold's commit makes true, stored with it under the Idempotency-Key: the same
 * bytes tix_reply_json sends for hold_view (its serialisation is deterministic). */
static void hold_answer(void *arg, int *status, const char **response)
{
    const hold_answer_arg *x = arg;
    json_t *view = hold_view(x->h);
    char *text = view ? json_dumps(view, TIX_REPLY_JSON_FLAGS) : NULL;
    json_decref(view);
    *status = 201;
    *response = tix_arena_strdup(x->r->arena, text ? text : "");
    free(text);
}

/* Whether the show's current claims view (http/aside.h) says req is sure to be refused
 * (booking/early.h); then *h as tix_hold_place would fill it. */
static bool refused_early(tix_req *r, const tix_hold_request *req, tix_hold_result *h)
{
    tix_answer *view = tix_aside_current(r, tix_req_param(r, "id"), CLAIMS_VIEW);
    bool refused = view != NULL &&
                   tix_early_refusal(r->arena, view->plain, req, r->auth.user_id, tix_now_ms(), h);
    tix_answer_unref(view);
    return refused;
}

/* The 409 of an early refusal, counted (path: "network_thread" or "handler", static). */
static void reply_early(tix_req *r, const tix_hold_result *h, const char *path)
{
    tix_metrics_add(TIX_M_HOLDS, "conflict", 1);
    tix_metrics_add(TIX_M_HOLDS_EARLY, path, 1);
    reply_hold_problem(r, TIX_ECONFLICT, h);
}

void tix_api_hold_create(tix_req *r)
{
    json_t *body = tix_req_json(r);
    tix_hold_request req;
    if (body == NULL || !read_hold_request(r, body, &req)) {
        return;
    }
    tix_hold_result early;
    if (refused_early(r, &req, &early)) {
        /* What tix_api_hold_now answers before the queue, for a request it had to leave to the
         * queue (Redis, the session not in the cache, an owner's audited write, an
         * Idempotency-Key): the same 409 without the hold's transaction; with Redis the view
         * is fetched once per version into this process's store (http/aside.h).
         * A keyed refusal wrote nothing, so http/idempotency.c stores it with its key on its
         * own, one INSERT, as it stores the database path's refusals; a key that already
         * holds an answer (a retry of a hold that succeeded, a duplicate still in its
         * transaction: the INSERT waits for it) makes that answer the reply instead, as the
         * hold's transaction would have found it. In an opening-night stampede nearly every
         * hold is such a refusal, and a careful client keys every POST. */
        reply_early(r, &early, "handler");
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_booking_ctx c = ctx_of(r, db);
    tix_hold_result h;
    hold_answer_arg arg = {r, &h};
    c.idem = r->idem; /* the Idempotency-Key joins the hold's transaction */
    if (c.idem != NULL) {
        c.idem->answer = hold_answer;
        c.idem->arg = &arg;
    }
    tix_rc rc = tix_hold_place(&c, tix_req_param(r, "id"), r->auth.user_id, &req, &h);
    if (rc != TIX_OK) {
        reply_hold_problem(r, rc, &h);
        return;
    }
    tix_reply_json(r, 201, hold_view(&h));
}

/*
 * On the libmicrohttpd thread, before the handler queue (tix_route.now): a hold that the show's
 * current claims view says is sure to be refused (booking/early.h: why that 409 is true) is
 * answered here, with the very 409 tix_api_hold_create would give, and never reaches the queue
 * or the database. The server calls it only with the in-process cache, where the session check
 * and the view's versions are process memory (with Redis they would be round trips on this
 * thread: the queue refuses those, below). It has checked path, token and session (from the
 * cache), role and content type, and sends no keyed request here (an Idempotency-Key's answer
 * is kept in the database). Here: only plain users (an owner's or admin's write goes to the
 * audit trail, a database write), a body that tix_api_hold_create would accept as it is
 * (anything it answers 400/422 goes there), a view that is current; then the hold rate limit,
 * as the queue applies it, and the outcome counters. Anything else: false, and the queue
 * decides as always (tix_api_hold_create, which may still refuse from the view, without the
 * hold's transaction).
 */
bool tix_api_hold_now(tix_req *r)
{
    if (r->auth.role != TIX_ROLE_USER || r->body == NULL || r->body_len == 0) {
        return false;
    }
    json_error_t jerr;
    json_t *body = json_loadb(r->body, r->body_len,
                              JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    tix_hold_request req;
    tix_verr e;
    if (body == NULL || !json_is_object(body) || !check_hold_request(r, body, &req, &e)) {
        json_decref(body); /* the queue answers it: 400 or 422 */
        return false;
    }
    tix_hold_result h;
    if (!refused_early(r, &req, &h)) {
        json_decref(body);
        return false;
    }
    tix_rl_ticket rl;
    if (tix_ratelimit_admit(r, &rl)) { /* else answered: 429 */
        reply_early(r, &h, "network_thread");
        tix_ratelimit_done(r, &rl);
    }
    json_decref(body);
    return true;
}

void tix_api_hold_delete(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_booking_ctx c = ctx_of(r, db);
    tix_rc rc = tix_hold_release(&c, tix_req_param(r, "id"), r->auth.user_id);
    if (rc == TIX_ECONFLICT) {
        tix_reply_error(r, 409, "hold_already_booked",
                        "this hold became a booking; cancel the booking instead", NULL);
        return;
    }
    tix_reply_rc(r, rc);
}

/* ---- bookings ---- */

json_t *tix_api_booking_view(tix_req *r, tix_db *db, const tix_booking *b, bool with_refunds)
{
    tix_booking_seat *seats = NULL;
    int n = 0;
    json_t *list = json_array();
    json_t *tickets = json_array();
    if (tix_booking_seats(db, r->arena, b->id, &seats, &n) == TIX_OK) {
        for (int i = 0; i < n; i++) {
            json_array_append_new(list,
                                  json_pack("{s:s,s:s,s:s,s:I}", "id", seats[i].seat_id, "label",
                                            seats[i].label, "category", seats[i].category, "price",
                                            (json_int_t)seats[i].price));
            if (seats[i].ticket_code != NULL) {
                const char *token = tix_api_ticket_token(r, seats[i].ticket_id, b->show_id,
                                                         seats[i].label, b->show_starts_at, b->id);
                json_array_append_new(
                    tickets, json_pack("{s:s?,s:s,s:s,s:s,s:s?}", "id", seats[i].ticket_id,
                                       "seat_id", seats[i].seat_id, "label", seats[i].label, "code",
                                       seats[i].ticket_code, "token", token));
            }
        }
    }
    tix_booking_status st = b->status;
    if (st == TIX_BK_PENDING_PAYMENT && b->expires_at <= tix_now_ms()) {
        st = TIX_BK_EXPIRED; /* right from the clock, before any job runs */
    }
    json_t *j = json_pack("{s:s,s:s,s:s,s:I,s:s,s:o,s:o,s:s,s:s?,s:o,s:o}", "id", b->id, "show_id",
                          b->show_id, "status", tix_booking_status_name(st), "amount",
                          (json_int_t)b->amount, "currency", b->currency, "seats", list, "tickets",
                          tickets, "provider", b->provider, "order_id", b->order_id, "expires_at",
                          tix_view_time(b->expires_at), "created_at", tix_view_time(b->created_at));
    tix_view_booking_discount(j, b);
    if (with_refunds) {
        tix_refund *refunds = NULL;
        int nr = 0;
        json_t *rl = json_array();
        if (tix_refund_list(db, r->arena, b->id, &refunds, &nr) == TIX_OK) {
            for (int i = 0; i < nr; i++) {
                json_array_append_new(rl,
                                      json_pack("{s:s,s:I,s:s,s:s}", "id", refunds[i].id, "amount",
                                                (json_int_t)refunds[i].amount, "status",
                                                refunds[i].status, "reason", refunds[i].reason));
            }
        }
        json_object_set_new(j, "refunds", rl);
    }
    return j;
}

void tix_api_booking_create(tix_req *r)
{
    json_t *body = tix_req_json(r);
    const char *hold_id = NULL;
    const char *promo_code = NULL;
    tix_verr e;
    if (body == NULL) {
        return;
    }
    if (!tix_v_string(body, "hold_id", true, 1, 64, &hold_id, &e) ||
        !tix_v_string(body, "promo_code", false, 1, 64, &promo_code, &e)) {
        tix_reply_verr(r, &e);
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_booking_ctx c = ctx_of(r, db);
    tix_booking b;
    const char *why = NULL;
    tix_rc rc = tix_booking_create(&c, hold_id, r->auth.user_id, promo_code, &b, &why);
    if (rc == TIX_EINVAL && why != NULL && strncmp(why, "promo_code_", 11) == 0) {
        tix_reply_error(r, 422, why, tix_api_promo_problem_message(why),
                        json_pack("{s:s}", "promo_code", promo_code));
        return;
    }
    if (rc == TIX_ECONFLICT) {
        tix_reply_error(r, 409, why ? why : "conflict",
                        "the hold cannot become a booking (expired, released or already booked)",
                        NULL);
        return;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    json_t *payment =
        json_pack("{s:s,s:s,s:s,s:I,s:s}", "provider", b.provider, "order_id", b.order_id, "key_id",
                  r->app->pay->key_id, "amount", (json_int_t)b.amount, "currency", b.currency);
    tix_reply_json(r, 201,
                   json_pack("{s:o,s:o}", "booking", tix_api_booking_view(r, db, &b, false),
                             "payment", payment));
}

/* Loads a booking the caller may see (own; the theatre's owner; admin), else answers 404. */
static bool load_visible(tix_req *r, tix_db *db, tix_booking *b, bool owner_may)
{
    tix_rc rc = tix_booking_get(db, r->arena, tix_req_param(r, "id"), b);
    if (rc == TIX_OK && strcmp(b->user_id, r->auth.user_id) != 0) {
        rc = tix_policy_can_view(&r->auth, owner_may ? b->theatre_owner_id : NULL);
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return false;
    }
    return true;
}

void tix_api_booking_get(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    tix_booking b;
    if (db == NULL || !load_visible(r, db, &b, true)) {
        return;
    }
    /* ?display_currency=XYZ: the booking's amounts converted for display (api/fx_api.h); the
     * charged amount and currency stay as they are. */
    const char *code = tix_req_query(r, "display_currency");
    json_t *display = NULL;
    if (code != NULL) {
        tix_fx_conv c;
        if (!tix_fx_open(r, db, b.currency, code, "display_currency", &c)) {
            return;
        }
        int64_t amount = tix_fx_convert(&c, b.amount);
        /* rows from before promo codes have amount_before_discount 0 */
        int64_t before = tix_fx_convert(&c, b.amount_before_discount > 0 ? b.amount_before_discount
                                                                         : b.amount + b.discount);
        int64_t discount = tix_fx_convert(&c, b.discount);
        if (amount < 0 || before < 0 || discount < 0) {
            json_decref(c.rates);
            tix_reply_rc(r, TIX_EDB);
            return;
        }
        display = json_pack("{s:s,s:I,s:I,s:I,s:o}", "currency", c.to->code, "amount",
                            (json_int_t)amount, "amount_before_discount", (json_int_t)before,
                            "discount", (json_int_t)discount, "rates", c.rates);
    }
    json_t *view = tix_api_booking_view(r, db, &b, true);
    if (display != NULL) {
        json_object_set_new(view, "display", display);
    }
    tix_reply_json(r, 200, view);
}

void tix_api_booking_list(tix_req *r)
{
    int limit = 0;
    const char *cursor = NULL;
    if (!tix_req_page(r, &limit, &cursor)) {
        return;
    }
    tix_db *db = tix_req_db(r);
    tix_booking *items = NULL;
    int n = 0;
    tix_booking_filter f = {.user_id = r->auth.user_id, .before = cursor, .limit = limit};
    tix_rc rc = db ? tix_booking_list(db, r->arena, &f, &items, &n) : TIX_EUNAVAIL;
    if (db == NULL) {
        return;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    json_t *list = json_array();
    int64_t now = tix_now_ms();
    for (int i = 0; i < n && i < limit; i++) {
        json_array_append_new(list, tix_api_booking_view(r, db, &items[i], false));
        /* a pending booking reads "expired" from its expiry on (cached no longer) */
        if (items[i].status == TIX_BK_PENDING_PAYMENT && items[i].expires_at > now &&
            (r->cache_until == 0 || items[i].expires_at < r->cache_until)) {
            r->cache_until = items[i].expires_at;
        }
    }
    tix_reply_page(r, list, n > limit ? items[limit - 1].id : NULL);
}

/* Whether the provider's payment is of the booking's amount (providers that need the check).
 * Otherwise answers: 422 payment_amount_mismatch with the payment refunded (once, however
 * often checkout and webhook report it), or 503 when the provider could not say. */
static bool checkout_amount_ok(tix_req *r, tix_booking_ctx *c, const tix_booking *b,
                               const char *payment_id)
{
    tix_pay_payment got;
    if (c->pay->fetch_payment == NULL) {
        return true;
    }
    tix_rc rc = c->pay->fetch_payment(c->pay, payment_id, &got);
    if (rc == TIX_OK && got.amount == b->amount) {
        return true;
    }
    bool refunded = false;
    if (rc == TIX_OK) {
        rc = tix_booking_wrong_amount(c, b->id, payment_id, got.amount, "checkout", &refunded);
    }
    if (rc == TIX_OK || rc == TIX_ECONFLICT) {
        tix_reply_error(r, 422, "payment_amount_mismatch",
                        "the payment is not of this booking's amount; it is refunded",
                        json_pack("{s:s,s:I,s:I}", "payment_id", payment_id, "payment_amount",
                                  (json_int_t)got.amount, "amount", (json_int_t)b->amount));
        return false;
    }
    /* Signed by the provider, yet unknown to it: not ours to decide (503 with Retry-After). */
    tix_reply_rc(r, rc == TIX_ENOTFOUND ? TIX_EUPSTREAM : rc);
    return false;
}

void tix_api_booking_confirm(tix_req *r)
{
    json_t *body = tix_req_json(r);
    const char *order = NULL;
    const char *payment = NULL;
    const char *signature = NULL;
    tix_verr e;
    if (body == NULL) {
        return;
    }
    if (!tix_v_string(body, "razorpay_order_id", true, 1, 64, &order, &e) ||
        !tix_v_string(body, "razorpay_payment_id", true, 1, 64, &payment, &e) ||
        !tix_v_string(body, "razorpay_signature", true, 1, 128, &signature, &e)) {
        tix_reply_verr(r, &e);
        return;
    }
    tix_db *db = tix_req_db(r);
    tix_booking b;
    if (db == NULL || !load_visible(r, db, &b, false)) {
        return;
    }
    /* The order id we stored, never the client's, goes into the signature check. */
    if (b.order_id == NULL || strcmp(b.order_id, order) != 0 ||
        !r->app->pay->verify_checkout(r->app->pay, b.order_id, payment, signature)) {
        tix_reply_error(r, 400, "invalid_signature",
                        "the payment signature does not match this booking's order", NULL);
        return;
    }
    tix_booking_ctx c = ctx_of(r, db);
    if (!checkout_amount_ok(r, &c, &b, payment)) {
        return;
    }
    tix_rc rc = tix_booking_paid(&c, b.id, payment, "checkout");
    rc = rc ? rc : tix_booking_get(db, r->arena, b.id, &b);
    if (rc == TIX_ECONFLICT) {
        tix_reply_error(r, 409, "booking_state", "the booking can no longer be paid", NULL);
        return;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    tix_reply_json(r, 200, tix_api_booking_view(r, db, &b, true));
}

/* 409 already_checked_in for a booking with an admitted ticket: details name the first
 * admission (check-ins are never undone, so reading it after the refusal is exact). */
static void cancel_refused_used(tix_req *r, tix_db *db, const char *booking_id)
{
    const char *ticket_id = NULL;
    int64_t at = 0;
    tix_rc rc = tix_checkin_first_of_booking(db, r->arena, booking_id, &ticket_id, &at);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    tix_reply_error(r, 409, "already_checked_in",
                    "a ticket of this booking was already used at the door, so it cannot be "
                    "cancelled",
                    json_pack("{s:s, s:o, s:I}", "ticket_id", ticket_id, "checked_in_at",
                              tix_view_time(at), "full_refund_hours",
                              (json_int_t)(r->app->cfg.cancel_full_refund_s / 3600)));
}

void tix_api_booking_cancel(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    tix_booking b;
    if (db == NULL || !load_visible(r, db, &b, false)) {
        return;
    }
    tix_booking_ctx c = ctx_of(r, db);
    const char *why = NULL;
    tix_rc rc = tix_booking_cancel(&c, b.id, &why);
    rc = rc ? rc : tix_booking_get(db, r->arena, b.id, &b);
    if (rc == TIX_ECONFLICT && why != NULL && strcmp(why, "already_checked_in") == 0) {
        cancel_refused_used(r, db, b.id);
        return;
    }
    if (rc == TIX_ECONFLICT) {
        bool window = why && strcmp(why, "cancel_window_closed") == 0;
        tix_reply_error(r, 409, why ? why : "conflict",
                        window ? "bookings can be cancelled until the refund window closes "
                                 "before the show"
                               : "only a confirmed booking can be cancelled",
                        json_pack("{s:I}", "full_refund_hours",
                                  (json_int_t)(r->app->cfg.cancel_full_refund_s / 3600)));
        return;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    tix_reply_json(r, 200, tix_api_booking_view(r, db, &b, true));
}

/* POST /payments/test/{order_id}/pay: what a checkout would return, signed by the test
 * provider. Only the booking's own user (or an admin) may pay it; 404 under Razorpay. */
void tix_api_test_pay(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_booking b;
    const char *order = tix_req_param(r, "order_id");
    tix_rc rc = strcmp(r->app->pay->name, "test") == 0
                    ? tix_booking_by_order(db, r->arena, order, &b)
                    : TIX_ENOTFOUND;
    if (rc == TIX_OK && strcmp(b.user_id, r->auth.user_id) != 0) {
        rc = tix_policy_can_view(&r->auth, NULL);
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    char payment[TIX_ID_MAX];
    char signature[65];
    tix_id_new(payment, "pay");
    if (!tix_pay_test_sign(r->app->pay, b.order_id, payment, signature)) {
        tix_reply_rc(r, TIX_EDB);
        return;
    }
    tix_reply_json(r, 200,
                   json_pack("{s:s,s:s,s:s}", "razorpay_order_id", b.order_id,
                             "razorpay_payment_id", payment, "razorpay_signature", signature));
}
