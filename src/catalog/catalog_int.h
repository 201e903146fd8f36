/*
 * What the catalogue's write files (venues.c, movies.c, shows.c) share, private to catalog/:
 * the version bump after a committed write, and the deletion of a theatre, hall or movie
 * (catalog.h's deletion rule, written once: refused under claims on a future show, otherwise
 * the future shows are cancelled and the object soft-deleted, in one transaction).
 */
#ifndef TIX_CATALOG_CATALOG_INT_H
#define TIX_CATALOG_CATALOG_INT_H

#include "catalog/catalog.h"

/* Bumps the catalogue version (tix_catalog_changed) when rc is TIX_OK; returns rc. */
tix_rc tix_catalog_committed(tix_rc rc);

/* One entry of a show's price object checked against the hall's seats (shows.c, also for
 * PATCH /shows/{id}): an integer (TIX_EINVAL, TIX_VERR_TYPE) from 0 to 100000000 for a seat
 * category of the hall (TIX_EINVAL on field "prices.<category>"). */
TIX_MUSTCHECK tix_rc tix_catalog_check_price(tix_catalog_ctx *c, const tix_price_input *p,
                                             const tix_seat_row *seats, int nseats,
                                             tix_catalog_refusal *why);

typedef enum tix_catalog_kind {
    TIX_CATALOG_THEATRE,
    TIX_CATALOG_HALL,
    TIX_CATALOG_MOVIE,
} tix_catalog_kind;

/* Deletes (soft) the theatre, hall or movie id, whose existence and ownership the caller
 * checked, and cancels its future shows, in one transaction (a hall's under its lock,
 * tix_hall_lock); TIX_ECONFLICT "<kind>_has_bookings" in why when a future show has claims;
 * TIX_ENOTFOUND when it was deleted meanwhile. Bumps the version when it committed. */
TIX_MUSTCHECK tix_rc tix_catalog_retire(tix_catalog_ctx *c, tix_catalog_kind kind, const char *id,
                                        tix_catalog_refusal *why);

#endif
