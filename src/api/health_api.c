/* Operations endpoints: /healthz (the process answers), /readyz (the database answers; the
 * cache's state is reported but does not decide: a server without Redis still serves every
 * request correctly, from the database), /metrics (Prometheus text). */
#include "api/handlers.h"
#include "app.h"
#include "cache/cache.h"
#include "core/util.h"
#include "http/answers.h"
#include "http/cached.h"
#include "http/sse.h"

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
    json_t *body = json_pack("{s:s,s:s,s:s}", "status", rc == TIX_OK ? "ready" : "unavailable",
                             "database", rc == TIX_OK ? "ok" : "down", "cache", cache);
    tix_cache_status cs;
    tix_cache_status_get(r->app->cache, &cs);
    json_object_set_new(body, "cache_state", json_string(cs.up ? "up" : "down"));
    if (!cs.up) {
        char since[TIX_RFC3339_MAX];
        tix_rfc3339(since, cs.down_since_ms);
        json_object_set_new(body, "cache_error", json_string(cs.error));
        json_object_set_new(body, "cache_down_since", json_string(since));
        json_object_set_new(body, "cache_pending_invalidations", json_integer(cs.pending));
    }
    if (rc != TIX_OK) {
        tix_reply_header(r, "Retry-After", "1");
    }
    tix_reply_json(r, rc == TIX_OK ? 200 : 503, body);
}

void tix_api_metrics(tix_req *r)
{
    tix_app *a = r->app;
    tix_cache_status cs;
    tix_cache_status_get(a->cache, &cs);
    r->status = 200;
    r->content_type = "text/plain; version=0.0.4";
    r->resp = tix_arena_sprintf(
        r->arena,
        "# TYPE ticketd_requests_total counter\nticketd_requests_total %llu\n"
        "# TYPE ticketd_responses_5xx_total counter\nticketd_responses_5xx_total %llu\n"
        "# TYPE ticketd_requests_in_flight gauge\nticketd_requests_in_flight %ld\n"
        "# TYPE ticketd_slow_clients_cut_total counter\nticketd_slow_clients_cut_total %llu\n"
        "# TYPE ticketd_overloaded_total counter\nticketd_overloaded_total %llu\n"
        "# TYPE ticketd_audit_write_failures_total counter\n"
        "ticketd_audit_write_failures_total %llu\n"
        "# TYPE ticketd_cache_hits_total counter\nticketd_cache_hits_total %llu\n"
        "# TYPE ticketd_cache_misses_total counter\nticketd_cache_misses_total %llu\n"
        "# TYPE ticketd_cache_errors_total counter\nticketd_cache_errors_total %llu\n"
        "# TYPE ticketd_cache_coalesced_total counter\nticketd_cache_coalesced_total %llu\n"
        "# TYPE ticketd_cache_inflates_total counter\nticketd_cache_inflates_total %llu\n"
        "# TYPE ticketd_cache_up gauge\nticketd_cache_up %d\n"
        "# TYPE ticketd_cache_bytes gauge\nticketd_cache_bytes %zu\n"
        "# TYPE ticketd_cache_answers_bytes gauge\nticketd_cache_answers_bytes %zu\n"
        "# TYPE ticketd_sse_streams gauge\nticketd_sse_streams %ld\n",
        (unsigned long long)atomic_load(&a->requests_total),
        (unsigned long long)atomic_load(&a->responses_5xx), (long)atomic_load(&a->inflight),
        (unsigned long long)atomic_load(&a->slow_clients_cut),
        (unsigned long long)atomic_load(&a->overloaded),
        (unsigned long long)atomic_load(&a->audit_failures),
        a->cache ? (unsigned long long)atomic_load(&a->cache->hits) : 0ULL,
        a->cache ? (unsigned long long)atomic_load(&a->cache->misses) : 0ULL,
        a->cache ? (unsigned long long)atomic_load(&a->cache->errors) : 0ULL,
        tix_cached_coalesced(), tix_cached_inflates(), cs.up ? 1 : 0, cs.bytes, tix_answers_bytes(),
        tix_sse_count(a->sse));
    unsigned long long replica = 0;
    unsigned long long primary = 0;
    tix_db_read_counts(a->db, &replica, &primary);
    /* with DATABASE_READ_URL: where the reads that may use a replica went (store/db.h) */
    r->resp = tix_arena_sprintf(r->arena,
                                "%s# TYPE ticketd_db_reads_total counter\n"
                                "ticketd_db_reads_total{on=\"replica\"} %llu\n"
                                "ticketd_db_reads_total{on=\"primary\"} %llu\n",
                                r->resp, replica, primary);
    r->resp_len = strlen(r->resp);
}
