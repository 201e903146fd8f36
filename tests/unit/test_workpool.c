/* Unit tests for http/workpool: every job runs once, a full queue refuses, destroy runs what
 * is queued before it returns.
 *
 * No step depends on timing: the test thread never spins or sleeps waiting for the pool's
 * threads. It waits on a condition variable that each held job signals (it once spun on
 * sched_yield: under a load of 20+ on two cores the spinner competed for the CPU with the very
 * threads it waited for, and the run failed once), with a generous deadline that turns a pool
 * that never runs its jobs into a failure instead of a hang. */
/* cmocka needs these headers first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "http/workpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <time.h>

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
    assert_int_equal(tix_workpool_create(4, 100000, 0, &p), TIX_OK);
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

/* A job that holds its thread until the test lets it go; blocked (under gate_mu) counts the
 * jobs held, and held_cv tells the test each time one more is. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t held_cv = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static int blocked;

static void wait_gate(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate_mu);
    blocked++;
    pthread_cond_broadcast(&held_cv);
    while (!gate_open) {
        pthread_cond_wait(&gate_cv, &gate_mu);
    }
    pthread_mutex_unlock(&gate_mu);
    atomic_fetch_add(&ran, 1);
}

/* Waits until n jobs are held (at most 60 s: a failure, never a hang); returns how many are. */
static int wait_held(int n)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 60;
    pthread_mutex_lock(&gate_mu);
    int rc = 0;
    while (blocked < n && rc != ETIMEDOUT) {
        rc = pthread_cond_timedwait(&held_cv, &gate_mu, &deadline);
    }
    int got = blocked;
    pthread_mutex_unlock(&gate_mu);
    return got;
}

/* Records the order jobs ran in (the pool has one thread, so they run one at a time). */
static int order[12];
static atomic_int norder;
static int ids[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};

static void record(void *arg)
{
    order[atomic_fetch_add(&norder, 1)] = *(const int *)arg;
}

/* A pool of nthreads threads and queue_max slots whose every thread is held at the gate (so
 * whatever is submitted next queues), the counters reset. */
static tix_workpool *held_pool(int nthreads, int queue_max)
{
    atomic_store(&ran, 0);
    atomic_store(&norder, 0);
    blocked = 0;
    gate_open = false;
    tix_workpool *p = NULL;
    assert_int_equal(tix_workpool_create(nthreads, queue_max, 0, &p), TIX_OK);
    for (int i = 0; i < nthreads; i++) {
        assert_true(tix_workpool_submit(p, wait_gate, NULL));
    }
    assert_int_equal(wait_held(nthreads), nthreads);
    return p;
}

/* Lets the held jobs go, then destroys p (which runs whatever is queued first). */
static void release_and_destroy(tix_workpool *p)
{
    pthread_mutex_lock(&gate_mu);
    gate_open = true;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
    tix_workpool_destroy(p);
}

static void test_full_queue_refuses_then_drains(void **state)
{
    (void)state;
    tix_workpool *p = held_pool(2, 3); /* both threads are held */
    for (int i = 0; i < 3; i++) {
        assert_true(tix_workpool_submit(p, wait_gate, NULL));
    }
    assert_false(tix_workpool_submit(p, wait_gate, NULL)); /* 3 queued: full */
    assert_int_equal(tix_workpool_pending(p), 5);
    release_and_destroy(p);
    assert_int_equal(atomic_load(&ran), 5);
}

static void test_submit_first_jumps_the_queue(void **state)
{
    (void)state;
    tix_workpool *p = held_pool(1, 5); /* the only thread is held: the rest queue */
    assert_true(tix_workpool_submit(p, record, &ids[1]));
    assert_true(tix_workpool_submit(p, record, &ids[2]));
    assert_true(tix_workpool_submit_first(p, record, &ids[3]));
    assert_true(tix_workpool_submit(p, record, &ids[4]));
    assert_true(tix_workpool_submit_first(p, record, &ids[5]));
    assert_false(tix_workpool_submit_first(p, record, &ids[6])); /* full */
    release_and_destroy(p);
    assert_int_equal(atomic_load(&norder), 5);
    int want[5] = {5, 3, 1, 2, 4}; /* the first-queued ones last in, first out, then the rest */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(order[i], want[i]);
    }
}

/* Later jobs (holds) wait behind the queue's (checkout), but take one pick in 4 while both
 * have jobs, and have room of their own. */
static void test_later_jobs_wait_but_are_not_starved(void **state)
{
    (void)state;
    tix_workpool *p = held_pool(1, 6); /* the only thread is held: the rest queue */
    for (int i = 1; i <= 3; i++) {
        assert_true(tix_workpool_submit_later(p, record, &ids[i]));
    }
    for (int i = 4; i <= 9; i++) {
        assert_true(tix_workpool_submit(p, record, &ids[i]));
    }
    assert_false(tix_workpool_submit(p, record, &ids[10]));      /* the queue is full (6) ... */
    assert_true(tix_workpool_submit_later(p, record, &ids[10])); /* ... the later one is not */
    assert_int_equal(tix_workpool_pending(p), 11);
    release_and_destroy(p);
    assert_int_equal(atomic_load(&norder), 10);
    int want[10] = {4, 5, 6, 1, 7, 8, 9, 2, 3, 10};
    for (int i = 0; i < 10; i++) {
        assert_int_equal(order[i], want[i]);
    }
}

static atomic_int seen_nice;

static void note_nice(void *arg)
{
    (void)arg;
    atomic_store(&seen_nice, getpriority(PRIO_PROCESS, 0)); /* this thread's (Linux) */
}

/* The pool's threads run nice steps less urgent than the thread that made the pool, which
 * keeps its own (HANDLER_NICE: libmicrohttpd's threads are made by that thread). */
static void test_threads_run_less_urgent(void **state)
{
    (void)state;
    int base = getpriority(PRIO_PROCESS, 0);
    int steps[] = {0, 3};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        tix_workpool *p = NULL;
        assert_int_equal(tix_workpool_create(1, 4, steps[i], &p), TIX_OK);
        atomic_store(&seen_nice, -100);
        assert_true(tix_workpool_submit(p, note_nice, NULL));
        tix_workpool_destroy(p); /* runs the job, joins */
        int want = base + steps[i] > 19 ? 19 : base + steps[i];
        assert_int_equal(atomic_load(&seen_nice), want);
        assert_int_equal(getpriority(PRIO_PROCESS, 0), base);
    }
}

static void test_bad_sizes(void **state)
{
    (void)state;
    tix_workpool *p = NULL;
    assert_int_equal(tix_workpool_create(0, 10, 0, &p), TIX_EINVAL);
    assert_int_equal(tix_workpool_create(2, 0, 0, &p), TIX_EINVAL);
    tix_workpool_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_job_runs_once),
        cmocka_unit_test(test_full_queue_refuses_then_drains),
        cmocka_unit_test(test_submit_first_jumps_the_queue),
        cmocka_unit_test(test_later_jobs_wait_but_are_not_starved),
        cmocka_unit_test(test_threads_run_less_urgent),
        cmocka_unit_test(test_bad_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
