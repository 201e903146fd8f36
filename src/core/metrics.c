/* Process metrics (see metrics.h): fixed tables of atomic counters, found by lock-free probes. */
#include "core/metrics.h"

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Upper bounds of the buckets, in microseconds and as written in le="...". */
static const int64_t bound_us[TIX_HISTO_BUCKETS] = {500,     1000,    2500,    5000,     10000,
                                                    25000,   50000,   100000,  250000,   500000,
                                                    1000000, 2500000, 5000000, 10000000, 30000000};
static const char *const bound_text[TIX_HISTO_BUCKETS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25",   "0.5",   "1",      "2.5",   "5",    "10",    "30"};

void tix_histo_observe_us(tix_histo *h, int64_t us)
{
    us = us < 0 ? 0 : us;
    int i = 0;
    while (i < TIX_HISTO_BUCKETS && us > bound_us[i]) {
        i++;
    }
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (unsigned long long)us, memory_order_relaxed);
}

void tix_histo_write(FILE *out, const char *name, const char *labels, const tix_histo *h)
{
    unsigned long long cum = 0;
    const char *sep = labels[0] ? "," : "";
    for (int i = 0; i <= TIX_HISTO_BUCKETS; i++) {
        cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        fprintf(out, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep,
                i < TIX_HISTO_BUCKETS ? bound_text[i] : "+Inf", cum);
    }
    unsigned long long sum = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
    const char *open = labels[0] ? "{" : "";
    const char *close = labels[0] ? "}" : "";
    fprintf(out, "%s_sum%s%s%s %llu.%06llu\n", name, open, labels, close, sum / 1000000ULL,
            sum % 1000000ULL);
    fprintf(out, "%s_count%s%s%s %llu\n", name, open, labels, close, cum);
}

/* ---- slots keyed by a pointer (routes, queue lanes, pools, jobs) ---- */

enum { SLOT_EMPTY = 0, SLOT_CLAIMING = 1, SLOT_READY = 2 };

static size_t ptr_hash(const void *p)
{
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 17;
    x *= 0xed5ad4bbU;
    x ^= x >> 11;
    return (size_t)x;
}

/* Every slot begins so; claimed once by compare-and-swap, ready once its key (and whatever
 * fill writes) is in place. */
typedef struct slot_head {
    atomic_int state;
    const void *key;
} slot_head;

typedef void slot_fill(slot_head *slot, const void *ctx);

/* The slot of key in table (n slots of stride bytes, n a power of two, each beginning with a
 * slot_head), claimed if new: fill(slot, ctx) runs once, before the slot is ready. NULL when
 * the table is full. */
static slot_head *find_slot(void *table, size_t stride, size_t n, const void *key, slot_fill *fill,
                            const void *ctx)
{
    size_t i = ptr_hash(key) & (n - 1);
    for (size_t k = 0; k < n; k++, i = (i + 1) & (n - 1)) {
        slot_head *s = (slot_head *)((char *)table + i * stride);
        int st = atomic_load_explicit(&s->state, memory_order_acquire);
        if (st == SLOT_EMPTY) {
            int want = SLOT_EMPTY;
            if (atomic_compare_exchange_strong(&s->state, &want, SLOT_CLAIMING)) {
                s->key = key;
                if (fill != NULL) {
                    fill(s, ctx);
                }
                atomic_store_explicit(&s->state, SLOT_READY, memory_order_release);
                return s;
            }
            st = want;
        }
        while (st == SLOT_CLAIMING) { /* another thread is writing the key: a moment */
            sched_yield();
            st = atomic_load_explicit(&s->state, memory_order_acquire);
        }
        if (s->key == key) {
            return s;
        }
    }
    return NULL;
}

#define ROUTE_SLOTS 256 /* a power of two; the route table has about 80 routes */
#define CLASSES     5   /* 1xx .. 5xx */

typedef struct route_slot {
    slot_head h;
    const char *method;
    const char *pattern;
    tix_histo by_class[CLASSES];
} route_slot;

static route_slot routes[ROUTE_SLOTS];
static route_slot unmatched; /* key NULL, and the overflow of a full table */

typedef struct route_names {
    const char *method;
    const char *pattern;
} route_names;

static void fill_route(slot_head *slot, const void *ctx)
{
    route_slot *s = (route_slot *)slot;
    const route_names *names = ctx;
    s->method = names->method;
    s->pattern = names->pattern;
}

void tix_metrics_request(const void *route_key, const char *method, const char *pattern,
                         unsigned status, int64_t us)
{
    route_slot *s = NULL;
    if (route_key != NULL) {
        route_names names = {method, pattern};
        s = (route_slot *)find_slot(routes, sizeof(routes[0]), ROUTE_SLOTS, route_key, fill_route,
                                    &names);
    }
    if (s == NULL) {
        s = &unmatched;
    }
    int cls = (int)(status / 100) - 1;
    cls = cls < 0 ? 0 : (cls >= CLASSES ? CLASSES - 1 : cls);
    tix_histo_observe_us(&s->by_class[cls], us);
}

typedef struct named_histo {
    slot_head head; /* key: the static name */
    tix_histo h;
} named_histo;

#define NAMED_SLOTS 8

static named_histo queue_waits[NAMED_SLOTS];
static named_histo db_waits[NAMED_SLOTS];

static void observe_named(named_histo *table, const char *name, int64_t us)
{
    named_histo *s =
        (named_histo *)find_slot(table, sizeof(table[0]), NAMED_SLOTS, name, NULL, NULL);
    if (s != NULL) {
        tix_histo_observe_us(&s->h, us);
    }
}

void tix_metrics_queue_wait(const char *lane, int64_t us)
{
    observe_named(queue_waits, lane, us);
}

void tix_metrics_db_wait(const char *pool, int64_t us)
{
    observe_named(db_waits, pool, us);
}

typedef struct job_slot {
    slot_head head; /* key: the static job name */
    atomic_llong last_ms;
} job_slot;

#define JOB_SLOTS 32

static job_slot jobs[JOB_SLOTS];

void tix_metrics_job_success(const char *job, int64_t at_ms)
{
    job_slot *s = (job_slot *)find_slot(jobs, sizeof(jobs[0]), JOB_SLOTS, job, NULL, NULL);
    if (s != NULL) {
        atomic_store_explicit(&s->last_ms, at_ms, memory_order_relaxed);
    }
}

/* ---- labelled counters keyed by a copied text ---- */

#define VALUE_MAX     32
#define VALUE_SLOTS   64 /* a power of two */
#define OVERFLOW_SLOT VALUE_SLOTS

typedef struct value_slot {
    atomic_int state;
    uint64_t hash;
    char value[VALUE_MAX];
    atomic_ullong n;
} value_slot;

typedef struct family {
    const char *name;
    const char *label;
    const char *help;
    value_slot slot[VALUE_SLOTS + 1]; /* + the overflow series, label value "other" */
} family;

static family families[TIX_M_FAMILIES] = {
    [TIX_M_HOLDS] = {"ticketd_holds_total", "outcome", "Hold requests by outcome.", {{0}}},
    [TIX_M_HOLDS_EARLY] = {"ticketd_holds_early_total",
                           "path",
                           "Hold requests refused from the current seat map without a hold "
                           "transaction, by where (counted in ticketd_holds_total too).",
                           {{0}}},
    [TIX_M_BOOKINGS] = {"ticketd_bookings_total",
                        "status",
                        "Bookings by the status they moved into.",
                        {{0}}},
    [TIX_M_REVENUE] = {"ticketd_revenue_minor_total",
                       "currency",
                       "Amounts of confirmed bookings, in minor units of their currency.",
                       {{0}}},
    [TIX_M_REFUNDS] = {"ticketd_refunds_total",
                       "outcome",
                       "Refund calls to the payment provider by outcome.",
                       {{0}}},
    [TIX_M_CHECKINS] = {"ticketd_checkins_total",
                        "outcome",
                        "Ticket scans at the door by outcome.",
                        {{0}}},
    [TIX_M_MAIL] = {"ticketd_mail_total", "outcome", "Outbox mail attempts by outcome.", {{0}}},
    [TIX_M_JOB_RUNS] = {"ticketd_job_runs_total",
                        "job_name",
                        "Lifecycle job runs that ended.",
                        {{0}}},
    [TIX_M_JOB_FAILS] = {"ticketd_job_failures_total",
                         "job_name",
                         "Lifecycle job runs that failed.",
                         {{0}}},
    [TIX_M_SEAT_LAYOUTS] = {"ticketd_seat_layout_reads_total",
                            "source",
                            "Seat-map loads by where the hall's seats came from: this process's "
                            "cached copy (its version checked) or the database.",
                            {{0}}},
};

static uint64_t text_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return h | 1; /* never 0 */
}

void tix_metrics_add(tix_metric_counter c, const char *v, uint64_t by)
{
    if ((unsigned)c >= TIX_M_FAMILIES) {
        return;
    }
    char clean[VALUE_MAX];
    size_t n = 0;
    for (; v != NULL && v[n] && n < VALUE_MAX - 1; n++) {
        char ch = v[n];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
        clean[n] = (char)(ok ? ch : '_');
    }
    clean[n] = '\0';
    family *f = &families[c];
    uint64_t h = text_hash(clean);
    value_slot *hit = &f->slot[OVERFLOW_SLOT];
    size_t i = (size_t)h & (VALUE_SLOTS - 1);
    for (size_t k = 0; k < VALUE_SLOTS; k++, i = (i + 1) & (VALUE_SLOTS - 1)) {
        value_slot *s = &f->slot[i];
        int st = atomic_load_explicit(&s->state, memory_order_acquire);
        if (st == SLOT_EMPTY) {
            int want = SLOT_EMPTY;
            if (atomic_compare_exchange_strong(&s->state, &want, SLOT_CLAIMING)) {
                memcpy(s->value, clean, n + 1);
                s->hash = h;
                atomic_store_explicit(&s->state, SLOT_READY, memory_order_release);
                hit = s;
                break;
            }
            st = want;
        }
        while (st == SLOT_CLAIMING) {
            sched_yield();
            st = atomic_load_explicit(&s->state, memory_order_acquire);
        }
        if (s->hash == h && strcmp(s->value, clean) == 0) {
            hit = s;
            break;
        }
    }
    atomic_fetch_add_explicit(&hit->n, by, memory_order_relaxed);
}

/* ---- exposition ---- */

static const char *const class_text[CLASSES] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

/* A route pattern as a label value: patterns hold no quote, backslash or newline, but the
 * format is kept whatever a table says. */
static void label_value(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (; s != NULL && *s && o + 3 < cap; s++) {
        if (*s == '"' || *s == '\\') {
            out[o++] = '\\';
            out[o++] = *s;
        } else if (*s == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

static void write_route(FILE *out, const route_slot *s, const char *method, const char *pattern)
{
    char m[32];
    char p[256];
    char labels[400];
    label_value(m, sizeof(m), method);
    label_value(p, sizeof(p), pattern);
    for (int c = 0; c < CLASSES; c++) {
        bool any = false;
        for (int b = 0; b <= TIX_HISTO_BUCKETS && !any; b++) {
            any = atomic_load_explicit(&s->by_class[c].bucket[b], memory_order_relaxed) != 0;
        }
        if (any) {
            snprintf(labels, sizeof(labels), "method=\"%s\",route=\"%s\",status=\"%s\"", m, p,
                     class_text[c]);
            tix_histo_write(out, "ticketd_http_request_duration_seconds", labels, &s->by_class[c]);
        }
    }
}

static void write_named(FILE *out, const char *name, const char *label, const char *help,
                        const named_histo *table)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    char labels[96];
    for (int i = 0; i < NAMED_SLOTS; i++) {
        if (atomic_load_explicit(&table[i].head.state, memory_order_acquire) == SLOT_READY) {
            snprintf(labels, sizeof(labels), "%s=\"%s\"", label, (const char *)table[i].head.key);
            tix_histo_write(out, name, labels, &table[i].h);
        }
    }
}

void tix_metrics_write(FILE *out)
{
    fprintf(out, "# HELP ticketd_http_request_duration_seconds Time from a request's first byte "
                 "to its answer, by route pattern and status class.\n"
                 "# TYPE ticketd_http_request_duration_seconds histogram\n");
    for (int i = 0; i < ROUTE_SLOTS; i++) {
        if (atomic_load_explicit(&routes[i].h.state, memory_order_acquire) == SLOT_READY) {
            write_route(out, &routes[i], routes[i].method, routes[i].pattern);
        }
    }
    write_route(out, &unmatched, "any", "unmatched");
    write_named(out, "ticketd_handler_queue_wait_seconds", "lane",
                "Time requests waited in the handler queue before a thread took them.",
                queue_waits);
    write_named(out, "ticketd_db_pool_wait_seconds", "pool",
                "Time spent waiting for a database connection of the pool.", db_waits);
    for (int c = 0; c < TIX_M_FAMILIES; c++) {
        const family *f = &families[c];
        fprintf(out, "# HELP %s %s\n# TYPE %s counter\n", f->name, f->help, f->name);
        for (int i = 0; i <= VALUE_SLOTS; i++) {
            const value_slot *s = &f->slot[i];
            unsigned long long n = atomic_load_explicit(&s->n, memory_order_relaxed);
            bool ready = atomic_load_explicit(&s->state, memory_order_acquire) == SLOT_READY;
            if (ready || (i == OVERFLOW_SLOT && n > 0)) {
                fprintf(out, "%s{%s=\"%s\"} %llu\n", f->name, f->label,
                        i == OVERFLOW_SLOT ? "other" : s->value, n);
            }
        }
    }
    fprintf(out, "# HELP ticketd_job_last_success_timestamp_seconds When each lifecycle job last "
                 "ended a run successfully on this server.\n"
                 "# TYPE ticketd_job_last_success_timestamp_seconds gauge\n");
    for (int i = 0; i < JOB_SLOTS; i++) {
        if (atomic_load_explicit(&jobs[i].head.state, memory_order_acquire) == SLOT_READY) {
            long long ms = atomic_load_explicit(&jobs[i].last_ms, memory_order_relaxed);
            fprintf(out,
                    "ticketd_job_last_success_timestamp_seconds{job_name=\"%s\"} %lld.%03lld\n",
                    (const char *)jobs[i].head.key, ms / 1000, ms % 1000);
        }
    }
}

void tix_metrics_reset(void)
{
    memset(routes, 0, sizeof(routes));
    memset(&unmatched, 0, sizeof(unmatched));
    memset(queue_waits, 0, sizeof(queue_waits));
    memset(db_waits, 0, sizeof(db_waits));
    memset(jobs, 0, sizeof(jobs));
    for (int c = 0; c < TIX_M_FAMILIES; c++) {
        memset(families[c].slot, 0, sizeof(families[c].slot));
    }
}
