/*
 * GET /me/recommendations (booking/reco.h has the models). The user's city is ?city= when
 * given, else the city of the theatre of their latest confirmed booking, else any city (a new
 * user with no booking and no city gets the most booked movies showing anywhere). ?limit= is
 * 1..TIX_RECO_LIMIT_MAX (default 10). The answer comes from the tables the `reco` job wrote,
 * so a booking confirmed now counts after the job's next run (JOB_INTERVAL_RECO), never during
 * this request.
 */
#include "api/catalog_views.h"
#include "api/handlers.h"
#include "app.h"
#include "booking/reco.h"
#include "catalog/show_time.h"
#include "core/util.h"
#include "http/query.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_LIMIT 10
#define CITY_MAX      100

static bool bad_parameter(tix_req *r, const char *name, const char *message)
{
    tix_reply_error(r, 400, "invalid_parameter", message, json_pack("{s:s}", "parameter", name));
    return false;
}

/* Reads ?limit= and ?city=; answers 400 and returns false on a bad one. */
static bool read_params(tix_req *r, int *limit, const char **city)
{
    if (!tix_req_query_only(r, "city limit")) {
        return false;
    }
    const char *l = tix_req_query(r, "limit");
    *limit = DEFAULT_LIMIT;
    if (l != NULL) {
        char *end = NULL;
        long v = strtol(l, &end, 10);
        if (end == l || *end != '\0' || v < 1 || v > TIX_RECO_LIMIT_MAX || strlen(l) > 3) {
            return bad_parameter(r, "limit", "limit must be an integer from 1 to 50");
        }
        *limit = (int)v;
    }
    *city = tix_req_query(r, "city");
    if (*city != NULL && strlen(*city) > CITY_MAX) {
        return bad_parameter(r, "city", "city must be at most 100 characters");
    }
    return true;
}

static json_t *view_reason(const tix_reco_answer *ans, const tix_reco_item *it)
{
    if (it->popular) {
        return json_string("popular");
    }
    json_t *since = json_array();
    for (int i = 0; i < it->nsince; i++) {
        const char *title = tix_reco_title(ans, it->since[i]);
        json_array_append_new(
            since, json_pack("{s:s,s:s}", "id", it->since[i], "title", title ? title : ""));
    }
    return json_pack("{s:o}", "because_you_booked", since);
}

void tix_api_me_recommendations(tix_req *r)
{
    int limit = DEFAULT_LIMIT;
    const char *city = NULL;
    if (!read_params(r, &limit, &city)) {
        return;
    }
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    char *city_lower = city ? tix_arena_strdup(r->arena, city) : NULL;
    for (char *p = city_lower; p && *p; p++) {
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + ('a' - 'A') : *p);
    }
    int64_t now = tix_now_ms();
    tix_reco_answer ans;
    tix_rc rc = tix_reco_for_user(db, r->arena, r->auth.user_id, city_lower, now,
                                  r->app->cfg.reco_window_ms, limit, &ans);
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    char today[11];
    tix_format_date(today, now);
    json_t *items = json_array();
    for (int i = 0; i < ans.n; i++) {
        tix_movie m;
        rc = tix_movie_get(db, r->arena, ans.items[i].movie_id, &m);
        if (rc == TIX_ENOTFOUND) {
            continue; /* deleted since the candidates were read */
        }
        if (rc != TIX_OK) {
            json_decref(items);
            tix_reply_rc(r, rc);
            return;
        }
        json_array_append_new(items, json_pack("{s:o,s:f,s:o}", "movie", tix_view_movie(&m, today),
                                               "score", ans.items[i].score, "reason",
                                               view_reason(&ans, &ans.items[i])));
    }
    tix_reply_json(r, 200,
                   json_pack("{s:o,s:o,s:I}", "items", items, "city",
                             ans.city ? json_string(ans.city) : json_null(), "window_seconds",
                             (json_int_t)(r->app->cfg.reco_window_ms / 1000)));
}
