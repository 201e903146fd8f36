/*
 * The resolvers of the GraphQL schema (api/graphql.h, graphql_int.h). Each one does what the
 * REST handler of the same resource does, with the same store and domain calls and the same
 * JSON views (catalog_views.h, views.h, tix_api_booking_view), and checks its arguments the way
 * that handler checks its query string; a refusal is tix_gql_fail with the REST error code.
 * No SQL here.
 *
 * Access: the catalogue is public, as over REST; `me` and the mutations need a caller (r->auth,
 * filled by the server from a valid bearer token on this public route); `me` shows only the
 * caller's own bookings, as GET /bookings does.
 */
#include "api/catalog_views.h"
#include "api/graphql_int.h"
#include "api/handlers.h"
#include "api/routes.h"
#include "api/views.h"
#include "catalog/show_time.h"
#include "core/util.h"
#include "http/audit.h"
#include "http/ratelimit.h"
#include "store/booking.h"
#include "store/catalog.h"
#include "store/users.h"

#include <string.h>

/* `first` (1 to 100, as ?limit=); false after tix_gql_fail. */
static bool first_of(tix_gql_ctx *c, json_t *args, int *limit)
{
    json_int_t n = json_integer_value(json_object_get(args, "first"));
    if (n < 1 || n > 100) {
        tix_gql_fail(c, "invalid_parameter", "first must be a whole number from 1 to 100");
        return false;
    }
    *limit = (int)n;
    return true;
}

static const char *arg_str(json_t *args, const char *name)
{
    return json_string_value(json_object_get(args, name));
}

static char *lower(tix_gql_ctx *c, const char *s)
{
    if (s == NULL) {
        return NULL;
    }
    char *k = tix_arena_strdup(c->a, s);
    for (char *p = k; *p; p++) {
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + ('a' - 'A') : *p);
    }
    return k;
}

json_t *tix_gqlr_movies(tix_gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    tix_movie_filter f;
    memset(&f, 0, sizeof f);
    char today[11];
    const char *status = arg_str(args, "status");
    if (!first_of(c, args, &f.limit)) {
        return NULL;
    }
    if (status != NULL && strcmp(status, "upcoming") != 0 && strcmp(status, "released") != 0 &&
        strcmp(status, "all") != 0) {
        return tix_gql_fail(c, "invalid_parameter", "status must be upcoming, released or all");
    }
    tix_format_date(today, tix_now_ms());
    f.today = today;
    f.release = status && strcmp(status, "all") != 0 ? status : NULL;
    const char *q = arg_str(args, "q");
    if (q != NULL && tix_utf8_len(q) > 200) { /* characters, as GET /movies */
        return tix_gql_fail(c, "invalid_parameter", "q is too long");
    }
    f.q_like = q && *q ? tix_api_like_pattern(c->r, q) : NULL;
    f.genre = lower(c, arg_str(args, "genre"));
    f.language = lower(c, arg_str(args, "language"));
    f.include_inactive = c->r->auth.authenticated && c->r->auth.role == TIX_ROLE_ADMIN;
    tix_db *db = tix_gql_db(c);
    tix_movie *items = NULL;
    int n = 0;
    tix_rc rc = db ? tix_movie_list(db, c->a, &f, &items, &n) : TIX_EUNAVAIL;
    if (rc != TIX_OK) {
        return db ? tix_gql_fail_rc(c, rc) : NULL;
    }
    json_t *list = json_array();
    for (int i = 0; i < n && i < f.limit; i++) {
        json_array_append_new(list, tix_view_movie(&items[i], today));
    }
    return list;
}

json_t *tix_gqlr_movie(tix_gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    tix_db *db = tix_gql_db(c);
    if (db == NULL) {
        return NULL;
    }
    tix_movie m;
    tix_rc rc = tix_movie_get(db, c->a, arg_str(args, "id"), &m);
    if (rc != TIX_OK) {
        return tix_gql_fail_rc(c, rc);
    }
    char today[11];
    tix_format_date(today, tix_now_ms());
    return tix_view_movie(&m, today);
}

json_t *tix_gqlr_theatres(tix_gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    int limit = 0;
    if (!first_of(c, args, &limit)) {
        return NULL;
    }
    /* approved theatres only, for everyone, as GET /theatres */
    tix_theatre_filter f = {lower(c, arg_str(args, "city")), NULL, "approved", NULL, limit};
    tix_db *db = tix_gql_db(c);
    tix_theatre *items = NULL;
    int n = 0;
    tix_rc rc = db ? tix_theatre_list(db, c->a, &f, &items, &n) : TIX_EUNAVAIL;
    if (rc != TIX_OK) {
        return db ? tix_gql_fail_rc(c, rc) : NULL;
    }
    json_t *list = json_array();
    for (int i = 0; i < n && i < limit; i++) {
        json_array_append_new(list, tix_view_theatre(&items[i]));
    }
    return list;
}

json_t *tix_gqlr_shows(tix_gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    tix_show_filter f;
    memset(&f, 0, sizeof f);
    if (!first_of(c, args, &f.limit)) {
        return NULL;
    }
    const char *date = arg_str(args, "date");
    if (date != NULL && !tix_parse_date(date, &f.day_start_utc)) {
        return tix_gql_fail(c, "invalid_parameter", "date must be YYYY-MM-DD");
    }
    f.has_date = date != NULL;
    f.movie_id = arg_str(args, "movieId");
    f.city_lower = lower(c, arg_str(args, "city"));
    /* without a date, what is still to come or running; with one, the whole day (as REST) */
    int64_t now = tix_now_ms();
    f.ends_after = f.has_date ? 0 : now;
    tix_db *db = tix_gql_db(c);
    tix_show *items = NULL;
    int n = 0;
    tix_rc rc = db ? tix_show_list(db, c->a, &f, &items, &n) : TIX_EUNAVAIL;
    if (rc != TIX_OK) {
        return db ? tix_gql_fail_rc(c, rc) : NULL;
    }
    json_t *list = json_array();
    for (int i = 0; i < n && i < f.limit; i++) {
        json_array_append_new(list, tix_view_show(&items[i], NULL, 0, now));
    }
    return list;
}

json_t *tix_gqlr_show(tix_gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    tix_db *db = tix_gql_db(c);
    if (db == NULL) {
        return NULL;
    }
    tix_show s;
    tix_rc rc = tix_show_get(db, c->a, arg_str(args, "id"), &s);
    if (rc != TIX_OK) {
        return tix_gql_fail_rc(c, rc);
    }
    return tix_view_show(&s, NULL, 0, tix_now_ms());
}

/* The key the batch leaves the movie under in each show object. */
#define MOVIE_KEY "_gql_movie"

/* The distinct movie ids of the shows, arena array. */
static const char **movie_ids(tix_gql_ctx *c, json_t *shows, int *n)
{
    const char **ids = tix_arena_alloc(c->a, sizeof(char *) * (json_array_size(shows) + 1));
    json_t *seen = json_object();
    size_t i;
    json_t *show;
    *n = 0;
    json_array_foreach(shows, i, show)
    {
        const char *id = json_string_value(json_object_get(show, "movie_id"));
        if (id != NULL && json_object_get(seen, id) == NULL) {
            json_object_set_new(seen, id, json_true());
            ids[(*n)++] = id;
        }
    }
    json_decref(seen);
    return ids;
}

/* Show.movie for a whole list of shows: one store call for all their movies (one per
 * TIX_MOVIE_GET_MANY_MAX distinct movies: a page of 100 shows of 100 films takes two). */
void tix_gqlb_show_movie(tix_gql_ctx *c, json_t *parents, json_t *args)
{
    (void)args;
    tix_db *db = tix_gql_db(c);
    if (db == NULL) {
        c->fail_code = NULL; /* each show's resolver reports it */
        return;
    }
    int nids = 0;
    const char **ids = movie_ids(c, parents, &nids);
    char today[11];
    tix_format_date(today, tix_now_ms());
    json_t *by_id = json_object();
    for (int from = 0; from < nids; from += TIX_MOVIE_GET_MANY_MAX) {
        int k = nids - from < TIX_MOVIE_GET_MANY_MAX ? nids - from : TIX_MOVIE_GET_MANY_MAX;
        tix_movie *movies = NULL;
        int n = 0;
        if (tix_movie_get_many(db, c->a, ids + from, k, &movies, &n) != TIX_OK) {
            json_decref(by_id);
            return; /* each show's resolver reads its movie alone */
        }
        for (int i = 0; i < n; i++) {
            json_object_set_new(by_id, movies[i].id, tix_view_movie(&movies[i], today));
        }
    }
    size_t i;
    json_t *show;
    json_array_foreach(parents, i, show)
    {
        json_t *m = json_object_get(by_id, json_string_value(json_object_get(show, "movie_id")));
        json_object_set(show, MOVIE_KEY, m != NULL ? m : json_null());
    }
    json_decref(by_id);
}

json_t *tix_gqlr_show_movie(tix_gql_ctx *c, json_t *parent, json_t *args)
{
    (void)args;
    json_t *m = json_object_get(parent, MOVIE_KEY);
    json_t *own = NULL;
    if (m == NULL) { /* a single show (no list ran the batch), or the batch failed */
        tix_db *db = tix_gql_db(c);
        tix_movie mv;
        const char *id = json_string_value(json_object_get(parent, "movie_id"));
        char today[11];
        tix_format_date(today, tix_now_ms());
        if (db != NULL && id != NULL && tix_movie_get(db, c->a, id, &mv) == TIX_OK) {
            m = own = tix_view_movie(&mv, today);
        }
    }
    if (own != NULL) {
        return own;
    }
    if (m == NULL || json_is_null(m)) {
        return c->db == NULL ? tix_gql_fail(c, "unavailable", "a dependency is unavailable")
                             : tix_gql_fail(c, "not_found", "the show's movie is gone");
    }
    return json_incref(m);
}

static json_t *money(json_int_t amount, const char *currency)
{
    return json_pack("{s:I,s:s}", "amount", amount, "currency", currency ? currency : "");
}

json_t *tix_gqlr_show_prices(tix_gql_ctx *c, json_t *parent, json_t *args)
{
    (void)args;
    tix_db *db = tix_gql_db(c);
    if (db == NULL) {
        return NULL;
    }
    tix_show_price *prices = NULL;
    int n = 0;
    const char *currency = json_string_value(json_object_get(parent, "currency"));
    tix_rc rc =
        tix_show_prices(db, c->a, json_string_value(json_object_get(parent, "id")), &prices, &n);
    if (rc != TIX_OK) {
        return tix_gql_fail_rc(c, rc);
    }
    json_t *list = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(list, json_pack("{s:s,s:o}", "category", prices[i].category, "price",
                                              money(prices[i].amount, currency)));
    }
    return list;
}

/* The seat map of GET /shows/{id}/seats: the same store read and status rule. */
json_t *tix_gqlr_show_seats(tix_gql_ctx *c, json_t *parent, json_t *args)
{
    (void)args;
    tix_db *db = tix_gql_db(c);
    if (db == NULL) {
        return NULL;
    }
    tix_map_seat *seats = NULL;
    int n = 0;
    const char *currency = json_string_value(json_object_get(parent, "currency"));
    tix_rc rc = tix_seatmap_load(db, c->a, json_string_value(json_object_get(parent, "id")),
                                 json_string_value(json_object_get(parent, "hall_id")),
                                 tix_now_ms(), &seats, &n);
    if (rc != TIX_OK) {
        return tix_gql_fail_rc(c, rc);
    }
    json_t *list = json_array();
    for (int i = 0; i < n; i++) {
        const tix_map_seat *s = &seats[i];
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:s,s:o,s:s}", "id", s->id,
                                              "label", s->label, "row", s->row, "number", s->number,
                                              "x", s->x, "y", s->y, "category", s->category,
                                              "price", money(s->price < 0 ? 0 : s->price, currency),
                                              "status", tix_api_seat_status(s)));
    }
    return list;
}

json_t *tix_gqlr_total(tix_gql_ctx *c, json_t *parent, json_t *args)
{
    (void)c;
    (void)args;
    return money(json_integer_value(json_object_get(parent, "amount")),
                 json_string_value(json_object_get(parent, "currency")));
}

json_t *tix_gqlr_me(tix_gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    (void)args;
    if (!c->r->auth.authenticated) {
        return tix_gql_fail(c, "unauthorized", "authentication required");
    }
    tix_db *db = tix_gql_db(c);
    if (db == NULL) {
        return NULL;
    }
    tix_user u;
    tix_rc rc = tix_user_by_id(db, c->r->auth.user_id, &u);
    if (rc == TIX_ENOTFOUND) {
        return tix_gql_fail(c, "invalid_token", "the account no longer exists");
    }
    return rc == TIX_OK ? tix_view_user(&u) : tix_gql_fail_rc(c, rc);
}

/* A booking view with each seat's price as Money. */
static json_t *booking_json(tix_gql_ctx *c, tix_db *db, const tix_booking *b)
{
    json_t *j = tix_api_booking_view(c->r, db, b, false);
    const char *currency = json_string_value(json_object_get(j, "currency"));
    size_t i;
    json_t *seat;
    json_array_foreach(json_object_get(j, "seats"), i, seat)
    {
        json_object_set_new(seat, "price",
                            money(json_integer_value(json_object_get(seat, "price")), currency));
    }
    return j;
}

/* The caller's own bookings (parent is the caller: `me`), as GET /bookings. */
json_t *tix_gqlr_user_bookings(tix_gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    int limit = 0;
    if (!first_of(c, args, &limit)) {
        return NULL;
    }
    tix_db *db = tix_gql_db(c);
    if (db == NULL) {
        return NULL;
    }
    tix_booking *items = NULL;
    int n = 0;
    tix_booking_filter f = {.user_id = c->r->auth.user_id, .limit = limit};
    tix_rc rc = tix_booking_list(db, c->a, &f, &items, &n);
    if (rc != TIX_OK) {
        return tix_gql_fail_rc(c, rc);
    }
    json_t *list = json_array();
    for (int i = 0; i < n && i < limit; i++) {
        json_array_append_new(list, booking_json(c, db, &items[i]));
    }
    return list;
}

/* ---- mutations ----
 *
 * A mutation runs the REST handler of the same write as a sub-request of this one: a copy of the
 * request with the argument as its path parameter, the arguments as its JSON body and a fresh
 * answer, on the same arena, caller and database connection. So a mutation takes exactly the
 * REST route's checks, rules, transaction and errors (a refusal's code and message become the
 * GraphQL error's), its rate limit (the route's RL flags, http/ratelimit.h) and its audit row
 * (tix_audit_record on the sub-request: the REST route's action, target and policy, so an
 * owner's or admin's write is in the trail whichever door it came through). What it does not
 * share: the Idempotency-Key, which guards the whole GraphQL request instead (graphql_api.c).
 */

/* The route of handler h (the route table is the one place that binds them). */
static const tix_route *route_of(tix_handler h)
{
    for (size_t i = 0; i < tix_routes_count; i++) {
        if (tix_routes[i].handler == h) {
            return &tix_routes[i];
        }
    }
    return NULL;
}

/* Runs REST handler h as a sub-request: path parameter "id" = id (may be NULL), body (stolen,
 * may be NULL). The answer's JSON (new reference; json_true() for a 204), or NULL after
 * tix_gql_fail with the answer's error code and message. */
static json_t *rest_call(tix_gql_ctx *c, tix_handler h, const char *id, json_t *body)
{
    tix_req *r = c->r;
    tix_req *sub = tix_arena_alloc(c->a, sizeof *sub);
    memcpy(sub, r, sizeof *sub);
    sub->route = route_of(h);
    sub->json = body;
    sub->body = NULL;
    sub->body_len = 0;
    sub->idem = NULL;
    sub->status = 0;
    sub->resp = NULL;
    sub->resp_len = 0;
    sub->content_type = NULL;
    sub->resp_encoding = NULL;
    sub->resp_ref = NULL;
    sub->cache_until = 0;
    sub->cached = NULL;
    sub->error_code = NULL;
    sub->nheaders = 0;
    sub->match.nparams = 0;
    if (id != NULL) {
        sub->match.nparams = 1;
        sub->match.names[0] = (tix_slice){"id", 2};
        sub->match.values[0] = (tix_slice){id, strlen(id)};
    }
    tix_rl_ticket rl;
    memset(&rl, 0, sizeof rl);
    if (sub->route != NULL && tix_ratelimit_admit(sub, &rl)) {
        h(sub);
        tix_ratelimit_done(sub, &rl);
    }
    if (sub->route != NULL) {
        tix_audit_record(sub); /* as the server does after a REST handler (http/audit.h) */
    }
    json_decref(sub->json);
    /* the connection the handler took is the request's: released once, after the reply */
    r->db = sub->db;
    r->rdb = sub->rdb;
    c->db = r->db;
    json_error_t jerr;
    json_t *answer = sub->resp != NULL && sub->resp_len > 0
                         ? json_loadb(sub->resp, sub->resp_len, 0, &jerr)
                         : NULL;
    if (sub->status >= 200 && sub->status < 300) {
        return answer != NULL ? answer : json_true();
    }
    json_t *e = json_object_get(answer, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    tix_gql_fail(c, tix_arena_strdup(c->a, code ? code : "internal"),
                 tix_arena_strdup(c->a, msg ? msg : "internal error"));
    json_decref(answer);
    return NULL;
}

/* Each seat's price of a booking or hold view as Money. */
static void seat_money(json_t *view)
{
    const char *currency = json_string_value(json_object_get(view, "currency"));
    size_t i;
    json_t *seat;
    json_array_foreach(json_object_get(view, "seats"), i, seat)
    {
        json_object_set_new(seat, "price",
                            money(json_integer_value(json_object_get(seat, "price")), currency));
    }
}

static bool needs_caller(tix_gql_ctx *c)
{
    if (!c->r->auth.authenticated) {
        tix_gql_fail(c, "unauthorized", "authentication required");
        return false;
    }
    return true;
}

/* hold(showId, seatIds | quantity, category): POST /shows/{id}/holds. */
json_t *tix_gqlr_hold(tix_gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    if (!needs_caller(c)) {
        return NULL;
    }
    json_t *body = json_object();
    const char *names[][2] = {
        {"seatIds", "seat_ids"}, {"quantity", "quantity"}, {"category", "category"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        json_t *v = json_object_get(args, names[i][0]);
        if (v != NULL && !json_is_null(v)) {
            json_object_set(body, names[i][1], v);
        }
    }
    json_t *h = rest_call(c, tix_api_hold_create, arg_str(args, "showId"), body);
    if (h != NULL) {
        seat_money(h);
    }
    return h;
}

/* releaseHold(id): DELETE /holds/{id}. */
json_t *tix_gqlr_release_hold(tix_gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    if (!needs_caller(c)) {
        return NULL;
    }
    json_t *done = rest_call(c, tix_api_hold_delete, arg_str(args, "id"), NULL);
    if (done == NULL) {
        return NULL;
    }
    json_decref(done);
    return json_true();
}

/* book(holdId): POST /bookings {hold_id}. */
json_t *tix_gqlr_book(tix_gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    if (!needs_caller(c)) {
        return NULL;
    }
    json_t *res = rest_call(c, tix_api_booking_create, NULL,
                            json_pack("{s:s}", "hold_id", arg_str(args, "holdId")));
    if (res != NULL) {
        seat_money(json_object_get(res, "booking"));
    }
    return res;
}

/* cancelBooking(id): POST /bookings/{id}/cancel. */
json_t *tix_gqlr_cancel_booking(tix_gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    if (!needs_caller(c)) {
        return NULL;
    }
    json_t *b = rest_call(c, tix_api_booking_cancel, arg_str(args, "id"), NULL);
    if (b != NULL) {
        seat_money(b);
    }
    return b;
}
