/*
 * Strict query strings (see query.h). The server has already refused repeated parameters,
 * control characters and invalid UTF-8 (server_admit.c), so names here are clean text.
 */
#include "http/query.h"

#include "core/i18n.h"
#include "core/util.h"
#include "http/req.h"

#include <microhttpd.h>
#include <string.h>

typedef struct query_check {
    const char *allowed;
    const char *bad;    /* the first offending name */
    const char *reason; /* static text */
} query_check;

static enum MHD_Result check_one(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    query_check *q = cls;
    if (!tix_word_in(q->allowed, key)) {
        q->reason = N_("unknown query parameter");
    } else if (value == NULL || value[0] == '\0') {
        q->reason = N_("a query parameter must have a value");
    } else {
        return MHD_YES;
    }
    q->bad = key;
    return MHD_NO;
}

bool tix_req_query_only(tix_req *r, const char *allowed)
{
    query_check q = {allowed, NULL, NULL};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, check_one, &q);
    if (q.bad == NULL) {
        return true;
    }
    tix_reply_error(r, 400, "invalid_parameter", q.reason,
                    json_pack("{s:s,s:s}", "parameter", q.bad, "allowed", allowed));
    return false;
}
