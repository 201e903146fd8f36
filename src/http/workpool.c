/* The handler pool (see workpool.h): two rings of jobs (the queue, and the "later" queue that
 * waits while the first has jobs, but for every LATER_EVERY-th pick) under one mutex and one
 * condition variable. */
#include "http/workpool.h"

#include "core/util.h"

#include <pthread.h>
#include <stdlib.h>

/* While both rings have jobs, one pick in LATER_EVERY is the later ring's: its jobs wait behind
 * the queue's, but never for ever. */
#define LATER_EVERY 4

typedef struct job {
    tix_work_fn fn;
    void *arg;
} job;

/* A bounded ring of jobs (cap slots, the pool's queue_max). */
typedef struct ring {
    job *slot;
    int head, count;
} ring;

struct tix_workpool {
    pthread_mutex_t mu;
    pthread_cond_t ready; /* a job was queued, or the pool is stopping */
    int cap;              /* slots in each ring */
    ring now;             /* tix_workpool_submit and _submit_first */
    ring later;           /* tix_workpool_submit_later */
    int streak;           /* jobs taken from now in a row while later had some waiting */
    int running;
    bool stopping;
    int nice; /* each thread's nice increment, set before they start */
    int nthreads;
    pthread_t *threads;
};

static job take(ring *q, int cap)
{
    job j = q->slot[q->head];
    q->head = (q->head + 1) % cap;
    q->count--;
    return j;
}

static void *worker(void *arg)
{
    tix_workpool *p = arg;
    (void)tix_thread_nice(p->nice); /* a refusal leaves the thread as urgent as before */
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->now.count == 0 && p->later.count == 0 && !p->stopping) {
            pthread_cond_wait(&p->ready, &p->mu);
        }
        if (p->now.count == 0 && p->later.count == 0) { /* stopping, nothing left to run */
            break;
        }
        bool late = p->later.count > 0 && (p->now.count == 0 || p->streak >= LATER_EVERY - 1);
        job j = take(late ? &p->later : &p->now, p->cap);
        p->streak = !late && p->later.count > 0 ? p->streak + 1 : 0;
        p->running++;
        pthread_mutex_unlock(&p->mu);
        j.fn(j.arg);
        pthread_mutex_lock(&p->mu);
        p->running--;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

tix_rc tix_workpool_create(int nthreads, int queue_max, int nice, tix_workpool **out)
{
    if (nthreads < 1 || queue_max < 1) {
        return TIX_EINVAL;
    }
    tix_workpool *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return TIX_ENOMEM;
    }
    p->cap = queue_max;
    p->nice = nice;
    p->now.slot = calloc((size_t)queue_max, sizeof(job));
    p->later.slot = calloc((size_t)queue_max, sizeof(job));
    p->threads = calloc((size_t)nthreads, sizeof(pthread_t));
    if (p->now.slot == NULL || p->later.slot == NULL || p->threads == NULL) {
        free(p->now.slot);
        free(p->later.slot);
        free(p->threads);
        free(p);
        return TIX_ENOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->ready, NULL);
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
            break;
        }
        p->nthreads++;
    }
    if (p->nthreads == 0) {
        tix_workpool_destroy(p);
        return TIX_ENOMEM;
    }
    *out = p;
    return TIX_OK;
}

/* Queues fn(arg) in q, at its front or its back; false when q is full or the pool stopping. */
static bool submit(tix_workpool *p, ring *q, bool front, tix_work_fn fn, void *arg)
{
    pthread_mutex_lock(&p->mu);
    bool ok = !p->stopping && q->count < p->cap;
    if (ok) {
        if (front) {
            q->head = (q->head + p->cap - 1) % p->cap;
        }
        q->slot[front ? q->head : (q->head + q->count) % p->cap] = (job){fn, arg};
        q->count++;
        pthread_cond_signal(&p->ready);
    }
    pthread_mutex_unlock(&p->mu);
    return ok;
}

bool tix_workpool_submit(tix_workpool *p, tix_work_fn fn, void *arg)
{
    return submit(p, &p->now, false, fn, arg);
}

bool tix_workpool_submit_first(tix_workpool *p, tix_work_fn fn, void *arg)
{
    return submit(p, &p->now, true, fn, arg);
}

bool tix_workpool_submit_later(tix_workpool *p, tix_work_fn fn, void *arg)
{
    return submit(p, &p->later, false, fn, arg);
}

int tix_workpool_pending(tix_workpool *p)
{
    pthread_mutex_lock(&p->mu);
    int n = p->now.count + p->later.count + p->running;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void tix_workpool_destroy(tix_workpool *p)
{
    if (p == NULL) {
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->ready);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++) {
        pthread_join(p->threads[i], NULL);
    }
    pthread_cond_destroy(&p->ready);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p->now.slot);
    free(p->later.slot);
    free(p);
}
