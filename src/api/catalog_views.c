/* JSON views of the catalogue; see catalog_views.h. */
#include "api/catalog_views.h"

#include "api/views.h"
#include "app.h"
#include "catalog/show_time.h"
#include "core/currency.h"

#include <string.h>

static json_t *json_text_array(const char *text)
{
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    return json_is_array(j) ? j : (json_decref(j), json_array());
}

json_t *tix_view_movie(const tix_movie *m, const char *today)
{
    const char *release = strcmp(m->release_date, today) > 0 ? "upcoming" : "released";
    return json_pack("{s:s,s:s,s:s,s:i,s:s,s:o,s:o,s:s,s:s?,s:s?,s:s,s:s,s:o,s:o}", "id", m->id,
                     "title", m->title, "description", m->description, "duration_minutes",
                     m->duration_minutes, "release_date", m->release_date, "languages",
                     json_text_array(m->languages), "genres", json_text_array(m->genres),
                     "certificate", m->certificate, "poster_url", m->poster_url, "trailer_url",
                     m->trailer_url, "status", m->status, "release_status", release, "created_at",
                     tix_view_time(m->created_at), "updated_at", tix_view_time(m->updated_at));
}

json_t *tix_view_theatre(const tix_theatre *t)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:o,s:o}", "id", t->id, "owner_id", t->owner_id,
                          "name", t->name, "city", t->city, "address", t->address,
                          "utc_offset_minutes", t->utc_offset_minutes, "created_at",
                          tix_view_time(t->created_at), "updated_at", tix_view_time(t->updated_at));
    if (t->has_geo) {
        json_object_set_new(j, "geo",
                            json_pack("{s:f,s:f}", "latitude", (double)t->latitude_e6 / 1e6,
                                      "longitude", (double)t->longitude_e6 / 1e6));
    } else {
        json_object_set_new(j, "geo", json_null());
    }
    /* Onboarding: only its owner and admins see a theatre that is not approved, so the public
     * sees "approved" here; the others see where their theatre stands. */
    json_object_set_new(j, "status", json_string(t->status ? t->status : "pending"));
    json_object_set_new(j, "rejection_reason",
                        t->rejection_reason ? json_string(t->rejection_reason) : json_null());
    json_object_set_new(j, "submitted_at",
                        t->submitted_at ? tix_view_time(t->submitted_at) : json_null());
    json_object_set_new(j, "reviewed_at",
                        t->reviewed_at ? tix_view_time(t->reviewed_at) : json_null());
    return j;
}

json_t *tix_view_seat(const tix_seat_row *s)
{
    return json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:s,s:b}", "id", s->id, "label", s->label, "row",
                     s->row, "number", s->number, "x", s->x, "y", s->y, "category", s->category,
                     "blocked", s->blocked);
}

json_t *tix_view_hall(const tix_hall *h, const tix_seat_row *seats, int nseats)
{
    json_t *layout = json_loads(h->layout, 0, NULL);
    json_t *j = json_pack("{s:s,s:s,s:s,s:i,s:o,s:o,s:o}", "id", h->id, "theatre_id", h->theatre_id,
                          "name", h->name, "seat_count", h->seat_count, "layout",
                          layout ? layout : json_null(), "created_at", tix_view_time(h->created_at),
                          "updated_at", tix_view_time(h->updated_at));
    json_object_set_new(j, "seat_pick", json_string(h->seat_pick ? h->seat_pick : "geometric"));
    if (seats != NULL) {
        json_t *list = json_array();
        for (int i = 0; i < nseats; i++) {
            json_array_append_new(list, tix_view_seat(&seats[i]));
        }
        json_object_set_new(j, "seats", list);
    }
    return j;
}

json_t *tix_view_show(const tix_show *s, const tix_show_price *prices, int nprices, int64_t now)
{
    tix_show_status st = tix_show_status_at(s->cancelled, s->starts_at, s->ends_at, now);
    json_t *j =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:s,s:s,s:o}", "id", s->id, "movie_id",
                  s->movie_id, "movie_title", s->movie_title, "hall_id", s->hall_id, "hall_name",
                  s->hall_name, "theatre_id", s->theatre_id, "theatre_name", s->theatre_name,
                  "city", s->city, "starts_at", tix_view_time(s->starts_at), "ends_at",
                  tix_view_time(s->ends_at), "currency", s->currency, "status",
                  tix_show_status_name(st), "created_at", tix_view_time(s->created_at));
    if (prices != NULL) {
        json_t *p = json_object();
        for (int i = 0; i < nprices; i++) {
            json_object_set_new(p, prices[i].category, json_integer(prices[i].amount));
        }
        json_object_set_new(j, "prices", p);
    }
    return j;
}

void tix_api_reply_theatre_page(tix_req *r, tix_db *db, const tix_theatre_filter *f)
{
    tix_theatre *items = NULL;
    int n = 0;
    tix_rc rc = tix_theatre_list(db, r->arena, f, &items, &n);
    if (tix_req_db_read_again(r, rc, &db)) { /* db was a replica that failed: the primary */
        rc = tix_theatre_list(db, r->arena, f, &items, &n);
    } else if (db == NULL) {
        return;
    }
    if (rc != TIX_OK) {
        tix_reply_rc(r, rc);
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < n && i < f->limit; i++) {
        json_array_append_new(list, tix_view_theatre(&items[i]));
    }
    tix_reply_page(r, list, n > f->limit ? items[f->limit - 1].id : NULL);
}

tix_catalog_ctx tix_api_catalog_ctx(tix_req *r, tix_db *db)
{
    return (tix_catalog_ctx){db, r->arena, &r->app->cfg, r->app->pay, &r->auth};
}

/* The message of each rule the catalogue service refuses by (catalog.h), with its status. */
static const struct {
    const char *why;
    unsigned status;
    const char *code; /* the answer's error code: the rule's own unless set */
    const char *message;
} refusals[] = {
    {"theatre_has_bookings", 409, NULL, "the theatre has future shows with bookings or holds"},
    {"theatre_not_approved", 409, NULL,
     "the hall's theatre is not approved yet; an admin must approve it before it gets shows"},
    {"invalid_transition", 409, NULL,
     "the theatre is not in a status this action applies to (details.status is its status)"},
    {"theatre_for_other_owner", 403, "forbidden",
     "only an admin may create a theatre for another owner"},
    {"hall_has_bookings", 409, NULL, "the hall has future shows with bookings or holds"},
    {"hall_category_unpriced", 409, NULL,
     "a scheduled show of this hall has no price for a category of the new layout; cancel that "
     "show or keep the categories"},
    {"show_overlap", 409, NULL,
     "another show in this hall overlaps that time (including cleaning time)"},
    {"show_completed", 409, NULL, "a completed show cannot be cancelled"},
    {"show_cancelled", 409, NULL, "the show is already cancelled"},
    {"show_is_cancelled", 409, "show_cancelled", "a cancelled show cannot be changed"},
    {"show_is_completed", 409, "show_completed", "a completed show cannot be changed"},
    {"show_started", 409, NULL, "the show has started: its time and prices can no longer change"},
    {"movie_has_shows", 409, NULL,
     "the running time cannot change while future shows are scheduled"},
    {"movie_has_bookings", 409, NULL,
     "the movie has future shows with bookings or holds; cancel them first"},
};

void tix_api_reply_catalog(tix_req *r, tix_rc rc, const tix_catalog_refusal *why)
{
    if (rc == TIX_EINVAL && why->verr.field != NULL) {
        tix_reply_verr(r, &why->verr);
        return;
    }
    for (size_t i = 0; why->why != NULL && i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        if (strcmp(why->why, refusals[i].why) == 0) {
            json_t *details = why->category ? json_pack("{s:s}", "category", why->category)
                              : why->status ? json_pack("{s:s}", "status", why->status)
                                            : NULL;
            tix_reply_error(r, refusals[i].status, refusals[i].code ? refusals[i].code : why->why,
                            refusals[i].message, details);
            return;
        }
    }
    tix_reply_rc(r, rc);
}

tix_price_input *tix_api_price_list(tix_req *r, json_t *prices, int *n)
{
    tix_price_input *list =
        tix_arena_calloc(r->arena, sizeof(*list) * (json_object_size(prices) + 1));
    int i = 0;
    const char *key;
    json_t *v;
    json_object_foreach(prices, key, v)
    {
        list[i].category = key;
        list[i].is_integer = json_is_integer(v);
        list[i].amount = json_is_integer(v) ? json_integer_value(v) : 0;
        i++;
    }
    *n = i;
    return list;
}

/*
 * With the Razorpay provider a show's currency must be one Razorpay charges, and every price a
 * multiple of its step (10 fils for KWD, BHD, OMR: Razorpay takes their last digit as 0), or
 * the show could be booked but never paid: 422 currency_not_chargeable / price_not_chargeable.
 * The test provider charges anything. Used by POST /shows and PATCH /shows/{id} (prices).
 */
bool tix_api_prices_chargeable(tix_req *r, const char *currency, json_t *prices)
{
    if (r->app->pay == NULL || strcmp(r->app->pay->name, "razorpay") != 0) {
        return true;
    }
    const tix_currency *c = tix_currency_find(currency);
    if (c == NULL || c->razorpay_step == 0) {
        tix_reply_error(r, 422, "currency_not_chargeable",
                        "the payment provider (Razorpay) cannot charge this currency",
                        json_pack("{s:s}", "field", "currency"));
        return false;
    }
    const char *key;
    json_t *v;
    json_object_foreach(prices, key, v)
    {
        if (json_is_integer(v) && !tix_currency_razorpay_ok(c, json_integer_value(v))) {
            tix_reply_error(r, 422, "price_not_chargeable",
                            "the payment provider (Razorpay) charges this currency only in steps "
                            "of 10 of its minor unit",
                            json_pack("{s:s,s:s}", "field", "prices", "category", key));
            return false;
        }
    }
    return true;
}
