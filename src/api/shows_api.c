/*
 * Shows: created by the owner of the hall's theatre (or an admin) with a price for every seat
 * category of the hall; never two overlapping in a hall. The handlers check the shape of a
 * request (ids, currency, a start in the next 400 days, a price object) and leave the rules,
 * the hall's lock and the transaction to the catalogue service (catalog/catalog.h, shows.c).
 */
#include "api/catalog_views.h"
#include "api/fx_api.h"
#include "api/handlers.h"
#include "api/views.h"
#include "app.h"
#include "catalog/show_time.h"
#include "core/util.h"

#include <string.h>

#define MAX_AHEAD_MS (400LL * 86400 * 1000)

typedef struct show_input {
    const char *movie_id;
    const char *hall_id;
    const char *starts_at_s;
    const char *currency;
    int64_t starts_at;
    json_t *prices;
} show_input;

static bool read_show_input(tix_req *r, json_t *body, show_input *in)
{
    tix_verr e;
    memset(in, 0, sizeof(*in));
    bool ok = tix_v_string(body, "movie_id", true, 1, 64, &in->movie_id, &e) &&
              tix_v_string(body, "hall_id", true, 1, 64, &in->hall_id, &e) &&
              tix_v_string(body, "starts_at", true, 1, 64, &in->starts_at_s, &e) &&
              tix_v_string(body, "currency", true, 3, 3, &in->currency, &e);
    in->prices = json_object_get(body, "prices");
    if (ok && !json_is_object(in->prices)) {
        ok = false;
        (void)tix_verr_type(&e, "prices", "object");
        if (in->prices == NULL) {
            tix_v_fail(&e, "prices", "is required");
        }
    }
    if (ok && !tix_currency_supported(in->currency)) {
        ok = tix_v_fail(&e, "currency", "is not a supported ISO 4217 currency code");
    }
    int64_t now = tix_now_ms();
    if (ok && !tix_parse_rfc3339(in->starts_at_s, &in->starts_at)) {
        ok = tix_v_fail(&e, "starts_at", "must be an RFC 3339 time such as 2026-12-01T18:30:00Z");
    } else if (ok && in->starts_at <= now) {
        ok = tix_v_fail(&e, "starts_at", "must be in the future");
    } else if (ok && in->starts_at > now + MAX_AHEAD_MS) {
        ok = tix_v_fail(&e, "starts_at", "is too far in the future");
    }
    if (!ok) {
        tix_reply_verr(r, &e);
    }
    return ok;
}

static void reply_show(tix_req *r, tix_db *db, unsigned status, const char *id)
{
    tix_show s;
    tix_show_price *prices = NULL;
    int n = 0;
    tix_rc rc = tix_show_get(db, r->arena, id, &s);
    rc = rc ? rc : tix_show_prices(db, r->arena, id, &prices, &n);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    tix_reply_json(r, status, tix_view_show(&s, prices, n, tix_now_ms()));
}

void tix_api_show_create(tix_req *r)
{
    json_t *body = tix_req_json(r);
    show_input in;
    if (body == NULL || !read_show_input(r, body, &in)) {
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    if (!tix_api_prices_chargeable(r, in.currency, in.prices)) {
        return;
    }
    tix_show_input si = {.movie_id = in.movie_id,
                         .hall_id = in.hall_id,
                         .currency = in.currency,
                         .starts_at = in.starts_at};
    si.prices = tix_api_price_list(r, in.prices, &si.nprices);
    tix_catalog_ctx c = tix_api_catalog_ctx(r, db);
    tix_catalog_refusal why;
    tix_show s;
    tix_rc rc = tix_catalog_show_create(&c, &si, &s, &why);
    if (rc != TIX_OK) {
        tix_api_reply_catalog(r, rc, &why);
        return;
    }
    reply_show(r, db, 201, s.id);
}

void tix_api_show_get(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    if (db != NULL) {
        reply_show(r, db, 200, tix_req_param(r, "id"));
    }
}

void tix_api_show_cancel(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    const char *id = tix_req_param(r, "id");
    tix_catalog_ctx c = tix_api_catalog_ctx(r, db);
    tix_catalog_refusal why;
    tix_rc rc = tix_catalog_show_cancel(&c, id, &why);
    if (rc != TIX_OK) {
        tix_api_reply_catalog(r, rc, &why);
        return;
    }
    reply_show(r, db, 200, id);
}

/* Decodes a show cursor "<starts_at>:<id>". */
static bool read_show_cursor(tix_req *r, const char *cursor, tix_show_filter *f)
{
    const char *colon = cursor ? strchr(cursor, ':') : NULL;
    if (cursor == NULL) {
        return true;
    }
    char num[24];
    size_t len = colon ? (size_t)(colon - cursor) : 0;
    if (colon == NULL || len == 0 || len >= sizeof(num)) {
        tix_reply_error(r, 400, "invalid_parameter", "cursor is not one this server issued",
                        json_pack("{s:s}", "parameter", "cursor"));
        return false;
    }
    memcpy(num, cursor, len);
    num[len] = '\0';
    if (!tix_parse_int(num, 0, INT64_MAX, &f->after_start)) {
        tix_reply_error(r, 400, "invalid_parameter", "cursor is not one this server issued",
                        json_pack("{s:s}", "parameter", "cursor"));
        return false;
    }
    f->has_cursor = true;
    f->after_id = colon + 1;
    return true;
}

static bool read_show_filter(tix_req *r, tix_show_filter *f)
{
    const char *cursor = NULL;
    const char *date = tix_req_query(r, "date");
    const char *city = tix_req_query(r, "city");
    memset(f, 0, sizeof(*f));
    if (!tix_req_page(r, &f->limit, &cursor) || !read_show_cursor(r, cursor, f)) {
        return false;
    }
    if (date != NULL && !tix_parse_date(date, &f->day_start_utc)) {
        tix_reply_error(r, 400, "invalid_parameter", "date must be YYYY-MM-DD",
                        json_pack("{s:s}", "parameter", "date"));
        return false;
    }
    f->has_date = date != NULL;
    f->movie_id = tix_req_query(r, "movie_id");
    f->theatre_id = tix_req_query(r, "theatre_id");
    f->hall_id = tix_req_query(r, "hall_id");
    char *c = city ? tix_arena_strdup(r->arena, city) : NULL;
    for (char *p = c; p && *p; p++) {
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + ('a' - 'A') : *p);
    }
    f->city_lower = c;
    /* Without a date, list what is still to come or running; with one, the whole day. */
    f->ends_after = f->has_date ? 0 : tix_now_ms();
    return true;
}

/* {"min", "max"} of a show's price range in minor units, or null when it has no prices. */
static json_t *view_range(int64_t lo, int64_t hi)
{
    return lo < 0 ? json_null()
                  : json_pack("{s:I,s:I}", "min", (json_int_t)lo, "max", (json_int_t)hi);
}

/* Distinct show currencies one page converts from: more than core/currency.c supports. */
#define LIST_FX_MAX 32

/* The conversion from currency into code among conv[0..*nconv), opened (and added) if it is
 * not there yet; NULL after answering (a missing or stale rate, a database failure). */
static const tix_fx_conv *conv_for(tix_req *r, tix_db *db, tix_fx_conv conv[LIST_FX_MAX],
                                   int *nconv, const char *currency, const char *code)
{
    for (int k = 0; k < *nconv; k++) {
        if (strcmp(conv[k].from->code, currency) == 0) {
            return &conv[k];
        }
    }
    if (*nconv >= LIST_FX_MAX) {
        tix_reply_rc(r, TIX_EDB); /* a show currency that is no supported one */
        return NULL;
    }
    if (!tix_fx_open(r, db, currency, code, "display_currency", &conv[*nconv])) {
        return NULL;
    }
    return &conv[(*nconv)++];
}

/* Adds "price_range" and "display" to view, the view of show s, converted with c; false (and
 * nothing added) if an amount cannot be converted. */
static bool add_show_display(json_t *view, const tix_show *s, const tix_fx_conv *c)
{
    int64_t lo = s->price_min;
    int64_t hi = s->price_max;
    int64_t dlo = lo < 0 ? -1 : tix_fx_convert(c, lo);
    int64_t dhi = hi < 0 ? -1 : tix_fx_convert(c, hi);
    if (lo >= 0 && (dlo < 0 || dhi < 0)) {
        return false;
    }
    json_object_set_new(view, "price_range", view_range(lo, hi));
    json_object_set_new(view, "display",
                        json_pack("{s:s,s:o,s:O}", "currency", c->to->code, "price_range",
                                  view_range(dlo, dhi), "rates", c->rates));
    return true;
}

/*
 * ?display_currency=XYZ on a list: to each listed show (list[i] is the view of items[i]) its
 * price range in its own currency, "price_range": {"min", "max"} (read with the list itself:
 * tix_show_filter.price_range), and "display": {"currency", "price_range", "rates"}, the same
 * range converted as the seat map converts its prices (api/fx_api.h; "rates" the rows used for
 * that show). One conversion per currency on the page; a missing or stale rate for any of them
 * refuses the whole list (422), never used. False after answering.
 */
static bool add_display(tix_req *r, tix_db *db, const tix_show *items, int n, json_t *list,
                        const char *code)
{
    tix_fx_conv conv[LIST_FX_MAX];
    int nconv = 0;
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        const tix_fx_conv *c = conv_for(r, db, conv, &nconv, items[i].currency, code);
        ok = c != NULL;
        if (ok && !add_show_display(json_array_get(list, (size_t)i), &items[i], c)) {
            tix_reply_rc(r, TIX_EDB);
            ok = false;
        }
    }
    for (int k = 0; k < nconv; k++) {
        json_decref(conv[k].rates);
    }
    return ok;
}

/*
 * GET /shows (also a movie's or a theatre's shows: ?movie_id=, ?theatre_id=). Cached per
 * catalogue version (http/cached.h) until a listed show starts or ends; with display_currency
 * (add_display) never cached (r->cache_until = now), as a seat map's display: the rates do not
 * bump the catalogue's version, and a new one must show at once. The parameter is part of the
 * route's cache key all the same (routes.c), so a currency's answer can never be handed to a
 * request for another or for none (nor through a coalesced miss).
 */
void tix_api_show_list(tix_req *r)
{
    tix_show_filter f;
    const char *code = tix_req_query(r, "display_currency");
    if (!read_show_filter(r, &f) ||
        (code != NULL && tix_fx_target(r, code, "display_currency") == NULL)) {
        return;
    }
    f.price_range = code != NULL;
    tix_db *db = tix_req_db_read(r); /* a listing may come from a replica */
    if (db == NULL) {
        return;
    }
    tix_show *items = NULL;
    int n = 0;
    tix_rc rc = tix_show_list(db, r->arena, &f, &items, &n);
    if (tix_req_db_read_again(r, rc, &db)) {
        rc = tix_show_list(db, r->arena, &f, &items, &n);
    } else if (db == NULL) {
        return;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    int64_t now = tix_now_ms();
    int shown = n < f.limit ? n : f.limit;
    json_t *list = json_array();
    for (int i = 0; i < shown; i++) {
        json_array_append_new(list, tix_view_show(&items[i], NULL, 0, now));
        /* a cached list (http/cached.h) lasts until a listed show starts or ends */
        int64_t edge = items[i].starts_at > now ? items[i].starts_at : items[i].ends_at;
        if (edge > now && (r->cache_until == 0 || edge < r->cache_until)) {
            r->cache_until = edge;
        }
    }
    if (code != NULL) {
        r->cache_until = now; /* converted: never cached */
    }
    if (code != NULL && !add_display(r, db, items, shown, list, code)) {
        json_decref(list);
        return;
    }
    const tix_show *last = n > f.limit ? &items[f.limit - 1] : NULL;
    tix_reply_page(
        r, list,
        last ? tix_arena_sprintf(r->arena, "%lld:%s", (long long)last->starts_at, last->id) : NULL);
}
