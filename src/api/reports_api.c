/* Owner and admin views of sales: a theatre's bookings (also for its door staff,
 * booking/door.h) and a show's sales by category. */
#include "api/handlers.h"
#include "api/views.h"
#include "app.h"
#include "auth/policy.h"
#include "booking/door.h"
#include "store/booking.h"
#include "store/catalog.h"

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
