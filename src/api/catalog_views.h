/* JSON views of catalogue objects (movies, theatres, halls, seats, shows). New references. */
#ifndef TIX_API_CATALOG_VIEWS_H
#define TIX_API_CATALOG_VIEWS_H

#include "store/catalog.h"

#include <jansson.h>

json_t *tix_view_movie(const tix_movie *m, const char *today);
json_t *tix_view_theatre(const tix_theatre *t);
/* A hall; seats (may be NULL) adds the "seats" array. */
json_t *tix_view_hall(const tix_hall *h, const tix_seat_row *seats, int nseats);
json_t *tix_view_seat(const tix_seat_row *s);
/* A show with its derived status at now; prices (may be NULL) adds "prices". */
json_t *tix_view_show(const tix_show *s, const tix_show_price *prices, int nprices, int64_t now);

#endif
