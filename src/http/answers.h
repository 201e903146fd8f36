/*
 * Cached answers ready to send (issue 13): each one built once per entry and versions in this
 * process, kept in both forms (the plain bytes and, when they compress, the gzip bytes), and
 * handed to libmicrohttpd without a copy. An answer is reference-counted: the store holds one
 * reference, and every response that sends its bytes holds one until MHD's free callback
 * (tix_answer_free_cb) lets go of it, so an answer evicted or replaced while it is being sent
 * stays alive until the last byte is out.
 *
 * The store is a hint, never the authority: an answer is served only when the versions just
 * read from the cache (cache/cache.h) are the ones it was built under and its instant has not
 * passed (http/cached.c checks both through tix_answers_get). So a change made on any server is
 * seen by the very next read here, exactly as with the cache itself; what the store saves is
 * moving, inflating and copying the bytes for every request. It is bounded by a byte budget
 * (CACHE_MAX_BYTES) with least-recently-used eviction, one mutex guarding the table.
 *
 * Ownership: tix_answer_make returns an answer with one reference (the caller's);
 * tix_answers_get returns one with a new reference; tix_answer_unref drops one and frees the
 * answer with the last. The fields are read-only once made.
 */
#ifndef TIX_HTTP_ANSWERS_H
#define TIX_HTTP_ANSWERS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tix_answer {
    atomic_long refs;
    /* the store's links (guarded by its mutex) */
    struct tix_answer *hnext, *prev, *next;
    uint64_t hash;
    size_t cost; /* bytes counted against the budget */
    /* what it was built under, and until when it is true by the clock */
    const char *key;
    const char *catver;
    const char *scopever;
    int64_t until_ms;
    const char *etag; /* "\"<hex>\"" */
    /* the bytes: plain always; gz NULL when the answer does not gain from compression */
    const char *plain;
    size_t plen;
    const char *gz;
    size_t gzlen;
    /* Staleness (http/cached.c, SEATMAP_STALE), written by lookups of any thread: the last
     * time this process knew the answer current (stored, or a hit), and the first time a lookup
     * read versions other than its own (0 until then). */
    atomic_llong seen_ms;
    atomic_llong superseded_ms;
} tix_answer;

/* What an answer is made of (tix_answer_make copies all of it; gz may be NULL). */
typedef struct tix_answer_init {
    const char *key, *catver, *scopever;
    int64_t until_ms;
    const char *etag;
    const char *plain;
    size_t plen;
    const char *gz;
    size_t gzlen;
} tix_answer_init;

/* A new answer holding copies of everything in init; NULL when out of memory. */
tix_answer *tix_answer_make(const tix_answer_init *init);
/* Drops a reference (NULL does nothing); the last one frees the answer. */
void tix_answer_unref(tix_answer *a);
/* MHD's free callback of a response made from an answer's bytes (cls: the answer). */
void tix_answer_free_cb(void *cls);

/* The stored answer for key built under exactly these versions and still true at now_ms, with
 * a new reference; NULL otherwise (one past its instant is dropped from the store on the way;
 * one of other versions stays until a put replaces it or it is evicted). */
tix_answer *tix_answers_get(const char *key, const char *catver, const char *scopever,
                            int64_t now_ms);
/* The answer stored under key whatever versions it was built under and whether or not its
 * instant has passed, with a new reference (it is not moved in the LRU order); NULL when there
 * is none. For serving an answer known to be out of date (http/cached.c: stale seat maps). */
tix_answer *tix_answers_peek(const char *key);
/* Stores a (taking a reference of its own), replacing any answer under the same key, then
 * evicts the least recently used answers until the store fits budget bytes. */
void tix_answers_put(tix_answer *a, size_t budget);
/* The bytes the store holds now (what its budget counts; for /metrics). */
size_t tix_answers_bytes(void);
/* Empties the store (tests, shutdown). */
void tix_answers_clear(void);

#endif
