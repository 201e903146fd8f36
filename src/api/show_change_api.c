/*
 * PATCH /shows/{id} {starts_at?, prices?}: changing a show's time and/or prices (owner of the
 * hall's theatre, admin). The handler checks the body's shape and nothing else: an object with
 * at least one of the two keys and no other (400 unknown_field / empty_change: a typo must not
 * look like a change that did nothing), starts_at an RFC 3339 time in the future and at most
 * 400 days ahead (as for a new show, 422), prices a non-empty object (its values' types and
 * ranges, and whether each key is a category of the hall, are the catalogue service's, in the
 * order a new show's are checked). The rules, the hall's lock, the transaction, the mails and
 * the cache are catalog/show_change.c's. Answers 200 with the show as GET /shows/{id} does.
 */
#include "api/catalog_views.h"
#include "api/handlers.h"
#include "api/views.h"
#include "app.h"
#include "core/util.h"

#include <string.h>

#define MAX_AHEAD_MS (400LL * 86400 * 1000)

/* Only starts_at and prices, at least one of them (a null counts as absent). */
static bool known_keys(tix_req *r, json_t *body)
{
    const char *key;
    json_t *v;
    int named = 0;
    json_object_foreach(body, key, v)
    {
        if (strcmp(key, "starts_at") != 0 && strcmp(key, "prices") != 0) {
            tix_reply_error(r, 400, "unknown_field",
                            "only starts_at and prices of a show can be changed",
                            json_pack("{s:s}", "field", key));
            return false;
        }
        named += json_is_null(v) ? 0 : 1;
    }
    if (named == 0) {
        tix_reply_error(r, 400, "empty_change",
                        "the body names nothing to change (starts_at, prices)", NULL);
        return false;
    }
    return true;
}

static bool read_change(tix_req *r, json_t *body, tix_show_change_input *in)
{
    tix_verr e;
    const char *starts = NULL;
    memset(in, 0, sizeof(*in));
    if (!known_keys(r, body)) {
        return false;
    }
    bool ok = tix_v_string(body, "starts_at", false, 1, 64, &starts, &e);
    json_t *prices = json_object_get(body, "prices");
    if (ok && prices != NULL && !json_is_null(prices) && !json_is_object(prices)) {
        ok = tix_verr_type(&e, "prices", "object");
    } else if (ok && json_is_object(prices) && json_object_size(prices) == 0) {
        ok = tix_v_fail(&e, "prices", "must name at least one seat category");
    }
    int64_t now = tix_now_ms();
    if (ok && starts != NULL) {
        in->has_starts_at = true;
        if (!tix_parse_rfc3339(starts, &in->starts_at)) {
            ok = tix_v_fail(&e, "starts_at",
                            "must be an RFC 3339 time such as 2026-12-01T18:30:00Z");
        } else if (in->starts_at <= now) {
            ok = tix_v_fail(&e, "starts_at", "must be in the future");
        } else if (in->starts_at > now + MAX_AHEAD_MS) {
            ok = tix_v_fail(&e, "starts_at", "is too far in the future");
        }
    }
    if (!ok) {
        tix_reply_verr(r, &e);
        return false;
    }
    if (json_is_object(prices)) {
        in->prices = tix_api_price_list(r, prices, &in->nprices);
    }
    return true;
}

void tix_api_show_update(tix_req *r)
{
    json_t *body = tix_req_json(r);
    tix_show_change_input in;
    if (body == NULL || !read_change(r, body, &in)) {
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    /* A show's currency never changes, so reading it before the change's transaction is safe;
     * an unknown show is left to the catalogue's own answer. */
    tix_show cur;
    json_t *prices_in = json_object_get(body, "prices");
    if (json_is_object(prices_in) &&
        tix_show_get(db, r->arena, tix_req_param(r, "id"), &cur) == TIX_OK &&
        !tix_api_prices_chargeable(r, cur.currency, prices_in)) {
        return;
    }
    tix_catalog_ctx c = tix_api_catalog_ctx(r, db);
    tix_catalog_refusal why;
    tix_show s;
    tix_rc rc = tix_catalog_show_change(&c, tix_req_param(r, "id"), &in, &s, &why);
    tix_show_price *prices = NULL;
    int n = 0;
    rc = rc ? rc : tix_show_get(db, r->arena, s.id, &s);
    if (rc != TIX_OK) {
        tix_api_reply_catalog(r, rc, &why);
        return;
    }
    rc = tix_show_prices(db, r->arena, s.id, &prices, &n);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    tix_reply_json(r, 200, tix_view_show(&s, prices, n, tix_now_ms()));
}
