/*
 * Promo codes over HTTP (issue 12): POST /promo-codes, GET /promo-codes, PATCH
 * /promo-codes/{id}, and the discount fields every booking view carries. Shape checks here
 * (wrong JSON types 400, values out of range 422); who may do what and every rule about
 * applying a code in booking/promo.h.
 */
#include "api/handlers.h"
#include "api/views.h"
#include "app.h"
#include "booking/promo.h"
#include "catalog/show_time.h"
#include "core/i18n.h"
#include "core/util.h"
#include "store/booking.h"

#include <string.h>

#define MAX_VALUE     1000000000000LL /* minor units: far above any booking */
#define MAX_USES      1000000000LL
#define MAX_USER_USES 1000000LL

/* An integer field, or JSON null when 0 ("none"). */
static json_t *opt_int(int64_t v)
{
    return v != 0 ? json_integer((json_int_t)v) : json_null();
}

static json_t *opt_time(int64_t ms)
{
    return ms != 0 ? tix_view_time(ms) : json_null();
}

static json_t *promo_view(const tix_promo *p)
{
    json_t *j =
        json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:b,s:o,s:o}", "id", p->id, "code", p->code, "kind",
                  p->kind, "value", (json_int_t)p->value, "uses", (json_int_t)p->uses, "min_amount",
                  (json_int_t)p->min_amount, "active", p->active, "created_at",
                  tix_view_time(p->created_at), "updated_at", tix_view_time(p->updated_at));
    json_object_set_new(j, "currency", p->currency ? json_string(p->currency) : json_null());
    json_object_set_new(j, "max_uses", opt_int(p->max_uses));
    json_object_set_new(j, "max_uses_per_user", opt_int(p->max_uses_per_user));
    json_object_set_new(j, "valid_from", opt_time(p->valid_from));
    json_object_set_new(j, "valid_until", opt_time(p->valid_until));
    json_object_set_new(j, "theatre_id", p->theatre_id ? json_string(p->theatre_id) : json_null());
    return j;
}

void tix_view_booking_discount(json_t *j, const tix_booking *b)
{
    json_object_set_new(j, "amount_before_discount", json_integer(b->amount_before_discount));
    json_object_set_new(j, "discount", json_integer(b->discount));
    json_object_set_new(j, "promo_code", b->promo_code ? json_string(b->promo_code) : json_null());
}

const char *tix_api_promo_problem_message(const char *code)
{
    for (int p = TIX_PROMO_UNKNOWN; p <= TIX_PROMO_CURRENCY_MISMATCH; p++) {
        if (strcmp(code, tix_promo_problem_code((tix_promo_problem)p)) == 0) {
            return tix_promo_problem_message((tix_promo_problem)p);
        }
    }
    return N_("the promo code does not apply");
}

/* An optional RFC 3339 time field: *ms 0 when absent. */
static bool read_time(json_t *body, const char *key, int64_t *ms, tix_verr *e)
{
    const char *s = NULL;
    *ms = 0;
    if (!tix_v_string(body, key, false, 1, 64, &s, e)) {
        return false;
    }
    if (s != NULL && (!tix_parse_rfc3339(s, ms) || *ms <= 0)) {
        return tix_v_fail(e, key, "must be an RFC 3339 time such as 2026-12-01T18:30:00Z");
    }
    return true;
}

/* Reads and checks the body of POST /promo-codes into p (arena strings). */
static bool read_promo(tix_req *r, json_t *body, tix_promo *p, tix_verr *e)
{
    const char *code = NULL;
    const char *kind = NULL;
    const char *currency = NULL;
    const char *theatre = NULL;
    bool has = false;
    memset(p, 0, sizeof(*p));
    bool ok = tix_v_string(body, "code", true, 1, 64, &code, e) &&
              tix_v_string(body, "kind", true, 1, 16, &kind, e) &&
              tix_v_int(body, "value", true, 1, MAX_VALUE, &p->value, &has, e) &&
              tix_v_string(body, "currency", false, 3, 3, &currency, e) &&
              tix_v_int(body, "max_uses", false, 1, MAX_USES, &p->max_uses, &has, e) &&
              tix_v_int(body, "max_uses_per_user", false, 1, MAX_USER_USES, &p->max_uses_per_user,
                        &has, e) &&
              read_time(body, "valid_from", &p->valid_from, e) &&
              read_time(body, "valid_until", &p->valid_until, e) &&
              tix_v_string(body, "theatre_id", false, 1, 64, &theatre, e) &&
              tix_v_int(body, "min_amount", false, 0, MAX_VALUE, &p->min_amount, &has, e);
    if (!ok) {
        return false;
    }
    char *norm = tix_arena_alloc(r->arena, TIX_PROMO_CODE_MAX + 1);
    if (!tix_promo_normalize(code, norm)) {
        return tix_v_fail(e, "code", "must be 3 to 32 letters, digits, '-' or '_'");
    }
    if (strcmp(kind, "percent") != 0 && strcmp(kind, "amount") != 0) {
        return tix_v_fail(e, "kind", "must be percent or amount");
    }
    bool percent = strcmp(kind, "percent") == 0;
    if (percent && p->value > 100) {
        return tix_v_fail(e, "value", "must be 1 to 100 for a percent code");
    }
    if (currency != NULL && !tix_currency_supported(currency)) {
        return tix_v_fail(e, "currency",
                          "is not a supported currency (INR, USD, EUR, GBP, AED, SGD, AUD, CAD)");
    }
    if (currency == NULL && !percent) {
        return tix_v_fail(e, "currency", "is required for an amount code");
    }
    if (currency == NULL && p->min_amount > 0) {
        return tix_v_fail(e, "currency", "is required with min_amount");
    }
    if (p->valid_from != 0 && p->valid_until != 0 && p->valid_until <= p->valid_from) {
        return tix_v_fail(e, "valid_until", "must be after valid_from");
    }
    p->code = norm;
    p->kind = percent ? "percent" : "amount";
    p->currency = (char *)currency;
    p->theatre_id = (char *)theatre;
    return true;
}

void tix_api_promo_create(tix_req *r)
{
    json_t *body = tix_req_json(r);
    tix_promo p;
    tix_verr e;
    if (body == NULL) {
        return;
    }
    if (!read_promo(r, body, &p, &e)) {
        tix_reply_verr(r, &e);
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_promo_write_problem why = TIX_PROMO_WRITE_OK;
    tix_rc rc = tix_promo_create(db, r->arena, &r->auth, &p, &why);
    if (why == TIX_PROMO_WRITE_CODE_TAKEN) {
        tix_reply_error(r, 409, "promo_code_taken", "a promo code with this code exists",
                        json_pack("{s:s}", "code", p.code));
        return;
    }
    if (why == TIX_PROMO_WRITE_THEATRE_REQUIRED || why == TIX_PROMO_WRITE_NO_THEATRE) {
        tix_v_fail(&e, "theatre_id",
                   why == TIX_PROMO_WRITE_NO_THEATRE
                       ? "names no theatre"
                       : "is required: an owner's codes apply to one of their theatres");
        tix_reply_verr(r, &e);
        return;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    tix_reply_json(r, 201, promo_view(&p));
}

void tix_api_promo_list(tix_req *r)
{
    int limit = 0;
    const char *cursor = NULL;
    if (!tix_req_page(r, &limit, &cursor)) {
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_promo_filter f = {
        .theatre_id = tix_req_query(r, "theatre_id"), .before = cursor, .limit = limit};
    tix_promo *items = NULL;
    int n = 0;
    tix_rc rc = tix_promo_visible(db, r->arena, &r->auth, &f, &items, &n);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < n && i < limit; i++) {
        json_array_append_new(list, promo_view(&items[i]));
    }
    tix_reply_page(r, list, n > limit ? items[limit - 1].id : NULL);
}

void tix_api_promo_update(tix_req *r)
{
    json_t *body = tix_req_json(r);
    bool active = false;
    bool has = false;
    tix_verr e;
    if (body == NULL) {
        return;
    }
    if (!tix_v_bool(body, "active", true, &active, &has, &e)) {
        tix_reply_verr(r, &e);
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_promo p;
    tix_rc rc = tix_promo_set(db, r->arena, &r->auth, tix_req_param(r, "id"), active, &p);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    tix_reply_json(r, 200, promo_view(&p));
}
