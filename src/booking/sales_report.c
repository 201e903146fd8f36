/* Sales reports: the rules of sales_report.h, over store/reports.h's query. */
#include "booking/sales_report.h"

#include "auth/policy.h"
#include "store/catalog.h"

#include <stdio.h>
#include <string.h>

#define DAY_MS 86400000LL

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool tix_sales_day_parse(const char *s, int64_t *day)
{
    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-') {
        return false;
    }
    for (int i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) {
            return false;
        }
    }
    int64_t y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    unsigned d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap(y))) {
        return false;
    }
    *day = days_from_civil(y, m, d);
    return true;
}

void tix_sales_day_format(int64_t day, char *buf)
{
    /* H. Hinnant's civil_from_days */
    int64_t z = day + 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = (int64_t)yoe + era * 400 + (m <= 2);
    snprintf(buf, 16, "%04d-%02u-%02u", (int)(y % 10000), m % 100, d % 100);
}

static const char *const group_names[] = {
    [TIX_SALES_BY_DAY] = "day",
    [TIX_SALES_BY_SHOW] = "show",
    [TIX_SALES_BY_MOVIE] = "movie",
    [TIX_SALES_BY_THEATRE] = "theatre",
};

const char *tix_sales_group_name(tix_sales_group g)
{
    return (unsigned)g <= TIX_SALES_BY_THEATRE ? group_names[g] : "day";
}

static tix_rc refuse(tix_sales_refusal *why, const char *param, const char *rule)
{
    why->param = param;
    why->why = rule;
    return TIX_EINVAL;
}

static tix_rc parse_group(const char *word, tix_sales_group *g, tix_sales_refusal *why)
{
    *g = TIX_SALES_BY_DAY;
    if (word == NULL) {
        return TIX_OK;
    }
    for (unsigned i = 0; i <= TIX_SALES_BY_THEATRE; i++) {
        if (strcmp(word, group_names[i]) == 0) {
            *g = (tix_sales_group)i;
            return TIX_OK;
        }
    }
    return refuse(why, "group_by", "unknown_group");
}

static tix_rc parse_day(const char *param, const char *word, int64_t *day, tix_sales_refusal *why)
{
    if (word == NULL) {
        return refuse(why, param, "missing");
    }
    return tix_sales_day_parse(word, day) ? TIX_OK : refuse(why, param, "not_a_date");
}

/* The range and the grouping of `in` into q. */
static tix_rc parse_params(const tix_sales_params *in, tix_sales_query *q, tix_sales_refusal *why)
{
    int64_t from = 0;
    int64_t to = 0;
    tix_rc rc = parse_group(in->group_by, &q->group, why);
    rc = rc ? rc : parse_day("from", in->from, &from, why);
    rc = rc ? rc : parse_day("to", in->to, &to, why);
    if (rc != TIX_OK) {
        return rc;
    }
    if (to < from) {
        return refuse(why, "to", "reversed");
    }
    if (to - from + 1 > TIX_SALES_MAX_DAYS) {
        return refuse(why, "to", "range_too_long");
    }
    q->from_local_ms = from * DAY_MS;
    q->to_local_ms = (to + 1) * DAY_MS;
    return TIX_OK;
}

/* Which theatres `who` sees: q->theatre_id (checked) and q->owner_id. */
static tix_rc scope(tix_db *db, tix_arena *a, const tix_principal *who, const char *theatre_id,
                    tix_sales_query *q)
{
    if (theatre_id != NULL) {
        tix_theatre t;
        tix_rc rc = tix_theatre_get(db, a, theatre_id, &t);
        rc = rc ? rc : tix_policy_can_modify(who, t.owner_id);
        if (rc != TIX_OK) {
            return rc;
        }
        q->theatre_id = t.id;
    }
    if (who->role == TIX_ROLE_ADMIN) {
        return TIX_OK;
    }
    if (!who->authenticated || who->role != TIX_ROLE_OWNER) {
        return TIX_EFORBIDDEN;
    }
    q->owner_id = who->user_id;
    return TIX_OK;
}

tix_rc tix_sales_report_run(tix_db *db, tix_arena *a, const tix_principal *who,
                            const tix_sales_params *in, tix_sales_result *out,
                            tix_sales_refusal *why)
{
    tix_sales_query q = {.limit = TIX_SALES_MAX_ROWS};
    tix_sales_row *rows = NULL;
    int n = 0;
    tix_rc rc = parse_params(in, &q, why);
    rc = rc ? rc : scope(db, a, who, in->theatre_id, &q);
    rc = rc ? rc : tix_sales_report(db, a, &q, &rows, &n);
    if (rc != TIX_OK) {
        return rc;
    }
    if (n > TIX_SALES_MAX_ROWS) {
        why->param = NULL;
        why->why = "report_too_large";
        return TIX_ETOOBIG;
    }
    out->group = q.group;
    out->rows = rows;
    out->n = n;
    return TIX_OK;
}
