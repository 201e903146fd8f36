/*
 * Show times (catalog/show_time.c) as the API reaches them: a start time from RFC 3339 text
 * (the body's "starts_at"), a running time within the 1..600 minutes movies accept and a
 * cleaning buffer within SHOW_CLEANING_BUFFER's 0..6 h, then the end, the status at instants
 * around it and the overlap test against a second show. Checks the end is after the start,
 * the status follows the clock and overlap is symmetric.
 */
#include "catalog/show_time.h"
#include "core/util.h"
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) {
        return 0;
    }
    int minutes = 1 + (data[0] | data[1] << 8) % 600;
    int64_t buffer_ms = (int64_t)((data[2] | data[3] << 8) % (6 * 3600 + 1)) * 1000;
    data += 4, size -= 4;
    size_t alen = 0, blen = 0;
    const uint8_t *b = tix_fuzz_split(data, size, '|', &alen, &blen);
    char *a_text = tix_fuzz_strndup(data, alen);
    char *b_text = tix_fuzz_strndup(b ? b : data, b ? blen : alen);
    int64_t a0 = 0, b0 = 0;
    if (tix_parse_rfc3339(a_text, &a0)) {
        int64_t a1 = tix_show_end(a0, minutes, buffer_ms);
        if (a1 <= a0) {
            abort();
        }
        if (tix_show_status_at(false, a0, a1, a0 - 1) == tix_show_status_at(false, a0, a1, a1) ||
            tix_show_status_at(true, a0, a1, a0) == tix_show_status_at(false, a0, a1, a0)) {
            abort();
        }
        for (int s = 0; s < 4; s++) {
            (void)tix_show_status_name((tix_show_status)s);
        }
        if (tix_parse_rfc3339(b_text, &b0)) {
            int64_t b1 = tix_show_end(b0, 600 - minutes + 1, buffer_ms);
            if (tix_interval_overlaps(a0, a1, b0, b1) != tix_interval_overlaps(b0, b1, a0, a1) ||
                !tix_interval_overlaps(a0, a1, a0, a1)) {
                abort();
            }
        }
        /* 0000-01-01 to 9999-12-31 in UTC (an offset can move a parsed time just outside:
         * RFC 3339 has no text for those, so there is no date to round-trip) */
        if (a0 >= INT64_C(-62167219200000) && a0 < INT64_C(253402300800000)) {
            char date[11];
            tix_format_date(date, a0);
            int64_t midnight = 0;
            if (!tix_parse_date(date, &midnight) || midnight > a0 || a0 - midnight >= 86400000) {
                abort();
            }
        }
    }
    (void)tix_currency_supported(b_text);
    free(a_text);
    free(b_text);
    return 0;
}
