/* Owner and admin views of sales: a theatre's bookings (also for its door staff,
 * booking/door.h), a show's sales by category, and sales reports over a range of days
 * (GET /reports/sales, booking/sales_report.h) as JSON or, with Accept: text/csv, as CSV.
 *
 * The CSV is made from the JSON rows themselves (same columns, same values, same order), so the
 * two cannot disagree: RFC 4180, a header row, CRLF line ends, a field quoted (quotes doubled)
 * when it holds a comma, a quote, CR or LF. Names are written as they are (no formula escaping:
 * the file is data for programs; spreadsheet users should import it as text). */
#include "api/handlers.h"
#include "api/views.h"
#include "app.h"
#include "auth/policy.h"
#include "booking/door.h"
#include "booking/sales_report.h"
#include "core/i18n.h"
#include "store/booking.h"
#include "store/catalog.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tix_api_theatre_bookings(tix_req *r)
{
    int limit = 0;
    const char *cursor = NULL;
    if (!tix_req_page(r, &limit, &cursor)) {
        return;
    }
    tix_db *db = tix_req_db(r);
    tix_theatre t;
    tix_booking *items = NULL;
    int n = 0;
    tix_door_ctx c = {.db = db, .a = r->arena, .cfg = &r->app->cfg, .who = &r->auth};
    tix_rc rc = db ? tix_door_theatre(&c, tix_req_param(r, "id"), &t) : TIX_EUNAVAIL;
    tix_booking_filter f = {
        .show_id = tix_req_query(r, "show_id"), .before = cursor, .limit = limit};
    if (rc == TIX_OK) {
        f.theatre_id = t.id;
        rc = tix_booking_list(db, r->arena, &f, &items, &n);
    }
    if (db == NULL) {
        return;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < n && i < limit; i++) {
        const tix_booking *b = &items[i];
        json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:o}", "id", b->id, "user_id", b->user_id,
                              "show_id", b->show_id, "status", tix_booking_status_name(b->status),
                              "amount", (json_int_t)b->amount, "currency", b->currency,
                              "created_at", tix_view_time(b->created_at));
        tix_view_booking_discount(j, b);
        json_array_append_new(list, j);
    }
    tix_reply_page(r, list, n > limit ? items[limit - 1].id : NULL);
}

void tix_api_show_sales(tix_req *r)
{
    tix_db *db = tix_req_db(r);
    tix_show s;
    tix_sales_line *lines = NULL;
    int n = 0;
    tix_rc rc = db ? tix_show_get(db, r->arena, tix_req_param(r, "id"), &s) : TIX_EUNAVAIL;
    rc = rc ? rc : tix_policy_can_modify(&r->auth, s.owner_id);
    rc = rc ? rc : tix_show_sales(db, r->arena, s.id, &lines, &n);
    if (db == NULL) {
        return;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    json_t *cats = json_array();
    int64_t seats = 0;
    int64_t revenue = 0;
    for (int i = 0; i < n; i++) {
        json_array_append_new(cats, json_pack("{s:s,s:I,s:I}", "category", lines[i].category,
                                              "seats_sold", (json_int_t)lines[i].seats, "revenue",
                                              (json_int_t)lines[i].revenue));
        seats += lines[i].seats;
        revenue += lines[i].revenue;
    }
    tix_reply_json(r, 200,
                   json_pack("{s:s,s:s,s:I,s:I,s:o}", "show_id", s.id, "currency", s.currency,
                             "seats_sold", (json_int_t)seats, "revenue", (json_int_t)revenue,
                             "by_category", cats));
}

/* The columns of a report row, in order, per group (JSON keys and CSV header). */
static const char *const sales_keys[][7] = {
    [TIX_SALES_BY_DAY] = {"day", NULL},
    [TIX_SALES_BY_SHOW] = {"show_id", "starts_at", "theatre_id", "theatre_name", "movie_id",
                           "movie_title", NULL},
    [TIX_SALES_BY_MOVIE] = {"movie_id", "movie_title", NULL},
    [TIX_SALES_BY_THEATRE] = {"theatre_id", "theatre_name", NULL},
};
static const char *const sales_sums[] = {"currency",  "shows", "tickets",   "sellable_seats",
                                         "occupancy", "gross", "discounts", "refunds",
                                         "net",       NULL};

static json_t *sales_row_json(tix_sales_group g, const tix_sales_row *w)
{
    json_t *o = json_object();
    char day[16];
    switch (g) {
    case TIX_SALES_BY_DAY:
        tix_sales_day_format(w->day, day);
        json_object_set_new(o, "day", json_string(day));
        break;
    case TIX_SALES_BY_SHOW:
        json_object_set_new(o, "show_id", json_string(w->id));
        json_object_set_new(o, "starts_at", tix_view_time(w->starts_at));
        json_object_set_new(o, "theatre_id", json_string(w->theatre_id));
        json_object_set_new(o, "theatre_name", json_string(w->theatre_name));
        json_object_set_new(o, "movie_id", json_string(w->movie_id));
        json_object_set_new(o, "movie_title", json_string(w->name ? w->name : ""));
        break;
    case TIX_SALES_BY_MOVIE:
        json_object_set_new(o, "movie_id", json_string(w->id));
        json_object_set_new(o, "movie_title", json_string(w->name ? w->name : ""));
        break;
    case TIX_SALES_BY_THEATRE:
        json_object_set_new(o, "theatre_id", json_string(w->id));
        json_object_set_new(o, "theatre_name", json_string(w->name ? w->name : ""));
        break;
    }
    /* occupancy to 4 decimals, the same number in JSON and CSV */
    double occ =
        w->sellable > 0 ? round((double)w->tickets * 10000.0 / (double)w->sellable) / 10000.0 : 0.0;
    json_object_set_new(o, "currency", json_string(w->currency));
    json_object_set_new(o, "shows", json_integer(w->shows));
    json_object_set_new(o, "tickets", json_integer(w->tickets));
    json_object_set_new(o, "sellable_seats", json_integer(w->sellable));
    json_object_set_new(o, "occupancy", json_real(occ));
    json_object_set_new(o, "gross", json_integer(w->gross));
    json_object_set_new(o, "discounts", json_integer(w->discounts));
    json_object_set_new(o, "refunds", json_integer(w->refunds));
    json_object_set_new(o, "net", json_integer(w->gross - w->discounts - w->refunds));
    return o;
}

/* One CSV field (RFC 4180) from a JSON value. */
static void csv_field(FILE *f, const json_t *v)
{
    if (json_is_integer(v)) {
        fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
        fprintf(f, "%.4f", json_real_value(v));
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strpbrk(s, ",\"\r\n") == NULL) {
            fputs(s, f);
            return;
        }
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"') {
                fputc('"', f);
            }
            fputc(*s, f);
        }
        fputc('"', f);
    }
}

static void csv_line(FILE *f, const char *const *keys, const char *const *sums, const json_t *row)
{
    bool first = true;
    for (int part = 0; part < 2; part++) {
        for (const char *const *k = part == 0 ? keys : sums; *k != NULL; k++) {
            if (!first) {
                fputc(',', f);
            }
            first = false;
            if (row == NULL) {
                fputs(*k, f);
            } else {
                csv_field(f, json_object_get(row, *k));
            }
        }
    }
    fputs("\r\n", f);
}

/* Answers 200 with the rows as CSV; the array is the caller's. */
static void reply_csv(tix_req *r, tix_sales_group g, const json_t *items)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
        tix_reply_rc(r, TIX_ENOMEM);
        return;
    }
    csv_line(f, sales_keys[g], sales_sums, NULL);
    size_t i;
    const json_t *row;
    json_array_foreach(items, i, row)
    {
        csv_line(f, sales_keys[g], sales_sums, row);
    }
    if (fclose(f) != 0 || buf == NULL) {
        free(buf);
        tix_reply_rc(r, TIX_ENOMEM);
        return;
    }
    r->status = 200;
    r->content_type = "text/csv; charset=utf-8";
    r->resp = tix_arena_alloc(r->arena, len + 1);
    memcpy(r->resp, buf, len + 1);
    r->resp_len = len;
    free(buf);
}

/* Whether the client asked for CSV: an Accept header naming text/csv (any parameters). */
static bool wants_csv(tix_req *r)
{
    const char *acc = tix_req_header(r, "Accept");
    return acc != NULL && strstr(acc, "text/csv") != NULL;
}

/* The message of a parameter refusal (sales_report.h's rule names). */
static const char *refusal_message(const char *why)
{
    static const struct {
        const char *why;
        const char *message;
    } messages[] = {
        {"unknown_group", N_("group_by must be day, show, movie or theatre")},
        {"reversed", N_("to must not be before from")},
        {"range_too_long", N_("the range is longer than 366 days")},
        {"missing", N_("from and to are required")},
    };
    for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++) {
        if (strcmp(why, messages[i].why) == 0) {
            return messages[i].message;
        }
    }
    return N_("from and to must be YYYY-MM-DD dates");
}

void tix_api_sales_report(tix_req *r)
{
    tix_sales_params in = {.from = tix_req_query(r, "from"),
                           .to = tix_req_query(r, "to"),
                           .theatre_id = tix_req_query(r, "theatre_id"),
                           .group_by = tix_req_query(r, "group_by")};
    tix_db *db = tix_req_db(r);
    if (db == NULL) {
        return;
    }
    tix_sales_result out;
    tix_sales_refusal why = {NULL, NULL};
    tix_rc rc = tix_sales_report_run(db, r->arena, &r->auth, &in, &out, &why);
    if (rc == TIX_EINVAL && why.param != NULL) {
        tix_reply_error(r, 400, "invalid_parameter", refusal_message(why.why),
                        json_pack("{s:s,s:s}", "parameter", why.param, "reason", why.why));
        return;
    }
    if (rc == TIX_ETOOBIG) {
        tix_reply_error(r, 422, "report_too_large",
                        "the report has more rows than allowed; narrow the range or the theatre, "
                        "or group coarser",
                        json_pack("{s:i}", "max_rows", TIX_SALES_MAX_ROWS));
        return;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < out.n; i++) {
        json_array_append_new(items, sales_row_json(out.group, &out.rows[i]));
    }
    if (wants_csv(r)) {
        reply_csv(r, out.group, items);
        json_decref(items);
        return;
    }
    tix_reply_json(r, 200,
                   json_pack("{s:s,s:s,s:s,s:o}", "group_by", tix_sales_group_name(out.group),
                             "from", in.from, "to", in.to, "items", items));
}
