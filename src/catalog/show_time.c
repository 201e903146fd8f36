/* Show timing rules; see show_time.h. */
#include "catalog/show_time.h"

#include "core/currency.h"
#include "core/util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

tix_show_status tix_show_status_at(bool cancelled, int64_t starts_at, int64_t ends_at, int64_t now)
{
    if (cancelled) {
        return TIX_SHOW_CANCELLED;
    }
    if (now < starts_at) {
        return TIX_SHOW_SCHEDULED;
    }
    return now < ends_at ? TIX_SHOW_RUNNING : TIX_SHOW_COMPLETED;
}

const char *tix_show_status_name(tix_show_status s)
{
    static const char *const names[] = {"scheduled", "running", "completed", "cancelled"};
    return (unsigned)s < 4 ? names[s] : "scheduled";
}

bool tix_interval_overlaps(int64_t a0, int64_t a1, int64_t b0, int64_t b1)
{
    return a0 < b1 && b0 < a1;
}

int64_t tix_show_end(int64_t starts_at, int duration_minutes, int64_t buffer_ms)
{
    return starts_at + (int64_t)duration_minutes * 60000 + buffer_ms;
}

bool tix_parse_date(const char *s, int64_t *midnight_utc_ms)
{
    char buf[40];
    if (s == NULL || strlen(s) != 10) {
        return false;
    }
    snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
    return tix_parse_rfc3339(buf, midnight_utc_ms);
}

void tix_format_date(char out[11], int64_t now_ms)
{
    char full[TIX_RFC3339_MAX];
    tix_rfc3339(full, now_ms);
    memcpy(out, full, 10);
    out[10] = '\0';
}

bool tix_currency_supported(const char *code)
{
    return tix_currency_find(code) != NULL;
}
