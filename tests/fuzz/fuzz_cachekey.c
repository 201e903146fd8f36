/*
 * The cache-key builder (http/cached.c, tix_cached_query_text: what an entry's <q> hashes).
 * The first byte picks one of the route table's cached routes, the rest is two query strings
 * separated by a newline, each parsed as libmicrohttpd would; queries the server refuses before
 * the cache (a repeated name, a control byte) are skipped. The property that issue 10 item 1
 * broke: the two requests share a key text exactly when every parameter the route declares has
 * the same value (or is absent) in both, whatever the values hold ('&', '=', ';', digits); and
 * an admin never shares a key with anyone else.
 */
#include "api/routes.h"
#include "app.h"
#include "fuzz.h"
#include "http/cached.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

static const tix_route *cached[64];
static int ncached;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    for (size_t i = 0; i < tix_routes_count && ncached < 64; i++) {
        if (tix_routes[i].flags &
            (TIX_ROUTE_CACHE_SHOW | TIX_ROUTE_CACHE_CATALOG | TIX_ROUTE_CACHE_USER)) {
            cached[ncached++] = &tix_routes[i];
        }
    }
    if (ncached == 0) {
        abort();
    }
    return 0;
}

/* Whether a and b read the same value (or none) for every name route declares. */
static bool same_reads(const tix_route *route, tix_req *a, tix_req *b)
{
    const char *names = route->query ? route->query : "";
    while (*names != '\0') {
        size_t len = strcspn(names, " ");
        char name[64];
        if (len > 0 && len < sizeof(name)) {
            memcpy(name, names, len);
            name[len] = '\0';
            const char *va = tix_req_query(a, name), *vb = tix_req_query(b, name);
            if ((va == NULL) != (vb == NULL) || (va != NULL && strcmp(va, vb) != 0)) {
                return false;
            }
        }
        names += len;
        names += strspn(names, " ");
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    const tix_route *route = cached[data[0] % ncached];
    data++, size--;
    size_t alen = 0, blen = 0;
    const uint8_t *b = tix_fuzz_split(data, size, '\n', &alen, &blen);
    char *qa = tix_fuzz_strndup(data, alen);
    char *qb = tix_fuzz_strndup(b ? b : data, b ? blen : 0);
    tix_fuzz_conn ca = {0}, cb = {0};
    if (tix_fuzz_parse_query(&ca, qa) && tix_fuzz_parse_query(&cb, qb)) {
        tix_req ra, rb;
        tix_fuzz_req_init(&ra, &ca, NULL);
        tix_fuzz_req_init(&rb, &cb, NULL);
        ra.route = rb.route = route;
        const char *ta = tix_cached_query_text(&ra);
        const char *tb = tix_cached_query_text(&rb);
        if ((strcmp(ta, tb) == 0) != same_reads(route, &ra, &rb)) {
            abort(); /* two different reads share an entry, or one read splits */
        }
        rb.auth.authenticated = true;
        rb.auth.role = TIX_ROLE_ADMIN;
        if (strcmp(ta, tix_cached_query_text(&rb)) == 0) {
            abort(); /* an admin's answer (it shows more) under everyone's key */
        }
        tix_fuzz_req_done(&ra);
        tix_fuzz_req_done(&rb);
    }
    free(qa);
    free(qb);
    return 0;
}
