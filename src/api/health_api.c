/* Operations endpoints: /healthz (the process answers), /readyz (the database answers; the
 * cache's state is reported but does not decide: a server without Redis still serves every
 * request correctly, from the database), /metrics (Prometheus text 0.0.4: the app's counters,
 * core/metrics.h's histograms and business counters, and the backlogs of store/ops.h read at each
 * scrape; docs/architecture.md lists them and deploy/ holds the alerts and the dashboard). */
#include "api/handlers.h"
#include "app.h"
#include "cache/cache.h"
#include "core/metrics.h"
#include "core/util.h"
#include "http/answers.h"
#include "http/cached.h"
#include "http/sse.h"
#include "http/ws.h"
#include "store/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tix_api_healthz(tix_req *r)
{
    tix_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

void tix_api_readyz(tix_req *r)
{
    tix_db *db = NULL;
    tix_rc rc = tix_req_acquire(r, &db);
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

/* One unlabelled metric: HELP, TYPE, value. */
static void one(FILE *f, const char *type, const char *name, const char *help, unsigned long long v)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name, v);
}

/* The backlogs an alert watches (store/ops.h), read at every scrape; left out when the
 * database does not answer (ticketd_backlog_up says so). */
static void backlogs(tix_req *r, FILE *f)
{
    tix_ops_backlog b = {0};
    tix_db *db = NULL;
    tix_rc rc = tix_req_acquire(r, &db);
    if (rc == TIX_OK) {
        r->db = db; /* released after the reply */
        rc = tix_ops_backlog_get(db, r->arena, &b);
    }
    one(f, "gauge", "ticketd_backlog_up", "Whether the backlog counts below could be read.",
        rc == TIX_OK);
    if (rc != TIX_OK) {
        return;
    }
    one(f, "gauge", "ticketd_outbox_pending", "Outbox mail not sent yet (pending or sending).",
        (unsigned long long)b.outbox_pending);
    one(f, "gauge", "ticketd_outbox_failed", "Outbox mail given up on.",
        (unsigned long long)b.outbox_failed);
    fprintf(f,
            "# HELP ticketd_outbox_oldest_pending_timestamp_seconds When the oldest unsent mail "
            "was queued (0: none).\n"
            "# TYPE ticketd_outbox_oldest_pending_timestamp_seconds gauge\n"
            "ticketd_outbox_oldest_pending_timestamp_seconds %lld.%03lld\n",
            (long long)(b.outbox_oldest / 1000), (long long)(b.outbox_oldest % 1000));
    one(f, "gauge", "ticketd_refunds_pending", "Refunds not processed yet (pending or failed).",
        (unsigned long long)b.refunds_pending);
    fprintf(f,
            "# HELP ticketd_refunds_oldest_pending_timestamp_seconds When the oldest unprocessed "
            "refund was recorded (0: none).\n"
            "# TYPE ticketd_refunds_oldest_pending_timestamp_seconds gauge\n"
            "ticketd_refunds_oldest_pending_timestamp_seconds %lld.%03lld\n",
            (long long)(b.refunds_oldest / 1000), (long long)(b.refunds_oldest % 1000));
}

/* The app's counters (app.h). */
static void app_counters(const tix_app *a, FILE *f)
{
    one(f, "counter", "ticketd_requests_total", "Requests completed.",
        atomic_load(&a->requests_total));
    one(f, "counter", "ticketd_responses_5xx_total", "Requests answered with a 5xx status.",
        atomic_load(&a->responses_5xx));
    long inflight = atomic_load(&a->inflight);
    one(f, "gauge", "ticketd_requests_in_flight", "Requests between first byte and completion.",
        (unsigned long long)(inflight > 0 ? inflight : 0));
    one(f, "counter", "ticketd_slow_clients_cut_total",
        "Connections closed by the slow-client reaper.", atomic_load(&a->slow_clients_cut));
    one(f, "counter", "ticketd_overloaded_total",
        "Requests refused with 503 because the handler queue was full.",
        atomic_load(&a->overloaded));
    one(f, "counter", "ticketd_audit_write_failures_total", "Audit rows that could not be written.",
        atomic_load(&a->audit_failures));
}

/* The cache, the streams and the read pools. */
static void services(const tix_app *a, FILE *f)
{
    tix_cache_status cs;
    tix_cache_status_get(a->cache, &cs);
    one(f, "counter", "ticketd_cache_hits_total", "Cache lookups that found their entry.",
        a->cache ? atomic_load(&a->cache->hits) : 0ULL);
    one(f, "counter", "ticketd_cache_misses_total", "Cache lookups that found nothing.",
        a->cache ? atomic_load(&a->cache->misses) : 0ULL);
    one(f, "counter", "ticketd_cache_errors_total", "Cache operations that failed.",
        a->cache ? atomic_load(&a->cache->errors) : 0ULL);
    one(f, "counter", "ticketd_cache_coalesced_total",
        "Requests that waited for another's cached answer instead of running the handler.",
        tix_cached_coalesced());
    one(f, "counter", "ticketd_cache_stale_total",
        "Seat-map reads answered with the last answer while a build of it ran (SEATMAP_STALE).",
        tix_cached_stale());
    one(f, "counter", "ticketd_cache_inflates_total",
        "Cached gzip answers inflated for clients without gzip.", tix_cached_inflates());
    one(f, "gauge", "ticketd_cache_up", "Whether the cache (Redis or in-process) answers.",
        cs.up ? 1 : 0);
    one(f, "gauge", "ticketd_cache_redis", "Whether the cache is Redis (REDIS_URL set).",
        a->cfg.redis_url[0] ? 1 : 0);
    one(f, "gauge", "ticketd_cache_bytes", "Bytes held by the in-process cache.", cs.bytes);
    one(f, "gauge", "ticketd_cache_answers_bytes", "Bytes held by cached answers.",
        tix_answers_bytes());
    long sse = tix_sse_count(a->sse);
    long ws = a->ws ? tix_ws_count(a->ws) : 0;
    one(f, "gauge", "ticketd_sse_streams", "Server-sent event streams open.",
        (unsigned long long)(sse > 0 ? sse : 0));
    one(f, "gauge", "ticketd_websocket_connections", "WebSocket connections open.",
        (unsigned long long)(ws > 0 ? ws : 0));
    unsigned long long replica = 0;
    unsigned long long primary = 0;
    tix_db_read_counts(a->db, &replica, &primary);
    /* with DATABASE_READ_URL: where the reads that may use a replica went (store/db.h) */
    fprintf(f,
            "# HELP ticketd_db_reads_total Reads that may use a replica, by where they went.\n"
            "# TYPE ticketd_db_reads_total counter\n"
            "ticketd_db_reads_total{on=\"replica\"} %llu\n"
            "ticketd_db_reads_total{on=\"primary\"} %llu\n",
            replica, primary);
}

void tix_api_metrics(tix_req *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
        tix_reply_rc(r, TIX_ENOMEM);
        return;
    }
    app_counters(r->app, f);
    services(r->app, f);
    tix_metrics_write(f); /* latency histograms, business counters, jobs (core/metrics.h) */
    backlogs(r, f);
    fclose(f);
    r->resp = tix_arena_alloc(r->arena, len + 1);
    memcpy(r->resp, buf, len + 1);
    free(buf);
    r->resp_len = len;
    r->status = 200;
    r->content_type = "text/plain; version=0.0.4";
}
