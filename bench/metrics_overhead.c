/* The cost of the metrics on a request's path (issue 17): one latency observation
 * (tix_metrics_request) and one labelled counter (tix_metrics_add) per iteration, on 80 routes,
 * from 1 then 2 threads bumping the same series (the worst case: shared cache lines).
 * Build and run against the release library:
 *   gcc -O2 -Isrc bench/metrics_overhead.c build/libtixcore.a -lsodium -lcrypto -lpthread \
 *       -o /tmp/metrics_overhead && /tmp/metrics_overhead
 * Results: bench/results/2026-12-06-metrics.txt. */
#include "core/metrics.h"
#include "core/util.h"

#include <pthread.h>
#include <stdio.h>
static const int routes[80];
enum { N = 5000000 };
static void *work(void *arg)
{
    (void)arg;
    for (int i = 0; i < N; i++) {
        tix_metrics_request(&routes[i % 80], "GET", "/x", 200, i % 5000);
        tix_metrics_add(TIX_M_HOLDS, "placed", 1);
    }
    return NULL;
}
int main(void)
{
    for (int th = 1; th <= 2; th++) {
        pthread_t t[2];
        int64_t t0 = tix_mono_us();
        for (int i = 0; i < th; i++)
            pthread_create(&t[i], NULL, work, NULL);
        for (int i = 0; i < th; i++)
            pthread_join(t[i], NULL);
        int64_t us = tix_mono_us() - t0;
        printf("%d thread(s): %.1f ns per request (histogram observe + labelled counter add)\n", th,
               us * 1000.0 / N);
    }
    return 0;
}
