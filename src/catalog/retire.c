/*
 * The deletion of a theatre, hall or movie and the version bump after a write (catalog_int.h).
 */
#include "booking/seat_events.h"
#include "catalog/catalog_int.h"
#include "core/util.h"

tix_rc tix_catalog_committed(tix_rc rc)
{
    if (rc == TIX_OK) {
        tix_catalog_changed();
    }
    return rc;
}

static tix_rc soft_delete(tix_db *db, tix_catalog_kind kind, const char *id, int64_t now)
{
    if (kind == TIX_CATALOG_THEATRE) {
        return tix_theatre_soft_delete(db, id, now);
    }
    return kind == TIX_CATALOG_HALL ? tix_hall_soft_delete(db, id, now)
                                    : tix_movie_soft_delete(db, id, now);
}

tix_rc tix_catalog_retire(tix_catalog_ctx *c, tix_catalog_kind kind, const char *id,
                          tix_catalog_refusal *why)
{
    static const char *const refusal[] = {
        [TIX_CATALOG_THEATRE] = "theatre_has_bookings",
        [TIX_CATALOG_HALL] = "hall_has_bookings",
        [TIX_CATALOG_MOVIE] = "movie_has_bookings",
    };
    const char *hall = kind == TIX_CATALOG_HALL ? id : NULL;
    const char *theatre = kind == TIX_CATALOG_THEATRE ? id : NULL;
    const char *movie = kind == TIX_CATALOG_MOVIE ? id : NULL;
    int64_t now = tix_now_ms();
    bool claims = false;
    tix_rc rc = tix_db_begin(c->db);
    rc = rc == TIX_OK && hall != NULL ? tix_hall_lock(c->db, hall) : rc;
    rc = rc ? rc : tix_catalog_future_claims(c->db, hall, theatre, movie, now, &claims);
    if (rc == TIX_OK && claims) {
        why->why = refusal[kind];
        rc = TIX_ECONFLICT;
    }
    rc = rc ? rc : tix_catalog_cancel_future_shows(c->db, hall, theatre, movie, now);
    rc = rc ? rc : soft_delete(c->db, kind, id, now);
    rc = rc ? rc : tix_db_commit(c->db);
    if (rc != TIX_OK) {
        tix_db_rollback(c->db);
    }
    return tix_catalog_committed(rc);
}
