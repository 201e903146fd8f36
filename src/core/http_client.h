/*
 * The outbound HTTP client every provider uses (Razorpay in pay/, Cloudinary in media/): a pool
 * of libcurl easy handles that keeps connections alive between calls, so a call saves a TCP and
 * TLS handshake. It knows nothing of what the calls are: each client sets its own URL,
 * time-outs, TLS verification, headers and body on the handle it takes, and keeps its own retry
 * policy.
 *
 * A pool keeps up to max_idle idle handles, each with its own connection cache. A call takes
 * one (LIFO, so sequential calls land on the same warm connection), uses it for all its
 * attempts and gives it back; a call finding the pool empty makes a new handle, and one finding
 * it full on return drops its handle with its connections. give() resets the handle's options
 * (nothing of the last call, such as a POST body or an error buffer, carries over, and no idle
 * handle points into a caller's freed memory) while its connections stay. Handles also share a DNS
 * cache and TLS session ids through a CURLSH with one mutex per kind of data. The connection cache
 * itself is deliberately not shared: libcurl 7.88 documents a shared connection cache as unsafe
 * across concurrent threads, while a handle is only ever used by one thread at a time. A connection
 * that broke (reset, time-out, closed by the server while idle) is closed by curl and never handed
 * out again; curl checks an idle connection before reusing it and retries once on a fresh one when
 * a reused connection died before any answer.
 *
 * One pool per provider (its connections go to one host). Every function is safe from several
 * threads at once, except destroy, which frees every handle, the share and its mutexes: no
 * thread may hold a handle of the pool any more then.
 */
#ifndef TIX_CORE_HTTP_CLIENT_H
#define TIX_CORE_HTTP_CLIENT_H

#include <curl/curl.h>

typedef struct tix_httpc tix_httpc;

/* A pool keeping at most max_idle (>= 1) idle handles; `name` (static) is for log lines.
 * NULL when out of memory or libcurl cannot start. Free with tix_httpc_destroy. */
tix_httpc *tix_httpc_create(const char *name, int max_idle);
/* NULL does nothing. */
void tix_httpc_destroy(tix_httpc *c);

/* A handle with default options, the pool's share set and signals off (CURLOPT_NOSIGNAL:
 * time-outs in threads), its kept-alive connections still open; NULL when out of memory. The
 * caller sets everything else and gives it back with tix_httpc_give. */
CURL *tix_httpc_take(tix_httpc *c);
/* Returns h (NULL does nothing) to the pool, or frees it when the pool is full. */
void tix_httpc_give(tix_httpc *c, CURL *h);

#endif
