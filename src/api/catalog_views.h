/*
 * JSON views of catalogue objects (movies, theatres, halls, seats, shows; new references), and
 * the two pieces every catalogue handler shares around a call of the service (catalog/
 * catalog.h): the service's context for a request, and the answer to what it refused.
 */
#ifndef TIX_API_CATALOG_VIEWS_H
#define TIX_API_CATALOG_VIEWS_H

#include "catalog/catalog.h"
#include "http/req.h"
#include "store/catalog.h"

#include <jansson.h>

json_t *tix_view_movie(const tix_movie *m, const char *today);
json_t *tix_view_theatre(const tix_theatre *t);
/* A hall; seats (may be NULL) adds the "seats" array. */
json_t *tix_view_hall(const tix_hall *h, const tix_seat_row *seats, int nseats);
json_t *tix_view_seat(const tix_seat_row *s);
/* A show with its derived status at now; prices (may be NULL) adds "prices". */
json_t *tix_view_show(const tix_show *s, const tix_show_price *prices, int nprices, int64_t now);

/* Answers one page of the theatres filter f selects (f->limit a page, f->after the cursor, as
 * tix_req_page read them): 200 {"items": [tix_view_theatre...], "next_cursor": ...}
 * (tix_reply_page), or the store's failure. The list and the rows live in r's arena. db may be
 * tix_req_db_read's replica: a read it failed is tried again on the primary. */
void tix_api_reply_theatre_page(tix_req *r, tix_db *db, const tix_theatre_filter *f);

/* A request's price object ({"category": amount, ...}) as the service takes it, in the
 * request's order (types are checked by the service, in that order, so the first problem
 * found is the one the API has always named). The list lives in r's arena; OUT: *n. */
tix_price_input *tix_api_price_list(tix_req *r, json_t *prices, int *n);
/* With the Razorpay provider: whether it can charge currency and every integer price of prices
 * (an object, category -> minor units); else answers 422 currency_not_chargeable or
 * price_not_chargeable and returns false. Always true with the test provider. */
bool tix_api_prices_chargeable(tix_req *r, const char *currency, json_t *prices);

/* The catalogue service's context for request r on connection db (the caller: r->auth). */
tix_catalog_ctx tix_api_catalog_ctx(tix_req *r, tix_db *db);
/* Answers a failed catalogue call: a refused rule as its 409 (or 403) with its message, a
 * refused input as a validation problem (400 invalid_type / 422 validation_failed), anything
 * else (TIX_OK: 204) as tix_reply_rc does. */
void tix_api_reply_catalog(tix_req *r, tix_rc rc, const tix_catalog_refusal *why);

#endif
