/* Operations endpoints: /healthz (the process answers), /readyz (the database answers),
 * /metrics (Prometheus text). */
#include "api/handlers.h"
#include "app.h"

#include <stdio.h>
#include <string.h>

void tix_api_healthz(tix_req *r)
{
    tix_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

void tix_api_readyz(tix_req *r)
{
    tix_db *db = NULL;
    tix_rc rc = tix_db_acquire(r->app->db, &db);
    if (rc == TIX_OK) {
        r->db = db; /* released after the reply */
        rc = tix_db_ping(db);
    }
    const char *cache = r->app->cfg.redis_url[0] ? "redis" : "in-process";
    if (rc != TIX_OK) {
        tix_reply_header(r, "Retry-After", "1");
        tix_reply_json(r, 503,
                       json_pack("{s:s,s:s,s:s}", "status", "unavailable", "database", "down",
                                 "cache", cache));
        return;
    }
    tix_reply_json(r, 200,
                   json_pack("{s:s,s:s,s:s}", "status", "ready", "database", "ok", "cache", cache));
}

void tix_api_metrics(tix_req *r)
{
    tix_app *a = r->app;
    r->status = 200;
    r->content_type = "text/plain; version=0.0.4";
    r->resp = tix_arena_sprintf(
        r->arena,
        "# TYPE ticketd_requests_total counter\nticketd_requests_total %llu\n"
        "# TYPE ticketd_responses_5xx_total counter\nticketd_responses_5xx_total %llu\n"
        "# TYPE ticketd_requests_in_flight gauge\nticketd_requests_in_flight %ld\n"
        "# TYPE ticketd_slow_clients_cut_total counter\nticketd_slow_clients_cut_total %llu\n",
        (unsigned long long)atomic_load(&a->requests_total),
        (unsigned long long)atomic_load(&a->responses_5xx), (long)atomic_load(&a->inflight),
        (unsigned long long)atomic_load(&a->slow_clients_cut));
    r->resp_len = strlen(r->resp);
}
