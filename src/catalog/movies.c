/*
 * Movies (catalog.h): written by admins only (the route table says so; movies have no owner).
 * A movie's running time placed its scheduled shows, so it does not change while any is still
 * to come; a deletion is one transaction that refuses under claims and otherwise cancels the
 * movie's future shows with it.
 */
#include "catalog/catalog_int.h"
#include "core/util.h"

#include <string.h>

/* Applies the fields ch sets onto m; the strings stay ch's (they outlive the call). */
static void merge(tix_movie *m, const tix_movie_change *ch)
{
    m->title = ch->title ? (char *)ch->title : m->title;
    m->description = ch->description ? (char *)ch->description : m->description;
    m->duration_minutes = ch->has_duration ? ch->duration_minutes : m->duration_minutes;
    m->release_date = ch->release_date ? (char *)ch->release_date : m->release_date;
    m->certificate = ch->certificate ? (char *)ch->certificate : m->certificate;
    m->status = ch->status ? (char *)ch->status : m->status;
    m->languages = ch->languages ? (char *)ch->languages : m->languages;
    m->genres = ch->genres ? (char *)ch->genres : m->genres;
}

tix_rc tix_catalog_movie_create(tix_catalog_ctx *c, const tix_movie_change *ch, tix_movie *out)
{
    char *id = tix_arena_alloc(c->a, TIX_ID_MAX);
    tix_id_new(id, "mov");
    *out = (tix_movie){
        .id = id, .description = "", .languages = "[]", .genres = "[]", .status = "active"};
    merge(out, ch);
    out->created_at = out->updated_at = tix_now_ms();
    return tix_catalog_committed(tix_movie_insert(c->db, out));
}

tix_rc tix_catalog_movie_update(tix_catalog_ctx *c, const char *id, const tix_movie_change *ch,
                                tix_movie *out, tix_catalog_refusal *why)
{
    memset(why, 0, sizeof(*why));
    tix_rc rc = tix_movie_get(c->db, c->a, id, out);
    if (rc == TIX_OK && ch->has_duration && ch->duration_minutes != out->duration_minutes) {
        bool shows = false;
        rc = tix_catalog_future_shows(c->db, NULL, NULL, out->id, tix_now_ms(), &shows);
        if (rc == TIX_OK && shows) {
            why->why = "movie_has_shows";
            return TIX_ECONFLICT;
        }
    }
    if (rc != TIX_OK) {
        return rc;
    }
    merge(out, ch);
    out->updated_at = tix_now_ms();
    return tix_catalog_committed(tix_movie_update(c->db, out));
}

tix_rc tix_catalog_movie_toggle(tix_catalog_ctx *c, const char *id, tix_movie *out)
{
    tix_rc rc = tix_movie_get(c->db, c->a, id, out);
    if (rc != TIX_OK) {
        return rc;
    }
    out->status = strcmp(out->status, "active") == 0 ? "inactive" : "active";
    out->updated_at = tix_now_ms();
    return tix_catalog_committed(tix_movie_update(c->db, out));
}

tix_rc tix_catalog_movie_swap_media(tix_catalog_ctx *c, const char *id, const char *kind,
                                    const char *url, const char *public_id,
                                    const char *expected_public_id)
{
    return tix_catalog_committed(
        tix_movie_swap_media(c->db, id, kind, url, public_id, expected_public_id));
}

tix_rc tix_catalog_movie_delete(tix_catalog_ctx *c, const char *id, tix_catalog_refusal *why)
{
    memset(why, 0, sizeof(*why));
    tix_movie m;
    tix_rc rc = tix_movie_get(c->db, c->a, id, &m);
    return rc ? rc : tix_catalog_retire(c, TIX_CATALOG_MOVIE, id, why);
}
