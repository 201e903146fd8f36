/*
 * The process's Prometheus metrics (issue 17): histograms and labelled counters that any layer
 * may bump, written out by GET /metrics (api/health_api.c) in the text format 0.0.4.
 *
 * Hot path: every update is a relaxed atomic add on a counter that already exists; no lock is
 * ever taken to count. A labelled series is found by a lock-free probe (open addressing, the
 * key's slot claimed once by compare-and-swap), so the first request of a route or the first
 * booking in a currency costs one CAS, the others none. Tables are fixed in size: a series past
 * the table's room is counted in the family's overflow series (label value "other") and never
 * lost or allocated. Scrapes read while others count: each number is exact, a histogram's
 * buckets and its _count may differ by the observations in flight (Prometheus allows that).
 *
 * Everything is per process (each server is scraped); all state is static, zeroed at start and
 * never freed. Label values given as const char * must outlive the process (literals, the
 * route table) unless the call says it copies them.
 *
 * Names follow Prometheus conventions: ticketd_ prefix, base units (seconds, minor currency
 * units), _total on counters, _seconds on durations.
 */
#ifndef TIX_CORE_METRICS_H
#define TIX_CORE_METRICS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

/* Latency buckets in seconds: 0.5 ms to 30 s, then +Inf. */
#define TIX_HISTO_BUCKETS 15

typedef struct tix_histo {
    atomic_ullong bucket[TIX_HISTO_BUCKETS + 1]; /* not cumulative; the last is +Inf */
    atomic_ullong sum_us;
} tix_histo;

/* Counts one observation of us microseconds (negative counts as 0). */
void tix_histo_observe_us(tix_histo *h, int64_t us);

/* ---- the metrics every layer may bump ---- */

/* Request latency by route (method and the route table's pattern: a matched route's
 * tix_route, key = its address) and status class. route_key NULL: no route matched (404/405,
 * refused paths), labelled route="unmatched". */
void tix_metrics_request(const void *route_key, const char *method, const char *pattern,
                         unsigned status, int64_t us);
/* Time a request waited in the handler queue (http/workpool.h) before a thread took it;
 * lane: "handlers" or "reads" (static). */
void tix_metrics_queue_wait(const char *lane, int64_t us);
/* Time a caller waited for a database connection of the pool (store/db.c); pool: "primary" or
 * "replica" (static). */
void tix_metrics_db_wait(const char *pool, int64_t us);

/* Business counters, counted after the commit that makes them true. */
typedef enum tix_metric_counter {
    TIX_M_HOLDS, /* ticketd_holds_total{outcome}: placed, conflict, refused, error, released */
    /* ticketd_holds_early_total{path}: the holds of ticketd_holds_total's "conflict" refused
     * from the seat map's claims view (booking/early.h) without a hold transaction:
     * network_thread (before the handler queue: with the in-process cache only), handler (in
     * it: every other unkeyed one, and all of them with Redis) */
    TIX_M_HOLDS_EARLY,
    TIX_M_BOOKINGS,  /* ticketd_bookings_total{status}: the status a booking moved into */
    TIX_M_REVENUE,   /* ticketd_revenue_minor_total{currency}: confirmed bookings' amounts */
    TIX_M_REFUNDS,   /* ticketd_refunds_total{outcome}: answers of refund calls to the provider */
    TIX_M_CHECKINS,  /* ticketd_checkins_total{outcome}: admitted, already_admitted, refused */
    TIX_M_MAIL,      /* ticketd_mail_total{outcome}: sent, retry, failed (the mail job) */
    TIX_M_JOB_RUNS,  /* ticketd_job_runs_total{job_name}: job runs that ended, success or not */
    TIX_M_JOB_FAILS, /* ticketd_job_failures_total{job_name}: job runs that failed */
    /* ticketd_seat_layout_reads_total{source}: seat-map loads by where the hall's seats came
     * from: cache (this process's copy, its version checked) or database (store/seatmap.c) */
    TIX_M_SEAT_LAYOUTS,
    TIX_M_FAMILIES /* how many */
} tix_metric_counter;

/* Adds by to the series of counter c with the label value v, copied (at most 31 bytes; bytes
 * outside [A-Za-z0-9_.-] become '_', so no value can break the exposition's quoting). */
void tix_metrics_add(tix_metric_counter c, const char *v, uint64_t by);

/* The last time job (static name) ended a run successfully, ms since the epoch:
 * ticketd_job_last_success_timestamp_seconds{job_name}. The jobs' label is job_name, not job:
 * Prometheus sets "job" on every scraped series (the scrape job) and would rename ours. */
void tix_metrics_job_success(const char *job, int64_t at_ms);

/* Writes every metric above in the text format 0.0.4 (HELP and TYPE lines, then series). */
void tix_metrics_write(FILE *out);

/* Writes one histogram series: name_bucket{labels,le=...} cumulative, _sum, _count. labels is
 * a ready label list ("route=\"/x\"") or "". */
void tix_histo_write(FILE *out, const char *name, const char *labels, const tix_histo *h);

/* Forgets every series (tests only; not while others count). */
void tix_metrics_reset(void);

#endif
