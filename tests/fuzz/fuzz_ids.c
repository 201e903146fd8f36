/*
 * Ids and paths: the request path through the real route table's matcher (http/router.c:
 * every {id} the API reads comes out of it), then each parameter value through the id checks
 * that handlers and providers apply (Razorpay ids, idempotency keys, media file names and
 * kinds, whole numbers). The bytes' first line is the method, the rest the path.
 */
#include "api/routes.h"
#include "fuzz.h"
#include "media/media.h"
#include "pay/razorpay.h"

#include <stdlib.h>
#include <string.h>

static tix_router *router;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (tix_router_create(tix_routes, tix_routes_count, &router) != TIX_OK) {
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t mlen = 0, plen = 0;
    const uint8_t *p = tix_fuzz_split(data, size, '\n', &mlen, &plen);
    char *method = p ? tix_fuzz_strndup(data, mlen) : tix_fuzz_strndup((const uint8_t *)"GET", 3);
    char *path = tix_fuzz_strndup(p ? p : data, p ? plen : size);
    tix_match m;
    memset(&m, 0, sizeof(m));
    tix_match_result res = tix_router_match(router, method, path, &m);
    if (res == TIX_MATCH_OK) {
        if (m.route == NULL || m.nparams < 0 || m.nparams > TIX_ROUTE_MAX_PARAMS) {
            abort();
        }
        for (int i = 0; i < m.nparams; i++) {
            const tix_slice *v = &m.values[i];
            if (v->p < path || v->p + v->n > path + strlen(path)) {
                abort(); /* a parameter must be a slice of the path */
            }
            char *val = tix_fuzz_strndup((const uint8_t *)v->p, v->n);
            tix_media_kind kind;
            (void)tix_rzp_id_ok(val);
            (void)tix_rzp_idem_key_ok(val);
            (void)tix_media_name_type(TIX_MEDIA_POSTER, val);
            (void)tix_media_name_type(TIX_MEDIA_TRAILER, val);
            (void)tix_media_kind_parse(val, &kind);
            int64_t n = 0;
            (void)tix_parse_int(val, 0, INT64_MAX, &n);
            free(val);
        }
    } else if (res == TIX_MATCH_BAD_METHOD) {
        if (memchr(m.allow, '\0', sizeof(m.allow)) == NULL) {
            abort();
        }
    }
    free(method);
    free(path);
    return 0;
}
