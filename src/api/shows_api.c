/*
 * Shows: created by the owner of the hall's theatre (or an admin) with a price for every seat
 * category of the hall. Two shows never overlap in a hall: the check runs after taking the
 * hall's lock (tix_hall_lock), so two owners creating overlapping shows at the same instant
 * are serialised and the second sees the first.
 */
#include "api/catalog_views.h"
#include "api/handlers.h"
#include "api/views.h"
#include "app.h"
#include "auth/policy.h"
#include "booking/booking.h"
#include "catalog/show_time.h"
#include "core/util.h"

#include <string.h>

#define MAX_PRICE    100000000 /* 10 lakh rupees in paise: far above any ticket */
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
        ok = tix_v_fail(&e, "currency",
                        "is not a supported currency (INR, USD, EUR, GBP, AED, "
                        "SGD, AUD, CAD)");
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

/* Matches prices against the hall's categories: every category priced, nothing extra.
 * OUT: *out (arena) the prices. Answers 400/422 and returns false on a mismatch. */
static bool read_prices(tix_req *r, json_t *prices, const tix_seat_row *seats, int nseats,
                        tix_show_price **out, int *nout)
{
    tix_show_price *list =
        tix_arena_calloc(r->arena, sizeof(*list) * (json_object_size(prices) + 1));
    int n = 0;
    const char *key;
    json_t *v;
    tix_verr e;
    json_object_foreach(prices, key, v)
    {
        bool known = false;
        for (int i = 0; i < nseats && !known; i++) {
            known = strcmp(seats[i].category, key) == 0;
        }
        char *field = tix_arena_sprintf(r->arena, "prices.%s", key);
        if (!json_is_integer(v)) {
            (void)tix_verr_type(&e, field, "integer");
            tix_reply_verr(r, &e);
            return false;
        }
        if (!known || json_integer_value(v) < 0 || json_integer_value(v) > MAX_PRICE) {
            tix_v_fail(&e, field,
                       known ? "must be from 0 to 100000000 minor units"
                             : "is not a seat category of this hall");
            tix_reply_verr(r, &e);
            return false;
        }
        list[n].category = tix_arena_strdup(r->arena, key);
        list[n].amount = json_integer_value(v);
        n++;
    }
    for (int i = 0; i < nseats; i++) {
        if (json_object_get(prices, seats[i].category) == NULL) {
            char *field = tix_arena_sprintf(r->arena, "prices.%s", seats[i].category);
            tix_v_fail(&e, field, "is missing: every seat category of the hall needs a price");
            tix_reply_verr(r, &e);
            return false;
        }
    }
    *out = list;
    *nout = n;
    return true;
}

/* Loads what a new show refers to; answers on failure. */
static bool load_refs(tix_req *r, tix_db *db, const show_input *in, tix_hall *h, tix_movie *m)
{
    tix_verr e;
    tix_rc rc = tix_hall_get(db, r->arena, in->hall_id, h);
    if (rc == TIX_ENOTFOUND) {
        tix_v_fail(&e, "hall_id", "is not a hall");
        tix_reply_verr(r, &e);
        return false;
    }
    rc = rc ? rc : tix_policy_can_modify(&r->auth, h->owner_id);
    rc = rc ? rc : tix_movie_get(db, r->arena, in->movie_id, m);
    if (rc == TIX_ENOTFOUND || (rc == TIX_OK && strcmp(m->status, "active") != 0)) {
        tix_v_fail(&e, "movie_id", rc ? "is not a movie" : "is not an active movie");
        tix_reply_verr(r, &e);
        return false;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return false;
    }
    return true;
}

/* In one transaction: lock the hall, check overlap, insert. */
static tix_rc insert_show(tix_db *db, const tix_show *s, const tix_show_price *prices, int n,
                          bool *overlap)
{
    tix_rc rc = tix_db_begin(db);
    rc = rc ? rc : tix_hall_lock(db, s->hall_id);
    rc = rc ? rc : tix_show_overlap(db, s->hall_id, s->starts_at, s->ends_at, overlap);
    if (rc == TIX_OK && *overlap) {
        tix_db_rollback(db);
        return TIX_ECONFLICT;
    }
    rc = rc ? rc : tix_show_insert(db, s, prices, n);
    rc = rc ? rc : tix_db_commit(db);
    return rc;
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
    tix_hall h;
    tix_movie m;
    tix_seat_row *seats = NULL;
    int nseats = 0;
    tix_show_price *prices = NULL;
    int nprices = 0;
    if (db == NULL || !load_refs(r, db, &in, &h, &m)) {
        return;
    }
    tix_rc rc = tix_seat_list(db, r->arena, h.id, &seats, &nseats);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    if (!read_prices(r, in.prices, seats, nseats, &prices, &nprices)) {
        return;
    }
    tix_show s = {.movie_id = m.id,
                  .hall_id = h.id,
                  .theatre_id = h.theatre_id,
                  .currency = (char *)in.currency,
                  .starts_at = in.starts_at};
    char *id = tix_arena_alloc(r->arena, TIX_ID_MAX);
    tix_id_new(id, "shw");
    s.id = id;
    s.ends_at = tix_show_end(in.starts_at, m.duration_minutes, r->app->cfg.show_buffer_s * 1000);
    s.created_at = tix_now_ms();
    bool overlap = false;
    rc = insert_show(db, &s, prices, nprices, &overlap);
    if (overlap) {
        tix_reply_error(r, 409, "show_overlap",
                        "another show in this hall overlaps that time (including cleaning time)",
                        NULL);
        return;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    reply_show(r, db, 201, id);
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
    const char *id = tix_req_param(r, "id");
    tix_show s;
    if (db == NULL) {
        return;
    }
    int64_t now = tix_now_ms();
    tix_rc rc = tix_show_get(db, r->arena, id, &s);
    rc = rc ? rc : tix_policy_can_modify(&r->auth, s.owner_id);
    if (rc == TIX_OK && s.ends_at <= now) {
        tix_reply_error(r, 409, "show_completed", "a completed show cannot be cancelled", NULL);
        return;
    }
    rc = rc ? rc : tix_show_cancel(db, id, now);
    bool already = rc == TIX_ECONFLICT;
    /* The show no longer sells (committed above); now every confirmed booking is cancelled
     * with a full refund. A crash in between leaves confirmed bookings of a cancelled show,
     * which the next cancel call picks up (before it answers 409): this is repeatable. */
    tix_booking_ctx c = {db, r->arena, &r->app->cfg, r->app->pay};
    if (rc == TIX_OK || already) {
        rc = tix_booking_show_cancelled(&c, id);
    }
    if (rc == TIX_OK && already) {
        tix_reply_error(r, 409, "show_cancelled", "the show is already cancelled", NULL);
        return;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
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

void tix_api_show_list(tix_req *r)
{
    tix_show_filter f;
    if (!read_show_filter(r, &f)) {
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_show *items = NULL;
    int n = 0;
    tix_rc rc = tix_show_list(db, r->arena, &f, &items, &n);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    int64_t now = tix_now_ms();
    json_t *list = json_array();
    for (int i = 0; i < n && i < f.limit; i++) {
        json_array_append_new(list, tix_view_show(&items[i], NULL, 0, now));
        /* a cached list (http/cached.h) lasts until a listed show starts or ends */
        int64_t edge = items[i].starts_at > now ? items[i].starts_at : items[i].ends_at;
        if (edge > now && (r->cache_until == 0 || edge < r->cache_until)) {
            r->cache_until = edge;
        }
    }
    const char *next = NULL;
    if (n > f.limit) {
        const tix_show *last = &items[f.limit - 1];
        next = tix_req_cursor_encode(
            r, tix_arena_sprintf(r->arena, "%lld:%s", (long long)last->starts_at, last->id));
    }
    tix_reply_json(r, 200, json_pack("{s:o,s:s?}", "items", list, "next_cursor", next));
}
