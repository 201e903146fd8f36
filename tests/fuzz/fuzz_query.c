/*
 * Query strings and cursors: the bytes are a query string ("limit=20&cursor=…&date=…"),
 * split and percent-decoded the way libmicrohttpd does it, then read through tix_req_page
 * (limit and the opaque cursor, http/reply.c), tix_parse_date (?date=) and the cursor round
 * trip tix_req_cursor_encode promises. A refusal must be a 400 with a body; a cursor accepted
 * must be valid UTF-8 without NUL.
 */
#include "catalog/show_time.h"
#include "core/util.h"
#include "fuzz.h"
#include "http/validate.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *qs = tix_fuzz_strndup(data, size);
    tix_fuzz_conn conn = {0};
    tix_fuzz_parse_query(&conn, qs);
    tix_req r;
    tix_fuzz_req_init(&r, &conn, NULL);
    int limit = 0;
    const char *cursor = NULL;
    if (tix_req_page(&r, &limit, &cursor)) {
        if (limit < 1 || limit > 100 || r.status != 0) {
            abort();
        }
        if (cursor != NULL) {
            if (!tix_utf8_valid(cursor)) {
                abort();
            }
            /* what the server issues for a key reads back as that key */
            const char *again = tix_req_cursor_encode(&r, cursor);
            if (again != NULL && strlen(cursor) < 90) {
                tix_fuzz_conn c2 = {0};
                tix_fuzz_conn_add(&c2, MHD_GET_ARGUMENT_KIND, "cursor", again);
                r.conn = &c2;
                const char *back = NULL;
                if (!tix_req_page(&r, &limit, &back) || back == NULL || strcmp(back, cursor) != 0) {
                    abort();
                }
                r.conn = &conn;
            }
        }
    } else if (r.status != 400 || r.resp == NULL) {
        abort();
    }
    const char *date = tix_req_query(&r, "date");
    int64_t midnight = 0;
    if (date != NULL && tix_parse_date(date, &midnight)) {
        char back[11];
        tix_format_date(back, midnight);
        if (strcmp(back, date) != 0 || midnight % 86400000 != 0) {
            abort();
        }
    }
    tix_fuzz_req_done(&r);
    free(qs);
    return 0;
}
