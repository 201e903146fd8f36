/*
 * A fixed pool of handler threads fed through a bounded queue (libuv's threadpool, in
 * spirit). libmicrohttpd's own threads only read requests and write answers; every handler
 * that may block (the database, Redis, Razorpay, Cloudinary) runs here, with its connection
 * suspended meanwhile, so a slow handler never holds up the other connections of an MHD
 * thread, and MHD's idle time-out never fires on a request that is merely waiting its turn.
 * A full queue is refused at once (the server answers 503 with Retry-After) rather than
 * growing without bound.
 */
#ifndef TIX_HTTP_WORKPOOL_H
#define TIX_HTTP_WORKPOOL_H

#include "core/rc.h"

#include <stdbool.h>

typedef struct tix_workpool tix_workpool;
typedef void (*tix_work_fn)(void *arg);

/* nthreads threads and room for queue_max waiting jobs; each thread nice steps less urgent than
 * the creating one (core/util.h tix_thread_nice; 0: as urgent). */
TIX_MUSTCHECK tix_rc tix_workpool_create(int nthreads, int queue_max, int nice, tix_workpool **out);
/* Queues fn(arg); false when the queue is full or the pool is stopping (fn is not called). */
bool tix_workpool_submit(tix_workpool *p, tix_work_fn fn, void *arg);
/* The same, but the job goes before every queued one (a cache build that others wait for:
 * http/server_request.c); jobs queued this way run last-in first-out among themselves. */
bool tix_workpool_submit_first(tix_workpool *p, tix_work_fn fn, void *arg);
/* The same, into the "later" queue: its jobs run when the queue is empty, and one pick in 4
 * while both have jobs, so a flood of them (a stampede's hold attempts: http/server_request.c)
 * delays the others by one job at most, and is never starved by them. Its own room: queue_max. */
bool tix_workpool_submit_later(tix_workpool *p, tix_work_fn fn, void *arg);
/* Jobs queued or running now. */
int tix_workpool_pending(tix_workpool *p);
/* Runs every queued job to its end, then joins the threads and frees the pool. NULL: no-op. */
void tix_workpool_destroy(tix_workpool *p);

#endif
