/* Unit tests for core/metrics: histogram buckets and their cumulative exposition, labelled
 * counters (copied and sanitised values, the overflow series), route series keyed by pointer,
 * and counts from many threads at once that add up exactly; and core/log's per-thread request
 * id on log lines. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "core/log.h"
#include "core/metrics.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The exposition text (malloc'd; the caller frees). */
static char *exposition(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    tix_metrics_write(f);
    fclose(f);
    return buf;
}

static void assert_line(const char *text, const char *line)
{
    char want[512];
    snprintf(want, sizeof(want), "\n%s\n", line);
    if (strstr(text, want) == NULL) {
        fail_msg("line not found: %s\n--- in:\n%s", line, text);
    }
}

static void test_histogram_buckets_are_cumulative(void **state)
{
    (void)state;
    tix_histo h;
    memset(&h, 0, sizeof(h));
    tix_histo_observe_us(&h, 300);      /* <= 0.0005 */
    tix_histo_observe_us(&h, 500);      /* on the bound: still 0.0005 */
    tix_histo_observe_us(&h, 7000);     /* 0.01 */
    tix_histo_observe_us(&h, 99000000); /* past 30 s: +Inf only */
    tix_histo_observe_us(&h, -5);       /* a clock step back counts as 0 */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    tix_histo_write(f, "x_seconds", "a=\"b\"", &h);
    fclose(f);
    char *text = malloc(len + 2);
    assert_non_null(text);
    text[0] = '\n';
    memcpy(text + 1, buf, len + 1);
    assert_line(text, "x_seconds_bucket{a=\"b\",le=\"0.0005\"} 3");
    assert_line(text, "x_seconds_bucket{a=\"b\",le=\"0.005\"} 3");
    assert_line(text, "x_seconds_bucket{a=\"b\",le=\"0.01\"} 4");
    assert_line(text, "x_seconds_bucket{a=\"b\",le=\"30\"} 4");
    assert_line(text, "x_seconds_bucket{a=\"b\",le=\"+Inf\"} 5");
    assert_line(text, "x_seconds_sum{a=\"b\"} 99.007800");
    assert_line(text, "x_seconds_count{a=\"b\"} 5");
    free(text);
    free(buf);
}

static void test_labelled_counters(void **state)
{
    (void)state;
    tix_metrics_reset();
    tix_metrics_add(TIX_M_REVENUE, "INR", 25000);
    tix_metrics_add(TIX_M_REVENUE, "INR", 100);
    tix_metrics_add(TIX_M_REVENUE, "USD", 7);
    tix_metrics_add(TIX_M_HOLDS, "bad\"value\n{}", 1); /* cannot break the quoting */
    tix_metrics_add(TIX_M_HOLDS, NULL, 1);
    char *text = exposition();
    assert_line(text, "ticketd_revenue_minor_total{currency=\"INR\"} 25100");
    assert_line(text, "ticketd_revenue_minor_total{currency=\"USD\"} 7");
    assert_line(text, "ticketd_holds_total{outcome=\"bad_value___\"} 1");
    assert_line(text, "ticketd_holds_total{outcome=\"\"} 1");
    assert_line(text, "# TYPE ticketd_bookings_total counter");
    free(text);
    /* more values than the table holds: the rest go to "other", none is lost */
    char v[16];
    for (int i = 0; i < 100; i++) {
        snprintf(v, sizeof(v), "c%d", i);
        tix_metrics_add(TIX_M_CHECKINS, v, 1);
    }
    text = exposition();
    assert_line(text, "ticketd_checkins_total{outcome=\"c0\"} 1");
    assert_line(text, "ticketd_checkins_total{outcome=\"other\"} 36");
    free(text);
}

static void test_routes_and_jobs(void **state)
{
    (void)state;
    tix_metrics_reset();
    static const int route_a = 0;
    static const int route_b = 0;
    tix_metrics_request(&route_a, "GET", "/api/v1/shows/{id}", 200, 1200);
    tix_metrics_request(&route_a, "GET", "/api/v1/shows/{id}", 404, 300);
    tix_metrics_request(&route_b, "POST", "/api/v1/shows/{id}", 201, 300);
    tix_metrics_request(NULL, NULL, NULL, 404, 10);
    tix_metrics_request(NULL, NULL, NULL, 101, 10);
    tix_metrics_queue_wait("handlers", 40);
    tix_metrics_db_wait("primary", 2);
    tix_metrics_job_success("mail", 1765000000123);
    char *text = exposition();
    assert_line(text, "ticketd_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/"
                      "shows/{id}\",status=\"2xx\"} 1");
    assert_line(text, "ticketd_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/"
                      "shows/{id}\",status=\"4xx\"} 1");
    assert_line(text, "ticketd_http_request_duration_seconds_count{method=\"POST\",route=\"/api/"
                      "v1/shows/{id}\",status=\"2xx\"} 1");
    assert_line(text, "ticketd_http_request_duration_seconds_count{method=\"any\",route="
                      "\"unmatched\",status=\"1xx\"} 1");
    assert_line(text, "ticketd_handler_queue_wait_seconds_count{lane=\"handlers\"} 1");
    assert_line(text, "ticketd_db_pool_wait_seconds_bucket{pool=\"primary\",le=\"0.0005\"} 1");
    assert_line(text,
                "ticketd_job_last_success_timestamp_seconds{job_name=\"mail\"} 1765000000.123");
    assert_null(strstr(text, "status=\"3xx\"")); /* empty classes are not written */
    free(text);
}

enum { THREADS = 8, PER_THREAD = 20000 };

static void *hammer(void *arg)
{
    static const int routes[4];
    int id = *(int *)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        tix_metrics_request(&routes[i % 4], "GET", i % 4 == 0 ? "/a" : "/b", 200, i % 1000);
        tix_metrics_add(TIX_M_BOOKINGS, (i + id) % 2 ? "confirmed" : "pending_payment", 1);
    }
    return NULL;
}

/* Threads creating the same series at once and counting: every count lands, once. */
static void test_concurrent_counts_add_up(void **state)
{
    (void)state;
    tix_metrics_reset();
    pthread_t t[THREADS];
    int ids[THREADS];
    for (int i = 0; i < THREADS; i++) {
        ids[i] = i;
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &ids[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    char *text = exposition();
    char line[200];
    snprintf(line, sizeof(line), "ticketd_bookings_total{status=\"confirmed\"} %d",
             THREADS * PER_THREAD / 2);
    assert_line(text, line);
    snprintf(line, sizeof(line), "ticketd_bookings_total{status=\"pending_payment\"} %d",
             THREADS * PER_THREAD / 2);
    assert_line(text, line);
    /* four routes, each its own series (two share a pattern's text but not a key) */
    long total = 0;
    for (const char *p = text;
         (p = strstr(p, "ticketd_http_request_duration_seconds_count{")) != NULL; p++) {
        total += atol(strchr(p, '}') + 2);
    }
    assert_int_equal(total, THREADS * PER_THREAD);
    free(text);
}

/* The lines fn logs on stderr (read back through a pipe), into out. */
static void captured(void (*fn)(void), char *out, size_t cap)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    int saved = dup(STDERR_FILENO);
    dup2(p[1], STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(p[1]);
    ssize_t n = read(p[0], out, cap - 1);
    out[n > 0 ? n : 0] = '\0';
    close(p[0]);
}

static void log_with_id(void)
{
    tix_log_set_request_id("req-1.a_b");
    tix_log_info("inside %d", 1);
    tix_log_fields(TIX_LOG_INFO, "own", "\"rid\":\"given\",\"x\":1");
    tix_log_set_request_id("q\"uote");
    tix_log_info("escaped");
    tix_log_set_request_id(NULL);
    tix_log_info("outside");
}

static void *other_thread(void *arg)
{
    (void)arg;
    tix_log_info("other thread");
    return NULL;
}

static void log_across_threads(void)
{
    tix_log_set_request_id("mine");
    pthread_t t;
    pthread_create(&t, NULL, other_thread, NULL);
    pthread_join(t, NULL);
    tix_log_set_request_id("");
}

/* A thread's request id is on every line it logs while set, escaped, never twice, never on
 * another thread's lines, and gone once cleared. */
static void test_log_lines_carry_the_request_id(void **state)
{
    (void)state;
    char out[4096];
    captured(log_with_id, out, sizeof(out));
    assert_non_null(strstr(out, "\"msg\":\"inside 1\",\"rid\":\"req-1.a_b\"}"));
    assert_non_null(strstr(out, "\"msg\":\"own\",\"rid\":\"given\",\"x\":1}"));
    assert_non_null(strstr(out, "\"msg\":\"escaped\",\"rid\":\"q\\\"uote\"}"));
    assert_non_null(strstr(out, "\"msg\":\"outside\"}"));
    assert_null(tix_log_request_id());
    captured(log_across_threads, out, sizeof(out));
    assert_non_null(strstr(out, "\"msg\":\"other thread\"}"));
    assert_null(tix_log_request_id());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram_buckets_are_cumulative),
        cmocka_unit_test(test_labelled_counters),
        cmocka_unit_test(test_routes_and_jobs),
        cmocka_unit_test(test_concurrent_counts_add_up),
        cmocka_unit_test(test_log_lines_carry_the_request_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
