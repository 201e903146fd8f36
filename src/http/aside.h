/*
 * Data kept aside a cached answer (issue 13): what a handler learnt while it built a show's
 * cached answer (http/cached.h) that the answer itself must not show, kept under the very
 * versions that answer is stored under, so it is exactly as current as the answer and no more.
 * The seat map keeps, beside its public answer, who claims each seat (api/booking_api.c: the
 * hold refusals that never reach the database).
 *
 * Where: in this process's store of answers (http/answers.h), under a show-scope key that no
 * route's answer uses, "<prefix>:{show:ID}:<name>"; with Redis also there (for the other
 * servers), as "<catalogue version> <show version> <valid until ms>\n<text>". Never served to
 * a client: no route reads these keys.
 *
 * When it counts as current: as for a cache hit, when the catalogue's and the show's versions
 * read now are the ones it was kept under and its instant has not passed. Data read from a
 * replica is never kept (it may be older than the versions read before it). Nothing is kept or
 * found with the cache off, unreachable, or a version missing: then the caller takes its
 * ordinary path.
 *
 * Blocking: with the in-process cache every call is in memory; with Redis tix_aside_current
 * costs one GET (the two versions) and, the first time this server sees a version, a second
 * (the entry, then kept in this process's store, as cached.c keeps an entry another server
 * built: once per version per server), each bounded by CACHE_TIMEOUT. So with Redis it is
 * called only from a handler, never on a libmicrohttpd thread (http/router.h: tix_route.now),
 * and a Redis that cannot answer makes it find nothing (the database decides).
 */
#ifndef TIX_HTTP_ASIDE_H
#define TIX_HTTP_ASIDE_H

#include "http/answers.h"
#include "http/req.h"

#include <stddef.h>
#include <stdint.h>

/* Keeps text (len bytes) under show_id's key name, true until until_ms at most, under the
 * versions r's cache lookup read (tix_cached_versions); does nothing when r read none, read
 * from a replica, or the text would be true for less than 100 ms. For a handler building a
 * show's cached answer, after its reads. */
void tix_aside_put(tix_req *r, const char *show_id, const char *name, const char *text, size_t len,
                   int64_t until_ms);

/* The text kept under show_id's key name if it is current now (see above), as an answer of
 * the store with a new reference for the caller (tix_answer_unref; its plain bytes are the
 * text, NUL-terminated); NULL otherwise. Safe on a libmicrohttpd thread with the in-process
 * cache only. */
tix_answer *tix_aside_current(tix_req *r, const char *show_id, const char *name);

#endif
