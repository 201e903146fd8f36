/*
 * Exchange rates for display: the admin routes and the conversion the seat map uses (see
 * fx_api.h). Bad input changes nothing: the rate and as_of are checked in full before the one
 * upsert.
 */
#include "api/fx_api.h"

#include "api/handlers.h"
#include "api/views.h"
#include "core/util.h"
#include "http/audit.h"
#include "store/fx.h"

#include <string.h>

/* An as_of more than this ahead of our clock is refused (a typo, or a clock far off). */
#define FX_FUTURE_SLACK_MS (5LL * 60 * 1000)

static json_t *view_rate(const tix_fx_row *row, int64_t max_age_ms, int64_t now)
{
    return json_pack("{s:s,s:s,s:o,s:s,s:o,s:b}", "currency", row->currency, "rate_per_inr",
                     row->rate_per_inr, "as_of", tix_view_time(row->as_of), "set_by", row->set_by,
                     "set_at", tix_view_time(row->set_at), "stale", now - row->as_of > max_age_ms);
}

void tix_api_admin_fx_put(tix_req *r)
{
    json_t *body = tix_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *code = tix_req_param(r, "currency");
    const tix_currency *cur = tix_currency_find(code);
    tix_verr e;
    const char *rate_s = NULL;
    const char *as_of_s = NULL;
    int64_t rate = 0;
    int64_t as_of = 0;
    int64_t now = tix_now_ms();
    if (cur == NULL || strcmp(cur->code, "INR") == 0) {
        (void)tix_v_fail(&e, "currency",
                         cur == NULL ? "is not a supported ISO 4217 currency code"
                                     : "INR is the base: its rate is always 1");
        tix_reply_verr(r, &e);
        return;
    }
    bool ok = tix_v_string(body, "rate_per_inr", true, 1, TIX_RATE_TEXT_MAX - 1, &rate_s, &e) &&
              tix_v_string(body, "as_of", true, 1, 64, &as_of_s, &e);
    if (ok && !tix_rate_parse(rate_s, &rate)) {
        ok = tix_v_fail(&e, "rate_per_inr",
                        "must be a positive decimal string with at most 9 decimals, such as "
                        "\"0.012034\"");
    }
    if (ok && !tix_parse_rfc3339(as_of_s, &as_of)) {
        ok = tix_v_fail(&e, "as_of", "must be an RFC 3339 time such as 2026-12-01T18:30:00Z");
    } else if (ok && as_of > now + FX_FUTURE_SLACK_MS) {
        ok = tix_v_fail(&e, "as_of", "must not be in the future");
    }
    if (!ok) {
        tix_reply_verr(r, &e);
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    char canon[TIX_RATE_TEXT_MAX];
    tix_rate_format(canon, rate);
    tix_fx_row row = {.currency = (char *)cur->code,
                      .rate_per_inr = canon,
                      .as_of = as_of,
                      .set_by = r->auth.user_id,
                      .set_at = now};
    tix_rc rc = tix_fx_put(db, &row);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    tix_audit_target(r, "currency", cur->code);
    tix_reply_json(r, 200, view_rate(&row, r->app->cfg.fx_max_age_s * 1000, now));
}

void tix_api_admin_fx_list(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_fx_row *rows = NULL;
    int n = 0;
    tix_rc rc = tix_fx_list(db, r->arena, &rows, &n);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    int64_t now = tix_now_ms();
    json_t *items = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(items, view_rate(&rows[i], r->app->cfg.fx_max_age_s * 1000, now));
    }
    tix_reply_json(r, 200,
                   json_pack("{s:o,s:I}", "items", items, "max_age_seconds",
                             (json_int_t)r->app->cfg.fx_max_age_s));
}

/* The rate of cur per INR into *rate, its row's view added to rates; false after answering. */
static bool rate_of(tix_req *r, tix_db *db, const tix_currency *cur, int64_t now, json_t *rates,
                    int64_t *rate)
{
    if (strcmp(cur->code, "INR") == 0) {
        *rate = TIX_RATE_SCALE;
        return true;
    }
    tix_fx_row row;
    tix_rc rc = tix_fx_get(db, r->arena, cur->code, &row);
    if (rc == TIX_ENOTFOUND) {
        tix_reply_error(r, 422, "fx_rate_missing", "no exchange rate is set for this currency",
                        json_pack("{s:s}", "currency", cur->code));
        return false;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return false;
    }
    int64_t max_age_ms = r->app->cfg.fx_max_age_s * 1000;
    if (now - row.as_of > max_age_ms) {
        tix_reply_error(
            r, 422, "fx_rate_stale", "the exchange rate for this currency is older than FX_MAX_AGE",
            json_pack("{s:s,s:o,s:I}", "currency", cur->code, "as_of", tix_view_time(row.as_of),
                      "max_age_seconds", (json_int_t)r->app->cfg.fx_max_age_s));
        return false;
    }
    if (!tix_rate_parse(row.rate_per_inr, rate)) {
        tix_reply_rc(r, TIX_EDB);
        return false;
    }
    json_object_set_new(rates, cur->code,
                        json_pack("{s:s,s:o}", "rate_per_inr", row.rate_per_inr, "as_of",
                                  tix_view_time(row.as_of)));
    return true;
}

const tix_currency *tix_fx_target(tix_req *r, const char *to, const char *param)
{
    const tix_currency *cur = tix_currency_find(to);
    if (cur == NULL) {
        tix_reply_error(r, 400, "invalid_parameter",
                        "is not a supported ISO 4217 currency code (upper case, such as USD)",
                        json_pack("{s:s}", "parameter", param));
    }
    return cur;
}

bool tix_fx_open(tix_req *r, tix_db *db, const char *from, const char *to, const char *param,
                 tix_fx_conv *c)
{
    memset(c, 0, sizeof(*c));
    c->from = tix_currency_find(from);
    c->to = tix_fx_target(r, to, param);
    if (c->to == NULL) {
        return false;
    }
    if (c->from == NULL) {
        tix_reply_rc(r, TIX_EDB);
        return false;
    }
    int64_t now = tix_now_ms();
    c->rates = json_object();
    if (c->from == c->to) {
        c->from_rate = c->to_rate = TIX_RATE_SCALE;
        return true;
    }
    if (!rate_of(r, db, c->from, now, c->rates, &c->from_rate) ||
        !rate_of(r, db, c->to, now, c->rates, &c->to_rate)) {
        json_decref(c->rates);
        c->rates = NULL;
        return false;
    }
    return true;
}

int64_t tix_fx_convert(const tix_fx_conv *c, int64_t amount)
{
    int64_t out = -1;
    if (!tix_currency_convert(amount, c->from, c->from_rate, c->to, c->to_rate, &out)) {
        return -1;
    }
    return out;
}
