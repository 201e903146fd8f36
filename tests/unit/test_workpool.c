/* Unit tests for http/workpool: every job runs once, a full queue refuses, destroy runs what
 * is queued before it returns. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "http/workpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

static atomic_int ran;

static void count(void *arg)
{
    atomic_fetch_add(&ran, 1);
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void test_every_job_runs_once(void **state)
{
    (void)state;
    atomic_store(&ran, 0);
    tix_workpool *p = NULL;
    assert_int_equal(tix_workpool_create(4, 100000, &p), TIX_OK);
    static atomic_int hits[1000];
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 1000; i++) {
            assert_true(tix_workpool_submit(p, count, &hits[i]));
        }
    }
    tix_workpool_destroy(p); /* runs everything queued, then joins */
    assert_int_equal(atomic_load(&ran), 20000);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(atomic_load(&hits[i]), 20);
    }
}

/* A job that holds its thread until the test lets it go. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static atomic_int blocked;

static void wait_gate(void *arg)
{
    (void)arg;
    atomic_fetch_add(&blocked, 1);
    pthread_mutex_lock(&gate_mu);
    while (!gate_open) {
        pthread_cond_wait(&gate_cv, &gate_mu);
    }
    pthread_mutex_unlock(&gate_mu);
    atomic_fetch_add(&ran, 1);
}

static void test_full_queue_refuses_then_drains(void **state)
{
    (void)state;
    atomic_store(&ran, 0);
    atomic_store(&blocked, 0);
    gate_open = false;
    tix_workpool *p = NULL;
    assert_int_equal(tix_workpool_create(2, 3, &p), TIX_OK);
    assert_true(tix_workpool_submit(p, wait_gate, NULL));
    assert_true(tix_workpool_submit(p, wait_gate, NULL));
    while (atomic_load(&blocked) < 2) { /* both threads are now held */
        sched_yield();
    }
    for (int i = 0; i < 3; i++) {
        assert_true(tix_workpool_submit(p, wait_gate, NULL));
    }
    assert_false(tix_workpool_submit(p, wait_gate, NULL)); /* 3 queued: full */
    assert_int_equal(tix_workpool_pending(p), 5);
    pthread_mutex_lock(&gate_mu);
    gate_open = true;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
    tix_workpool_destroy(p);
    assert_int_equal(atomic_load(&ran), 5);
}

static void test_bad_sizes(void **state)
{
    (void)state;
    tix_workpool *p = NULL;
    assert_int_equal(tix_workpool_create(0, 10, &p), TIX_EINVAL);
    assert_int_equal(tix_workpool_create(2, 0, &p), TIX_EINVAL);
    tix_workpool_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_job_runs_once),
        cmocka_unit_test(test_full_queue_refuses_then_drains),
        cmocka_unit_test(test_bad_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
